"""The audit as a chapter shows it: every row through the book's one formatter (figure, stated → computed
with the verdict's mark, difference as % or ×N, what it was judged against, verdict, reason and claim id),
and a source table regenerated in its own shape, split into blocks when it is too wide for the page."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from IPython.display import display

from model.audit.regenerate import MARKS, source_table
from model.audit.verdicts import format_audit
from model.book.tables import Col, format_number, show_table


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
    return "" if v is None or (not isinstance(v, str) and pd.isna(v)) else format_number(float(v), 4)


def figure_text(stated, computed, unit, verdict):
    """``stated → computed unit mark`` at the audit's four significant digits (99.95%, not 100%)."""
    u = "" if unit in ("count", "text", "x") else unit if unit == "%" else f" {unit}"
    mark = MARKS.get(verdict, "")
    if not stated:
        return f"(text) {mark}"
    if verdict == "given" or not computed:
        return f"{stated}{u} {mark}"
    return f"{stated}{u if unit == '%' else ''} → {computed}{u} {mark}"


def show_audit(audit_table):
    """The audit, every row, through the book's formatter: the figure (row and column of its source table),
    stated → computed with the verdict's mark, the difference (% or ×N), what it was judged against, the
    verdict and the reason (ending with the claim's id, as in the audit appendix)."""
    fa = format_audit(audit_table)
    shown = pd.DataFrame({
        "figure": (audit_table["table"].astype(str) + " · " + audit_table["row"].astype(str) + ": "
                   + audit_table["column"].astype(str)).values,
        "stated → computed": [figure_text(num4(s), num4(c), u, v) for s, c, u, v in zip(audit_table["stated_value"],
                                                                                      audit_table["computed_value"],
                                                                          audit_table["unit"], audit_table["verdict"])],
        "difference": audit_table["relative_difference"].map(diff_text).values,
        "judged against": fa["judged against"].map(lambda t: re.sub(
            r"\d+(?:\.\d+)?e[+-]\d+", lambda m: format_number(float(m.group()), 4), str(t))).values,
        "verdict": audit_table["verdict"].values,
        "reason": (audit_table["reason"].fillna("").astype(str) + " [" + audit_table["claim_id"] + "]").values})
    return show_table(shown, {c: Col(c[:1].upper() + c[1:], kind="text") for c in shown.columns})


def show_source(audit_table, table_id, max_columns=7):
    """A source table regenerated in its own shape, and the figures of its surrounding text if any.

    A table too wide for the page is shown in blocks of consecutive rows that share at most ``max_columns``
    columns; a block whose cells are mostly empty (a list of figures more than a grid) as one line a figure."""
    grid = source_table(audit_table, table_id)
    key, cols = grid.columns[0], list(grid.columns[1:])
    blocks, current, used = [], [], []
    for i, r in grid.iterrows():
        filled = [c for c in cols if r[c]]
        union = list(dict.fromkeys(used + filled))
        if current and len([c for c in cols if c in union]) > max_columns:
            blocks.append((current, used)); current, used = [], []
            union = filled
        current.append(i); used = union
    blocks.append((current, used))
    for rows, used in blocks:
        used = [c for c in cols if c in used]
        part = grid.loc[rows, [key] + used]
        if 0 < len(used) <= max_columns and (part[used] != "").to_numpy().mean() >= 0.5:
            display(show_table(part, {c: Col(c, kind="text") for c in part.columns}))
        else:
            long = part.melt(id_vars=key, var_name="figure", value_name="stated → computed")
            long = long[long["stated → computed"] != ""].assign(_o=lambda d: d[key].map({v: j for j, v in enumerate(part[key])}))
            long = long.sort_values("_o", kind="stable").drop(columns="_o")
            display(show_table(long, {c: Col(c[:1].upper() + c[1:] if c != key else c, kind="text") for c in long.columns}))
    text = source_table(audit_table, table_id, text_rows=True)
    if len(text):
        display(show_table(text, {c: Col(c[:1].upper() + c[1:], kind="text") for c in text.columns},
                           caption=f"Figures of the text around {table_id}"))
