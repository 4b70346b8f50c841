"""A time-to-live per group of KV blocks, chosen from the trace's own reuse intervals (the "group-specific
cache management" of Kareto, arXiv 2603.08739), compared with the best single uniform TTL and with none.

The cost model
--------------
A block looked up at time t stays cached until min(t + TTL, next lookup of that block): it occupies
``bytes`` for min(reuse interval, TTL) seconds, and the next lookup is a hit when the reuse interval is
shorter than the TTL (:func:`reused_within_ttl`, the one boundary rule the replay of :mod:`model.tiering`
applies too: a block expires at the instant last access + TTL, so a reuse exactly TTL later misses and a
TTL of 0 allows no reuse). Capacity evictions are not in this formula: :func:`tune_ttl` therefore tunes
against the capacity-limited simulator when one is given, and reports this model's error beside it. A miss costs
the GPU time to recompute the block's tokens. So for each group g and TTL T::

    cost_g(T) = storage price × Σ_i bytes_i × min(τ_i, T)  +  recompute price × Σ_{i: τ_i ≥ T} tokens_i'

over the lookups i tagged g (τ_i = time to the same block's next lookup, tokens_i' = tokens of that next
lookup). The total is a sum over groups of terms that depend only on the group's own TTL, so choosing
each group's TTL by its own minimum is exactly optimal among the candidate TTLs *of this model* and never
costs more than the best uniform TTL *in this model* (a uniform TTL is one of the choices). Under a finite
capacity LRU eviction, not expiry, may decide what stays, and the analytic optimum can simulate costlier:
:func:`tune_ttl` with a simulator chooses the TTL per group by coordinate descent on the simulated cost,
started from the best simulated uniform TTL, so its choice never simulates costlier than that uniform TTL. This is the discrete form of the rule
"keep a block while its probability of reuse × the recompute cost it saves exceeds its storage cost".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.checks import ParameterError, check_nonnegative, check_positive

#: Candidate TTLs, seconds (inf = never expire): a log-spaced ladder from 30 s to 4 h, plus 0 and inf.
DEFAULT_TTL_CANDIDATES_S = (0.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0, 14400.0,
                            math.inf)


def reused_within_ttl(interval_s, ttl_s):
    """The TTL boundary rule, the one place it is written: a block last accessed ``interval_s`` seconds ago is
    still cached (a reuse now hits) when ``interval_s < ttl_s``. So a reuse exactly TTL after the last access
    misses (the block expires at that instant), a TTL of 0 allows no reuse (not even at the same instant), and
    a TTL of ``inf`` never expires. Works on scalars and NumPy arrays alike; the compiled replay kernel
    (:mod:`model.tiering.kernel`) compiles this very function."""
    return interval_s < ttl_s


@dataclass(frozen=True)
class TtlPrices:
    """Prices the TTL trade-off weighs.

    Attributes
    ----------
    storage_usd_per_gb_hour : float
        Price of keeping one GB of KV cache for one hour in the tier the TTL governs, USD/(GB·h).
    recompute_usd_per_token : float
        GPU cost of recomputing (prefilling) one token's KV after a miss, USD/token.
    kv_bytes_per_token : float
        KV cache bytes of one token (:func:`model.kv.kv_bytes_per_token`), bytes.
    """

    storage_usd_per_gb_hour: float
    recompute_usd_per_token: float
    kv_bytes_per_token: float

    def __post_init__(self):
        check_nonnegative("storage_usd_per_gb_hour", self.storage_usd_per_gb_hour)
        check_nonnegative("recompute_usd_per_token", self.recompute_usd_per_token)
        check_positive("kv_bytes_per_token", self.kv_bytes_per_token)

    @property
    def storage_usd_per_token_second(self) -> float:
        """USD to keep one token's KV for one second."""
        return self.storage_usd_per_gb_hour * self.kv_bytes_per_token / 1e9 / 3600.0

    @property
    def break_even_s(self) -> float:
        """Seconds of storage that cost as much as one recompute: recompute price ÷ storage price per
        second. A block whose next reuse is sooner than this is worth keeping."""
        rate = self.storage_usd_per_token_second
        return math.inf if rate == 0 else self.recompute_usd_per_token / rate


@dataclass(frozen=True)
class ReuseProfile:
    """Per block lookup: its group, tokens, time to the next lookup of the same block and that lookup's
    tokens (column-wise arrays of equal length).

    Attributes
    ----------
    group : numpy.ndarray (int)
        Group index of the lookup (the block is re-tagged with the group of each lookup).
    tokens : numpy.ndarray (int)
        Tokens the block holds at this lookup.
    interval_s : numpy.ndarray (float)
        Seconds to the block's next lookup (inf if none).
    next_tokens : numpy.ndarray (int)
        Tokens of that next lookup (0 if none).
    hold_s : numpy.ndarray (float)
        Longest the lookup can keep the block: min(interval_s, time left to the end of the trace).
    group_names : tuple of str
    first_lookup_tokens : int
        Tokens of first lookups (compulsory misses whatever the TTL).
    duration_h : float
        Span of the trace, hours (to express costs per hour).
    """

    group: np.ndarray
    tokens: np.ndarray
    interval_s: np.ndarray
    next_tokens: np.ndarray
    hold_s: np.ndarray
    group_names: tuple
    first_lookup_tokens: int
    duration_h: float


def reuse_profile(trace) -> ReuseProfile:
    """Reuse intervals of every block lookup of a :class:`model.workload.Trace`.

    Lookups of one request happen at its arrival time; sorting lookups by (block id, time, order) puts
    the consecutive lookups of a block next to each other.
    """
    times = np.asarray(trace.arrival_s, dtype=float)[trace.request_of_block()]
    ids = np.asarray(trace.block_ids)
    tokens = np.asarray(trace.block_token_counts(), dtype=np.int64)
    order = np.lexsort((np.arange(len(ids)), times, ids))
    same_next = np.zeros(len(ids), dtype=bool)
    if len(ids) > 1:
        same_next[:-1] = ids[order[1:]] == ids[order[:-1]]
    interval = np.full(len(ids), math.inf)
    next_tokens = np.zeros(len(ids), dtype=np.int64)
    pos = np.flatnonzero(same_next)
    interval[order[pos]] = times[order[pos + 1]] - times[order[pos]]
    next_tokens[order[pos]] = tokens[order[pos + 1]]
    is_first = np.ones(len(ids), dtype=bool)
    is_first[order[pos + 1]] = False
    duration_h = max(float(trace.duration_s), 1.0) / 3600.0
    end = float(times.max()) if len(times) else 0.0
    hold = np.minimum(interval, end - times)
    return ReuseProfile(group=np.asarray(trace.block_group, dtype=np.int64), tokens=tokens,
                        interval_s=interval, next_tokens=next_tokens, hold_s=hold, group_names=tuple(trace.group_names),
                        first_lookup_tokens=int(tokens[is_first].sum()), duration_h=duration_h)


def group_cost_curves(profile: ReuseProfile, prices: TtlPrices,
                      candidates: Sequence[float] = DEFAULT_TTL_CANDIDATES_S) -> pd.DataFrame:
    """Analytic cost of every (group, candidate TTL): storage and recompute USD per hour of trace, hit
    tokens and token-seconds held.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, ttl_s, hit_tokens, reusable_tokens, token_seconds, storage_usd_per_hour,
        recompute_usd_per_hour, cost_usd_per_hour`` (recompute of reusable tokens only: compulsory first
        misses are the same for every TTL and left out).
    """
    cands = np.array(sorted(check_nonnegative("candidate ttl", c) if math.isfinite(c) else c
                            for c in candidates), dtype=float)
    if len(cands) == 0:
        raise ParameterError("candidates", candidates, "at least one TTL")
    rows = []
    store = prices.storage_usd_per_token_second
    for g, name in enumerate(profile.group_names):
        sel = profile.group == g
        tau, nxt = profile.interval_s[sel], profile.next_tokens[sel].astype(float)
        by_tau = np.argsort(tau, kind="stable")
        tau, nxt = tau[by_tau], nxt[by_tau]
        cum_next = np.concatenate([[0.0], np.cumsum(nxt)])
        hold, tok = profile.hold_s[sel], profile.tokens[sel].astype(float)
        by_hold = np.argsort(hold, kind="stable")
        hold, tok = hold[by_hold], tok[by_hold]
        cum_tok_hold = np.concatenate([[0.0], np.cumsum(tok * hold)])
        cum_tok = np.concatenate([[0.0], np.cumsum(tok)])
        reusable = float(nxt.sum())
        for ttl in cands:
            k = int(np.searchsorted(tau, ttl, side="left"))         # reused_within_ttl: τ < TTL
            hit_tokens = float(cum_next[k])
            m = int(np.searchsorted(hold, ttl, side="right"))       # lookups held less than the TTL
            held = float(cum_tok_hold[m]) + (ttl * float(cum_tok[-1] - cum_tok[m]) if m < len(hold) else 0.0)
            storage = store * held / profile.duration_h if store > 0 else 0.0
            recompute = prices.recompute_usd_per_token * (reusable - hit_tokens) / profile.duration_h
            rows.append({"group": name, "ttl_s": ttl, "hit_tokens": hit_tokens, "reusable_tokens": reusable,
                         "token_seconds": held, "storage_usd_per_hour": storage,
                         "recompute_usd_per_hour": recompute, "cost_usd_per_hour": storage + recompute})
    return pd.DataFrame(rows)


def best_ttl_per_group(curves: pd.DataFrame) -> dict[str, float]:
    """Each group's TTL of least analytic cost (ties: the shorter TTL)."""
    best = curves.sort_values(["group", "cost_usd_per_hour", "ttl_s"], kind="stable").groupby(
        "group", sort=False).head(1)
    return {row.group: float(row.ttl_s) for row in best.itertuples()}


def best_uniform_ttl(curves: pd.DataFrame) -> float:
    """The single TTL of least total analytic cost over all groups (ties: the shorter TTL)."""
    total = curves.groupby("ttl_s")["cost_usd_per_hour"].sum()
    return float(total.sort_index()[total == total.min()].index[0])


def analytic_totals(curves: pd.DataFrame, ttl_by_group: dict[str, float]) -> dict:
    """Sum over groups of the analytic curves at the given TTLs: cost, storage, recompute, token hit
    ratio among reusable tokens."""
    parts = [curves[(curves.group == g) & (curves.ttl_s == t)] for g, t in ttl_by_group.items()]
    chosen = pd.concat(parts)
    reusable = chosen["reusable_tokens"].sum()
    return {"cost_usd_per_hour": float(chosen["cost_usd_per_hour"].sum()),
            "storage_usd_per_hour": float(chosen["storage_usd_per_hour"].sum()),
            "recompute_usd_per_hour": float(chosen["recompute_usd_per_hour"].sum()),
            "reuse_hit_ratio": float(chosen["hit_tokens"].sum() / reusable) if reusable else math.nan}


@dataclass(frozen=True)
class TtlChoice:
    """The compared TTL policies and what the simulator says of each.

    Attributes
    ----------
    policies : dict[str, dict[str, float]]
        ``"no TTL"``, ``"best uniform TTL"``, ``"TTL per group"``: TTL of every group, seconds.
    table : pandas.DataFrame
        One row per policy: analytic and simulated cost and hit ratio.
    chosen : str
        Name of the policy with the least simulated cost (``"TTL per group"`` unless the simulator
        disagrees with the analytic model; the best uniform TTL is kept if it simulates cheaper).
    """

    policies: dict
    table: pd.DataFrame
    chosen: str


def tune_ttl(trace, prices: TtlPrices, simulate: Callable[[dict[str, float]], dict] | None = None, *,
             candidates: Sequence[float] = DEFAULT_TTL_CANDIDATES_S,
             cost_key: str = "cost_usd_per_hour", max_passes: int = 2) -> TtlChoice:
    """Choose a TTL per group and compare it with the best uniform TTL and with no TTL.

    Parameters
    ----------
    trace : model.workload.Trace with its groups set (``block_group``/``group_names``).
    prices : the storage and recompute prices.
    simulate : optional ``simulate(ttl_by_group) -> dict`` replaying the trace with those TTLs (e.g. with
        :mod:`model.tiering`) and returning at least ``cost_key`` (and ideally ``hit_ratio``). The best
        uniform TTL is then chosen by simulation over ``candidates``, and the final choice is the policy
        with the least simulated cost, so the tuned policy is never worse than the best uniform TTL on the
        simulator's own objective. The TTL per group is then tuned on the simulator too (capacity
        evictions included): coordinate descent, one group at a time over ``candidates``, from the best
        uniform TTL, for at most ``max_passes`` passes; so it never simulates costlier than the best
        uniform TTL. When the analytic per-group optimum differs, it is reported as
        ``"TTL per group (analytic)"`` with its simulated cost. Every row keeps the analytic cost, and
        ``analytic_error_usd_per_hour`` = analytic − simulated cost shows the analytic model's error.
    candidates : TTLs tried, seconds (inf allowed).
    max_passes : passes of the coordinate descent (each costs groups × candidates simulations).

    Returns
    -------
    TtlChoice
    """
    profile = reuse_profile(trace)
    curves = group_cost_curves(profile, prices, candidates)
    groups = list(profile.group_names)
    per_group = best_ttl_per_group(curves)
    uniform_analytic = best_uniform_ttl(curves)
    policies = {"no TTL": {g: math.inf for g in groups}}
    sims: dict[str, dict] = {}
    if simulate is not None:
        uniform_sims = {t: dict(simulate({g: t for g in groups})) for t in sorted(set(curves.ttl_s))}
        best_t = min(uniform_sims, key=lambda t: (uniform_sims[t][cost_key], t))
        policies["best uniform TTL"] = {g: best_t for g in groups}
        sims["no TTL"] = uniform_sims.get(math.inf) or dict(simulate(policies["no TTL"]))
        sims["best uniform TTL"] = uniform_sims[best_t]
        per_group_sim, sim = _descend(simulate, groups, sorted(set(curves.ttl_s)), policies["best uniform TTL"],
                                      uniform_sims[best_t], cost_key, max_passes)
        policies["TTL per group"] = per_group_sim
        sims["TTL per group"] = sim
        if per_group_sim != per_group:
            policies["TTL per group (analytic)"] = per_group
            sims["TTL per group (analytic)"] = dict(simulate(per_group))
    else:
        policies["best uniform TTL"] = {g: uniform_analytic for g in groups}
        policies["TTL per group"] = per_group
    rows = []
    for name, ttls in policies.items():
        analytic = analytic_totals(curves, ttls)
        row = {"policy": name, "ttl_s": _describe(ttls),
               "analytic_cost_usd_per_hour": analytic["cost_usd_per_hour"],
               "analytic_reuse_hit_ratio": analytic["reuse_hit_ratio"]}
        if name in sims:
            row.update({f"simulated_{k}": v for k, v in sims[name].items()})
            row["analytic_error_usd_per_hour"] = row["analytic_cost_usd_per_hour"] - sims[name][cost_key]
        rows.append(row)
    table = pd.DataFrame(rows)
    if simulate is not None:
        col = f"simulated_{cost_key}"
        pick = table.sort_values([col], kind="stable")
        # prefer the per-group policy on ties; never pick something costlier than the best uniform TTL
        best_cost = pick[col].min()
        tied = pick[pick[col] <= best_cost]["policy"].tolist()
        chosen = "TTL per group" if "TTL per group" in tied else tied[0]
    else:
        chosen = "TTL per group"
    return TtlChoice(policies=policies, table=table, chosen=chosen)


def _descend(simulate, groups, candidates, start: dict, start_sim: dict, cost_key: str, max_passes: int
             ) -> tuple[dict, dict]:
    """Coordinate descent of the simulated cost over one group's TTL at a time (strict improvements only,
    so the result never simulates costlier than ``start``)."""
    best, best_sim = dict(start), dict(start_sim)
    if len(groups) < 2:
        return best, best_sim
    for _ in range(max_passes):
        improved = False
        for g in groups:
            for t in candidates:
                if t == best[g]:
                    continue
                trial = {**best, g: t}
                sim = dict(simulate(trial))
                if sim[cost_key] < best_sim[cost_key]:
                    best, best_sim, improved = trial, sim, True
        if not improved:
            break
    return best, best_sim


def _describe(ttls: dict[str, float]) -> str:
    values = set(ttls.values())
    if len(values) == 1:
        return _fmt(next(iter(values)))
    return "; ".join(f"{g}: {_fmt(t)}" for g, t in ttls.items())


def _fmt(t: float) -> str:
    return "none" if math.isinf(t) else f"{t:g} s"
