"""The heavy runs the book reads from records (:mod:`model.records`), and the arguments each is made with.

A chapter's record (:data:`SPECS`) is made with the chapter's own default parameters (read from its notebook's
parameters cell), so the default build reads the record and a reader's rerun with other values computes
afresh. Other records (the audit's, at the sources' fixed setting) are remade from their own ``record.json``:
function, arguments and data as recorded (their tests check those arguments against the audit's setting).

Usage
-----
``python -m model.book.records list [--json]``
    Every record, whether its fingerprint is current (and if not, why), and the command that recomputes it.
``python -m model.book.records make [NAME ...] [--workers W]``
    Recompute the named records (all when none is named), each written atomically (``make record``).
``python -m model.book.records check``
    Exit 1 when a record is stale or was made with other arguments than its chapter's defaults.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

from model.book.build import NOTEBOOK_DIR, parameter_defaults
from model.cli import ArgumentParser, entry, human, seconds
from model.parameters import default
from model.records import NAMED_PARAMETERS, resolve_function, available_records, load_record, make_record
from model.tiering.chat_fleet import chat_fleet_tables, scale_check_table
from model.tiering.fleet import ROUTES

#: Data every fleet record reads: the cited defaults its code names, and (globs under ``data/``) hardware and
#: prices, the model configs and the step-time measurements the prefill engine is fitted on.
FLEET_DATA = [NAMED_PARAMETERS, "hardware.csv", "prices/*.csv", "models/*.json", "measurements/*.csv"]


@dataclass(frozen=True)
class RecordSpec:
    """How record ``name`` is made: ``function(**kwargs())``, reading the ``data`` globs."""

    name: str
    function: Callable
    kwargs: Callable[[], dict]
    data: list
    note: str


def _chapter_kwargs(notebook: str, names: list[str]) -> Callable[[], dict]:
    def kwargs() -> dict:
        values = parameter_defaults(NOTEBOOK_DIR / f"{notebook}.ipynb")
        return {n: values[n] for n in names}
    return kwargs


def _scale_check_kwargs() -> dict:
    return {"sessions": int(default("fleet_scale_check_sessions")),
            "sessions_per_node": int(default("fleet_sessions_per_node")),
            "sample_nodes": int(default("fleet_sample_nodes")), "pool_nodes": int(default("fleet_pool_nodes")),
            "prefix_blocks": int(default("fleet_prefix_route_blocks")), "routes": list(ROUTES),
            "model": "llama-2-70b", "gpu": "a100-80gb", "seed": 0}


SPECS = {s.name: s for s in [
    RecordSpec("chat_fleet", chat_fleet_tables,
               _chapter_kwargs("fleet_cache", ["sessions_scales", "full_scales", "sessions_per_node", "sample_nodes",
                                               "pool_nodes", "prefix_blocks", "hit_share_target", "routes", "model",
                                               "gpu", "seed", "l8_history_tokens", "l8_memory_tokens"]),
               FLEET_DATA, "The fleets of the fleet-cache chapter at its default parameters (10K, 100K and 1M "
                           "sessions)."),
    RecordSpec("fleet_scale_check", scale_check_table, _scale_check_kwargs, FLEET_DATA,
               "Sampled against full fleets at 100K sessions, every routing policy, default parameters."),
]}


def mismatched() -> list[str]:
    """Records whose arguments are not what their spec makes now (a chapter's defaults changed)."""
    return [n for n, s in SPECS.items() if n in available_records() and load_record(n).kwargs != s.kwargs()]


def _all_names() -> list[str]:
    return list(SPECS) + [n for n in available_records() if n not in SPECS]


def _state(name: str, remake: set) -> dict:
    """Record ``name`` for ``list``: whether it is current (and if not, why), when it was made and how long that
    took, and the command that remakes it."""
    row = {"name": name, "state": "missing", "reason": "no such folder in data/records", "recorded": None,
           "wall_s": None, "command": f"make record NAME={name}"}
    if name in available_records():
        rec = load_record(name)
        current = rec.is_current()
        row |= {"state": "current" if current and name not in remake else "stale",
                "reason": None if current and name not in remake else
                "code or data changed" if not current else "made with other arguments than its chapter's defaults",
                "recorded": str(rec.recorded), "wall_s": rec.wall_s}
    return row


@entry
def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m model.book.records", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="every record, whether it is current, and its command")
    ls.add_argument("--json", action="store_true", help="print JSON")
    mk = sub.add_parser("make", help="recompute records (all when none is named)")
    mk.add_argument("names", nargs="*", metavar="NAME")
    mk.add_argument("--workers", type=int, default=2, help="local processes (default 2)")
    sub.add_parser("check", help="exit 1 when a record is stale or made with other arguments")
    args = parser.parse_args(argv)
    names = _all_names()
    if args.command in ("list", "check"):
        remake = set(mismatched())
    if args.command == "list":
        rows = [_state(n, remake) for n in names]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            state = r["state"] if r["reason"] is None else f"{r['state'].upper()} ({r['reason']})"
            made = "" if r["recorded"] is None else f"recorded {r['recorded']}, the run took {seconds(r['wall_s'])}"
            if r["wall_s"] is not None and r["wall_s"] >= 120:
                made += f" ({human(r['wall_s'] / 60)} min)"
            print(f"{r['name']:<20} {state:<8} {made}  ({r['command']})")
        return 0
    if args.command == "check":
        bad = [n for n in names if n not in available_records() or not load_record(n).is_current() or n in remake]
        for n in dict.fromkeys(bad):
            print(f"record {n} is stale or missing: run make record NAME={n}", file=sys.stderr)
        return 1 if bad else 0
    if args.workers < 1:
        print(f"error: --workers={args.workers} is not allowed: --workers must be an integer >= 1", file=sys.stderr)
        return 2
    chosen = args.names or names
    unknown = [n for n in chosen if n not in names]
    if unknown:
        print(f"error: NAME={' '.join(unknown)}: no such record; records: {', '.join(names)}", file=sys.stderr)
        return 2
    for n in chosen:
        if n in SPECS:
            spec = SPECS[n]
            function, kwargs, data, note = spec.function, spec.kwargs(), spec.data, spec.note
        else:
            rec = load_record(n)
            function, kwargs, data, note = resolve_function(rec.function), rec.kwargs, rec.data, rec.note
        takes_workers = "workers" in inspect.signature(function).parameters
        print(f"recording {n} ...", file=sys.stderr, flush=True)
        rec = make_record(n, function, kwargs, data, note=note,
                          run_kwargs={"workers": args.workers} if takes_workers else None)
        print(f"recorded {n} in {rec.wall_s:,.0f} s: {', '.join(rec.tables)}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
