"""Per-layer-kind KV arithmetic of model.kv.size checked on a tiny hand-built model (full, sliding, chunked, MLA and
linear layers), every figure counted position by position or multiplied out by hand."""

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.architectures import AttentionLayer
from model.checks import ParameterError
from model.kv.size import (attention_tokens_per_layer, kv_footprint, kv_group_bytes_held, kv_group_bytes_per_token,
                           kv_grows_with_context, prefill_pairs_per_layer, tp_share)

FULL = AttentionLayer("full", 2, 4)                       # 2 KV heads x width 1 x (K, V)
SLIDING = AttentionLayer("sliding", 2, 4, window=3)
CHUNKED = AttentionLayer("chunked", 1, 2, window=3)
MLA = AttentionLayer("mla", 1, 6, rope_elements=2, value_head_dim=3)
LINEAR = AttentionLayer("linear", 2, 0, state_elements=10)


@dataclass(frozen=True)
class Tiny:
    """What the functions read of an architecture: its name and its layers' attention."""

    layers: tuple
    name: str = "tiny"

    def attention_layers(self):
        return self.layers


def attended(layer, j):
    """Tokens ``layer`` attends to at position j (1-based), counted as the engines do."""
    if layer.kind == "linear":
        return 0
    if layer.kind == "sliding":
        return min(j, layer.window)
    if layer.kind == "chunked":
        return (j - 1) % layer.window + 1                 # the tokens of the current chunk up to j
    return j


@pytest.mark.parametrize("layer", [FULL, SLIDING, CHUNKED, MLA, LINEAR], ids=lambda a: a.kind)
@pytest.mark.parametrize("past, new", [(0, 1), (0, 2), (0, 3), (0, 7), (2, 3), (3, 3), (4, 5), (5, 1), (6, 6)])
def test_prefill_pairs_counted_position_by_position(layer, past, new):
    pairs = sum(attended(layer, j) for j in range(past + 1, past + new + 1))
    assert_allclose(prefill_pairs_per_layer(Tiny((layer,)), new, past), pairs, rtol=0, atol=1e-12)


def test_prefill_pairs_are_the_mean_over_layers_and_broadcast():
    arch = Tiny((FULL, SLIDING))
    # 2 new after 3 past: full 4 + 5 = 9; window 3: 3 + 3 = 6; mean 7.5. Both at once as an array.
    assert_allclose(prefill_pairs_per_layer(arch, np.array([2, 1]), np.array([3, 0])), [7.5, 1.0], rtol=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 10])
def test_bytes_held_per_layer_kind_by_hand(n):
    arch = Tiny((FULL, SLIDING, CHUNKED, MLA, LINEAR))
    chunk = (n - 1) % 3 + 1                               # tokens of the current 3-token chunk
    # fp16 = 2 bytes a KV element; the linear layer's state of 10 elements in fp32 = 4 bytes
    one = (n * 4 + min(n, 3) * 4 + chunk * 2 + n * 6) * 2 + 10 * 4
    assert_allclose(kv_group_bytes_held(arch, n, "fp16", state_dtype="fp32"), one, rtol=1e-12)
    # two tensor-parallel GPUs: split heads count once over the group, the chunked layer's single head and the MLA
    # latent are held by both GPUs, the linear state's 2 heads split
    two = (n * 4 + min(n, 3) * 4 + 2 * chunk * 2 + 2 * n * 6) * 2 + 10 * 4
    assert_allclose(kv_group_bytes_held(arch, n, "fp16", tp=2, state_dtype="fp32"), two, rtol=1e-12)
    fp = kv_footprint(arch, n, "fp16", tp=2, state_dtype="fp32")
    assert_allclose(fp.tp_group_bytes_per_sequence, two, rtol=1e-12)
    assert_allclose(fp.kv_bytes_per_sequence, one, rtol=1e-12)
    assert_allclose(fp.kv_bytes_per_token, one / n, rtol=1e-12)
    assert_allclose(attention_tokens_per_layer(arch, n), (n + min(n, 3) + chunk + n + 0) / 5, rtol=1e-12)


def test_bytes_held_broadcast_over_contexts_and_default_formats():
    arch = Tiny((SLIDING, LINEAR))
    # bf16 KV and bf16 state (2 bytes each) by default
    assert_allclose(kv_group_bytes_held(arch, np.array([1.0, 5.0])), [1 * 4 * 2 + 20, 3 * 4 * 2 + 20], rtol=1e-12)


def test_bytes_per_token_while_every_layer_holds_it():
    arch = Tiny((FULL, SLIDING, CHUNKED, MLA, LINEAR))
    assert kv_group_bytes_per_token(arch, "fp16") == (4 + 4 + 2 + 6) * 2
    # tp 2: the chunked head and the MLA latent twice
    assert kv_group_bytes_per_token(arch, "fp16", tp=2) == (4 + 4 + 2 * 2 + 2 * 6) * 2
    assert kv_group_bytes_per_token(arch, "fp8", tp=1) == 4 + 4 + 2 + 6


def test_footprint_rows_by_kind_in_order_with_their_rules():
    arch = Tiny((LINEAR, CHUNKED, MLA, SLIDING, FULL, FULL))
    fp = kv_footprint(arch, 5, "fp16", tp=2, state_dtype="fp32")
    assert [k.kind for k in fp.kinds] == ["full", "mla", "sliding", "chunked", "linear"]
    full, mla, sliding, chunked, linear = fp.kinds
    assert (full.layers, full.tokens_held, full.bytes_per_sequence, full.per_gpu_bytes_per_sequence,
            full.tp_rule) == (2, 5.0, 2 * 5 * 4 * 2, 2 * 5 * 4 * 2 / 2, "split")
    assert (mla.bytes_per_sequence, mla.per_gpu_bytes_per_sequence, mla.tp_rule) == (5 * 6 * 2, 5 * 6 * 2,
                                                                                       "replicated")
    assert (sliding.window, sliding.tokens_held, sliding.bytes_per_sequence) == (3, 3.0, 3 * 4 * 2)
    assert (chunked.tokens_held, chunked.per_gpu_bytes_per_sequence, chunked.tp_rule) == (2.0, 2 * 2 * 2,
                                                                                          "split, replicated x2")
    assert (linear.state_bytes, linear.bytes_per_sequence, linear.per_gpu_bytes_per_sequence) == (40, 40, 20)
    assert fp.per_gpu_bytes_per_sequence == sum(k.per_gpu_bytes_per_sequence for k in fp.kinds)
    assert fp.tp_group_bytes_per_sequence == 2 * fp.per_gpu_bytes_per_sequence
    d = fp.as_dict()
    assert (d["model"], d["context_tokens"], d["kv_dtype"], d["state_dtype"], d["tp"]) == ("tiny", 5, "fp16",
                                                                                         "fp32", 2)
    assert d["kv_bytes_per_sequence"] == fp.kv_bytes_per_sequence and d["kv_bytes_per_token"] == fp.kv_bytes_per_token
    assert d["per_gpu_bytes_per_sequence"] == fp.per_gpu_bytes_per_sequence
    assert d["tp_group_bytes_per_sequence"] == fp.tp_group_bytes_per_sequence
    assert d["by_layer_kind"][1] == {"kind": "mla", "window": None, "layers": 1, "elements_per_token": 6,
                                     "tokens_held": 5.0, "state_bytes": 0, "bytes_per_sequence": 60.0,
                                     "per_gpu_bytes_per_sequence": 60.0, "tp_rule": "replicated"}
    with pytest.raises(ParameterError, match="^context_tokens=0"):
        kv_footprint(arch, 0)


@pytest.mark.parametrize("layer, tp, share, rule", [
    (MLA, 8, 1.0, "replicated"), (LINEAR, 2, 0.5, "split"), (FULL, 1, 1.0, "split"), (FULL, 2, 0.5, "split"),
    (FULL, 4, 0.5, "split, replicated x2"), (FULL, 8, 0.5, "split, replicated x4"), (CHUNKED, 3, 1.0,
                                                                                    "split, replicated x3")])
def test_tp_share_by_rule(layer, tp, share, rule):
    assert tp_share(layer, tp) == (share, rule)


@pytest.mark.parametrize("layer, tp, message", [
    (LINEAR, 4, "tp=4 is not allowed: tp must be a divisor of the 2 linear-attention value heads of m"),
    (AttentionLayer("full", 4, 8), 3, "tp=3 is not allowed: tp must be a divisor or a multiple of the 4 KV heads of m"),
    (FULL, 3, "tp=3 is not allowed: tp must be a divisor or a multiple of the 2 KV heads of m"),
    (FULL, 0, "tp=0 is not allowed: tp must be an integer in [1, inf]"),
])
def test_tp_share_refusals_name_tp_and_the_heads(layer, tp, message):
    with pytest.raises(ParameterError) as err:
        tp_share(layer, tp, "m")
    assert str(err.value) == message


def test_kv_grows_with_context_only_when_every_layer_holds_every_token():
    assert kv_grows_with_context(Tiny((FULL, MLA)))
    for other in (SLIDING, CHUNKED, LINEAR):
        assert not kv_grows_with_context(Tiny((FULL, other)))


# --- the closed form a page computes (model.kv.budget.kv_layer_terms) ----------------------------------------

@dataclass(frozen=True)
class Curated:
    """A curated Llama-family model: no per-layer list, every layer full attention."""

    num_layers: int = 2
    num_kv_heads: int = 3
    head_dim: int = 5
    layers: tuple = ()
    name: str = "curated"


@pytest.mark.parametrize("tp", [1, 2])
def test_layer_terms_by_hand_and_equal_to_the_bytes_held(tp):
    from model.kv.budget import kv_layer_terms

    arch = Tiny((FULL, SLIDING, CHUNKED, MLA, LINEAR, FULL))
    t = kv_layer_terms(arch, tp)
    # full 4 + 4 (split over the group: counted once), MLA 6 on each GPU; the chunked layer's one head on each GPU;
    # the linear state's 10 elements in bf16 (2 bytes), its 2 heads split
    assert t == {"grow_elements": 8 + 6 * tp, "window_elements": 4, "window": 3, "chunk_elements": 2 * tp,
                 "chunk": 3, "state_bytes": 20}
    for n in (1, 2, 3, 4, 7, 10):
        closed = (t["grow_elements"] * n + t["window_elements"] * min(n, t["window"])
                  + t["chunk_elements"] * (n - t["chunk"] * ((n - 1) // t["chunk"]))) * 2 + t["state_bytes"]
        assert_allclose(closed, kv_group_bytes_held(arch, n, "fp16", tp=tp), rtol=1e-12)


def test_layer_terms_defaults_curated_models_and_errors():
    from model.kv.budget import kv_layer_terms

    assert kv_layer_terms(Tiny((FULL,))) == {"grow_elements": 4, "window_elements": 0.0, "window": 0,
                                             "chunk_elements": 0.0, "chunk": 1, "state_bytes": 0.0}
    assert kv_layer_terms(Curated())["grow_elements"] == 2 * 2 * 3 * 5
    assert kv_layer_terms(Curated(), 4)["grow_elements"] == 2 * 2 * 3 * 5      # heads split evenly: once per group
    # two sliding layers of one window add up; a second window has no place in the closed form
    assert kv_layer_terms(Tiny((SLIDING, SLIDING)))["window_elements"] == 8
    with pytest.raises(ParameterError, match=r"^window=5 is not allowed: window must be the one window of tiny's "
                                             r"sliding layers$"):
        kv_layer_terms(Tiny((SLIDING, AttentionLayer("sliding", 2, 4, window=5))))
    with pytest.raises(ParameterError, match="^window=4 .*tiny's chunked layers$"):
        kv_layer_terms(Tiny((CHUNKED, AttentionLayer("chunked", 1, 2, window=4))))
    with pytest.raises(ParameterError, match="^n_gpus=0"):
        kv_layer_terms(Tiny((FULL,)), 0)
