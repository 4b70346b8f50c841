"""The audit's verdicts: each stated figure of the source documents beside what the model computes from
the inputs the source states, their difference and a verdict with a one-line reason.

Verdicts (:data:`VERDICT_GLOSSARY`)
-----------------------------------
``consistent``
    the model, from the source's stated inputs and under the audit's readings, reproduces the stated figure
    within the tolerance; or the figure lies inside the range the model computes over a choice the source
    leaves open and that range is narrow enough to decide (high ÷ low at most the study's rule,
    ``data/claims/rules.csv``); or it lies within a physical bound.
``consistent arithmetic, inconsistent inputs``
    the arithmetic holds, but it rests on stated figures that are judged inconsistent, impossible or
    themselves "consistent arithmetic, inconsistent inputs" in their own rows (column ``inputs_flagged``):
    counted apart from ``consistent``.
``inconsistent``
    the model computes a figure outside the tolerance (outside the whole range, however wide).
``impossible``
    the stated figure lies beyond a physical bound the model computes (``kind="upper_bound"`` or
    ``"lower_bound"``), a bound that holds under every mechanism the source describes (each bound row says
    which, ``holds_under``): never typed, always derived from the bound.
``not reproducible``
    the source does not give what is needed to compute it (a measurement, a forecast, a qualitative entry,
    an unpublished setting), or it lies inside a range too wide to decide ("depends on" the open choice).
``given``
    the figure is an input, a design input, a chosen threshold or interval, a definition, a restatement of
    another stated figure, or the audit's reading of an ambiguous quantity: there is nothing to check, and it
    is counted apart from the checkable figures.

The kind of a row (its ``role``, :data:`ROLES`) fixes the verdict of the rows that are not computed: one label
per kind. A computed value that is a stated figure read back with no model call or arithmetic in between (a
:class:`~model.audit.claims.Stated` reaching :func:`audit` unchanged) cannot be judged ``consistent`` or
``inconsistent``: :func:`audit` raises. Such a row is ``given``.

Readings
--------
A row that depends on a quantity the sources leave ambiguous (:mod:`model.audit.readings`) is computed under
the audit's reading of it, names the quantity and gives its figure under every other alternative
(``under``); :func:`audit` judges it under each, and where a reading changes the verdict the reason says so.
A row whose figure was computed under another reading without saying so, or that reads the stated figures
defining another reading, is an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Mapping

import numpy as np
import pandas as pd

import model.audit.readings as R
from model.audit.claims import (CLAIM_COLUMNS, CLAIMS_DIR, Derived, Stated, claim, claim_ids_of,  # noqa: F401
                                is_read_back, load_claims, stated_value)
from model.audit.rules import rule
from model.checks import ParameterError, check_choice, check_positive

#: The verdict of a figure whose arithmetic holds on inputs that fail in their own rows.
INCONSISTENT_INPUTS = "consistent arithmetic, inconsistent inputs"
#: Verdicts of checkable figures, then ``given`` (inputs, definitions, restatements), counted apart.
CHECKED_VERDICTS = ("consistent", INCONSISTENT_INPUTS, "inconsistent", "impossible", "not reproducible")
GIVEN = "given"
VERDICTS = CHECKED_VERDICTS + (GIVEN,)
#: Verdicts a :class:`Computed` may set by itself (through its role); the others follow from the numbers.
SETTABLE_VERDICTS = (GIVEN, "not reproducible")
#: Verdicts of a figure that fails as the input of another.
FAILED_VERDICTS = ("inconsistent", "impossible", INCONSISTENT_INPUTS)
#: Relative difference accepted as "consistent" when a claim sets no tolerance of its own (data/claims/rules.csv).
DEFAULT_TOLERANCE = rule("default_tolerance")
#: Widest range (high ÷ low) that can decide a verdict (data/claims/rules.csv).
RANGE_DECISIVE_RATIO = rule("range_decisive_ratio")
#: What each verdict means, in one sentence (the book's verdict glossary).
VERDICT_GLOSSARY = {
    "consistent": "The model reproduces the stated figure from the inputs the source states, under the audit's "
                  f"readings, within the tolerance ({DEFAULT_TOLERANCE:.0%} unless a row sets its own); or "
                  "the figure lies inside a range the model computes over an open choice that is narrow enough "
                  f"to decide (high ÷ low ≤ {RANGE_DECISIVE_RATIO:g}); or it lies within a physical bound.",
    INCONSISTENT_INPUTS: "The arithmetic holds, but the stated figures it adds up or scales are themselves judged "
                         "inconsistent, impossible or of this verdict in their own rows (listed in the row); "
                         "counted apart from consistent.",
    "inconsistent": "The model's figure differs from the stated one by more than the tolerance, or the stated "
                    "figure lies outside the whole range of an open choice.",
    "impossible": "The stated figure lies beyond a physical bound that holds under every mechanism the source "
                  "describes (each bound row says which).",
    "not reproducible": "The source does not give what is needed to recompute the figure (a measurement, a "
                        "forecast, a qualitative entry, an unpublished setting), or the figure lies inside a "
                        "range too wide to decide: it depends on the open choice the row names.",
    GIVEN: "An input, a design input, a chosen threshold or interval, a definition, a restatement of another "
           "stated figure, or the audit's reading of an ambiguous quantity: nothing to check, counted apart.",
}

#: The kinds of row (``role``): those that are ``given``, those that are ``not reproducible``, and ``computed``
#: (the numbers decide).
COMPUTED = "computed"
GIVEN_ROLES = {
    "input": "a figure of the scenario or the service the source takes as given (sessions, users, shares, prices)",
    "design input": "a parameter of a design the source chooses (tier sizes, budgets, layers, regions, spares)",
    "threshold": "a chosen limit, target, cap, SLA or alert level",
    "interval": "a chosen monitoring interval or planning horizon",
    "definition": "a baseline or a definition ('standard', FP16 as the reference, a format's bytes)",
    "restatement": "another stated figure restated (judged in its own row, named in restates)",
    "reading": "the stated figure the audit takes as its reading of an ambiguous quantity (data/claims/readings.csv)",
}
NOT_REPRODUCIBLE_ROLES = {
    "measurement": "a measurement the source reports without the data or the setting to recompute it",
    "forecast": "a forecast of the roadmap",
    "qualitative": "a qualitative entry: a name, a choice, a description",
    "unpublished": "a result resting on a setting or a study that is not published",
}
ROLES = {COMPUTED: "computed by the model or the arithmetic: the numbers decide", **GIVEN_ROLES,
         **NOT_REPRODUCIBLE_ROLES}
#: How a computed figure relates to the stated one (see :class:`Computed`).
KINDS = ("estimate", "upper_bound", "lower_bound", "range")
BOUNDS = ("upper_bound", "lower_bound")
#: Figures of the sources that state one quantity (data/claims/same_quantity.csv).
SAME_QUANTITY_FILE = CLAIMS_DIR / "same_quantity.csv"

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


def role_verdict(role: str) -> str | None:
    """The verdict a row's role fixes (``given``, ``not reproducible``), or None when the numbers decide."""
    check_choice("role", role, list(ROLES))
    if role in GIVEN_ROLES:
        return GIVEN
    if role in NOT_REPRODUCIBLE_ROLES:
        return "not reproducible"
    return None


@dataclass(frozen=True)
class Computed:
    """What the model computes for one stated figure.

    Attributes
    ----------
    claim_id : str
        The stated figure this answers.
    value : float
        The model's figure, in ``unit`` (NaN when it cannot be computed), under the audit's reading of every
        ambiguous quantity. For ``kind="range"`` the model's central figure (or NaN).
    unit : str
        Unit of ``value``; converted to the claim's unit when they differ by scale only.
    how : str
        The arithmetic or the model call, in one line.
    verdict : str or None
        Optional, and only as a check of ``role``: ``"given"`` or ``"not reproducible"``.
    tolerance : float or None
        Relative difference accepted as consistent (default :data:`DEFAULT_TOLERANCE`).
    kind : str
        ``"estimate"`` (the model's figure should equal the stated one), ``"upper_bound"`` (the model's
        figure is a physical maximum: a stated figure at or below it is consistent, above it impossible),
        ``"lower_bound"`` (a physical minimum) or ``"range"`` (the figure rests on a choice the source leaves
        open: ``low``–``high`` is what the model computes over that choice's plausible values).
    low, high : float or None
        The range's ends for ``kind="range"`` (in ``unit``).
    reads : tuple of str
        Claim ids the computation read, besides those tracked automatically through
        :func:`~model.audit.claims.stated_value` arithmetic.
    role : str
        What kind of figure this is (:data:`ROLES`): ``"computed"`` (the numbers decide), one of
        :data:`GIVEN_ROLES` (verdict ``given``) or of :data:`NOT_REPRODUCIBLE_ROLES` (``not reproducible``).
    restates : str or None
        For ``role="restatement"``: the claim restated.
    readings : tuple of str
        Ambiguous quantities (:func:`model.audit.readings.quantities`) the figure depends on, besides those
        its tracked values or ``under`` name.
    under : mapping
        ``{(quantity, alternative): Alt}``: the figure under every alternative the audit does not use, of
        every quantity the row depends on.
    depends_on : str
        For ``kind="range"``: the open choice the range spans, in words (required).
    holds_under : str
        For a bound: why it holds under every mechanism the source describes, in words (required).
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
    role: str = COMPUTED
    restates: str | None = None
    readings: tuple = field(default=())
    under: Mapping | tuple = field(default=())
    depends_on: str = ""
    holds_under: str = ""

    def __post_init__(self):
        check_choice("kind", self.kind, KINDS)
        if self.verdict is not None:
            check_choice("verdict", self.verdict, SETTABLE_VERDICTS)
        implied = role_verdict(self.role)
        if self.verdict is not None and self.verdict != implied:
            raise ParameterError("role", self.role, f"the kind of figure that is {self.verdict!r}: one of "
                                 f"{sorted(GIVEN_ROLES if self.verdict == GIVEN else NOT_REPRODUCIBLE_ROLES)}")
        object.__setattr__(self, "verdict", implied)
        if (self.role == "restatement") != bool(self.restates):
            raise ParameterError("restates", self.restates, "the claim restated, for role='restatement' only")
        if self.tolerance is not None:
            check_positive("tolerance", self.tolerance)
        if not self.how:
            raise ParameterError("how", self.how, "a non-empty one-line reason")
        if self.kind == "range":
            if self.low is None or self.high is None or not (self.low <= self.high):
                raise ParameterError("low, high", (self.low, self.high), "two numbers with low <= high for kind='range'")
            if not self.depends_on:
                raise ParameterError("depends_on", self.depends_on, "the open choice the range spans, for kind='range'")
        elif self.low is not None or self.high is not None:
            raise ParameterError("low, high", (self.low, self.high), "None unless kind='range'")
        if self.kind in BOUNDS and not self.holds_under:
            raise ParameterError("holds_under", self.holds_under,
                                 "why the bound holds under every mechanism the source describes")
        for q in self.readings:
            check_choice("readings", q, R.quantities())
        under = dict(self.under) if not isinstance(self.under, tuple) else dict(self.under)
        for key, alt in under.items():
            if not (isinstance(key, tuple) and len(key) == 2):
                raise ParameterError("under", key, "(quantity, alternative) keys")
            q, a = key
            check_choice("under quantity", q, R.quantities())
            if a not in R.other_readings(q):
                raise ParameterError("under", key, f"an alternative of {q} other than the audit's "
                                     f"({R.other_readings(q)})")
            if not isinstance(alt, R.Alt):
                raise ParameterError("under", key, "an Alt (the figure under that reading)")
            kind = alt.kind or self.kind
            check_choice("under kind", kind, KINDS)
            if (kind == "range") != (alt.low is not None and alt.high is not None):
                raise ParameterError("under", key, "low and high exactly when the figure is a range")
            wrong = {t for t in R.tags_of(alt.value, alt.low, alt.high) if t[0] == q and t[1] != a}
            if wrong:
                raise ParameterError("under", key, f"a figure computed under {a}, not {sorted(wrong)}")
        object.__setattr__(self, "under", tuple(sorted(under.items())))

    @property
    def under_map(self) -> dict:
        """``under`` as a dict ``{(quantity, alternative): Alt}``."""
        return dict(self.under)

    @property
    def claim_ids_read(self) -> tuple:
        """Every claim id this value read (tracked and declared), sorted."""
        ids = set(self.reads) | set(claim_ids_of(self.value))
        for end in (self.low, self.high):
            ids |= set(claim_ids_of(end))
        return tuple(sorted(ids))

    @property
    def reading_tags(self) -> frozenset:
        """The ``(quantity, alternative)`` readings the figure's tracked values carry."""
        return R.tags_of(self.value, self.low, self.high)


def relative_difference(stated: float, computed: float) -> float:
    """(computed − stated) / |stated|; NaN if either is missing or the stated figure is 0."""
    if stated is None or computed is None or not math.isfinite(stated) or not math.isfinite(computed) \
            or stated == 0:
        return math.nan
    return (computed - stated) / abs(stated)


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def range_ratio(low: float, high: float) -> float:
    """How wide a range is: high ÷ low for ends of one sign (larger magnitude over smaller); infinite for a
    range that reaches or crosses 0; NaN if an end is missing."""
    if not _finite(low, high):
        return math.nan
    if low == 0 or high == 0 or (low < 0) != (high < 0):
        return math.inf
    a, b = abs(low), abs(high)
    return max(a, b) / min(a, b)


def verdict_for(stated: float, computed: float, tolerance: float = DEFAULT_TOLERANCE,
                kind: str = "estimate", *, low: float | None = None, high: float | None = None,
                max_ratio: float = RANGE_DECISIVE_RATIO) -> str:
    """``consistent`` if |relative difference| ≤ tolerance, ``inconsistent`` if larger,
    ``not reproducible`` if there is nothing to compare. For ``kind="upper_bound"`` a stated figure above
    computed × (1 + tolerance) is ``impossible`` (and anything below consistent); for ``"lower_bound"`` one
    below computed × (1 − tolerance) is. For ``"range"``: outside low × (1 − tolerance) … high × (1 +
    tolerance) (ends of either sign widened outward) ``inconsistent``, however wide the range; inside,
    ``consistent`` only if :func:`range_ratio` ≤ ``max_ratio`` (the range could have rejected it), else
    ``not reproducible`` (it depends on the open choice)."""
    check_choice("kind", kind, KINDS)
    if kind == "range":
        if not _finite(stated, low, high):
            return "not reproducible"
        lo, hi = low - tolerance * abs(low), high + tolerance * abs(high)
        if not lo <= stated <= hi:
            return "inconsistent"
        return "consistent" if range_ratio(low, high) <= max_ratio else "not reproducible"
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
                 "difference", "relative_difference", "kind", "tolerance", "low", "high", "range_ratio",
                 "depends_on", "verdict", "role", "restates", "readings", "verdict_by_reading",
                 "verdict_depends_on_reading", "changed_by_readings", "inputs_flagged", "holds_under", "reason", "reads",
                 "read_back", "quote"]


def _in_unit(value, from_unit: str, to_unit: str):
    if value is not None and math.isfinite(value) and from_unit != to_unit:
        return convert(float(value), from_unit, to_unit)
    return value


def _num(v) -> str:
    """Four significant digits with thousands separators, never in scientific notation."""
    if v is None or not np.isfinite(v):
        return ""
    if v == 0:
        return "0"
    decimals = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    text = f"{v:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@lru_cache(maxsize=1)
def same_quantity_groups() -> pd.DataFrame:
    """Groups of claims that state one quantity (``data/claims/same_quantity.csv``: group, claim_ids,
    quantity, note)."""
    table = pd.read_csv(SAME_QUANTITY_FILE, keep_default_na=False, dtype=str)
    for ids in table["claim_ids"]:
        for cid in ids.split():
            claim(cid)
    return table


def _defined_here(claim_id: str) -> set:
    """The readings the stated figure ``claim_id`` sets (it is the first claim of their ``defined_by``)."""
    return {(q, a) for q, a in R.definitions() if R.setter(q, a) == claim_id}


def _row_readings(c: Computed, reads: tuple) -> dict:
    """``{quantity: alternatives needed}`` a row depends on, checking that its figure uses the audit's
    reading of each (by its tags and by the stated figures that define a reading)."""
    used = set(c.reading_tags)
    for (q, a), ids in R.definitions().items():
        if ids <= set(reads) - {c.claim_id}:
            used.add((q, a))
    foreign = sorted((q, a) for q, a in used if a != R.audit_reading(q))
    if foreign:
        q, a = foreign[0]
        raise ParameterError(f"Computed({c.claim_id!r}).value", f"computed under {q}={a}",
                             f"the audit's reading {q}={R.audit_reading(q)} (give the figure under {a} in "
                             "`under`, where the audit names it)")
    names = {q for q, _ in used} | set(c.readings) | {q for q, _ in c.under_map} | {q for q, _ in
                                                                                      _defined_here(c.claim_id)}
    return {q: R.other_readings(q) for q in sorted(names)}


def _judge(stated, value, tol, kind, low, high) -> str:
    return verdict_for(stated, value, tol, kind, low=low, high=high)


def audit(computed: list[Computed], *, inputs: Mapping | None = None) -> pd.DataFrame:
    """Put each computed figure beside its stated figure and judge it.

    Parameters
    ----------
    computed : list of Computed
        One per claim.
    inputs : mapping, optional
        ``{claim_id: verdict}`` of claims outside ``computed`` that rows read (to carry their verdicts
        through); a claim neither here nor in ``computed`` counts as unchecked.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AUDIT_COLUMNS`, in the order of ``computed``; ``difference`` = computed − stated (claim
        unit), ``relative_difference`` = difference / |stated|; ``range_ratio`` high ÷ low of a range;
        ``readings`` the ambiguous quantities the row depends on, at the audit's reading (``q=alt``, ``;``
        between); ``verdict_by_reading`` its verdict and figure under every alternative of them;
        ``verdict_depends_on_reading`` whether another reading changes the verdict, ``changed_by_readings`` the
        quantities whose other readings do (space-separated); ``inputs_flagged`` the
        claims it reads that fail in their own rows; ``reads`` the claim ids the value
        read (space-separated); ``read_back`` whether the value is a stated figure passed through unchanged.
        The reason is ``how`` followed by what the rules add: why a bound holds, the open choice a range
        depends on, the failing inputs, and the verdicts under other readings where they differ.

    Raises
    ------
    ParameterError
        if a claim is answered twice; a value read back unchanged would be judged by the numbers (it must be
        ``given``); a row's figure uses a reading other than the audit's, or lacks its figure under an
        alternative of a quantity it depends on; a row sets the audit's reading but is not ``role="reading"``;
        or two stated figures of one quantity (``data/claims/same_quantity.csv``) that differ are both plain
        ``consistent``.
    """
    rows, seen, specs, by_reading = [], set(), {}, {}
    for c in computed:
        if c.claim_id in seen:
            raise ParameterError("computed", c.claim_id, "each claim_id once")
        seen.add(c.claim_id)
        stated = claim(c.claim_id)
        unit = stated["unit"]
        read_back = is_read_back(c.value)
        if read_back and c.verdict is None:
            raise ParameterError(f"Computed({c.claim_id!r}).value", f"stated figure {c.value.claim_id} read back",
                                 "a value reached by a model call or arithmetic, or a given role")
        value = _in_unit(c.value, c.unit, unit)
        low, high = _in_unit(c.low, c.unit, unit), _in_unit(c.high, c.unit, unit)
        s = stated["stated_value"]
        tol = DEFAULT_TOLERANCE if c.tolerance is None else c.tolerance
        reads = c.claim_ids_read
        needed = _row_readings(c, reads)
        defines = _defined_here(c.claim_id)
        audit_defined = {(q, a) for q, a in defines if a == R.audit_reading(q)}
        if audit_defined and c.role != "reading":
            raise ParameterError(f"Computed({c.claim_id!r}).role", c.role,
                                 f"'reading': it sets the audit's reading {sorted(audit_defined)}")
        if c.role == "reading" and not audit_defined:
            raise ParameterError(f"Computed({c.claim_id!r}).role", c.role, "a reading set by this figure")
        verdict = c.verdict or _judge(s, value, tol, c.kind, low, high)
        alts = {}
        judged_by_numbers = c.role in (COMPUTED, "reading")
        for q, others in needed.items():
            for a in others:
                if (q, a) in defines:
                    alts[(q, a)] = (GIVEN, math.nan, None, None)
                    continue
                if (q, a) not in c.under_map:
                    raise ParameterError(f"Computed({c.claim_id!r}).under", f"no figure under {q}={a}",
                                         f"the figure under every alternative of {q} ({others})")
                alt = c.under_map[(q, a)]
                v = _in_unit(alt.value, c.unit, unit)
                lo, hi = _in_unit(alt.low, c.unit, unit), _in_unit(alt.high, c.unit, unit)
                if not judged_by_numbers:
                    alts[(q, a)] = (verdict, v, lo, hi)
                    continue
                alts[(q, a)] = (_judge(s, v, tol, alt.kind or c.kind, lo, hi), v, lo, hi)
        by_reading[c.claim_id] = (needed, alts)
        specs[c.claim_id] = c
        ok = math.isfinite(s) and value is not None and math.isfinite(value)
        rows.append({
            "claim_id": c.claim_id, "table": stated["table"], "row": stated["row"], "column": stated["column"],
            "stated_value": s, "computed_value": math.nan if value is None else float(value), "unit": unit,
            "difference": float(value) - s if ok else math.nan, "relative_difference": relative_difference(s, value),
            "kind": c.kind, "tolerance": math.nan if c.role != COMPUTED and c.role != "reading" else tol,
            "low": math.nan if low is None else float(low), "high": math.nan if high is None else float(high),
            "range_ratio": range_ratio(low, high) if c.kind == "range" else math.nan,
            "depends_on": c.depends_on, "verdict": verdict, "role": c.role, "restates": c.restates or "",
            "readings": "; ".join(f"{q}={R.audit_reading(q)}" for q in needed), "verdict_by_reading": "",
            "verdict_depends_on_reading": False, "changed_by_readings": "", "inputs_flagged": "", "holds_under": c.holds_under, "reason": c.how, "reads": " ".join(reads),
            "read_back": read_back, "quote": stated["quote"],
        })
    verdicts = {r["claim_id"]: r["verdict"] for r in rows}
    inputs = dict(inputs or {})
    _carry_inputs(rows, specs, verdicts, inputs)
    for r in rows:
        cid = r["claim_id"]
        c = specs[cid]
        r["verdict"] = verdicts[cid]
        bad = _failing_inputs(r, specs, verdicts, inputs)
        r["inputs_flagged"] = " ".join(bad)
        needed, alts = by_reading[cid]
        if bad:
            alts = {k: ((INCONSISTENT_INPUTS if v == "consistent" else v), *rest) for k, (v, *rest) in alts.items()}
        r["verdict_by_reading"] = _by_reading_text(needed, r["verdict"], r["computed_value"], alts)
        r["changed_by_readings"] = " ".join(q for q in needed if any(alts[(q, a)][0] != r["verdict"]
                                                                       for a in needed[q]))
        r["verdict_depends_on_reading"] = bool(r["changed_by_readings"])
        r["reason"] = _reason(c, r, bad, specs, verdicts, inputs, needed, alts)
    _check_same_quantity(rows)
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def _status(cid: str, verdicts: dict, specs: dict, inputs: dict, depth: int = 0) -> str:
    """``failed``, ``ok`` or ``unchecked``: how claim ``cid`` stands as the input of another figure (a
    restatement stands as the figure it restates)."""
    if depth > len(verdicts) + len(inputs):
        return "unchecked"
    v = verdicts.get(cid, inputs.get(cid))
    if v is None:
        return "unchecked"
    if v in FAILED_VERDICTS:
        return "failed"
    if v == GIVEN and cid in specs and specs[cid].restates:
        return _status(specs[cid].restates, verdicts, specs, inputs, depth + 1)
    return "ok" if v in ("consistent", GIVEN) else "unchecked"


def _failing_inputs(r: dict, specs: dict, verdicts: dict, inputs: dict) -> list:
    """The claims row ``r`` reads (itself apart) that fail as inputs (:func:`_status`)."""
    cid = r["claim_id"]
    return sorted(i for i in r["reads"].split() if i != cid and _status(i, verdicts, specs, inputs) == "failed")


def _carry_inputs(rows: list, specs: dict, verdicts: dict, inputs: dict) -> None:
    """Turn ``consistent`` into :data:`INCONSISTENT_INPUTS` wherever a row reads a failing figure, until
    nothing changes (a figure so turned fails as an input in turn); ``verdicts`` is updated in place."""
    changed = True
    while changed:
        changed = False
        for r in rows:
            cid = r["claim_id"]
            if verdicts[cid] == "consistent" and _failing_inputs(r, specs, verdicts, inputs):
                verdicts[cid] = INCONSISTENT_INPUTS
                changed = True


def _standing(cid: str, specs: dict, verdicts: dict, inputs: dict) -> str:
    """A failing input in words: its verdict, and for a restatement the figure it restates."""
    v = verdicts.get(cid, inputs.get(cid, "unchecked"))
    if v == GIVEN and cid in specs and specs[cid].restates:
        of = specs[cid].restates
        return f"{cid} (restating {_standing(of, specs, verdicts, inputs)})"
    return f"{cid} ({v})"


def _alt_text(v: str, x, lo, hi) -> str:
    text = v + (f", {_num(x)}" if _finite(x) else "")
    return text + (f" ({_num(lo)} to {_num(hi)})" if _finite(lo, hi) else "")


def _by_reading_text(needed: dict, verdict: str, value, alts: dict) -> str:
    parts = []
    for q, others in needed.items():
        a0 = R.audit_reading(q)
        items = [f"{a0} (the audit's): {verdict}" + (f", {_num(value)}" if _finite(value) else "")]
        items += [f"{a}: {_alt_text(*alts[(q, a)])}" for a in others]
        parts.append(f"{q} — " + "; ".join(items))
    return " | ".join(parts)


def _reason(c: Computed, r: dict, bad: list, specs: dict, verdicts: dict, inputs: dict, needed: dict,
            alts: dict) -> str:
    out = [c.how.rstrip(".") + "."]
    if c.kind in BOUNDS:
        out.append(f"The bound holds under {c.holds_under.rstrip('.')}.")
    if c.kind == "range" and r["verdict"] == "not reproducible" and c.role == COMPUTED:
        out.append(f"Not reproducible: depends on {c.depends_on} (the model's range {_num(r['low'])} to "
                   f"{_num(r['high'])}, high ÷ low = {r['range_ratio']:.3g} > {RANGE_DECISIVE_RATIO:g}).")
    if bad and r["verdict"] == INCONSISTENT_INPUTS:
        out.append("The arithmetic holds but rests on " + ", ".join(_standing(i, specs, verdicts, inputs)
                                                                   for i in bad) + ".")
    changes = []
    for q, others in needed.items():
        if all(alts[(q, a)][0] == r["verdict"] for a in others):
            continue
        a0 = R.audit_reading(q)
        items = [f"{r['verdict']} under {q}={a0} ({R.label(q, a0)}; the audit's)"]
        for a in others:
            v, x, lo, hi = alts[(q, a)]
            items.append(f"{v} under {a} ({R.label(q, a)})" + (f": {_num(x)}" if _finite(x) else "")
                         + (f" ({_num(lo)} to {_num(hi)})" if _finite(lo, hi) else ""))
        changes.append(", ".join(items))
    if changes:
        out.append("Readings: " + "; ".join(changes) + ".")
    return " ".join(out)


def _check_same_quantity(rows: list) -> None:
    """Two stated figures of one quantity that differ beyond the tolerance cannot both be plain consistent."""
    by_id = {r["claim_id"]: r for r in rows}
    for g in same_quantity_groups().itertuples():
        plain = [by_id[i] for i in g.claim_ids.split() if i in by_id and by_id[i]["verdict"] == "consistent"]
        for i, a in enumerate(plain):
            for b in plain[i + 1:]:
                if abs(relative_difference(a["stated_value"], b["stated_value"])) > DEFAULT_TOLERANCE:
                    raise ParameterError(
                        "verdict", f"{a['claim_id']} and {b['claim_id']} both consistent",
                        f"at most one consistent figure of {g.quantity} ({a['stated_value']:g} vs "
                        f"{b['stated_value']:g}, group {g.group} of data/claims/same_quantity.csv)")


def verdict_counts(audit_table: pd.DataFrame) -> pd.Series:
    """Number of audited figures per verdict (every verdict of :data:`VERDICTS` listed, zeros included)."""
    return audit_table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


def judged_against(r) -> str:
    """What a row's stated figure was judged against, in words (tolerance, range and its width, or bound;
    empty for a row whose role fixes its verdict)."""
    if "tolerance" not in r or pd.isna(r["tolerance"]) or r.get("role", COMPUTED) not in (COMPUTED, "reading") \
            or r["verdict"] == GIVEN:
        return ""
    tol = f"{100 * r['tolerance']:.0f}%"
    if r["kind"] == "range":
        ratio = r.get("range_ratio", range_ratio(r["low"], r["high"]))
        width = "" if pd.isna(ratio) else (
            f" (high ÷ low {ratio:.3g} {'≤' if ratio <= RANGE_DECISIVE_RATIO else '>'} {RANGE_DECISIVE_RATIO:g})")
        return f"range {_num(r['low'])} to {_num(r['high'])} ± {tol}{width}"
    if r["kind"] == "upper_bound":
        return f"at most the bound + {tol}"
    if r["kind"] == "lower_bound":
        return f"at least the bound − {tol}"
    return f"± {tol}"


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


def verdict_glossary() -> pd.DataFrame:
    """The verdicts and the kinds of row, as a table: term, meaning (verdicts first, in :data:`VERDICTS`
    order, then every role with the verdict it fixes)."""
    rows = [{"term": v, "kind": "verdict", "meaning": VERDICT_GLOSSARY[v]} for v in VERDICTS]
    for role, meaning in ROLES.items():
        fixed = role_verdict(role)
        rows.append({"term": role, "kind": "kind of row",
                     "meaning": f"{meaning[:1].upper()}{meaning[1:]}; "
                                + (f"always {fixed}." if fixed else "its verdict follows from the numbers.")})
    return pd.DataFrame(rows, columns=["term", "kind", "meaning"])
