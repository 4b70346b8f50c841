from numpy.testing import assert_allclose

from model.audit import t9_costs


def test_breakdown_and_margin():
    a = t9_costs.table().set_index("claim_id")
    assert_allclose(a.loc["t9.total.monthly_cost", "computed_value"], 10.5e6)
    assert_allclose(a.loc["t9.total.share", "computed_value"], 100.0)
    # the margin's arithmetic holds, on a total that adds the multi-region line judged inconsistent
    assert a.loc["t9.unit.gross_margin", "verdict"] == "consistent arithmetic, inconsistent inputs"
    assert "t9.multiregion.monthly_cost" in a.loc["t9.total.monthly_cost", "inputs_flagged"]
    assert_allclose(a.loc["t9.unit.gross_margin", "computed_value"], 100 * (19.98 - 10.5) / 19.98)
    assert a.loc["t9.unit.mau", "verdict"] == "given" and a.loc["t9.gpu.gpu_count", "verdict"] == "given"
    # T9's GPU line sets the audit's GPU price; at the AWS on-demand price 900 GPUs would cost half of it
    assert a.loc["t9.gpu.monthly_cost", "role"] == "reading"
    assert "aws_on_demand: inconsistent" in a.loc["t9.gpu.monthly_cost", "verdict_by_reading"]
    # LLM inference at 1M sessions open at once, 100 new tokens a turn, $0.08/1M: 29.2T tokens = $2.34M
    assert_allclose(a.loc["t9.llm_inference.monthly_cost", "computed_value"], 1e6 * 1460 * 200 * 100 * 0.08 / 1e6)
    assert a.loc["t9.llm_inference.monthly_cost", "verdict"] == "consistent arithmetic, inconsistent inputs"
    # the multi-region line: 1.5 x 900 - 990 = 360 GPUs x $5,000
    assert_allclose(a.loc["t9.multiregion.monthly_cost", "computed_value"], 360 * 5000)
    assert_allclose(t9_costs.breakdown()["stated_share"].iloc[:-1].sum(), 1.02)


def test_implied_gpu_costs_cross_sections():
    t = t9_costs.implied_gpu_costs().set_index("section")
    assert_allclose(t.loc["§9 (T9)", "usd_per_gpu_month"], 4.5e6 / 900)
    assert_allclose(t.loc["§4 (T4)", "usd_per_gpu_month"], 875e3 / 870)
    assert_allclose(t.loc["§5", "usd_per_gpu_month"], 1.6e6 / 730)
    assert t["usd_per_gpu_month"].max() / t["usd_per_gpu_month"].min() > 4
