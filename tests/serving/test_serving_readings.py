"""model.serving.readings and model.serving.load_sweep.check_load_study: tables of a deployment and its runs
against hand-made inputs, and the chapter's parameter check naming the bad parameter."""
import math

import numpy as np
import pandas as pd
import pytest

from model.checks import ParameterError
from model.economics.fleet_sizing import fleet_monthly_cost
from model.serving.load_sweep import check_load_study
from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu
from model.serving.readings import deployment_table, fleet_table, policy_table
from model.serving.saturation import Saturation
from model.serving.step_time import deployment


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


def test_deployment_table_values_and_units(dep):
    t = deployment_table(dep).set_index("quantity")
    assert list(t.index) == ["weights", "KV budget", "KV capacity", "MFU (dense matmuls)", "MBU (weight reads)",
                             "fixed overhead per step"]
    assert t.loc["weights", "value"] == f"{dep.weight_bytes / 1e9:,.1f} GB"
    assert t.loc["KV capacity", "value"] == f"{dep.kv_capacity_tokens:,} tokens"
    assert t.loc["fixed overhead per step", "value"] == f"{1e3 * dep.fixed_overhead_s:.2f} ms"
    assert t.loc["KV budget", "source"] == "0.9 × memory − weights"


def test_policy_table_one_column_per_run():
    a = {"tpot_s_mean": 0.05, "e2e_latency_s_p95": 9.0, "e2e_latency_s_p50": 4.0, "ttft_s_p95": 2.0,
         "sessions_held": 12.0, "kv_utilization": 0.3, "throughput_tokens_per_s": 500.0, "gpu_busy_fraction": 0.7}
    b = a | {"tpot_s_mean": 0.025, "kv_utilization": 0.95}
    t = policy_table({"A": a, "B": b})
    assert list(t.columns) == ["metric", "A", "B"] and len(t) == 8
    assert t["A"].tolist() == [20.0, 9.0, 4.0, 2.0, 12.0, 0.3, 500.0, 0.7]
    assert t.loc[0, "B"] == 40.0 and t.loc[5, "B"] == 0.95


def test_fleet_table_by_hand(dep):
    one = Saturation("continuous", 1, requests_per_s=0.5, output_tokens_per_s=50.0, prefill_share=0.2)
    batched = Saturation("continuous", 64, requests_per_s=8.0, output_tokens_per_s=800.0, prefill_share=0.6)
    t = fleet_table(dep, one, batched, gpus_one=1000, gpus_batched=100, n_gpus=4, prompt_tokens=2000,
                    reply_tokens=100, usd_per_gpu_hour=2.0).set_index("metric")
    first, cont = t["one at a time (model)"], t["continuous (model)"]
    assert first["requests/min per GPU (saturation)"] == 30 / 4 and cont["requests/min per GPU (saturation)"] == 480 / 4
    assert first["bound: one at a time, free prompts, full bandwidth"] == 60 * sequential_rate_bound_per_gpu(dep, 100)
    assert math.isnan(cont["bound: one at a time, free prompts, full bandwidth"])
    assert math.isnan(first["bound: any batching, prompt + reply, peak FLOP/s"])
    assert cont["bound: any batching, prompt + reply, peak FLOP/s"] == 60 * compute_rate_bound_per_gpu(dep, 2100)
    assert first["GPUs for the demand"] == 1000 and cont["GPU cost per month (USD)"] == fleet_monthly_cost(100, 2.0)
    assert first["share of time in prefill"] == 0.2 and cont["share of time in prefill"] == 0.6


GOOD = dict(model="llama-2-70b", gpu="a100-80gb", n_gpus=4, weight_dtype="fp16", kv_dtype="fp16", max_batch=256,
            static_batch=16, policies=["static", "continuous"], arrival_rates=[0.5, 1], n_requests=100,
            prompt_tokens=2000, reply_tokens=100, t3_load_fraction=0.7, baseline_busy=0.6, cb_fleet_shrink=1.5,
            demand_requests_per_min=1e6, latency_target_s_per_token=0.1, seed=0)


def test_check_load_study_accepts_the_chapter_defaults():
    check_load_study(**GOOD)


@pytest.mark.parametrize("name, value", [("model", "no-such-model"), ("gpu", "no-such-gpu"), ("n_gpus", 0),
                                         ("kv_dtype", "fp7"), ("policies", []), ("policies", ["greedy"]),
                                         ("arrival_rates", []), ("arrival_rates", [1, -1]),
                                         ("t3_load_fraction", 1.0), ("baseline_busy", 0.0),
                                         ("cb_fleet_shrink", 0), ("latency_target_s_per_token", -0.1),
                                         ("seed", -1), ("weight_dtype", "fp8"), ("reply_tokens", 1),
                                         ("n_gpus", 1)])
def test_check_load_study_names_the_bad_parameter(name, value):
    with pytest.raises(ParameterError) as e:
        check_load_study(**(GOOD | {name: value}))
    assert name in str(e.value)


def test_busy_fraction_at_is_the_offered_load_times_busy_time_per_request_at_most_one():
    from types import SimpleNamespace

    from model.serving.load_sweep import busy_fraction_at

    run = SimpleNamespace(busy_s=40.0, requests=[None] * 100)          # 0.4 s of busy GPU time per request
    assert busy_fraction_at(run, 2.0) == pytest.approx(0.8)
    assert busy_fraction_at(run, 10.0) == 1.0                          # past saturation: always busy
    with pytest.raises(ParameterError, match="rate_per_s"):
        busy_fraction_at(run, 0.0)


def test_checked_deployment_names_the_callers_gpu_count():
    from model.serving.load_sweep import checked_deployment

    assert checked_deployment("qwen3-next-80b-a3b", "a100-80gb", 8).n_gpus == 8
    for n, why in [(40, "32 linear-attention value heads"), (1, "weights")]:
        model = "qwen3-next-80b-a3b" if n == 40 else "llama-2-70b"
        with pytest.raises(ParameterError) as e:     # refused as 'tp' by the KV split, 'n_gpus' by the replica
            checked_deployment(model, "a100-80gb", n, name="replica_gpus")
        assert e.value.name == "replica_gpus" and why in str(e.value)
    with pytest.raises(ParameterError) as e:
        check_load_study(**(GOOD | {"model": "qwen3-next-80b-a3b", "n_gpus": 40}))
    assert e.value.name == "n_gpus"
