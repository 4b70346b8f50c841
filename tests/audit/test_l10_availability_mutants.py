"""model.audit.l10_availability row by row, against figures worked by hand from the stated values of data/claims:
the 99.95% SLA (4.38 h a year), monthly 1-h maintenance (99.86%), three 2-h incidents a year (99.97%), +10% hot
spares, a 30-s failover, T6's load shares 40% + 5% (US-East), 25% (EU-West), 30% (AP-Northeast); a year of 8,760 h.

Fast: the claims are looked up in a dict (the same rows as data/claims) and the audit table's section is replaced
by a recorder; the whole audit is left to tests/audit/test_l10_availability.py."""

import pytest
from numpy.testing import assert_allclose

from model.audit import claims as C
from model.audit import l10_availability as L10
from model.audit.claims import claim_ids_of, is_read_back
from claim_rows import ROWS as _ROWS, claim as _claim


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(C, "claim", _claim)


def test_outage_record_and_achieved_availability():
    planned, unplanned = L10.outage_record()
    assert (planned.name, planned.events_per_year, planned.hours_per_event) == ("planned maintenance", 12, 1)
    assert (unplanned.name, unplanned.events_per_year, unplanned.hours_per_event) == ("unplanned outages", 3, 2)
    # 12 × 1 h + 3 × 2 h = 18 h of 8,760
    assert_allclose(L10.achieved_availability_percent(), 100 * (1 - 18 / 8760), rtol=1e-12)


def test_rows_by_hand():
    """Every row of computed() from one call."""
    r = {c.claim_id: c for c in L10.computed()}
    assert list(r) == ["l10.sla.availability", "l10.sla.downtime_per_year", "l10.design.region_failures_covered",
                       "l10.design.spare_gpu_share", "l10.design.failover_time", "l10.planned.frequency",
                       "l10.planned.duration", "l10.planned.availability", "l10.unplanned.frequency",
                       "l10.unplanned.avg_duration", "l10.unplanned.availability", "l10.achieved.availability"]
    want = {
        # 1 − 4.38 ÷ 8,760 = 0.9995
        "l10.sla.availability": (99.95, "%", "threshold",
                                 "the SLA target (a threshold); its stated 4.38 h a year agree: 1 − 4.38 h / 8,760 h = "
                                 "99.9500%"),
        # (1 − 0.9995) × 8,760 = 4.38 h
        "l10.sla.downtime_per_year": (4.38, "h", "computed", "(1 − 99.95%) × 8,760 h = 4.38 h"),
        # capacity 1.1; the largest region (45%) lost leaves 1.1 × 0.55 = 0.605 < 1: none; the smallest (25%) lost
        # leaves 1.1 × 0.75 = 0.825; spares to survive: 1 ÷ 0.55 − 1 = 81.8%; evened out: max(3 ÷ 2, 1 + 0.45) = 1.5
        "l10.design.region_failures_covered": (
            0, "count", "computed",
            "with +10% spare GPUs in every region the fleet holds 1.10x the load; losing the smallest region (25% of "
            "the load) leaves 0.83x < 1x: no region loss is covered at peak (it needs +82% spare in every region, or "
            "1.50x the load in total with evened-out regions)"),
        # +10% covers a region of 1 − 1 ÷ 1.1 = 9.09% of the load
        "l10.design.spare_gpu_share": (
            10, "%", "design input",
            "a design input (hot spares per region); carrying all the load with the largest region (45%) down would "
            "take 1 / (1 − 0.45) − 1 = 81.8%: +10% covers a region of ≤ 9.1% of the load (see "
            "l10.design.region_failures_covered)"),
        # 3 × 30 s = 90 s = 1.5 min
        "l10.design.failover_time": (
            30, "s", "threshold",
            "a design target (switch traffic within 30 s); if it held, 3 incidents/year would cost 3 × 30 s = 1.5 "
            "min, not 3 × 2 h"),
        # (1 − 0.9986) × 8,760 = 12.264 h a year: ÷ 12 ÷ 1 h = 1.022 events a month, or 1.022 h each of 12
        "l10.planned.frequency": (12.264 / 12, "count", "computed",
                                  "1-h events per month that give 99.86%: (1 − 0.9986) × 8,760 h / 12 / 1 h"),
        "l10.planned.duration": (12.264 / 12, "h", "computed",
                                 "hours per monthly event that give 99.86%: (1 − 0.9986) × 8,760 h / 12"),
        "l10.planned.availability": (100 * (1 - 12 / 8760), "%", "computed",
                                     "12 × 1 h = 12 h/year: 1 − 12 / 8,760 = 99.863%"),
        # (1 − 0.9997) × 8,760 = 2.628 h a year: ÷ 2 h = 1.314 incidents, or ÷ 3 = 0.876 h each
        "l10.unplanned.frequency": (1.314, "count", "computed",
                                    "2-h incidents per year that give 99.97%: (1 − 0.9997) × 8,760 h / 2 h = 1.31, "
                                    "not 3"),
        "l10.unplanned.avg_duration": (0.876, "h", "computed",
                                       "mean hours of 3 incidents/year that give 99.97%: (1 − 0.9997) × 8,760 h / 3 "
                                       "= 0.88 h"),
        "l10.unplanned.availability": (100 * (1 - 6 / 8760), "%", "computed",
                                       "3 × 2 h = 6 h/year: 1 − 6 / 8,760 = 99.932% (99.97% allows 2.6 h)"),
        "l10.achieved.availability": (100 * (1 - 18 / 8760), "%", "computed",
                                      "12 h planned + 6 h unplanned = 18 h/year: 99.795%; even without maintenance "
                                      "99.932% < 99.95% SLA (4.38 h)"),
    }
    for cid, (value, unit, role, how) in want.items():
        c = r[cid]
        assert_allclose(float(c.value), value, rtol=1e-9, err_msg=cid)
        assert (c.unit, c.role, c.how, c.kind, c.under) == (unit, role, how, "estimate", ()), cid
        assert c.verdict == (None if role == "computed" else "given"), cid
        if role != "computed":
            assert is_read_back(c.value) and c.value.claim_id == cid
    # a stated percentage rounded to 2 decimals: ±0.005 points, relative to the stated figure
    assert_allclose([r["l10.planned.availability"].tolerance, r["l10.unplanned.availability"].tolerance,
                     r["l10.achieved.availability"].tolerance], [0.005 / 99.86, 0.005 / 99.97, 0.005 / 99.95],
                    rtol=1e-12)
    assert all(r[cid].tolerance is None for cid in want if "availability" not in cid or cid == "l10.sla.availability")
    assert type(r["l10.design.region_failures_covered"].value) is int
    assert claim_ids_of(r["l10.planned.frequency"].value) == {"l10.planned.duration"}
    assert claim_ids_of(r["l10.unplanned.frequency"].value) == {"l10.unplanned.avg_duration"}
    assert claim_ids_of(r["l10.unplanned.avg_duration"].value) == {"l10.unplanned.frequency"}
    assert claim_ids_of(r["l10.planned.duration"].value) == {"l10.planned.frequency"}


def test_other_stated_figures(monkeypatch):
    """Maintenance twice a month and a 10-minute failover: 12 × 2 = 24 events a year; 3 × 600 s = 0.5 h = 30 min."""
    rows = dict(_ROWS)
    for cid, value in (("l10.planned.frequency", 2.0), ("l10.design.failover_time", 600.0)):
        rows[cid] = {**rows[cid], "stated_value": value}
    monkeypatch.setattr(C, "claim", rows.__getitem__)
    planned, _ = L10.outage_record()
    assert planned.events_per_year == 24 and planned.hours_per_event == 1
    how = {c.claim_id: c.how for c in L10.computed()}["l10.design.failover_time"]
    assert how == ("a design target (switch traffic within 30 s); if it held, 3 incidents/year would cost 3 × 600 s = "
                   "30.0 min, not 3 × 2 h")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert L10.table() == ("section", "model.audit.l10_availability")
