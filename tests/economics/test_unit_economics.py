import pytest
from numpy.testing import assert_allclose

from model.economics.unit_economics import UnitEconomics, cost_breakdown
from model.checks import ParameterError


def test_unit_economics_by_hand():
    ue = UnitEconomics(20e6, 0.10, 9.99, 10.5e6)
    assert_allclose(ue.paid_users, 2e6)
    assert_allclose(ue.revenue, 19.98e6)
    assert_allclose(ue.gross_margin, (19.98 - 10.5) / 19.98)
    assert_allclose(ue.cost_per_mau, 10.5 / 20)


def test_cost_breakdown_shares_sum_to_one():
    t = cost_breakdown({"a": 1.0, "b": 3.0})
    assert_allclose(t["share"].iloc[:-1].sum(), 1.0)
    assert t["usd_per_month"].iloc[-1] == 4.0
    assert_allclose(t["share"].iloc[1], 0.75)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="conversion_rate"):
        UnitEconomics(1e6, 1.2, 10, 1)
    with pytest.raises(ParameterError, match="mau"):
        UnitEconomics(-5, 0.1, 10, 1)
    with pytest.raises(ParameterError, match="lines"):
        cost_breakdown({})
