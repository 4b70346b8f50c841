"""The chapter "Plan your own service": the sentences, the one table and the what-if chart of several services'
plans (:func:`model.plan.compose.make_plan`) side by side. Sentences are built here, never in the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import altair as alt
import pandas as pd

from model.book.build import NOTEBOOK_DIR, parameter_defaults
from model.book.sliders import slider, what_if
from model.book.tables import Col
from model.calendar import hours_per_month
from model.checks import ParameterError, check_positive
from model.economics.fleet_sizing import fleet_sizing_table, replica_load_sweep
from model.economics.token_cost import modelled_tokens_per_s_per_gpu, self_hosted_usd_per_million_tokens
from model.parameters import default
from model.plan.compose import make_plan, serving_setup
from model.plan.cost import SECONDS_PER_HOUR
from model.plan.inputs import PlanInputs
from model.plan.serving import prefill_service_s
from model.plan.services import check_services
from model.plan.what_if import rate_column
from model.serving.step_time import deployment
from model.tiering import default_config

#: Requests/s an unreachable replica option carries in the page's rows: its GPU count (demand ÷ rate) comes out
#: astronomically large, so it is never the smallest, and the page needs no conditional expression.
UNREACHABLE_RATE = 1e-12
#: The what-if's cost axis reaches this multiple of the dearest plan on the slider, leaving room for the labels.
LABEL_ROOM = 1.9


#: Tensor-parallel degrees the page's rows carry (the planner tries 1, 2, 4 … up to ``plan_tp_options_max``).
TP_OPTIONS = tuple(2 ** k for k in range(int(default("plan_tp_options_max")).bit_length()))


def _on_grid(name: str, step: float, high: float) -> list[float]:
    """step, 2·step, … up to ``high``, which must hold 1 (the services' own setting)."""
    check_positive(name + "_step", step)
    check_positive(name + "_max", high)
    k = 1.0 / step
    # a step of 1e9 or more makes k round to 0, a "whole number" of no step at all: the grid would be empty
    if round(k) < 1 or abs(k - round(k)) > 1e-9:
        raise ParameterError(name + "_step", step, "1 divided by a whole number (0.5, 0.25, 0.1 …): the slider "
                                                   "must pass through each service's own setting")
    if high < 1.0:
        raise ParameterError(name + "_max", high, ">= 1 (each service's own setting)")
    n = int(math.floor(high / step + 1e-9))
    return [round(j * step, 12) for j in range(1, n + 1)]


def factor_grid(step: float, high: float) -> list[float]:
    """The P95 TTFT multiples of the what-if: step, 2·step, … up to ``high`` (see :func:`check_plan_chapter`)."""
    return _on_grid("ttft_factor", step, high)


def check_plan_chapter(*, services, model, gpu, gpu_provider, gpu_pricing, usd_per_gpu_hour, ttft_factor_step,
                       ttft_factor_max, sessions_factor_step, sessions_factor_max) -> None:
    """The chapter's parameters, each refused with one line naming it (the model, GPU and prices are checked
    by the plans themselves, :func:`model.plan.services.plan_services`).

    Raises
    ------
    ParameterError
        naming the parameter: ``services`` not a non-empty list of distinct services of the table; a slider whose
        step does not divide 1 or whose end is below 1; more TTFT targets than ``plan_what_if_max_points``.
    """
    from model.architectures import available_models
    from model.hardware import available_gpus

    check_services(services)
    if model not in available_models():
        raise ParameterError("model", model, "one of " + ", ".join(available_models()))
    if gpu not in available_gpus():
        raise ParameterError("gpu", gpu, "one of " + ", ".join(available_gpus()))
    if usd_per_gpu_hour is not None:
        check_positive("usd_per_gpu_hour", usd_per_gpu_hour)
    most = int(default("plan_what_if_max_points"))
    if len(factor_grid(ttft_factor_step, ttft_factor_max)) > most:
        raise ParameterError("ttft_factor_max", ttft_factor_max,
                             f"<= {most} x ttft_factor_step ({most * ttft_factor_step:g}): at most {most} targets "
                             f"on the slider (plan_what_if_max_points)")
    _on_grid("sessions_factor", sessions_factor_step, sessions_factor_max)


def count_words(n: int) -> str:
    """1 → "one", 2 → "two" … (digits beyond ten)."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
    return words[n] if 0 <= n < len(words) else f"{n:,}"


def service_name(service: str) -> str:
    """``coding_assistant`` → ``coding assistant``."""
    return service.replace("_", " ")


def gpus_text(n: float) -> str:
    return f"{n:,.0f} GPUs" if n != 1 else "1 GPU"


def serving_phrase(plan: dict) -> str:
    """How the plan serves, against the other way: "… as disaggregated pools (P prefill + D decode), against A
    aggregated" (GPU counts with the fleet's hot spares)."""
    s = plan["serving"]
    spares = plan["fleet"]["spare_gpus"]
    total = gpus_text(plan["gpus"]) + (f" ({spares:,} of them hot spares)" if spares else "")
    agg, dis = s["aggregated_gpus"], s["disaggregated_gpus"]
    if plan["disaggregated"]:
        other = f"against {gpus_text(agg)} aggregated" if agg is not None else "no aggregated replica meets the targets"
        return (f"{total} as disaggregated pools ({plan['prefill_gpus']:,} prefill at TP "
                f"{plan['tp']['prefill']} + {plan['decode_gpus']:,} decode at TP {plan['tp']['decode']}), {other}")
    other = f"against {gpus_text(dis)} disaggregated" if dis is not None else \
        "no prefill/decode split meets the targets"
    return f"{total} as aggregated replicas at TP {plan['tp']['aggregated']} (chunked prefill), {other}"


def _gb(x: float) -> str:
    return f"{x:,.0f} GB" if x >= 10 or x == 0 else f"{x:.2g} GB"


def cache_phrase(plan: dict) -> str:
    """Where the KV cache lives, the routing and the TTL."""
    if not plan["inputs"]["cache"]:
        return "no prefix cache, round-robin routing"
    ttl = plan["ttl_s"]
    ttl_text = f"a TTL of {ttl:,.0f} s" if ttl is not None and math.isfinite(ttl) else "no expiry"
    return (f"{_gb(plan['hbm_gb_per_node'])} of HBM, {_gb(plan['dram_gb_per_node'])} of DRAM and "
            f"{_gb(plan['ssd_gb_per_node'])} of SSD per node for the cache, {plan['routing']} routing, {ttl_text}")


def money_text(usd: float) -> str:
    """$1.23M, $456K or $789."""
    if usd >= 1e6:
        return f"${usd / 1e6:,.3g}M" if usd < 1e9 else f"${usd / 1e6:,.0f}M"
    if usd >= 1e3:
        return f"${usd / 1e3:,.3g}K"
    return f"${usd:,.0f}"


def cost_phrase(plan: dict) -> str:
    return (f"{money_text(plan['usd_per_month'])} a month, ${plan['usd_per_million_tokens']:.3g} per million "
            f"tokens, {plan['kw']:,.0f} kW ({plan['kwh_per_million_tokens']:.2g} kWh per million tokens)")


def finding(service: str, plan: dict) -> str:
    """One service's plan in one sentence."""
    return (f"{service_name(service).capitalize()} ({plan['inputs']['sessions']:,.0f} sessions): "
            f"{serving_phrase(plan)}; {cache_phrase(plan)}; {cost_phrase(plan)}.")


def names_list(names: list[str], none: str = "none of them", article: str = "") -> str:
    """``a``, ``a and b``, ``a, b and c`` (each after ``article``, e.g. "the ")."""
    names = [article + service_name(n) for n in names]
    if not names:
        return none
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- the table ---------------------------------------------------------------------------------------------------
def plans_table(plans: dict) -> pd.DataFrame:
    """One row per service: shape, serving, cache, cost and energy (raw numbers; :data:`PLAN_COLUMNS` shows them)."""
    rows = []
    for service, p in plans.items():
        i, s = p["inputs"], p["serving"]
        rows.append({"service": service_name(service), "sessions": i["sessions"],
                     "demand_requests_per_s": i["demand_requests_per_s"], "prompt_tokens": i["prompt_tokens"],
                     "reply_tokens": i["reply_tokens"], "ttft_p95_s": i["ttft_p95_s"],
                     "serving": "disaggregated" if p["disaggregated"] else "aggregated",
                     "gpus": p["gpus"], "prefill_gpus": p["prefill_gpus"], "decode_gpus": p["decode_gpus"],
                     "aggregated_gpus": s["aggregated_gpus"], "disaggregated_gpus": s["disaggregated_gpus"],
                     "cached_share": s["cached_prompt_tokens"] / i["prompt_tokens"],
                     "hbm_gb_per_node": p["hbm_gb_per_node"], "dram_gb_per_node": p["dram_gb_per_node"],
                     "ssd_gb_per_node": p["ssd_gb_per_node"], "routing": p["routing"], "ttl_s": p["ttl_s"],
                     "usd_per_month": p["usd_per_month"], "usd_per_million_tokens": p["usd_per_million_tokens"],
                     "kw": p["kw"], "kwh_per_million_tokens": p["kwh_per_million_tokens"]})
    return pd.DataFrame(rows)


PLAN_COLUMNS = {
    "service": Col("Service", kind="text"), "sessions": Col("Concurrent sessions", kind="integer"),
    "demand_requests_per_s": Col("Demand", "requests/s"), "prompt_tokens": Col("Prompt", "tokens", "integer"),
    "reply_tokens": Col("Reply", "tokens", "integer"), "ttft_p95_s": Col("P95 TTFT target", "s"),
    "serving": Col("Serving chosen", kind="text"), "gpus": Col("GPUs", kind="integer"),
    "prefill_gpus": Col("Prefill GPUs", kind="integer"), "decode_gpus": Col("Decode GPUs", kind="integer"),
    "aggregated_gpus": Col("Aggregated would need", "GPUs", "integer"),
    "disaggregated_gpus": Col("Disaggregated would need", "GPUs", "integer"),
    "cached_share": Col("Prompt served from cache", kind="percent"),
    "hbm_gb_per_node": Col("Cache in HBM per node", "GB"), "dram_gb_per_node": Col("Cache in DRAM per node", "GB"),
    "ssd_gb_per_node": Col("Cache on SSD per node", "GB"), "routing": Col("Routing", kind="text"),
    "ttl_s": Col("TTL", "s"), "usd_per_month": Col("Cost", "USD/month", "usd"),
    "usd_per_million_tokens": Col("Cost per 1M tokens", "USD", "usd"), "kw": Col("IT power", "kW"),
    "kwh_per_million_tokens": Col("Energy per 1M tokens", "kWh"),
}


# --- the what-if chart -------------------------------------------------------------------------------------------
def what_if_rows(grids: dict, plans: dict, *, tp_options) -> pd.DataFrame:
    """Inline rows of :func:`plan_what_if_chart`: each service's replica rates at each TTFT factor
    (:func:`model.plan.what_if.replica_rate_grid`) with its demand, tokens per request and GPU-month price, and
    an unreachable option's rate set to :data:`UNREACHABLE_RATE`."""
    frames = []
    for service, grid in grids.items():
        p = plans[service]
        if p["fleet"]["regions"] != 1:
            raise ParameterError("regions", p["fleet"]["regions"], "1: the page's closed form splits no fleet")
        g = grid.copy()
        cols = [rate_column(r, n) for r in ("agg", "pre", "dec") for n in tp_options]
        g[cols] = g[cols].where(g[cols] > 0, UNREACHABLE_RATE)
        g.insert(0, "service", service_name(service))
        g["demand_requests_per_s"] = p["inputs"]["demand_requests_per_s"]
        g["tokens_per_request"] = p["inputs"]["prompt_tokens"] + p["inputs"]["reply_tokens"]
        g["usd_per_gpu_month"] = p["cost"]["by_item_usd_per_month"]["gpus"] / p["gpus"]
        g["seconds_per_month"] = hours_per_month() * SECONDS_PER_HOUR
        g["peak_to_mean"] = p["fleet"]["peak_to_mean"]
        g["spare_fraction"] = p["fleet"]["spare_fraction"]
        frames.append(g)
    return pd.concat(frames, ignore_index=True)


def plan_calculate(tp_options) -> dict:
    """Vega expressions of :mod:`model.plan.what_if`'s closed form over :func:`what_if_rows` (parameters
    ``sessions_factor`` and ``ttft_factor``): each pool's replicas at the peak, its GPUs with the spares of one
    region."""
    def pool(role):
        serving = "min(" + ", ".join(f"ceil(datum.demand * datum.peak_to_mean / datum.{rate_column(role, n)}"
                                     f" - 1e-9) * {n}" for n in tp_options) + ")"
        return f"ceil({serving} * (1 + datum.spare_fraction) - 1e-9)"
    return {
        "demand": "sessions_factor * datum.demand_requests_per_s",
        "agg_gpus": pool("agg"), "pre_gpus": pool("pre"), "dec_gpus": pool("dec"),
        "dis_gpus": "datum.pre_gpus + datum.dec_gpus",
        "gpus": "min(datum.agg_gpus, datum.dis_gpus)",
        "disaggregated": "datum.dis_gpus < datum.agg_gpus",
        "usd_per_month": "datum.gpus * datum.usd_per_gpu_month",
        "usd_per_million_tokens": "datum.usd_per_month / (datum.demand * datum.tokens_per_request"
                                  " * datum.seconds_per_month) * 1000000",
        "label": "format(datum.gpus, ',') + ' GPUs, $' + format(round(datum.usd_per_month / 10000) / 100, ',')"
                 " + 'M a month'",
    }


def plan_what_if_chart(rows: pd.DataFrame, *, tp_options, ttft_step: float, ttft_max: float, sessions_step: float,
                       sessions_max: float, expected: dict, width: int = 620, height: int = 150):
    """Each service's GPUs and cost per million tokens at the sessions (× each service's own) and P95 TTFT
    target (× each service's own, on the grid of :func:`what_if_rows`) chosen with two sliders."""
    from model.plan.what_if import gpus_at

    from model.plan.fleet import FleetShape

    costs = [gpus_at(r, r["demand_requests_per_s"] * k, tp_options=tp_options,
                     shape=FleetShape(r["peak_to_mean"], r["spare_fraction"]))["gpus"] * r["usd_per_gpu_month"]
             / (r["demand_requests_per_s"] * k * r["tokens_per_request"] * r["seconds_per_month"]) * 1e6
             for _, r in rows[rows["feasible"]].iterrows() for k in (sessions_step, 1.0)]
    x_max = LABEL_ROOM * max(costs)
    ctl = [slider("sessions_factor", 1.0, sessions_step, sessions_max, sessions_step,
                  label="concurrent sessions, × each service's own "),
           slider("ttft_factor", 1.0, ttft_step, ttft_max, ttft_step,
                  label="P95 TTFT target, × each service's own ")]
    base = alt.Chart(rows).encode(
        y=alt.Y("service:N", title=None, sort=None, axis=alt.Axis(labelLimit=200)),
        x=alt.X("usd_per_million_tokens:Q", title="cost of the GPUs per million tokens (USD)",
                scale=alt.Scale(domain=[0, x_max], clamp=True)),
        tooltip=[alt.Tooltip("service:N"), alt.Tooltip("gpus:Q", format=",", title="GPUs"),
                 alt.Tooltip("agg_gpus:Q", format=",", title="aggregated would need"),
                 alt.Tooltip("dis_gpus:Q", format=",", title="disaggregated would need"),
                 alt.Tooltip("usd_per_month:Q", format="$,.0f", title="GPUs, USD a month")])
    bars = base.mark_bar().encode(color=alt.Color(
        "disaggregated:N", scale=alt.Scale(domain=[False, True], scheme="tableau10"),
        legend=alt.Legend(title="serving", orient="bottom",
                          labelExpr="datum.label == 'true' ? 'disaggregated' : 'aggregated'")))
    text = base.mark_text(align="left", dx=4).encode(text="label:N")
    chart = alt.layer(bars, text).properties(
        width=width, height=height,
        title=alt.TitleParams("What each service's plan costs", subtitle=[
            "bars: the GPUs' cost per million tokens (prompt + reply); label: the plan's GPUs and their cost a month",
            "the P95 TTFT slider moves over the grid of targets the model planned; sessions are computed in the page"]))
    return what_if(chart, ctl, plan_calculate(tp_options),
                   filter="datum.feasible && abs(datum.ttft_factor - ttft_factor) < 0.000001", expected=expected)


# --- sentences ---------------------------------------------------------------------------------------------------
def cache_finding(plans: dict) -> str:
    """Where the services' caches live and how they are routed."""
    below = [s for s, p in plans.items() if p["dram_gb_per_node"] > 0 or p["ssd_gb_per_node"] > 0]
    routes = {}
    for s, p in plans.items():
        routes.setdefault(p["routing"], []).append(s)
    route_text = "; ".join(f"{r} routing for the {names_list(v)}" for r, v in routes.items())
    if not below:
        where = ("Every plan's prefix cache fits in the HBM its replicas leave free: no DRAM or SSD is worth "
                 "buying for it")
    else:
        where = (f"The cache outgrows the free HBM for the {names_list(below)} and spills to "
                 + ", ".join(f"{_gb(plans[s]['dram_gb_per_node'])} of DRAM and {_gb(plans[s]['ssd_gb_per_node'])} "
                             f"of SSD per node ({service_name(s)})" for s in below))
    return f"{where}; {route_text}."


def table_meaning(plans: dict) -> str:
    """What the table says about disaggregation: the GPUs it saves or costs in each service."""
    parts = []
    for s, p in plans.items():
        agg, dis = p["serving"]["aggregated_gpus"], p["serving"]["disaggregated_gpus"]
        if agg is None or dis is None:
            only = "disaggregated pools" if agg is None else "aggregated replicas"
            parts.append(f"only {only} meet the targets of the {service_name(s)}")
            continue
        if dis < agg:
            parts.append(f"separate pools save {1 - dis / agg:.0%} of the GPUs of the {service_name(s)} "
                         f"({dis:,} against {agg:,})")
        else:
            parts.append(f"separate pools would need {dis / agg - 1:.0%} more GPUs than aggregated replicas for the "
                         f"{service_name(s)} ({dis:,} against {agg:,})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def storage_note(plans: dict) -> str:
    """What the page leaves out of the cost: the cache's DRAM and SSD, as a share of each plan's cost."""
    shares = {s: 1.0 - p["cost"]["by_item_usd_per_month"]["gpus"] / p["usd_per_month"]
              for s, p in plans.items() if p["usd_per_month"] > 0}
    if all(v <= 0 for v in shares.values()):
        return "the plans buy no DRAM or SSD for their caches, so that is all they cost."
    return ("the cache's DRAM and SSD add " + ", ".join(f"{v:.1%} ({service_name(s)})" for s, v in shares.items())
            + " of the plans' cost at the starting position.")


def tight_note(grids: dict, plans: dict) -> str:
    """The tightest target on the slider each service still meets."""
    parts = []
    for s, g in grids.items():
        ok = g[g["feasible"]]
        target = plans[s]["inputs"]["ttft_p95_s"]
        if len(ok) == len(g):
            parts.append(f"the {service_name(s)} meets every target on the slider, down to "
                         f"{g['ttft_p95_s'].min():.3g} s")
        else:
            parts.append(f"the {service_name(s)} meets none below {ok['ttft_p95_s'].min():.3g} s "
                         f"(its own target: {target:.3g} s)")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


def error_note(plan: dict) -> str:
    """The validated error of the step-time model behind every figure."""
    e = plan["validated_error"]
    return (f"The step times behind every GPU count are the study's fitted model, whose median absolute error on "
            f"the published measurements is {e['ttft']:.1%} on TTFT, {e['tpot']:.1%} on TPOT and "
            f"{e['throughput']:.1%} on throughput (see the validation chapter); the latency tails are closed forms "
            f"checked against the discrete-event simulator (`python -m model.plan --simulate`).")


def agreement_fleet(plan_gpus: float, fleet_gpus: float) -> str:
    """The planner's GPUs against the fleet chapter's simulated count."""
    from model.book.glue import times

    return (f"{plan_gpus:,.0f} GPUs for the case study's sessions, against {fleet_gpus:,.0f} from the fleet "
            f"chapter's simulated load sweep ({times(plan_gpus / fleet_gpus)})")


def agreement_economics(no_cache: dict, chapter_usd: float, utilization: float, chapter_gpus: int) -> str:
    """The planner's price per token (no cache) against the economics chapter's."""
    from model.book.glue import times

    p = no_cache["usd_per_million_tokens"]
    return (f"without a prefix cache the planner charges ${p:.3g} per million tokens, the economics chapter's "
            f"arithmetic (GPU-hour price ÷ tokens per second per GPU × utilisation) at the planner's own throughput "
            f"and load; the economics chapter's saturated {chapter_gpus}-GPU replica at {utilization:.0%} "
            f"utilisation gives ${chapter_usd:.3g} ({times(p / chapter_usd)}): a replica held to the latency "
            f"targets carries less than a saturated one, and the plan pays for its hot spares")


def agreement_tiering(plan_s: float, tiering_s: float, gpus: int, cached: int, prompt: int) -> str:
    """The planner's prefill time against the tiering chapter's prefill instance."""
    same = "the same" if math.isclose(plan_s, tiering_s, rel_tol=1e-9) else "not the same"
    return (f"a {prompt:,}-token prompt with {cached:,} tokens cached takes {plan_s * 1e3:,.0f} ms on the "
            f"planner's {gpus}-GPU prefill replica and {tiering_s * 1e3:,.0f} ms on the tiering chapter's "
            f"{gpus}-GPU prefill instance ({same} step-time model), at the same GPU-hour price.")


def cost_rank(plans: dict) -> str:
    """Which service is cheapest and dearest per million tokens (or the one service's price)."""
    by_cost = sorted(plans, key=lambda s: plans[s]["usd_per_million_tokens"])
    price = {s: f"${plans[s]['usd_per_million_tokens']:.3g}" for s in plans}
    if len(by_cost) == 1:
        s = by_cost[0]
        return f"The {service_name(s)} costs {price[s]} per million tokens."
    lo, hi = by_cost[0], by_cost[-1]
    return (f"Per million tokens the cheapest to serve is the {service_name(lo)} at {price[lo]}; the dearest the "
            f"{service_name(hi)} at {price[hi]}.")


def fleet_note(plan: dict) -> str:
    """The fleet the plans are laid out in: regions, peak and spares."""
    f = plan["fleet"]
    where = "one region" if f["regions"] == 1 else f"{f['regions']} regions"
    peak = ("the pools sized for the sessions' demand as given" if f["peak_to_mean"] == 1 else
            f"the pools sized for {f['peak_to_mean']:g} times the sessions' mean demand")
    spares = (f"{f['spare_fraction']:.0%} hot spares per region" if f["spare_fraction"] else "no hot spares")
    return f"{where}, {peak}, with {spares} (the planner's defaults; the fleet chapter's spares)."


# --- the plan beside the other chapters -------------------------------------------------------------------------
#: The chapters whose own model calls the case study's plan is compared with, at their parameters cells' defaults.
AGREEMENT_CHAPTERS = ("fleet", "economics", "tiering")


def chapter_defaults(name: str) -> dict:
    """The defaults of chapter ``name``'s parameters cell (``notebooks/<name>.ipynb``), whatever this chapter's
    parameters say."""
    return parameter_defaults(NOTEBOOK_DIR / f"{name}.ipynb")


def sweep_requests(chapter_requests: int, *, quick: bool) -> int:
    """Requests per load point of the fleet chapter's sweep: its own ``sim_requests``, and on the quick profile
    at most ``plan_quick_sim_requests`` (the fleet chapter's own quick profile)."""
    return min(chapter_requests, int(default("plan_quick_sim_requests"))) if quick else chapter_requests


def fleet_agreement(case: PlanInputs, fleet: dict, *, quick: bool) -> tuple[float, float]:
    """(the planner's GPUs, the fleet chapter's) for ``case``'s sessions, from the fleet chapter's defaults
    ``fleet``: the plan with no prefix cache, the P95 TTFT its only target (a TPOT target as loose as the TTFT
    one), separate prefill and decode pools and the chapter's hot spares; the chapter's count from its simulated
    load sweep of one replica (:func:`replica_load_sweep`, :func:`fleet_sizing_table`) at its P95 TTFT target."""
    plan = make_plan(PlanInputs(cache=False, tpot_p95_s=case.ttft_p95_s, disaggregation="disaggregated",
                                spare_fraction=fleet["spare_share"]))
    sat, sweep = replica_load_sweep(fleet["model"], fleet["gpu"], fleet["replica_gpus"],
                                    prompt_tokens=fleet["prompt_tokens"], reply_tokens=fleet["reply_tokens"],
                                    n_requests=sweep_requests(fleet["sim_requests"], quick=quick))
    table = fleet_sizing_table(sweep, sat, latency_metrics=["ttft_s_p95"], latency_target_s=fleet["response_p95_s"],
                               session_counts=[case.sessions], replica_gpus=fleet["replica_gpus"],
                               turns_per_session=fleet["turns_per_session"],
                               session_minutes=fleet["session_minutes"], spare_share=fleet["spare_share"])
    return plan["gpus"], table["gpus"].iloc[0]


def economics_agreement(economics: dict) -> tuple[dict, float]:
    """(the plan of the case study with no prefix cache, the economics chapter's USD per million tokens): the
    chapter's arithmetic (:func:`self_hosted_usd_per_million_tokens`) at the saturation throughput of its replica
    (:func:`modelled_tokens_per_s_per_gpu`, defaults ``economics``), its utilisation and the plan's GPU-hour
    price."""
    plan = make_plan(PlanInputs(cache=False))
    tps = modelled_tokens_per_s_per_gpu(economics["model"], economics["gpu"], economics["n_gpus"],
                                        prompt_tokens=economics["prompt_tokens"],
                                        reply_tokens=economics["reply_tokens"])
    return plan, self_hosted_usd_per_million_tokens(plan["cost"]["usd_per_gpu_hour"], tps, economics["utilization"])


def tiering_agreement(case: PlanInputs, tiering: dict) -> tuple[float, float, int]:
    """(the planner's seconds, the tiering chapter's, the cached tokens) to prefill one of ``case``'s prompts
    with its cached prefix: on the planner's prefill replica of the tiering chapter's GPUs per instance
    (:func:`prefill_service_s`) and on the tiering chapter's prefill instance (:func:`default_config` at its
    defaults ``tiering``)."""
    cached = serving_setup(case).cached_tokens
    engine = default_config(model=tiering["model"], gpu=tiering["gpu"],
                            gpus_per_instance=tiering["gpus_per_instance"]).engine
    tiering_s = float(engine.prefill_time_s([case.prompt_tokens - cached], [cached])[0])
    plan_s = prefill_service_s(deployment(case.model, case.gpu, tiering["gpus_per_instance"]), case.prompt_tokens,
                               cached)
    return plan_s, tiering_s, cached


@dataclass(frozen=True)
class ChapterAgreements:
    """The chapter's three sentences comparing the case study's plan with the other chapters."""
    fleet: str
    economics: str
    tiering: str


def chapter_agreements(*, quick: bool) -> ChapterAgreements:
    """The case study's plan (:class:`PlanInputs` defaults) against the fleet, economics and tiering chapters'
    model calls at their own defaults (:func:`chapter_defaults`); ``quick``: the fleet chapter's sweep on its
    quick profile (:func:`sweep_requests`). ``tests/plan/test_agreement.py`` holds the plan to the same
    comparisons."""
    case = PlanInputs()
    fleet, economics, tiering = (chapter_defaults(name) for name in AGREEMENT_CHAPTERS)
    plan_gpus, fleet_gpus = fleet_agreement(case, fleet, quick=quick)
    no_cache, chapter_usd = economics_agreement(economics)
    plan_s, tiering_s, cached = tiering_agreement(case, tiering)
    return ChapterAgreements(
        fleet=agreement_fleet(plan_gpus, fleet_gpus),
        economics=agreement_economics(no_cache, chapter_usd, economics["utilization"], economics["n_gpus"]),
        tiering=agreement_tiering(plan_s, tiering_s, tiering["gpus_per_instance"], cached, case.prompt_tokens))
