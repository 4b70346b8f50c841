"""model.plan.compose by hand: the JSON cleaning, the setup's checks and cached prefix, and a small plan's figures
against its own parts (pools, cost, energy, cache, fleet) and its inputs, with and without a cache, aggregated
and disaggregated, under an end-to-end target."""
import math
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.kv.size import kv_footprint
from model.plan.serving import prefill_service_s
from model.parameters import default
from model.plan.compose import (ASSUMPTIONS, COMPARED, CONTRACT, _clean, _num, compare_gpus, make_plan,
                                serving_setup, validated_errors)
from model.plan.inputs import PlanInputs

# a small service: 2,000 sessions of 2 turns in 5 minutes (a short sample trace); sessions of an hour hold more
# cache than the HBM has room for
SMALL = PlanInputs(sessions=2000, session_minutes=5, turns_per_session=2, spare_fraction=0.0)
LONG = replace(SMALL, session_minutes=60)


def test_json_cleaning():
    assert _num(None) is None and _num(math.inf) is None and _num(math.nan) is None and _num(2) == 2.0
    assert _clean({1: (np.int64(3), np.float64(0.5), math.nan, "s", None, True)}) == {"1": [3, 0.5, None, "s", None,
                                                                                           True]}
    assert type(_clean(np.int64(3))) is int and type(_clean(np.float64(3.0))) is float
    assert _clean(7) == 7 and type(_clean(7)) is int
    assert _clean(np.int64(1000)) == 1000 and type(_clean(np.int64(1000))) is int
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


INPUTS = {"cache": LONG, "none": replace(SMALL, cache=False),
          "agg": replace(SMALL, cache=False, disaggregation="aggregated", kv_dtype="fp8", weight_dtype="fp8",
                         gpu="h100-80gb")}


class _Plans(dict):
    """The plans of :data:`INPUTS`, each made when a test first asks for it: a test that fails on the first plan
    (as most mutants of make_plan make it) has not paid for the other two."""

    def __missing__(self, which):
        self[which] = make_plan(INPUTS[which])
        return self[which]

    def values(self):
        return [self[k] for k in INPUTS]


@pytest.fixture
def plans():
    """Each test makes the plans it reads (the sample trace and the validation table are remembered between calls).
    Not shared between tests: mutmut runs for a mutant of make_plan only the tests that called make_plan in its
    coverage run, and a test reading a plan another test made would not be among them."""
    return _Plans()


def _pools(p):
    roles = ("prefill", "decode") if p["disaggregated"] else ("aggregated",)
    return [p["serving"][r] for r in roles]


@pytest.mark.parametrize("which", ["cache", "none", "agg"])
def test_a_plan_adds_up(plans, which):
    p = plans[which]
    i = INPUTS[which]
    pools = _pools(p)
    if which == "agg":
        assert p["disaggregated"] is False
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
    assert e["node_other_w_per_gpu"] == i.node_other_w_per_gpu and "no PUE" in e["scope"]
    assert_allclose(c["break_even_usd_per_gpu_hour"],
                    (c["api_usd_per_month"] - sum(v for k, v in items.items() if k != "gpus")) / (p["gpus"] * 730),
                    rtol=1e-12)
    assert_allclose(p["kwh_per_million_tokens"], p["kw"] / (c["tokens_per_month"] / 730 / 1e6), rtol=1e-12)
    assert_allclose(p["g_co2_per_million_tokens"], p["kwh_per_million_tokens"] * i.grid_g_co2_per_kwh, rtol=1e-12)
    # fleet: no peak, no spares, one region; nodes of node_gpus
    f = p["fleet"]
    assert (f["peak_to_mean"], f["spare_fraction"], f["regions"], f["region_shares"]) == (1.0, 0.0, 1, [1.0])
    assert f["serving_gpus"] == sum(q["replicas"] * q["tp"] for q in pools) and f["spare_gpus"] == 0
    assert f["gpus_by_region"] == {q["role"]: [q["gpus"]] for q in pools}
    assert "split_fleet" in f["scope"]
    assert p["nodes"] == sum(math.ceil(q["gpus"] / i.node_gpus - 1e-9) for q in pools)
    # inputs echoed
    inp = p["inputs"]
    same = ("sessions", "config", "gpu", "weight_dtype", "kv_dtype", "turns_per_session", "session_minutes",
            "prompt_tokens", "reply_tokens", "ttft_p95_s", "tpot_p95_s", "latency_quantile", "max_batch",
            "chunk_tokens", "node_gpus", "cache", "cache_hit_share", "disaggregation", "grid_g_co2_per_kwh",
            "shared_persona_tokens", "character_persona_tokens", "characters", "zipf_exponent",
            "chunked_service_cv2", "prefill_service_cv2", "e2e_p95_s", "peak_to_mean", "spare_fraction",
            "max_nodes_per_replica")
    assert set(inp) == set(same) | {"demand_requests_per_s", "model", "model_display_name", "regions",
                                    "region_shares"}
    assert {k: inp[k] for k in same} == {k: getattr(i, k) for k in same}
    arch = i.architecture()
    assert (inp["demand_requests_per_s"], inp["model"], inp["model_display_name"], inp["regions"],
            inp["region_shares"]) == (i.demand_requests_per_s, arch.name, arch.display_name, 1, [1.0])
    assert set(p["serving"]) == {"chosen", "aggregated", "prefill", "decode", "aggregated_gpus", "disaggregated_gpus",
                                 "prefill_to_decode_gpus", "kv_transfer_bytes_per_request", "kv_transfer_s",
                                 "kv_transfer_gb_per_s", "zero_load_floor", "cached_prompt_tokens", "e2e_split"}
    sv = p["serving"]
    assert sv["aggregated_gpus"] == (agg["gpus"] if agg else None)
    if p["disaggregated"]:
        assert sv["disaggregated_gpus"] == sv["prefill"]["gpus"] + sv["decode"]["gpus"] and sv["kv_transfer_s"] > 0
    assert p["cache"]["kv_bytes_per_token"] == kv_footprint(arch, i.prompt_tokens, i.kv_dtype).kv_bytes_per_token
    assert set(CONTRACT) <= set(p) and p["simulated"] is False and p["assumptions"] == list(ASSUMPTIONS)
    assert p["validated_error"] == validated_errors() and set(p["validated_error"]) == {"ttft", "tpot", "throughput",
                                                                                         "all"}
    assert p["serving"]["e2e_split"] is None
    assert p["cache"]["kv_bytes_per_token"] > 0


def test_both_ways_of_serving_are_covered(plans):
    assert {p["disaggregated"] for p in plans.values()} == {True, False}


def test_the_aggregated_plan(plans):
    """Forced aggregated: no prefill or decode GPUs, no transfer, the aggregated pool alone."""
    p = plans["agg"]
    assert (p["prefill_gpus"], p["decode_gpus"], p["serving"]["chosen"]) == (0, 0, "aggregated")
    assert p["serving"]["kv_transfer_gb_per_s"] == 0.0 and p["tp"] == {"aggregated": p["serving"]["aggregated"]["tp"]}
    assert p["aggregated_gpus"] == p["gpus"] == p["serving"]["aggregated_gpus"]


def test_the_cache_of_a_plan(plans):
    p, none = plans["cache"], plans["none"]
    node = p["cache"]["node"]
    assert set(p["cache"]) == {"scope", "cache_nodes", "kv_bytes_per_token", "node", "trace", "ideal_hit_ratio",
                               "hit_ratio", "token_hit_ratio", "capacity_blocks_in_trace", "history_share_of_reuse",
                               "ttl_s_by_group", "ttl_break_even_s"}
    assert "per node" in p["cache"]["scope"] and "prefill when disaggregated" in p["cache"]["scope"]
    setup = serving_setup(LONG)
    prof = setup.profile
    assert p["cache"]["trace"] == {"sessions": prof.trace_sessions, "requests": prof.trace_requests,
                                   "mean_prompt_tokens": prof.trace_mean_prompt_tokens}
    assert (p["cache"]["ideal_hit_ratio"], p["cache"]["hit_ratio"], p["cache"]["token_hit_ratio"],
            p["cache"]["capacity_blocks_in_trace"], p["cache"]["history_share_of_reuse"]) == (
        prof.ideal_hit_ratio, prof.hit_ratio, prof.token_hit_ratio, prof.capacity_blocks, prof.history_share_of_reuse)
    # the TTL's break-even: a recompute of the prompt on the cache pool's replica (its GPU-hours at the plan's
    # price, per prompt token) over the node's DRAM price per token-second
    holder = p["serving"]["prefill" if p["disaggregated"] else "aggregated"]
    dep = next(d for d in setup.deps if d.n_gpus == holder["tp"])
    recompute = (p["cost"]["usd_per_gpu_hour"] / 3600 * dep.n_gpus
                 * prefill_service_s(dep, LONG.prompt_tokens, 0) / LONG.prompt_tokens)
    per_token_s = 3.093 / 730 * p["cache"]["kv_bytes_per_token"] / 1e9 / 3600   # data/hardware.csv host-dram
    assert node["ssd_gb"] == 0.0 and node["dram_gb"] > 0
    assert_allclose(p["cache"]["ttl_break_even_s"], recompute / per_token_s, rtol=1e-9)
    assert (p["hbm_gb_per_node"], p["dram_gb_per_node"], p["ssd_gb_per_node"]) == (node["hbm_gb"], node["dram_gb"],
                                                                                    node["ssd_gb"])
    assert p["routing"] in ("session", "prefix") and p["ttl_s"] is not None
    assert p["cache"]["ttl_s_by_group"] and p["cache"]["ttl_break_even_s"] > 0
    holder = p["serving"]["prefill" if p["disaggregated"] else "aggregated"]
    assert p["cache"]["cache_nodes"] == math.ceil(holder["gpus"] / SMALL.node_gpus - 1e-9)
    assert_allclose(node["sessions_per_node"], LONG.sessions / p["cache"]["cache_nodes"], rtol=1e-12)
    assert p["serving"]["cached_prompt_tokens"] == setup.cached_tokens > 0
    assert_allclose(p["cost"]["by_item_usd_per_month"]["dram"],
                    node["dram_gb"] * p["cache"]["cache_nodes"] * 3.093, rtol=1e-12)   # data/hardware.csv host-dram
    assert p["cache"]["trace"]["sessions"] == default("plan_cache_trace_sessions")
    assert_allclose(p["cost"]["by_item_usd_per_month"]["ssd"], 0.0, atol=0)
    # no cache: none of it
    assert (none["hbm_gb_per_node"], none["dram_gb_per_node"], none["ssd_gb_per_node"], none["routing"],
            none["ttl_s"]) == (0.0, 0.0, 0.0, "round-robin", None)
    assert "node" not in none["cache"] and none["serving"]["cached_prompt_tokens"] == 0
    assert none["cost"]["by_item_usd_per_month"]["dram"] == 0.0
    assert none["cost"]["by_item_usd_per_month"]["ssd"] == 0.0


def test_a_fleet_with_spares_and_regions():
    i = replace(SMALL, cache=False, spare_fraction=0.5, regions=2, peak_to_mean=1.5)
    p = make_plan(i)
    f = p["fleet"]
    assert (f["peak_to_mean"], f["spare_fraction"], f["regions"], f["region_shares"]) == (1.5, 0.5, 2, [0.5, 0.5])
    assert p["gpus"] == sum(sum(g) for g in f["gpus_by_region"].values())
    assert f["spare_gpus"] == p["gpus"] - f["serving_gpus"] > 0
    assert p["nodes"] == sum(math.ceil(g / i.node_gpus - 1e-9) for gs in f["gpus_by_region"].values() for g in gs)
    assert (p["inputs"]["peak_to_mean"], p["inputs"]["spare_fraction"], p["inputs"]["regions"]) == (1.5, 0.5, 2)
    # each pool's replicas carry the peak, 1.5 × the mean demand
    for q in _pools(p):
        assert q["replicas"] == math.ceil(1.5 * i.demand_requests_per_s / q["replica_requests_per_s"] - 1e-9)


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
    # 1% above the zero-load floor only nearly idle replicas deliver: disaggregated pools do, at many times the
    # GPUs (a decode replica's P95 batch must stay about one sequence); an aggregated replica, whose decode steps
    # carry prompt chunks, cannot, at any split
    tight = s["zero_load_floor_s"] * 1.01
    idle = make_plan(replace(i, e2e_p95_s=tight))
    assert idle["disaggregated"] and idle["gpus"] >= 10 * base["gpus"]
    with pytest.raises(ParameterError, match=rf"^e2e_p95_s={tight!r} is not allowed: e2e_p95_s must be a target some "
                                             rf"split between the first token and the rest meets \(floors: TTFT "
                                             rf"{floor['ttft_p95_s']:.3g} s, TPOT {floor['tpot_p95_s']:.3g} s\)$"):
        make_plan(replace(i, e2e_p95_s=tight, disaggregation="aggregated"))


def test_compare_gpus_side_by_side():
    i = replace(SMALL, cache=False, gpu_usd_per_hour=1.0)
    rows = compare_gpus(i, ["no-such-gpu", "h100-80gb"])
    own = make_plan(replace(i, gpu="h100-80gb", gpu_usd_per_hour=None))
    assert rows[1]["gpu"] == "h100-80gb" and all(rows[1][k] == own[k] for k in COMPARED)
    assert rows[1]["tp"] == own["tp"] and rows[1]["usd_per_gpu_hour"] == own["cost"]["usd_per_gpu_hour"] != 1.0
    assert set(rows[0]) == {"gpu", "error"} and rows[0]["error"].startswith("gpu='no-such-gpu' is not allowed")


def test_a_one_token_reply_needs_no_decode_gpus():
    """One-token replies: the decode pool holds no replica, so no GPUs and no prefill-to-decode ratio."""
    p = make_plan(replace(SMALL, cache=False, reply_tokens=1, disaggregation="disaggregated"))
    assert p["decode_gpus"] == 0 and p["serving"]["decode"]["replicas"] == 0
    assert p["serving"]["prefill_to_decode_gpus"] is None
    assert p["gpus"] == p["prefill_gpus"] > 0
