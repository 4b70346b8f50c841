"""Every chapter across its parameter space, not only at its defaults.

Each chapter notebook's code cells run in this process (much faster than a kernel) on the quick profile,
with parameter values set after its parameters cell, over a deterministic grid built from the parameters
cell: every model and GPU of the data, every number format for a ``*_dtype``, and for sizes the corners a
reader would type (0, 1, half and ten times the default; 0, 0.01, 0.99 and 1 for a share; an empty list, the
smallest element alone, ten times the largest). A run passes if it either completes, with

- every number of every CSV table it wrote finite, except "not applicable" cells: in a column that holds
  NaN or ±inf at the chapter's defaults too, in a row the table itself flags as having no answer (a boolean
  ``feasible*`` or ``comparable`` column False: a latency target out of reach), or in a column listed in
  ``NOT_APPLICABLE`` with its reason,
- every share (a column named ``*_share``, ``*_fraction``, ``*hit_ratio*``, ``*utilization``, ...) in [0, 1] and
  every duration, token count, GPU count, rate and price non-negative, where it is at the defaults,
- no glued text reading ``nan`` or ``inf`` (unless the same text does at the defaults),

or stops with a one-line :class:`model.checks.ParameterError` naming one of the chapter's parameters (or a
name made from one: ``uniform_ttls_s[0]``, ``len(user_shares)``). Any other exception fails, with the chapter,
the values and the tail of the traceback.

The grid of a chapter:

- its defaults (the base point, on the quick profile; the chapters that start a pool of processes by default
  run their base point in this process, which the chapters document as giving the same results);
- each corner alone (one at a time), but for the models and GPUs;
- pairwise rows over the axes: every pair of values of the GPU, the number formats (the default, FP32, FP8,
  INT4) and the GPU counts (the default, 1, 8), with every model taking the rows in turn;
- at most ``MAX_ROWS`` combined rows of the values that passed: row k sets every parameter to the corner at
  the same relative place in its list, so that the first row holds every parameter's smallest corner and the
  last its largest.

A run of several values refused for one of them reruns without it; one that crashes is halved until the values
that crash it are found. The chapter whose quick run takes half a minute (``HEAVY``) runs only the combined
rows, of every corner.

Failures whose fix belongs to a module another change owns are listed in ``KNOWN`` (the chapter is then
reported as xfail, naming them), values too slow to try in ``EXCLUDED``, each with its reason.

``test_parameter_space`` (slow) runs the whole grid; ``test_parameter_corners`` (fast) runs each light
chapter's defaults and its first and last combined rows (``NOT_FAST`` leaves out the chapters whose first run
takes half a minute). Both print the number of runs and the time taken.
"""
from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import random
import re
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest

from model.book.build import is_appendix, notebooks, parameter_defaults
from model.checks import ParameterError

CHAPTERS = [nb for nb in notebooks() if not is_appendix(nb)]

#: Chapters whose quick run takes half a minute or more: their corners are packed into combined rows (no
#: one-at-a-time runs, no pairwise rows).
HEAVY = {"fleet_cache"}
#: Chapters the fast test leaves to the slow one and to tests/test_notebooks.py: the heavy ones, the
#: Kareto chapter, whose first run in a process takes half a minute (its audit; later runs take seconds), the
#: batching and fleet chapters, whose three fast runs take 20 s each (their simulations) of a test suite that
#: must finish in five minutes, and the chapter "The same service in 2026", whose first and last combined rows
#: plan a dozen services each (50 s in all).
NOT_FAST = HEAVY | {"kareto", "batching", "fleet", "service_2026"}

#: Parameters the grid never varies: the profile, where tables go, and addresses of clusters a test has not.
FIXED = {"quick", "output_dir", "scheduler", "dask_address"}

#: The base point of a chapter's grid beside its defaults: its pool of worker processes replaced by this
#: process (the chapters' results do not depend on the workers; a pool is tried once as a corner).
BASE = {"fleet_cache": {"workers": 1}, "kareto": {"executor": "serial", "workers": 1}}

#: Failures whose fix belongs to a module another change owns, by chapter: (exception type, text in its
#: message, why). A chapter with only these fails as xfail, naming them.
KNOWN: dict[str, list[tuple[str, str, str]]] = {}

#: Values the grid leaves out, by (chapter, parameter): value → why.
EXCLUDED: dict[tuple[str, str], dict] = {}
#: Values the fast test also leaves out (the slow one runs them), by (chapter, parameter): value → why.
FAST_EXCLUDED = {("persona_memory", "characters"): {
    50_000_000: "ten times the catalogue: the Zipf sums run over every rank, about 20 s a run"}}

#: Columns whose cells are "not applicable" at some parameters though not at the defaults (NaN there is the
#: table's way of saying so, the page says it in words, and a stable set of columns keeps `make sweep`'s
#: stacked tables aligned): (table, column) → why.
NOT_APPLICABLE = {
    ("economics_price_sensitivity", "usd_per_million_tokens_measured"):
        "a measured throughput exists only for the measured setting (Llama 2 70B on 4 x A100 80GB); "
        "the page then says no measurement is on record",
    ("tiering_knees", "knee_gb_per_instance_hit_ratio"):
        "no knee when the swept tier adds no hits (its P95-TTFT twin is NaN at the defaults); the page says "
        "'nowhere (no gain)'",
    ("kareto_evaluations", "hypervolume_ratio"):
        "no configuration meets the TTFT target (the row's feasible count is 0): there is no frontier to recover",
    **{("fleet_cache_persona", kind): "the analysed node looked up no block of that kind (a node of one or two "
       "sessions)" for kind in ("persona_popular", "persona_tail", "persona_all", "history")},
}

#: Boolean columns that flag a row as having no answer (a latency target out of reach, a change from an
#: infeasible baseline): the row's other numbers may be NaN or ±inf.
NO_ANSWER_FLAGS = re.compile(r"^(feasible.*|comparable)$")

#: The axes of the pairwise rows beside the GPU and the number formats (``*_dtype``): the model and the GPU
#: counts.
MODEL_PARAMETERS = ("model", "model_name")
GPU_COUNTS = ("n_gpus", "gpus_per_instance", "replica_gpus", "n_gpus_for_comparison")
#: Most combined rows per chapter (a list of 20-odd models is spread over them).
MAX_ROWS = 8


# --- the values of each parameter --------------------------------------------------------------------------

def _domains() -> dict:
    from model.architectures import available_models
    from model.economics.fleet_sizing import LATENCY_METRICS
    from model.economics.prices import api_prices, gpu_prices
    from model.economics.regions import rtt_table
    from model.formats import DTYPES
    from model.hardware import available_gpus
    from model.serving.simulation import POLICIES
    from model.tiering.fleet import ROUTES

    prices = gpu_prices()
    return {"models": list(available_models()), "gpus": list(available_gpus()), "dtypes": list(DTYPES),
            "providers": sorted(prices["provider"].unique()),
            "pricings": sorted(prices["pricing"].dropna().unique()) + [None],
            "api_models": sorted(api_prices()["model"].unique()),
            "regions": sorted(rtt_table()["source_region"].unique()),
            "routes": list(ROUTES), "policies": list(POLICIES), "latency_metrics": list(LATENCY_METRICS)}


#: Values of parameters whose default is None, or whose kind the generic rules below do not cover.
def _named_values(name: str, default, d: dict) -> list | None:
    from model.workload.chat import CHAT_GROUPS

    if name in ("model", "model_name"):
        return d["models"]
    if name == "gpu":
        return d["gpus"]
    if name.endswith("_dtype"):
        return d["dtypes"]
    if name == "gpu_provider":
        return d["providers"]
    if name == "gpu_pricing":
        return d["pricings"]
    if name == "api_model":
        return d["api_models"]
    if name.endswith("_region"):
        return [d["regions"][0], d["regions"][-1]]
    if name == "executor":
        return ["serial", "process"]
    if name == "workers":
        return [0, 1, 2]
    if name.endswith("seed"):
        return [0, 1, 2**31 - 1]
    if name in ("gpu_usd_per_hour", "usd_per_gpu_hour"):
        return [None, 0.0, 0.01, 100.0]
    if name == "decode_batch":
        return [None, 0, 1, 10_000]
    if name == "threshold":
        return [None, 0.0, 1.0, 100.0]
    if name == "beam":
        return [None, 0, 1, 20]
    if name == "price_label":
        return [None, "a price I set"]
    if name == "per_group_ttls_s":
        return [[], [{}], [{"history": 0}], [{g: 1e6 for g in CHAT_GROUPS}]]
    if name.endswith("_shares") and isinstance(default, list):
        n = len(default)
        return [[1.0] + [0.0] * (n - 1), [0.0] * (n - 1) + [1.0], [1 / n] * n]
    if name == "full_scales":
        return [[], default]
    if isinstance(default, list) and default and all(isinstance(v, str) for v in default):
        domain = {"routes": d["routes"], "policies": d["policies"], "latency_metrics": d["latency_metrics"],
                  "compare_models": d["models"], "what_if_models": d["models"],
                  "what_if_kv_dtypes": d["dtypes"]}.get(name, default)
        return [[]] + [[v] for v in domain] + [list(domain)]
    return None


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _scalar_corners(name: str, default) -> list:
    if isinstance(default, int):
        return [0, 1, default // 2, 10 * default] if default >= 4 else [0, 1, 10 * max(default, 1)]
    if name.endswith("_percent"):
        return [0.0, 50.0, 100.0]
    if 0 < default < 1:
        return [0.0, 0.01, 0.99, 1.0]
    return [0.0, default / 100, 10 * default]


def corner_values(name: str, default, domains: dict) -> list:
    """The values of parameter ``name`` the grid tries, smallest first (the default included where it is
    one of them)."""
    named = _named_values(name, default, domains)
    if named is not None:
        values = named
    elif _is_number(default):
        values = _scalar_corners(name, default)
    elif isinstance(default, list) and default and all(_is_number(v) for v in default):
        values = [[], [min(default)], [10 * max(default)]]
        if all(0 <= v <= 1 for v in default):
            values += [[0.0], [1.0]]
    else:
        values = []
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


# --- running a chapter in this process ---------------------------------------------------------------------

def code_cells(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@dataclass
class Run:
    """One run of a chapter: the values set beside its base point, and what came of it."""
    values: dict
    status: str = "ok"            # ok, refused (a ParameterError) or failed (any other exception)
    detail: str = ""
    seconds: float = 0.0
    tables: dict = field(default_factory=dict)
    glued: dict = field(default_factory=dict)
    error: BaseException | None = None


@contextlib.contextmanager
def _glue_into(store: dict):
    import myst_nb

    original = myst_nb.glue
    myst_nb.glue = lambda name, variable, display=True: store.__setitem__(name, variable)
    try:
        yield
    finally:
        myst_nb.glue = original


def _tail(exc: BaseException, source: str) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    in_cell = [f for f in frames if f.filename.startswith("<cell")]
    lines = source.splitlines()
    where = ""
    if in_cell and 0 < in_cell[-1].lineno <= len(lines):
        where = f"{in_cell[-1].filename[1:-1]}, line {in_cell[-1].lineno}: {lines[in_cell[-1].lineno - 1].strip()}"
    inner = [f"  {Path(f.filename).name}:{f.lineno} in {f.name}: {(f.line or '').strip()}" for f in frames[-3:]
             if not f.filename.startswith("<cell")]
    return "\n".join([where] + inner)


def run_chapter(notebook: Path, values: dict, base: dict) -> Run:
    """Run ``notebook``'s code cells here, with ``base`` and ``values`` set after its parameters cell, on the
    quick profile, writing its tables into a temporary folder."""
    cells = code_cells(notebook)
    run = Run(values=dict(values))
    with tempfile.TemporaryDirectory() as tmp:
        ns = {"__name__": "__main__", "display": lambda *a, **k: None}
        exec(compile(cells[0], "<cell 0>", "exec"), ns)
        ns.update({**base, **values, "quick": True, "output_dir": str(Path(tmp) / "tables")})
        start = time.perf_counter()
        source = ""
        try:
            with _glue_into(run.glued), contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for i, source in enumerate(cells[1:], start=1):
                    tree = ast.parse(source)
                    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
                    exec(compile(tree, f"<cell {i}>", "exec"), ns)
                    if last is not None:
                        eval(compile(ast.Expression(last.value), f"<cell {i}>", "eval"), ns)
        except Exception as exc:  # noqa: BLE001 -- every exception is judged below
            run.error = exc
            run.status = "refused" if isinstance(exc, ParameterError) else "failed"
            run.detail = f"{type(exc).__name__}: {exc}\n{_tail(exc, source)}"
        run.seconds = time.perf_counter() - start
        for path in sorted((Path(tmp) / "tables").glob("*.csv")):
            try:
                run.tables[path.stem] = pd.read_csv(path)
            except pd.errors.EmptyDataError:
                run.tables[path.stem] = pd.DataFrame()
    return run


# --- judging a run -------------------------------------------------------------------------------------------

def named_parameter(error_name: str, names: list[str]) -> str | None:
    """The chapter parameter a ParameterError's name is, or is made from (``uniform_ttls_s[0]``,
    ``len(user_shares)``, ``route`` for ``routes``); None if none."""
    for token in re.findall(r"[A-Za-z_]\w*", str(error_name)):
        for candidate in (token, token + "s"):
            if candidate in names:
                return candidate
    return None


#: Columns that hold a share (in [0, 1] wherever they are at the defaults).
SHARE = re.compile(r"(_share|_fraction|hit_ratio|hit_rate|utili[sz]ation|_occupancy|^share|_low|_high)$|hit_ratio_")
#: Columns that hold a duration, count, rate or price (>= 0 wherever they are at the defaults).
NONNEGATIVE = re.compile(r"(_s|_ms|_h|_min|_tokens|_gpus|^gpus|_per_s|_rps|_per_hour|_per_million_tokens|_per_month"
                         r"|^sessions|^requests|^replicas|_blocks|^batch|^n_gpus)(_p\d+|_mean|_full|_cached)?$")
#: Columns whose name says they may go below zero.
SIGNED = re.compile(r"net|saving|saved|diff|delta|change|gain|error|improvement|budget|margin|profit")


def _baseline_facts(run: Run) -> dict:
    facts = {}
    for name, table in run.tables.items():
        for col in table.columns:
            s = table[col]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            v = s.astype(float)
            finite = v[v.map(math.isfinite)]
            facts[(name, col)] = {"nonfinite": bool((~v.map(math.isfinite)).any()),
                                  "share": bool(((finite >= 0) & (finite <= 1)).all()),
                                  "nonnegative": bool((finite >= 0).all())}
    return facts


_NAN_WORD = re.compile(r"(?i)\b(nan|inf|infinity)\b")


def judge(run: Run, baseline: Run, names: list[str]) -> list[str]:
    """What is wrong with ``run`` (empty when it passes)."""
    if run.status == "refused":
        exc = run.error
        problems = []
        if named_parameter(exc.name, names) is None:
            problems.append(f"ParameterError names {exc.name!r}, not one of the chapter's parameters")
        if "\n" in str(exc):
            problems.append("ParameterError message is more than one line")
        return problems
    if run.status != "ok":
        return [run.detail]
    problems = []
    facts = _baseline_facts(baseline)
    for name, table in run.tables.items():
        if table.columns.empty and not baseline.tables.get(name, table).columns.empty:
            problems.append(f"{name}.csv is empty (no columns)")
        flags = [c for c in table.columns if NO_ANSWER_FLAGS.match(str(c)) and pd.api.types.is_bool_dtype(table[c])]
        answered = table[flags].all(axis=1) if flags else pd.Series(True, index=table.index)
        for col in table.columns:
            s = table[col]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                continue
            v = s.astype(float)
            base = facts.get((name, col), {"nonfinite": False, "share": False, "nonnegative": False})
            bad = v[~v.map(math.isfinite) & answered]
            if len(bad) and not base["nonfinite"] and (name, col) not in NOT_APPLICABLE:
                problems.append(f"{name}.csv column {col!r}: {len(bad)} non-finite value(s) ({bad.iloc[0]})")
            finite = v[v.map(math.isfinite)]
            if SHARE.search(str(col)) and base["share"] and not ((finite >= -1e-9) & (finite <= 1 + 1e-9)).all():
                problems.append(f"{name}.csv share {col!r} outside [0, 1]: {finite.min():g} .. {finite.max():g}")
            if (NONNEGATIVE.search(str(col)) and not SIGNED.search(str(col)) and base["nonnegative"]
                    and (finite < -1e-9).any()):
                problems.append(f"{name}.csv column {col!r} negative: {finite.min():g}")
    for key, text in run.glued.items():
        if isinstance(text, str) and _NAN_WORD.search(text):
            if not (isinstance(baseline.glued.get(key), str) and _NAN_WORD.search(baseline.glued[key])):
                problems.append(f"glued {key!r} reads {text!r}")
    return problems


def is_known(chapter: str, run: Run) -> str | None:
    if run.error is None:
        return None
    for kind, text, why in KNOWN.get(chapter, []):
        if type(run.error).__name__ == kind and text in str(run.error):
            return why
    return None


# --- the grid ----------------------------------------------------------------------------------------------

class Grid:
    """Runs of one chapter: the base point, then values one at a time, combined rows and pairwise rows."""

    def __init__(self, notebook: Path, *, fast: bool = False):
        self.notebook = notebook
        self.chapter = notebook.stem
        self.defaults = parameter_defaults(notebook)
        self.names = list(self.defaults)
        self.base = {**BASE.get(self.chapter, {})}
        domains = _domains()
        left_out = {key: list(vs) for key, vs in EXCLUDED.items()}
        for key, vs in (FAST_EXCLUDED.items() if fast else []):
            left_out.setdefault(key, []).extend(vs)
        self.corners = {n: [v for v in corner_values(n, d, domains) if v != self._base_value(n)
                            and v not in left_out.get((self.chapter, n), [])]
                        for n, d in self.defaults.items() if n not in FIXED}
        self.corners = {n: vs for n, vs in self.corners.items() if vs}
        self.runs: list[Run] = []
        self.failures: list[str] = []
        self.known: list[tuple[dict, str]] = []      # (values, why) of the failures KNOWN names
        self.clean: dict = {n: [] for n in self.corners}     # values that ran alone or in a row
        self._seen: dict = {}
        self.baseline = self.run({})
        if self.baseline.status != "ok":
            raise AssertionError(f"{self.chapter} fails at its defaults: {self.baseline.detail}")

    def _base_value(self, name):
        return self.base.get(name, self.defaults[name])

    def _key(self, values: dict) -> str:
        return json.dumps(sorted(values.items()), default=str)

    def run(self, values: dict) -> Run:
        key = self._key(values)
        if key not in self._seen:
            self._seen[key] = run_chapter(self.notebook, values, self.base)
            self.runs.append(self._seen[key])
        return self._seen[key]

    def settle(self, values: dict) -> bool:
        """Run ``values`` and judge the run. A refusal naming one of the values reruns without it; a run of
        several values that crashes (or writes a bad table) is halved until the values at fault are found.
        Returns whether a failure (or a known one) was found among ``values``."""
        run = self.run(values)
        problems = judge(run, self.baseline, self.names)
        if not problems and run.status == "ok":
            for n, v in values.items():
                if v not in self.clean[n]:
                    self.clean[n].append(v)
            return False
        if not problems:  # a legitimate refusal
            name = named_parameter(run.error.name, self.names)
            if name in values:
                return len(values) > 1 and self.settle({k: v for k, v in values.items() if k != name})
            if len(values) == 1:
                return False
        if len(values) == 1:
            why = is_known(self.chapter, run)
            line = (values, why) if why else f"{self.chapter} with {values}:\n    " + "\n    ".join(problems)
            found = self.known if why else self.failures
            if line not in found:
                found.append(line)
            return True
        items = list(values.items())
        faulty = self.settle(dict(items[: len(items) // 2]))
        faulty = self.settle(dict(items[len(items) // 2:])) or faulty
        if not faulty and problems:
            why = is_known(self.chapter, run)
            if why:
                self.known.append((values, why))
            else:
                self.failures.append(f"{self.chapter} with {values} (each half alone passes):\n    "
                                     + "\n    ".join(problems))
            return True
        return faulty

    # the parts of the grid
    def one_at_a_time(self) -> None:
        """Each corner alone, but for the models and GPUs, which the pairwise rows cover value by value."""
        for name, values in self.corners.items():
            if name not in (*MODEL_PARAMETERS, "gpu"):
                for v in values:
                    self.settle({name: v})

    def rows(self, *, only_clean: bool) -> list[dict]:
        """At most ``MAX_ROWS`` combined rows: row i sets every parameter to the corner at the same relative
        position of its list (smallest first), so that the first row holds every smallest corner and the last
        every largest."""
        pool = {n: (self.clean[n] if only_clean else vs) for n, vs in self.corners.items()}
        pool = {n: [v for v in self.corners[n] if v in vs] for n, vs in pool.items() if vs}  # smallest first
        if not pool:
            return []
        k = min(MAX_ROWS, max(len(vs) for vs in pool.values()))
        return [{n: vs[round(i * (len(vs) - 1) / max(k - 1, 1))] for n, vs in pool.items()} for i in range(k)]

    def combined(self, *, only_clean: bool, which: slice = slice(None)) -> None:
        for row in self.rows(only_clean=only_clean)[which]:
            self.settle(row)

    def pairwise(self, seed: int = 0) -> None:
        """Every pair of values of two axes in some row: every GPU; of the number formats the default and
        FP32, FP8 and INT4; of the GPU counts the default, 1 and 8. The models take the rows in turn (each at
        least once, on different GPUs and formats): the pairs of 20-odd models with every GPU would take
        hundreds of runs. Every value of these axes but the models' and GPUs' also ran alone."""
        axes, models = {}, None
        for n in self.corners:
            if n in MODEL_PARAMETERS:
                models = (n, [self._base_value(n)] + self.corners[n])
            elif n == "gpu":
                axes[n] = [self._base_value(n)] + self.corners[n]
            elif n.endswith("_dtype") or n in GPU_COUNTS:
                keep = ("fp32", "fp8", "int4") if n.endswith("_dtype") else (1, 8)
                axes[n] = [self._base_value(n)] + [v for v in self.corners[n] if v in keep]
        axes = {n: vs for n, vs in axes.items() if len(vs) > 1}
        rng = random.Random(f"{self.chapter}-{seed}")
        for row in with_models_in_turn(pairwise_rows(axes, rng), models, rng):
            self.settle({n: v for n, v in row.items() if v != self._base_value(n)})

    def summary(self) -> str:
        counts = pd.Series([r.status for r in self.runs]).value_counts().to_dict()
        slow = sorted(self.runs, key=lambda r: -r.seconds)[:3]
        return (f"{self.chapter}: {len(self.runs)} runs ({counts}), {sum(r.seconds for r in self.runs):.1f} s; "
                "slowest " + "; ".join(f"{r.seconds:.1f} s at {_short(r.values)}" for r in slow))


def _short(values: dict) -> str:
    text = repr(values)
    return text if len(text) <= 160 else text[:157] + "..."


def with_models_in_turn(rows: list[dict], models: tuple[str, list] | None, rng: random.Random) -> list[dict]:
    """``rows`` with the model parameter ``models[0]`` set to each of ``models[1]`` in turn (shuffled), the
    rows repeated until every model has one."""
    if models is None:
        return rows
    name, values = models
    values = rng.sample(values, len(values))
    rows = rows or [{}]
    return [{**rows[i % len(rows)], name: values[i % len(values)]} for i in range(max(len(rows), len(values)))]


def pairwise_rows(axes: dict, rng: random.Random) -> list[dict]:
    """Rows of values such that every pair of values of two axes is in some row (greedy, seeded)."""
    names = list(axes)
    index = {n: range(len(vs)) for n, vs in axes.items()}
    uncovered = {(a, i, b, j) for x, a in enumerate(names) for b in names[x + 1:] for i in index[a] for j in index[b]}

    def gain(row, n, k):
        return sum((a, row[a], n, k) in uncovered if names.index(a) < names.index(n) else (n, k, a, row[a]) in uncovered
                   for a in row)

    rows = []
    while uncovered:
        best, best_cover = None, -1
        for _ in range(10):
            a, i, b, j = rng.choice(sorted(uncovered))
            row = {a: i, b: j}
            for n in rng.sample(names, len(names)):
                if n not in row:
                    row[n] = max(index[n], key=lambda k: (gain(row, n, k), rng.random()))
            cover = {(p, row[p], q, row[q]) for x, p in enumerate(names) for q in names[x + 1:]} & uncovered
            if len(cover) > best_cover:
                best, best_cover = row, len(cover)
        uncovered -= {(p, best[p], q, best[q]) for x, p in enumerate(names) for q in names[x + 1:]}
        rows.append({n: axes[n][k] for n, k in best.items()})
    return rows


def _report(grid: Grid, started: float) -> None:
    print(f"\n{grid.summary()} (wall {time.perf_counter() - started:.1f} s)")
    for values, why in grid.known:
        print(f"  known: {grid.chapter} with {values}: {why}")
    assert not grid.failures, f"{len(grid.failures)} failing point(s) of {grid.chapter}:\n" + "\n".join(grid.failures)
    if grid.known:
        pytest.xfail("; ".join(sorted({why for _, why in grid.known})))


@pytest.mark.slow
@pytest.mark.parametrize("notebook", CHAPTERS, ids=lambda p: p.stem)
def test_parameter_space(notebook):
    """The chapter over its whole grid (see the module docstring)."""
    started = time.perf_counter()
    grid = Grid(notebook)
    if grid.chapter in HEAVY:
        grid.combined(only_clean=False)
    else:
        grid.one_at_a_time()
        grid.pairwise()
        grid.combined(only_clean=True)
    _report(grid, started)


@pytest.mark.parametrize("notebook", [nb for nb in CHAPTERS if nb.stem not in NOT_FAST], ids=lambda p: p.stem)
def test_parameter_corners(notebook):
    """The chapter at its defaults and at its first and last combined rows: every parameter at its smallest
    corner, then at its largest (refused values peeled off one by one)."""
    started = time.perf_counter()
    grid = Grid(notebook, fast=True)
    grid.combined(only_clean=False, which=slice(None, None, max(len(grid.rows(only_clean=False)) - 1, 1)))
    _report(grid, started)


def test_named_parameter():
    names = ["uniform_ttls_s", "user_shares", "routes", "model"]
    assert named_parameter("uniform_ttls_s[0]", names) == "uniform_ttls_s"
    assert named_parameter("len(user_shares)", names) == "user_shares"
    assert named_parameter("route", names) == "routes"
    assert named_parameter("n_instances", names) is None


def test_models_take_the_rows_in_turn():
    rows = [{"gpu": "a"}, {"gpu": "b"}]
    out = with_models_in_turn(rows, ("model", ["m1", "m2", "m3"]), random.Random(0))
    assert len(out) == 3 and {r["model"] for r in out} == {"m1", "m2", "m3"}
    assert [r["gpu"] for r in out] == ["a", "b", "a"]
    assert with_models_in_turn(rows, None, random.Random(0)) == rows


def test_pairwise_rows_cover_every_pair():
    axes = {"model": list("abcdefg"), "gpu": list("wxyz"), "dtype": list("123456")}
    rows = pairwise_rows(axes, random.Random(0))
    for a, b in [("model", "gpu"), ("model", "dtype"), ("gpu", "dtype")]:
        assert {(r[a], r[b]) for r in rows} == {(x, y) for x in axes[a] for y in axes[b]}
    assert len(rows) < 7 * 4 * 6 / 2
