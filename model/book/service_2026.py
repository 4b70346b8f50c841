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


def memory_sentence(now: pd.DataFrame) -> str:
    """Whether holding every session's KV cache in HBM or serving the turns at the targets sets each case's
    fleet: ``now`` rows of :func:`model.scenarios.service_table` (``serve_gpus``, ``hold_gpus``,
    ``model_name``)."""
    held = now[now["serve_gpus"] <= now["hold_gpus"]]
    if len(held) == 0:
        return ("In every case the planner needs more GPUs to serve the turns at the latency targets than to hold "
                "every session's KV cache: the step time (active parameters per token and the bytes a decode step "
                "reads) sets the fleet, not memory.")
    if len(held) == len(now):
        return ("In every case holding every session's KV cache in HBM would take more GPUs than the planner needs "
                "to serve the turns at the latency targets; the planner keeps only the running sequences and its "
                "prefix cache in HBM, so where a session's KV lives between turns, not the step time, is what the "
                "memory columns price.")
    return (f"In {len(held)} of {len(now)} cases (the models among them: "
            + ", ".join(dict.fromkeys(held["model_name"])) + ") holding every session's KV cache in HBM would take "
            "more GPUs than the planner needs to serve the turns, which keeps only running sequences and its prefix "
            "cache there; in the others the step time at the latency targets sets the fleet.")


def characterai_texts(cai: dict, same_size: dict, plan: dict, qps_plan: dict, *, context_tokens: int,
                      sessions: int, dtype: str, gpu: str, qps: float, usd_per_gpu_hour: float, target: float,
                      cache_hit_share: float, history_window_tokens: float, prompt_tokens: int, reply_tokens: int,
                      turns_per_session: float, session_minutes: float, hours_per_month: float) -> dict[str, str]:
    """The glued sentences of the Character.AI section, by glue name.

    Parameters
    ----------
    cai, same_size : dict
        :func:`model.scenarios.case_row` of the architecture the post describes and of a dense GQA model of the
        same depth and width (``kv_gb_per_session`` GB, ``sessions_per_gpu``, ``serve_gpus``,
        ``usd_per_million_tokens``).
    plan, qps_plan : dict
        The planner's plans of the service and of the published queries per second (``gpus``, ``prefill_gpus``,
        ``decode_gpus``, ``usd_per_month``, ``inputs``, ``cache``).
    target : float
        The published inter-turn cache hit rate, a share.
    hours_per_month : float
        Hours in the month the plan prices (:func:`model.calendar.hours_per_month`).
    """
    g = gpu.upper()
    ratio = same_size["kv_gb_per_session"] / cai["kv_gb_per_session"]
    cache = plan["cache"]
    hit = hit_rate_text(cache["ideal_hit_ratio"], target)
    sessions_in_progress = qps_plan["inputs"]["sessions"]
    return {
        "find_cai": f"The architecture Character.AI describes holds {1e3 * cai['kv_gb_per_session']:.1f} MB per "
                    f"{context_tokens:,}-token session in {dtype.upper()}, {ratio:,.0f} times less than a dense GQA "
                    f"model of the same size; it serves the {sessions:,} sessions on {cai['serve_gpus']:,} {g} GPUs, "
                    f"and its published {qps:,.0f} queries per second on {qps_plan['gpus']:,}.",
        "cai_kv_sentence": f"At {context_tokens:,} tokens a session holds {1e3 * cai['kv_gb_per_session']:.1f} MB of "
                           f"KV cache in {dtype.upper()}, {ratio:,.0f} times less than Llama 3 70B of the same depth "
                           f"and width in the same format ({same_size['kv_gb_per_session']:.2f} GB), so one {g} "
                           f"holds {cai['sessions_per_gpu']:,.0f} sessions beside the weights against "
                           f"{same_size['sessions_per_gpu']:,.1f}.",
        "cai_plan_sentence": f"For the {sessions:,}-session service the planner buys {cai['serve_gpus']:,} {g} GPUs "
                             f"(${cai['usd_per_million_tokens']:.3f} per million tokens) against "
                             f"{same_size['serve_gpus']:,} for Llama 3 70B in the same format: the cache shrinks "
                             f"{ratio:,.0f}-fold but the fleet only "
                             f"{same_size['serve_gpus'] / cai['serve_gpus']:.2f}-fold, because the weights, not the "
                             f"KV cache, dominate what a decode step reads once sessions are this small.",
        "find_hit": f"The study's chat workload {hit}, against the {100 * target:.0f}% inter-turn cache rate "
                    f"Character.AI reports.",
        "cai_hit_sentence": hit,
        "cai_hit_memory": f"sized for {100 * cache_hit_share:.0f}% of that ideal, a node's cache is "
                          f"{cache['node']['hbm_gb']:.1f} GB of HBM, {cache['node']['dram_gb']:.1f} GB of DRAM and "
                          f"{cache['node']['ssd_gb']:.1f} GB of SSD; the trace's prompts keep a "
                          f"{history_window_tokens:,.0f}-token history and drop the oldest turns whole, so a turn's "
                          f"history prefix changes once the window is full",
        "cai_qps_sentence": f"At the published {qps:,.0f} queries per second, with the case study's turn of "
                            f"{prompt_tokens:,} prompt and {reply_tokens:,} reply tokens, the plan needs "
                            f"{qps_plan['gpus']:,} {g} GPUs ({qps_plan['prefill_gpus']:,} prefill, "
                            f"{qps_plan['decode_gpus']:,} decode) for ${qps_plan['usd_per_month'] / 1e6:,.1f}M a "
                            f"month at ${usd_per_gpu_hour:.2f} per GPU-hour; that is "
                            f"${qps_plan['usd_per_month'] / (sessions_in_progress * hours_per_month):.3f} per hour "
                            f"of conversation for each of the {sessions_in_progress:,.0f} sessions in progress "
                            f"(Little's law, {turns_per_session:g} turns in {session_minutes:g} minutes).",
    }


def deepseek_texts(day, plan: dict, comparison: pd.DataFrame, gaps: dict, *, gpu: str, error: float) -> dict[str, str]:
    """The glued figures and sentences of the DeepSeek section, by glue name.

    Parameters
    ----------
    day : model.scenarios.PublishedDay
        The published day.
    plan : dict
        The planner's disaggregated plan of that day (:func:`model.scenarios.plan_published_day`).
    comparison : pandas.DataFrame
        :func:`model.scenarios.fleet_comparison` of the day and the plan (item, published, plan,
        plan_over_published_x).
    gaps : dict
        :func:`model.scenarios.deepseek_gaps` of the day and the plan.
    gpu : str
        The GPU planned on.
    error : float
        The step-time model's validated error the gaps are judged against, a share.
    """
    g = gpu.upper()
    by = comparison.set_index("item")
    pre, dec = plan["serving"]["prefill"], plan["serving"]["decode"]
    x = by["plan_over_published_x"]
    pre_speed_x = gaps["prefill_node_tokens_per_s"] / gaps["published_prefill_node_tokens_per_s"]
    comm_what = "the all-to-all between nodes" if dec["nodes"] > 1 else "the collectives between GPUs"
    cached = plan["serving"]["cached_prompt_tokens"] / day.prompt_tokens
    cache_gb = plan["hbm_gb_per_node"] + plan["dram_gb_per_node"] + plan["ssd_gb_per_node"]
    return {
        "ds_node_gpus": f"{day.node_gpus}",
        "ds_hit": f"{math.floor(1000 * day.cache_hit_share + 0.5) / 10:.1f}%",
        "ds_kv_len": f"{day.kv_tokens_per_output_token:,.0f}",
        "ds_nodes": f"{day.mean_nodes:,.2f}",
        "ds_peak": f"{day.peak_nodes:,.0f}",
        "ds_price": f"${day.usd_per_gpu_hour:g}",
        "ds_prompt": f"{day.prompt_tokens:,}",
        "ds_reply": f"{day.reply_tokens:,}",
        "ds_rate": f"{day.requests_per_s:,.0f}",
        "ds_tpot": f"{day.tpot_s:g}",
        "ds_gpu": g,
        "ds_pre_shape": replica_shape(pre),
        "ds_dec_shape": replica_shape(dec),
        "ds_comm_what": "the collectives of a replica that spans nodes (the all-to-all over the NICs)"
                        if dec["nodes"] > 1 else "the collectives of the replica's GPUs (over NVLink)",
        "find_deepseek": f"Fed DeepSeek's published day on {g}, the planner buys {by.loc['nodes', 'plan']:,.0f} nodes "
                         f"against DeepSeek's {day.mean_nodes:,.2f} ({x['nodes']:.2f}×): its prefill node computes "
                         f"{gaps['prefill_node_tokens_per_s'] / 1e3:,.1f}K prompt tokens/s against DeepSeek's "
                         f"{gaps['published_prefill_node_tokens_per_s'] / 1e3:,.1f}K, "
                         f"{gap_text(pre_speed_x, error)} the step-time model's validated error "
                         f"({100 * error:.0f}%); the plan's own choices add nodes — hot spares, a prefill queue kept "
                         f"short enough for a P95 TTFT and a smaller cache — and so does, in decode, {comm_what}, "
                         f"which the step-time model adds to the computation and DeepSeek hides behind it.",
        "ds_err": f"{100 * error:.0f}%",
        "ds_prefill_gap": gap_text(x["prefill nodes"], error),
        "ds_decode_gap": gap_text(x["decode nodes"], error),
        "ds_spares": f"{100 * (gaps['spares_x'] - 1):.0f}%",
        "ds_rho": f"{100 * gaps['prefill_busy']:.0f}%",
        "ds_work_x": f"{gaps['work_x']:.2f}",
        "ds_pre_speed": f"{gaps['prefill_node_tokens_per_s'] / 1e3:,.1f}K",
        "ds_their_pre_speed": f"{gaps['published_prefill_node_tokens_per_s'] / 1e3:,.1f}K",
        "ds_pre_speed_gap": gap_text(pre_speed_x, error),
        "ds_dec_speed": f"{gaps['decode_node_tokens_per_s'] / 1e3:,.1f}K",
        "ds_their_dec_speed": f"{gaps['published_decode_node_tokens_per_s'] / 1e3:,.1f}K",
        "ds_batch": f"{gaps['decode_batch_per_gpu']:,.0f}",
        "ds_their_batch": f"{gaps['published_batch_per_gpu']:,.0f}",
        "ds_cached": f"{100 * cached:.0f}%",
        "ds_disk": "none of it on disk" if plan["ssd_gb_per_node"] <= 0
                   else f"{plan['ssd_gb_per_node']:,.1f} GB of it on SSD",
        "ds_cache_gb": f"{cache_gb:,.1f}",
        "ds_cost_x": f"{x['GPU cost, USD/day']:.2f}",
        "ds_mean_step": f"{1e3 * gaps['decode_mean_step_s']:.1f} ms",
        "ds_tpot_p95": f"{1e3 * gaps['decode_tpot_p95_s']:.1f} ms",
        "ds_comm_share": f"{100 * gaps['decode_communication_share']:.0f}%",
        "ds_dec_hidden": f"{gaps['decode_node_tokens_per_s_hidden'] / 1e3:,.1f}K",
        "ds_hidden_verdict": "more than closes the gap" if gaps["decode_node_tokens_per_s_hidden"]
                             >= gaps["published_decode_node_tokens_per_s"] else "narrows the gap without closing it",
    }


def setting_texts(service, *, sessions: int, context_tokens: int, weight_dtype: str, kv_dtype: str,
                  priceless: list[str]) -> dict[str, str]:
    """The glued figures of the chapter's setting, by glue name: ``service`` (a
    :class:`model.plan.inputs.PlanInputs`: prompt and reply tokens, P95 targets, the cache's share of the ideal hit
    ratio), the sessions and history compared, the number formats, and the GPUs without a published price."""
    return {
        "sessions_n": f"{sessions:,}",
        "context_n": f"{context_tokens:,}",
        "prompt_n": f"{service.prompt_tokens:,}",
        "reply_n": f"{service.reply_tokens:,}",
        "ttft": f"{service.ttft_p95_s:g}",
        "tpot": f"{service.tpot_p95_s:g}",
        "kv_dtype": kv_dtype.upper(),
        "hit_share": f"{100 * service.cache_hit_share:.0f}%",
        "weight_rule": "in FP4 where the GPU has FP4 tensor cores, FP8 elsewhere" if weight_dtype == "auto"
                       else f"in {weight_dtype.upper()}",
        "priceless": priceless_text(priceless),
    }
