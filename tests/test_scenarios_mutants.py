"""model.scenarios by hand: a published rate over a small price table, the memory to hold a service when two groups
tie, a case's row and the side-by-side table on a stand-in plan, a published day of round numbers, the planner's
inputs of a published day, and every refusal under the name the caller typed with what it allows."""
import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.economics.prices as prices
import model.scenarios as scenarios
from model.checks import ParameterError
from model.plan.inputs import PlanInputs
from model.scenarios import (Case, GpuRate, PublishedDay, case_row, cases_for, check_service_2026, deepseek_day,
                             deepseek_gaps, fleet_comparison, holding, plan_published_day, published_day_inputs,
                             published_rate, service_table, weight_format)

MODELS = ("characterai-like, deepseek-r1, deepseek-v3, gemma-3-27b, gpt-oss-120b, gpt-oss-20b, kimi-k2-instruct, "
          "llama-2-13b, llama-2-70b, llama-2-7b, llama-3-70b, llama-3-8b, llama-3.1-405b, llama-3.1-70b, "
          "llama-3.1-8b, llama-4-scout, mistral-7b, mixtral-8x22b, mixtral-8x7b, qwen2.5-7b, qwen3-235b-a22b, "
          "qwen3-30b-a3b, qwen3-32b, qwen3-next-80b-a3b")
GPUS = "a100-40gb, a100-80gb, h100-80gb, h200-141gb, b200-180gb, gb200-186gb, mi300x-192gb, mi325x-256gb, h800-80gb"
DTYPES = "'fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4', 'fp4'"


def quoted(names):
    return ", ".join(repr(n) for n in names.split(", "))


# --- published_rate ------------------------------------------------------------------------------------------

def _prices(rows):
    return pd.DataFrame(rows, columns=["gpu", "provider", "pricing", "usd_per_gpu_hour", "date"])


def test_a_rate_is_the_median_of_on_demand_and_neocloud_rows(monkeypatch):
    """x: 3.0 (b, on-demand), 1.0 (a, neocloud), 2.0 (a, neocloud); spot, reserved and y's rows left out -> median 2.0
    of 3 rows, providers a and b, dates from the earliest to the latest."""
    monkeypatch.setattr(prices, "gpu_prices", lambda: _prices([
        ("x", "b", "on-demand", 3.0, "2026-03-01"), ("x", "a", "neocloud", 1.0, "2026-01-05"),
        ("x", "a", "spot", 0.1, "2025-01-01"), ("y", "c", "on-demand", 9.0, "2027-01-01"),
        ("x", "a", "neocloud", 2.0, "2026-02-01"), ("x", "d", "reserved", 0.2, "2027-05-05")]))
    assert published_rate("x") == GpuRate("x", 2.0, 3, "median of 3 (a, b; 2026-01-05 to 2026-03-01)")
    assert published_rate("y") == GpuRate("y", 9.0, 1, "median of 1 (c; 2027-01-01 to 2027-01-01)")
    assert published_rate("z") == GpuRate("z", None, 0, "no published price")


def test_an_even_count_takes_the_mean_of_the_two_middle_rows(monkeypatch):
    monkeypatch.setattr(prices, "gpu_prices", lambda: _prices([
        ("x", "p", "neocloud", 8.0, "2026-01-01"), ("x", "p", "neocloud", 1.0, "2026-01-02"),
        ("x", "q", "on-demand", 4.0, "2026-01-03"), ("x", "q", "on-demand", 2.0, "2026-01-04")]))
    r = published_rate("x")
    assert_allclose(r.usd_per_gpu_hour, (2.0 + 4.0) / 2, rtol=1e-12)
    assert r.rows == 4 and r.label == "median of 4 (p, q; 2026-01-01 to 2026-01-04)"
    monkeypatch.setattr(prices, "gpu_prices", lambda: _prices([
        ("x", "p", "neocloud", 5.0, "2026-01-01"), ("x", "p", "neocloud", 1.0, "2026-01-02")]))
    assert_allclose(published_rate("x").usd_per_gpu_hour, 3.0, rtol=1e-12)


# --- weight_format -------------------------------------------------------------------------------------------

def test_weight_formats_and_their_refusals():
    assert weight_format("b200-180gb", "auto") == "fp4" and weight_format("h100-80gb", "auto") == "fp8"
    assert weight_format("b200-180gb", "fp8") == "fp8" and weight_format("b200-180gb", "fp4") == "fp4"
    assert weight_format("h100-80gb", "bf16") == "bf16"
    with pytest.raises(ParameterError) as e:
        weight_format("h100-80gb", "fp4", name="characterai_dtype")
    assert str(e.value) == ("characterai_dtype='fp4' is not allowed: characterai_dtype must be one h100-80gb has "
                            "tensor cores for: auto, fp8, int8, fp16, bf16")
    with pytest.raises(ParameterError) as e:
        weight_format("h100-80gb", "int4")
    assert str(e.value) == ("weight_dtype='int4' is not allowed: weight_dtype must be one of 'auto', 'fp8', 'fp4', "
                            "'int8', 'fp16', 'bf16'")


# --- holding -------------------------------------------------------------------------------------------------

def test_two_groups_that_tie_keep_the_smaller():
    """Llama 3.1 8B in BF16 on H100s, 10,000 tokens: 32 layers x 8 KV heads x 128 x (K, V) x 2 bytes a token; the
    usable 0.9 x 85,520,809,984 bytes of one GPU less 16,060,522,496 bytes of weights hold floor(46.47) = 46
    sessions, two GPUs floor(105.19) = 105. 92 sessions take 2 GPUs either way: one GPU a group is kept."""
    kv = 32 * 8 * 128 * 2 * 2 * 10_000
    usable, weights = 0.9 * 85_520_809_984, 16_060_522_496
    assert math.floor((usable - weights) / kv) == 46 and math.floor((2 * usable - weights) / kv) == 105
    h = holding("llama-3.1-8b", "h100-80gb", weight_dtype="bf16", kv_dtype="bf16", sessions=92,
                context_tokens=10_000)
    assert_allclose(h.kv_bytes_per_session, kv, rtol=1e-12)
    assert (h.group_gpus, h.gpus_to_hold) == (1, 2)
    assert_allclose(h.sessions_per_gpu, 46, rtol=1e-12)
    # 93 sessions: 3 single GPUs or one pair
    h = holding("llama-3.1-8b", "h100-80gb", weight_dtype="bf16", kv_dtype="bf16", sessions=93,
                context_tokens=10_000)
    assert (h.group_gpus, h.gpus_to_hold) == (2, 2)
    assert_allclose(h.sessions_per_gpu, 105 / 2, rtol=1e-12)


def test_a_group_that_holds_one_session_and_the_latent_of_one_copy():
    """Llama 3.1 70B in BF16 on A100 80GB, 30,000 tokens: 80 x 8 x 128 x 2 x 2 bytes x 30,000 = 9.83 GB a session;
    two GPUs hold 2 x 0.9 x 85,899,345,920 - 141,107,412,992 = 13.5 GB beside the weights: one session, on 2 GPUs
    (4 would take 4). DeepSeek-V3's latent, 61 layers x 576 x 1 byte a token, is counted once a session."""
    kv = 80 * 8 * 128 * 2 * 2 * 30_000
    free = 2 * 0.9 * 85_899_345_920 - 141_107_412_992
    assert kv <= free < 2 * kv
    h = holding("llama-3.1-70b", "a100-80gb", weight_dtype="bf16", kv_dtype="bf16", sessions=1,
                context_tokens=30_000)
    assert (h.group_gpus, h.gpus_to_hold) == (2, 2)
    assert_allclose(h.sessions_per_gpu, 0.5, rtol=1e-12)
    ds = holding("deepseek-v3", "h200-141gb", weight_dtype="fp8", kv_dtype="fp8", sessions=1, context_tokens=10_000)
    assert_allclose(ds.kv_bytes_per_session, 61 * 576 * 1 * 10_000, rtol=1e-12)


def test_holding_refusals():
    with pytest.raises(ParameterError, match=r"^sessions=0 is not allowed: sessions must be "):
        holding("llama-3.1-8b", "h100-80gb", weight_dtype="bf16", kv_dtype="bf16", sessions=0, context_tokens=10)
    with pytest.raises(ParameterError) as e:
        holding("deepseek-v3", "h800-80gb", weight_dtype="fp8", kv_dtype="bf16", sessions=1, context_tokens=10_000)
    assert str(e.value) == ("gpu='h800-80gb' is not allowed: gpu must be a GPU on which deepseek-v3 in fp8 and one "
                            "10,000-token session fit on at most 8 GPUs")


# --- case_row and service_table on a stand-in plan -----------------------------------------------------------

class _Planner:
    def __init__(self, plan):
        self.plan, self.seen = plan, []

    def __call__(self, inputs):
        self.seen.append(inputs)
        return self.plan


PLAN = {"gpus": 40, "prefill_gpus": 8, "decode_gpus": 32, "disaggregated": True, "tp": {"prefill": 2, "decode": 8},
        "hbm_gb_per_node": 11.0, "dram_gb_per_node": 22.0, "ssd_gb_per_node": 33.0, "cache": {"ideal_hit_ratio": 0.7},
        "usd_per_month": 5000.0, "usd_per_million_tokens": 0.25}


def test_a_case_row_from_the_holding_and_the_plan(monkeypatch):
    planner = _Planner(PLAN)
    monkeypatch.setattr(scenarios, "make_plan", planner)
    service = PlanInputs(sessions=92, ttft_p95_s=7.0)
    row = case_row(Case("llama-3.1-8b", "h100-80gb", "bf16", "fp8"), service, context_tokens=10_000,
                   rate=GpuRate("h100-80gb", 2.5, 3, "three rows"))
    kv = 32 * 8 * 128 * 2 * 1 * 10_000                     # FP8 KV: 1 byte
    fits = math.floor((0.9 * 85_520_809_984 - 16_060_522_496) / kv)      # 92 sessions on one GPU
    assert fits == 92
    assert row == {"model": "llama-3.1-8b", "model_name": "Llama 3.1 8B", "attention": "GQA", "gpu": "h100-80gb",
                   "weight_dtype": "bf16", "kv_dtype": "fp8", "kv_gb_per_session": pytest.approx(kv / 1e9, rel=1e-12),
                   "group_gpus": 1, "sessions_per_gpu": 92, "hold_gpus": 1, "serve_gpus": 40, "prefill_gpus": 8,
                   "decode_gpus": 32, "disaggregated": True, "tp_prefill": 2, "tp_decode": 8, "hbm_gb_per_node": 11.0,
                   "dram_gb_per_node": 22.0, "ssd_gb_per_node": 33.0, "ideal_hit_ratio": 0.7,
                   "usd_per_gpu_hour": 2.5, "price_source": "three rows", "usd_per_month": 5000.0,
                   "usd_per_million_tokens": 0.25}
    (seen,) = planner.seen
    assert (seen.model, seen.gpu, seen.weight_dtype, seen.kv_dtype, seen.gpu_usd_per_hour) == (
        "llama-3.1-8b", "h100-80gb", "bf16", "fp8", 2.5)
    assert seen.ttft_p95_s == 7.0 and seen.sessions == 92          # the rest is the service's


def test_an_unpriced_aggregated_case(monkeypatch):
    """No published price: planned at 1 USD/GPU-hour, its cost columns NaN; an aggregated plan's one TP fills both
    columns; a plan without a cache has no hit ratio. Sessions from a request rate: 0.5/s x 10 min x 60 / 5 turns =
    60 sessions."""
    plan = {**PLAN, "disaggregated": False, "tp": {"aggregated": 4}, "cache": None}
    planner = _Planner(plan)
    monkeypatch.setattr(scenarios, "make_plan", planner)
    asked = []
    monkeypatch.setattr(scenarios, "published_rate",
                        lambda gpu: asked.append(gpu) or GpuRate(gpu, None, 0, "no published price"))
    service = PlanInputs(requests_per_s=0.5, session_minutes=10, turns_per_session=5)
    row = case_row(Case("llama-3.1-8b", "h100-80gb", "bf16", "bf16"), service, context_tokens=10_000)
    assert planner.seen[0].gpu_usd_per_hour == 1.0 and asked == ["h100-80gb"]
    assert (row["tp_prefill"], row["tp_decode"], row["disaggregated"]) == (4, 4, False)
    assert (row["group_gpus"], row["hold_gpus"]) == (1, 2)         # 60 sessions: 46 a GPU (test above)
    for k in ("ideal_hit_ratio", "usd_per_gpu_hour", "usd_per_month", "usd_per_million_tokens"):
        assert math.isnan(row[k]), k
    assert row["price_source"] == "no published price" and row["serve_gpus"] == 40
    planner.plan = {**plan, "cache": {}}
    assert math.isnan(case_row(Case("llama-3.1-8b", "h100-80gb", "bf16", "bf16"), service,
                               context_tokens=10_000)["ideal_hit_ratio"])


def test_the_table_of_cases_in_order_and_its_refusal(monkeypatch):
    seen = []

    def row(case, service, *, context_tokens):
        seen.append((case, context_tokens))
        if case.gpu == "bad":
            raise ParameterError("gpu", "bad", "x")
        if case.gpu == "other":
            raise ParameterError("sessions", 0, "y")
        return {"model": case.model, "gpu": case.gpu}

    monkeypatch.setattr(scenarios, "case_row", row)
    cases = [Case("m1", "g1", "fp8", "fp8"), Case("m2", "g2", "fp4", "fp8")]
    t = service_table(cases, PlanInputs(), context_tokens=123)
    assert t.to_dict("records") == [{"model": "m1", "gpu": "g1"}, {"model": "m2", "gpu": "g2"}]
    assert seen == [(cases[0], 123), (cases[1], 123)]
    with pytest.raises(ParameterError) as e:
        service_table([Case("m", "bad", "fp8", "fp8")], PlanInputs(), context_tokens=1)
    assert str(e.value) == ("weight_dtype='fp8' is not allowed: weight_dtype must be a format in which m fits on one "
                            "8-GPU node of bad (or leave m or bad out of models/gpus)")
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(ParameterError, match=r"^sessions=0 is not allowed: sessions must be y$"):
        service_table([Case("m", "other", "fp8", "fp8")], PlanInputs(), context_tokens=1)


# --- cases_for -----------------------------------------------------------------------------------------------

def test_cases_every_model_on_every_gpu():
    c = cases_for(("qwen3-32b", "llama-3.1-8b"), ["b200-180gb", "h100-80gb"], weight_choice="auto", kv_dtype="fp8")
    assert c == [Case("qwen3-32b", "b200-180gb", "fp4", "fp8"), Case("qwen3-32b", "h100-80gb", "fp8", "fp8"),
                 Case("llama-3.1-8b", "b200-180gb", "fp4", "fp8"), Case("llama-3.1-8b", "h100-80gb", "fp8", "fp8")]


@pytest.mark.parametrize("name, models, gpus, message", [
    ("models", [], ["h100-80gb"], f"models=[] is not allowed: models must be a non-empty list of {MODELS}"),
    ("models", None, ["h100-80gb"], f"models=None is not allowed: models must be a non-empty list of {MODELS}"),
    ("gpus", ["qwen3-32b"], "h100-80gb",
     f"gpus='h100-80gb' is not allowed: gpus must be a non-empty list of {GPUS}"),
    ("gpus", ["qwen3-32b"], (), f"gpus=() is not allowed: gpus must be a non-empty list of {GPUS}"),
    ("gpus", ["qwen3-32b"], {"h100-80gb"},
     f"gpus={{'h100-80gb'}} is not allowed: gpus must be a non-empty list of {GPUS}"),
    ("gpus", ["qwen3-32b"], ["h100-80gb", "h900"], f"gpus='h900' is not allowed: gpus must be one of {quoted(GPUS)}"),
    ("models", ["qwen3"], ["h100"], f"models='qwen3' is not allowed: models must be one of {quoted(MODELS)}"),
])
def test_lists_of_cases_refused(name, models, gpus, message):
    with pytest.raises(ParameterError) as e:
        cases_for(models, gpus, weight_choice="auto", kv_dtype="fp8")
    assert e.value.name == name and str(e.value) == message


# --- a published day -----------------------------------------------------------------------------------------

DAY = PublishedDay(input_tokens_per_s=3000.0, output_tokens_per_s=1000.0, cache_hit_share=0.25,
                   kv_tokens_per_output_token=175.5, tpot_s=0.04, prefill_tokens_per_s_per_node=600.0,
                   decode_tokens_per_s_per_node=250.0, mean_nodes=9.0, node_gpus=4, usd_per_gpu_hour=3.0,
                   usd_per_day=2592.0, peak_nodes=12.0)


def test_a_day_of_round_numbers():
    """Prompt/reply 3; a mean decode context of 175.5 = 3R + (R + 1)/2 at R = 50 reply tokens, 150 prompt tokens;
    1000 / 50 = 20 requests/s; 3000 / 600 = 5 prefill and 1000 / 250 = 4 decode nodes."""
    assert_allclose(DAY.prompt_to_reply, 3.0, rtol=1e-12)
    assert DAY.reply_tokens == 50 and DAY.prompt_tokens == 150
    assert_allclose(DAY.requests_per_s, 20.0, rtol=1e-12)
    assert_allclose(DAY.prefill_nodes, 5.0, rtol=1e-12)
    assert_allclose(DAY.decode_nodes, 4.0, rtol=1e-12)
    assert_allclose(DAY.peak_to_mean, 12 / 9, rtol=1e-12)
    assert_allclose(DAY.computed_prefill_tokens_per_s_per_node, 450.0, rtol=1e-12)
    # a context under one token still makes a reply of one token; rounding is to the nearest (1.4 -> 1, 2.6 -> 3)
    assert PublishedDay(3, 1, 0, 1.0, 1, 1, 1, 1, 1, 1, 1).reply_tokens == 1
    assert PublishedDay(3, 1, 0, 0.5 + 3.5 * 1.4, 1, 1, 1, 1, 1, 1, 1).reply_tokens == 1
    assert PublishedDay(3, 1, 0, 0.5 + 3.5 * 2.6, 1, 1, 1, 1, 1, 1, 1).reply_tokens == 3
    assert PublishedDay(1, 1, 0, 0.5 + 1.5 * 3.4, 1, 1, 1, 1, 1, 1, 1).prompt_tokens == 3
    assert math.isnan(PublishedDay(3, 1, 0, 1.0, 1, 1, 1, 1, 1, 1, 1).peak_nodes)


def test_deepseek_s_stated_figures():
    d = deepseek_day()
    assert_allclose([d.input_tokens_per_s, d.output_tokens_per_s], [608e9 / 86_400, 168e9 / 86_400], rtol=1e-12)
    assert_allclose(d.cache_hit_share, 342 / 608, rtol=1e-12)
    assert_allclose([d.kv_tokens_per_output_token, d.tpot_s, d.prefill_tokens_per_s_per_node,
                     d.decode_tokens_per_s_per_node, d.mean_nodes, d.usd_per_gpu_hour, d.usd_per_day, d.peak_nodes],
                    [4989, 0.05, 73_700, 14_800, 226.75, 2, 87_072, 278], rtol=1e-12)
    assert d.node_gpus == 8 and type(d.node_gpus) is int


def test_the_planner_s_inputs_of_a_day():
    i = published_day_inputs(DAY, model="deepseek-v3", gpu="h800-80gb", weight_dtype="fp8", kv_dtype="bf16",
                             ttft_s=2.5)
    assert_allclose(i.requests_per_s, 20.0, rtol=1e-12)
    assert (i.prompt_tokens, i.reply_tokens, i.model, i.gpu, i.weight_dtype, i.kv_dtype) == (
        150, 50, "deepseek-v3", "h800-80gb", "fp8", "bf16")
    assert (i.ttft_p95_s, i.tpot_p95_s, i.gpu_usd_per_hour, i.node_gpus) == (2.5, 0.04, 3.0, 4)
    # a quarter of a 150-token prompt is shared: 37.5, rounded to the even 38 tokens; one character without a
    # persona of its own
    assert (i.shared_persona_tokens, i.character_persona_tokens, i.characters) == (38, 0, 1)
    with pytest.raises(ParameterError, match=r"^ttft_s=0 is not allowed: ttft_s must be "):
        published_day_inputs(DAY, model="deepseek-v3", gpu="h800-80gb", weight_dtype="fp8", kv_dtype="bf16", ttft_s=0)
    odd = PublishedDay(3000.0, 1000.0, 0.25, 175.5, 0.04, 600.0, 250.0, 9.0, 0, 3.0, 2592.0)
    with pytest.raises(ParameterError, match=r"^node_gpus=0 is not allowed: node_gpus must be an integer in \[1, inf\]$"):
        published_day_inputs(odd, model="deepseek-v3", gpu="h800-80gb", weight_dtype="fp8", kv_dtype="bf16", ttft_s=1)


def test_a_day_is_planned_disaggregated_with_its_changes(monkeypatch):
    planner = _Planner({"ok": 1})
    monkeypatch.setattr(scenarios, "make_plan", planner)
    inputs = published_day_inputs(DAY, model="deepseek-v3", gpu="h800-80gb", weight_dtype="fp8", kv_dtype="bf16",
                                  ttft_s=2.5)
    assert plan_published_day(inputs, peak_to_mean=1.5) == {"ok": 1}
    (seen,) = planner.seen
    assert seen.disaggregation == "disaggregated" and seen.peak_to_mean == 1.5 and seen.prompt_tokens == 150
    assert inputs.disaggregation != "disaggregated"          # the caller's inputs are left as they were


@pytest.mark.parametrize("names, raised, reported", [
    ({"gpu": ("deepseek_gpu", "h9")}, ("gpu", "h800-80gb"), ("deepseek_gpu", "h9")),
    ({"ttft_p95_s": ("deepseek_ttft_p95_s", 0.1)}, ("gpu", "h800-80gb"), ("gpu", "h800-80gb")),
    (None, ("gpu", "h800-80gb"), ("gpu", "h800-80gb")),
    ({}, ("gpu", "h800-80gb"), ("gpu", "h800-80gb")),
])
def test_a_refusal_of_the_planner_under_the_caller_s_name(monkeypatch, names, raised, reported):
    def refuse(inputs):
        raise ParameterError(*raised, "one of a, b")

    monkeypatch.setattr(scenarios, "make_plan", refuse)
    with pytest.raises(ParameterError) as e:
        plan_published_day(PlanInputs(), names=names)
    assert (e.value.name, e.value.value, e.value.allowed) == (*reported, "one of a, b")
    assert str(e.value) == f"{reported[0]}={reported[1]!r} is not allowed: {reported[0]} must be one of a, b"


# --- the published fleet beside a plan -----------------------------------------------------------------------

def test_the_fleet_beside_a_stand_in_plan():
    """DAY's 5 prefill, 4 decode, 9 mean and 12 peak nodes of 4 GPUs at 3 USD; a plan of 21 prefill and 14 decode
    GPUs (6 and 4 nodes, rounded up), 44 GPUs on 11 nodes: 44 x 3 x 24 = 3,168 USD a day; 75 of 150 prompt tokens
    cached."""
    plan = {"disaggregated": True, "prefill_gpus": 21, "decode_gpus": 14, "gpus": 44, "nodes": 11,
            "serving": {"cached_prompt_tokens": 75}}
    t = fleet_comparison(DAY, plan, {"nodes": 15})
    assert list(t.columns) == ["item", "published", "plan", "plan_over_published_x"]
    assert list(t["item"]) == ["prefill nodes", "decode nodes", "nodes", "nodes at the peak", "GPU cost, USD/day",
                               "prompt tokens from cache, share"]
    assert_allclose(t["published"], [5, 4, 9, 12, 2592, 0.25], rtol=1e-12)
    assert_allclose(t["plan"], [6, 4, 11, 15, 3168, 0.5], rtol=1e-12)
    assert_allclose(t["plan_over_published_x"], [6 / 5, 1, 11 / 9, 15 / 12, 3168 / 2592, 2], rtol=1e-12)
    aggregated = {"disaggregated": False, "prefill_gpus": 0, "decode_gpus": 0, "gpus": 44, "nodes": 11}
    t = fleet_comparison(DAY, aggregated)
    assert list(t["item"]) == ["prefill nodes", "decode nodes", "nodes", "GPU cost, USD/day",
                               "prompt tokens from cache, share"]
    assert t["plan"].isna().tolist() == [True, True, False, False, True]


def _gaps_plan(model, tp, node_gpus, **decode):
    """DAY's 4-GPU nodes; a prefill replica of 2 GPUs at 3 requests/s busy 0.6 (0.48 of the time at a load share of
    0.8), 100 of 150 prompt tokens cached; a decode replica of ``tp`` GPUs at 2 requests/s with 40 sequences."""
    return {"gpus": 60, "fleet": {"serving_gpus": 48},
            "inputs": {"model": model, "gpu": "h100-80gb", "weight_dtype": "fp8", "kv_dtype": "fp8",
                       "node_gpus": node_gpus, "prompt_tokens": 150, "reply_tokens": 50},
            "serving": {"cached_prompt_tokens": 100,
                        "prefill": {"tp": 2, "replica_requests_per_s": 3.0, "utilisation": 0.48, "load_share": 0.8},
                        "decode": {"tp": tp, "replica_requests_per_s": 2.0, "batch": 40.0, "tpot_p95_s": 0.03,
                                   **decode}}}


def _communication_share(model, tp, **deployment):
    """The collectives' share of a 40-sequence decode step of a replica built here with every argument named."""
    from model.architectures import load_architecture
    from model.hardware import load_gpu
    from model.plan.serving import decode_context
    from model.serving.step_time import Deployment

    d = Deployment(arch=load_architecture(model), gpu=load_gpu("h100-80gb"), n_gpus=tp, weight_dtype="fp8",
                   kv_dtype="fp8", **deployment)
    return float(d.allreduce_time(40.0)) / float(d.decode_time(40.0, decode_context(150, 50)))


@pytest.mark.parametrize("model, tp, node_gpus, decode, deployment", [
    # tensor parallel in a node (no "ep"): no expert parallelism, one attention group, the node size left out (a
    # 4-GPU group on "3-GPU nodes" would be refused were it applied)
    ("llama-3.1-8b", 4, 3, {}, dict(expert_parallel=1, attention_data_parallel=False, node_gpus=0)),
    # experts over 2 GPUs on nodes of 1: attention data parallel, the all-to-all over the NIC
    ("qwen3-30b-a3b", 2, 1, {"ep": 2}, dict(expert_parallel=2, attention_data_parallel=True, node_gpus=1)),
], ids=["tensor-parallel", "expert-parallel"])
def test_the_gaps_of_a_stand_in_plan(model, tp, node_gpus, decode, deployment):
    """prefill: 3 x 50 computed tokens / 0.6 / (2/4 of a node) = 500 tokens/s a node; 50 / (150 x 0.75) of the
    published work; decode: 2 x 50 / (tp/4) tokens/s a node, 40 / (2 x 49) s a step (Little's law)."""
    g = deepseek_gaps(DAY, _gaps_plan(model, tp, node_gpus, **decode))
    comm = _communication_share(model, tp, **deployment)
    assert 0.1 < comm < 0.9
    rate = 2 * 50 / (tp / 4)
    expected = {"spares_x": 60 / 48, "prefill_busy": 0.6, "prefill_node_tokens_per_s": 500.0,
                "published_prefill_node_tokens_per_s": 450.0, "work_x": 50 / 112.5,
                "decode_node_tokens_per_s": rate, "decode_mean_step_s": 40 / (2 * 49),
                "decode_tpot_p95_s": 0.03, "decode_communication_share": comm,
                "decode_node_tokens_per_s_hidden": rate / (1 - comm), "published_decode_node_tokens_per_s": 250.0,
                "decode_batch_per_gpu": 40 / tp, "published_batch_per_gpu": 250 * 0.04 / 4}
    assert sorted(g) == sorted(expected)
    for k, v in expected.items():
        assert_allclose(g[k], v, rtol=1e-12, err_msg=k)


# --- the chapter's parameters --------------------------------------------------------------------------------

GOOD = dict(models=["qwen3-32b"], gpus=["h100-80gb"], weight_dtype="auto", kv_dtype="fp8", sessions=1000,
            context_tokens=10_000, ttft_p95_s=2.0, tpot_p95_s=0.1, baseline_model="llama-2-70b",
            baseline_gpu="a100-80gb", characterai_model="characterai-like", characterai_gpu="h100-80gb",
            characterai_dtype="int8", deepseek_gpu="h800-80gb", deepseek_ttft_p95_s=3.0, quick_models=1,
            quick_gpus=2)


def test_the_chapter_s_defaults_pass():
    assert check_service_2026(**GOOD, anything_else=1) is None


@pytest.mark.parametrize("name, value, allowed", [
    ("models", ["qwen"], f"one of {quoted(MODELS)}"),
    ("gpus", [], f"a non-empty list of {GPUS}"),
    ("weight_dtype", "fp5", "one of 'auto', 'fp8', 'fp4', 'int8', 'fp16', 'bf16'"),
    ("kv_dtype", "fp5", f"one of {DTYPES}"),
    ("sessions", 0, "an integer in [1, inf]"),
    ("sessions", 1.5, "an integer in [1, inf]"),
    ("context_tokens", 0, "an integer in [1, inf]"),
    ("ttft_p95_s", 0, None), ("tpot_p95_s", -1, None), ("deepseek_ttft_p95_s", 0.0, None),
    ("baseline_model", "llama", f"one of {quoted(MODELS)}"),
    ("characterai_model", "c", f"one of {quoted(MODELS)}"),
    ("baseline_gpu", "a100", f"one of {quoted(GPUS)}"),
    ("characterai_gpu", "h100", f"one of {quoted(GPUS)}"),
    ("deepseek_gpu", "h80", f"one of {quoted(GPUS)}"),
    ("characterai_dtype", "int3", f"one of {DTYPES}"),
    ("quick_models", 0, "an integer in [1, inf]"),
    ("quick_gpus", 0, "an integer in [1, inf]"),
])
def test_each_parameter_refused_under_its_name(name, value, allowed):
    with pytest.raises(ParameterError) as e:
        check_service_2026(**{**GOOD, name: value})
    shown = value[0] if name == "models" else value
    assert e.value.name == name and "\n" not in str(e.value)
    assert str(e.value).startswith(f"{name}={shown!r} is not allowed: {name} must be ")
    if allowed is not None:
        assert str(e.value).endswith(f"must be {allowed}")
