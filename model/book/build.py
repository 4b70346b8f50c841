"""Execute the study's notebooks with papermill into the book's source tree, and check the built HTML.

Usage
-----
``python -m model.book.build notebooks OUT_DIR [--only NAME ...] [--no-appendices] [--quick] [--jobs N] [-- -p name value ...]``
    Execute every ``notebooks/*.ipynb`` (or only ``NAME``) into ``OUT_DIR``, ``N`` at a time (default: the
    ``BOOK_JOBS`` environment variable, else the number of cores). The chapters run first and the appendices
    (``appendix_*``, which read the chapters' tables) after them; one line per finished notebook gives its
    time, and a failed chapter does not stop the others; after ``--only`` chapters the
    appendices are rerun too (without the ``--`` parameters) unless ``--no-appendices``. Parameters after
    ``--`` are passed to every executed chapter (values parsed as YAML, like papermill's ``-p``); a name that
    a chapter's parameters cell does not define stops the run before anything executes, naming the
    chapter's parameters and the closest match. ``--quick`` sets the notebooks' ``quick`` parameter (the
    test profile).

    A chapter's outputs (the executed notebook and every table it writes) go to a staging folder and are
    moved into ``OUT_DIR`` only when the whole chapter succeeds: a failed run leaves the previous outputs
    untouched and prints the chapter's error in one line, then the failing cell, its line and the end of the
    traceback; the executed notebook, as far as it ran, is kept in ``.build/failed/``. With ``--only``, the
    values of the ``--`` parameters go through the chapter's own checks before any kernel starts.
``python -m model.book.build chapter NAME OUT_DIR [--html CMD] [--log PATH] [--failure-note PATH] [-- -p ...]``
    What ``make chapter`` runs: check the parameters (names, then the chapter's own value checks, in this
    process before any kernel starts), execute chapter ``NAME`` into ``OUT_DIR`` printing its progress cell by
    cell, rerun the appendices, build the HTML with ``CMD`` (its log goes to ``PATH``, shown only when it
    fails), then print the page's findings box as plain text and the page's path. When the chapter fails it
    prints the failing cell, its line that raised and the end of the traceback, and keeps the executed notebook
    in ``.build/failed/NAME.ipynb``; ``--failure-note`` also writes the one-line summary there (the Makefile
    ends with it).
``python -m model.book.build sweep NAME PARAM V1 V2 ... --table TABLE.csv --out RESULT.csv [-- -p ...]``
    Run chapter ``NAME`` once per value of ``PARAM`` and stack its regenerated ``TABLE.csv`` into one table,
    with a column naming the parameter value. The table name and every value are checked before the first
    run; a value whose run fails does not stop the others, and the rows of the runs that succeeded are
    written (the failed values are named and the exit status is 1).
``python -m model.book.build check-offline HTML_DIR``
    Fail if a built page loads a script, stylesheet or font from the network, or a chapter chart lacks its
    static SVG.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml

from model.io import ROOT, atomic_write_text, write_csv

NOTEBOOK_DIR = ROOT / "notebooks"
#: Where each chapter writes its regenerated tables, relative to the executed notebook.
TABLES_SUBDIR = "tables"
#: Notebooks whose stem starts with this run after every chapter: they read the chapters' tables
#: (the audit appendix collects every ``tables/*_audit.csv``).
APPENDIX_PREFIX = "appendix_"
#: Where a failed run keeps its executed notebook (outside the book: the staging folder is removed).
FAILED_DIR = ROOT / ".build" / "failed"
#: Where ``make chapter`` writes the HTML build's log.
LOG_DIR = ROOT / ".build" / "logs"
#: Where the chapters' kernels keep the audit of the sources between them (model.result_cache.CACHE_ENV).
AUDIT_CACHE = ROOT / ".build" / "audit-cache"


def is_appendix(notebook: Path) -> bool:
    """Whether ``notebook`` is an appendix (runs after the chapters)."""
    return notebook.stem.startswith(APPENDIX_PREFIX)


def _parse_params(pairs: list[str]) -> dict:
    params: dict = {}
    i = 0
    while i < len(pairs):
        flag = pairs[i]
        if flag not in ("-p", "--parameters"):
            raise SystemExit(f"error: expected '-p NAME VALUE', got {' '.join(pairs[i:])!r}")
        if i + 2 >= len(pairs):
            raise SystemExit(f"error: '-p' needs NAME and VALUE, got {' '.join(pairs[i:])!r}")
        name, value = pairs[i + 1], pairs[i + 2]
        params[name] = yaml.safe_load(value)
        i += 3
    return params


class ChapterError(RuntimeError):
    """A chapter failed: bad parameters, or an error while it ran (the message is one line).

    Attributes
    ----------
    details : str
        For an error while the chapter ran: the failing cell, its line that raised and the last lines of the
        traceback, a few indented lines ("" for a bad parameter).
    failed_notebook : Path or None
        Where the executed notebook was kept, as far as it ran.
    parameter_error : str
        When the chapter stopped on a :class:`~model.checks.ParameterError` (a value its checks refuse), that
        error's one line; "" otherwise.
    """

    def __init__(self, message: str, *, details: str = "", failed_notebook: Path | None = None,
                 parameter_error: str = ""):
        super().__init__(message)
        self.details = details
        self.failed_notebook = failed_notebook
        self.parameter_error = parameter_error


def parameter_names(notebook: Path) -> list[str]:
    """The names assigned in ``notebook``'s cell tagged ``parameters``, in order."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not tagged:
        return []
    tree = ast.parse("".join(tagged[0]["source"]))
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def parameter_defaults(notebook: Path) -> dict:
    """The values assigned in ``notebook``'s cell tagged ``parameters`` (literals only), by name."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    values = {}
    for node in ast.parse("".join(tagged[0]["source"])).body if tagged else []:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    values[t.id] = ast.literal_eval(node.value)
    return values


def check_parameters(notebook: Path, parameters: dict) -> None:
    """Raise :class:`ChapterError` if ``parameters`` holds a name ``notebook`` does not define, naming the
    chapter's parameters and the closest match."""
    known = parameter_names(notebook)
    for name in parameters:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ChapterError(f"{notebook.stem} has no parameter {name!r}.{hint} Its parameters: {', '.join(known)}.")


def _code_cells(notebook: Path) -> list[str]:
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in cells if c["cell_type"] == "code"]


#: Calls of a chapter that check its parameters (besides every ``check_*``): the price look-ups that name them.
_CHECKING_CALLS = ("gpu_price", "api_price")


def _called(call: ast.AST) -> str:
    if not isinstance(call, ast.Call):
        return ""
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""


def _is_check(node: ast.stmt) -> bool:
    """A statement that only checks: ``check_x(...)``, ``v = check_x(...)``, a price look-up, or a ``for`` / ``if``
    whose body is only such statements."""
    if isinstance(node, (ast.Expr, ast.Assign)):
        name = _called(node.value)
        return name.startswith("check_") or name in _CHECKING_CALLS
    if isinstance(node, (ast.For, ast.If)):
        return not node.orelse and all(_is_check(n) for n in node.body)
    return False


@lru_cache(maxsize=None)
def _checks(path: Path) -> tuple:
    """The compiled statements of the chapter ``path`` that check its parameters, after the imports they need."""
    imports, checks = [], []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell["cell_type"] != "code" or tags & {"parameters", "injected-parameters"}:
            continue
        source = "".join(cell["source"])
        lines = [ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        imports += [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        checks += [n for n in tree.body if _is_check(n)]
    used = {n.id for c in checks for n in ast.walk(c) if isinstance(n, ast.Name)}
    needed = []
    for node in imports:
        names = [a for a in node.names if (a.asname or a.name).split(".")[0] in used]
        if names:
            kind = type(node)
            needed.append(kind(module=node.module, names=names, level=node.level) if kind is ast.ImportFrom
                          else kind(names=names))
    return tuple(compile(ast.fix_missing_locations(ast.Module(body=[n], type_ignores=[])), str(path), "exec")
                 for n in needed + checks)


def parameter_error(chapter: str, values: dict):
    """The first :class:`~model.checks.ParameterError` chapter ``chapter``'s own checks raise on ``values``
    (every parameter of the chapter, by name), run in this process, or None: what ``make chapter`` and ``make
    sweep`` report before a kernel starts, and what ``python -m model list`` reads the allowed values off. A
    statement that cannot run on them (it needs what the chapter computes first) is skipped."""
    from model.checks import ParameterError

    namespace = dict(values)
    for code in _checks(NOTEBOOK_DIR / f"{chapter}.ipynb"):
        try:
            exec(code, namespace)   # noqa: S102 - the chapter's own check calls, on the chapter's values
        except ParameterError as exc:
            return exc
        except Exception:           # noqa: BLE001 - a check that needs what a probe does not give
            continue
    return None


def check_values(notebook: Path, parameters: dict) -> None:
    """Run ``notebook``'s own parameter checks (:func:`parameter_error`) on its defaults with ``parameters``
    set, so that a bad value is reported in one line before a kernel starts.

    Raises
    ------
    ChapterError
        ``"<chapter>: <name>=<value> is not allowed: <name> must be ..."``.
    """
    err = parameter_error(notebook.stem, {**parameter_defaults(notebook), **parameters})
    if err is not None:
        raise ChapterError(f"{notebook.stem}: {err}")


_TABLE = re.compile(r"\{output_dir\}/([A-Za-z0-9_.\-]+\.csv)")


def chapter_tables(notebook: Path) -> list[str]:
    """The tables ``notebook`` writes to its ``output_dir``, by file name (from its code:
    ``write_csv(..., f"{output_dir}/<name>.csv")``)."""
    return sorted({m for src in _code_cells(notebook) for m in _TABLE.findall(src)})


def check_table(notebook: Path, table: str) -> None:
    """Raise :class:`ChapterError` unless ``notebook`` writes the table ``table`` (a file name such as
    ``tiering_ttl.csv``), naming the closest match and the chapter's tables."""
    known = chapter_tables(notebook)
    if not known or table in known:
        return
    close = difflib.get_close_matches(table if table.endswith(".csv") else f"{table}.csv", known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ChapterError(f"{notebook.stem} writes no table {table!r}.{hint} Its tables: {', '.join(known)}.")


#: Cell tags that stay visible in the book: what a reader changes (the parameters cell, and the values a
#: rerun injected). Every other code cell is folded behind a toggle (MyST-NB's ``hide-input``).
VISIBLE_TAGS = ("parameters", "injected-parameters")


def _strip_internal_injection(nb: dict, tables_rel: str) -> dict:
    """Drop the ``output_dir`` line the build injects (it is the build's business, not the reader's); drop
    the injected cell altogether when nothing else was injected."""
    keep = []
    for cell in nb["cells"]:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines = [ln for ln in src.splitlines() if not ln.startswith("output_dir = ")]
            if not any(ln.strip() and not ln.startswith("#") for ln in lines):
                continue
            cell["source"] = "\n".join(lines) + "\n"
        keep.append(cell)
    nb["cells"] = keep
    return nb


def fold_code(nb: dict) -> dict:
    """Tag every code cell of an executed notebook ``hide-input`` except the parameters cells."""
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if not any(t in tags for t in VISIBLE_TAGS) and "hide-input" not in tags:
            tags.append("hide-input")
    return nb


def _error_summary(exc: Exception) -> str:
    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", str(exc))
    return f"{ename}: {evalue}"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: Lines of the traceback's end a failure report shows.
TRACEBACK_LINES = 8


def _cell_number(nb: dict, cell_id: str | None, fallback_index: int) -> tuple[int, int]:
    """(1-based number, count) of a cell among the source notebook's cells ``nb``, found by its id (the
    executed notebook holds one more cell, the injected parameters)."""
    ids = [c.get("id") for c in nb["cells"]]
    if cell_id is not None and cell_id in ids:
        return ids.index(cell_id) + 1, len(ids)
    return fallback_index, len(ids)


def failure_details(exc, source_nb: dict, executed: dict | None) -> str:
    """The report of a cell that raised (papermill's ``PapermillExecutionError``): its number among the
    source notebook's cells and its execution count, the line of the cell that raised (from the traceback's
    last ``Cell In[..], line N``; the cell's first lines when there is none) and the last
    :data:`TRACEBACK_LINES` lines of the traceback, ANSI colours removed."""
    cell_id = None
    if executed is not None:
        cells = executed["cells"]
        # papermill puts an anchor cell (tagged papermill-error-cell-tag) just before the failing cell
        marks = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and i + 1 < len(cells)
                 and "papermill-error-cell-tag" in c.get("metadata", {}).get("tags", [])
                 and cells[i + 1]["cell_type"] == "code"]
        if marks:
            cell_id = cells[marks[-1] + 1].get("id")
    number, count = _cell_number(source_nb, cell_id, exc.cell_index)
    source = exc.source if isinstance(exc.source, str) else "".join(exc.source)
    lines = source.splitlines()
    trace = _ANSI.sub("", "\n".join(exc.traceback or [])).splitlines()
    at = [int(m.group(1)) for ln in trace for m in [re.match(r"\s*Cell In\s*\[\d*\], line (\d+)", ln)] if m]
    where = f"  in cell {number} of {count} (In [{exc.exec_count}])"
    if at and 1 <= at[-1] <= len(lines):
        shown = [f"{where}, line {at[-1]}:", f"    {lines[at[-1] - 1].strip()}"]
    else:
        shown = [f"{where}, which begins:"] + [f"    {ln}" for ln in lines[:3]]
    heads = [i for i, ln in enumerate(trace) if "Traceback (most recent call last)" in ln]
    last = trace[heads[-1] + 1:] if heads else trace          # the last exception of a chain
    # the frames ("Cell In[..], line N", "File ...:N, in f(...)"), the lines they stopped at ("---> N ...") and
    # the exception; not the numbered lines of context around each
    tail = [ln.rstrip() for ln in last if ln.strip() and not set(ln.strip()) <= set("-")
            and not re.match(r"\s+\d+ ", ln)][-TRACEBACK_LINES:]
    return "\n".join(shown + ["  the end of the traceback:"] + [f"    {ln}" for ln in tail])


def _progress_engine() -> str:
    """Register (once) and name a papermill engine that calls ``on_cell(index, notebook)`` when each cell of
    the executed notebook starts."""
    from papermill.engines import NBClientEngine, papermill_engines

    name = "model-book-progress"
    if name not in papermill_engines._engines:
        class ProgressEngine(NBClientEngine):
            @classmethod
            def execute_managed_notebook(cls, nb_man, kernel_name, on_cell=None, **kwargs):
                if on_cell is not None:
                    start = nb_man.cell_start

                    def cell_start(cell, cell_index=None, **kw):
                        on_cell(cell_index, nb_man.nb)
                        return start(cell, cell_index, **kw)

                    nb_man.cell_start = cell_start
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)

        papermill_engines.register(name, ProgressEngine)
    return name


def cell_progress(name: str, stream=None) -> Callable[[int, int, float], None]:
    """A progress reporter for :func:`execute`'s ``on_cell``: ``"tiering: cell 7/31 (12 s)"`` when each code
    cell starts, on one line rewritten in place on a terminal, one line each otherwise."""
    stream = sys.stderr if stream is None else stream
    tty = stream.isatty()

    def show(number: int, count: int, elapsed_s: float) -> None:
        line = f"{name}: cell {number}/{count} ({elapsed_s:,.0f} s)"
        stream.write(f"\r\x1b[K{line}" if tty else f"{line}\n")
        stream.flush()

    show.done = lambda: (stream.write("\r\x1b[K"), stream.flush()) if tty else None
    return show


def _ipc_kernel_manager():
    """A kernel manager whose kernel talks over Unix sockets in a private temporary folder (not TCP on
    localhost: no port to find, and no "running over TCP without encryption" warning on every run)."""
    from jupyter_client.manager import KernelManager

    class IpcKernelManager(KernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self._sockets = tempfile.mkdtemp(prefix="kernel-")
            self.transport = "ipc"
            self.ip = str(Path(self._sockets) / "ipc")

        def cleanup_resources(self, restart: bool = False) -> None:
            super().cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self._sockets, ignore_errors=True)

    return IpcKernelManager


def _unstaged(staged_nb: Path, staging: Path, tables_rel: Path, out_dir: Path) -> dict:
    """The staged executed notebook with the staging folder's paths put back to the real ones (it records the
    staging folder as its output_dir)."""
    text = (staged_nb.read_text(encoding="utf-8").replace(str(staging / tables_rel), str(tables_rel))
            .replace(str(staging), str(out_dir)))
    return json.loads(text)


def execute(notebook: Path, out_dir: Path, parameters: dict, *, progress: bool | None = None,
            on_cell: Callable[[int, int, float], None] | None = None, failed_dir: Path | None = None) -> Path:
    """Run ``notebook`` with papermill into ``out_dir`` (working directory ``out_dir``), staged.

    The executed notebook and every file it writes under its ``output_dir`` (``tables/`` by default) are
    written into a staging folder first and moved into ``out_dir`` only if the whole notebook succeeds.

    Parameters
    ----------
    progress : bool, optional
        papermill's progress bar (default: when stderr is a terminal).
    on_cell : callable, optional
        Called as ``on_cell(number, count, elapsed_s)`` when each code cell starts: its 1-based number among
        the source notebook's ``count`` cells, and the seconds since the run began (e.g. :func:`cell_progress`).
    failed_dir : Path, optional
        When the notebook fails, keep the executed notebook (as far as it ran) there as ``<name>.ipynb``.

    Raises
    ------
    ChapterError
        an unknown parameter (before anything runs), or the notebook's own error in one line, with the failing
        cell, its line and the traceback's end in ``details``.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    check_parameters(notebook, parameters)
    # the chapters each judge the same audit of the sources: the first kernel keeps it for the others
    from model.result_cache import CACHE_ENV
    os.environ.setdefault(CACHE_ENV, str(AUDIT_CACHE))
    source_nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    out_dir = Path(out_dir).resolve()  # the staging folder and papermill's cwd must agree on every path
    out_dir.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stderr.isatty()
    tables_rel = Path(parameters.get("output_dir", TABLES_SUBDIR))
    if tables_rel.is_absolute():
        raise ChapterError(f"output_dir={str(tables_rel)!r}: give a folder relative to {out_dir}")
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".staging-{notebook.stem}-"))
    try:
        run_params = {**parameters, "output_dir": str(staging / tables_rel)}
        staged_nb = staging / notebook.name
        engine = {}
        if on_cell is not None:
            def started(index: int, nb) -> None:
                cell = nb.cells[index]
                if cell.cell_type == "code" and "injected-parameters" not in cell.metadata.get("tags", []):
                    number, count = _cell_number(source_nb, cell.get("id"), index)
                    on_cell(number, count, time.perf_counter() - t0)
            engine = {"engine_name": _progress_engine(), "on_cell": started}
        try:
            # the kernel starts in out_dir (nbclient's resources path), not papermill's cwd=, which changes the
            # working directory of this whole process and so races when notebooks run in parallel threads
            pm.execute_notebook(str(notebook), str(staged_nb), parameters=run_params,
                                kernel_name="python3", progress_bar=progress, report_mode=False,
                                log_output=False, kernel_manager_class=_ipc_kernel_manager(),
                                resources={"metadata": {"path": str(out_dir)}}, **engine)
        except PapermillExecutionError as exc:
            executed = _unstaged(staged_nb, staging, tables_rel, out_dir) if staged_nb.exists() else None
            kept = None
            if failed_dir is not None and executed is not None:
                kept = Path(failed_dir) / notebook.name
                atomic_write_text(kept, json.dumps(executed, indent=1, ensure_ascii=False) + "\n")
            raise ChapterError(f"{notebook.stem} failed (outputs left as they were): {_error_summary(exc)}",
                               details=failure_details(exc, source_nb, executed), failed_notebook=kept,
                               parameter_error=exc.evalue if exc.ename == "ParameterError" else "") from None
        nb = _strip_internal_injection(_unstaged(staged_nb, staging, tables_rel, out_dir), str(tables_rel))
        staged_nb.write_text(json.dumps(fold_code(nb), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        for path in sorted(p for p in staging.rglob("*") if p.is_file() and p != staged_nb):
            target = out_dir / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        target = out_dir / notebook.name
        os.replace(staged_nb, target)
        return target
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def execute_all(chosen: list[Path], out_dir: Path, parameters: dict | Callable[[Path], dict], *, jobs: int = 1,
                log: Callable[[str], None] | None = None, failed_dir: Path | None = None,
                extra: dict | None = None) -> dict:
    """Execute ``chosen`` notebooks into ``out_dir``, ``jobs`` at a time: the chapters first, then the
    appendices (which read the chapters' tables). ``parameters`` is one dict for all, or a function of the
    notebook. Every notebook runs even when another fails (and is kept in ``failed_dir`` if given).

    ``extra`` holds further runs, key → ``(notebook, out_dir, parameters)`` (e.g. a chapter rerun with other
    parameters into a folder of its own). They are queued in the chapters' pool behind the chapters, so that no
    worker waits while another finishes a long chapter, and the appendices do not wait for them (they start, in a
    pool of their own, once every chapter is done).

    Returns
    -------
    dict
        notebook stem → the executed notebook's path, or the :class:`ChapterError` it failed with; then each key
        of ``extra`` → the same for its run.
    """
    from concurrent.futures import ThreadPoolExecutor

    params_of = parameters if callable(parameters) else (lambda nb: parameters)
    extra = extra or {}
    clash = sorted(str(k) for k in set(extra) & {nb.stem for nb in chosen})
    if clash:
        raise ValueError(f"extra runs keyed like notebooks of chosen, whose results they would replace: {clash}")
    results: dict = {}
    total = len(chosen) + len(extra)

    def run(key, nb: Path, folder: Path, params: dict) -> None:
        t0 = time.perf_counter()
        try:
            results[key] = execute(nb, folder, params, progress=False, failed_dir=failed_dir)
            status = "done"
        except ChapterError as exc:
            results[key] = exc
            status = "FAILED"
        if log:
            name = nb.stem if key == nb.stem else f"{nb.stem} (into {_shown(folder)})"
            log(f"[{len(results)}/{total}] {name} {status} in {time.perf_counter() - t0:,.0f} s")

    chapters = [(nb.stem, nb, out_dir, params_of(nb)) for nb in chosen if not is_appendix(nb)]
    appendices = [(nb.stem, nb, out_dir, params_of(nb)) for nb in chosen if is_appendix(nb)]
    later = [(key, *job) for key, job in extra.items()]
    if jobs <= 1:
        for job in chapters + appendices + later:
            run(*job)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            queued = [pool.submit(run, *job) for job in chapters + later]
            for future in queued[:len(chapters)]:
                future.result()
            with ThreadPoolExecutor(max_workers=jobs) as own:
                for future in [own.submit(run, *job) for job in appendices]:
                    future.result()
            for future in queued[len(chapters):]:
                future.result()
    return {**{nb.stem: results[nb.stem] for nb in chosen}, **{key: results[key] for key in extra}}


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The source notebooks in execution order: chapters by name, then the appendices by name (optionally
    only some, by stem, in the order given)."""
    found = sorted(NOTEBOOK_DIR.glob("*.ipynb"), key=lambda p: (is_appendix(p), p.name))
    if only:
        names = {p.stem: p for p in found}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise SystemExit(f"error: unknown notebook {unknown}; choose from {sorted(names)}")
        return [names[n] for n in only]
    return found


def check_offline(html_dir: Path) -> list[str]:
    """Problems that would stop a built page from rendering with no network (empty list if none)."""
    problems = []
    remote = re.compile(r'<(script|link|img)[^>]+(src|href)="(https?:)?//[^"]+"', re.I)
    for page in sorted(html_dir.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        for m in remote.finditer(text):
            tag = m.group(0)
            if m.group(1).lower() == "link" and not re.search(r'rel="(stylesheet|preload|modulepreload)"', tag):
                continue
            problems.append(f"{page.relative_to(html_dir)}: loads {tag[:120]}")
        for div in re.finditer(r'<div id="(vega-[0-9a-f]{12})" class="offline-vega">(.{0,200})', text, re.S):
            if "<svg" not in div.group(2):
                problems.append(f"{page.relative_to(html_dir)}: chart {div.group(1)} has no static SVG")
    return problems


def sweep(name: str, param: str, values: list[str], table: str, out: Path, extra: dict, *,
          log: Callable[[str], None] | None = None) -> tuple[pd.DataFrame | None, dict[str, ChapterError]]:
    """Run chapter ``name`` once per value of ``param``; stack its ``tables/<table>`` with a column ``param``.

    Before the first run: ``table`` must be a table the chapter writes (:func:`check_table`), ``param`` and
    the names in ``extra`` parameters it has, and every value must pass the chapter's own checks
    (:func:`check_values`). A run that fails does not stop the others; the rows of the runs that succeeded
    are written to ``out`` (atomically; nothing is written when none did).

    Returns
    -------
    (pandas.DataFrame or None, dict)
        The stacked table (None when no run succeeded), and each failed value as typed → its error.

    Raises
    ------
    ChapterError
        a bad table name, parameter name or value, before anything runs.
    """
    [nb] = notebooks([name])
    check_table(nb, table)
    check_parameters(nb, {**extra, param: None})
    parsed = [yaml.safe_load(raw) for raw in values]
    for value in parsed:
        check_values(nb, {**extra, param: value})
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    frames, failed = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (raw, value) in enumerate(zip(values, parsed)):
            run_dir = Path(tmp) / f"run-{i}"
            t0 = time.perf_counter()
            try:
                execute(nb, run_dir, {**extra, param: value}, progress=False, failed_dir=FAILED_DIR)
            except ChapterError as exc:
                failed[raw] = exc
                say(f"[{i + 1}/{len(values)}] {param}={raw}: FAILED in {time.perf_counter() - t0:,.0f} s: {exc}")
                continue
            csv = run_dir / TABLES_SUBDIR / table
            if not csv.exists():
                failed[raw] = ChapterError(f"{name} with {param}={raw} wrote no table {table}")
                say(f"[{i + 1}/{len(values)}] {param}={raw}: FAILED: {failed[raw]}")
                continue
            df = pd.read_csv(csv)
            df.insert(0, param, value)
            frames.append(df)
            say(f"[{i + 1}/{len(values)}] {param}={raw}: {len(df)} rows in {time.perf_counter() - t0:,.0f} s")
    result = pd.concat(frames, ignore_index=True) if frames else None
    if result is not None:
        write_csv(result, out)
    return result, failed


_GLUE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
_DOC = re.compile(r"\{doc\}`(?:([^`<]+?)\s*<[^>]+>|([^`]+))`")


def _glued_values(executed: Path) -> dict[str, str]:
    """The values an executed notebook glued (MyST-NB ``glue``), by name, as text."""
    values = {}
    for cell in json.loads(executed.read_text(encoding="utf-8"))["cells"]:
        for out in cell.get("outputs", []):
            book = out.get("metadata", {}).get("scrapbook")
            if not book:
                continue
            text = "".join(out.get("data", {}).get(f"{book.get('mime_prefix', '')}text/plain", ""))
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                value = text
            values[book["name"]] = value if isinstance(value, str) else str(value)
    return values


def findings_text(executed: Path, *, width: int = 100) -> str:
    """The findings of an executed chapter as plain text: its first admonition (the box "What this chapter
    finds", fenced with ``:::`` or with backticks), or failing that the bullet list after a paragraph that starts with "Findings", with every glued
    value filled in (from this page, or ``other.ipynb::name`` from the executed page beside it) and the
    MyST markup removed; ``""`` if the page has neither."""
    executed = Path(executed)
    cells = [("".join(c["source"]) if isinstance(c["source"], list) else c["source"])
             for c in json.loads(executed.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "markdown"]
    text = "\n".join(cells)
    box = re.search(r"^(:{3,}|`{3,})\{admonition\}\s*(.*?)\n(.*?)^\1\s*$", text, re.S | re.M)  # ::: or ``` fence
    if box:
        title, body = box.group(2).strip(), box.group(3)
    else:
        found = re.search(r"^(Findings[^\n]*)\n+((?:[-*] .*\n(?:[ \t]+\S.*\n)*)+)", text + "\n", re.M)
        if not found:
            return ""
        title, body = found.group(1).strip().rstrip(":"), found.group(2)
    pages: dict[str, dict[str, str]] = {}

    def glued(m: re.Match) -> str:
        ref = m.group(1)
        page, _, name = ref.rpartition("::")
        name = name.split(":")[0]
        key = page or executed.name
        if key not in pages:
            path = executed.parent / key
            pages[key] = _glued_values(path) if path.exists() else {}
        return pages[key].get(name, f"[{name}]")

    lines = [ln for ln in body.splitlines() if not ln.startswith(":")]
    items: list[str] = []
    for ln in lines:
        if re.match(r"\s*[-*] ", ln):
            items.append(ln.strip()[2:])
        elif ln.strip() and items:
            items[-1] += " " + ln.strip()
        elif ln.strip():
            items.append(ln.strip())
    out = [title]
    for item in items:
        plain = _DOC.sub(lambda m: (m.group(1) or m.group(2)).strip(), _GLUE.sub(glued, item))
        plain = re.sub(r"\*\*(.+?)\*\*", r"\1", plain)
        plain = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\1", plain)
        plain = re.sub(r"`([^`]+)`", r"\1", plain)
        plain = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", plain)
        plain = re.sub(r"<[^>]+>", "", plain)
        out.append(textwrap.fill(plain, width=width, initial_indent="  - ", subsequent_indent="    "))
    return "\n".join(out)


def build_html(command: str, log_path: Path) -> tuple[bool, list[str]]:
    """Run the HTML build ``command`` (a shell-style command line) with its output in ``log_path``.

    Returns
    -------
    (bool, list of str)
        Whether it succeeded, and the last lines of its log.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log:
        code = subprocess.run(shlex.split(command), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    return code == 0, tail


def _html_page(out_dir: Path, name: str) -> Path:
    """Where the book's HTML build puts the page of the executed notebook ``out_dir/name.ipynb``."""
    out_dir = Path(out_dir).resolve()
    return out_dir.parent / "_build" / "html" / out_dir.name / f"{name}.html"


def _shown(path: Path) -> str:
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def run_chapter(name: str, out_dir: Path, params: dict, *, html: str | None, log_path: Path | None = None,
                appendices: bool = True, jobs: int = 1, failed_dir: Path | None = None,
                stream=None) -> str | None:
    """What ``make chapter`` does (see the module's usage): returns ``None`` on success, else the one-line
    summary of what failed (the details were printed to ``stream``)."""
    stream = sys.stderr if stream is None else stream
    failed_dir = FAILED_DIR if failed_dir is None else failed_dir

    def say(line: str = "") -> None:
        print(line, file=stream, flush=True)

    [nb] = notebooks([name])
    check_parameters(nb, params)
    check_values(nb, params)
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "its defaults"
    say(f"{name}: running with {shown}")
    progress = cell_progress(name, stream)
    t0 = time.perf_counter()
    try:
        page = execute(nb, out_dir, params, progress=False, on_cell=progress, failed_dir=failed_dir)
    except ChapterError as exc:
        progress.done()
        if exc.parameter_error:  # a value the chapter refuses: one line, as when its checks refuse it up front
            return f"{name}: {exc.parameter_error}"
        if exc.details:
            say(f"error: {exc}")
            say(exc.details)
            if exc.failed_notebook is not None:
                say(f"  the executed notebook, as far as it ran: {_shown(exc.failed_notebook)}")
            say("  the book's page and tables are left as they were")
            return f"{name} failed: {_error_line(exc)}"
        return str(exc)
    progress.done()
    say(f"{name}: done in {time.perf_counter() - t0:,.0f} s")
    if appendices and not is_appendix(nb):
        rest = [n for n in notebooks() if is_appendix(n)]
        results = execute_all(rest, out_dir, {}, jobs=jobs, failed_dir=failed_dir,
                              log=lambda line: say(f"appendices: {line}"))
        failed = {k: v for k, v in results.items() if isinstance(v, ChapterError)}
        for exc in failed.values():
            say(f"error: {exc}")
            if exc.details:
                say(exc.details)
        if failed:
            return f"{', '.join(failed)} failed after {name} ran"
    if html:
        log_path = Path(log_path or LOG_DIR / f"{name}-html.log")
        say("building the HTML book ...")
        ok, tail = build_html(html, log_path)
        if not ok:
            say(f"error: the HTML build failed; its log: {_shown(log_path)}; its last lines:")
            for line in tail:
                say(f"    {line}")
            return f"the HTML build failed after {name} ran (log: {_shown(log_path)})"
    say("")
    say(findings_text(page) or f"({name} has no findings box)")
    say("")
    target = _html_page(out_dir, name)
    say(f"page: {_shown(target)}" + ("" if target.exists() else " (not built)"))
    return None


def _error_line(exc: ChapterError) -> str:
    """The error of a failed run in one line, without the chapter's name and "failed (...)" preamble."""
    return str(exc).split(": ", 1)[1] if ": " in str(exc) else str(exc)


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(prog="python -m model.book.build")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("notebooks")
    run.add_argument("out_dir", type=Path)
    run.add_argument("--only", nargs="*", default=None)
    run.add_argument("--quick", action="store_true")
    run.add_argument("--jobs", type=int, default=int(os.environ.get("BOOK_JOBS", os.cpu_count() or 1)),
                     help="notebooks executed at a time (default: BOOK_JOBS or the number of cores)")
    run.add_argument("--no-appendices", action="store_true",
                     help="with --only: do not rerun the appendices after the chosen chapters")
    ch = sub.add_parser("chapter")
    ch.add_argument("name")
    ch.add_argument("out_dir", type=Path)
    ch.add_argument("--html", default=None, help="the command that builds the HTML book (default: none)")
    ch.add_argument("--log", type=Path, default=None, help="the HTML build's log (default: .build/logs/NAME-html.log)")
    ch.add_argument("--no-appendices", action="store_true")
    ch.add_argument("--jobs", type=int, default=int(os.environ.get("BOOK_JOBS", os.cpu_count() or 1)))
    chk = sub.add_parser("check-offline")
    chk.add_argument("html_dir", type=Path)
    sw = sub.add_parser("sweep")
    sw.add_argument("name")
    sw.add_argument("param")
    sw.add_argument("values", nargs="+")
    sw.add_argument("--table", required=True)
    sw.add_argument("--out", type=Path, required=True)
    for p in (ch, sw):
        p.add_argument("--failure-note", type=Path, default=None,
                       help="on failure, write the one-line summary here instead of printing it last "
                            "(the Makefile ends with it)")
    args = parser.parse_args(argv)
    note = getattr(args, "failure_note", None)
    if note is not None and note.exists():
        note.unlink()
    try:
        params = _parse_params(extra)
        summary = _run(args, params)
    except ChapterError as exc:
        summary = str(exc)
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            raise
        summary = str(exc.code).removeprefix("error: ")
    if summary is None or summary == 0:
        return 0
    if isinstance(summary, int):
        return summary
    if note is not None:  # make ends its line with ".  Stop."
        atomic_write_text(note, summary.rstrip(".") + "\n")
    else:
        print(f"error: {summary}", file=sys.stderr)
    return 1


def _run(args, params: dict) -> int | str | None:
    """Run a parsed command: 0/None on success, an exit status, or a failure's one-line summary."""
    if args.command == "notebooks":
        if args.quick:
            params.setdefault("quick", True)
        chosen = notebooks(args.only)
        for nb in chosen:  # every name is checked before anything runs, and every value the chapter checks
            check_parameters(nb, params)
        if args.only:
            for nb in chosen:
                check_values(nb, params)
        asked = {nb.stem for nb in chosen}      # the appendices added below run without the -- parameters
        if args.only and not args.no_appendices and not all(is_appendix(nb) for nb in chosen):
            chosen += [n for n in notebooks() if is_appendix(n) and n not in chosen]
        base = {"quick": True} if args.quick else {}
        t0 = time.perf_counter()
        print(f"executing {len(chosen)} notebook{'s' if len(chosen) != 1 else ''} into {args.out_dir}, "
              f"{min(args.jobs, len(chosen))} at a time", file=sys.stderr)
        results = execute_all(chosen, args.out_dir, lambda nb: params if nb.stem in asked else base, jobs=args.jobs,
                              log=lambda line: print(line, file=sys.stderr, flush=True), failed_dir=FAILED_DIR)
        failed = {k: v for k, v in results.items() if isinstance(v, ChapterError)}
        for exc in failed.values():
            print(f"error: {exc}", file=sys.stderr)
            if exc.details:
                print(exc.details, file=sys.stderr)
            if exc.failed_notebook is not None:
                print(f"  the executed notebook, as far as it ran: {_shown(exc.failed_notebook)}", file=sys.stderr)
        print(f"{len(results) - len(failed)} of {len(results)} notebooks executed in "
              f"{time.perf_counter() - t0:,.0f} s", file=sys.stderr)
        return 1 if failed else 0
    if args.command == "chapter":
        return run_chapter(args.name, args.out_dir, params, html=args.html, log_path=args.log,
                           appendices=not args.no_appendices, jobs=args.jobs)
    if args.command == "check-offline":
        problems = check_offline(args.html_dir)
        for p in problems:
            print("offline check:", p, file=sys.stderr)
        pages = len(list(args.html_dir.rglob("*.html")))
        print(f"offline check: {pages} pages, {len(problems)} problems", file=sys.stderr)
        return 1 if problems else 0
    if args.command == "sweep":
        result, failed = sweep(args.name, args.param, args.values, args.table, args.out, params)
        kept = f"the {len(result)} rows of the other {len(args.values) - len(failed)} runs are in {args.out}" \
            if result is not None else "no run succeeded, nothing was written"
        if failed:
            for raw, exc in failed.items():
                if exc.details and not exc.parameter_error:
                    print(f"{args.param}={raw}: {exc}\n{exc.details}", file=sys.stderr)
            values = ", ".join(f"{args.param}={raw}" for raw in failed)
            return f"{args.name} failed at {values} ({kept})"
        print(f"wrote {args.out} ({len(result)} rows)", file=sys.stderr)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
