"""Step time of models read from config.json: MoE weights read per step, MLA latents replicated under tensor
parallelism, windows, chunks and linear states read at the sequence's context. Expected values are worked here
from the configurations' own numbers, not from the code under test."""

import numpy as np
import pytest

from model.architectures import experts_touched, load_architecture
from model.hardware import load_gpu, usable_bytes_per_gpu
from model.kv import memory_budget
from model.quantization.weights import decode_bytes
from model.serving.step_time import deployment


def test_experts_touched_is_the_uniform_routing_closed_form():
    # E·(1 − (1 − k/E)^B): one token uses its k experts, two tokens 256·(1 − (248/256)²), a large batch all E
    assert experts_touched(256, 8, 1) == pytest.approx(8.0)
    assert experts_touched(256, 8, 2) == pytest.approx(256 * (1 - (248 / 256) ** 2))
    assert experts_touched(256, 8, 2) == pytest.approx(15.75, abs=0.01)
    assert experts_touched(256, 8, 100_000) == pytest.approx(256.0)
    assert np.allclose(experts_touched(8, 2, np.array([1.0, 4.0])), [2.0, 8 * (1 - 0.75 ** 4)])


def test_deepseek_decode_reads_dense_weights_and_the_touched_experts():
    a = load_architecture("deepseek-v3")
    # 58 MoE layers (first_k_dense_replace = 3) of 256 routed experts, top-8; one expert = 3 × 7168 × 2048
    expert = 3 * 7168 * 2048
    assert a.parameters_read(1) == pytest.approx(a.parameters() - 58 * (256 - 8) * expert)
    assert a.parameters_read(10 ** 6) == pytest.approx(a.parameters())
    d = deployment("deepseek-v3", "h200-141gb", 8, weight_dtype="fp8", kv_dtype="bf16")
    assert d.weight_bytes == a.parameters()                      # all weights held in memory (1 byte each)
    assert d.weight_bytes_read(1) == pytest.approx(a.parameters() - 58 * 248 * expert)
    # a decode step of 64 sequences reads more weights than one of 1, so it takes longer at the same context
    assert float(d.decode_time(64, 1000)) > float(d.decode_time(1, 1000))
    # FLOPs follow the active parameters: 2 × 37 B-ish per token, not 2 × 671 B
    assert d.step_flops(1, 0, 0) == pytest.approx(2 * (a.matmul_parameters() - a.vocab_size * a.hidden_size))
    assert a.matmul_parameters() < 0.06 * a.parameters()


def test_dense_model_reads_every_weight():
    d = deployment("llama-2-70b", "a100-80gb", 4)
    assert d.weight_bytes_read(1) == d.weight_bytes == 2 * 68_976_648_192


def test_mla_latent_is_held_on_every_gpu_of_the_group():
    d = deployment("deepseek-v3", "h200-141gb", 8, weight_dtype="fp8", kv_dtype="bf16")
    per_token = 8 * 61 * 576 * 2                                 # 61 latents of 576 BF16 elements on each of 8 GPUs
    assert d.kv_bytes_per_token == per_token
    gpu = load_gpu("h200-141gb")
    assert d.kv_capacity_tokens == int((8 * usable_bytes_per_gpu(gpu) - d.weight_bytes) // per_token)
    b = memory_budget(load_architecture("deepseek-v3"), gpu, context_tokens=10_000, n_gpus=8, weight_dtype="fp8",
                      kv_dtype="bf16")
    assert b.kv_bytes_per_session == per_token * 10_000


def test_gqa_heads_split_across_the_group():
    d = deployment("gpt-oss-120b", "b200-180gb", 8, weight_dtype="fp8", kv_dtype="fp8")
    assert d.kv_bytes_per_token == 36 * 2 * 8 * 64                # 8 KV heads over 8 GPUs: no copy


def test_sliding_layers_read_their_window_at_the_context():
    d = deployment("gpt-oss-120b", "b200-180gb", 2, weight_dtype="fp8", kv_dtype="fp8")
    e = 2 * 8 * 64                                               # K and V, 8 heads of 64, 1 byte
    n = np.array([50.0, 128.0, 10_000.0])
    held_bytes = 18 * n * e + 18 * np.minimum(n, 128) * e         # 18 full and 18 sliding (128) layers
    assert np.allclose(d.kv_tokens_held(n) * d.kv_bytes_per_token, held_bytes)
    # a decode step at 10,000 tokens reads those bytes (not 36 layers × 10,001 tokens)
    b, ctx = 16, 10_000.0
    kv_read = b * (18 * (ctx + 1) + 18 * 128) * e
    attended = b * (18 * (ctx + 1) + 18 * 128) / 36
    expected = d.step_time(b, attended, b, kv_read / d.kv_bytes_per_token, b)
    assert float(d.decode_time(b, ctx)) == pytest.approx(float(expected))
    full_read = d.step_time(b, b * (ctx + 1), b, b * (ctx + 1), b)
    assert float(d.decode_time(b, ctx)) < float(full_read)


def test_context_mean_sets_the_capacity_of_a_windowed_model():
    every = deployment("gemma-3-27b", "h200-141gb", 1, kv_dtype="bf16")
    at = deployment("gemma-3-27b", "h200-141gb", 1, kv_dtype="bf16", kv_context_tokens=8192)
    e = 2 * 16 * 128 * 2
    assert every.kv_bytes_per_token == 62 * e                     # every layer holding the token: upper bound
    assert at.kv_bytes_per_token == pytest.approx((10 * 8192 + 52 * 1024) * e / 8192)
    assert at.kv_capacity_tokens > every.kv_capacity_tokens


def test_linear_layers_add_their_fixed_state():
    d = deployment("qwen3-next-80b-a3b", "mi300x-192gb", 1, weight_dtype="fp8", kv_dtype="bf16")
    full = 12 * 2 * 2 * 256 * 2                                   # 12 full-attention layers, 2 KV heads of 256
    assert d.kv_bytes_per_token == full
    # per linear layer and sequence: conv (4 − 1) × (2·16·128 + 32·128) + recurrent 32 × 128 × 128 BF16 elements
    state = 36 * ((4 - 1) * (2 * 16 * 128 + 32 * 128) + 32 * 128 * 128) * 2
    assert d.kv_tokens_held(1000) * full == pytest.approx(1000 * full + state)


def test_quantization_decode_bytes_follow_experts_and_windows():
    a = load_architecture("gpt-oss-120b")
    expert = 2880 * 2 * 2880 + 2 * 2880 + 2880 * 2880 + 2880     # gate_up and down with biases
    got = decode_bytes(a, "fp8", "fp8", 1, 10_000)
    assert got.weights == pytest.approx(a.parameters() - 36 * (128 - 4) * expert)
    assert got.kv_cache == (18 * 10_000 + 18 * 128) * 2 * 8 * 64


def test_a_tier_stores_one_copy_of_a_replicated_latent():
    from model.tiering.engine import PrefillEngine

    d = deployment("deepseek-v3", "h200-141gb", 8, weight_dtype="fp8", kv_dtype="bf16")
    e = PrefillEngine.from_deployment(d, gpu_usd_per_hour=1.0)
    assert e.kv_bytes_per_token == 61 * 576 * 2                   # 70,272 bytes: the latent once, not 8 times
    assert e.m_token == pytest.approx(8 * 61 * 576 * 2 / d.kv_bytes_per_s)  # each GPU reads its own copy


def test_default_prefill_instance_grows_until_the_weights_fit():
    from model.tiering.engine import PrefillEngine

    assert PrefillEngine.from_names("llama-2-70b", "a100-80gb", gpu_usd_per_hour=1.0).gpus_per_instance == 4
    # 1,342 GB of FP16 weights: 8 × 141 GB × 0.9 = 1,015 GB is too little, 16 GPUs hold them
    assert PrefillEngine.from_names("deepseek-v3", "h200-141gb", gpu_usd_per_hour=1.0).gpus_per_instance == 16
    assert PrefillEngine.from_names("deepseek-v3", "h200-141gb", gpus_per_instance=16,
                                    gpu_usd_per_hour=1.0).gpus_per_instance == 16


def test_prefill_pairs_count_windows_and_chunks():
    from model.kv.size import prefill_pairs_per_layer

    oss = load_architecture("gpt-oss-120b")                      # 18 full, 18 sliding (128)
    n = 1000.0
    full = n * (n + 1) / 2
    sliding = 128 * 129 / 2 + (n - 128) * 128                    # positions 1..128 see j, later ones 128
    assert prefill_pairs_per_layer(oss, n) == pytest.approx((18 * full + 18 * sliding) / 36)
    # after 500 cached tokens: positions 501..1500
    full_p = n * 500 + n * (n + 1) / 2
    assert prefill_pairs_per_layer(oss, n, 500) == pytest.approx((18 * full_p + 18 * n * 128) / 36)
    scout = load_architecture("llama-4-scout")                   # 12 full, 36 chunked (8,192)
    m = 10_000.0
    chunked = 8192 * 8193 / 2 + (m - 8192) * (m - 8191) / 2      # the second chunk restarts at 1
    assert prefill_pairs_per_layer(scout, m) == pytest.approx((12 * m * (m + 1) / 2 + 36 * chunked) / 48)
    d = deployment("gpt-oss-120b", "b200-180gb", 2, weight_dtype="fp8", kv_dtype="fp8")
    assert float(d.prefill_time(n)) == pytest.approx(float(d.step_time(n, (18 * full + 18 * sliding) / 36, 1, 0, n)))


def test_gpus_to_hold_doubles_until_the_weights_fit():
    from model.serving.step_time import gpus_to_hold

    assert gpus_to_hold("llama-2-70b", "a100-80gb", 4) == 4
    assert gpus_to_hold("llama-2-70b", "a100-80gb", 1) == 2          # 138 GB > 77 GB usable, < 2 × 77
    assert gpus_to_hold("deepseek-v3", "h200-141gb", 4) == 16
    assert gpus_to_hold("deepseek-v3", "h200-141gb", 4, weight_dtype="fp8") == 8   # 671 GB < 8 × 127 GB


def test_simulation_reads_only_the_touched_experts():
    import dataclasses

    from model.serving import Scheduler, simulate
    from model.workload.requests import poisson_workload

    w = poisson_workload(40, 50.0, prompt_tokens=200, output_tokens=20, seed=0)
    d = deployment("qwen3-30b-a3b", "h200-141gb", 1, weight_dtype="fp8")
    moe = simulate(d, w, Scheduler("continuous", max_batch=4)).summary()
    # the same weights, every one read at every step: the routed experts made always active
    dense_arch = dataclasses.replace(d.arch, layers=tuple(
        dataclasses.replace(layer, feed_forward=dataclasses.replace(
            layer.feed_forward, always_active_parameters=layer.feed_forward.parameters, routed_experts=0,
            experts_per_token=0, expert_parameters=0)) for layer in d.arch.layers))
    assert dense_arch.parameters() == d.arch.parameters()
    dense = simulate(dataclasses.replace(d, arch=dense_arch), w, Scheduler("continuous", max_batch=4)).summary()
    # at most 4 sequences touch at most 4 × 8 of 128 experts per layer: far fewer bytes per decode step
    assert moe["tpot_s_p50"] < 0.6 * dense["tpot_s_p50"]
