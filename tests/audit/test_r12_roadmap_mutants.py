"""model.audit.r12_roadmap row by row: the stated horizons (3, 6, 12 months) and the 500-ms voice target given, the
forecasts not reproducible with their reasons; Llama 3 70B reads 70.55B weights against Llama 2 70B's 68.98B (the
same layers, a vocabulary of 128,256 instead of 32,000 tokens, untied embeddings), GPT-4o audio averages 320 ms.

Fast: the claims are looked up in a dict (the same rows as data/claims) and the audit table's section is replaced
by a recorder; the whole audit is left to tests/audit/test_r12_roadmap.py."""

import math
from types import SimpleNamespace

import pytest

from model.audit import claims as C
from model.audit import r12_roadmap as R12
from model.audit.claims import is_read_back
from claim_rows import ROWS as _ROWS, claim as _claim


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(C, "claim", _claim)


def test_not_reproducible_row():
    c = R12._nr("r12.own_llm.cost_change", "%", "why")
    assert math.isnan(c.value) and (c.unit, c.how, c.role, c.verdict) == ("%", "why", "forecast", "not reproducible")
    c = R12._nr("r12.own_llm.cost_change", "%", "why", role="unpublished")
    assert c.role == "unpublished"


def test_rows_by_hand():
    r = {c.claim_id: c for c in R12.computed()}
    assert list(r) == ["r12.short_term.horizon", "r12.mid_term.horizon", "r12.long_term.horizon",
                       "r12.llama3.accuracy_change", "r12.llama3.speed_change",
                       "r12.speculative_decoding.latency_change", "r12.flashattention3.gpu_memory_change",
                       "r12.edge_inference.cost_change", "r12.own_llm.cost_change", "r12.realtime_voice.latency_max"]
    for cid, value in (("r12.short_term.horizon", 3), ("r12.mid_term.horizon", 6), ("r12.long_term.horizon", 12)):
        c = r[cid]
        assert c.value == value and is_read_back(c.value) and c.value.claim_id == cid
        assert (c.unit, c.how, c.role, c.verdict) == ("count", "a planning horizon, chosen", "interval", "given")
    v = r["r12.realtime_voice.latency_max"]
    assert v.value == 500 and is_read_back(v.value) and v.value.claim_id == "r12.realtime_voice.latency_max"
    assert (v.unit, v.role, v.verdict) == ("ms", "threshold", "given")
    assert v.how == "a target (an upper limit); OpenAI reports GPT-4o audio responses average 320 ms, within it"
    # Llama 3 70B: 68,976,648,192 + (128,256 − 32,000) × 8,192 × 2 = 70,553,706,496 weights;
    # 68,976,648,192 ÷ 70,553,706,496 − 1 = −2.235%
    assert 68_976_648_192 + (128_256 - 32_000) * 8_192 * 2 == 70_553_706_496
    forecasts = {
        "r12.llama3.accuracy_change": "a forecast; no benchmark or metric named",
        "r12.llama3.speed_change": "a forecast; at equal batch a bandwidth-bound decode reads 70.6B vs 69.0B weights "
                                   "with the same KV per token: -2.2% tokens/s, so +20% needs another cause (e.g. its "
                                   "tokenizer's fewer tokens per text)",
        "r12.speculative_decoding.latency_change": "a forecast; the gain depends on the draft model's acceptance rate, "
                                                   "which is not given",
        "r12.flashattention3.gpu_memory_change": "a forecast; FlashAttention-3 is written for Hopper (H100) GPUs, not "
                                                 "the A100 fleet, and an attention kernel changes neither weight nor "
                                                 "KV-cache bytes",
        "r12.edge_inference.cost_change": "a forecast; no model, device or traffic share given",
        "r12.own_llm.cost_change": "a forecast; no model size or training cost given",
    }
    for cid, how in forecasts.items():
        c = r[cid]
        assert math.isnan(c.value) and (c.unit, c.how, c.role, c.verdict) == ("%", how, "forecast",
                                                                               "not reproducible"), cid


def test_weights_printed_at_their_rounding_edges(monkeypatch):
    """Stand-in architectures of 68,950,000,001 and 70,550,000,001 weights, each just above a rounding edge:
    69.0B and 70.6B; 68.95 ÷ 70.55 − 1 = −2.27%."""
    weights = {"llama-2-70b": 68_950_000_001, "llama-3-70b": 70_550_000_001}
    monkeypatch.setattr(R12, "load_architecture", lambda name: SimpleNamespace(parameters=lambda: weights[name]))
    how = {c.claim_id: c.how for c in R12.computed()}["r12.llama3.speed_change"]
    assert how.startswith("a forecast; at equal batch a bandwidth-bound decode reads 70.6B vs 69.0B weights with the "
                          "same KV per token: -2.3% tokens/s")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert R12.table() == ("section", "model.audit.r12_roadmap")
