"""model.architectures on configurations small enough to count by hand: one tiny config.json per family (width 8,
4 query heads of 2, 2 key/value heads, a vocabulary of 10), every weight of every layer written out below; the
KV view of each layer kind; the errors of bad fields, files and names, each in full; and the command line.

Shared arithmetic (d = 8, 4 heads × 2, 2 KV heads): q 8·4·2 = 64, k and v 2·8·2·2 = 64, o 4·2·8 = 64 → attention 192;
q/k/v biases 4·2 + 2·2·2 = 16, o bias 8; per-head q/k norms 2·2 = 4; SwiGLU of width 16: 3·8·16 = 384;
two RMSNorms 16; untied embeddings 2·10·8 = 160 (tied 80); final norm 8.
"""
import json

import numpy as np
import pytest
from numpy.testing import assert_allclose

import model.architectures as A
from model.architectures import (AttentionLayer, Architecture, ConfigFieldError, FeedForward, Layer, experts_touched,
                                 load_architecture, load_config, read_config)
from model.checks import ParameterError

BASE = {"hidden_size": 8, "num_hidden_layers": 2, "vocab_size": 10, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 16, "max_position_embeddings": 32}


def _cfg(model_type, **kw):
    return {"model_type": model_type, **BASE, **kw}


def _message(call, error=ParameterError):
    with pytest.raises(error) as e:
        call()
    return str(e.value)


# --- llama-like families ---------------------------------------------------------------------------------------
def test_llama_by_hand():
    a = read_config(_cfg("llama"), name="tiny", display_name="Tiny", source="here")
    assert (a.name, a.display_name, a.source, a.family) == ("tiny", "Tiny", "here", "llama")
    assert (a.num_layers, a.hidden_size, a.num_attention_heads, a.num_kv_heads, a.head_dim) == (2, 8, 4, 2, 2)
    assert (a.intermediate_size, a.vocab_size, a.max_context_tokens, a.tie_word_embeddings) == (16, 10, 32, False)
    layer = 192 + 384 + 16
    assert [x.parameters for x in a.layers] == [layer, layer]
    assert [x.attention_parameters for x in a.layers] == [192, 192] and a.layers[0].norm_parameters == 16
    assert a.parameters() == 2 * layer + 160 + 8 == 1352
    assert a.active_parameters() == 1352 and a.active_parameters(False) == 1352 - 80
    assert a.parameters_per_layer() == layer and a.embedding_parameters() == 160
    assert a.matmul_parameters() == 2 * (192 + 384) + 80
    assert a.parameters_read(7) == 1352 and isinstance(a.parameters_read(7), int)
    assert a.attention == "GQA" and a.gqa_group_size == 2 and not a.is_moe
    assert a.attention_layers() == (AttentionLayer("full", 2, 8),) * 2 and a.layer_kinds() == {"full": 2}
    assert read_config(_cfg("llama")).name == "config" and read_config(_cfg("llama")).display_name == "config"
    assert read_config(_cfg("llama")).source == "config.json"


def test_llama_options_by_hand():
    biased = read_config(_cfg("llama", attention_bias=True, mlp_bias=True, tie_word_embeddings=True))
    assert biased.layers[0].attention_parameters == 192 + 16 + 8
    assert biased.layers[0].feed_forward.parameters == 384 + 2 * 16 + 8      # gate and up biases 16 each, down 8
    assert biased.embedding_parameters() == 80 and biased.tie_word_embeddings
    h3 = read_config(_cfg("llama", head_dim=3))                               # an explicit head width
    assert h3.head_dim == 3 and h3.layers[0].attention_parameters == 8 * 4 * 3 + 2 * 8 * 2 * 3 + 4 * 3 * 8
    assert h3.attention_layers()[0] == AttentionLayer("full", 2, 12)
    mha = read_config({k: v for k, v in _cfg("llama").items() if k != "num_key_value_heads"})
    assert mha.num_kv_heads == 4 and mha.attention == "MHA" and mha.gqa_group_size == 1
    mqa = read_config(_cfg("llama", num_key_value_heads=1))
    assert mqa.attention == "MQA" and mqa.gqa_group_size == 4
    assert mqa.layers[0].attention_parameters == 64 + 2 * 8 * 1 * 2 + 64


def test_qwen_dense_by_hand():
    q2 = read_config(_cfg("qwen2"))                                           # q/k/v biases always
    assert q2.layers[0].attention_parameters == 192 + 16
    q3 = read_config(_cfg("qwen3"))                                           # per-head q/k norms, no bias
    assert q3.layers[0].attention_parameters == 192 + 4
    q3b = read_config(_cfg("qwen3", attention_bias=True))
    assert q3b.layers[0].attention_parameters == 192 + 16 + 4
    # sliding window from layer max_window_layers on, only when use_sliding_window is true
    sw = read_config(_cfg("qwen2", use_sliding_window=True, sliding_window=6, max_window_layers=1))
    assert [x.kind for x in sw.attention_layers()] == ["full", "sliding"] and sw.attention_layers()[1].window == 6
    every = read_config(_cfg("qwen2", use_sliding_window=True, sliding_window=6))
    assert every.layer_kinds() == {"sliding": 2}
    off = read_config(_cfg("qwen2", use_sliding_window=False, sliding_window=6))
    assert off.layer_kinds() == {"full": 2} and off.attention_layers()[0].window is None
    assert _message(lambda: read_config(_cfg("qwen2", use_sliding_window=True)), ConfigFieldError) == (
        "config.json of family 'qwen2' has no field 'sliding_window'")


def test_mistral_and_mixtral_windows():
    assert read_config(_cfg("mistral")).attention_layers()[0] == AttentionLayer("sliding", 2, 8, 4096)
    assert read_config(_cfg("mistral", sliding_window=None)).layer_kinds() == {"full": 2}
    assert read_config(_cfg("mistral", sliding_window=6)).attention_layers()[1] == AttentionLayer("sliding", 2, 8, 6)
    assert read_config(_cfg("mixtral", num_local_experts=4, num_experts_per_tok=2)).layer_kinds() == {"full": 2}
    mx = read_config(_cfg("mixtral", num_local_experts=4, num_experts_per_tok=2, sliding_window=6))
    assert mx.layer_kinds() == {"sliding": 2}


def test_mixtral_experts_by_hand():
    """4 experts of 384, top 2, router 8·4 = 32: a layer holds 192 + 32 + 4·384 + 16 and a token uses 2 experts."""
    a = read_config(_cfg("mixtral", num_local_experts=4, num_experts_per_tok=2))
    ffn = a.layers[0].feed_forward
    assert ffn == FeedForward(32, 4, 2, 384) and ffn.is_moe
    assert (ffn.parameters, ffn.active_parameters) == (32 + 4 * 384, 32 + 2 * 384)
    assert a.parameters() == 2 * (192 + 1568 + 16) + 168 == 3720
    assert a.active_parameters() == 2 * (192 + 800 + 16) + 168 == 2184
    assert a.matmul_parameters() == 2 * (192 + 800) + 80
    assert a.is_moe and a.intermediate_size == 16
    # a step over B tokens reads E(1 − (1 − k/E)^B) experts per layer: 2 for one token, 3 for two, none for none
    assert_allclose(a.parameters_read(1), 3720 - 2 * (4 - 2) * 384, rtol=1e-12)
    assert_allclose(a.parameters_read(2), 3720 - 2 * (4 - 3) * 384, rtol=1e-12)
    assert_allclose(a.parameters_read(0), 3720 - 2 * 4 * 384, rtol=1e-12)
    assert_allclose(a.parameters_read(np.array([1, 2])), [3720 - 1536, 3720 - 768], rtol=1e-12)


def test_qwen_moe_by_hand():
    """qwen2_moe: layer 0 dense (mlp_only_layers), layer 1 sparse: router 32 + shared SwiGLU 3·8·8 = 192 + its
    gate 8 always; 4 experts of 3·8·4 = 96, top 2."""
    kw = dict(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=4, shared_expert_intermediate_size=8,
              mlp_only_layers=[0])
    a = read_config(_cfg("qwen2_moe", **kw))
    assert a.layers[0].feed_forward == FeedForward(384)
    assert a.layers[1].feed_forward == FeedForward(32 + 192 + 8, 4, 2, 96)
    assert a.parameters() == (208 + 384 + 16) + (208 + 232 + 384 + 16) + 168
    assert a.active_parameters() == (208 + 384 + 16) + (208 + 232 + 192 + 16) + 168
    no_shared = read_config(_cfg("qwen2_moe", **{**kw, "shared_expert_intermediate_size": 0}))
    assert no_shared.layers[1].feed_forward.always_active_parameters == 32
    # qwen3_moe: no shared expert; every decoder_sparse_step-th layer is sparse
    q3 = read_config(_cfg("qwen3_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=4,
                          shared_expert_intermediate_size=8, decoder_sparse_step=2))
    assert q3.layers[0].feed_forward == FeedForward(384)
    assert q3.layers[1].feed_forward == FeedForward(32, 4, 2, 96)
    every = read_config(_cfg("qwen3_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=4))
    assert [x.feed_forward.is_moe for x in every.layers] == [True, True]
    none = read_config(_cfg("qwen3_moe", num_experts=0, num_experts_per_tok=2, moe_intermediate_size=4))
    assert not none.is_moe and none.layers[1].feed_forward == FeedForward(384)
    one = read_config(_cfg("qwen3_moe", num_experts=1, num_experts_per_tok=1, moe_intermediate_size=4))
    assert one.layers[0].feed_forward == FeedForward(8, 1, 1, 96)             # a single routed expert still routes
    third = read_config(_cfg("qwen3_moe", num_hidden_layers=3, num_experts=4, num_experts_per_tok=2,
                             moe_intermediate_size=4, decoder_sparse_step=3))
    assert [x.feed_forward.is_moe for x in third.layers] == [False, False, True]     # (i + 1) % 3 == 0
    assert q3.layers[0].attention_parameters == 192 + 4                          # qwen3_moe has q/k norms too
    # qwen2_moe without a shared expert width: none
    bare = read_config(_cfg("qwen2_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=4))
    assert bare.layers[0].feed_forward == FeedForward(32, 4, 2, 96)
    # without a dense width the architecture's MLP width is one expert's
    only = read_config({k: v for k, v in _cfg("qwen3_moe", num_experts=4, num_experts_per_tok=2,
                                                 moe_intermediate_size=4).items() if k != "intermediate_size"})
    assert only.intermediate_size == 4


# --- the other families -------------------------------------------------------------------------------------------
def test_qwen3_next_by_hand():
    """Linear attention (1 key head of 2, 2 value heads of 3, kernel 4) in layers 0 and 2, gated full attention in
    1 and 3. Linear: in_proj_qkvz 8·(2·2 + 2·6) = 128, in_proj_ba 8·2·2 = 32, conv 10·4 = 40, dt_bias and A_log 4,
    norm 3, out_proj 6·8 = 48 → 255; state (4 − 1)·10 + 2·2·3 = 42. Full: gated q 128, k and v 64, o 64, norms 4."""
    cfg = {"model_type": "qwen3_next", **{k: v for k, v in BASE.items() if k != "intermediate_size"},
           "num_hidden_layers": 4, "head_dim": 2, "linear_num_key_heads": 1, "linear_num_value_heads": 2,
           "linear_key_head_dim": 2, "linear_value_head_dim": 3, "linear_conv_kernel_dim": 4, "num_experts": 4,
           "num_experts_per_tok": 2, "moe_intermediate_size": 4, "shared_expert_intermediate_size": 8,
           "full_attention_interval": 2}
    a = read_config(cfg)
    assert [x.kind for x in a.attention_layers()] == ["linear", "full", "linear", "full"]
    assert a.attention_layers()[0] == AttentionLayer("linear", 2, 0, None, 42)
    assert a.attention_layers()[1] == AttentionLayer("full", 2, 8)
    assert [x.attention_parameters for x in a.layers] == [255, 260, 255, 260]
    assert a.layers[0].feed_forward == FeedForward(32 + 192 + 8, 4, 2, 96)
    assert a.parameters() == 2 * (255 + 616 + 16) + 2 * (260 + 616 + 16) + 168
    assert a.intermediate_size == 4 and a.layer_kinds() == {"full": 2, "linear": 2}
    default = read_config({k: v for k, v in cfg.items() if k != "full_attention_interval"})
    assert [x.kind for x in default.attention_layers()] == ["linear", "linear", "linear", "full"]
    listed = read_config({**cfg, "layer_types": ["full_attention"] * 4, "mlp_only_layers": [1],
                          "intermediate_size": 16, "shared_expert_intermediate_size": 0})
    assert listed.layer_kinds() == {"full": 4} and listed.layers[1].feed_forward == FeedForward(384)
    assert listed.layers[0].feed_forward == FeedForward(32, 4, 2, 96) and listed.intermediate_size == 16
    step = read_config({**cfg, "decoder_sparse_step": 3, "intermediate_size": 16})
    assert [x.feed_forward.is_moe for x in step.layers] == [False, False, True, False]
    assert read_config({**cfg, "num_experts": 0, "intermediate_size": 16}).layers[0].feed_forward == FeedForward(384)
    assert read_config({**cfg, "num_experts": 1}).layers[0].feed_forward == FeedForward(8 + 192 + 8, 1, 2, 96)
    no_shared = read_config({k: v for k, v in cfg.items() if k != "shared_expert_intermediate_size"})
    assert no_shared.layers[0].feed_forward == FeedForward(32, 4, 2, 96)
    implied = read_config({k: v for k, v in cfg.items() if k != "head_dim"})        # 8 / 4 heads
    assert implied.head_dim == 2 and implied.parameters() == a.parameters()
    tied = read_config({**cfg, "tie_word_embeddings": True})
    assert tied.embedding_parameters() == 80 and tied.tie_word_embeddings is True
    assert _message(lambda: read_config({**cfg, "layer_types": ["sliding_attention"] * 4})) == (
        "qwen3_next.layer_types[0]='sliding_attention' is not allowed: qwen3_next.layer_types[0] must be "
        "'linear_attention' or 'full_attention'")


DEEPSEEK = {"model_type": "deepseek_v3", "hidden_size": 8, "num_hidden_layers": 3, "vocab_size": 10,
            "num_attention_heads": 2, "kv_lora_rank": 4, "qk_rope_head_dim": 2, "qk_nope_head_dim": 3,
            "v_head_dim": 3, "q_lora_rank": 5, "n_routed_experts": 4, "first_k_dense_replace": 1,
            "moe_intermediate_size": 2, "n_shared_experts": 1, "num_experts_per_tok": 2, "intermediate_size": 16,
            "topk_method": "noaux_tc", "max_position_embeddings": 32}


def test_deepseek_by_hand():
    """MLA: q_a 8·5 + norm 5 + q_b 5·2·5 = 95; kv_a 8·(4 + 2) = 48 + norm 4; kv_b 4·2·(3 + 3) = 48; o 2·3·8 = 48
    → 243. Layer 0 dense (384); layers 1, 2: router 4·8 + bias 4 + shared 3·8·2 = 48 always, experts of 48."""
    a = read_config(DEEPSEEK)
    assert [x.attention_parameters for x in a.layers] == [243] * 3
    # the latent: kv_lora_rank 4 + qk_rope_head_dim 2 = 6 elements, of them 2 rotary; value heads of v_head_dim 3
    assert a.attention_layers() == (AttentionLayer("mla", 1, 6, rope_elements=2, value_head_dim=3),) * 3
    assert a.attention == "MLA"
    assert a.head_dim == 5 and a.num_kv_heads == 2 and a.layer_kinds() == {"mla": 3}
    assert a.layers[0].feed_forward == FeedForward(384)
    assert a.layers[1].feed_forward == FeedForward(32 + 4 + 48, 4, 2, 48)
    assert a.parameters() == (243 + 384 + 16) + 2 * (243 + 84 + 4 * 48 + 16) + 168 == 1881
    assert a.active_parameters() == (243 + 384 + 16) + 2 * (243 + 84 + 2 * 48 + 16) + 168 == 1689
    assert a.active_parameters(include_input_embedding=False) == 1689 - 80
    plain = read_config({**DEEPSEEK, "q_lora_rank": None, "topk_method": "greedy", "n_shared_experts": None,
                         "moe_layer_freq": 2, "num_key_value_heads": 1})
    assert plain.layers[0].attention_parameters == 8 * 2 * 5 + 48 + 4 + 48 + 48    # q straight from d
    assert [x.feed_forward.is_moe for x in plain.layers] == [False, False, True]   # i ≥ 1 and i % 2 == 0
    assert plain.layers[2].feed_forward == FeedForward(32, 4, 2, 48) and plain.num_kv_heads == 1
    dense = read_config({**DEEPSEEK, "n_routed_experts": None})
    assert not dense.is_moe
    every = read_config({k: v for k, v in DEEPSEEK.items() if k != "first_k_dense_replace"})
    assert [x.feed_forward.is_moe for x in every.layers] == [True, True, True]
    tied = read_config({**DEEPSEEK, "tie_word_embeddings": True})
    assert tied.tie_word_embeddings is True and tied.embedding_parameters() == 80


def test_gpt_oss_by_hand():
    """Biased attention 192 + 16 + 8 with 4 sinks; 4 experts with biased gate_up 8·2·3 + 6 and down 3·8 + 8 = 86,
    router 8·4 + 4; sliding (6 tokens) and full layers alternating."""
    cfg = _cfg("gpt_oss", num_local_experts=4, intermediate_size=3, num_experts_per_tok=2, sliding_window=6,
               head_dim=2)
    a = read_config(cfg)
    assert [x.attention_parameters for x in a.layers] == [220, 220]
    assert a.layers[0].feed_forward == FeedForward(36, 4, 2, 86)
    assert a.attention_layers() == (AttentionLayer("sliding", 2, 8, 6), AttentionLayer("full", 2, 8))
    assert a.parameters() == 2 * (220 + 36 + 4 * 86 + 16) + 168
    unbiased = read_config({**cfg, "attention_bias": False, "num_experts_per_tok": None, "experts_per_token": 3})
    assert unbiased.layers[0].attention_parameters == 196 and unbiased.layers[0].feed_forward.experts_per_token == 3
    chunked = read_config({**cfg, "layer_types": ["chunked_attention", "full_attention"]})
    assert chunked.attention_layers()[0] == AttentionLayer("chunked", 2, 8, 6)
    tied = read_config({**cfg, "tie_word_embeddings": True})
    assert tied.tie_word_embeddings is True and tied.embedding_parameters() == 80
    listed = read_config({**cfg, "layer_types": ["full_attention", "sliding_attention"]})
    assert [x.kind for x in listed.attention_layers()] == ["full", "sliding"]
    assert _message(lambda: read_config({**cfg, "layer_types": ["global", "full_attention"]})) == (
        "gpt_oss.layer_types[0]='global' is not allowed: gpt_oss.layer_types[0] must be one of full_attention, "
        "sliding_attention, chunked_attention")


def test_gemma_by_hand():
    """Gemma 2: local (6 tokens) and global layers alternating, four norms 4·8, tied embeddings; Gemma 3 (text
    config inside, transformers' defaults for what it leaves out): 5 local to 1 global, q/k norms."""
    g2 = read_config(_cfg("gemma2", sliding_window=6))
    assert [x.kind for x in g2.attention_layers()] == ["sliding", "full"]
    assert g2.layers[0].norm_parameters == 32 and g2.tie_word_embeddings
    assert g2.parameters() == 2 * (192 + 384 + 32) + 80 + 8
    text = {**BASE, "num_hidden_layers": 6, "sliding_window": 6}
    g3 = read_config({"model_type": "gemma3", "text_config": text})
    assert g3.family == "gemma3" and g3.layers[0].attention_parameters == 196
    assert [x.kind for x in g3.attention_layers()] == ["sliding"] * 5 + ["full"]
    assert g3.vocab_size == 10 and g3.tie_word_embeddings
    dflt = read_config({"model_type": "gemma3_text", **{k: v for k, v in text.items()
                                                          if k not in ("vocab_size", "max_position_embeddings")}})
    assert (dflt.vocab_size, dflt.max_context_tokens) == (262_208, 131_072) and dflt.layers[0].attention_parameters == 196
    assert read_config({**_cfg("gemma2", sliding_window=6), "tie_word_embeddings": False}).embedding_parameters() == 160
    biased = read_config(_cfg("gemma2", sliding_window=6, attention_bias=True))
    assert biased.layers[0].attention_parameters == 192 + 16 + 8
    pat = read_config({"model_type": "gemma3", "text_config": {**text, "sliding_window_pattern": 3}})
    assert [x.kind for x in pat.attention_layers()] == ["sliding", "sliding", "full"] * 2
    unset = read_config({"model_type": "gemma3", "text_config": {**text, "sliding_window_pattern": None}})
    assert [x.kind for x in unset.attention_layers()] == ["sliding"] * 5 + ["full"]      # 6 when left empty
    listed = read_config(_cfg("gemma2", sliding_window=6, layer_types=["full_attention", "sliding_attention"]))
    assert [x.kind for x in listed.attention_layers()] == ["full", "sliding"]
    assert _message(lambda: read_config(_cfg("gemma2", sliding_window=6, layer_types=["x", "full_attention"]))) == (
        "gemma2.layer_types[0]='x' is not allowed: gemma2.layer_types[0] must be one of full_attention, "
        "sliding_attention, chunked_attention")
    for bad in ({"model_type": "gemma3"}, {"model_type": "gemma3", "text_config": [1]}):
        assert _message(lambda: read_config(bad), ConfigFieldError) == (
            "config.json of family 'gemma3' has no field 'text_config'")


def test_llama4_by_hand():
    """Chunks of 6 tokens on the RoPE layers, full attention on every 2nd (NoPE); MoE on every 2nd layer: router
    8·4 + shared expert 3·8·4 = 96 always, 4 experts of 96, top 1; a dense MLP of 16 elsewhere."""
    text = {**BASE, "num_hidden_layers": 4, "intermediate_size": 4, "intermediate_size_mlp": 16,
            "attention_chunk_size": 6, "no_rope_layer_interval": 2, "interleave_moe_layer_step": 2,
            "num_local_experts": 4, "num_experts_per_tok": 1}
    a = read_config({"model_type": "llama4", "text_config": text})
    assert a.family == "llama4"
    assert a.attention_layers() == (AttentionLayer("chunked", 2, 8, 6), AttentionLayer("full", 2, 8)) * 2
    assert [x.feed_forward for x in a.layers] == [FeedForward(384), FeedForward(128, 4, 1, 96)] * 2
    assert a.parameters() == 2 * (192 + 384 + 16) + 2 * (192 + 128 + 384 + 16) + 168
    assert a.intermediate_size == 4
    t = read_config({"model_type": "llama4_text", **{k: v for k, v in text.items()
                                                     if k not in ("no_rope_layer_interval", "attention_chunk_size")},
                     "interleave_moe_layer_step": 1, "attention_bias": True})
    assert [x.kind for x in t.attention_layers()] == ["full"] * 4           # no chunk size: every layer full
    assert all(x.feed_forward.is_moe for x in t.layers) and t.layers[0].attention_parameters == 216
    listed = read_config({"model_type": "llama4_text", **text, "no_rope_layers": [0, 0, 0, 1], "moe_layers": [0]})
    assert [x.kind for x in listed.attention_layers()] == ["full", "full", "full", "chunked"]
    assert [x.feed_forward.is_moe for x in listed.layers] == [True, False, False, False]
    dflt = read_config({"model_type": "llama4_text", **{k: v for k, v in text.items()
                                                        if k not in ("no_rope_layer_interval",)}})
    assert [x.kind for x in dflt.attention_layers()] == ["chunked", "chunked", "chunked", "full"]
    dense = read_config({"model_type": "llama4_text", **text, "interleave_moe_layer_step": 0})
    assert not dense.is_moe
    each = read_config({"model_type": "llama4_text", **{k: v for k, v in text.items()
                                                        if k != "interleave_moe_layer_step"}})
    assert all(x.feed_forward.is_moe for x in each.layers)                     # every layer by default
    tied = read_config({"model_type": "llama4", "text_config": {**text, "tie_word_embeddings": True}})
    assert tied.tie_word_embeddings is True and tied.embedding_parameters() == 80
    assert _message(lambda: read_config({"model_type": "llama4", "text_config": {
        k: v for k, v in text.items() if k != "num_local_experts"}}), ConfigFieldError) == (
        "config.json of family 'llama4_text' has no field 'num_local_experts'")
    assert _message(lambda: read_config({"model_type": "llama4"}), ConfigFieldError) == (
        "config.json of family 'llama4' has no field 'text_config'")


# --- the KV view of a layer, and experts touched -----------------------------------------------------------------------
def test_a_window_of_one_token():
    assert AttentionLayer("sliding", 2, 8, 1).tokens_held(5) == 1.0


def test_tokens_held_by_kind():
    full, mla = AttentionLayer("full", 2, 8), AttentionLayer("mla", 1, 6)
    sliding, chunked = AttentionLayer("sliding", 2, 8, 4), AttentionLayer("chunked", 2, 8, 4)
    linear = AttentionLayer("linear", 2, 0, None, 42)
    for n, in_chunk in ((0, 0), (1, 1), (3, 3), (4, 4), (5, 1), (8, 4), (9, 1), (10, 2)):
        assert full.tokens_held(n) == mla.tokens_held(n) == n
        assert sliding.tokens_held(n) == min(n, 4)
        assert chunked.tokens_held(n) == in_chunk, n
        assert linear.tokens_held(n) == 0.0
    assert chunked.tokens_held(5.5) == 1.5 and isinstance(full.tokens_held(3), float)


def test_experts_touched_by_hand():
    assert experts_touched(4, 2, 0) == 0.0 and experts_touched(4, 2, 1) == 2.0 and experts_touched(4, 2, 2) == 3.0
    assert_allclose(experts_touched(8, 2, 3), 8 * (1 - 0.75 ** 3), rtol=1e-15)
    assert experts_touched(4, 2, -5) == 0.0 and isinstance(experts_touched(4, 2, 1), float)
    assert_allclose(experts_touched(4, 2, np.array([0, 1, 2, 1000])), [0.0, 2.0, 3.0, 4.0], rtol=1e-12)


# --- fields read as whole numbers ---------------------------------------------------------------------------------
QWEN_NEXT = {"model_type": "qwen3_next", **{k: v for k, v in BASE.items() if k != "intermediate_size"},
             "num_hidden_layers": 4, "head_dim": 2, "linear_num_key_heads": 1, "linear_num_value_heads": 2,
             "linear_key_head_dim": 2, "linear_value_head_dim": 3, "linear_conv_kernel_dim": 4, "num_experts": 4,
             "num_experts_per_tok": 2, "moe_intermediate_size": 4, "shared_expert_intermediate_size": 8}
GPT_OSS = _cfg("gpt_oss", num_local_experts=4, intermediate_size=3, num_experts_per_tok=2, sliding_window=6)
LLAMA4 = {"model_type": "llama4_text", **BASE, "num_hidden_layers": 4, "intermediate_size": 4,
          "intermediate_size_mlp": 16, "attention_chunk_size": 6, "num_local_experts": 4, "num_experts_per_tok": 1,
          "interleave_moe_layer_step": 2}
QWEN_MOE = _cfg("qwen2_moe", num_experts=4, num_experts_per_tok=2, moe_intermediate_size=4,
                shared_expert_intermediate_size=8)


@pytest.mark.parametrize("cfg, field", [
    (_cfg("llama"), "head_dim"), (DEEPSEEK, "q_lora_rank"), (DEEPSEEK, "n_routed_experts"),
    (DEEPSEEK, "first_k_dense_replace"), (_cfg("gemma3_text", sliding_window=6), "sliding_window_pattern"),
    (GPT_OSS, "num_experts_per_tok"), (LLAMA4, "interleave_moe_layer_step"), (LLAMA4, "attention_chunk_size"),
    (QWEN_MOE, "shared_expert_intermediate_size"), (QWEN_MOE, "intermediate_size"), (_cfg("mistral"), "sliding_window"),
    (_cfg("mixtral", num_local_experts=4, num_experts_per_tok=2), "sliding_window"),
    (QWEN_NEXT, "shared_expert_intermediate_size"), (QWEN_NEXT, "intermediate_size"),
])
def test_optional_fields_are_whole_numbers(cfg, field):
    """An optional field given as 2.0 reads as the integer 2; as 2.5 it is refused, naming family and field."""
    family = cfg["model_type"]
    read_config({**cfg, field: 2.0})
    assert _message(lambda: read_config({**cfg, field: 2.5})) == (
        f"{family}.{field}=2.5 is not allowed: {family}.{field} must be a non-negative integer")


def test_missing_fields_name_the_family():
    for cfg, field in ((GPT_OSS, "sliding_window"), (QWEN_NEXT, "linear_num_key_heads"), (LLAMA4, "num_local_experts")):
        assert _message(lambda: read_config({k: v for k, v in cfg.items() if k != field}), ConfigFieldError) == (
            f"config.json of family '{cfg['model_type']}' has no field '{field}'")


def test_the_field_reader():
    f = A._Fields({"a": None, "b": 0, "c": "text", "d": False, "e": 3.0}, "fam")
    assert not f.has("a") and f.has("b") and not f.has("zz")
    assert f.opt("c", "default") == "text" and f.opt("d", True) is False and f.opt("a", "dflt") == "dflt"
    assert f.opt("e", 0) == 3 and isinstance(f.opt("e", 0), int) and f.req("e") == 3
    assert f.opt("e", None) == 3.0


# --- checks, each message in full ------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, message", [
    (lambda: AttentionLayer("global", 2, 8), "layer kind='global' is not allowed: layer kind must be one of full, "
                                             "sliding, chunked, mla, linear"),
    (lambda: AttentionLayer("full", -1, 8), "kv_heads=-1 is not allowed: kv_heads must be an integer >= 0"),
    (lambda: AttentionLayer("full", 2, 8.0), "elements_per_token=8.0 is not allowed: elements_per_token must be an "
                                             "integer >= 0"),
    (lambda: AttentionLayer("linear", 2, 0, None, -1), "state_elements=-1 is not allowed: state_elements must be an "
                                                        "integer >= 0"),
    (lambda: AttentionLayer("sliding", 2, 8), "window=None is not allowed: window must be a positive integer for a "
                                              "sliding layer"),
    (lambda: AttentionLayer("chunked", 2, 8, 0), "window=0 is not allowed: window must be a positive integer for a "
                                                 "chunked layer"),
    (lambda: AttentionLayer("sliding", 2, 8, 4.0), "window=4.0 is not allowed: window must be a positive integer "
                                                   "for a sliding layer"),
    (lambda: AttentionLayer("sliding", 2, 8, -1), "window=-1 is not allowed: window must be a positive integer "
                                                  "for a sliding layer"),
    (lambda: read_config({"hidden_size": 8}), "model_type=None is not allowed: model_type must be one of "
     "deepseek_v2, deepseek_v3, gemma2, gemma3, gemma3_text, gpt_oss, hybrid_shared_kv, kimi_k2, llama, llama4, "
     "llama4_text, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, qwen3_next"),
    (lambda: read_config(_cfg("bert")), None),
    (lambda: read_config({k: v for k, v in _cfg("llama").items() if k != "hidden_size"}),
     "config.json of family 'llama' has no field 'hidden_size'"),
    (lambda: read_config(_cfg("llama", hidden_size=8.5)),
     "llama.hidden_size=8.5 is not allowed: llama.hidden_size must be a non-negative integer"),
    (lambda: read_config(_cfg("llama", hidden_size=True)),
     "llama.hidden_size=True is not allowed: llama.hidden_size must be a non-negative integer"),
    (lambda: read_config(_cfg("llama", hidden_size="8")),
     "llama.hidden_size='8' is not allowed: llama.hidden_size must be a non-negative integer"),
    (lambda: read_config(_cfg("llama", num_key_value_heads=-2)),
     "llama.num_key_value_heads=-2 is not allowed: llama.num_key_value_heads must be a non-negative integer"),
    (lambda: read_config(_cfg("llama", num_key_value_heads=3)),
     "config.num_kv_heads=3 is not allowed: config.num_kv_heads must be a divisor of num_attention_heads=4"),
    (lambda: read_config(_cfg("llama", vocab_size=0)),
     "config.vocab_size=0 is not allowed: config.vocab_size must be a positive integer"),
])
def test_bad_configurations_are_one_line_errors(call, message):
    got = _message(call)
    if message is None:
        assert got.startswith("model_type='bert' is not allowed: model_type must be one of deepseek_v2")
    else:
        assert got == message


def test_config_field_error_names_family_and_field():
    e = ConfigFieldError("llama", "hidden_size", " (of the text model)")
    assert e.allowed == "present in config.json"
    assert str(e) == "config.json of family 'llama' has no field 'hidden_size' (of the text model)"
    assert (e.family, e.field, e.name) == ("llama", "hidden_size", "llama.hidden_size") and e.value is None
    assert isinstance(e, ParameterError)


def _arch(**kw):
    base = dict(name="m", display_name="M", num_layers=2, hidden_size=8, num_attention_heads=4, num_kv_heads=2,
                head_dim=2, intermediate_size=16, vocab_size=10, max_context_tokens=32, tie_word_embeddings=False,
                source="s")
    return Architecture(**{**base, **kw})


def test_architecture_checks_and_the_llama_formula():
    """Without layers (the curated files): every layer full attention with the Llama arithmetic: 592 a layer."""
    a = _arch()
    assert a.layers == () and a.family == "llama" and a.published_parameters is None
    assert a.parameters_per_layer() == 592 and a.parameters() == 2 * 592 + 160 + 8
    assert a.active_parameters() == a.parameters() and a.active_parameters(False) == a.parameters() - 80
    assert a.matmul_parameters() == 2 * (592 - 16) + 80
    assert a.attention_layers() == (AttentionLayer("full", 2, 8),) * 2 and not a.is_moe
    assert _arch(tie_word_embeddings=True).parameters() == 2 * 592 + 80 + 8
    for field, value in (("num_layers", 0), ("head_dim", -1), ("max_context_tokens", 1.5)):
        assert _message(lambda: _arch(**{field: value})) == (
            f"m.{field}={value!r} is not allowed: m.{field} must be a positive integer")
    layer = Layer(AttentionLayer("full", 2, 8), 192, FeedForward(384), 16)
    assert _message(lambda: _arch(layers=(layer,))) == (
        "m.layers=1 is not allowed: m.layers must be one layer per decoder layer (2)")
    mixed = _arch(layers=(layer, Layer(AttentionLayer("full", 2, 8), 191, FeedForward(384), 16)))
    assert mixed.parameters_per_layer() == 591 and isinstance(mixed.parameters_per_layer(), int)   # 1183 / 2 down


# --- names and files -------------------------------------------------------------------------------------------------
def test_loading_by_name_and_from_a_file(tmp_path):
    assert _message(lambda: load_architecture("gpt-5")).startswith("model='gpt-5' is not allowed: model must be one of ")
    assert _message(lambda: load_architecture(7)).startswith("model=7 is not allowed: model must be one of ")
    curated = load_architecture("llama-2-7b")
    assert curated.family == "llama" and curated.layers == () and A.provenance("llama-2-7b") == {}
    assert (curated.num_layers, curated.hidden_size, curated.num_attention_heads, curated.num_kv_heads) == (32, 4096,
                                                                                                          32, 32)
    assert curated.head_dim == 128 and not curated.tie_word_embeddings      # 4096 / 32, untied
    pub = load_architecture("qwen3-32b")
    assert pub.display_name == A.provenance("qwen3-32b")["display_name"]
    assert pub.source == A.provenance("qwen3-32b")["repository"]
    assert "llama-2-7b" in A.available_models() and "qwen3-32b" in A.available_models()
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(_cfg("llama")), encoding="utf-8")
    a = load_config(d / "config.json")
    assert a.name == "tiny" and a.source == str(d / "config.json") and a.parameters() == 1352
    (tmp_path / "other.json").write_text(json.dumps(_cfg("llama")), encoding="utf-8")
    assert load_config(tmp_path / "other.json").name == "other"
    assert load_config(tmp_path / "other.json", name="x").name == "x"
    missing = tmp_path / "none.json"
    assert _message(lambda: load_config(missing)) == (
        f"config={str(missing)!r} is not allowed: config must be a path to an existing config.json file")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    assert _message(lambda: load_config(tmp_path / "bad.json")).startswith(
        f"config={str(tmp_path / 'bad.json')!r} is not allowed: config must be a JSON file (JSONDecodeError: ")
    (tmp_path / "list.json").write_text("[1]", encoding="utf-8")
    assert _message(lambda: load_config(tmp_path / "list.json")) == (
        f"config={str(tmp_path / 'list.json')!r} is not allowed: config must be a JSON object (a Hugging Face "
        "config.json)")


def test_curated_file_defaults(tmp_path, monkeypatch):
    """A curated file without num_key_value_heads, head_dim, display name or tie flag: MHA, d / heads, its name,
    untied; published_parameters read when given."""
    cfg = {k: v for k, v in BASE.items() if k != "num_key_value_heads"}
    (tmp_path / "mini.json").write_text(json.dumps({**cfg, "source": "hand"}), encoding="utf-8")
    (tmp_path / "mini2.json").write_text(json.dumps({**cfg, "source": "hand", "published_parameters": 1352.0,
                                                     "display_name": "Mini", "head_dim": 3, "num_key_value_heads": 2,
                                                     "tie_word_embeddings": True}), encoding="utf-8")
    monkeypatch.setattr(A, "MODELS_DIR", tmp_path)
    a = A._load_curated("mini", tmp_path / "mini.json")
    assert a.name == "mini"
    assert (a.num_kv_heads, a.head_dim, a.display_name, a.tie_word_embeddings) == (4, 2, "mini", False)
    assert a.published_parameters is None and a.source == "hand" and a.max_context_tokens == 32
    b = A._load_curated("mini2", tmp_path / "mini2.json")
    assert (b.head_dim, b.display_name, b.tie_word_embeddings, b.published_parameters) == (3, "Mini", True, 1352)
    assert b.num_kv_heads == 2 and b.attention == "GQA"
    assert A.available_models() == ["mini", "mini2"]


# --- the command line ------------------------------------------------------------------------------------------------
def test_describe_one_line():
    mx = read_config(_cfg("mixtral", num_local_experts=4, num_experts_per_tok=2, sliding_window=6), name="mx",
                     display_name="MX")
    assert A._describe(mx) == ("mx: MX [mixtral] GQA, 2 layers: 2 sliding (window/chunk 6 tokens), MoE 2 of 4 experts; "
                               "parameters 0.00 B total, 0.00 B active per token; native context 32")
    a = _arch(num_layers=1000, hidden_size=4096, num_attention_heads=32, num_kv_heads=8, head_dim=128,
              intermediate_size=14336, vocab_size=128256, max_context_tokens=131072)
    text = A._describe(a)
    per_layer = 4096 * 32 * 128 * 2 + 2 * 4096 * 8 * 128 + 3 * 4096 * 14336 + 2 * 4096
    total = 1000 * per_layer + 2 * 128256 * 4096 + 4096
    assert text == (f"m: M [llama] GQA, 1000 layers: 1000 full; parameters {total / 1e9:.2f} B total, "
                    f"{total / 1e9:.2f} B active per token; native context 131,072")
    two = _arch(layers=(Layer(AttentionLayer("sliding", 2, 8, 4), 192, FeedForward(384), 16),
                        Layer(AttentionLayer("chunked", 2, 8, 6), 192, FeedForward(384), 16)))
    assert "2 layers: 1 sliding, 1 chunked (window/chunk 4, 6 tokens);" in A._describe(two)
    g = read_config(_cfg("gpt_oss", num_local_experts=4, intermediate_size=3, num_experts_per_tok=2,
                         sliding_window=6, num_hidden_layers=3))
    assert "3 layers: 1 full, 2 sliding (window/chunk 6 tokens)" in A._describe(g)     # kinds in LAYER_KINDS order


def test_command_line(capsys, tmp_path):
    assert A.main(["show", "llama-2-7b"]) == 0
    assert capsys.readouterr().out.startswith("llama-2-7b: ")
    (tmp_path / "config.json").write_text(json.dumps(_cfg("llama")), encoding="utf-8")
    assert A.main(["read", str(tmp_path / "config.json")]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path.name}: {tmp_path.name} [llama] GQA, 2 layers: 2 full;")
    assert A.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == A.available_models()
    assert A.main(["show", "gpt-5"]) == 2
    err = capsys.readouterr()
    assert err.out == "" and err.err.startswith("error: model='gpt-5' is not allowed")
    assert A.main([]) == 0
    usage = capsys.readouterr().out
    assert "usage: python -m model.architectures" in usage
    for text in ("Model architectures read from data/models (curated files and published config.json files). "
                 "KV-cache sizes: python -m model.kv size --help.", "one line per model: attention kind, layer "
                 "kinds, parameters", "one model's layers and parameters", "read any Hugging Face config.json"):
        assert f" {text} " in f" {' '.join(usage.split())} ", text          # the whole phrase, as a phrase
    for command, text in (("show", "model name (see 'list')"), ("read", "path to a config.json")):
        with pytest.raises(SystemExit):
            A.main([command, "--help"])
        assert f" {text} " in f" {' '.join(capsys.readouterr().out.split())} "
