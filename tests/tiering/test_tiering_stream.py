"""model.tiering.stream: the replay in memory bounded by the caches, fed in chunks, against
model.tiering.replay request for request (random traces, hierarchies with zero-capacity tiers, TTLs per group)."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.tiering import Tier, TierConfig, replay
from model.tiering.stream import StreamReplay
from model.checks import ParameterError
from model.workload import CharacterChatParams, character_chat_trace
from model.workload.trace import _take
from tiering_refs import random_trace


def _chunks(trace, n_chunks, seed):
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, trace.n_requests), size=n_chunks - 1, replace=False))
    bounds = np.concatenate([[0], cuts, [trace.n_requests]])
    return [_take(trace, np.arange(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


def _check(trace, config, n_chunks=5, seed=0):
    ref = replay(trace, config)
    sr = StreamReplay(config, trace.group_names)
    got = np.concatenate([sr.feed(c) for c in _chunks(trace, n_chunks, seed)])
    assert_array_equal(got, ref.tokens_by_tier)
    assert_array_equal(sr.hits_by_tier, np.bincount(ref.served_tier[ref.served_tier >= 0],
                                                    minlength=len(config.tiers)))
    assert_array_equal(sr.demotions, ref.demotions)
    assert sr.expirations == ref.expirations
    assert_allclose(sr.occupied_block_seconds, ref.occupied_block_seconds, rtol=1e-12, atol=1e-9)
    assert sr.lookups == trace.n_blocks


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("caps", [(5,), (0, 7), (3, 0, 11), (2, 9, 30), (1, 1, 1)])
@pytest.mark.parametrize("ttl", [math.inf, 0.0, 1.0, 300.0])
def test_stream_equals_replay_on_random_traces(engine, seed, caps, ttl):
    t = random_trace(seed, n_requests=250)
    tiers = tuple(Tier(f"t{i}", c, 1e12, 1e12, 0.0) for i, c in enumerate(caps))
    _check(t, TierConfig(tiers=tiers, engine=engine, default_ttl_s=ttl), seed=seed)


def test_stream_equals_replay_on_chat_with_a_ttl_per_group(engine):
    chat = character_chat_trace(CharacterChatParams(concurrent_sessions=40), seed=3, max_sessions=40)
    tiers = (Tier("hbm", 300, 2e12, 2e12, 0.0), Tier("dram", 2000, 3e10, 3e10, 3.0), Tier("ssd", 8000, 7e9, 7e9, 0.1))
    g = chat.group_names
    for cfg in (TierConfig(tiers=tiers, engine=engine),
                TierConfig(tiers=tiers, engine=engine).with_ttl(by_group={g[0]: 30.0, g[-1]: 600.0})):
        _check(chat, cfg, n_chunks=7)


@pytest.mark.parametrize("seed", range(3))
def test_stream_equals_replay_when_blocks_change_group(engine, seed):
    """48 blocks on 42 slots, each lookup in a random group: "a" (TTL 300 s), "b" (5 s), "c" (freed at once);
    a block leaving a group's queue for another's clears its entry there."""
    t = random_trace(seed, n_requests=1000, n_ids=6)
    rng = np.random.default_rng(seed)
    mixed = t.with_groups(rng.integers(0, 3, t.n_blocks), ("a", "b", "c"))
    tiers = (Tier("t0", 4, 1e12, 1e12, 0.0), Tier("t1", 8, 1e12, 1e12, 0.0), Tier("t2", 30, 1e12, 1e12, 0.0))
    cfg = TierConfig(tiers=tiers, engine=engine).with_ttl(by_group={"a": 300.0, "b": 5.0, "c": 0.0})
    _check(mixed, cfg, n_chunks=20, seed=seed)


def test_stream_ttl_ring_compacts_behind_a_long_lived_block(engine):
    """Block 100 at 0 s, blocks 1 and 2 every second from 1 s to 200 s, block 100 again at 150 s; TTL 100 s on
    3 blocks of HBM (4 slots, a ring of 8 entries). Block 100's entry holds the ring's front for 100 s while
    blocks 1 and 2 push 200 entries behind it: the ring fills and is compacted again and again. By hand: 1 and
    2 hit from 2 s on (2 × 199 = 398 hits), 100 expires at exactly 100 s (the boundary rule) and misses at
    150 s: 1 expiration; resident block·s = 100 (block 100 at first) + 2 × 199 (blocks 1, 2) + 50 (block 100
    again) = 548."""
    import json
    from model.workload import parse_mooncake_lines
    rows = [(0, [100])] + [(1000 * s, [1, 2]) for s in range(1, 201)]
    rows.insert(151, (150000, [100]))
    t = parse_mooncake_lines([json.dumps({"timestamp": ms, "input_length": 512 * len(ids), "output_length": 1,
                                          "hash_ids": ids}) for ms, ids in rows], source="ring")
    cfg = TierConfig(tiers=(Tier("hbm", 3, 1e12, 1e12, 0.0),), engine=engine, default_ttl_s=100.0)
    sr = StreamReplay(cfg, t.group_names)
    assert len(sr.qslot) == 8
    for c in _chunks(t, 9, seed=1):
        sr.feed(c)
    assert sr.hits_by_tier.tolist() == [398]
    assert sr.expirations == 1
    assert_allclose(sr.occupied_block_seconds, [548.0], rtol=0, atol=1e-9)
    _check(t, cfg, n_chunks=9, seed=1)


def test_stream_memory_is_bounded_by_the_capacities(engine):
    small = StreamReplay(TierConfig(tiers=(Tier("hbm", 1000, 1e12, 1e12, 0.0),), engine=engine), ("all",))
    assert small.state_bytes() < 1000 * 64
    with pytest.raises(ParameterError, match="capacity"):
        StreamReplay(TierConfig(tiers=(Tier("hbm", math.inf, 1e12, 1e12, 0.0),), engine=engine), ("all",))
    with pytest.raises(ParameterError, match="eviction"):
        StreamReplay(TierConfig(tiers=(Tier("hbm", 5, 1e12, 1e12, 0.0),), engine=engine, eviction="fifo"), ("all",))
