"""model.plan.compose by hand: the JSON cleaning, the setup's checks and cached prefix, and a small plan's figures
against its own parts (pools, cost, energy, cache, fleet) and its inputs, with and without a cache, aggregated
and disaggregated, under an end-to-end target."""
import math
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.parameters import default
from model.plan.compose import (ASSUMPTIONS, COMPARED, CONTRACT, _clean, _num, compare_gpus, make_plan,
                                serving_setup, validated_errors)
from model.plan.inputs import PlanInputs

# a small service: 2,000 sessions of 2 turns in 5 minutes (a short sample trace)
SMALL = PlanInputs(sessions=2000, session_minutes=5, turns_per_session=2, spare_fraction=0.0)


def test_json_cleaning():
    assert _num(None) is None and _num(math.inf) is None and _num(math.nan) is None and _num(2) == 2.0
    assert _clean({1: (np.int64(3), np.float64(0.5), math.nan, "s", None, True)}) == {"1": [3, 0.5, None, "s", None,
                                                                                           True]}
    assert type(_clean(np.int64(3))) is int and type(_clean(np.float64(3.0))) is float
    assert _clean(7) == 7 and type(_clean(7)) is int
    assert _clean(object).startswith("<class")
    assert _clean(np.int64(2 ** 53)) == float(2 ** 53) and type(_clean(np.int64(2 ** 53))) is float
    assert _clean([np.bool_(True)]) == [1.0]
    assert CONTRACT[0] == "gpus" and len(CONTRACT) == 13 and "nodes" in COMPARED and len(ASSUMPTIONS) == 7


def test_setup_checks_and_cached_prefix():
    s = serving_setup(SMALL)
    assert s.arch.name == SMALL.model and s.gpu.name == SMALL.gpu
    assert [d.n_gpus for d in s.deps] == sorted(d.n_gpus for d in s.deps)
    assert max(d.n_gpus for d in s.deps) <= min(SMALL.node_gpus, int(default("plan_tp_options_max")))
    assert s.cached_tokens == min(int(round(s.profile.token_hit_ratio * SMALL.prompt_tokens)),
                                  SMALL.prompt_tokens - 1)
    none = serving_setup(replace(SMALL, cache=False))
    assert none.profile is None and none.cached_tokens == 0
    ctx = s.arch.max_context_tokens
    with pytest.raises(ParameterError, match=rf"^prompt_tokens={ctx} is not allowed: prompt_tokens must be <= "
                                             rf"{ctx - SMALL.reply_tokens:,} "):
        serving_setup(replace(SMALL, prompt_tokens=ctx))
    serving_setup(replace(SMALL, prompt_tokens=ctx - SMALL.reply_tokens, cache=False))
    with pytest.raises(ParameterError, match=r"^gpu='a100-40gb' is not allowed: gpu must be a GPU on which "):
        serving_setup(replace(SMALL, gpu="a100-40gb", node_gpus=1, model="llama-3.1-70b"))


@pytest.fixture(scope="module")
def plans():
    return {"cache": make_plan(SMALL), "none": make_plan(replace(SMALL, cache=False))}


def _pools(p):
    roles = ("prefill", "decode") if p["disaggregated"] else ("aggregated",)
    return [p["serving"][r] for r in roles]


@pytest.mark.parametrize("which", ["cache", "none"])
def test_a_plan_adds_up(plans, which):
    p = plans[which]
    i = SMALL if which == "cache" else replace(SMALL, cache=False)
    pools = _pools(p)
    assert p["gpus"] == sum(q["gpus"] for q in pools)
    assert p["tp"] == {q["role"]: q["tp"] for q in pools}
    if p["disaggregated"]:
        assert (p["prefill_gpus"], p["decode_gpus"]) == (pools[0]["gpus"], pools[1]["gpus"])
        assert p["serving"]["chosen"] == "disaggregated"
        assert_allclose(p["serving"]["kv_transfer_gb_per_s"],
                        p["serving"]["kv_transfer_bytes_per_request"] * i.demand_requests_per_s / 1e9, rtol=1e-12)
        assert_allclose(p["serving"]["prefill_to_decode_gpus"], pools[0]["gpus"] / pools[1]["gpus"], rtol=1e-12)
    else:
        assert (p["prefill_gpus"], p["decode_gpus"], p["serving"]["chosen"]) == (0, 0, "aggregated")
        assert p["serving"]["kv_transfer_gb_per_s"] == 0.0
    agg = p["serving"]["aggregated"]
    assert p["aggregated_gpus"] == (agg["gpus"] if agg else None)
    # cost: the items and the tokens
    c = p["cost"]
    items = c["by_item_usd_per_month"]
    assert_allclose(p["usd_per_month"], sum(items.values()), rtol=1e-12)
    assert_allclose(items["gpus"], p["gpus"] * c["usd_per_gpu_hour"] * 730, rtol=1e-12)
    assert_allclose(c["tokens_per_month"], i.demand_requests_per_s * (i.prompt_tokens + i.reply_tokens) * 730 * 3600,
                    rtol=1e-12)
    assert_allclose(p["usd_per_million_tokens"], p["usd_per_month"] / c["tokens_per_month"] * 1e6, rtol=1e-12)
    # energy: TDP × utilisation + the other parts, over the tokens of an hour
    e = p["energy"]
    gpu_kw = sum(q["gpus"] * e["tdp_w"] * q["utilisation"] for q in pools) / 1e3
    assert_allclose(e["gpu_kw"], gpu_kw, rtol=1e-12)
    assert_allclose(p["kw"], gpu_kw + p["gpus"] * i.node_other_w_per_gpu / 1e3, rtol=1e-12)
    assert e["node_other_w_per_gpu"] == i.node_other_w_per_gpu
    assert_allclose(p["kwh_per_million_tokens"], p["kw"] / (c["tokens_per_month"] / 730 / 1e6), rtol=1e-12)
    assert_allclose(p["g_co2_per_million_tokens"], p["kwh_per_million_tokens"] * i.grid_g_co2_per_kwh, rtol=1e-12)
    # fleet: no peak, no spares, one region; nodes of node_gpus
    f = p["fleet"]
    assert (f["peak_to_mean"], f["spare_fraction"], f["regions"], f["region_shares"]) == (1.0, 0.0, 1, [1.0])
    assert f["serving_gpus"] == sum(q["replicas"] * q["tp"] for q in pools) and f["spare_gpus"] == 0
    assert f["gpus_by_region"] == {q["role"]: [q["gpus"]] for q in pools}
    assert p["nodes"] == sum(math.ceil(q["gpus"] / i.node_gpus - 1e-9) for q in pools)
    # inputs echoed
    inp = p["inputs"]
    assert (inp["sessions"], inp["demand_requests_per_s"], inp["model"], inp["gpu"], inp["prompt_tokens"],
            inp["reply_tokens"], inp["ttft_p95_s"], inp["tpot_p95_s"], inp["cache"], inp["regions"],
            inp["region_shares"], inp["e2e_p95_s"]) == (
        i.sessions, i.demand_requests_per_s, i.model, i.gpu, i.prompt_tokens, i.reply_tokens, i.ttft_p95_s,
        i.tpot_p95_s, i.cache, 1, [1.0], None)
    assert set(CONTRACT) <= set(p) and p["simulated"] is False and p["assumptions"] == list(ASSUMPTIONS)
    assert p["validated_error"] == validated_errors() and set(p["validated_error"]) == {"ttft", "tpot", "throughput",
                                                                                         "all"}
    assert p["serving"]["e2e_split"] is None
    assert p["cache"]["kv_bytes_per_token"] > 0


def test_the_cache_of_a_plan(plans):
    p, none = plans["cache"], plans["none"]
    node = p["cache"]["node"]
    assert (p["hbm_gb_per_node"], p["dram_gb_per_node"], p["ssd_gb_per_node"]) == (node["hbm_gb"], node["dram_gb"],
                                                                                    node["ssd_gb"])
    assert p["routing"] in ("session", "prefix") and p["ttl_s"] is not None
    assert p["cache"]["ttl_s_by_group"] and p["cache"]["ttl_break_even_s"] > 0
    holder = p["serving"]["prefill" if p["disaggregated"] else "aggregated"]
    assert p["cache"]["cache_nodes"] == math.ceil(holder["gpus"] / SMALL.node_gpus - 1e-9)
    assert_allclose(node["sessions_per_node"], SMALL.sessions / p["cache"]["cache_nodes"], rtol=1e-12)
    assert p["serving"]["cached_prompt_tokens"] == serving_setup(SMALL).cached_tokens > 0
    assert_allclose(p["cost"]["by_item_usd_per_month"]["dram"],
                    node["dram_gb"] * p["cache"]["cache_nodes"] * 3.093, rtol=1e-12)   # data/hardware.csv host-dram
    assert p["cache"]["trace"]["sessions"] == default("plan_cache_trace_sessions")
    # no cache: none of it
    assert (none["hbm_gb_per_node"], none["dram_gb_per_node"], none["ssd_gb_per_node"], none["routing"],
            none["ttl_s"]) == (0.0, 0.0, 0.0, "round-robin", None)
    assert "node" not in none["cache"] and none["serving"]["cached_prompt_tokens"] == 0
    assert none["cost"]["by_item_usd_per_month"]["dram"] == 0.0


def test_a_fleet_with_spares_and_regions():
    i = replace(SMALL, cache=False, spare_fraction=0.5, regions=2, peak_to_mean=1.5)
    p = make_plan(i)
    f = p["fleet"]
    assert (f["peak_to_mean"], f["spare_fraction"], f["regions"], f["region_shares"]) == (1.5, 0.5, 2, [0.5, 0.5])
    assert p["gpus"] == sum(sum(g) for g in f["gpus_by_region"].values())
    assert f["spare_gpus"] == p["gpus"] - f["serving_gpus"] > 0
    assert p["nodes"] == sum(math.ceil(g / i.node_gpus - 1e-9) for gs in f["gpus_by_region"].values() for g in gs)
    assert (p["inputs"]["peak_to_mean"], p["inputs"]["spare_fraction"], p["inputs"]["regions"]) == (1.5, 0.5, 2)


def test_an_end_to_end_target_picks_the_cheapest_split():
    i = replace(SMALL, cache=False)
    base = make_plan(i)
    e2e = i.ttft_p95_s + (i.reply_tokens - 1) * i.tpot_p95_s
    p = make_plan(replace(i, e2e_p95_s=e2e))
    s = p["serving"]["e2e_split"]
    assert s["e2e_p95_s"] == e2e and s["splits_tried"] == int(default("plan_e2e_split_points"))
    assert s["ttft_p95_s"] + (i.reply_tokens - 1) * s["tpot_p95_s"] <= e2e * (1 + 1e-9)
    assert (p["inputs"]["ttft_p95_s"], p["inputs"]["tpot_p95_s"]) == (s["ttft_p95_s"], s["tpot_p95_s"])
    floor = p["serving"]["zero_load_floor"]
    assert_allclose(s["zero_load_floor_s"], floor["ttft_p95_s"] + (i.reply_tokens - 1) * floor["tpot_p95_s"],
                    rtol=1e-12)
    # free to split the same total, the plan takes no more GPUs than at the stated targets
    assert p["gpus"] <= base["gpus"]
    # 1% above the zero-load floor every split is below what a loaded replica delivers
    tight = s["zero_load_floor_s"] * 1.01
    with pytest.raises(ParameterError, match=rf"^e2e_p95_s={tight!r} is not allowed: e2e_p95_s must be a target some "
                                             rf"split between the first token and the rest meets \(floors: TTFT "
                                             rf"{floor['ttft_p95_s']:.3g} s, TPOT {floor['tpot_p95_s']:.3g} s\)$"):
        make_plan(replace(i, e2e_p95_s=tight))


def test_compare_gpus_side_by_side():
    i = replace(SMALL, cache=False, gpu_usd_per_hour=1.0)
    rows = compare_gpus(i, ["h100-80gb", "no-such-gpu"])
    own = make_plan(replace(i, gpu="h100-80gb", gpu_usd_per_hour=None))
    assert rows[0]["gpu"] == "h100-80gb" and all(rows[0][k] == own[k] for k in COMPARED)
    assert rows[0]["tp"] == own["tp"] and rows[0]["usd_per_gpu_hour"] == own["cost"]["usd_per_gpu_hour"] != 1.0
    assert set(rows[1]) == {"gpu", "error"} and rows[1]["error"].startswith("gpu='no-such-gpu' is not allowed")
