"""Calendar periods of the study: the hours of a month (price quotes) and of a year (availability targets)."""

from __future__ import annotations

from model.parameters import default


def hours_per_month() -> float:
    """Hours in the study's month (data/parameters: ``hours_per_month``, 730 h)."""
    return default("hours_per_month")


def hours_per_year() -> float:
    """Hours in a (non-leap) year, the period of annual availability targets (data/parameters)."""
    return default("hours_per_year")
