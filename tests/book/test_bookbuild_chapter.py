"""`make chapter` and `make sweep` (model.book.build): progress while a chapter runs, its findings and page at
the end, the HTML build's log only when it fails, a failure reported with its cell, line and traceback (the
executed notebook kept), value errors before any kernel starts, make's own "Error 1" never the last line, and
sweeps that check their table and every value first and keep the runs that succeeded.

The chapters here are a six-cell notebook in a temporary folder (one kernel start each), not the book's."""
import io
import os
import re
import shutil
import subprocess
import sys

import nbformat
import pandas as pd
import pytest

import model.book.build as build
from model.book.build import (ChapterError, cell_progress, chapter_tables, check_table, check_values, findings_text,
                              main, notebooks, run_chapter, sweep)
from model.io import ROOT

FINDINGS = (":::{admonition} What this chapter finds\n:class: tip\n"
            "- **Doubling** gives {glue:text}`twice` in all,\n  which is {glue:text}`word`.\n"
            "- See {doc}`the other page <other>` and {glue:text}`other.ipynb::far:s`.\n:::\n")
PARAMS = "value = 1\noutput_dir = 'tables'\nquick = False\n"
CHECK = "from model.checks import check_int\n\ncheck_int('value', value, low=0)\n"
WRITE = ("import pathlib\npathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
         "pathlib.Path(f'{output_dir}/demo_values.csv').write_text(f'w\\n{2 * value}\\n')\n")
GLUE = ("from model.book.glue import glue\nglue('twice', f'{2 * value:,}')\nglue('word', 'even')\n"
        "lookup = {}\nif value == 7:\n    lookup['missing']\n")


@pytest.fixture
def chapters(tmp_path, monkeypatch):
    """``notebooks/demo.ipynb`` in a temporary folder, the build's notebook folder for the test: six cells
    (findings, parameters, a check, a table, text, glue that fails at ``value = 7``); failed runs kept in a
    temporary ``failed/``."""
    src = tmp_path / "notebooks"
    src.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(FINDINGS),
                nbformat.v4.new_code_cell(PARAMS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(CHECK), nbformat.v4.new_code_cell(WRITE),
                nbformat.v4.new_markdown_cell("Text."), nbformat.v4.new_code_cell(GLUE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, src / "demo.ipynb")
    monkeypatch.setattr(build, "NOTEBOOK_DIR", src)
    monkeypatch.setattr(build, "FAILED_DIR", tmp_path / "failed")
    return src


def _no_kernel(*args, **kwargs):
    raise AssertionError("a kernel was started")


def test_cell_progress_is_one_line_per_cell_off_a_terminal():
    out = io.StringIO()
    show = cell_progress("demo", out)
    show(7, 31, 12.4)
    show(9, 31, 13.0)
    assert out.getvalue() == "demo: cell 7/31 (12 s)\ndemo: cell 9/31 (13 s)\n"


def _page_writer(page, lines=99, code=0):
    """A stand-in for the HTML build: writes ``page`` and prints ``lines`` lines of log."""
    script = (f"import pathlib, sys; p = pathlib.Path({str(page)!r}); p.parent.mkdir(parents=True, exist_ok=True); "
              f"p.write_text('x'); print('\\n'.join(f'sphinx line {{i}}' for i in range({lines}))); sys.exit({code})")
    return f"{sys.executable} -c \"{script}\""


def _glued(name, text):
    return nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": repr(text)},
                                  metadata={"scrapbook": {"name": name, "mime_prefix": "application/papermill.record/"}})


def test_run_chapter_prints_progress_then_the_findings_and_the_page(chapters, tmp_path, capfd):
    """Progress per code cell (numbered as in the source notebook, the injected parameters skipped), the HTML
    build's output in its log only, then the findings box as plain text (glued values filled in, from this
    page and the one beside it) and the page's path; no warning from the kernel."""
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    other = nbformat.v4.new_notebook()
    other.cells = [nbformat.v4.new_code_cell(outputs=[_glued("far", "far away")])]
    nbformat.write(other, tmp_path / "book" / "chapters" / "other.ipynb")
    page = tmp_path / "book" / "_build" / "html" / "chapters" / "demo.html"
    log = tmp_path / "logs" / "html.log"
    out = io.StringIO()
    assert run_chapter("demo", tmp_path / "book" / "chapters", {"value": 3}, html=_page_writer(page), log_path=log,
                       stream=out) is None
    text = out.getvalue()
    assert re.findall(r"^demo: cell (\d)/6 \(\d+ s\)$", text, re.M) == ["2", "3", "4", "6"]
    assert text.startswith("demo: running with value=3\ndemo: cell 2/6 (")
    assert text.endswith("What this chapter finds\n  - Doubling gives 6 in all, which is even.\n"
                         "  - See the other page and far away.\n\n"
                         f"page: {page}\n")
    assert "sphinx line" not in text and "sphinx line 98" in log.read_text()
    err = capfd.readouterr().err
    assert "warning" not in err.lower() and "without encryption" not in err


def test_run_chapter_reports_a_failed_cell_and_keeps_its_notebook(chapters, tmp_path):
    out = io.StringIO()
    book = tmp_path / "book" / "chapters"
    summary = run_chapter("demo", book, {"value": 7}, html="false", stream=out)
    assert summary == "demo failed: KeyError: 'missing'"
    lines = out.getvalue().splitlines()
    at = lines.index("error: demo failed (outputs left as they were): KeyError: 'missing'")
    assert re.fullmatch(r"  in cell 6 of 6 \(In \[\d+\]\), line 6:", lines[at + 1])
    assert lines[at + 2] == "    lookup['missing']" and lines[at + 3] == "  the end of the traceback:"
    kept = tmp_path / "failed" / "demo.ipynb"
    assert "    KeyError: 'missing'" in lines and f"  the executed notebook, as far as it ran: {kept}" in lines
    text = kept.read_text()
    assert '"ename": "KeyError"' in text and ".staging" not in text
    assert not (book / "demo.ipynb").exists() and not list(book.glob(".staging*"))


def test_a_value_the_running_chapter_refuses_is_one_line(chapters, tmp_path, monkeypatch):
    """A ParameterError raised while the chapter runs (a check its first cells cannot make) is reported as the
    up-front checks are: one line naming the parameter, no traceback."""
    src = chapters / "demo.ipynb"
    nb = nbformat.read(src, as_version=4)
    nb.cells[3].source = ("from model.checks import ParameterError\nif value == 5:\n"
                          "    raise ParameterError('value', value, 'anything but 5')\n")
    nbformat.write(nb, src)
    out = io.StringIO()
    summary = run_chapter("demo", tmp_path / "book" / "chapters", {"value": 5}, html=None, stream=out)
    assert summary == "demo: value=5 is not allowed: value must be anything but 5"
    assert "traceback" not in out.getvalue() and "error" not in out.getvalue()


def test_run_chapter_shows_the_html_log_only_when_the_build_fails(chapters, tmp_path, monkeypatch):
    book = tmp_path / "book" / "chapters"

    def executed(nb, out_dir, params, **kwargs):  # the chapter's run is not what this test is about
        page = nbformat.v4.new_notebook()
        page.cells = [nbformat.v4.new_markdown_cell(FINDINGS)]
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(page, out_dir / "demo.ipynb")
        return out_dir / "demo.ipynb"

    monkeypatch.setattr(build, "execute", executed)
    page = tmp_path / "book" / "_build" / "html" / "chapters" / "demo.html"
    log = tmp_path / "logs" / "html.log"
    out = io.StringIO()
    summary = run_chapter("demo", book, {}, html=_page_writer(page, 40, 3), log_path=log, stream=out)
    assert summary == f"the HTML build failed after demo ran (log: {log})"
    text = out.getvalue()
    assert f"error: the HTML build failed; its log: {log}; its last lines:" in text
    assert "    sphinx line 39\n" in text and "sphinx line 20\n" not in text
    assert "What this chapter finds" not in text
    out = io.StringIO()
    assert run_chapter("demo", book, {}, html=_page_writer(page), log_path=log, stream=out) is None
    assert "  - Doubling gives [twice] in all, which is [word]." in out.getvalue()  # nothing glued: names shown


def test_value_errors_stop_before_a_kernel_starts(chapters, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(build, "execute", _no_kernel)
    monkeypatch.setattr(build, "execute_all", _no_kernel)
    for argv in (["chapter", "demo", str(tmp_path / "book")], ["notebooks", str(tmp_path / "book"), "--only", "demo"]):
        assert main([*argv, "--", "-p", "value", "-3"]) == 1
        err = capsys.readouterr().err
        assert err == "error: demo: value=-3 is not allowed: value must be an integer in [0, inf]\n"
    note = tmp_path / "note.txt"
    assert main(["chapter", "demo", str(tmp_path / "book"), "--failure-note", str(note), "--", "-p", "value", "x"]) == 1
    assert capsys.readouterr().err == ""  # the note is the last line make prints
    assert note.read_text() == "demo: value='x' is not allowed: value must be an integer in [0, inf]\n"


def test_every_chapter_passes_its_own_checks_at_its_defaults_and_tiering_refuses_a_bad_value():
    for nb in notebooks():
        check_values(nb, {})
    [tiering] = notebooks(["tiering"])
    with pytest.raises(ChapterError, match=r"^tiering: mooncake_instances=4\.5 is not allowed: mooncake_instances "
                                           r"must be an integer in \[1, inf\]$"):
        check_values(tiering, {"mooncake_instances": 4.5})
    with pytest.raises(ChapterError, match=r"^tiering: gpu='h900' is not allowed"):
        check_values(tiering, {"gpu": "h900"})


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_chapter_ends_with_its_own_line_not_makes_error():
    """A failed `make chapter` exits nonzero and its last line is the failure itself, not "make: *** ... Error 1"
    (`-o` keeps make from reinstalling the virtualenv)."""
    run = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "chapter", "NB=tiering",
                          "ARGS=-p mooncake_instances 0"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode != 0
    lines = (run.stdout + run.stderr).strip().splitlines()
    assert re.fullmatch(r"Makefile:\d+: \*\*\* tiering: mooncake_instances=0 is not allowed: mooncake_instances "
                        r"must be an integer in \[1, inf\]\.  Stop\.", lines[-1]), lines
    assert not any("Error 1" in ln for ln in lines)
    usage = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "chapter"], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert usage.returncode != 0 and "*** usage: make chapter NB=" in usage.stderr.strip().splitlines()[-1]


def test_findings_in_a_backtick_box_or_a_findings_list(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Fleet\n\nIntro.\n\nFindings first:\n\n- One is {glue:text}`one`.\n"
                                              "- Two, **bold**, *italic*, 2 * 3,\n  wrapped.\n\nAfter.\n"),
                nbformat.v4.new_code_cell(outputs=[nbformat.v4.new_output(
                    "display_data", data={"application/papermill.record/text/plain": "'1'"},
                    metadata={"scrapbook": {"name": "one", "mime_prefix": "application/papermill.record/"}})])]
    nbformat.write(nb, tmp_path / "fleet.ipynb")
    assert findings_text(tmp_path / "fleet.ipynb") == "Findings first\n  - One is 1.\n  - Two, bold, italic, 2 * 3, wrapped."
    nb.cells[0].source = "# KV\n\n```{admonition} What this chapter finds\n:class: tip\n- It is {glue:text}`one`.\n```\n"
    nbformat.write(nb, tmp_path / "fleet.ipynb")
    assert findings_text(tmp_path / "fleet.ipynb") == "What this chapter finds\n  - It is 1."
    nb.cells = nb.cells[1:]
    nbformat.write(nb, tmp_path / "fleet.ipynb")
    assert findings_text(tmp_path / "fleet.ipynb") == ""


# --- make sweep ---------------------------------------------------------------------------------------------

def test_sweep_checks_the_table_and_every_value_before_the_first_run(chapters, tmp_path, monkeypatch):
    monkeypatch.setattr(build, "execute", _no_kernel)
    out = tmp_path / "sweep.csv"
    with pytest.raises(ChapterError, match=r"^demo: value=-2 is not allowed: value must be an integer"):
        sweep("demo", "value", ["1", "-2", "3"], "demo_values.csv", out, {})
    with pytest.raises(ChapterError, match=r"^demo writes no table 'demo_value\.csv'\. Did you mean "
                                           r"'demo_values\.csv'\? Its tables: demo_values\.csv\.$"):
        sweep("demo", "value", ["1"], "demo_value.csv", out, {})
    with pytest.raises(ChapterError, match=r"Did you mean 'demo_values\.csv'\?"):
        sweep("demo", "value", ["1"], "demo_values", out, {})
    with pytest.raises(ChapterError, match=r"demo has no parameter 'valu'\. Did you mean 'value'\?"):
        sweep("demo", "valu", ["1"], "demo_values.csv", out, {})
    assert not out.exists()


def test_sweep_keeps_the_runs_that_succeeded_and_names_the_value_that_failed(chapters, tmp_path, monkeypatch,
                                                                           capsys):
    def run(nb, out_dir, params, **kwargs):  # the chapter as it runs: a table, or its error at value 7
        if params["value"] == 7:
            raise ChapterError("demo failed (outputs left as they were): KeyError: 'missing'", details="  in cell 6")
        (out_dir / "tables").mkdir(parents=True)
        (out_dir / "tables" / "demo_values.csv").write_text(f"w\n{2 * params['value']}\n")
        return out_dir / "demo.ipynb"

    monkeypatch.setattr(build, "execute", run)
    out = tmp_path / "sweeps" / "demo_value.csv"
    assert main(["sweep", "demo", "value", "1", "7", "3", "--table", "demo_values.csv", "--out", str(out)]) == 1
    assert pd.read_csv(out).to_dict("list") == {"value": [1, 3], "w": [2, 6]}
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: demo failed at value=7 (the 2 rows of the other 2 runs are in {out})"
    assert err[0] == "[1/3] value=1: 1 rows in 0 s" and err[1].startswith("[2/3] value=7: FAILED in 0 s: demo failed")
    assert not list(out.parent.glob(".*"))  # written in one rename
    assert main(["sweep", "demo", "value", "7", "--table", "demo_values.csv", "--out", str(tmp_path / "no.csv")]) == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: demo failed at value=7 (no run succeeded, nothing was written)")
    assert not (tmp_path / "no.csv").exists()


def test_chapter_tables_are_the_files_its_code_writes():
    [tiering] = notebooks(["tiering"])
    assert {"tiering_capacity_sweeps.csv", "tiering_ttl.csv", "tiering_audit.csv"} <= set(chapter_tables(tiering))
    check_table(tiering, "tiering_knees.csv")
    for nb in notebooks():
        if not nb.stem.startswith("appendix_"):
            assert chapter_tables(nb) and all(t.startswith(nb.stem) for t in chapter_tables(nb)), nb.stem


@pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")
def test_make_sweep_stops_on_a_bad_table_or_value_before_the_first_run():
    def make(*args):
        run = subprocess.run(["make", "--no-print-directory", "-o", ".venv/.installed", "sweep", "NB=tiering",
                              "PARAM=mooncake_instances", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert run.returncode != 0 and "Error 1" not in run.stdout + run.stderr
        return (run.stdout + run.stderr).strip().splitlines()[-1]

    assert make("VALUES=8 0", "TABLE=tiering_knees.csv").endswith(
        "*** tiering: mooncake_instances=0 is not allowed: mooncake_instances must be an integer in [1, inf].  Stop.")
    assert make("VALUES=8 16", "TABLE=tiering_knee.csv").endswith(
        "*** tiering writes no table 'tiering_knee.csv'. Did you mean 'tiering_knees.csv'? Its tables: "
        "tiering_audit.csv, tiering_capacity_sweeps.csv, tiering_knees.csv, tiering_lru_curves.csv, "
        "tiering_mooncake_ideal.csv, tiering_throughput_at_slo.csv, tiering_ttl.csv, tiering_workloads.csv.  Stop.")
