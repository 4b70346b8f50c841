import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.quantization import (decode_speedup_bound, fits_on, min_gpus_for_weights, weight_bytes)
from model.validation import ParameterError


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
