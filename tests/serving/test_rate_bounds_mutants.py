"""model.serving.rate_bounds by hand: the bounds at other weight formats (FP8 on an H100, INT8 on an A100, whose
tensor cores run them at their own peaks), one output token, and each refusal named as typed."""
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu, session_rate_bound
from model.serving.step_time import deployment

# data/hardware.csv: A100 80GB SXM 2,039 GB/s, dense INT8 624 TOPS; H100 SXM 3,350 GB/s, dense FP8 1,978.9 TFLOPS
A100_BW, A100_INT8 = 2039e9, 624e12
H100_BW, H100_FP8 = 3350e9, 1978.9e12
# Llama 2 70B (data/models/llama-2-70b.json): 68,976,648,192 parameters, of them in matmuls 80 layers of
# attention (2 × 8192² + 2 × 8192 × 1024) and MLP (3 × 8192 × 28672), and the 32,000 × 8192 output head
PARAMS = 68_976_648_192
MATMUL = 80 * (2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 32000 * 8192


def test_fp8_weights_on_an_h100():
    dep = deployment("llama-2-70b", "h100-80gb", 2, weight_dtype="fp8")
    # one byte per weight: each token reads 68.98 GB over the 2 GPUs' 6.7 TB/s; per GPU, 3,350e9 / (T × 68.98e9)
    assert_allclose(sequential_rate_bound_per_gpu(dep, 1), H100_BW / PARAMS, rtol=1e-12)
    assert_allclose(sequential_rate_bound_per_gpu(dep, 250), H100_BW / (250 * PARAMS), rtol=1e-12)
    # FP8 matmuls at the FP8 peak: 1,978.9e12 / (2 × matmul parameters × 1,000 tokens)
    assert_allclose(compute_rate_bound_per_gpu(dep, 1000), H100_FP8 / (2 * MATMUL * 1000), rtol=1e-12)


def test_int8_weights_on_an_a100():
    dep = deployment("llama-2-70b", "a100-80gb", 8, weight_dtype="int8")
    assert_allclose(sequential_rate_bound_per_gpu(dep, 10), A100_BW / (10 * PARAMS), rtol=1e-12)
    assert_allclose(compute_rate_bound_per_gpu(dep, 1), A100_INT8 / (2 * MATMUL), rtol=1e-12)


def test_session_bound_by_hand():
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    # 10 sessions of 1 GB on one GPU: 2,039 GB/s ÷ 10 GB = 203.9 steps (tokens per session) a second
    assert_allclose(session_rate_bound(1e9, 10, dep.gpu), 203.9, rtol=1e-12)


@pytest.mark.parametrize("call, name, value", [
    (lambda dep: sequential_rate_bound_per_gpu(dep, 0), "output_tokens", 0),
    (lambda dep: sequential_rate_bound_per_gpu(dep, -5.0), "output_tokens", -5.0),
    (lambda dep: compute_rate_bound_per_gpu(dep, 0), "tokens_per_request", 0),
])
def test_refusals_name_the_parameter(call, name, value):
    with pytest.raises(ParameterError) as err:
        call(deployment("llama-2-70b", "a100-80gb", 4))
    assert (err.value.name, err.value.value) == (name, value)
