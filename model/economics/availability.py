"""Availability arithmetic: downtime ↔ percentage, planned maintenance + incidents → achieved
availability, and what redundancy (spare GPUs, spare regions, failover time) buys.

Every function works in hours and fractions (0.9995, not 99.95), except :func:`downtime_table` (percent).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.calendar import hours_per_year
from model.checks import (ParameterError, check_fraction, check_int, check_nonnegative, check_number,
                              check_positive, check_shares)




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
