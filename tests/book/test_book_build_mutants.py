"""model.book.build by hand, with no kernel: papermill's ``execute_notebook`` replaced by a stand-in that writes
the executed notebook and a table (or fails like papermill), the notebooks small JSON files written here, and the
runs of ``execute``, ``execute_all`` and the HTML build replaced by recorders where a test is about what calls
them. Every expected message, path and line is written out here from the inputs chosen."""
import io
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

import model.book.build as build
from model.book.build import (ChapterError, _cell_number, _error_line, _error_summary, _glued_values, _html_page,
                              _parse_params, _shown, _strip_internal_injection, _unstaged, build_html, cell_progress,
                              chapter_tables, check_offline, check_parameters, check_table, check_values, execute,
                              execute_all, failure_details, findings_text, fold_code, is_appendix, main, notebooks,
                              parameter_defaults, parameter_error, parameter_names, run_chapter, sweep)
from model.io import ROOT


def _write_nb(path, cells):
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}),
                    encoding="utf-8")
    return path


def _code(source, tags=None, **more):
    cell = {"cell_type": "code", "metadata": {"tags": tags} if tags is not None else {}, "source": source,
            "outputs": [], "execution_count": None}
    cell.update(more)
    return cell


def _md(source, **more):
    return {"cell_type": "markdown", "metadata": {}, "source": source, **more}


# --- small parts ------------------------------------------------------------------------------------------------

def test_is_appendix():
    assert is_appendix(Path("x/appendix_audit.ipynb")) and not is_appendix(Path("appendix.ipynb"))
    assert not is_appendix(Path("fleet_appendix_x.ipynb"))


def test_parse_params_by_hand():
    assert _parse_params([]) == {}
    assert _parse_params(["-p", "a", "1", "--parameters", "b", "x: 2", "-p", "c", "text"]) == {
        "a": 1, "b": {"x": 2}, "c": "text"}
    assert _parse_params(["-p", "a", "1", "-p", "a", "2.5"]) == {"a": 2.5}


@pytest.mark.parametrize("pairs, message", [
    (["-p", "a"], "error: '-p' needs NAME and VALUE, got '-p a'"),
    (["-p", "a", "1", "-p", "b"], "error: '-p' needs NAME and VALUE, got '-p b'"),
    (["--a", "b", "c"], "error: expected '-p NAME VALUE', got '--a b c'"),
    (["-p", "a", "1", "x"], "error: expected '-p NAME VALUE', got 'x'"),
])
def test_parse_params_errors(pairs, message):
    with pytest.raises(SystemExit) as err:
        _parse_params(pairs)
    assert err.value.code == message


def test_chapter_error_attributes():
    e = ChapterError("m")
    assert str(e) == "m" and e.details == "" and e.failed_notebook is None and e.parameter_error == ""
    e = ChapterError("m", details="d", failed_notebook=Path("f"), parameter_error="p")
    assert (e.details, e.failed_notebook, e.parameter_error) == ("d", Path("f"), "p")


PARAMS_SRC = ["a = 1\n", "b: int = 2\n", "c, d = 3, 4\n", "x.y = 5\n", "e = f = 6\n", "import os\n"]


def test_parameter_names_and_defaults(tmp_path):
    nb = _write_nb(tmp_path / "demo.ipynb", [
        _md("# a = 0"), {"cell_type": "code", "source": "zz = 1"},
        _code(PARAMS_SRC, tags=["hide-input", "parameters"]), _code("later = 1", tags=["parameters"])])
    # assignments to names only (not the tuple, not the attribute), annotated ones among the names
    assert parameter_names(nb) == ["a", "b", "e", "f"]
    # literal values of plain assignments (the annotated one left out)
    assert parameter_defaults(nb) == {"a": 1, "e": 6, "f": 6}
    bare = _write_nb(tmp_path / "bare.ipynb", [_code("a = 1")])
    assert parameter_names(bare) == [] and parameter_defaults(str(bare)) == {}


def test_check_parameters_names_the_closest(tmp_path):
    nb = _write_nb(tmp_path / "demo.ipynb", [_code(PARAMS_SRC, tags=["parameters"])])
    check_parameters(nb, {"a": 0, "f": 1})
    with pytest.raises(ChapterError) as err:
        check_parameters(nb, {"a": 0, "aa": 1, "zzz": 2})
    # "aa" against "a": 2 × 1 / 3 = 0.67 of the letters match, above the 0.6 cutoff
    assert str(err.value) == "demo has no parameter 'aa'. Did you mean 'a'? Its parameters: a, b, e, f."
    with pytest.raises(ChapterError) as err:
        check_parameters(nb, {"zzz": 2})
    assert str(err.value) == "demo has no parameter 'zzz'. Its parameters: a, b, e, f."


def _tables_nb(tmp_path, name="demo"):
    return _write_nb(tmp_path / f"{name}.ipynb", [
        _md("write_csv(t, f'{output_dir}/in_text.csv')"),
        _code(["write_csv(t, f\"{output_dir}/b.csv\")\n", "x = '{output_dir}/a_1.csv'\n"]),
        _code("write_csv(u, f'{output_dir}/b.csv'); write_csv(u, f'{output_dir}/c-d.v2.csv')"),
        _code("path = '{output_dir}/no_csv.txt'")])


def test_chapter_tables_and_check_table(tmp_path):
    nb = _tables_nb(tmp_path)
    assert chapter_tables(nb) == ["a_1.csv", "b.csv", "c-d.v2.csv"]
    check_table(nb, "b.csv")
    with pytest.raises(ChapterError) as err:
        check_table(nb, "b")
    assert str(err.value) == "demo writes no table 'b'. Did you mean 'b.csv'? Its tables: a_1.csv, b.csv, c-d.v2.csv."
    with pytest.raises(ChapterError) as err:
        check_table(nb, "zzzzzz.csv")
    assert str(err.value) == "demo writes no table 'zzzzzz.csv'. Its tables: a_1.csv, b.csv, c-d.v2.csv."
    # a chapter that writes no table is not checked
    check_table(_write_nb(tmp_path / "none.ipynb", [_code("x = 1")]), "anything.csv")


CHECKS = ["%matplotlib inline\n", "from model.checks import check_int, check_fraction\n", "import math\n",
          "check_int('later', computed_later, low=0)\n", "n_checked = check_int('n', n, low=1)\n",
          "for share in shares:\n", "    check_fraction('share', share)\n"]


def _checked_nb(folder, name):
    folder.mkdir(exist_ok=True)
    return _write_nb(folder / f"{name}.ipynb", [
        _code("n = 2\nshares = [0.5]\n", tags=["parameters"]),
        _code("check_int('n', -5, low=1)", tags=["injected-parameters"]),
        _md("check_int('n', -5, low=1)"),
        _code(CHECKS), _code("def broken(:\n"), _code("total = n * 2")])


def test_parameter_error_runs_the_chapters_own_checks(tmp_path, monkeypatch):
    from model.checks import ParameterError

    monkeypatch.setattr(build, "NOTEBOOK_DIR", tmp_path / "nbs")
    _checked_nb(tmp_path / "nbs", "checked")
    # the first check needs a value the chapter computes: skipped; then n, then every share
    assert parameter_error("checked", {"n": 2, "shares": [0.5, 1.0]}) is None
    err = parameter_error("checked", {"n": 0, "shares": [2.0]})
    assert isinstance(err, ParameterError) and str(err).startswith("n=0 is not allowed")
    err = parameter_error("checked", {"n": 3, "shares": [0.5, 2.0]})
    assert str(err).startswith("share=2.0 is not allowed")
    values = {"n": 0, "shares": []}
    parameter_error("checked", values)
    assert values == {"n": 0, "shares": []}   # the checks run on a copy


def test_check_values_on_the_defaults_with_the_values_given(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "NOTEBOOK_DIR", tmp_path / "nbs")
    nb = _checked_nb(tmp_path / "nbs", "values")
    check_values(nb, {})
    check_values(nb, {"n": 4})
    with pytest.raises(ChapterError) as err:
        check_values(nb, {"n": 0})
    assert str(err.value) == "values: n=0 is not allowed: n must be an integer in [1, inf]"
    with pytest.raises(ChapterError, match=r"^values: share=1.5 is not allowed"):
        check_values(nb, {"shares": [1.5]})   # n from the defaults


def test_strip_internal_injection():
    nb = {"cells": [
        _code(["# Parameters\n", "output_dir = \"/tmp/x/tables\"\n", "value = 3\n"], tags=["injected-parameters"]),
        _code("# Parameters\noutput_dir = '/tmp/x/tables'\n\n", tags=["injected-parameters"]),
        _code("output_dir = 'mine'\n"), {"cell_type": "markdown", "source": "output_dir = 'text'"}]}
    out = _strip_internal_injection(nb, "tables")
    assert [c["source"] for c in out["cells"]] == ["# Parameters\nvalue = 3\n", "output_dir = 'mine'\n",
                                                   "output_dir = 'text'"]


def test_fold_code():
    nb = {"cells": [_code("a", tags=["parameters"]), _code("b", tags=["injected-parameters"]), _code("c"),
                    {"cell_type": "code", "source": "d"}, _code("e", tags=["hide-input"]), _code("f", tags=["x"]),
                    _md("g")]}
    out = fold_code(nb)
    assert [c["metadata"].get("tags") for c in out["cells"]] == [
        ["parameters"], ["injected-parameters"], ["hide-input"], ["hide-input"], ["hide-input"], ["x", "hide-input"],
        None]


def test_error_summary():
    class Raised(Exception):
        ename, evalue = "KeyError", "'missing'"
    assert _error_summary(Raised("other")) == "KeyError: 'missing'"
    assert _error_summary(ValueError("bad value")) == "ValueError: bad value"


def test_cell_number():
    nb = {"cells": [{"id": "a"}, {"id": "b"}, {}]}
    assert _cell_number(nb, "b", 9) == (2, 3) and _cell_number(nb, "a", 9) == (1, 3)
    assert _cell_number(nb, None, 9) == (9, 3) and _cell_number(nb, "zz", 4) == (4, 3)


TRACE = ["\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
         "\x1b[0;31mValueError\x1b[0m                                Traceback (most recent call last)",
         "Cell \x1b[0;32mIn[7], line 2\x1b[0m\n      1 x = 1\n----> 2 y = f(x)\n",
         "File /m.py:3, in f(v)\n      2 def f(v):\n----> 3     raise ValueError('bad')",
         "\x1b[0;31mValueError\x1b[0m: bad"]
SOURCE = "x = 1\n   y = f(x)   \nz = 3\nw = 4"


def _exc(traceback=TRACE, source=SOURCE, cell_index=5):
    return SimpleNamespace(cell_index=cell_index, source=source, exec_count=7, traceback=traceback)


def test_failure_details_by_hand():
    source_nb = {"cells": [{"id": "c1"}, {"id": "c2"}, {"id": "c3"}]}
    anchor = {"cell_type": "markdown", "metadata": {"tags": ["papermill-error-cell-tag"]}}
    executed = {"cells": [dict(anchor), {"cell_type": "code", "id": "c1"}, _md("x"), dict(anchor),
                          {"cell_type": "code", "id": "c2"}, dict(anchor), _md("y"), dict(anchor)]}
    # the last anchor followed by a code cell marks c2: cell 2 of 3; line 2 of the cell raised
    assert failure_details(_exc(), source_nb, executed) == "\n".join([
        "  in cell 2 of 3 (In [7]), line 2:", "    y = f(x)", "  the end of the traceback:",
        "    Cell In[7], line 2", "    ----> 2 y = f(x)", "    File /m.py:3, in f(v)",
        "    ----> 3     raise ValueError('bad')", "    ValueError: bad"])


def test_failure_details_without_a_line_or_an_executed_notebook():
    source_nb = {"cells": [{"id": "c1"}, {"id": "c2"}]}
    trace = ["Traceback (most recent call last)", "old frame", "During handling ...",
             "Traceback (most recent call last)"] + [f"  frame {i}" for i in range(10)] + ["Cell In[3], line 9"]
    # no anchor, no executed notebook: the cell index papermill gave; line 9 of a 4-line cell is not shown
    text = failure_details(_exc(trace, source=["a = 1\n", "b = 2\n", "c = 3\n", "d = 4\n"]), source_nb, None)
    assert text.splitlines()[:4] == ["  in cell 5 of 2 (In [7]), which begins:", "    a = 1", "    b = 2", "    c = 3"]
    # the last chain only, its last 8 lines
    assert text.splitlines()[4:] == ["  the end of the traceback:"] + [f"      frame {i}" for i in range(3, 10)] + [
        "    Cell In[3], line 9"]
    assert "old frame" not in text
    # no traceback at all, no line
    assert failure_details(_exc(None), source_nb, {"cells": []}).splitlines() == [
        "  in cell 5 of 2 (In [7]), which begins:", "    x = 1", "       y = f(x)   ", "    z = 3",
        "  the end of the traceback:"]
    # line 1 of a cell, at the first line exactly
    first = failure_details(_exc(["Cell In[7], line 1"]), source_nb, None)
    assert first.splitlines()[:2] == ["  in cell 5 of 2 (In [7]), line 1:", "    x = 1"]
    # line 4, the last
    last = failure_details(_exc(["Cell In[7], line 4"]), source_nb, None)
    assert last.splitlines()[:2] == ["  in cell 5 of 2 (In [7]), line 4:", "    w = 4"]
    zero = failure_details(_exc(["Cell In[7], line 0"]), source_nb, None)
    assert zero.splitlines()[0] == "  in cell 5 of 2 (In [7]), which begins:"


def test_cell_progress_on_a_terminal_and_off():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    tty = Tty()
    show = cell_progress("demo", tty)
    show(3, 12, 1234.4)
    show.done()
    assert tty.getvalue() == "\r\x1b[Kdemo: cell 3/12 (1,234 s)\r\x1b[K"
    plain = io.StringIO()
    show = cell_progress("demo", plain)
    show(1, 2, 0.4)
    assert show.done() is None and plain.getvalue() == "demo: cell 1/2 (0 s)\n"


def test_cell_progress_writes_to_stderr_by_default(capsys):
    show = cell_progress("x")
    show(1, 1, 2.0)
    assert capsys.readouterr().err == "x: cell 1/1 (2 s)\n"


def test_progress_engine_calls_on_cell_when_a_cell_starts(monkeypatch):
    from papermill.engines import NBClientEngine, papermill_engines

    monkeypatch.delitem(papermill_engines._engines, "model-book-progress", raising=False)
    seen = []
    monkeypatch.setattr(NBClientEngine, "execute_managed_notebook",
                        classmethod(lambda cls, nb_man, kernel_name, **kw: seen.append(("run", nb_man, kernel_name, kw))))
    name = build._progress_engine()
    assert name == "model-book-progress"
    engine = papermill_engines._engines[name]
    assert build._progress_engine() == name and papermill_engines._engines[name] is engine  # registered once

    class Manager:
        nb = "the notebook"

        def cell_start(self, cell, cell_index=None, **kw):
            seen.append(("start", cell, cell_index, kw))
            return "started"
    man = Manager()
    engine.execute_managed_notebook(man, "python3", on_cell=lambda i, nb: seen.append(("on_cell", i, nb)), x=1)
    assert seen == [("run", man, "python3", {"x": 1})]
    assert man.cell_start("c", 4, y=2) == "started"
    assert seen[1:] == [("on_cell", 4, "the notebook"), ("start", "c", 4, {"y": 2})]
    plain = Manager()
    engine.execute_managed_notebook(plain, "k")
    assert plain.cell_start("c", 1) == "started" and seen[-1] == ("start", "c", 1, {})


def test_ipc_kernel_manager_uses_a_private_socket_folder():
    manager = build._ipc_kernel_manager()()
    folder = Path(manager._sockets)
    assert folder.is_dir() and folder.name.startswith("kernel-")
    assert manager.transport == "ipc" and manager.ip == str(folder / "ipc")
    manager.cleanup_resources(restart=True)
    assert folder.is_dir()
    manager.cleanup_resources()
    assert not folder.exists()
    manager.cleanup_resources()      # a second time: the folder is gone, nothing raised


def test_unstaged_puts_the_real_paths_back(tmp_path):
    staging, out = tmp_path / "book" / ".staging-x", tmp_path / "book"
    staging.mkdir(parents=True)
    staged = staging / "x.ipynb"
    staged.write_text(json.dumps({"t": f"{staging}/tables/a.csv", "o": f"{staging}/other.png"}), encoding="utf-8")
    assert _unstaged(staged, staging, Path("tables"), out) == {"t": "tables/a.csv", "o": f"{out}/other.png"}


# --- execute, with papermill's run replaced -----------------------------------------------------------------------

def _chapter(folder, name="demo"):
    folder.mkdir(parents=True, exist_ok=True)
    return _write_nb(folder / f"{name}.ipynb", [
        _md("# Demo", id="m1"), _code("value = 1\noutput_dir = 'tables'\n", tags=["parameters"], id="p1"),
        _code("import x", id="c1"), _md("Text", id="m2"), _code("y = 2", id="c2")])


@pytest.fixture
def papermill_run(monkeypatch):
    """papermill.execute_notebook replaced: writes the executed notebook (the parameters injected after the
    parameters cell, every path in the output_dir it was given) and a table in that folder; ``fail`` set to an
    exception makes it write the notebook as far as it ran and raise that."""
    state = SimpleNamespace(calls=[], fail=None, write=True)

    def run(input_path, output_path, parameters, **kw):
        state.calls.append((input_path, output_path, dict(parameters), kw))
        nb = json.loads(Path(input_path).read_text(encoding="utf-8"))
        injected = _code("# Parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in parameters.items()),
                         tags=["injected-parameters"], id="inj")
        at = next(i for i, c in enumerate(nb["cells"]) if "parameters" in c["metadata"].get("tags", [])) + 1
        nb["cells"].insert(at, injected)
        nb["cells"][-1]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                       "text": f"wrote {parameters['output_dir']}/t.csv, "
                                               f"saved {Path(output_path).parent}/fig.png é"}]
        if state.fail is not None:   # papermill's anchor before the failing (last) cell
            nb["cells"].insert(len(nb["cells"]) - 1, {"cell_type": "markdown", "source": "",
                                                      "metadata": {"tags": ["papermill-error-cell-tag"]}})
        if "on_cell" in kw:
            node = nbformat.from_dict(nb)
            for i in range(len(nb["cells"])):
                kw["on_cell"](i, node)
        if state.write:
            Path(output_path).write_text(json.dumps(nb), encoding="utf-8")
        if state.fail is not None:
            raise state.fail
        tables = Path(parameters["output_dir"])
        (tables / "sub").mkdir(parents=True)
        (tables / "t.csv").write_text("a\n1\n", encoding="utf-8")
        (tables / "sub" / "s.csv").write_text("b\n2\n", encoding="utf-8")
    monkeypatch.setattr(papermill, "execute_notebook", run)
    return state


def test_execute_stages_then_moves_and_folds(tmp_path, papermill_run, monkeypatch):
    from model.result_cache import CACHE_ENV

    monkeypatch.delenv(CACHE_ENV, raising=False)
    nb = _chapter(tmp_path / "src")
    out = tmp_path / "a" / "b" / "book"       # its parents made too
    target = execute(nb, out, {"value": 3}, progress=True)
    assert target == out / "demo.ipynb" and os.environ[CACHE_ENV] == str(build.AUDIT_CACHE)
    [(inp, outp, params, kw)] = papermill_run.calls
    staging = Path(outp).parent
    assert inp == str(nb) and Path(outp).name == "demo.ipynb" and staging.parent == out
    assert staging.name.startswith(".staging-demo-")
    assert params == {"value": 3, "output_dir": str(staging / "tables")}
    assert kw["kernel_name"] == "python3" and kw["progress_bar"] is True and kw["report_mode"] is False
    assert kw["log_output"] is False and kw["resources"] == {"metadata": {"path": str(out)}}
    assert kw["kernel_manager_class"].__name__ == "IpcKernelManager" and "engine_name" not in kw
    # the tables moved out of the staging folder, which is gone
    assert (out / "tables" / "t.csv").read_text(encoding="utf-8") == "a\n1\n"
    assert (out / "tables" / "sub" / "s.csv").read_text(encoding="utf-8") == "b\n2\n"
    assert sorted(p.name for p in out.iterdir()) == ["demo.ipynb", "tables"]
    text = target.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n  {')   # indent 1, a final newline
    cells = json.loads(text)["cells"]
    # the injected cell without its output_dir line; code folded but the parameters; paths put back
    assert cells[2]["source"] == "# Parameters\nvalue = 3\n"
    assert [c["metadata"].get("tags") for c in cells] == [None, ["parameters"], ["injected-parameters"],
                                                          ["hide-input"], None, ["hide-input"]]
    assert cells[-1]["outputs"][0]["text"] == f"wrote tables/t.csv, saved {out}/fig.png é"


def test_execute_keeps_non_ascii_text(tmp_path, papermill_run):
    nb = _chapter(tmp_path / "src")
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    cells[0]["source"] = "# Démo → 2 ×"
    _write_nb(nb, cells)
    target = execute(nb, tmp_path / "book", {}, progress=False)
    assert "# Démo → 2 ×" in target.read_text(encoding="utf-8")


def test_execute_with_a_relative_output_dir_and_progress(tmp_path, papermill_run, monkeypatch):
    nb = _chapter(tmp_path / "src")
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    del cells[1]["id"]      # the parameters cell has no id: its index in the executed notebook is its number
    _write_nb(nb, cells)
    monkeypatch.chdir(tmp_path)
    seen = []
    target = execute(nb, Path("book"), {"output_dir": "data/t"}, on_cell=lambda *a: seen.append(a))
    assert target == tmp_path / "book" / "demo.ipynb"
    assert (tmp_path / "book" / "data" / "t" / "t.csv").exists()
    [(_, _, params, kw)] = papermill_run.calls
    assert kw["progress_bar"] is False                       # stderr is not a terminal under pytest
    assert kw["engine_name"] == "model-book-progress"
    # the code cells of the executed notebook, numbered as in the source (the injected one skipped)
    assert [(n, c) for n, c, _ in seen] == [(1, 5), (3, 5), (5, 5)]
    assert all(0 <= s < 60 for _, _, s in seen)


def test_execute_refuses_an_absolute_output_dir(tmp_path, papermill_run):
    nb = _chapter(tmp_path / "src")
    with pytest.raises(ChapterError) as err:
        execute(nb, tmp_path / "book", {"output_dir": "/abs/t"})
    assert str(err.value) == f"output_dir='/abs/t': give a folder relative to {tmp_path / 'book'}"
    assert papermill_run.calls == []


def test_execute_refuses_an_unknown_parameter_before_running(tmp_path, papermill_run):
    with pytest.raises(ChapterError, match="has no parameter 'valu'"):
        execute(_chapter(tmp_path / "src"), tmp_path / "book", {"valu": 1})
    assert papermill_run.calls == [] and not (tmp_path / "book").exists()


def test_a_failed_run_leaves_the_outputs_and_keeps_its_notebook(tmp_path, papermill_run):
    nb = _chapter(tmp_path / "src")
    out = tmp_path / "book"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "t.csv").write_text("old\n", encoding="utf-8")
    papermill_run.fail = PapermillExecutionError(4, 9, "import x", "ModuleNotFoundError", "No module named 'x'",
                                                 ["Cell In[9], line 1"])
    with pytest.raises(ChapterError) as err:
        execute(nb, out, {"value": 2}, failed_dir=tmp_path / "failed")
    e = err.value
    assert str(e) == "demo failed (outputs left as they were): ModuleNotFoundError: No module named 'x'"
    assert e.__suppress_context__ and e.parameter_error == ""
    assert e.failed_notebook == tmp_path / "failed" / "demo.ipynb"
    kept = json.loads(e.failed_notebook.read_text(encoding="utf-8"))
    # the staging paths put back
    assert kept["cells"][-1]["outputs"][0]["text"] == f"wrote tables/t.csv, saved {out}/fig.png é"
    kept_text = e.failed_notebook.read_text(encoding="utf-8")
    assert kept_text.endswith("}\n") and kept_text.startswith('{\n "cells": [\n  {') and "fig.png é" in kept_text
    # the anchor marks c2, the fifth source cell (papermill's index was 4)
    assert e.details.splitlines()[0] == "  in cell 5 of 5 (In [9]), line 1:"
    assert (out / "tables" / "t.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in out.iterdir()) == ["tables"]


def test_a_refused_value_is_the_parameter_error(tmp_path, papermill_run):
    nb = _chapter(tmp_path / "src")
    papermill_run.fail = PapermillExecutionError(2, 1, "s", "ParameterError", "value=0 is not allowed", [])
    with pytest.raises(ChapterError) as err:
        execute(nb, tmp_path / "book", {})
    assert err.value.parameter_error == "value=0 is not allowed" and err.value.failed_notebook is None
    # a run that failed before writing its notebook: nothing kept, the cell index papermill gave
    papermill_run.write = False
    with pytest.raises(ChapterError) as err:
        execute(nb, tmp_path / "book", {}, failed_dir=tmp_path / "failed")
    assert err.value.failed_notebook is None and not (tmp_path / "failed").exists()
    assert err.value.details.splitlines()[0] == "  in cell 2 of 5 (In [1]), which begins:"


# --- execute_all, notebooks, check_offline ----------------------------------------------------------------------

@pytest.fixture
def executed(monkeypatch):
    calls = []

    def run(nb, folder, params, *, progress, failed_dir=None):
        calls.append((nb.stem, folder, params, progress, failed_dir))
        if params.get("fail"):
            raise ChapterError(f"{nb.stem} broke")
        return folder / f"{nb.stem}.ipynb"
    monkeypatch.setattr(build, "execute", run)
    return calls


@pytest.mark.parametrize("jobs", [1, 2])
def test_execute_all_by_hand(tmp_path, executed, jobs):
    a, b, app = (tmp_path / f"{n}.ipynb" for n in ("alpha", "beta", "appendix_z"))
    lines = []
    res = execute_all([app, b, a], tmp_path, lambda nb: {"fail": nb.stem == "beta"}, jobs=jobs, log=lines.append,
                      failed_dir=tmp_path / "f", extra={"again": (a, ROOT / "x", {"n": 1})})
    assert list(res) == ["appendix_z", "beta", "alpha", "again"]
    assert res["alpha"] == tmp_path / "alpha.ipynb" and res["again"] == ROOT / "x" / "alpha.ipynb"
    assert isinstance(res["beta"], ChapterError) and str(res["beta"]) == "beta broke"
    assert all(c[3] is False and c[4] == tmp_path / "f" for c in executed)
    if jobs == 1:   # chapters, appendices, then the extra runs
        assert [c[0] for c in executed] == ["beta", "alpha", "appendix_z", "alpha"]
        assert lines == ["[1/4] beta FAILED in 0 s", "[2/4] alpha done in 0 s", "[3/4] appendix_z done in 0 s",
                         "[4/4] alpha (into x) done in 0 s"]
    # (two at a time, the count in a line is the results so far when it is written: not checked)
    assert sorted(ln[6:] for ln in lines) == sorted(["alpha (into x) done in 0 s", "alpha done in 0 s",
                                                     "appendix_z done in 0 s", "beta FAILED in 0 s"])
    assert all(ln[:3] in ("[1/", "[2/", "[3/", "[4/") and ln[3:6] == "4] " for ln in lines)


def test_execute_all_with_one_parameter_dict_and_no_log(tmp_path, executed):
    a = tmp_path / "alpha.ipynb"
    assert execute_all([a], tmp_path, {"k": 1}) == {"alpha": tmp_path / "alpha.ipynb"}
    assert executed == [("alpha", tmp_path, {"k": 1}, False, None)]


def test_execute_all_refuses_a_clash(tmp_path, executed):
    a = tmp_path / "alpha.ipynb"
    with pytest.raises(ValueError) as err:
        execute_all([a], tmp_path, {}, extra={"alpha": (a, tmp_path, {}), "b": (a, tmp_path, {})})
    assert str(err.value) == "extra runs keyed like notebooks of chosen, whose results they would replace: ['alpha']"
    assert executed == []


def test_notebooks_in_execution_order(tmp_path, monkeypatch):
    for n in ("b", "appendix_a", "a", "appendix_0"):
        (tmp_path / f"{n}.ipynb").write_text("{}", encoding="utf-8")
    (tmp_path / "c.txt").write_text("", encoding="utf-8")
    monkeypatch.setattr(build, "NOTEBOOK_DIR", tmp_path)
    assert [p.name for p in notebooks()] == ["a.ipynb", "b.ipynb", "appendix_0.ipynb", "appendix_a.ipynb"]
    assert [p.stem for p in notebooks(["b", "appendix_0", "a"])] == ["b", "appendix_0", "a"]
    assert [p.stem for p in notebooks([])] == ["a", "b", "appendix_0", "appendix_a"]
    with pytest.raises(SystemExit) as err:
        notebooks(["a", "zz", "y"])
    assert err.value.code == "error: unknown notebook ['zz', 'y']; choose from ['a', 'appendix_0', 'appendix_a', 'b']"


def test_check_offline_by_hand(tmp_path):
    (tmp_path / "sub").mkdir()
    long = "https://cdn.example/" + "x" * 150 + ".js"
    (tmp_path / "ok.html").write_text(
        '<script src="_static/v.js"></script><a href="https://example.org">link</a>'
        '<link rel="icon" href="https://example.org/i.png">'
        '<div id="vega-0123456789ab" class="offline-vega"><svg></svg></div>', encoding="utf-8")
    (tmp_path / "sub" / "bad.html").write_text(
        '<SCRIPT src="http://cdn.example/v.js"></SCRIPT>\n<link rel="stylesheet" href="//fonts.example/f.css">'
        '<link rel="preload" href="https://p.example/a">'
        f'<img src="{long}">'
        '<div id="vega-aaaaaaaaaaaa" class="offline-vega"><span>no chart</span></div>', encoding="utf-8")
    (tmp_path / "notes.txt").write_text('<script src="https://x.example/a.js">', encoding="utf-8")
    assert check_offline(tmp_path) == [
        'sub/bad.html: loads <SCRIPT src="http://cdn.example/v.js"',
        'sub/bad.html: loads <link rel="stylesheet" href="//fonts.example/f.css"',
        'sub/bad.html: loads <link rel="preload" href="https://p.example/a"',
        f"sub/bad.html: loads {('<img src=' + chr(34) + long + chr(34))[:120]}",
        "sub/bad.html: chart vega-aaaaaaaaaaaa has no static SVG"]
    (tmp_path / "later.html").write_bytes(b'<link rel="modulepreload" href="https://m.example/m.js">\xff')
    assert check_offline(tmp_path)[0] == 'later.html: loads <link rel="modulepreload" href="https://m.example/m.js"'


# --- sweep --------------------------------------------------------------------------------------------------------

@pytest.fixture
def demo(tmp_path, monkeypatch):
    src = tmp_path / "nbs"
    src.mkdir()
    _write_nb(src / "demo.ipynb", [
        _code("value = 1\nother = 0\n", tags=["parameters"]),
        _code("from model.checks import check_int\ncheck_int('value', value, low=0)\n"),
        _code("write_csv(t, f'{output_dir}/demo_values.csv')")])
    monkeypatch.setattr(build, "NOTEBOOK_DIR", src)
    monkeypatch.setattr(build, "FAILED_DIR", tmp_path / "failed")
    return src


def test_sweep_stacks_the_runs_that_succeeded(tmp_path, demo, monkeypatch):
    calls = []

    def run(nb, run_dir, params, *, progress, failed_dir):
        calls.append((nb.stem, params, progress, failed_dir))
        if params["value"] == 3:
            raise ChapterError("demo broke at 3")
        if params["value"] != 4:
            (run_dir / "tables").mkdir(parents=True)
            rows = "".join(f"{params['value'] * k}\n" for k in range(1, params["value"] + 1))
            (run_dir / "tables" / "demo_values.csv").write_text("w\n" + rows, encoding="utf-8")
        return run_dir / "demo.ipynb"
    monkeypatch.setattr(build, "execute", run)
    out, lines = tmp_path / "out.csv", []
    result, failed = sweep("demo", "value", ["2", "3", "4", "1"], "demo_values.csv", out, {"other": 5},
                           log=lines.append)
    assert [c[1] for c in calls] == [{"other": 5, "value": v} for v in (2, 3, 4, 1)]
    assert all(c[2] is False and c[3] == tmp_path / "failed" for c in calls)
    # value 2: rows 2, 4; value 1: row 1
    assert result.values.tolist() == [[2, 2], [2, 4], [1, 1]] and list(result.columns) == ["value", "w"]
    assert pd.read_csv(out).values.tolist() == [[2, 2], [2, 4], [1, 1]]
    assert list(failed) == ["3", "4"] and str(failed["3"]) == "demo broke at 3"
    assert str(failed["4"]) == "demo with value=4 wrote no table demo_values.csv"
    assert lines == ["[1/4] value=2: 2 rows in 0 s", "[2/4] value=3: FAILED in 0 s: demo broke at 3",
                     "[3/4] value=4: FAILED: demo with value=4 wrote no table demo_values.csv",
                     "[4/4] value=1: 1 rows in 0 s"]


def test_sweep_with_no_success_writes_nothing_and_says_so_on_stderr(tmp_path, demo, monkeypatch, capsys):
    def run(nb, run_dir, params, *, progress, failed_dir):
        raise ChapterError("no")
    monkeypatch.setattr(build, "execute", run)
    out = tmp_path / "out.csv"
    result, failed = sweep("demo", "value", ["1"], "demo_values.csv", out, {})
    assert result is None and list(failed) == ["1"] and not out.exists()
    assert capsys.readouterr().err == "[1/1] value=1: FAILED in 0 s: no\n"


@pytest.mark.parametrize("args, message", [
    (("value", ["1"], "nope.csv", {}), "demo writes no table 'nope.csv'. Its tables: demo_values.csv."),
    (("valu", ["1"], "demo_values.csv", {}), "demo has no parameter 'valu'. Did you mean 'value'? Its parameters: "
                                             "value, other."),
    (("value", ["1"], "demo_values.csv", {"othr": 1}), "demo has no parameter 'othr'. Did you mean 'other'? Its "
                                                        "parameters: value, other."),
    (("value", ["1", "-1"], "demo_values.csv", {}), "demo: value=-1 is not allowed: value must be an integer in "
                                                    "[0, inf]"),
])
def test_sweep_checks_everything_before_the_first_run(tmp_path, demo, monkeypatch, args, message):
    monkeypatch.setattr(build, "execute", lambda *a, **k: pytest.fail("a run started"))
    param, values, table, extra = args
    with pytest.raises(ChapterError) as err:
        sweep("demo", param, values, table, tmp_path / "o.csv", extra)
    assert str(err.value) == message


# --- findings -----------------------------------------------------------------------------------------------------

def _glue_out(name, text, prefix="application/papermill.record/"):
    return {"output_type": "display_data", "data": {f"{prefix}text/plain": text},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}}}


def test_glued_values(tmp_path):
    nb = _write_nb(tmp_path / "g.ipynb", [
        _md("x"),
        _code("", outputs=[{"output_type": "stream", "text": "s"}, _glue_out("a", "'2.5 GB'"),
                           _glue_out("b", "12"), _glue_out("c", ["'multi", "ple'"]), _glue_out("d", "not python(")]),
        _code("", outputs=[_glue_out("e", "[1, 2]", prefix=""), {"output_type": "display_data", "data": {},
                                                                  "metadata": {"scrapbook": {}}}])])
    assert _glued_values(nb) == {"a": "2.5 GB", "b": "12", "c": "multiple", "d": "not python(", "e": "[1, 2]"}


BOX = ("Intro.\n\n:::{admonition} What this chapter finds\n:class: tip\nA lead line\n"
       "- **Doubling** gives {glue:text}`twice` in all,\n  which is {glue}`word`.\n"
       "- See {doc}`the other page <other>` and {doc}`plain`, {glue:text}`other.ipynb::far:s`, {glue}`gone`.\n"
       "- *one* star, `code`, [a link](http://x), <b>bold</b>, a*b*c and 2 * 3 * 4.\n"
       "A line on its own\n:::\n")


def test_findings_text_of_a_box(tmp_path):
    page = _write_nb(tmp_path / "demo.ipynb", [
        _md(BOX), _code("", outputs=[_glue_out("twice", "'4'"), _glue_out("word", "'even'")])])
    _write_nb(tmp_path / "other.ipynb", [_code("", outputs=[_glue_out("far", "'3.5'")])])
    assert findings_text(page) == "\n".join([
        "What this chapter finds",
        "  - A lead line",
        "  - Doubling gives 4 in all, which is even.",
        "  - See the other page and plain, 3.5, [gone].",
        "  - one star, code, a link, bold, a*b*c and 2 * 3 * 4. A line on its own"])
    assert findings_text(page, width=30).splitlines()[2:4] == ["  - Doubling gives 4 in all,", "    which is even."]


def test_findings_text_of_a_backtick_box_a_list_or_nothing(tmp_path):
    tick = _write_nb(tmp_path / "t.ipynb", [_md(["````{admonition} Found\n", "- one\n", "````\n"])])
    assert findings_text(tick) == "Found\n  - one"
    listed = _write_nb(tmp_path / "l.ipynb", [_md("Findings of this page:\n\n* first\n  more\n- second\n\nEnd.")])
    assert findings_text(listed) == "Findings of this page\n  - first more\n  - second"
    plain = _write_nb(tmp_path / "p.ipynb", [_md("No box."), _code("# Findings:\n- x\n")])
    assert findings_text(plain) == ""
    missing = _write_nb(tmp_path / "m.ipynb", [_md(":::{admonition} F\n{glue}`a` and {glue}`x.ipynb::b`\n:::\n")])
    assert findings_text(missing) == "F\n  - [a] and [b]"


# --- the HTML build and make chapter -------------------------------------------------------------------------------

def test_build_html_keeps_the_last_lines_of_its_log(tmp_path):
    log = tmp_path / "logs" / "h.log"
    script = "import os; print(os.getcwd()); print('\\n'.join(f'line {i}' for i in range(20))); raise SystemExit(3)"
    ok, tail = build_html(f'{sys.executable} -c "{script}"', log)
    assert ok is False and tail == [f"line {i}" for i in range(5, 20)]
    assert log.read_text(encoding="utf-8").splitlines()[0] == str(ROOT)
    ok, tail = build_html(f'{sys.executable} -c "import sys; sys.stderr.write(chr(233))"', str(log))
    assert ok is True and tail == ["é"]


def test_html_page_and_shown(tmp_path, monkeypatch):
    assert _html_page(tmp_path / "book", "demo") == tmp_path / "_build" / "html" / "book" / "demo.html"
    monkeypatch.chdir(tmp_path)
    assert _html_page(Path("b"), "x") == tmp_path / "_build" / "html" / "b" / "x.html"
    assert _shown(ROOT / "book" / "x.ipynb") == "book/x.ipynb" and _shown(tmp_path / "y") == str(tmp_path / "y")
    monkeypatch.chdir(ROOT)
    assert _shown(Path("book")) == "book"


def test_error_line():
    assert _error_line(ChapterError("demo failed (x): ValueError: bad")) == "ValueError: bad"
    assert _error_line(ChapterError("no colon here")) == "no colon here"


@pytest.fixture
def chapter_run(tmp_path, monkeypatch):
    """demo and two appendices in a temporary notebook folder; execute, execute_all and build_html recorded."""
    src = tmp_path / "nbs"
    src.mkdir()
    _write_nb(src / "demo.ipynb", [_code("value = 1\n", tags=["parameters"]),
                                   _code("from model.checks import check_int\ncheck_int('value', value, low=0)\n")])
    for n in ("appendix_a", "appendix_b"):
        _write_nb(src / f"{n}.ipynb", [_code("x = 1")])
    monkeypatch.setattr(build, "NOTEBOOK_DIR", src)
    monkeypatch.setattr(build, "FAILED_DIR", tmp_path / "failed")
    monkeypatch.setattr(build, "LOG_DIR", tmp_path / "logs")
    state = SimpleNamespace(calls=[], fail=None, appendix_fail=None, html_ok=True, findings=True)

    def run(nb, out_dir, params, *, progress, on_cell, failed_dir):
        state.calls.append(("execute", nb.stem, out_dir, params, progress, failed_dir))
        on_cell(1, 2, 3.0)
        if state.fail is not None:
            raise state.fail
        page = Path(out_dir) / f"{nb.stem}.ipynb"
        page.parent.mkdir(parents=True, exist_ok=True)
        box = ":::{admonition} Found\n- it\n:::\n" if state.findings else "nothing"
        _write_nb(page, [_md(box)])
        return page

    def run_all(chosen, out_dir, params, *, jobs, failed_dir, log):
        state.calls.append(("execute_all", [n.stem for n in chosen], out_dir, params, jobs, failed_dir))
        log("[1/2] appendix_a done in 1 s")
        return {n.stem: (state.appendix_fail if n.stem == "appendix_b" and state.appendix_fail else n)
                for n in chosen}

    def html(command, log_path):
        state.calls.append(("html", command, log_path))
        return state.html_ok, ["l1", "l2"]
    monkeypatch.setattr(build, "execute", run)
    monkeypatch.setattr(build, "execute_all", run_all)
    monkeypatch.setattr(build, "build_html", html)
    return state


def test_run_chapter_succeeds(tmp_path, chapter_run):
    out, stream = tmp_path / "book", io.StringIO()
    assert run_chapter("demo", out, {"value": 2}, html="make html", jobs=3, stream=stream) is None
    assert chapter_run.calls == [
        ("execute", "demo", out, {"value": 2}, False, tmp_path / "failed"),
        ("execute_all", ["appendix_a", "appendix_b"], out, {}, 3, tmp_path / "failed"),
        ("html", "make html", tmp_path / "logs" / "demo-html.log")]
    assert stream.getvalue().splitlines() == [
        "demo: running with value=2", "demo: cell 1/2 (3 s)", "demo: done in 0 s",
        "appendices: [1/2] appendix_a done in 1 s", "building the HTML book ...", "", "Found", "  - it", "",
        f"page: {tmp_path / '_build' / 'html' / 'book' / 'demo.html'} (not built)"]


def test_run_chapter_without_appendices_html_or_findings(tmp_path, chapter_run, capsys):
    out = tmp_path / "book"
    page = tmp_path / "_build" / "html" / "book" / "demo.html"
    page.parent.mkdir(parents=True)
    page.write_text("x", encoding="utf-8")
    chapter_run.findings = False
    assert run_chapter("demo", out, {}, html=None, appendices=False, failed_dir=tmp_path / "kept") is None
    assert [c[0] for c in chapter_run.calls] == ["execute"] and chapter_run.calls[0][5] == tmp_path / "kept"
    assert capsys.readouterr().err.splitlines() == [
        "demo: running with its defaults", "demo: cell 1/2 (3 s)", "demo: done in 0 s", "", "(demo has no findings box)",
        "", f"page: {page}"]


def test_run_chapter_of_an_appendix_reruns_no_appendix(tmp_path, chapter_run):
    assert run_chapter("appendix_a", tmp_path / "book", {}, html=None, stream=io.StringIO()) is None
    assert [c[0] for c in chapter_run.calls] == ["execute"]


def test_run_chapter_refuses_names_and_values_first(tmp_path, chapter_run):
    with pytest.raises(ChapterError, match="has no parameter 'valu'"):
        run_chapter("demo", tmp_path, {"valu": 1}, html=None, stream=io.StringIO())
    with pytest.raises(ChapterError, match="^demo: value=-1 is not allowed"):
        run_chapter("demo", tmp_path, {"value": -1}, html=None, stream=io.StringIO())
    assert chapter_run.calls == []


def test_run_chapter_failures(tmp_path, chapter_run):
    stream = io.StringIO()
    chapter_run.fail = ChapterError("demo failed (x): ValueError: v", parameter_error="value=9 is not allowed")
    assert run_chapter("demo", tmp_path, {}, html="h", stream=stream) == "demo: value=9 is not allowed"
    chapter_run.fail = ChapterError("demo failed (x): ValueError: v", details="  in cell 2\n  more",
                                    failed_notebook=ROOT / ".build" / "failed" / "demo.ipynb")
    stream = io.StringIO()
    assert run_chapter("demo", tmp_path, {}, html="h", stream=stream) == "demo failed: ValueError: v"
    assert stream.getvalue().splitlines() == [
        "demo: running with its defaults", "demo: cell 1/2 (3 s)", "error: demo failed (x): ValueError: v",
        "  in cell 2", "  more", "  the executed notebook, as far as it ran: .build/failed/demo.ipynb",
        "  the book's page and tables are left as they were"]
    chapter_run.fail = ChapterError("demo failed (x): E: e", details="d")
    stream = io.StringIO()
    run_chapter("demo", tmp_path, {}, html="h", stream=stream)
    assert "the executed notebook" not in stream.getvalue()
    chapter_run.fail = ChapterError("output_dir='/a': give a folder relative to x")
    assert run_chapter("demo", tmp_path, {}, html="h", stream=io.StringIO()) == (
        "output_dir='/a': give a folder relative to x")
    assert all(c[0] == "execute" for c in chapter_run.calls)


def test_run_chapter_after_a_failed_appendix_or_html_build(tmp_path, chapter_run):
    chapter_run.appendix_fail = ChapterError("appendix_b broke", details="  its cell")
    stream = io.StringIO()
    assert run_chapter("demo", tmp_path / "book", {}, html="h", stream=stream) == "appendix_b failed after demo ran"
    assert stream.getvalue().splitlines()[-2:] == ["error: appendix_b broke", "  its cell"]
    assert [c[0] for c in chapter_run.calls] == ["execute", "execute_all"]
    chapter_run.appendix_fail, chapter_run.html_ok = None, False
    stream = io.StringIO()
    log = ROOT / ".build" / "logs" / "x.log"
    assert run_chapter("demo", tmp_path / "book", {}, html="h", log_path=log, stream=stream) == (
        "the HTML build failed after demo ran (log: .build/logs/x.log)")
    assert stream.getvalue().splitlines()[-4:] == [
        "building the HTML book ...", "error: the HTML build failed; its log: .build/logs/x.log; its last lines:",
        "    l1", "    l2"]


# --- the command line ---------------------------------------------------------------------------------------------

@pytest.fixture
def commands(tmp_path, monkeypatch):
    src = tmp_path / "nbs"
    src.mkdir()
    checked = _code("from model.checks import check_int\ncheck_int('value', value, low=0)\n")
    _write_nb(src / "alpha.ipynb", [_code("value = 1\nquick = False\n", tags=["parameters"]), checked])
    _write_nb(src / "beta.ipynb", [_code("value = 1\nquick = False\n", tags=["parameters"])])
    _write_nb(src / "appendix_z.ipynb", [_code("quick = False\n", tags=["parameters"])])
    monkeypatch.setattr(build, "NOTEBOOK_DIR", src)
    monkeypatch.setattr(build, "FAILED_DIR", tmp_path / "failed")
    state = SimpleNamespace(calls=[], results=None)

    def run_all(chosen, out_dir, params, *, jobs, log, failed_dir):
        state.calls.append(("execute_all", [n.stem for n in chosen], out_dir,
                            {n.stem: params(n) for n in chosen}, jobs, failed_dir))
        log("a line")
        return state.results or {n.stem: out_dir / f"{n.stem}.ipynb" for n in chosen}
    monkeypatch.setattr(build, "execute_all", run_all)
    return state


def test_main_notebooks_only_one_with_the_appendices(tmp_path, commands, capsys):
    out = tmp_path / "book"
    assert main(["notebooks", str(out), "--only", "alpha", "--jobs", "3", "--quick", "--", "-p", "value", "2"]) == 0
    [(_, chosen, folder, params, jobs, failed)] = commands.calls
    assert chosen == ["alpha", "appendix_z"] and folder == out and jobs == 3 and failed == tmp_path / "failed"
    # the parameters go to the chapter asked for; the appendix added runs with quick only
    assert params == {"alpha": {"value": 2, "quick": True}, "appendix_z": {"quick": True}}
    assert capsys.readouterr().err.splitlines() == [f"executing 2 notebooks into {out}, 2 at a time", "a line",
                                                    "2 of 2 notebooks executed in 0 s"]


def test_main_notebooks_every_one_or_without_appendices(tmp_path, commands, capsys):
    out = tmp_path / "book"
    assert main(["notebooks", str(out), "--jobs", "1"]) == 0
    assert commands.calls[0][1] == ["alpha", "beta", "appendix_z"]
    assert commands.calls[0][3] == {"alpha": {}, "beta": {}, "appendix_z": {}}
    assert capsys.readouterr().err.splitlines()[0] == f"executing 3 notebooks into {out}, 1 at a time"
    assert main(["notebooks", str(out), "--only", "beta", "--no-appendices", "--", "-p", "quick", "true"]) == 0
    assert commands.calls[1][1] == ["beta"] and commands.calls[1][3] == {"beta": {"quick": True}}
    assert capsys.readouterr().err.splitlines()[0].startswith(f"executing 1 notebook into {out}, 1 at a time")
    assert main(["notebooks", str(out), "--only", "appendix_z"]) == 0
    assert commands.calls[2][1] == ["appendix_z"]


def test_main_notebooks_jobs_default(tmp_path, commands, monkeypatch, capsys):
    monkeypatch.setenv("BOOK_JOBS", "5")
    assert main(["notebooks", str(tmp_path), "--only", "beta", "--no-appendices"]) == 0
    assert commands.calls[0][4] == 5
    monkeypatch.delenv("BOOK_JOBS")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert main(["notebooks", str(tmp_path), "--only", "beta", "--no-appendices"]) == 0
    assert commands.calls[1][4] == 1


def test_main_notebooks_refuses_before_running(tmp_path, commands, capsys):
    assert main(["notebooks", str(tmp_path), "--", "-p", "valu", "1"]) == 1
    assert capsys.readouterr().err == ("error: alpha has no parameter 'valu'. Did you mean 'value'? Its parameters: "
                                       "value, quick.\n")
    assert main(["notebooks", str(tmp_path), "--only", "alpha", "--", "-p", "value", "-1"]) == 1
    assert capsys.readouterr().err == ("error: alpha: value=-1 is not allowed: value must be an integer in "
                                       "[0, inf]\n")
    # every notebook's values are checked only with --only
    assert main(["notebooks", str(tmp_path), "--only", "zz"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown notebook ['zz']; choose from")
    assert main(["notebooks", str(tmp_path), "--", "-p"]) == 1
    assert capsys.readouterr().err == "error: '-p' needs NAME and VALUE, got '-p'\n"
    assert commands.calls == []


def test_main_notebooks_reports_the_failed(tmp_path, commands, capsys):
    commands.results = {"alpha": ChapterError("alpha broke", details="  its cell",
                                              failed_notebook=ROOT / ".build" / "failed" / "alpha.ipynb"),
                        "beta": ChapterError("beta broke"), "appendix_z": tmp_path / "z.ipynb"}
    assert main(["notebooks", str(tmp_path), "--jobs", "2"]) == 1
    assert capsys.readouterr().err.splitlines()[2:] == [
        "error: alpha broke", "  its cell", "  the executed notebook, as far as it ran: .build/failed/alpha.ipynb",
        "error: beta broke", "1 of 3 notebooks executed in 0 s"]


def test_main_chapter_and_its_failure_note(tmp_path, commands, monkeypatch, capsys):
    seen = []

    def chapter(name, out_dir, params, **kw):
        seen.append((name, out_dir, params, kw))
        return seen[0][2].get("summary")
    monkeypatch.setattr(build, "run_chapter", chapter)
    assert main(["chapter", "alpha", str(tmp_path / "b"), "--html", "make x", "--log", "l.log", "--jobs", "4",
                 "--", "-p", "value", "3"]) == 0
    assert seen == [("alpha", tmp_path / "b", {"value": 3},
                     {"html": "make x", "log_path": Path("l.log"), "appendices": True, "jobs": 4})]
    seen.clear()
    note = tmp_path / "note.txt"
    note.write_text("an old note\n", encoding="utf-8")
    assert main(["chapter", "alpha", "b", "--no-appendices", "--", "-p", "summary", "it broke."]) == 1
    assert seen[0][3] == {"html": None, "log_path": None, "appendices": False, "jobs": seen[0][3]["jobs"]}
    assert capsys.readouterr().err == "error: it broke.\n"
    seen.clear()
    assert main(["chapter", "alpha", "b", "--failure-note", str(note), "--", "-p", "summary", "it broke."]) == 1
    assert note.read_text(encoding="utf-8") == "it broke\n" and capsys.readouterr().err == ""
    seen.clear()
    assert main(["chapter", "alpha", "b", "--failure-note", str(note)]) == 0
    assert not note.exists()


def test_main_passes_exit_statuses_and_chapter_errors(tmp_path, commands, monkeypatch, capsys):
    outcomes = iter([3, 0, ChapterError("alpha: bad")])

    def chapter(*a, **k):
        out = next(outcomes)
        if isinstance(out, Exception):
            raise out
        return out
    monkeypatch.setattr(build, "run_chapter", chapter)
    assert main(["chapter", "alpha", "b"]) == 3
    assert main(["chapter", "alpha", "b"]) == 0
    assert main(["chapter", "alpha", "b"]) == 1 and capsys.readouterr().err == "error: alpha: bad\n"
    with pytest.raises(SystemExit) as err:
        main(["nonsense"])
    assert err.value.code == 2
    assert build._run(SimpleNamespace(command="other"), {}) == 2


def test_main_check_offline(tmp_path, capsys):
    (tmp_path / "a.html").write_text("<p>fine</p>", encoding="utf-8")
    (tmp_path / "b.html").write_text("<p>fine</p>", encoding="utf-8")
    assert main(["check-offline", str(tmp_path)]) == 0
    assert capsys.readouterr().err == "offline check: 2 pages, 0 problems\n"
    (tmp_path / "c.html").write_text('<script src="https://x.example/a.js"></script>', encoding="utf-8")
    assert main(["check-offline", str(tmp_path)]) == 1
    assert capsys.readouterr().err == ('offline check: c.html: loads <script src="https://x.example/a.js"\n'
                                       "offline check: 3 pages, 1 problems\n")


def test_main_sweep(tmp_path, commands, monkeypatch, capsys):
    outcomes = []

    def fake(name, param, values, table, out, extra):
        outcomes.append((name, param, values, table, out, extra))
        return results.pop(0)
    monkeypatch.setattr(build, "sweep", fake)
    frame = pd.DataFrame({"value": [1, 2]})
    results = [(frame, {}),
               (frame.iloc[:1], {"3": ChapterError("broke", details="  cell"), "x": ChapterError("refused",
                                                                                                details="d",
                                                                                                parameter_error="p"),
                                 "4": ChapterError("plain")}),
               (None, {"1": ChapterError("no")})]
    out = tmp_path / "o.csv"
    assert main(["sweep", "alpha", "value", "1", "2", "--table", "t.csv", "--out", str(out), "--", "-p", "k", "1"]) == 0
    assert outcomes[0] == ("alpha", "value", ["1", "2"], "t.csv", out, {"k": 1})
    assert capsys.readouterr().err == f"wrote {out} (2 rows)\n"
    assert main(["sweep", "alpha", "value", "1", "3", "x", "4", "--table", "t.csv", "--out", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "value=3: broke", "  cell",
        f"error: alpha failed at value=3, value=x, value=4 (the 1 rows of the other 1 runs are in {out})"]
    assert main(["sweep", "alpha", "value", "1", "--table", "t.csv", "--out", str(out)]) == 1
    assert capsys.readouterr().err == "error: alpha failed at value=1 (no run succeeded, nothing was written)\n"


# --- more edges ---------------------------------------------------------------------------------------------------

def test_main_help_and_required_options(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")     # no help line wrapped (argparse breaks lines at hyphens)
    for command, texts in (("notebooks", ["notebooks executed at a time (default: BOOK_JOBS or the number of cores)",
                                          "with --only: do not rerun the appendices after the chosen chapters"]),
                           ("chapter", ["the command that builds the HTML book (default: none)",
                                        "the HTML build's log (default: .build/logs/NAME-html.log)",
                                        "on failure, write the one-line summary here instead of printing it last "
                                        "(the Makefile ends with it)"]),
                           ("sweep", ["on failure, write the one-line summary here instead of printing it last "
                                      "(the Makefile ends with it)"])):
        with pytest.raises(SystemExit) as err:
            main([command, "--help"])
        assert err.value.code == 0
        out = " ".join(capsys.readouterr().out.split())
        assert out.startswith(f"usage: python -m model.book.build {command} ")
        assert all(t in out for t in texts), (command, out)
        if command == "chapter":    # each help text between its option and the next option
            assert ("--html HTML the command that builds the HTML book (default: none) --log LOG the HTML build's "
                    "log (default: .build/logs/NAME-html.log) --no-appendices") in out
        if command == "notebooks":
            assert ("--jobs JOBS notebooks executed at a time (default: BOOK_JOBS or the number of cores) "
                    "--no-appendices with --only: do not rerun the appendices after the chosen chapters") in out
            assert out.endswith("chosen chapters")
    for argv in ([], ["sweep", "a", "p", "1", "--out", "o.csv"], ["sweep", "a", "p", "1", "--table", "t.csv"]):
        with pytest.raises(SystemExit) as err:
            main(argv)
        assert err.value.code == 2


def test_main_lets_a_numbered_exit_through_and_trims_the_note(tmp_path, commands, monkeypatch, capsys):
    for code in (3, None):
        def chapter(*a, code=code, **k):
            raise SystemExit(code)
        monkeypatch.setattr(build, "run_chapter", chapter)
        with pytest.raises(SystemExit) as err:
            main(["chapter", "alpha", "b"])
        assert err.value.code == code
    monkeypatch.setattr(build, "run_chapter", lambda *a, **k: "it broke at X.")
    note = tmp_path / "note.txt"
    assert main(["chapter", "alpha", "b", "--failure-note", str(note)]) == 1
    assert note.read_text(encoding="utf-8") == "it broke at X\n"


def test_main_chapter_jobs_default(tmp_path, commands, monkeypatch):
    seen = []
    monkeypatch.setattr(build, "run_chapter", lambda name, out, params, **kw: seen.append(kw["jobs"]))
    monkeypatch.setenv("BOOK_JOBS", "5")
    main(["chapter", "alpha", "b"])
    monkeypatch.delenv("BOOK_JOBS")
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    main(["chapter", "alpha", "b"])
    assert seen == [5, 1]


def test_main_only_one_without_quick_runs_the_appendices_bare(tmp_path, commands):
    assert main(["notebooks", str(tmp_path), "--only", "alpha", "--", "-p", "value", "2"]) == 0
    assert commands.calls[0][3] == {"alpha": {"value": 2}, "appendix_z": {}}


def test_run_chapter_defaults_and_lists(tmp_path, chapter_run):
    stream = io.StringIO()
    nbs = build.NOTEBOOK_DIR
    _write_nb(nbs / "demo.ipynb", [_code("value = 1\nother = 0\n", tags=["parameters"])])
    chapter_run.appendix_fail = ChapterError("appendix_b broke")
    real = chapter_run

    def both_fail(chosen, out_dir, params, *, jobs, failed_dir, log):
        real.calls.append(("execute_all", jobs))
        return {n.stem: ChapterError(f"{n.stem} broke") for n in chosen}
    build.execute_all, saved = both_fail, build.execute_all
    try:
        summary = run_chapter("demo", tmp_path, {"value": 2, "other": 3}, html=None, stream=stream)
    finally:
        build.execute_all = saved
    assert summary == "appendix_a, appendix_b failed after demo ran"
    assert stream.getvalue().splitlines()[0] == "demo: running with value=2, other=3"
    assert ("execute_all", 1) in real.calls          # one notebook at a time by default


def test_execute_all_runs_in_worker_threads_with_two_jobs(tmp_path, monkeypatch):
    import threading
    names = []

    def run(nb, folder, params, *, progress, failed_dir=None):
        names.append(threading.current_thread() is threading.main_thread())
        return folder / nb.name
    monkeypatch.setattr(build, "execute", run)
    execute_all([tmp_path / "a.ipynb", tmp_path / "appendix_b.ipynb"], tmp_path, {}, jobs=2)
    execute_all([tmp_path / "a.ipynb"], tmp_path, {}, jobs=1)
    assert names == [False, False, True]


def test_failure_details_more_anchors():
    source_nb = {"cells": [{"id": "c1"}, {"id": "c2"}, {"id": "c3"}]}
    anchor = {"cell_type": "markdown", "metadata": {"tags": ["papermill-error-cell-tag"]}}
    # three anchors before code cells (the last before c3), one cell without metadata; the last anchor counts
    executed = {"cells": [{"cell_type": "markdown"}, dict(anchor), {"cell_type": "code", "id": "c1"},
                          dict(anchor), {"cell_type": "code", "id": "c2"}, dict(anchor), {"cell_type": "code", "id": "c3"}]}
    trace = ["Traceback (most recent call last)", "-----", "XX", "Cell In[7], line 1"]
    text = failure_details(_exc(trace), source_nb, executed)
    assert text.splitlines() == ["  in cell 3 of 3 (In [7]), line 1:", "    x = 1", "  the end of the traceback:",
                                 "    XX", "    Cell In[7], line 1"]
    # an anchor just before the last cell, a code cell
    two = {"cells": [dict(anchor), {"cell_type": "code", "id": "c2"}]}
    assert failure_details(_exc(trace), source_nb, two).splitlines()[0] == "  in cell 2 of 3 (In [7]), line 1:"


def test_findings_in_a_later_cell_and_at_the_end(tmp_path):
    page = _write_nb(tmp_path / "p.ipynb", [_md("Intro."), _md(":::{admonition} Box\n- a\n:::\n")])
    assert findings_text(page) == "Box\n  - a"
    listed = _write_nb(tmp_path / "l.ipynb", [_md("Intro."), _md("Findings for X:\n\n- first\n- last")])
    assert findings_text(listed) == "Findings for X\n  - first\n  - last"


def test_glued_values_of_outputs_without_text(tmp_path):
    nb = _write_nb(tmp_path / "g.ipynb", [_code("", outputs=[
        {"output_type": "display_data", "data": {"image/png": "x"}, "metadata": {"scrapbook": {"name": "no_text"}}},
        {"output_type": "display_data", "metadata": {"scrapbook": {"name": "no_data"}}},
        {"output_type": "display_data", "data": {"text/plain": "'plain'"}, "metadata": {"scrapbook": {"name": "p"}}}])])
    assert _glued_values(nb) == {"no_text": "", "no_data": "", "p": "plain"}


def test_checks_through_attributes_prices_and_else_branches(tmp_path, monkeypatch):
    from model.checks import ParameterError

    monkeypatch.setattr(build, "NOTEBOOK_DIR", tmp_path)
    _write_nb(tmp_path / "attr.ipynb", [
        _code("n = 2\ngpu = 'h100-80gb'\n", tags=["parameters"]),
        _code(["from model import checks\n", "from model.economics.prices import gpu_price\n",
               "from model.checks import ParameterError, check_int\n",
               "handlers = [print]\n", "handlers[0]('not a check')\n",
               "checks.check_int('n', n, low=1)\n", "price = gpu_price(gpu)\n",
               "if n > 5:\n", "    check_int('n', n, low=100)\n", "else:\n", "    pass\n",
               "raise ParameterError('never', 1, 'run as a check')\n"])])
    assert parameter_error("attr", {"n": 2, "gpu": "h100-80gb"}) is None
    assert str(parameter_error("attr", {"n": 0, "gpu": "h100-80gb"})).startswith("n=0 is not allowed")
    err = parameter_error("attr", {"n": 2, "gpu": "no-such-gpu"})
    assert isinstance(err, ParameterError) and str(err).startswith("gpu='no-such-gpu' is not allowed")
    assert parameter_error("attr", {"n": 6, "gpu": "h100-80gb"}) is None    # an if with an else is not a check


def test_tables_split_across_source_lines_and_a_close_name(tmp_path):
    nb = _write_nb(tmp_path / "demo.ipynb", [_code(["write_csv(t, f'{output_dir}/", "split.csv')\n"]),
                                             _code("write_csv(t, f'{output_dir}/b.csv')")])
    assert chapter_tables(nb) == ["b.csv", "split.csv"]
    with pytest.raises(ChapterError) as err:
        check_table(nb, "c.csv")
    assert str(err.value) == "demo writes no table 'c.csv'. Did you mean 'b.csv'? Its tables: b.csv, split.csv."


def test_check_offline_after_an_icon_and_an_svg_on_the_next_line(tmp_path):
    (tmp_path / "p.html").write_text(
        '<link rel="icon" href="https://example.org/i.png"><script src="https://x.example/a.js"></script>'
        '<div id="vega-0123456789ab" class="offline-vega">\n<svg></svg></div>', encoding="utf-8")
    assert check_offline(tmp_path) == ['p.html: loads <script src="https://x.example/a.js"']


def test_build_html_in_its_own_folder_with_undecodable_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "a" / "b" / "h.log"
    ok, tail = build_html(f'{sys.executable} -c "import os, sys; print(os.getcwd()); sys.stdout.flush(); '
                          f"sys.stdout.buffer.write(bytes([255, 10]))\"", log)
    assert ok is True and tail == [str(ROOT), "\ufffd"]


def test_sweep_index_and_another_notebook(tmp_path, demo, monkeypatch):
    _write_nb(demo / "other.ipynb", [_code("x = 1", tags=["parameters"])])

    def run(nb, run_dir, params, *, progress, failed_dir):
        (run_dir / "tables").mkdir(parents=True)
        (run_dir / "tables" / "demo_values.csv").write_text("w\n7\n", encoding="utf-8")
    monkeypatch.setattr(build, "execute", run)
    result, _ = sweep("demo", "value", ["1", "2"], "demo_values.csv", tmp_path / "o.csv", {}, log=lambda line: None)
    assert list(result.index) == [0, 1] and result.values.tolist() == [[1, 7], [2, 7]]


def test_execute_numbers_cells_by_their_ids(tmp_path, papermill_run):
    seen = []
    execute(_chapter(tmp_path / "src"), tmp_path / "book", {}, on_cell=lambda *a: seen.append(a[:2]))
    # the parameters cell, index 1 of the executed notebook, is cell 2 of the source
    assert seen == [(2, 5), (3, 5), (5, 5)]


def test_execute_all_at_most_jobs_at_a_time_and_one_by_default(tmp_path, monkeypatch):
    import threading
    import time as clock
    lock, active, most, threads = threading.Lock(), [0], [0], []

    def run(nb, folder, params, *, progress, failed_dir=None):
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            threads.append(threading.current_thread() is threading.main_thread())
        clock.sleep(0.05)
        with lock:
            active[0] -= 1
        return folder / nb.name
    monkeypatch.setattr(build, "execute", run)
    for names in (["a", "b", "c"], ["appendix_a", "appendix_b", "appendix_c"]):
        most[0] = 0
        execute_all([tmp_path / f"{n}.ipynb" for n in names], tmp_path, {}, jobs=2)
        assert most[0] == 2
    threads.clear()
    execute_all([tmp_path / "a.ipynb"], tmp_path, {})
    assert threads == [True]


def test_findings_wrapped_at_100_columns(tmp_path):
    text = "a" * 90 + " bcdefg"          # "  - " and 97 characters: 101 columns
    page = _write_nb(tmp_path / "w.ipynb", [_md(f":::{{admonition}} W\n- {text}\n:::\n")])
    assert findings_text(page).splitlines() == ["W", "  - " + "a" * 90, "    bcdefg"]
    assert findings_text(page, width=101).splitlines() == ["W", "  - " + text]
