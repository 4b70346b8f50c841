from numpy.testing import assert_allclose

from model.audit import l11_fleet


def test_audit_l11():
    a = l11_fleet.table().set_index("claim_id")
    assert a.loc["l11.autoscaling.peak_gpus", "computed_value"] == 990   # 900 + 10%
    # mean of a sinusoidal 1,200/600 day is 900: 300 GPU-months x $5,000
    assert_allclose(a.loc["l11.autoscaling.monthly_saving", "computed_value"], 300 * 5000, rtol=5e-3)
    assert a.loc["l11.autoscaling.monthly_saving", "verdict"] == "inconsistent"
    assert a.loc["l11.autoscaling.offpeak_gpus", "verdict"] == "consistent"
