"""Numbers and phrases of a chapter's prose, computed in the executed notebook and glued into its text
(MyST-NB ``glue``; the markdown writes ``{glue:text}`name``` or, from another page,
``{glue:text}`chapters/<page>.ipynb::name:s```).

Every value is glued as a finished string, so the page shows exactly what the notebook formatted.
"""

from __future__ import annotations

import math


def glue(name: str, value, fmt: str | None = None) -> None:
    """Glue ``value`` (a string, or a number formatted with ``fmt``, default ``",.3g"``) under ``name``
    without displaying it (returns nothing, so a ``glue`` at the end of a cell shows nothing either; use
    :func:`glued_text` for the text)."""
    from myst_nb import glue as _glue

    _glue(name, glued_text(value, fmt), display=False)


def glued_text(value, fmt: str | None = None) -> str:
    """The text :func:`glue` would glue for ``value``."""
    return value if isinstance(value, str) else format(value, fmt or ",.3g")


def glue_all(values: dict, fmt: str | None = None) -> None:
    """Glue every ``name: value`` of ``values`` (see :func:`glue`)."""
    for k, v in values.items():
        glue(k, v, fmt)


def compare(a: float, b: float, *, rel_tol: float = 0.05, more: str = "more than", less: str = "less than",
            same: str = "about the same as") -> str:
    """The word for how ``a`` stands to ``b``: ``same`` within ``rel_tol`` of ``b``, else ``more``/``less``."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return "not comparable with"
    if abs(a - b) <= rel_tol * abs(b):
        return same
    return more if a > b else less


def times(ratio: float) -> str:
    """A ratio as a reader says it: ``×2.3`` above 1.5, ``+33%``/``−20%`` near 1, ``×1/4`` far below."""
    if not math.isfinite(ratio):
        return "n/a"
    if ratio >= 1.5:
        return f"×{ratio:,.0f}" if ratio >= 100 else f"×{ratio:.3g}"
    if ratio >= 0.5:
        return f"{100 * (ratio - 1):+.0f}%".replace("-", "−")
    if ratio <= 0:
        return "×0"
    inv = 1 / ratio
    return f"×1/{inv:,.0f}" if inv >= 100 else f"×1/{inv:.3g}"


def count_phrase(n: float) -> str:
    """``n`` in words a reader can feel: "none", "one", "a handful", "a few dozen", "hundreds", ... plus the
    number itself (e.g. ``"143 (over a hundred)"``)."""
    if not math.isfinite(n):
        return "n/a"
    if n < 1:
        return "none"
    for bound, words in ((2, "one"), (10, "a handful"), (20, "about a dozen"), (100, "a few dozen"),
                         (1_000, "hundreds"), (10_000, "thousands"), (math.inf, "tens of thousands or more")):
        if n < bound:
            return f"{n:,.0f} ({words})" if words not in ("one",) else "one"
    return f"{n:,.0f}"


def record_provenance(study) -> str:
    """Where the tables of a :func:`model.records.recorded` call came from, as a clause of a sentence."""
    if study.from_record:
        rec = study.record
        if "stale" in study.reason:
            return f"read from the record data/records/{rec.name}, which is out of date ({study.reason})"
        return (f"read from the record data/records/{rec.name}, made on {rec.recorded} (the fingerprint of the "
                f"code and data it depends on is current; {rec.command} recomputes it)")
    return f"computed in this run ({study.reason})"
