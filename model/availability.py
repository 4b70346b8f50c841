"""Availability arithmetic: downtime ↔ percentage, planned maintenance + incidents → achieved
availability, and what redundancy (spare GPUs, spare regions, failover time) buys.

Every function works in hours and fractions (0.9995, not 99.95); the audit converts to the claims' %.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.parameters import default
from model.validation import (ParameterError, check_fraction, check_int, check_nonnegative, check_number,
                              check_positive, check_shares)


def hours_per_year() -> float:
    """Hours in a (non-leap) year, the period of annual availability targets (data/parameters)."""
    return default("hours_per_year")


def availability_from_downtime(downtime_hours: float, period_hours: float | None = None) -> float:
    """Availability (fraction) of a period with ``downtime_hours`` of downtime: 1 − downtime / period.

    Parameters
    ----------
    downtime_hours : float
        Hours down in the period (0 ≤ downtime ≤ period).
    period_hours : float, optional
        Length of the period, hours (default: one year, :func:`hours_per_year`).
    """
    period = hours_per_year() if period_hours is None else check_positive("period_hours", period_hours)
    down = check_nonnegative("downtime_hours", downtime_hours)
    if down > period:
        raise ParameterError("downtime_hours", downtime_hours, f"at most the period ({period:g} h)")
    return 1.0 - down / period


def downtime_from_availability(availability: float, period_hours: float | None = None) -> float:
    """Hours of downtime a period may have at ``availability`` (fraction): (1 − availability) × period."""
    period = hours_per_year() if period_hours is None else check_positive("period_hours", period_hours)
    a = check_fraction("availability", availability)
    return (1.0 - a) * period


@dataclass(frozen=True)
class OutageClass:
    """A recurring kind of downtime.

    Attributes
    ----------
    name : str
        e.g. ``"planned maintenance"``.
    events_per_year : float
        How many times a year it happens.
    hours_per_event : float
        Mean duration of one event, hours.
    """

    name: str
    events_per_year: float
    hours_per_event: float

    def __post_init__(self):
        check_nonnegative(f"{self.name}.events_per_year", self.events_per_year)
        check_nonnegative(f"{self.name}.hours_per_event", self.hours_per_event)

    @property
    def hours_per_year(self) -> float:
        """Downtime per year, hours."""
        return self.events_per_year * self.hours_per_event

    def availability(self) -> float:
        """Availability if this were the only downtime (fraction)."""
        return availability_from_downtime(self.hours_per_year)


def achieved_availability(outages: list[OutageClass]) -> float:
    """Availability over a year with all ``outages`` (their downtimes add: assumed not to overlap)."""
    return availability_from_downtime(sum(o.hours_per_year for o in outages))


def events_implied(availability: float, hours_per_event: float) -> float:
    """Events per year of ``hours_per_event`` each that give ``availability`` over a year."""
    check_positive("hours_per_event", hours_per_event)
    return downtime_from_availability(availability) / hours_per_event


def hours_per_event_implied(availability: float, events_per_year: float) -> float:
    """Mean duration (hours) of ``events_per_year`` events that give ``availability`` over a year."""
    check_positive("events_per_year", events_per_year)
    return downtime_from_availability(availability) / events_per_year


def percent_rounding_tolerance(stated_percent: float, decimals: int = 2) -> float:
    """Relative tolerance that accepts exactly the rounding of a percentage stated with ``decimals``
    decimals (99.86 → ±0.005 points). Availability figures differ in the second decimal, so the default
    5% relative tolerance of the audit would call 99.79% "consistent" with 99.95%: use this instead."""
    check_positive("stated_percent", stated_percent)
    check_int("decimals", decimals, low=0)
    return 0.5 * 10.0 ** (-decimals) / stated_percent


# --- redundancy -----------------------------------------------------------------------------------------

def capacity_to_survive_region_loss(shares: list[float], regions_lost: int = 1) -> float:
    """Smallest total capacity (in units of the whole load) of regions serving ``shares`` of the load such
    that any ``regions_lost`` regions may fail and the others still carry all the load.

    With capacities c_i ≥ share_i (each region serves its own users in normal operation), the survivors
    of any failure must hold ≥ 1. For one lost region of n the minimum is max(n / (n − 1), 1 + max share):
    equal capacities T / n with T − T / n ≥ 1, unless the largest region's own share forces more.
    More than one lost region generalises to max(n / (n − k), 1 + sum of the k largest shares).

    Returns
    -------
    float
        Total capacity ÷ load (1.5 means 50% above the load).
    """
    s = check_shares("shares", shares)
    n = len(s)
    k = check_int("regions_lost", regions_lost, low=0, high=n - 1)
    if k == 0:
        return 1.0
    largest = sum(sorted(s, reverse=True)[:k])
    return max(n / (n - k), 1.0 + largest)


def regions_survivable(shares: list[float], spare_share: float) -> int:
    """How many simultaneous region failures a fleet of ``(1 + spare_share)`` × load, split by ``shares``,
    can absorb while still carrying the whole load (the largest regions failing first, the worst case)."""
    s = sorted(check_shares("shares", shares), reverse=True)
    spare = check_nonnegative("spare_share", spare_share)
    capacity = 1.0 + spare
    lost = 0
    for k in range(1, len(s)):
        if capacity * (1.0 - sum(s[:k])) >= 1.0 - 1e-12:
            lost = k
        else:
            break
    return lost


def spare_share_to_survive_region_loss(shares: list[float], regions_lost: int = 1) -> float:
    """Spare capacity (fraction of the load) each region must hold, on top of its own share, to survive
    ``regions_lost`` region failures if every region keeps the same spare fraction: the smallest x with
    (1 + x)(1 − largest shares) ≥ 1."""
    s = sorted(check_shares("shares", shares), reverse=True)
    k = check_int("regions_lost", regions_lost, low=0, high=len(s) - 1)
    survivors = 1.0 - sum(s[:k])
    return 1.0 / survivors - 1.0


def k_of_n_availability(n_needed: int, n_total: int, unit_availability: float) -> float:
    """Probability that at least ``n_needed`` of ``n_total`` independent units are up, each up with
    probability ``unit_availability`` (N+k spares: n_total = N + k)."""
    need = check_int("n_needed", n_needed, low=0)
    total = check_int("n_total", n_total, low=max(need, 1))
    p = check_fraction("unit_availability", unit_availability)
    if need == 0 or p == 1.0:
        return 1.0
    if p == 0.0:
        return 0.0
    up = np.arange(need, total + 1)
    lgamma = np.vectorize(math.lgamma)
    log_terms = (lgamma(total + 1) - lgamma(up + 1) - lgamma(total - up + 1)
                 + up * np.log(p) + (total - up) * np.log1p(-p))
    return float(min(1.0, np.exp(log_terms).sum()))


def failover_downtime_hours(incidents_per_year: float, failover_seconds: float) -> float:
    """Yearly downtime if every incident is absorbed by an automatic failover of ``failover_seconds``."""
    check_nonnegative("incidents_per_year", incidents_per_year)
    check_nonnegative("failover_seconds", failover_seconds)
    return incidents_per_year * failover_seconds / 3600.0


def downtime_table(availabilities_percent: list[float]) -> "pd.DataFrame":
    """Downtime per year, month and week for availability targets given in percent.

    Columns: availability_percent, downtime_h_per_year, downtime_min_per_month, downtime_min_per_week.
    """
    import pandas as pd

    year = hours_per_year()
    rows = []
    for a in availabilities_percent:
        down = downtime_from_availability(check_number("availability_percent", a, low=0.0, high=100.0) / 100.0)
        rows.append({"availability_percent": a, "downtime_h_per_year": down,
                     "downtime_min_per_month": down * 60.0 / 12.0,
                     "downtime_min_per_week": down * 60.0 * 7.0 * 24.0 / year})
    return pd.DataFrame(rows)


# --- audit of §10 ---------------------------------------------------------------------------------------

def audit_l10(*, region_shares: list[float] | None = None) -> list:
    """The case study's §10 availability figures recomputed from its own stated downtime.

    Parameters
    ----------
    region_shares : list of float, optional
        Load share of each inference region (default: T6's North America + other 45%, Europe 25%,
        Asia 30%, served by US-East, EU-West and AP-Northeast).

    Returns
    -------
    list of :class:`model.audit.verdicts.Computed`
    """
    from model.audit.verdicts import Computed
    from model.audit.verdicts import stated_value as stated

    shares = region_shares if region_shares is not None else default_region_shares()
    year = hours_per_year()
    sla = stated("l10.sla.availability") / 100
    per_month, planned_h = stated("l10.planned.frequency"), stated("l10.planned.duration")
    incidents, incident_h = stated("l10.unplanned.frequency"), stated("l10.unplanned.avg_duration")
    planned = OutageClass("planned maintenance", per_month * 12, planned_h)
    unplanned = OutageClass("unplanned outages", incidents, incident_h)
    both = achieved_availability([planned, unplanned])
    a_planned, a_unplanned = stated("l10.planned.availability") / 100, stated("l10.unplanned.availability") / 100
    spare = stated("l10.design.spare_gpu_share") / 100
    failover_s = stated("l10.design.failover_time")
    tol = percent_rounding_tolerance
    return [
        Computed("l10.sla.availability", 100 * availability_from_downtime(stated("l10.sla.downtime_per_year")),
                 "%", f"1 − 4.38 h / {year:,.0f} h = {availability_from_downtime(4.38):.4%}",
                 tolerance=tol(99.95)),
        Computed("l10.sla.downtime_per_year", downtime_from_availability(sla), "h",
                 f"(1 − 99.95%) × {year:,.0f} h = {downtime_from_availability(sla):.2f} h"),
        Computed("l10.design.region_failures_covered", regions_survivable(shares, spare), "count",
                 f"with +{spare:.0%} spare GPUs in every region the fleet holds {1 + spare:.2f}x the load; losing "
                 f"the smallest region ({min(shares):.0%} of the load) leaves {(1 + spare) * (1 - min(shares)):.2f}x"
                 f" < 1x: no region loss is covered at peak (it needs +"
                 f"{spare_share_to_survive_region_loss(shares):.0%} spare in every region, or "
                 f"{capacity_to_survive_region_loss(shares):.2f}x the load in total with evened-out regions)"),
        Computed("l10.design.spare_gpu_share", 100 * spare_share_to_survive_region_loss(shares), "%",
                 f"spare per region to carry all the load with the largest region ({max(shares):.0%}) down: "
                 f"1 / (1 − {max(shares):.2f}) − 1 = {spare_share_to_survive_region_loss(shares):.1%}; "
                 f"+{spare:.0%} covers a region of ≤ {1 - 1 / (1 + spare):.1%} of the load"),
        Computed("l10.design.failover_time", math.nan, "s",
                 f"a design figure, not derivable; if it held, {incidents:g} incidents/year would cost "
                 f"{incidents:g} × {failover_s:g} s = {failover_downtime_hours(incidents, failover_s) * 60:.1f} min, "
                 f"not {incidents:g} × {incident_h:g} h", verdict="not reproducible"),
        Computed("l10.planned.frequency", events_implied(a_planned, planned_h) / 12, "count",
                 f"1-h events per month that give 99.86%: (1 − 0.9986) × {year:,.0f} h / 12 / 1 h"),
        Computed("l10.planned.duration", hours_per_event_implied(a_planned, per_month * 12), "h",
                 "hours per monthly event that give 99.86%: (1 − 0.9986) × 8,760 h / 12"),
        Computed("l10.planned.availability", 100 * planned.availability(), "%",
                 f"12 × 1 h = {planned.hours_per_year:g} h/year: 1 − 12 / {year:,.0f} = {planned.availability():.3%}",
                 tolerance=tol(a_planned * 100)),
        Computed("l10.unplanned.frequency", events_implied(a_unplanned, incident_h), "count",
                 f"2-h incidents per year that give 99.97%: (1 − 0.9997) × {year:,.0f} h / 2 h = "
                 f"{events_implied(a_unplanned, incident_h):.2f}, not 3"),
        Computed("l10.unplanned.avg_duration", hours_per_event_implied(a_unplanned, incidents), "h",
                 f"mean hours of 3 incidents/year that give 99.97%: (1 − 0.9997) × {year:,.0f} h / 3 = "
                 f"{hours_per_event_implied(a_unplanned, incidents):.2f} h"),
        Computed("l10.unplanned.availability", 100 * unplanned.availability(), "%",
                 f"3 × 2 h = {unplanned.hours_per_year:g} h/year: 1 − 6 / {year:,.0f} = "
                 f"{unplanned.availability():.3%} (99.97% allows {downtime_from_availability(a_unplanned):.1f} h)",
                 tolerance=tol(a_unplanned * 100)),
        Computed("l10.achieved.availability", 100 * both, "%",
                 f"12 h planned + 6 h unplanned = 18 h/year: 1 − 18 / {year:,.0f} = {both:.3%}; even without "
                 f"maintenance {unplanned.availability():.3%} < 99.95% SLA ({downtime_from_availability(sla):.2f} h)",
                 tolerance=tol(99.95)),
    ]


def achieved_availability_percent_from_l10() -> float:
    """The availability (%) that the case study's own 2024 outage record gives (12 × 1 h + 3 × 2 h)."""
    from model.audit.verdicts import stated_value

    planned = OutageClass("planned", 12 * stated_value("l10.planned.frequency"),
                          stated_value("l10.planned.duration"))
    unplanned = OutageClass("unplanned", stated_value("l10.unplanned.frequency"),
                            stated_value("l10.unplanned.avg_duration"))
    return 100 * achieved_availability([planned, unplanned])


def default_region_shares() -> list[float]:
    """Load shares of the three inference regions implied by T6: US-East serves North America (40%) and
    the rest of the world (5%, via CDN), EU-West Europe (25%), AP-Northeast Asia (30%)."""
    from model.audit.verdicts import stated_value

    na = stated_value("t6.north_america.user_share")
    other = stated_value("t6.other.user_share")
    eu = stated_value("t6.europe.user_share")
    asia = stated_value("t6.asia.user_share")
    return [(na + other) / 100, eu / 100, asia / 100]
