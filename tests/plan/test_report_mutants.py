"""model.plan.report by hand: a made-up plan whose every figure is chosen so that its rounding can be written
out here (3 significant digits, integers in full, durations in ms below one second, percentages of fractions),
and the whole Markdown report read line by line; the HTML page and its two charts on the same plan."""
import copy
from types import SimpleNamespace

import pytest

from model.plan import report

ERROR_PROSE = (
    "- Model error behind these figures: the step-time model's median absolute error on published measurements "
    "is 10% on TTFT, 5% on TPOT and 20% on throughput; the closed-form latency tails agree with the discrete-event "
    "simulator: an aggregated replica's P95 TTFT within the validated TTFT error on 37 of the 44 settings and loads "
    "of data/plan/aggregated_ttft_check.csv (11-20% off on the others), its P95 TPOT within about 20%, a decode "
    "replica's within a few percent, and they are conservative on prefill replicas (--simulate checks this plan).")


def full_plan() -> dict:
    return {
        "inputs": {"sessions": 1000, "model_display_name": "Llama X", "gpu": "h100-80gb",
                   "demand_requests_per_s": 12.5, "turns_per_session": 4, "session_minutes": 30,
                   "prompt_tokens": 1500, "reply_tokens": 200, "latency_quantile": 0.99, "ttft_p95_s": 0.5,
                   "tpot_p95_s": 0.05, "weight_dtype": "fp8", "kv_dtype": "fp16", "node_gpus": 8, "cache": True,
                   "grid_g_co2_per_kwh": 400},
        "disaggregated": False, "gpus": 16, "nodes": 2, "prefill_gpus": 4, "decode_gpus": 12,
        "fleet": {"regions": 2, "region_shares": [0.6, 0.4], "gpus_by_region": {"a": [10, 6], "b": [2, 2]},
                  "serving_gpus": 16, "peak_to_mean": 1.5, "spare_gpus": 4, "spare_fraction": 0.125},
        "hbm_gb_per_node": 40, "dram_gb_per_node": 1000, "ssd_gb_per_node": 2500,
        "routing": "session", "ttl_s": 300,
        "usd_per_month": 12345, "usd_per_million_tokens": 0.5, "kw": 12.8, "kwh_per_million_tokens": 0.25,
        "g_co2_per_million_tokens": 100,
        "validated_error": {"ttft": 0.1, "tpot": 0.05, "throughput": 0.2},
        "serving": {
            "e2e_split": {"e2e_p95_s": 2.0, "ttft_p95_s": 0.4, "tpot_p95_s": 0.02, "splits_tried": 7,
                          "zero_load_floor_s": 0.9},
            "aggregated": {"tp": 2, "replica_requests_per_s": 3.25, "replicas": 4, "gpus": 8, "ttft_p95_s": 0.3,
                           "tpot_p95_s": None},
            "prefill": {"tp": 1, "ep": 8, "nodes": 2, "replica_requests_per_s": 1.5, "replicas": 1, "gpus": 16,
                        "ttft_p95_s": None, "tpot_p95_s": 0.015},
            "decode": {"tp": 8, "replica_requests_per_s": 0.5, "replicas": 2, "gpus": 16, "ttft_p95_s": 1.25,
                       "tpot_p95_s": 0.03},
            "aggregated_gpus": 8, "disaggregated_gpus": 10, "chosen": "aggregated",
            "kv_transfer_bytes_per_request": 1.375e9, "kv_transfer_s": 0.125,
            "zero_load_floor": {"ttft_p95_s": 0.08, "tpot_p95_s": 0.012}, "cached_prompt_tokens": 1024},
        "cache": {"scope": "per node", "trace": {"sessions": 200, "requests": 900}, "ideal_hit_ratio": 0.8,
                  "hit_ratio": 0.7, "token_hit_ratio": 0.65,
                  "node": {"sessions_per_node": 125, "need_gb": 1500, "hbm_free_gb": 20, "load_s": 0.04},
                  "history_share_of_reuse": 0.9, "ttl_s_by_group": {"a": 60, "b": None}, "ttl_break_even_s": 120},
        "cost": {"by_item_usd_per_month": {"GPUs": 10000, "DRAM": 250.4}, "api_model": "gpt-x",
                 "api_usd_per_month": 50000, "api_usd_per_million_tokens": 2, "break_even_usd_per_gpu_hour": 9.75,
                 "usd_per_gpu_hour": 2.5, "gpu_price": "aws on-demand"},
        "energy": {"gpu_kw": 10.5, "tdp_w": 700, "other_kw": 2.3, "node_other_w_per_gpu": 150,
                   "scope": "IT power only"},
        "compare_gpus": [
            {"gpu": "a100", "error": "does not fit"},
            {"gpu": "h200", "gpus": 12, "disaggregated": True, "prefill_gpus": 4, "decode_gpus": 8,
             "usd_per_month": 9000, "usd_per_million_tokens": 0.4, "kw": 9.5},
            {"gpu": "mi300x", "gpus": 6, "disaggregated": False, "usd_per_month": 7000,
             "usd_per_million_tokens": 0.3, "kw": None}],
        "simulation": {
            "aggregated": {"plan": {"ttft_p95_s": 0.3, "tpot_p95_s": 0.02},
                           "simulated": {"ttft_p95_s": 0.35, "tpot_p95_s": 0.025}, "rate_per_s": 3.25,
                           "agreement": {
                               "aggregated_ttft": {"relative_difference": 0.1, "validated_error": 0.15,
                                                   "within": True, "closed_form_s": 0.3, "simulated_s": 0.35},
                               "aggregated_tpot": {"relative_difference": None, "validated_error": 0.1,
                                                   "within": None, "closed_form_s": None, "simulated_s": None}}},
            "disaggregated": {"closed_form": {"ttft_p95_s": None, "tpot_p95_s": 0.03},
                              "plan": {"ttft_p95_s": 0.2, "tpot_p95_s": 0.01},
                              "simulated": {"ttft_p95_s": 9.0, "tpot_p95_s": 0.04}, "prefill_replicas": 2,
                              "decode_replicas": 3, "rate_per_s": 10, "dispatch": "random", "steady_state": False,
                              "agreement": {"decode_tpot": {"relative_difference": -0.25, "validated_error": None,
                                                            "within": None, "closed_form_s": 0.03,
                                                            "simulated_s": 0.04},
                                            "prefill_pool_ttft": {"relative_difference": 0.5, "validated_error": 0.2,
                                                             "within": False, "closed_form_s": 1.0,
                                                             "simulated_s": 1.5}}}},
        "cache_replay": {"token_hit_ratio_replayed": 0.6, "token_hit_ratio_plan": 0.65, "expirations": 1200},
        "assumptions": ["one", "two"],
    }


FULL = [
    "# Plan: 1,000 concurrent sessions of Llama X on h100-80gb",
    "",
    "Demand 12.5 requests/s (4 turns per 30-minute session), 1,500 prompt + 200 reply tokens per turn; P99 TTFT ≤ "
    "500 ms, TPOT ≤ 50 ms; weights fp8, KV fp16.",
    "",
    "## Answer",
    "",
    "- **16 GPUs** on 2 8-GPU nodes, as aggregated replicas (chunked prefill).",
    "- Fleet: 16 serving GPUs sized for 1.5 × the mean demand + 4 hot spares (12.5% per region), in 2 regions "
    "(shares 60%, 40%; GPUs 12, 8). The P95 reply target of 2 s is split as TTFT ≤ 400 ms and TPOT ≤ 20 ms, the "
    "cheapest of 7 splits (zero-load floor 900 ms).",
    "- KV cache per node (scope: per node): HBM 40 GB, DRAM 1 TB, SSD 2.5 TB.",
    "- Routing: **session**; TTL: 300 s.",
    "- Cost: **$12,345 per month**, $0.5 per million tokens (prompt + reply) at $2.5/GPU-hour (aws on-demand).",
    "- Energy: **12.8 kW** (IT power), 0.25 kWh and 100 g CO2 per million tokens at 400 g/kWh.",
    ERROR_PROSE,
    "",
    "## Serving: aggregated vs disaggregated at the SLO",
    "",
    "| pool | GPUs per replica | requests/s per replica | replicas | GPUs | P95 TTFT | P95 TPOT |",
    "|---|---|---|---|---|---|---|",
    "| aggregated (chunked prefill) | TP 2 | 3.25 | 4 | 8 | 300 ms | — |",
    "| disaggregated: prefill | EP 8 over 2 nodes, attention data-parallel | 1.5 | 1 | 16 | — | 15 ms |",
    "| disaggregated: decode | TP 8 | 0.5 | 2 | 16 | 1.25 s | 30 ms |",
    "",
    "Aggregated 8 GPUs vs disaggregated 10: the plan takes the aggregated one. KV handed from prefill to decode: "
    "1.38 GB per request, 125 ms over the NICs. Zero-load floor: TTFT 80 ms, TPOT 12 ms. Prefix cache hit per "
    "prompt: 1,024 tokens.",
    "",
    "## KV cache",
    "",
    "From the generated chat trace (200 sessions, 900 requests): ideal hit ratio 80%, 70% of block lookups and 65% "
    "of prompt tokens at the sized capacity. 125 sessions per node need 1.5 TB of cache (20 GB of HBM free after "
    "the running batch). Loading a prompt's cached prefix from the slowest tier used takes 40 ms. 90% of reused "
    "tokens are the session's own history, hence session routing.",
    "",
    "TTL per group: a 60 s, b never (keeping a block costs as much as recomputing it after 120 s).",
    "",
    "## Cost and energy",
    "",
    "Per month: GPUs $10,000, DRAM $250 (network: the NICs are part of the rented nodes). The same tokens at "
    "gpt-x's prices: $50,000 per month ($2 per million tokens); the plan breaks even with it at $9.75/GPU-hour.",
    "",
    "Power: GPUs 10.5 kW (TDP 700 W × utilisation) + other parts 2.3 kW (150 W per GPU); IT power only.",
    "",
    "## The same service on other GPUs",
    "",
    "| GPU | GPUs | serving | USD/month | USD per 1M tokens | kW |",
    "|---|---|---|---|---|---|",
    "| a100 | does not fit | | | | |",
    "| h200 | 12 | disaggregated 4 + 8 | $9,000 | $0.4 | 9.5 |",
    "| mi300x | 6 | aggregated | $7,000 | $0.3 | — (no TDP on record) |",
    "",
    "## Simulated check",
    "",
    "The plan's pools through the discrete-event simulators (P95 of the steady state; the fleet, router and cache "
    "are not simulated): an aggregated replica at its rate; the disaggregated prefill and decode replicas together, "
    "in the plan's proportion, joined by the KV transfer, the closed forms taken at the rate each replica sees:",
    "",
    "| simulated | requests/s | P95 TTFT closed form | simulated | P95 TPOT closed form | simulated |",
    "|---|---|---|---|---|---|",
    "| aggregated | 3.25 | 300 ms | 350 ms | 20 ms | 25 ms |",
    "| 2 prefill + 3 decode replicas | 10 | — | — | 30 ms | 40 ms |",
    "",
    "Each pool's P95 against the step-time model's validated error (the simulator dispatches as the plan's session "
    "routing: each request to a replica fixed whatever the load, each replica queueing its own share):",
    "",
    "| pool and metric | closed form | simulated | difference | validated error | within |",
    "|---|---|---|---|---|---|",
    "| aggregated P95 TTFT | 300 ms | 350 ms | 10% | 15% | yes |",
    "| decode P95 TPOT | 30 ms | 40 ms | −25% | — | — |",
    "| prefill_pool P95 TTFT | 1 s | 1.5 s | 50% | 20% | no |",
    "",
    "The decode replicas hold more sequences at the plan's batch than the run counts requests: the simulated P95s "
    "are those of a replica still filling, not its steady state.",
    "",
    "Cache replay of the sample trace through the node's tiers with the TTLs per group: 60% of prompt tokens hit, "
    "against 65% in the plan (stack distances, no TTL; 1,200 blocks expired).",
    "",
    "## Validated error",
    "",
    "Median absolute error of the step-time model on the published measurements' validation rows: ttft 10%, tpot "
    "5%, throughput 20%.",
    "",
    "## Assumptions",
    "",
    "- one",
    "- two",
]


def test_the_whole_report_line_by_line():
    got = report.markdown(full_plan()).split("\n")
    for i, (g, w) in enumerate(zip(got, FULL)):
        assert g == w, (i, g, w)
    assert len(got) == len(FULL)


def lean_plan() -> dict:
    """One region, no split, disaggregated, no cache section, no error, no comparison, no simulation."""
    p = full_plan()
    p["disaggregated"] = True
    p["fleet"] = {**p["fleet"], "regions": 1}
    p["serving"] = {**p["serving"], "kv_transfer_s": None, "decode": None}
    del p["serving"]["e2e_split"]
    p["cache"] = {k: v for k, v in p["cache"].items() if k != "node"}
    for k in ("validated_error", "compare_gpus", "simulation", "cache_replay"):
        del p[k]
    return p


def test_a_lean_report():
    text = report.markdown(lean_plan())
    lines = text.split("\n")
    assert lines[6] == "- **16 GPUs** on 2 8-GPU nodes, as disaggregated prefill/decode pools: 4 prefill + 12 decode GPUs."
    assert lines[7] == ("- Fleet: 16 serving GPUs sized for 1.5 × the mean demand + 4 hot spares (12.5% per region), "
                        "in one region.")
    assert lines[11] == "- Energy: **12.8 kW** (IT power), 0.25 kWh and 100 g CO2 per million tokens at 400 g/kWh."
    assert lines[12] == ""
    assert ", — over the NICs." in text
    assert "| disaggregated: decode | no TP meets the targets | | | | | |" in text
    for absent in ("## KV cache", "## Validated error", "## Simulated check", "## The same service", "TTL per group",
                   "Model error behind"):
        assert absent not in text
    assert lines[-6:] == ["Power: GPUs 10.5 kW (TDP 700 W × utilisation) + other parts 2.3 kW (150 W per GPU); IT "
                          "power only.", "", "## Assumptions", "", "- one", "- two"]


@pytest.mark.parametrize("ttl, cache, want", [
    (None, False, "none (no cache)"), (None, True, "never expire"), (5, False, "5 s"), (0.25, True, "250 ms")])
def test_the_ttl_words(ttl, cache, want):
    p = lean_plan()
    p["ttl_s"], p["inputs"]["cache"] = ttl, cache
    assert f"- Routing: **session**; TTL: {want}.\n" in report.markdown(p)


@pytest.mark.parametrize("x, want", [(None, "—"), (999, "999 GB"), (1000, "1 TB"), (2500, "2.5 TB"), (0.5, "0.5 GB")])
def test_gigabytes_and_terabytes(x, want):
    assert report._gb(x) == want


def test_pool_rows():
    assert report._pool_row("p", {}) == "| p | no TP meets the targets | | | | | |"
    assert report._pool_row("p", {"tp": 4, "ep": 1, "replica_requests_per_s": 0.125, "replicas": 1000, "gpus": 4000,
                                  "ttft_p95_s": 1.5, "tpot_p95_s": 0.02}) == \
        "| p | TP 4 | 0.125 | 1,000 | 4,000 | 1.5 s | 20 ms |"
    assert report._pool_row("p", {"tp": 1, "ep": 4, "nodes": 1, "replica_requests_per_s": 2, "replicas": 1,
                                  "gpus": 4}) == "| p | EP 4 over 1 node, attention data-parallel | 2 | 1 | 4 | — | — |"


def test_the_simulation_dispatch_words():
    p = full_plan()
    p["simulation"]["disaggregated"]["dispatch"] = "least-loaded"
    p["simulation"]["disaggregated"]["steady_state"] = True
    p["routing"] = "prefix"
    text = report.markdown(p)
    assert ("Each pool's P95 against the step-time model's validated error (the simulator dispatches as the plan's "
            "prefix routing: each request to the least-loaded replica):\n") in text
    assert "still filling" not in text
    del p["simulation"]["disaggregated"]["dispatch"]
    del p["cache_replay"]
    text = report.markdown(p)
    assert "Each pool's P95 against the step-time model's validated error:\n\n| pool and metric |" in text
    assert "Cache replay" not in text


def test_a_simulated_pool_without_a_closed_form_tpot_or_agreement():
    p = full_plan()
    p["simulation"]["decode only"] = {"plan": {"ttft_p95_s": 0.5, "tpot_p95_s": None},
                                      "simulated": {"ttft_p95_s": 0.6, "tpot_p95_s": 0.07}, "prefill_replicas": 0,
                                      "decode_replicas": 4, "rate_per_s": 2}
    text = report.markdown(p)
    assert "| 0 prefill + 4 decode replicas | 2 | 500 ms | 600 ms | — | — |\n\nEach pool's P95" in text


def test_no_agreement_rows_no_agreement_table():
    p = full_plan()
    for r in p["simulation"].values():
        for a in r["agreement"].values():
            a["relative_difference"] = None
    p["simulation"]["disaggregated"].pop("steady_state")
    text = report.markdown(p)
    assert "| pool and metric |" not in text and "Each pool's P95" not in text and "still filling" not in text
    assert "| 2 prefill + 3 decode replicas | 10 | — | — | 30 ms | 40 ms |\n\nCache replay" in text


def test_a_simulation_of_the_aggregated_replica_only():
    p = full_plan()
    del p["simulation"]["disaggregated"]
    text = report.markdown(p)
    assert "Each pool's P95 against the step-time model's validated error:\n" in text
    assert "| aggregated P95 TTFT | 300 ms | 350 ms | 10% | 15% | yes |\n\nCache replay" in text


# --- charts and the HTML page ------------------------------------------------------------------------------------------
def test_charts_show_each_way_of_serving_and_the_cost_by_item():
    gpus, cost = report.charts(full_plan())
    g, c = gpus.to_dict(), cost.to_dict()
    assert g["datasets"][g["data"]["name"]] == [{"way": "aggregated", "pool": "aggregated", "gpus": 8},
                                                {"way": "disaggregated", "pool": "prefill", "gpus": 16},
                                                {"way": "disaggregated", "pool": "decode", "gpus": 16}]
    assert g["title"] == "GPUs of each way of serving at the latency targets (the plan takes aggregated)"
    assert g["mark"] == {"type": "bar"} and (g["width"], g["height"]) == (560, 90)
    assert g["padding"] == {"left": 40, "right": 40, "top": 5, "bottom": 5}
    assert g["encoding"] == {
        "x": {"field": "gpus", "type": "quantitative", "title": "GPUs, with spares (count)", "stack": "zero"},
        "y": {"field": "way", "type": "nominal", "title": None, "axis": {"labelLimit": 300}},
        "color": {"field": "pool", "type": "nominal", "title": "pool", "scale": {"scheme": "tableau10"},
                  "legend": {"labelLimit": 300}},
        "tooltip": [{"field": "way", "type": "nominal"}, {"field": "pool", "type": "nominal"},
                    {"field": "gpus", "type": "quantitative", "format": ","}]}
    assert c["datasets"][c["data"]["name"]] == [{"item": "GPUs", "usd": 10000}, {"item": "DRAM", "usd": 250.4}]
    assert c["title"] == "Cost by item" and c["mark"] == {"type": "bar"} and (c["width"], c["height"]) == (560, 120)
    assert c["padding"] == {"left": 40, "right": 40, "top": 5, "bottom": 5}
    assert c["encoding"] == {
        "x": {"field": "usd", "type": "quantitative", "title": "USD per month"},
        "y": {"field": "item", "type": "nominal", "title": None, "sort": None},
        "tooltip": [{"field": "item", "type": "nominal"}, {"field": "usd", "type": "quantitative", "format": "$,.0f"}]}


def test_a_way_of_serving_with_no_pool_is_not_charted():
    p = full_plan()
    p["serving"]["decode"] = None
    gpus, _ = report.charts(p)
    g = gpus.to_dict()
    assert [r["pool"] for r in g["datasets"][g["data"]["name"]]] == ["aggregated", "prefill"]


def test_html_puts_the_charts_after_the_answer(monkeypatch, tmp_path):
    import vl_convert

    monkeypatch.setattr(vl_convert, "vegalite_to_svg", lambda spec: f"<svg>{spec['title']}</svg>")
    # the charts are tested above; stand-ins here keep this test quick
    monkeypatch.setattr(report, "charts", lambda plan: [
        SimpleNamespace(to_dict=lambda: {"title": f"GPUs of each way of serving ({plan['gpus']} in the plan)"}),
        SimpleNamespace(to_dict=lambda: {"title": "Cost by item"})])
    page = report.html(full_plan())
    assert page.startswith('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Plan: 1,000 '
                           "concurrent sessions of Llama X on h100-80gb</title><style>")
    assert page.endswith("</body></html>\n")
    answer = page.index("<h2>Answer</h2>")
    first = page.index('<figure class="chart"><svg>GPUs of each way of serving (16 in the plan)</svg>')
    second = page.index('<figure class="chart"><svg>Cost by item</svg></figure>')
    serving = page.index("<h2>Serving: aggregated vs disaggregated at the SLO</h2>")
    assert answer < first < second < serving
    assert page.count("<h2>Serving") == 1 and "<table>" in page and "<td>TP 2</td>" in page
    assert "</svg></figure>\n<figure class=\"chart\"><svg>Cost by item</svg></figure>\n<h2>Serving" in page
    assert ("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}"
            "td:first-child,th:first-child{text-align:left}</style></head><body>\n<h1>Plan: ") in page
    path = tmp_path / "plan.html"
    report.write_html(full_plan(), path)
    assert path.read_text(encoding="utf-8") == page


def test_the_plan_is_not_changed():
    p = full_plan()
    before = copy.deepcopy(p)
    report.markdown(p)
    assert p == before
