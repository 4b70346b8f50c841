import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.step_time import Deployment, deployment

A100_BW = 2039e9          # NVIDIA A100 80GB SXM datasheet, bytes/s (typed here independently)
A100_FLOPS = 312e12       # dense FP16 tensor peak
LLAMA2_70B_BYTES = 137_953_296_384   # safetensors total_size of meta-llama/Llama-2-70b-hf
KV_PER_TOKEN = 2 * 80 * 8 * 128 * 2  # bytes, FP16, GQA


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


def test_decode_step_by_hand_memory_bound():
    d = deployment("llama-2-70b", "a100-80gb", 4, mfu=1.0, mbu=1.0)
    b, ctx = 8, 1000
    bytes_moved = LLAMA2_70B_BYTES + KV_PER_TOKEN * (b * (ctx + 1) + b)
    allreduce = 2 * 80 * b * 8192 * 2 * (2 * 3 / 4) / 600e9
    assert_allclose(d.decode_time(b, ctx), bytes_moved / (4 * A100_BW) + allreduce, rtol=1e-9)


def test_prefill_is_compute_bound_and_close_to_2_params_per_token():
    d = deployment("llama-2-70b", "a100-80gb", 4, mfu=1.0, mbu=1.0)
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
    fp16 = deployment("llama-2-70b", "a100-80gb", 4).decode_time(1, 128)
    int8 = deployment("llama-2-70b", "a100-80gb", 4, weight_dtype="int8").decode_time(1, 128)
    assert 1.8 < fp16 / int8 <= 2.0


def test_pipeline_sharding_is_n_times_slower_when_memory_bound():
    tp = deployment("llama-2-70b", "a100-80gb", 8, mbu=1.0)
    pp = deployment("llama-2-70b", "a100-80gb", 8, mbu=1.0, sharding="pipeline")
    no_comm = float(tp.decode_time(1, 128) - tp.allreduce_time(1))
    assert_allclose(pp.decode_time(1, 128), 8 * no_comm, rtol=1e-9)


def test_deployment_is_frozen(dep):
    assert isinstance(dep, Deployment)
    with pytest.raises(Exception):
        dep.n_gpus = 8
