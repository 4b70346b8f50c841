"""model.book.appendix.show_source_table: one source table shown and written, on a small crafted audit."""
import IPython.display
import pandas as pd

from model.audit.regenerate import source_table
from model.book.appendix import show_source_table


def _audit():
    rows = [("T1", "Concurrent sessions", "initial", 10000, 10000, "count", "given", "fleet", "Fleet"),
            ("T1", "Monthly cost", "target", 300, 1200, "USD", "inconsistent", "economics", "Economics"),
            ("T1", "§1 goals", "a | b", 5, 5, "count", "consistent", "fleet", "Fleet"),
            ("T12", "GPUs", "optimized", 900, 850, "count", "consistent", "-", "not audited")]
    return pd.DataFrame(rows, columns=["table", "row", "column", "stated_value", "computed_value", "unit", "verdict",
                                       "chapter", "chapter_title"])


def _shown(monkeypatch):
    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    return shown


def test_writes_the_grid_and_the_texts_figures(tmp_path, monkeypatch):
    shown = _shown(monkeypatch)
    show_source_table(_audit(), "T1", source_table, output_dir=str(tmp_path))
    grid = pd.read_csv(tmp_path / "appendix_source_tables_T1.csv", keep_default_na=False)
    assert list(grid["T1"]) == ["Concurrent sessions", "Monthly cost"]
    text = pd.read_csv(tmp_path / "appendix_source_tables_T1_text.csv", keep_default_na=False)
    assert len(text) == 1 and "§1 goals" in text.to_string()
    assert len(shown) == 4  # the grid, the heading and table of the text's figures, the links line
    assert shown[1].data == "Figures of the text around it:"
    assert "3 stated figures; audited in:" in shown[-1].data


def test_a_table_without_text_figures_writes_no_text_file(tmp_path, monkeypatch):
    shown = _shown(monkeypatch)
    show_source_table(_audit(), "T12", source_table, output_dir=str(tmp_path))
    assert (tmp_path / "appendix_source_tables_T12.csv").exists()
    assert not (tmp_path / "appendix_source_tables_T12_text.csv").exists()
    assert len(shown) == 2 and "no chapter of this build" in shown[-1].data
