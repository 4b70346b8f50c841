"""Heavy runs recorded as data of record, with a fingerprint of what they depend on.

A *record* is the result of one expensive, deterministic call of a model function, ``function(**kwargs)``
returning a ``dict`` of tables, stored under ``data/records/<name>/``:

``record.json``
    what made it: the function (``"package.module:function"``), its keyword arguments, the data files it reads
    (glob patterns relative to ``data/``), the fingerprint, the command that recomputes it, the date and the
    wall time of the recording run.
``<table>.csv``
    one file per table, floats written at full precision (they read back bit-identical), with the column
    types in ``record.json``.

The **fingerprint** is a SHA-256 over the keyword arguments (canonical JSON), the code of every ``model``
module the function's module imports, directly or through other ``model`` modules and packages (the syntax
tree without docstrings: a comment or a docstring does not make a record stale), the content of every data
file it reads, the cited defaults its code names (name, value and unit: adding a parameter for another chapter,
or correcting a citation, does not make it stale), and the Python and NumPy versions. A chapter asks for a record with :func:`recorded`: when the
record's function and arguments are the chapter's and its fingerprint is current, the recorded tables are
returned; otherwise the function runs (same result, minutes later). A test recomputes every record's
fingerprint and fails when one is stale, naming ``make record NAME=<name>``.

The records the book uses, and the arguments they are made with, are listed in :mod:`model.book.records`
(``make record``).
"""

from __future__ import annotations

import ast
import datetime as _dt
import glob
import hashlib
import importlib
import importlib.util
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from model.io import DATA, ROOT, atomic_write_text

#: Where the records live, one folder per record.
RECORDS_DIR = DATA / "records"
#: The file that describes a record.
RECORD_FILE = "record.json"
#: Files of a record's folder written by hand (its README), carried over when the record is remade.
KEPT_FILES = ("README.md",)
#: The package whose modules are fingerprinted (imports of anything else are not).
PACKAGE = "model"
#: An entry of a record's ``data`` that stands for the cited defaults (``data/parameters/*.csv``) its code names:
#: every row whose name is a string constant somewhere in the function's module closure, by name, value and
#: unit. The record then depends on the values its code can read, not on the other rows or on the citations.
NAMED_PARAMETERS = "parameters named in code"


class RecordError(RuntimeError):
    """A record is missing, malformed or stale."""


# ---------------------------------------------------------------- fingerprints
def _module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``__init__.py`` for a package): a module of :data:`PACKAGE`, or
    the module that holds a recorded function outside it (a test's); None if it has no Python source."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        base = ROOT.joinpath(*parts)
        if (base / "__init__.py").is_file():
            return base / "__init__.py"
        return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    origin = Path(spec.origin) if spec and spec.origin and spec.origin.endswith(".py") else None
    return origin if origin is not None and ROOT in origin.resolve().parents else None


def _ours(name: str) -> bool:
    return name.split(".")[0] == PACKAGE and _module_file(name) is not None


def _is_package(name: str) -> bool:
    path = _module_file(name)
    return path is not None and path.name == "__init__.py"


def _reexport_source(package: str, attr: str, depth: int = 0) -> str:
    """The module that defines ``attr`` when it is imported from ``package``: a name that the package's
    ``__init__`` imports from one of its modules resolves to that module (followed through further
    re-exports); a name the ``__init__`` defines itself resolves to the package."""
    if depth > 10:
        return package
    tree = ast.parse(_module_file(package).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _ours(node.module):
            for a in node.names:
                if (a.asname or a.name) == attr:
                    if _ours(f"{node.module}.{a.name}"):
                        return f"{node.module}.{a.name}"
                    return _reexport_source(node.module, a.name, depth + 1) if _is_package(node.module) \
                        else node.module
    return package


def _imports(name: str, tree: ast.AST) -> set[str]:
    """The :data:`PACKAGE` modules whose code module ``name`` uses: every ``import a.b`` of one, and for
    ``from a import b`` the module ``a.b`` if it is one, else the module that defines ``b`` (a package's
    re-export is followed to the module it comes from, so a package's ``__init__`` counts only for the names
    it defines itself)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _ours(a.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and _ours(node.module):
            for a in node.names:
                if _ours(f"{node.module}.{a.name}"):
                    found.add(f"{node.module}.{a.name}")
                elif _is_package(node.module):
                    found.add(_reexport_source(node.module, a.name))
                else:
                    found.add(node.module)
    found.discard(name)
    return found


def _code_digest(tree: ast.AST) -> str:
    """SHA-256 of a syntax tree with its docstrings removed."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


@lru_cache(maxsize=None)
def _parsed(path: Path, mtime_ns: int) -> tuple[str, frozenset[str]]:
    text = path.read_text(encoding="utf-8")
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    tree = ast.parse(text)  # digest first: _code_digest drops docstrings in place
    imports = frozenset(_imports(name, tree))
    return _code_digest(tree), imports


@lru_cache(maxsize=None)
def _strings(path: Path, mtime_ns: int) -> frozenset[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return frozenset(n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str))


def named_parameters(module: str) -> list[tuple[str, str, str]]:
    """``(name, value, unit)`` of every cited default (:func:`model.parameters.defaults_table`) whose name is a
    string constant in a module of ``module``'s closure (:func:`module_closure`), sorted by name; the value as
    the exact ``repr`` of its float."""
    from model.parameters import defaults_table

    names: set[str] = set()
    for name in module_closure(module):
        path = _module_file(name)
        names |= _strings(path, path.stat().st_mtime_ns)
    table = defaults_table()
    rows = table[table["name"].isin(names)].sort_values("name")
    return [(str(n), repr(float(v)), str(u)) for n, v, u in zip(rows["name"], rows["value"], rows["unit"])]


def module_closure(module: str) -> dict[str, str]:
    """``{module: digest}`` for ``module`` and every :data:`PACKAGE` module whose code it uses, transitively
    (see :func:`_imports`)."""
    todo, seen = [module], {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        path = _module_file(name)
        if path is None:
            raise RecordError(f"no Python source for module {name!r} in {ROOT}")
        digest, imports = _parsed(path, path.stat().st_mtime_ns)
        seen[name] = digest
        todo.extend(sorted(imports - seen.keys()))
    return dict(sorted(seen.items()))


def data_files(patterns: list[str]) -> list[Path]:
    """The files under ``data/`` that the glob ``patterns`` match (sorted). A pattern that matches nothing
    is an error: a record must not silently stop depending on a file that moved."""
    files: set[Path] = set()
    for pattern in patterns:
        hits = [Path(p) for p in glob.glob(str(DATA / pattern), recursive=True) if Path(p).is_file()]
        if not hits:
            raise RecordError(f"data pattern {pattern!r} matches no file under {DATA}")
        files.update(hits)
    return sorted(files)


def canonical(kwargs: Mapping) -> str:
    """Canonical JSON of keyword arguments (sorted keys, no spaces)."""
    return json.dumps(kwargs, sort_keys=True, separators=(",", ":"))


def fingerprint(function: str, kwargs: Mapping, data: list[str]) -> str:
    """SHA-256 of what a record depends on: the function's name and arguments, the code of its module's
    :data:`PACKAGE` import closure, the bytes of its data files (glob patterns under ``data/``), the cited
    defaults its code names (when ``data`` holds :data:`NAMED_PARAMETERS`), and the Python and NumPy versions."""
    module = function.split(":")[0]
    h = hashlib.sha256()
    h.update(f"{function}\n{canonical(kwargs)}\n".encode())
    for name, digest in module_closure(module).items():
        h.update(f"code {name} {digest}\n".encode())
    for path in data_files([d for d in data if d != NAMED_PARAMETERS]):
        h.update(f"data {path.relative_to(DATA).as_posix()} ".encode())
        h.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    if NAMED_PARAMETERS in data:
        for name, value, unit in named_parameters(module):
            h.update(f"parameter {name} {value} {unit}\n".encode())
    h.update(f"python {platform.python_version_tuple()[:2]} numpy {np.__version__}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Record:
    """One record as described by its ``record.json``."""

    name: str
    function: str
    kwargs: dict
    data: list[str]
    fingerprint: str = ""
    tables: dict = field(default_factory=dict)   # table name -> {column: dtype}
    recorded: str = ""
    wall_s: float = float("nan")
    note: str = ""

    @property
    def folder(self) -> Path:
        return RECORDS_DIR / self.name

    @property
    def command(self) -> str:
        return f"make record NAME={self.name}"

    def current_fingerprint(self) -> str:
        return fingerprint(self.function, self.kwargs, self.data)

    def is_current(self) -> bool:
        return self.fingerprint == self.current_fingerprint()

    def read_tables(self) -> dict[str, pd.DataFrame]:
        out = {}
        for table, dtypes in self.tables.items():
            df = pd.read_csv(self.folder / f"{table}.csv", dtype={c: d for c, d in dtypes.items() if d != "bool"},
                             keep_default_na=False, na_values=[""])
            for c, d in dtypes.items():
                if d == "bool":
                    df[c] = df[c].astype(bool)
            out[table] = df[list(dtypes)]
        return out


def load_record(name: str) -> Record:
    """The record ``name`` (its ``record.json``)."""
    path = RECORDS_DIR / name / RECORD_FILE
    if not path.exists():
        known = ", ".join(available_records()) or "none"
        raise RecordError(f"no record {name!r} (records: {known})")
    meta = json.loads(path.read_text(encoding="utf-8"))
    return Record(name=name, function=meta["function"], kwargs=meta["kwargs"], data=meta["data"],
                  fingerprint=meta["fingerprint"], tables=meta["tables"], recorded=meta.get("recorded", ""),
                  wall_s=float(meta.get("wall_s", float("nan"))), note=meta.get("note", ""))


def available_records() -> list[str]:
    """The names of the records under :data:`RECORDS_DIR`."""
    return sorted(p.parent.name for p in RECORDS_DIR.glob(f"*/{RECORD_FILE}"))


def resolve_function(dotted: str) -> Callable:
    module, _, attr = dotted.partition(":")
    return getattr(importlib.import_module(module), attr)


def _qualified(fn: Callable) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


def _dtype_name(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int64"
    if pd.api.types.is_float_dtype(series):
        return "float64"
    return "str"


def make_record(name: str, function: Callable | str, kwargs: Mapping, data: list[str], *,
                note: str = "", run_kwargs: Mapping | None = None) -> Record:
    """Run ``function(**kwargs, **run_kwargs)`` and write its tables as record ``name`` (atomically: the
    folder is replaced in one rename once every file is written). ``run_kwargs`` (e.g. worker counts) do not
    change the result and are not part of the fingerprint."""
    fn = resolve_function(function) if isinstance(function, str) else function
    dotted = function if isinstance(function, str) else _qualified(fn)
    kwargs = json.loads(canonical(kwargs))
    t0 = time.perf_counter()
    tables = fn(**kwargs, **(run_kwargs or {}))
    wall = time.perf_counter() - t0
    RECORDS_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=RECORDS_DIR, prefix=f".staging-{name}-"))
    try:
        dtypes = {}
        for table, df in tables.items():
            dtypes[table] = {c: _dtype_name(df[c]) for c in df.columns}
            atomic_write_text(staging / f"{table}.csv", df.to_csv(index=False, lineterminator="\n"))
        meta = {"function": dotted, "kwargs": kwargs, "data": list(data),
                "fingerprint": fingerprint(dotted, kwargs, list(data)), "tables": dtypes,
                "command": f"make record NAME={name}",
                "recorded": _dt.date.today().isoformat(), "wall_s": round(wall, 1), "note": note}
        atomic_write_text(staging / RECORD_FILE, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
        target = RECORDS_DIR / name
        for keep in KEPT_FILES:           # written by hand: carried over
            if (target / keep).exists():
                shutil.copy2(target / keep, staging / keep)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=RECORDS_DIR, prefix=f".old-{name}-"))
            os.replace(target, old / name)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_record(name)


@dataclass(frozen=True)
class Recorded:
    """Tables of one call, and where they came from."""

    tables: dict[str, pd.DataFrame]
    from_record: bool
    record: Record | None
    reason: str    # why the record was (not) used, one short clause


def recorded(name: str, function: Callable, kwargs: Mapping, *, run_kwargs: Mapping | None = None,
             allow_stale: bool = False) -> Recorded:
    """The tables of ``function(**kwargs)``: read from record ``name`` when it holds this very call and its
    fingerprint is current, computed otherwise. ``run_kwargs`` are passed to the function only when it runs
    (worker counts: they do not change the result). ``allow_stale``: read a stale record of this very call
    rather than recompute it (a quick test profile; the reason then says it is stale)."""
    kwargs = json.loads(canonical(kwargs))
    reason = "no record"
    rec = None
    if (RECORDS_DIR / name / RECORD_FILE).exists():
        rec = load_record(name)
        if rec.function != _qualified(function):
            reason = "the record is of another function"
        elif canonical(rec.kwargs) != canonical(kwargs):
            diff = sorted(k for k in set(rec.kwargs) | set(kwargs) if rec.kwargs.get(k) != kwargs.get(k))
            reason = "the parameters differ from the record's (" + ", ".join(diff) + ")"
        elif not rec.is_current():
            reason = f"the record is stale (its code or data changed; {rec.command})"
            if allow_stale:
                return Recorded(rec.read_tables(), True, rec, reason)
        else:
            return Recorded(rec.read_tables(), True, rec, f"recorded on {rec.recorded}")
    return Recorded(function(**kwargs, **(run_kwargs or {})), False, rec, reason)


def record_tables(name: str, *, run_kwargs: Mapping | None = None, allow_stale: bool = False) -> Recorded:
    """The tables of record ``name`` at its own arguments: read when its fingerprint is current, computed
    otherwise (see :func:`recorded`)."""
    rec = load_record(name)
    return recorded(name, resolve_function(rec.function), rec.kwargs, run_kwargs=run_kwargs, allow_stale=allow_stale)


def stale_records() -> list[str]:
    """Names of the records whose fingerprint is not current."""
    return [n for n in available_records() if not load_record(n).is_current()]
