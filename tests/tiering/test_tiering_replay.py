"""model.tiering.replay: the block-level simulator against plain-Python LRU, ideal and TTL references."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.tiering import Tier, TierConfig, ideal_hit_ratio, lru_hit_ratio_curve, replay
from model.checks import ParameterError
from model.workload import CharacterChatParams, character_chat_trace
from tiering_refs import one_tier, random_trace, reference_ideal, reference_lru, reference_ttl


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("capacity", [1, 5, 17, 60])
def test_single_tier_equals_reference_lru(seed, capacity, engine):
    t = random_trace(seed)
    hits, n = reference_lru(t, capacity)
    assert_allclose(replay(t, one_tier(engine, capacity)).hit_ratio(), hits / n, rtol=0, atol=1e-12)
    assert_allclose(lru_hit_ratio_curve(t, [capacity])["hit_ratio"][0], hits / n, rtol=0, atol=1e-12)


def test_mooncake_reference_lru_and_ideal(mooncake, engine):
    head = mooncake.head(3000)
    for cap in (500, 5000):
        hits, n = reference_lru(head, cap)
        assert replay(head, one_tier(engine, cap)).hit_ratio() == hits / n
    ideal = reference_ideal(mooncake)
    assert_allclose(ideal_hit_ratio(mooncake), ideal, rtol=0, atol=1e-12)
    assert_allclose(replay(mooncake, one_tier(engine, math.inf)).hit_ratio(), ideal, rtol=0, atol=1e-12)
    # the released trace's ideal block hit ratio (computed here): 36.6%, below the paper's ~40% cache ratio
    assert_allclose(ideal, 0.3664, atol=5e-4)


def test_conservation_of_tokens(engine):
    t = character_chat_trace(CharacterChatParams(n_characters=500, popular_characters=50, concurrent_sessions=20, mean_turns=10,
                                                 session_minutes=2, duration_s=200), seed=2)
    tiers = (Tier("hbm", 30, 2e12, 2e12, 0.0), Tier("dram", 100, 3e10, 3e10, 3.0))
    rep = replay(t, TierConfig(tiers=tiers, engine=engine, default_ttl_s=60.0))
    assert_array_equal(rep.tokens_by_tier.sum(axis=1) + rep.recomputed_tokens, t.input_tokens)
    assert rep.recomputed_tokens.min() >= 0


def test_ttl(engine):
    t = random_trace(3, n_requests=500)
    assert replay(t, one_tier(engine, math.inf, default_ttl_s=0.0)).hit_ratio() == 0.0
    assert replay(t, one_tier(engine, math.inf, default_ttl_s=math.inf)).hit_ratio() == reference_ideal(t)
    ratios = []
    for ttl in (0.5, 1.0, 3.0, 10.0, 100.0):
        r = replay(t, one_tier(engine, math.inf, default_ttl_s=ttl)).hit_ratio()
        assert_allclose(r, reference_ttl(t, ttl), rtol=0, atol=1e-12)
        ratios.append(r)
    assert np.all(np.diff(ratios) >= 0)


def test_ttl_per_group(engine):
    t = random_trace(4, n_requests=400)
    half = t.with_groups((t.block_ids // 1000 % 2).astype(np.int32), ("even", "odd"))
    cfg = one_tier(engine, math.inf).with_ttl(by_group={"even": 0.0})
    rep = replay(half, cfg)
    served_even = rep.served_tier[half.block_group == 0]
    assert np.all(served_even == -1)
    odd_only = replay(half, one_tier(engine, math.inf)).served_tier[half.block_group == 1]
    assert_array_equal(rep.served_tier[half.block_group == 1], odd_only)


def test_fifo_differs_from_lru_and_never_beats_ideal(mooncake, engine):
    lru = replay(mooncake, one_tier(engine, 3000)).hit_ratio()
    fifo = replay(mooncake, one_tier(engine, 3000, eviction="fifo")).hit_ratio()
    assert fifo != lru and fifo <= ideal_hit_ratio(mooncake)


def test_bad_configurations(engine, mooncake):
    with pytest.raises(ParameterError, match="capacity_blocks"):
        Tier("x", -1, 1.0, 1.0, 0.0)
    with pytest.raises(ParameterError, match="default_ttl_s"):
        one_tier(engine, 1, default_ttl_s=-1)
    with pytest.raises(ParameterError, match="block_tokens"):
        replay(mooncake, one_tier(engine, 1, block_tokens=16))
    with pytest.raises(ParameterError, match="eviction"):
        one_tier(engine, 1, eviction="lfu")


def _lines_trace(rows):
    import json
    from model.workload import parse_mooncake_lines
    return parse_mooncake_lines([json.dumps({"timestamp": ms, "input_length": 512 * len(ids), "output_length": 1,
                                             "hash_ids": ids}) for ms, ids in rows], source="boundary")


@pytest.mark.parametrize("gap_ms, ttl_s, hit", [(60000, 60.0, False), (60000, 60.5, True), (60000, 59.5, False),
                                                (0, 0.0, False), (0, 1.0, True)])
@pytest.mark.parametrize("kernel", [True, False])
def test_ttl_boundary_rule_replay_side(gap_ms, ttl_s, hit, kernel, engine):
    """The replay applies model.ttl.reused_within_ttl: a reuse exactly TTL later misses, TTL 0 = no reuse."""
    from model.tiering import replay_reference
    t = _lines_trace([(0, [1]), (gap_ms, [1])])
    cfg = one_tier(engine, math.inf).with_ttl(default_ttl_s=ttl_s)
    rep = (replay if kernel else replay_reference)(t, cfg)
    assert rep.served_tier[1] == (0 if hit else -1)


@pytest.mark.parametrize("kernel", [True, False])
def test_occupancy_counts_an_expired_block_only_until_its_expiry(kernel, engine):
    """Block 1 is cached at 0 s with a 30 s TTL; the next request comes at 100 s: it was resident 30 s."""
    from model.tiering import replay_reference
    t = _lines_trace([(0, [1]), (100000, [2])])
    rep = (replay if kernel else replay_reference)(t, one_tier(engine, math.inf).with_ttl(default_ttl_s=30.0))
    assert_allclose(rep.occupied_block_seconds, [30.0], rtol=0, atol=1e-12)
    assert rep.expirations == 1
    assert_allclose(replay(t, one_tier(engine, math.inf)).occupied_block_seconds, [100.0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kernel", [True, False])
def test_a_reuse_within_the_ttl_restarts_the_block_s_ttl(kernel, engine):
    """TTL 30 s. Blocks 1 and 2 at 0 s, block 1 again at 10 s (a hit), block 3 at 100 s. Block 1 lives until
    10 + 30 = 40 s (its first access no longer counts), block 2 until 30 s: 40 + 30 = 70 block·s, two
    expirations; a reuse of block 1 at exactly 40 s would miss (the boundary rule)."""
    from model.tiering import replay_reference
    run = replay if kernel else replay_reference
    cfg = one_tier(engine, math.inf).with_ttl(default_ttl_s=30.0)
    rep = run(_lines_trace([(0, [1, 2]), (10000, [1]), (100000, [3])]), cfg)
    assert_array_equal(rep.served_tier, [-1, -1, 0, -1])
    assert_allclose(rep.occupied_block_seconds, [70.0], rtol=0, atol=1e-12)
    assert rep.expirations == 2
    at_expiry = run(_lines_trace([(0, [1, 2]), (10000, [1]), (40000, [1])]), cfg)
    assert_array_equal(at_expiry.served_tier, [-1, -1, 0, -1])


@pytest.mark.parametrize("kernel", [True, False])
def test_the_last_access_s_group_sets_the_ttl(kernel, engine):
    """Block 1 accessed in group "short" (TTL 5 s) then, at 1 s, in group "forever" (no TTL): still cached at
    20 s. The other way round it expires at 1 + 5 = 6 s: resident 6 s of the 20 s, then inserted anew."""
    from model.tiering import replay_reference
    run = replay if kernel else replay_reference
    cfg = one_tier(engine, math.inf).with_ttl(by_group={"short": 5.0})
    t = _lines_trace([(0, [1]), (1000, [1]), (20000, [1])])
    kept = run(t.with_groups(np.array([0, 1, 1]), ("short", "forever")), cfg)
    assert_array_equal(kept.served_tier, [-1, 0, 0])
    assert kept.expirations == 0
    assert_allclose(kept.occupied_block_seconds, [20.0], rtol=0, atol=1e-12)
    lost = run(t.with_groups(np.array([1, 0, 1]), ("short", "forever")), cfg)
    assert_array_equal(lost.served_tier, [-1, 0, -1])
    assert lost.expirations == 1
    assert_allclose(lost.occupied_block_seconds, [6.0], rtol=0, atol=1e-12)
