"""The audit's own rules, read from ``data/claims/rules.csv`` (name, value, unit, source, notes): the default
tolerance and the widest range that can decide a verdict. They are the study's rules, not figures of the
sources; each row says why it has its value."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.audit.claims import CLAIMS_DIR
from model.checks import check_choice

#: The rules file.
RULES_FILE = CLAIMS_DIR / "rules.csv"
RULE_COLUMNS = ["name", "value", "unit", "source", "notes"]


@lru_cache(maxsize=1)
def rules() -> pd.DataFrame:
    """Every rule of the audit (columns :data:`RULE_COLUMNS`)."""
    table = pd.read_csv(RULES_FILE, keep_default_na=False)
    if list(table.columns) != RULE_COLUMNS:
        raise ValueError(f"{RULES_FILE}: columns {list(table.columns)}, expected {RULE_COLUMNS}")
    if table["name"].duplicated().any() or (table["source"].str.len() == 0).any():
        raise ValueError(f"{RULES_FILE}: every rule once, each with its source")
    return table.astype({"value": float})


def rule(name: str) -> float:
    """The value of rule ``name`` (e.g. ``"range_decisive_ratio"``)."""
    table = rules()
    check_choice("rule", name, list(table["name"]))
    return float(table.loc[table["name"] == name, "value"].iloc[0])
