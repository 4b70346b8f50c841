"""model.search.evaluations: identical results serially, in a process pool and on a Dask LocalCluster; resume without
recomputation; a torn last line (a kill mid-write) is ignored and repaired; a real SIGKILL leaves a
loadable file."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from model.io import ROOT
from model.search.evaluations import ResultsFile, ResultsFileError, Sweep, config_key, run_sweep
from model.checks import ParameterError


class Quadratic:
    """A deterministic evaluation function with a closed form (picklable: module-level class)."""

    fingerprint = "quadratic-v1"

    def __init__(self, delay_s=0.0):
        self.delay_s = delay_s
        self.calls = []

    def __call__(self, config):
        self.calls.append(config_key(config))
        if self.delay_s:
            time.sleep(self.delay_s)
        x, y = config["x"], config["y"]
        return {"cost": float(x + 2 * y), "perf": float(x * y - (x - 3) ** 2), "pid": 0}


def _configs(n=5):
    return [{"x": x, "y": y} for x in range(n) for y in range(n)]


def _expected(configs):
    return pd.DataFrame([{**c, "cost": float(c["x"] + 2 * c["y"]),
                          "perf": float(c["x"] * c["y"] - (c["x"] - 3) ** 2), "pid": 0} for c in configs])


def test_serial_and_process_pool_agree_with_closed_form(tmp_path):
    configs = _configs()
    serial = run_sweep(configs, Quadratic(), executor="serial", progress=False)
    pooled = run_sweep(configs, Quadratic(), executor="process", workers=2, chunk=3, progress=False,
                       results=tmp_path / "r.jsonl")
    assert_frame_equal(serial, _expected(configs))
    assert_frame_equal(pooled, serial)
    assert len(ResultsFile(tmp_path / "r.jsonl").load()) == len(configs)


@pytest.mark.slow
def test_dask_local_cluster_gives_identical_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    configs = _configs(4)
    local = run_sweep(configs, Quadratic(), executor="serial", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        # by address, as one would with a remote scheduler
        remote = run_sweep(configs, Quadratic(), executor="dask", address=cluster.scheduler_address,
                           chunk=2, progress=False, results=tmp_path / "d.jsonl")
        with distributed.Client(cluster) as client:
            workers = client.run(os.getpid)
            assert len(set(workers.values())) == 2          # two separate worker processes
    assert_frame_equal(remote, local)
    assert len(ResultsFile(tmp_path / "d.jsonl").load()) == len(configs)


def test_dask_needs_an_address():
    with pytest.raises(ParameterError, match="address"):
        Sweep(Quadratic(), executor="dask")


def test_resume_evaluates_only_what_is_missing(tmp_path):
    path = tmp_path / "r.jsonl"
    configs = _configs()
    first = Quadratic()
    run_sweep(configs[:10], first, executor="serial", results=path, progress=False)
    assert len(first.calls) == 10
    second = Quadratic()
    table = run_sweep(configs, second, executor="serial", results=path, progress=False)
    assert sorted(second.calls) == sorted(config_key(c) for c in configs[10:])
    assert_frame_equal(table, _expected(configs))
    third = Quadratic()
    run_sweep(configs, third, executor="serial", results=path, progress=False)
    assert third.calls == []
    # duplicates in the request are evaluated once
    fourth = Quadratic()
    out = run_sweep([{"x": 9, "y": 9}] * 3, fourth, executor="serial", progress=False)
    assert len(fourth.calls) == 1 and len(out) == 3


def test_torn_last_line_is_ignored_and_repaired(tmp_path):
    path = tmp_path / "r.jsonl"
    configs = _configs(3)
    run_sweep(configs[:4], Quadratic(), executor="serial", results=path, progress=False)
    clean = path.read_bytes()
    with open(path, "ab") as fh:                       # a record cut short by a kill
        fh.write(b'{"key":"{\\"x\\":2,\\"y\\":2}","result":{"cos')
    rf = ResultsFile(path)
    assert rf.torn_bytes() > 0
    assert len(rf.load()) == 4
    again = Quadratic()
    table = run_sweep(configs, again, executor="serial", results=path, progress=False)
    assert len(again.calls) == len(configs) - 4
    assert path.read_bytes().startswith(clean)         # the torn fragment was cut, nothing else touched
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert_frame_equal(table, _expected(configs))


def test_corrupt_middle_line_and_foreign_fingerprint_are_errors(tmp_path):
    path = tmp_path / "r.jsonl"
    run_sweep(_configs(2), Quadratic(), executor="serial", results=path, progress=False)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "not json\n" + "".join(lines[1:]))
    with pytest.raises(ResultsFileError, match=":2:"):
        ResultsFile(path).load()
    path.write_text("".join(lines))
    with pytest.raises(ResultsFileError, match="fingerprint"):
        ResultsFile(path).load(fingerprint="another-evaluator")


def test_sigkill_mid_sweep_leaves_a_resumable_file(tmp_path):
    path = tmp_path / "killed.jsonl"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
        from test_sweep import Quadratic, _configs
        from model.search.evaluations import run_sweep
        run_sweep(_configs(12), Quadratic(delay_s=0.01), executor="serial", chunk=1,
                  results={str(path)!r}, progress=False)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.time() + 30
    while time.time() < deadline and (not path.exists() or len(path.read_bytes().splitlines()) < 5):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = ResultsFile(path).load(fingerprint=Quadratic.fingerprint)
    assert 5 <= len(done) < 144
    rest = Quadratic()
    table = run_sweep(_configs(12), rest, executor="serial", results=path, progress=False)
    assert len(rest.calls) == 144 - len(done)
    assert_frame_equal(table, _expected(_configs(12)))
    assert np.isfinite(table["cost"]).all()


def test_progress_only_on_an_interactive_terminal(monkeypatch):
    import io
    import sys
    from model.search import evaluations as sweep_module
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert sweep_module.interactive() is False
    assert Sweep(Quadratic(), executor="serial").progress is False
    assert Sweep(Quadratic(), executor="serial", progress=True).progress is True

    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(sys, "stderr", Tty())
    assert Sweep(Quadratic(), executor="serial").progress is True


def test_no_notebook_tqdm_and_no_tqdm_warning():
    import subprocess
    import sys
    code = ("import warnings, sys; warnings.simplefilter('error'); import model.search.evaluations; "
            "assert 'tqdm.auto' not in sys.modules and 'tqdm.autonotebook' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
