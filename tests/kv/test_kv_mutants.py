"""Tests of model.kv written against realistic bugs (a comparison at the boundary, a dropped factor, a
parameter ignored): every expectation is worked out by hand from the definitions, not from the code."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.kv import (MemoryBudget, budget_table, gpus_for_sessions, kv_bytes_per_session, kv_bytes_per_token,
                      kv_table, lifetime_reservation_gain, memory_budget, paged_session_bytes, paged_waste_bound,
                      reservation_efficiency, reserved_tokens, session_lengths_over_life, sessions_by_context,
                      sessions_that_fit)
from model.checks import ParameterError

A100 = 85_899_345_920          # 80 GiB
KV_7B = 2 * 32 * 32 * 128 * 2  # llama-2-7b, FP16: 524,288 bytes per token
KV_70B = 2 * 80 * 8 * 128 * 2  # llama-2-70b, FP16: 327,680 bytes per token


@pytest.fixture(scope="module")
def a7():
    return load_architecture("llama-2-7b")


@pytest.fixture(scope="module")
def a70():
    return load_architecture("llama-2-70b")


@pytest.fixture(scope="module")
def gpu():
    return load_gpu("a100-80gb")


# --- size ------------------------------------------------------------------------------------------------

def test_kv_bytes_in_each_format(a70):
    assert kv_bytes_per_token(a70, "fp32") == 2 * 80 * 8 * 128 * 4
    assert kv_bytes_per_token(a70, "fp8") == 2 * 80 * 8 * 128 * 1
    assert kv_bytes_per_token(a70) == KV_70B
    with pytest.raises(ParameterError, match=r"^kv_dtype="):
        kv_bytes_per_token(a70, "fp12")
    assert kv_bytes_per_session(a70, 1) == KV_70B
    assert kv_bytes_per_session(a70, 3, "int8") == 3 * KV_70B / 2
    assert kv_bytes_per_session(a70, 0.5) == KV_70B / 2  # a fraction of a token is allowed (> 0)


def test_kv_table_by_hand(a70):
    t = kv_table(["llama-2-70b", "llama-2-7b"], context_tokens=8192, kv_dtype="int8")
    assert list(t.columns) == ["model", "attention", "layers", "kv_heads", "head_dim", "parameters_b",
                               "kv_kib_per_token", "kv_gb_per_session", "native_context", "context_exceeds_native"]
    r = t.iloc[0]
    assert r["model"] == a70.display_name and r["attention"] == a70.attention
    assert (r["layers"], r["kv_heads"], r["head_dim"]) == (80, 8, 128)
    assert_allclose(r["parameters_b"], a70.parameters() / 1e9, rtol=1e-12)
    assert r["kv_kib_per_token"] == 160.0                     # 327,680 / 2 / 1024
    assert_allclose(r["kv_gb_per_session"], 8192 * 163_840 / 1e9, rtol=1e-12)
    assert r["native_context"] == a70.max_context_tokens == 4096
    assert bool(r["context_exceeds_native"])
    assert t.iloc[1]["kv_kib_per_token"] == 256.0              # 524,288 / 2 / 1024
    at_native = kv_table(["llama-2-70b"], context_tokens=4096)
    assert not bool(at_native.iloc[0]["context_exceeds_native"])   # exactly the native context: not beyond it
    assert at_native.iloc[0]["kv_kib_per_token"] == 320.0          # FP16 by default


# --- budget ----------------------------------------------------------------------------------------------

def test_memory_budget_fields_by_hand(a7, gpu):
    b = memory_budget(a7, gpu, context_tokens=4096, n_gpus=2, weight_dtype="int8", kv_dtype="fp8")
    assert b.n_gpus == 2 and b.total_bytes == 2 * A100
    assert_allclose(b.usable_bytes, 2 * 0.9 * A100, rtol=1e-12)
    assert b.weight_bytes == a7.parameters() * 1
    assert b.kv_bytes_per_session == 4096 * KV_7B / 2
    assert_allclose(b.kv_budget_bytes, 2 * 0.9 * A100 - a7.parameters(), rtol=1e-12)
    assert b.sessions == math.floor((2 * 0.9 * A100 - a7.parameters()) / (4096 * KV_7B / 2))


def test_memory_budget_uses_memory_utilization(a7, gpu):
    # the share of each GPU weights + KV may use: 0.5 of 80 GiB, not the default 0.9
    b = memory_budget(a7, gpu, context_tokens=1000, memory_utilization=0.5)
    assert_allclose(b.usable_bytes, 0.5 * A100, rtol=1e-12)
    assert b.sessions == int((0.5 * A100 - 2 * a7.parameters()) // (1000 * KV_7B))
    assert sessions_that_fit(a7, gpu, context_tokens=1000, memory_utilization=0.5) == b.sessions
    with pytest.raises(ParameterError, match=r"^n_gpus="):
        memory_budget(a7, gpu, context_tokens=1000, n_gpus=0)
    with pytest.raises(ParameterError, match=r"^context_tokens="):
        memory_budget(a7, gpu, context_tokens=-1)


def test_weights_exactly_filling_the_budget_fit_but_hold_no_session():
    b = MemoryBudget(n_gpus=1, total_bytes=100.0, usable_bytes=90.0, weight_bytes=90.0, kv_bytes_per_session=1.0)
    assert b.kv_budget_bytes == 0.0 and b.weights_fit and b.sessions == 0
    b = MemoryBudget(n_gpus=1, total_bytes=100.0, usable_bytes=90.0, weight_bytes=80.0, kv_bytes_per_session=2.5)
    assert b.sessions == 4                                     # 10 bytes // 2.5
    b = MemoryBudget(n_gpus=1, total_bytes=100.0, usable_bytes=90.0, weight_bytes=80.0, kv_bytes_per_session=3.0)
    assert b.sessions == 3                                     # 10 // 3: whole sessions only
    b = MemoryBudget(n_gpus=1, total_bytes=100.0, usable_bytes=90.0, weight_bytes=91.0, kv_bytes_per_session=1.0)
    assert not b.weights_fit and b.sessions == 0
    assert MemoryBudget(1, 100.0, 90.0, 10.0, 0.0).sessions == 0


def test_sessions_that_fit_error_names_the_gpus_needed(a70, gpu):
    # FP16 70B: 2 x 68.98e9 bytes over 0.9 x 80 GiB = 1.78 -> at least 2 GPUs
    with pytest.raises(ParameterError, match=r"n_gpus.*>= 2: .*fp16 take 138\.0 GB but 1 x .* offer 77\.3 GB"):
        sessions_that_fit(a70, gpu, context_tokens=1000, n_gpus=1)
    # with INT8 KV the 70B on 2 GPUs holds (2 * 0.9 * A100 - 2P) // (1000 * KV_70B / 2) sessions
    expected = int((2 * 0.9 * A100 - 2 * a70.parameters()) // (1000 * KV_70B / 2))
    assert sessions_that_fit(a70, gpu, context_tokens=1000, n_gpus=2, kv_dtype="int8") == expected
    assert sessions_that_fit(a70, gpu, context_tokens=1000, weight_dtype="int4") == int(
        (0.9 * A100 - a70.parameters() / 2) // (1000 * KV_70B))


def test_sessions_by_context_by_hand(a70, gpu):
    t = sessions_by_context(a70, gpu, [1000, 10_000], n_gpus_options=[1, 2], weight_dtype="fp16",
                            kv_dtype="int8", memory_utilization=0.85)
    assert list(t.columns) == ["context_tokens", "n_gpus", "sessions", "sessions_per_gpu", "weights_fit", "feasible"]
    assert t["n_gpus"].tolist() == [1, 1, 2, 2] and t["context_tokens"].tolist() == [1000, 10_000] * 2
    one = t.iloc[0]
    assert one["sessions"] == 0 and not one["weights_fit"] and not one["feasible"]   # 138 GB > 0.85 x 80 GiB
    left = 2 * 0.85 * A100 - 2 * a70.parameters()
    for row, ctx in zip(t.iloc[2:].itertuples(), (1000, 10_000)):
        n = int(left // (ctx * KV_70B / 2))
        assert row.sessions == n and row.sessions_per_gpu == n / 2 and row.weights_fit and row.feasible


def test_budget_table_by_hand(a7, gpu):
    t = budget_table(a7, gpu, context_tokens=2000, n_gpus_options=[1, 3], weight_dtype="fp8", kv_dtype="fp16",
                     memory_utilization=0.5)
    assert list(t.columns) == ["n_gpus", "memory_gb", "usable_gb", "weights_gb", "kv_budget_gb",
                               "kv_gb_per_session", "sessions", "feasible"]
    r = t.iloc[1]
    assert r["n_gpus"] == 3
    assert_allclose(r["memory_gb"], 3 * A100 / 1e9, rtol=1e-12)
    assert_allclose(r["usable_gb"], 1.5 * A100 / 1e9, rtol=1e-12)
    assert_allclose(r["weights_gb"], a7.parameters() / 1e9, rtol=1e-12)
    assert_allclose(r["kv_budget_gb"], (1.5 * A100 - a7.parameters()) / 1e9, rtol=1e-12)
    assert_allclose(r["kv_gb_per_session"], 2000 * KV_7B / 1e9, rtol=1e-12)
    assert r["sessions"] == int((1.5 * A100 - a7.parameters()) // (2000 * KV_7B)) and r["feasible"]
    # no session fits when one session's KV exceeds the room left: 0.5 x 80 GiB - 6.7 GB < 65,536 x 512 KiB
    tiny = budget_table(a7, gpu, context_tokens=65_536, n_gpus_options=[1], memory_utilization=0.5)
    assert tiny.iloc[0]["sessions"] == 0 and not tiny.iloc[0]["feasible"]


def test_gpus_for_sessions_rounds_up_replicas():
    b = MemoryBudget(n_gpus=4, total_bytes=0.0, usable_bytes=100.0, weight_bytes=40.0, kv_bytes_per_session=6.0)
    assert b.sessions == 10
    assert gpus_for_sessions(10, b) == 4
    assert gpus_for_sessions(11, b) == 8          # a second replica of 4 GPUs
    assert gpus_for_sessions(1, b) == 4
    with pytest.raises(ParameterError, match=r"^sessions="):
        gpus_for_sessions(0, b)


# --- paging ----------------------------------------------------------------------------------------------

def test_reservation_at_exactly_the_cap_is_accepted():
    # a request as long as the maximum reservation fits in it (the case the audit uses: 2,048 of 2,048)
    assert reserved_tokens(np.array([2048]), "max").tolist() == [2048]
    assert reserved_tokens(np.array([64, 3]), "max", max_tokens=64).tolist() == [64, 64]
    assert reserved_tokens(np.array([64]), "pow2", max_tokens=64).tolist() == [64]
    assert reserved_tokens(np.array([33]), "pow2", max_tokens=48).tolist() == [48]      # capped
    assert reserved_tokens(np.array([2, 3, 5, 1024, 1025]), "pow2").tolist() == [2, 4, 8, 1024, 2048]
    with pytest.raises(ParameterError, match=r"^max_tokens="):
        reserved_tokens(np.array([65]), "pow2", max_tokens=64)
    with pytest.raises(ParameterError, match=r"^max_tokens="):
        reserved_tokens(np.array([2049]), "max")
    # the cap does not constrain the oracle or paged policies
    assert reserved_tokens(np.array([5000]), "oracle", max_tokens=64).tolist() == [5000]
    assert reserved_tokens(np.array([5000]), "paged", max_tokens=64).tolist() == [5008]   # 313 blocks of 16


def test_zero_length_or_empty_or_bad_policy_is_rejected():
    for bad in ([0, 3], [], [-1]):
        with pytest.raises(ParameterError, match=r"^lengths="):
            reserved_tokens(np.array(bad, dtype=np.int64), "oracle")
    assert reserved_tokens(np.array([1]), "paged", block_tokens=16).tolist() == [16]
    with pytest.raises(ParameterError, match=r"^policy="):
        reserved_tokens(np.array([1]), "buddy")
    with pytest.raises(ParameterError, match=r"^block_tokens="):
        reserved_tokens(np.array([1]), "paged", block_tokens=0)
    with pytest.raises(ParameterError, match=r"^max_tokens="):
        reserved_tokens(np.array([1]), "max", max_tokens=0)


def test_paged_reservation_default_block_is_16():
    assert reserved_tokens(np.array([1, 16, 17, 33]), "paged").tolist() == [16, 16, 32, 48]
    assert reserved_tokens(np.array([7]), "paged", block_tokens=1).tolist() == [7]
    assert reserved_tokens(np.array([7]), "paged", block_tokens=5).tolist() == [10]
    out = reserved_tokens(np.array([5]), "oracle")
    assert out.tolist() == [5]


def test_reservation_efficiency_by_hand():
    # lengths 1..4 against a max reservation of 8: 10 / 32
    assert reservation_efficiency([1, 2, 3, 4], "max", max_tokens=8) == 10 / 32
    assert reservation_efficiency([3, 5], "pow2", max_tokens=8) == 8 / 12
    assert reservation_efficiency([3, 5], "paged", block_tokens=4) == 8 / 12


def test_paged_waste_bound_is_the_exact_worst_case():
    # every sequence one token long in blocks of 16: 15 of 16 slots empty, and the bound is tight
    assert paged_waste_bound(1, 16) == 15 / 16
    assert 1 - reservation_efficiency(np.ones(10, dtype=int), "paged", block_tokens=16) == 15 / 16
    assert paged_waste_bound(10, 16) == 15 / 25
    assert paged_waste_bound(100, 1) == 0.0
    assert paged_waste_bound(0.5, 2) == 1 / 1.5
    with pytest.raises(ParameterError, match=r"^mean_length="):
        paged_waste_bound(0, 16)
    with pytest.raises(ParameterError, match=r"^block_tokens="):
        paged_waste_bound(10, 0)


def test_session_lengths_over_life():
    assert session_lengths_over_life(4).tolist() == [1, 2, 3, 4]
    assert session_lengths_over_life(1).tolist() == [1]
    with pytest.raises(ParameterError, match=r"^context_tokens="):
        session_lengths_over_life(0)


def test_paged_session_bytes_default_block_and_format(a70):
    # 32 tokens in blocks of 16: lengths 1..16 hold 16 slots, 17..32 hold 32 -> mean 24 slots
    assert paged_session_bytes(a70, 32) == 24 * KV_70B
    assert paged_session_bytes(a70, 32, "int8") == 24 * KV_70B / 2
    assert paged_session_bytes(a70, 32, block_tokens=32) == 32 * KV_70B
    assert paged_session_bytes(a70, 3, "fp16", 2) == (2 + 2 + 4) / 3 * KV_70B


def test_lifetime_reservation_gain_default_block():
    # 32 tokens, blocks of 16: paged efficiency 528 / 768; contiguous reservation of 32: 528 / 1024
    assert_allclose(lifetime_reservation_gain(32), 1024 / 768, rtol=1e-12)
    assert_allclose(lifetime_reservation_gain(32, block_tokens=32), 1.0, rtol=1e-12)
    assert_allclose(lifetime_reservation_gain(1, block_tokens=1), 1.0, rtol=1e-12)


def test_errors_name_the_parameter_as_typed(a70):
    with pytest.raises(ParameterError, match=r"^context_tokens=0 "):
        kv_bytes_per_session(a70, 0)
    with pytest.raises(ParameterError, match=r"^kv_dtype='fp12' "):
        kv_bytes_per_token(a70, "fp12")
    with pytest.raises(ParameterError, match=r"^context_tokens=-1 "):
        kv_table(["llama-2-70b"], context_tokens=-1)


def test_one_session_is_feasible(a7, gpu):
    # llama-2-7b at utilisation 0.5: room 0.5 x 80 GiB - 2P = 29.5 GB; a 40,000-token session takes 21.0 GB
    room = 0.5 * A100 - 2 * a7.parameters()
    assert room // (40_000 * KV_7B) == 1
    t = budget_table(a7, gpu, context_tokens=40_000, n_gpus_options=[1], memory_utilization=0.5)
    assert t.iloc[0]["sessions"] == 1 and bool(t.iloc[0]["feasible"])
    s = sessions_by_context(a7, gpu, [40_000], n_gpus_options=[1], memory_utilization=0.5)
    assert s.iloc[0]["sessions"] == 1 and bool(s.iloc[0]["feasible"])
    b = memory_budget(a7, gpu, context_tokens=40_000, memory_utilization=0.5)
    assert gpus_for_sessions(3, b) == 3                          # one session per one-GPU replica
    with pytest.raises(ParameterError, match=r"^sessions=0 "):
        gpus_for_sessions(0, b)


def test_tables_pass_the_weight_and_kv_formats(a7, gpu):
    # at 40,000 tokens and utilisation 0.5: FP16 weights and KV leave room for 1 session;
    # FP8 KV halves a session: (0.5 x 80 GiB - 2P) // (40,000 x 512 KiB / 2) = 2
    t = budget_table(a7, gpu, context_tokens=40_000, n_gpus_options=[1], memory_utilization=0.5, kv_dtype="fp8")
    assert t.iloc[0]["sessions"] == 2
    t = budget_table(a7, gpu, context_tokens=40_000, n_gpus_options=[1], memory_utilization=0.5, weight_dtype="int4")
    assert_allclose(t.iloc[0]["weights_gb"], a7.parameters() / 2 / 1e9, rtol=1e-12)
    s = sessions_by_context(a7, gpu, [40_000], n_gpus_options=[1], memory_utilization=0.5, weight_dtype="fp32",
                            kv_dtype="fp8")
    assert s.iloc[0]["sessions"] == int((0.5 * A100 - 4 * a7.parameters()) // (40_000 * KV_7B / 2))
    s = sessions_by_context(a7, gpu, [40_000], n_gpus_options=[1], memory_utilization=0.5)
    assert s.iloc[0]["sessions"] == 1                              # FP16 weights and KV by default


def test_error_counts_the_gpus_needed_from_several(a70, gpu):
    # FP32 70B: 4 x 68.98e9 = 275.9 GB over 0.9 x 80 GiB = 77.3 GB per GPU -> 4 GPUs; two offer 154.6 GB
    with pytest.raises(ParameterError, match=r"^n_gpus=2 is not allowed: n_gpus must be >= 4: llama-2-70b weights "
                                             r"in fp32 take 275\.9 GB but 2 x a100-80gb offer 154\.6 GB usable$"):
        sessions_that_fit(a70, gpu, context_tokens=1000, n_gpus=2, weight_dtype="fp32")
    with pytest.raises(ParameterError, match=r"^n_gpus=0 "):
        memory_budget(a70, gpu, context_tokens=1000, n_gpus=0)
    with pytest.raises(ParameterError, match=r"^context_tokens=-1 "):
        memory_budget(a70, gpu, context_tokens=-1)


def test_paging_messages_and_integer_slots():
    with pytest.raises(ParameterError, match=r"^lengths='array with min < 1 or empty' is not allowed: lengths must be "
                                             r"a non-empty array of lengths >= 1$"):
        reserved_tokens(np.array([0]), "paged")
    with pytest.raises(ParameterError, match=r"^max_tokens=64 is not allowed: max_tokens must be >= the longest "
                                             r"sequence \(65 tokens\)$"):
        reserved_tokens(np.array([65]), "max", max_tokens=64)
    with pytest.raises(ParameterError, match=r"^max_tokens=0 "):
        reserved_tokens(np.array([1]), "oracle", max_tokens=0)          # validated whatever the policy
    with pytest.raises(ParameterError, match=r"^mean_length=0 is not allowed: mean_length must be > 0$"):
        paged_waste_bound(0, 16)
    with pytest.raises(ParameterError, match=r"^context_tokens=0 "):
        lifetime_reservation_gain(0)
    # token slots are whole numbers, whatever the type of the lengths given
    for policy in ("max", "pow2", "oracle", "paged"):
        out = reserved_tokens(np.array([16.0, 3.0]), policy)
        assert out.dtype == np.int64, policy
    assert reserved_tokens(np.array([16.0, 3.0]), "pow2").tolist() == [16, 4]
    assert session_lengths_over_life(3).dtype == np.int64


def test_published_gains_are_the_three_contiguous_systems():
    from model.kv import published_reservation_gains
    assert set(published_reservation_gains()) == {"orca-max", "orca-pow2", "orca-oracle"}


def test_efficiency_stays_a_share_for_any_numeric_lengths():
    # fractional lengths count as the whole tokens that are reserved for them: never more than 100% used
    for policy in ("max", "pow2", "oracle", "paged"):
        assert 0 < reservation_efficiency(np.array([2.5, 7.9]), policy) <= 1.0
