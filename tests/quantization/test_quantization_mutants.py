"""Tests of model.quantization.weights written against realistic bugs (memory_utilization or n_gpus ignored,
rounding instead of ceiling, the batch ignored): expectations worked out by hand from the definitions."""
import math

import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.quantization.weights import (decode_bytes, decode_speedup_bound, fits_on, footprint_table, gpus_after_speedup,
                                min_gpus_for_weights, monthly_gpu_saving, published_8bit_speedups,
                                published_quality_changes, sessions_beside_weights, speedup_bounds,
                                usable_bytes_per_gpu)
from model.checks import ParameterError

A100 = 85_899_345_920           # 80 GiB
KV_70B = 2 * 80 * 8 * 128 * 2   # 327,680 bytes per token


@pytest.fixture(scope="module")
def a70():
    return load_architecture("llama-2-70b")


@pytest.fixture(scope="module")
def gpu():
    return load_gpu("a100-80gb")


def test_usable_bytes_follow_memory_utilization(gpu):
    assert_allclose(usable_bytes_per_gpu(gpu, 0.25), A100 / 4, rtol=1e-15)
    assert usable_bytes_per_gpu(gpu, 1.0) == A100
    with pytest.raises(ParameterError, match=r"^memory_utilization="):
        usable_bytes_per_gpu(gpu, 1.5)


def test_fits_on_counts_the_gpus(a70, gpu):
    # FP16 70B weights (2P = 137.96 GB) need 2 x 0.9 x 80 GiB = 154.6 GB: not one GPU, but two
    assert not fits_on(a70, gpu, 1, "fp16")
    assert fits_on(a70, gpu, 2, "fp16")
    # at utilisation 0.8 two GPUs hold 137.4 GB < 137.96 GB: they no longer fit; three do
    assert 2 * 0.8 * A100 < 2 * a70.parameters() < 3 * 0.8 * A100
    assert not fits_on(a70, gpu, 2, "fp16", memory_utilization=0.8)
    assert fits_on(a70, gpu, 3, "fp16", memory_utilization=0.8)
    with pytest.raises(ParameterError, match=r"^n_gpus="):
        fits_on(a70, gpu, 0)


def test_fits_exactly_at_the_capacity(a70, gpu):
    u = 2 * a70.parameters() / (2 * A100)          # a utilisation that makes the weights fill 2 GPUs exactly
    assert fits_on(a70, gpu, 2, "fp16", memory_utilization=u)


def test_min_gpus_is_a_ceiling(a70, gpu):
    # 137.96 GB / (0.9 x 80 GiB) = 1.78 -> 2; at 0.5: 137.96 / 42.95 = 3.21 -> 4 (rounding would say 3)
    need = 2 * a70.parameters() / (0.5 * A100)
    assert 3 < need < 3.5
    assert min_gpus_for_weights(a70, gpu, "fp16", memory_utilization=0.5, power_of_two=False) == 4
    assert min_gpus_for_weights(a70, gpu, "fp16", memory_utilization=0.5) == 4
    # 0.3: 137.96 / 25.77 = 5.35 -> 6 GPUs, or 8 as a power of two
    assert min_gpus_for_weights(a70, gpu, "fp16", memory_utilization=0.3, power_of_two=False) == 6
    assert min_gpus_for_weights(a70, gpu, "fp16", memory_utilization=0.3) == 8
    # INT4 weights (34.5 GB) fit one GPU: at least one, never zero
    assert min_gpus_for_weights(a70, gpu, "int4", power_of_two=False) == 1
    assert min_gpus_for_weights(a70, gpu, "int4") == 1
    # 1.78 -> 2 without rounding to a power of two too
    assert min_gpus_for_weights(a70, gpu, "fp16", power_of_two=False) == 2


def test_decode_bytes_by_hand(a70):
    d = decode_bytes(a70, "int8", "fp8", 4, 1000)
    assert d.weights == a70.parameters()
    assert d.kv_cache == 4 * 1000 * KV_70B / 2
    assert d.total == a70.parameters() + 4 * 1000 * KV_70B / 2
    with pytest.raises(ParameterError, match=r"^context_tokens="):
        decode_bytes(a70, "int8", "fp8", 4, -1)


def test_speedup_bound_counts_the_batch(a70):
    # 16 sequences of 2,000 tokens: KV = 16 x 2,000 x 327,680 = 10.49 GB read every step beside the weights
    p, kv = a70.parameters(), 16 * 2000 * KV_70B
    assert_allclose(decode_speedup_bound(a70, batch=16, context_tokens=2000), (2 * p + kv) / (p + kv), rtol=1e-12)
    assert_allclose(decode_speedup_bound(a70, quantized_dtype="int4", batch=16, context_tokens=2000),
                    (2 * p + kv) / (p / 2 + kv), rtol=1e-12)
    # a KV cache in FP8 halves the KV bytes
    assert_allclose(decode_speedup_bound(a70, batch=16, context_tokens=2000, kv_dtype="fp8"),
                    (2 * p + kv / 2) / (p + kv / 2), rtol=1e-12)
    # the baseline format is a parameter too: FP32 -> INT8 streams 4x fewer weight bytes
    assert_allclose(decode_speedup_bound(a70, baseline_dtype="fp32"), 4.0, rtol=1e-12)


def test_speedup_bounds_table(a70):
    t = speedup_bounds(a70, batches=[1, 16], context_tokens=2000, formats=("int8", "int4"), kv_dtype="fp8")
    assert list(t.columns) == ["weight_dtype", "batch", "context_tokens", "speedup_bound"]
    assert t["weight_dtype"].tolist() == ["int8", "int8", "int4", "int4"] and t["batch"].tolist() == [1, 16, 1, 16]
    p, kv = a70.parameters(), 16 * 2000 * KV_70B / 2
    assert_allclose(t["speedup_bound"].iloc[3], (2 * p + kv) / (p / 2 + kv), rtol=1e-12)
    assert (t["context_tokens"] == 2000).all()
    assert speedup_bounds(a70, batches=[1], context_tokens=0)["weight_dtype"].tolist() == ["int8", "fp8", "int4"]


def test_footprint_table_by_hand(a70, gpu):
    t = footprint_table(a70, gpu, formats=("fp16", "int8"), memory_utilization=0.5)
    assert list(t.columns) == ["weight_dtype", "weight_gb", "min_gpus", "fits_one_gpu"]
    assert_allclose(t["weight_gb"], [2 * a70.parameters() / 1e9, a70.parameters() / 1e9], rtol=1e-12)
    assert t["min_gpus"].tolist() == [4, 2]            # 3.21 -> 4; 69 / 42.9 = 1.6 -> 2
    assert t["fits_one_gpu"].tolist() == [False, False]
    assert footprint_table(a70, gpu)["weight_dtype"].tolist() == ["fp16", "fp8", "int8", "int4"]


def test_sessions_beside_weights_on_several_gpus(a70, gpu):
    left = 2 * 0.8 * A100 - a70.parameters()
    assert sessions_beside_weights(a70, gpu, context_tokens=4000, weight_dtype="int8", kv_dtype="fp8", n_gpus=2,
                                   memory_utilization=0.8) == int(left // (4000 * KV_70B / 2))


def test_monthly_gpu_saving_errors():
    with pytest.raises(ParameterError, match=r"^hours_per_month="):
        monthly_gpu_saving(10, 4, 1.0, hours_per_month=0)
    assert monthly_gpu_saving(4, 10, 1.0, hours_per_month=10) == -60.0


def test_gpus_after_speedup_rounds_up():
    assert gpus_after_speedup(10, 3.0) == 4                    # 3.33 -> 4
    assert gpus_after_speedup(1, 100.0) == 1
    with pytest.raises(ParameterError, match=r"^gpus="):
        gpus_after_speedup(0, 2.0)


def test_published_rows_filters():
    q = published_quality_changes("llama-2-70b", 8)
    # integer-only keeps INT8/SmoothQuant/LLM.int8 rows and no FP8 row
    assert q["method"].str.contains("INT8|SmoothQuant|LLM.int8", regex=True).all()
    higher = q[~q["metric"].str.contains("perplexity")]
    assert_allclose(higher["quality_change_pct"], higher["relative_change_pct"])
    rows = published_8bit_speedups()
    assert rows["method"].str.contains("INT8|FP8|int8", regex=True).all()
    assert list(rows.index) == list(range(len(rows)))
    assert list(q.index) == list(range(len(q)))


def test_defaults_by_hand(a70, gpu):
    # one GPU and FP16 weights by default: 138 GB do not fit one A100-80GB, they fit two
    assert not fits_on(a70, gpu) and fits_on(a70, gpu, 2)
    assert min_gpus_for_weights(a70, gpu) == 2
    # batch 1 by default: one 1,000-token sequence beside the weights
    p, kv = a70.parameters(), 1000 * KV_70B
    assert_allclose(decode_speedup_bound(a70, context_tokens=1000), (2 * p + kv) / (p + kv), rtol=1e-12)


def test_error_names_as_typed(a70):
    with pytest.raises(ParameterError, match=r"^batch=0 "):
        decode_bytes(a70, "fp16", "fp16", 0, 10)
    with pytest.raises(ParameterError, match=r"^speedup=0 "):
        gpus_after_speedup(10, 0)
    with pytest.raises(ParameterError, match=r"^usd_per_gpu_hour=0 "):
        monthly_gpu_saving(10, 4, 0)


def test_quality_changes_filter_by_model_width_and_integer_format(monkeypatch):
    import pandas as pd

    from model.quantization import weights as quantization

    acc = pd.DataFrame([
        ("m", "INT8 a", 8, "accuracy", -1.0), ("m", "SmoothQuant FP8 b", 8, "accuracy", -2.0),
        ("m", "LLM.int8 c", 8, "wikitext2_perplexity", 1.5), ("m", "AWQ W4 d", 4, "accuracy", -3.0),
        ("other", "INT8 e", 8, "accuracy", -9.0), ("m", "FP8 f", 8, "accuracy", -0.5),
    ], columns=["model", "method", "weight_bits", "metric", "relative_change_pct"])
    monkeypatch.setattr(quantization, "published_accuracy", lambda: acc)
    q = published_quality_changes("m")                                   # 8-bit integer formats by default
    assert q["method"].tolist() == ["INT8 a", "LLM.int8 c"]
    assert q["quality_change_pct"].tolist() == [-1.0, -1.5]              # a perplexity rise is a loss
    assert list(q.columns) == list(acc.columns) + ["quality_change_pct"] and list(q.index) == [0, 1]
    every = published_quality_changes("m", 8, integer_only=False)
    assert every["method"].tolist() == ["INT8 a", "SmoothQuant FP8 b", "LLM.int8 c", "FP8 f"]
    assert published_quality_changes("m", 4, integer_only=False)["method"].tolist() == ["AWQ W4 d"]


def test_8bit_speedup_rows_by_hand(monkeypatch):
    import pandas as pd

    from model.quantization import weights as quantization

    s = pd.DataFrame({"method": ["INT4 AWQ", "INT8 x", "fp16 only", "FP8 y", "LLM.int8() z"], "speedup": [1, 2, 3, 4, 5]})
    monkeypatch.setattr(quantization, "published_speedups", lambda: s)
    rows = published_8bit_speedups()
    assert rows["method"].tolist() == ["INT8 x", "FP8 y", "LLM.int8() z"]
    assert list(rows.columns) == ["method", "speedup"] and list(rows.index) == [0, 1, 2]
