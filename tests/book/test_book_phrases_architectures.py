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


import pytest  # noqa: E402

from model.book.sliders import default_mismatches, kv_sessions_chart  # noqa: E402
from model.hardware import load_gpu  # noqa: E402
from model.kv import memory_budget, what_if_rows  # noqa: E402


@pytest.mark.parametrize("name", ["llama-2-70b", "deepseek-v3", "gpt-oss-120b", "gemma-3-27b", "qwen3-next-80b-a3b",
                                  "llama-4-scout"])
def test_what_if_chart_computes_the_chapter_sessions_for_every_layer_kind(name):
    arch, gpu, n_options = load_architecture(name), load_gpu("b200-180gb"), [1, 2, 4, 8]
    rows = what_if_rows([arch], gpu, n_gpus_options=n_options, weight_dtype="fp8")
    sessions = [memory_budget(arch, gpu, context_tokens=10_000, n_gpus=n, weight_dtype="fp8", kv_dtype="bf16").sessions
                for n in n_options]
    chart = kv_sessions_chart(rows, model=arch.display_name, models=[arch.display_name], context=10_000,
                              context_max=32_768, context_step=1_000, kv_dtype="bf16", kv_dtypes={"bf16": 2.0, "fp8": 1.0},
                              expected={"sessions": sessions}, title="t")
    assert default_mismatches(chart.to_dict()) == []
    assert any(s > 0 for s in sessions)


def test_what_if_rows_hold_each_kind_by_hand():
    gpu = load_gpu("b200-180gb")
    ds = what_if_rows([load_architecture("deepseek-v3")], gpu, n_gpus_options=[8], weight_dtype="fp8").iloc[0]
    assert ds["grow_elements"] == 8 * 61 * 576                    # the latent on each of the 8 GPUs
    oss = what_if_rows([load_architecture("gpt-oss-120b")], gpu, n_gpus_options=[1], weight_dtype="fp8").iloc[0]
    assert (oss["grow_elements"], oss["window_elements"], oss["window"]) == (18 * 1024, 18 * 1024, 128)
    nxt = what_if_rows([load_architecture("qwen3-next-80b-a3b")], gpu, n_gpus_options=[1], weight_dtype="fp8").iloc[0]
    assert nxt["state_bytes"] == 36 * (3 * (2 * 16 * 128 + 32 * 128) + 32 * 128 * 128) * 2
    llama = what_if_rows([load_architecture("llama-2-70b")], gpu, n_gpus_options=[1], weight_dtype="fp8").iloc[0]
    assert llama["grow_elements"] == 2 * 80 * 8 * 128


def test_copies_and_fit_rule_follow_the_group():
    from model.book.phrases import fit_rule_text, kv_copies_text

    ds = load_architecture("deepseek-v3")
    assert "holds 8 times each session's KV" in kv_copies_text(ds, 8, 10_000, "bf16")
    assert "5.62 GB" in kv_copies_text(ds, 8, 10_000, "bf16")        # 8 × 61 × 576 × 2 × 10,000 bytes
    assert kv_copies_text(load_architecture("gpt-oss-120b"), 8, 10_000, "bf16") == ""   # 8 KV heads over 8 GPUs
    # 2 KV heads on 8 GPUs: the full-attention cache 4 times, the linear states split
    nxt = load_architecture("qwen3-next-80b-a3b")
    full, state = 12 * 2 * 2 * 256 * 2 * 10_000, 36 * (3 * (2 * 16 * 128 + 32 * 128) + 32 * 128 * 128) * 2
    assert f"holds {(4 * full + state) / (full + state):.3g} times" in kv_copies_text(nxt, 8, 10_000, "bf16")
    assert kv_copies_text(load_architecture("llama-2-70b"), 8, 10_000, "fp16") == ""
    assert fit_rule_text(load_architecture("llama-2-70b")) == "Here T × KV bytes per token is one session's KV cache."
    assert "windows, chunks, fixed states" in fit_rule_text(load_architecture("gemma-3-27b"))


def test_serving_note_says_what_the_step_time_reads():
    from model.book.phrases import serving_architecture_text

    dense = serving_architecture_text(load_architecture("llama-2-70b"))
    assert dense == "Llama 2 70B is dense: every step reads all its weights; every layer keeps every token's keys and values."
    ds = serving_architecture_text(load_architecture("deepseek-v3"))
    assert "8 of 256 routed experts per token in 58 of its 61 layers" in ds    # first_k_dense_replace = 3
    assert "latent" in ds and "extrapolation" in ds
    assert "128 tokens" in serving_architecture_text(load_architecture("gpt-oss-120b"))


def test_sessions_chart_draws_when_no_group_holds_a_session():
    from model.book.charts import sessions_by_context_chart
    from model.kv import sessions_by_context

    # DeepSeek-V3 in FP16 (1,342 GB) exceeds 8 × B200 (8 × 162 GB usable): no line, but a chart
    rows = sessions_by_context(load_architecture("deepseek-v3"), load_gpu("b200-180gb"), [4096, 8192],
                               n_gpus_options=[1, 8], weight_dtype="fp16", kv_dtype="fp16")
    assert not rows["feasible"].any()
    spec = sessions_by_context_chart(rows[rows["feasible"]], title="t").to_dict()
    assert spec["mark"]["type"] == "line"


def test_persona_share_is_readable_above_a_thousand_percent():
    from model.book.phrases import persona_hbm_sentence

    kw = dict(fleet_gpus=900, popular_characters=100_000, weight_dtype="fp16", model_name="m", gpu_name="g")
    assert "(115% of the" in persona_hbm_sentence(True, fleet_personas=115_052, **kw)
    assert "(1,025% of the" in persona_hbm_sentence(True, fleet_personas=1_025_481, **kw)   # not "1.03e+03%"
