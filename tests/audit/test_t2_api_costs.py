from numpy.testing import assert_allclose

from model.audit import t2_api_costs as t2
from model.audit.verdicts import INCONSISTENT_INPUTS


def _v():
    return t2.table().set_index("claim_id")


def test_tokens_per_month_by_hand():
    a = _v()
    # 10K concurrent x (730 h x 60 / 30 min) x 200 turns x 100 tokens (the audit's readings) = 292B, not 60B
    assert_allclose(a.loc["t2.arith.tokens_per_month", "computed_value"], 10_000 * 1460 * 200 * 100)
    assert a.loc["t2.arith.tokens_per_month", "verdict"] == "inconsistent"
    # ... and under §2's own 500 tokens a turn, 1.46T: the row gives every reading
    assert "s2_500: inconsistent, 1,460,000,000,000" in a.loc["t2.arith.tokens_per_month", "verdict_by_reading"]
    # the arithmetic on the 60B holds, on an input judged inconsistent
    for c in ("t2.selection.monthly_saving", "t2.selection.annual_saving", "t2.arith.monthly_cost_10k",
              "t2.arith.monthly_cost_1m"):
        assert a.loc[c, "verdict"] == INCONSISTENT_INPUTS, c
    assert "t2.arith.tokens_per_month" in a.loc["t2.selection.monthly_saving", "inputs_flagged"]


def test_restated_inputs_are_given():
    a = _v()
    for c in ("t2.arith.concurrent_sessions", "t2.arith.session_length", "t2.arith.turns_per_session",
              "t2.arith.sessions_1m"):
        assert a.loc[c, "verdict"] == "given" and a.loc[c, "role"] == "restatement"


def test_self_hosted_price_is_a_range_over_throughput_at_the_sources_gpu_price():
    a = _v().loc["t2.self_hosted.price"]
    tps = t2.tokens_per_s_per_gpu()
    p = 4.5e6 / 900 / 730                                   # T9's own price of a GPU-hour (the audit's reading)
    # $/h / (tok/s x 3600 x 92%) x 1e6
    expected = sorted(p / (v * 3600 * 0.92) * 1e6 for v in tps.values())
    assert a["kind"] == "range"
    assert_allclose([a["low"], a["high"]], expected)
    assert a["verdict"] == "inconsistent" and a["stated_value"] < a["low"]
    assert "aws_on_demand: inconsistent" in a["verdict_by_reading"]


def test_api_bill_under_each_reading_by_hand():
    # 1M x 1,460 sessions x 200 turns, 50 input + 50 output tokens at $0.5 / $1.5 per 1M
    assert_allclose(t2.api_cost(1e6), 1e6 * 1460 * 200 * (50 * 0.5 + 50 * 1.5) / 1e6)
    assert_allclose(t2.api_cost(1e6, concurrency="one_per_day"), 1e6 * 730 / 24 * 200 * (50 * 0.5 + 50 * 1.5) / 1e6)
    new, hist, both = (t2.api_cost(1e6, tokens_billed=b) for b in ("new_only", "history", "history_persona"))
    assert new < hist < both
    # re-sending the conversation adds, per session, 100 x (0 + 1 + ... + 199) input tokens
    assert_allclose(hist - new, 1e6 * 1460 * 100 * 199 * 200 / 2 * 0.5 / 1e6)
