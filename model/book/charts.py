"""Altair charts that render with no network.

Each chart is emitted as a ``<div>`` holding a static SVG (rendered here by vl-convert, so the page shows
the chart even with JavaScript off) and a ``vegaEmbed`` call that replaces it with the interactive chart
when the Vega bundle shipped in ``book/_static/vega-bundle.js`` is loaded. Nothing comes from a CDN.

Command line: ``python -m model.book.charts bundle PATH`` writes that bundle (from the installed vl-convert).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import sys
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd
import vl_convert as vlc

from model.cli import ArgumentParser, entry
from model.io import atomic_write_text

#: Colour-blind-safe categorical palette used by every chapter (Altair's default "tableau10").
SCHEME = "tableau10"
#: Least space between two axis labels side by side, px, in every chart: where a continuous axis's labels
#: would come closer, Vega drops every other one (its overlap removal, which Vega-Lite turns on for
#: continuous axes). Vega's own default is 0, which lets "10,000" and "12,000" sit 1 px apart in a narrow
#: font; 4 px is about a space and a half at the 10 px labels.
AXIS_LABEL_SEPARATION_PX = 4


class OfflineChart:
    """A chart whose HTML needs no network; ``_repr_html_`` is what Jupyter and the book display."""

    def __init__(self, chart: alt.TopLevelMixin):
        self.chart = chart
        self.spec = chart.to_dict()
        axis = self.spec.setdefault("config", {}).setdefault("axis", {})
        axis.setdefault("labelSeparation", AXIS_LABEL_SEPARATION_PX)
        payload = json.dumps(self.spec, sort_keys=True, separators=(",", ":"))
        self.div_id = "vega-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
        self._payload = payload

    def svg(self) -> str:
        """The chart as a static SVG document."""
        return vlc.vegalite_to_svg(self.spec)

    def _repr_html_(self) -> str:
        svg = self.svg()
        return (
            f'<div id="{self.div_id}" class="offline-vega">{svg}</div>\n'
            f"<script>(function() {{ if (window.vegaEmbed) {{ "
            f'window.vegaEmbed("#{self.div_id}", {self._payload}, {{"actions": false}})'
            f'.catch(function(e) {{ console.error(e); }}); }} }})();</script>'
        )

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/html": self._repr_html_(), "text/plain": f"<chart {html.escape(self.div_id)}>"}


def show(chart: alt.TopLevelMixin) -> OfflineChart:
    """Wrap an Altair chart for offline display (return it as a cell's last expression)."""
    return OfflineChart(chart)


def log_ticks(low: float, high: float, steps: Sequence[float] = (1, 2, 5)) -> list[float]:
    """Tick values of a readable log axis: every ``step`` × 10^k (default 1, 2, 5) within [low, high] (the
    chapters' one tick helper: no mark outside the range it is given, so none beyond the data it is given).

    Parameters
    ----------
    low, high : float
        The axis range, in the axis's unit; both > 0 and ``low <= high``.
    steps : sequence of float
        Mantissas in [1, 10) to mark in each decade.

    Returns
    -------
    list of float, increasing (values such as 20 are exact: 2 × 10, not 2 × 10^1.0000001).
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 or high < low:
        raise ValueError(f"log_ticks: low and high must satisfy 0 < low <= high, got low={low!r}, high={high!r}")
    if not steps or any(not 1 <= s < 10 for s in steps):
        raise ValueError(f"log_ticks: steps must be mantissas in [1, 10), got {list(steps)!r}")
    lo, hi = low * (1 - 1e-12), high * (1 + 1e-12)        # an end within rounding of a mark keeps it
    ticks = []
    for k in range(math.floor(math.log10(lo)), math.floor(math.log10(hi)) + 1):
        for s in sorted(steps):
            v = float(f"{s}e{k}")
            if lo <= v <= hi:
                ticks.append(v)
    return ticks


def range_note(values, fmt: str = ".3g", unit: str = "") -> str:
    """"from A to B (spread C)": the range a chart's axis shows, for its title or subtitle, so that a
    narrow spread on a zoomed axis is stated rather than exaggerated (NaN values are ignored)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return "no finite value"
    lo, hi = min(finite), max(finite)
    u = unit if unit in ("", "%") else f" {unit}"
    return f"from {format(lo, fmt)} to {format(hi, fmt)}{u} (spread {format(hi - lo, fmt)}{u})"


def sweep_panel(panel, field: str, title: str, fmt: str, *, order: Sequence[str], x_title: str | None = None
                ) -> alt.LayerChart:
    """One panel of a capacity sweep chart: ``field`` against the swept capacity per instance (log x axis),
    a line per swept tier, and a dashed rule at the value of 0 GB of the swept tier (which a log axis cannot
    show). Stack panels with ``alt.vconcat(...).resolve_scale(x="shared", color="shared")``.

    Parameters
    ----------
    panel : pandas.DataFrame
        Sweep rows with ``capacity_gb_per_instance`` (GB), ``swept`` (the tier's legend label) and ``field``.
    field, title, fmt : str
        Column plotted, its axis title and its d3 number format.
    order : sequence of str
        The ``swept`` labels in legend order.
    x_title : str or None
        The x axis title (None: no title, for all but the bottom panel).

    Returns
    -------
    altair.LayerChart, 600 × 150 px.
    """
    pos_gb = panel.loc[panel["capacity_gb_per_instance"] > 0, "capacity_gb_per_instance"]
    colour = alt.Color("swept:N", title=None, sort=list(order),
                       legend=alt.Legend(orient="top", direction="vertical", labelLimit=500))
    x = alt.X("capacity_gb_per_instance:Q", title=x_title,
              scale=alt.Scale(type="log", domain=[pos_gb.min() / 1.3, pos_gb.max() * 1.3]),
              axis=alt.Axis(values=log_ticks(pos_gb.min(), pos_gb.max()), format=",~g", labelOverlap=True))
    pos = alt.Chart(panel[panel["capacity_gb_per_instance"] > 0]).mark_line(point=True).encode(
        x=x, y=alt.Y(f"{field}:Q", title=title, axis=alt.Axis(format=fmt), scale=alt.Scale(zero=True)),
        color=colour,
        tooltip=["swept", alt.Tooltip("capacity_gb_per_instance:Q", title="GB per instance", format=",.0f"),
                 alt.Tooltip(f"{field}:Q", title=title, format=fmt)])
    zero = alt.Chart(panel[panel["capacity_gb_per_instance"] == 0]).mark_rule(strokeDash=[4, 3]).encode(
        y=f"{field}:Q", color=colour,
        tooltip=["swept", alt.Tooltip(f"{field}:Q", title=f"{title} at 0 GB", format=fmt)])
    return (zero + pos).properties(width=600, height=150)


def kv_per_token_chart(per_model, *, kv_dtype: str, context_tokens: int) -> alt.Chart:
    """KV cache per token of several models, a bar each, coloured by attention kind.

    Parameters
    ----------
    per_model : pandas.DataFrame
        :func:`model.kv.kv_table` rows: ``model``, ``attention``, ``layers``, ``kv_heads``, ``head_dim``,
        ``kv_kib_per_token`` (KiB) and ``kv_gb_per_session`` (GB).
    kv_dtype : str
        The KV number format, named on the x axis.
    context_tokens : int
        Tokens per session, named in the tooltip.

    Returns
    -------
    altair.Chart, 520 × 170 px.
    """
    return alt.Chart(per_model).mark_bar().encode(
        x=alt.X("kv_kib_per_token:Q", title=f"KV cache per token (KiB, {kv_dtype.upper()})"),
        y=alt.Y("model:N", sort="-x", title=None),
        color=alt.Color("attention:N", title="attention"),
        tooltip=["model", "attention", "layers", "kv_heads", "head_dim",
                 alt.Tooltip("kv_kib_per_token:Q", format=".0f"),
                 alt.Tooltip("kv_gb_per_session:Q", format=".2f", title=f"GB per {context_tokens:,}-token session")],
    ).properties(width=520, height=170, title="KV cache per token")


def sessions_by_context_chart(feasible, *, title: str) -> alt.Chart:
    """Sessions per GPU against tokens per session (log y axis), a line per tensor-parallel GPU count.

    Parameters
    ----------
    feasible : pandas.DataFrame
        :func:`model.kv.sessions_by_context` rows that hold a session: ``context_tokens`` (tokens), ``n_gpus``,
        ``sessions`` and ``sessions_per_gpu`` (counts).
    title : str
        The chart's title.

    Returns
    -------
    altair.Chart, 560 × 300 px.
    """
    # no GPU count holding a session (weights too large for every group): an empty chart, its axis unticked
    ticks = (log_ticks(feasible["sessions_per_gpu"].min(), feasible["sessions_per_gpu"].max()) if len(feasible)
             else alt.Undefined)
    return alt.Chart(feasible).mark_line(point=True).encode(
        x=alt.X("context_tokens:Q", title="tokens per session"),
        y=alt.Y("sessions_per_gpu:Q", title="sessions per GPU (count, log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(values=ticks, format="~g")),
        color=alt.Color("n_gpus:O", title="GPUs (tensor parallel)"),
        tooltip=[alt.Tooltip("context_tokens:Q", format=",", title="tokens per session"),
                 alt.Tooltip("n_gpus:O", title="GPUs"), alt.Tooltip("sessions:Q", format=",", title="sessions"),
                 alt.Tooltip("sessions_per_gpu:Q", format=".1f", title="sessions per GPU")],
    ).properties(width=560, height=300, title=title)


def api_bill_chart(scenarios, stated, *, concurrent_sessions: int, api_model: str) -> alt.LayerChart:
    """Monthly API bills by reading of a turn (bars on a log axis) with the stated bills as dashed rules.

    Parameters
    ----------
    scenarios : pandas.DataFrame
        :func:`model.economics.token_cost.api_cost_scenarios` rows: ``scenario``, ``tokens_per_turn`` and
        ``usd_per_month`` (USD/month).
    stated : pandas.DataFrame
        ``usd_per_month`` (USD/month) and ``label`` of each stated bill.
    concurrent_sessions : int
        Concurrent sessions of the bills, named on the x axis.
    api_model : str
        The API model priced, named in the title.

    Returns
    -------
    altair.LayerChart, 440 × 260 px; the log axis runs from the decade below the smallest bill to the decade
    above the largest (bars drawn from that positive baseline, not from 0).
    """
    all_usd = pd.concat([scenarios["usd_per_month"], stated["usd_per_month"]])
    x_lo, x_hi = 10 ** np.floor(np.log10(all_usd.min())), 10 ** np.ceil(np.log10(all_usd.max()))
    x_scale = alt.Scale(type="log", domain=[x_lo, x_hi])
    bars = alt.Chart(scenarios).mark_bar().encode(
        x=alt.X("usd_per_month:Q", scale=x_scale,
                title=f"API bill at {concurrent_sessions:,} concurrent sessions (USD/month, log)",
                axis=alt.Axis(labelExpr="replace(format(datum.value, '$~s'), 'G', 'B')")),
        x2=alt.datum(x_lo),
        y=alt.Y("scenario:N", title="what each turn sends", sort=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("tokens_per_turn:O", title="new tokens per turn", legend=alt.Legend(orient="bottom")),
        yOffset="tokens_per_turn:O",
        tooltip=["scenario", "tokens_per_turn", alt.Tooltip("usd_per_month:Q", format="$,.3s")],
    )
    rules = alt.Chart(stated).mark_rule(strokeDash=[4, 3], color="black").encode(
        x=alt.X("usd_per_month:Q", scale=x_scale))
    text = alt.Chart(stated).mark_text(align="left", dx=4, baseline="top", y=2).encode(
        x=alt.X("usd_per_month:Q", scale=x_scale), text="label:N")
    return (bars + rules + text).properties(width=440, height=260,
                                            title=f"{api_model} prices: monthly bill by reading of a turn")


def price_per_token_chart(curves, refs, points, *, gpu: str) -> alt.LayerChart:
    """Self-hosted price per token against the GPU price (log y axis): a curve per throughput, dashed
    reference prices, and a dot per dated GPU price.

    Parameters
    ----------
    curves : pandas.DataFrame
        :func:`model.economics.readings.price_curves` rows.
    refs : pandas.DataFrame
        ``usd_per_million_tokens`` (USD per 1M tokens) and ``label`` of each reference price.
    points : pandas.DataFrame
        Dated price rows: ``usd_per_gpu_hour``, ``usd_per_million_tokens``, ``label``, ``gpu``, ``date``.
    gpu : str
        The GPU, named in the title.

    Returns
    -------
    altair.LayerChart, 500 × 300 px.
    """
    chart = (
        alt.Chart(curves).mark_line().encode(
            x=alt.X("usd_per_gpu_hour:Q", title="GPU price (USD per GPU-hour)"),
            y=alt.Y("usd_per_million_tokens:Q", scale=alt.Scale(type="log"),
                    title="self-hosted USD per 1M tokens processed (log)"),
            color=alt.Color("throughput:N", title=None, legend=alt.Legend(orient="bottom", columns=1, labelLimit=520)))
        + alt.Chart(refs).mark_rule(strokeDash=[4, 3], color="black").encode(y="usd_per_million_tokens:Q")
        + alt.Chart(refs).mark_text(align="left", x=5, dy=-6).encode(y="usd_per_million_tokens:Q", text="label:N")
        + alt.Chart(points).mark_point(filled=True, color="black").encode(
            x="usd_per_gpu_hour:Q", y="usd_per_million_tokens:Q",
            tooltip=["label", "gpu", "date", alt.Tooltip("usd_per_gpu_hour:Q", format="$.2f")])
    )
    return chart.properties(width=500, height=300,
                            title=f"Price per token vs. GPU price (dots: dated {gpu} price rows)")


def error_strips(long) -> alt.FacetChart:
    """The validation errors as dots, one row of panels per grouping (phase, GPU, precision, engine), a
    colour per metric, the x axis clipped at ±100%.

    Parameters
    ----------
    long : pandas.DataFrame
        ``dimension, group, error_pct`` (%), ``metric, point`` (:func:`model.serving.accuracy_readings.errors_long`).

    Returns
    -------
    altair.FacetChart, 760 px wide, 18 px per group.
    """
    return alt.Chart(long).mark_circle(size=28, opacity=0.55).encode(
        x=alt.X("error_pct:Q", title="error of the model, % (predicted ÷ measured − 1; clipped at ±100%)",
                scale=alt.Scale(domain=[-100, 100], clamp=True)),
        y=alt.Y("group:N", title=None), color=alt.Color("metric:N", title="metric"),
        tooltip=["point:N", alt.Tooltip("error_pct:Q", format=".1f")],
    ).properties(width=760, height=alt.Step(18)).facet(
        row=alt.Row("dimension:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left"))
    ).resolve_scale(y="independent").properties(title="Validation points: error by phase, GPU, precision and engine")


def speedup_chart(lines, points, ticks: Sequence[int], title: str) -> alt.LayerChart:
    """Decode speed-up over FP16 against the batch (log 2 axis): a bound line per weight width, the published
    measurements as hollow points shaped by GPU, and a dashed rule at 1× (no gain).

    Parameters
    ----------
    lines : pandas.DataFrame
        ``weights, batch, speedup_bound`` (:func:`model.quantization.readings.bound_lines`).
    points : pandas.DataFrame
        ``weights, batch, speedup, gpu, model, method`` (:func:`model.quantization.readings.measured_points`).
    ticks : sequence of int
        The batch axis ticks (sequences).
    title : str
        The chart title.

    Returns
    -------
    altair.LayerChart, 600 × 320 px.
    """
    import pandas as pd

    domain = ["8-bit (INT8, FP8)", "4-bit (INT4)"]
    domain += [w for w in dict.fromkeys(lines["weights"]) if w not in domain]  # e.g. FP4 when the chapter asks for it
    colour = alt.Color("weights:N", title="weights", scale=alt.Scale(domain=domain))
    x = alt.X("batch:Q", scale=alt.Scale(type="log", base=2), axis=alt.Axis(values=ticks, format="~g"),
              title="sequences per decode step (batch, log scale)")
    y = alt.Y("speedup_bound:Q", title="decode speed-up over FP16 (×)")
    bound = alt.Chart(lines).mark_line(point=True).encode(
        x=x, y=y, color=colour,
        tooltip=["weights", "batch", alt.Tooltip("speedup_bound:Q", format=".2f", title="bound (×)")])
    measured = alt.Chart(points).mark_point(size=70, filled=False, strokeWidth=1.5).encode(
        x=x, y=alt.Y("speedup:Q"), color=colour,
        shape=alt.Shape("gpu:N", title="measured on"),
        tooltip=["model", "gpu", "method", "batch", alt.Tooltip("speedup:Q", format=".2f", title="measured (×)")])
    no_gain = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    return alt.layer(no_gain, bound, measured).properties(width=600, height=320, title=title)


#: Units of the audit that are not written after a figure (a count is a bare number; text has no value).
_BARE_UNITS = ("count", "text", "")


def _figure(value, unit: str) -> str:
    from model.book.tables import format_number

    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = format_number(value, 4)
    if unit in _BARE_UNITS:
        return text
    return f"{text}{unit}" if unit == "%" else f"{text} {unit}"


def compact_audit(audit_table, judged=None) -> "pd.DataFrame":
    """A chapter's audit table (``<module>.table()``) in six columns that fit a page at 1,300 px: the figure
    (column and row of the source), stated and computed with their unit (thousands separators, no scientific
    notation), the difference in %, the verdict, and what it was judged against with the reason.

    ``judged``: what each row's stated figure was judged against, in the table's order (the "judged
    against" column of ``model.audit.verdicts.format_audit``); empty strings or ``None`` for none.

    Returns a DataFrame of strings, for :func:`model.book.tables.show_table`."""
    import pandas as pd

    judged_list = [""] * len(audit_table) if judged is None else ["" if j is None else str(j) for j in judged]
    if len(judged_list) != len(audit_table):
        raise ValueError(f"compact_audit: judged has {len(judged_list)} entries for {len(audit_table)} audit rows")
    rows = []
    for (_, r), judged in zip(audit_table.iterrows(), judged_list):
        rel = r["relative_difference"]
        rows.append({
            "figure": f"{r['column']} ({r['row']})",
            "stated": _figure(r["stated_value"], r["unit"]),
            "computed": _figure(r["computed_value"], r["unit"]),
            "difference": "—" if pd.isna(rel) or not math.isfinite(rel) else f"{100 * rel:+.1f}%".replace("-", "−"),
            "verdict": r["verdict"],
            "judged against, and why": f"{judged}: {r['reason']}" if judged else r["reason"],
        })
    return pd.DataFrame(rows, columns=["figure", "stated", "computed", "difference", "verdict",
                                       "judged against, and why"])


def write_bundle(path: str) -> None:
    """Write the Vega + Vega-Lite + vega-embed JavaScript bundle (globals ``vegaEmbed``, ``vega``,
    ``vegaLite``) wrapped in a function scope so that it can be loaded by a plain ``<script>`` tag."""
    bundle = vlc.javascript_bundle()
    atomic_write_text(path, "(function(){\n" + bundle + "\n})();\n")


@entry
def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m model.book.charts", description="The book's offline charts.")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("bundle", help="write the Vega bundle the pages load (from the installed vl-convert)")
    b.add_argument("path", metavar="PATH", help="file to write (e.g. book/_static/vega-bundle.js)")
    args = parser.parse_args(argv)
    write_bundle(args.path)
    return 0


# ======================================================================================================
# The persona and memory chapter (notebooks/persona_memory.ipynb)
# ======================================================================================================

def persona_cost_chart(costs, *, tokens_before: int, tokens_after: int) -> alt.Chart:
    """Points of the persona's monthly cost (USD per month, log scale) per price basis and volume, the
    persona of ``tokens_before`` and of ``tokens_after`` tokens told apart by shape.

    ``costs`` is :func:`model.workload.persona_cost_table`'s table."""
    points = costs.melt(id_vars=["basis", "volume"], value_vars=["usd_per_month_before", "usd_per_month_after"],
                        var_name="persona", value_name="usd_per_month")
    points["persona"] = points["persona"].map({"usd_per_month_before": f"{tokens_before:,} tokens (before)",
                                               "usd_per_month_after": f"{tokens_after:,} tokens (after)"})
    ticks = log_ticks(points["usd_per_month"].min(), points["usd_per_month"].max(), steps=(1, 3))
    return alt.Chart(points).mark_point(size=90, filled=True).encode(
        x=alt.X("usd_per_month:Q", scale=alt.Scale(type="log"), axis=alt.Axis(values=ticks, format="$,.2~s"),
                title="persona cost (USD per month, log scale)"),
        y=alt.Y("basis:N", title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("volume:N", title="volume", legend=alt.Legend(orient="bottom", columns=1, labelLimit=400)),
        shape=alt.Shape("persona:N", title="persona", legend=alt.Legend(orient="bottom", columns=1)),
        yOffset=alt.YOffset("volume:N"),
        tooltip=["basis", "volume", "persona", alt.Tooltip("usd_per_month:Q", format="$,.3s", title="USD per month")],
    ).properties(width=460, height=220,
                 title=f"Persona cost a month, {tokens_before:,} and {tokens_after:,} tokens with every request")


# ======================================================================================================
# The fleet chapter (notebooks/fleet.ipynb): the latency sweep of one replica and the round trips by group.
# ======================================================================================================

def latency_sweep_chart(sweep, latency_metrics: Sequence[str], reading_names: dict, *, target_s: float,
                        replica_gpus: int, model: str, gpu: str, prompt_tokens: int,
                        reply_tokens: int) -> alt.LayerChart:
    """P95 latency (s, log) of each reading against the load offered to one replica (requests/s), with the
    target (dashed)."""
    curves = sweep.melt(id_vars=["rate_per_s"], value_vars=list(dict.fromkeys(latency_metrics)),
                        var_name="latency", value_name="seconds")
    curves["latency"] = curves["latency"].map(lambda m: reading_names.get(m, m))
    return (
        alt.Chart(curves).mark_line(point=True).encode(
            x=alt.X("rate_per_s:Q", title=f"load offered to one {replica_gpus}-GPU replica (requests/s)"),
            y=alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="P95 latency (s, log)"),
            color=alt.Color("latency:N", title=None, legend=alt.Legend(orient="bottom")))
        + alt.Chart(pd.DataFrame({"y": [target_s]})).mark_rule(strokeDash=[4, 3], color="black").encode(y="y:Q")
    ).properties(width=500, height=260, title=f"{model} on {replica_gpus} x {gpu}: {prompt_tokens}-token prompts, "
                                              f"{reply_tokens}-token replies")


def round_trip_chart(rtt, stated, groups: Sequence[str], home_region: str) -> alt.LayerChart:
    """P95 round trips (ms) from ``home_region`` to each Azure region (ticks) by user group, with the stated
    figure of each group (diamond)."""
    return (
        alt.Chart(rtt).mark_tick(thickness=2, size=18).encode(
            x=alt.X("rtt_p95_ms:Q", title=f"P95 round-trip time from {home_region} (ms)"),
            y=alt.Y("destination_group:N", title=None, sort=list(groups)),
            tooltip=["destination_region", "rtt_p95_ms"])
        + alt.Chart(stated).mark_point(shape="diamond", size=140, filled=True, color="#e15759").encode(
            x="stated_ms:Q", y=alt.Y("destination_group:N", sort=list(groups)),
            tooltip=[alt.Tooltip("stated_ms:Q", title="stated (T6)")])
    ).properties(width=480, height=200, title="Azure regions (ticks) vs. the case study's figure (diamond)")


# ======================================================================================================
# The tier-configuration chapter (kareto)
# ======================================================================================================

def padded_domain(values, share: float = 0.08) -> list[float]:
    """An axis domain around the data: [min, max] widened by ``share`` of the range on each side.

    Parameters
    ----------
    values : array-like of float
        The plotted values (any unit; NaN ignored).
    share : float
        Padding as a share of the range (of max(|max|, 1) when all values are equal).

    Returns
    -------
    list of float
        ``[low, high]`` in the unit of ``values``.
    """
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    pad = share * (hi - lo) if hi > lo else share * max(abs(hi), 1.0)
    return [lo - pad, hi + pad]


def kareto_frontier_chart(mc, base_row, axes: Sequence[str]) -> alt.LayerChart:
    """Every feasible configuration of a trace: cost per million prompt tokens (USD) against throughput at
    the P95 TTFT target (requests/s), coloured by P95 TTFT (s); frontier points ringed, the baseline a red cross.

    Parameters
    ----------
    mc : pandas.DataFrame
        Feasible grid rows with ``throughput_at_slo_rps``, ``usd_per_million_tokens``, ``ttft_p95_s``,
        ``hit_ratio``, ``on_frontier`` and the capacity columns ``axes`` (GB).
    base_row : pandas.DataFrame
        The baseline's one row (configuration and evaluation, with ``feasible``).
    axes : sequence of str
        The capacity columns (GB) shown in the tooltips.
    """
    x = padded_domain(mc["throughput_at_slo_rps"]) if len(mc) else [0, 1]
    y = padded_domain(mc["usd_per_million_tokens"]) if len(mc) else [0, 1]
    points = alt.Chart(mc).mark_point(filled=True, size=50, opacity=0.75).encode(
        x=alt.X("throughput_at_slo_rps:Q", title="throughput at the P95 TTFT target (requests/s)",
                scale=alt.Scale(domain=x, zero=False, nice=False)),
        y=alt.Y("usd_per_million_tokens:Q", title="cost (USD per 1M prompt tokens)", axis=alt.Axis(format="$,.2f"),
                scale=alt.Scale(domain=y, zero=False, nice=False)),
        color=alt.Color("ttft_p95_s:Q", title="P95 TTFT (s)", scale=alt.Scale(scheme="viridis", reverse=True)),
        tooltip=[alt.Tooltip(a, title=f"{a} (GB)", format=",") for a in axes]
                + [alt.Tooltip("usd_per_million_tokens", title="USD per 1M prompt tokens", format="$.3f"),
                   alt.Tooltip("throughput_at_slo_rps", title="throughput (requests/s)", format=".3g"),
                   alt.Tooltip("ttft_p95_s", title="P95 TTFT (s)", format=".3g"),
                   alt.Tooltip("hit_ratio", title="hit ratio", format=".1%")])
    ring = alt.Chart(mc[mc.on_frontier]).mark_point(size=120, color="black").encode(
        x="throughput_at_slo_rps:Q", y="usd_per_million_tokens:Q")
    base_point = alt.Chart(base_row[base_row.feasible]).mark_point(
        shape="cross", size=300, color="red", filled=True).encode(
        x="throughput_at_slo_rps:Q", y="usd_per_million_tokens:Q", tooltip=axes)
    return (points + ring + base_point).properties(width=600, height=360, title=alt.Title(
        "Mooncake conversation trace: every feasible configuration",
        subtitle="black ring: on the frontier; red cross: the baseline (axes fitted to the data, not from zero)"))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
