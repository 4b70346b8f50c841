"""Cited default parameters from ``data/parameters/defaults.csv``."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.io import DATA
from model.validation import ParameterError

DEFAULTS_CSV = DATA / "parameters" / "defaults.csv"


@lru_cache(maxsize=1)
def defaults_table() -> pd.DataFrame:
    """All cited defaults: ``name, value, unit, source, notes``."""
    return pd.read_csv(DEFAULTS_CSV)


def default(name: str) -> float:
    """The cited default value of parameter ``name`` (unit in :func:`defaults_table`)."""
    table = defaults_table()
    rows = table[table["name"] == name]
    if rows.empty:
        raise ParameterError("name", name, "one of " + ", ".join(table["name"]))
    return float(rows["value"].iloc[0])


def source_of(name: str) -> str:
    """The citation of a default."""
    table = defaults_table()
    rows = table[table["name"] == name]
    if rows.empty:
        raise ParameterError("name", name, "one of " + ", ".join(table["name"]))
    return str(rows["source"].iloc[0])
