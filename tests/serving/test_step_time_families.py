"""Step time of the 2026 families: FP4 matmuls at the FP4 peak with their own efficiency, MLA decode with
absorbed projections, expert parallelism's all-to-all and attention data parallelism. Every expected figure is
worked here by hand from the published config.json (data/models/deepseek-v3) and data/hardware.csv, not from
the code under test."""

import pytest
from numpy.testing import assert_allclose

from model.serving.step_time import ROOFLINE, deployment
from model.checks import ParameterError

# DeepSeek-V3 config.json: 61 layers (3 dense, first_k_dense_replace), 128 heads, kv_lora_rank 512,
# qk_rope_head_dim 64, qk_nope_head_dim 128, v_head_dim 128, hidden 7168, top-8 of 256 routed experts.
LAYERS, MOE_LAYERS, HEADS, RANK, ROPE, NOPE, V, D, K = 61, 58, 128, 512, 64, 128, 128, 7168, 8


def test_mla_decode_attention_flops_use_the_absorbed_latent_and_prefill_the_expanded_heads():
    d = deployment("deepseek-v3", "h200-141gb", 8, weight_dtype="fp8", kv_dtype="bf16")
    # decode: QK over the 576-element latent (512 + 64) and AV over its 512 elements, per head: 2·(1088) FLOPs
    assert d.attention_flops_per_pair(decode=True) == LAYERS * 2 * HEADS * (2 * RANK + ROPE) == 16_990_208
    # prefill: per head a 192-wide key (128 + 64) and a 128-wide value
    assert d.attention_flops_per_pair(decode=False) == LAYERS * 2 * HEADS * (NOPE + ROPE + V) == 4_997_120
    # a Llama-family model keeps 4 × heads × head width per layer (Llama 2 70B: 80 × 64 heads × 128)
    llama = deployment("llama-2-70b", "a100-80gb", 4)
    assert llama.attention_flops_per_pair(True) == llama.attention_flops_per_pair(False) == 4 * 80 * 64 * 128


def test_a_decode_step_charges_the_absorbed_attention_flops():
    d = deployment("deepseek-v3", "h200-141gb", 8, weight_dtype="fp8", kv_dtype="bf16", **ROOFLINE)
    b, ctx = 64, 4095
    pairs = b * (ctx + 1)
    extra = (16_990_208 - 4_997_120) * pairs / (8 * 989.4e12)  # 8 H200 at the FP16 dense peak, attention MFU 1
    assert_allclose(float(d.compute_time(b, pairs, b, decode=True)) - float(d.compute_time(b, pairs, b)),
                    extra, rtol=1e-9)


def test_fp4_runs_at_the_fp4_peak_times_its_own_efficiencies():
    # B200 (data/hardware.csv): 9,000 TFLOPS FP4 dense, 8,000 GB/s; NVFP4 = 4.5 bits per weight
    d = deployment("llama-3.1-70b", "b200-180gb", 1, weight_dtype="fp4", kv_dtype="fp8", mfu=0.5, mbu=0.8,
                   fp4_mfu=0.6, fp4_mbu=0.9, low_precision_mfu=0.1, low_precision_mbu=0.1)
    assert_allclose(d.flops_per_s, 9000e12 * 0.5 * 0.6, rtol=1e-12)
    assert_allclose(d.bytes_per_s, 8000e9 * 0.8 * 0.9, rtol=1e-12)
    assert_allclose(d.weight_bytes, d.arch.parameters() * 4.5 / 8, rtol=1e-12)
    fp8 = deployment("llama-3.1-70b", "b200-180gb", 1, weight_dtype="fp8", mfu=0.5, fp4_mfu=0.6,
                     low_precision_mfu=0.1)
    assert_allclose(fp8.flops_per_s, 4500e12 * 0.5 * 0.1, rtol=1e-12)  # FP8 keeps its own efficiency
    with pytest.raises(ParameterError, match="compute_dtype"):
        deployment("llama-3.1-70b", "h200-141gb", 1, weight_dtype="fp4")  # Hopper has no FP4 tensor cores


def test_expert_parallel_all_to_all_by_hand():
    # 8 x B200, EP 8: per MoE layer and GPU, dispatch and combine each send (t/8) tokens x top-8 x 7168 x 2 bytes
    # x 7/8 over 900 GB/s per direction (NVLink 5, data/hardware.csv scaleup_gb_s_per_direction)
    lat = 5e-6
    d = deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4", kv_dtype="fp8", expert_parallel=8,
                   allreduce_latency_s=lat)
    t = 1024
    per_gpu = t / 8 * K * D * 2 * 7 / 8
    assert per_gpu == 12_845_056
    expected = 2 * MOE_LAYERS * per_gpu / 900e9 + 2 * MOE_LAYERS * lat
    assert_allclose(float(d.all_to_all_time(t)), expected, rtol=1e-12)
    assert_allclose(expected, 1.4900e-3 / 0.9 + 2 * 58 * lat, rtol=1e-3)  # 1.49 GB over 900 GB/s
    # the MoE layers' all-reduce is gone: 61 after attention + the 3 dense MLPs; without EP, 2 x 61
    assert d.allreduces_per_step == LAYERS + 3
    assert deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4").allreduces_per_step == 2 * LAYERS
    assert float(deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4").all_to_all_time(t)) == 0.0


def test_attention_data_parallel_holds_one_latent_per_token_and_the_attention_weights_on_every_gpu():
    tp = deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4", kv_dtype="bf16")
    dp = deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4", kv_dtype="bf16", expert_parallel=8,
                    attention_data_parallel=True)
    one = LAYERS * (RANK + ROPE) * 2  # 70,272 bytes: one BF16 latent per layer
    assert one == 70_272
    assert_allclose(dp.kv_bytes_per_token, one, rtol=1e-12)
    assert_allclose(tp.kv_bytes_per_token, 8 * one, rtol=1e-12)  # replicated on each of the 8 GPUs
    # attention weights per layer (DeepSeek-V3: q_lora_rank 1536): q_a, q_a norm, q_b, kv_a, kv_a norm, kv_b, o
    attn = (D * 1536 + 1536 + 1536 * HEADS * (NOPE + ROPE) + D * (RANK + ROPE) + RANK
            + RANK * HEADS * (NOPE + V) + HEADS * V * D)
    assert_allclose(dp.weight_bytes - tp.weight_bytes, 7 * LAYERS * attn * 4.5 / 8, rtol=1e-12)
    assert dp.allreduces_per_step == 3  # only the dense MLPs of the first 3 layers


@pytest.mark.parametrize("kwargs, name", [({"expert_parallel": 3}, "expert_parallel"),
                                          ({"attention_data_parallel": "yes"}, "attention_data_parallel"),
                                          ({"fp4_mfu": 0.0}, "fp4_mfu")])
def test_bad_parallel_settings_are_refused(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        deployment("deepseek-v3", "b200-180gb", 8, weight_dtype="fp4", **kwargs)


def test_all_to_all_across_nodes_sends_the_other_nodes_share_over_the_nic_by_hand():
    # DeepSeek's prefill unit: 4 nodes x 8 H800, EP32. Per MoE layer and GPU each way: (t/32) tokens x top-8 x 7168
    # x 2 bytes; 24 of the 32 expert GPUs sit on other nodes (over one 400 Gb/s NIC = 50 GB/s a way, data/hardware.csv
    # rdma-nic-400g) and 7 on its own node (NVLink 200 GB/s a way on H800): the NIC's share takes longer.
    lat = 5e-6
    d = deployment("deepseek-v3", "h800-80gb", 32, weight_dtype="fp8", kv_dtype="bf16", expert_parallel=32,
                   attention_data_parallel=True, node_gpus=8, allreduce_latency_s=lat)
    t = 4096
    per_token_bytes = t / 32 * K * D * 2
    nic = per_token_bytes * 24 / 32 / 50e9
    nvlink = per_token_bytes * 7 / 32 / 200e9
    assert nic > nvlink
    assert_allclose(float(d.all_to_all_time(t)), 2 * MOE_LAYERS * nic + 2 * MOE_LAYERS * lat, rtol=1e-12)
    assert d.nodes == 4 and d.attention_ranks == 32 and d.kv_tensor_parallel == 1
    # the same group inside one scale-up domain (node_gpus 0) sends 31/32 over NVLink
    one = deployment("deepseek-v3", "h800-80gb", 32, weight_dtype="fp8", kv_dtype="bf16", expert_parallel=32,
                     attention_data_parallel=True, allreduce_latency_s=lat)
    assert_allclose(float(one.all_to_all_time(t)), 2 * MOE_LAYERS * (per_token_bytes * 31 / 32 / 200e9 + lat),
                    rtol=1e-12)
    # a group of one node is unchanged by node_gpus
    eight = dict(weight_dtype="fp4", kv_dtype="fp8", expert_parallel=8)
    assert float(deployment("deepseek-v3", "b200-180gb", 8, node_gpus=8, **eight).all_to_all_time(t)) == \
        float(deployment("deepseek-v3", "b200-180gb", 8, **eight).all_to_all_time(t))


def test_weights_per_gpu_under_expert_parallelism_by_hand():
    # EP32 with attention data parallelism: every GPU holds the MLA weights whole, the rest 1/32 of it.
    # MLA per layer (config.json): q_a 7168x1536, q_b 1536x128x(128+64), kv_a 7168x(512+64), kv_b 512x128x(128+128),
    # o 128x128x7168 (the two small norms left out: 2,048 weights a layer)
    mla = D * 1536 + 1536 * HEADS * (NOPE + ROPE) + D * (RANK + ROPE) + RANK * HEADS * (NOPE + V) + HEADS * V * D
    total = 671e9            # DeepSeek-V3 README_WEIGHTS.md: 'Total parameters: 671B' (data/models/deepseek-v3)
    d = deployment("deepseek-v3", "h800-80gb", 32, weight_dtype="fp8", kv_dtype="bf16", expert_parallel=32,
                   attention_data_parallel=True, node_gpus=8)
    assert_allclose(d.weight_bytes_per_gpu, (total + 31 * LAYERS * mla) / 32, rtol=2e-3)   # FP8: 1 byte a weight
    assert d.weight_bytes_per_gpu < 80e9 * 0.9 / 2                                         # room for KV on 80 GB
    with pytest.raises(ParameterError, match="n_gpus"):
        deployment("deepseek-v3", "h800-80gb", 12, weight_dtype="fp8", expert_parallel=12, node_gpus=8)


def test_mi300x_matmuls_and_attention_run_at_amds_max_achievable_flops():
    # AMD's published MAF (ROCm blogs, Measuring Max-Achievable FLOPs Part 2, Table 1): MI300X FP8 1,273 TFLOPs,
    # FP16 654 TFLOPs, against datasheet peaks of 2,614.9 and 1,307.4: the efficiencies apply to the MAF.
    d = deployment("llama-3.1-70b", "mi300x-192gb", 8, weight_dtype="fp8", kv_dtype="fp8", mfu=0.5,
                   low_precision_mfu=0.8, attention_mfu=0.4)
    assert_allclose(d.flops_per_s, 8 * 1273e12 * 0.5 * 0.8, rtol=1e-12)
    assert_allclose(d.attention_flops_per_s, 8 * 654e12 * 0.4, rtol=1e-12)
    # an H100 keeps its datasheet peak (NVIDIA publishes no achievable figure): 1,978.9 TFLOPS FP8
    h = deployment("llama-3.1-70b", "h100-80gb", 8, weight_dtype="fp8", mfu=0.5, low_precision_mfu=0.8)
    assert_allclose(h.flops_per_s, 8 * 1978.9e12 * 0.5 * 0.8, rtol=1e-12)


# Qwen3-30B-A3B config.json: 48 layers, all MoE (decoder_sparse_step 1, no mlp_only_layers), 128 routed experts,
# top-8, moe_intermediate_size 768, hidden 2048: one expert = 3 x 2048 x 768 weights (gate, up, down).
Q_LAYERS, Q_E, Q_K, Q_FFN, Q_D = 48, 128, 8, 768, 2048
Q_ROUTED_PER_TOKEN = Q_LAYERS * Q_K * 3 * Q_D * Q_FFN  # 1,811,939,328 routed-expert weights a token uses


def test_routed_experts_run_at_their_own_efficiency_and_ramp_at_each_experts_rows():
    assert Q_ROUTED_PER_TOKEN == 1_811_939_328
    base = dict(ROOFLINE, mfu_half_tokens=0.0)
    one = deployment("qwen3-30b-a3b", "h100-80gb", 1, **base)
    half = deployment("qwen3-30b-a3b", "h100-80gb", 1, **dict(base, expert_mfu=0.5))
    t = 1000.0
    # at expert_mfu 0.5 the routed FLOPs take twice as long: one extra 2 x routed x t at the FP16 dense peak
    extra = 2 * Q_ROUTED_PER_TOKEN * t / 989.4e12
    assert_allclose(float(half.compute_time(t, 0.0, 0.0)) - float(one.compute_time(t, 0.0, 0.0)), extra, rtol=1e-9)
    # the ramp: with half-tokens h, each expert sees t·k/E rows, so its matmuls cost as if t + h·E/k tokens ran;
    # the dense rest as if t + h
    h = 10.0
    ramp = deployment("qwen3-30b-a3b", "h100-80gb", 1, **dict(base, mfu_half_tokens=h))
    added = 2 * Q_ROUTED_PER_TOKEN * h * Q_E / Q_K + 2 * (ramp._matmul_body[0] - Q_ROUTED_PER_TOKEN) * h
    assert_allclose(float(ramp.compute_time(t, 0.0, 0.0)) - float(one.compute_time(t, 0.0, 0.0)),
                    added / 989.4e12, rtol=1e-9)
    # a dense model has no routed experts: expert_mfu changes nothing
    a = deployment("llama-3.1-8b", "h100-80gb", 1, **base)
    b = deployment("llama-3.1-8b", "h100-80gb", 1, **dict(base, expert_mfu=0.1))
    assert float(a.compute_time(t, 0.0, 1.0)) == float(b.compute_time(t, 0.0, 1.0))


def test_sequence_overhead_adds_per_running_sequence_to_every_step():
    base = dict(ROOFLINE)
    plain = deployment("llama-3.1-8b", "h100-80gb", 1, **base)
    busy = deployment("llama-3.1-8b", "h100-80gb", 1, **dict(base, sequence_overhead_s=5e-6))
    for batch in (1, 64, 2048):
        assert_allclose(float(busy.decode_time(batch, 1000)) - float(plain.decode_time(batch, 1000)), batch * 5e-6,
                        rtol=1e-9)
    # the simulation's coefficients carry it in both intercepts (c0 and m0), not in the per-token slopes
    c, p = busy.decode_coefficients(256), plain.decode_coefficients(256)
    assert_allclose([c[0] - p[0], c[2] - p[2], c[1] - p[1], c[3] - p[3]], [256 * 5e-6, 256 * 5e-6, 0, 0], atol=1e-15)
    with pytest.raises(ParameterError, match="sequence_overhead_s"):
        deployment("llama-3.1-8b", "h100-80gb", 1, sequence_overhead_s=-1e-6)
    with pytest.raises(ParameterError, match="expert_mfu"):
        deployment("qwen3-30b-a3b", "h100-80gb", 1, expert_mfu=0.0)
