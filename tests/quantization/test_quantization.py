import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.quantization.weights import (decode_speedup_bound, fits_on, min_gpus_for_weights, weight_bytes)
from model.checks import ParameterError


@pytest.fixture
def a70():
    return load_architecture("llama-2-70b")


def test_weight_bytes_by_hand(a70):
    # ~69.0e9 parameters x 2 bytes = ~138 GB; INT8 half; INT4 a quarter.
    assert_allclose(weight_bytes(a70, "fp16"), a70.published_parameters * 2, rtol=0.005)
    assert weight_bytes(a70, "int8") * 2 == weight_bytes(a70, "fp16") == 4 * weight_bytes(a70, "int4")


def test_gpus_to_hold_70b(a70):
    a100 = load_gpu("a100-80gb")
    # 138 GB of FP16 weights need two 80 GB GPUs (tensor-parallel degree 2); INT8's 69 GB fits one.
    assert min_gpus_for_weights(a70, a100, "fp16") == 2
    assert min_gpus_for_weights(a70, a100, "int8") == 1
    assert not fits_on(a70, a100, 1, "fp16") and fits_on(a70, a100, 1, "int8")
    assert min_gpus_for_weights(a70, load_gpu("a100-40gb"), "fp16") == 4


def test_speedup_bound_limits(a70):
    # Pure weight streaming: 16 bits / 8 bits = 2 exactly.
    assert_allclose(decode_speedup_bound(a70, batch=1, context_tokens=0), 2.0)
    assert_allclose(decode_speedup_bound(a70, quantized_dtype="int4", batch=1, context_tokens=0), 4.0)
    bounds = [decode_speedup_bound(a70, batch=b, context_tokens=4096) for b in (1, 8, 32, 128)]
    assert all(1 < x < 2 for x in bounds)
    assert bounds == sorted(bounds, reverse=True)  # KV traffic dilutes the gain as the batch grows


def test_speedup_bound_errors(a70):
    with pytest.raises(ParameterError, match="batch"):
        decode_speedup_bound(a70, batch=0)


def test_speedup_bound_by_hand_at_10k_tokens(a70):
    # one 10K-token sequence: (2P + 10,000 * 327,680) / (P + 10,000 * 327,680)
    p, kv = a70.parameters(), 10_000 * 327_680
    assert_allclose(decode_speedup_bound(a70, batch=1, context_tokens=10_000), (2 * p + kv) / (p + kv), rtol=1e-12)
    assert decode_speedup_bound(a70, batch=64, context_tokens=10_000) < decode_speedup_bound(a70, batch=1,
                                                                                            context_tokens=10_000)


def test_sessions_beside_int8_weights_by_hand(a70):
    from model.quantization.weights import sessions_beside_weights
    g = load_gpu("a100-80gb")
    left = 0.9 * 85_899_345_920 - a70.parameters()
    assert sessions_beside_weights(a70, g, context_tokens=10_000, weight_dtype="int8") == int(left // 3.2768e9)
    assert sessions_beside_weights(a70, g, context_tokens=10_000, weight_dtype="fp16") == 0


def test_monthly_gpu_saving_by_hand():
    from model.quantization.weights import monthly_gpu_saving
    assert_allclose(monthly_gpu_saving(1630, 900, 2.0), 730 * 730 * 2.0)
    assert_allclose(monthly_gpu_saving(10, 4, 1.5, hours_per_month=100), 900.0)
    with pytest.raises(ParameterError, match="usd_per_gpu_hour"):
        monthly_gpu_saving(10, 4, 0)


def test_published_quality_changes_sign_and_filter():
    from model.quantization.weights import published_quality_changes
    q = published_quality_changes("llama-2-70b", 8)
    assert not q["method"].str.contains("FP8").any()
    assert (q["quality_change_pct"] < 0).all()
    ppl = q[q["metric"].str.contains("perplexity")]
    assert_allclose(ppl["quality_change_pct"], -ppl["relative_change_pct"])
    assert set(published_quality_changes("llama-2-70b", 8, integer_only=False)["method"]) > set(q["method"])


def test_gpus_after_speedup_and_8bit_rows():
    from model.quantization.weights import gpus_after_speedup, published_8bit_speedups
    assert gpus_after_speedup(1000, 1.91) == 524
    assert gpus_after_speedup(10, 2.0) == 5
    with pytest.raises(ParameterError, match="speedup"):
        gpus_after_speedup(10, 0)
    rows = published_8bit_speedups()
    assert len(rows) and not rows["method"].str.contains("INT4 AWQ").any()


def test_published_speedup_points_classify_bits_and_batches():
    import pandas as pd

    from model.quantization.weights import published_speedup_points, published_speedups

    pts = published_speedup_points()
    raw = published_speedups()
    numeric = pd.to_numeric(raw["batch"], errors="coerce").notna()
    assert len(pts) == int(numeric.sum()) and len(pts) < len(raw)
    assert set(pts["weight_bits"]) == {4, 8}
    four = pts[pts["weight_bits"] == 4]
    assert four["method"].str.contains("INT4").all() and len(four) == 6
    assert (pts["batch"] >= 1).all()
