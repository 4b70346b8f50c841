"""model.tiering.fleet on a fleet small enough to work out by hand: five requests, two tiers, a prefill of
0.5 s + 0.01 s per new token, loads at 0.01 s per token, requests 10 s apart (no queueing), so every figure of a
node and of the fleet's summary is a sum or a percentile written out below; routing and ownership against
the Fibonacci hash in plain integers; every parameter error as one line.

The trace (blocks of 4 tokens, 2 output tokens each):
    r0 at  0 s: blocks [1, 2], 8 tokens      r1 at 10 s: blocks [1, 3], 6 tokens
    r2 at 20 s: blocks [1, 2], 8 tokens      r3 at 30 s: blocks [4, 5], 7 tokens
    r4 at 40 s: block  [6],    4 tokens
"""
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import model.tiering.fleet as fleet_module
from model.checks import ParameterError
from model.tiering.config import Tier, TierConfig
from model.tiering.engine import PrefillEngine
from model.tiering.fleet import (FLEET_SUMMARY_KEYS, block_owner, fleet_gpus, fleet_summary_keys,
                                 prefix_route_concentration, route_requests, simulate_fleet, simulate_global,
                                 simulate_node)
from model.workload.trace import _from_lists

GB = 4 * 1e6 / 1e9                     # one block: 4 tokens × 1 MB of KV per token, in GB
DRAM_USD_PER_H = 7.3 / 730             # $/GB-hour of the DRAM tier (7.3 $/GB-month, 730 h a month)


def _engine(*, s_fixed=0.5, s_token=0.01, instances=1, gpus=1):
    return PrefillEngine("hand", s_token, 0.0, 0.0, 0.0, 0.0, 0.0, kv_bytes_per_token=1e6, gpus_per_instance=gpus,
                         n_instances=instances, gpu_usd_per_hour=2.0, s_fixed=s_fixed)


def _config(engine=None, **kwargs):
    """HBM of 10 blocks read at 1e8 B/s (0.01 s per token, free), DRAM of 5 blocks at 5e7 B/s, 7.3 $/GB-month."""
    return TierConfig(tiers=(Tier("hbm", 10, 1e8, 1e8, 0.0), Tier("dram", 5, 5e7, 5e7, 7.3)),
                      engine=engine or _engine(), block_tokens=4, **kwargs)


def _trace(n=5, **extra):
    blocks = [[1, 2], [1, 3], [1, 2], [4, 5], [6]][:n]
    return _from_lists("hand", [0.0, 10.0, 20.0, 30.0, 40.0][:n], [8, 6, 8, 7, 4][:n], [2] * n, blocks, 4, **extra)


def _owner(block_id, n):
    """Fibonacci hashing in Python integers: (id × 0x9E3779B97F4A7C15 mod 2**64) >> 32, mod n."""
    return (((block_id * 0x9E3779B97F4A7C15) % 2 ** 64) >> 32) % n


# --- routing ---------------------------------------------------------------------------------------------------
def test_block_owner_is_the_fibonacci_hash():
    ids = np.array([0, 1, 2, 3, 4, 5, 6, 7, 1 << 40, (1 << 61) + 12345, 987654321])
    for n in (2, 3, 7, 1000):
        assert_array_equal(block_owner(ids, n), [_owner(int(i), n) for i in ids])
    assert block_owner(ids, 3).dtype == np.int32
    # the hash of 1 is floor(2**64 / golden ratio) >> 32 = 2654435769 = 2147483647 + 506952122
    assert_array_equal(block_owner(np.array([1]), 2 ** 31 - 1), [506952122])


def test_routes_by_hand():
    t = _trace(session=np.array([4, 7, 4, 9, 2]))
    rr = route_requests(t, 2, "round-robin")
    assert_array_equal(rr, [0, 1, 0, 1, 0])
    assert rr.dtype == np.int32
    shifted = route_requests(t, 3, "round-robin", first_index=4)          # the stream's 4th to 8th requests
    assert_array_equal(shifted, [1, 2, 0, 1, 2])
    assert shifted.dtype == np.int32
    assert_array_equal(route_requests(t, 3, "global", first_index=2), [2, 0, 1, 2, 0])
    ss = route_requests(t, 3, "session")
    assert_array_equal(ss, [1, 1, 1, 0, 2])
    assert ss.dtype == np.int32
    first = [_owner(b, 2) for b in (1, 1, 1, 4, 6)]
    assert_array_equal(route_requests(t, 2, "prefix"), first)
    # the 2nd block; r4 has one block only, so its last (its 1st) routes it
    second = [_owner(b, 2) for b in (2, 3, 2, 5, 6)]
    assert_array_equal(route_requests(t, 2, "prefix", prefix_blocks=2), second)
    assert_array_equal(route_requests(t, 5, "prefix", prefix_blocks=3), [_owner(b, 5) for b in (2, 3, 2, 5, 6)])


def test_prefix_concentration_by_hand():
    t = _trace()
    # first blocks 1, 1, 1, 4, 6: block 1 carries 3 of 5 requests
    assert prefix_route_concentration(t) == (1, 0.6)
    # second blocks (or the last when shorter) 2, 3, 2, 5, 6: block 2 carries 2 of 5
    assert prefix_route_concentration(t, 2) == (2, 0.4)
    assert prefix_route_concentration(t, 9) == (2, 0.4)
    one = _from_lists("one", [0.0, 1.0, 2.0], [4, 8, 8], [1, 1, 1], [[5], [5, 8], [7, 8]], 4)
    assert prefix_route_concentration(one, 2) == (8, 2 / 3)               # 5 (its only block), 8, 8


@pytest.mark.parametrize("call, message", [
    (lambda t: route_requests(t, 0, "nowhere"), "nodes=0 is not allowed: nodes must be an integer in [1, inf]"),
    (lambda t: route_requests(t, 2, "nowhere"),
     "route='nowhere' is not allowed: route must be one of 'round-robin', 'session', 'prefix', 'global'"),
    (lambda t: route_requests(t, 2, "round-robin", prefix_blocks=0),
     "prefix_blocks=0 is not allowed: prefix_blocks must be an integer in [1, inf]"),
    (lambda t: route_requests(t, 2, "session"),
     "route='session' is not allowed: route must be a trace with session ids for 'session' (this one has none); "
     "one of round-robin, prefix, global"),
    (lambda t: prefix_route_concentration(t, 0),
     "prefix_blocks=0 is not allowed: prefix_blocks must be an integer in [1, inf]"),
    (lambda t: fleet_gpus(0, _config()), "nodes=0 is not allowed: nodes must be an integer in [1, inf]"),
    (lambda t: simulate_fleet(t, _config(), 0, "nowhere"),
     "nodes=0 is not allowed: nodes must be an integer in [1, inf]"),
    (lambda t: simulate_fleet(t, _config(), 2, "nowhere"),
     "route='nowhere' is not allowed: route must be one of 'round-robin', 'session', 'prefix', 'global'"),
    (lambda t: simulate_fleet(t, _config(), 2, "global", nodes=[0]),
     "nodes=[0] is not allowed: nodes must be all nodes under route 'global' (one shared pool)"),
    (lambda t: simulate_fleet(t, _config(), 3, "round-robin", nodes=[0, 3]),
     "nodes=3 is not allowed: nodes must be node indices 0 … 2"),
    (lambda t: simulate_fleet(t, _config(), 3, "round-robin", nodes=[-1]),
     "nodes=-1 is not allowed: nodes must be node indices 0 … 2"),
    (lambda t: simulate_fleet(t, _config(), 2, "round-robin", workers=0),
     "workers=0 is not allowed: workers must be an integer in [1, inf]"),
    (lambda t: simulate_global(t, _config(), -1), "nodes=-1 is not allowed: nodes must be an integer in [1, inf]"),
    (lambda t: simulate_global(t, _config(), 0), "nodes=0 is not allowed: nodes must be an integer in [1, inf]"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ParameterError) as err:
        call(_trace())
    assert str(err.value) == message


def test_fleet_gpus_and_summary_keys():
    assert fleet_gpus(3, _config(_engine(instances=2, gpus=4))) == 24            # 3 nodes × 2 × 4 GPUs
    assert fleet_summary_keys(("hbm", "dram")) == FLEET_SUMMARY_KEYS + (
        "hit_ratio_hbm", "hbm_gb_used_mean", "hit_ratio_dram", "dram_gb_used_mean")
    assert fleet_summary_keys(()) == FLEET_SUMMARY_KEYS


# --- one node ----------------------------------------------------------------------------------------------
def test_one_node_by_hand():
    """All five requests on one node: r1 reuses block 1 (4 tokens), r2 blocks 1 and 2 (8 tokens); the rest is
    prefilled. TTFT = load (0.01 s per reused token) + 0.5 s + 0.01 s per new token (at least one)."""
    r = simulate_node(_trace(), _config())
    assert r.node == 0 and r.requests == 5 and r.lookups == 9
    assert_array_equal(r.hits_by_tier, [3, 0])
    assert r.hits_by_tier.dtype == np.int64
    assert_array_equal(r.tokens_by_tier, [12, 0])
    assert r.recomputed_tokens == 33 - 12 and r.input_tokens == 33 and r.output_tokens == 10 and r.remote_tokens == 0
    ttft = [0.58, 0.04 + 0.52, 0.08 + 0.51, 0.57, 0.54]
    assert_allclose(r.ttft_s, ttft, rtol=1e-12)
    assert_allclose(r.zero_load_ttft_s, ttft, rtol=1e-12)
    assert_allclose(r.prefill_busy_s, 0.58 + 0.52 + 0.51 + 0.57 + 0.54, rtol=1e-12)
    assert r.first_arrival_s == 0.0
    assert_allclose(r.last_done_s, 40.54, rtol=1e-12)
    # resident blocks from the first to the last arrival (40 s): 1 and 2 from 0 s, 3 from 10 s, 4 and 5 from 30 s
    # (block 6 arrives at the end): (2 × 40 + 30 + 2 × 10) / 40 = 3.25 blocks in HBM
    assert_allclose(r.mean_occupied_gb, [3.25 * GB, 0.0], rtol=1e-12)
    assert_allclose(r.storage_usd_per_hour, 5 * GB * DRAM_USD_PER_H, rtol=1e-12)


def test_zero_load_ttft_counts_the_load_under_queueing():
    """Ten copies of r2's prompt at once: the first computes 8 tokens, the other nine reuse them (0.08 s load +
    0.51 s prefill each) but queue behind one another; the zero-load TTFT drops the queue only."""
    t = _from_lists("burst", np.zeros(10), [8] * 10, [1] * 10, [[1, 2]] * 10, 4)
    r = simulate_node(t, _config(), node=3)
    assert r.node == 3
    assert_allclose(r.zero_load_ttft_s, [0.58] + [0.59] * 9, rtol=1e-12)
    assert r.ttft_s.max() > 5.0


def test_empty_node():
    for basis, storage in (("provisioned", 5 * GB * DRAM_USD_PER_H), ("occupied", 0.0)):
        cfg = _config(cost_basis=basis)
        r = simulate_node(_trace(0), cfg, node=4)
        assert r.node == 4 and r.requests == 0 and r.lookups == 0
        assert_array_equal(r.hits_by_tier, [0, 0])
        assert r.hits_by_tier.dtype == np.int64
        assert_array_equal(r.tokens_by_tier, [0, 0])
        assert r.tokens_by_tier.dtype == np.int64
        assert (r.recomputed_tokens, r.input_tokens, r.output_tokens, r.remote_tokens) == (0, 0, 0, 0)
        assert r.ttft_s.shape == (0,) and r.zero_load_ttft_s.shape == (0,)
        assert r.prefill_busy_s == 0.0 and r.first_arrival_s == math.inf and r.last_done_s == -math.inf
        assert_array_equal(r.mean_occupied_gb, [0.0, 0.0])
        assert_allclose(r.storage_usd_per_hour, storage, rtol=1e-12, atol=0)
    assert simulate_node(_trace(0), _config()).node == 0


# --- a fleet of local nodes ---------------------------------------------------------------------------------
def test_round_robin_fleet_summary_by_hand():
    """Node 0 gets r0, r2, r4 (r2 reuses blocks 1 and 2: 8 tokens); node 1 gets r1, r3 (nothing reused)."""
    f = simulate_fleet(_trace(), _config(), 2, "round-robin")
    assert [r.node for r in f.nodes] == [0, 1]
    s = f.summary()
    assert s["route"] == "round-robin" and s["nodes"] == 2 and s["gpus"] == 2
    assert s["requests"] == 5 and s["lookups"] == 9
    assert_allclose([s["hit_ratio"], s["hit_ratio_hbm"], s["hit_ratio_dram"]], [2 / 9, 2 / 9, 0.0], rtol=1e-12)
    assert s["prefill_tokens_saved"] == 8 and s["prefill_tokens_saved_hbm"] == 8 and s["prefill_tokens_saved_dram"] == 0
    assert s["recomputed_tokens"] == 25 and s["remote_tokens"] == 0 and s["input_tokens"] == 33
    # TTFT 0.58, 0.59, 0.54 (node 0) and 0.56, 0.57 (node 1): median 0.57, P95 at rank 3.8 of the sorted five
    assert_allclose(s["ttft_p50_s"], 0.57, rtol=1e-12)
    assert_allclose([s["ttft_p95_s"], s["zero_load_ttft_p95_s"]], [0.588, 0.588], rtol=1e-12)
    busy = np.array([0.58 + 0.51 + 0.54, 0.56 + 0.57])
    span = 40.54                                              # last first token (r4: 40 + 0.54) − first arrival
    assert_allclose(s["gpu_busy_fraction"], busy.sum() / (2 * span), rtol=1e-12)
    assert_allclose(s["throughput_requests_per_s"], 5 / span, rtol=1e-12)
    assert_allclose(s["load_imbalance"], busy.max() / busy.mean(), rtol=1e-12)
    assert_allclose(s["request_imbalance"], 3 / 2.5, rtol=1e-12)
    cost = 2 * 2.0 + 2 * 5 * GB * DRAM_USD_PER_H              # 2 GPUs at $2/h, and each node's DRAM
    assert_allclose(s["cost_usd_per_hour"], cost, rtol=1e-12)
    assert_allclose(s["usd_per_million_tokens"], cost / ((33 + 10) / span * 3600) * 1e6, rtol=1e-12)
    # node 0 holds blocks 1 and 2 over its 40 s (block 6 comes at the end); node 1 blocks 1 and 3 over 20 s
    assert_allclose([s["hbm_gb_used_mean"], s["hbm_gb_used_max"]], [2 * GB, 2 * GB], rtol=1e-12)
    assert s["dram_gb_used_mean"] == 0.0 and s["dram_gb_used_max"] == 0.0
    assert set(fleet_summary_keys(("hbm", "dram"))) <= set(s)


def test_node_table_by_hand():
    f = simulate_fleet(_trace(), _config(), 3, "round-robin")       # node 0: r0, r3; node 1: r1, r4; node 2: r2
    t = f.node_table()
    assert list(t.columns) == ["node", "requests", "lookups", "hit_ratio", "hit_ratio_hbm", "hit_ratio_dram",
                               "prefill_tokens_saved", "remote_tokens", "ttft_p95_s", "prefill_busy_s",
                               "hbm_gb_used", "dram_gb_used"]
    assert list(t["node"]) == [0, 1, 2] and list(t["requests"]) == [2, 2, 1] and list(t["lookups"]) == [4, 3, 2]
    assert_allclose(t["hit_ratio"], [0.0, 0.0, 0.0], rtol=0)
    assert list(t["prefill_tokens_saved"]) == [0, 0, 0] and list(t["remote_tokens"]) == [0, 0, 0]
    # P95 of two values a ≤ b: a + 0.95 (b − a)
    assert_allclose(t["ttft_p95_s"], [0.57 + 0.95 * 0.01, 0.54 + 0.95 * 0.02, 0.58], rtol=1e-12)
    assert_allclose(t["prefill_busy_s"], [0.58 + 0.57, 0.56 + 0.54, 0.58], rtol=1e-12)
    # node 0 holds blocks 1, 2 over 30 s; node 1 blocks 1, 3 over 30 s; node 2 one request: no time elapses
    assert_allclose(t["hbm_gb_used"][:2], [2 * GB, 2 * GB], rtol=1e-12)
    assert_allclose(t["dram_gb_used"][:2], [0.0, 0.0], rtol=0)
    one = simulate_fleet(_trace(), _config(), 1, "round-robin").node_table()
    assert_allclose(one["hit_ratio"], [3 / 9], rtol=1e-12)
    assert_allclose([one["hit_ratio_hbm"][0], one["hit_ratio_dram"][0]], [3 / 9, 0.0], rtol=1e-12)
    assert one["prefill_tokens_saved"][0] == 12
    # P95 of 0.54, 0.56, 0.57, 0.58, 0.59 (rank 3.8): 0.588; the 96th percentile would be 0.5884
    assert_allclose(one["ttft_p95_s"], [0.588], rtol=1e-12)


def test_empty_nodes_in_a_fleet():
    """Three nodes, two requests: node 2 receives nothing; its row says so without a division by zero."""
    f = simulate_fleet(_trace(2), _config(), 3, "round-robin")
    assert [r.node for r in f.nodes] == [0, 1, 2] and [r.requests for r in f.nodes] == [1, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = f.node_table()
        s = f.summary()
    assert math.isnan(t["hit_ratio"][2]) and math.isnan(t["hit_ratio_hbm"][2]) and math.isnan(t["ttft_p95_s"][2])
    assert t["hit_ratio"][0] == 0.0 and t["ttft_p95_s"][0] == 0.58
    assert s["gpus"] == 3 and s["requests"] == 2
    assert_allclose(s["request_imbalance"], 1 / (2 / 3), rtol=1e-12)
    assert_allclose(s["cost_usd_per_hour"], 3 * 2.0 + 3 * 5 * GB * DRAM_USD_PER_H, rtol=1e-12)


def test_a_subset_of_nodes():
    f = simulate_fleet(_trace(), _config(), 3, "round-robin", nodes=[2, 0, 2])
    assert [r.node for r in f.nodes] == [0, 2] and [r.requests for r in f.nodes] == [2, 1]
    assert f.n_nodes == 3 and f.summary()["gpus"] == 3


def test_short_fleet_span():
    """One request of 8 tokens on one node: busy 0.58 s of a 0.58 s span (under a second)."""
    s = simulate_fleet(_trace(1), _config(), 1, "round-robin").summary()
    assert_allclose(s["gpu_busy_fraction"], 1.0, rtol=1e-12)
    assert_allclose(s["throughput_requests_per_s"], 1 / 0.58, rtol=1e-12)
    assert s["load_imbalance"] == 1.0 and s["request_imbalance"] == 1.0
    assert_allclose(s["usd_per_million_tokens"], (2.0 + 5 * GB * DRAM_USD_PER_H) / (10 / 0.58 * 3600) * 1e6,
                    rtol=1e-12)


def test_zero_span_fleet():
    """A prefill engine of zero cost: the first token comes at arrival, so the span is 0: throughput infinite,
    busy fraction and imbalance undefined (NaN), the price per token 0, and no division by zero."""
    cfg = _config(_engine(s_fixed=0.0, s_token=0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = simulate_fleet(_trace(1), cfg, 1, "round-robin").summary()
    assert s["throughput_requests_per_s"] == math.inf
    assert math.isnan(s["gpu_busy_fraction"]) and math.isnan(s["load_imbalance"])
    assert s["request_imbalance"] == 1.0 and s["usd_per_million_tokens"] == 0.0


def test_fleet_hands_workers_and_scheduler_to_the_runner(monkeypatch):
    seen = []

    def fake(fn, jobs, *, workers=1, scheduler=None):
        seen.append((workers, scheduler))
        return [fn(job) for job in jobs]

    monkeypatch.setattr(fleet_module, "map_jobs", fake)
    simulate_fleet(_trace(), _config(), 2, "round-robin")
    simulate_fleet(_trace(), _config(), 2, "round-robin", workers=3, scheduler="tcp://10.0.0.1:8786")
    assert seen == [(1, None), (3, "tcp://10.0.0.1:8786")]


# --- the global pool ----------------------------------------------------------------------------------------
def test_global_pool_by_hand():
    """Two nodes, one pool of 20 + 10 blocks. Computation round-robin (r0, r2, r4 on node 0). Owners: block 1 on
    node 1, block 2 on node 0 (hash above). r1 (node 1) reuses block 1, its own; r2 (node 0) reuses blocks 1
    (remote: 4 tokens) and 2. Over a 1e7 B/s network the 4 remote tokens take 4 MB / 1e7 B/s = 0.4 s, longer than
    r2's 0.08 s tier load: TTFT 0.4 + 0.51."""
    assert (_owner(1, 2), _owner(2, 2), _owner(3, 2)) == (1, 0, 0)
    nodes = simulate_global(_trace(), _config(), 2, nic_bytes_per_s=1e7)
    assert [r.node for r in nodes] == [0, 1] and [r.requests for r in nodes] == [3, 2]
    assert [r.lookups for r in nodes] == [5, 4]
    assert_array_equal(nodes[0].hits_by_tier, [2, 0])
    assert nodes[0].hits_by_tier.dtype == np.int64
    assert_array_equal(nodes[1].hits_by_tier, [1, 0])
    assert_array_equal(nodes[0].tokens_by_tier, [8, 0])
    assert [r.remote_tokens for r in nodes] == [4, 0]
    assert [r.recomputed_tokens for r in nodes] == [12, 9] and [r.input_tokens for r in nodes] == [20, 13]
    assert [r.output_tokens for r in nodes] == [6, 4]
    assert_allclose(nodes[0].ttft_s, [0.58, 0.91, 0.54], rtol=1e-12)
    assert_allclose(nodes[1].ttft_s, [0.04 + 0.52, 0.57], rtol=1e-12)
    assert_allclose(nodes[0].zero_load_ttft_s, [0.58, 0.91, 0.54], rtol=1e-12)
    assert_allclose([r.prefill_busy_s for r in nodes], [0.58 + 0.51 + 0.54, 0.52 + 0.57], rtol=1e-12)
    assert [r.first_arrival_s for r in nodes] == [0.0, 10.0]
    assert_allclose([r.last_done_s for r in nodes], [40.54, 30.57], rtol=1e-12)
    # the pool holds 3.25 blocks on average over the 40 s (as one node would), half of it per node
    for r in nodes:
        assert_allclose(r.mean_occupied_gb, [3.25 * GB / 2, 0.0], rtol=1e-12)
        # the pool's DRAM (2 × 5 blocks) charged half to each node
        assert_allclose(r.storage_usd_per_hour, 10 * GB * DRAM_USD_PER_H / 2, rtol=1e-12)
    # the NIC of data/hardware.csv: 400 Gb/s = 50 GB/s, 4 MB in 80 µs, under the 0.08 s tier load
    default_nic = simulate_global(_trace(), _config(), 2)
    assert_allclose(default_nic[0].ttft_s, [0.58, 0.59, 0.54], rtol=1e-12)
    s = simulate_fleet(_trace(), _config(), 2, "global").summary()
    assert s["remote_tokens"] == 4 and s["route"] == "global"


def test_global_pool_on_occupied_storage():
    """Charged on occupied GB: everything sits in HBM (price 0), so storage costs nothing."""
    nodes = simulate_global(_trace(), _config(cost_basis="occupied"), 2)
    assert [r.storage_usd_per_hour for r in nodes] == [0.0, 0.0]


def test_global_pool_with_idle_nodes():
    """Seven nodes, five requests: nodes 0-4 compute one each, nodes 5 and 6 nothing."""
    nodes = simulate_global(_trace(), _config(), 7)
    assert [r.node for r in nodes] == list(range(7))
    assert [r.requests for r in nodes] == [1, 1, 1, 1, 1, 0, 0]
    assert [r.lookups for r in nodes] == [2, 2, 2, 2, 1, 0, 0]
    assert nodes[5].first_arrival_s == math.inf and nodes[6].ttft_s.shape == (0,)
    assert_allclose([r.ttft_s[0] for r in nodes[:5]][::2], [0.58, 0.08 + 0.51, 0.54], rtol=1e-12)
