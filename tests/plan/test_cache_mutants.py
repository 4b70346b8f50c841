"""model.plan.cache by hand: cache tokens per session in the plan's prompt length, a node's cache split into HBM,
DRAM (up to 2,048 GB, data/parameters/plan.csv) and SSD with the load time of a prefix from the slowest tier
(data/hardware.csv: host DRAM 32 GB/s per GPU, NVMe SSD 7 GB/s × 8 drives), the GB-weighted storage price, the
TTL prices, the sample's generator parameters and the reuse profile's own invariants."""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.parameters import default
from model.plan.cache import (DRAM_TIER, GB, HISTORY_GROUP, SSD_TIER, CacheProfile, NodeCache, SharedPrefix,
                              cache_profile, node_cache, plan_ttl, storage_usd_per_gb_month, trace_params)

DRAM_BYTES_PER_S = 32e9     # data/hardware.csv host-dram
SSD_BYTES_PER_S = 7.0e9     # data/hardware.csv nvme-ssd
SSD_DRIVES = 8              # data/parameters kareto_ssd_drives
DRAM_MAX_GB = 2048          # data/parameters plan_dram_max_gb_per_node


def profile(**kw):
    base = dict(trace_sessions=100, trace_requests=0, trace_mean_prompt_tokens=1000.0, ideal_hit_ratio=0.9,
                capacity_blocks=500, hit_ratio=0.8, token_hit_ratio=0.7, block_tokens=16,
                history_share_of_reuse=0.8, routing="session", trace=None)
    base.update(kw)
    return CacheProfile(**base)


def test_constants():
    assert (DRAM_TIER, SSD_TIER, HISTORY_GROUP, GB) == ("host-dram", "nvme-ssd", "history", 1e9)


def test_capacity_per_session_in_the_plans_prompt():
    """500 blocks of 16 tokens over 100 sessions = 80 tokens a session at a 1,000-token prompt; 160 at 2,000."""
    assert_allclose(profile().capacity_tokens_per_session(2000), 160.0, rtol=1e-12)
    assert_allclose(profile(trace_sessions=50).capacity_tokens_per_session(1000), 160.0, rtol=1e-12)


def _node(kv_budget_bytes, *, sessions=1000.0, cache_nodes=4, node_gpus=8, n_gpus=2, batch=10.0, cached=1000):
    dep = SimpleNamespace(n_gpus=n_gpus, kv_budget_bytes=kv_budget_bytes)
    return node_cache(profile(), sessions=sessions, cache_nodes=cache_nodes, node_gpus=node_gpus, dep=dep,
                      batch=batch, prompt_tokens=2000, reply_tokens=1000, cached_tokens=cached,
                      kv_bytes_per_token=1e6)


def test_a_cache_that_fits_in_hbm():
    """250 sessions a node × 160 tokens × 1 MB = 40 GB. 4 replicas of 2 GPUs a node, each holding its running
    batch (10 × (2,000 + 500) + 2,000 = 27,000 tokens = 27 GB) of 100 GB: 4 × 73 = 292 GB free: all in HBM,
    loaded at no cost."""
    n = _node(100e9)
    assert_allclose([n.sessions_per_node, n.need_gb, n.hbm_free_gb, n.hbm_gb, n.dram_gb, n.ssd_gb, n.load_s],
                    [250.0, 40.0, 292.0, 40.0, 0.0, 0.0, 0.0], rtol=1e-12, atol=1e-12)
    assert n.as_dict() == {"sessions_per_node": n.sessions_per_node, "need_gb": n.need_gb,
                           "hbm_free_gb": n.hbm_free_gb, "hbm_gb": n.hbm_gb, "dram_gb": n.dram_gb,
                           "ssd_gb": n.ssd_gb, "load_s": n.load_s}


def test_a_cache_that_spills_to_dram():
    """30 GB of KV budget a replica: 4 × 3 = 12 GB free, 28 GB in DRAM; a 1,000-token prefix (1 GB) loads at
    32 GB/s × 2 GPUs."""
    n = _node(30e9)
    assert_allclose([n.hbm_free_gb, n.hbm_gb, n.dram_gb, n.ssd_gb], [12.0, 12.0, 28.0, 0.0], rtol=1e-12, atol=0)
    assert_allclose(n.load_s, 1e9 / (DRAM_BYTES_PER_S * 2), rtol=1e-12)


def test_a_cache_that_spills_to_ssd():
    """62,500 sessions a node: 10,000 GB; 12 in HBM, 2,048 in DRAM, 7,940 on SSD read at 7 GB/s × 8 drives
    shared by the node's 4 replicas."""
    n = _node(30e9, sessions=250_000.0)
    assert_allclose([n.need_gb, n.hbm_gb, n.dram_gb, n.ssd_gb], [10_000.0, 12.0, DRAM_MAX_GB, 7940.0], rtol=1e-12)
    assert_allclose(n.load_s, 1e9 / (SSD_BYTES_PER_S * SSD_DRIVES / 4), rtol=1e-12)


def test_no_hbm_left_and_no_cache_nodes():
    """A running batch above the KV budget leaves no HBM (not a negative amount); no cache nodes, no cache; a
    replica wider than the node still counts as one."""
    n = _node(20e9)
    assert n.hbm_free_gb == 0.0 and n.hbm_gb == 0.0 and n.dram_gb == 40.0
    z = _node(100e9, cache_nodes=0)
    assert (z.sessions_per_node, z.need_gb, z.hbm_gb, z.dram_gb, z.ssd_gb, z.load_s) == (0.0, 0.0, 0.0, 0.0, 0.0,
                                                                                         0.0)
    wide = _node(30e9, node_gpus=1, n_gpus=2)
    assert_allclose(wide.hbm_free_gb, 3.0, rtol=1e-12)
    assert_allclose(wide.load_s, 1e9 / (DRAM_BYTES_PER_S * 2), rtol=1e-12)
    ssd = _node(30e9, sessions=250_000.0, node_gpus=1)
    assert_allclose(ssd.load_s, 1e9 / (SSD_BYTES_PER_S * SSD_DRIVES), rtol=1e-12)
    # a node of 3 GPUs holds one whole replica of 2
    three = _node(30e9, node_gpus=3)
    assert_allclose(three.hbm_free_gb, 3.0, rtol=1e-12)


def test_less_than_a_gb_below_hbm_still_sets_the_tier():
    """0.5 GB beyond HBM goes to DRAM (12.5 GB needed: 312.5 sessions over 4 nodes); 0.5 GB beyond DRAM to SSD
    (2,060.5 GB needed): each is read from its own tier."""
    d = _node(30e9, sessions=312.5)
    assert_allclose([d.hbm_gb, d.dram_gb, d.ssd_gb], [12.0, 0.5, 0.0], rtol=1e-9, atol=1e-12)
    assert_allclose(d.load_s, 1e9 / (DRAM_BYTES_PER_S * 2), rtol=1e-12)
    s = _node(30e9, sessions=51_512.5)
    assert_allclose([s.hbm_gb, s.dram_gb, s.ssd_gb], [12.0, DRAM_MAX_GB, 0.5], rtol=1e-9)
    assert_allclose(s.load_s, 1e9 / (SSD_BYTES_PER_S * SSD_DRIVES / 4), rtol=1e-12)


def test_storage_price_weighted_by_gb():
    n = NodeCache(1, 50.0, 10.0, 10.0, 10.0, 30.0, 0.0)
    assert_allclose(storage_usd_per_gb_month(n, 3.0, 0.1), (10 * 3.0 + 30 * 0.1) / 40, rtol=1e-12)
    hbm_only = NodeCache(1, 5.0, 10.0, 5.0, 0.0, 0.0, 0.0)
    assert storage_usd_per_gb_month(hbm_only, 3.0, 0.1) == 3.0
    small = NodeCache(1, 0.5, 0.0, 0.0, 0.25, 0.25, 0.0)
    assert_allclose(storage_usd_per_gb_month(small, 3.0, 0.1), 1.55, rtol=1e-12)
    ssd_only = NodeCache(1, 5.0, 0.0, 0.0, 0.0, 5.0, 0.0)
    assert_allclose(storage_usd_per_gb_month(ssd_only, 3.0, 0.1), 0.1, rtol=1e-12)


def test_trace_params_of_the_plan():
    prefix = SharedPrefix(500, 200, 50, 1.1)
    p = trace_params(4.0, 12.0, prefix)
    assert (p.concurrent_sessions, p.mean_turns, p.session_minutes, p.duration_s) == (
        default("plan_cache_trace_sessions"), 4.0, 12.0, 720.0)
    assert (p.n_characters, p.zipf_exponent, p.shared_persona_tokens, p.character_persona_tokens) == (50, 1.1, 500,
                                                                                                     200)
    # popular characters: the generator's 100,000, or all of them when there are fewer
    assert p.popular_characters == 50
    assert trace_params(4.0, 30.0, SharedPrefix(500, 200, 10**6, 1.1)).popular_characters == \
        int(default("chat_popular_characters"))


@pytest.fixture
def sample():
    """The profile of a sample without a shared prefix (remembered by cache_profile between tests)."""
    prefix = SharedPrefix(0, 0, 1, 1.0)
    return cache_profile(4.0, 10.0, 0.9, prefix)


def test_profile_of_a_trace_without_shared_prefix(sample):
    """No shared persona: every reused token is the session's own history, so the routing is by session; the
    LRU capacity found reaches 90% of the ideal hit ratio."""
    t = sample.trace
    assert sample.trace_sessions == default("plan_cache_trace_sessions")
    assert sample.trace_requests == t.n_requests
    assert_allclose(sample.trace_mean_prompt_tokens, np.mean(t.input_tokens), rtol=1e-12)
    assert sample.block_tokens == int(default("mooncake_block_tokens"))
    assert sample.history_share_of_reuse == 1.0 and sample.routing == "session"
    assert sample.capacity_blocks > 0 and isinstance(sample.capacity_blocks, int)
    assert 0.9 * sample.ideal_hit_ratio - 1e-12 <= sample.hit_ratio <= sample.ideal_hit_ratio + 1e-12
    assert 0 < sample.token_hit_ratio <= 1


def test_ttl_prices_of_the_plan(sample):
    """Storage at $7.30 per GB-month = $0.01 per GB-hour; 1 MB a token: 1e-5 ÷ 3600 $ per token-second; a
    recompute of 1e-6 $ a token breaks even after 1e-6 × 3600 ÷ 1e-5 = 360 s."""
    ttl = plan_ttl(sample, recompute_usd_per_token=1e-6, kv_bytes_per_token=1e6, storage_usd_per_gb_month=7.3)
    assert_allclose(ttl.break_even_s, 360.0, rtol=1e-9)
    assert ttl.ttl_s >= 0 and set(ttl.by_group) <= set(sample.trace.group_names)
    assert HISTORY_GROUP in ttl.by_group
    # free storage keeps everything forever
    free = plan_ttl(sample, recompute_usd_per_token=1e-6, kv_bytes_per_token=1e6, storage_usd_per_gb_month=0.0)
    assert free.break_even_s == math.inf
    # storage far dearer than a recompute keeps nothing: shorter TTLs than at the 360 s break-even
    dear = plan_ttl(sample, recompute_usd_per_token=1e-6, kv_bytes_per_token=1e6, storage_usd_per_gb_month=7.3e6)
    assert dear.ttl_s <= ttl.ttl_s
