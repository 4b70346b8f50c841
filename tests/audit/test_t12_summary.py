from numpy.testing import assert_allclose

from model.audit import t12_summary


def test_summary_verdicts():
    a = t12_summary.table().set_index("claim_id")
    v = a["verdict"]
    assert v["t1.s1_goal.monthly_cost_cap"] == "given"           # a cap (a threshold); 10.5M > 10M is in the reason
    assert "exceeds" in a.loc["t1.s1_goal.monthly_cost_cap", "reason"]
    assert v["t1.sessions.initial"] == v["t1.sessions.optimized"] == "given"
    assert v["s.weakness_ops.regions"] == "given"                # restates T6's three regions
    # (120K + 50K) / 10K = $17 -> (8M + 2.5M) / 1M = $10.5: 1.62x, not 2.5x
    assert_allclose(a.loc["t12.cost_efficiency.optimized", "computed_value"], 17 / 10.5)
    assert v["t12.cost_efficiency.optimized"] == "inconsistent"
    # 18 h down a year: 1 - 18 / 8,760
    assert_allclose(a.loc["t1.availability.optimized", "computed_value"], 100 * (1 - 18 / 8760))
    assert v["t1.availability.optimized"] == "inconsistent"
    # the API's bill for 1M sessions at the audit's readings: 1M x 1,460 sessions x 200 turns x (50 input tokens
    # at $0.5/1M + 50 output tokens at $1.5/1M); inconsistent with $300M under every other reading too
    row = a.loc["s.lesson_openai.monthly_cost"]
    assert_allclose(row["computed_value"], 1e6 * 1460 * 200 * (50 * 0.5 + 50 * 1.5) / 1e6)
    assert row["verdict"] == "inconsistent" and not row["verdict_depends_on_reading"]
    # §2's $3M for the same route is §2's arithmetic on its 60B, judged inconsistent
    assert v["t1.availability.change"] == v["t12.availability.improvement"] == "consistent arithmetic, inconsistent inputs"
    assert v["t12.p95_latency.initial"] == v["s.weakness_latency.final"] == "given"      # restatements


def test_cost_per_session():
    assert_allclose(t12_summary.total_cost_per_session(), (17.0, 10.5))
