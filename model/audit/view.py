"""The audit as a chapter shows it, as plain tables of text: every row (figure, stated → computed with the
verdict's mark, difference as % or ×N, what it was judged against, verdict, reason and claim id), and a
source table regenerated in its own shape, split into blocks when it is too wide for a page. The book's
formatter displays them (:mod:`model.book.audit_view`)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from model.audit.regenerate import MARKS, source_table
from model.audit.verdicts import format_audit


def _four(v: float) -> str:
    """Four significant digits, thousands separators, never scientific notation."""
    if v == 0:
        return "0"
    decimals = max(0, 3 - int(math.floor(math.log10(abs(v)))))
    text = f"{v:,.{decimals}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text).replace("-", "−")


def diff_text(rel):
    """A stated figure's relative difference as the audit tables write it: % within a factor of two, ×N beyond."""
    if not np.isfinite(rel):
        return ""
    r = 1.0 + rel
    if r > 2:
        return f"×{r:,.3g}"
    if 0 < r < 0.5:
        return f"×1/{1 / r:,.3g}"
    pct = 100 * rel
    return (f"{pct:+.3f}%" if 1e-6 < abs(pct) < 0.05 else f"{pct:+.1f}%").replace("-", "−")


def num4(v):
    """A figure at four significant digits with separators, never in scientific notation ("" for none)."""
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else _four(float(v))


def figure_text(stated, computed, unit, verdict):
    """``stated → computed unit mark`` at the audit's four significant digits (99.95%, not 100%)."""
    u = "" if unit in ("count", "text", "x") else unit if unit == "%" else f" {unit}"
    mark = MARKS.get(verdict, "")
    if not stated:
        return f"(text) {mark}"
    if verdict == "given" or not computed:
        return f"{stated}{u} {mark}"
    return f"{stated}{u if unit == '%' else ''} → {computed}{u} {mark}"


def audit_rows(audit_table: pd.DataFrame) -> pd.DataFrame:
    """Every row of an audit table as the chapter shows it (text columns, in the audit's order)."""
    fa = format_audit(audit_table)
    return pd.DataFrame({
        "figure": (audit_table["table"].astype(str) + " · " + audit_table["row"].astype(str) + ": "
                   + audit_table["column"].astype(str)).values,
        "stated → computed": [figure_text(num4(s), num4(c), u, v) for s, c, u, v in zip(
            audit_table["stated_value"], audit_table["computed_value"], audit_table["unit"], audit_table["verdict"])],
        "difference": audit_table["relative_difference"].map(diff_text).values,
        "judged against": fa["judged against"].map(lambda t: re.sub(
            r"\d+(?:\.\d+)?e[+-]\d+", lambda m: _four(float(m.group())), str(t))).values,
        "verdict": audit_table["verdict"].values,
        "reason": (audit_table["reason"].fillna("").astype(str) + " [" + audit_table["claim_id"] + "]").values})


def source_blocks(audit_table: pd.DataFrame, table_id: str, max_columns: int = 7) -> list:
    """Source table ``table_id`` regenerated in its own shape, as ``(frame, caption)`` blocks.

    A table too wide for the page is cut into blocks of consecutive rows that share at most ``max_columns``
    columns; a block whose cells are mostly empty (a list of figures more than a grid) becomes one line a
    figure. The figures of the surrounding text, if any, come last."""
    grid = source_table(audit_table, table_id)
    key, cols = grid.columns[0], list(grid.columns[1:])
    blocks, current, used = [], [], []
    for i, r in grid.iterrows():
        filled = [c for c in cols if r[c]]
        union = list(dict.fromkeys(used + filled))
        if current and len([c for c in cols if c in union]) > max_columns:
            blocks.append((current, used))
            current, used = [], []
            union = filled
        current.append(i)
        used = union
    blocks.append((current, used))
    out = []
    for rows, used in blocks:
        used = [c for c in cols if c in used]
        part = grid.loc[rows, [key] + used]
        if 0 < len(used) <= max_columns and (part[used] != "").to_numpy().mean() >= 0.5:
            out.append((part.reset_index(drop=True), None))
        else:
            long = part.melt(id_vars=key, var_name="figure", value_name="stated → computed")
            order = {v: j for j, v in enumerate(part[key])}
            long = long[long["stated → computed"] != ""].assign(_o=lambda d: d[key].map(order))
            out.append((long.sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True), None))
    text = source_table(audit_table, table_id, text_rows=True)
    if len(text):
        out.append((text, f"Figures of the text around {table_id}"))
    return out
