"""The audit machinery: stated figures of the source documents (``data/claims/``) side by side with what the
model computes, their difference and a verdict with a one-line reason.

Verdicts
--------
``consistent``
    the model reproduces the stated figure within the tolerance.
``inconsistent``
    the model, from the stated inputs, computes a figure outside the tolerance.
``impossible``
    the stated figure contradicts a physical limit (e.g. 140 GB of weights on one 80 GB GPU).
``not reproducible``
    the source does not give what is needed to compute it (or it is qualitative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from model.io import DATA
from model.validation import ParameterError, check_choice, check_positive

CLAIMS_DIR = DATA / "claims"
CLAIM_COLUMNS = ["claim_id", "source", "table", "row", "column", "stated_value", "unit", "quote"]
VERDICTS = ("consistent", "inconsistent", "impossible", "not reproducible")
#: How a computed figure relates to the stated one (see :class:`Computed`).
KINDS = ("estimate", "upper_bound", "lower_bound")
#: Relative difference accepted as "consistent" when a claim sets no tolerance of its own: the source
#: rounds most figures to two significant digits (e.g. 1.4 GB, 57, $4.5M), i.e. up to ±5% rounding error.
DEFAULT_TOLERANCE = 0.05

#: Multipliers of the units that differ only by scale, to the first unit of their family.
_UNIT_SCALE = {
    "bytes": ("bytes", 1.0), "GB": ("bytes", 1e9), "MB": ("bytes", 1e6), "PB": ("bytes", 1e15),
    "TB": ("bytes", 1e12), "GiB": ("bytes", 2.0 ** 30), "KiB": ("bytes", 2.0 ** 10),
    "s": ("s", 1.0), "ms": ("s", 1e-3), "min": ("s", 60.0), "h": ("s", 3600.0),
}


def convert(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between units of one family (bytes: bytes/MB/GB/TB/PB/KiB/GiB; time: s/ms/min/h).
    Identical units pass through."""
    if from_unit == to_unit:
        return value
    try:
        fam_a, scale_a = _UNIT_SCALE[from_unit]
        fam_b, scale_b = _UNIT_SCALE[to_unit]
    except KeyError:
        raise ParameterError("unit", f"{from_unit} -> {to_unit}", "a pair of units of one family") from None
    if fam_a != fam_b:
        raise ParameterError("unit", f"{from_unit} -> {to_unit}", "a pair of units of one family")
    return value * scale_a / scale_b


@lru_cache(maxsize=1)
def _all_claims() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype={"stated_value": float}, keep_default_na=False,
                          na_values={"stated_value": [""]})
              for p in sorted(CLAIMS_DIR.glob("*.csv"))]
    table = pd.concat(frames, ignore_index=True)
    missing = set(CLAIM_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"data/claims: missing columns {sorted(missing)}")
    dup = table["claim_id"][table["claim_id"].duplicated()]
    if len(dup):
        raise ValueError(f"data/claims: duplicated claim_id {sorted(set(dup))}")
    return table[CLAIM_COLUMNS]


def load_claims(*, source: str | None = None, tables: list[str] | str | None = None) -> pd.DataFrame:
    """Stated figures, optionally only of one ``source`` (``case_study``/``kareto``) or some ``tables``."""
    table = _all_claims()
    if source is not None:
        check_choice("source", source, sorted(table["source"].unique()))
        table = table[table["source"] == source]
    if tables is not None:
        tables = [tables] if isinstance(tables, str) else list(tables)
        for t in tables:
            check_choice("tables", t, sorted(_all_claims()["table"].unique()))
        table = table[table["table"].isin(tables)]
    return table.reset_index(drop=True)


def claim(claim_id: str) -> pd.Series:
    """One stated figure by id."""
    table = _all_claims()
    rows = table[table["claim_id"] == claim_id]
    if rows.empty:
        raise ParameterError("claim_id", claim_id, "an id present in data/claims/*.csv")
    return rows.iloc[0]


def stated_value(claim_id: str) -> float:
    """The stated figure of ``claim_id`` as a float, in its claim's unit (NaN for qualitative claims)."""
    return float(claim(claim_id)["stated_value"])


@dataclass(frozen=True)
class Computed:
    """What the model computes for one stated figure.

    Attributes
    ----------
    claim_id : str
        The stated figure this answers.
    value : float
        The model's figure, in ``unit`` (NaN when it cannot be computed).
    unit : str
        Unit of ``value``; converted to the claim's unit when they differ by scale only.
    how : str
        The arithmetic or the model call, in one line.
    verdict : str or None
        Force ``"impossible"`` or ``"not reproducible"`` (with ``how`` saying why); ``None`` lets the
        tolerance decide between consistent and inconsistent.
    tolerance : float or None
        Relative difference accepted as consistent (default :data:`DEFAULT_TOLERANCE`).
    kind : str
        ``"estimate"`` (default: the model's figure should equal the stated one), ``"upper_bound"`` (the
        model's figure is a physical maximum: a stated figure at or below it is consistent, above it
        impossible) or ``"lower_bound"`` (a physical minimum: at or above consistent, below impossible).
    """

    claim_id: str
    value: float
    unit: str
    how: str
    verdict: str | None = None
    tolerance: float | None = None
    kind: str = "estimate"

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        if self.verdict is not None:
            check_choice("verdict", self.verdict, VERDICTS)
        if self.tolerance is not None:
            check_positive("tolerance", self.tolerance)
        if not self.how:
            raise ParameterError("how", self.how, "a non-empty one-line reason")


def relative_difference(stated: float, computed: float) -> float:
    """(computed − stated) / |stated|; NaN if either is missing or the stated figure is 0."""
    if stated is None or computed is None or not math.isfinite(stated) or not math.isfinite(computed) \
            or stated == 0:
        return math.nan
    return (computed - stated) / abs(stated)


def verdict_for(stated: float, computed: float, tolerance: float = DEFAULT_TOLERANCE,
                kind: str = "estimate") -> str:
    """``consistent`` if |relative difference| ≤ tolerance, ``inconsistent`` if larger,
    ``not reproducible`` if there is nothing to compare. For ``kind="upper_bound"`` a stated figure above
    computed × (1 + tolerance) is ``impossible`` (and anything below consistent); for ``"lower_bound"`` one
    below computed × (1 − tolerance) is."""
    check_choice("kind", kind, KINDS)
    if stated is None or computed is None or not (math.isfinite(stated) and math.isfinite(computed)):
        return "not reproducible"
    if kind == "upper_bound":
        return "consistent" if stated <= computed + tolerance * abs(computed) else "impossible"
    if kind == "lower_bound":
        return "consistent" if stated >= computed - tolerance * abs(computed) else "impossible"
    if stated == 0:
        return "consistent" if abs(computed) <= tolerance else "inconsistent"
    return "consistent" if abs(relative_difference(stated, computed)) <= tolerance else "inconsistent"


AUDIT_COLUMNS = ["claim_id", "table", "row", "column", "stated_value", "computed_value", "unit",
                 "difference", "relative_difference", "kind", "verdict", "reason", "quote"]


def audit(computed: list[Computed]) -> pd.DataFrame:
    """Put each computed figure beside its stated figure.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AUDIT_COLUMNS`, in the order of ``computed``; ``difference`` = computed − stated (claim
        unit), ``relative_difference`` = difference / |stated|.
    """
    rows = []
    seen = set()
    for c in computed:
        if c.claim_id in seen:
            raise ParameterError("computed", c.claim_id, "each claim_id once")
        seen.add(c.claim_id)
        stated = claim(c.claim_id)
        unit = stated["unit"]
        value = c.value
        if value is not None and math.isfinite(value) and c.unit != unit:
            value = convert(value, c.unit, unit)
        s = stated["stated_value"]
        tol = DEFAULT_TOLERANCE if c.tolerance is None else c.tolerance
        verdict = c.verdict or verdict_for(s, value, tol, c.kind)
        diff = value - s if (math.isfinite(s) and value is not None and math.isfinite(value)) else math.nan
        rows.append({
            "claim_id": c.claim_id, "table": stated["table"], "row": stated["row"], "column": stated["column"],
            "stated_value": s, "computed_value": value, "unit": unit, "difference": diff,
            "relative_difference": relative_difference(s, value), "kind": c.kind, "verdict": verdict,
            "reason": c.how,
            "quote": stated["quote"],
        })
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def verdict_counts(audit_table: pd.DataFrame) -> pd.Series:
    """Number of audited figures per verdict (all four verdicts listed, zeros included)."""
    return audit_table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


def format_audit(audit_table: pd.DataFrame) -> pd.DataFrame:
    """The audit for display: numbers rounded to 4 significant digits, relative difference in %."""
    out = audit_table[["claim_id", "row", "column", "stated_value", "computed_value", "unit",
                       "relative_difference", "verdict", "reason"]].copy()
    out["relative_difference"] = (100 * out["relative_difference"]).map(
        lambda v: "" if not np.isfinite(v) else f"{v:+.1f}%")
    for col in ("stated_value", "computed_value"):
        out[col] = out[col].map(lambda v: "" if v is None or not np.isfinite(v) else f"{v:.4g}")
    return out.rename(columns={"relative_difference": "difference"})
