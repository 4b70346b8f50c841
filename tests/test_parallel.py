"""model.parallel, the one runner: the same results, in the jobs' order, in this process, on a local pool and on
a Dask LocalCluster; the shared object reaches every call; the pool stays open across calls; an error in a job
reaches the caller; map_jobs runs one job or one worker in this process."""
import multiprocessing
import os
import sys

import pytest

from model.parallel import EXECUTORS, Runner, map_jobs
from model.checks import ParameterError


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def _affine(x, shared):
    return shared["a"] * x + shared["b"]


#: Set anew by a test in this process: a spawned worker imports this module afresh, a forked one inherits it.
_MARK = "as imported"


def _mark(_):
    return _MARK


def _fails_on_three(x):
    if x == 3:
        raise ValueError("job 3 failed")
    return x


JOBS = list(range(11))


def test_map_jobs_in_order_locally():
    expected = [x * x for x in JOBS]
    assert map_jobs(_square, JOBS) == expected
    assert map_jobs(_square, JOBS, workers=2) == expected
    assert map_jobs(_square, []) == []
    # one worker, or a single job, runs in this process; a pool of two runs elsewhere
    assert set(map_jobs(_pid, JOBS, workers=1)) == {os.getpid()}
    assert set(map_jobs(_pid, [0], workers=4)) == {os.getpid()}
    assert os.getpid() not in set(map_jobs(_pid, JOBS, workers=2))
    with pytest.raises(ParameterError, match="^workers="):
        map_jobs(_square, JOBS, workers=0)


@pytest.mark.parametrize("executor, workers", [("serial", None), ("process", 1), ("process", 2)])
def test_runner_shares_one_object_with_every_call(executor, workers):
    shared = {"a": 3, "b": -1}
    with Runner(executor, workers=workers, shared=shared) as runner:
        assert runner.map(_affine, JOBS) == [3 * x - 1 for x in JOBS]
        done = dict(runner.as_completed(_affine, JOBS))
        assert done == {i: 3 * x - 1 for i, x in enumerate(JOBS)}
        assert runner.inline is (executor == "serial" or workers == 1)


def test_worker_side_calls_with_the_shared_object():
    """What a worker of the local pool runs: the initializer keeps the shared object, each task passes it on."""
    from model import parallel
    try:
        parallel._set_shared({"a": 2, "b": 1})
        assert parallel._call_with_shared(_affine, 4) == 9
    finally:
        parallel._set_shared(None)


def test_local_processes_are_spawned_unless_told_otherwise(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "_MARK", "set in the parent")
    with Runner("process", workers=2) as runner:
        assert set(runner.map(_mark, JOBS)) == {"as imported"}
    if "fork" in multiprocessing.get_all_start_methods():
        with Runner("process", workers=2, mp_context="fork") as runner:
            assert set(runner.map(_mark, JOBS)) == {"set in the parent"}


def test_pool_has_the_workers_asked_for():
    with Runner("process", workers=3) as runner:
        runner.map(_square, JOBS)
        assert runner._pool._max_workers == 3


def test_runner_keeps_its_pool_across_calls():
    with Runner("process", workers=2) as runner:
        first = set(runner.map(_pid, JOBS))
        pool = runner._pool
        second = set(runner.map(_pid, JOBS))
        assert runner._pool is pool                    # not started again
        assert len(first | second) <= 2 and os.getpid() not in first | second
    assert runner._pool is None                        # closed on leaving the block


@pytest.mark.parametrize("executor, workers", [("serial", None), ("process", 2)])
def test_an_error_in_a_job_reaches_the_caller(executor, workers):
    with Runner(executor, workers=workers) as runner:
        with pytest.raises(ValueError, match="job 3 failed"):
            runner.map(_fails_on_three, JOBS)


def test_runner_checks_its_options():
    assert EXECUTORS == ("process", "serial", "dask")
    with pytest.raises(ParameterError, match="^address="):
        Runner("dask")
    with pytest.raises(ParameterError, match="^executor="):
        Runner("threads")
    with pytest.raises(ParameterError, match="^workers="):
        Runner("process", workers=0)
    assert Runner("process").workers == (os.cpu_count() or 1)


def test_dask_gives_the_same_results():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert map_jobs(_square, JOBS, scheduler=cluster.scheduler_address) == [x * x for x in JOBS]
        with distributed.Client(cluster, set_as_default=False) as client:
            with Runner("dask", address=client, shared={"a": 2, "b": 5}) as runner:
                assert runner.map(_affine, JOBS) == [2 * x + 5 for x in JOBS]
            assert client.status == "running"          # a client given to the runner is not closed by it
