"""One formatter for every table the book displays: readable headers with units, no index column,
thousands separators, percentages as %, large ratios as ×N, no scientific notation, long text wrapped,
never truncated.

A column's format comes from (in order) the ``columns`` argument, the metric it names
(:data:`model.metrics.METRICS`), or its name's suffix (``_gb`` → GB, ``_s`` → s, ``_share`` → %, ...).

>>> show_table(df, columns={"kv_gb_per_session": Col("KV per session", "GB", digits=3)})
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.metrics import METRICS

#: Kinds of column: how its values are written.
KINDS = ("number", "integer", "percent", "ratio", "usd", "text", "bool", "availability")


@dataclass(frozen=True)
class Col:
    """How one column is shown.

    Attributes
    ----------
    title : str
        Header text (without the unit).
    unit : str
        Unit shown in brackets after the title ("" for none). Not shown for ``percent`` and ``ratio``.
    kind : str
        One of :data:`KINDS`. ``percent`` multiplies a fraction by 100; ``ratio`` writes ×N;
        ``availability`` writes a fraction as a percentage with its downtime per year.
    digits : int
        Significant digits of a ``number`` (integers above that are written in full).
    """

    title: str
    unit: str = ""
    kind: str = "number"
    digits: int = 3


_SUFFIX_UNITS = [
    ("_usd_per_million_tokens", "USD/1M tokens", "usd"), ("_usd_per_month", "USD/month", "usd"),
    ("_usd_per_hour", "USD/h", "usd"), ("_usd_per_gpu_hour", "USD/GPU-hour", "usd"), ("_usd", "USD", "usd"),
    ("_gb", "GB", "number"), ("_gib", "GiB", "number"), ("_tb", "TB", "number"), ("_mb", "MB", "number"),
    ("_kib", "KiB", "number"), ("_bytes", "bytes", "integer"), ("_ms", "ms", "number"),
    # the rates before the durations they end with: rate_per_s is a rate (/s), not a duration (s)
    ("_per_s", "/s", "number"), ("_per_min", "/min", "number"), ("_s", "s", "number"), ("_min", "min", "number"),
    ("_h", "h", "number"),
    ("_tokens", "tokens", "integer"), ("_gpus", "GPUs", "integer"), ("_percent", "%", "number"),
    ("_share", "", "percent"), ("_fraction", "", "percent"), ("_ratio", "", "percent"), ("_x", "", "ratio"),
]
_ACRONYMS = {"kv": "KV", "gpu": "GPU", "gpus": "GPUs", "ttft": "TTFT", "tpot": "TPOT", "hbm": "HBM", "dram": "DRAM",
             "ssd": "SSD", "usd": "USD", "api": "API", "slo": "SLO", "ttl": "TTL", "p95": "P95", "p50": "P50",
             "p99": "P99", "rtt": "RTT", "e2e": "end-to-end", "mfu": "MFU", "mbu": "MBU", "tp": "TP", "rps": "requests/s",
             "id": "id", "lru": "LRU", "fifo": "FIFO", "fp16": "FP16", "int8": "INT8", "fp8": "FP8", "bf16": "BF16"}


def _words(name: str) -> str:
    parts = [p for p in re.split(r"[_\s]+", str(name)) if p]
    out = [_ACRONYMS.get(p.lower(), p) for p in parts]
    text = " ".join(out)
    return text[:1].upper() + text[1:] if text else text


_MID_UNITS = {"gb": "GB", "gib": "GiB", "tb": "TB", "mb": "MB", "kib": "KiB", "ms": "ms"}


def _strip_suffix(base: str) -> str:
    for suffix, unit, _ in _SUFFIX_UNITS:
        if unit and base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def infer_column(name: str, values: pd.Series) -> Col:
    """The default :class:`Col` of a column: from the metric it names, else its suffix or a unit inside its
    name (``kv_gb_per_session`` → "KV per session (GB)"), else its dtype."""
    base = str(name)
    if base in METRICS:
        m = METRICS[base]
        kind = "percent" if m.unit == "fraction" else "usd" if m.unit.startswith("USD") else "number"
        return Col(_words(_strip_suffix(base)), "" if kind == "percent" else m.unit, kind)
    parts = base.split("_")
    mid = [p for p in parts[1:-1] if p.lower() in _MID_UNITS]
    if len(mid) == 1:
        rest = "_".join(p for p in parts if p != mid[0])
        return Col(_words(rest), _MID_UNITS[mid[0].lower()], "number")
    for suffix, unit, kind in _SUFFIX_UNITS:
        if base.endswith(suffix) and len(base) > len(suffix):
            return Col(_words(base[: -len(suffix)]), unit, kind)
    if pd.api.types.is_bool_dtype(values):
        return Col(_words(base), "", "bool")
    if pd.api.types.is_integer_dtype(values):
        return Col(_words(base), "", "integer")
    if pd.api.types.is_numeric_dtype(values):
        return Col(_words(base), "", "number")
    return Col(_words(base), "", "text")


def format_number(v, digits: int = 3) -> str:
    """A number with thousands separators and ``digits`` significant digits, never in scientific notation
    (integers past ``digits`` digits are written in full: 212,125 not 2.12e+05)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    v = float(v)
    if math.isinf(v):
        return "∞" if v > 0 else "−∞"
    if v == 0:
        return "0"
    mag = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - mag)
    text = f"{v:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "−")


def format_value(v, col: Col) -> str:
    """One cell as text, by its column's kind."""
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return "—"
    k = col.kind
    if k == "text":
        return str(v)
    if k == "bool":
        return "yes" if bool(v) else "no"
    if isinstance(v, str):
        return v
    if k == "integer":
        return format_number(round(float(v)), digits=1) if abs(float(v)) >= 1 else format_number(v, col.digits)
    if k == "percent":
        return format_number(100 * float(v), col.digits) + "%"
    if k == "ratio":
        return "×" + format_number(v, col.digits)
    if k == "usd":
        text = format_number(v, max(col.digits, 3))
        return ("−$" + text[1:]) if text.startswith("−") else "$" + text
    if k == "availability":
        down_h = (1 - float(v)) * 8760
        return f"{format_number(100 * float(v), 5)}% ({format_number(down_h, 3)} h/year down)"
    return format_number(v, col.digits)


def header(col: Col) -> str:
    """Header text: title, and the unit in brackets where the values do not carry it."""
    if col.unit and col.kind not in ("percent", "ratio", "usd", "bool", "text", "availability"):
        return f"{col.title} ({col.unit})"
    if col.kind == "usd" and col.unit and col.unit != "USD":
        return f"{col.title} ({col.unit})"
    return col.title


def table_frame(df: pd.DataFrame, columns: dict | None = None) -> pd.DataFrame:
    """The formatted table as strings (index dropped, headers with units), for display or tests."""
    columns = dict(columns or {})
    out = {}
    for name in df.columns:
        spec = columns.get(name)
        col = spec if isinstance(spec, Col) else infer_column(name, df[name])
        if isinstance(spec, str):
            col = Col(spec, col.unit, col.kind, col.digits)
        out[header(col)] = [format_value(v, col) for v in df[name]]
    return pd.DataFrame(out)


class Table:
    """A formatted table that renders as plain HTML (no index, wrapped text, horizontally scrollable)."""

    def __init__(self, frame: pd.DataFrame, caption: str | None = None):
        self.frame = frame
        self.caption = caption

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in self.frame.columns)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>"
                       for r in self.frame.itertuples(index=False))
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return (f'<div class="study-table"><table>{cap}<thead><tr>{head}</tr></thead>'
                f"<tbody>{rows}</tbody></table></div>")

    def __repr__(self) -> str:
        return self.frame.to_string(index=False)


def show_table(df: pd.DataFrame, columns: dict | None = None, *, caption: str | None = None,
               transpose: bool = False) -> Table:
    """Display ``df`` through the book's one formatter (see the module docstring); ``columns`` maps a column
    name to a :class:`Col` or to a title. ``transpose``: one column per row of ``df`` (headed by its first
    column's value) and one row per other column (labelled by its header, units included), for a few wide
    rows that would otherwise scroll."""
    frame = table_frame(df, columns)
    if transpose:
        frame = transposed(frame)
    return Table(frame, caption)


def transposed(frame: pd.DataFrame) -> pd.DataFrame:
    """A formatted table turned on its side: its first column's values head the columns, its other headers
    label the rows (the first header heads the labels)."""
    first = frame.columns[0]
    body = {label: list(frame[label]) for label in frame.columns[1:]}
    out = pd.DataFrame({first: list(body)})
    for j, name in enumerate(frame[first]):
        out[name] = [values[j] for values in body.values()]
    return out


# --- interactive tables (the audit appendix) ------------------------------------------------------------------
#: Files written into the book's ``_static`` at build time from the installed ``itables``: its stylesheet, and
#: its DataTables module wrapped in a classic script (``dt_bundle_loader.js``), because a page opened from
#: disk (``file://``) may not import a module file, while it may import a module made from a string.
DATATABLES_FILES = ("dt_bundle.css", "dt_bundle_loader.js")

_LOADER = """// DataTables (itables {version}) for the book's interactive tables: the module is kept as a string and
// imported from a Blob URL, which works from file:// as from a server. Generated by model.book.tables.
(function () {{
  if (window[{key!r}]) return;
  const src = {src};
  const url = URL.createObjectURL(new Blob([src], {{ type: "application/javascript" }}));
  window[{key!r}] = import(url);
  window[{key!r}].then(() => window.dispatchEvent(new Event({event!r})));
}})();
"""


def bundle_datatables(static_dir) -> list:
    """Write the DataTables stylesheet and module loader of the installed ``itables`` into ``static_dir``
    (no CDN at read time)."""
    import json
    import shutil
    from pathlib import Path

    import itables

    src = Path(itables.__file__).parent / "html"
    static = Path(static_dir)
    static.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / "dt_bundle.css", static / "dt_bundle.css")
    version = itables.__version__
    key = "_itables_" + version.replace(".", "_")
    loader = _LOADER.format(version=version, key=key, event=f"itables-{version}-ready",
                            src=json.dumps((src / "dt_bundle.js").read_text(encoding="utf-8")))
    (static / "dt_bundle_loader.js").write_text(loader, encoding="utf-8")
    return [static / name for name in DATATABLES_FILES]


class InteractiveTable:
    """A sortable, filterable table (DataTables through ``itables``) that loads its script from the book's
    own ``_static`` folder; without JavaScript the static table shows."""

    def __init__(self, html: str):
        self.html = html

    def _repr_html_(self) -> str:
        return self.html


#: Width of a column of sentences in an interactive table, em (about 70 characters a line: rows of the audit's
#: reasons then take a few lines, not dozens).
WIDE_COLUMN_EM = 36


def interactive_table(df: pd.DataFrame, columns: dict | None = None, *, static_prefix: str = "../_static",
                      filter_columns: tuple = (), page_length: int = 25, table_id: str = "study_table",
                      html_columns: tuple = (), wide_columns: tuple = ()) -> InteractiveTable:
    """``df`` formatted by :func:`table_frame`, as an interactive table: a search box, sorting on every column,
    a drop-down filter on each column of ``filter_columns`` (by formatted header or source name), paging.
    Cells are HTML-escaped except in ``html_columns`` (source names), which hold trusted markup such as
    links. Columns of ``wide_columns`` (source names: sentences) get :data:`WIDE_COLUMN_EM` em of width, so that
    a row of long text stays a few lines high (the table scrolls sideways). Deterministic HTML (a fixed
    ``table_id``, no random ids)."""
    from itables import to_html_datatable

    frame = table_frame(df, columns)
    headers = list(frame.columns)
    src_names = list(df.columns)
    for h, name in zip(headers, src_names):
        if name not in html_columns:
            frame[h] = frame[h].map(lambda v: html.escape(str(v)))
    wanted = {h for h, s in zip(headers, src_names) if h in filter_columns or s in filter_columns}
    cc = [{"targets": [i for i, h in enumerate(headers) if h in wanted], "columnControl": ["order", ["searchList"]]},
          {"targets": "_all", "columnControl": ["order"]}]
    wide = [i for i, s in enumerate(src_names) if s in wide_columns]
    if wide:
        cc.insert(0, {"targets": wide, "className": "study-wide"})
    text = to_html_datatable(frame, connected=False, showIndex=False, pageLength=page_length, scrollX=True,
                             lengthMenu=[10, 25, 100, len(frame)], classes=["display", "compact"],
                             layout={"topStart": "pageLength", "topEnd": "search", "bottomStart": "info",
                                     "bottomEnd": "paging"}, columnDefs=cc, ordering={"indicators": False},
                             maxBytes=0, allow_html=True)
    text = re.sub(r"itables_[0-9a-f]{8}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{4}_[0-9a-f]{12}", table_id, text)
    # the message shown until the script has loaded: itables names the internet when connected, else an
    # init_notebook_mode cell, which the book has not (it loads DataTables from _static)
    text = re.sub(r"Loading ITables v[\d.]+ from the (?:internet|<code>init_notebook_mode</code> cell)\.\.\.",
                  "Loading the interactive table…", text)
    head = (f'<link href="{static_prefix}/dt_bundle.css" rel="stylesheet">'
            f'<script src="{static_prefix}/dt_bundle_loader.js"></script>')
    if wide:
        head += (f"<style>#{table_id} td.study-wide, #{table_id} th.study-wide "
                 f"{{min-width: {WIDE_COLUMN_EM}em; white-space: normal}}</style>")
    return InteractiveTable(head + text)
