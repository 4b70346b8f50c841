"""Execute the study's notebooks with papermill into the book's source tree, and check the built HTML.

Usage
-----
``python -m model.book.build notebooks OUT_DIR [--only NAME ...] [--no-appendices] [--quick] [-- -p name value ...]``
    Execute every ``notebooks/*.ipynb`` (or only ``NAME``) into ``OUT_DIR``. Chapters run in name order and
    the appendices (``appendix_*``, which read the chapters' tables) last; after ``--only`` chapters the
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
            pm.execute_notebook(str(notebook), str(staged_nb), parameters=run_params, cwd=str(out_dir),
                                kernel_name="python3", progress_bar=progress, report_mode=False,
                                log_output=False)
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
        for nb in chosen:
            print(f"executing {nb.name} -> {args.out_dir}", file=sys.stderr)
            execute(nb, args.out_dir, params)
        if args.only and not args.no_appendices and not all(is_appendix(nb) for nb in chosen):
            base = {"quick": True} if args.quick else {}
            for nb in [n for n in notebooks() if is_appendix(n) and n not in chosen]:
                print(f"executing {nb.name} -> {args.out_dir} (appendix, after the chapters)", file=sys.stderr)
                execute(nb, args.out_dir, base)
        return 0
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
