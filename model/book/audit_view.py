"""The audit views of :mod:`model.audit.view` displayed through the book's one formatter."""

from __future__ import annotations

from IPython.display import display

from model.book.tables import Col, show_table


def _cap(c: str) -> str:
    return c[:1].upper() + c[1:]


def show_audit(rows):
    """Display the rows of :func:`model.audit.view.audit_rows` (every row, text columns)."""
    return show_table(rows, {c: Col(_cap(c), kind="text") for c in rows.columns})


def show_source(blocks) -> None:
    """Display the blocks of :func:`model.audit.view.source_blocks`."""
    for frame, caption in blocks:
        cols = {c: Col(_cap(c) if i else c, kind="text") for i, c in enumerate(frame.columns)}
        display(show_table(frame, cols, caption=caption))
