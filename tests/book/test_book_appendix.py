"""The source tables written for the introduction (model.book.appendix.source_tables_markdown) and the links
line of the source-tables appendix, on a small crafted audit."""

import pandas as pd

from model.audit.regenerate import LEGEND, source_table
from model.book.appendix import merge_variant_columns, source_table_links, source_tables_markdown


def _audit():
    rows = [("T1", "Concurrent sessions", "initial", 10000, 10000, "count", "given", "fleet", "Fleet"),
            ("T1", "Concurrent sessions", "target", 1e6, 1e6, "count", "given", "fleet", "Fleet"),
            ("T1", "Monthly cost", "target", 300, 1200, "USD", "inconsistent", "economics", "Economics"),
            ("T1", "§1 goals", "a | b", 5, 5, "count", "consistent", "fleet", "Fleet"),
            ("T12", "GPUs", "optimized", 900, 850, "count", "consistent", "-", "not audited")]
    return pd.DataFrame(rows, columns=["table", "row", "column", "stated_value", "computed_value", "unit", "verdict",
                                       "chapter", "chapter_title"])


def test_markdown_tables_in_the_sources_shape():
    grids = {t: merge_variant_columns(source_table(_audit(), t)) for t in ("T1", "T12")}
    text = source_tables_markdown(grids, LEGEND, link_prefix="chapters/")
    lines = text.splitlines()
    head = lines.index("**T1** (stated → computed, mark)")
    assert lines[head + 2] == "| T1 | initial | target |"
    assert lines[head + 3] == "|---|---|---|"
    assert lines[head + 4] == "| Concurrent sessions | 10,000 = | 1,000,000 = |"
    assert lines[head + 5] == "| Monthly cost |  | 300 → 1,200 USD ✗ |"
    assert "§1 goals" not in text  # a figure of the text is not a row of the table
    assert "| GPUs | 900 → 850 ✓ |" in text
    assert "{doc}`/chapters/appendix_source_tables`" in text


def test_links_name_the_auditing_chapters():
    line = source_table_links(_audit(), "T1")
    assert '<a href="fleet.html">Fleet</a>' in line and '<a href="economics.html">Economics</a>' in line
    assert line.startswith('<p class="source-table-links">4 stated figures')
    assert "no chapter of this build" in source_table_links(_audit(), "T12")


def test_variant_columns_merge_back_into_the_sources_column():
    grid = pd.DataFrame({"T1": ["a", "b", "c"], "scale factor": ["100 ✓", "", ""],
                         "scale factor (relative change)": ["", "14% ✓", ""],
                         "scale factor (percentage-point difference)": ["", "", "1.45% ✓"],
                         "other": ["x", "", ""]})
    merged = merge_variant_columns(grid)
    assert list(merged.columns) == ["T1", "scale factor", "other"]
    assert list(merged["scale factor"]) == ["100 ✓", "14% ✓", "1.45% ✓"]
    clash = grid.assign(**{"scale factor (relative change)": ["5% ✗", "14% ✓", ""]})
    assert list(merge_variant_columns(clash).columns) == list(grid.columns)  # two figures in one row: kept apart


def test_sparse_tables_are_shown_as_lists():
    from model.book.appendix import is_sparse, long_form

    cols = {f"c{i}": [""] * 3 for i in range(8)}
    cols["c0"] = ["1 ✓", "", ""]
    cols["c5"] = ["", "2 ✗", "3 ="]
    grid = pd.DataFrame({"S": ["a", "b", "c"], **cols})
    assert is_sparse(grid)
    assert long_form(grid).values.tolist() == [["a", "c0", "1 ✓"], ["b", "c5", "2 ✗"], ["c", "c5", "3 ="]]
    dense = pd.DataFrame({"T": ["a"], **{f"c{i}": ["x"] for i in range(8)}})
    assert not is_sparse(dense) and not is_sparse(grid.iloc[:, :5])
