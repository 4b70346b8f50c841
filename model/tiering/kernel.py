"""The cache replay's inner loop, compiled (numba): an HBM → DRAM → SSD hierarchy of LRU (or FIFO) tiers with
demotion, promotion and a TTL per block group, over a trace given as flat arrays.

The semantics are those of :func:`model.tiering.replay_reference` (the plain-Python specification), exactly:

1. at each request, the blocks that are no longer reusable under their TTL (:func:`model.ttl.reused_within_ttl`,
   the one boundary rule: a reuse exactly TTL after the last access misses) are freed, group by group (in
   group order), each group's in order of last access, and the resident-block integral advances by (size of
   each tier) × (time since the last request) less, for each freed block, the time from its expiry instant
   (last access + TTL) to this arrival: the integral is exact under a TTL;
2. lookup: the request's blocks are looked up in order, each served by the tier holding it, stopping at the
   first block no tier holds (prefix semantics);
3. access: every block of the request is then accessed in order. A block in the top tier moves to its MRU end
   (LRU) or stays (FIFO); a block in a lower tier is promoted to the top (LRU) or stays where it is (FIFO); a
   block in no tier is inserted at the top. An insertion that overfills a tier demotes that tier's LRU (or
   oldest) block to the next tier, cascading; the last tier drops it. A tier of capacity 0 passes blocks
   straight through;
4. a block accessed with a finite TTL expires at (access time + TTL); a TTL of 0 frees it at once (no reuse).

Data structures (each lookup and access is O(1), and the replay is bound by memory latency, so the state a
lookup touches is kept to one 16-byte row of ``st`` per block, four blocks to a cache line):

* **one recency list for all tiers.** Under LRU with promotion to the top, the blocks of the whole hierarchy
  are in one order of last access in which every tier is a contiguous run (tier 0 the newest, the last tier
  the oldest): a block demoted from tier j is older than every block left in j and newer than every block
  already in j + 1. Under FIFO the same holds in order of insertion (no block ever moves up). So one
  doubly-linked list plus, per tier, its oldest block (``bnd``) and size describe the hierarchy: a demotion
  relabels one block and moves one boundary (no list operation); only an insertion at the top, an LRU hit,
  a drop from the bottom or an expiry touches the list.
* **one queue per TTL group, in order of last access.** Every access of a block in a group of finite TTL
  appends (block, time) to the group's queue, and the block's row keeps the index of its entry; a newer
  access, a drop or a free clears the older entry in place (one store, no list unlinking). The entries still
  set are the group's resident blocks in order of last access, the order the reference expires them in, so
  the expiry scan pops from the front. The queues of a replay hold one entry per lookup of their group; those
  of a streamed replay (:mod:`model.tiering.stream`) are rings, compacted when full.

The steps are small functions shared by :func:`replay_arrays` and the streamed replay's
:func:`model.tiering.stream._replay_chunk`, compiled with ``_nrt=False`` (numba's reference counting off: they
take arrays but never allocate one). Called so, passing the state's arrays costs nothing; inlined
(``inline="always"``) or with reference counting on, every call made an atomic increment and decrement of
each array's count, which took most of the replay's time (the bench's Mooncake replay, measured: 21 ms
without a TTL and 58 ms with a 600 s one, against 3.8 and 6.3 ms so).

numba's on-disk cache (``cache=True``) checks only the file of the function it compiled, while a caller's
cached code holds the steps it calls: after editing this module (or :func:`model.ttl.reused_within_ttl`),
delete ``model/tiering/__pycache__/*.nb?`` so that the streamed replay is compiled again too.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from model.ttl import reused_within_ttl
from model.checks import ParameterError

NONE = -1
_reused = njit(cache=True, inline="always")(reused_within_ttl)
#: How the replay's steps are compiled (see the module's docstring).
_step = njit(cache=True, _nrt=False)

#: Columns of the per-block state ``st`` (int32): recency-list neighbours (PREV older, NEXT newer), tier (or
#: NONE), index of the block's entry in the TTL queues (or NONE).
PREV, NEXT, TIER, QPOS = 0, 1, 2, 3
#: The recency list's ends, ``ends`` (int64): oldest block, newest block.
HEAD, TAIL = 0, 1
#: Columns of the queue control ``qctl`` (int64, a row per group): first storage index of the group's ring,
#: its length (0 for a group with no queue), offset of its oldest entry in the ring, entries held (cleared
#: ones included).
Q_BASE, Q_CAP, Q_FIRST, Q_LEN = 0, 1, 2, 3

#: Capacity standing for ``inf`` in the integer capacities of the kernel.
BIG = np.int64(1) << np.int64(62)


@_step
def _unlink(st, b, ends):
    p, n = st[b, PREV], st[b, NEXT]
    if p != NONE:
        st[p, NEXT] = n
    else:
        ends[HEAD] = n
    if n != NONE:
        st[n, PREV] = p
    else:
        ends[TAIL] = p


@_step
def _append(st, b, ends):
    t = ends[TAIL]
    st[b, PREV] = t
    st[b, NEXT] = NONE
    if t != NONE:
        st[t, NEXT] = b
    else:
        ends[HEAD] = b
    ends[TAIL] = b


@_step
def _leave(st, b, k, bnd, size, ends):
    """Block b leaves tier k and the recency list (its TTL entry is the caller's business)."""
    if bnd[k] == b:
        bnd[k] = st[b, NEXT] if size[k] > 1 else NONE
    size[k] -= 1
    _unlink(st, b, ends)
    st[b, TIER] = NONE


@_step
def _clear_entry(st, b, qslot):
    """Clear block b's entry in the TTL queues, if it has one."""
    q = st[b, QPOS]
    if q != NONE:
        qslot[q] = NONE
        st[b, QPOS] = NONE


def capacities_as_int(capacities):
    """Tier capacities (float, ``inf`` allowed) as int64 with ``inf`` → :data:`BIG` (``size > cap`` is the
    same test on a whole number of blocks)."""
    return np.array([BIG if not np.isfinite(c) else int(c) for c in capacities], dtype=np.int64)


@_step
def _advance(occupied, size, dt):
    """The resident-block integral over dt seconds at the current sizes."""
    if dt > 0:
        for k in range(len(size)):
            occupied[k] += size[k] * dt


@_step
def _pop_expired(t, g, ttl_g, st, bnd, size, ends, qslot, qtime, qctl, occupied):
    """Free the least recently accessed block of group g if it is no longer reusable at t, and return it
    (NONE if there is none): the integral gives back the time from its expiry instant to t."""
    base, n, first, left = qctl[g, Q_BASE], qctl[g, Q_CAP], qctl[g, Q_FIRST], qctl[g, Q_LEN]
    out = NONE
    while left > 0:
        q = base + first
        b = qslot[q]
        if b != NONE and _reused(t - qtime[q], ttl_g):
            break
        first += 1                                    # consume the entry (a cleared one is skipped)
        if first == n:
            first = 0
        left -= 1
        if b != NONE:
            last = qtime[q]
            k = st[b, TIER]
            gone = t - (last + ttl_g)                 # resident for none of this time: take it back
            if gone > 0:
                occupied[k] -= gone
            qslot[q] = NONE
            st[b, QPOS] = NONE
            _leave(st, b, k, bnd, size, ends)
            out = b
            break
    qctl[g, Q_FIRST], qctl[g, Q_LEN] = first, left
    return out


@_step
def _compact(g, st, qslot, qtime, qctl):
    """Squeeze the cleared entries out of group g's ring (the others kept in order), re-pointing the blocks'
    rows at their entries."""
    base, n, first = qctl[g, Q_BASE], qctl[g, Q_CAP], qctl[g, Q_FIRST]
    w = 0
    for r in range(qctl[g, Q_LEN]):
        src = first + r
        if src >= n:
            src -= n
        b = qslot[base + src]
        if b != NONE:
            dst = first + w
            if dst >= n:
                dst -= n
            qslot[base + src] = NONE
            qslot[base + dst] = b
            qtime[base + dst] = qtime[base + src]
            st[b, QPOS] = base + dst
            w += 1
    qctl[g, Q_LEN] = w


@_step
def _make_room(g, st, qslot, qtime, qctl):
    """Compact group g's ring if it is full (kept out of :func:`_push`: the call alone, never taken, slowed
    the replay's TTL path by a third)."""
    if qctl[g, Q_LEN] == qctl[g, Q_CAP] > 0:
        _compact(g, st, qslot, qtime, qctl)


@_step
def _push(g, b, t, st, qslot, qtime, qctl):
    """Append (b, t) to group g's queue, which has room (a replay's queues are never full; a streamed replay
    calls :func:`_make_room` first), and point b's row at the entry."""
    n = qctl[g, Q_CAP]
    off = qctl[g, Q_FIRST] + qctl[g, Q_LEN]
    if off >= n:
        off -= n
    q = qctl[g, Q_BASE] + off
    qctl[g, Q_LEN] += 1
    qslot[q] = b
    qtime[q] = t
    st[b, QPOS] = q


@_step
def _access(st, b, lru, cap, bnd, size, ends, demotions, qslot):
    """Access block b (resident or not, see the module's rule 3); returns the block dropped from the last
    tier, or NONE. The dropped block's row and TTL entry are cleared; b's TTL entry is left to the caller."""
    k = st[b, TIER]
    if k >= 0 and not lru:                            # FIFO: a hit moves nothing
        return NONE
    if k == 0:                                        # to the newest end (tier 0 stays tier 0)
        if ends[TAIL] != b:
            if bnd[0] == b:
                bnd[0] = st[b, NEXT]
            _unlink(st, b, ends)
            _append(st, b, ends)
        return NONE
    if k > 0:                                         # promoted from tier k
        if bnd[k] == b:
            bnd[k] = st[b, NEXT] if size[k] > 1 else NONE
        size[k] -= 1
        _unlink(st, b, ends)
    _append(st, b, ends)
    st[b, TIER] = 0
    size[0] += 1
    if bnd[0] == NONE:
        bnd[0] = b
    n_tiers = len(cap)
    j = 0
    while size[j] > cap[j]:                           # demote tier j's oldest block
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
            _unlink(st, v, ends)
            st[v, TIER] = NONE
            _clear_entry(st, v, qslot)
            return v
    return NONE


@_step
def _after_access(b, ttl, t, g, st, bnd, size, ends, qslot, qtime, qctl):
    """Rule 4 for block b just accessed in group g (TTL ``ttl``) at t: True if it was freed at once."""
    if st[b, TIER] < 0:                               # passed straight through every tier
        return False
    _clear_entry(st, b, qslot)
    if ttl <= 0:
        _leave(st, b, st[b, TIER], bnd, size, ends)
        return True
    if ttl < np.inf:
        _push(g, b, t, st, qslot, qtime, qctl)
    return False


def queue_control(lengths):
    """Control array ``qctl`` of TTL queues with the given ring lengths per group (entries), laid end to end,
    and their total length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    qctl = np.zeros((len(lengths), 4), np.int64)
    qctl[:, Q_CAP] = lengths
    qctl[1:, Q_BASE] = np.cumsum(lengths)[:-1]
    return qctl, int(lengths.sum())


@njit(cache=True)
def _replay(ids, offsets, arrival, groups, ttl_by_group, cap, lru, n_unique, qslot, qtime, qctl):
    """:func:`replay_arrays` on integer capacities (:func:`capacities_as_int`) and empty TTL queues."""
    n_req = len(offsets) - 1
    n_tiers = len(cap)
    st = np.full((n_unique, 4), NONE, np.int32)
    ends = np.full(2, NONE, np.int64)
    bnd = np.full(n_tiers, NONE, np.int64)     # oldest block of each tier
    size = np.zeros(n_tiers, np.int64)
    served = np.full(len(ids), -1, np.int8)
    demotions = np.zeros(n_tiers, np.int64)
    occupied = np.zeros(n_tiers, np.float64)
    expirations = 0
    finite = np.nonzero(ttl_by_group < np.inf)[0]
    use_ttl = len(finite) > 0
    if n_req == 0:
        return served, occupied, demotions, expirations
    t_prev = arrival[0]
    for i in range(n_req):
        t = arrival[i]
        _advance(occupied, size, t - t_prev)
        t_prev = t
        for g in finite:                              # 1. expiry
            while _pop_expired(t, g, ttl_by_group[g], st, bnd, size, ends, qslot, qtime, qctl, occupied) != NONE:
                expirations += 1
        s, e = offsets[i], offsets[i + 1]
        for pos in range(s, e):                       # 2. lookup: the longest cached prefix
            k = st[ids[pos], TIER]
            if k < 0:
                break
            served[pos] = k
        for pos in range(s, e):                       # 3. access every block in order, 4. its TTL
            b = ids[pos]
            _access(st, b, lru, cap, bnd, size, ends, demotions, qslot)
            if use_ttl:
                g = groups[pos]
                if _after_access(b, ttl_by_group[g], t, g, st, bnd, size, ends, qslot, qtime, qctl):
                    expirations += 1
    return served, occupied, demotions, expirations


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
    ttl_by_group = np.ascontiguousarray(ttl_by_group, dtype=np.float64)
    queued = (ttl_by_group > 0) & (ttl_by_group < np.inf)
    lookups = np.bincount(groups, minlength=len(ttl_by_group)) if queued.any() else 0
    qctl, total = queue_control(np.where(queued, lookups, 0))      # an entry a lookup: a queue never fills
    if total > np.iinfo(np.int32).max:
        raise ParameterError("ids", f"{total:,} lookups with a finite TTL",
                             f"at most {np.iinfo(np.int32).max:,} (the block state's int32 indexes)")
    qslot = np.empty(total, np.int32)                  # an entry is read only once written
    qtime = np.empty(total, np.float64)
    return _replay(ids, offsets, arrival, groups, ttl_by_group, capacities_as_int(capacities), bool(lru),
                   n_unique, qslot, qtime, qctl)


@njit(cache=True)
def tokens_by_tier(served, offsets, tokens, n_tiers):
    """Prompt tokens each tier served, per request (int64, requests × tiers), from the serving tier of each
    block lookup (``served``, −1 = recomputed) and its tokens (``tokens``, int64)."""
    out = np.zeros((len(offsets) - 1, n_tiers), np.int64)
    for i in range(len(offsets) - 1):
        for pos in range(offsets[i], offsets[i + 1]):
            k = served[pos]
            if k >= 0:
                out[i, k] += tokens[pos]
    return out
