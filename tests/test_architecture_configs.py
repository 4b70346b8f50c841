"""Architectures read from published config.json files (data/models/<name>/config.json): the parameters against
the counts the authors publish, each family's parameter arithmetic written out by hand, the layer kinds, the
errors of unknown or incomplete configurations, and the curated files left as they were."""
import json
import math

import pytest

from model.architectures import (ConfigFieldError, available_models, load_architecture, load_config, provenance,
                                 read_config)
from model.checks import ParameterError
from model.io import DATA

PUBLISHED = sorted(p.parent.name for p in (DATA / "models").glob("*/config.json")
                   if provenance(p.parent.name).get("copy_kind") != "own configuration")

# Where the card's count and the architecture's differ by more than 1%, and why (measured gap, kept exact so that
# a change of the arithmetic shows): model -> {"total"/"active": (relative gap, reason)}.
KNOWN_GAPS = {
    "llama-4-scout": {"total": (-0.0113, "the card's 109B includes the vision encoder, not modelled"),
                      "active": (+0.0102, "the card's 17B is rounded to two digits")},
    "kimi-k2-instruct": {"total": (+0.0264, "the card's '1T' is rounded to one digit")},
    "qwen3-30b-a3b": {"active": (+0.0161, "3.353B against the card's 3.3B")},
    "qwen3-next-80b-a3b": {"active": (+0.2916, "the card's '3B' (the name's A3B) is rounded: 3.87B with the "
                                               "embeddings, 3.25B without them")},
    "deepseek-r1": {"active": (-0.0101, "the card's 37B is rounded; DeepSeek's weight notes give 36.7B")},
}


def test_at_least_fourteen_current_models_ship_with_provenance():
    assert len(PUBLISHED) >= 14
    for required in ("deepseek-v3", "qwen3-32b", "qwen3-235b-a22b", "gpt-oss-120b", "gemma-3-27b", "llama-3.1-8b",
                     "llama-3.1-70b", "llama-3.1-405b", "llama-4-scout", "mixtral-8x22b", "qwen3-next-80b-a3b"):
        assert required in PUBLISHED
    for name in PUBLISHED:
        prov = provenance(name)
        assert prov["repository"].startswith("https://huggingface.co/")
        src = prov["copied_from"]
        assert src["repository"] and src["path"] and len(src["commit"]) == 40
        assert prov["licence"] and prov["published_parameters"]["source"]
        from model.io import sha256_of
        assert sha256_of(DATA / "models" / name / "config.json") == prov["sha256"]


@pytest.mark.parametrize("name", PUBLISHED)
def test_parameters_against_the_published_counts(name):
    arch, card = load_architecture(name), provenance(name)["published_parameters"]
    ours = {"total": arch.parameters(),
            "active": arch.active_parameters(card["active_includes_input_embedding"])}
    for what in ("total", "active"):
        gap = ours[what] / card[what] - 1
        known = KNOWN_GAPS.get(name, {}).get(what)
        if known:
            assert gap == pytest.approx(known[0], abs=5e-4), known[1]
        else:
            assert abs(gap) <= 0.01, f"{name} {what}: {ours[what]:,} vs card {card[what]:,.0f} ({gap:+.2%})"
    if "non_embedding" in card:                     # Qwen cards also give the count without the embeddings
        assert arch.parameters() - arch.embedding_parameters() == pytest.approx(card["non_embedding"], rel=0.01)


def test_deepseek_v3_parameters_by_hand():
    # MLA per layer: q_a 7168x1536 + norm 1536 + q_b 1536x(128x192) + kv_a 7168x(512+64) + norm 512
    #                + kv_b 512x(128x(128+128)) + o 128x128x7168
    attn = 7168 * 1536 + 1536 + 1536 * 128 * 192 + 7168 * 576 + 512 + 512 * 128 * 256 + 128 * 128 * 7168
    assert attn == 187_107_328
    dense = 3 * 7168 * 18432                                     # first 3 layers
    expert = 3 * 7168 * 2048
    moe = 256 * 7168 + 256 + expert + 256 * expert              # router + bias, 1 shared, 256 routed
    total = 61 * attn + 3 * dense + 58 * moe + 61 * 2 * 7168 + 2 * 129280 * 7168 + 7168
    assert total == 671_026_419_200
    a = load_architecture("deepseek-v3")
    assert a.parameters() == total
    assert a.active_parameters() == total - 58 * (256 - 8) * expert
    assert a.attention == "MLA" and a.layer_kinds() == {"mla": 61} and a.head_dim == 192


def test_gpt_oss_120b_parameters_by_hand():
    # attention with biases and 64 sinks; 128 experts with biased gate_up (2x2880) and down projections
    attn = (2880 * 4096 + 4096) + 2 * (2880 * 512 + 512) + (4096 * 2880 + 2880) + 64
    expert = 2880 * 5760 + 5760 + 2880 * 2880 + 2880
    layer = attn + (2880 * 128 + 128) + 128 * expert + 2 * 2880
    total = 36 * layer + 2 * 201088 * 2880 + 2880
    assert total == 116_829_156_672                            # OpenAI's model card: 116.83B
    a = load_architecture("gpt-oss-120b")
    assert a.parameters() == total
    assert a.active_parameters(include_input_embedding=False) == total - 36 * 124 * expert - 201088 * 2880
    assert a.layer_kinds() == {"full": 18, "sliding": 18}


def test_mixtral_8x7b_and_qwen3_next_parameters_by_hand():
    layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 4096 * 8 + 8 * 3 * 4096 * 14336 + 2 * 4096
    assert load_architecture("mixtral-8x7b").parameters() == 32 * layer + 2 * 32000 * 4096 + 4096
    # Qwen3-Next: Gated DeltaNet (key 16x128, value 32x128, conv kernel 4) in 36 layers, gated attention
    # (q doubled, 16 heads of 256, 2 KV heads, q/k norms) in 12; 512 experts of 512 + a gated shared expert of 512
    linear = 2048 * (2 * 2048 + 2 * 4096) + 2048 * 64 + (2 * 2048 + 4096) * 4 + 2 * 32 + 128 + 4096 * 2048
    full = 2048 * 16 * 256 * 2 + 2 * 2048 * 2 * 256 + 16 * 256 * 2048 + 2 * 256
    moe = 2048 * 512 + (3 * 2048 * 512 + 2048) + 512 * 3 * 2048 * 512
    total = 36 * linear + 12 * full + 48 * (moe + 2 * 2048) + 2 * 151936 * 2048 + 2048
    a = load_architecture("qwen3-next-80b-a3b")
    assert a.parameters() == total and a.layer_kinds() == {"full": 12, "linear": 36}


def test_layer_patterns_follow_the_families():
    gemma = load_architecture("gemma-3-27b").attention_layers()
    assert [a.kind for a in gemma[:6]] == ["sliding"] * 5 + ["full"] and gemma[0].window == 1024
    scout = load_architecture("llama-4-scout").attention_layers()
    assert [a.kind for a in scout[:4]] == ["chunked"] * 3 + ["full"] and scout[0].window == 8192
    oss = load_architecture("gpt-oss-120b").attention_layers()
    assert [a.kind for a in oss[:2]] == ["sliding", "full"] and oss[0].window == 128
    nxt = load_architecture("qwen3-next-80b-a3b").attention_layers()
    assert [a.kind for a in nxt[:4]] == ["linear"] * 3 + ["full"]
    kimi = load_architecture("kimi-k2-instruct")
    assert [layer.feed_forward.is_moe for layer in kimi.layers[:2]] == [False, True]  # first_k_dense_replace 1
    assert load_architecture("qwen2.5-7b").layer_kinds() == {"full": 28}             # use_sliding_window false


def test_the_published_llama_31_70b_reads_as_the_curated_file():
    curated = load_architecture("llama-3.1-70b")
    published = load_config(DATA / "models" / "llama-3.1-70b" / "config.json")
    assert curated.layers == () and published.family == "llama"
    for field in ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim",
                  "intermediate_size", "vocab_size", "max_context_tokens", "tie_word_embeddings"):
        assert getattr(published, field) == getattr(curated, field), field
    assert published.parameters() == curated.parameters() == curated.published_parameters
    assert published.matmul_parameters() == curated.matmul_parameters()


def test_curated_files_keep_the_llama_formula():
    # the formulas the study was built on, written out: the seven curated models give the same numbers as before
    for name in ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3-8b", "llama-3-70b", "llama-3.1-70b",
                 "mistral-7b"):
        a = load_architecture(name)
        d, h, H, K, I = a.hidden_size, a.head_dim, a.num_attention_heads, a.num_kv_heads, a.intermediate_size
        layer = d * H * h + 2 * d * K * h + H * h * d + 3 * d * I + 2 * d
        assert a.parameters() == a.num_layers * layer + 2 * a.vocab_size * d + d
        assert a.matmul_parameters() == a.num_layers * (layer - 2 * d) + a.vocab_size * d
        assert a.layer_kinds() == {"full": a.num_layers} and a.active_parameters() == a.parameters()
    assert load_architecture("llama-2-70b").published_parameters == 68_976_648_192


def test_published_parameters_is_optional(tmp_path, monkeypatch):
    from model import architectures

    cfg = json.loads((DATA / "models" / "llama-2-7b.json").read_text(encoding="utf-8"))
    del cfg["published_parameters"], cfg["parameters_source"]
    (tmp_path / "my-model.json").write_text(json.dumps(cfg), encoding="utf-8")
    monkeypatch.setattr(architectures, "MODELS_DIR", tmp_path)
    architectures.load_architecture.cache_clear()
    try:
        a = architectures.load_architecture("my-model")
        assert a.published_parameters is None and a.parameters() == 6_738_415_616
    finally:
        architectures.load_architecture.cache_clear()


def test_unknown_model_type_and_missing_fields_are_one_line_errors(tmp_path):
    with pytest.raises(ParameterError, match=r"^model_type='mamba' is not allowed: model_type must be one of "
                                             r"deepseek_v2, deepseek_v3, gemma2, gemma3"):
        read_config({"model_type": "mamba"})
    cfg = json.loads((DATA / "models" / "deepseek-v3" / "config.json").read_text(encoding="utf-8"))
    del cfg["kv_lora_rank"]
    with pytest.raises(ConfigFieldError) as err:
        read_config(cfg)
    assert str(err.value) == "config.json of family 'deepseek_v3' has no field 'kv_lora_rank'"
    assert "\n" not in str(err.value) and isinstance(err.value, ParameterError)
    gemma = json.loads((DATA / "models" / "gemma-3-27b" / "config.json").read_text(encoding="utf-8"))
    del gemma["text_config"]["sliding_window"]
    with pytest.raises(ConfigFieldError, match=r"^config\.json of family 'gemma3_text' has no field 'sliding_window'$"):
        read_config(gemma)
    with pytest.raises(ParameterError, match=r"^config="):
        load_config(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ParameterError, match=r"^config=.* must be a JSON file"):
        load_config(tmp_path / "bad.json")


def test_every_shipped_model_loads_by_name():
    names = available_models()
    assert set(PUBLISHED) <= set(names) and "llama-2-70b" in names
    for name in names:
        a = load_architecture(name)
        assert a.parameters() > 0 and math.isfinite(a.parameters())
        assert a.matmul_parameters() <= a.parameters()


def test_gemma2_and_deepseek_v2_lite_shapes():
    # synthetic configurations of the two families not shipped: Gemma 2 alternates local/global starting local;
    # DeepSeek-V2-Lite style MLA without q_lora_rank projects q directly (d x heads x (nope + rope))
    g2 = read_config({"model_type": "gemma2", "hidden_size": 8, "num_hidden_layers": 4, "vocab_size": 10,
                      "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 4, "intermediate_size": 16,
                      "sliding_window": 3, "max_position_embeddings": 64})
    assert [a.kind for a in g2.attention_layers()] == ["sliding", "full", "sliding", "full"]
    assert g2.parameters() == 4 * (8 * 8 + 2 * 8 * 4 + 8 * 8 + 3 * 8 * 16 + 4 * 8) + 10 * 8 + 8
    lite = read_config({"model_type": "deepseek_v2", "hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10,
                        "num_attention_heads": 2, "kv_lora_rank": 4, "qk_rope_head_dim": 2, "qk_nope_head_dim": 2,
                        "v_head_dim": 2, "q_lora_rank": None, "intermediate_size": 6, "n_routed_experts": 4,
                        "num_experts_per_tok": 2, "moe_intermediate_size": 3, "n_shared_experts": 2,
                        "first_k_dense_replace": 1, "max_position_embeddings": 64})
    attn = 8 * 2 * 4 + 8 * 6 + 4 + 4 * 2 * 4 + 2 * 2 * 8
    moe = 4 * 8 + 3 * 8 * 6 + 4 * 3 * 8 * 3                   # router, shared (2 x 3 wide), 4 routed
    assert lite.parameters() == 2 * attn + 3 * 8 * 6 + moe + 2 * 2 * 8 + 2 * 10 * 8 + 8
    assert lite.attention_layers()[0].elements_per_token == 4 + 2
