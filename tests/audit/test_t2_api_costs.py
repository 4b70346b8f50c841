from numpy.testing import assert_allclose

from model.audit import t2_api_costs as t2


def _v():
    return t2.table().set_index("claim_id")


def test_tokens_per_month_by_hand():
    a = _v()
    # 10K concurrent x (730 h x 60 / 30 min) x 200 turns x 500 tokens = 1.46T, not 60B
    assert_allclose(a.loc["t2.arith.tokens_per_month", "computed_value"], 10_000 * 1460 * 200 * 500)
    assert a.loc["t2.arith.tokens_per_month", "verdict"] == "inconsistent"
    assert a.loc["t2.selection.monthly_saving", "verdict"] == "consistent"  # 60B x 0.42 = 25.2K
    assert a.loc["t2.arith.monthly_cost_1m", "verdict"] == "consistent"     # 30K x 100


def test_restated_inputs_are_given():
    a = _v()
    for c in ("t2.arith.concurrent_sessions", "t2.arith.session_length", "t2.arith.turns_per_session",
              "t2.arith.sessions_1m"):
        assert a.loc[c, "verdict"] == "given"


def test_self_hosted_price_is_a_range_over_throughput():
    a = _v().loc["t2.self_hosted.price"]
    tps = t2.tokens_per_s_per_gpu()
    from model.economics.prices import gpu_price
    p = gpu_price("a100-80gb", "aws", "on-demand").usd_per_gpu_hour
    # $/h / (tok/s x 3600 x 92%) x 1e6
    expected = sorted(p / (v * 3600 * 0.92) * 1e6 for v in tps.values())
    assert a["kind"] == "range"
    assert_allclose([a["low"], a["high"]], expected)
    assert a["verdict"] == "inconsistent" and a["stated_value"] < a["low"]


def test_naive_api_cost_readings_by_hand():
    c = t2.naive_api_cost_1m()
    assert_allclose(c["own"], 3e6)
    # 1M x 1,460 sessions x 200 turns, 25 input + 25 output tokens at $0.5 / $1.5 per 1M
    assert_allclose(c["new"], 1e6 * 1460 * 200 * (25 * 0.5 + 25 * 1.5) / 1e6)
    assert c["new"] < c["history"] < c["both"]
