"""model.parallel by hand: a runner's options and their refusals as typed, which runners work in this process, the
pool it starts (workers, start method, shared object), what closing releases (a client opened here, not one given),
the shared object passed to every call, and map_jobs' pool of at most one process per job."""
import os

import pytest

from model import parallel
from model.checks import ParameterError
from model.parallel import Runner, map_jobs


def _square(x):
    return x * x


def _pid(_):
    return os.getpid()


def _affine(x, shared):
    return shared["a"] * x + shared["b"]


def _shared_seen(_, shared):
    return shared, parallel._SHARED


def _fails_on_three(x):
    if x == 3:
        raise ValueError("job 3 failed")
    return x


class FakeClient:
    def __init__(self):
        self.closed = False

    def close(self):
        self.closed = True


def refused(call):
    with pytest.raises(ParameterError) as err:
        call()
    return err.value.name, err.value.value, err.value.allowed


def test_a_new_runner_holds_nothing_yet():
    r = Runner("serial", workers=3, mp_context="fork")
    assert (r.executor, r.workers, r.address, r.mp_context) == ("serial", 3, None, "fork")
    assert (r._pool, r._client, r._own_client, r._remote_shared) == (None, None, False, None)
    assert Runner("process").mp_context == "spawn"


def test_runner_refusals_as_typed():
    assert refused(lambda: Runner("dask")) == ("address", None, "a Dask scheduler address or distributed.Client")
    assert refused(lambda: Runner("threads"))[:2] == ("executor", "threads")
    assert refused(lambda: Runner("process", workers=0)) == ("workers", 0, "an integer in [1, inf]")
    assert refused(lambda: Runner("process", mp_context="thread"))[:2] == ("mp_context", "thread")


@pytest.mark.parametrize("executor, workers, inline", [
    ("serial", 4, True), ("serial", 1, True), ("process", 1, True), ("process", 2, False), ("dask", 1, False)])
def test_which_runners_work_in_this_process(executor, workers, inline):
    assert Runner(executor, workers=workers, address="tcp://127.0.0.1:1").inline is inline


def test_a_runner_is_its_own_context():
    r = Runner("serial")
    with r as entered:
        assert entered is r


def test_closing_closes_only_a_client_opened_here():
    own, given = FakeClient(), FakeClient()
    r = Runner("dask", address="tcp://127.0.0.1:1")
    r._client, r._own_client, r._remote_shared = own, True, "scattered"
    r.close()
    assert own.closed and (r._client, r._remote_shared) == (None, None)
    r._client, r._own_client = given, False
    with r:
        pass
    assert not given.closed and r._client is None


def test_inline_runs_in_order_with_and_without_a_shared_object():
    assert list(Runner("serial").as_completed(_square, [3, 1, 2])) == [(0, 9), (1, 1), (2, 4)]
    shared = {"a": 10, "b": 1}
    assert list(Runner("process", workers=1, shared=shared).as_completed(_affine, [1, 2])) == [(0, 11), (1, 21)]
    assert Runner("serial").map(_square, (x for x in [4, 5])) == [16, 25]


def test_the_pool_of_forked_processes_gets_the_shared_object():
    shared = {"a": 2, "b": 3}
    with Runner("process", workers=2, mp_context="fork", shared=shared) as r:
        assert r.map(_affine, [0, 1, 2, 3]) == [3, 5, 7, 9]
        assert r._pool._max_workers == 2
        # every worker was given the shared object by the pool's initializer
        assert r.map(_shared_seen, [0, 1, 2, 3]) == [(shared, shared)] * 4
        assert r._pool._mp_context.get_start_method() == "fork"
    assert r._pool is None
    with Runner("process", workers=2, mp_context="fork") as r:
        pids = set(r.map(_pid, list(range(8))))
        assert os.getpid() not in pids and len(pids) <= 2


@pytest.mark.parametrize("workers, method", [(3, "spawn"), (5, "forkserver")])
def test_the_pool_has_the_workers_and_start_method_asked_for(workers, method):
    # neither is the default of this machine (2 CPUs, fork on Linux); no process starts before a job is sent
    with Runner("process", workers=workers, mp_context=method) as r:
        pool = r._ensure_pool()
        assert (pool._max_workers, pool._mp_context.get_start_method()) == (workers, method)
        assert r._ensure_pool() is pool


def test_a_pool_without_a_shared_object_calls_fn_of_the_job():
    with Runner("process", workers=2, mp_context="fork") as r:
        assert dict(r.as_completed(_square, [1, 2, 3])) == {0: 1, 1: 4, 2: 9}


def test_an_error_in_a_pool_job_reaches_the_caller():
    with Runner("process", workers=2, mp_context="fork") as r:
        with pytest.raises(ValueError, match="job 3 failed"):
            r.map(_fails_on_three, list(range(6)))


def test_worker_side_shared_object():
    try:
        parallel._set_shared({"a": 1, "b": 0})
        assert parallel._SHARED == {"a": 1, "b": 0}
        assert parallel._call_with_shared(_affine, 7) == 7
    finally:
        parallel._set_shared(None)


def test_map_jobs_pool_size(monkeypatch):
    sizes = []
    real = Runner.__init__

    def spy(self, executor="process", **kw):
        real(self, executor, **kw)
        sizes.append((self.executor, self.workers))

    monkeypatch.setattr(Runner, "__init__", spy)
    # at most one process per job, and one (in this process) when there is no job
    assert map_jobs(_square, [1, 2], workers=1) == [1, 4]
    assert map_jobs(_square, [], workers=5) == []
    assert map_jobs(_square, [7], workers=5) == [49]
    assert sizes == [("process", 1), ("process", 1), ("process", 1)]
    assert refused(lambda: map_jobs(_square, [1], workers=0)) == ("workers", 0, "an integer in [1, inf]")


# --- Dask: a cluster of threads in this process (a cluster of processes takes seconds to start) --------------------
def _slow_first(x):
    import time
    if x == 0:
        time.sleep(0.3)
    return x


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as c:
        yield c


def test_dask_runner_with_an_address_opens_and_closes_its_own_client(cluster):
    import distributed

    with Runner("dask", address=cluster.scheduler_address, shared={"a": 2, "b": 5}) as r:
        assert r.map(_affine, [0, 1, 2]) == [5, 7, 9]
        client = r._client
        assert r._own_client is True and r._remote_shared is not None
        with pytest.raises(ValueError):     # not made the default client of this process
            distributed.default_client()
    assert client.status == "closed" and r._client is None and r._remote_shared is None


def test_dask_runner_with_a_client_leaves_it_open(cluster):
    import distributed

    with distributed.Client(cluster, set_as_default=False) as client:
        with Runner("dask", address=client) as r:
            # equal jobs are distinct tasks: each gets its own result
            assert r.map(_square, [3, 3, 4]) == [9, 9, 16]
            assert r._client is client and r._own_client is False and r._remote_shared is None
        assert client.status == "running"


def test_dask_results_come_as_they_complete_with_their_index(cluster):
    with Runner("dask", address=cluster.scheduler_address) as r:
        # job 0 sleeps 0.3 s on one thread while job 1 returns on the other
        assert list(r.as_completed(_slow_first, [0, 1])) == [(1, 1), (0, 0)]
        assert r.map(_slow_first, [0, 1]) == [0, 1]
        with pytest.raises(ValueError, match="job 3 failed"):
            r.map(_fails_on_three, [1, 3])


def test_map_jobs_on_a_cluster(cluster, monkeypatch):
    made = []
    real = Runner.__init__

    def spy(self, executor="process", **kw):
        real(self, executor, **kw)
        made.append((self.executor, self.address))

    monkeypatch.setattr(Runner, "__init__", spy)
    assert map_jobs(_square, [1, 2, 3], workers=4, scheduler=cluster.scheduler_address) == [1, 4, 9]
    assert made == [("dask", cluster.scheduler_address)]
