import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.serving.step_time import deployment
from model.serving.step_time_accuracy import (error_summary, load_points, measured_overload, predict_point,
                                        prediction_table, requests_in_run)


def row(**kw):
    base = {"point_id": "x:a100:tp4:bs1:128x128:tpot_ms", "model": "llama-2-70b", "gpu": "a100-80gb",
            "n_gpus": 4, "tensor_parallel": 4.0, "weight_dtype": "fp16", "kv_dtype": np.nan,
            "engine": "e", "batching": "static", "batch": 1.0, "batch_kind": "fixed",
            "offered_rate_per_s": np.nan, "input_tokens": 128.0, "output_tokens": 128.0, "metric": "tpot_ms",
            "value": 29.0, "scope": "system", "role": "validation", "caveats": ""}
    base.update(kw)
    return pd.Series(base)


def test_static_tpot_is_the_mean_decode_step_by_hand():
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    want = 1e3 * np.mean(dep.decode_time(8, 128 + np.arange(127, dtype=float)))
    got, regime, reason, b = predict_point(row(batch=8.0))
    assert reason == "" and regime == "static" and b == 8
    assert_allclose(got, want, rtol=1e-12)


def test_throughput_scopes_and_replicas():
    # 8 GPUs of TP4 = 2 replicas; per-GPU figure = system / 8
    sys_row = row(n_gpus=8, metric="output_tokens_per_s", batch=16.0)
    per_gpu = row(n_gpus=8, metric="output_tokens_per_s_per_gpu", batch=16.0)
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    pre = float(dep.step_time(16 * 128, 16 * 128 * 129 / 2, 16, 0, 16 * 128))
    dec = float(np.sum(dep.decode_time(16, 128 + np.arange(127, dtype=float))))
    one_replica = 16 * 128 / (pre + dec)
    assert_allclose(predict_point(sys_row)[0], 2 * one_replica, rtol=1e-12)
    assert_allclose(predict_point(per_gpu)[0], 2 * one_replica / 8, rtol=1e-12)
    req = row(n_gpus=8, metric="requests_per_s", batch=16.0)
    assert_allclose(predict_point(req)[0], 2 * one_replica / 128, rtol=1e-12)


def test_a_rate_below_capacity_sets_the_throughput():
    r = row(batching="in-flight", batch=np.nan, batch_kind="engine-chosen", offered_rate_per_s=0.5,
            metric="output_tokens_per_s")
    got, regime, _, _ = predict_point(r)
    assert regime == "rate-limited"
    assert_allclose(got, 0.5 * 128, rtol=1e-12)


def test_unpredictable_rows_say_why():
    assert predict_point(row(input_tokens=np.nan))[2] == "lengths not stated"
    r = row(batching="in-flight", batch=np.nan, batch_kind="engine-chosen", offered_rate_per_s=math.inf,
            metric="ttft_ms")
    assert math.isnan(predict_point(r)[0]) and "queue" in predict_point(r)[2]


def test_overload_is_read_from_the_measurements_alone():
    pts = pd.DataFrame({"point_id": ["s:q32:1x10:requests_per_s", "s:q32:1x10:ttft_ms", "s:q2:1x10:ttft_ms",
                                     "s:q2:1x10:output_tokens_per_s"],
                        "offered_rate_per_s": [32.0, 32.0, 2.0, 2.0], "metric": ["requests_per_s", "ttft_ms",
                                                                                  "ttft_ms", "output_tokens_per_s"],
                        "value": [16.0, 900.0, 50.0, 19.5], "output_tokens": [10.0] * 4})
    assert measured_overload(pts).tolist() == [True, True, False, False]


def test_requests_in_run():
    assert requests_in_run("Online table (500 requests, BF16)") == 500
    assert requests_in_run("3000 requests in the dataset") == 3000
    assert requests_in_run("no count") == math.inf


def test_error_summary_by_hand():
    t = pd.DataFrame({"metric": ["a", "a", "a", "b"], "role": ["validation"] * 3 + ["calibration"],
                      "predicted": [1.1, 0.8, np.nan, 2.0], "measured": [1.0, 1.0, 1.0, 1.0]})
    t["error"] = t["predicted"] / t["measured"] - 1
    t["abs_error"] = t["error"].abs()
    s = error_summary(t).set_index("metric")
    assert s.loc["a", "points"] == 3 and s.loc["a", "predicted"] == 2
    assert_allclose(s.loc["a", "median_abs_error"], 0.15, rtol=1e-12)
    assert_allclose(s.loc["a", "max_abs_error"], 0.2, rtol=1e-12)
    assert "b" not in s.index


def test_every_point_gets_a_prediction_or_a_reason():
    t = prediction_table()
    assert len(t) == len(load_points())
    missing = t["predicted"].isna()
    assert (t.loc[missing, "reason"] != "").all() and (t.loc[~missing, "reason"] == "").all()
    assert (t.loc[~missing, "predicted"] > 0).all()
    assert missing.sum() < 0.3 * len(t)


def test_static_batch_latency_is_the_batch_s_whole_life_by_hand():
    # AMD's MI300X latency table: one static batch of 16 requests, 128 -> 2048 tokens, TP8, FP8 weights and KV
    r = row(model="llama-3.1-70b", gpu="mi300x-192gb", n_gpus=8, tensor_parallel=8.0, weight_dtype="fp8",
            kv_dtype="fp8", batch=16.0, input_tokens=128.0, output_tokens=2048.0, metric="batch_latency_ms")
    dep = deployment("llama-3.1-70b", "mi300x-192gb", 8, weight_dtype="fp8", kv_dtype="fp8")
    pre = float(dep.step_time(16 * 128, 16 * 128 * 129 / 2, 16, 0, 16 * 128))
    dec = float(np.sum(dep.decode_time(16, 128 + np.arange(2047, dtype=float))))
    got, regime, reason, b = predict_point(r)
    assert reason == "" and regime == "static" and b == 16
    assert_allclose(got, 1e3 * (pre + dec), rtol=1e-12)


def test_stated_expert_and_attention_data_parallelism_reach_the_deployment():
    r = row(model="deepseek-r1", gpu="h200-141gb", n_gpus=8, tensor_parallel=8.0, weight_dtype="fp8",
            kv_dtype="bf16", expert_parallel=8.0, attention_data_parallel=True)
    from model.serving.step_time_accuracy import point_deployment

    dep = point_deployment(r)
    assert dep.expert_parallel == 8 and dep.attention_data_parallel is True
    # DeepSeek-R1 (config.json: 61 layers, latent 512 + 64): one BF16 latent per token under attention DP
    assert dep.kv_bytes_per_token == 61 * 576 * 2
    plain = point_deployment(row(model="deepseek-r1", gpu="h200-141gb", n_gpus=8, tensor_parallel=8.0,
                                 weight_dtype="fp8", kv_dtype="bf16"))
    assert plain.expert_parallel == 1 and plain.kv_bytes_per_token == 8 * 61 * 576 * 2
