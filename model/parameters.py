"""Cited default parameters from ``data/parameters/*.csv`` (one file per topic, same columns:
``name, value, unit, source, notes``; a name may appear once across all files)."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.io import DATA
from model.checks import ParameterError

PARAMETERS_DIR = DATA / "parameters"


@lru_cache(maxsize=1)
def defaults_table() -> pd.DataFrame:
    """All cited defaults: ``name, value, unit, source, notes, file``."""
    frames = []
    for path in sorted(PARAMETERS_DIR.glob("*.csv")):
        frame = pd.read_csv(path)
        frame["file"] = path.name
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    dup = table["name"][table["name"].duplicated()]
    if len(dup):
        raise ValueError(f"data/parameters: {sorted(set(dup))} defined more than once")
    return table


def default(name: str) -> float:
    """The cited default value of parameter ``name`` (unit in :func:`defaults_table`)."""
    table = defaults_table()
    values = table.attrs.get("values_by_name")
    if values is None:  # a dict beside the cached table: a lookup per call instead of a DataFrame filter
        values = dict(zip(table["name"], table["value"]))
        table.attrs["values_by_name"] = values
    if name not in values:
        raise ParameterError("name", name, "one of " + ", ".join(table["name"]))
    return float(values[name])


def source_of(name: str) -> str:
    """The citation of a default."""
    table = defaults_table()
    rows = table[table["name"] == name]
    if rows.empty:
        raise ParameterError("name", name, "one of " + ", ".join(table["name"]))
    return str(rows["source"].iloc[0])
