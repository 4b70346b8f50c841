"""Goodput: requests served within both latency targets, TTFT and TPOT (DistServe, Zhong et al. OSDI '24, §2).

Read off any simulated run whose requests table has ``arrival_s``, ``first_token_s``, ``finish_s`` and
``output_tokens`` (the aggregated simulator's :class:`model.serving.SimResult` and the disaggregated one's):

- :func:`latencies`: per-request TTFT, TPOT and end-to-end latency (names of :mod:`model.metrics`);
- :func:`slo_attainment`: share of requests meeting both targets;
- :func:`goodput_requests_per_s`: those requests per second of the run;
- :func:`highest_rate`: DistServe's goodput of a configuration, the highest Poisson rate at which the
  attainment stays at or above a share (e.g. 90%), found with the study's one rate search
  (:func:`model.rate_search.bisect_boundary`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from model.checks import ParameterError, check_fraction, check_positive
from model.rate_search import bisect_boundary


def latencies(requests: pd.DataFrame) -> pd.DataFrame:
    """TTFT, TPOT and end-to-end latency (s) of the finished requests of a run.

    TPOT = (end-to-end − TTFT) ÷ (output tokens − 1), 0 for a one-token reply.
    """
    done = requests.dropna(subset=["finish_s"])
    ttft = done["first_token_s"] - done["arrival_s"]
    e2e = done["finish_s"] - done["arrival_s"]
    tpot = (e2e - ttft) / np.maximum(done["output_tokens"] - 1, 1)
    return pd.DataFrame({"ttft_s": ttft.to_numpy(), "tpot_s": tpot.to_numpy(), "e2e_latency_s": e2e.to_numpy()})


def slo_attainment(requests: pd.DataFrame, ttft_slo_s: float, tpot_slo_s: float) -> float:
    """Share of the requests whose TTFT ≤ ``ttft_slo_s`` and TPOT ≤ ``tpot_slo_s`` (s) both (unfinished ones
    count as missing)."""
    check_positive("ttft_slo_s", ttft_slo_s)
    check_positive("tpot_slo_s", tpot_slo_s)
    lat = latencies(requests)
    met = int(((lat["ttft_s"] <= ttft_slo_s) & (lat["tpot_s"] <= tpot_slo_s)).sum())
    return met / len(requests)


def goodput_requests_per_s(requests: pd.DataFrame, ttft_slo_s: float, tpot_slo_s: float) -> float:
    """Requests meeting both targets per second, from the first arrival to the last finish."""
    span = float(requests["finish_s"].max() - requests["arrival_s"].min())
    return slo_attainment(requests, ttft_slo_s, tpot_slo_s) * len(requests) / span if span > 0 else 0.0


def highest_rate(run: Callable[[float], pd.DataFrame], meets: Callable[[pd.DataFrame], bool], *, low: float,
                 high: float, rel_tol: float) -> float:
    """The highest arrival rate (requests/s) whose run still ``meets`` its target, by bisection.

    Parameters
    ----------
    run : callable
        ``run(rate) -> requests`` table of a simulated run at ``rate`` requests/s (seeded inside).
    meets : callable
        ``meets(requests) -> bool``, e.g. ``slo_attainment(...) >= 0.9``.
    low, high : float
        Rates bracketing the answer, requests/s: ``low`` must meet the target (else 0 is returned),
        ``high`` is doubled until it fails (at most ``_DOUBLINGS`` times).
    rel_tol : float
        Relative precision of the answer.
    """
    check_positive("low", low)
    if high <= low:
        raise ParameterError("high", high, f"a rate above low ({low} requests/s)")
    if not meets(run(low)):
        return 0.0
    for _ in range(_DOUBLINGS):
        if not meets(run(high)):
            break
        low, high = high, 2 * high
    else:
        return low
    return bisect_boundary(lambda r: meets(run(r)), low, high, rel_tol=rel_tol, spacing="log")


#: Doublings of the upper bracket of :func:`highest_rate` before it gives up (2^8 = 256 times the first guess).
_DOUBLINGS = 8


def quantile_within(values, q: float, target: float) -> bool:
    """Whether the ``q`` quantile of ``values`` is at most ``target`` (a P90 TTFT within its SLO)."""
    check_fraction("q", q)
    return bool(np.quantile(np.asarray(values, float), q) <= target)
