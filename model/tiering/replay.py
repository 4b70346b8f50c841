"""Cache replay: which tier serves each block lookup of a trace (prefix semantics, LRU or FIFO eviction
with demotion, TTL per group), tokens per tier and recomputed tokens. See :mod:`model.tiering`."""

from __future__ import annotations

import math
import sys
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from model.tiering.config import TierConfig
from model.ttl import reused_within_ttl
from model.checks import ParameterError
from model.workload import Trace


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """What the cache did with a trace.

    Attributes
    ----------
    tier_names : tuple of str
    served_tier : numpy.ndarray
        Per block lookup: index of the tier that served it, or -1 if recomputed (int8).
    tokens_by_tier : numpy.ndarray
        Per request and tier: prompt tokens served from that tier (int64, shape requests × tiers).
    recomputed_tokens : numpy.ndarray
        Per request: prompt tokens recomputed by prefill (int64).
    occupied_block_seconds : numpy.ndarray
        Per tier: time integral of resident blocks from the first to the last arrival, block·s.
    span_s : float
        First to last arrival, s.
    demotions : numpy.ndarray
        Per tier: blocks that left the tier for the next one (or were dropped from the last).
    expirations : int
        Blocks freed by TTL.
    """

    tier_names: tuple
    served_tier: np.ndarray
    tokens_by_tier: np.ndarray
    recomputed_tokens: np.ndarray
    occupied_block_seconds: np.ndarray
    span_s: float
    demotions: np.ndarray
    expirations: int

    @property
    def n_blocks(self) -> int:
        return len(self.served_tier)

    def hit_ratio(self) -> float:
        """Share of block lookups served from any tier."""
        return float(np.mean(self.served_tier >= 0)) if self.n_blocks else math.nan

    def hit_ratio_by_tier(self) -> np.ndarray:
        """Share of block lookups served from each tier."""
        n = max(self.n_blocks, 1)
        return np.bincount(self.served_tier[self.served_tier >= 0], minlength=len(self.tier_names)) / n

    def mean_occupied_blocks(self) -> np.ndarray:
        """Time-averaged resident blocks per tier (NaN for a zero-length trace)."""
        return self.occupied_block_seconds / self.span_s if self.span_s > 0 else np.full(
            len(self.tier_names), np.nan)


def _check_trace(trace: Trace, config: TierConfig):
    if trace.block_tokens != config.block_tokens:
        raise ParameterError("config.block_tokens", config.block_tokens,
                             f"equal to the trace's block_tokens ({trace.block_tokens})")
    if trace.n_requests == 0:
        raise ParameterError("trace", trace.name, "a trace with at least one request")


_DENSE: "weakref.WeakKeyDictionary[Trace, tuple[np.ndarray, int]]" = weakref.WeakKeyDictionary()


def dense_ids(trace: Trace) -> tuple[np.ndarray, int]:
    """Block ids renumbered 0 … n_unique − 1 in order of first appearance (int32), and n_unique; computed once
    per trace and kept while the trace lives.

    First-seen order puts blocks used close in time at close indices of the replay's per-block state, so
    its memory accesses stay local (the replay is bound by memory latency)."""
    hit = _DENSE.get(trace)
    if hit is not None:
        return hit
    ids = np.asarray(trace.block_ids)
    uniq, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
    rank = np.empty(len(uniq), dtype=np.int32)
    rank[np.argsort(first, kind="stable")] = np.arange(len(uniq), dtype=np.int32)
    out = (rank[inverse.ravel()], len(uniq))
    _DENSE[trace] = out
    return out


_dense_ids = dense_ids


def replay(trace: Trace, config: TierConfig, *, progress: bool = False) -> ReplayResult:
    """Replay ``trace`` through the hierarchy of ``config`` (cache only, no timing), with the compiled kernel
    :func:`model.tiering.kernel.replay_arrays` (tens of millions of block lookups a second).

    Same parameters and result as :func:`replay_reference`, the plain-Python loop it is tested against
    block for block; ``progress`` is accepted for that symmetry and has no effect (a replay of the whole
    Mooncake trace takes well under a second).
    """
    from model.tiering.kernel import replay_arrays, tokens_by_tier as tokens_of

    _check_trace(trace, config)
    dense, n_unique = dense_ids(trace)
    ttls = np.array([config.ttl_for(g) for g in trace.group_names], dtype=float)
    offsets = np.ascontiguousarray(trace.block_offsets, dtype=np.int64)
    served, occupied, demotions, expirations = replay_arrays(
        dense, offsets, np.ascontiguousarray(trace.arrival_s, dtype=np.float64),
        np.ascontiguousarray(trace.block_group, dtype=np.int32), ttls,
        np.array(config.capacities, dtype=np.float64), config.eviction == "lru", n_unique)
    tokens_by_tier = tokens_of(served, offsets, trace.block_token_counts(), len(config.tiers))
    recomputed = trace.input_tokens - tokens_by_tier.sum(axis=1)
    span = float(trace.arrival_s[-1] - trace.arrival_s[0]) if trace.n_requests else 0.0
    return ReplayResult(tier_names=config.tier_names, served_tier=served, tokens_by_tier=tokens_by_tier,
                        recomputed_tokens=recomputed, occupied_block_seconds=occupied, span_s=span,
                        demotions=demotions, expirations=int(expirations))


def replay_reference(trace: Trace, config: TierConfig, *, progress: bool = False) -> ReplayResult:
    """Replay ``trace`` through the hierarchy of ``config`` (cache only, no timing), in plain Python: the
    reference :func:`replay`'s kernel is tested against.

    Parameters
    ----------
    trace : Trace
        Requests in arrival order with their prefix blocks and block groups.
    config : TierConfig
        Tiers, eviction policy and TTLs (engine and prices are not used here).
    progress : bool
        Show a tqdm bar over requests (on an interactive terminal only).

    Returns
    -------
    ReplayResult
        Per block lookup the serving tier (−1 = recomputed); per request tokens per tier and recomputed
        tokens (hit + recomputed = input tokens, exactly).
    """
    _check_trace(trace, config)
    dense, n_unique = _dense_ids(trace)
    n_tiers = len(config.tiers)
    caps = [c if c != math.inf else math.inf for c in config.capacities]
    ttls = np.array([config.ttl_for(g) for g in trace.group_names], dtype=float)
    use_ttl = bool(np.isfinite(ttls).any())
    lru = config.eviction == "lru"

    ids = dense.tolist()
    offsets = trace.block_offsets.tolist()
    arrival = trace.arrival_s.tolist()
    groups = trace.block_group.tolist()
    ttl_list = ttls.tolist()
    served = np.full(trace.n_blocks, -1, dtype=np.int8)
    served_list = [-1] * trace.n_blocks

    tier_of = [-1] * n_unique
    tiers = [OrderedDict() for _ in range(n_tiers)]
    top = tiers[0]
    demotions = [0] * n_tiers
    occupied = [0.0] * n_tiers
    expirations = 0
    # TTL bookkeeping: per group, blocks in order of last access (front = oldest) with that time
    group_of = [-1] * n_unique
    gqueues = [OrderedDict() for _ in trace.group_names]
    finite_groups = [g for g, v in enumerate(ttl_list) if math.isfinite(v)]

    iterator = range(trace.n_requests)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="replay", unit="req", disable=not sys.stderr.isatty())
    t_prev = arrival[0]
    for i in iterator:
        t = arrival[i]
        dt = t - t_prev
        if dt > 0:
            for k in range(n_tiers):
                occupied[k] += len(tiers[k]) * dt
        t_prev = t
        if use_ttl:
            for g in finite_groups:
                q = gqueues[g]
                ttl_g = ttl_list[g]
                while q:
                    b, last = next(iter(q.items()))
                    if reused_within_ttl(t - last, ttl_g):
                        break
                    k = tier_of[b]
                    gone = t - (last + ttl_g)       # the block was resident for none of this time
                    if gone > 0:
                        occupied[k] -= gone
                    del q[b]
                    del tiers[k][b]
                    tier_of[b] = -1
                    group_of[b] = -1
                    expirations += 1
        s, e = offsets[i], offsets[i + 1]
        # 1. lookup: longest cached prefix
        for pos in range(s, e):
            k = tier_of[ids[pos]]
            if k < 0:
                break
            served_list[pos] = k
        # 2. access every block in order
        for pos in range(s, e):
            b = ids[pos]
            k = tier_of[b]
            if k == 0:
                if lru:
                    top.move_to_end(b)
            elif k > 0 and not lru:
                pass
            else:
                if k > 0:
                    del tiers[k][b]
                top[b] = None
                tier_of[b] = 0
                j = 0
                while len(tiers[j]) > caps[j]:
                    v, _ = tiers[j].popitem(last=False)
                    demotions[j] += 1
                    if j + 1 < n_tiers:
                        tiers[j + 1][v] = None
                        tier_of[v] = j + 1
                        j += 1
                    else:
                        tier_of[v] = -1
                        if use_ttl and group_of[v] >= 0:
                            del gqueues[group_of[v]][v]
                            group_of[v] = -1
                        break
            if use_ttl and tier_of[b] >= 0:
                g = groups[pos]
                old = group_of[b]
                if old >= 0:
                    del gqueues[old][b]
                ttl = ttl_list[g]
                if ttl <= 0:
                    # expires at once: free the slot now (a TTL of 0 allows no reuse)
                    del tiers[tier_of[b]][b]
                    tier_of[b] = -1
                    group_of[b] = -1
                    expirations += 1
                elif ttl < math.inf:
                    gqueues[g][b] = t                  # last access
                    group_of[b] = g
                else:
                    group_of[b] = -1
    served[:] = served_list
    tokens_by_tier, recomputed = _tokens_from_served(trace, served, n_tiers)
    return ReplayResult(tier_names=config.tier_names, served_tier=served, tokens_by_tier=tokens_by_tier,
                        recomputed_tokens=recomputed, occupied_block_seconds=np.array(occupied),
                        span_s=float(arrival[-1] - arrival[0]), demotions=np.array(demotions),
                        expirations=expirations)


def _tokens_from_served(trace: Trace, served: np.ndarray, n_tiers: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens per request and tier, and recomputed tokens, from the serving tier of each block lookup."""
    req = trace.request_of_block()
    tok = trace.block_token_counts()
    hit = served >= 0
    flat = np.bincount(req[hit] * n_tiers + served[hit].astype(np.int64), weights=tok[hit],
                       minlength=trace.n_requests * n_tiers)
    tokens_by_tier = np.rint(flat).astype(np.int64).reshape(trace.n_requests, n_tiers)
    recomputed = trace.input_tokens - tokens_by_tier.sum(axis=1)
    return tokens_by_tier, recomputed
