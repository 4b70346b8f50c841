from numpy.testing import assert_allclose

from model.audit import l10_availability


def test_audit_l10_verdicts():
    a = l10_availability.table().set_index("claim_id")["verdict"]
    assert a["l10.sla.downtime_per_year"] == "consistent"
    assert a["l10.planned.availability"] == "consistent"        # 12 h/year = 99.863%
    assert a["l10.unplanned.availability"] == "inconsistent"    # 6 h/year = 99.932%, not 99.97%
    assert a["l10.achieved.availability"] == "inconsistent"     # 18 h/year = 99.79%
    assert a["l10.design.region_failures_covered"] == "inconsistent"
    # the SLA target, the spares and the failover time are chosen: given
    assert a["l10.sla.availability"] == a["l10.design.spare_gpu_share"] == a["l10.design.failover_time"] == "given"


def test_achieved_availability_from_the_record():
    assert_allclose(l10_availability.achieved_availability_percent(), 100 * (1 - 18 / 8760))
