import altair as alt
import pandas as pd
import pytest

from model.book.build import _parse_params, check_offline
from model.book.charts import show


def test_parse_params_as_yaml():
    assert _parse_params(["-p", "model", "llama-3-70b", "-p", "context_tokens", "8192", "-p", "quick", "true"]) == {
        "model": "llama-3-70b", "context_tokens": 8192, "quick": True}
    with pytest.raises(SystemExit):
        _parse_params(["-p", "model"])
    with pytest.raises(SystemExit):
        _parse_params(["--model", "x", "y"])


def test_check_offline_flags_remote_assets(tmp_path):
    (tmp_path / "ok.html").write_text('<script src="_static/vega-bundle.js"></script>'
                                      '<a href="https://example.org">a link is fine</a>')
    (tmp_path / "bad.html").write_text('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
                                       '<link rel="stylesheet" href="//fonts.example/x.css">')
    problems = check_offline(tmp_path)
    assert len(problems) == 2 and all(p.startswith("bad.html") for p in problems)


def test_chart_html_is_offline_and_deterministic(tmp_path):
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x:Q", y="y:Q")
    a, b = show(chart), show(chart)
    html = a._repr_html_()
    assert a.div_id == b.div_id and html == b._repr_html_()
    assert "<svg" in html and "vegaEmbed" in html and "http" not in html.split("<svg")[0]
    page = tmp_path / "page.html"
    page.write_text(html)
    assert check_offline(tmp_path) == []
    page.write_text(html.replace("<svg", "<span", 1))
    assert check_offline(tmp_path)


# --- reruns that cannot go wrong silently -------------------------------------------------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

import nbformat  # noqa: E402
import papermill as pm  # noqa: E402

from model.book.build import ChapterError, check_parameters, execute, main, notebooks, parameter_names  # noqa: E402


def _notebook(tmp_path, name, params_src, body_src):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params_src, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body_src)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def test_every_parameters_cell_parses_for_papermill():
    """papermill's own parser must see every name the cell assigns, or `-p` silently does nothing for it."""
    for nb in notebooks():
        ours = parameter_names(nb)
        theirs = list(pm.inspect_notebook(str(nb)).keys())
        assert theirs == ours, f"{nb.stem}: papermill reads {theirs}, the cell assigns {ours}"


def test_unknown_parameter_names_the_closest_match():
    [kv] = notebooks(["kv_sizing"])
    with pytest.raises(ChapterError, match=r"no parameter 'contxt_tokens'\. Did you mean 'context_tokens'\?"):
        check_parameters(kv, {"contxt_tokens": 8192})
    with pytest.raises(ChapterError, match="Its parameters: model, gpu, context_tokens"):
        check_parameters(kv, {"zzz": 1})
    check_parameters(kv, {"context_tokens": 8192, "quick": True})


def test_unknown_parameter_stops_before_anything_runs(tmp_path, capsys):
    out = tmp_path / "book"
    code = main(["notebooks", str(out), "--only", "kv_sizing", "--no-appendices", "--", "-p", "contxt_tokens", "8192"])
    assert code == 1
    err = capsys.readouterr().err
    assert "Did you mean 'context_tokens'" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() or not any(out.iterdir())


def test_failed_run_leaves_previous_outputs_untouched(tmp_path):
    """A chapter that writes its first table and then fails must not replace the previous run's outputs."""
    body = ("from pathlib import Path\nPath(output_dir).mkdir(parents=True, exist_ok=True)\n"
            "Path(output_dir, 'demo_first.csv').write_text(f'value\\n{value}\\n')\n"
            "Path(output_dir, 'demo_second.csv').write_text(f'value\\n{2 * value}\\n')\n"
            "if value < 0:\n    raise ValueError(f'value={value} is not allowed: value must be >= 0')\n")
    nb = _notebook(tmp_path, "demo", "value = 1\noutput_dir = 'tables'\nquick = False\n", body)
    out = tmp_path / "book"
    execute(nb, out, {"value": 5}, progress=False)
    first, second = out / "tables" / "demo_first.csv", out / "tables" / "demo_second.csv"
    page = out / "demo.ipynb"
    before = {p: p.read_bytes() for p in (first, second, page)}
    assert first.read_text() == "value\n5\n" and second.read_text() == "value\n10\n"
    with pytest.raises(ChapterError, match=r"demo failed .*ValueError: value=-3 is not allowed") as err:
        execute(nb, out, {"value": -3}, progress=False)
    assert len(str(err.value).splitlines()) == 1
    assert {p: p.read_bytes() for p in before} == before
    assert sorted(p.name for p in out.rglob("*")) == sorted(["tables", "demo_first.csv", "demo_second.csv", "demo.ipynb"])
    # the executed page records the chapter's own output_dir, not the staging folder
    executed = json.loads(page.read_text())
    assert ".staging" not in page.read_text() and executed["cells"]


def test_book_folds_every_code_cell_but_the_parameters(tmp_path):
    nb = _notebook(tmp_path, "fold", "value = 1\noutput_dir = 'tables'\nquick = False\n", "x = value + 1\nx")
    out = execute(nb, tmp_path / "book", {"value": 2}, progress=False)
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    tags = [c["metadata"].get("tags", []) for c in cells]
    assert tags == [["parameters"], ["injected-parameters"], ["hide-input"]]
    assert "".join(cells[2]["outputs"][0]["data"]["text/plain"]) == "3"
    # the build's own output_dir is not shown; with nothing else injected the cell goes
    assert "output_dir" not in "".join(cells[1]["source"]) and "value = 2" in "".join(cells[1]["source"])
    out = execute(nb, tmp_path / "book", {}, progress=False)
    cells = [c for c in json.loads(out.read_text())["cells"] if c["cell_type"] == "code"]
    assert [c["metadata"].get("tags", []) for c in cells] == [["parameters"], ["hide-input"]]


def test_relative_output_folder(tmp_path, monkeypatch):
    """`make book` passes a relative folder (book/chapters): tables must land in it, not in a nested copy."""
    body = "from pathlib import Path\nPath(output_dir).mkdir(parents=True, exist_ok=True)\nPath(output_dir, 't.csv').write_text('x')\n"
    nb = _notebook(tmp_path, "rel", "output_dir = 'tables'\nquick = False\n", body)
    monkeypatch.chdir(tmp_path)
    execute(nb, Path("book/chapters"), {}, progress=False)
    assert (tmp_path / "book/chapters/tables/t.csv").read_text() == "x"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "book").rglob("*")) == [
        "book/chapters", "book/chapters/rel.ipynb", "book/chapters/tables", "book/chapters/tables/t.csv"]


def test_execute_all_runs_chapters_in_parallel_before_appendices_and_keeps_going(tmp_path):
    """Two chapters at a time (each sleeps, so a serial run would take their sum), the appendix after both
    (it reads their tables), and a failing chapter reported without stopping the others."""
    from model.book.build import execute_all

    write = ("import time, pathlib\nif nap < 0:\n    raise ValueError('nap must be >= 0')\ntime.sleep(nap)\npathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
             "pathlib.Path(output_dir, f'{name}.csv').write_text(str(time.time()))\n")
    params = "nap = 1.5\nname = 'x'\noutput_dir = 'tables'\nquick = False\n"
    a = _notebook(tmp_path, "alpha", params, write)
    b = _notebook(tmp_path, "beta", params, write)
    bad = _notebook(tmp_path, "broken", params, write)
    app = _notebook(tmp_path, "appendix_sum", "tables_dir = 'tables'\noutput_dir = 'tables'\nquick = False\n",
                    "import pathlib\nstamps = sorted(pathlib.Path(tables_dir).glob('*.csv'))\n"
                    "pathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
                    "pathlib.Path(output_dir, 'zz_seen.txt').write_text(' '.join(p.stem for p in stamps))\n")
    out = tmp_path / "book"
    lines = []
    per_nb = {"alpha": {"nap": 1.5, "name": "alpha"}, "beta": {"nap": 1.5, "name": "beta"},
              "broken": {"nap": -1, "name": "broken"}, "appendix_sum": {}}
    res = execute_all([app, a, b, bad], out, lambda nb: per_nb[nb.stem], jobs=2, log=lines.append)
    assert isinstance(res["broken"], ChapterError) and "nap must be >= 0" in str(res["broken"])
    assert res["alpha"] == out / "alpha.ipynb" and res["appendix_sum"] == out / "appendix_sum.ipynb"
    assert list(res) == ["appendix_sum", "alpha", "beta", "broken"]       # in the order asked
    assert (out / "tables" / "zz_seen.txt").read_text() == "alpha beta"  # the appendix ran after both
    assert len(lines) == 4 and lines[-1].startswith("[4/4] appendix_sum done")
    assert any("broken FAILED" in ln for ln in lines)
    # alpha and beta overlapped: one after the other, their stamps would lie a nap and a kernel start apart
    stamps = [float((out / "tables" / f"{n}.csv").read_text()) for n in ("alpha", "beta")]
    assert abs(stamps[0] - stamps[1]) < 1.5


#: Seconds a stand-in run waits for another before it gives up (the waits below end at once when the order holds).
WAIT_S = 20


def _standin_execute(monkeypatch, behaviour):
    """Replace :func:`model.book.build.execute` with a stand-in that records each call (stem, folder, parameters),
    starts and ends (under a lock), runs ``behaviour[stem](params)`` and returns ``folder / <stem>.ipynb``."""
    import threading

    import model.book.build as build

    lock, calls, events = threading.Lock(), [], []

    def execute(nb, folder, params, *, progress, failed_dir=None):
        with lock:
            calls.append((nb.stem, folder, params))
            events.append(("start", nb.stem, params.get("i")))
        try:
            behaviour.get(nb.stem, lambda p: None)(params)
        finally:
            with lock:
                events.append(("end", nb.stem, params.get("i")))
        return folder / f"{nb.stem}.ipynb"

    monkeypatch.setattr(build, "execute", execute)
    return calls, events


def test_execute_all_queues_extra_runs_behind_the_chapters_and_keys_their_results(tmp_path, monkeypatch):
    """Two workers: the chapters and then the extra runs in one queue, the appendix once both chapters are done
    and without waiting for the extra runs (two of them wait until the appendix has run: were the appendix
    queued behind them, they would time out); every extra run gets its own folder and parameters, comes back under
    its key, and a failing one comes back as its error without stopping the others."""
    import threading

    from model.book.build import execute_all

    appendix_ran = threading.Event()

    def waits_for_the_appendix(params):
        if params.get("i") in (1, 3) and not appendix_ran.wait(WAIT_S):
            raise ChapterError("the appendix waited for the extra runs")
        if params.get("i") == 2:
            raise ChapterError("rerun 2 failed")

    calls, events = _standin_execute(monkeypatch, {"alpha": waits_for_the_appendix,
                                                   "appendix_sum": lambda p: appendix_ran.set()})
    a, b, app = (tmp_path / f"{n}.ipynb" for n in ("alpha", "beta", "appendix_sum"))
    out, lines = tmp_path / "book", []
    # two runs that wait for the appendix: were it queued behind them, both workers would wait
    extra = {("alpha", i): (a, tmp_path / f"r{i}", {"i": i}) for i in (1, 2, 3)}
    res = execute_all([app, a, b], out, {"quick": True}, jobs=2, log=lines.append, extra=extra)
    assert list(res) == ["appendix_sum", "alpha", "beta", ("alpha", 1), ("alpha", 2), ("alpha", 3)]
    assert res["alpha"] == out / "alpha.ipynb" and res[("alpha", 1)] == tmp_path / "r1" / "alpha.ipynb"
    assert res[("alpha", 3)] == tmp_path / "r3" / "alpha.ipynb"
    assert isinstance(res[("alpha", 2)], ChapterError) and str(res[("alpha", 2)]) == "rerun 2 failed"
    assert sorted(calls, key=str) == sorted([("appendix_sum", out, {"quick": True}), ("alpha", out, {"quick": True}),
                                             ("beta", out, {"quick": True}), ("alpha", tmp_path / "r1", {"i": 1}),
                                             ("alpha", tmp_path / "r2", {"i": 2}),
                                             ("alpha", tmp_path / "r3", {"i": 3})], key=str)
    # the chapters start first (both ahead of the extra runs in the queue); the appendix after both ended
    starts = [e[1:] for e in events if e[0] == "start"]
    assert set(starts[:2]) == {("alpha", None), ("beta", None)}
    started = events.index(("start", "appendix_sum", None))
    assert {("end", "alpha", None), ("end", "beta", None)} <= set(events[:started])
    assert len(lines) == 6 and sum("FAILED" in ln for ln in lines) == 1
    assert any(ln.endswith(" s") and "alpha (into " in ln and "r1)" in ln for ln in lines)


def test_execute_all_one_at_a_time_runs_chapters_appendices_then_extra_runs(tmp_path, monkeypatch):
    from model.book.build import execute_all

    calls, _ = _standin_execute(monkeypatch, {})
    a, app = tmp_path / "alpha.ipynb", tmp_path / "appendix_sum.ipynb"
    extra = {"again": (a, tmp_path / "r", {"i": 1})}
    res = execute_all([app, a], tmp_path, lambda nb: {"name": nb.stem}, jobs=1, extra=extra)
    assert [c[0] for c in calls] == ["alpha", "appendix_sum", "alpha"]
    assert calls[2] == ("alpha", tmp_path / "r", {"i": 1}) and res["again"] == tmp_path / "r" / "alpha.ipynb"
    assert calls[0][2] == {"name": "alpha"} and calls[1][2] == {"name": "appendix_sum"}


def test_execute_all_refuses_an_extra_run_keyed_like_a_chosen_notebook(tmp_path, monkeypatch):
    from model.book.build import execute_all

    calls, _ = _standin_execute(monkeypatch, {})
    a = tmp_path / "alpha.ipynb"
    with pytest.raises(ValueError, match=r"\['alpha'\]"):
        execute_all([a], tmp_path, {}, jobs=2, extra={"alpha": (a, tmp_path / "r", {})})
    assert calls == []


def test_kernels_talk_over_private_sockets_without_warnings(tmp_path, capfd):
    """The build's kernels use Unix sockets in a temporary folder removed afterwards: no TCP warning on every
    run, nothing left behind."""
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("kernel-*"))
    nb = _notebook(tmp_path, "quiet", "output_dir = 'tables'\nquick = False\n", "x = 1")
    execute(nb, tmp_path / "book", {}, progress=False)
    err = capfd.readouterr().err
    assert "without encryption" not in err and "WARNING" not in err
    assert set(Path(tempfile.gettempdir()).glob("kernel-*")) == before


def test_parallel_runs_start_each_kernel_in_its_own_folder(tmp_path):
    """Notebooks run at the same time into different folders each run in their own folder (the build never
    changes this process's working directory, which threads share)."""
    from concurrent.futures import ThreadPoolExecutor

    body = ("import os, pathlib, time\ntime.sleep(0.5)\npathlib.Path(output_dir).mkdir(parents=True, exist_ok=True)\n"
            "pathlib.Path(output_dir, 'cwd.txt').write_text(os.getcwd())\n")
    nb = _notebook(tmp_path, "where", "output_dir = 'tables'\nquick = False\n", body)
    outs = [tmp_path / f"run{i}" for i in range(4)]
    before = Path.cwd()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda out: execute(nb, out, {}, progress=False), outs))
    assert [(out / "tables" / "cwd.txt").read_text() for out in outs] == [str(out.resolve()) for out in outs]
    assert Path.cwd() == before
