"""model.tiering.stack_distance: stack distances by brute force, hit-ratio curves, per-tier slices = replay."""
import json

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from model.tiering import (Tier, TierConfig, ideal_hit_ratio, lru_hit_ratio_curve, replay, replay_from_stack,
                           stack_distances)
from model.workload import parse_mooncake_lines
from tiering_refs import brute_stack_distances, one_tier


def test_stack_distances_brute_force():
    rng = np.random.default_rng(5)
    seq = rng.integers(0, 12, size=300).tolist()
    t = parse_mooncake_lines([json.dumps({"timestamp": i, "input_length": 1, "output_length": 1, "hash_ids": [b]})
                              for i, b in enumerate(seq)])
    assert_array_equal(stack_distances(t), brute_stack_distances(seq))
    assert_array_equal(stack_distances(t, at="access"), brute_stack_distances(seq))


def test_hit_ratio_monotone_in_capacity(mooncake):
    curve = lru_hit_ratio_curve(mooncake, np.unique(np.geomspace(1, 300_000, 60).astype(int)))
    assert np.all(np.diff(curve["hit_ratio"]) >= 0) and np.all(np.diff(curve["token_hit_ratio"]) >= 0)
    assert_allclose(curve["hit_ratio"].iloc[-1], ideal_hit_ratio(mooncake))


def test_multi_tier_equals_stack_slices(mooncake, engine):
    tiers = (Tier("hbm", 700, 2e12, 2e12, 0.0), Tier("dram", 4000, 3e10, 3e10, 3.0), Tier("ssd", 20000, 7e9, 7e9, 0.08))
    cfg = TierConfig(tiers=tiers, engine=engine)
    a, b = replay(mooncake, cfg), replay_from_stack(mooncake, cfg)
    assert_array_equal(a.served_tier, b.served_tier)
    assert_allclose(a.occupied_block_seconds, b.occupied_block_seconds, rtol=1e-9)
    # total hit ratio of the hierarchy = single LRU of the summed capacity
    assert a.hit_ratio() == replay(mooncake, one_tier(engine, 24_700)).hit_ratio()
    assert np.all(a.hit_ratio_by_tier() > 0)


def _single_blocks(seq):
    return parse_mooncake_lines([json.dumps({"timestamp": i, "input_length": 1, "output_length": 1, "hash_ids": [b]})
                                 for i, b in enumerate(seq)])


def test_capacity_for_hit_share_by_hand():
    from model.tiering import capacity_for_hit_share

    # A B C A B C ...: every reuse has 2 other blocks in between, so 3 blocks serve every reuse, 2 serve none
    t = _single_blocks([0, 1, 2] * 10)
    assert ideal_hit_ratio(t) == 27 / 30
    assert capacity_for_hit_share(t, 0.9) == 3 and capacity_for_hit_share(t, 0.01) == 3
    # A A B B C C: each reuse immediately follows, one block is enough; no reuse at all needs nothing
    assert capacity_for_hit_share(_single_blocks([0, 0, 1, 1, 2, 2]), 1.0) == 1
    assert capacity_for_hit_share(_single_blocks([0, 1, 2]), 0.9) == 0


def test_capacity_for_hit_share_is_the_smallest_lru_that_reaches_it(engine):
    from model.tiering import capacity_for_hit_share

    rng = np.random.default_rng(11)
    t = _single_blocks((rng.zipf(1.3, 2000) % 150).tolist())
    ideal = ideal_hit_ratio(t)
    for share in (0.5, 0.8, 0.9, 0.99):
        c = capacity_for_hit_share(t, share)
        assert replay(t, one_tier(engine, c)).hit_ratio() >= share * ideal - 1e-12
        assert c > 1 and replay(t, one_tier(engine, c - 1)).hit_ratio() < share * ideal
