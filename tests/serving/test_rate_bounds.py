from numpy.testing import assert_allclose

from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu, session_rate_bound
from model.serving.step_time import deployment

A100_BW = 2039e9          # bytes/s, NVIDIA A100 80GB SXM datasheet
A100_FP16 = 312e12        # dense FP16 FLOP/s
LLAMA2_70B_BYTES = 137_953_296_384
MATMUL = 80 * (2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 32000 * 8192


def test_bounds_by_hand():
    for n in (4, 8):   # per-GPU bounds do not depend on the copy size
        dep = deployment("llama-2-70b", "a100-80gb", n)
        assert_allclose(sequential_rate_bound_per_gpu(dep, 100), A100_BW / (100 * LLAMA2_70B_BYTES), rtol=1e-12)
        assert_allclose(compute_rate_bound_per_gpu(dep, 2100), A100_FP16 / (2 * MATMUL * 2100), rtol=1e-12)
    assert_allclose(session_rate_bound(350e6, 228, dep.gpu), A100_BW / (228 * 350e6), rtol=1e-12)


def test_bounds_scale_inversely_with_work():
    dep = deployment("llama-2-70b", "h100-80gb", 4)
    assert_allclose(sequential_rate_bound_per_gpu(dep, 50) / sequential_rate_bound_per_gpu(dep, 100), 2)
    assert_allclose(compute_rate_bound_per_gpu(dep, 1000) / compute_rate_bound_per_gpu(dep, 3000), 3)
