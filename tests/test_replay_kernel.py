"""The compiled replay kernel against the reference Python replay (model.tiering.replay's loop), block for
block, on random traces, hierarchies, eviction policies and TTLs per group (Hypothesis, derandomised)."""
import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model.replay_kernel import replay_arrays
from model.tiering import PrefillEngine, Tier, TierConfig, _dense_ids, replay
from model.workload import parse_mooncake_lines

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


@PROFILE
@given(traces(), st.lists(st.sampled_from([0, 1, 2, 3, 5, 8, 13, math.inf]), min_size=1, max_size=3),
       st.sampled_from(["lru", "fifo"]), st.sampled_from([math.inf, 0.0, 0.5, 1.0, 3.0]))
def test_kernel_equals_the_reference_replay(trace, caps, eviction, ttl):
    tiers = tuple(Tier(f"t{i}", c, 1e12, 1e12, 0.0) for i, c in enumerate(caps))
    config = TierConfig(tiers=tiers, engine=ENGINE, eviction=eviction, default_ttl_s=ttl)
    ref = replay(trace, config)
    dense, n_unique = _dense_ids(trace)
    ttls = np.array([config.ttl_for(g) for g in trace.group_names], dtype=float)
    served, occupied, demotions, expirations = replay_arrays(
        dense, trace.block_offsets.astype(np.int64), trace.arrival_s.astype(float), trace.block_group.astype(np.int64),
        ttls, np.array(config.capacities, dtype=float), eviction == "lru", n_unique)
    assert np.array_equal(served, ref.served_tier)
    assert np.array_equal(occupied, ref.occupied_block_seconds)
    assert np.array_equal(demotions, ref.demotions)
    assert expirations == ref.expirations
