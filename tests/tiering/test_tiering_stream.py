"""model.tiering.stream: the replay in memory bounded by the caches, fed in chunks, against
model.tiering.replay request for request (random traces, hierarchies with zero-capacity tiers, TTLs per group)."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.tiering import Tier, TierConfig, replay
from model.tiering.stream import StreamReplay
from model.validation import ParameterError
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


def test_stream_memory_is_bounded_by_the_capacities(engine):
    small = StreamReplay(TierConfig(tiers=(Tier("hbm", 1000, 1e12, 1e12, 0.0),), engine=engine), ("all",))
    assert small.state_bytes() < 1000 * 64
    with pytest.raises(ParameterError, match="capacity"):
        StreamReplay(TierConfig(tiers=(Tier("hbm", math.inf, 1e12, 1e12, 0.0),), engine=engine), ("all",))
    with pytest.raises(ParameterError, match="eviction"):
        StreamReplay(TierConfig(tiers=(Tier("hbm", 5, 1e12, 1e12, 0.0),), engine=engine, eviction="fifo"), ("all",))
