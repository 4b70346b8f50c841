"""Cross-layer KV sharing (model.architectures hybrid_shared_kv, model.kv.size): a layer that reads an earlier
layer's cache holds no bytes of its own but still attends; every figure worked by hand."""
import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture, read_config
from model.checks import ParameterError
from model.kv.size import attention_tokens_per_layer, kv_bytes_per_session, kv_footprint


def _config(source, types=None):
    types = types or ["sliding_attention"] * 5 + ["full_attention"]
    return {"model_type": "hybrid_shared_kv", "hidden_size": 512, "num_hidden_layers": len(types),
            "num_attention_heads": 8, "num_key_value_heads": 2, "head_dim": 64, "intermediate_size": 1024,
            "vocab_size": 1000, "max_position_embeddings": 8192, "sliding_window": 100,
            "layer_types": types, "kv_source_layer": source}


def test_shared_layers_hold_nothing_of_their_own():
    own = read_config(_config([0, 1, 2, 3, 4, 5]))
    shared = read_config(_config([0, 0, 2, 2, 2, 5]))           # a pair and a triple of local layers
    # per cache: 2 (K, V) x 2 heads x 64 = 256 elements per token, 1 byte in fp8
    n = 1000
    assert_allclose(kv_bytes_per_session(own, n, "fp8"), 5 * 100 * 256 + 1 * n * 256, rtol=1e-12)
    assert_allclose(kv_bytes_per_session(shared, n, "fp8"), 2 * 100 * 256 + 1 * n * 256, rtol=1e-12)
    # in bf16 twice the bytes; below the window every layer holds the whole context
    assert_allclose(kv_bytes_per_session(shared, 50, "bf16"), 3 * 50 * 256 * 2, rtol=1e-12)
    # attention still happens on every layer: the tokens attended to do not change
    assert_allclose(attention_tokens_per_layer(shared, n), attention_tokens_per_layer(own, n), rtol=1e-12)
    assert_allclose(attention_tokens_per_layer(shared, n), (5 * 100 + n) / 6, rtol=1e-12)
    assert [a.reads_kv_of for a in shared.attention_layers()] == [None, 0, None, 2, 2, None]
    # the breakdown keeps the readers apart with zero bytes
    rows = {(k.kind, k.elements_per_token): k for k in kv_footprint(shared, n, "fp8").kinds}
    assert rows[("sliding", 0)].layers == 3 and rows[("sliding", 0)].bytes_per_sequence == 0


def test_characterai_like_kv_by_hand():
    """7 global caches hold the 10,000 tokens, 27 local caches 1,024 tokens, MQA: 1 head x 128 x (K, V) in int8."""
    arch = load_architecture("characterai-like")
    assert arch.attention == "MQA" and arch.num_layers == 80
    want = (7 * 10_000 + 27 * 1024) * 2 * 128 * 1
    assert_allclose(kv_bytes_per_session(arch, 10_000, "int8"), want, rtol=1e-12)
    # against Llama 3 70B in BF16 (80 layers x 8 heads x 128 x 2 x 2 bytes x 10,000): more than the post's 20x smaller
    llama = 80 * 8 * 128 * 2 * 2 * 10_000
    assert llama / want > 20


@pytest.mark.parametrize("source, bad", [([0, 0, 2, 2, 2, 4], "kv_source_layer[5]"),   # a global reading a local
                                         ([0, 2, 2, 3, 4, 5], "kv_source_layer[1]"),   # a later layer
                                         ([0, 0, 1, 3, 4, 5], "kv_source_layer[2]"),   # a reader of a reader
                                         ([0, 1, 2], "kv_source_layer")])
def test_bad_sharing_is_a_one_line_error(source, bad):
    with pytest.raises(ParameterError) as e:
        read_config(_config(source))
    assert e.value.name == f"hybrid_shared_kv.{bad}" and "\n" not in str(e.value)


def test_a_reader_layer_caches_nothing_of_its_own():
    from model.architectures import AttentionLayer

    assert AttentionLayer("sliding", 1, 0, 1024, reads_kv_of=3).tokens_held(5000) == 1024
    with pytest.raises(ParameterError, match="^reads_kv_of=0 "):
        AttentionLayer("full", 1, 256, reads_kv_of=0)
    with pytest.raises(ParameterError, match="^reads_kv_of=-1 "):
        AttentionLayer("full", 1, 0, reads_kv_of=-1)
