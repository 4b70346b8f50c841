"""The stated figures of the source documents (``data/claims/``), read as tracked numbers.

:func:`stated_value` returns a :class:`Stated`: a ``float`` that remembers the claim it was read from.
Arithmetic on it gives a :class:`Derived` float that remembers every claim it was computed from. The
audit uses this to record which stated figures each computed value read (:attr:`Derived.claim_ids`) and
to tell a computed figure from a stated figure merely read back (a :class:`Stated` passed through
unchanged), which can only earn the verdict ``given``.

A value computed under one reading of a quantity the sources leave ambiguous (:mod:`model.audit.readings`)
carries that reading the same way, as a tag ``reading:<quantity>=<alternative>`` beside its claim ids:
:func:`claim_ids_of` returns the claims only, :func:`readings_of` the readings.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.io import DATA
from model.checks import ParameterError, check_choice

CLAIMS_DIR = DATA / "claims"
#: The stated figures, one file per source document (the other files of ``data/claims/`` are the audit's
#: registers: readings, rules, figures stating one quantity).
CLAIM_FILES = ("case_study.csv", "kareto.csv")
#: Prefix of a reading's tag among a tracked value's ids (see :func:`readings_of`).
READING_TAG = "reading:"
CLAIM_COLUMNS = ["claim_id", "source", "table", "row", "column", "stated_value", "unit", "quote"]


class Derived(float):
    """A float computed from stated figures; :attr:`claim_ids` names them."""

    claim_ids: frozenset

    def __new__(cls, value, claim_ids=frozenset()):
        obj = super().__new__(cls, value)
        obj.claim_ids = frozenset(claim_ids)
        return obj

    def __reduce__(self):
        return (type(self), (float(self), self.claim_ids))


def _ids(x) -> frozenset:
    return getattr(x, "claim_ids", frozenset())


def _lift(op):
    def f(self, other):
        out = op(float(self), float(other) if isinstance(other, Derived) else other)
        if out is NotImplemented or not isinstance(out, (int, float)) or isinstance(out, bool):
            return out
        return Derived(out, _ids(self) | _ids(other))
    return f


def _lift_unary(op):
    def f(self):
        return Derived(op(float(self)), _ids(self))
    return f


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
    _op = getattr(float, f"__{_name}__")
    _rop = getattr(float, f"__r{_name}__")
    setattr(Derived, f"__{_name}__", _lift(_op))
    setattr(Derived, f"__r{_name}__", _lift(_rop))
for _name in ("neg", "pos", "abs"):
    setattr(Derived, f"__{_name}__", _lift_unary(getattr(float, f"__{_name}__")))


class Stated(Derived):
    """A stated figure exactly as the source gives it (one claim). Any arithmetic on it gives a
    :class:`Derived`; a :class:`Stated` reaching the audit unchanged is a figure read back."""

    claim_id: str

    def __new__(cls, value, claim_id: str):
        obj = super().__new__(cls, value, {claim_id})
        obj.claim_id = claim_id
        return obj

    def __reduce__(self):
        return (type(self), (float(self), self.claim_id))


def is_read_back(value) -> bool:
    """Whether ``value`` is a stated figure passed through with no arithmetic or model call."""
    return type(value) is Stated


def claim_ids_of(value) -> frozenset:
    """The claims a tracked value was computed from (empty for a plain number)."""
    return frozenset(i for i in _ids(value) if not i.startswith(READING_TAG))


def reading_tag(quantity: str, alternative: str) -> str:
    """The tag a value computed under ``alternative`` of ``quantity`` carries."""
    return f"{READING_TAG}{quantity}={alternative}"


def readings_of(value) -> frozenset:
    """The readings a tracked value was computed under, as ``(quantity, alternative)`` pairs."""
    return frozenset(tuple(i[len(READING_TAG):].split("=", 1)) for i in _ids(value) if i.startswith(READING_TAG))


def with_reading(value, quantity: str, alternative: str) -> Derived:
    """``value`` (a number or a tracked value) tagged as computed under ``alternative`` of ``quantity``."""
    return Derived(float(value), _ids(value) | {reading_tag(quantity, alternative)})


@lru_cache(maxsize=1)
def _all_claims() -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype={"stated_value": float}, keep_default_na=False,
                          na_values={"stated_value": [""]})
              for p in (CLAIMS_DIR / name for name in CLAIM_FILES)]
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


def stated_value(claim_id: str) -> Stated:
    """The stated figure of ``claim_id`` as a tracked float (:class:`Stated`), in its claim's unit
    (NaN for qualitative claims)."""
    return Stated(float(claim(claim_id)["stated_value"]), claim_id)
