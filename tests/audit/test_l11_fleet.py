from numpy.testing import assert_allclose

from model.audit import l11_fleet
from model.audit.verdicts import INCONSISTENT_INPUTS


def test_audit_l11():
    a = l11_fleet.table().set_index("claim_id")
    # the 900 GPUs read as the month's mean fleet (the audit's reading): a day symmetric about 900 with a
    # 600-GPU trough peaks at 1,200; read as the peak need, 900 + 10% spares = 990
    assert a.loc["l11.autoscaling.peak_gpus", "computed_value"] == 2 * 900 - 600
    assert "peak: inconsistent, 990" in a.loc["l11.autoscaling.peak_gpus", "verdict_by_reading"]
    # the arithmetic holds, but the 900 rests on §4's 1,630 GPUs, which the model does not reproduce
    assert a.loc["l11.autoscaling.peak_gpus", "verdict"] == INCONSISTENT_INPUTS
    # mean of a sinusoidal 1,200/600 day is 900: 300 GPU-months x $5,000
    assert_allclose(a.loc["l11.autoscaling.monthly_saving", "computed_value"], 300 * 5000, rtol=5e-3)
    assert a.loc["l11.autoscaling.monthly_saving", "verdict"] == "inconsistent"
    assert a.loc["l11.autoscaling.offpeak_gpus", "computed_value"] == 600
    # chosen intervals and thresholds are given, like every other chosen figure
    for c in ("l11.monitoring.interval", "l11.monitoring.scale_out_threshold", "l11.monitoring.daily_cost_alert"):
        assert a.loc[c, "verdict"] == "given" and a.loc[c, "role"] in ("interval", "threshold")
