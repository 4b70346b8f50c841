"""Run an evaluation function over many configurations: in parallel processes on one machine (default),
serially, or on a Dask distributed cluster (the study's one parallel runner, :mod:`model.parallel`); with a
progress bar on an interactive terminal; resumable from an append-only results file.

The results file
----------------
JSON Lines, one record per evaluated configuration::

    {"key": "<canonical JSON of the configuration>", "fingerprint": "...", "config": {...}, "result": {...}}

Only the parent process writes it, one whole record per ``write`` call on a file opened in append mode,
so a killed sweep leaves at worst one torn last line (no trailing newline). Reading ignores that torn
line and the next append first cuts it off; a malformed line anywhere else is an error (never skipped
silently). A rerun skips every configuration already in the file: nothing is recomputed.

The evaluation function
-----------------------
``evaluate(config: dict) -> dict[str, float]``; it must be picklable (a module-level function or an
instance of a module-level class) and deterministic. If it has a ``fingerprint`` attribute (a string
naming its parameters), records carry it and a file written with another fingerprint is refused.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from model.parallel import EXECUTORS, Runner
from model.checks import check_int


def interactive() -> bool:
    """Whether standard error is an interactive terminal (where a progress bar redraws in place).

    A notebook kernel's standard error is not a terminal: there each redraw of a bar becomes a line of the
    executed page. The plain-terminal :mod:`tqdm` is used (not ``tqdm.auto``, whose notebook widget needs
    ipywidgets and warns without it).
    """
    isatty = getattr(sys.stderr, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:        # a closed stream
        return False


class ResultsFileError(RuntimeError):
    """The results file is malformed (other than a torn last line) or belongs to another evaluator."""


def config_key(config: dict) -> str:
    """Canonical, order-independent text of a configuration (JSON, sorted keys)."""
    return json.dumps(config, sort_keys=True, separators=(",", ":"))


class ResultsFile:
    """Append-only JSON Lines store of evaluated configurations (see the module docstring)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def load(self, fingerprint: str | None = None) -> dict[str, dict]:
        """Records by configuration key. A torn last line is ignored.

        Raises
        ------
        ResultsFileError
            if a complete line is not a valid record, or a record's fingerprint differs from
            ``fingerprint`` (when both are set).
        """
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        complete = lines[:-1]                      # the part after the last newline is torn (or empty)
        records: dict[str, dict] = {}
        for number, raw in enumerate(complete, start=1):
            try:
                record = json.loads(raw)
                key = record["key"]
                record["result"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ResultsFileError(f"{self.path}:{number}: not a valid results record ({exc})") from None
            found = record.get("fingerprint")
            if fingerprint is not None and found is not None and found != fingerprint:
                raise ResultsFileError(f"{self.path}:{number}: written by an evaluator with fingerprint "
                                       f"{found!r}, not {fingerprint!r}; use another results file")
            records[key] = record
        return records

    def torn_bytes(self) -> int:
        """Bytes after the last newline (a record cut short by a kill); 0 for a clean file."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        return len(data) - (data.rfind(b"\n") + 1)

    def repair(self) -> None:
        """Cut off a torn last line so that the next record starts on a line of its own."""
        torn = self.torn_bytes()
        if torn:
            size = self.path.stat().st_size
            with open(self.path, "r+b") as fh:
                fh.truncate(size - torn)

    def append(self, records: Sequence[dict]) -> None:
        """Append records, each as one whole line written by one ``write`` call, then flush to the OS."""
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repair()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for record in records:
                data = (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
        finally:
            os.close(fd)

    def sync(self) -> None:
        """Ask the OS to put the file on disk (fsync)."""
        if self.path.exists():
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


# --------------------------------------------------------------------------------------------------------
# Worker side
# --------------------------------------------------------------------------------------------------------

def evaluate_chunk(configs: list[dict], evaluate: Callable) -> list[dict]:
    """Evaluate a list of configurations with ``evaluate`` (the task a :class:`model.parallel.Runner` runs, with
    ``evaluate`` as its shared object)."""
    return [dict(evaluate(c)) for c in configs]


# --------------------------------------------------------------------------------------------------------
# Parent side
# --------------------------------------------------------------------------------------------------------

class Sweep:
    """A reusable sweep engine (context manager): keeps its process pool or Dask client open across
    calls of :meth:`run`, so that a search evaluating small batches pays the start-up once. The work runs on
    the study's one parallel runner (:class:`model.parallel.Runner`, the evaluation function sent once to each
    worker); this class adds the results file and the progress bar.

    Parameters
    ----------
    evaluate : the evaluation function (picklable, deterministic).
    executor : ``"process"`` (a local process pool, default), ``"serial"`` or ``"dask"``.
    workers : processes of the local pool (default: the CPUs available).
    address : for ``"dask"``: a scheduler address (``"tcp://host:8786"``) or an existing
        ``distributed.Client`` (which is then not closed here).
    results : path of the append-only results file to resume from and write to (None: keep in memory).
    progress : show a tqdm progress bar (default ``None``: only when standard error is an interactive
        terminal, :func:`interactive`; never in an executed notebook, whose pages would keep every redraw).
    chunk : configurations per task (default: about four tasks per worker, at most 16 per task).
    """

    def __init__(self, evaluate: Callable, *, executor: str = "process", workers: int | None = None,
                 address=None, results: str | os.PathLike | None = None, progress: bool | None = None,
                 chunk: int | None = None, mp_context: str = "spawn"):
        self._runner = Runner(executor, workers=workers, address=address, shared=evaluate, mp_context=mp_context)
        self.evaluate = evaluate
        self.executor = executor
        self.workers = self._runner.workers
        self.address = address
        self.file = ResultsFile(results) if results is not None else None
        self.progress = interactive() if progress is None else bool(progress)
        self.chunk = None if chunk is None else check_int("chunk", chunk, low=1)
        self.fingerprint = getattr(evaluate, "fingerprint", None)
        self._memory: dict[str, dict] = {}
        self.evaluated = 0          # configurations actually evaluated (not read back) by this engine

    # -- lifecycle -----------------------------------------------------------------------------------
    def __enter__(self) -> Sweep:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Shut the pool / client down and fsync the results file."""
        self._runner.close()
        if self.file is not None:
            self.file.sync()

    # -- work ----------------------------------------------------------------------------------------
    def known(self) -> dict[str, dict]:
        """Records already evaluated (results file + this engine's memory)."""
        records = dict(self._memory)
        if self.file is not None:
            records.update(self.file.load(self.fingerprint))
        return records

    def _chunks(self, todo: list[dict]) -> list[list[dict]]:
        if self.chunk is not None:
            size = self.chunk
        else:
            size = max(1, min(16, math.ceil(len(todo) / (4 * self.workers))))
        return [todo[i:i + size] for i in range(0, len(todo), size)]

    def _store(self, configs: list[dict], results: list[dict]) -> None:
        records = [{"key": config_key(c), "fingerprint": self.fingerprint, "config": c, "result": r}
                   for c, r in zip(configs, results)]
        if self.file is not None:
            self.file.append(records)
        for rec in records:
            self._memory[rec["key"]] = rec
        self.evaluated += len(records)

    def run(self, configs: Sequence[dict], *, desc: str = "configurations") -> pd.DataFrame:
        """Evaluate every configuration not already known and return one row per configuration of
        ``configs`` (in that order): the configuration's keys, then the result's. Each chunk is stored as
        soon as it completes (a killed sweep keeps what was done)."""
        configs = [dict(c) for c in configs]
        known = self.known()
        todo, seen = [], set()
        for c in configs:
            key = config_key(c)
            if key not in known and key not in seen:
                todo.append(c)
                seen.add(key)
        chunks = self._chunks(todo) if todo else []
        with tqdm(total=len(todo), desc=desc, disable=not self.progress, leave=False) as bar, \
                closing(self._runner.as_completed(evaluate_chunk, chunks)) as completed:
            for i, result in completed:
                self._store(chunks[i], result)
                bar.update(len(chunks[i]))
        known = self.known()
        rows = []
        for c in configs:
            rec = known[config_key(c)]
            rows.append({**c, **rec["result"]})
        return pd.DataFrame(rows)


def run_sweep(configs: Sequence[dict], evaluate: Callable, **options) -> pd.DataFrame:
    """Evaluate ``configs`` with a one-off :class:`Sweep` (same options) and return the table."""
    with Sweep(evaluate, **options) as sweep:
        return sweep.run(configs)
