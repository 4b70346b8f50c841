"""The cache replay's inner loop, compiled (numba): an HBM → DRAM → SSD hierarchy of LRU (or FIFO) lists with
demotion, promotion and a TTL per block group, over a trace given as flat arrays.

Every tier is a doubly-linked list threaded through per-block arrays (a block sits in at most one tier), and
every group with a finite TTL is a second list in order of last access (its front expires first, since one
group has one TTL). Each lookup and access is O(1), so a replay costs a few tens of nanoseconds per block.

The semantics are those of :func:`model.tiering.replay` (which calls this kernel), exactly:

1. at each request, the blocks that are no longer reusable under their TTL (:func:`model.ttl.reused_within_ttl`,
   the one boundary rule: a reuse exactly TTL after the last access misses) are freed, and the resident-block
   integral advances by (size of each tier) × (time since the last request) less, for each freed block, the
   time from its expiry instant (last access + TTL) to this arrival: the integral is exact under a TTL;
2. lookup: the request's blocks are looked up in order, each served by the tier holding it, stopping at the
   first block no tier holds (prefix semantics);
3. access: every block of the request is then accessed in order. A block in the top tier moves to its MRU end
   (LRU) or stays (FIFO); a block in a lower tier is promoted to the top (LRU) or stays where it is (FIFO); a
   block in no tier is inserted at the top. An insertion that overfills a tier demotes that tier's LRU (or
   oldest) block to the next tier, cascading; the last tier drops it. A tier of capacity 0 passes blocks
   straight through;
4. a block accessed with a finite TTL expires at (access time + TTL); a TTL of 0 frees it at once (no reuse).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.ttl import reused_within_ttl

NONE = -1
_reused = njit(cache=True, inline="always")(reused_within_ttl)


#: Columns of the per-block state arrays: ``st`` (int32, 16 bytes a block, so four blocks share a cache line:
#: the replay is bound by memory latency) and ``gst`` (the TTL lists, allocated only when a TTL is finite).
PREV, NEXT, TIER, GROUP = 0, 1, 2, 3
GPREV, GNEXT = 0, 1


@njit(cache=True, inline="always")
def _unlink(st, b, k, head, tail, size, p_col, n_col):
    p, n = st[b, p_col], st[b, n_col]
    if p != NONE:
        st[p, n_col] = n
    else:
        head[k] = n
    if n != NONE:
        st[n, p_col] = p
    else:
        tail[k] = p
    st[b, p_col] = NONE
    st[b, n_col] = NONE
    size[k] -= 1


@njit(cache=True, inline="always")
def _append(st, b, k, head, tail, size, p_col, n_col):
    t = tail[k]
    st[b, p_col] = t
    st[b, n_col] = NONE
    if t != NONE:
        st[t, n_col] = b
    else:
        head[k] = b
    tail[k] = b
    size[k] += 1


#: Capacity standing for ``inf`` in the integer capacities of the LRU kernel.
BIG = np.int64(1) << np.int64(62)


@njit(cache=True)
def _replay_lru(ids, offsets, arrival, groups, ttl_by_group, capacities, n_unique):
    """The LRU case of :func:`replay_arrays`, same results, cheaper demotions.

    An exclusive LRU hierarchy with promotion to the top keeps its blocks in one recency order in which every
    tier is a contiguous run (tier 0 the newest run, the last tier the oldest): a block demoted from tier j
    is older than every block left in j and newer than every block already in j + 1. So one doubly-linked
    list in recency order plus, per tier, its oldest block (``bnd``) and size describe the whole hierarchy:
    a demotion relabels one block and moves one boundary (no list operation), and only a hit or an insertion
    at the top, a drop from the bottom or an expiry touches the list."""
    n_req = len(offsets) - 1
    n_tiers = len(capacities)
    n_groups = len(ttl_by_group)
    cap = np.empty(n_tiers, np.int64)
    for k in range(n_tiers):
        cap[k] = BIG if not np.isfinite(capacities[k]) else np.int64(capacities[k])
    st = np.full((n_unique, 4), NONE, np.int32)
    lh = np.full(1, NONE, np.int64)            # the recency list: head = oldest block, tail = newest
    lt = np.full(1, NONE, np.int64)
    ls = np.zeros(1, np.int64)
    bnd = np.full(n_tiers, NONE, np.int64)     # oldest block of each tier
    size = np.zeros(n_tiers, np.int64)
    ghead = np.full(n_groups, NONE, np.int64)
    gtail = np.full(n_groups, NONE, np.int64)
    gsize = np.zeros(n_groups, np.int64)
    last = np.zeros(n_unique, np.float64)
    served = np.full(len(ids), -1, np.int8)
    demotions = np.zeros(n_tiers, np.int64)
    occupied = np.zeros(n_tiers, np.float64)
    expirations = 0
    n_finite = 0
    for g in range(n_groups):
        if np.isfinite(ttl_by_group[g]):
            n_finite += 1
    finite = np.empty(n_finite, np.int64)
    n_finite = 0
    for g in range(n_groups):
        if np.isfinite(ttl_by_group[g]):
            finite[n_finite] = g
            n_finite += 1
    use_ttl = n_finite > 0
    gst = np.full((n_unique if use_ttl else 0, 2), NONE, np.int32)
    if n_req == 0:
        return served, occupied, demotions, expirations
    t_prev = arrival[0]
    for i in range(n_req):
        t = arrival[i]
        dt = t - t_prev
        if dt > 0:
            for k in range(n_tiers):
                occupied[k] += size[k] * dt
        t_prev = t
        if use_ttl:
            for gi in range(n_finite):
                g = finite[gi]
                ttl_g = ttl_by_group[g]
                while ghead[g] != NONE:
                    b = ghead[g]
                    if _reused(t - last[b], ttl_g):
                        break
                    k = st[b, TIER]
                    gone = t - (last[b] + ttl_g)
                    if gone > 0:
                        occupied[k] -= gone
                    _unlink(gst, b, g, ghead, gtail, gsize, GPREV, GNEXT)
                    if bnd[k] == b:
                        bnd[k] = st[b, NEXT] if size[k] > 1 else NONE
                    size[k] -= 1
                    _unlink(st, b, 0, lh, lt, ls, PREV, NEXT)
                    st[b, TIER] = NONE
                    st[b, GROUP] = NONE
                    expirations += 1
        s, e = offsets[i], offsets[i + 1]
        for pos in range(s, e):                       # 1. lookup: the longest cached prefix
            k = st[ids[pos], TIER]
            if k < 0:
                break
            served[pos] = k
        for pos in range(s, e):                       # 2. access every block in order
            b = ids[pos]
            k = st[b, TIER]
            if k == 0:
                if lt[0] != b:                        # to the newest end (tier 0 stays tier 0)
                    if bnd[0] == b:
                        bnd[0] = st[b, NEXT]
                    _unlink(st, b, 0, lh, lt, ls, PREV, NEXT)
                    _append(st, b, 0, lh, lt, ls, PREV, NEXT)
            else:
                if k > 0:                             # leave tier k
                    if bnd[k] == b:
                        bnd[k] = st[b, NEXT] if size[k] > 1 else NONE
                    size[k] -= 1
                    _unlink(st, b, 0, lh, lt, ls, PREV, NEXT)
                _append(st, b, 0, lh, lt, ls, PREV, NEXT)
                st[b, TIER] = 0
                size[0] += 1
                if bnd[0] == NONE:
                    bnd[0] = b
                j = 0
                while size[j] > cap[j]:               # demote tier j's oldest block
                    v = bnd[j]
                    bnd[j] = st[v, NEXT] if size[j] > 1 else NONE
                    size[j] -= 1
                    demotions[j] += 1
                    if j + 1 < n_tiers:
                        st[v, TIER] = j + 1
                        size[j + 1] += 1
                        if bnd[j + 1] == NONE:
                            bnd[j + 1] = v
                        j += 1
                    else:
                        _unlink(st, v, 0, lh, lt, ls, PREV, NEXT)
                        st[v, TIER] = NONE
                        if use_ttl and st[v, GROUP] >= 0:
                            _unlink(gst, v, st[v, GROUP], ghead, gtail, gsize, GPREV, GNEXT)
                            st[v, GROUP] = NONE
                        break
            if use_ttl and st[b, TIER] >= 0:
                g = groups[pos]
                old = st[b, GROUP]
                if old >= 0:
                    _unlink(gst, b, old, ghead, gtail, gsize, GPREV, GNEXT)
                ttl = ttl_by_group[g]
                if ttl <= 0:
                    k = st[b, TIER]
                    if bnd[k] == b:
                        bnd[k] = st[b, NEXT] if size[k] > 1 else NONE
                    size[k] -= 1
                    _unlink(st, b, 0, lh, lt, ls, PREV, NEXT)
                    st[b, TIER] = NONE
                    st[b, GROUP] = NONE
                    expirations += 1
                elif np.isfinite(ttl):
                    last[b] = t
                    _append(gst, b, g, ghead, gtail, gsize, GPREV, GNEXT)
                    st[b, GROUP] = g
                else:
                    st[b, GROUP] = NONE
    return served, occupied, demotions, expirations


@njit(cache=True)
def replay_arrays(ids, offsets, arrival, groups, ttl_by_group, capacities, lru, n_unique):
    """Replay a trace given as arrays.

    Parameters
    ----------
    ids : int32 or int64 array
        Dense block id (0 … n_unique − 1) of every block lookup, requests concatenated.
    offsets : int64 array
        Request i's lookups are ``ids[offsets[i]:offsets[i + 1]]``.
    arrival : float64 array
        Arrival time of each request, s (non-decreasing).
    groups : int32 or int64 array
        Group index of every block lookup.
    ttl_by_group : float64 array
        TTL of each group, s (``inf``: never expires; ≤ 0: freed at once).
    capacities : float64 array
        Blocks each tier holds, top first (``inf`` allowed; 0 disables a tier).
    lru : bool
        LRU (True) or FIFO (False) eviction.
    n_unique : int
        Number of distinct blocks.

    Returns
    -------
    served : int8 array
        Per lookup the tier that served it, −1 if recomputed.
    occupied : float64 array
        Per tier, the time integral of resident blocks, block·s.
    demotions : int64 array
        Per tier, blocks that left it for the next tier (or were dropped from the last).
    expirations : int
        Blocks freed by TTL.
    """
    if lru:
        return _replay_lru(ids, offsets, arrival, groups, ttl_by_group, capacities, n_unique)
    n_req = len(offsets) - 1
    n_tiers = len(capacities)
    n_groups = len(ttl_by_group)
    st = np.full((n_unique, 4), NONE, np.int32)
    head = np.full(n_tiers, NONE, np.int64)
    tail = np.full(n_tiers, NONE, np.int64)
    size = np.zeros(n_tiers, np.int64)
    ghead = np.full(n_groups, NONE, np.int64)
    gtail = np.full(n_groups, NONE, np.int64)
    gsize = np.zeros(n_groups, np.int64)
    last = np.zeros(n_unique, np.float64)             # time of each block's last access
    served = np.full(len(ids), -1, np.int8)
    demotions = np.zeros(n_tiers, np.int64)
    occupied = np.zeros(n_tiers, np.float64)
    expirations = 0
    use_ttl = False
    for g in range(n_groups):
        if np.isfinite(ttl_by_group[g]):
            use_ttl = True
    gst = np.full((n_unique if use_ttl else 0, 2), NONE, np.int32)
    if n_req == 0:
        return served, occupied, demotions, expirations
    t_prev = arrival[0]
    for i in range(n_req):
        t = arrival[i]
        dt = t - t_prev
        if dt > 0:
            for k in range(n_tiers):
                occupied[k] += size[k] * dt
        t_prev = t
        if use_ttl:
            for g in range(n_groups):
                ttl_g = ttl_by_group[g]
                if not np.isfinite(ttl_g):
                    continue
                while ghead[g] != NONE:
                    b = ghead[g]
                    if _reused(t - last[b], ttl_g):
                        break
                    k = st[b, TIER]
                    gone = t - (last[b] + ttl_g)      # resident for none of this time: take it back
                    if gone > 0:
                        occupied[k] -= gone
                    _unlink(gst, b, g, ghead, gtail, gsize, GPREV, GNEXT)
                    _unlink(st, b, k, head, tail, size, PREV, NEXT)
                    st[b, TIER] = NONE
                    st[b, GROUP] = NONE
                    expirations += 1
        s, e = offsets[i], offsets[i + 1]
        for pos in range(s, e):                       # 1. lookup: the longest cached prefix
            k = st[ids[pos], TIER]
            if k < 0:
                break
            served[pos] = k
        for pos in range(s, e):                       # 2. access every block in order
            b = ids[pos]
            k = st[b, TIER]
            if k == 0:
                if lru:
                    _unlink(st, b, 0, head, tail, size, PREV, NEXT)
                    _append(st, b, 0, head, tail, size, PREV, NEXT)
            elif k > 0 and not lru:
                pass
            else:
                if k > 0:
                    _unlink(st, b, k, head, tail, size, PREV, NEXT)
                _append(st, b, 0, head, tail, size, PREV, NEXT)
                st[b, TIER] = 0
                j = 0
                while size[j] > capacities[j]:
                    v = head[j]
                    _unlink(st, v, j, head, tail, size, PREV, NEXT)
                    demotions[j] += 1
                    if j + 1 < n_tiers:
                        _append(st, v, j + 1, head, tail, size, PREV, NEXT)
                        st[v, TIER] = j + 1
                        j += 1
                    else:
                        st[v, TIER] = NONE
                        if use_ttl and st[v, GROUP] >= 0:
                            _unlink(gst, v, st[v, GROUP], ghead, gtail, gsize, GPREV, GNEXT)
                            st[v, GROUP] = NONE
                        break
            if use_ttl and st[b, TIER] >= 0:
                g = groups[pos]
                old = st[b, GROUP]
                if old >= 0:
                    _unlink(gst, b, old, ghead, gtail, gsize, GPREV, GNEXT)
                ttl = ttl_by_group[g]
                if ttl <= 0:
                    _unlink(st, b, st[b, TIER], head, tail, size, PREV, NEXT)
                    st[b, TIER] = NONE
                    st[b, GROUP] = NONE
                    expirations += 1
                elif np.isfinite(ttl):
                    last[b] = t
                    _append(gst, b, g, ghead, gtail, gsize, GPREV, GNEXT)
                    st[b, GROUP] = g
                else:
                    st[b, GROUP] = NONE
    return served, occupied, demotions, expirations
