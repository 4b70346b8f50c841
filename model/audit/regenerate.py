"""The source documents' tables regenerated in their own shape: one row per row of the source table, one
column per column, each cell the stated figure beside the computed one with the verdict's mark.

Figures the claims file assigns to a table but that come from the surrounding text (rows named after a
section, "§1 goals") are kept apart, as the table's "figures in the text".
"""

from __future__ import annotations

import math

import pandas as pd

#: The mark shown after the computed figure, by verdict.
MARKS = {"consistent": "✓", "consistent arithmetic, inconsistent inputs": "✓✗", "inconsistent": "✗",
         "impossible": "⊘", "not reproducible": "?", "given": "=", "not audited": "·"}
LEGEND = ("✓ consistent · ✓✗ consistent arithmetic on inconsistent inputs · ✗ inconsistent · ⊘ impossible (beyond "
          "a physical bound) · ? not reproducible · = given (an input, a design input, a threshold, a definition, a "
          "restatement or the audit's reading of an ambiguous figure)")


def _num(v) -> str:
    """Up to 4 significant digits (99.95 stays 99.95), thousands separators, no scientific notation."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    v = float(v)
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    text = f"{v:,.{max(0, 3 - mag)}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text).replace("-", "−")


def cell_text(row) -> str:
    """``stated → computed mark`` for one audit row; ``stated in low–high mark`` for a figure judged against
    a range; ``stated mark`` for a given figure; ``(text) mark`` for a qualitative one."""
    mark = MARKS.get(row["verdict"], "")
    unit = "" if row["unit"] in ("count", "text", "x", "%") else f" {row['unit']}"
    stated = _num(row["stated_value"])
    if row["unit"] == "%":
        stated += "%" if stated else ""
    if not stated:
        return f"(text) {mark}"
    pct = "%" if row["unit"] == "%" else ""
    computed = _num(row.get("computed_value"))
    if computed:
        computed += pct
    if row.get("kind") == "range" and row["verdict"] != "given" and not pd.isna(row.get("low", math.nan)) \
            and not pd.isna(row.get("high", math.nan)):
        return f"{stated} in {_num(row['low'])}{pct}–{_num(row['high'])}{pct}{unit} {mark}"
    if row["verdict"] == "given" or not computed:
        return f"{stated}{unit} {mark}"
    return f"{stated} → {computed}{unit} {mark}"


def is_text_row(name: str) -> bool:
    """Whether a claim's row names a section of the text rather than a row of the table."""
    return str(name).startswith("§") or str(name) == "document title"


def source_table(audit: pd.DataFrame, table: str, *, text_rows: bool = False) -> pd.DataFrame:
    """Table ``table`` (e.g. ``"T5"``) of the collected audit laid out as the source lays it out.

    Parameters
    ----------
    audit : pandas.DataFrame
        Audit rows with ``table, row, column, stated_value, computed_value, unit, verdict`` (a chapter's
        audit table or :func:`model.audit.collect.collect_audits`), in document order.
    table : str
        Source table id.
    text_rows : bool
        Return the figures of the surrounding text instead (one row per figure).

    Returns
    -------
    pandas.DataFrame
        Rows and columns in order of first appearance; each cell :func:`cell_text` (empty where the source
        table has no figure).
    """
    rows = audit[audit["table"] == table]
    rows = rows[rows["row"].map(is_text_row) == text_rows]
    if text_rows:
        return pd.DataFrame({"where": rows["row"].tolist(), "figure": rows["column"].tolist(),
                             "stated → computed": [cell_text(r) for _, r in rows.iterrows()]})
    order_r = list(dict.fromkeys(rows["row"]))
    order_c = list(dict.fromkeys(rows["column"]))
    grid = pd.DataFrame("", index=order_r, columns=order_c)
    for _, r in rows.iterrows():
        grid.loc[r["row"], r["column"]] = cell_text(r)
    grid.index.name = table
    return grid.reset_index()
