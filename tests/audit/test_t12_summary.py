from numpy.testing import assert_allclose

from model.audit import t12_summary


def test_summary_verdicts():
    a = t12_summary.table().set_index("claim_id")
    v = a["verdict"]
    assert v["t1.s1_goal.monthly_cost_cap"] == "inconsistent"    # 10.5M > 10M cap
    assert v["t1.sessions.initial"] == v["t1.sessions.optimized"] == "given"
    assert v["s.weakness_ops.regions"] == "given"                # restates T6's three regions
    # (120K + 50K) / 10K = $17 -> (8M + 2.5M) / 1M = $10.5: 1.62x, not 2.5x
    assert_allclose(a.loc["t12.cost_efficiency.optimized", "computed_value"], 17 / 10.5)
    assert v["t12.cost_efficiency.optimized"] == "inconsistent"
    # 18 h down a year: 1 - 18 / 8,760
    assert_allclose(a.loc["t1.availability.optimized", "computed_value"], 100 * (1 - 18 / 8760))
    assert v["t1.availability.optimized"] == "inconsistent"
    # $300M lies inside the readings of what each turn sends (new tokens only ... history + persona)
    row = a.loc["s.lesson_openai.monthly_cost"]
    assert row["kind"] == "range" and row["low"] < 3e8 < row["high"] and row["verdict"] == "consistent"


def test_cost_per_session():
    assert_allclose(t12_summary.total_cost_per_session(), (17.0, 10.5))
