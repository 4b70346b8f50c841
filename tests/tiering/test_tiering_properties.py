"""Property-based tests (Hypothesis, seeded through its database-free derandomised profile) of the
invariants a cache simulator must keep, on random traces and parameters."""
import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from model.tiering import PrefillEngine, Tier, TierConfig, lru_hit_ratio_curve, replay
from model.workload import parse_mooncake_lines
from tiering_refs import reference_lru

PROFILE = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
ENGINE = PrefillEngine.from_names()


@st.composite
def traces(draw, max_requests=40):
    """Requests sharing prefixes: each request is a family root followed by some of the family's blocks, at
    non-decreasing times with ties (zero gaps are common in real traces)."""
    n = draw(st.integers(1, max_requests))
    t, lines = 0, []
    for _ in range(n):
        t += draw(st.sampled_from([0, 0, 1, 500, 1000, 2500]))
        fam = draw(st.integers(0, 4))
        tail = draw(st.lists(st.integers(1, 12), max_size=5, unique=True))
        ids = [fam * 100] + [fam * 100 + x for x in sorted(tail)]
        lines.append(json.dumps({"timestamp": t, "input_length": 512 * len(ids), "output_length": 4,
                                 "hash_ids": ids}))
    return parse_mooncake_lines(lines, source="hypothesis")


def config(*capacities, ttl=math.inf):
    names = ("hbm", "dram", "ssd")
    tiers = tuple(Tier(names[i], c, 2e12 / 10 ** i, 2e12 / 10 ** i, 0.0 if i == 0 else 1.0)
                  for i, c in enumerate(capacities))
    return TierConfig(tiers=tiers, engine=ENGINE, default_ttl_s=ttl)


def plain_lru(trace, capacity):
    hits, n = reference_lru(trace, capacity)
    return hits / n


@PROFILE
@given(traces(), st.lists(st.integers(0, 40), min_size=2, max_size=6))
def test_lru_hit_ratio_never_falls_as_capacity_grows_and_equals_a_plain_lru(trace, caps):
    caps = sorted(set(caps))
    curve = lru_hit_ratio_curve(trace, caps)["hit_ratio"].to_numpy()
    assert np.all(np.diff(curve) >= -1e-12)
    for c, h in zip(caps, curve):
        assert_allclose(h, plain_lru(trace, c), rtol=0, atol=1e-12)
        assert_allclose(replay(trace, config(c)).hit_ratio(), h, rtol=0, atol=1e-12)


@PROFILE
@given(traces(), st.integers(0, 10), st.integers(0, 20), st.integers(0, 30))
def test_every_block_lookup_is_served_by_exactly_one_tier_or_recomputed(trace, hbm, dram, ssd):
    rep = replay(trace, config(hbm, dram, ssd))
    assert rep.served_tier.shape == (trace.n_blocks,)
    assert set(np.unique(rep.served_tier)) <= {-1, 0, 1, 2}
    by_tier = rep.hit_ratio_by_tier()
    assert_allclose(by_tier.sum() + np.mean(rep.served_tier == -1), 1.0, atol=1e-12)
    # prompt tokens are conserved too: served from some tier or recomputed, per request
    prompt = np.asarray(trace.input_tokens, dtype=np.int64)
    assert np.array_equal(rep.tokens_by_tier.sum(axis=1) + rep.recomputed_tokens, prompt)
    # more room in total never lowers the hit ratio of the whole hierarchy (LRU with demotion = one LRU of
    # the summed capacity)
    assert_allclose(rep.hit_ratio(), plain_lru(trace, hbm + dram + ssd), atol=1e-12)


@PROFILE
@given(traces())
def test_ttl_zero_gives_no_reuse_and_an_infinite_ttl_equals_no_ttl(trace):
    assert replay(trace, config(math.inf, ttl=0.0)).hit_ratio() == 0.0
    a = replay(trace, config(math.inf, ttl=math.inf))
    b = replay(trace, TierConfig(tiers=config(math.inf).tiers, engine=ENGINE))
    assert np.array_equal(a.served_tier, b.served_tier)


@PROFILE
@given(traces(), st.floats(0.5, 5.0))
def test_a_reuse_exactly_ttl_apart_misses(trace, ttl_s):
    """The TTL boundary: a block last used at t expires at t + TTL, so a request exactly TTL later misses."""
    lines = [json.dumps({"timestamp": 0, "input_length": 512, "output_length": 1, "hash_ids": [7]}),
             json.dumps({"timestamp": int(round(ttl_s * 1000)), "input_length": 512, "output_length": 1,
                         "hash_ids": [7]})]
    two = parse_mooncake_lines(lines, source="boundary")
    gap = two.arrival_s[1] - two.arrival_s[0]
    assert replay(two, config(math.inf, ttl=gap)).hit_ratio() == 0.0
    assert replay(two, config(math.inf, ttl=gap * (1 + 1e-9) + 1e-9)).hit_ratio() == 0.5
