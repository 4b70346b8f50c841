"""model.book.plan_view by hand: the sentences, the table and the what-if chart of the chapter "Plan your own
service" on hand-made plans (dicts shaped like :func:`model.plan.compose.make_plan`'s; no planner runs); every
expected sentence is written out here, its figures worked from the inputs in the comments."""
import math

import pandas as pd
import pytest

from model.book import plan_view as pv
from model.book.sliders import default_rows, evaluate
from model.book.tables import table_frame
from model.checks import ParameterError


def _plan(**over) -> dict:
    p = {"inputs": {"sessions": 1_000_000.0, "demand_requests_per_s": 1234.6, "prompt_tokens": 2000,
                    "reply_tokens": 250, "ttft_p95_s": 1.5, "cache": True},
         "serving": {"aggregated_gpus": 1200, "disaggregated_gpus": 1000, "cached_prompt_tokens": 500.0},
         "disaggregated": True, "gpus": 1000, "prefill_gpus": 400, "decode_gpus": 600,
         "tp": {"prefill": 2, "decode": 4, "aggregated": 8},
         "fleet": {"spare_gpus": 50, "regions": 1, "peak_to_mean": 1.5, "spare_fraction": 0.05},
         "ttl_s": 600.0, "hbm_gb_per_node": 12.345, "dram_gb_per_node": 0.0, "ssd_gb_per_node": 2048.0,
         "routing": "prefix", "usd_per_month": 2_345_678.0, "usd_per_million_tokens": 0.04567, "kw": 1234.6,
         "kwh_per_million_tokens": 0.0123, "cost": {"by_item_usd_per_month": {"gpus": 2_000_000.0}},
         "validated_error": {"ttft": 0.0912, "tpot": 0.054, "throughput": 0.031}}
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(p.get(k), dict):
            p[k] = {**p[k], **v}
        else:
            p[k] = v
    return p


# --- small words --------------------------------------------------------------------------------------------------
def test_tp_options_are_the_powers_of_two_up_to_the_planners_largest():
    assert pv.TP_OPTIONS == (1, 2, 4, 8)  # plan_tp_options_max = 8 in data/parameters
    assert pv.UNREACHABLE_RATE == 1e-12 and pv.LABEL_ROOM == 1.9


def test_count_words():
    words = ["no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    assert [pv.count_words(n) for n in range(11)] == words
    assert pv.count_words(11) == "11" and pv.count_words(12345) == "12,345" and pv.count_words(-1) == "-1"


def test_service_name_gpus_and_gb():
    assert pv.service_name("coding_assistant") == "coding assistant"
    assert pv.gpus_text(1) == "1 GPU" and pv.gpus_text(2) == "2 GPUs" and pv.gpus_text(0) == "0 GPUs"
    assert pv.gpus_text(1234.4) == "1,234 GPUs"
    assert pv._gb(12.345) == "12 GB" and pv._gb(2048.0) == "2,048 GB" and pv._gb(0.0) == "0 GB"
    assert pv._gb(1.234) == "1.2 GB" and pv._gb(0.05) == "0.05 GB"


def test_money_text():
    assert pv.money_text(2_345_678.0) == "$2.35M"
    assert pv.money_text(1e6) == "$1M"  # not $1e+03K
    assert pv.money_text(1.5e9) == "$1,500M" and pv.money_text(1e9) == "$1,000M"  # not $1e+03M
    # a millionth above a tie of the last digit shown: $2.345001M is $2.35M, $1,500.501M is $1,501M
    assert pv.money_text(2_345_001.0) == "$2.35M" and pv.money_text(1_500_501_000.0) == "$1,501M"
    assert pv.money_text(45_600.0) == "$45.6K" and pv.money_text(1e3) == "$1K"
    assert pv.money_text(789.4) == "$789" and pv.money_text(0.0) == "$0"


def test_names_list():
    assert pv.names_list([]) == "none of them" and pv.names_list([], none="nobody") == "nobody"
    assert pv.names_list(["support_bot"]) == "support bot"
    assert pv.names_list(["a", "b"]) == "a and b"
    assert pv.names_list(["a", "b_c", "d"], article="the ") == "the a, the b c and the d"


# --- one plan's sentence --------------------------------------------------------------------------------------------
def test_serving_phrase_in_each_way():
    assert pv.serving_phrase(_plan()) == ("1,000 GPUs (50 of them hot spares) as disaggregated pools (400 prefill at "
                                          "TP 2 + 600 decode at TP 4), against 1,200 GPUs aggregated")
    assert pv.serving_phrase(_plan(serving={"aggregated_gpus": None}, fleet={"spare_gpus": 0})) == (
        "1,000 GPUs as disaggregated pools (400 prefill at TP 2 + 600 decode at TP 4), no aggregated replica meets "
        "the targets")
    agg = _plan(disaggregated=False, gpus=1, fleet={"spare_gpus": 0})
    assert pv.serving_phrase(agg) == "1 GPU as aggregated replicas at TP 8 (chunked prefill), against 1,000 GPUs " \
                                     "disaggregated"
    agg["serving"]["disaggregated_gpus"] = None
    assert pv.serving_phrase(agg) == ("1 GPU as aggregated replicas at TP 8 (chunked prefill), no prefill/decode "
                                      "split meets the targets")
    assert pv.serving_phrase(_plan(fleet={"spare_gpus": 1234})).startswith("1,000 GPUs (1,234 of them hot spares)")


def test_cache_phrase():
    assert pv.cache_phrase(_plan()) == ("12 GB of HBM, 0 GB of DRAM and 2,048 GB of SSD per node for the cache, "
                                        "prefix routing, a TTL of 600 s")
    assert pv.cache_phrase(_plan(ttl_s=None)).endswith("prefix routing, no expiry")
    assert pv.cache_phrase(_plan(ttl_s=math.inf)).endswith("prefix routing, no expiry")
    assert pv.cache_phrase(_plan(ttl_s=3600.4)).endswith("a TTL of 3,600 s")
    assert pv.cache_phrase(_plan(inputs={"cache": False})) == "no prefix cache, round-robin routing"


def test_cost_phrase_and_finding():
    # $2,345,678: $2.35M; 1,234.6 kW: 1,235
    assert pv.cost_phrase(_plan()) == ("$2.35M a month, $0.0457 per million tokens, 1,235 kW (0.012 kWh per million "
                                       "tokens)")
    assert pv.finding("coding_assistant", _plan()) == (
        "Coding assistant (1,000,000 sessions): 1,000 GPUs (50 of them hot spares) as disaggregated pools (400 "
        "prefill at TP 2 + 600 decode at TP 4), against 1,200 GPUs aggregated; 12 GB of HBM, 0 GB of DRAM and "
        "2,048 GB of SSD per node for the cache, prefix routing, a TTL of 600 s; $2.35M a month, $0.0457 per "
        "million tokens, 1,235 kW (0.012 kWh per million tokens).")


# --- the table --------------------------------------------------------------------------------------------------------
def test_plans_table_and_its_columns_by_hand():
    t = pv.plans_table({"coding_assistant": _plan(), "support_bot": _plan(disaggregated=False)})
    assert t.columns.tolist() == list(pv.PLAN_COLUMNS) == [
        "service", "sessions", "demand_requests_per_s", "prompt_tokens", "reply_tokens", "ttft_p95_s", "serving",
        "gpus", "prefill_gpus", "decode_gpus", "aggregated_gpus", "disaggregated_gpus", "cached_share",
        "hbm_gb_per_node", "dram_gb_per_node", "ssd_gb_per_node", "routing", "ttl_s", "usd_per_month",
        "usd_per_million_tokens", "kw", "kwh_per_million_tokens"]
    assert t["service"].tolist() == ["coding assistant", "support bot"]
    assert t["serving"].tolist() == ["disaggregated", "aggregated"]
    shown = table_frame(t.iloc[:1], pv.PLAN_COLUMNS)
    assert shown.columns.tolist() == [
        "Service", "Concurrent sessions", "Demand (requests/s)", "Prompt (tokens)", "Reply (tokens)",
        "P95 TTFT target (s)", "Serving chosen", "GPUs", "Prefill GPUs", "Decode GPUs", "Aggregated would need (GPUs)",
        "Disaggregated would need (GPUs)", "Prompt served from cache", "Cache in HBM per node (GB)",
        "Cache in DRAM per node (GB)", "Cache on SSD per node (GB)", "Routing", "TTL (s)", "Cost (USD/month)",
        "Cost per 1M tokens", "IT power (kW)", "Energy per 1M tokens (kWh)"]
    # 500 of 2,000 prompt tokens cached: 25%
    assert shown.iloc[0].tolist() == [
        "coding assistant", "1,000,000", "1,235", "2,000", "250", "1.5", "disaggregated", "1,000", "400", "600",
        "1,200", "1,000", "25%", "12.3", "0", "2,048", "prefix", "600", "$2,345,678", "$0.0457", "1,235", "0.0123"]


# --- sliders' grids and the chapter's parameters ---------------------------------------------------------------------------
def test_factor_grid_by_hand():
    assert pv.factor_grid(0.25, 2.0) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]
    assert pv.factor_grid(0.5, 1.0) == [0.5, 1.0]  # ending at the service's own setting
    assert pv.factor_grid(0.5, 1.4) == [0.5, 1.0]
    # 0.1 x 3 is 0.30000000000000004 in binary: rounded to 12 decimals; 1.0 / 0.1 = 10 steps, the last kept
    assert pv.factor_grid(0.1, 1.0) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    assert pv.factor_grid(1 / 3, 1.0) == [0.333333333333, 0.666666666667, 1.0]


def _refused(fn, *args, **kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        fn(*args, **kw)
    return err.value


def test_factor_grid_refusals_name_the_parameter():
    e = _refused(pv.factor_grid, 0.3, 2.0)
    assert (e.name, e.value, e.allowed) == ("ttft_factor_step", 0.3, "1 divided by a whole number (0.5, 0.25, 0.1 …): "
                                            "the slider must pass through each service's own setting")
    e = _refused(pv.factor_grid, 0.25, 0.75)
    assert (e.name, e.value, e.allowed) == ("ttft_factor_max", 0.75, ">= 1 (each service's own setting)")
    assert _refused(pv.factor_grid, 0.0, 2.0).name == "ttft_factor_step"
    assert _refused(pv.factor_grid, 0.25, -1.0).name == "ttft_factor_max"
    # 1 / 0.4 = 2.5 steps: refused (2 / 0.4 would be whole)
    assert _refused(pv.factor_grid, 0.4, 2.0).name == "ttft_factor_step"
    assert pv.factor_grid(1.0, 2.0) == [1.0, 2.0]


def test_a_step_too_large_to_reach_one_is_refused_not_an_empty_grid():
    # 1 / 1e9 = 1e-9, within 1e-9 of the whole number 0: the grid had no position, not even the service's own
    e = _refused(pv.factor_grid, 1e9, 2.0)
    assert (e.name, e.value) == ("ttft_factor_step", 1e9)
    assert _refused(pv.factor_grid, 2e9, 2.0).name == "ttft_factor_step"


def _chapter(**over):
    kw = dict(services=["coding_assistant"], model="gemma-3-27b", gpu="h100-80gb", gpu_provider=None,
              gpu_pricing=None, usd_per_gpu_hour=None, ttft_factor_step=0.25, ttft_factor_max=2.0,
              sessions_factor_step=0.5, sessions_factor_max=4.0)
    kw.update(over)
    return kw


def test_check_plan_chapter_accepts_and_refuses_by_name():
    assert pv.check_plan_chapter(**_chapter()) is None
    assert pv.check_plan_chapter(**_chapter(usd_per_gpu_hour=2.5)) is None
    # 24 targets (0.1 ... 2.4): the most the slider takes (plan_what_if_max_points = 24)
    assert pv.check_plan_chapter(**_chapter(ttft_factor_step=0.1, ttft_factor_max=2.4)) is None
    e = _refused(pv.check_plan_chapter, **_chapter(ttft_factor_step=0.1, ttft_factor_max=2.5))
    assert (e.name, e.value, e.allowed) == ("ttft_factor_max", 2.5, "<= 24 x ttft_factor_step (2.4): at most 24 "
                                            "targets on the slider (plan_what_if_max_points)")
    assert _refused(pv.check_plan_chapter, **_chapter(services=[])).name == "services"
    e = _refused(pv.check_plan_chapter, **_chapter(model="nope"))
    assert (e.name, e.value) == ("model", "nope") and e.allowed.startswith("one of characterai-like, deepseek-r1, ")
    e = _refused(pv.check_plan_chapter, **_chapter(gpu="nope"))
    assert (e.name, e.value) == ("gpu", "nope") and e.allowed.startswith("one of a100-40gb, a100-80gb, ")
    assert _refused(pv.check_plan_chapter, **_chapter(usd_per_gpu_hour=0.0)).name == "usd_per_gpu_hour"
    assert _refused(pv.check_plan_chapter, **_chapter(ttft_factor_step=0.3)).name == "ttft_factor_step"
    assert _refused(pv.check_plan_chapter, **_chapter(sessions_factor_step=0.3)).name == "sessions_factor_step"
    assert _refused(pv.check_plan_chapter, **_chapter(sessions_factor_max=0.5)).name == "sessions_factor_max"


# --- the what-if: rows, expressions, chart ----------------------------------------------------------------------------------
def _grid() -> pd.DataFrame:
    return pd.DataFrame({"ttft_factor": [1.0, 2.0], "feasible": [True, False], "ttft_p95_s": [1.5, 3.0],
                         "agg_rate_tp1": [2.0, 0.0], "agg_rate_tp2": [5.0, -1.0], "pre_rate_tp1": [0.5, 0.0],
                         "pre_rate_tp2": [10.0, 0.0], "dec_rate_tp1": [3.0, 0.0], "dec_rate_tp2": [8.0, 0.0],
                         "agg_rate_tp4": [0.0, 0.0]})


def test_what_if_rows_by_hand():
    grid = _grid()
    rows = pv.what_if_rows({"coding_assistant": grid, "support_bot": grid},
                           {"coding_assistant": _plan(), "support_bot": _plan(inputs={"demand_requests_per_s": 7.0})},
                           tp_options=(1, 2))
    assert rows.columns[0] == "service" and list(rows.index) == [0, 1, 2, 3]
    assert rows["service"].tolist() == ["coding assistant", "coding assistant", "support bot", "support bot"]
    # rates of no replica (0 or below) become 1e-12 at the TP options asked; tp4 is not one of them here
    assert rows["agg_rate_tp1"].tolist() == [2.0, 1e-12, 2.0, 1e-12]
    assert rows["agg_rate_tp2"].tolist() == [5.0, 1e-12, 5.0, 1e-12]
    assert rows["dec_rate_tp2"].tolist() == [8.0, 1e-12, 8.0, 1e-12]
    assert rows["pre_rate_tp1"].tolist() == [0.5, 1e-12, 0.5, 1e-12]  # a rate below one replica a second stays
    assert rows["agg_rate_tp4"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert grid["agg_rate_tp1"].tolist() == [2.0, 0.0]  # the planner's grid is left as it was
    assert rows["demand_requests_per_s"].tolist() == [1234.6, 1234.6, 7.0, 7.0]
    assert rows["tokens_per_request"].tolist() == [2250] * 4
    # $2,000,000 of GPUs a month over 1,000 GPUs; 730 h x 3,600 s
    assert rows["usd_per_gpu_month"].tolist() == [2000.0] * 4
    assert rows["seconds_per_month"].tolist() == [2_628_000.0] * 4
    assert rows["peak_to_mean"].tolist() == [1.5] * 4 and rows["spare_fraction"].tolist() == [0.05] * 4
    e = _refused(pv.what_if_rows, {"a": grid}, {"a": _plan(fleet={"regions": 2})}, tp_options=(1, 2))
    assert (e.name, e.value, e.allowed) == ("regions", 2, "1: the page's closed form splits no fleet")


def test_plan_calculate_writes_the_closed_form():
    def pool(role):
        return (f"ceil(min(ceil(datum.demand * datum.peak_to_mean / datum.{role}_rate_tp1 - 1e-9) * 1, "
                f"ceil(datum.demand * datum.peak_to_mean / datum.{role}_rate_tp2 - 1e-9) * 2) "
                f"* (1 + datum.spare_fraction) - 1e-9)")
    assert pv.plan_calculate((1, 2)) == {
        "demand": "sessions_factor * datum.demand_requests_per_s",
        "agg_gpus": pool("agg"), "pre_gpus": pool("pre"), "dec_gpus": pool("dec"),
        "dis_gpus": "datum.pre_gpus + datum.dec_gpus",
        "gpus": "min(datum.agg_gpus, datum.dis_gpus)",
        "disaggregated": "datum.dis_gpus < datum.agg_gpus",
        "usd_per_month": "datum.gpus * datum.usd_per_gpu_month",
        "usd_per_million_tokens": "datum.usd_per_month / (datum.demand * datum.tokens_per_request * "
                                  "datum.seconds_per_month) * 1000000",
        "label": "format(datum.gpus, ',') + ' GPUs, $' + format(round(datum.usd_per_month / 10000) / 100, ',') + "
                 "'M a month'",
    }


def _chart_rows() -> pd.DataFrame:
    # one service, demand 10 requests/s at a 1.5 peak, no spares, 1,000 tokens a request, $2,000 a GPU-month; the
    # infeasible row's rates are unreachable (its cost would be astronomical)
    return pd.DataFrame({"service": ["s", "s"], "ttft_factor": [1.0, 2.0], "feasible": [True, False],
                         "agg_rate_tp1": [2.0, 1e-12], "agg_rate_tp2": [5.0, 1e-12], "pre_rate_tp1": [4.0, 1e-12],
                         "pre_rate_tp2": [10.0, 1e-12], "dec_rate_tp1": [3.0, 1e-12], "dec_rate_tp2": [8.0, 1e-12],
                         "demand_requests_per_s": [10.0, 10.0], "tokens_per_request": [1000, 1000],
                         "usd_per_gpu_month": [2000.0, 2000.0], "seconds_per_month": [2_628_000.0, 2_628_000.0],
                         "peak_to_mean": [1.5, 1.5], "spare_fraction": [0.0, 0.0]})


def test_plan_what_if_chart_spec_by_hand():
    chart = pv.plan_what_if_chart(_chart_rows(), tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0, sessions_step=0.5,
                                  sessions_max=3.0, expected={"gpus": 6})
    spec = chart.to_dict()
    # at half the sessions: peak 7.5/s; aggregated min(ceil(7.5/2) x 1, ceil(7.5/5) x 2) = 4, prefill 2 + decode 2 = 4:
    # 4 GPUs x $2,000 / (5 requests/s x 1,000 tokens x 2,628,000 s) x 1e6 = $0.6088 per million tokens (at the
    # service's own sessions 6 GPUs for twice the tokens: $0.4566); the axis reaches 1.9 x 0.6088
    x_max = 1.9 * 8000 / (5 * 1000 * 2_628_000) * 1e6
    bars, text = spec["layer"]
    for enc in (bars["encoding"], text["encoding"]):  # both marks share the axes and the tooltip
        assert enc["x"] == {"field": "usd_per_million_tokens", "type": "quantitative",
                            "title": "cost of the GPUs per million tokens (USD)",
                            "scale": {"domain": [0, pytest.approx(x_max)], "clamp": True}}
        assert enc["y"] == {"field": "service", "type": "nominal", "title": None, "sort": None,
                            "axis": {"labelLimit": 200}}
        assert enc["tooltip"] == [
            {"field": "service", "type": "nominal"},
            {"field": "gpus", "type": "quantitative", "format": ",", "title": "GPUs"},
            {"field": "agg_gpus", "type": "quantitative", "format": ",", "title": "aggregated would need"},
            {"field": "dis_gpus", "type": "quantitative", "format": ",", "title": "disaggregated would need"},
            {"field": "usd_per_month", "type": "quantitative", "format": "$,.0f", "title": "GPUs, USD a month"}]
    assert bars["mark"] == {"type": "bar"}
    assert bars["encoding"]["color"] == {
        "field": "disaggregated", "type": "nominal", "scale": {"domain": [False, True], "scheme": "tableau10"},
        "legend": {"title": "serving", "orient": "bottom",
                   "labelExpr": "datum.label == 'true' ? 'disaggregated' : 'aggregated'"}}
    assert text["mark"] == {"type": "text", "align": "left", "dx": 4}
    assert text["encoding"]["text"] == {"field": "label", "type": "nominal"}
    assert (spec["width"], spec["height"]) == (620, 150)
    assert spec["title"] == {"text": "What each service's plan costs", "subtitle": [
        "bars: the GPUs' cost per million tokens (prompt + reply); label: the plan's GPUs and their cost a month",
        "the P95 TTFT slider moves over the grid of targets the model planned; sessions are computed in the page"]}
    params = {p["name"]: p for p in spec["params"]}
    assert params["sessions_factor"]["value"] == 1.0 and params["ttft_factor"]["value"] == 1.0
    assert params["sessions_factor"]["bind"] == {"input": "range", "min": 0.5, "max": 3.0, "step": 0.5,
                                                 "name": "concurrent sessions, × each service's own "}
    assert params["ttft_factor"]["bind"] == {"input": "range", "min": 0.5, "max": 2.0, "step": 0.5,
                                             "name": "P95 TTFT target, × each service's own "}
    assert spec["transform"][-1] == {"filter": "datum.feasible && abs(datum.ttft_factor - ttft_factor) < 0.000001"}
    assert [next(iter(set(t) - {"as"})) for t in spec["transform"][:-1]] == ["calculate"] * 10
    assert spec["usermeta"]["what_if"]["expected"] == {"gpus": 6}
    small = pv.plan_what_if_chart(_chart_rows(), tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0, sessions_step=0.5,
                                  sessions_max=3.0, expected={}, width=300, height=90).to_dict()
    assert (small["width"], small["height"]) == (300, 90)


def test_the_cost_axis_counts_the_spares():
    chart = pv.plan_what_if_chart(_chart_rows().assign(spare_fraction=0.1), tp_options=(1, 2), ttft_step=0.5,
                                  ttft_max=2.0, sessions_step=0.5, sessions_max=3.0, expected={})
    # half the sessions: pools of 4 (aggregated), 2 + 2 grow to ceil(4.4) = 5 and ceil(2.2) = 3 + 3: 5 GPUs for
    # 5 requests/s; at the service's own 7 GPUs for 10/s is cheaper per token
    x_max = 1.9 * 5 * 2000 / (5 * 1000 * 2_628_000) * 1e6
    assert chart.to_dict()["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, pytest.approx(x_max)]


def test_the_cost_axis_reaches_the_services_own_sessions_when_they_cost_more_per_token():
    # one replica of rate 1 at half of 2 + 1.5e-9 requests/s (1 + 0.75e-9: within the 1e-9 tolerance of 1
    # replica), three at the whole (2 + 0.5e-9 after the tolerance): per request 3 / d at the service's own
    # sessions against 1 / (d / 2) = 2 / d at half of them (and 5 / 2d at twice them)
    d = 2 + 1.5e-9
    rows = _chart_rows().iloc[:1].assign(
        demand_requests_per_s=d, peak_to_mean=1.0, agg_rate_tp1=1.0, agg_rate_tp2=1e-12, pre_rate_tp1=1e-12,
        pre_rate_tp2=1e-12, dec_rate_tp1=1e-12, dec_rate_tp2=1e-12)
    chart = pv.plan_what_if_chart(rows, tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0, sessions_step=0.5,
                                  sessions_max=3.0, expected={})
    x_max = 1.9 * 3 * 2000 / (d * 1000 * 2_628_000) * 1e6
    assert chart.to_dict()["layer"][0]["encoding"]["x"]["scale"]["domain"] == [0, pytest.approx(x_max)]


def test_the_page_computes_the_closed_form_at_the_sliders():
    chart = pv.plan_what_if_chart(_chart_rows(), tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0, sessions_step=0.5,
                                  sessions_max=3.0, expected={})
    [row] = default_rows(chart)
    # peak 15/s: aggregated min(ceil(15/2) x 1, ceil(15/5) x 2) = min(8, 6) = 6; prefill min(4, 4) = 4; decode
    # min(5, 4) = 4: 8 disaggregated; 6 GPUs x $2,000 = $12,000 a month = $0.01M
    assert (row["agg_gpus"], row["pre_gpus"], row["dec_gpus"], row["dis_gpus"], row["gpus"]) == (6, 4, 4, 8, 6)
    assert row["disaggregated"] is False
    assert row["usd_per_month"] == 12_000.0
    assert row["usd_per_million_tokens"] == pytest.approx(12_000 / (10 * 1000 * 2_628_000) * 1e6)
    assert row["label"] == "6 GPUs, $0.01M a month"
    # twice the sessions, 30/s at the peak: aggregated min(15, 6 x 2) = 12; prefill min(8, 3 x 2) = 6, decode
    # min(10, 4 x 2) = 8: 14
    [row2] = default_rows(chart, {"sessions_factor": 2.0})
    assert (row2["agg_gpus"], row2["dis_gpus"], row2["gpus"]) == (12, 14, 12)
    spared = _chart_rows().assign(spare_fraction=0.1)
    [row3] = default_rows(pv.plan_what_if_chart(spared, tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0,
                                                sessions_step=0.5, sessions_max=3.0, expected={}))
    # with 10% spares each pool grows to ceil(x 1.1): ceil(6.6) = 7 aggregated; ceil(4.4) = 5 prefill and 5 decode
    assert (row3["agg_gpus"], row3["pre_gpus"], row3["dec_gpus"], row3["gpus"]) == (7, 5, 5, 7)
    # aggregated replicas slower at TP 2: they need as many GPUs as the pools, and a tie keeps them aggregated
    fast = _chart_rows().assign(agg_rate_tp2=2.0)
    [row4] = default_rows(pv.plan_what_if_chart(fast, tp_options=(1, 2), ttft_step=0.5, ttft_max=2.0,
                                                sessions_step=0.5, sessions_max=3.0, expected={}))
    # aggregated min(ceil(15/2) x 1, ceil(15/2) x 2) = 8 against 4 + 4 = 8 disaggregated
    assert (row4["agg_gpus"], row4["dis_gpus"], row4["disaggregated"]) == (8, 8, False)
    assert evaluate("datum.dis_gpus < datum.agg_gpus", {"dis_gpus": 7, "agg_gpus": 8}) is True
    assert default_rows(chart, {"ttft_factor": 2.0}) == []  # the infeasible target shows no bar


# --- sentences on several plans ----------------------------------------------------------------------------------------------
def test_cache_finding_names_where_each_cache_spills_and_the_routing():
    plans = {"coding_assistant": _plan(), "support_bot": _plan(ssd_gb_per_node=0.0),
             "character_chat": _plan(dram_gb_per_node=100.4, ssd_gb_per_node=0.0, routing="session")}
    assert pv.cache_finding(plans) == (
        "The cache outgrows the free HBM for the coding assistant and character chat and spills to 0 GB of DRAM and "
        "2,048 GB of SSD per node (coding assistant), 100 GB of DRAM and 0 GB of SSD per node (character chat); "
        "prefix routing for the coding assistant and support bot; session routing for the character chat.")
    # half a GB of DRAM or of SSD is a spill too
    assert pv.cache_finding({"a": _plan(dram_gb_per_node=0.5, ssd_gb_per_node=0.0)}).startswith(
        "The cache outgrows the free HBM for the a and spills to 0.5 GB of DRAM and 0 GB of SSD per node (a); ")
    assert pv.cache_finding({"a": _plan(ssd_gb_per_node=0.5)}).startswith(
        "The cache outgrows the free HBM for the a and spills to 0 GB of DRAM and 0.5 GB of SSD per node (a); ")
    assert pv.cache_finding({"support_bot": _plan(ssd_gb_per_node=0.0)}) == (
        "Every plan's prefix cache fits in the HBM its replicas leave free: no DRAM or SSD is worth buying for it; "
        "prefix routing for the support bot.")


def test_table_meaning_says_what_disaggregation_saves_or_costs():
    plans = {"coding_assistant": _plan(),
             "support_bot": _plan(serving={"aggregated_gpus": 100, "disaggregated_gpus": 125}),
             "character_chat": _plan(serving={"aggregated_gpus": None}),
             "x_y": _plan(serving={"disaggregated_gpus": None}),
             "same": _plan(serving={"aggregated_gpus": 100, "disaggregated_gpus": 100})}
    # 1 - 1,000 / 1,200 = 17%; 125 / 100 - 1 = 25%
    assert pv.table_meaning(plans) == (
        "Separate pools save 17% of the GPUs of the coding assistant (1,000 against 1,200); separate pools would need "
        "25% more GPUs than aggregated replicas for the support bot (125 against 100); only disaggregated pools meet "
        "the targets of the character chat; only aggregated replicas meet the targets of the x y; separate pools "
        "would need 0% more GPUs than aggregated replicas for the same (100 against 100).")
    assert pv.table_meaning({"a": _plan(serving={"aggregated_gpus": 12000, "disaggregated_gpus": 1500})}) == (
        "Separate pools save 88% of the GPUs of the a (1,500 against 12,000).")


def test_storage_note():
    # $2,000,000 of GPUs in $2,345,678: the rest, 14.7%, is the cache's memory
    plans = {"coding_assistant": _plan(), "support_bot": _plan(usd_per_month=2e6),
             "free": _plan(usd_per_month=0.0)}
    assert pv.storage_note(plans) == ("the cache's DRAM and SSD add 14.7% (coding assistant), 0.0% (support bot) of "
                                      "the plans' cost at the starting position.")
    only_gpus = "the plans buy no DRAM or SSD for their caches, so that is all they cost."
    assert pv.storage_note({"support_bot": _plan(usd_per_month=2e6)}) == only_gpus
    assert pv.storage_note({"free": _plan(usd_per_month=0.0)}) == only_gpus
    # 50 cents a month, half of it GPUs: still a plan with a cost
    cheap = _plan(usd_per_month=0.5, cost={"by_item_usd_per_month": {"gpus": 0.25}})
    assert pv.storage_note({"cheap": cheap}) == ("the cache's DRAM and SSD add 50.0% (cheap) of the plans' cost at the "
                                                 "starting position.")


def test_tight_note():
    every = pd.DataFrame({"feasible": [True, True], "ttft_p95_s": [1.5, 0.75]})
    some = pd.DataFrame({"feasible": [False, True, True], "ttft_p95_s": [0.6, 1.2, 1.8]})
    assert pv.tight_note({"coding_assistant": every, "support_bot": some},
                         {"coding_assistant": _plan(), "support_bot": _plan()}) == (
        "The coding assistant meets every target on the slider, down to 0.75 s; the support bot meets none below "
        "1.2 s (its own target: 1.5 s).")


def test_error_note():
    assert pv.error_note(_plan()) == (
        "The step times behind every GPU count are the study's fitted model, whose median absolute error on the "
        "published measurements is 9.1% on TTFT, 5.4% on TPOT and 3.1% on throughput (see the validation chapter); "
        "the latency tails are closed forms checked against the discrete-event simulator "
        "(`python -m model.plan --simulate`).")


def test_agreements():
    # 1,234.4 / 1,000 = +23%
    assert pv.agreement_fleet(1234.4, 1000.0) == ("1,234 GPUs for the case study's sessions, against 1,000 from the "
                                                  "fleet chapter's simulated load sweep (+23%)")
    # 0.06 / 0.03 = x2
    assert pv.agreement_economics({"usd_per_million_tokens": 0.06}, 0.03, 0.6, 8) == (
        "without a prefix cache the planner charges $0.06 per million tokens, the economics chapter's arithmetic "
        "(GPU-hour price ÷ tokens per second per GPU × utilisation) at the planner's own throughput and load; the "
        "economics chapter's saturated 8-GPU replica at 60% utilisation gives $0.03 (×2): a replica held to the "
        "latency targets carries less than a saturated one, and the plan pays for its hot spares")
    assert pv.agreement_tiering(0.1234, 0.1234, 8, 1500, 2000) == (
        "a 2,000-token prompt with 1,500 tokens cached takes 123 ms on the planner's 8-GPU prefill replica and 123 ms "
        "on the tiering chapter's 8-GPU prefill instance (the same step-time model), at the same GPU-hour price.")
    assert "(not the same step-time model)" in pv.agreement_tiering(0.1234, 0.2, 8, 1500, 2000)
    assert "200 ms on the tiering chapter's" in pv.agreement_tiering(0.1234, 0.2, 8, 1500, 2000)
    # within a relative 1e-9: the same; 5e-9 apart: not
    assert "(the same step-time" in pv.agreement_tiering(1.0, 1.0 + 1e-10, 8, 1500, 2000)
    assert "(not the same step-time" in pv.agreement_tiering(1.0, 1.0 + 5e-9, 8, 1500, 2000)


def test_cost_rank():
    assert pv.cost_rank({"coding_assistant": _plan()}) == "The coding assistant costs $0.0457 per million tokens."
    plans = {"coding_assistant": _plan(), "support_bot": _plan(usd_per_million_tokens=0.0123),
             "character_chat": _plan(usd_per_million_tokens=0.5)}
    assert pv.cost_rank(plans) == ("Per million tokens the cheapest to serve is the support bot at $0.0123; the "
                                   "dearest the character chat at $0.5.")


def test_fleet_note():
    assert pv.fleet_note(_plan(fleet={"regions": 1, "peak_to_mean": 1, "spare_fraction": 0.0})) == (
        "one region, the pools sized for the sessions' demand as given, with no hot spares (the planner's defaults; "
        "the fleet chapter's spares).")
    assert pv.fleet_note(_plan(fleet={"regions": 3, "peak_to_mean": 1.5, "spare_fraction": 0.05})) == (
        "3 regions, the pools sized for 1.5 times the sessions' mean demand, with 5% hot spares per region (the "
        "planner's defaults; the fleet chapter's spares).")


# --- the plan beside the other chapters: the gathering, with stand-ins for every model call ----------------------
#: Chosen defaults of the three chapters (not theirs: every value distinct, so that a swapped key shows).
FLEET = {"spare_share": 0.37, "model": "m-fleet", "gpu": "g-fleet", "replica_gpus": 6, "prompt_tokens": 1111,
         "reply_tokens": 22, "sim_requests": 5000, "response_p95_s": 2.5, "turns_per_session": 40,
         "session_minutes": 12}
ECON = {"model": "m-econ", "gpu": "g-econ", "n_gpus": 3, "prompt_tokens": 1500, "reply_tokens": 50,
        "utilization": 0.5}
TIER = {"model": "m-tier", "gpu": "g-tier", "gpus_per_instance": 2}


class _Calls:
    """Stand-ins that record each call (name, positional arguments, keywords) and return a chosen result."""

    def __init__(self):
        self.log = []

    def stand_in(self, name, result):
        def call(*args, **kw):
            self.log.append((name, args, kw))
            return result(*args, **kw) if callable(result) else result
        return call

    def of(self, name):
        return [(a, k) for n, a, k in self.log if n == name]


def _only_changed(inputs, **changed):
    """``inputs`` differs from :class:`PlanInputs`'s defaults in exactly ``changed`` (and has those values)."""
    import dataclasses

    from model.plan.inputs import PlanInputs

    base = PlanInputs()
    diff = {f.name: getattr(inputs, f.name) for f in dataclasses.fields(PlanInputs)
            if getattr(inputs, f.name) != getattr(base, f.name)}
    return diff == changed and all(type(getattr(inputs, k)) is type(v) for k, v in changed.items())


def test_chapter_defaults_read_the_named_chapters_parameters_cell(monkeypatch):
    from model.io import ROOT

    calls = _Calls()
    monkeypatch.setattr(pv, "parameter_defaults", calls.stand_in("defaults", {"x": 1}))
    assert pv.chapter_defaults("fleet") == {"x": 1}
    assert calls.of("defaults") == [((ROOT / "notebooks" / "fleet.ipynb",), {})]
    assert pv.AGREEMENT_CHAPTERS == ("fleet", "economics", "tiering")


def test_sweep_requests_caps_the_fleet_chapters_sweep_on_the_quick_profile():
    from model.parameters import default

    cap = int(default("plan_quick_sim_requests"))
    assert pv.sweep_requests(cap + 1, quick=True) == cap
    assert pv.sweep_requests(cap - 1, quick=True) == cap - 1
    assert pv.sweep_requests(cap + 1, quick=False) == cap + 1
    assert type(pv.sweep_requests(cap + 1, quick=True)) is int


def _fleet_stand_ins(monkeypatch, calls, *, plan_gpus=1234):
    monkeypatch.setattr(pv, "make_plan", calls.stand_in("make_plan", {"gpus": plan_gpus}))
    monkeypatch.setattr(pv, "replica_load_sweep", calls.stand_in("sweep", (7.5, "the sweep")))
    # two rows: the first is the one session count asked
    monkeypatch.setattr(pv, "fleet_sizing_table", calls.stand_in("sizing", pd.DataFrame({"gpus": [987.0, 5.0]})))


@pytest.mark.parametrize("quick, requests", [(False, 5000), (True, None)])
def test_fleet_agreement_asks_the_fleet_chapters_calls_with_its_defaults(monkeypatch, quick, requests):
    from model.parameters import default
    from model.plan.inputs import PlanInputs

    requests = requests or int(default("plan_quick_sim_requests"))
    calls = _Calls()
    _fleet_stand_ins(monkeypatch, calls)
    case = PlanInputs(sessions=12345.0, ttft_p95_s=1.75)
    assert pv.fleet_agreement(case, FLEET, quick=quick) == (1234, 987.0)
    [(args, kw)] = calls.of("make_plan")
    assert kw == {} and _only_changed(args[0], cache=False, tpot_p95_s=1.75, disaggregation="disaggregated",
                                      spare_fraction=0.37)
    assert calls.of("sweep") == [(("m-fleet", "g-fleet", 6), {"prompt_tokens": 1111, "reply_tokens": 22,
                                                               "n_requests": requests})]
    assert calls.of("sizing") == [(("the sweep", 7.5), {
        "latency_metrics": ["ttft_s_p95"], "latency_target_s": 2.5, "session_counts": [12345.0], "replica_gpus": 6,
        "turns_per_session": 40, "session_minutes": 12, "spare_share": 0.37})]


def test_economics_agreement_prices_the_chapters_replica_at_the_plans_gpu_hour(monkeypatch):
    calls = _Calls()
    plan = {"cost": {"usd_per_gpu_hour": 3.6}, "usd_per_million_tokens": 1.25}
    monkeypatch.setattr(pv, "make_plan", calls.stand_in("make_plan", plan))
    monkeypatch.setattr(pv, "modelled_tokens_per_s_per_gpu", calls.stand_in("tps", 2000.0))
    got_plan, usd = pv.economics_agreement(ECON)
    assert got_plan is plan
    # $3.6 an hour ÷ (2,000 tokens/s × 3,600 s × 0.5) × 1e6 = $1 per million tokens
    assert usd == pytest.approx(1.0, rel=1e-12)
    [(args, kw)] = calls.of("make_plan")
    assert kw == {} and _only_changed(args[0], cache=False)
    assert calls.of("tps") == [(("m-econ", "g-econ", 3), {"prompt_tokens": 1500, "reply_tokens": 50})]


def _tiering_stand_ins(monkeypatch, calls, *, cached=1200):
    from types import SimpleNamespace

    import numpy as np

    # a second element the prompt does not have: only the first is the prompt's time
    engine = SimpleNamespace(prefill_time_s=calls.stand_in("prefill_time_s", np.array([0.5, 9.0])))
    monkeypatch.setattr(pv, "serving_setup", calls.stand_in("setup", SimpleNamespace(cached_tokens=cached)))
    monkeypatch.setattr(pv, "default_config", calls.stand_in("config", SimpleNamespace(engine=engine)))
    monkeypatch.setattr(pv, "deployment", calls.stand_in("deployment", "the deployment"))
    monkeypatch.setattr(pv, "prefill_service_s", calls.stand_in("prefill_service_s", 0.25))


def test_tiering_agreement_prefills_the_same_prompt_on_both_sides(monkeypatch):
    from model.plan.inputs import PlanInputs

    calls = _Calls()
    _tiering_stand_ins(monkeypatch, calls)
    case = PlanInputs(prompt_tokens=3000)
    plan_s, tiering_s, cached = pv.tiering_agreement(case, TIER)
    assert (plan_s, tiering_s, cached) == (0.25, 0.5, 1200) and type(tiering_s) is float
    assert calls.of("setup") == [((case,), {})]
    assert calls.of("config") == [((), {"model": "m-tier", "gpu": "g-tier", "gpus_per_instance": 2})]
    assert calls.of("prefill_time_s") == [(([1800], [1200]), {})]        # 3,000 − 1,200 computed, 1,200 cached
    assert calls.of("deployment") == [((case.model, case.gpu, 2), {})]
    assert calls.of("prefill_service_s") == [(("the deployment", 3000, 1200), {})]


@pytest.mark.parametrize("quick", [False, True])
def test_chapter_agreements_glue_the_three_comparisons(monkeypatch, quick):
    """Each chapter's defaults go to its own comparison; the three sentences carry the stand-ins' numbers."""
    from model.io import ROOT
    from model.parameters import default
    from model.plan.inputs import PlanInputs

    calls = _Calls()
    chapters = {"fleet.ipynb": FLEET, "economics.ipynb": ECON, "tiering.ipynb": TIER}
    monkeypatch.setattr(pv, "parameter_defaults", calls.stand_in("defaults", lambda path: chapters[path.name]))
    _fleet_stand_ins(monkeypatch, calls)
    _tiering_stand_ins(monkeypatch, calls)
    # the fleet comparison's plan is the disaggregated one, the economics comparison's the other
    plans = {"disaggregated": {"gpus": 1100},
             "auto": {"cost": {"usd_per_gpu_hour": 3.6}, "usd_per_million_tokens": 1.25}}
    monkeypatch.setattr(pv, "make_plan", calls.stand_in("make_plan", lambda i: plans[i.disaggregation]))
    monkeypatch.setattr(pv, "fleet_sizing_table", calls.stand_in("sizing", pd.DataFrame({"gpus": [1000.0]})))
    monkeypatch.setattr(pv, "modelled_tokens_per_s_per_gpu", calls.stand_in("tps", 2000.0))
    got = pv.chapter_agreements(quick=quick)
    assert [a for a, _ in calls.of("defaults")] == [(ROOT / "notebooks" / name,) for name in chapters]
    case = PlanInputs()
    assert calls.of("sweep")[0][1]["n_requests"] == (int(default("plan_quick_sim_requests")) if quick else 5000)
    assert calls.of("sizing")[0][1]["session_counts"] == [case.sessions]
    assert calls.of("setup") == [((case,), {})]
    # 1,100 / 1,000 = +10%
    assert got.fleet == ("1,100 GPUs for the case study's sessions, against 1,000 from the fleet chapter's simulated "
                         "load sweep (+10%)")
    # $3.6 ÷ (2,000 × 3,600 × 0.5) × 1e6 = $1; 1.25 / 1 = +25%
    assert got.economics == (
        "without a prefix cache the planner charges $1.25 per million tokens, the economics chapter's arithmetic "
        "(GPU-hour price ÷ tokens per second per GPU × utilisation) at the planner's own throughput and load; the "
        "economics chapter's saturated 3-GPU replica at 50% utilisation gives $1 (+25%): a replica held to the "
        "latency targets carries less than a saturated one, and the plan pays for its hot spares")
    prompt = case.prompt_tokens
    assert calls.of("prefill_time_s") == [(([prompt - 1200], [1200]), {})]
    assert got.tiering == (
        f"a {prompt:,}-token prompt with 1,200 tokens cached takes 250 ms on the planner's 2-GPU prefill replica and "
        f"500 ms on the tiering chapter's 2-GPU prefill instance (not the same step-time model), at the same GPU-hour "
        f"price.")
