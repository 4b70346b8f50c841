"""model.audit.t3_throughput_latency by hand, without the simulations: ``runs`` (cached, so never mutated, and
checked against the simulator in tests/audit/test_t3_throughput_latency.py, 12 s) is replaced by a table of round
numbers, and T3's four throughput and latency rows are worked out from it and from the stated figures.

Hand figures: A100 80GB reads 2,039 GB/s; T3's HF column holds 57 sessions × 1.4 GB = 79.8 GB and its vLLM column
228 × 350 MB = 79.8 GB per GPU: reading it once per step caps a session at 2,039 / 79.8 = 25.55 tok/s. Llama 2 70B
in FP16: 2 × 68,976,648,192 B = 138.0 GB of weights."""
import functools
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t3_throughput_latency as t

KV_CAP = 2039e9 / 79.8e9
#: per reading of a turn's tokens (factor applied to every figure): hf then vllm, copies of 4 then 8 GPUs, loads
#: 50%, 65%, 80%
FACTOR = {None: 1.0, "s1_50": 2.0, "s2_500": 10.0}
HF = {"tps": [10, 11, 12, 13, 14, 15], "e2e": [20, 21, 22, 23, 24, 25], "ttft": [1, 2, 3, 4, 5, 6]}
VLLM = {"tps": [30, 31, 32, 40, 41, 42], "e2e": [3.0, 3.5, 4.0, 2.0, 2.5, 3.25], "ttft": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}


def fake_runs(tokens_per_turn=None):
    f = FACTOR[None if tokens_per_turn == "s8_100" else tokens_per_turn]
    rows = []
    for engine, v in (("hf", HF), ("vllm", VLLM)):
        for i, (n, load) in enumerate((n, load) for n in (4, 8) for load in (0.5, 0.65, 0.8)):
            rows.append({"engine": engine, "n_gpus": n, "load": load, "tokens_per_s_per_session": f * v["tps"][i],
                         "e2e_latency_s_p95": f * v["e2e"][i], "ttft_s_p95": f * v["ttft"][i]})
    return pd.DataFrame(rows)


@pytest.fixture
def rows(monkeypatch):
    monkeypatch.setattr(t, "runs", fake_runs)
    return {c.claim_id: c for c in t.computed()}


def test_setting():
    assert (t.MODEL, t.GPU, t.DTYPE, t.SEED) == ("llama-2-70b", "a100-80gb", "fp16", 0)
    assert t.TURN_CLAIMS == ("l8.effect.tokens_after", "l8.naive.tokens_per_turn")
    assert t.turn_tokens() == (2000, 100) and t.turn_tokens("s1_50") == (2000, 50)
    assert t.turn_tokens("s2_500") == (2000, 500) and all(type(x) is int for x in t.turn_tokens())
    assert t.vllm_configuration() == {"sessions_per_gpu": 228, "mb_per_session": 350}
    assert_allclose(t.configured_cap(), KV_CAP, rtol=1e-12)
    assert t.copy_sizes() == (4, 8) and all(type(x) is int for x in t.copy_sizes())
    assert t.loads() == pytest.approx((0.5, 0.65, 0.8), rel=1e-12)
    assert t._setting() == ("4 or 8 A100-80GB per copy, loads 50%-80% of the capacity of the HF-style replica "
                            "(static batches of 16)")
    assert t.SIM_CHOICE == "the GPUs per model copy and the offered load"


def test_range_and_simulated(monkeypatch):
    monkeypatch.setattr(t, "runs", fake_runs)
    r = t._range("vllm", "tokens_per_s_per_session")
    assert (r.value, r.low, r.high) == (36.0, 30.0, 42.0) and type(r.value) is float
    r = t._range("hf", "ttft_s_p95", "s1_50")
    assert (r.value, r.low, r.high) == (7.0, 2.0, 12.0)
    main, under = t._simulated("hf", "tokens_per_s_per_session", latency=False)
    assert (main.value, main.low, main.high) == (12.5, 10.0, 15.0)
    assert set(under) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")}
    assert (under[("tokens_per_turn", "s2_500")].low, under[("tokens_per_turn", "s2_500")].high) == (100.0, 150.0)
    main, under = t._simulated("vllm", "e2e_latency_s_p95", latency=True)
    assert (main.value, main.low, main.high) == (3.125, 2.0, 4.0)
    assert set(under) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"), ("latency", "ttft")}
    ttft = under[("latency", "ttft")]
    assert_allclose([ttft.value, ttft.low, ttft.high], [0.35, 0.1, 0.6], rtol=1e-12)
    assert (under[("tokens_per_turn", "s1_50")].low, under[("tokens_per_turn", "s1_50")].high) == (4.0, 8.0)


def _common(r):
    assert r.kind == "range" and r.reads == ("l8.effect.tokens_after", "l8.naive.tokens_per_turn")
    assert r.depends_on == "the GPUs per model copy and the offered load"


SETTING = ("4 or 8 A100-80GB per copy, loads 50%-80% of the capacity of the HF-style replica (static batches of 16)")


def test_claims_in_order(rows):
    assert list(rows) == ["t3.hf.throughput", "t3.vllm.throughput", "t3.hf.p95_latency", "t3.vllm.p95_latency"]


def test_throughput_rows(rows):
    r = rows["t3.hf.throughput"]
    _common(r)
    assert (r.value, r.low, r.high, r.unit) == (12.5, 10.0, 15.0, "tokens/s")
    assert r.how == ("simulated HF-style serving (static batches, layers split over the copy's GPUs), 2000-token "
                     f"prompts, 100-token replies, {SETTING}: 1/TPOT per session 10.0-15.0 tok/s. The table's own "
                     "configuration (57 sessions x 1.4 GB on one GPU) caps it at 25.6 tok/s from the KV read alone, "
                     "and the 138 GB of weights do not fit beside it")
    u = dict(r.under)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")}
    assert (u[("tokens_per_turn", "s1_50")].value, u[("tokens_per_turn", "s2_500")].value) == (25.0, 125.0)
    r = rows["t3.vllm.throughput"]
    _common(r)
    assert (r.value, r.low, r.high, r.unit) == (36.0, 30.0, 42.0, "tokens/s")
    assert r.how == ("simulated continuous batching on paged KV (tensor parallel), 2000-token prompts, 100-token "
                     f"replies, {SETTING}: 1/TPOT per session 30.0-42.0 tok/s. Were all 228 sessions x 350 MB on one "
                     "GPU decoding at every step, reading their 79.8 GB of KV at 2039 GB/s would cap each at 25.6 "
                     "tok/s; not a bound, since idle sessions (and pages offloaded to CPU) are not read")
    u = dict(r.under)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")}
    assert (u[("tokens_per_turn", "s1_50")].value, u[("tokens_per_turn", "s2_500")].value) == (72.0, 360.0)


def test_latency_rows(rows):
    r = rows["t3.hf.p95_latency"]
    _common(r)
    assert (r.value, r.low, r.high, r.unit) == (22.5, 20.0, 25.0, "s")
    assert r.how == (f"simulated P95 end-to-end latency of the HF-style replica, {SETTING}: 20.0-25.0 s (each padded "
                     "batch prefills on one GPU at a time and returns when its longest request ends)")
    u = dict(r.under)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"), ("latency", "ttft")}
    assert (u[("latency", "ttft")].value, u[("latency", "ttft")].low, u[("latency", "ttft")].high) == (3.5, 1.0, 6.0)
    assert u[("tokens_per_turn", "s2_500")].value == 225.0
    r = rows["t3.vllm.p95_latency"]
    _common(r)
    assert (r.value, r.low, r.high, r.unit) == (3.125, 2.0, 4.0, "s")
    assert r.how == ("simulated P95 of continuous batching on paged KV (tensor parallel) at the same loads, "
                     f"{SETTING}: 2.00-4.00 s (30-42 tok/s per session; the longer end with the smaller copy)")
    u = dict(r.under)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"), ("latency", "ttft")}
    assert_allclose(u[("latency", "ttft")].value, 0.35, rtol=1e-12)
    assert (u[("tokens_per_turn", "s1_50")].value, u[("tokens_per_turn", "s2_500")].high) == (6.25, 40.0)


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t3_throughput_latency")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
