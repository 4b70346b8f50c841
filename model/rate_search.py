"""The highest request rate that meets a latency target: the study's one search for it, in the two forms its two
jobs need.

- :func:`bisect_boundary`, a bisection over a simulator: the rate is not known in advance, so the simulator is
  called at rates chosen one after another (the tiering chapter's throughput at the SLO,
  :func:`model.tiering.throughput_at_slo`, and Kareto's evaluator,
  :meth:`model.search.tier_search.TierEvaluator.throughput_at_slo`).
- :func:`highest_rate_within`, a reading of a swept table: the simulations were run at rates fixed in advance (a
  load sweep the chapter also shows, :func:`model.serving.sweep_load`), so the answer is read from the table
  rather than found by simulating rates the table does not hold (the batching and fleet chapters,
  :func:`model.economics.fleet_sizing.highest_rate_meeting`).

Units: rates in requests/s (or, for a search over a trace, a factor on its arrival times), latencies in the
unit of the metric compared (s, or s per token).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from model.checks import check_choice, check_positive

#: Spacings of :func:`bisect_boundary`: where the midpoint is taken and how the stopping rule measures the bracket.
SPACINGS = ("log", "linear")


def bisect_boundary(meets: Callable[[float], bool], good: float, bad: float, *, rel_tol: float,
                    spacing: str = "log") -> float:
    """The point where a monotone target stops being met, by bisection between a point that meets it and one
    that does not.

    Parameters
    ----------
    meets : callable
        ``meets(x) -> bool``: whether the target is met at ``x`` (a request rate, requests/s, or a factor on a
        trace's arrival times). Assumed monotone: true on one side of an unknown threshold x*, false on the
        other (P95 TTFT grows with the rate, so "P95 TTFT ≤ target" holds below some rate, and above some
        stretching factor of the arrival times). It is called once per step, at the midpoint, in order.
    good : float
        A point where the target is met (``meets(good)`` true), on either side of ``bad``.
    bad : float
        A point where it is not (``meets(bad)`` false).
    rel_tol : float
        Relative width of the bracket at which the search stops (> 0). The callers' cited values:
        ``tiering_slo_rel_tol`` = 0.02 and ``kareto_slo_rel_tol`` = 0.001 (``data/parameters/``).
    spacing : {"log", "linear"}
        ``"log"``: bisection on log x (``good`` and ``bad`` > 0), midpoint √(good · bad), stop when
        max(good, bad) ÷ min(good, bad) ≤ 1 + ``rel_tol``; suited to a bracket spanning decades (the tiering
        search starts from [1/1000, 1000]). ``"linear"``: midpoint (good + bad) / 2, stop when
        |good − bad| ≤ ``rel_tol`` × max(good, bad); suited to a bracket already within a factor of two (Kareto's
        search brackets the rate by doubling first).

    Returns
    -------
    float
        The last point that met the target: within ``rel_tol`` of the threshold, on its meeting side (never a
        point that missed it). ``good`` itself when the bracket is already narrower than ``rel_tol``.

    Raises
    ------
    ParameterError
        ``rel_tol`` not positive, ``spacing`` unknown, or ``"log"`` with a bracket end (``good``, ``bad``) not a
        finite number > 0.
    """
    check_positive("rel_tol", rel_tol)
    check_choice("spacing", spacing, SPACINGS)
    if spacing == "log":                          # a bisection on log x needs both ends > 0
        check_positive("good", good)
        check_positive("bad", bad)
    while True:
        hi, lo = (good, bad) if good > bad else (bad, good)
        if spacing == "log":
            if not hi / lo > 1.0 + rel_tol:
                return good
            mid = math.sqrt(good * bad)
        else:
            if not hi - lo > rel_tol * hi:
                return good
            mid = 0.5 * (good + bad)
        if meets(mid):
            good = mid
        else:
            bad = mid


def highest_rate_within(sweep: pd.DataFrame, metric: str, limit: float) -> pd.Series:
    """Per run of a load sweep, the highest swept rate whose ``metric`` stays at or below ``limit``.

    Parameters
    ----------
    sweep : pandas.DataFrame
        One row per run and rate (:func:`model.serving.sweep_load`): columns ``run``, ``rate_per_s``
        (requests/s) and ``metric``.
    metric : str
        The latency column compared (e.g. ``ttft_s_p95``, s; ``normalized_latency_s_per_token``, s per token).
    limit : float
        The target, in the metric's unit; a rate whose metric equals it meets it.

    Returns
    -------
    pandas.Series
        requests/s by run, in the order the runs first appear; NaN for a run no swept rate meets.

    Notes
    -----
    No monotonicity is assumed and nothing is interpolated: the answer is the highest grid point that meets the
    target, even above a lower one that missed (a finite simulation is noisy), so its resolution is the sweep's
    grid (e.g. :data:`model.economics.fleet_sizing.LOAD_FRACTIONS`). Unlike :func:`bisect_boundary` it runs no simulation.
    """
    ok = sweep[sweep[metric] <= limit]
    return ok.groupby("run")["rate_per_s"].max().reindex(sweep["run"].unique())
