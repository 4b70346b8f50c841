"""Execute the study's notebooks with papermill into the book's source tree, and check the built HTML.

Usage
-----
``python -m model.book.build notebooks OUT_DIR [--only NAME ...] [--no-appendices] [--quick] [-- -p name value ...]``
    Execute every ``notebooks/*.ipynb`` (or only ``NAME``) into ``OUT_DIR``. Chapters run in name order and
    the appendices (``appendix_*``, which read the chapters' tables) last; after ``--only`` chapters the
    appendices are rerun too (without the ``--`` parameters) unless ``--no-appendices``. Each output
    notebook is written to a temporary file and renamed when execution succeeds, so a failed run never
    leaves a half-executed chapter behind. Parameters after ``--`` are passed to every executed chapter
    (values parsed as YAML, like papermill's ``-p``). ``--quick`` sets the notebooks' ``quick`` parameter
    (the test profile).
``python -m model.book.build sweep NAME PARAM V1 V2 ... --table TABLE.csv --out RESULT.csv [-- -p ...]``
    Run chapter ``NAME`` once per value of ``PARAM`` and stack its regenerated ``TABLE.csv`` into one table,
    with a column naming the parameter value.
``python -m model.book.build check-offline HTML_DIR``
    Fail if a built page loads a script, stylesheet or font from the network, or a chapter chart lacks its
    static SVG.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml

from model.io import ROOT, atomic_path, write_csv

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


def execute(notebook: Path, out_dir: Path, parameters: dict, *, progress: bool = True) -> Path:
    """Run ``notebook`` with papermill into ``out_dir`` (working directory = ``out_dir``), atomically."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / notebook.name
    with atomic_path(target) as tmp:
        pm.execute_notebook(str(notebook), str(tmp), parameters=parameters, cwd=str(out_dir), kernel_name="python3",
                            progress_bar=progress, report_mode=False)
    return target


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
    if args.command == "notebooks":
        if args.quick:
            params.setdefault("quick", True)
        chosen = notebooks(args.only)
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
        result = sweep(args.name, args.param, args.values, args.table, args.out, params)
        print(f"wrote {args.out} ({len(result)} rows)", file=sys.stderr)
        return 0
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
