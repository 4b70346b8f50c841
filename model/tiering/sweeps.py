"""Sweeps used by the chapters and searches: a tier's capacity, the capacity of diminishing returns, TTL
settings compared."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from model.parameters import default
from model.tiering.config import TierConfig
from model.tiering.replay import replay
from model.tiering.simulate import simulate
from model.tiering.stack_distance import lru_hit_ratio_curve, replay_from_stack, stack_distances
from model.checks import ParameterError, check_fraction
from model.workload import Trace


def sweep_capacity(trace: Trace, config: TierConfig, tier: str, capacities: Sequence[float], *,
                   distances: np.ndarray | None = None, progress: bool = False) -> pd.DataFrame:
    """:func:`simulate` for each capacity (blocks) of ``tier``, the other tiers as in ``config``; LRU without
    TTL uses one stack-distance pass for all points. One row per capacity (:meth:`TieringResult.as_row`)
    plus ``capacity_gb`` of the swept tier and ``ttft_mean_s``."""
    fast = config.eviction == "lru" and not config.has_ttl()
    d = (stack_distances(trace) if distances is None else distances) if fast else None
    rows = []
    caps = list(capacities)
    iterator = caps
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(caps, desc=f"sweep {tier}", unit="config", disable=not sys.stderr.isatty())
    for c in iterator:
        cfg = config.with_capacities(**{tier: c})
        rep = replay_from_stack(trace, cfg, d) if fast else replay(trace, cfg)
        res = simulate(trace, cfg, replay_result=rep)
        row = res.as_row()
        row["tier"] = tier
        row["capacity_gb"] = float(c) * cfg.block_bytes / 1e9
        row["ttft_mean_s"] = res.ttft_mean_s
        rows.append(row)
    return pd.DataFrame(rows)


def knee(capacity: Sequence[float], value: Sequence[float], *, share: float | None = None) -> float:
    """Capacity of diminishing returns: the smallest capacity that achieves ``share`` (default
    ``tiering_knee_share``) of the whole gain value(max capacity) − value(min capacity) of a non-decreasing
    curve (NaN if the curve gains nothing)."""
    q = default("tiering_knee_share") if share is None else check_fraction("share", share, allow_zero=False)
    c = np.asarray(capacity, dtype=float)
    v = np.asarray(value, dtype=float)
    order = np.argsort(c)
    c, v = c[order], v[order]
    gain = v[-1] - v[0]
    if not gain > 0:
        return math.nan
    return float(c[np.argmax(v - v[0] >= q * gain)])


def ttl_table(trace: Trace, config: TierConfig, settings: Mapping[str, tuple]) -> pd.DataFrame:
    """Replay ``trace`` under several TTL settings and compare them (cost charged on occupied GB-hours).

    Parameters
    ----------
    settings : mapping
        Label → (default TTL s, {group: TTL s}) as accepted by :meth:`TierConfig.with_ttl`.

    Returns
    -------
    pandas.DataFrame
        ``setting, hit_ratio, hit_ratio_<tier>..., mean_occupied_gb, storage_usd_per_hour,
        recomputed_tokens, ttft_p95_s, usd_per_million_tokens, cost_usd_per_hour, expirations``.
    """
    rows = []
    for label, (default_ttl, by_group) in settings.items():
        cfg = replace(config.with_ttl(default_ttl, by_group or {}), cost_basis="occupied")
        res = simulate(trace, cfg)
        row = {"setting": label, "hit_ratio": res.hit_ratio}
        row.update({f"hit_ratio_{k}": v for k, v in res.hit_ratio_by_tier.items()})
        row.update({
            "mean_occupied_gb": float(res.replay.mean_occupied_blocks().sum() * cfg.block_bytes / 1e9),
            "storage_usd_per_hour": sum(res.storage_usd_per_hour.values()),
            "recomputed_tokens": res.recomputed_tokens, "ttft_p95_s": res.ttft_p95_s,
            "cost_usd_per_hour": res.cost_usd_per_hour, "usd_per_million_tokens": res.usd_per_million_tokens,
            "expirations": res.replay.expirations})
        rows.append(row)
    return pd.DataFrame(rows)


def knee_table(sweeps: pd.DataFrame, *, share: float | None = None) -> pd.DataFrame:
    """Per swept tier of ``sweeps`` (:func:`sweep_capacity` rows with ``tier`` and
    ``capacity_gb_per_instance``): the :func:`knee` of the hit ratio and of P95 TTFT (lower is better), GB
    per instance, and the capacity of least cost per million tokens."""
    rows = []
    for t, g in sweeps.groupby("tier", sort=True):
        rows.append({"tier": t,
                     "knee_gb_per_instance_hit_ratio": knee(g["capacity_gb_per_instance"], g["hit_ratio"], share=share),
                     "knee_gb_per_instance_ttft_p95": knee(g["capacity_gb_per_instance"], -g["ttft_p95_s"], share=share),
                     "best_usd_per_million_tokens_at_gb": float(
                         g.loc[g["usd_per_million_tokens"].idxmin(), "capacity_gb_per_instance"])})
    return pd.DataFrame(rows)


def ttl_findings(table: pd.DataFrame, *, per_group: str, no_ttl: str = "no TTL", uniform_prefix: str = "uniform"
                 ) -> dict:
    """What a :func:`ttl_table` says of one per-group setting against no TTL and the uniform TTLs.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`ttl_table` output.
    per_group : str
        Label of the per-group setting to compare.
    no_ttl, uniform_prefix : str
        Label of the no-TTL row; prefix of the uniform-TTL rows' labels.

    Returns
    -------
    dict
        ``hit_ratio``, ``memory_gb`` of the per-group setting and of no TTL (``no_ttl_*``); ``nearest``: the
        uniform setting of closest mean occupied memory, with its ``nearest_hit_ratio`` and
        ``nearest_memory_gb``; ``matching``: the uniform setting of least memory whose hit ratio is at least
        the per-group one (None if none), with ``matching_memory_gb``; ``memory_saved`` = 1 − per-group
        memory ÷ matching memory (NaN if no match); ``storage_usd_per_hour`` of the per-group setting.
    """
    t = table.set_index("setting")
    for label in (per_group, no_ttl):
        if label not in t.index:
            raise ParameterError("setting", label, "one of " + ", ".join(t.index))
    pg, free = t.loc[per_group], t.loc[no_ttl]
    uni = t[[s.startswith(uniform_prefix) for s in t.index]]
    if uni.empty:
        raise ParameterError("uniform_prefix", uniform_prefix, "the prefix of at least one setting")
    nearest = (uni["mean_occupied_gb"] - pg["mean_occupied_gb"]).abs().idxmin()
    ok = uni[uni["hit_ratio"] >= pg["hit_ratio"]]
    matching = ok["mean_occupied_gb"].idxmin() if len(ok) else None
    match_gb = float(ok.loc[matching, "mean_occupied_gb"]) if matching is not None else math.nan
    return {"hit_ratio": float(pg["hit_ratio"]), "memory_gb": float(pg["mean_occupied_gb"]),
            "no_ttl_hit_ratio": float(free["hit_ratio"]), "no_ttl_memory_gb": float(free["mean_occupied_gb"]),
            "nearest": nearest, "nearest_hit_ratio": float(uni.loc[nearest, "hit_ratio"]),
            "nearest_memory_gb": float(uni.loc[nearest, "mean_occupied_gb"]),
            "matching": matching, "matching_memory_gb": match_gb,
            "memory_saved": 1.0 - float(pg["mean_occupied_gb"]) / match_gb if match_gb > 0 else math.nan,
            "storage_usd_per_hour": float(pg["storage_usd_per_hour"])}


def ttl_settings(uniform_ttls_s: Sequence[float], per_group_ttls_s: Sequence[Mapping[str, float]]) -> dict:
    """The settings :func:`ttl_table` compares: no TTL, each uniform TTL, and each per-group setting (groups
    not named never expire), labelled ``"no TTL"``, ``"uniform 30 s"``, ``"per group: history 60 s,
    persona_tail 60 s; others kept"``."""
    if len(uniform_ttls_s) == 0:
        raise ParameterError("uniform_ttls_s", list(uniform_ttls_s), "a non-empty list of TTLs >= 0 s")
    settings = {"no TTL": (math.inf, {})}
    for i, t in enumerate(uniform_ttls_s):
        if not (t == math.inf or t >= 0):
            raise ParameterError(f"uniform_ttls_s[{i}]", t, "a TTL >= 0 s")
        settings[f"uniform {t:g} s"] = (float(t), {})
    for i, groups in enumerate(per_group_ttls_s):
        if not isinstance(groups, Mapping) or not groups:
            raise ParameterError(f"per_group_ttls_s[{i}]", groups, "a non-empty {group: TTL s} mapping")
        for g, t in groups.items():
            if not (t == math.inf or t >= 0):
                raise ParameterError(f"per_group_ttls_s[{i}][{g!r}]", t, "a TTL >= 0 s")
        label = "per group: " + ", ".join(f"{g} {t:g} s" for g, t in groups.items()) + "; others kept"
        settings[label] = (math.inf, {g: float(t) for g, t in groups.items()})
    return settings


def lru_curves(traces: Sequence[Trace], block_gb: float, points_per_curve: int) -> pd.DataFrame:
    """LRU hit ratio (no TTL) against capacity for each trace, from one stack-distance pass per trace.

    Parameters
    ----------
    traces : sequence of Trace
        The traces, in the table's order.
    block_gb : float
        Size of one block of KV cache, GB (1e9 bytes).
    points_per_curve : int
        Capacities tried per trace, geometrically spaced from 1 block to the trace's distinct blocks (at
        least 2), rounded down to whole blocks and deduplicated.

    Returns
    -------
    pandas.DataFrame
        :func:`lru_hit_ratio_curve` rows (``capacity_blocks``, ``hit_ratio``, ``token_hit_ratio``) plus
        ``trace`` (its name) and ``capacity_gb`` (GB), the traces one after the other.
    """
    curves = []
    for trace in traces:
        d = stack_distances(trace)
        caps = np.unique(np.geomspace(1, max(2, len(np.unique(trace.block_ids))), points_per_curve).astype(int))
        c = lru_hit_ratio_curve(trace, caps, distances=d)
        c["trace"] = trace.name
        c["capacity_gb"] = c["capacity_blocks"] * block_gb
        curves.append(c)
    return pd.concat(curves, ignore_index=True)


def capacity_reaching(curve: pd.DataFrame, hit_ratio: float) -> float:
    """The smallest capacity of a curve whose hit ratio reaches ``hit_ratio``.

    Parameters
    ----------
    curve : pandas.DataFrame
        One trace's rows of :func:`lru_curves` (``capacity_gb`` GB, ``hit_ratio`` fraction).
    hit_ratio : float
        The hit ratio to reach (fraction of block lookups).

    Returns
    -------
    float
        GB; 0 when ``hit_ratio`` <= 0 (no cache needed), NaN when no capacity of the curve reaches it.
    """
    if not hit_ratio > 0:
        return 0.0
    return float(curve.loc[curve["hit_ratio"] >= hit_ratio, "capacity_gb"].min())


def shortest_ttl_within(table: pd.DataFrame, hit_ratio: float, *, tolerance: float,
                        uniform_prefix: str = "uniform") -> float:
    """The shortest uniform TTL of a :func:`ttl_table` whose hit ratio is within ``tolerance`` below
    ``hit_ratio``.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`ttl_table` output; uniform settings are labelled ``"<uniform_prefix> <TTL> s"``
        (:func:`ttl_settings`).
    hit_ratio : float
        The reference hit ratio (fraction of block lookups), e.g. that of no TTL.
    tolerance : float
        How far below ``hit_ratio`` still counts (fraction of block lookups).
    uniform_prefix : str
        Prefix of the uniform-TTL rows' labels.

    Returns
    -------
    float
        TTL, s; NaN if no uniform setting keeps within ``tolerance``.
    """
    uniform = table[table["setting"].str.startswith(uniform_prefix)]
    kept = uniform[uniform["hit_ratio"] >= hit_ratio - tolerance]
    return min((float(s.split()[1]) for s in kept["setting"]), default=math.nan)
