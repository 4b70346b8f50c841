"""Tests of model.workload.public_traces (and the Trace container of model.workload.trace): the real traces
against their published statistics, record validation, the JSONL round trip."""

import json

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.workload import (TraceFormatError, concat_traces, load_azure_trace, load_mooncake_trace,
                            load_mooncake_trace as load, parse_mooncake_lines, trace_to_jsonl_lines,
                            write_jsonl)


def _line(**kw):
    rec = {"timestamp": 0, "input_length": 1000, "output_length": 10, "hash_ids": [1, 2]}
    rec.update(kw)
    return json.dumps({k: v for k, v in rec.items() if v is not None})


# --- real traces --------------------------------------------------------------------------------------------
def test_mooncake_trace_matches_published_table2():
    t = load_mooncake_trace()
    assert t.n_requests == 12_031 and t.n_blocks == 288_500
    # Mooncake FAST'25 Table 2, conversation trace: average input 12,035 tokens, average output 343 tokens.
    assert_allclose(t.input_tokens.mean(), 12_035, rtol=1e-3)
    assert_allclose(t.output_tokens.mean(), 343, rtol=1e-2)
    assert_array_equal(t.blocks_per_request(), -(-t.input_tokens // 512))
    assert np.all(np.diff(t.arrival_s) >= 0)
    # every request starts with the shared block 0 (data/traces/README.md)
    assert np.all(t.block_ids[t.block_offsets[:-1]] == 0)


def test_block_token_counts_sum_to_input():
    t = load_mooncake_trace()
    tok = t.block_token_counts()
    assert_array_equal(np.add.reduceat(tok, t.block_offsets[:-1]), t.input_tokens)
    assert tok.min() >= 1 and tok.max() == 512


def test_azure_trace_has_no_shared_blocks():
    t = load_azure_trace()
    assert t.n_requests == 19_366
    assert len(np.unique(t.block_ids)) == t.n_blocks
    assert t.arrival_s[0] == 0 and np.all(np.diff(t.arrival_s) >= 0)


@pytest.mark.parametrize("line, match", [
    (_line(input_length=None), r"<t>:2: missing field\(s\) input_length"),
    (_line(input_length=-5), r"<t>:2: field 'input_length' is -5"),
    (_line(output_length=-1), r"<t>:2: field 'output_length'"),
    (_line(hash_ids=[1, 2, 3]), r"<t>:2: len\(hash_ids\)=3 but ceil\(input_length/512\)=ceil\(1000/512\)=2"),
    (_line(hash_ids=[1, "a"]), r"<t>:2: field 'hash_ids' must be a list of integers"),
    ("{not json", r"<t>:2: not valid JSON"),
    (_line(timestamp=-1), r"<t>:2: field 'timestamp'"),
])
def test_malformed_records_name_the_line(line, match):
    with pytest.raises(TraceFormatError, match=match):
        parse_mooncake_lines([_line(), line], source="<t>")


def test_timestamps_must_not_go_back():
    with pytest.raises(TraceFormatError, match=r"<t>:2: timestamp 5 is earlier"):
        parse_mooncake_lines([_line(timestamp=10), _line(timestamp=5)], source="<t>")


def test_jsonl_round_trip(tmp_path):
    t = load_mooncake_trace().head(50)
    path = write_jsonl(t, tmp_path / "x.jsonl")
    back = load(path)
    assert_array_equal(back.block_ids, t.block_ids)
    assert_array_equal(back.input_tokens, t.input_tokens)
    assert_allclose(back.arrival_s, t.arrival_s)


def test_head_and_concat_round_trip():
    t = load_mooncake_trace().head(40)
    a, b = t.head(15), concat_traces([t.head(15)])
    assert_array_equal(a.block_ids, b.block_ids)
    rest = parse_mooncake_lines(list(trace_to_jsonl_lines(t))[15:])
    joined = concat_traces([a, rest])
    assert_array_equal(joined.block_ids, t.block_ids)
    assert_array_equal(joined.block_offsets, t.block_offsets)
    assert joined.n_requests == 40
