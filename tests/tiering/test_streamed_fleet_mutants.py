"""model.tiering.streamed_fleet on fleets small enough to work out by hand: the five-request trace of
test_tiering_fleet_mutants.py (blocks of 4 tokens, 1 MB of KV per token, a prefill of 0.5 s + 0.01 s per new
token, loads at 0.01 s per token from HBM, requests 10 s apart: no queueing) fed to the streamed fleet in
batches, so that routing across batches, the global pool's shares and NIC time, the kept requests, the
sampled interval (finite-population correction, Student's t) and the summary are each a sum written out below.

The trace (session ids in brackets):
    r0 at  0 s: blocks [1, 2], 8 tokens [4]      r1 at 10 s: blocks [1, 3], 6 tokens [7]
    r2 at 20 s: blocks [1, 2], 8 tokens [4]      r3 at 30 s: blocks [4, 5], 7 tokens [9]
    r4 at 40 s: block  [6],    4 tokens [2]
"""
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import model.tiering.streamed_fleet as sf
import model.workload.chat as chat
from model.checks import ParameterError
from model.tiering.config import Tier, TierConfig
from model.tiering.engine import PrefillEngine
from model.workload.trace import _from_lists, _take

GB = 4 * 1e6 / 1e9                     # one block: 4 tokens × 1 MB of KV per token, in GB
TTFT = [0.58, 0.04 + 0.52, 0.08 + 0.51, 0.57, 0.54]    # every request on one node (r1 reuses 1 block, r2 two)


def _engine(*, instances=1, gpus=1, s_fixed=0.5):
    return PrefillEngine("hand", 0.01, 0.0, 0.0, 0.0, 0.0, 0.0, kv_bytes_per_token=1e6, gpus_per_instance=gpus,
                         n_instances=instances, gpu_usd_per_hour=2.0, s_fixed=s_fixed)


def _config(engine=None):
    """HBM of 10 blocks read at 1e8 B/s (0.01 s per token), DRAM of 5 blocks at 5e7 B/s."""
    return TierConfig(tiers=(Tier("hbm", 10, 1e8, 1e8, 0.0), Tier("dram", 5, 5e7, 5e7, 7.3)),
                      engine=engine or _engine(), block_tokens=4)


def _trace(idx=range(5)):
    full = _from_lists("hand", [0.0, 10.0, 20.0, 30.0, 40.0], [8, 6, 8, 7, 4], [2] * 5,
                       [[1, 2], [1, 3], [1, 2], [4, 5], [6]], 4, session=np.array([4, 7, 4, 9, 2]))
    return _take(full, np.asarray(list(idx), dtype=np.int64))


def _batches_of(*parts):
    return [_trace(p) for p in parts]


def _fleet(route, n_nodes, nodes, batches, config=None, **spec):
    f = sf._Fleet(sf.FleetSpec(route, n_nodes, tuple(nodes), **spec), config or _config())
    for b in batches:
        f.step(b)
    return f


# --- batches of the stream -------------------------------------------------------------------------------------
def test_batches_join_windows_until_they_hold_enough_lookups():
    """Windows of 2, 0 (skipped), 2, 2 and 1 lookups joined to at least 3: (r0, r1), (r2, r3), then r4 alone."""
    chunks = [_trace([0]), _trace([]), _trace([1]), _trace([2, 3]), _trace([4])]
    out = list(sf._batches(iter(chunks), 3))
    assert [b.n_requests for b in out] == [2, 2, 1]
    assert [b.n_blocks for b in out] == [4, 4, 1]
    assert_array_equal(out[0].arrival_s, [0.0, 10.0])
    assert out[1] is chunks[3] and out[2] is chunks[4]        # a single window passes through as it is
    assert_array_equal(np.concatenate([b.block_ids for b in out]), [1, 2, 1, 3, 1, 2, 4, 5, 6])
    # exactly the threshold closes a batch; one lookup short does not
    assert [b.n_requests for b in sf._batches(iter(chunks), 2)] == [1, 1, 2, 1]
    assert [b.n_requests for b in sf._batches(iter(chunks), 5)] == [4, 1]
    assert list(sf._batches(iter([_trace([])]), 1)) == []
    # after a batch the count starts again from 0: windows of 2, 2, 2, 1 to at least 3 make (2 + 2), (2 + 1)
    four = [_trace([0]), _trace([1]), _trace([2]), _trace([4])]
    assert [b.n_requests for b in sf._batches(iter(four), 3)] == [2, 2]
    # the windows left at the end are joined too
    (rest,) = sf._batches(iter(four), 100)
    assert rest.n_requests == 4 and list(rest.arrival_s) == [0.0, 10.0, 20.0, 40.0]


# --- routing across the batches of the stream --------------------------------------------------------------------
def test_round_robin_continues_from_batch_to_batch():
    """One request per batch on 2 nodes: r0, r2, r4 on node 0, r1, r3 on node 1 (a round-robin restarting at
    node 0 in every batch would send all five to node 0)."""
    f = _fleet("round-robin", 2, [0, 1], _batches_of([0], [1], [2], [3], [4]))
    assert_array_equal(f.load, [3, 2])
    assert f.load.dtype == np.int64 and f.rows()[0]["ttft_hist"].dtype == np.int64
    assert f.seen == 5
    rows = f.rows()
    assert [r["requests"] for r in rows] == [3, 2]
    assert [r["lookups"] for r in rows] == [5, 4]
    assert [r["hits"] for r in rows] == [2, 0]                 # r2 finds r0's blocks 1 and 2 on node 0
    # batches of 3 then 2: r3 continues on node 1, r4 on node 0
    g = _fleet("round-robin", 2, [0, 1], _batches_of([0, 1, 2], [3, 4]))
    assert_array_equal(g.load, [3, 2])
    assert [r["lookups"] for r in g.rows()] == [5, 4]


def test_pools_are_for_the_global_route_only():
    """pool_nodes is ignored by the other routes: each node is its own unit with its own cache."""
    f = _fleet("round-robin", 2, [0, 1], _batches_of([0, 1, 2, 3, 4]), pool_nodes=2)
    rows = f.rows()
    assert [r["unit"] for r in rows] == [0, 1] and [r["lookups"] for r in rows] == [5, 4]
    assert_allclose(rows[0]["gb_used"], [2 * GB, 0.0], rtol=1e-12)      # blocks 1, 2 over its 40 s, not halved


def test_each_node_keeps_its_requests_in_arrival_order():
    """Twenty requests of new blocks, 1 s apart, round-robin on 2 nodes: node 0 keeps 0, 2, …, 18 s in order."""
    t = _from_lists("twenty", np.arange(20.0), [4] * 20, [1] * 20, [[100 + i] for i in range(20)], 4)
    f = sf._Fleet(sf.FleetSpec("round-robin", 2, (0, 1), keep=(0, 1)), _config())
    f.step(t)
    assert list(f.traces()[0].arrival_s) == list(np.arange(0.0, 20.0, 2.0))
    assert list(f.traces()[1].arrival_s) == list(np.arange(1.0, 20.0, 2.0))


def test_session_and_prefix_routes_in_batches():
    f = _fleet("session", 3, [0, 1, 2], _batches_of([0, 1], [2, 3, 4]))
    assert_array_equal(f.load, [1, 3, 1])                     # sessions 4, 7, 4, 9, 2 mod 3: 1, 1, 1, 0, 2
    assert [r["requests"] for r in f.rows()] == [1, 3, 1]
    p = _fleet("prefix", 2, [0, 1], _batches_of([0, 1, 2, 3, 4]), prefix_blocks=2)
    owner = lambda b: (((b * 0x9E3779B97F4A7C15) % 2 ** 64) >> 32) % 2     # Fibonacci hash in integers
    want = np.bincount([owner(b) for b in (2, 3, 2, 5, 6)], minlength=2)
    assert_array_equal(p.load, want)


def test_sparse_and_dense_node_sets_agree():
    """Simulating 1 node of 9 (looked up per node) or all 9 (sorted once) gives node 0 the same requests."""
    batches = _batches_of([0, 1], [2, 3, 4])
    one = _fleet("round-robin", 9, [0], batches)
    every = _fleet("round-robin", 9, range(9), batches)
    assert one.rows()[0]["requests"] == every.rows()[0]["requests"] == 1
    assert_allclose(one.rows()[0]["ttft_mean_s"], 0.58, rtol=1e-12)       # r0 alone: its own TTFT
    assert_array_equal(one.load, [1, 1, 1, 1, 1, 0, 0, 0, 0])
    assert_array_equal(every.load, one.load)
    assert [r["requests"] for r in every.rows()] == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert [r["lookups"] for r in every.rows()] == [2, 2, 2, 2, 1, 0, 0, 0, 0]


# --- one node's figures ------------------------------------------------------------------------------------------
def test_one_node_row_by_hand():
    """All five requests on one node, fed in two batches (the queues carry over): TTFT as in the replayed
    fleet; prefill busy = TTFT − load; the full prefill (nothing cached) of 8, 6, 8, 7, 4 tokens."""
    f = _fleet("round-robin", 1, [0], _batches_of([0, 1], [2, 3, 4]))
    (row,) = f.rows()
    assert row["node"] == 0 and row["unit"] == 0 and row["requests"] == 5
    assert row["lookups"] == 9 and row["hits"] == 3
    assert_array_equal(row["hits_by_tier"], [3, 0])
    assert row["input_tokens"] == 33 and row["recomputed_tokens"] == 33 - 12
    busy = [0.58, 0.52, 0.51, 0.57, 0.54]
    assert_allclose(row["prefill_busy_s"], sum(busy), rtol=1e-12)
    assert_allclose(row["prefill_full_s"], 5 * 0.5 + 0.01 * 33, rtol=1e-12)
    assert_allclose(row["ttft_mean_s"], sum(TTFT) / 5, rtol=1e-12)
    assert_allclose(row["last_done_s"], 40.54, rtol=1e-12)
    assert row["ttft_hist"].sum() == 5 and len(row["ttft_hist"]) == len(sf.TTFT_BINS_S) + 1
    for t in TTFT:     # each TTFT counted in the bin whose upper edge is the first at or above it
        k = int(np.flatnonzero(sf.TTFT_BINS_S >= t)[0])
        assert row["ttft_hist"][k] >= 1 and sf.TTFT_BINS_S[k - 1] < t <= sf.TTFT_BINS_S[k]
    # blocks 1, 2 from 0 s, 3 from 10 s, 4, 5 from 30 s over the 40 s: 3.25 blocks of HBM
    assert_allclose(row["gb_used"], [3.25 * GB, 0.0], rtol=1e-12)
    assert row["state_bytes"] > 0


def test_queue_carries_over_between_batches():
    """Three 8-token prompts of new blocks at 0 s, the third in a later batch: one prefill instance serves them
    0.58 s each, back to back, so the third's TTFT is 3 × 0.58 s (not 0.58 s, as an idle queue would give)."""
    t = _from_lists("burst", [0.0, 0.0, 0.0], [8, 8, 8], [1, 1, 1], [[1, 2], [3, 4], [5, 6]], 4)
    f = sf._Fleet(sf.FleetSpec("round-robin", 1, (0,)), _config())
    f.step(_take(t, np.array([0, 1])))
    f.step(_take(t, np.array([2])))
    (row,) = f.rows()
    assert_allclose(row["ttft_mean_s"], (0.58 + 1.16 + 1.74) / 3, rtol=1e-12)
    assert_allclose(row["last_done_s"], 1.74, rtol=1e-12)


def test_link_queue_carries_over_between_batches():
    """Ten copies of one 8-token prompt at 0 s, in two batches: the first computes, the other nine load 8 tokens
    (0.08 s each) over one HBM link, back to back, then queue for prefill (0.51 s each)."""
    t = _from_lists("copies", np.zeros(10), [8] * 10, [1] * 10, [[1, 2]] * 10, 4)
    for s_fixed, first, each in ((0.5, 0.58, 0.51), (0.0, 0.08, 0.01)):   # GPU-bound, then link-bound
        f = sf._Fleet(sf.FleetSpec("round-robin", 1, (0,)), _config(_engine(s_fixed=s_fixed)))
        f.step(_take(t, np.arange(5)))
        f.step(_take(t, np.arange(5, 10)))
        (row,) = f.rows()
        done = [first]
        for i in range(1, 10):      # ready after the i-th load on the link; prefill when the GPU frees
            done.append(max(0.08 * i, done[-1]) + each)
        assert_allclose(row["ttft_mean_s"], np.mean(done), rtol=1e-12)
        assert_allclose(row["last_done_s"], done[-1], rtol=1e-12)
        assert_allclose(row["prefill_busy_s"], first + 9 * each, rtol=1e-12)


def test_a_request_with_nothing_to_load_skips_the_link_queue():
    """r_a computes blocks 1, 2 at 0 s; r_b reuses them at 0 s (0.08 s on the link); r_c brings a new block at
    0.01 s and, with nothing to load, is ready then: it is prefilled (0.54 s) before r_b (0.51 s)."""
    t = _from_lists("skip", [0.0, 0.0, 0.01], [8, 8, 4], [1, 1, 1], [[1, 2], [1, 2], [7]], 4)
    f = sf._Fleet(sf.FleetSpec("round-robin", 1, (0,)), _config())
    f.step(t)
    (row,) = f.rows()
    assert_allclose(row["ttft_mean_s"], (0.58 + (0.58 + 0.54 - 0.01) + (0.58 + 0.54 + 0.51)) / 3, rtol=1e-12)
    assert_allclose(row["last_done_s"], 0.58 + 0.54 + 0.51, rtol=1e-12)


# --- the global pool ---------------------------------------------------------------------------------------------
def test_global_pool_shares_and_nic_time_by_hand():
    """One pool of 2 nodes (2 × each tier), computation round-robin within the pool across batches: r0, r2, r4 on
    node 0. Over a 1e7 B/s NIC half of a hit crosses it ((N − 1)/N): r1's 4 reused tokens take 2 MB / 1e7 B/s =
    0.2 s (TTFT 0.2 + 0.52), r2's 8 take 0.4 s (TTFT 0.4 + 0.51). Each node reports half the pool's counters."""
    f = sf._Fleet(sf.FleetSpec("global", 2, (0, 1), pool_nodes=2), _config())
    assert f.pool_cfg.capacities == (20, 10)
    f.nic_bytes_per_s = 1e7
    for b in _batches_of([0], [1, 2], [3, 4]):
        f.step(b)
    assert_array_equal(f.load, [3, 2])
    r0, r1 = f.rows()
    assert (r0["unit"], r1["unit"]) == (0, 0)
    assert (r0["requests"], r1["requests"]) == (3, 2)
    assert r0["lookups"] == r1["lookups"] == 4.5 and r0["hits"] == r1["hits"] == 1.5
    assert_allclose(r0["hits_by_tier"], [1.5, 0.0], rtol=1e-12)
    assert_allclose(r0["ttft_mean_s"], (0.58 + 0.91 + 0.54) / 3, rtol=1e-12)
    assert_allclose(r1["ttft_mean_s"], (0.72 + 0.57) / 2, rtol=1e-12)
    assert_allclose(r0["prefill_busy_s"], 0.58 + 0.51 + 0.54, rtol=1e-12)
    assert_allclose(r1["prefill_busy_s"], 0.52 + 0.57, rtol=1e-12)
    assert r0["recomputed_tokens"] == 20 - 8 and r1["recomputed_tokens"] == 13 - 4
    # the pool holds 3.25 blocks over the 40 s, half of it per node
    assert_allclose(r0["gb_used"], [3.25 * GB / 2, 0.0], rtol=1e-12)
    one = sf._Fleet(sf.FleetSpec("global", 2, (0, 1), pool_nodes=2), _config())
    one.nic_bytes_per_s = 1e7
    one.step(_trace())                 # one batch: r2's NIC time is its own, not the batch's
    assert_allclose([r["ttft_mean_s"] for r in one.rows()], [r0["ttft_mean_s"], r1["ttft_mean_s"]], rtol=1e-12)
    s = sf.ScaleResult("global", 2, 1.0, _config(), tuple(f.rows()), n_units=1, requests_per_node=f.load).summary()
    assert_allclose([s["hit_ratio"], s["hit_ratio_low"], s["hit_ratio_high"]], [3 / 9] * 3, rtol=1e-12)
    assert s["requests"] == 5 and s["lookups"] == 9.0 and s["simulated_units"] == 1
    assert_allclose(s["request_imbalance"], 3 / 2.5, rtol=1e-12)


def test_a_pool_of_four_nodes_by_hand():
    """One pool of 4 nodes, one request per batch: r0..r3 on nodes 0..3, r4 on node 0 again. Three quarters of a
    hit cross the 1e7 B/s NIC: r1's 4 tokens take 0.3 s (TTFT 0.3 + 0.52), r2's 8 take 0.6 s (TTFT 0.6 + 0.51)."""
    f = sf._Fleet(sf.FleetSpec("global", 4, (0, 1, 2, 3), pool_nodes=4), _config())
    f.nic_bytes_per_s = 1e7
    for b in _batches_of([0], [1], [2], [3], [4]):
        f.step(b)
    assert_array_equal(f.load, [2, 1, 1, 1])
    rows = f.rows()
    assert_allclose([r["ttft_mean_s"] for r in rows], [(0.58 + 0.54) / 2, 0.82, 1.11, 0.57], rtol=1e-12)
    assert [r["lookups"] for r in rows] == [2.25] * 4


def test_global_pools_by_session_and_round_robin_within_each():
    """4 nodes in 2 pools of 2: sessions 4, 7, 4, 9, 2 go to pools 0, 1, 0, 1, 0; pool 0 places r0, r2, r4 on
    nodes 0, 1, 0 and pool 1 places r1, r3 on nodes 2, 3, the count carried from batch to batch."""
    f = _fleet("global", 4, [0, 1, 2, 3], _batches_of([0], [1], [2, 3, 4]), pool_nodes=2)   # (r1): pool 1 only
    assert f.n_pools == 2 and f.pools == [0, 1]
    assert_array_equal(f.load, [2, 1, 1, 1])
    rows = f.rows()
    assert [r["requests"] for r in rows] == [2, 1, 1, 1] and [r["unit"] for r in rows] == [0, 0, 1, 1]
    # pool 0: r0, r2, r4, 5 lookups, 2 hits (r2); pool 1: r1, r3, 4 lookups, none
    assert [r["lookups"] for r in rows] == [2.5, 2.5, 2.0, 2.0] and [r["hits"] for r in rows] == [1, 1, 0, 0]
    # only the simulated pool is replayed
    g = _fleet("global", 4, [2, 3], _batches_of([0, 1], [2], [3, 4]), pool_nodes=2)
    assert g.pools == [1] and sorted(g.replays) == [1]
    assert [r["requests"] for r in g.rows()] == [1, 1]


def test_an_idle_node_has_a_row_of_zeros():
    zeros = {"node": 2, "unit": 2, "requests": 0, "lookups": 0, "hits": 0, "input_tokens": 0,
             "recomputed_tokens": 0, "prefill_busy_s": 0.0, "prefill_full_s": 0.0}
    f = _fleet("round-robin", 3, [0, 1, 2], _batches_of([0, 1]))
    unfed = _fleet("round-robin", 3, [0, 1, 2], [])                # an empty stream: no batch at all
    pools = _fleet("global", 6, [4, 5], _batches_of([0, 1]), pool_nodes=2)      # its pool receives nothing
    for idle, node in ((f.rows()[2], 2), (unfed.rows()[2], 2), (pools.rows()[0], 4)):
        assert set(idle) == set(zeros) | {"hits_by_tier"}
        assert idle == {**zeros, "node": node, "unit": node // (2 if node == 4 else 1), "hits_by_tier": idle["hits_by_tier"]}
        assert type(idle["unit"]) is int
        assert_array_equal(idle["hits_by_tier"], [0.0, 0.0])


# --- requests kept for the capacity analysis ------------------------------------------------------------------------
@pytest.mark.parametrize("cap, kept, truncated", [(100, [0, 2, 4], False), (5, [0, 2, 4], False),
                                                  (4, [0, 2], True), (3, [0], True), (2, [0], True), (1, [], True)])
def test_kept_requests_stop_at_the_cap(monkeypatch, cap, kept, truncated):
    """Node 0 of 2 (round-robin) receives r0, r2, r4 (2, 2, 1 lookups), in batches (r0, r1, r2) and (r3, r4):
    whole requests are kept while they fit under the cap; the unit is marked cut once one does not."""
    real = sf.default
    monkeypatch.setattr(sf, "default", lambda name: cap if name == "fleet_keep_max_lookups" else real(name))
    f = _fleet("round-robin", 2, [0, 1], _batches_of([0, 1, 2], [3, 4]), keep=(0,))
    traces = f.traces()
    assert sorted(traces) == ([0] if kept else [])
    if kept:
        assert_array_equal(traces[0].arrival_s, [10.0 * i for i in kept])
    assert f.truncated == ({0} if truncated else set())
    assert 1 not in traces


def test_kept_lookups_add_up_over_batches(monkeypatch):
    """One request per batch: node 0 keeps r0 (2 lookups) and r2 (2 more, 4 in all); r4 no longer fits under 4."""
    real = sf.default
    monkeypatch.setattr(sf, "default", lambda name: 4 if name == "fleet_keep_max_lookups" else real(name))
    f = _fleet("round-robin", 2, [0, 1], _batches_of([0], [1], [2], [3], [4]), keep=(0,))
    assert list(f.traces()[0].arrival_s) == [0.0, 20.0] and f.truncated == {0}


def test_global_keeps_pools():
    f = _fleet("global", 4, [0, 1, 2, 3], _batches_of([0, 1], [2, 3, 4]), pool_nodes=2, keep=(1,))
    (pool, t), = f.traces().items()
    assert pool == 1 and list(t.arrival_s) == [10.0, 30.0]


# --- the sampled estimate -------------------------------------------------------------------------------------------
def test_ratio_interval_by_hand():
    """Hits 1, 3, 2 of 10, 20, 10 lookups, 3 nodes sampled of 6: ratio 6/40 = 0.15; residuals −0.5, 0, 0.5
    (variance 0.25 with k − 1 = 2 degrees of freedom); standard error √((1 − 3/6) × 0.25 / 3) ÷ (40/3);
    t(2) = 4.302653 (its closed form 2 × 0.475 / √(2 × 0.975 × 0.025) = 0.95 / √0.04875)."""
    est, lo, hi = sf.ratio_interval([1, 3, 2], [10, 20, 10], 6)
    se = math.sqrt(0.5 * 0.25 / 3) / (40 / 3)
    t2 = 0.95 / math.sqrt(0.04875)
    assert_allclose(t2, 4.302653, atol=1e-6)
    assert_allclose([est, lo, hi], [0.15, 0.15 - t2 * se, 0.15 + t2 * se], rtol=1e-12)
    # without the finite-population correction the half-width would be √2 times this one
    assert_allclose(hi - lo, 2 * t2 * math.sqrt(0.25 / 3) / (40 / 3) / math.sqrt(2), rtol=1e-12)
    # two of four: ratio 4/30; residuals 1 − 4/3, 3 − 8/3 (variance 2/9); se √(0.5 × (2/9) / 2) ÷ 15; t(1) = tan(0.475π)
    est, lo, hi = sf.ratio_interval(np.array([1.0, 3.0]), np.array([10.0, 20.0]), 4)
    se = math.sqrt(0.5 * (2 / 9) / 2) / 15
    assert_allclose([est, lo, hi], [4 / 30, 4 / 30 - 12.706205 * se, 4 / 30 + 12.706205 * se], rtol=1e-6)


@pytest.mark.parametrize("k, n_total", [(1, 10), (3, 3), (3, 2)])
def test_ratio_interval_without_spread(k, n_total):
    """One node sampled (no variance to estimate) or the whole fleet (no sampling error): the interval is the
    estimate."""
    hits, lookups = np.array([1.0, 3.0, 2.0])[:k], np.array([10.0, 20.0, 10.0])[:k]
    r = hits.sum() / lookups.sum()
    assert sf.ratio_interval(hits, lookups, n_total) == (r, r, r)


def _a_s_26_7_5(df):
    """Abramowitz & Stegun 26.7.5: t ≈ x + g1/ν + g2/ν² + g3/ν³ + g4/ν⁴, x the normal quantile, the g's
    polynomials in x (coefficients highest power first)."""
    x = 1.959963984540054
    g = [np.polyval([1, 0, 1, 0], x) / 4, np.polyval([5, 0, 16, 0, 3, 0], x) / 96,
         np.polyval([3, 0, 19, 0, 17, 0, -15, 0], x) / 384,
         np.polyval([79, 0, 776, 0, 1482, 0, -1920, 0, -945, 0], x) / 92160]
    return x + sum(gi / df ** (i + 1) for i, gi in enumerate(g))


def test_t_quantile_closed_forms_and_series():
    assert_allclose(sf.t_quantile_975(1), 12.706204736174703, rtol=1e-12)     # tan(0.475π)
    assert_allclose(sf.t_quantile_975(2), 4.302652729749464, rtol=1e-12)      # 0.95 / √0.04875
    for df in (3, 4, 7, 30, 1000):
        assert_allclose(sf.t_quantile_975(df), _a_s_26_7_5(df), rtol=1e-13)
    with pytest.raises(ParameterError) as e:
        sf.t_quantile_975(0)
    assert str(e.value) == "df=0 is not allowed: df must be an integer in [1, inf]"


def test_ttft_bins_and_histogram_percentile():
    bins = sf.TTFT_BINS_S
    # log(1e11) / log(1.01) = 2545.4 bins of 1%: 2546 edges from 0.1 ms to 1e7 s
    assert len(bins) == 2546 and bins[0] == pytest.approx(1e-4, rel=1e-12) and bins[-1] == pytest.approx(1e7, rel=1e-12)
    assert_allclose(bins[1:] / bins[:-1], 1e11 ** (1 / 2545), rtol=1e-9)
    hist = np.zeros(len(bins) + 1, np.int64)
    hist[10], hist[20] = 3, 1
    assert sf.hist_percentile(hist, 50) == bins[10]
    assert sf.hist_percentile(hist, 75) == bins[10]           # 3 of 4 reached exactly: still the first bin
    assert sf.hist_percentile(hist, 76) == bins[20]
    assert sf.hist_percentile(hist, 95) == bins[20]
    tail = np.zeros(len(bins) + 1, np.int64)
    tail[10], tail[20] = 100, 1                                # the 100th percentile is the last request's bin
    assert sf.hist_percentile(tail, 100) == bins[20]
    over = np.zeros(len(bins) + 1, np.int64)
    over[-1] = 2                                               # beyond the last edge: reported at it
    assert sf.hist_percentile(over, 50) == bins[-1]
    assert math.isnan(sf.hist_percentile(np.zeros(len(bins) + 1, np.int64), 50))


# --- the summary ------------------------------------------------------------------------------------------------
def _row(node, unit, requests, lookups, hits, busy, full, inp, rec, gb, hist_bin, state=1000):
    hist = np.zeros(len(sf.TTFT_BINS_S) + 1, np.int64)
    hist[hist_bin] = requests
    return {"node": node, "unit": unit, "requests": requests, "lookups": lookups, "hits": hits,
            "hits_by_tier": np.array([hits - 1, 1.0]), "input_tokens": inp, "recomputed_tokens": rec,
            "prefill_busy_s": busy, "prefill_full_s": full, "ttft_hist": hist, "gb_used": np.array(gb),
            "state_bytes": state, "ttft_mean_s": 0.0, "last_done_s": 0.0}


def test_summary_and_node_table_by_hand():
    """Three sampled nodes of 6 (one idle): the hit ratio is Σ hits ÷ Σ lookups of the live units with the
    interval of ratio_interval; every other figure a sum or a mean over the rows written out here."""
    rows = (_row(0, 0, 4, 10, 2.0, 3.0, 4.0, 100, 60, [1.0, 2.0], 100, state=2_000_000),
            _row(2, 2, 2, 30, 9.0, 1.5, 2.0, 50, 20, [3.0, 6.0], 200, state=5_000_000),
            {"node": 4, "unit": 4, "requests": 0})             # an idle node: no counters at all
    load = np.array([4, 1, 2, 3, 0, 2])
    cfg = _config(_engine(gpus=4))
    res = sf.ScaleResult("session", 6, 50.0, cfg, rows, n_units=6, requests_per_node=load)
    s = res.summary()
    est, lo, hi = sf.ratio_interval([2.0, 9.0], [10.0, 30.0], 6)
    assert_allclose([s["hit_ratio"], s["hit_ratio_low"], s["hit_ratio_high"]], [est, lo, hi], rtol=1e-12)
    assert_allclose(est, 11 / 40, rtol=1e-12)
    assert s["route"] == "session" and s["nodes"] == 6 and s["gpus"] == 24 and s["sessions"] == 50.0
    assert s["simulated_nodes"] == 3 and s["simulated_units"] == 3 and math.isnan(s["pools"])
    assert s["requests"] == 6 and s["lookups"] == 40.0
    assert_allclose(s["prefill_tokens_saved_share"], 1 - 80 / 150, rtol=1e-12)
    assert_allclose(s["prefill_saved_s_per_request"], (1.0 + 0.5) / 6, rtol=1e-12)
    assert_allclose(s["prefill_s_per_request"], 4.5 / 6, rtol=1e-12)
    assert_allclose(s["input_tokens_per_request"], 150 / 6, rtol=1e-12)
    assert_allclose(s["recomputed_tokens_per_request"], 80 / 6, rtol=1e-12)
    # 4 requests in bin 100, 2 in bin 200: the median in bin 100, the P95 in bin 200
    assert s["ttft_p50_s"] == sf.TTFT_BINS_S[100] and s["ttft_p95_s"] == sf.TTFT_BINS_S[200]
    assert_allclose(s["load_imbalance"], 3.0 / (4.5 / 3), rtol=1e-12)       # the idle node counts as 0
    assert_allclose(s["request_imbalance"], 4 / (12 / 6), rtol=1e-12)       # every node of the fleet
    assert s["state_mb_per_node"] == 5.0
    assert_allclose([s["hit_ratio_hbm"], s["hit_ratio_dram"]], [(1.0 + 8.0) / 40, 2 / 40], rtol=1e-12)
    assert_allclose([s["hbm_gb_used_mean"], s["dram_gb_used_mean"]], [2.0, 4.0], rtol=1e-12)
    t = res.node_table()
    assert list(t.columns) == ["node", "requests", "lookups", "hit_ratio", "ttft_p95_s", "prefill_busy_s"]
    assert list(t["node"]) == [0, 2, 4] and list(t["requests"]) == [4, 2, 0] and list(t["lookups"]) == [10, 30, 0]
    assert_allclose(t["hit_ratio"][:2], [0.2, 0.3], rtol=1e-12) and math.isnan(t["hit_ratio"][2])
    assert t["ttft_p95_s"][0] == sf.TTFT_BINS_S[100] and math.isnan(t["ttft_p95_s"][2])
    assert list(t["prefill_busy_s"]) == [3.0, 1.5, 0.0]


def test_percentiles_of_the_fleet_and_of_a_node():
    """100 requests: 50 in bin 10, 45 in bin 20, 5 in bin 30. Median in bin 10 (the 51st percentile in bin 20),
    P95 in bin 20 (the 96th in bin 30); one request: the means divide by 1."""
    hist = np.zeros(len(sf.TTFT_BINS_S) + 1, np.int64)
    hist[[10, 20, 30]] = [50, 45, 5]
    row = {**_row(0, 0, 100, 10, 2.0, 3.0, 4.0, 100, 60, [1.0, 2.0], 10), "ttft_hist": hist}
    res = sf.ScaleResult("session", 1, 1.0, _config(), (row,), n_units=1, requests_per_node=np.array([100]))
    s = res.summary()
    bins = sf.TTFT_BINS_S
    assert (s["ttft_p50_s"], s["ttft_p95_s"]) == (bins[10], bins[20])
    assert res.node_table()["ttft_p95_s"][0] == bins[20]
    one = sf.ScaleResult("session", 1, 1.0, _config(), (_row(0, 0, 1, 2, 1.0, 0.5, 0.75, 8, 6, [1.0, 1.0], 5),),
                         n_units=1).summary()
    assert one["requests"] == 1 and one["prefill_s_per_request"] == 0.5 and one["input_tokens_per_request"] == 8
    assert one["prefill_saved_s_per_request"] == 0.25 and one["recomputed_tokens_per_request"] == 6
    assert one["load_imbalance"] == 1.0                        # a single node, busy 0.5 s: its own mean


def test_summary_counts_units_and_pools():
    """Under global the units are pools: two nodes of one pool make one unit (hits and lookups added), and the
    request imbalance is over the simulated pools' nodes."""
    rows = (_row(0, 0, 3, 10, 2.0, 1.0, 1.0, 10, 5, [1.0, 1.0], 5),
            _row(1, 0, 1, 10, 4.0, 1.0, 1.0, 10, 5, [1.0, 1.0], 5),
            _row(2, 1, 2, 20, 4.0, 1.0, 1.0, 10, 5, [1.0, 1.0], 5))
    res = sf.ScaleResult("global", 8, 1.0, _config(), rows, n_units=4, requests_per_node=np.array([9] * 8))
    s = res.summary()
    est, lo, hi = sf.ratio_interval([6.0, 4.0], [20.0, 20.0], 4)
    assert_allclose([s["hit_ratio"], s["hit_ratio_low"], s["hit_ratio_high"]], [est, lo, hi], rtol=1e-12)
    assert lo < est < hi
    assert s["pools"] == 4 and s["simulated_units"] == 2 and s["simulated_nodes"] == 3
    assert_allclose(s["request_imbalance"], 3 / 2, rtol=1e-12)
    assert math.isnan(sf.ScaleResult("session", 8, 1.0, _config(), rows, n_units=8)._request_imbalance())
    idle = sf.ScaleResult("session", 2, 1.0, _config(), rows, n_units=2, requests_per_node=np.zeros(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # no 0 / 0 behind the NaN
        assert math.isnan(idle._request_imbalance())
    # no n_units: the nodes are the units (3 sampled units of 8 nodes: an interval)
    bare = sf.ScaleResult("session", 8, 1.0, _config(), rows, requests_per_node=np.ones(8)).summary()
    assert bare["hit_ratio_low"] == sf.ratio_interval([6.0, 4.0], [20.0, 20.0], 8)[1]
    zero = tuple({**r, "prefill_busy_s": 0.0} for r in rows)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(sf.ScaleResult("session", 3, 1.0, _config(), zero, n_units=3).summary()["load_imbalance"])


# --- the plan of units and the whole pass -------------------------------------------------------------------------------
@pytest.mark.parametrize("n, route, sample, pool, want", [
    (12, "session", None, None, (1, list(range(12)))),
    (12, "session", 4, None, (1, [0, 3, 6, 9])),
    (12, "session", 5, None, (1, [0, 2, 4, 7, 9])),
    (12, "session", 12, None, (1, list(range(12)))),
    (12, "session", 13, None, (1, list(range(12)))),
    (12, "global", None, None, (12, [0])),
    (12, "global", None, 3, (3, [0, 1, 2, 3])),
    (12, "global", 2, 3, (3, [0, 2])),
    (12, "round-robin", 1, 3, (1, [0])),
])
def test_units_by_hand(n, route, sample, pool, want):
    assert sf._units(n, route, sample, pool) == want


@pytest.mark.parametrize("call, message", [
    (lambda: sf._units(12, "global", None, 5), "pool_nodes=5 is not allowed: pool_nodes must be a divisor of the fleet's 12 nodes"),
    (lambda: sf._units(12, "global", None, 0), "pool_nodes=0 is not allowed: pool_nodes must be an integer in [1, inf]"),
    (lambda: sf._units(12, "session", 0, None), "sample_nodes=0 is not allowed: sample_nodes must be an integer in [1, inf]"),
    (lambda: sf.simulate_chat_fleets(None, _config(), 0, ["session"]),
     "nodes=0 is not allowed: nodes must be an integer in [1, inf]"),
    (lambda: sf.simulate_chat_fleets(None, _config(), 2, ["session", "random"]),
     "route='random' is not allowed: route must be one of 'round-robin', 'session', 'prefix', 'global'"),
    (lambda: sf.simulate_chat_fleets(None, _config(), 2, ["session"], prefix_blocks=0),
     "prefix_blocks=0 is not allowed: prefix_blocks must be an integer in [1, inf]"),
    (lambda: sf.simulate_chat_fleets(None, _config(_engine(instances=2)), 2, ["session"]),
     "n_instances=2 is not allowed: n_instances must be 1 per node in the streamed fleet"),
    (lambda: sf.simulate_chat_fleet(None, _config(), 2, "random"),
     "route='random' is not allowed: route must be one of 'round-robin', 'session', 'prefix', 'global'"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ParameterError) as err:
        call()
    assert str(err.value) == message


@pytest.fixture
def hand_stream(monkeypatch):
    """The chat generator replaced by the hand trace in three windows, batches of at least 3 lookups, and the
    workers run in this process; records the generator's and the runner's arguments."""
    seen = {"gen": [], "map": []}

    def gen(params, *, seed, window_s, max_sessions):
        seen["gen"].append((params, seed, window_s, max_sessions))
        return iter(_batches_of([0], [1, 2], [3, 4]))

    def fake_map(fn, jobs, *, workers=1, scheduler=None):
        seen["map"].append((len(jobs), workers, scheduler))
        return [fn(job) for job in jobs]

    real = sf.default
    monkeypatch.setattr(chat, "iter_character_chat_windows", gen)
    monkeypatch.setattr(sf, "map_jobs", fake_map)
    monkeypatch.setattr(sf, "default", lambda name: 3 if name == "fleet_batch_lookups" else real(name))
    return seen


P = SimpleNamespace(concurrent_sessions=100.0, think_time_s=50.0)


def test_whole_pass_on_the_hand_stream(hand_stream):
    """Batches (r0, r1) and (r2, r3, r4) (3 lookups each at least): round-robin on 2 nodes continues across them."""
    out = sf.simulate_chat_fleets(P, _config(), 2, ["round-robin", "session"], seed=7, window_s=5.0,
                                  max_sessions=9, keep_units=1)
    assert hand_stream["gen"] == [(P, 7, 5.0, 9)] and hand_stream["map"] == [(1, 1, None)]
    rr = out["round-robin"]
    assert rr.route == "round-robin" and rr.n_nodes == 2 and rr.n_units == 2 and rr.sessions == 100.0
    assert type(rr.n_units) is int
    assert [r["requests"] for r in rr.nodes] == [3, 2] and [r["lookups"] for r in rr.nodes] == [5, 4]
    assert_array_equal(rr.requests_per_node, [3, 2])
    assert sorted(rr.traces) == [0] and list(rr.traces[0].arrival_s) == [0.0, 20.0, 40.0]
    assert rr.traces_truncated == frozenset()
    ss = out["session"]                                        # sessions 4, 7, 4, 9, 2 mod 2: 0, 1, 0, 1, 0
    assert [r["requests"] for r in ss.nodes] == [3, 2]
    s = rr.summary()
    assert s["requests"] == 5 and s["hit_ratio"] == 2 / 9
    # the GPUs of prefill in steady state: 100 sessions ÷ 50 s = 2 requests/s × seconds per request × 1 GPU
    assert_allclose(sf.prefill_gpus(s, P, _config()), 2 * s["prefill_s_per_request"], rtol=1e-12)
    assert_allclose(sf.prefill_gpus(s, P, _config()), 2 * (0.58 + 0.51 + 0.54 + 0.56 + 0.57) / 5, rtol=1e-12)
    assert_allclose(sf.prefill_gpus_saved(s, P, _config(_engine(gpus=4))), 4 * 2 * 0.07 / 5, rtol=1e-12)
    one = sf.simulate_chat_fleet(P, _config(), 2, "round-robin", seed=7)
    assert [r["requests"] for r in one.nodes] == [3, 2]
    assert one.traces == {} and one.traces_truncated == frozenset()          # nothing kept by default
    # prefix routing by default on the first block: ids 1, 1, 1, 4, 6 (Fibonacci hash mod 2)
    owner = lambda b: (((b * 0x9E3779B97F4A7C15) % 2 ** 64) >> 32) % 2
    pre = sf.simulate_chat_fleet(P, _config(), 2, "prefix")
    assert_array_equal(pre.requests_per_node, np.bincount([owner(b) for b in (1, 1, 1, 4, 6)], minlength=2))
    assert hand_stream["gen"][-1][1:] == (0, None, None)                      # seed 0 by default


def test_workers_split_the_nodes_and_give_the_same_rows(hand_stream):
    """Two workers take nodes 0, 2 and 1 of 3; the rows come back in node order, identical to one worker's."""
    one = sf.simulate_chat_fleets(P, _config(), 3, ["round-robin", "global"], keep_units=3)
    two = sf.simulate_chat_fleets(P, _config(), 3, ["round-robin", "global"], workers=2, keep_units=3)
    assert hand_stream["map"] == [(1, 1, None), (2, 2, None)]
    for r in ("round-robin", "global"):
        a, b = one[r], two[r]
        assert [x["node"] for x in b.nodes] == [0, 1, 2]
        assert [x["requests"] for x in a.nodes] == [x["requests"] for x in b.nodes]
        assert [x["lookups"] for x in a.nodes] == [x["lookups"] for x in b.nodes]
        assert_array_equal(a.requests_per_node, b.requests_per_node)
        assert sorted(a.traces) == sorted(b.traces)
    assert [x["requests"] for x in two["round-robin"].nodes] == [2, 2, 1]
    assert sorted(two["round-robin"].traces) == [0, 1, 2]
    # global: one pool of 3 nodes (a single unit), so one job
    assert two["global"].n_units == 1
    assert_array_equal(two["global"].requests_per_node, [2, 2, 1])
    # global pools of one node split over two workers: each counts its pools' requests, added up
    g1 = sf.simulate_chat_fleets(P, _config(), 3, ["global"], pool_nodes=1)["global"]
    g2 = sf.simulate_chat_fleets(P, _config(), 3, ["global"], pool_nodes=1, workers=2)["global"]
    assert_array_equal(g1.requests_per_node, [1, 3, 1])          # sessions 4, 7, 4, 9, 2 mod 3: 1, 1, 1, 0, 2
    assert_array_equal(g2.requests_per_node, g1.requests_per_node)
    # a Dask scheduler gets one submission of every job
    sf.simulate_chat_fleets(P, _config(), 3, ["session"], workers=5, scheduler="tcp://10.0.0.1:8786")
    assert hand_stream["map"][-1] == (3, 1, "tcp://10.0.0.1:8786")


def test_kept_requests_cut_in_the_whole_pass(hand_stream, monkeypatch):
    real = sf.default
    monkeypatch.setattr(sf, "default", lambda name: {"fleet_keep_max_lookups": 3, "fleet_batch_lookups": 3}.get(
        name, real(name)) if name in ("fleet_keep_max_lookups", "fleet_batch_lookups") else real(name))
    out = sf.simulate_chat_fleet(P, _config(), 2, "round-robin", keep_units=2)
    assert out.traces_truncated == frozenset({0, 1})
    assert list(out.traces[0].arrival_s) == [0.0] and list(out.traces[1].arrival_s) == [10.0]


def test_checks_before_any_pass(hand_stream):
    """A bad fleet size or prefix position is refused up front, whatever the routes (global routes no request by
    its blocks, and a fleet of 0 nodes has no pool)."""
    assert _msg(lambda: sf.simulate_chat_fleets(P, _config(), 2, ["global"], prefix_blocks=0)) == (
        "prefix_blocks=0 is not allowed: prefix_blocks must be an integer in [1, inf]")
    assert _msg(lambda: sf.simulate_chat_fleets(P, _config(), 0, ["global"])) == (
        "nodes=0 is not allowed: nodes must be an integer in [1, inf]")
    assert hand_stream["gen"] == []


def _msg(call):
    with pytest.raises(ParameterError) as e:
        call()
    return str(e.value)


def test_sampled_fleet_and_pools(hand_stream):
    """Sampling 2 of 4 nodes simulates nodes 0 and 2; under global with pools of 2, one pool of 2 is pool 0."""
    out = sf.simulate_chat_fleets(P, _config(), 4, ["round-robin", "global"], sample_nodes=2, pool_nodes=2)
    assert [r["node"] for r in out["global"].nodes] == [0, 1, 2, 3]          # 2 of 2 pools: all of them
    out["global"] = sf.simulate_chat_fleet(P, _config(), 4, "global", sample_nodes=1, pool_nodes=2)
    assert [r["node"] for r in out["round-robin"].nodes] == [0, 2]
    assert_array_equal(out["round-robin"].requests_per_node, [2, 1, 1, 1])
    assert out["round-robin"].n_units == 4
    g = out["global"]
    assert [r["node"] for r in g.nodes] == [0, 1] and g.n_units == 2
    assert [r["requests"] for r in g.nodes] == [2, 1]         # pool 0 (sessions 4, 4, 2): r0, r2, r4
    s = g.summary()
    assert s["pools"] == 2 and s["simulated_units"] == 1 and s["hit_ratio"] == 2 / 5
