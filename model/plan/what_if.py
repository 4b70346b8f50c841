"""What-if of a plan over its load and latency target, in a form a browser can compute.

At a fixed service shape the plan's pools depend on the load only through whole replicas: a pool of TP ``n``
whose replica carries ``r`` requests/s within the targets needs ⌈λ / r⌉ × n GPUs at λ requests/s
(:func:`model.plan.serving.size_serving`). The per-replica rates depend on the P95 TTFT target, not on λ, so the
rates of every TP option at a grid of targets let a page recompute the plan's GPUs for any number of sessions:

- aggregated: min over TP of ⌈λ / r_agg(n)⌉ × n;
- disaggregated: min over TP of ⌈λ / r_pre(n)⌉ × n + min over TP of ⌈λ / r_dec(n)⌉ × n;
- the plan: the smaller of the two (ties: aggregated), as ``disaggregation="auto"``;

with the fleet's peak, spares and regions (:mod:`model.plan.fleet`): λ is the peak (mean × ``peak_to_mean``) and
each pool's GPUs are split over the regions, each rounding up its share with its spares.

The one approximation: a prefill replica's KV transfer goes over the NICs of the smaller of its TP and the decode
pool's, and the decode pool's TP is held at the one the plan chose at the inputs' own load.
Units: requests/s, seconds, GPUs.
"""

from __future__ import annotations

import math

import pandas as pd

from model.checks import ParameterError, check_positive
from model.plan.compose import serving_setup
from model.plan.inputs import PlanInputs
from model.plan.serving import (aggregated_pool, best_pool, decode_pool, kv_transfer_s,
                                prefill_pool)

#: Roles of the per-replica rates, as column prefixes of :func:`replica_rate_grid`.
ROLES = ("agg", "pre", "dec")


def rate_column(role: str, tp: int) -> str:
    """Column of :func:`replica_rate_grid` holding ``role``'s replica rate at TP ``tp``."""
    return f"{role}_rate_tp{tp}"


def replica_rate_grid(inputs: PlanInputs, ttft_factors, *, tp_options=(1, 2, 4, 8),
                      unreachable_rate: float = 0.0) -> pd.DataFrame:
    """Requests/s one replica of each role and TP carries within the targets, at P95 TTFT targets of
    ``inputs.ttft_p95_s`` × each of ``ttft_factors``.

    Parameters
    ----------
    inputs : PlanInputs
        The service; its TPOT target, cache and shape are held.
    ttft_factors : sequence of float
        Multipliers of the TTFT target (> 0).
    tp_options : sequence of int
        TP degrees to report; one that does not hold the weights, or misses the targets, gets
        ``unreachable_rate``.

    Returns
    -------
    pandas.DataFrame
        One row per factor: ``ttft_factor``, ``ttft_p95_s`` (s), ``feasible`` (some way of serving meets the
        targets) and :func:`rate_column` columns (requests/s per replica).

    Raises
    ------
    ParameterError
        naming ``ttft_factors`` when one is not a positive number (and what :func:`make_plan` raises for the
        inputs).
    """
    factors = list(ttft_factors)
    if not factors:
        raise ParameterError("ttft_factors", factors, "a non-empty list of numbers > 0")
    for f in factors:
        check_positive("ttft_factors", f)
    i = inputs
    setup = serving_setup(i)
    deps, cached = setup.deps, setup.cached_tokens        # the tensor-parallel options (one node)
    demand = i.demand_requests_per_s * i.peak_to_mean
    q = i.latency_quantile
    by_tp = {d.n_gpus: d for d in deps}
    dec = {d.n_gpus: decode_pool(d, demand, prompt_tokens=i.prompt_tokens, reply_tokens=i.reply_tokens,
                                 tpot_s=i.tpot_p95_s, max_batch=i.max_batch, q=q) for d in deps}
    best_dec = best_pool(dec.values())
    rows = []
    for f in factors:
        ttft = i.ttft_p95_s * f
        row = {"ttft_factor": float(f), "ttft_p95_s": ttft}
        for n in tp_options:
            d = by_tp.get(n)
            agg = pre = None
            if d is not None:
                agg = aggregated_pool(d, demand, prompt_tokens=i.prompt_tokens, cached_tokens=cached,
                                      reply_tokens=i.reply_tokens, ttft_s=ttft, tpot_s=i.tpot_p95_s,
                                      chunk_tokens=i.chunk_tokens, max_batch=i.max_batch, q=q,
                                      cv2=i.chunked_service_cv2)
                link = by_tp[best_dec.tp] if best_dec else d
                pre = prefill_pool(d, demand, prompt_tokens=i.prompt_tokens, cached_tokens=cached,
                                   transfer_s=kv_transfer_s(setup.arch, i.prompt_tokens, i.kv_dtype, d, link),
                                   ttft_s=ttft, q=q,
                                   cv2=i.prefill_service_cv2)
            for role, pool in (("agg", agg), ("pre", pre), ("dec", dec.get(n))):
                rate = pool.replica_requests_per_s if pool is not None else math.nan
                row[rate_column(role, n)] = rate if math.isfinite(rate) and rate > 0 else unreachable_rate
        agg_ok = any(row[rate_column("agg", n)] > 0 for n in tp_options)
        dis_ok = any(row[rate_column("pre", n)] > 0 for n in tp_options) and \
            any(row[rate_column("dec", n)] > 0 for n in tp_options)
        row["feasible"] = agg_ok or dis_ok
        rows.append(row)
    return pd.DataFrame(rows)


def gpus_at(rates: pd.Series, demand_requests_per_s: float, *, tp_options=(1, 2, 4, 8), shape=None) -> dict:
    """The closed form of the module docstring for one row of :func:`replica_rate_grid` at a mean demand and the
    fleet's ``shape`` (:class:`model.plan.fleet.FleetShape`; default: no peak, no spares, one region):
    ``aggregated``, ``disaggregated``, ``prefill``, ``decode`` and ``gpus`` (the plan's), and ``disaggregated_chosen``;
    ``math.inf`` for a way of serving no TP option carries."""
    from model.economics.regions import split_fleet
    from model.plan.fleet import FleetShape

    shape = shape or FleetShape()
    peak = demand_requests_per_s * shape.peak_to_mean

    def pool(role):
        options = [math.ceil(peak / rates[rate_column(role, n)] - 1e-9) * n
                   for n in tp_options if rates[rate_column(role, n)] > 0]
        if not options:
            return math.inf
        return int(split_fleet(min(options), list(shape.region_shares), spare_share=shape.spare_fraction).sum())

    agg, pre, dec = pool("agg"), pool("pre"), pool("dec")
    dis = pre + dec
    return {"aggregated": agg, "prefill": pre, "decode": dec, "disaggregated": dis, "gpus": min(agg, dis),
            "disaggregated_chosen": dis < agg}
