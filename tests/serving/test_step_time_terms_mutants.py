"""model.serving.step_time's terms for modern models worked by hand on models and GPUs small enough to count: the
distinct experts a batch reads, the routed experts' own MFU, MLA's absorbed attention in decode, a layer with a
window beside an MLA layer (what each holds and reads), expert parallelism's all-to-all over a valid, missing, zero
or slow link, the attention weights copied under attention data parallelism, the simulation's decode
coefficients, :func:`gpus_to_hold` and the refusals of Deployment's fields, each message in full.

Toy GPU (round figures chosen for the arithmetic, not a product): 1e4 FLOP/s at FP16/BF16, 2e4 at FP8/INT8 with an
achievable 1.5e4 at FP8, 4e4 at FP4, HBM 1e3 B/s, NVLink 400 B/s both ways (200 each way), scale-up 100 B/s each
way, 1 MB of memory. Every efficiency 1 and no overhead (``ROOFLINE``) unless a test says otherwise; with
``overlap`` 1 a step lasts compute + memory, so each term shows on its own.

Toy MLA-MoE model (a DeepSeek-V3 config.json cut down: width 8, 4 heads, kv_lora_rank 4, qk_rope 2, qk_nope 2,
v_head 3, no q_lora_rank, 2 layers of which the first is dense (first_k_dense_replace 1), the second routes to 4
experts of moe_intermediate 2, top 2, with 1 shared expert; vocabulary 10):

- attention a layer: q 8·4·(2+2) = 128, kv_a 8·(4+2) = 48, kv_a norm 4, kv_b 4·4·(2+3) = 80, o 4·3·8 = 96 → 356;
- layer 0: 356 + dense SwiGLU 3·8·16 = 384 + norms 16 = 756; layer 1: 356 + router 8·4 = 32 + shared expert
  3·8·2 = 48 + 4 experts of 48 + norms 16 = 644; embeddings 2·10·8 = 160, final norm 8 → 1,568 weights;
- a token's matmuls: 356 + 384 + 356 + 32 + 48 + 2·48 + lm head 80 = 1,352: body 1,272 (96 of them routed), lm 80;
- attention FLOPs of a pair: decode 2·4·(2·4 + 2) = 80 a layer → 160; prefill 2·4·(4 + 3) = 56 a layer → 112;
- KV a token in BF16: 2 layers · (4 + 2) · 2 B = 24 B.
"""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.architectures import Architecture, AttentionLayer, FeedForward, Layer, read_config
from model.checks import ParameterError
from model.hardware import Accelerator
from model.serving.step_time import ROOFLINE, Deployment, gpus_to_hold

FP16, FP8, FP4, HBM, SCALEUP = 1e4, 2e4, 4e4, 1e3, 100.0


def _gpu(interconnect=400.0, scaleup=SCALEUP):
    return Accelerator(name="toy", memory_gb=0.001, memory_bytes=1e6, bandwidth_bytes_per_s=HBM,
                       peak_flops={"fp16": FP16, "bf16": FP16, "fp8": FP8, "int8": FP8, "fp4": FP4},
                       interconnect_bytes_per_s=interconnect, source="test",
                       scaleup_bytes_per_s_per_direction=scaleup, achievable_flops={"fp8": 1.5e4})


MLA_MOE = read_config({"model_type": "deepseek_v3", "hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10,
                       "num_attention_heads": 4, "kv_lora_rank": 4, "qk_rope_head_dim": 2, "qk_nope_head_dim": 2,
                       "v_head_dim": 3, "intermediate_size": 16, "max_position_embeddings": 64,
                       "n_routed_experts": 4, "num_experts_per_tok": 2, "moe_intermediate_size": 2,
                       "n_shared_experts": 1, "first_k_dense_replace": 1}, name="toy-mla-moe")

#: A dense two-layer model whose first layer is MLA (as above) and whose second attends over a sliding window of 4
#: tokens with 2 KV heads of width 4 (K and V: 16 elements a token; q 8·4·4 = 128, k and v 8·2·4 = 64 each, o 128:
#: 384 weights); both MLPs the dense 384. Weights: 756 + (384 + 384 + 16) + 168 = 1,708; a token's matmuls
#: 356 + 384 + 384 + 384 + 80 = 1,588 (body 1,508); attention FLOPs of a pair: decode 80 + 4·4·4 = 144, prefill
#: 56 + 64 = 120; KV in FP8: 6 + 16 = 22 B a token every layer holds.
HYBRID = Architecture(
    name="toy-hybrid", display_name="toy-hybrid", num_layers=2, hidden_size=8, num_attention_heads=4,
    num_kv_heads=2, head_dim=4, intermediate_size=16, vocab_size=10, max_context_tokens=64,
    tie_word_embeddings=False, source="test", family="test",
    layers=(Layer(AttentionLayer("mla", 1, 6, rope_elements=2, value_head_dim=3), 356, FeedForward(384), 16),
            Layer(AttentionLayer("sliding", 2, 16, window=4), 384, FeedForward(384), 16)))


def _dep(arch=MLA_MOE, n_gpus=1, gpu=None, **kw):
    return Deployment(arch=arch, gpu=gpu or _gpu(), n_gpus=n_gpus, kv_dtype=kw.pop("kv_dtype", "bf16"),
                      **{**ROOFLINE, "overlap": 1.0, **kw})


def _message(call):
    with pytest.raises(ParameterError) as e:
        call()
    return str(e.value)


# --- the toy model's counts, from the config by hand --------------------------------------------------------
def test_toy_counts_by_hand():
    assert MLA_MOE.parameters() == 1568 and MLA_MOE.matmul_parameters() == 1352
    d = _dep()
    assert d._matmul_body == (1272.0, 80.0) and d.routed_matmul == (96.0, 2.0)   # 1 layer × top 2 × 48; E/k = 4/2
    assert (d.attention_flops_per_pair(decode=True), d.attention_flops_per_pair(decode=False)) == (160.0, 112.0)
    assert d.attention_flops_per_pair() == 112.0                                   # prefill unless told decode
    assert d.kv_bytes_per_token == 24.0 and d.weight_bytes == 3136.0                # 1,568 weights × 2 B
    h = _dep(HYBRID, kv_dtype="fp8")
    assert HYBRID.parameters() == 1708 and HYBRID.matmul_parameters() == 1588
    assert (h.attention_flops_per_pair(True), h.attention_flops_per_pair(False)) == (144.0, 120.0)
    assert h.kv_bytes_per_token == 22.0


def test_rates_of_8_bit_and_fp4_weights_by_hand():
    kw = dict(mfu=0.5, mbu=0.8, low_precision_mfu=0.6, low_precision_mbu=0.7, fp4_mfu=0.3, fp4_mbu=0.9,
              attention_mfu=0.4)
    # FP8 at the achievable 1.5e4 (not the 2e4 peak) × 0.5 × 0.6 on each of 2 GPUs; attention at the FP16 1e4 × 0.4
    fp8 = _dep(n_gpus=2, weight_dtype="fp8", **kw)
    assert_allclose([fp8.flops_per_s, fp8.bytes_per_s, fp8.attention_flops_per_s],
                    [2 * 1.5e4 * 0.5 * 0.6, 2 * HBM * 0.8 * 0.7, 2 * FP16 * 0.4], rtol=1e-12)
    # FP4 (NVFP4, 4.5 bits a weight) at its 4e4 peak × 0.5 × 0.3, HBM × 0.8 × 0.9
    fp4 = _dep(weight_dtype="fp4", **kw)
    assert_allclose([fp4.flops_per_s, fp4.bytes_per_s, fp4.weight_bytes], [FP4 * 0.5 * 0.3, HBM * 0.8 * 0.9,
                                                                           1568 * 4.5 / 8], rtol=1e-12)
    # INT8 has no achievable figure: its 2e4 peak
    assert_allclose(_dep(weight_dtype="int8", **kw).flops_per_s, FP8 * 0.5 * 0.6, rtol=1e-12)


# --- MoE: the experts a step reads, the routed experts' MFU ------------------------------------------------------
def test_moe_weights_read_are_the_experts_the_tokens_touch():
    # uniform routing, top 2 of 4: B tokens touch 4·(1 − (1/2)^B) experts: 0, 2, 3 for B = 0, 1, 2; each expert
    # left untouched saves 48 weights × 2 B
    d = _dep()
    assert_allclose(d.weight_bytes_read(np.array([0.0, 1.0, 2.0])),
                    [(1568 - 4 * 48) * 2, (1568 - 2 * 48) * 2, (1568 - 48) * 2], rtol=1e-12)
    # without the step's tokens the memory side reads every weight; with them, the touched experts only
    assert_allclose(d.memory_time(0.0, 0.0), 3136 / HBM, rtol=1e-12)
    assert_allclose(d.memory_time(0.0, 0.0, 1.0), 2944 / HBM, rtol=1e-12)
    assert_allclose(d.memory_time(3.0, 1.0, 2.0), (3040 + 24 * 4) / HBM, rtol=1e-12)
    # attention data parallelism on 2 GPUs: one more copy of the 2 × 356 attention weights (2 B each) is read
    adp = _dep(n_gpus=2, attention_data_parallel=True)
    assert_allclose(adp.weight_bytes_read(1.0), 2944 + 2 * 356 * 2, rtol=1e-12)
    assert_allclose(adp.weight_bytes, 3136 + 1424, rtol=1e-12)
    # a dense model reads all its weights whatever the tokens
    assert _dep(HYBRID).weight_bytes_read(1.0) == 1708 * 2


def test_routed_experts_at_their_own_mfu_and_ramp_by_hand():
    # 2 tokens, 1 sequence, half-tokens h = 1, expert_mfu 0.5: the dense rest 2·1,176·(2 + 1), the routed experts
    # 2·96·(2 + 1·4/2) ÷ 0.5 (each expert sees 2·2/4 rows: its ramp at h·E/k), logits 2·80
    d = _dep(mfu_half_tokens=1.0, expert_mfu=0.5)
    assert_allclose(d.compute_time(2.0, 0.0, 1.0), (2 * 1176 * 3 + 2 * 96 * 4 / 0.5 + 160) / FP16, rtol=1e-12)
    # a dense model adds no expert FLOP at all (not even one): 2·1,508 + 2·80 for one token and one sequence
    assert_allclose(_dep(HYBRID).compute_time(1.0, 0.0, 1.0), (2 * 1508 + 160) / FP16, rtol=1e-12)


# --- MLA decode, and the simulation's coefficients ----------------------------------------------------------------
def test_decode_step_of_the_mla_moe_model_by_hand():
    # 2 sequences at context 3: 8 pairs at 160 FLOPs (absorbed MLA); matmuls 2·1,176·2 + routed 2·96·2 + logits
    # 2·80·2 = 5,408; weights read: the 3 experts 2 tokens touch → 1,520 × 2 B; KV read 8 tokens, written 2, × 24 B
    d = _dep()
    compute = (5408 + 160 * 8) / FP16
    memory = 1520 * 2 / HBM + 24 * 10 / HBM
    assert_allclose(d.decode_time(2, 3), compute + memory, rtol=1e-12)
    # the same step through step_time: decode attention only when told
    assert_allclose(d.step_time(2, 8, 2, 8, 2, decode=True), compute + memory, rtol=1e-12)
    assert_allclose(d.step_time(2, 8, 2, 8, 2), compute - 48 * 8 / FP16 + memory, rtol=1e-12)   # 112 a pair
    assert d.step_flops(0, 1, 0) == 112.0 and d.step_flops(0, 1, 0, decode=True) == 160.0
    assert_allclose(d.compute_time(0.0, 1.0, 0.0, decode=True), 160 / FP16, rtol=1e-12)


def test_decode_coefficients_of_the_mla_moe_model_by_hand():
    # overlap 0.5; batch 2: C = 0.5408 + 0.016·S, M = (1,520·2 + 24·2)/1e3 + 0.024·S = 3.088 + 0.024·S
    d = _dep(overlap=0.5)
    c0, c1, m0, m1 = d.decode_coefficients(2)
    assert_allclose([c0, c1, m0, m1], [0.5408 + 0.5 * 3.088, 0.016 + 0.5 * 0.024, 3.088 + 0.5 * 0.5408,
                                       0.024 + 0.5 * 0.016], rtol=1e-12)
    # and they give the step: S = 2·(3 + 1) = 8 → M + 0.5·C = 3.28 + 0.5·0.6688
    assert_allclose(max(c0 + 8 * c1, m0 + 8 * m1), 3.28 + 0.5 * 0.6688, rtol=1e-12)
    assert_allclose(d.decode_time(2, 3), 3.28 + 0.5 * 0.6688, rtol=1e-12)


# --- a window beside an MLA layer -----------------------------------------------------------------------------------
def test_kv_tokens_held_with_a_window_by_hand():
    # at n tokens the MLA layer holds n × 6 B, the window min(n, 4) × 16 B (FP8): in tokens of 22 B
    h = _dep(HYBRID, kv_dtype="fp8")
    assert_allclose(h.kv_tokens_held(np.array([0.0, 1.0, 10.0])), [1.0, 1.0, (60 + 64) / 22], rtol=1e-12)
    # on 2 GPUs (tensor parallel) the latent is held by both (2 × 6 B) and the window's 2 KV heads are split
    # (16 B in all): 28 B a token, and at 10 tokens 2 × 60 + 64 B
    two = _dep(HYBRID, n_gpus=2, kv_dtype="fp8")
    assert two.kv_bytes_per_token == 28.0
    assert_allclose(two.kv_tokens_held(10.0), (2 * 60 + 64) / 28, rtol=1e-12)
    # a model whose every layer holds every token: the context itself, as floats
    held = _dep().kv_tokens_held(np.array([3, 5]))
    assert held.dtype == np.float64 and list(held) == [3.0, 5.0]


def test_decode_step_with_a_window_by_hand():
    # 2 sequences at context 9 (10 with the new token): the MLA layer attends 10, the window 4 → a mean of 7 a
    # layer, 14 pairs at the decode 144 FLOPs; matmuls 2·1,508·2 + logits 2·80·2; weights 1,708 × 2 B; KV read
    # 2 × (10·6 + 4·16) B, written 2 × 22 B
    h = _dep(HYBRID, kv_dtype="fp8")
    compute = (2 * 1508 * 2 + 2 * 80 * 2 + 144 * 14) / FP16
    memory = (1708 * 2 + 2 * 124 + 2 * 22) / HBM
    assert_allclose(h.decode_time(2, 9), compute + memory, rtol=1e-12)


def test_prefill_with_a_window_by_hand():
    # 6 new tokens after p cached. Pairs a layer: MLA Σ_{j=p+1}^{p+6} j; window Σ min(j, 4). Tokens read: what the
    # layers hold at p (none when p = 0).
    h = _dep(HYBRID, kv_dtype="fp8")
    mla = [sum(range(1, 7)), sum(range(2, 8)), sum(range(6, 12))]               # p = 0, 1, 5: 21, 27, 51
    win = [sum(min(j, 4) for j in range(p + 1, p + 7)) for p in (0, 1, 5)]     # 18, 21, 24
    assert (mla, win) == ([21, 27, 51], [18, 21, 24])
    read = [0.0, 22.0, 5 * 6 + 4 * 16]                                         # bytes held at p = 0, 1, 5
    expected = [(2 * 1508 * 6 + 2 * 80 + 120 * (m + w) / 2) / FP16 + (1708 * 2 + r + 6 * 22) / HBM
                for m, w, r in zip(mla, win, read)]
    assert_allclose(h.prefill_time(np.array([6.0, 6.0, 6.0]), np.array([0.0, 1.0, 5.0])), expected, rtol=1e-12)
    # two prompts of 3 and 6 in one step: pairs (6 + 6)/2 + (21 + 18)/2 = 25.5, 2 sequences emit logits, 9 written
    assert_allclose(h.batch_prefill_time([3, 6]),
                    (2 * 1508 * 9 + 2 * 80 * 2 + 120 * 25.5) / FP16 + (1708 * 2 + 9 * 22) / HBM, rtol=1e-12)


# --- expert parallelism's all-to-all and the all-reduces ------------------------------------------------------------
LAT = 0.25


def test_all_to_all_by_hand():
    # EP 2 on 2 GPUs of one node, the one MoE layer: each way a GPU sends t/2 tokens × top 2 × width 8 × 2 B = 16·t
    # B, half of it to the other GPU, at 100 B/s; dispatch and combine, each with its latency
    d = _dep(n_gpus=2, expert_parallel=2, allreduce_latency_s=LAT)
    assert_allclose(d.all_to_all_time(np.array([0.0, 10.0])), [2 * LAT, 2 * 160 / 2 / 100 + 2 * LAT], rtol=1e-12)
    # all-reduces: 2 after attention + 1 after the dense MLP (the MoE layer's is the all-to-all): 3 × t × 8 × 2 B,
    # a ring of 2 moving 2·1/2 of it at 200 B/s, plus 3 latencies, plus the all-to-all
    assert d.allreduces_per_step == 3
    assert_allclose(d.allreduce_time(10.0), 3 * 10 * 8 * 2 / 200 + 3 * LAT + 1.6 + 2 * LAT, rtol=1e-12)
    # a link of 1 B/s each way (NVLink 2 B/s in all, no scale-up figure): 8·t B at 1 B/s each way
    slow = _dep(n_gpus=2, expert_parallel=2, allreduce_latency_s=LAT, gpu=_gpu(2.0, math.nan))
    assert_allclose(slow.all_to_all_time(10.0), 2 * 80 + 2 * LAT, rtol=1e-12)
    # without expert parallelism none, as floats
    none = _dep(n_gpus=2, allreduce_latency_s=LAT).all_to_all_time(np.array([1, 2]))
    assert none.dtype == np.float64 and not none.any()


@pytest.mark.parametrize("interconnect", [math.nan, 0.0])
def test_all_to_all_and_all_reduce_of_an_unknown_or_missing_link_are_their_latencies(interconnect):
    d = _dep(n_gpus=2, expert_parallel=2, allreduce_latency_s=LAT, gpu=_gpu(interconnect, math.nan))
    assert_allclose(d.all_to_all_time(np.array([0.0, 10.0])), [2 * LAT, 2 * LAT], rtol=1e-12)
    got = d.allreduce_time(np.array([0.0, 10.0]))
    assert got.dtype == np.float64
    assert_allclose(got, [5 * LAT, 5 * LAT], rtol=1e-12)     # 3 all-reduces and the all-to-all's 2


# --- gpus_to_hold ------------------------------------------------------------------------------------------------
A100_MEMORY = 85_899_345_920          # A100 80GB: 80 GiB (data/hardware.csv)
W70 = 137_953_296_384                 # Llama-2-70B FP16 weights, bytes (safetensors total_size)


def test_gpus_to_hold_by_hand():
    # 90% of 80 GiB = 77.3 GB a GPU: 70B in FP16 (138.0 GB) needs 2, in FP8 (69.0 GB) 1
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 1) == 2
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 1, weight_dtype="fp8") == 1
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 3) == 3          # a start that holds them is kept
    # at 40%: 34.4 GB a GPU, 4 of them 137.4 GB < 138.0 GB → 8
    assert 4 * A100_MEMORY * 0.4 < W70 < 8 * A100_MEMORY * 0.4
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 1, memory_utilization=0.4) == 8
    # weights filling 4 GPUs exactly leave no room for KV: 8
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 4, memory_utilization=W70 / (4 * A100_MEMORY)) == 8
    # the doubling stops at 1,024 GPUs (1,024 × 0.1% of 80 GiB = 88 GB < 138 GB)
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 1, memory_utilization=1e-3) == 1024
    assert _message(lambda: gpus_to_hold("llama-2-70b", "a100-80gb", 0)) == (
        "start=0 is not allowed: start must be an integer in [1, inf]")


# --- refusals of Deployment's fields, in full ------------------------------------------------------------------------
def test_refused_fields_name_themselves_and_their_range():
    assert _message(lambda: _dep(n_gpus=8, expert_parallel=3)) == (
        "expert_parallel=3 is not allowed: expert_parallel must be a divisor of n_gpus=8 with tensor sharding")
    assert _message(lambda: _dep(n_gpus=2, expert_parallel=2, sharding="pipeline")) == (
        "expert_parallel=2 is not allowed: expert_parallel must be a divisor of n_gpus=2 with tensor sharding")
    assert _message(lambda: _dep(n_gpus=2, expert_parallel=0)) == (
        "expert_parallel=0 is not allowed: expert_parallel must be an integer in [1, inf]")
    assert _message(lambda: _dep(n_gpus=2, attention_data_parallel="yes")) == (
        "attention_data_parallel='yes' is not allowed: attention_data_parallel must be True or False (True only "
        "with tensor sharding)")
    assert _message(lambda: _dep(n_gpus=2, node_gpus=-1)) == (
        "node_gpus=-1 is not allowed: node_gpus must be an integer in [0, inf]")
    assert _message(lambda: _dep(n_gpus=12, node_gpus=8)) == (
        "n_gpus=12 is not allowed: n_gpus must be at most node_gpus=8 or a multiple of it (whole nodes)")
    # a replica of exactly one node, or of fewer GPUs than a node, is accepted
    assert _dep(n_gpus=8, node_gpus=8).nodes == 1 and _dep(n_gpus=4, node_gpus=8).nodes == 1
    assert _dep(n_gpus=16, node_gpus=8).nodes == 2
