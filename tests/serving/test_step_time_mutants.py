"""model.serving.step_time against the bugs that would mislead a reader: n²/2 attention pairs instead of n(n+1)/2,
logits for every prompt token, a term of the FLOPs or bytes dropped, the KV read of a prefill counted, the
all-reduce of an unknown link, the checks of the parameters and the memory message. Expectations from the
documented roofline with the constants typed here from the model cards and datasheets."""
import dataclasses
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.serving import step_time
from model.parameters import default
from model.serving.step_time import ROOFLINE, deployment, fixed_batch_time
from model.checks import ParameterError

A100_BW = 2039e9                      # NVIDIA A100 80GB SXM datasheet, bytes/s
A100_FLOPS = 312e12                   # dense FP16 tensor peak, FLOP/s
A100_MEMORY = 85_899_345_920          # 80 GiB
LINK = 300e9                          # NVLink 3 per direction
W70 = 137_953_296_384                 # Llama-2-70B FP16 weights, bytes (safetensors total_size)
KV70 = 2 * 80 * 8 * 128 * 2           # bytes a token: K and V, 80 layers, 8 KV heads of 128, FP16
LM_HEAD = 32000 * 8192                # output projection, parameters
# matmul parameters of a layer: q, o 8192² each, k, v 8192 × 1024 each, MLP 3 × 8192 × 28672
BODY70 = 80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672)
ATTN70 = 4 * 80 * 64 * 128            # FLOPs per (query, key) pair: QKᵀ and AV over 64 heads of 128


@pytest.fixture(scope="module")
def roof():
    return deployment("llama-2-70b", "a100-80gb", 4, **ROOFLINE)


def _comm(tokens, n=4):
    """Ring all-reduce seconds: 2 per layer of tokens × 8192 FP16 activations, 2(N−1)/N over each direction."""
    return 2 * 80 * tokens * 8192 * 2 * (2 * (n - 1) / n) / LINK


def _roofline(tokens, pairs, seqs, read, written, n=4, overlap=0.0):
    c = (2 * BODY70 * tokens + 2 * LM_HEAD * seqs + ATTN70 * pairs) / (n * A100_FLOPS)
    m = (W70 + KV70 * (read + written)) / (n * A100_BW)
    return max(c, m) + overlap * min(c, m) + _comm(tokens, n)


def test_flops_and_bytes_of_a_step_by_hand(roof):
    assert roof.arch.matmul_parameters() == BODY70 + LM_HEAD
    assert roof.step_flops(1, 0, 0) == 2 * BODY70
    assert roof.step_flops(0, 0, 1) == 2 * LM_HEAD
    assert roof.step_flops(0, 1, 0) == ATTN70
    assert_allclose(roof.step_flops([3, 0], [5, 7], [1, 2]),
                    [6 * BODY70 + 2 * LM_HEAD + 5 * ATTN70, 4 * LM_HEAD + 7 * ATTN70], rtol=1e-15)
    assert roof.step_bytes(0, 0) == W70
    assert_allclose(roof.step_bytes([3, 10], [5, 0]), [W70 + 8 * KV70, W70 + 10 * KV70], rtol=1e-15)


def test_prefill_pairs_are_causal(roof):
    # 2048 new tokens after 1024 cached: token i attends to 1024 + i positions, i = 1..2048
    pairs = sum(1024 + i for i in range(1, 2049))
    assert pairs == 2048 * 1024 + 2048 * 2049 // 2 == 4_195_328
    # compute-bound (C ≈ 0.23 s, M ≈ 0.017 s): one sequence emits logits, the cache is read, the new KV written
    assert_allclose(roof.prefill_time(2048, 1024), _roofline(2048, pairs, 1, 1024, 2048), rtol=1e-12)
    assert_allclose(roof.prefill_time(2048), _roofline(2048, 2048 * 2049 / 2, 1, 0, 2048), rtol=1e-12)
    # with an overlap term the memory side shows too (the cached tokens read)
    d = deployment("llama-2-70b", "a100-80gb", 4, **{**ROOFLINE, "overlap": 0.5})
    assert_allclose(d.prefill_time(np.array([2048, 2048]), np.array([1024, 0])),
                    [_roofline(2048, pairs, 1, 1024, 2048, overlap=0.5),
                     _roofline(2048, 2048 * 2049 / 2, 1, 0, 2048, overlap=0.5)], rtol=1e-12)


def test_batch_prefill_by_hand():
    d = deployment("llama-2-70b", "a100-80gb", 4, **{**ROOFLINE, "overlap": 0.5})
    # 1000 and 3000 tokens: pairs 1000·1001/2 + 3000·3001/2 = 500,500 + 4,501,500; 2 sequences emit logits
    pairs = sum(range(1, 1001)) + sum(range(1, 3001))
    assert pairs == 5_002_000
    assert_allclose(d.batch_prefill_time([1000, 3000]), _roofline(4000, pairs, 2, 0, 4000, overlap=0.5),
                    rtol=1e-12)
    # memory-bound (3 + 5 tokens): nothing read from the cache, 8 tokens written
    assert_allclose(d.batch_prefill_time([3, 5]), _roofline(8, 6 + 15, 2, 0, 8, overlap=0.5), rtol=1e-12)
    assert isinstance(d.batch_prefill_time([3, 5]), float)


def test_fixed_batch_time_by_hand(roof):
    # 4 requests of 512 + 3 tokens: one prefill step of 2048 tokens (pairs 4 × 512·513/2, 4 logits), then
    # decode steps at contexts 512 and 513 (each of the 4 reads context + 1, writes 1; memory-bound)
    pre = _roofline(2048, 4 * 512 * 513 / 2, 4, 0, 2048)
    dec = [_roofline(4, 4 * (ctx + 1), 4, 4 * (ctx + 1), 4) for ctx in (512, 513)]
    assert_allclose(fixed_batch_time(roof, 4, 512, 3), pre + sum(dec), rtol=1e-12)
    assert_allclose(fixed_batch_time(roof, 4, 512, 1), pre, rtol=1e-12)
    # with an overlap term the prefill's memory side shows: nothing read from the cache, 2048 tokens written
    lap = deployment("llama-2-70b", "a100-80gb", 4, **{**ROOFLINE, "overlap": 0.5})
    assert_allclose(fixed_batch_time(lap, 4, 512, 1), _roofline(2048, 4 * 512 * 513 / 2, 4, 0, 2048, overlap=0.5),
                    rtol=1e-12)
    assert_allclose(roof.decode_time(4, 512), dec[0], rtol=1e-12)
    for args, name in [((0, 512, 3), "batch"), ((4, 0, 3), "input_tokens"), ((4, 512, 0), "output_tokens")]:
        with pytest.raises(ParameterError, match=rf"^{name}=0 is not allowed: {name} must be an integer in \[1, "):
            fixed_batch_time(roof, *args)
    assert fixed_batch_time(roof, 1, 1, 1) > 0


def test_decode_coefficients_give_the_step_with_overlap_and_overheads():
    kw = {**ROOFLINE, "overlap": 0.4, "step_overhead_s": 2e-3, "layer_overhead_s": 1e-5,
          "allreduce_latency_s": 3e-6}
    d = deployment("llama-2-70b", "a100-80gb", 4, **kw)
    for b, ctx in [(8, 1000), (256, 20), (1, 4000)]:
        c0, c1, m0, m1 = d.decode_coefficients(b)
        s = b * (ctx + 1)
        assert_allclose(max(c0 + c1 * s, m0 + m1 * s), d.decode_time(b, ctx), rtol=1e-12)
        # both branches are the step of their regime: C + k·M + fixed and M + k·C + fixed
        fixed = 2e-3 + 80 * 1e-5 + 2 * 80 * 3e-6 + _comm(b)
        c = (2 * BODY70 * b + 2 * LM_HEAD * b + ATTN70 * s) / (4 * A100_FLOPS)
        m = (W70 + KV70 * (s + b)) / (4 * A100_BW)
        assert_allclose([c0 + c1 * s, m0 + m1 * s], [c + 0.4 * m + fixed, m + 0.4 * c + fixed], rtol=1e-12)


def _with_link(link_bytes_per_s, n_gpus=4, **kw):
    d = deployment("llama-2-70b", "a100-80gb", n_gpus, **{**ROOFLINE, **kw})
    return dataclasses.replace(d, gpu=dataclasses.replace(d.gpu, interconnect_bytes_per_s=link_bytes_per_s))


def test_allreduce_of_an_unknown_or_missing_link_is_its_latency():
    lat = 7e-6
    t = np.array([1.0, 100.0, 1000.0])
    for bw in (math.nan, math.inf, 0.0):
        got = _with_link(bw, allreduce_latency_s=lat).allreduce_time(t)
        assert got.shape == (3,)
        assert_allclose(got, np.full(3, 2 * 80 * lat), rtol=1e-12)
    # a link of 2 bytes/s in all (1 each way) is still a link
    assert_allclose(_with_link(2.0).allreduce_time(1.0), 2 * 80 * 8192 * 2 * 1.5 / 1.0, rtol=1e-12)
    one = deployment("llama-2-7b", "a100-80gb", 1)
    z = one.allreduce_time(np.array([1, 2, 3]))
    assert z.shape == (3,) and z.dtype == np.float64 and not z.any()


NAMES = [("weight_dtype", "fp3"), ("kv_dtype", "fp3"), ("mfu", 0.0), ("mbu", 0.0),
         ("sharding", "data"), ("attention_mfu", 0.0), ("attention_mbu", 0.0), ("low_precision_mfu", 0.0),
         ("low_precision_mbu", 0.0), ("overlap", 1.5), ("mfu_half_tokens", -1.0), ("step_overhead_s", -1.0),
         ("layer_overhead_s", -1.0), ("allreduce_latency_s", -1.0)]


@pytest.mark.parametrize("name, bad", NAMES)
def test_checks_name_the_parameter(name, bad):
    with pytest.raises(ParameterError, match=f"^{name}="):
        deployment("llama-2-70b", "a100-80gb", 4, **{name: bad})


def test_gpu_count_checked_before_memory():
    with pytest.raises(ParameterError, match=r"^n_gpus=0 is not allowed: n_gpus must be an integer in \[1, inf\]$"):
        deployment("llama-2-7b", "a100-80gb", 0)
    assert deployment("llama-2-7b", "a100-80gb", 1).n_gpus == 1


def test_weights_that_do_not_fit_say_how_many_gpus():
    # 137.95 GB of weights; one A100 80GB offers 0.9 × 85.90 = 77.3 GB: at least 2 GPUs
    msg = ("n_gpus=1 is not allowed: n_gpus must be >= 2: llama-2-70b weights in fp16 take 138.0 GB but "
           "1 x a100-80gb offer 77.3 GB usable")
    with pytest.raises(ParameterError) as e:
        deployment("llama-2-70b", "a100-80gb", 1)
    assert str(e.value) == msg
    # at half the memory, 42.9 GB a GPU: ceil(137.95 / 42.95) = 4
    with pytest.raises(ParameterError) as e:
        deployment("llama-2-70b", "a100-80gb", 2, memory_utilization=0.5)
    assert str(e.value).endswith(">= 4: llama-2-70b weights in fp16 take 138.0 GB but 2 x a100-80gb offer "
                                 "85.9 GB usable")


def test_kv_budget_of_zero_bytes_is_refused_one_byte_is_not():
    d = deployment("llama-2-70b", "a100-80gb", 4)
    exact = dataclasses.replace(d.gpu, memory_bytes=float(W70))
    with pytest.raises(ParameterError, match="^n_gpus=1"):
        dataclasses.replace(d, gpu=exact, n_gpus=1, memory_utilization=1.0)
    one_byte = dataclasses.replace(d, gpu=dataclasses.replace(d.gpu, memory_bytes=float(W70 + 1)), n_gpus=1,
                                   memory_utilization=1.0)
    assert one_byte.kv_budget_bytes == 1.0 and one_byte.kv_capacity_tokens == 0


def test_cited_defaults_are_read_from_the_parameters(monkeypatch):
    monkeypatch.setattr(step_time, "_DEFAULTS", {})
    d = deployment("llama-2-70b", "a100-80gb", 4)
    assert d.mfu == default("batching_prefill_mfu") and d.overlap == default("step_overlap")
    assert step_time._DEFAULTS["step_overhead_s"] == default("step_overhead_s")
    f = step_time._p("step_layer_overhead_s")
    assert f.default_factory() == default("step_layer_overhead_s")


def test_deployment_defaults():
    d = deployment()
    assert (d.arch.name, d.gpu.name, d.n_gpus) == ("llama-2-70b", "a100-80gb", 4)
