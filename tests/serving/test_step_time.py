import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.serving.step_time import ROOFLINE, Deployment, deployment

A100_BW = 2039e9          # NVIDIA A100 80GB SXM datasheet, bytes/s (typed here independently)
A100_FLOPS = 312e12       # dense FP16 tensor peak
LLAMA2_70B_BYTES = 137_953_296_384   # safetensors total_size of meta-llama/Llama-2-70b-hf
KV_PER_TOKEN = 2 * 80 * 8 * 128 * 2  # bytes, FP16, GQA


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


A100_LINK_PER_DIRECTION = 300e9   # NVLink 3: 600 GB/s "total" on the datasheet = 300 GB/s each way
H100_LINK_PER_DIRECTION = 450e9   # NVLink 4: 900 GB/s total


def test_decode_step_by_hand_memory_bound():
    d = deployment("llama-2-70b", "a100-80gb", 4, **ROOFLINE)
    b, ctx = 8, 1000
    bytes_moved = LLAMA2_70B_BYTES + KV_PER_TOKEN * (b * (ctx + 1) + b)
    # ring all-reduce: 2 per layer, 2 (N-1)/N of the activations over each direction of the link
    allreduce = 2 * 80 * b * 8192 * 2 * (2 * 3 / 4) / A100_LINK_PER_DIRECTION
    assert_allclose(d.decode_time(b, ctx), bytes_moved / (4 * A100_BW) + allreduce, rtol=1e-9)


@pytest.mark.parametrize("gpu, per_direction", [("a100-80gb", A100_LINK_PER_DIRECTION),
                                                ("h100-80gb", H100_LINK_PER_DIRECTION)])
def test_allreduce_uses_the_per_direction_link_bandwidth(gpu, per_direction):
    d = deployment("llama-2-70b", gpu, 8, **ROOFLINE)
    tokens = 1024
    data = 2 * 80 * tokens * 8192 * 2
    assert_allclose(d.allreduce_time(tokens), data * 2 * 7 / 8 / per_direction, rtol=1e-12)
    # twice as slow as a ring over the datasheet's two-direction total would be
    assert_allclose(d.allreduce_time(tokens), 2 * data * 2 * 7 / 8 / (2 * per_direction), rtol=1e-12)


def test_allreduce_latency_counts_two_per_layer_and_only_with_tensor_parallelism():
    lat = 7e-6
    d = deployment("llama-2-70b", "a100-80gb", 4, **{**ROOFLINE, "allreduce_latency_s": lat})
    assert_allclose(d.allreduce_time(0.0), 2 * 80 * lat, rtol=1e-12)
    one = deployment("llama-2-70b", "h100-80gb", 2, weight_dtype="fp8", **{**ROOFLINE, "allreduce_latency_s": lat})
    assert float(one.allreduce_time(0.0)) > 0
    pp = deployment("llama-2-70b", "a100-80gb", 4, sharding="pipeline", **{**ROOFLINE, "allreduce_latency_s": lat})
    assert float(pp.allreduce_time(100.0)) == 0.0


def test_overheads_overlap_and_mfu_by_tokens_by_hand():
    kw = {**ROOFLINE, "layer_overhead_s": 10e-6, "overlap": 0.5, "mfu": 0.5, "mfu_half_tokens": 100.0,
          "attention_mbu": 0.5}
    d = deployment("llama-2-70b", "a100-80gb", 4, **kw)
    b, ctx = 4, 500
    lm_head = 32000 * 8192
    body = d.arch.matmul_parameters() - lm_head
    attn = 4 * 80 * 64 * 128 * b * (ctx + 1)
    compute = 2 * body * (b + 100) / (4 * A100_FLOPS * 0.5) + 2 * lm_head * b / (4 * A100_FLOPS * 0.5) \
        + attn / (4 * A100_FLOPS)
    memory = LLAMA2_70B_BYTES / (4 * A100_BW) + KV_PER_TOKEN * (b * (ctx + 1) + b) / (4 * A100_BW * 0.5)
    comm = 2 * 80 * b * 8192 * 2 * (2 * 3 / 4) / A100_LINK_PER_DIRECTION
    want = max(compute, memory) + 0.5 * min(compute, memory) + 80 * 10e-6 + comm
    assert_allclose(d.decode_time(b, ctx), want, rtol=1e-9)
    # the simulation's linear coefficients give the same step
    c0, c1, m0, m1 = d.decode_coefficients(b)
    s = b * (ctx + 1)
    assert_allclose(max(c0 + c1 * s, m0 + m1 * s), want, rtol=1e-9)


def test_low_precision_kernels_scale_the_8bit_rates():
    base = deployment("llama-2-70b", "h100-80gb", 4, weight_dtype="fp8", **ROOFLINE)
    slow = deployment("llama-2-70b", "h100-80gb", 4, weight_dtype="fp8",
                      **{**ROOFLINE, "low_precision_mfu": 0.5, "low_precision_mbu": 0.8})
    assert_allclose(slow.flops_per_s, 0.5 * base.flops_per_s, rtol=1e-12)
    assert_allclose(slow.bytes_per_s, 0.8 * base.bytes_per_s, rtol=1e-12)
    fp16 = deployment("llama-2-70b", "h100-80gb", 4, **{**ROOFLINE, "low_precision_mfu": 0.5})
    assert_allclose(fp16.flops_per_s, 4 * 989.4e12, rtol=1e-12)


def test_prefill_is_compute_bound_and_close_to_2_params_per_token():
    d = deployment("llama-2-70b", "a100-80gb", 4, **ROOFLINE)
    n = 2048
    flops_lower = 2 * 68.98e9 * n * 0.99  # at least ~2 x parameters per token
    t = float(d.prefill_time(n))
    assert t > flops_lower / (4 * A100_FLOPS)
    # attention adds 4·L·H·d·n(n+1)/2 FLOPs; no more than 25% on top of the matmuls at 2K tokens
    assert t < 1.25 * 2 * 68.98e9 * n / (4 * A100_FLOPS) + 0.02


def test_step_time_monotone():
    d = deployment("llama-2-70b", "a100-80gb", 4)
    by_batch = d.decode_time(np.array([1, 8, 32, 128, 256]), 1024)
    by_ctx = d.decode_time(32, np.array([128, 512, 2048, 4096]))
    assert np.all(np.diff(by_batch) > 0) and np.all(np.diff(by_ctx) > 0)
    # more GPUs, faster steps; faster GPU, faster steps
    assert deployment("llama-2-70b", "a100-80gb", 8).decode_time(32, 1024) < d.decode_time(32, 1024)
    assert deployment("llama-2-70b", "h100-80gb", 4).decode_time(32, 1024) < d.decode_time(32, 1024)


def test_int8_weights_nearly_halve_a_batch1_decode_step():
    fp16 = deployment("llama-2-70b", "a100-80gb", 4, **ROOFLINE).decode_time(1, 128)
    int8 = deployment("llama-2-70b", "a100-80gb", 4, weight_dtype="int8", **ROOFLINE).decode_time(1, 128)
    assert 1.8 < fp16 / int8 <= 2.0


def test_pipeline_sharding_is_n_times_slower_when_memory_bound():
    tp = deployment("llama-2-70b", "a100-80gb", 8, **ROOFLINE)
    pp = deployment("llama-2-70b", "a100-80gb", 8, sharding="pipeline", **ROOFLINE)
    no_comm = float(tp.decode_time(1, 128) - tp.allreduce_time(1))
    assert_allclose(pp.decode_time(1, 128), 8 * no_comm, rtol=1e-9)


def test_deployment_is_frozen(dep):
    assert isinstance(dep, Deployment)
    with pytest.raises(Exception):
        dep.n_gpus = 8
