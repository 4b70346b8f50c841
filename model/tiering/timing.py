"""Timing of a replayed trace: loads over each tier's FIFO links, then FIFO prefill on the instances of the
pool (exact recursion, or the same network in simpy). TTFT = end of prefill − arrival."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from model.tiering.config import TIMING_MODELS, TierConfig
from model.tiering.replay import ReplayResult
from model.checks import check_choice, check_int
from model.workload import Trace


@dataclass(frozen=True, eq=False)
class Timing:
    """Per-request times, s: ``load_s`` (longest tier load), ``prefill_s`` (compute), ``start_s`` (prefill
    start), ``done_s`` (first token), ``ttft_s`` = done − arrival."""

    arrival_s: np.ndarray
    load_s: np.ndarray
    prefill_s: np.ndarray
    ready_s: np.ndarray
    done_s: np.ndarray

    @property
    def ttft_s(self) -> np.ndarray:
        return self.done_s - self.arrival_s


def service_times(trace: Trace, rep: ReplayResult, config: TierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per request: load time from each tier (requests × tiers, s) and prefill time of the recomputed tokens
    after the reused ones (s): :func:`request_service_s` of the replay's tokens per tier."""
    return request_service_s(rep.tokens_by_tier, rep.recomputed_tokens, config)


def request_service_s(tokens_by_tier: np.ndarray, recomputed_tokens: np.ndarray, config: TierConfig
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The one service-time model of a request (used by :func:`simulate` and by Kareto's evaluator,
    :mod:`model.search.tier_search`): loading its cached tokens from each tier over that tier's link (tokens × KV bytes
    per token ÷ read bandwidth, s; array requests × tiers) and prefilling its recomputed tokens after the
    cached ones (:meth:`PrefillEngine.prefill_time_s`, s)."""
    tokens_by_tier = np.asarray(tokens_by_tier, dtype=float)
    bw = np.array([t.read_bytes_per_s for t in config.tiers])
    load = tokens_by_tier * config.engine.kv_bytes_per_token / bw[None, :]
    cached = tokens_by_tier.sum(axis=1)
    prefill = config.engine.prefill_time_s(recomputed_tokens, cached)
    return load, prefill


def lindley_done_s(arrival: np.ndarray, service: np.ndarray, *, servers: int = 1,
                   free: float = -math.inf) -> np.ndarray:
    """Completion times of a FIFO queue, jobs served in the given order: the study's one queue recursion
    (used by :func:`network_done_s`, hence by :func:`simulate` and :mod:`model.search.tier_search`, and by the streamed
    fleet of :mod:`model.tiering.streamed_fleet`, which carries ``free`` from one chunk of the stream to the next).

    One server: Lindley's recursion done_i = max(arrival_i, done_{i−1}) + service_i with done_{−1} = ``free``,
    vectorised as done_i = S_i + max(free, max_{j ≤ i}(arrival_j − S_{j−1})), S the cumulative service.
    Several servers: job i starts when it arrives or when the first of the ``servers`` servers frees,
    whichever is later (a heap of the servers' free times).

    Parameters
    ----------
    arrival : numpy.ndarray
        Arrival times, s, in service order (non-decreasing for several servers).
    service : numpy.ndarray
        Service times, s (≥ 0), same length.
    servers : int
        Identical servers (≥ 1).
    free : float
        Time the server(s) become free, s (a queue carried over); ``-inf``, the default: idle from the start.

    Returns
    -------
    numpy.ndarray
        Completion time of each job, s (float).
    """
    servers = check_int("servers", servers, low=1)
    if servers == 1:
        s = np.cumsum(service)
        return s + np.maximum(np.maximum.accumulate(arrival - (s - service)), free)
    heap = [free] * servers
    a, s = arrival.tolist(), service.tolist()
    out = [0.0] * len(a)
    for i in range(len(a)):
        first = heap[0]
        start = a[i] if a[i] > first else first
        out[i] = start + s[i]
        heapq.heapreplace(heap, out[i])
    done = np.empty(len(a))
    done[:] = out
    return done


def network_done_s(arrival: np.ndarray, load: np.ndarray, prefill: np.ndarray, servers: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The queueing network of a request, the one both :func:`simulate` and :mod:`model.search.tier_search` time with:
    the tiers' loads in parallel, each tier a FIFO queue of ``servers`` links, then FIFO prefill on
    ``servers`` instances in order of readiness. Returns (ready, done) times, s."""
    ready = np.asarray(arrival, dtype=float).copy()
    for k in range(load.shape[1]):
        moving = load[:, k] > 0
        if moving.any():
            ready[moving] = np.maximum(ready[moving], lindley_done_s(arrival[moving], load[moving, k],
                                                                     servers=servers))
    order = np.lexsort((np.arange(len(ready)), ready))
    done = np.empty(len(ready))
    done[order] = lindley_done_s(ready[order], prefill[order], servers=servers)
    return ready, done


def usd_per_million_tokens(cost_usd_per_hour: float, tokens_per_s: float) -> float:
    """The one price-per-token denominator: cost per hour ÷ (prompt + output tokens per hour) × 10⁶; ``inf``
    when nothing is served."""
    return cost_usd_per_hour / (tokens_per_s * 3600.0) * 1e6 if tokens_per_s > 0 else math.inf


def time_requests(trace: Trace, rep: ReplayResult, config: TierConfig, *, timing: str = "recursion") -> Timing:
    """TTFT of every request: parallel loads over each tier's FIFO links, then FIFO prefill on
    ``n_instances`` instances in order of readiness (see the module docstring)."""
    check_choice("timing", timing, TIMING_MODELS)
    load, prefill = service_times(trace, rep, config)
    n = config.engine.n_instances
    if timing == "simpy":
        return _time_requests_simpy(trace.arrival_s, load, prefill, n)
    arrival = trace.arrival_s
    ready, done = network_done_s(arrival, load, prefill, n)
    return Timing(arrival_s=arrival, load_s=load.max(axis=1) if load.size else np.zeros(len(arrival)),
                  prefill_s=prefill, ready_s=ready, done_s=done)


def _time_requests_simpy(arrival: np.ndarray, load: np.ndarray, prefill: np.ndarray, servers: int) -> Timing:
    import simpy

    env = simpy.Environment()
    links = [simpy.Resource(env, capacity=servers) for _ in range(load.shape[1])]
    gpus = simpy.Resource(env, capacity=servers)
    ready = np.zeros(len(arrival))
    done = np.zeros(len(arrival))

    def transfer(link, seconds):
        with link.request() as req:
            yield req
            yield env.timeout(seconds)

    def request(i):
        yield env.timeout(arrival[i] - env.now) if arrival[i] > env.now else env.timeout(0)
        loads = [env.process(transfer(links[k], load[i, k])) for k in range(load.shape[1]) if load[i, k] > 0]
        if loads:
            yield env.all_of(loads)
        ready[i] = env.now
        with gpus.request() as req:
            yield req
            yield env.timeout(prefill[i])
        done[i] = env.now

    def source():
        for i in range(len(arrival)):
            if arrival[i] > env.now:
                yield env.timeout(arrival[i] - env.now)
            env.process(request(i))

    env.process(source())
    env.run()
    return Timing(arrival_s=arrival, load_s=load.max(axis=1), prefill_s=prefill, ready_s=ready, done_s=done)
