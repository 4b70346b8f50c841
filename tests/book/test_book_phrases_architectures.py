"""The kv_sizing chapter's sentences follow the architecture: MLA, sliding windows, chunks, linear layers."""

from model.architectures import load_architecture
from model.book.phrases import (ATTENTION_NAMES, kv_finding, kv_formula_text, kv_structure_text, model_layout_text,
                                session_size_text)
from model.quantization.readings import DTYPE_LABEL, QUANTIZED_DTYPES, with_format


def test_every_attention_kind_has_a_name():
    assert ATTENTION_NAMES["MLA"] == "multi-head latent attention"
    for name in ("deepseek-v3", "kimi-k2-instruct", "gpt-oss-120b", "qwen3-next-80b-a3b", "llama-4-scout", "llama-2-7b"):
        assert load_architecture(name).attention in ATTENTION_NAMES


def test_llama_family_sentences_are_unchanged():
    a = load_architecture("llama-2-70b")
    assert kv_formula_text(a, 2) == "2 × 80 × 8 × 128 × 2"
    assert model_layout_text(a) == "80 layers, 64 query heads and 8 key/value heads of width 128 (grouped-query attention)"
    assert session_size_text(a) == "A session of T tokens holds T times as much."
    assert kv_structure_text(a) == "its 8 query heads per key/value head divide the cache by 8"
    assert kv_finding(a, kib_per_token=320, kv_dtype="fp16", context_tokens=10_000, gb_per_session=3.2768) == \
        "Llama 2 70B keeps 320 KiB of KV cache per token in FP16: a 10,000-token session holds 3.28 GB."


def test_mla_formula_is_one_latent_per_layer():
    a = load_architecture("deepseek-v3")
    assert kv_formula_text(a, 2).startswith("61 × 576 × 2")        # = 70,272 bytes, not 2 × 61 × 128 × 192 × 2
    assert "576-element latent" in model_layout_text(a) and "key/value heads" not in model_layout_text(a)
    assert "every query head has its own" not in kv_structure_text(a)


def test_windows_chunks_and_states_are_said():
    oss = load_architecture("gpt-oss-120b")
    assert "18 sliding-window (128 tokens)" in model_layout_text(oss)
    assert "does not hold T times" in session_size_text(oss) and "128 tokens" in session_size_text(oss)
    text = kv_finding(oss, kib_per_token=72, kv_dtype="bf16", context_tokens=10_000, gb_per_session=0.3734)
    assert "while every layer holds it" in text and "a mean of 36.5 KiB per token" in text  # 0.3734e9 / 1e4 / 1024
    nxt = load_architecture("qwen3-next-80b-a3b")
    assert "fixed state" in session_size_text(nxt)
    assert "counting the 12 attention layers only" in kv_formula_text(nxt, 2)
    scout = load_architecture("llama-4-scout")
    assert "8,192-token chunk" in session_size_text(scout)


def test_quantization_offers_fp4():
    assert "fp4" in QUANTIZED_DTYPES and "fp4" in DTYPE_LABEL
    assert with_format(("int8", "fp8", "int4"), "fp4") == ("int8", "fp8", "int4", "fp4")
    assert with_format(("int8", "fp8", "int4"), "int8") == ("int8", "fp8", "int4")
