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
    untouched and prints the chapter's error in one line.
``python -m model.book.build sweep NAME PARAM V1 V2 ... --table TABLE.csv --out RESULT.csv [-- -p ...]``
    Run chapter ``NAME`` once per value of ``PARAM`` and stack its regenerated ``TABLE.csv`` into one table,
    with a column naming the parameter value.
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
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

from model.io import ROOT, write_csv

NOTEBOOK_DIR = ROOT / "notebooks"
#: Where each chapter writes its regenerated tables, relative to the executed notebook.
TABLES_SUBDIR = "tables"
#: Notebooks whose stem starts with this run after every chapter: they read the chapters' tables
#: (the audit appendix collects every ``tables/*_audit.csv``).
APPENDIX_PREFIX = "appendix_"


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
    """A chapter failed: bad parameters, or an error while it ran (the message is one short paragraph)."""


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


def execute(notebook: Path, out_dir: Path, parameters: dict, *, progress: bool | None = None) -> Path:
    """Run ``notebook`` with papermill into ``out_dir`` (working directory ``out_dir``), staged.

    The executed notebook and every file it writes under its ``output_dir`` (``tables/`` by default) are
    written into a staging folder first and moved into ``out_dir`` only if the whole notebook succeeds.

    Raises
    ------
    ChapterError
        an unknown parameter (before anything runs), or the notebook's own error in one line.
    """
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    check_parameters(notebook, parameters)
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
        try:
            # the kernel starts in out_dir (nbclient's resources path), not papermill's cwd=, which changes the
            # working directory of this whole process and so races when notebooks run in parallel threads
            pm.execute_notebook(str(notebook), str(staged_nb), parameters=run_params,
                                kernel_name="python3", progress_bar=progress, report_mode=False,
                                log_output=False, kernel_manager_class=_ipc_kernel_manager(),
                                resources={"metadata": {"path": str(out_dir)}})
        except PapermillExecutionError as exc:
            raise ChapterError(f"{notebook.stem} failed (outputs left as they were): {_error_summary(exc)}") from None
        # the staged notebook records the staging folder as its output_dir: put the real one back
        text = (staged_nb.read_text(encoding="utf-8").replace(str(staging / tables_rel), str(tables_rel))
                .replace(str(staging), str(out_dir)))
        nb = _strip_internal_injection(json.loads(text), str(tables_rel))
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
                log: Callable[[str], None] | None = None) -> dict[str, Path | ChapterError]:
    """Execute ``chosen`` notebooks into ``out_dir``, ``jobs`` at a time: the chapters first, then the
    appendices (which read the chapters' tables). ``parameters`` is one dict for all, or a function of the
    notebook. Every notebook runs even when another fails.

    Returns
    -------
    dict
        notebook stem → the executed notebook's path, or the :class:`ChapterError` it failed with.
    """
    from concurrent.futures import ThreadPoolExecutor

    params_of = parameters if callable(parameters) else (lambda nb: parameters)
    results: dict[str, Path | ChapterError] = {}
    total = len(chosen)

    def run(nb: Path):
        t0 = time.perf_counter()
        try:
            results[nb.stem] = execute(nb, out_dir, params_of(nb), progress=False)
            status = "done"
        except ChapterError as exc:
            results[nb.stem] = exc
            status = "FAILED"
        if log:
            log(f"[{len(results)}/{total}] {nb.stem} {status} in {time.perf_counter() - t0:,.0f} s")

    for group in ([nb for nb in chosen if not is_appendix(nb)], [nb for nb in chosen if is_appendix(nb)]):
        if jobs <= 1 or len(group) <= 1:
            for nb in group:
                run(nb)
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(run, group))
    return {nb.stem: results[nb.stem] for nb in chosen}


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


def sweep(name: str, param: str, values: list[str], table: str, out: Path, extra: dict) -> pd.DataFrame:
    """Run chapter ``name`` once per value of ``param``; stack its ``tables/<table>`` with a column ``param``."""
    [nb] = notebooks([name])
    frames = []
    with tempfile.TemporaryDirectory() as tmp:
        for raw in values:
            value = yaml.safe_load(raw)
            run_dir = Path(tmp) / f"run-{len(frames)}"
            execute(nb, run_dir, {**extra, param: value}, progress=False)
            print(f"{param}={value!r}: ran", file=sys.stderr)
            csv = run_dir / TABLES_SUBDIR / table
            if not csv.exists():
                raise SystemExit(f"error: chapter {name} wrote no table {table}; it writes "
                                 f"{sorted(p.name for p in (run_dir / TABLES_SUBDIR).glob('*.csv'))}")
            df = pd.read_csv(csv)
            df.insert(0, param, value)
            frames.append(df)
            print(f"{param}={value!r}: {len(df)} rows", file=sys.stderr)
    result = pd.concat(frames, ignore_index=True)
    write_csv(result, out)
    return result


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
    chk = sub.add_parser("check-offline")
    chk.add_argument("html_dir", type=Path)
    sw = sub.add_parser("sweep")
    sw.add_argument("name")
    sw.add_argument("param")
    sw.add_argument("values", nargs="+")
    sw.add_argument("--table", required=True)
    sw.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    params = _parse_params(extra)
    try:
        return _run(args, params)
    except ChapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(args, params: dict) -> int:
    if args.command == "notebooks":
        if args.quick:
            params.setdefault("quick", True)
        chosen = notebooks(args.only)
        for nb in chosen:  # every name is checked before anything runs
            check_parameters(nb, params)
        asked = {nb.stem for nb in chosen}      # the appendices added below run without the -- parameters
        if args.only and not args.no_appendices and not all(is_appendix(nb) for nb in chosen):
            chosen += [n for n in notebooks() if is_appendix(n) and n not in chosen]
        base = {"quick": True} if args.quick else {}
        t0 = time.perf_counter()
        print(f"executing {len(chosen)} notebook{'s' if len(chosen) != 1 else ''} into {args.out_dir}, "
              f"{min(args.jobs, len(chosen))} at a time", file=sys.stderr)
        results = execute_all(chosen, args.out_dir, lambda nb: params if nb.stem in asked else base, jobs=args.jobs,
                              log=lambda line: print(line, file=sys.stderr, flush=True))
        failed = {k: v for k, v in results.items() if isinstance(v, ChapterError)}
        for exc in failed.values():
            print(f"error: {exc}", file=sys.stderr)
        print(f"{len(results) - len(failed)} of {len(results)} notebooks executed in "
              f"{time.perf_counter() - t0:,.0f} s", file=sys.stderr)
        return 1 if failed else 0
    if args.command == "check-offline":
        problems = check_offline(args.html_dir)
        for p in problems:
            print("offline check:", p, file=sys.stderr)
        pages = len(list(args.html_dir.rglob("*.html")))
        print(f"offline check: {pages} pages, {len(problems)} problems", file=sys.stderr)
        return 1 if problems else 0
    if args.command == "sweep":
        [nb] = notebooks([args.name])
        check_parameters(nb, {**params, args.param: None})
        result = sweep(args.name, args.param, args.values, args.table, args.out, params)
        print(f"wrote {args.out} ({len(result)} rows)", file=sys.stderr)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
