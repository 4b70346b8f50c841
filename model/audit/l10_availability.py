"""Audit of the case study's §10: the 99.95% SLA, the multi-region/spare design and the 2024 outage
record, recomputed from the source's own stated downtime and T6's load shares."""

from __future__ import annotations

import pandas as pd

from model.audit.claims import stated_value as stated
from model.audit.t6_regions import inference_region_shares
from model.audit.verdicts import Computed
from model.economics.availability import (OutageClass, achieved_availability, availability_from_downtime,
                                capacity_to_survive_region_loss, downtime_from_availability, events_implied,
                                failover_downtime_hours, hours_per_event_implied, percent_rounding_tolerance,
                                regions_survivable, spare_share_to_survive_region_loss)
from model.calendar import hours_per_year


def outage_record() -> list[OutageClass]:
    """§10's 2024 record: monthly 1-h maintenance and three 2-h unplanned outages."""
    return [OutageClass("planned maintenance", 12 * stated("l10.planned.frequency"), stated("l10.planned.duration")),
            OutageClass("unplanned outages", stated("l10.unplanned.frequency"), stated("l10.unplanned.avg_duration"))]


def achieved_availability_percent() -> float:
    """The availability (%) that the case study's own 2024 outage record gives (12 × 1 h + 3 × 2 h)."""
    return 100 * achieved_availability(outage_record())


def computed() -> list[Computed]:
    """Every §10 figure, computed at the source's setting."""
    shares = inference_region_shares()
    year = hours_per_year()
    sla = stated("l10.sla.availability") / 100
    per_month, planned_h = stated("l10.planned.frequency"), stated("l10.planned.duration")
    incidents, incident_h = stated("l10.unplanned.frequency"), stated("l10.unplanned.avg_duration")
    planned, unplanned = outage_record()
    both = achieved_availability([planned, unplanned])
    a_planned, a_unplanned = stated("l10.planned.availability") / 100, stated("l10.unplanned.availability") / 100
    spare = stated("l10.design.spare_gpu_share") / 100
    failover_s = stated("l10.design.failover_time")
    tol = percent_rounding_tolerance
    sla_down = stated("l10.sla.downtime_per_year")
    return [
        Computed("l10.sla.availability", stated("l10.sla.availability"),
                 "%", f"the SLA target (a threshold); its stated 4.38 h a year agree: 1 − {sla_down:g} h / "
                 f"{year:,.0f} h = {availability_from_downtime(sla_down):.4%}", role="threshold"),
        Computed("l10.sla.downtime_per_year", downtime_from_availability(sla), "h",
                 f"(1 − {sla:.2%}) × {year:,.0f} h = {downtime_from_availability(sla):.2f} h"),
        Computed("l10.design.region_failures_covered", regions_survivable(shares, spare), "count",
                 f"with +{spare:.0%} spare GPUs in every region the fleet holds {1 + spare:.2f}x the load; losing "
                 f"the smallest region ({min(shares):.0%} of the load) leaves {(1 + spare) * (1 - min(shares)):.2f}x"
                 f" < 1x: no region loss is covered at peak (it needs +"
                 f"{spare_share_to_survive_region_loss(shares):.0%} spare in every region, or "
                 f"{capacity_to_survive_region_loss(shares):.2f}x the load in total with evened-out regions)"),
        Computed("l10.design.spare_gpu_share", stated("l10.design.spare_gpu_share"), "%",
                 f"a design input (hot spares per region); carrying all the load with the largest region "
                 f"({max(shares):.0%}) down would take 1 / (1 − {max(shares):.2f}) − 1 = "
                 f"{spare_share_to_survive_region_loss(shares):.1%}: +{spare:.0%} covers a region of ≤ "
                 f"{1 - 1 / (1 + spare):.1%} of the load (see l10.design.region_failures_covered)", role="design input"),
        Computed("l10.design.failover_time", stated("l10.design.failover_time"), "s",
                 f"a design target (switch traffic within 30 s); if it held, {incidents:g} incidents/year would cost "
                 f"{incidents:g} × {failover_s:g} s = {failover_downtime_hours(incidents, failover_s) * 60:.1f} min, "
                 f"not {incidents:g} × {incident_h:g} h", role="threshold"),
        Computed("l10.planned.frequency", events_implied(a_planned, planned_h) / 12, "count",
                 f"{planned_h:g}-h events per month that give {a_planned:.2%}: (1 − {a_planned:.4f}) × {year:,.0f} h "
                 f"/ 12 / {planned_h:g} h"),
        Computed("l10.planned.duration", hours_per_event_implied(a_planned, per_month * 12), "h",
                 f"hours per monthly event that give {a_planned:.2%}: (1 − {a_planned:.4f}) × {year:,.0f} h / 12"),
        Computed("l10.planned.availability", 100 * planned.availability(), "%",
                 f"12 × {planned_h:g} h = {planned.hours_per_year:g} h/year: 1 − {planned.hours_per_year:g} / "
                 f"{year:,.0f} = {planned.availability():.3%}", tolerance=tol(a_planned * 100)),
        Computed("l10.unplanned.frequency", events_implied(a_unplanned, incident_h), "count",
                 f"{incident_h:g}-h incidents per year that give {a_unplanned:.2%}: (1 − {a_unplanned:.4f}) × "
                 f"{year:,.0f} h / {incident_h:g} h = {events_implied(a_unplanned, incident_h):.2f}, not {incidents:g}"),
        Computed("l10.unplanned.avg_duration", hours_per_event_implied(a_unplanned, incidents), "h",
                 f"mean hours of {incidents:g} incidents/year that give {a_unplanned:.2%}: (1 − {a_unplanned:.4f}) × "
                 f"{year:,.0f} h / {incidents:g} = {hours_per_event_implied(a_unplanned, incidents):.2f} h"),
        Computed("l10.unplanned.availability", 100 * unplanned.availability(), "%",
                 f"{incidents:g} × {incident_h:g} h = {unplanned.hours_per_year:g} h/year: 1 − "
                 f"{unplanned.hours_per_year:g} / {year:,.0f} = {unplanned.availability():.3%} ({a_unplanned:.2%} "
                 f"allows {downtime_from_availability(a_unplanned):.1f} h)", tolerance=tol(a_unplanned * 100)),
        Computed("l10.achieved.availability", 100 * both, "%",
                 f"{planned.hours_per_year:g} h planned + {unplanned.hours_per_year:g} h unplanned = "
                 f"{planned.hours_per_year + unplanned.hours_per_year:g} h/year: {both:.3%}; even without "
                 f"maintenance {unplanned.availability():.3%} < {sla:.2%} SLA ({downtime_from_availability(sla):.2f} h)",
                 tolerance=tol(float(stated("l10.achieved.availability")))),
    ]


def table() -> pd.DataFrame:
    """The §10 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
