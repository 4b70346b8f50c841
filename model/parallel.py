"""The study's one parallel runner: a function applied to many jobs in this process, on a pool of local
processes, or on an existing Dask cluster. The sweeps of a search (:class:`model.search.evaluations.Sweep`, with its
results file and progress bar) and the fleet simulations (:func:`map_jobs`: nodes, or passes over a stream)
both run through it, so this is the one place that starts local processes or talks to Dask.

A function sent to workers must be picklable (defined at module level); so must the jobs and the ``shared``
object. Local processes are started with ``spawn`` by default (no fork of a parent holding threads). Results
do not depend on the executor: every job is computed by the same deterministic function.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import closing

from model.checks import ParameterError, check_choice, check_int

#: Executors of :class:`Runner`: a local process pool, this process, or a Dask cluster.
EXECUTORS = ("process", "serial", "dask")

_NOTHING = object()        # no shared object: jobs are called as fn(job)
_SHARED = None             # in a worker process of the local pool: the runner's shared object


def _set_shared(shared) -> None:
    global _SHARED
    _SHARED = shared


def _call_with_shared(fn: Callable, job):
    return fn(job, _SHARED)


class Runner:
    """Runs ``fn`` over jobs (context manager): keeps its process pool or Dask client open across calls, so that a
    search evaluating small batches pays the start-up once.

    Parameters
    ----------
    executor : {"process", "serial", "dask"}
        A local process pool (in this process when ``workers`` is 1), this process, or a Dask cluster.
    workers : int, optional
        Processes of the local pool (default: the CPUs available).
    address : str or distributed.Client, optional
        For ``"dask"``: a scheduler address (``"tcp://host:8786"``), or an existing client (then not closed here).
    shared : object, optional
        Sent once to every worker (the pool's initializer; a Dask broadcast), and passed to every call as
        ``fn(job, shared)``; without it calls are ``fn(job)``. For a large object used by every job (an
        evaluation function holding a trace's arrays).
    mp_context : str
        Start method of the local processes.
    """

    def __init__(self, executor: str = "process", *, workers: int | None = None, address=None, shared=_NOTHING,
                 mp_context: str = "spawn"):
        check_choice("executor", executor, EXECUTORS)
        if executor == "dask" and address is None:
            raise ParameterError("address", address, "a Dask scheduler address or distributed.Client")
        self.executor = executor
        self.workers = check_int("workers", workers, low=1) if workers is not None else (os.cpu_count() or 1)
        self.address = address
        self.mp_context = check_choice("mp_context", mp_context, multiprocessing.get_all_start_methods())
        self._shared = shared
        self._pool = None
        self._client = None
        self._own_client = False
        self._remote_shared = None

    @property
    def inline(self) -> bool:
        """Whether jobs run in this process (``"serial"``, or a local pool of one process)."""
        return self.executor == "serial" or (self.executor == "process" and self.workers == 1)

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Shut the pool down (cancelling what has not started) and close a client opened here."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._client is not None and self._own_client:
            self._client.close()
        self._client = None
        self._remote_shared = None

    def _ensure_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context(self.mp_context),
                                             initializer=_set_shared, initargs=(self._shared,))
        return self._pool

    def _ensure_client(self):
        if self._client is None:
            from distributed import Client
            if isinstance(self.address, Client):
                self._client, self._own_client = self.address, False
            else:
                self._client, self._own_client = Client(self.address, set_as_default=False), True
            if self._shared is not _NOTHING:
                self._remote_shared = self._client.scatter(self._shared, broadcast=True, hash=False)
        return self._client

    # -- work ----------------------------------------------------------------------------------------
    def as_completed(self, fn: Callable, jobs: Sequence) -> Iterator[tuple[int, object]]:
        """``(index of the job, its result)`` as each job completes (in order when inline). An error in a job,
        or closing the iterator early, cancels the jobs not yet started."""
        jobs = list(jobs)
        extra = () if self._shared is _NOTHING else (self._shared,)
        if self.inline:
            for i, job in enumerate(jobs):
                yield i, fn(job, *extra)
            return
        if self.executor == "process":
            pool = self._ensure_pool()
            pending = {(pool.submit(_call_with_shared, fn, job) if extra else pool.submit(fn, job)): i
                       for i, job in enumerate(jobs)}
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        i = pending.pop(fut)
                        yield i, fut.result()
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
            return
        from distributed import as_completed as dask_as_completed
        client = self._ensure_client()
        extra = () if self._shared is _NOTHING else (self._remote_shared,)
        futures = [client.submit(fn, job, *extra, pure=False) for job in jobs]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut, result in dask_as_completed(futures, loop=client.loop, with_results=True):
                yield index[fut.key], result
        except BaseException:
            client.cancel(futures)
            raise

    def map(self, fn: Callable, jobs: Sequence) -> list:
        """``[fn(job) for job in jobs]`` (or ``fn(job, shared)``), in the order of ``jobs``."""
        jobs = list(jobs)
        out = [None] * len(jobs)
        with closing(self.as_completed(fn, jobs)) as results:
            for i, result in results:
                out[i] = result
        return out


def map_jobs(fn: Callable, jobs: Sequence, *, workers: int = 1, scheduler: str | None = None) -> list:
    """``[fn(job) for job in jobs]``, in order: on an existing Dask cluster when ``scheduler`` (its address,
    e.g. ``tcp://127.0.0.1:8786``) is given, else on a local pool of ``workers`` processes (at most one per job;
    1: in this process). ``fn`` must be a module-level function (picklable)."""
    check_int("workers", workers, low=1)
    jobs = list(jobs)
    if scheduler:
        runner = Runner("dask", address=scheduler)
    else:
        runner = Runner("process", workers=min(workers, max(len(jobs), 1)))
    with runner:
        return runner.map(fn, jobs)
