import inspect

import pandas as pd
from numpy.testing import assert_allclose

from model.audit import memory_arithmetic as m

CLAIMS = {"t3.arith.tokens_per_session", "t3.arith.model_params", "t3.arith.bytes_per_param",
          "t3.arith.mem_per_session", "t3.arith.sessions", "t3.arith.total_memory_1m",
          "t3.pagedattention.mem_before", "t3.pagedattention.mem_after", "t3.pagedattention.reduction_factor",
          "t3.hf.mem_per_session", "t3.vllm.mem_per_session", "t3.a100.gpu_memory", "t3.hf.sessions_per_gpu",
          "t3.vllm.sessions_per_gpu", "t3.heading.memory_efficiency_gain", "t1.memory_efficiency.optimized",
          "t12.gpu_memory_efficiency.optimized", "s.success_vllm.memory_efficiency_gain",
          "t1.memory_efficiency.initial", "t1.memory_efficiency.scale_factor", "t12.gpu_memory_efficiency.initial"}


def _rows():
    return m.table().set_index("claim_id")


def test_takes_no_parameters_and_is_deterministic():
    assert not inspect.signature(m.computed).parameters and not inspect.signature(m.table).parameters
    pd.testing.assert_frame_equal(m.table(), m.table())
    assert set(m.table()["claim_id"]) == CLAIMS


def test_kv_arithmetic_by_hand():
    t = _rows()
    per_token = 2 * 80 * 8 * 128 * 2  # layers x KV heads x head width x K and V x FP16 bytes = 327,680 B
    assert per_token == 327_680
    # claims are in GB / PB; 10,000 tokens per session, 1M sessions
    assert_allclose(t.loc["t3.arith.mem_per_session", "computed_value"], 10_000 * per_token / 1e9)
    assert_allclose(t.loc["t3.arith.total_memory_1m", "computed_value"], 1e6 * 10_000 * per_token / 1e15)
    assert t.loc["t3.arith.mem_per_session", "verdict"] == "inconsistent"
    assert t.loc["t3.arith.model_params", "verdict"] == "consistent"


def test_paged_session_is_the_reduction_applied_to_the_right_kv():
    t = _rows().loc["t3.pagedattention.mem_after"]
    # 350 MB = 1.4 GB / 4; the 4x applied to the KV cache of a 10,000-token session gives 819 MB (in MB). The
    # source offloads unused pages to CPU memory, so no floor on GPU memory per session holds: not a bound
    assert_allclose(t["computed_value"], 10_000 * 327_680 / 4 / 1e6)
    assert (t["kind"], t["verdict"]) == ("estimate", "inconsistent")


def test_sessions_per_gpu():
    t = _rows()
    # HF keeps each session's KV on the GPU: at the mean length over a life of 10,000 tokens (5,000.5 tokens),
    # the whole 80 GiB of one GPU with no weights at all holds fewer than 57
    hf = t.loc["t3.hf.sessions_per_gpu"]
    assert_allclose(hf["computed_value"], 80 * 2 ** 30 / (5_000.5 * 327_680))
    assert (hf["kind"], hf["verdict"]) == ("upper_bound", "impossible") and hf["holds_under"]
    # vLLM: 350-MB sessions beside the FP16 weights split over 4 or 8 GPUs (0.9 x 80 GiB usable each)
    vllm = t.loc["t3.vllm.sessions_per_gpu"]
    weights = 68_976_648_192 * 2
    fit = [(n * 0.9 * 80 * 2 ** 30 - weights) / n / 350e6 for n in (4, 8)]
    assert vllm["kind"] == "range"
    assert_allclose([vllm["low"], vllm["high"]], fit, rtol=1e-9)
    assert vllm["verdict"] == "inconsistent"          # 228 = 80 GB / 350 MB ignores the weights


def test_reduction_factor_is_a_range_over_baselines_too_wide_to_decide():
    t = _rows().loc["t3.pagedattention.reduction_factor"]
    assert t["kind"] == "range"
    low = (50_005_000 / 50_080_000) / (10_001 / 20_000)  # contiguous full-history reservation, closed form
    assert_allclose([t["low"], t["high"]], [low, 96.3 / 20.4], rtol=1e-9)
    assert t["verdict"] == "not reproducible" and "baseline" in t["depends_on"]


def test_restatements_and_inputs_are_given():
    t = _rows()
    for c in ("t3.heading.memory_efficiency_gain", "t1.memory_efficiency.optimized", "t3.hf.mem_per_session",
              "t3.vllm.mem_per_session", "t3.arith.tokens_per_session", "t3.arith.sessions"):
        assert t.loc[c, "verdict"] == "given"
    assert not t["tolerance"][t["verdict"] == "given"].notna().any()
