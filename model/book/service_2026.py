"""The chart and sentences of the chapter "The same service in 2026" (tables come from :mod:`model.scenarios`)."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd

from model.book.charts import SCHEME


def cost_chart(table: pd.DataFrame, *, baseline_usd_per_million: float, baseline_label: str,
               sessions: int) -> alt.LayerChart:
    """$/M tokens of every case, a bar per model and GPU (log x axis), with the 2023 answer as a dashed rule.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`model.scenarios.service_table` rows with a finite ``usd_per_million_tokens`` (USD per million
        tokens): ``model_name``, ``gpu``, ``weight_dtype``, ``serve_gpus``.
    baseline_usd_per_million : float
        The 2023 case's USD per million tokens.
    baseline_label : str
        Its label, shown beside the rule.
    sessions : int
        Concurrent sessions of the service, named in the title.

    Returns
    -------
    altair.LayerChart, 600 px wide, 28 px per bar row.
    """
    data = table.assign(case=table["model_name"] + " · " + table["gpu"].str.upper() + " " +
                        table["weight_dtype"].str.upper())
    low = min(data["usd_per_million_tokens"].min(), baseline_usd_per_million)
    high = max(data["usd_per_million_tokens"].max(), baseline_usd_per_million)
    scale = alt.Scale(type="log", domain=[low / 1.5, high * 1.5])
    # on a log axis a bar starts at the axis' low end, not at zero
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("usd_per_million_tokens:Q", scale=scale, title="USD per million tokens (log scale)",
                axis=alt.Axis(format="$.2~g")),
        x2=alt.datum(low / 1.5),
        y=alt.Y("case:N", sort="x", title=None, axis=alt.Axis(labelLimit=360)),
        color=alt.Color("gpu:N", title="GPU", scale=alt.Scale(scheme=SCHEME)),
        tooltip=[alt.Tooltip("model_name:N", title="model"), alt.Tooltip("gpu:N", title="GPU"),
                 alt.Tooltip("usd_per_million_tokens:Q", format="$.3f", title="USD per million tokens"),
                 alt.Tooltip("serve_gpus:Q", format=",", title="GPUs to serve")])
    rule_data = pd.DataFrame({"x": [baseline_usd_per_million], "label": [baseline_label]})
    rule = alt.Chart(rule_data).mark_rule(strokeDash=[6, 4], color="black").encode(x=alt.X("x:Q", scale=scale))
    text = alt.Chart(rule_data).mark_text(align="right", dx=-4, dy=-6, baseline="bottom").encode(
        x=alt.X("x:Q", scale=scale), y=alt.value(0), text="label:N")
    return alt.layer(bars, rule, text).properties(
        width=600, height=max(120, 28 * len(data)),
        title=f"Cost per million tokens of the same {sessions:,}-session service")


def cheapest_text(row: pd.Series) -> str:
    """'<model> on <GPU> (<weights> weights)' for a table row."""
    return f"{row['model_name']} on {row['gpu'].upper()} ({row['weight_dtype'].upper()} weights)"


def versus_2023_text(now: float, then: float) -> str:
    """How a 2026 figure stands to the 2023 one, as a reader says it ('×1/12 of', '+20% over')."""
    if not (math.isfinite(now) and math.isfinite(then)) or then <= 0:
        return "not comparable with"
    r = now / then
    if abs(r - 1) < 0.05:
        return "about the same as"
    return f"{1 / r:.1f} times less than" if r < 1 else f"{r:.1f} times more than"


def priceless_text(gpus: list[str]) -> str:
    """The sentence for GPUs without a published price ('' when every GPU has one)."""
    if not gpus:
        return "Every GPU compared has a published price."
    names = ", ".join(g.upper() for g in gpus)
    return (f"{names} {'has' if len(gpus) == 1 else 'have'} no published price (data/prices): "
            "GPUs and cache are sized, cost columns are left empty.")


def hit_rate_text(ideal: float, target: float) -> str:
    """Whether the study's chat workload can reach ``target`` inter-turn hit ratio with any memory."""
    if ideal >= target:
        return (f"reaches {100 * target:.0f}%: even an unbounded cache hits {100 * ideal:.1f}% of the prompt "
                "blocks")
    return (f"does not reach {100 * target:.0f}% with any memory: an unbounded cache hits only "
            f"{100 * ideal:.1f}% of the prompt blocks")


def gap_text(ratio: float, error: float) -> str:
    """'within' or 'beyond' the validated error, for a plan / published ratio."""
    if not math.isfinite(ratio):
        return "not planned separately"
    return "within" if abs(ratio - 1) <= error else "beyond"


def _mb_or_gb(gb: float) -> str:
    return f"{1e3 * gb:,.0f} MB" if gb < 1 else f"{gb:.2f} GB"


def replica_shape(pool: dict) -> str:
    """How a plan's pool builds a replica: ``"2 nodes (EP 16)"`` when experts are spread, else
    ``"tensor-parallel groups of 8 GPUs"``."""
    if pool["ep"] > 1:
        return f"{pool['nodes']} node{'s' if pool['nodes'] > 1 else ''} (EP {pool['ep']})"
    return f"tensor-parallel groups of {pool['tp']} GPUs"


def kv_finding(now: pd.DataFrame, base: pd.Series, *, context_tokens: int, kv_dtype: str) -> str:
    """The finding on KV per session: the smallest and largest of ``now`` (one model: its figure) against
    ``base`` (the 2023 row)."""
    low, high = now.loc[now["kv_gb_per_session"].idxmin()], now.loc[now["kv_gb_per_session"].idxmax()]
    head = f"A {context_tokens:,}-token session holds {_mb_or_gb(low['kv_gb_per_session'])} of KV cache with " \
           f"{low['model_name']}"
    if high["model_name"] != low["model_name"]:
        head += f" and {_mb_or_gb(high['kv_gb_per_session'])} with {high['model_name']}"
    return (f"{head} ({kv_dtype.upper()}), against {_mb_or_gb(base['kv_gb_per_session'])} for "
            f"{base['model_name']} in {base['kv_dtype'].upper()}: the attention layout and the number format, not "
            f"the parameter count, set the memory a session holds.")


def cost_finding(priced: pd.DataFrame, base: pd.Series) -> str:
    """The finding on cost: the cheapest (and dearest, when several) priced case against the 2023 row."""
    if priced.empty:
        return "No GPU compared has a published price: the table sizes GPUs and cache only."
    best = priced.loc[priced["usd_per_million_tokens"].idxmin()]
    worst = priced.loc[priced["usd_per_million_tokens"].idxmax()]
    text = (f"{'The cheapest case, ' if len(priced) > 1 else ''}{cheapest_text(best)}"
            f"{',' if len(priced) > 1 else ''} serves the service with {best['serve_gpus']:,} GPUs for "
            f"${best['usd_per_month'] / 1e6:,.1f}M a month (${best['usd_per_million_tokens']:.3f} per million "
            f"tokens), {versus_2023_text(best['usd_per_million_tokens'], base['usd_per_million_tokens'])} the "
            f"${base['usd_per_million_tokens']:.3f} the same planner computes for {base['model_name']} on "
            f"{base['gpu'].upper()}")
    if len(priced) > 1:
        text += f"; the dearest, {cheapest_text(worst)}, costs ${worst['usd_per_million_tokens']:.3f}"
    return text + "."
