"""model.book.appendix by hand: chapter titles and parameters read from small notebooks written here, the data
inventory of a small ``data/`` folder made here (its sizes and checksums computed here with hashlib), and the
source tables' Markdown, links line and list shape on grids typed out here. No notebook runs; the source-table
function of the appendix is a stand-in returning those grids, and ``show_table``/``display`` are recorders."""
import hashlib
import json

import IPython.display
import pandas as pd
import pytest

import model.book.appendix as appendix
import model.book.build as build
import model.book.tables as tables
from model.book.appendix import (chapter_parameters, chapter_title, chapter_titles, dataset_inventory, is_sparse,
                                 long_form, merge_variant_columns, show_source_table, source_table_links,
                                 source_tables_markdown)
from model.book.tables import Col


def _notebook(path, cells):
    path.write_text(json.dumps({"cells": cells}), encoding="utf-8")
    return path


def _md(*lines):
    return {"cell_type": "markdown", "metadata": {}, "source": list(lines)}


def _code(*lines, tags=None):
    return {"cell_type": "code", "metadata": {"tags": tags} if tags is not None else {}, "source": list(lines)}


# --- titles ---------------------------------------------------------------------------------------------------

def test_title_is_the_first_level_one_heading_of_a_markdown_cell(tmp_path):
    nb = _notebook(tmp_path / "fleet.ipynb", [
        _code("# a comment, not a title\n", "x = 1"),
        _md("Some text\n", "## A section\n", "#No space\n", "#  The fleet, sized  \n", "# A second title"),
        _md("# Not this one")])
    assert chapter_title(nb) == "The fleet, sized"


def test_title_found_in_a_later_markdown_cell(tmp_path):
    nb = _notebook(tmp_path / "a.ipynb", [_md("no heading here"), _code("# code"), _md("text\n", "# Later")])
    assert chapter_title(nb) == "Later"


def test_title_falls_back_to_the_file_stem(tmp_path):
    nb = _notebook(tmp_path / "kv_sizing.ipynb", [_md("## only a section"), _code("# comment")])
    assert chapter_title(str(nb)) == "kv_sizing"


def test_chapter_titles_leave_out_the_appendices(tmp_path, monkeypatch):
    a = _notebook(tmp_path / "intro.ipynb", [_md("# Introduction")])
    b = _notebook(tmp_path / "appendix_audit.ipynb", [_md("# The audit")])
    c = _notebook(tmp_path / "zeta.ipynb", [_md("# Zeta")])
    monkeypatch.setattr(build, "notebooks", lambda: [c, a, b])
    titles = chapter_titles()
    assert titles == {"zeta": "Zeta", "intro": "Introduction"}
    assert list(titles) == ["zeta", "intro"]  # the order notebooks() gives


# --- parameters -------------------------------------------------------------------------------------------------

def test_parameters_of_the_first_tagged_cell_only(tmp_path, monkeypatch):
    one = _notebook(tmp_path / "one.ipynb", [
        _code("x = 99", tags=["other"]),
        _code("gpu = \"h100\"  # the accelerator\n", "  rate_per_s = 2.5   #  requests/s, stated\n",
              "import math\n", "n_gpus=8\n", "if True: y = 1\n", "_p = [1, 2]  #\n", "2x = 3\n",
              tags=["hide-input", "parameters"]),
        _code("later = 1", tags=["parameters"]),
        {"cell_type": "code", "source": ["no_metadata = 1"]}])  # a cell may have no metadata at all
    two = _notebook(tmp_path / "two.ipynb", [_code("z = 0")])
    three = _notebook(tmp_path / "three.ipynb", [_code("ctx = 1_000  # tokens", tags=["parameters"])])
    monkeypatch.setattr(build, "notebooks", lambda: [one, two, three])
    got = chapter_parameters()
    assert list(got.columns) == ["notebook", "name", "value", "comment"]
    assert got.values.tolist() == [
        ["one", "gpu", '"h100"', "the accelerator"],
        ["one", "rate_per_s", "2.5", "requests/s, stated"],
        ["one", "n_gpus", "8", ""],
        ["one", "_p", "[1, 2]", ""],
        ["three", "ctx", "1_000", "tokens"]]


def test_no_parameters_gives_the_four_columns(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "bare.ipynb", [_md("# Bare"), _code("x = 1")])
    monkeypatch.setattr(build, "notebooks", lambda: [nb])
    got = chapter_parameters()
    assert got.empty and list(got.columns) == ["notebook", "name", "value", "comment"]


# --- the data inventory -----------------------------------------------------------------------------------------

@pytest.fixture
def data(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "traces" / "sub").mkdir(parents=True)
    (root / "bare").mkdir()
    (root / "__pycache__").mkdir()
    files = {"hardware.csv": b"gpu,memory\nh100,80\n", "traces/a.jsonl": b'{"t": 1}\n',
             "traces/sub/b.csv": b"x\n1\n2\n", "bare/c.txt": b"c", "prices.csv": b"p\n1\n",
             "__pycache__/x.pyc": b"\0", ".hidden": b"h", "traces/.keep": b""}
    for rel, content in files.items():
        (root / rel).write_bytes(content)
    sha = {rel: hashlib.sha256(content).hexdigest() for rel, content in files.items()}
    (root / "hardware.README.md").write_text(f"# XL hardware\n\nsha256 {sha['hardware.csv']}\n", encoding="utf-8")
    (root / "traces" / "README.md").write_text(
        f"Intro line\n## Public traces ##\nrows\n# Second title\n{sha['traces/sub/b.csv']}\n", encoding="utf-8")
    (root / "README.md").write_text("no heading at all\n", encoding="utf-8")
    # a README above data/ is not the data's: bare/c.txt finds data/README.md first, and never this one
    (tmp_path / "README.md").write_text("# Outside\n", encoding="utf-8")
    monkeypatch.setattr(appendix, "DATA", root)
    return root, files, sha


def test_inventory_rows_by_hand(data):
    root, files, sha = data
    inv = dataset_inventory()
    assert list(inv.columns) == ["dataset", "path", "bytes", "sha256", "readme", "readme_title", "in_readme"]
    # sorted by path; READMEs, __pycache__ and dot files left out
    assert list(inv["path"]) == ["data/bare/c.txt", "data/hardware.csv", "data/prices.csv", "data/traces/a.jsonl",
                                 "data/traces/sub/b.csv"]
    assert list(inv["dataset"]) == ["bare", "hardware", "prices", "traces", "traces"]
    assert list(inv["bytes"]) == [1, 19, 4, 9, 6]
    assert list(inv["sha256"]) == [sha["bare/c.txt"], sha["hardware.csv"], sha["prices.csv"], sha["traces/a.jsonl"],
                                   sha["traces/sub/b.csv"]]
    assert list(inv["readme"]) == ["data/README.md", "data/hardware.README.md", "data/README.md",
                                   "data/traces/README.md", "data/traces/README.md"]
    assert list(inv["readme_title"]) == ["", "XL hardware", "", "Public traces ##", "Public traces ##"]
    assert list(inv["in_readme"]) == [False, True, False, False, True]


def test_inventory_without_checksums(data):
    inv = dataset_inventory(with_checksums=False)
    assert set(inv["sha256"]) == {""} and not inv["in_readme"].any()
    assert list(inv["bytes"]) == [1, 19, 4, 9, 6]


def test_a_file_with_no_readme_up_to_data(data):
    root, _, _ = data
    (root / "README.md").unlink()
    inv = dataset_inventory().set_index("path")
    assert inv.loc["data/bare/c.txt", "readme"] == "" and inv.loc["data/bare/c.txt", "readme_title"] == ""
    assert inv.loc["data/prices.csv", "readme"] == ""
    assert inv.loc["data/traces/sub/b.csv", "readme"] == "data/traces/README.md"


# --- the source tables ------------------------------------------------------------------------------------------

def test_markdown_of_one_grid_and_an_empty_one():
    grid = pd.DataFrame({"T9": ["GPUs | spare", "cost"], "plan\nA": ["1 ✓", ""], "B": ["", "2 → 3 ✗"]})
    text = source_tables_markdown({"T0": pd.DataFrame(), "T9": grid, "T8": pd.DataFrame()},
                                  "✓ consistent")
    assert text == "\n".join([
        "**T0**: no audited figure in this build.",
        "",
        "**T9** (stated → computed, mark)",
        "",
        "| T9 | plan A | B |",
        "|---|---|---|",
        "| GPUs \\| spare | 1 ✓ |  |",
        "| cost |  | 2 → 3 ✗ |",
        "",
        "**T8**: no audited figure in this build.",
        "",
        "Marks: ✓ consistent.",
        "",
        "Every table of both sources, in its own shape: {doc}`/appendix_source_tables`.",
        ""])


def test_links_line_singular_escaped_and_counted():
    audit = pd.DataFrame({"table": ["T<1>", "T<1>", "T2", "T<1>"], "chapter": ["a&b", "-", "c", "a&b"],
                          "chapter_title": ["A & B", "none", "C", "A & B"]})
    assert source_table_links(audit, "T<1>") == (
        '<p class="source-table-links">3 stated figures; audited in: <a href="a&amp;b.html">A &amp; B</a>. '
        'Every row with its arithmetic: <a href="appendix_audit.html">the audit appendix</a> '
        '(filter "Source table" = T&lt;1&gt;).</p>')
    two = pd.DataFrame({"table": ["T3", "T3"], "chapter": ["a", "b"], "chapter_title": ["A", "B"]})
    assert '2 stated figures; audited in: <a href="a.html">A</a>, <a href="b.html">B</a>. ' in \
        source_table_links(two, "T3")
    assert source_table_links(audit, "T2").startswith('<p class="source-table-links">1 stated figure; audited in: '
                                                      '<a href="c.html">C</a>.')
    none = source_table_links(audit.iloc[[1]], "T<1>")
    assert none.startswith('<p class="source-table-links">1 stated figure; audited in: no chapter of this build.')


def test_variant_columns_by_name():
    grid = pd.DataFrame({"T1 (x)": ["r"], "a": ["1"], "a (b)": [""], "a (b) c": ["3"], "d (e (f))": ["4"],
                         "d": [""]})
    merged = merge_variant_columns(grid)
    # "a (b) c" does not end with ")": a column of its own; "d (e (f))" is a variant of "d"
    assert list(merged.columns) == ["T1 (x)", "a", "a (b) c", "d"]
    assert merged.values.tolist() == [["r", "1", "3", "4"]]


def test_variants_take_the_one_filled_cell_in_order():
    grid = pd.DataFrame({"T": ["r1", "r2", "r3", "r4"], "f": ["", "", "1", ""], "f (x)": ["", "2", "", ""],
                         "f (y)": ["3", "", "", ""], "g (z)": ["", "5", "", ""]})
    merged = merge_variant_columns(grid)
    assert list(merged.columns) == ["T", "f", "g (z)"]
    # r4 has no figure in any variant: an empty cell
    assert list(merged["f"]) == ["3", "2", "1", ""] and list(merged["g (z)"]) == ["", "5", "", ""]


def _grid(n_cols, filled):
    """A grid of 2 rows and ``n_cols`` figure columns with ``filled`` cells filled (row by row)."""
    cells = [["x" if i * n_cols + j < filled else "" for j in range(n_cols)] for i in range(2)]
    return pd.DataFrame([[f"r{i}"] + cells[i] for i in range(2)], columns=["T"] + [f"c{j}" for j in range(n_cols)])


def test_sparse_at_its_edges():
    assert not is_sparse(_grid(6, 0))            # six figure columns is not more than six
    assert is_sparse(_grid(7, 7))                # 7 of 14 cells filled: a density of 0.5 exactly
    assert not is_sparse(_grid(7, 8))            # 8 of 14
    assert is_sparse(_grid(7, 3))
    assert not is_sparse(_grid(7, 0).iloc[:0])   # no rows: a grid, not a list
    assert is_sparse(_grid(3, 1), max_columns=2)
    assert not is_sparse(_grid(3, 1), max_columns=3)
    assert is_sparse(_grid(7, 8), min_density=0.6) and not is_sparse(_grid(7, 8), min_density=0.55)
    # one empty cell and no column allowed: a list (the one cell is a grid of size 1, not 0)
    assert is_sparse(pd.DataFrame({"T": ["r"], "c": [""]}), max_columns=0)


def test_long_form_in_row_then_column_order():
    grid = pd.DataFrame({"S": ["a", "b"], "x": ["1", ""], "y": ["2", "3"]})
    assert long_form(grid).values.tolist() == [["a", "x", "1"], ["a", "y", "2"], ["b", "y", "3"]]
    empty = long_form(pd.DataFrame({"S": ["a"], "x": [""]}))
    assert empty.empty and list(empty.columns) == ["row", "figure", "cell"]


# --- one source table shown -------------------------------------------------------------------------------------

@pytest.fixture
def shown(monkeypatch):
    calls = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: calls.append(("display", obj)))
    monkeypatch.setattr(tables, "show_table", lambda frame, cols: ("table", frame.values.tolist(), cols))
    return calls


def _stand_in(grid, text):
    asked = []

    def source_table(audit, table_id, text_rows=False):
        asked.append((table_id, text_rows))
        return text if text_rows else grid
    return source_table, asked


def _audit(table_id):
    return pd.DataFrame({"table": [table_id], "chapter": ["fleet"], "chapter_title": ["Fleet"]})


def test_a_dense_grid_with_text_figures(tmp_path, shown):
    grid = pd.DataFrame({"T5": ["r"], "a": ["1 ✓"], "a (b)": [""]})
    text = pd.DataFrame({"where": ["§2"], "figure": ["n"], "stated → computed": ["4 ✓"]})
    fn, asked = _stand_in(grid, text)
    show_source_table(_audit("T5"), "T5", fn, output_dir=str(tmp_path))
    assert asked == [("T5", False), ("T5", True)]
    assert (tmp_path / "appendix_source_tables_T5.csv").read_text(encoding="utf-8") == "T5,a\nr,1 ✓\n"
    assert (tmp_path / "appendix_source_tables_T5_text.csv").read_text(encoding="utf-8") == \
        "where,figure,stated → computed\n§2,n,4 ✓\n"
    assert [kind for kind, _ in shown] == ["display"] * 4
    first, heading, text_table, links = (obj for _, obj in shown)
    assert first == ("table", [["r", "1 ✓"]], {"T5": Col("", kind="text"), "a": Col("a", kind="text")})
    assert heading.data == "Figures of the text around it:"
    assert text_table == ("table", [["§2", "n", "4 ✓"]],
                          {"where": Col("Where", kind="text"), "figure": Col("Figure", kind="text"),
                           "stated → computed": Col("Stated → computed", kind="text")})
    assert links.data == source_table_links(_audit("T5"), "T5")


def test_a_sparse_grid_shown_as_a_list(tmp_path, shown):
    grid = pd.DataFrame([["r1", "1", "", "", "", "", "", ""], ["r2", "", "", "", "", "", "", "2"]],
                        columns=["L"] + [f"c{j}" for j in range(7)])
    fn, _ = _stand_in(grid, pd.DataFrame())
    show_source_table(_audit("L"), "L", fn, output_dir=str(tmp_path))
    assert not (tmp_path / "appendix_source_tables_L_text.csv").exists()
    assert len(shown) == 2
    assert shown[0][1] == ("table", [["r1", "c0", "1"], ["r2", "c6", "2"]],
                           {"row": Col("Item", kind="text"), "figure": Col("Figure", kind="text"),
                            "cell": Col("Stated → computed", kind="text")})
    assert shown[1][1].data == source_table_links(_audit("L"), "L")


def test_an_empty_grid_shows_only_the_links(tmp_path, shown):
    fn, _ = _stand_in(pd.DataFrame({"E": []}), pd.DataFrame())
    show_source_table(_audit("E"), "E", fn, output_dir=str(tmp_path))
    assert (tmp_path / "appendix_source_tables_E.csv").read_text(encoding="utf-8").strip() == "E"
    assert len(shown) == 1 and "1 stated figure;" in shown[0][1].data
