"""model.search.tier_search by hand: an evaluator of three requests built here field by field, its tier split, load
and prefill times, TTFTs and objectives worked out in the comments; the rate search against a closed form (two
requests of 1 s of prefill each); the serving setup's prices and capacities from data/hardware.csv and
data/prices; the grid, the baseline, tie spreading and the TTL prices.

The evaluator: blocks of 10 tokens at 10,000 bytes a token (a block is 1e5 bytes = 1e-4 GB); requests at 0, 10
and 20 s of 20, 25 and 5 prompt tokens (4, 6 and 2 output tokens):

    request  lookups (tokens, LRU stack distance)
    0        (10, never seen), (10, never seen)
    1        (10, 1), (10, 0), (5, never seen)
    2        (5, 0)

The engine prefills 1 ms a token (at least one token); HBM, DRAM and SSD read 1e6, 1e5 and 1e4 bytes/s.
"""
import math
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.search import tier_search as ts
from model.tiering import INFINITE_DISTANCE, PrefillEngine, Tier, TierConfig

INF = INFINITE_DISTANCE
BLOCK_GB = 1e-4
ONE_AND_A_HALF = 1.5 * BLOCK_GB          # holds one whole block


def engine(s_token=1e-3):
    return PrefillEngine(name="e", s_token=s_token, s_pair=0.0, s_sequence=0.0, m_fixed=0.0, m_token=0.0,
                         s_allreduce=0.0, kv_bytes_per_token=1e4, gpus_per_instance=1, n_instances=1,
                         gpu_usd_per_hour=1.0)


def tier_config(s_token=1e-3):
    return TierConfig(tiers=(Tier("hbm", 0, 1e6, 1e6, 0.0), Tier("dram", 0, 1e5, 1e5, 0.0),
                             Tier("ssd", 0, 1e4, 1e4, 0.0)), engine=engine(s_token), block_tokens=10)


def evaluator(**kw):
    base = dict(trace_name="hand", distances=np.array([INF, INF, 1, 0, INF, 0]),
                tokens=np.array([10.0, 10.0, 10.0, 10.0, 5.0, 5.0]), offsets=np.array([0, 2, 5, 6]),
                arrival_s=np.array([0.0, 10.0, 20.0]), input_tokens=np.array([20.0, 25.0, 5.0]),
                output_tokens=np.array([4.0, 6.0, 2.0]), block_bytes_per_token=1e4, block_tokens=10,
                tier_config=tier_config(), fixed_usd_per_hour=10.0, hbm_usd_per_gb_hour=1000.0,
                dram_usd_per_gb_hour=100.0, ssd_usd_per_gb_hour=10.0, slo_s=2.0, slo_rel_tol=1e-6,
                reference_scale=1.0, reference_rps=math.nan, fingerprint="")
    base.update(kw)
    return ts.TierEvaluator(**base)


def test_objectives_and_grids():
    assert [(o.name, o.sense) for o in ts.OBJECTIVES] == [("usd_per_million_tokens", "min"),
                                                              ("throughput_at_slo_rps", "max"), ("ttft_p95_s", "min")]
    assert ts.GB == 1e9
    assert ts.quick_grid() == {"hbm_shares": (0.25, 0.5, 1.0), "dram_gb": (0, 512, 1024, 4096),
                               "ssd_gb": (0, 8000, 30000)}
    assert (len(ts.GRID_HBM_SHARES), len(ts.GRID_DRAM_GB), len(ts.GRID_SSD_GB)) == (5, 12, 9)


def test_blocks_and_tier_split():
    ev = evaluator()
    assert ev.blocks(ONE_AND_A_HALF) == 1 and ev.blocks(0.0) == 0 and ev.blocks(2.5 * BLOCK_GB) == 2
    # 1 block of HBM, 1 of DRAM: depth 0 -> HBM, depth 1 -> DRAM; a never-seen block is recomputed
    assert_allclose(ev.served_tokens(ONE_AND_A_HALF, ONE_AND_A_HALF, 0.0), [[0, 0, 0], [10, 10, 0], [5, 0, 0]],
                    rtol=0)
    # SSD only, 2 blocks: both of request 1's cached blocks and request 2's from SSD
    assert_allclose(ev.served_tokens(0.0, 0.0, 2.5 * BLOCK_GB), [[0, 0, 0], [0, 0, 20], [0, 0, 5]], rtol=0)
    # 1 block of HBM only: request 1's first block (depth 1) misses, so its second (depth 0) is not reused either
    assert_allclose(ev.served_tokens(ONE_AND_A_HALF, 0.0, 0.0), [[0, 0, 0], [0, 0, 0], [5, 0, 0]], rtol=0)
    # 1 block of HBM, none of DRAM, 1 of SSD: depth 0 is HBM's, depth 1 SSD's
    assert_allclose(ev.served_tokens(ONE_AND_A_HALF, 0.0, ONE_AND_A_HALF), [[0, 0, 0], [10, 0, 10], [5, 0, 0]],
                    rtol=0)
    assert ev.served_tokens(0.0, 0.0, 0.0).shape == (3, 3)


def test_unbounded_hit_ratio_and_distinct_kv():
    ev = evaluator()
    # every seen block reused: 20 + 5 of 50 prompt tokens
    assert_allclose(ev.unbounded_hit_ratio(), 25 / 50, rtol=1e-12)
    # 3 never-seen lookups × 10 tokens × 10,000 bytes = 3e5 bytes
    assert_allclose(ev.distinct_kv_gb(), 3e5 / 1e9, rtol=1e-12)


def test_service_times_and_ttft_by_hand():
    ev = evaluator()
    served = ev.served_tokens(ONE_AND_A_HALF, ONE_AND_A_HALF, 0.0)
    load, prefill = ev.service_times(served)
    # 10 tokens × 1e4 bytes ÷ 1e6 (HBM) = 0.1 s, ÷ 1e5 (DRAM) = 1 s; 5 tokens from HBM = 0.05 s
    assert_allclose(load, [[0, 0, 0], [0.1, 1.0, 0], [0.05, 0, 0]], rtol=1e-12)
    # recomputed 20, 5 and 0 (at least 1) tokens at 1 ms
    assert_allclose(prefill, [0.020, 0.005, 0.001], rtol=1e-12)
    # no queueing 10 s apart: 0.02; 1.0 (DRAM) + 0.005; 0.05 + 0.001
    ttft = ev.ttft_s((load, prefill), 1.0)
    assert_allclose(ttft, [0.020, 1.005, 0.051], rtol=1e-9)
    # P95 of three: 0.051 + 0.9 × (1.005 − 0.051)
    assert_allclose(ev.ttft_p95((load, prefill), 1.0), 0.051 + 0.9 * (1.005 - 0.051), rtol=1e-9)
    # a million times the rate (arrivals 0, 1e-5, 2e-5 s): request 2's HBM load waits for request 1's (1e-5 + 0.1),
    # takes 0.05 s, and its prefill (1 ms) runs before request 1's, which waits for DRAM (1e-5 + 1 s):
    # 0.02, 1.005 and 1e-5 + 0.1 + 0.05 + 0.001 − 2e-5 = 0.151 − 1e-5
    assert_allclose(ev.ttft_s((load, prefill), 1e6), [0.020, 1.005, 0.151 - 1e-5], rtol=1e-9)


def two_requests(gap, **kw):
    """Two requests `gap` s apart, nothing cached, 1,000 tokens each: 1 s of prefill each."""
    return evaluator(**{**dict(distances=np.array([INF, INF]), tokens=np.array([1000.0, 1000.0]),
                               offsets=np.array([0, 1, 2]), arrival_s=np.array([0.0, gap]),
                               input_tokens=np.array([1000.0, 1000.0]), output_tokens=np.array([0.0, 0.0])), **kw})


@pytest.mark.parametrize("gap", [10.0, 0.1, 1e-4])
def test_throughput_at_slo_closed_form(gap):
    """Compressed k times, the second request arrives gap/k after the first and waits 1 − gap/k s: P95 TTFT =
    1 + 0.95 (1 − gap/k). At the 1.475 s target 1 − gap/k = 0.5, so gap/k = 0.5 s, and the rate (2 requests over
    the compressed span gap/k) is 4 requests/s, whether the trace starts slower or faster than that."""
    ev = two_requests(gap, slo_s=1.475)
    service = ev.service_times(np.zeros((2, 3)))
    assert_allclose(ev.throughput_at_slo(service), 4.0, rtol=1e-5)


def test_throughput_at_slo_ends():
    # a target of exactly the idle TTFT (1 s) is met while nothing waits: gap/k >= 1, 2 ÷ 1 s = 2 requests/s
    ev = two_requests(10.0, slo_s=1.0)
    assert_allclose(ev.throughput_at_slo(ev.service_times(np.zeros((2, 3)))), 2.0, rtol=1e-5)
    # two requests at the same instant queue at every rate: P95 1 + 0.95 s > 1.5 s, nothing is served
    ev = two_requests(0.0, slo_s=1.5)
    assert ev.throughput_at_slo(ev.service_times(np.zeros((2, 3)))) == 0.0
    # one request never queues: the rate search stops at its cap, between 2^29 and 2^30 = 1.07e9 (its span,
    # zero, counted as 1 s)
    one = evaluator(distances=np.array([INF]), tokens=np.array([1000.0]), offsets=np.array([0, 1]),
                    arrival_s=np.array([0.0]), input_tokens=np.array([1000.0]), output_tokens=np.array([0.0]),
                    slo_s=1.5)
    assert 2.0 ** 29 < one.throughput_at_slo(one.service_times(np.zeros((1, 3)))) <= 2.0 ** 30
    # below the idle TTFT nothing is served
    ev = two_requests(10.0, slo_s=0.999)
    assert ev.throughput_at_slo(ev.service_times(np.zeros((2, 3)))) == 0.0
    # the idle P95 of the 3-request evaluator is 0.9096 s: a 0.9 s target is missed at any rate
    ev = evaluator(slo_s=0.9)
    assert ev.throughput_at_slo(ev.service_times(ev.served_tokens(ONE_AND_A_HALF, ONE_AND_A_HALF, 0.0))) == 0.0


def test_call_by_hand():
    ev = evaluator()
    out = ev({"hbm_gb": ONE_AND_A_HALF, "dram_gb": ONE_AND_A_HALF, "ssd_gb": 0.0})
    assert list(out) == ["usd_per_million_tokens", "throughput_at_slo_rps", "feasible", "ttft_p95_s",
                         "cost_usd_per_hour", "hit_ratio", "hbm_hit_ratio", "dram_hit_ratio", "ssd_hit_ratio"]
    # $10 + 1.5e-4 GB × ($1,000 + $100) an hour
    assert_allclose(out["cost_usd_per_hour"], 10 + ONE_AND_A_HALF * 1100, rtol=1e-12)
    assert_allclose([out["hit_ratio"], out["hbm_hit_ratio"], out["dram_hit_ratio"], out["ssd_hit_ratio"]],
                    [25 / 50, 15 / 50, 10 / 50, 0.0], rtol=1e-12)
    assert_allclose(out["ttft_p95_s"], 0.051 + 0.9 * (1.005 - 0.051), rtol=1e-9)
    thr = out["throughput_at_slo_rps"]
    assert thr > 0 and out["feasible"] is True
    # prompt + output tokens a request: 50/3 + 4
    assert_allclose(out["usd_per_million_tokens"], out["cost_usd_per_hour"] / (thr * (50 / 3 + 4) * 3600) * 1e6,
                    rtol=1e-12)
    assert_allclose(ev.cost_usd_per_hour(1.0, 2.0, 3.0), 10 + 1000 + 200 + 30, rtol=1e-12)
    # the latency is read at the reference load
    at2 = evaluator(reference_scale=1e6)({"hbm_gb": ONE_AND_A_HALF, "dram_gb": ONE_AND_A_HALF, "ssd_gb": 0.0})
    assert_allclose(at2["ttft_p95_s"], 0.151 - 1e-5 + 0.9 * (1.005 - 0.151 + 1e-5), rtol=1e-9)
    infeasible = evaluator(slo_s=0.9)({"hbm_gb": ONE_AND_A_HALF, "dram_gb": ONE_AND_A_HALF, "ssd_gb": 0.0})
    assert infeasible["feasible"] is False and infeasible["usd_per_million_tokens"] == math.inf
    for k in ("hbm_gb", "dram_gb", "ssd_gb"):
        e = pytest.raises(ParameterError, ev, {"hbm_gb": 0.0, "dram_gb": 0.0, "ssd_gb": 0.0, k: -1.0}).value
        assert (e.name, e.allowed) == (k, "a finite number in [0, inf]")


def test_spread_ties_by_hand():
    assert_allclose(ts.spread_ties(np.array([5.0, 5.0, 5.0])), [5.0, 5 + 1 / 3, 5 + 2 / 3], rtol=1e-12)
    # steps of 3 s and the mean gap (3 s) for the last: 0, 1.5 | 3, 4, 5
    assert_allclose(ts.spread_ties(np.array([0, 0, 3, 3, 3])), [0.0, 1.5, 3.0, 4.0, 5.0], rtol=1e-12)
    # the last step keeps the mean gap of the distinct times: (10 − 0) ÷ 2 = 5 s, shared by 2
    assert_allclose(ts.spread_ties(np.array([0, 4, 10, 10])), [0.0, 4.0, 10.0, 12.5], rtol=1e-12)
    t = np.array([1.0, 2.0])
    out = ts.spread_ties(t)
    assert_allclose(out, [1.0, 2.0], rtol=0)
    assert out is not t
    one = np.array([3.0])
    assert list(ts.spread_ties(one)) == [3.0] and ts.spread_ties(one) is not one
    assert ts.spread_ties([1, 2]).dtype == np.float64
    # two at once: one distinct time, no mean gap, a step of 1 s: 0, 0.5
    assert_allclose(ts.spread_ties(np.array([0.0, 0.0])), [0.0, 0.5], rtol=0)
    # a tie on the last time keeps the mean gap of 0.5 s: 0, 0.5, 0.75
    assert_allclose(ts.spread_ties(np.array([0.0, 0.5, 0.5])), [0.0, 0.5, 0.75], rtol=1e-12)


# --- the serving setup and what is built on it ----------------------------------------------------------
# data/hardware.csv: h100-80gb memory_bytes 85,520,809,984, 3,350 GB/s; host-dram-pcie5 64 GB/s at $3.093 per
# GB-month, nvme-ssd 7 GB/s at $0.08; gpu_memory_utilization 0.9; data/prices: aws on-demand h100 $55.04/h ÷ 8
H100_BYTES, USABLE = 85_520_809_984, 0.9
H100_USD = 55.04 / 8
LLAMA31_70B_KV = 2 * 80 * 8 * 128 * 2       # 327,680 bytes per token in fp16


def test_setup_defaults_and_prices():
    s = ts.ServingSetup()
    assert (s.model, s.gpu, s.n_gpus, s.dram_tier, s.ssd_tier, s.ssd_drives, s.slo_ttft_p95_s, s.kv_dtype) == (
        "llama-3.1-70b", "h100-80gb", 8, "host-dram-pcie5", "nvme-ssd", 8, 5.0, "fp16")
    assert (s.price.gpu, s.price.provider, s.price.pricing) == ("h100-80gb", "aws", "on-demand")
    assert_allclose(s.gpu_usd_per_hour, H100_USD, rtol=1e-12)
    assert_allclose(s.hbm_usd_per_gb_hour(), H100_USD / (H100_BYTES / 1e9), rtol=1e-12)
    assert_allclose([s.tier_usd_per_gb_hour("host-dram-pcie5"), s.tier_usd_per_gb_hour("nvme-ssd")],
                    [3.093 / 730, 0.08 / 730], rtol=1e-12)
    assert s.kv_bytes_per_token() == LLAMA31_70B_KV
    assert ts.ServingSetup(kv_dtype="fp8").kv_bytes_per_token() == LLAMA31_70B_KV / 2
    # 4 more GPUs add 4 × 0.9 × 85.52 GB of usable HBM; the weights (about 2 bytes × 70.6e9) are taken once
    assert_allclose(s.free_hbm_gb() - ts.ServingSetup(n_gpus=4).free_hbm_gb(), 4 * USABLE * H100_BYTES / 1e9,
                    rtol=1e-12)
    assert_allclose(s.free_hbm_gb(), 8 * USABLE * H100_BYTES / 1e9 - 141.1, rtol=1e-3)


@pytest.mark.parametrize("name, kw, allowed", [("n_gpus", dict(n_gpus=0), "an integer in [1, inf]"),
                                               ("ssd_drives", dict(ssd_drives=0), "an integer in [1, inf]"),
                                               ("slo_ttft_p95_s", dict(slo_ttft_p95_s=0.0),
                                                "a finite number in (0, inf]")])
def test_setup_refusals(name, kw, allowed):
    e = pytest.raises(ParameterError, ts.ServingSetup, **kw).value
    assert (e.name, e.allowed) == (name, allowed)


def test_setup_prices_of_other_gpus():
    from model.economics.prices import gpu_price
    e = pytest.raises(ParameterError, ts.ServingSetup, gpu="h100-80gb", price=gpu_price("a100-80gb")).value
    assert (e.name, e.allowed) == ("price", "a price of h100-80gb") and e.value.startswith("aws on-demand a100-80gb")
    assert ts.ServingSetup(gpu="a100-80gb", price=gpu_price("a100-80gb", usd_per_gpu_hour=1.5)).gpu_usd_per_hour == 1.5
    # a GPU without a price row: the reader is told to set the price; one without an AWS on-demand row: the same
    e = pytest.raises(ParameterError, ts.ServingSetup, model="llama-3-8b", gpu="gb200-186gb").value
    assert e.name == "gpu" and e.allowed.endswith("(priced in data/prices/gpu_prices.csv), or price set")
    e = pytest.raises(ParameterError, ts.ServingSetup, model="llama-3-8b", gpu="mi300x-192gb").value
    assert (e.name, e.value, e.allowed) == ("price", None, "set: data/prices/gpu_prices.csv has no aws/on-demand "
                                                           "row of mi300x-192gb")


def test_tier_config_and_prefill_coefficients():
    s = ts.ServingSetup(ssd_drives=2)
    c = s.tier_config(eviction="fifo")
    assert c.eviction == "fifo" and c.engine.gpus_per_instance == 8 and c.engine.n_instances == 1
    assert_allclose(c.engine.gpu_usd_per_hour, H100_USD, rtol=1e-12)
    # one PCIe 5 link per GPU to DRAM (8 × 64 GB/s), 2 drives (2 × 7 GB/s), HBM 8 × 3,350 GB/s
    assert_allclose([t.read_bytes_per_s for t in c.tiers], [8 * 3350e9, 8 * 64e9, 2 * 7e9], rtol=1e-12)
    assert c.engine.kv_bytes_per_token == LLAMA31_70B_KV
    e = PrefillEngine.from_names("llama-3.1-70b", "h100-80gb", gpus_per_instance=8)
    assert s.prefill_coefficients() == (e.s_token, e.s_pair)
    small = ts.ServingSetup(model="llama-3-8b", gpu="a100-80gb", n_gpus=2, dram_tier="host-dram",
                            ssd_tier="host-dram")
    sc = small.tier_config()
    assert sc.engine.gpus_per_instance == 2 and "a100-80gb" in sc.engine.name
    assert_allclose([t.read_bytes_per_s for t in sc.tiers], [2 * 2039e9, 2 * 32e9, 8 * 32e9], rtol=1e-12)
    e2 = PrefillEngine.from_names("llama-3-8b", "a100-80gb", gpus_per_instance=2)
    assert small.prefill_coefficients() == (e2.s_token, e2.s_pair)


def test_baseline_and_search_space():
    s = ts.ServingSetup()
    free = s.free_hbm_gb()                                   # 474.6 GB
    b = ts.baseline_config(s)
    assert b == {"hbm_gb": round(0.5 * free), "dram_gb": 1024.0, "ssd_gb": 0.0} and b["hbm_gb"] == 237
    assert ts.baseline_config() == b
    five = ts.baseline_config(s, dram_gb=5)["dram_gb"]
    assert five == 5.0 and type(five) is float
    e = pytest.raises(ParameterError, ts.baseline_config, s, dram_gb=-1.0).value
    assert (e.name, e.allowed) == ("dram_gb", "a finite number in [0, inf]")
    sp = ts.search_space(s, hbm_shares=(0.25, 1.0), dram_gb=(0, 5), ssd_gb=(7,))
    assert [a.name for a in sp.axes] == ["hbm_gb", "dram_gb", "ssd_gb"]
    assert [a.values for a in sp.axes] == [(119.0, 475.0), (0.0, 5.0), (7.0,)]    # round(118.66), round(474.64)
    assert all(type(v) is float for a in sp.axes for v in a.values)
    full = ts.search_space()
    assert [len(a.values) for a in full.axes] == [5, 12, 9]
    assert full.axes[2].values[-1] == 30000.0 and full.axes[1].values[-1] == 6144.0
    assert full.axes[0].values == tuple(float(round(x * free)) for x in (0.125, 0.25, 0.5, 0.75, 1.0))


def test_ttl_prices_and_tiering_config():
    s = ts.ServingSetup()
    p = ts.ttl_prices(s)
    per_token, _ = s.prefill_coefficients()
    assert_allclose(p.storage_usd_per_gb_hour, 3.093 / 730, rtol=1e-12)
    assert_allclose(p.recompute_usd_per_token, 8 * H100_USD / 3600 * per_token, rtol=1e-12)
    assert p.kv_bytes_per_token == LLAMA31_70B_KV
    assert ts.ttl_prices().recompute_usd_per_token == p.recompute_usd_per_token
    # blocks of 512 × 327,680 = 167,772,160 bytes: 1 GB holds 5 (5.96), 2 GB 11 (11.9), 3 GB 17 (17.9)
    c = ts.tiering_config({"hbm_gb": 1.0, "dram_gb": 2.0, "ssd_gb": 3.0}, s, eviction="fifo")
    assert c.capacities == (5, 11, 17) and c.eviction == "fifo"
    assert ts.tiering_config({"hbm_gb": 1.0, "dram_gb": 2.0, "ssd_gb": 3.0}).capacities == (5, 11, 17)


# --- TTL simulation and summary on a three-request trace ------------------------------------------------
def _trace(requests, times, name="t"):
    import json

    from model.workload import parse_mooncake_lines
    return parse_mooncake_lines([json.dumps({"timestamp": int(t * 1000), "input_length": 512 * len(ids),
                                             "output_length": 1, "hash_ids": ids}) for t, ids in zip(times, requests)],
                                name=name)


SMALL = TierConfig(tiers=(Tier("hbm", 3, 1e9, 1e9, 1000.0),), engine=engine(1e-4), block_tokens=512)


def test_ttl_simulator_prices_the_replay():
    from model import tiering
    trace = _trace([[1, 2], [1, 2], [3]], [0, 1, 2])          # 2 s long
    sim = ts.ttl_simulator(trace, SMALL, SimpleNamespace(recompute_usd_per_token=0.01))
    # a 0.5 s TTL expires blocks 1 and 2 before the second request: all 5 blocks (2,560 tokens) recomputed;
    # over 2 s of trace that is 0.01 × 2,560 ÷ (2 ÷ 3,600) $/h
    out = sim({"all": 0.5})
    ref = tiering.simulate(trace, SMALL.with_ttl(by_group={"all": 0.5}))
    storage = float(sum(ref.storage_usd_per_hour.values()))
    assert list(out) == ["cost_usd_per_hour", "storage_usd_per_hour", "recompute_usd_per_hour", "hit_ratio"]
    assert_allclose([out["recompute_usd_per_hour"], out["storage_usd_per_hour"], out["hit_ratio"]],
                    [0.01 * 2560 / (2 / 3600), storage, 0.0], rtol=1e-12)
    assert_allclose(out["cost_usd_per_hour"], storage + 0.01 * 2560 / (2 / 3600), rtol=1e-12)
    kept = sim({})
    assert_allclose([kept["hit_ratio"], kept["recompute_usd_per_hour"]], [0.4, 0.01 * 1536 / (2 / 3600)], rtol=1e-12)
    # a trace shorter than a second is charged over one second
    short = ts.ttl_simulator(_trace([[1]], [0]), SMALL, SimpleNamespace(recompute_usd_per_token=0.01))({})
    assert_allclose(short["recompute_usd_per_hour"], 0.01 * 512 * 3600, rtol=1e-12)


def _choice(costs, col="simulated_cost_usd_per_hour", chosen="per group", ttl=300.0):
    table = pd.DataFrame({"policy": ["best uniform TTL", "per group", "no TTL"], col: costs})
    return SimpleNamespace(table=table, chosen=chosen, policies={"best uniform TTL": {"all": ttl, "x": 9.0}})


def test_ttl_summary_by_hand():
    # block 1 reused after 10 s and after 7,200 s: one reuse of two more than an hour apart
    trace = _trace([[1], [1], [1]], [0, 10, 7210])
    s = ts.ttl_summary(trace, _choice([10.0, 8.0, 12.0]))
    assert s == {"best_uniform_ttl_s": 300.0, "saving_percent": pytest.approx(20.0), "share_reuse_after_1h": 0.5}
    assert type(s["best_uniform_ttl_s"]) is float
    # the analytic column when there is no simulated one; a free uniform TTL: no saving figure (0)
    a = ts.ttl_summary(trace, _choice([0.0, 8.0, 1.0], col="analytic_cost_usd_per_hour", chosen="no TTL"))
    assert (a["saving_percent"], a["share_reuse_after_1h"]) == (0.0, 0.5)
    # a uniform TTL costing under $1/h still has a saving figure: 100 × (0.5 − 0.4) ÷ 0.5
    assert ts.ttl_summary(trace, _choice([0.5, 0.4, 1.0]))["saving_percent"] == pytest.approx(20.0)
    # a reuse 3,601 s later is more than an hour apart
    assert ts.ttl_summary(_trace([[1], [1]], [0, 3601]), _choice([10.0, 8.0, 12.0]))["share_reuse_after_1h"] == 1.0
    b = ts.ttl_summary(trace, _choice([10.0, 8.0, 12.0], col="analytic_cost_usd_per_hour", chosen="no TTL"))
    assert_allclose(b["saving_percent"], 100 * (10 - 12) / 10, rtol=1e-12)
    # both columns: the simulated one is read
    both = _choice([10.0, 8.0, 12.0])
    both.table["analytic_cost_usd_per_hour"] = [1.0, 1.0, 1.0]
    assert ts.ttl_summary(trace, both)["saving_percent"] == pytest.approx(20.0)
    # no block reused: share 0; reuses within the hour: 0 too
    assert ts.ttl_summary(_trace([[1], [2]], [0, 5000]), _choice([10.0, 8.0, 12.0]))["share_reuse_after_1h"] == 0.0
    assert ts.ttl_summary(_trace([[1], [1]], [0, 3600]), _choice([10.0, 8.0, 12.0]))["share_reuse_after_1h"] == 0.0


# --- building the evaluator ------------------------------------------------------------------------------
SETUP_8B = ts.ServingSetup(model="llama-3-8b", gpu="h100-80gb", n_gpus=1, slo_ttft_p95_s=5.0)
LLAMA3_8B_KV = 2 * 32 * 8 * 128 * 2          # 131,072 bytes per token


def test_build_evaluator_fields():
    # arrivals 5, 5, 8 s: shifted to start at 0 and the tie spread over the 3 s step (0, 1.5, 3)
    trace = _trace([[1, 2], [1, 2], [3]], [5, 5, 8])
    ref = {"hbm_gb": 10.0, "dram_gb": 0.0, "ssd_gb": 0.0}
    ev = ts.build_evaluator(trace, SETUP_8B, reference=ref)
    assert ev.trace_name == "t" and ev.block_tokens == 512 and ev.block_bytes_per_token == LLAMA3_8B_KV
    assert_allclose(ev.arrival_s, [0.0, 1.5, 3.0], rtol=0)
    assert_allclose(ev.tokens, [512.0] * 5, rtol=0)
    assert ev.tokens.dtype == np.float64
    assert list(ev.offsets) == [0, 2, 4, 5] and ev.offsets.dtype == np.int64
    assert list(ev.distances[[0, 1, 4]]) == [INF, INF, INF] and list(ev.distances[[2, 3]]) == [1, 0]
    assert list(ev.input_tokens) == [1024.0, 1024.0, 512.0] and list(ev.output_tokens) == [1.0, 1.0, 1.0]
    assert ev.input_tokens.dtype == np.float64 and ev.output_tokens.dtype == np.float64
    assert_allclose(ev.fixed_usd_per_hour, H100_USD, rtol=1e-12)
    assert_allclose([ev.hbm_usd_per_gb_hour, ev.dram_usd_per_gb_hour, ev.ssd_usd_per_gb_hour],
                    [H100_USD / (H100_BYTES / 1e9), 3.093 / 730, 0.08 / 730], rtol=1e-12)
    assert (ev.slo_s, ev.slo_rel_tol) == (5.0, 0.001)          # kareto_slo_rel_tol
    assert ev.tier_config.engine.gpus_per_instance == 1
    # the reference load: kareto_reference_load 0.8 × the reference configuration's throughput at the SLO
    r = ev.throughput_at_slo(ev.service_times(ev.served_tokens(10.0, 0.0, 0.0)))
    assert r > 0
    assert_allclose(ev.reference_rps, 0.8 * r, rtol=1e-12)
    assert_allclose(ev.reference_scale, 0.8 * r * 3.0 / 3, rtol=1e-12)   # rate × span ÷ requests
    assert ev.fingerprint == ts.evaluator_fingerprint(ev) and len(ev.fingerprint) == 16
    int(ev.fingerprint, 16)
    # the default reference is the baseline (half this setup's free HBM, 1,024 GB of DRAM)
    dflt = ts.build_evaluator(trace, SETUP_8B)
    b = ts.baseline_config(SETUP_8B)
    rb = dflt.throughput_at_slo(dflt.service_times(dflt.served_tokens(b["hbm_gb"], b["dram_gb"], b["ssd_gb"])))
    assert_allclose(dflt.reference_rps, 0.8 * rb, rtol=1e-12)


def test_build_evaluator_slow_reference_and_one_request():
    # three prompts of 100 blocks (51,200 tokens; 1.8 s of prefill each), 100 s apart, at a 2 s P95 target: they
    # must arrive about 1.7 s apart, so the reference serves under 1 request/s
    trace = _trace([list(range(k * 100, k * 100 + 100)) for k in range(3)], [0, 100, 200])
    slow = ts.ServingSetup(model="llama-3-8b", gpu="h100-80gb", n_gpus=1, slo_ttft_p95_s=2.0)
    ev = ts.build_evaluator(trace, slow, reference={"hbm_gb": 0.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    r = ev.throughput_at_slo(ev.service_times(ev.served_tokens(0.0, 0.0, 0.0)))
    assert 0 < r < 1
    assert_allclose(ev.reference_rps, 0.8 * r, rtol=1e-12)
    # one request: no span, counted as 1 s, so the scale is the rate itself
    one = ts.build_evaluator(_trace([[1]], [7]), SETUP_8B, reference={"hbm_gb": 0.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    assert one.reference_rps > 0
    assert_allclose(one.reference_scale, one.reference_rps, rtol=1e-12)


def test_build_evaluator_infeasible_reference_and_refusal():
    trace = _trace([[1, 2], [1, 2], [3]], [0, 1, 4])
    tight = ts.ServingSetup(model="llama-3-8b", gpu="h100-80gb", n_gpus=1, slo_ttft_p95_s=1e-6)
    ev = ts.build_evaluator(trace, tight, reference={"hbm_gb": 10.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    # no rate meets the target: the trace's own rate, 3 requests over 4 s
    assert ev.reference_scale == 1.0
    assert_allclose(ev.reference_rps, 3 / 4, rtol=1e-12)
    good = _trace([[1], [2]], [0, 5])
    bad = replace(good, arrival_s=np.array([5.0, 0.0]))
    e = pytest.raises(ParameterError, ts.build_evaluator, bad, SETUP_8B).value
    assert (e.name, e.value, e.allowed) == ("trace", "arrival times out of order", "requests sorted by arrival time")


def test_fingerprint_hashes_each_field():
    ev = evaluator()
    fp = ts.evaluator_fingerprint(ev)
    assert fp == ts.evaluator_fingerprint(evaluator()) and len(fp) == 16
    changed = [evaluator(slo_s=2.5), evaluator(trace_name="other"), evaluator(tokens=ev.tokens + 1),
               evaluator(distances=ev.distances.astype(np.int32)), evaluator(reference_rps=1.0)]
    assert len({fp} | {ts.evaluator_fingerprint(c) for c in changed}) == 6
    assert ts.evaluator_fingerprint(evaluator(fingerprint="x")) == fp          # its own field is left out


def test_more_evaluator_cases():
    # a warm start: request 0's blocks already cached at depth 0 — served from HBM (1 block of HBM, 1 of DRAM)
    warm = evaluator(distances=np.array([0, 0, 1, 0, INF, 0]))
    assert_allclose(warm.served_tokens(ONE_AND_A_HALF, ONE_AND_A_HALF, 0.0), [[20, 0, 0], [10, 10, 0], [5, 0, 0]],
                    rtol=0)
    # two never-seen blocks of 10 tokens × 10,000 bytes
    assert_allclose(two_requests(10.0).distinct_kv_gb(), 2e5 / 1e9, rtol=1e-12)
    # SSD only: 25 of 50 prompt tokens from SSD
    out = evaluator()({"hbm_gb": 0.0, "dram_gb": 0.0, "ssd_gb": 2.5 * BLOCK_GB})
    assert_allclose([out["ssd_hit_ratio"], out["hit_ratio"], out["hbm_hit_ratio"]], [0.5, 0.5, 0.0], rtol=1e-12)
    # 10 s of prefill each at a 14.75 s target: 10 + 0.95 (10 − g) <= 14.75 for gaps g >= 5 s: 2 ÷ 5 s = 0.4/s,
    # feasible although under one request a second
    slow = two_requests(10.0, slo_s=14.75, tier_config=tier_config(s_token=1e-2))
    r = slow({"hbm_gb": 0.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    assert_allclose(r["throughput_at_slo_rps"], 0.4, rtol=1e-5)
    assert r["feasible"] is True
    # a trace that starts at 5 s: the same rate (the span is last − first arrival)
    late = two_requests(10.0, slo_s=1.475, arrival_s=np.array([5.0, 15.0]))
    assert_allclose(late.throughput_at_slo(late.service_times(np.zeros((2, 3)))), 4.0, rtol=1e-5)
    # a 0.92 s target: idle P95 0.9096 s meets it (the idle P96, 0.9287 s, would not): served at some rate
    tight = evaluator(slo_s=0.92)
    assert tight.throughput_at_slo(tight.service_times(tight.served_tokens(ONE_AND_A_HALF, ONE_AND_A_HALF, 0.0))) > 0


def test_tier_config_charges_the_setups_price():
    from model.economics.prices import gpu_price
    s = ts.ServingSetup(model="llama-3-8b", n_gpus=1, price=gpu_price("h100-80gb", usd_per_gpu_hour=1.5))
    assert s.tier_config().engine.gpu_usd_per_hour == 1.5
