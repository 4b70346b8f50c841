"""model.tiering.simulate by hand: three requests built here field by field through a disabled HBM and a DRAM of 10
blocks, every figure of the result worked out below.

Blocks of 10 tokens at 10,000 bytes a token (a block is 1e5 bytes = 1e-4 GB). The engine prefills 1 ms a token (at
least one); DRAM reads 1e5 bytes/s and costs $730 per GB-month, $1 per GB-hour at 730 hours a month; 3 instances of
2 GPUs at $1.5 per GPU-hour:

    request  arrival  prompt (blocks)       output  cached (DRAM)  load               prefill   done     TTFT
    0        0 s      20 tokens (1, 2)      4       0              0                  0.020 s   0.020    0.020
    1        10 s     25 tokens (1, 2, 3)   6       20 tokens      20 × 1e4 / 1e5 = 2  0.005 s   12.005   2.005
    2        20 s     5 tokens (1)          2       5 tokens       5 × 1e4 / 1e5 = 0.5 0.001 s   20.501   0.501

Block lookups 2 + 3 + 1 = 6, hits 2 + 1 = 3 (all in DRAM); span 20.501 s from the first arrival to the last first
token; 50 prompt + 12 output tokens; cost 6 × 1.5 + 10 blocks × 1e-4 GB × $1 = $9.001 per hour.
"""
import dataclasses
import importlib
import math
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.tiering import PrefillEngine, Tier, TierConfig
from model.tiering.cost import storage_cost_per_hour
from model.workload import Trace

sim = importlib.import_module("model.tiering.simulate")   # the package exports the function under this name

SPAN = 20.501
TTFT = [0.020, 2.005, 0.501]
COST = 9.001


def engine(s_token=1e-3):
    return PrefillEngine(name="e", s_token=s_token, s_pair=0.0, s_sequence=0.0, m_fixed=0.0, m_token=0.0,
                         s_allreduce=0.0, kv_bytes_per_token=1e4, gpus_per_instance=2, n_instances=3,
                         gpu_usd_per_hour=1.5)


def config(s_token=1e-3, **kw):
    return TierConfig(tiers=(Tier("hbm", 0, 1e6, 1e6, 0.0), Tier("dram", 10, 1e5, 1e5, 730.0)),
                      engine=engine(s_token), block_tokens=10, **kw)


def trace():
    return Trace(name="hand", arrival_s=np.array([0.0, 10.0, 20.0]), input_tokens=np.array([20, 25, 5]),
                 output_tokens=np.array([4, 6, 2]), block_offsets=np.array([0, 2, 5, 6]),
                 block_ids=np.array([1, 2, 1, 2, 3, 1], dtype=np.int64), block_tokens=10)


def test_every_figure_by_hand():
    r = sim.simulate(trace(), config())
    assert (r.trace_name, r.requests, r.blocks) == ("hand", 3, 6)
    assert r.hit_ratio == 0.5
    assert r.hit_ratio_by_tier == {"hbm": 0.0, "dram": 0.5}
    assert r.tokens_by_tier == {"hbm": 0, "dram": 25}
    assert r.recomputed_tokens == 25 and type(r.recomputed_tokens) is int
    assert (r.input_tokens, r.output_tokens) == (50, 12)
    assert type(r.input_tokens) is int and type(r.output_tokens) is int
    assert_allclose(r.ttft_p50_s, 0.501, rtol=1e-12)
    assert_allclose(r.ttft_p95_s, 0.501 + 0.9 * (2.005 - 0.501), rtol=1e-12)   # numpy's linear interpolation
    assert_allclose(r.ttft_mean_s, sum(TTFT) / 3, rtol=1e-12)
    assert_allclose(r.throughput_requests_per_s, 3 / SPAN, rtol=1e-12)
    assert_allclose(r.throughput_tokens_per_s, 62 / SPAN, rtol=1e-12)
    assert_allclose(r.gpu_busy_fraction, 0.026 / (3 * SPAN), rtol=1e-12)
    assert_allclose(r.cost_usd_per_hour, COST, rtol=1e-12)
    assert r.storage_usd_per_hour["hbm"] == 0.0
    assert_allclose(r.storage_usd_per_hour["dram"], 1e-3, rtol=1e-12)
    assert_allclose(r.usd_per_million_tokens, COST / (62 / SPAN * 3600) * 1e6, rtol=1e-12)
    assert_allclose(r.timing.done_s, [0.02, 12.005, 20.501], rtol=1e-12)
    assert r.replay.n_blocks == 6 and r.config.block_tokens == 10


def test_as_row():
    r = sim.simulate(trace(), config())
    row = r.as_row()
    assert list(row) == ["trace", "requests", "blocks", "hit_ratio", "hit_ratio_hbm", "hit_ratio_dram",
                         "capacity_blocks_hbm", "capacity_blocks_dram", "tokens_hbm", "tokens_dram",
                         "recomputed_tokens", "ttft_p50_s", "ttft_p95_s", "throughput_requests_per_s",
                         "throughput_tokens_per_s", "gpu_busy_fraction", "cost_usd_per_hour",
                         "usd_per_million_tokens"]
    assert row["trace"] == "hand" and row["requests"] == 3 and row["blocks"] == 6 and row["hit_ratio"] == 0.5
    assert (row["hit_ratio_hbm"], row["hit_ratio_dram"]) == (0.0, 0.5)
    assert (row["capacity_blocks_hbm"], row["capacity_blocks_dram"]) == (0, 10)
    assert (row["tokens_hbm"], row["tokens_dram"]) == (0, 25)
    assert row["recomputed_tokens"] == 25
    assert_allclose([row["ttft_p50_s"], row["ttft_p95_s"], row["throughput_requests_per_s"],
                     row["throughput_tokens_per_s"], row["gpu_busy_fraction"], row["cost_usd_per_hour"],
                     row["usd_per_million_tokens"]],
                    [0.501, 0.501 + 0.9 * 1.504, 3 / SPAN, 62 / SPAN, 0.026 / (3 * SPAN), COST,
                     COST / (62 / SPAN * 3600) * 1e6], rtol=1e-12)


def test_result_is_frozen_compared_by_identity_and_repr_short():
    r = sim.simulate(trace(), config())
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.hit_ratio = 1.0
    assert sim.TieringResult.__eq__ is object.__eq__
    text = repr(r)
    assert "hit_ratio=0.5" in text and "replay=" not in text and "timing=" not in text


def test_stack_method_simpy_timing_and_a_given_replay(monkeypatch):
    want = sim.simulate(trace(), config())
    calls = []
    real_replay, real_stack, real_time = sim.replay, sim.replay_from_stack, sim.time_requests

    def spy_replay(t, c, **kw):
        calls.append(("replay", kw))
        return real_replay(t, c, **kw)

    def spy_stack(t, c, *a, **kw):
        calls.append(("stack", a, kw))
        return real_stack(t, c, *a, **kw)

    def spy_time(t, rep, c, **kw):
        calls.append(("time", kw))
        return real_time(t, rep, c, **kw)

    monkeypatch.setattr(sim, "replay", spy_replay)
    monkeypatch.setattr(sim, "replay_from_stack", spy_stack)
    monkeypatch.setattr(sim, "time_requests", spy_time)
    stack = sim.simulate(trace(), config(), method="stack")
    assert calls == [("stack", (), {}), ("time", {"timing": "recursion"})]
    calls.clear()
    simpy = sim.simulate(trace(), config(), timing="simpy", method="replay", progress=True)
    assert calls == [("replay", {"progress": True}), ("time", {"timing": "simpy"})]
    calls.clear()
    sim.simulate(trace(), config(), method="auto")
    assert calls == [("replay", {"progress": False}), ("time", {"timing": "recursion"})]
    calls.clear()
    given = sim.simulate(trace(), config(), method="stack", replay_result=want.replay)
    assert calls == [("time", {"timing": "recursion"})]
    assert given.replay is want.replay
    for r in (stack, simpy, given):
        assert r.hit_ratio_by_tier == want.hit_ratio_by_tier
        assert_allclose([r.ttft_p95_s, r.usd_per_million_tokens], [want.ttft_p95_s, want.usd_per_million_tokens],
                        rtol=1e-12)


def test_method_refused():
    with pytest.raises(ParameterError) as err:
        sim.simulate(trace(), config(), method="lru")
    text = str(err.value)
    assert text.startswith("method='lru'") and "'auto', 'replay', 'stack'" in text


def test_occupied_cost_basis_uses_the_replay():
    r = sim.simulate(trace(), config(cost_basis="occupied"))
    want = storage_cost_per_hour(r.config, r.replay)
    assert r.storage_usd_per_hour == want
    assert want["dram"] < 1e-3                                 # fewer than the 10 provisioned blocks on average
    assert_allclose(r.cost_usd_per_hour, 9.0 + want["dram"], rtol=1e-12)


def test_zero_span():
    """No prefill time and nothing to load: the one request is done when it arrives."""
    t = Trace(name="one", arrival_s=np.array([5.0]), input_tokens=np.array([10]), output_tokens=np.array([3]),
              block_offsets=np.array([0, 1]), block_ids=np.array([7], dtype=np.int64), block_tokens=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                         # no 0 / 0 is ever computed
        r = sim.simulate(t, config(s_token=0.0))
    assert r.throughput_requests_per_s == math.inf and r.throughput_tokens_per_s == math.inf
    assert math.isnan(r.gpu_busy_fraction)
    assert r.usd_per_million_tokens == 0.0
    assert r.ttft_p50_s == 0.0 and r.ttft_mean_s == 0.0


def test_span_under_a_second():
    """One request of 10 tokens prefilled at 50 ms a token: done 0.5 s after it arrives."""
    t = Trace(name="one", arrival_s=np.array([5.0]), input_tokens=np.array([10]), output_tokens=np.array([3]),
              block_offsets=np.array([0, 1]), block_ids=np.array([7], dtype=np.int64), block_tokens=10)
    r = sim.simulate(t, config(s_token=0.05))
    assert_allclose([r.throughput_requests_per_s, r.throughput_tokens_per_s, r.gpu_busy_fraction],
                    [1 / 0.5, 13 / 0.5, 0.5 / (3 * 0.5)], rtol=1e-12)
