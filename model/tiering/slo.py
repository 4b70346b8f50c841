"""Throughput at a TTFT target: the highest request rate (the trace's arrival times compressed or stretched)
whose P95 TTFT meets the target, and the zero-load floor below which no rate can meet it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.parameters import default
from model.rate_search import bisect_boundary
from model.tiering.config import TierConfig
from model.tiering.replay import ReplayResult, replay
from model.tiering.simulate import TieringResult, simulate
from model.tiering.timing import service_times
from model.checks import ParameterError, check_number, check_positive
from model.workload import Trace


@dataclass(frozen=True, eq=False)
class SloThroughput:
    """Result of :func:`throughput_at_slo`.

    Attributes
    ----------
    requests_per_s : float
        Highest offered request rate meeting the target, requests/s (0 when no rate tried meets it: see
        ``feasible``).
    time_scale : float
        Factor applied to the trace's arrival times at that rate (< 1: compressed; ``math.inf`` when
        infeasible).
    p95_ttft_target_s : float
        The target, s.
    result : TieringResult
        The simulation at that rate; when infeasible, the simulation at the slowest rate tried (the least
        queueing: its P95 TTFT is the best this configuration reaches).
    floor_p95_ttft_s : float
        P95 of the zero-load TTFT (slowest tier load + prefill, no queueing; :func:`zero_load_ttft_s`), s:
        no request rate gets P95 TTFT below it, so a target below it has no answer.
    """

    requests_per_s: float
    time_scale: float
    p95_ttft_target_s: float
    result: TieringResult
    floor_p95_ttft_s: float

    @property
    def feasible(self) -> bool:
        """Whether some request rate meets the target."""
        return self.requests_per_s > 0

    @property
    def best_p95_ttft_s(self) -> float:
        """P95 TTFT of :attr:`result`, s: at the sustainable rate when feasible, else the best reached."""
        return self.result.ttft_p95_s

    def as_row(self) -> dict:
        """``feasible, throughput_at_slo_rps, p95_ttft_target_s, ttft_p95_s, floor_p95_ttft_s, hit_ratio,
        cost_usd_per_hour, usd_per_million_tokens`` (of :attr:`result`). ``usd_per_million_tokens`` is the
        cost at the sustainable rate, so it is NaN when ``feasible`` is false (there is no such rate)."""
        r = self.result
        return {"feasible": self.feasible, "throughput_at_slo_rps": self.requests_per_s,
                "p95_ttft_target_s": self.p95_ttft_target_s, "ttft_p95_s": r.ttft_p95_s,
                "floor_p95_ttft_s": self.floor_p95_ttft_s, "hit_ratio": r.hit_ratio,
                "cost_usd_per_hour": r.cost_usd_per_hour,
                "usd_per_million_tokens": r.usd_per_million_tokens if self.feasible else math.nan}


def zero_load_ttft_s(trace: Trace, config: TierConfig, rep: ReplayResult | None = None) -> np.ndarray:
    """TTFT of every request with no queueing (slowest tier load + prefill), s: the floor any request rate
    has to live with."""
    rep = replay(trace, config) if rep is None else rep
    load, prefill = service_times(trace, rep, config)
    return (load.max(axis=1) if load.size else 0.0) + prefill


def throughput_at_slo(trace: Trace, config: TierConfig, p95_ttft_target_s: float, *,
                      rel_tol: float | None = None, max_speedup: float | None = None,
                      timing: str = "recursion") -> SloThroughput:
    """The highest request rate that keeps P95 TTFT ≤ ``p95_ttft_target_s`` (the metric an optimiser compares
    across configurations): the trace's arrival times are multiplied by a factor f found by bisection on
    log f (:func:`model.rate_search.bisect_boundary`, ``spacing="log"``); the offered rate is
    requests / (f × trace duration).

    With a finite TTL the cache replay depends on f and is redone at each step; without, it is done once.
    P95 TTFT is taken as non-increasing in f (more time between arrivals, less queueing), which holds for the
    FIFO network without TTL.

    Parameters
    ----------
    trace, config
        As :func:`simulate`.
    p95_ttft_target_s : float
        Target, s (the tiering chapter's default: ``tiering_mooncake_p95_ttft_target_s``).
    rel_tol : float, optional
        Relative precision of the rate: the search stops when the factors that meet and miss the target are
        within a ratio 1 + ``rel_tol`` (default ``tiering_slo_rel_tol``).
    max_speedup : float, optional
        Factors tried lie in [1 / max_speedup, max_speedup] (default ``tiering_slo_max_speedup``).

    Returns
    -------
    SloThroughput
        ``requests_per_s`` = 0 (``feasible`` false) when even the zero-load P95 TTFT (no queueing, see
        :func:`zero_load_ttft_s`) or the slowest rate tried misses the target; ``result`` is then the
        simulation at the slowest rate tried, and ``floor_p95_ttft_s`` says how far the target is out of reach.
    """
    check_positive("p95_ttft_target_s", p95_ttft_target_s)
    tol = default("tiering_slo_rel_tol") if rel_tol is None else check_positive("rel_tol", rel_tol)
    top = default("tiering_slo_max_speedup") if max_speedup is None else check_number(
        "max_speedup", max_speedup, low=1.0)
    if trace.duration_s <= 0:
        raise ParameterError("trace", trace.name, "a trace with arrivals spread over time")
    fixed = None if config.has_ttl() else replay(trace, config)

    def run(scale: float) -> TieringResult:
        return simulate(trace.time_scaled(scale), config, timing=timing, replay_result=fixed)

    def rate(scale: float) -> float:
        return trace.n_requests / (scale * trace.duration_s)

    fast, slow = 1.0 / top, top
    if fixed is not None:
        floor = float(np.percentile(zero_load_ttft_s(trace, config, fixed), 95))
        if floor > p95_ttft_target_s:
            return SloThroughput(0.0, math.inf, p95_ttft_target_s, run(slow), floor)
    r = run(fast)
    if fixed is None:
        slow_trace = trace.time_scaled(slow)
        floor = float(np.percentile(zero_load_ttft_s(slow_trace, config), 95))
    if r.ttft_p95_s <= p95_ttft_target_s:
        return SloThroughput(rate(fast), fast, p95_ttft_target_s, r, floor)
    r = run(slow)
    if r.ttft_p95_s > p95_ttft_target_s:
        return SloThroughput(0.0, math.inf, p95_ttft_target_s, r, floor)
    best = r

    def meets(scale: float) -> bool:               # keeps the simulation of the last factor that met the target
        nonlocal best
        r = run(scale)
        if r.ttft_p95_s <= p95_ttft_target_s:
            best = r
            return True
        return False

    slow = bisect_boundary(meets, slow, fast, rel_tol=tol, spacing="log")   # fast misses the target, slow meets it
    return SloThroughput(rate(slow), slow, p95_ttft_target_s, best, floor)


def slo_table(trace: Trace, configs: Mapping[str, TierConfig], p95_ttft_target_s: float, **options) -> pd.DataFrame:
    """:func:`throughput_at_slo` of each labelled configuration: one row each, ``configuration`` then
    :meth:`SloThroughput.as_row` (``feasible`` says whether any rate meets the target; when it is false the
    throughput is 0 and the other columns describe the slowest rate tried)."""
    rows = []
    for label, cfg in configs.items():
        r = throughput_at_slo(trace, cfg, p95_ttft_target_s, **options)
        rows.append({"configuration": label, **r.as_row()})
    return pd.DataFrame(rows)
