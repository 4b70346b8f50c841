import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.kv import (kv_bytes_per_session, kv_bytes_per_token, memory_budget, paged_waste_bound,
                      reservation_efficiency, reserved_tokens, sessions_that_fit)
from model.checks import ParameterError


def test_kv_bytes_per_token_by_hand():
    # 2 (K and V) x layers x kv_heads x head_dim x 2 bytes (FP16), written out independently.
    assert kv_bytes_per_token(load_architecture("llama-2-70b")) == 2 * 80 * 8 * 128 * 2 == 327_680
    assert kv_bytes_per_token(load_architecture("llama-2-7b")) == 2 * 32 * 32 * 128 * 2
    assert kv_bytes_per_token(load_architecture("llama-3-8b")) == 2 * 32 * 8 * 128 * 2


def test_published_figure_vllm_paper_13b():
    # vLLM paper (arXiv 2309.06180) §3: for OPT/LLaMA-13B "the KV cache of a single token demands 800 KB".
    assert_allclose(kv_bytes_per_token(load_architecture("llama-2-13b")), 800e3, rtol=0.03)


def test_gqa_saves_group_size():
    a = load_architecture("llama-2-70b")
    mha_equivalent = 2 * a.num_layers * a.num_attention_heads * a.head_dim * 2
    assert_allclose(mha_equivalent / kv_bytes_per_token(a), a.gqa_group_size)


def test_kv_dtype_scales_linearly():
    a = load_architecture("llama-2-70b")
    assert kv_bytes_per_token(a, "int8") * 2 == kv_bytes_per_token(a, "fp16") == 4 * kv_bytes_per_token(a, "int4")


def test_session_bytes_and_errors():
    a = load_architecture("llama-2-70b")
    assert_allclose(kv_bytes_per_session(a, 10_000), 3.2768e9)
    with pytest.raises(ParameterError, match="context_tokens"):
        kv_bytes_per_session(a, -1)
    with pytest.raises(ParameterError, match="dtype"):
        kv_bytes_per_token(a, "fp12")


def test_70b_fp16_does_not_fit_one_a100():
    a, g = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    with pytest.raises(ParameterError, match="n_gpus"):
        sessions_that_fit(a, g, context_tokens=10_000, n_gpus=1)
    assert memory_budget(a, g, context_tokens=10_000, n_gpus=1).sessions == 0


def test_sessions_by_hand_on_four_a100():
    a, g = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    usable = 4 * g.memory_bytes * 0.9
    expected = int((usable - a.parameters() * 2) // (10_000 * 327_680))
    assert sessions_that_fit(a, g, context_tokens=10_000, n_gpus=4) == expected


def test_sessions_monotone_in_context_and_gpus():
    a, g = load_architecture("llama-3-8b"), load_gpu("a100-80gb")
    by_ctx = [sessions_that_fit(a, g, context_tokens=c) for c in (1000, 2000, 4000, 8000)]
    assert by_ctx == sorted(by_ctx, reverse=True)
    by_gpus = [sessions_that_fit(a, g, context_tokens=4000, n_gpus=n) for n in (1, 2, 4)]
    assert by_gpus == sorted(by_gpus)


def test_reservation_by_hand():
    lengths = np.array([1, 16, 17])
    assert reserved_tokens(lengths, "paged", block_tokens=16).tolist() == [16, 16, 32]
    assert reserved_tokens(lengths, "pow2", max_tokens=64).tolist() == [1, 16, 32]
    assert reserved_tokens(lengths, "max", max_tokens=64).tolist() == [64, 64, 64]
    assert_allclose(reservation_efficiency(lengths, "paged", block_tokens=16), 34 / 64)
    assert reservation_efficiency(lengths, "oracle") == 1.0


def test_reservation_ordering_and_bound():
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 2048, size=5000)
    eff = {p: reservation_efficiency(lengths, p, max_tokens=2048, block_tokens=16)
           for p in ("max", "pow2", "oracle", "paged")}
    assert eff["max"] < eff["pow2"] < eff["paged"] < eff["oracle"] == 1.0
    assert 1 - eff["paged"] <= paged_waste_bound(lengths.mean(), 16)
    with pytest.raises(ParameterError, match="max_tokens"):
        reserved_tokens(np.array([4096]), "max", max_tokens=2048)


def test_zero_or_negative_context_is_rejected():
    a = load_architecture("llama-2-70b")
    for bad in (0, 0.0, -5):
        with pytest.raises(ParameterError, match="context_tokens"):
            kv_bytes_per_session(a, bad)
    from model.kv import kv_table
    with pytest.raises(ParameterError, match="context_tokens"):
        kv_table(["llama-2-70b"], context_tokens=0)


def test_budget_without_sessions_keeps_working():
    # context 0 means "the budget alone": weights and KV room, no session size
    a, g = load_architecture("llama-2-7b"), load_gpu("a100-80gb")
    b = memory_budget(a, g, context_tokens=0)
    assert b.kv_bytes_per_session == 0.0 and b.sessions == 0
    assert_allclose(b.kv_budget_bytes, 0.9 * 85_899_345_920 - a.parameters() * 2)


def test_paged_session_bytes_closed_form():
    # 10,000 tokens = 625 blocks of 16: the paged reservation over a session's life averages
    # sum_k 16 * 16k / 10,000 = 256 * 625 * 626 / 2 / 10,000 = 5,008 tokens
    from model.kv import paged_session_bytes
    a = load_architecture("llama-2-70b")
    assert_allclose(paged_session_bytes(a, 10_000, block_tokens=16), 5_008 * 327_680, rtol=1e-12)
    # one-token blocks: exactly the mean length (N + 1) / 2
    assert_allclose(paged_session_bytes(a, 1_001, block_tokens=1), 501 * 327_680, rtol=1e-12)


def test_lifetime_reservation_gain_closed_form():
    from model.kv import lifetime_reservation_gain
    # contiguous: mean (N+1)/2 of N slots used; paged (block 16, N = 10,000): 50,005,000 of 50,080,000 slots
    expected = (50_005_000 / 50_080_000) / (10_001 / 20_000)
    assert_allclose(lifetime_reservation_gain(10_000, block_tokens=16), expected, rtol=1e-12)
    assert_allclose(lifetime_reservation_gain(4_096, block_tokens=1), 2 * 4_096 / 4_097, rtol=1e-12)
    with pytest.raises(ParameterError, match="context_tokens"):
        lifetime_reservation_gain(0)


def test_published_reservation_gains_are_the_papers_ratios():
    from model.kv import published_reservation_gains
    g = published_reservation_gains()
    assert_allclose(g["orca-max"], 96.3 / 20.4, rtol=1e-12)
    assert_allclose(g["orca-pow2"], 96.3 / 26.8, rtol=1e-12)
    assert_allclose(g["orca-oracle"], 96.3 / 38.2, rtol=1e-12)
    assert g["orca-oracle"] < g["orca-pow2"] < g["orca-max"]


def test_gpus_for_sessions_by_hand():
    from model.kv import gpus_for_sessions
    a, g = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    b = memory_budget(a, g, context_tokens=10_000, n_gpus=8)
    per = int((8 * 0.9 * 85_899_345_920 - a.parameters() * 2) // 3.2768e9)
    assert b.sessions == per
    assert gpus_for_sessions(1_000_000, b) == -(-1_000_000 // per) * 8
    assert gpus_for_sessions(10, memory_budget(a, g, context_tokens=10_000, n_gpus=1)) is None


def test_what_if_rows_hold_the_closed_form_constants():
    from model.architectures import load_architecture
    from model.hardware import load_gpu
    from model.kv import what_if_rows

    arch, acc = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    rows = what_if_rows([arch], acc, n_gpus_options=[1, 8], weight_dtype="int8")
    assert list(rows["n_gpus"]) == [1, 8]
    assert (rows["layers"] == 80).all() and (rows["kv_heads"] == 8).all() and (rows["head_dim"] == 128).all()
    assert_allclose(rows["weight_bytes"], arch.parameters() * 1.0, rtol=0)
    assert_allclose(rows["usable_bytes"], [acc.memory_bytes * 0.9, 8 * acc.memory_bytes * 0.9], rtol=1e-12)
