"""What there is to choose from: ``python -m model list [KIND [CHAPTER]] [--json]`` (``make list``).

Kinds
-----
``models``
    ``data/models``: name, display name, layers, attention kind (MHA, GQA, MQA), query and KV heads, native
    context (``max_position_embeddings``), parameters.
``gpus``
    ``data/hardware.csv`` GPUs: memory, HBM bandwidth, dense tensor peaks, NVLink, the weight formats it has tensor
    cores for.
``tiers``
    ``data/hardware.csv`` KV-cache tiers: bandwidth to the GPU and price per GB-month.
``dtypes``
    ``model.formats``: bits per element, what a weight format computes in and on which GPUs; any format can hold
    the KV cache (it is only stored).
``prices``
    ``data/prices/gpu_prices.csv``: provider, GPU, pricing, USD per GPU-hour, date and source.
``parameters [CHAPTER]``
    Every chapter's parameters (its notebook's parameters cell): default, unit, what is allowed, and the
    cell's comment. What is allowed is read off the chapter's own checks: each parameter is given a value no
    check accepts (a NaN, an unknown name, a list of one), with the other parameters at their defaults, and the
    check's :class:`~model.checks.ParameterError` says what it accepts; "not checked" where no check names it.

With no kind, every listing in turn. Each listing is a list of rows (dicts), printed as a table with units or,
with ``--json``, exactly.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence

import pandas as pd

from model.book.build import parameter_error as _first_error  # the chapter's own checks, in-process
from model.checks import ParameterError
from model.cli import ArgumentParser, entry

#: What ``python -m model list`` lists, in the order it lists everything.
KINDS = ("models", "gpus", "tiers", "dtypes", "prices", "parameters")


# --- models, hardware, formats, prices ------------------------------------------------------------------------
def models() -> list[dict]:
    """One row per model of ``data/models`` (curated ``*.json`` files and published ``<name>/config.json``);
    a file that does not load is listed with the reason."""
    from model.architectures import available_models, load_architecture

    rows = []
    for name in available_models():
        try:
            a = load_architecture(name)
        except (ParameterError, KeyError, ValueError, TypeError) as exc:
            rows.append({"name": name, "error": f"does not load: {type(exc).__name__}: {exc}"})
            continue
        rows.append({"name": name, "display_name": a.display_name, "layers": a.num_layers,
                     "attention": a.attention,
                     "layer_kinds": ", ".join(f"{k} {n}" for k, n in a.layer_kinds().items()),
                     "query_heads": a.num_attention_heads, "kv_heads": a.num_kv_heads,
                     "context_tokens": a.max_context_tokens, "parameters": a.parameters(),
                     "active_parameters": a.active_parameters()})
    return rows


def gpus() -> list[dict]:
    """One row per GPU of ``data/hardware.csv``."""
    from model.formats import COMPUTE_TYPE, DTYPES
    from model.hardware import available_gpus, load_gpu

    rows = []
    for name in available_gpus():
        g = load_gpu(name)
        peak = {k: (v / 1e12 if math.isfinite(v) else None) for k, v in g.peak_flops.items()}
        rows.append({"name": name, "memory_gb": g.memory_gb, "memory_bytes": g.memory_bytes,
                     "bandwidth_gb_s": g.bandwidth_bytes_per_s / 1e9, "bf16_tflops": peak["bf16"],
                     "fp8_tflops": peak["fp8"], "int8_tops": peak["int8"],
                     "interconnect_gb_s": (g.interconnect_bytes_per_s / 1e9
                                           if math.isfinite(g.interconnect_bytes_per_s) else None),
                     "weight_dtypes": [d for d in DTYPES if g.supports(COMPUTE_TYPE[d])]})
    return rows


def tiers() -> list[dict]:
    """One row per KV-cache tier of ``data/hardware.csv``."""
    from model.hardware import available_tiers, load_tier

    rows = []
    for name in available_tiers():
        t = load_tier(name)
        rows.append({"name": name, "bandwidth_gb_s": t.bandwidth_bytes_per_s / 1e9 if math.isfinite(
            t.bandwidth_bytes_per_s) else None, "usd_per_gb_month": t.usd_per_gb_month if math.isfinite(
            t.usd_per_gb_month) else None})
    return rows


def dtypes() -> list[dict]:
    """One row per number format (:data:`model.formats.DTYPES`)."""
    from model.formats import BITS_PER_ELEMENT, COMPUTE_TYPE, DTYPES
    from model.hardware import available_gpus, load_gpu

    return [{"dtype": d, "bits": BITS_PER_ELEMENT[d], "bytes_per_element": BITS_PER_ELEMENT[d] / 8,
             "weights_compute_in": COMPUTE_TYPE[d],
             "weights_on": [g for g in available_gpus() if load_gpu(g).supports(COMPUTE_TYPE[d])],
             "kv_cache": True} for d in DTYPES]


def prices() -> list[dict]:
    """One row per GPU price of ``data/prices/gpu_prices.csv``."""
    from model.economics.prices import gpu_prices

    cols = ["provider", "gpu", "pricing", "usd_per_gpu_hour", "date", "source"]
    return [dict(zip(cols, r)) for r in gpu_prices()[cols].itertuples(index=False)]


# --- chapters' parameters ---------------------------------------------------------------------------------------
#: Parameters the build sets itself (not the reader's).
BUILD_PARAMETERS = ("output_dir",)
_NAN = float("nan")
_ODD = "\0?"
#: Values no check accepts, tried in turn: for a scalar, a list, or a parameter that may be None.
_PROBES_SCALAR = (_NAN, _ODD)
_PROBES_LIST = ([_NAN], [_ODD], [{_ODD: _NAN}], [])
_UNIT_IN_COMMENT = re.compile(r"(?:^|[,;(]\s*)(tokens|s|GB|minutes|hours|percent|USD per GPU-hour|USD per 1M tokens|"
                              r"requests/s)(?=\s*(?:[,;()]|$))")
_NAME_UNITS = (("_minutes", "min"), ("_hours", "h"), ("_per_year", "per year"), ("_per_min", "per min"),
               ("_per_s", "per s"), ("_s_per_token", "s per token"), ("_per_month", "per month"))


def chapters() -> list[str]:
    """The chapters (notebooks that are not appendices), in the build's order."""
    from model.book.build import is_appendix, notebooks

    return [nb.stem for nb in notebooks() if not is_appendix(nb)]


def _allowed(chapter: str, name: str, defaults: dict) -> str:
    """What the chapter's checks accept for ``name`` (the other parameters at their defaults)."""
    value = defaults[name]
    if isinstance(value, bool):
        return "True or False"
    probes = _PROBES_LIST if isinstance(value, (list, tuple)) else _PROBES_SCALAR
    for probe in probes:
        err = _first_error(chapter, {**defaults, name: probe})
        if err is None or not (err.name == name or err.name.startswith((f"{name}[", f"{name} "))):
            continue
        if err.name == name:
            text = err.allowed
        else:
            rest = re.sub(r"^\[\d+\]", "", err.name[len(name):])
            text = f"a list; each item{(chr(39) + 's' + rest) if rest else ''}: {err.allowed}"
        return f"None or {text}" if value is None else text
    return "not checked"


def _unit(name: str, value, comment: str) -> str:
    """The unit of a numeric parameter: from its name's suffix (as the book's tables read it), else from its
    comment, else from the cited default the comment names (``data/parameters``)."""
    numbers = value if isinstance(value, (list, tuple)) else [value]
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in numbers):
        return ""
    from model.book.tables import infer_column

    for suffix, unit in _NAME_UNITS:
        if name.endswith(suffix):
            return unit
    col = infer_column(name, pd.Series([v for v in numbers if v is not None] or [0.0], dtype=float))
    if col.kind == "percent":
        return "fraction"
    if col.unit:
        return col.unit
    if m := _UNIT_IN_COMMENT.search(comment):
        return m[1]
    from model.parameters import defaults_table

    cited = defaults_table().set_index("name")["unit"]
    for word in re.findall(r"[a-z][a-z0-9_]+", comment):
        if word in cited.index and isinstance(cited[word], str):
            return cited[word]
    return ""


def parameters(chapter: str | None = None) -> list[dict]:
    """Every parameter of ``chapter`` (all chapters when None): chapter, name, default, unit, allowed, comment.

    Raises
    ------
    ParameterError
        naming ``CHAPTER`` when there is no such chapter.
    """
    from model.book.appendix import chapter_parameters
    from model.book.build import NOTEBOOK_DIR, parameter_defaults

    names = chapters()
    if chapter is not None and chapter not in names:
        raise ParameterError("CHAPTER", chapter, "one of " + ", ".join(names))
    comments = chapter_parameters().set_index(["notebook", "name"])["comment"]
    rows = []
    for ch in [chapter] if chapter else names:
        defaults = parameter_defaults(NOTEBOOK_DIR / f"{ch}.ipynb")
        for name, value in defaults.items():
            if name in BUILD_PARAMETERS:
                continue
            comment = str(comments.get((ch, name), ""))
            rows.append({"chapter": ch, "name": name, "default": value, "unit": _unit(name, value, comment),
                         "allowed": _allowed(ch, name, defaults), "comment": comment})
    return rows


# --- output -----------------------------------------------------------------------------------------------------
def listing(kind: str, chapter: str | None = None) -> list[dict]:
    """The rows of one kind (:data:`KINDS`)."""
    if kind == "parameters":
        return parameters(chapter)
    return {"models": models, "gpus": gpus, "tiers": tiers, "dtypes": dtypes, "prices": prices}[kind]()


def _table(rows: list[dict], columns: dict) -> str:
    """``rows`` as a plain-text table, each cell written by the book's formatter
    (:func:`model.book.tables.table_frame`; ``columns`` maps a key to its :class:`~model.book.tables.Col`): text
    left-aligned, numbers right-aligned, headers with their units."""
    from model.book.tables import table_frame

    frame = pd.DataFrame([{k: r.get(k) for k in columns} for r in rows], columns=list(columns))
    for k, col in columns.items():
        if col.kind == "text":
            frame[k] = [", ".join(v) if isinstance(v, list) else ("" if v is None else str(v)) for v in frame[k]]
    cells = table_frame(frame, columns)
    left = [col.kind == "text" for col in columns.values()]
    widths = [max([len(h)] + [len(v) for v in cells[h]]) for h in cells.columns]
    lines = ["  ".join(h.ljust(w) for h, w in zip(cells.columns, widths)).rstrip()]
    for row in cells.itertuples(index=False):
        lines.append("  ".join(v.ljust(w) if is_left else v.rjust(w)
                               for v, w, is_left in zip(row, widths, left)).rstrip())
    return "\n".join(lines)


def _short_source(source: str, width: int = 60) -> str:
    """The first address of a source (without its scheme), shortened to ``width`` characters."""
    url = re.search(r"https?://(\S+)", source)
    text = url[1].rstrip(").,;'\"") if url else source
    return text if len(text) <= width else text[: width - 1] + "…"


def _default_text(value) -> str:
    """A default as the notebook holds it: exact (it is an input, not a result), integers with separators."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict, str)) else repr(value)


def text(kind: str, rows: list[dict]) -> str:
    """One listing for people: a table with units (parameters: two lines each, by chapter)."""
    from model.book.tables import Col

    if kind == "models":
        bad = [r for r in rows if "error" in r]
        out = _table([{**r, "parameters_b": r["parameters"] / 1e9, "active_b": r["active_parameters"] / 1e9}
                      for r in rows if "error" not in r], {
            "name": Col("name", kind="text"), "display_name": Col("display name", kind="text"),
            "layers": Col("layers", kind="integer"), "attention": Col("attention", kind="text"),
            "layer_kinds": Col("layer kinds", kind="text"),
            "query_heads": Col("query heads", kind="integer"), "kv_heads": Col("KV heads", kind="integer"),
            "context_tokens": Col("context", "tokens", "integer"),
            "parameters_b": Col("parameters", "billion"), "active_b": Col("active per token", "billion")})
        return "\n".join([out] + [f"{r['name']}: {r['error']}" for r in bad])
    if kind == "gpus":
        return _table(rows, {
            "name": Col("name", kind="text"), "memory_gb": Col("memory", "GB"),
            "bandwidth_gb_s": Col("HBM", "GB/s"), "bf16_tflops": Col("BF16 dense", "TFLOP/s", digits=4),
            "fp8_tflops": Col("FP8 dense", "TFLOP/s", digits=4), "int8_tops": Col("INT8 dense", "TOP/s", digits=4),
            "interconnect_gb_s": Col("NVLink", "GB/s"), "weight_dtypes": Col("weights in", kind="text")})
    if kind == "tiers":
        return _table(rows, {"name": Col("name", kind="text"), "bandwidth_gb_s": Col("to the GPU", "GB/s"),
                             "usd_per_gb_month": Col("price", "USD/GB-month", "usd", 4)})
    if kind == "dtypes":
        return _table([{**r, "kv_cache": "yes (stored only)" if r["kv_cache"] else "no"} for r in rows], {
            "dtype": Col("dtype", kind="text"), "bits": Col("bits"),
            "bytes_per_element": Col("bytes per element"), "weights_compute_in": Col("weights compute in", kind="text"),
            "weights_on": Col("weights on", kind="text"), "kv_cache": Col("KV cache", kind="text")})
    if kind == "prices":
        return _table([{**r, "source": _short_source(r["source"])} for r in rows], {
            "provider": Col("provider", kind="text"), "gpu": Col("GPU", kind="text"),
            "pricing": Col("pricing", kind="text"), "usd_per_gpu_hour": Col("price", "USD/GPU-hour", "usd", 5),
            "date": Col("date", kind="text"), "source": Col("source", kind="text")})
    lines, chapter = [], None
    for r in rows:
        if r["chapter"] != chapter:
            chapter = r["chapter"]
            lines += ["" if lines else None, f"{chapter}  (make chapter NB={chapter} ARGS=\"-p NAME VALUE ...\")"]
        unit = f"  [{r['unit']}]" if r["unit"] else ""
        lines.append(f"  {r['name']} = {_default_text(r['default'])}{unit}    allowed: {r['allowed']}")
        if r["comment"]:
            lines.append(f"      {r['comment']}")
    return "\n".join(ln for ln in lines if ln is not None)


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m model", description="The study's command line: what there is to choose "
                                                                "from (models, GPUs, formats, prices, parameters).")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="list models, gpus, tiers, dtypes, prices or a chapter's parameters",
                        description="List what there is: " + ", ".join(KINDS) + " (all when no KIND is given).")
    ls.add_argument("kind", nargs="?", choices=KINDS, metavar="KIND", help="one of " + ", ".join(KINDS))
    ls.add_argument("chapter", nargs="?", metavar="CHAPTER", help="with parameters: one chapter (default: all)")
    ls.add_argument("--json", action="store_true", help="print JSON (exact values)")
    return parser


@entry
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model list [KIND [CHAPTER]] [--json]``; returns the exit status (2 and one line on bad input)."""
    args = _parser().parse_args(argv)
    if args.chapter is not None and args.kind != "parameters":
        print(f"error: CHAPTER={args.chapter!r} is not allowed: CHAPTER comes only after parameters", file=sys.stderr)
        return 2
    kinds = [args.kind] if args.kind else list(KINDS)
    try:
        found = {k: listing(k, args.chapter) for k in kinds}
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(found[args.kind] if args.kind else found, indent=2, default=str))
    else:
        print("\n\n".join((f"== {k}\n" if len(kinds) > 1 else "") + text(k, rows) for k, rows in found.items()))
    return 0
