"""KV bytes per layer kind against hand-worked figures (the arithmetic is written here, from the config.json values,
independently of model.kv.size): full attention (GQA), MLA latents, sliding windows, chunks, linear-attention
states, FP4 with its block scales, and the per-GPU bytes under tensor parallelism; then the command line."""
import json
import subprocess
import sys

import pytest

from model.architectures import load_architecture
from model.checks import ParameterError
from model.io import ROOT
from model.kv import kv_bytes_per_session, kv_bytes_per_token, kv_footprint, tp_share

BF16 = 2


def _kind(fp, kind):
    (row,) = [k for k in fp.kinds if k.kind == kind]
    return row


def test_full_attention_gqa_llama_31_8b():
    # 32 layers x (K and V) x 8 KV heads x 128 wide x 2 bytes = 131,072 B per token
    a = load_architecture("llama-3.1-8b")
    assert kv_bytes_per_token(a, "bf16") == 32 * 2 * 8 * 128 * 2 == 131_072
    fp = kv_footprint(a, 10_000, "bf16")
    assert fp.kv_bytes_per_sequence == 1_310_720_000 and fp.kv_bytes_per_token == 131_072
    assert kv_bytes_per_session(a, 10_000, "bf16") == 1_310_720_000


def test_mla_latent_deepseek_v3():
    # 61 layers x (kv_lora_rank 512 + qk_rope_head_dim 64) x 2 bytes = 70,272 B per token, not 2 x 128 heads x 192
    a = load_architecture("deepseek-v3")
    assert kv_bytes_per_token(a, "bf16") == 61 * 576 * 2 == 70_272
    assert kv_footprint(a, 4096, "bf16").kv_bytes_per_sequence == 4096 * 70_272 == 287_834_112
    assert kv_bytes_per_token(load_architecture("kimi-k2-instruct"), "fp8") == 61 * 576 * 1


def test_sliding_window_gpt_oss_and_gemma_3():
    # gpt-oss-120b: 18 full + 18 sliding(128) layers of 2 x 8 x 64 x 2 B = 2,048 B per token and layer
    fp = kv_footprint(load_architecture("gpt-oss-120b"), 10_000, "bf16")
    assert _kind(fp, "full").bytes_per_sequence == 18 * 10_000 * 2048 == 368_640_000
    assert _kind(fp, "sliding").bytes_per_sequence == 18 * 128 * 2048 == 4_718_592
    assert fp.kv_bytes_per_sequence == 373_358_592
    assert fp.kv_bytes_per_token == pytest.approx(37_335.8592, rel=1e-12)
    # below the window a sliding layer holds every token
    assert kv_footprint(load_architecture("gpt-oss-120b"), 100, "bf16").kv_bytes_per_sequence == 36 * 100 * 2048
    # Gemma 3 27B at 32,768 tokens: 10 global layers hold all, 52 local layers 1,024; 2 x 16 x 128 x 2 = 8,192 B
    g = kv_footprint(load_architecture("gemma-3-27b"), 32_768, "bf16")
    assert g.kv_bytes_per_sequence == 10 * 32_768 * 8192 + 52 * 1024 * 8192 == 3_120_562_176


def test_chunked_attention_llama_4_scout():
    # 12 NoPE full layers + 36 chunked layers (chunk 8,192), 2 x 8 x 128 x 2 = 4,096 B per token and layer.
    # At 10,000 tokens the current chunk holds 10,000 - 8,192 = 1,808 tokens.
    a = load_architecture("llama-4-scout")
    fp = kv_footprint(a, 10_000, "bf16")
    assert _kind(fp, "chunked").tokens_held == 1808
    assert fp.kv_bytes_per_sequence == 12 * 10_000 * 4096 + 36 * 1808 * 4096 == 758_120_448
    held = [_kind(kv_footprint(a, n, "bf16"), "chunked").tokens_held for n in (1, 8192, 8193, 16_384, 16_385)]
    assert held == [1, 8192, 1, 8192, 1]


def test_linear_attention_state_qwen3_next():
    # 12 full layers x 2 x 2 KV heads x 256 x 2 B = 24,576 B per token; 36 Gated DeltaNet layers each keep
    # conv state 3 x (2 x 16 x 128 + 32 x 128) = 24,576 and recurrent state 32 x 128 x 128 = 524,288 elements
    a = load_architecture("qwen3-next-80b-a3b")
    assert kv_bytes_per_token(a, "bf16") == 12 * 2 * 2 * 256 * 2 == 24_576
    fp = kv_footprint(a, 4096, "bf16")
    state = 36 * (3 * 8192 + 32 * 128 * 128) * 2
    assert state == 39_518_208 and _kind(fp, "linear").state_bytes == state
    assert fp.kv_bytes_per_sequence == 4096 * 24_576 + state == 140_181_504
    # the state does not grow: one more token adds only the full layers' bytes
    assert kv_footprint(a, 4097, "bf16").kv_bytes_per_sequence - fp.kv_bytes_per_sequence == 24_576
    assert kv_footprint(a, 4096, "bf16", state_dtype="fp32").kv_bytes_per_sequence == 4096 * 24_576 + 2 * state


def test_fp4_counts_its_block_scales():
    # NVFP4: 16 four-bit values share one 8-bit scale -> 4.5 bits per element
    a = load_architecture("llama-3.1-8b")
    elements = 32 * 2 * 8 * 128
    assert kv_bytes_per_token(a, "fp4") == elements * 4.5 / 8 == 36_864
    assert kv_bytes_per_token(a, "fp8") == elements


def test_tensor_parallel_bytes_per_gpu():
    a = load_architecture("llama-3.1-70b")
    one = kv_footprint(a, 1000, "bf16").kv_bytes_per_sequence
    assert one == 80 * 2 * 8 * 128 * 2 * 1000
    assert kv_footprint(a, 1000, "bf16", tp=2).per_gpu_bytes_per_sequence == one / 2
    sixteen = kv_footprint(a, 1000, "bf16", tp=16)          # 8 KV heads on 16 GPUs: one head each, held twice
    assert sixteen.per_gpu_bytes_per_sequence == one / 8 and sixteen.tp_group_bytes_per_sequence == 2 * one
    assert sixteen.kinds[0].tp_rule == "split, replicated x2"
    with pytest.raises(ParameterError, match=r"^tp=3 is not allowed: tp must be a divisor or a multiple of the 8 KV"):
        kv_footprint(a, 1000, "bf16", tp=3)
    # an MLA latent is whole on every GPU
    ds = kv_footprint(load_architecture("deepseek-v3"), 1000, "bf16", tp=8)
    assert ds.per_gpu_bytes_per_sequence == 1000 * 70_272 and ds.kinds[0].tp_rule == "replicated"
    # Qwen3-Next on 4 GPUs: 2 KV heads -> each GPU one head (1/2); 32 value heads of the linear state -> 1/4
    nxt = kv_footprint(load_architecture("qwen3-next-80b-a3b"), 4096, "bf16", tp=4)
    assert nxt.per_gpu_bytes_per_sequence == 4096 * 24_576 / 2 + 39_518_208 / 4 == 60_211_200
    with pytest.raises(ParameterError, match="linear-attention value heads"):
        kv_footprint(load_architecture("qwen3-next-80b-a3b"), 4096, "bf16", tp=64)
    layer = load_architecture("mixtral-8x22b").attention_layers()[0]
    assert tp_share(layer, 4) == (0.25, "split")


def test_curated_models_keep_context_times_per_token():
    a = load_architecture("mistral-7b")                       # the curated file: no window, as the book had it
    assert kv_bytes_per_session(a, 10_000, "fp16") == 10_000 * 2 * 32 * 8 * 128 * 2
    assert kv_footprint(a, 10_000, "fp16").kv_bytes_per_sequence == 10_000 * 131_072


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "model.kv", *args], capture_output=True, text=True, cwd=ROOT,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)


def test_size_command_json_and_text():
    out = _cli("size", "--model", "gpt-oss-120b", "--context-tokens", "10000", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["kv_bytes_per_sequence"] == 373_358_592 and r["parameters_total"] == 116_829_156_672
    assert {k["kind"] for k in r["by_layer_kind"]} == {"full", "sliding"}
    cfg = ROOT / "data" / "models" / "deepseek-v3" / "config.json"
    text = _cli("size", "--config", str(cfg), "--context-tokens", "1000", "--tp", "8", "--kv-dtype", "fp8")
    assert text.returncode == 0 and "kv_bytes_per_token (mean over the context, whole model): 35,136.0 B" in text.stdout
    assert "(replicated)" in text.stdout and "per GPU under TP 8" in text.stdout


def test_size_command_errors_name_the_flag():
    bad = _cli("size", "--model", "llama-3.1-70b", "--context-tokens", "10", "--tp", "3")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --tp=3 is not allowed") and "Traceback" not in bad.stderr
    assert _cli("size", "--model", "llama-3.1-70b", "--context-tokens", "10", "--kv-dtype", "int3").stderr.startswith(
        "error: --kv-dtype='int3' is not allowed")
    assert _cli("size", "--model", "gpt-5", "--context-tokens", "10").stderr.startswith("error: --model='gpt-5'")
    assert _cli("size", "--model", "llama-3-8b", "--context-tokens", "0").stderr.startswith(
        "error: --context-tokens=0")
