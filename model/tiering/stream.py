"""A cache replay whose memory is bounded by the caches, not by the trace: the LRU hierarchy of
:func:`model.tiering.replay` (same semantics: prefix lookup, promotion, demotion, TTL per group), fed one
chunk of requests at a time and keeping state only for resident blocks.

Resident blocks live in slots (sum of the tier capacities + 1); an open-addressing hash table (linear probing,
backward-shift deletion) maps a block id to its slot, and a slot is freed when its block drops out of the last
tier or expires. Per request it returns the tokens served by each tier; nothing per lookup is kept. So a node
can replay a stream of millions of sessions in the memory of its caches (``model.workload.iter_character_chat``
streams the trace), and the fleet at the case study's scale fits on one machine.

The steps (expiry, access with promotion and demotion, TTL) are those of :mod:`model.tiering.kernel`, the same
compiled functions on slots instead of dense block ids; the TTL queues are rings of twice the slots per group
with a finite TTL, compacted when full. The tests check this replay against :func:`model.tiering.replay`
request for request, with the trace cut into chunks.
"""

from __future__ import annotations

import math
import numpy as np
from numba import njit

from model.tiering.config import TierConfig
from model.tiering.kernel import (NONE, TIER, _access, _advance, _after_access, _make_room, _pop_expired,
                                  _step, queue_control)
from model.checks import ParameterError

EMPTY = np.int64(-1)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
# scalar state, one int64 array: free-stack top, expirations, requests seen, table bits
S_FREE, S_EXPIRED, S_SEEN, S_BITS = 0, 1, 2, 3


@_step
def _home(key, bits):
    return np.int64((np.uint64(key) * _GOLDEN) >> np.uint64(64 - bits))


@_step
def _find(keys, key, bits):
    mask = (np.int64(1) << bits) - 1
    i = _home(key, bits)
    while True:
        k = keys[i]
        if k == key:
            return i
        if k == EMPTY:
            return -1
        i = (i + 1) & mask


@_step
def _insert(keys, vals, key, slot, bits):
    mask = (np.int64(1) << bits) - 1
    i = _home(key, bits)
    while keys[i] != EMPTY:
        i = (i + 1) & mask
    keys[i] = key
    vals[i] = slot


@_step
def _delete(keys, vals, i, bits):
    """Remove entry i, shifting back the entries of its probe run (no tombstones)."""
    mask = (np.int64(1) << bits) - 1
    j = i
    while True:
        j = (j + 1) & mask
        if keys[j] == EMPTY:
            break
        h = _home(keys[j], bits)
        if (i <= j and i < h <= j) or (i > j and (h > i or h <= j)):
            continue
        keys[i] = keys[j]
        vals[i] = vals[j]
        i = j
    keys[i] = EMPTY


@_step
def _free(b, keys, vals, slot_key, free, scal):
    """Return slot b (already out of the tiers and the TTL queues) to the free stack and its key to the table."""
    bits = scal[S_BITS]
    _delete(keys, vals, _find(keys, slot_key[b], bits), bits)
    free[scal[S_FREE]] = b
    scal[S_FREE] += 1


@njit(cache=True)
def _replay_chunk(ids, offsets, arrival, groups, tokens, ttl_by_group, cap, st, bnd, size, ends, qslot, qtime, qctl,
                  keys, vals, slot_key, free, scal, t_prev, occupied, demotions, tokens_by_tier, hits_by_tier):
    n_req = len(offsets) - 1
    finite = np.nonzero(ttl_by_group < np.inf)[0]
    use_ttl = len(finite) > 0
    bits = scal[S_BITS]
    for i in range(n_req):
        t = arrival[i]
        if scal[S_SEEN] == 0:
            t_prev[0] = t
        scal[S_SEEN] += 1
        _advance(occupied, size, t - t_prev[0])
        t_prev[0] = t
        for g in finite:                              # 1. expiry
            while True:
                b = _pop_expired(t, g, ttl_by_group[g], st, bnd, size, ends, qslot, qtime, qctl, occupied)
                if b == NONE:
                    break
                _free(b, keys, vals, slot_key, free, scal)
                scal[S_EXPIRED] += 1
        s, e = offsets[i], offsets[i + 1]
        for pos in range(s, e):                       # 2. lookup: the longest cached prefix
            h = _find(keys, ids[pos], bits)
            if h < 0:
                break
            k = st[vals[h], TIER]
            tokens_by_tier[i, k] += tokens[pos]
            hits_by_tier[k] += 1
        for pos in range(s, e):                       # 3. access every block in order, 4. its TTL
            key = ids[pos]
            h = _find(keys, key, bits)
            if h >= 0:
                b = vals[h]
            else:                                     # a slot for a block in no tier
                scal[S_FREE] -= 1
                b = free[scal[S_FREE]]
                _insert(keys, vals, key, b, bits)
                slot_key[b] = key
            v = _access(st, b, True, cap, bnd, size, ends, demotions, qslot)
            if v != NONE:
                _free(v, keys, vals, slot_key, free, scal)
            if use_ttl:
                g = groups[pos]
                _make_room(g, st, qslot, qtime, qctl)
                if _after_access(b, ttl_by_group[g], t, g, st, bnd, size, ends, qslot, qtime, qctl):
                    _free(b, keys, vals, slot_key, free, scal)
                    scal[S_EXPIRED] += 1


class StreamReplay:
    """The replay of :func:`model.tiering.replay` (LRU), one chunk of requests at a time, in memory bounded
    by the tiers' capacities.

    Parameters
    ----------
    config : TierConfig
        Finite capacities, LRU eviction (TTLs per group allowed).
    group_names : tuple of str
        Groups of the stream's chunks (their ``block_group`` indexes it).

    Use :meth:`feed` on each chunk (a :class:`model.workload.Trace`, in arrival order, chunks one after the
    other); the counters (``hits_by_tier``, ``demotions``, ``occupied_block_seconds``, ``expirations``,
    ``lookups``) accumulate. Memory, whatever the stream's length: 52 to 76 bytes a block of capacity (the
    slot's state, 28 bytes, and the hash table, at most half full), plus 24 a block for each group with a finite
    TTL (its ring of twice the slots, 12 bytes an entry).
    """

    def __init__(self, config: TierConfig, group_names: tuple):
        if config.eviction != "lru":
            raise ParameterError("eviction", config.eviction, "'lru' for a streamed replay")
        caps = config.capacities
        if not all(math.isfinite(c) for c in caps):
            raise ParameterError("capacity_blocks", caps, "finite capacities for a streamed replay")
        self.config = config
        self.group_names = tuple(group_names)
        self.ttls = np.array([config.ttl_for(g) for g in self.group_names], dtype=np.float64)
        n_slots = int(sum(caps)) + 1
        bits = max(4, int(2 * n_slots - 1).bit_length())          # table at most half full
        n_tiers = len(caps)
        self.cap = np.array(caps, dtype=np.int64)
        self.st = np.full((n_slots, 4), NONE, np.int32)
        self.bnd = np.full(n_tiers, NONE, np.int64)
        self.size = np.zeros(n_tiers, np.int64)
        self.ends = np.full(2, NONE, np.int64)
        ring = np.where((self.ttls > 0) & (self.ttls < math.inf), 2 * n_slots, 0)   # a group's live entries ≤ slots
        self.qctl, n_entries = queue_control(ring)
        self.qslot = np.full(n_entries, NONE, np.int32)
        self.qtime = np.zeros(n_entries, np.float64)
        self.keys = np.full(1 << bits, EMPTY, np.int64)
        self.vals = np.zeros(1 << bits, np.int32)
        self.slot_key = np.full(n_slots, EMPTY, np.int64)
        self.free = np.arange(n_slots - 1, -1, -1, dtype=np.int32)
        self.scal = np.array([n_slots, 0, 0, bits], dtype=np.int64)
        self.t_prev = np.zeros(1, np.float64)
        self.occupied_block_seconds = np.zeros(n_tiers, np.float64)
        self.demotions = np.zeros(n_tiers, np.int64)
        self.hits_by_tier = np.zeros(n_tiers, np.int64)
        self.lookups = 0
        self.first_arrival_s = math.nan
        self.last_arrival_s = math.nan

    @property
    def expirations(self) -> int:
        return int(self.scal[S_EXPIRED])

    def feed(self, trace) -> np.ndarray:
        """Replay the requests of ``trace`` (after those fed before); returns tokens served per request and
        tier (int64, requests × tiers)."""
        if trace.block_tokens != self.config.block_tokens:
            raise ParameterError("config.block_tokens", self.config.block_tokens,
                                 f"equal to the trace's block_tokens ({trace.block_tokens})")
        if tuple(trace.group_names) != self.group_names:
            raise ParameterError("trace.group_names", trace.group_names, f"the stream's groups {self.group_names}")
        out = np.zeros((trace.n_requests, len(self.cap)), np.int64)
        if trace.n_requests == 0:
            return out
        if self.lookups and trace.arrival_s[0] < self.last_arrival_s:
            raise ParameterError("trace", trace.name, "chunks in arrival order")
        _replay_chunk(np.ascontiguousarray(trace.block_ids, dtype=np.int64),
                      np.ascontiguousarray(trace.block_offsets, dtype=np.int64),
                      np.ascontiguousarray(trace.arrival_s, dtype=np.float64),
                      np.ascontiguousarray(trace.block_group, dtype=np.int32),
                      np.ascontiguousarray(trace.block_token_counts(), dtype=np.int64), self.ttls, self.cap,
                      self.st, self.bnd, self.size, self.ends, self.qslot, self.qtime, self.qctl, self.keys,
                      self.vals, self.slot_key, self.free, self.scal, self.t_prev, self.occupied_block_seconds,
                      self.demotions, out, self.hits_by_tier)
        if self.lookups == 0:
            self.first_arrival_s = float(trace.arrival_s[0])
        self.lookups += trace.n_blocks
        self.last_arrival_s = float(trace.arrival_s[-1])
        return out

    def mean_occupied_blocks(self) -> np.ndarray:
        span = self.last_arrival_s - self.first_arrival_s
        return self.occupied_block_seconds / span if span > 0 else np.full(len(self.cap), np.nan)

    def state_bytes(self) -> int:
        """Bytes of the replay's state (bounded by the capacities)."""
        return int(sum(a.nbytes for a in (self.st, self.qslot, self.qtime, self.keys, self.vals, self.slot_key,
                                          self.free)))
