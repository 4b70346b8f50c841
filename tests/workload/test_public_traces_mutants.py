"""model.workload.public_traces by hand on tiny files written here: Mooncake-format lines parsed field by field (ms to
s, block counts at 512 and at a chosen block size, sessions), every refusal naming the file, the line and the field;
the default traces' paths and checksums (on a stand-in file); the Azure CSV's arrivals, lengths and one id per
block; the JSONL writer, whole or not at all."""
import builtins
import codecs
import hashlib
import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import model.workload.public_traces as pt
from model.checks import ParameterError
from model.io import DATA, ChecksumError
from model.workload import Trace
from model.workload.public_traces import (TraceFormatError, load_azure_trace, load_mooncake_trace,
                                          parse_mooncake_lines, trace_to_jsonl_lines, write_jsonl)


def rec(t=0, n_in=10, n_out=2, ids=(1,), **kw):
    return json.dumps({"timestamp": t, "input_length": n_in, "output_length": n_out, "hash_ids": list(ids), **kw})


def test_constants():
    assert pt.TRACES_DIR == DATA / "traces"
    assert pt.MOONCAKE_CONVERSATION == DATA / "traces" / "mooncake" / "conversation_trace.jsonl"
    assert pt.AZURE_CONVERSATION == DATA / "traces" / "azure" / "AzureLLMInferenceTrace_conv.csv"
    assert pt.MOONCAKE_CONVERSATION_SHA256 == "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df"
    assert pt.AZURE_CONVERSATION_SHA256 == "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8"
    assert issubclass(TraceFormatError, ValueError)


def test_parse_by_hand():
    lines = [rec(0, 512, 3, [5]), "", "   \n", rec(1500, 513, 0, [5, 6]), rec(1500.5, 1024, 7, [5, 6])]
    t = parse_mooncake_lines(lines, source="dir/my_trace.jsonl")
    assert t.name == "my_trace" and t.block_tokens == 512
    assert_allclose(t.arrival_s, [0.0, 1.5, 1.5005], rtol=1e-15)
    assert_array_equal(t.input_tokens, [512, 513, 1024])
    assert_array_equal(t.output_tokens, [3, 0, 7])
    assert_array_equal(t.block_offsets, [0, 1, 3, 5])
    assert_array_equal(t.block_ids, [5, 5, 6, 5, 6])
    assert t.session is None
    named = parse_mooncake_lines([rec(0, 10, 1, [1, 2, 3, 4])], block_tokens=3, name="x")
    assert named.name == "x" and named.block_tokens == 3               # ceil(10 / 3) = 4 blocks
    assert parse_mooncake_lines([rec(0, 9, 1, [1, 2, 3])], block_tokens=3).name == "<trace>"   # ceil(9/3) = 3
    s = parse_mooncake_lines([rec(0, 1, 0, [1], session_id=0), rec(0, 1, 0, [2], session_id=4)], block_tokens=1)
    assert_array_equal(s.session, [0, 4])
    assert s.session.dtype == np.int64


def test_block_tokens_refused():
    with pytest.raises(ParameterError) as err:
        parse_mooncake_lines([rec()], block_tokens=0)
    assert str(err.value) == "block_tokens=0 is not allowed: block_tokens must be an integer in [1, inf]"


BAD = [
    ("{not json", "f.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes)"),
    ("[1, 2]", "f.jsonl:2: expected a JSON object, got list"),
    ('{"timestamp": 1, "hash_ids": []}', "f.jsonl:2: missing field(s) input_length, output_length"),
    (rec(t=-1), "f.jsonl:2: field 'timestamp' is -1; must be a number >= 0 (ms)"),
    (rec(t="5"), "f.jsonl:2: field 'timestamp' is '5'; must be a number >= 0 (ms)"),
    (rec(t=True), "f.jsonl:2: field 'timestamp' is True; must be a number >= 0 (ms)"),
    ('{"timestamp": Infinity, "input_length": 1, "output_length": 1, "hash_ids": [1]}',
     "f.jsonl:2: field 'timestamp' is inf; must be a number >= 0 (ms)"),
    (rec(t=4), "f.jsonl:2: timestamp 4 is earlier than the previous record's 5"),
    (rec(n_in=0), "f.jsonl:2: field 'input_length' is 0; must be an integer >= 1"),
    (rec(n_in=2.0), "f.jsonl:2: field 'input_length' is 2.0; must be an integer >= 1"),
    (rec(n_in=True), "f.jsonl:2: field 'input_length' is True; must be an integer >= 1"),
    (rec(n_out=-1), "f.jsonl:2: field 'output_length' is -1; must be an integer >= 0"),
    (rec(ids=[1.0]), "f.jsonl:2: field 'hash_ids' must be a list of integers"),
    (rec(ids=[True]), "f.jsonl:2: field 'hash_ids' must be a list of integers"),
    ('{"timestamp": 6, "input_length": 1, "output_length": 1, "hash_ids": 3}',
     "f.jsonl:2: field 'hash_ids' must be a list of integers"),
    (rec(n_in=11, ids=[1]), "f.jsonl:2: len(hash_ids)=1 but ceil(input_length/10)=ceil(11/10)=2"),
    (rec(n_in=10, ids=[1, 2]), "f.jsonl:2: len(hash_ids)=2 but ceil(input_length/10)=ceil(10/10)=1"),
    (rec(session_id=1), "f.jsonl:2: field 'session_id' present; the first record has none (on every record or on none)"),
]


@pytest.mark.parametrize("line, message", BAD)
def test_refusals_name_file_line_and_field(line, message):
    line = line.replace('"timestamp": 0,', '"timestamp": 6,') if '"timestamp": 0,' in line else line
    with pytest.raises(TraceFormatError) as err:
        parse_mooncake_lines([rec(t=5), line], source="f.jsonl", block_tokens=10)
    assert str(err.value) == message


def test_session_refusals():
    with pytest.raises(TraceFormatError) as err:
        parse_mooncake_lines([rec(session_id=1), rec(t=1)], source="f", block_tokens=10)
    assert str(err.value) == "f:2: field 'session_id' missing; the first record has one (on every record or on none)"
    for bad in (-1, "a", 1.0, True):
        with pytest.raises(TraceFormatError) as err:
            parse_mooncake_lines([rec(session_id=bad)], source="f", block_tokens=10)
        assert str(err.value) == f"f:1: field 'session_id' is {bad!r}; must be an integer >= 0"
    # the first record of a trace may carry a session and the second as well
    t = parse_mooncake_lines([rec(session_id=0), rec(t=0, session_id=0)], block_tokens=10)
    assert_array_equal(t.session, [0, 0])


def test_equal_timestamps_and_zero_are_accepted():
    t = parse_mooncake_lines([rec(t=0), rec(t=0), rec(t=0.0)], block_tokens=10)
    assert_array_equal(t.arrival_s, [0, 0, 0])


def test_no_records():
    for lines in ([], ["", "  "]):
        with pytest.raises(TraceFormatError) as err:
            parse_mooncake_lines(lines, source="empty.jsonl")
        assert str(err.value) == "empty.jsonl: no records"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def test_load_mooncake_default_and_own_path(tmp_path, monkeypatch):
    text = rec(0, 600, 2, [7, 8]) + "\n" + rec(250, 100, 1, [7]) + "\n"
    stand_in = tmp_path / "conversation_trace.jsonl"
    digest = _write(stand_in, text)
    monkeypatch.setattr(pt, "MOONCAKE_CONVERSATION", stand_in)
    monkeypatch.setattr(pt, "MOONCAKE_CONVERSATION_SHA256", digest)
    t = load_mooncake_trace()
    assert t.name == "mooncake-conversation" and t.block_tokens == 512
    assert_allclose(t.arrival_s, [0.0, 0.25], rtol=1e-15)
    assert_array_equal(t.block_ids, [7, 8, 7])
    monkeypatch.setattr(pt, "MOONCAKE_CONVERSATION_SHA256", "0" * 64)
    with pytest.raises(ChecksumError):
        load_mooncake_trace()
    assert load_mooncake_trace(verify=False).name == "mooncake-conversation"
    own = tmp_path / "mine.jsonl"
    _write(own, rec(0, 20, 1, [1, 2]) + "\n" + "{bad\n")
    with pytest.raises(TraceFormatError) as err:
        load_mooncake_trace(own, block_tokens=10)
    assert str(err.value).startswith(f"{own}:2: not valid JSON")
    _write(own, rec(0, 20, 1, [1, 2]) + "\n")
    t = load_mooncake_trace(str(own), block_tokens=10)                # never verified
    assert t.name == "mine" and t.block_tokens == 10 and t.n_blocks == 2


AZURE = ("TIMESTAMP,ContextTokens,GeneratedTokens\n"
         "2023-11-16 18:15:46.6805900,1000,20\n"
         "2023-11-16 18:15:47.1805900,1,0\n"
         "2023-11-16 18:15:50.6805900,1025,7\n")


def test_load_azure_by_hand(tmp_path, monkeypatch):
    path = tmp_path / "az.csv"
    digest = _write(path, AZURE)
    t = load_azure_trace(path)
    assert t.name == "az" and t.block_tokens == 512
    assert_allclose(t.arrival_s, [0.0, 0.5, 4.0], atol=1e-9)
    assert t.arrival_s.dtype == np.float64
    assert_array_equal(t.input_tokens, [1000, 1, 1025])
    assert_array_equal(t.output_tokens, [20, 0, 7])
    assert t.input_tokens.dtype == np.int64 and t.output_tokens.dtype == np.int64
    assert_array_equal(t.block_offsets, [0, 2, 3, 6])                 # ceil(1000/512), ceil(1/512), ceil(1025/512)
    assert_array_equal(t.block_ids, np.arange(6))
    small = load_azure_trace(path, block_tokens=1000)
    assert_array_equal(small.block_offsets, [0, 1, 2, 4])
    with warnings.catch_warnings(), pytest.raises(ParameterError) as err:
        warnings.simplefilter("error")                  # refused before any division by 0 blocks
        load_azure_trace(path, block_tokens=0)
    assert str(err.value) == "block_tokens=0 is not allowed: block_tokens must be an integer in [1, inf]"
    monkeypatch.setattr(pt, "AZURE_CONVERSATION", path)
    monkeypatch.setattr(pt, "AZURE_CONVERSATION_SHA256", digest)
    assert load_azure_trace().name == "azure-conversation"
    monkeypatch.setattr(pt, "AZURE_CONVERSATION_SHA256", "0" * 64)
    with pytest.raises(ChecksumError):
        load_azure_trace()
    assert load_azure_trace(verify=False).n_requests == 3


@pytest.mark.parametrize("col", ["TIMESTAMP", "ContextTokens", "GeneratedTokens"])
def test_azure_missing_column(tmp_path, col):
    path = tmp_path / "az.csv"
    _write(path, AZURE.replace(col, "Other"))
    with pytest.raises(TraceFormatError) as err:
        load_azure_trace(path)
    assert str(err.value) == f"{path}: missing column {col!r}"


@pytest.mark.parametrize("row", ["not a time,5,1", "2023-11-16 18:15:48,x,1", "2023-11-16 18:15:48,5,",
                                 "2023-11-16 18:15:48,5,x",
                                 "2023-11-16 18:15:48,0,1", "2023-11-16 18:15:48,5,-1"])
def test_azure_malformed_record_names_its_line(tmp_path, row):
    path = tmp_path / "az.csv"
    _write(path, AZURE + row + "\n")
    with pytest.raises(TraceFormatError) as err:
        load_azure_trace(path)
    ts, ctx, gen = row.split(",")
    assert str(err.value) == (f"{path}:5: malformed record {{'TIMESTAMP': {ts!r}, 'ContextTokens': {ctx!r}, "
                              f"'GeneratedTokens': {gen!r}}} (TIMESTAMP must be a time, ContextTokens >= 1, "
                              "GeneratedTokens >= 0)")


def test_azure_accepts_equal_times_and_refuses_a_step_back(tmp_path):
    path = tmp_path / "az.csv"
    _write(path, AZURE + "2023-11-16 18:15:50.6805900,1,1\n")
    assert_allclose(load_azure_trace(path).arrival_s[-2:], [4.0, 4.0], atol=1e-9)
    _write(path, AZURE + "2023-11-16 18:15:49,1,1\n" + "2023-11-16 18:15:48,1,1\n")
    with pytest.raises(TraceFormatError) as err:
        load_azure_trace(path)
    assert str(err.value) == f"{path}:5: TIMESTAMP earlier than the previous record's"
    # a tie first, then the step back: the line named is the step back's (line 6), not the tie's
    _write(path, AZURE + "2023-11-16 18:15:50.6805900,1,1\n" + "2023-11-16 18:15:49,1,1\n")
    with pytest.raises(TraceFormatError) as err:
        load_azure_trace(path)
    assert str(err.value) == f"{path}:6: TIMESTAMP earlier than the previous record's"


def test_azure_lengths_written_as_decimals_are_integers(tmp_path):
    path = tmp_path / "az.csv"
    _write(path, "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,600.0,7.0\n")
    t = load_azure_trace(path)
    assert t.input_tokens.dtype == np.int64 and t.output_tokens.dtype == np.int64
    assert t.block_offsets.dtype == np.int64 and t.block_ids.dtype == np.int64
    assert_array_equal(t.block_offsets, [0, 2])
    assert (int(t.input_tokens[0]), int(t.output_tokens[0])) == (600, 7)


def hand_trace(session=None):
    return Trace(name="w", arrival_s=np.array([0.0, 1.2344, 2.0006]), input_tokens=np.array([3, 5, 1]),
                 output_tokens=np.array([1, 0, 4]), block_offsets=np.array([0, 1, 3, 4]),
                 block_ids=np.array([9, 9, 10, 11], dtype=np.int64), block_tokens=4, session=session)


def test_jsonl_lines_by_hand():
    assert list(trace_to_jsonl_lines(hand_trace())) == [
        '{"timestamp": 0, "input_length": 3, "output_length": 1, "hash_ids": [9]}\n',
        '{"timestamp": 1234, "input_length": 5, "output_length": 0, "hash_ids": [9, 10]}\n',
        '{"timestamp": 2001, "input_length": 1, "output_length": 4, "hash_ids": [11]}\n']
    lines = list(trace_to_jsonl_lines(hand_trace(np.array([0, 0, 3]))))
    assert [json.loads(x)["session_id"] for x in lines] == [0, 0, 3]
    assert lines[2] == '{"timestamp": 2001, "input_length": 1, "output_length": 4, "hash_ids": [11], "session_id": 3}\n'


def test_write_jsonl_round_trip_and_chunks(tmp_path):
    path = tmp_path / "a" / "b" / "out.jsonl"
    assert write_jsonl(hand_trace(), path) == path
    text = path.read_text()
    assert text == "".join(trace_to_jsonl_lines(hand_trace()))
    back = load_mooncake_trace(path, block_tokens=4)
    assert_array_equal(back.block_ids, [9, 9, 10, 11])
    assert_allclose(back.arrival_s, [0.0, 1.234, 2.001], rtol=1e-12)
    write_jsonl([hand_trace(), hand_trace()], path)                  # a stream of chunks, one after the other
    assert path.read_text() == text + text
    assert not (tmp_path / "a" / "b" / ".out.jsonl.tmp").exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.jsonl"]


def test_write_jsonl_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text("old\n")

    def chunks():
        yield hand_trace()
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError, match="stream broke"):
        write_jsonl(chunks(), path)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]

    def interrupted():
        yield hand_trace()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):                        # not only an Exception: any interruption
        write_jsonl(interrupted(), path)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]


def _spy_open(monkeypatch):
    seen = []

    def spy(file, mode="r", **kw):
        seen.append((mode, kw))
        return builtins.open(file, mode, **kw)

    monkeypatch.setattr(pt, "open", spy, raising=False)
    return seen


def test_files_are_utf8_whatever_the_locale(tmp_path, monkeypatch):
    """Read and written as UTF-8 with "\n" line ends, not in the locale's encoding and line ends."""
    seen = _spy_open(monkeypatch)
    path = tmp_path / "t.jsonl"
    write_jsonl(hand_trace(), path)
    load_mooncake_trace(path, block_tokens=4)
    (w_mode, w_kw), (r_mode, r_kw) = seen
    assert w_mode == "w" and codecs.lookup(w_kw["encoding"]).name == "utf-8" and w_kw["newline"] == "\n"
    assert r_mode == "r" and codecs.lookup(r_kw["encoding"]).name == "utf-8"
