"""model.serving.readings, hand-worked cases for its mutants: the three tables on a stand-in replica whose numbers
are chosen by hand, the rate bounds replaced by stand-ins that show which token count each bound is read at, and
every label and source text."""
import math
from types import SimpleNamespace

import pytest

from model.serving import readings as r
from model.serving.saturation import Saturation


def test_deployment_table_by_hand():
    dep = SimpleNamespace(weight_bytes=137_975_693_312, kv_budget_bytes=2_345_678_901_234, kv_capacity_tokens=1234567,
                          mfu=0.51234, mbu=0.8, fixed_overhead_s=0.0123456)
    t = r.deployment_table(dep)
    assert list(t.columns) == ["quantity", "value", "source"]
    assert t["quantity"].tolist() == ["weights", "KV budget", "KV capacity", "MFU (dense matmuls)",
                                      "MBU (weight reads)", "fixed overhead per step"]
    assert t["value"].tolist() == ["138.0 GB", "2,345.7 GB", "1,234,567 tokens", "0.512", "0.800", "12.35 ms"]
    fitted = "fitted on calibration points (model.serving.step_time_fit)"
    assert t["source"].tolist() == ["data/models", "0.9 × memory − weights", "KV budget ÷ KV bytes per token",
                                    fitted, fitted,
                                    "layers × layer overhead + 2 all-reduce latencies per layer (fitted)"]


def test_policy_table_labels():
    s = {"tpot_s_mean": 0.2, "e2e_latency_s_p95": 9.0, "e2e_latency_s_p50": 4.0, "ttft_s_p95": 2.0,
         "sessions_held": 12.0, "kv_utilization": 0.3, "throughput_tokens_per_s": 500.0, "gpu_busy_fraction": 0.7}
    t = r.policy_table({"only": s})
    assert t["metric"].tolist() == ["tokens/s per session (1/TPOT)", "P95 end-to-end latency (s)",
                                    "P50 end-to-end latency (s)", "P95 time to first token (s)",
                                    "sessions held (mean)", "KV memory holding tokens", "replica output tokens/s",
                                    "GPU busy fraction"]
    assert t["only"].iloc[0] == pytest.approx(5.0)          # 1 ÷ 0.2 s per token


def test_fleet_table_by_hand(monkeypatch):
    monkeypatch.setattr(r, "sequential_rate_bound_per_gpu", lambda dep, tokens: dep.k * tokens)
    monkeypatch.setattr(r, "compute_rate_bound_per_gpu", lambda dep, tokens: dep.k * tokens + 1)
    dep = SimpleNamespace(k=0.001)
    one = Saturation("continuous", 1, requests_per_s=0.5, output_tokens_per_s=50.0, prefill_share=0.2)
    batched = Saturation("continuous", 64, requests_per_s=8.0, output_tokens_per_s=800.0, prefill_share=0.6)
    t = r.fleet_table(dep, one, batched, gpus_one=1000, gpus_batched=100, n_gpus=4, prompt_tokens=2000,
                      reply_tokens=100, usd_per_gpu_hour=2.0)
    assert list(t.columns) == ["metric", "one at a time (model)", "continuous (model)"]
    assert t["metric"].tolist() == ["requests/min per GPU (saturation)",
                                    "bound: one at a time, free prompts, full bandwidth",
                                    "bound: any batching, reply tokens only, peak FLOP/s",
                                    "bound: any batching, prompt + reply, peak FLOP/s", "GPUs for the demand",
                                    "GPU cost per month (USD)", "share of time in prefill"]
    first, cont = t["one at a time (model)"].tolist(), t["continuous (model)"].tolist()
    # 0.5 requests/s = 30 a minute on 4 GPUs: 7.5; the sequential bound at 100 reply tokens: 60 × 0.1 = 6;
    # 1,000 GPUs × $2 × 730 h = $1,460,000 a month
    assert first[0] == 7.5 and first[1] == pytest.approx(6.0) and math.isnan(first[2]) and math.isnan(first[3])
    assert first[4:] == [1000, 1_460_000, 0.2]
    # 8 requests/s = 480 a minute ÷ 4 = 120; compute bounds: 60 × (0.1 + 1) = 66 and 60 × (2.1 + 1) = 186;
    # 100 GPUs × $2 × 730 h = $146,000
    assert cont[0] == 120 and math.isnan(cont[1])
    assert cont[2] == pytest.approx(66.0) and cont[3] == pytest.approx(186.0)
    assert cont[4:] == [100, 146_000, 0.6]


def test_gigabytes_are_1e9_bytes_even_at_a_rounding_tie():
    # 12,750,000,000 bytes = 12.75 GB exactly, shown 12.8 (the tie rounds to even); 1,234,650,000,000 bytes
    # = 1,234.65 GB, shown 1,234.7: one byte more per GB would show 12.7 and 1,234.6
    dep = SimpleNamespace(weight_bytes=12_750_000_000, kv_budget_bytes=1_234_650_000_000, kv_capacity_tokens=1,
                          mfu=0.5, mbu=0.5, fixed_overhead_s=0.001)
    assert r.deployment_table(dep)["value"].tolist()[:2] == ["12.8 GB", "1,234.7 GB"]
