"""LRU stack distances (Mattson's algorithm, vectorised): the hit ratio of every LRU capacity in one pass,
the ideal hit ratio, and the per-tier replay of an LRU hierarchy without TTL from the same pass."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.tiering.config import TierConfig
from model.tiering.replay import ReplayResult, _check_trace, _dense_ids, _tokens_from_served
from model.checks import ParameterError, check_choice
from model.workload import Trace

#: Stack distance of a first access (a cold miss at every capacity).
INFINITE_DISTANCE = np.iinfo(np.int64).max


def stack_distances(trace: Trace, *, at: str = "lookup") -> np.ndarray:
    """LRU stack distance of every block lookup (Mattson et al., IBM Syst. J. 1970, vectorised).

    Parameters
    ----------
    at : {"lookup", "access"}
        ``"lookup"`` (default): the block's depth in the LRU stack when its request is looked up, i.e. the
        number of distinct other blocks accessed between the block's previous access and the start of the
        request; the request's prefix lookup happens before its own accesses, so this decides where the
        block is found (tier k holds depths [C0+…+C(k−1), C0+…+Ck)). ``"access"``: the classic distance at
        the access itself (counting the request's own earlier blocks).

    Returns
    -------
    numpy.ndarray
        int64 per lookup; :data:`INFINITE_DISTANCE` for a first access (a cold miss at every capacity).

    Notes
    -----
    With p the previous access of the block and e the end of the window (the request's start, or the
    access itself), distance = (e − p − 1) − #{q < e : prev(q) > p}: the window's accesses minus its
    repeats. The count is done for all lookups at once on the binary decomposition of [0, e) (a merge-sort
    tree: one sort and one ``searchsorted`` per level), O(n log² n) in NumPy.
    """
    check_choice("at", at, ("lookup", "access"))
    dense, _ = _dense_ids(trace)
    if at == "access":
        end = np.arange(len(dense), dtype=np.int64)
    else:
        end = np.repeat(trace.block_offsets[:-1], trace.blocks_per_request())
    return _window_distinct(dense, end)


def _window_distinct(seq: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For each position t: distinct values in positions (prev(t), end[t]) (prev = previous occurrence of
    seq[t]); INFINITE_DISTANCE where seq[t] has no previous occurrence. Requires prev(t) < end[t] <= t."""
    n = len(seq)
    pos = np.arange(n, dtype=np.int64)
    order = np.lexsort((pos, seq))                 # by value, then time
    prev = np.full(n, -1, dtype=np.int64)
    same = seq[order[1:]] == seq[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    dist = np.full(n, INFINITE_DISTANCE, dtype=np.int64)
    query = np.flatnonzero(prev >= 0)
    if len(query) == 0:
        return dist
    e, p = end[query], prev[query]
    count = np.zeros(len(query), dtype=np.int64)
    width = n + 1
    for level in range(max(1, int(n).bit_length())):
        has = (e >> level) & 1 == 1
        if not has.any():
            continue
        block = (e[has] >> level) - 1              # canonical block [block·2^level, (block+1)·2^level) of [0, e)
        keys = np.sort((pos >> level) * width + (prev + 1))
        lo = np.searchsorted(keys, block * width + (p[has] + 1), side="right")
        hi = np.searchsorted(keys, block * width + width, side="left")
        count[has] += hi - lo
    dist[query] = (e - p - 1) - count
    return dist


def prefix_distances(trace: Trace, distances: np.ndarray | None = None) -> np.ndarray:
    """Running maximum of the lookup stack distances within each request: under prefix semantics the
    lookup at position j of a request is served by an LRU hierarchy of C blocks in total iff this value
    is < C (every block up to j must be cached)."""
    d = stack_distances(trace) if distances is None else distances
    counts = trace.blocks_per_request()
    out = d.copy()
    pos_in = trace.position_of_block()
    step = 1
    max_len = int(counts.max()) if len(counts) else 0
    while step < max_len:                          # Hillis-Steele scan, restricted to each request
        idx = np.flatnonzero(pos_in >= step)
        out[idx] = np.maximum(out[idx], out[idx - step])
        step <<= 1
    return out


def lru_hit_ratio_curve(trace: Trace, capacities: Sequence[float], *, tier_split: Sequence[float] | None = None,
                        distances: np.ndarray | None = None) -> pd.DataFrame:
    """Hit ratio under prefix semantics of a single LRU cache for every capacity in ``capacities`` (blocks),
    from one stack-distance pass (no TTL).

    Returns
    -------
    pandas.DataFrame
        ``capacity_blocks, hit_ratio, token_hit_ratio`` (token_hit_ratio: share of prompt tokens reused).
    """
    d = stack_distances(trace) if distances is None else distances
    m = prefix_distances(trace, d)
    tok = trace.block_token_counts()
    caps = np.asarray(capacities, dtype=float)
    if np.any(caps < 0) or np.any(np.isnan(caps)):
        raise ParameterError("capacities", capacities, "capacities >= 0 (blocks)")
    order = np.argsort(m, kind="stable")
    m_sorted = m[order].astype(float)
    m_sorted[m[order] == INFINITE_DISTANCE] = np.inf
    cum_tok = np.concatenate([[0], np.cumsum(tok[order])])
    k = np.searchsorted(m_sorted, caps, side="left")       # lookups with distance < C
    return pd.DataFrame({"capacity_blocks": caps, "hit_ratio": k / max(len(m), 1),
                         "token_hit_ratio": cum_tok[k] / max(int(trace.input_tokens.sum()), 1)})


def ideal_hit_ratio(trace: Trace) -> float:
    """Hit ratio of an infinite cache under prefix semantics: share of block lookups whose whole prefix up
    to and including the block was seen before (an upper bound for every capacity and policy)."""
    m = prefix_distances(trace)
    return float(np.mean(m != INFINITE_DISTANCE)) if len(m) else math.nan


def capacity_for_hit_share(trace: Trace, share: float, distances: np.ndarray | None = None) -> int:
    """Smallest LRU capacity (blocks, one cache or a hierarchy without TTL in total) whose hit ratio under
    prefix semantics reaches ``share`` × :func:`ideal_hit_ratio` of ``trace``.

    A lookup hits a cache of C blocks iff its prefix distance is < C, so with the finite prefix distances
    sorted, m₍₁₎ ≤ m₍₂₎ ≤ …, and ``target`` = ⌈share × number of finite ones⌉ lookups to serve, the answer
    is m₍target₎ + 1 (0 if nothing needs serving)."""
    if not (0 < share <= 1) or math.isnan(share):
        raise ParameterError("share", share, "a fraction in (0, 1]")
    m = prefix_distances(trace, distances)
    finite = np.sort(m[m != INFINITE_DISTANCE])
    target = math.ceil(share * len(finite) - 1e-9)
    return int(finite[target - 1]) + 1 if target > 0 else 0


def replay_from_stack(trace: Trace, config: TierConfig, distances: np.ndarray | None = None) -> ReplayResult:
    """The :func:`replay` of an LRU hierarchy without TTL computed from stack distances (fast for sweeps):
    the tiers then hold consecutive slices of one LRU stack, so a lookup in the cached prefix is served by
    the tier whose slice contains its stack depth at lookup (:func:`stack_distances`). Occupancy is
    min(distinct blocks seen, capacity) filled top-down.

    ``distances`` are lookup stack distances (``stack_distances(trace)``), to reuse across configurations."""
    _check_trace(trace, config)
    if config.eviction != "lru" or config.has_ttl():
        raise ParameterError("config", "eviction/TTL", "eviction='lru' and no finite TTL for replay_from_stack")
    d = stack_distances(trace) if distances is None else distances
    m = prefix_distances(trace, d)
    caps = np.array(config.capacities, dtype=float)
    bounds = np.cumsum(caps)
    total = bounds[-1]
    mf = np.where(m == INFINITE_DISTANCE, np.inf, m.astype(float))
    df = np.where(d == INFINITE_DISTANCE, np.inf, d.astype(float))
    hit = mf < total
    served = np.where(hit, np.searchsorted(bounds, df, side="right"), -1).astype(np.int8)
    tokens_by_tier, recomputed = _tokens_from_served(trace, served, len(caps))
    # occupancy: distinct blocks seen before each request, filled top-down
    first = d == INFINITE_DISTANCE
    new_per_req = np.bincount(trace.request_of_block()[first], minlength=trace.n_requests)
    seen_after = np.cumsum(new_per_req)
    lower = np.concatenate([[0.0], bounds[:-1]])
    occ = np.clip(seen_after[:, None] - lower[None, :], 0, caps[None, :])   # resident after request i
    dt = np.diff(trace.arrival_s)
    occupied = (occ[:-1] * dt[:, None]).sum(axis=0) if len(dt) else np.zeros(len(caps))
    demotions = np.full(len(caps), -1)  # not tracked by the stack method
    return ReplayResult(tier_names=config.tier_names, served_tier=served, tokens_by_tier=tokens_by_tier,
                        recomputed_tokens=recomputed, occupied_block_seconds=occupied,
                        span_s=trace.duration_s, demotions=demotions, expirations=0)
