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
from model.tiering.stack_distance import replay_from_stack, stack_distances
from model.validation import check_fraction
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
