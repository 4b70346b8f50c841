"""model.search.evaluations by hand, in this process only (executor "serial", or a pool of one process, which runs
inline): the canonical key of a configuration, the results file's bytes (a record per line, a torn last line
measured, ignored and cut off, the line number of a malformed record, a foreign fingerprint), the chunk sizes of
a sweep, the order and de-duplication of its rows, what it evaluates and what it reads back."""
import json
import os
import stat

import pytest

import model.search.evaluations as ev
from model.checks import ParameterError
from model.search.evaluations import (ResultsFile, ResultsFileError, Sweep, config_key, evaluate_chunk, interactive,
                                      run_sweep)


class Affine:
    """cost = x + 2y, perf = 3x − y; counts its calls."""

    fingerprint = "affine-v1"

    def __init__(self):
        self.calls = []

    def __call__(self, config):
        self.calls.append((config["x"], config["y"]))
        return {"cost": float(config["x"] + 2 * config["y"]), "perf": float(3 * config["x"] - config["y"])}


class Bare:
    """No fingerprint attribute."""

    def __call__(self, config):
        return {"z": config["x"] * 10}


def line(record):
    return json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# interactive, config_key, evaluate_chunk
# ---------------------------------------------------------------------------------------------------------------

class _Stream:
    def __init__(self, answer):
        self.answer = answer

    def isatty(self):
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_interactive(monkeypatch):
    monkeypatch.setattr(ev.sys, "stderr", _Stream(True))
    assert interactive() is True
    monkeypatch.setattr(ev.sys, "stderr", _Stream(1))
    assert interactive() is True
    monkeypatch.setattr(ev.sys, "stderr", _Stream(False))
    assert interactive() is False
    monkeypatch.setattr(ev.sys, "stderr", _Stream(ValueError("closed")))
    assert interactive() is False
    monkeypatch.setattr(ev.sys, "stderr", object())          # no isatty at all
    assert interactive() is False


def test_config_key_is_sorted_compact_json():
    assert config_key({"b": 1, "a": [1, 2], "c": "x y"}) == '{"a":[1,2],"b":1,"c":"x y"}'
    assert config_key({"y": 2, "x": 1}) == config_key({"x": 1, "y": 2}) == '{"x":1,"y":2}'


def test_evaluate_chunk():
    f = Affine()
    out = evaluate_chunk([{"x": 1, "y": 2}, {"x": 0, "y": 5}], f)
    assert out == [{"cost": 5.0, "perf": 1.0}, {"cost": 10.0, "perf": -5.0}]
    assert all(type(r) is dict for r in out)
    assert f.calls == [(1, 2), (0, 5)]


# ---------------------------------------------------------------------------------------------------------------
# ResultsFile
# ---------------------------------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    rf = ResultsFile(tmp_path / "none.jsonl")
    assert rf.path == tmp_path / "none.jsonl"
    assert rf.load() == {} and rf.load("f") == {}
    assert rf.torn_bytes() == 0
    rf.sync()                                               # nothing to do, no error
    assert not rf.path.exists()


def test_append_writes_one_sorted_line_per_record(tmp_path):
    path = tmp_path / "sub" / "deeper" / "r.jsonl"
    rf = ResultsFile(path)
    rf.append([])
    assert not path.exists()                                # nothing to write: no file, no folder
    assert not path.parent.exists()
    a = {"key": "k1", "result": {"v": 1}, "config": {"x": 1}}
    b = {"result": {"v": 2}, "key": "k2"}
    rf.append([a, b])
    expected = '{"config":{"x":1},"key":"k1","result":{"v":1}}\n{"key":"k2","result":{"v":2}}\n'
    assert path.read_text() == expected
    rf.append([{"key": "k3", "result": {}}])                # appends, never rewrites
    assert path.read_text() == expected + '{"key":"k3","result":{}}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask
    assert set(rf.load()) == {"k1", "k2", "k3"}
    assert rf.load()["k1"] == a


def test_torn_bytes_repair_and_append_after_a_torn_line(tmp_path):
    path = tmp_path / "r.jsonl"
    whole = line({"key": "a", "result": {"v": 1}})
    path.write_bytes(whole.encode() + b'{"key":"b","res')    # 15 bytes torn
    rf = ResultsFile(path)
    assert rf.torn_bytes() == 15
    assert list(rf.load()) == ["a"]                         # the torn line is ignored
    rf.append([{"key": "c", "result": {"v": 3}}])           # cut off first, then appended on a line of its own
    assert path.read_text() == whole + line({"key": "c", "result": {"v": 3}})
    assert rf.torn_bytes() == 0
    rf.repair()                                             # a clean file is left as it is
    assert path.read_text() == whole + line({"key": "c", "result": {"v": 3}})
    path.write_bytes(whole.encode() + b"x")
    assert rf.torn_bytes() == 1
    rf.repair()
    assert path.read_bytes() == whole.encode()
    path.write_bytes(b"abc")                                # no newline at all: everything is torn
    assert rf.torn_bytes() == 3
    assert rf.load() == {}
    rf.repair()
    assert path.read_bytes() == b""


def test_later_record_of_a_key_wins(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(line({"key": "a", "result": {"v": 1}}) + line({"key": "a", "result": {"v": 2}}))
    assert ResultsFile(path).load() == {"a": {"key": "a", "result": {"v": 2}}}


@pytest.mark.parametrize("bad", ["not json", '{"result": {}}', '{"key": "k"}', "[1, 2]", "3"])
def test_malformed_line_names_its_number(tmp_path, bad):
    path = tmp_path / "r.jsonl"
    path.write_text(line({"key": "a", "result": {}}) + bad + "\n" + line({"key": "c", "result": {}}))
    with pytest.raises(ResultsFileError) as err:
        ResultsFile(path).load()
    assert str(err.value).startswith(f"{path}:2: not a valid results record (")
    assert isinstance(err.value, RuntimeError)


def test_fingerprint_checked_only_when_both_are_set(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(line({"key": "a", "result": {}, "fingerprint": None})
                    + line({"key": "b", "result": {}, "fingerprint": "old"}))
    rf = ResultsFile(path)
    assert set(rf.load()) == {"a", "b"}                     # no fingerprint asked for
    assert set(rf.load("old")) == {"a", "b"}                # the same one; a record without one is accepted
    with pytest.raises(ResultsFileError) as err:
        rf.load("new")
    assert str(err.value) == (f"{path}:2: written by an evaluator with fingerprint 'old', not 'new'; "
                              "use another results file")


def test_sync_calls_fsync_on_an_existing_file(tmp_path, monkeypatch):
    path = tmp_path / "r.jsonl"
    calls = []
    real = os.fsync
    monkeypatch.setattr(ev.os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    ResultsFile(path).sync()
    assert calls == []
    path.write_text("")
    ResultsFile(path).sync()
    assert len(calls) == 1


# ---------------------------------------------------------------------------------------------------------------
# Sweep
# ---------------------------------------------------------------------------------------------------------------

def test_sweep_attributes(tmp_path):
    f = Affine()
    s = Sweep(f, executor="serial", workers=3, results=tmp_path / "r.jsonl", progress=True, chunk=2,
              mp_context="fork")
    assert (s.evaluate, s.executor, s.workers, s.address, s.progress, s.chunk) == (f, "serial", 3, None, True, 2)
    assert s._runner.mp_context == "fork" and s._runner.executor == "serial" and s._runner.workers == 3
    assert s.file.path == tmp_path / "r.jsonl"
    assert s.fingerprint == "affine-v1"
    assert s.evaluated == 0 and s._memory == {}
    t = Sweep(Bare(), executor="serial", workers=2, progress=0)
    assert t.file is None and t.chunk is None and t.fingerprint is None and t.progress is False
    assert t._runner.mp_context == "spawn"
    assert Sweep(Bare(), workers=2).executor == "process"


def test_chunk_refused(tmp_path):
    for bad in (0, -1, 1.5):
        with pytest.raises(ParameterError) as err:
            Sweep(Bare(), executor="serial", chunk=bad)
        assert str(err.value) == f"chunk={bad} is not allowed: chunk must be an integer in [1, inf]"


def test_chunk_sizes():
    configs = [{"x": i} for i in range(40)]
    s = Sweep(Bare(), executor="serial", workers=2)
    sizes = lambda n, sw=s: [len(c) for c in sw._chunks(configs[:n])]
    assert sizes(1) == [1]                                  # ceil(1 / 8) = 1
    assert sizes(8) == [1] * 8                              # ceil(8 / 8) = 1
    assert sizes(9) == [2] * 4 + [1]                        # ceil(9 / 8) = 2
    assert sizes(20) == [3] * 6 + [2]                       # ceil(20 / 8) = 3
    assert [c[0]["x"] for c in s._chunks(configs[:20])] == [0, 3, 6, 9, 12, 15, 18]
    one = Sweep(Bare(), executor="serial", workers=1)
    assert sizes(40, one) == [10] * 4                       # ceil(40 / 4) = 10
    big = [{"x": i} for i in range(200)]
    assert [len(c) for c in one._chunks(big)] == [16] * 12 + [8]   # at most 16 per task
    fixed = Sweep(Bare(), executor="serial", workers=1, chunk=7)
    assert [len(c) for c in fixed._chunks(big[:20])] == [7, 7, 6]
    assert sum(fixed._chunks(big[:20]), []) == big[:20]


def test_run_rows_in_order_each_evaluated_once(tmp_path):
    f = Affine()
    configs = [{"y": 1, "x": 2}, {"x": 0, "y": 0}, {"x": 2, "y": 1}, {"x": 5, "y": -1}]
    path = tmp_path / "r.jsonl"
    with Sweep(f, executor="serial", workers=1, results=path, progress=False) as s:
        table = s.run(configs)
        assert s.evaluated == 3
        assert sorted(f.calls) == [(0, 0), (2, 1), (5, -1)]
        assert list(table.columns) == ["y", "x", "cost", "perf"]
        assert table[["x", "y", "cost", "perf"]].values.tolist() == [[2, 1, 4.0, 5.0], [0, 0, 0.0, 0.0],
                                                                    [2, 1, 4.0, 5.0], [5, -1, 3.0, 16.0]]
        again = s.run(configs[1:])                          # all known: nothing evaluated
        assert s.evaluated == 3 and len(f.calls) == 3
        assert again["cost"].tolist() == [0.0, 4.0, 3.0]
        assert set(s.known()) == {config_key(c) for c in configs}
        assert s.known()[config_key({"x": 0, "y": 0})] == {
            "key": '{"x":0,"y":0}', "fingerprint": "affine-v1", "config": {"x": 0, "y": 0},
            "result": {"cost": 0.0, "perf": 0.0}}
    records = [json.loads(r) for r in path.read_text().splitlines()]
    assert [r["key"] for r in records] == ['{"x":2,"y":1}', '{"x":0,"y":0}', '{"x":5,"y":-1}']
    assert all(r["fingerprint"] == "affine-v1" for r in records)
    assert records[2]["config"] == {"x": 5, "y": -1} and records[2]["result"] == {"cost": 3.0, "perf": 16.0}
    # a new sweep on the same file reads everything back and evaluates only the new configuration
    g = Affine()
    table = run_sweep(configs + [{"x": 1, "y": 1}], g, executor="serial", results=path, progress=False)
    assert g.calls == [(1, 1)]
    assert table["perf"].tolist() == [5.0, 0.0, 5.0, 16.0, 2.0]
    assert len(path.read_text().splitlines()) == 4
    # another evaluator's file is refused
    with pytest.raises(ResultsFileError):
        run_sweep(configs, Affine2(), executor="serial", results=path, progress=False)


class Affine2(Affine):
    fingerprint = "affine-v2"


def test_in_memory_sweep_and_run_sweep_closes(monkeypatch):
    f = Affine()
    s = Sweep(f, executor="serial", workers=1, progress=False)
    s.run([{"x": 1, "y": 0}])
    assert s.known() == {'{"x":1,"y":0}': {"key": '{"x":1,"y":0}', "fingerprint": "affine-v1",
                                           "config": {"x": 1, "y": 0}, "result": {"cost": 1.0, "perf": 3.0}}}
    s.run([{"x": 1, "y": 0}, {"x": 1, "y": 0}])
    assert f.calls == [(1, 0)] and s.evaluated == 1
    empty = s.run([])
    assert len(empty) == 0
    closed = []
    monkeypatch.setattr(Sweep, "close", lambda self: closed.append(self))
    out = run_sweep([{"x": 3}], Bare(), executor="serial", chunk=5, progress=False)
    assert out.to_dict("records") == [{"x": 3, "z": 30}]
    assert len(closed) == 1 and closed[0].chunk == 5


def test_close_closes_the_runner_and_syncs(tmp_path, monkeypatch):
    s = Sweep(Bare(), executor="serial", results=tmp_path / "r.jsonl", progress=False)
    events = []
    monkeypatch.setattr(s._runner, "close", lambda: events.append("runner"))
    monkeypatch.setattr(s.file, "sync", lambda: events.append("sync"))
    with s as entered:
        assert entered is s
    assert events == ["runner", "sync"]
    t = Sweep(Bare(), executor="serial", progress=False)
    monkeypatch.setattr(t._runner, "close", lambda: events.append("runner2"))
    t.close()
    assert events[-1] == "runner2"


def test_progress_bar_shown_only_when_asked(monkeypatch):
    seen = []
    real = ev.tqdm

    def spy(*args, **kw):
        seen.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(ev, "tqdm", spy)
    Sweep(Bare(), executor="serial", progress=False).run([{"x": 1}, {"x": 2}], desc="grid")
    assert seen[-1] == {"total": 2, "desc": "grid", "disable": True, "leave": False}
    Sweep(Bare(), executor="serial", progress=True).run([{"x": 1}])
    assert seen[-1] == {"total": 1, "desc": "configurations", "disable": False, "leave": False}


def test_partial_writes_are_completed(tmp_path, monkeypatch):
    """os.write may write fewer bytes than asked: the rest of the line follows."""
    real = os.write
    monkeypatch.setattr(ev.os, "write", lambda fd, data: real(fd, bytes(data[:5])))
    path = tmp_path / "r.jsonl"
    ResultsFile(path).append([{"key": "abcdefghij", "result": {"v": 12345}}])
    assert path.read_text() == '{"key":"abcdefghij","result":{"v":12345}}\n'


def test_dask_address_and_default_progress(monkeypatch):
    s = Sweep(Bare(), executor="dask", address="tcp://127.0.0.1:1")    # nothing connects before a run
    assert s.address == "tcp://127.0.0.1:1" and s._runner.address == "tcp://127.0.0.1:1"
    monkeypatch.setattr(ev, "interactive", lambda: True)
    assert Sweep(Bare(), executor="serial").progress is True
    assert Sweep(Bare(), executor="serial", progress=False).progress is False
    monkeypatch.setattr(ev, "interactive", lambda: False)
    assert Sweep(Bare(), executor="serial").progress is False
