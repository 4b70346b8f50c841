"""The compiled replay kernel (model.tiering.replay) against the reference Python loop
(model.tiering.replay_reference), block for block, on random traces, hierarchies, eviction policies and
TTLs (Hypothesis, derandomised), and on the shipped traces with a TTL per group."""
import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.tiering import PrefillEngine, Tier, TierConfig, replay, replay_reference
from model.workload import (CharacterChatParams, character_chat_trace, load_mooncake_trace,
                            parse_mooncake_lines)

PROFILE = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
ENGINE = PrefillEngine.from_names()


@st.composite
def traces(draw):
    n = draw(st.integers(1, 50))
    t, lines = 0, []
    for _ in range(n):
        t += draw(st.sampled_from([0, 0, 1, 300, 1000, 4000]))
        fam = draw(st.integers(0, 5))
        tail = draw(st.lists(st.integers(1, 10), max_size=5, unique=True))
        ids = [fam * 100] + [fam * 100 + x for x in sorted(tail)]
        lines.append(json.dumps({"timestamp": t, "input_length": 512 * len(ids), "output_length": 3,
                                 "hash_ids": ids}))
    return parse_mooncake_lines(lines, source="hypothesis")


def same(a, b):
    assert np.array_equal(a.served_tier, b.served_tier)
    assert np.array_equal(a.tokens_by_tier, b.tokens_by_tier) and np.array_equal(a.recomputed_tokens, b.recomputed_tokens)
    assert np.array_equal(a.occupied_block_seconds, b.occupied_block_seconds)
    assert np.array_equal(a.demotions, b.demotions) and a.expirations == b.expirations and a.span_s == b.span_s


@PROFILE
@given(traces(), st.lists(st.sampled_from([0, 1, 2, 3, 5, 8, 13, math.inf]), min_size=1, max_size=3),
       st.sampled_from(["lru", "fifo"]), st.sampled_from([math.inf, 0.0, 0.5, 1.0, 3.0]))
def test_kernel_equals_the_reference_replay(trace, caps, eviction, ttl):
    tiers = tuple(Tier(f"t{i}", c, 1e12, 1e12, 0.0) for i, c in enumerate(caps))
    config = TierConfig(tiers=tiers, engine=ENGINE, eviction=eviction, default_ttl_s=ttl)
    same(replay(trace, config), replay_reference(trace, config))


def test_kernel_equals_the_reference_on_the_shipped_traces_with_a_ttl_per_group():
    chat = character_chat_trace(CharacterChatParams(concurrent_sessions=40), seed=3, max_sessions=40)
    tiers = (Tier("hbm", 300, 2e12, 2e12, 0.0), Tier("dram", 2000, 3e10, 3e10, 3.0), Tier("ssd", 8000, 7e9, 7e9, 0.1))
    groups = chat.group_names
    for eviction in ("lru", "fifo"):
        config = TierConfig(tiers=tiers, engine=ENGINE, eviction=eviction).with_ttl(
            by_group={groups[0]: 30.0, groups[-1]: 600.0})
        same(replay(chat, config), replay_reference(chat, config))
    head = load_mooncake_trace().head(2000)
    config = TierConfig(tiers=tiers, engine=ENGINE).with_ttl(default_ttl_s=120.0)
    same(replay(head, config), replay_reference(head, config))


@PROFILE
@given(traces(), st.lists(st.sampled_from([0, 1, 3, 8, math.inf]), min_size=1, max_size=3),
       st.sampled_from(["lru", "fifo"]),
       st.lists(st.sampled_from([math.inf, 0.0, 0.5, 3.0, 1000.0, 4000.0]), min_size=3, max_size=3),
       st.integers(0, 2**32 - 1))
def test_kernel_equals_the_reference_when_blocks_change_group(trace, caps, eviction, ttls, seed):
    """Every lookup in a random one of three groups with their own TTLs: a block moves between the TTL queues
    (its entry in the old one is cleared), expires by its last group's TTL, and the queues expire group by
    group; the kernel still equals the reference block for block and in the occupancy integral, bit for bit."""
    rng = np.random.default_rng(seed)
    mixed = trace.with_groups(rng.integers(0, 3, trace.n_blocks), ("a", "b", "c"))
    tiers = tuple(Tier(f"t{i}", c, 1e12, 1e12, 0.0) for i, c in enumerate(caps))
    config = TierConfig(tiers=tiers, engine=ENGINE, eviction=eviction).with_ttl(
        by_group=dict(zip(("a", "b", "c"), ttls)))
    same(replay(mixed, config), replay_reference(mixed, config))
