"""The book's back matter, computed: every chapter's title and parameters, and an inventory of the datasets
with checksums. (The collected audit is :mod:`model.audit.collect`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from model.io import DATA, sha256_of


def chapter_title(notebook: Path) -> str:
    """The first ``# `` heading of a notebook's first markdown cell (its page title)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook).stem


def chapter_titles() -> dict:
    """Every chapter (not appendix) by name, in execution order, with its title."""
    from model.book.build import is_appendix, notebooks

    return {nb.stem: chapter_title(nb) for nb in notebooks() if not is_appendix(nb)}


# --- parameters and data -------------------------------------------------------------------------------------

_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*(?:#\s*(?P<comment>.*))?$")


def chapter_parameters() -> pd.DataFrame:
    """Every notebook's parameters cell, one row per parameter: notebook, name, value (as written),
    comment (unit and source)."""
    from model.book.build import notebooks

    rows = []
    for nb in notebooks():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        for cell in params[:1]:
            for line in "".join(cell["source"]).splitlines():
                m = _ASSIGN.match(line.strip())
                if m:
                    rows.append({"notebook": nb.stem, "name": m["name"], "value": m["value"],
                                 "comment": m["comment"] or ""})
    return pd.DataFrame(rows, columns=["notebook", "name", "value", "comment"])


def _readme_for(path: Path) -> Path | None:
    """The README documenting a data file: ``<stem>.README.md`` beside it, else the nearest README.md
    up to ``data/``."""
    side = path.with_name(f"{path.stem}.README.md")
    if side.exists():
        return side
    for folder in [path.parent, *path.parent.parents]:
        if (folder / "README.md").exists():
            return folder / "README.md"
        if folder == DATA:
            break
    return None


def dataset_inventory(*, with_checksums: bool = True) -> pd.DataFrame:
    """Every file under ``data/`` except READMEs: dataset (first folder, or the file's stem at top level),
    path, bytes, sha256, its README, the README's title and whether the README records this sha256."""
    rows = []
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        if path.name.endswith("README.md") or "__pycache__" in path.parts or path.name.startswith("."):
            continue
        rel = path.relative_to(DATA)
        readme = _readme_for(path)
        text = readme.read_text(encoding="utf-8") if readme else ""
        title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), "")
        digest = sha256_of(path) if with_checksums else ""
        rows.append({"dataset": rel.parts[0] if len(rel.parts) > 1 else path.stem, "path": f"data/{rel}",
                     "bytes": path.stat().st_size, "sha256": digest,
                     "readme": f"data/{readme.relative_to(DATA)}" if readme else "",
                     "readme_title": title, "in_readme": bool(digest) and digest in text})
    return pd.DataFrame(rows)


# --- the source tables, regenerated (appendix_source_tables) ------------------------------------------------

def _md_cell(text) -> str:
    """A Markdown table cell: pipes escaped, no line breaks."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def merge_variant_columns(grid: pd.DataFrame) -> pd.DataFrame:
    """Columns of a regenerated source table that are variants of one source column ("scale factor",
    "scale factor (relative change)", "scale factor (percentage-point difference)") merged back into the
    source's one column, where no row has figures in two of them; the first column (the row names) is kept.

    The claims name a column's variants apart because each figure is judged its own way; the source prints
    them in one column.
    """
    cols = list(grid.columns)
    groups: dict[str, list[str]] = {}
    for c in cols[1:]:
        base = str(c).split(" (", 1)[0] if str(c).endswith(")") else str(c)
        groups.setdefault(base, []).append(c)
    out = grid[[cols[0]]].copy()
    for base, members in groups.items():
        block = grid[members]
        if len(members) > 1 and ((block != "").sum(axis=1) <= 1).all():
            out[base] = block.apply(lambda r: next((v for v in r if v != ""), ""), axis=1)
        else:
            for m in members:
                out[m] = grid[m]
    return out


def source_tables_markdown(grids: dict, legend: str, *, link_prefix: str = "") -> str:
    """Regenerated source tables as Markdown: for each a bold caption and a table in the source's own shape,
    then the legend of the verdict marks and a link to the appendix that shows every table.

    Parameters
    ----------
    grids : dict of str to pandas.DataFrame
        Source table id -> the table in its own shape (:func:`model.audit.regenerate.source_table`, its
        variant columns merged by :func:`merge_variant_columns`), in the order shown.
    legend : str
        What the verdict marks mean (:data:`model.audit.regenerate.LEGEND`).
    link_prefix : str
        Folder of the appendix page relative to the including page's folder (``"chapters/"`` for the
        introduction).
    """
    lines = []
    for table, grid in grids.items():
        if grid.empty:
            lines += [f"**{table}**: no audited figure in this build.", ""]
            continue
        cols = list(grid.columns)
        lines.append(f"**{table}** (stated → computed, mark)")
        lines.append("")
        lines.append("| " + " | ".join(_md_cell(c) for c in cols) + " |")
        lines.append("|" + "---|" * len(cols))
        for row in grid.itertuples(index=False):
            lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
        lines.append("")
    lines += [f"Marks: {legend}.", "",
              f"Every table of both sources, in its own shape: {{doc}}`/{link_prefix}appendix_source_tables`.", ""]
    return "\n".join(lines)


def source_table_links(audit: pd.DataFrame, table: str) -> str:
    """One HTML line saying which chapters audit source table ``table`` (links to their pages) and where its
    rows are listed (the audit appendix)."""
    import html

    rows = audit[(audit["table"] == table) & (audit["chapter"] != "-")]
    chapters = dict(zip(rows["chapter"], rows["chapter_title"]))
    links = ", ".join(f'<a href="{html.escape(c)}.html">{html.escape(t)}</a>' for c, t in chapters.items())
    n = int((audit["table"] == table).sum())
    return (f'<p class="source-table-links">{n} stated figure{"s" if n != 1 else ""}; audited in: '
            f'{links or "no chapter of this build"}. Every row with its arithmetic: '
            f'<a href="appendix_audit.html">the audit appendix</a> (filter "Source table" = {html.escape(table)}).</p>')


def is_sparse(grid: pd.DataFrame, *, max_columns: int = 6, min_density: float = 0.5) -> bool:
    """Whether a regenerated table is a list rather than a grid: more than ``max_columns`` figure columns
    and at most ``min_density`` of its cells filled (each row of the source names its own figures, as in
    the SWOT list or the availability section), so that a grid would be mostly empty and wider than a page."""
    cells = grid.iloc[:, 1:]
    if cells.shape[1] <= max_columns or cells.size == 0:
        return False
    return float((cells != "").to_numpy().mean()) <= min_density


def long_form(grid: pd.DataFrame) -> pd.DataFrame:
    """A regenerated table one figure per line (row, figure, stated → computed), in the source's order,
    empty cells left out: the shape of a source list."""
    first = grid.columns[0]
    rows = [{"row": r[first], "figure": c, "cell": r[c]} for _, r in grid.iterrows() for c in grid.columns[1:]
            if r[c] != ""]
    return pd.DataFrame(rows, columns=["row", "figure", "cell"])


def show_source_table(audit: pd.DataFrame, table_id: str, source_table, *, output_dir: str) -> None:
    """Show one source table in its own shape, the figures of its text, and where its rows are audited;
    write the table (and its text's figures, if any) as ``appendix_source_tables_<table_id>[_text].csv`` in
    ``output_dir``.

    Parameters
    ----------
    audit : pandas.DataFrame
        The collected audit of the build (:func:`model.audit.collect.collect_audits`).
    table_id : str
        The source table, e.g. ``"T1"``.
    source_table : callable
        :func:`model.audit.regenerate.source_table`, passed in as the book tooling knows nothing of the
        sources: ``source_table(audit, table_id, text_rows=False)`` gives the table's grid, with
        ``text_rows=True`` the figures of its text.
    output_dir : str
        Folder the CSV files are written to.
    """
    from IPython.display import HTML, Markdown, display

    from model.book.tables import Col, show_table
    from model.io import write_csv

    grid = merge_variant_columns(source_table(audit, table_id))
    text = source_table(audit, table_id, text_rows=True)
    write_csv(grid, f"{output_dir}/appendix_source_tables_{table_id}.csv")
    if len(grid) and is_sparse(grid):  # a list in the source: one figure per line
        display(show_table(long_form(grid), {"row": Col("Item", kind="text"), "figure": Col("Figure", kind="text"),
                                             "cell": Col("Stated → computed", kind="text")}))
    elif len(grid):
        display(show_table(grid, {c: Col(c if i else "", kind="text") for i, c in enumerate(grid.columns)}))
    if len(text):
        write_csv(text, f"{output_dir}/appendix_source_tables_{table_id}_text.csv")
        display(Markdown("Figures of the text around it:"))
        display(show_table(text, {"where": Col("Where", kind="text"), "figure": Col("Figure", kind="text"),
                                  "stated → computed": Col("Stated → computed", kind="text")}))
    display(HTML(source_table_links(audit, table_id)))
