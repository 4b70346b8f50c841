"""The plan as a Markdown report for people: rounded figures with their units and scopes (through the study's
one number formatter, :func:`model.cli.human`), the aggregated-vs-disaggregated comparison, the cache per node,
cost and energy, the validated error of the step-time model beside them, and the assumptions."""

from __future__ import annotations

from model.cli import human, seconds


def _gb(x) -> str:
    return "—" if x is None else (human(x / 1e3, "TB") if x >= 1e3 else human(x, "GB"))


def _pool_row(name: str, p: dict | None) -> str:
    if not p:
        return f"| {name} | no TP meets the targets | | | | | |"
    ttft = seconds(p["ttft_p95_s"]) if p.get("ttft_p95_s") is not None else "—"
    tpot = seconds(p["tpot_p95_s"]) if p.get("tpot_p95_s") is not None else "—"
    shape = f"TP {p['tp']}" if p.get("ep", 1) == 1 else \
        f"EP {p['ep']} over {p['nodes']} node{'s' if p['nodes'] > 1 else ''}, attention data-parallel"
    return (f"| {name} | {shape} | {human(p['replica_requests_per_s'])} | {human(p['replicas'])} | "
            f"{human(p['gpus'])} | {ttft} | {tpot} |")


def _fleet_line(plan: dict) -> str:
    f = plan["fleet"]
    regions = ("one region" if f["regions"] == 1 else
               f"{f['regions']} regions (shares " + ", ".join(human(x, kind="percent") for x in f["region_shares"])
               + "; GPUs " + ", ".join(human(sum(g[k] for g in f["gpus_by_region"].values()))
                                       for k in range(f["regions"])) + ")")
    split = plan["serving"].get("e2e_split")
    e2e = (f" The P95 reply target of {seconds(split['e2e_p95_s'])} is split as TTFT ≤ {seconds(split['ttft_p95_s'])}"
           f" and TPOT ≤ {seconds(split['tpot_p95_s'])}, the cheapest of {split['splits_tried']} splits (zero-load "
           f"floor {seconds(split['zero_load_floor_s'])})." if split else "")
    return (f"- Fleet: {human(f['serving_gpus'])} serving GPUs sized for {human(f['peak_to_mean'])} × the mean "
            f"demand + {human(f['spare_gpus'])} hot spares ({human(f['spare_fraction'], kind='percent')} per "
            f"region), in {regions}.{e2e}")


def markdown(plan: dict) -> str:
    """The report of a plan made by :func:`model.plan.compose.make_plan`."""
    i, s, c, cost, e = plan["inputs"], plan["serving"], plan["cache"], plan["cost"], plan["energy"]
    err = plan.get("validated_error", {})
    chosen = "disaggregated prefill/decode pools" if plan["disaggregated"] else "aggregated replicas (chunked prefill)"
    lines = [
        f"# Plan: {human(i['sessions'])} concurrent sessions of {i['model_display_name']} on {i['gpu']}",
        "",
        f"Demand {human(i['demand_requests_per_s'])} requests/s ({human(i['turns_per_session'])} turns per "
        f"{human(i['session_minutes'])}-minute session), {human(i['prompt_tokens'])} prompt + "
        f"{human(i['reply_tokens'])} reply tokens per turn; P{round(100 * i['latency_quantile'])} TTFT ≤ "
        f"{seconds(i['ttft_p95_s'])}, TPOT ≤ {seconds(i['tpot_p95_s'])}; weights {i['weight_dtype']}, KV "
        f"{i['kv_dtype']}.",
        "",
        "## Answer",
        "",
        f"- **{human(plan['gpus'])} GPUs** on {human(plan['nodes'])} {i['node_gpus']}-GPU nodes, as {chosen}"
        + (f": {human(plan['prefill_gpus'])} prefill + {human(plan['decode_gpus'])} decode GPUs"
           if plan["disaggregated"] else "") + ".",
        _fleet_line(plan),
        f"- KV cache per node (scope: {c['scope']}): HBM {_gb(plan['hbm_gb_per_node'])}, DRAM "
        f"{_gb(plan['dram_gb_per_node'])}, SSD {_gb(plan['ssd_gb_per_node'])}.",
        f"- Routing: **{plan['routing']}**; TTL: "
        + ("none (no cache)" if plan["ttl_s"] is None and not i["cache"] else
           ("never expire" if plan["ttl_s"] is None else seconds(plan["ttl_s"]))) + ".",
        f"- Cost: **{human(plan['usd_per_month'], kind='usd')} per month**, "
        f"{human(plan['usd_per_million_tokens'], kind='usd')} per million tokens (prompt + reply) at "
        f"{human(cost['usd_per_gpu_hour'], kind='usd')}/GPU-hour ({cost['gpu_price']}).",
        f"- Energy: **{human(plan['kw'])} kW** (IT power), {human(plan['kwh_per_million_tokens'])} kWh and "
        f"{human(plan['g_co2_per_million_tokens'])} g CO2 per million tokens at "
        f"{human(i['grid_g_co2_per_kwh'])} g/kWh.",
    ]
    if err:
        lines.append("- Model error behind these figures: the step-time model's median absolute error on published "
                     f"measurements is {human(err.get('ttft'), kind='percent')} on TTFT, "
                     f"{human(err.get('tpot'), kind='percent')} on TPOT and "
                     f"{human(err.get('throughput'), kind='percent')} on throughput; the closed-form latency tails "
                     "agree with the discrete-event simulator: an aggregated replica's P95 TTFT within the validated TTFT "
                     "error on 37 of the 44 settings and loads of data/plan/aggregated_ttft_check.csv (11-20% off on "
                     "the others), its P95 TPOT within about 20%, a decode replica's within a few percent, and they "
                     "are conservative on prefill replicas (--simulate checks this plan).")
    lines += [
        "",
        "## Serving: aggregated vs disaggregated at the SLO",
        "",
        "| pool | GPUs per replica | requests/s per replica | replicas | GPUs | P95 TTFT | P95 TPOT |",
        "|---|---|---|---|---|---|---|",
        _pool_row("aggregated (chunked prefill)", s["aggregated"]),
        _pool_row("disaggregated: prefill", s["prefill"]),
        _pool_row("disaggregated: decode", s["decode"]),
        "",
        f"Aggregated {human(s['aggregated_gpus'])} GPUs vs disaggregated {human(s['disaggregated_gpus'])}: "
        f"the plan takes the {s['chosen']} one. KV handed from prefill to decode: "
        f"{_gb(s['kv_transfer_bytes_per_request'] / 1e9)} per request, "
        f"{seconds(s['kv_transfer_s']) if s['kv_transfer_s'] is not None else '—'} over the NICs. "
        f"Zero-load floor: TTFT {seconds(s['zero_load_floor']['ttft_p95_s'])}, TPOT "
        f"{seconds(s['zero_load_floor']['tpot_p95_s'])}. Prefix cache hit per prompt: "
        f"{human(s['cached_prompt_tokens'])} tokens.",
        "",
    ]
    if "node" in c:
        n = c["node"]
        lines += [
            "## KV cache",
            "",
            f"From the generated chat trace ({human(c['trace']['sessions'])} sessions, "
            f"{human(c['trace']['requests'])} requests): ideal hit ratio {human(c['ideal_hit_ratio'], kind='percent')}, "
            f"{human(c['hit_ratio'], kind='percent')} of block lookups and "
            f"{human(c['token_hit_ratio'], kind='percent')} of prompt tokens at the sized capacity. "
            f"{human(n['sessions_per_node'])} sessions per node need {_gb(n['need_gb'])} of cache "
            f"({_gb(n['hbm_free_gb'])} of HBM free after the running batch). Loading a prompt's cached prefix from "
            f"the slowest tier used takes {seconds(n['load_s'])}. "
            f"{human(c['history_share_of_reuse'], kind='percent')} of reused tokens are the session's own history, "
            f"hence {plan['routing']} routing.",
            "",
            "TTL per group: " + ", ".join(f"{g} {'never' if t is None else seconds(t)}"
                                          for g, t in c["ttl_s_by_group"].items())
            + f" (keeping a block costs as much as recomputing it after {seconds(c['ttl_break_even_s'])}).",
            "",
        ]
    items = cost["by_item_usd_per_month"]
    lines += [
        "## Cost and energy",
        "",
        "Per month: " + ", ".join(f"{k} {human(v, kind='usd')}" for k, v in items.items())
        + f" (network: the NICs are part of the rented nodes). The same tokens at {cost['api_model']}'s prices: "
        f"{human(cost['api_usd_per_month'], kind='usd')} per month "
        f"({human(cost['api_usd_per_million_tokens'], kind='usd')} per million tokens); the plan breaks even "
        f"with it at {human(cost['break_even_usd_per_gpu_hour'], kind='usd')}/GPU-hour.",
        "",
        f"Power: GPUs {human(e['gpu_kw'])} kW (TDP {human(e['tdp_w'])} W × utilisation) + other parts "
        f"{human(e['other_kw'])} kW ({human(e['node_other_w_per_gpu'])} W per GPU); {e['scope']}.",
        "",
    ]
    comp = plan.get("compare_gpus")
    if comp:
        lines += ["## The same service on other GPUs", "",
                  "| GPU | GPUs | serving | USD/month | USD per 1M tokens | kW |", "|---|---|---|---|---|---|"]
        for r in comp:
            if "error" in r:
                lines.append(f"| {r['gpu']} | {r['error']} | | | | |")
                continue
            how = (f"disaggregated {human(r['prefill_gpus'])} + {human(r['decode_gpus'])}" if r["disaggregated"]
                   else "aggregated")
            kw = human(r["kw"]) if r["kw"] is not None else "— (no TDP on record)"
            lines.append(f"| {r['gpu']} | {human(r['gpus'])} | {how} | {human(r['usd_per_month'], kind='usd')} | "
                         f"{human(r['usd_per_million_tokens'], kind='usd')} | {kw} |")
        lines.append("")
    sim = plan.get("simulation")
    if sim:
        lines += ["## Simulated check",
                  "",
                  "The plan's pools through the discrete-event simulators (P95 of the steady state; the fleet, "
                  "router and cache are not simulated): an aggregated replica at its rate; the disaggregated "
                  "prefill and decode replicas together, in the plan's proportion, joined by the KV transfer, the "
                  "closed forms taken at the rate each replica sees:",
                  "",
                  "| simulated | requests/s | P95 TTFT closed form | simulated | P95 TPOT closed form | simulated |",
                  "|---|---|---|---|---|---|"]
        for role, r in sim.items():
            c, s_ = r.get("closed_form", r["plan"]), r["simulated"]
            name = role if role == "aggregated" else \
                f"{human(r['prefill_replicas'])} prefill + {human(r['decode_replicas'])} decode replicas"
            ttft = (seconds(c["ttft_p95_s"]), seconds(s_["ttft_p95_s"])) if c["ttft_p95_s"] is not None else ("—", "—")
            tpot = (seconds(c["tpot_p95_s"]), seconds(s_["tpot_p95_s"])) if c["tpot_p95_s"] is not None else ("—", "—")
            lines.append(f"| {name} | {human(r['rate_per_s'])} | {ttft[0]} | {ttft[1]} | {tpot[0]} | {tpot[1]} |")
        lines.append("")
        rows = [(name, a) for r in sim.values() for name, a in r.get("agreement", {}).items()
                if a["relative_difference"] is not None]
        if rows:
            dispatch = sim.get("disaggregated", {}).get("dispatch")
            lines += ["Each pool's P95 against the step-time model's validated error"
                      + (f" (the simulator dispatches as the plan's {plan['routing']} routing: "
                         + ("each request to a replica fixed whatever the load, each replica queueing its own share)"
                            if dispatch == "random" else "each request to the least-loaded replica)")
                         if dispatch else "") + ":", "",
                      "| pool and metric | closed form | simulated | difference | validated error | within |",
                      "|---|---|---|---|---|---|"]
            for name, a in rows:
                v_err = human(a["validated_error"], kind="percent") if a["validated_error"] is not None else "—"
                ok = {True: "yes", False: "no", None: "—"}[a["within"]]
                pool, metric = name.rsplit("_", 1)
                lines.append(f"| {pool} P95 {metric.upper()} | "
                             f"{seconds(a['closed_form_s'])} | {seconds(a['simulated_s'])} | "
                             f"{human(a['relative_difference'], kind='percent')} | {v_err} | {ok} |")
            lines.append("")
        if sim.get("disaggregated", {}).get("steady_state") is False:
            lines += ["The decode replicas hold more sequences at the plan's batch than the run counts requests: the "
                      "simulated P95s are those of a replica still filling, not its steady state.", ""]
        rep = plan.get("cache_replay")
        if rep:
            lines += [f"Cache replay of the sample trace through the node's tiers with the TTLs per group: "
                      f"{human(rep['token_hit_ratio_replayed'], kind='percent')} of prompt tokens hit, against "
                      f"{human(rep['token_hit_ratio_plan'], kind='percent')} in the plan (stack distances, no TTL; "
                      f"{human(rep['expirations'])} blocks expired).", ""]
    if err:
        lines += ["## Validated error",
                  "",
                  "Median absolute error of the step-time model on the published measurements' validation rows: "
                  + ", ".join(f"{k} {human(v, kind='percent')}" for k, v in err.items()) + ".",
                  ""]
    lines += ["## Assumptions", ""] + [f"- {a}" for a in plan["assumptions"]]
    return "\n".join(lines)


# --- HTML with charts -----------------------------------------------------------------------------------------
#: Pixels around each chart: the static SVG is laid out with the renderer's font, a browser may draw wider text.
PADDING = {"left": 40, "right": 40, "top": 5, "bottom": 5}

def charts(plan: dict) -> list:
    """Altair charts of a plan: the GPUs of each way of serving (the chosen one marked) and the cost by item."""
    import altair as alt
    import pandas as pd

    s = plan["serving"]
    rows = []
    for way, pools in (("aggregated", ["aggregated"]), ("disaggregated", ["prefill", "decode"])):
        for role in pools:
            if s.get(role):
                rows.append({"way": way, "pool": role, "gpus": s[role]["gpus"]})
    gpus = alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("gpus:Q", title="GPUs, with spares (count)", stack="zero"),
        y=alt.Y("way:N", title=None, axis=alt.Axis(labelLimit=300)),
        color=alt.Color("pool:N", title="pool", scale=alt.Scale(scheme="tableau10"),
                        legend=alt.Legend(labelLimit=300)),
        tooltip=["way", "pool", alt.Tooltip("gpus:Q", format=",")],
    ).properties(width=560, height=90, padding=PADDING,
                 title=f"GPUs of each way of serving at the latency targets (the plan takes {s['chosen']})")
    items = plan["cost"]["by_item_usd_per_month"]
    cost = alt.Chart(pd.DataFrame({"item": list(items), "usd": list(items.values())})).mark_bar().encode(
        x=alt.X("usd:Q", title="USD per month"), y=alt.Y("item:N", title=None, sort=None),
        tooltip=["item", alt.Tooltip("usd:Q", format="$,.0f")],
    ).properties(width=560, height=120, padding=PADDING, title="Cost by item")
    return [gpus, cost]


def html(plan: dict) -> str:
    """The report (:func:`markdown`) as one HTML page with its charts as inline SVG (rendered here by vl-convert:
    the page loads nothing)."""
    import html as html_lib

    import vl_convert as vlc
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown(plan))
    svgs = "\n".join(f'<figure class="chart">{vlc.vegalite_to_svg(c.to_dict())}</figure>' for c in charts(plan))
    title = html_lib.escape(markdown(plan).splitlines()[0].lstrip("# "))
    head, mark, rest = body.partition("<h2>Serving")       # the charts after the answer, before its detail
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + title + "</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
            "td:first-child,th:first-child{text-align:left}</style></head><body>\n"
            + head + svgs + "\n" + mark + rest + "</body></html>\n")


def write_html(plan: dict, path) -> None:
    """Write :func:`html` to ``path`` atomically (a reader never sees half a page)."""
    from model.io import atomic_write_text

    atomic_write_text(path, html(plan))
