"""The audit's verdicts: each stated figure of the source documents beside what the model computes from
the inputs the source states, their difference and a verdict with a one-line reason.

Verdicts
--------
``consistent``
    the model, from the source's stated inputs, reproduces the stated figure within the tolerance (or,
    where the figure rests on a choice the source leaves open, the figure lies inside the range the model
    computes over the plausible values of that choice).
``inconsistent``
    the model computes a figure outside the tolerance (outside the whole range).
``impossible``
    the stated figure lies beyond a physical bound the model computes (``kind="upper_bound"`` or
    ``"lower_bound"``): never typed, always derived from the bound.
``not reproducible``
    the source does not give what is needed to compute it, or no range can be bounded (or it is
    qualitative).
``given``
    the figure is an input of the source, a definition, or a restatement of another stated figure: there
    is nothing to check, and it is counted apart from the checkable figures.

A computed value that is a stated figure read back with no model call or arithmetic in between (a
:class:`~model.audit.claims.Stated` reaching :func:`audit` unchanged) cannot be judged ``consistent`` or
``inconsistent``: :func:`audit` raises. Such a row is ``given``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.audit.claims import (CLAIM_COLUMNS, CLAIMS_DIR, Derived, Stated, claim, claim_ids_of,  # noqa: F401
                                is_read_back, load_claims, stated_value)
from model.checks import ParameterError, check_choice, check_positive

#: Verdicts of checkable figures, then ``given`` (inputs, definitions, restatements), counted apart.
CHECKED_VERDICTS = ("consistent", "inconsistent", "impossible", "not reproducible")
GIVEN = "given"
VERDICTS = CHECKED_VERDICTS + (GIVEN,)
#: Verdicts a :class:`Computed` may set by itself; the others follow from the numbers.
SETTABLE_VERDICTS = (GIVEN, "not reproducible")
#: How a computed figure relates to the stated one (see :class:`Computed`).
KINDS = ("estimate", "upper_bound", "lower_bound", "range")
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


@dataclass(frozen=True)
class Computed:
    """What the model computes for one stated figure.

    Attributes
    ----------
    claim_id : str
        The stated figure this answers.
    value : float
        The model's figure, in ``unit`` (NaN when it cannot be computed). For ``kind="range"`` the model's
        central figure (or NaN).
    unit : str
        Unit of ``value``; converted to the claim's unit when they differ by scale only.
    how : str
        The arithmetic or the model call, in one line.
    verdict : str or None
        Only ``"given"`` (an input, a definition or a restatement: ``how`` says of what) or
        ``"not reproducible"`` (``how`` says what is missing); ``None`` lets the numbers decide.
    tolerance : float or None
        Relative difference accepted as consistent (default :data:`DEFAULT_TOLERANCE`).
    kind : str
        ``"estimate"`` (the model's figure should equal the stated one), ``"upper_bound"`` (the model's
        figure is a physical maximum: a stated figure at or below it is consistent, above it impossible),
        ``"lower_bound"`` (a physical minimum) or ``"range"`` (the figure rests on a choice the source leaves
        open: ``low``–``high`` is what the model computes over that choice's plausible values; a stated
        figure inside it is consistent, outside it inconsistent).
    low, high : float or None
        The range's ends for ``kind="range"`` (in ``unit``).
    reads : tuple of str
        Claim ids the computation read, besides those tracked automatically through
        :func:`~model.audit.claims.stated_value` arithmetic.
    """

    claim_id: str
    value: float
    unit: str
    how: str
    verdict: str | None = None
    tolerance: float | None = None
    kind: str = "estimate"
    low: float | None = None
    high: float | None = None
    reads: tuple = field(default=())

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        if self.verdict is not None:
            check_choice("verdict", self.verdict, SETTABLE_VERDICTS)
        if self.tolerance is not None:
            check_positive("tolerance", self.tolerance)
        if not self.how:
            raise ParameterError("how", self.how, "a non-empty one-line reason")
        if self.kind == "range":
            if self.low is None or self.high is None or not (self.low <= self.high):
                raise ParameterError("low, high", (self.low, self.high), "two numbers with low <= high for kind='range'")
        elif self.low is not None or self.high is not None:
            raise ParameterError("low, high", (self.low, self.high), "None unless kind='range'")

    @property
    def claim_ids_read(self) -> tuple:
        """Every claim id this value read (tracked and declared), sorted."""
        ids = set(self.reads) | set(claim_ids_of(self.value))
        for end in (self.low, self.high):
            ids |= set(claim_ids_of(end))
        return tuple(sorted(ids))


def relative_difference(stated: float, computed: float) -> float:
    """(computed − stated) / |stated|; NaN if either is missing or the stated figure is 0."""
    if stated is None or computed is None or not math.isfinite(stated) or not math.isfinite(computed) \
            or stated == 0:
        return math.nan
    return (computed - stated) / abs(stated)


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def verdict_for(stated: float, computed: float, tolerance: float = DEFAULT_TOLERANCE,
                kind: str = "estimate", *, low: float | None = None, high: float | None = None) -> str:
    """``consistent`` if |relative difference| ≤ tolerance, ``inconsistent`` if larger,
    ``not reproducible`` if there is nothing to compare. For ``kind="upper_bound"`` a stated figure above
    computed × (1 + tolerance) is ``impossible`` (and anything below consistent); for ``"lower_bound"`` one
    below computed × (1 − tolerance) is. For ``"range"``, consistent iff
    low × (1 − tolerance) ≤ stated ≤ high × (1 + tolerance) (ends of either sign widened outward)."""
    check_choice("kind", kind, KINDS)
    if kind == "range":
        if not _finite(stated, low, high):
            return "not reproducible"
        lo, hi = low - tolerance * abs(low), high + tolerance * abs(high)
        return "consistent" if lo <= stated <= hi else "inconsistent"
    if not _finite(stated, computed):
        return "not reproducible"
    if kind == "upper_bound":
        return "consistent" if stated <= computed + tolerance * abs(computed) else "impossible"
    if kind == "lower_bound":
        return "consistent" if stated >= computed - tolerance * abs(computed) else "impossible"
    if stated == 0:
        return "consistent" if abs(computed) <= tolerance else "inconsistent"
    return "consistent" if abs(relative_difference(stated, computed)) <= tolerance else "inconsistent"


AUDIT_COLUMNS = ["claim_id", "table", "row", "column", "stated_value", "computed_value", "unit",
                 "difference", "relative_difference", "kind", "tolerance", "low", "high", "verdict", "reason",
                 "reads", "read_back", "quote"]


def _in_unit(value, from_unit: str, to_unit: str):
    if value is not None and math.isfinite(value) and from_unit != to_unit:
        return convert(float(value), from_unit, to_unit)
    return value


def audit(computed: list[Computed]) -> pd.DataFrame:
    """Put each computed figure beside its stated figure.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AUDIT_COLUMNS`, in the order of ``computed``; ``difference`` = computed − stated (claim
        unit), ``relative_difference`` = difference / |stated|; ``reads`` the claim ids the value read
        (space-separated); ``read_back`` whether the value is a stated figure passed through unchanged.

    Raises
    ------
    ParameterError
        if a claim is answered twice, or a value read back unchanged would be judged by the numbers (it
        must be ``verdict="given"``).
    """
    rows = []
    seen = set()
    for c in computed:
        if c.claim_id in seen:
            raise ParameterError("computed", c.claim_id, "each claim_id once")
        seen.add(c.claim_id)
        stated = claim(c.claim_id)
        unit = stated["unit"]
        read_back = is_read_back(c.value)
        if read_back and c.verdict is None:
            raise ParameterError(f"Computed({c.claim_id!r}).value", f"stated figure {c.value.claim_id} read back",
                                 "a value reached by a model call or arithmetic, or verdict='given'")
        value = _in_unit(c.value, c.unit, unit)
        low, high = _in_unit(c.low, c.unit, unit), _in_unit(c.high, c.unit, unit)
        s = stated["stated_value"]
        tol = DEFAULT_TOLERANCE if c.tolerance is None else c.tolerance
        verdict = c.verdict or verdict_for(s, value, tol, c.kind, low=low, high=high)
        ok = math.isfinite(s) and value is not None and math.isfinite(value)
        diff = float(value) - s if ok else math.nan
        rows.append({
            "claim_id": c.claim_id, "table": stated["table"], "row": stated["row"], "column": stated["column"],
            "stated_value": s, "computed_value": math.nan if value is None else float(value), "unit": unit,
            "difference": diff, "relative_difference": relative_difference(s, value), "kind": c.kind,
            "tolerance": math.nan if c.verdict else tol,
            "low": math.nan if low is None else float(low), "high": math.nan if high is None else float(high),
            "verdict": verdict, "reason": c.how, "reads": " ".join(c.claim_ids_read), "read_back": read_back,
            "quote": stated["quote"],
        })
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def verdict_counts(audit_table: pd.DataFrame) -> pd.Series:
    """Number of audited figures per verdict (all five verdicts listed, zeros included)."""
    return audit_table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


def _num(v) -> str:
    """Four significant digits with thousands separators, never in scientific notation."""
    if v is None or not np.isfinite(v):
        return ""
    if v == 0:
        return "0"
    decimals = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def judged_against(r) -> str:
    """What a row's stated figure was judged against, in words (tolerance, range or bound; empty if set)."""
    if r["verdict"] in SETTABLE_VERDICTS or "tolerance" not in r or pd.isna(r["tolerance"]):
        return ""
    if r["kind"] == "range":
        return f"range {_num(r['low'])} to {_num(r['high'])} ± {100 * r['tolerance']:.0f}%"
    if r["kind"] == "upper_bound":
        return f"at most the bound + {100 * r['tolerance']:.0f}%"
    if r["kind"] == "lower_bound":
        return f"at least the bound − {100 * r['tolerance']:.0f}%"
    return f"± {100 * r['tolerance']:.0f}%"


def format_audit(audit_table: pd.DataFrame) -> pd.DataFrame:
    """The audit for display: numbers to 4 significant digits, relative difference in %, and what the
    stated figure was judged against (tolerance, range or bound)."""
    out = pd.DataFrame({
        "claim": audit_table["claim_id"], "row": audit_table["row"], "column": audit_table["column"],
        "stated": audit_table["stated_value"].map(_num), "computed": audit_table["computed_value"].map(_num),
        "unit": audit_table["unit"],
        "difference": (100 * audit_table["relative_difference"]).map(lambda v: "" if not np.isfinite(v) else f"{v:+.1f}%"),
        "judged against": audit_table.apply(judged_against, axis=1) if len(audit_table) else [],
        "verdict": audit_table["verdict"], "reason": audit_table["reason"],
    })
    return out
