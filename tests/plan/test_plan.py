"""python -m model.plan: the JSON contract, the closed forms of the pools, bad flags, and an MoE/MLA model (the
case study's plan against the other chapters' model calls: test_agreement.py)."""
import json
import math

import pytest

from model.plan.cli import main
from model.plan.compose import CONTRACT, make_plan
from model.plan.inputs import PlanInputs


def run(argv, capsys):
    rc = main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def case_study():
    return make_plan(PlanInputs())


@pytest.fixture(scope="module")
def no_cache():
    return make_plan(PlanInputs(cache=False))


def test_json_has_the_contract_keys(capsys):
    rc, out, err = run(["--sessions", "20000", "--json"], capsys)
    assert rc == 0 and err == ""
    plan = json.loads(out)
    assert set(CONTRACT) <= set(plan)
    assert isinstance(plan["disaggregated"], bool)
    assert isinstance(plan["gpus"], int) and plan["gpus"] > 0
    if plan["disaggregated"]:
        assert plan["gpus"] == plan["prefill_gpus"] + plan["decode_gpus"]
    else:
        assert plan["prefill_gpus"] == plan["decode_gpus"] == 0
    for key in ("hbm_gb_per_node", "dram_gb_per_node", "ssd_gb_per_node", "usd_per_month",
                "usd_per_million_tokens", "kw", "kwh_per_million_tokens"):
        assert plan[key] >= 0
    assert plan["routing"] in ("session", "prefix", "round-robin", "global")


def test_defaults_are_the_case_study(case_study):
    """Llama 2 70B on A100 80GB, 1M sessions of 200 turns in 30 minutes, 2,000 + 100 tokens, P95 3.2 s."""
    i = case_study["inputs"]
    assert (i["model"], i["gpu"], i["sessions"]) == ("llama-2-70b", "a100-80gb", 1_000_000)
    assert (i["turns_per_session"], i["session_minutes"]) == (200, 30)
    assert (i["prompt_tokens"], i["reply_tokens"], i["ttft_p95_s"], i["latency_quantile"]) == (2000, 100, 3.2, 0.95)


def test_demand_is_the_fleet_chapters(case_study):
    from model.economics.fleet_sizing import turn_rate_per_s

    assert case_study["inputs"]["demand_requests_per_s"] == turn_rate_per_s(1_000_000, turns_per_session=200,
                                                                            session_minutes=30)


def test_the_cache_saves_gpus(case_study, no_cache):
    assert 0 < case_study["serving"]["cached_prompt_tokens"] < 2000
    assert case_study["gpus"] < no_cache["gpus"]
    assert no_cache["dram_gb_per_node"] == no_cache["ssd_gb_per_node"] == 0 and no_cache["ttl_s"] is None


# --- closed forms ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def deps():
    from model.hardware import load_gpu
    from model.plan.serving import deployments

    return deployments(PlanInputs().architecture(), load_gpu("a100-80gb"), 8, "fp16", "fp16")


def test_weights_decide_the_tp_options(deps):
    assert [d.n_gpus for d in deps] == [2, 4, 8]        # 138 GB of FP16 weights do not fit one 80 GB GPU


def test_wait_quantile_is_the_mg1_tail():
    from model.plan.serving import wait_quantile

    s, rho, q = 0.2, 0.8, 0.95
    w = wait_quantile(s, rho, q, 1.0)                                   # M/M/1: exact
    assert rho * math.exp(-(1 - rho) * w / s) == pytest.approx(1 - q)
    assert wait_quantile(s, rho, q, 0.0) == pytest.approx(w / 2)          # M/D/1: half the mean wait
    assert wait_quantile(s, 0.04, q, 1.0) == 0.0 and wait_quantile(s, 1.0, q, 1.0) == math.inf


def test_kv_transfer_is_bytes_over_bandwidth(deps):
    from model.kv.size import kv_footprint
    from model.plan.serving import kv_transfer_bytes, kv_transfer_s

    arch = deps[0].arch
    nbytes = kv_transfer_bytes(arch, 2000, "fp16")
    assert nbytes == kv_footprint(arch, 2000, "fp16").kv_bytes_per_sequence == 2000 * 80 * 8 * 128 * 2 * 2
    tp4 = next(d for d in deps if d.n_gpus == 4)
    # each of 4 GPU pairs moves its 2 of the 8 KV heads over one 400 Gb/s NIC (50 GB/s a way); no fixed latency
    per_gpu = 2000 * 80 * 2 * 128 * 2 * 2
    assert kv_transfer_s(arch, 2000, "fp16", tp4, tp4) == pytest.approx(per_gpu / 50e9, rel=1e-12)
    assert per_gpu * 4 == nbytes


def test_prefill_pool_utilisation_and_ttft(deps):
    from model.plan.serving import prefill_pool, prefill_service_s, wait_quantile

    dep, demand = deps[1], 1000.0
    t_x = 6.5e8 / (4 * 50e9)
    pool = prefill_pool(dep, demand, prompt_tokens=2000, cached_tokens=500, transfer_s=t_x, ttft_s=3.2, q=0.95,
                        cv2=0.5)
    s = prefill_service_s(dep, 2000, 500)
    rho = pool.replica_requests_per_s * s
    assert pool.busy_at_rate == pytest.approx(rho)
    assert pool.ttft_p95_s == pytest.approx(s + t_x + wait_quantile(s, rho, 0.95, 0.5))
    assert pool.ttft_p95_s <= 3.2 and pool.ttft_p95_s >= 3.2 * (1 - 0.01)      # the highest load meeting it
    assert pool.replicas == math.ceil(demand / pool.replica_requests_per_s)
    assert pool.gpus == pool.replicas * 4
    assert pool.utilisation == pytest.approx(demand * s / pool.replicas)        # busy share of the pool's time
    assert prefill_pool(dep, demand, prompt_tokens=2000, cached_tokens=0, transfer_s=t_x, ttft_s=s / 2,
                        q=0.95, cv2=0.5) is None


def test_decode_pool_batch_and_rate(deps):
    """The pool runs at the highest rate whose P95 TPOT (the admission wait of a full replica included) is within
    the target: 1% more misses it; the pool's batch and TPOT are the tail's at that rate; the replicas carry the
    demand. (The chain itself is checked term by term in test_decode_tail.py.)"""
    from model.plan.serving import decode_pool, decode_tpot_at

    dep, demand = deps[1], 1000.0
    pool = decode_pool(dep, demand, prompt_tokens=2000, reply_tokens=100, tpot_s=0.1, max_batch=256, q=0.95)
    kw = dict(prompt_tokens=2000, reply_tokens=100, max_batch=256, q=0.95)
    r = pool.replica_requests_per_s
    assert decode_tpot_at(dep, r, **kw) == pytest.approx((pool.batch, pool.tpot_p95_s), rel=1e-12)
    assert pool.tpot_p95_s <= 0.1 < decode_tpot_at(dep, r * 1.01, **kw)[1]
    # Little's law: the mean running batch = rate × 99 steps × a step at about that batch
    assert pool.batch == pytest.approx(r * 99 * float(dep.decode_time(pool.batch, 2050)), rel=0.02)
    assert pool.gpus == math.ceil(demand / pool.replica_requests_per_s) * dep.n_gpus


def test_auto_takes_the_cheaper_serving(case_study):
    s = case_study["serving"]
    assert case_study["disaggregated"] == (s["disaggregated_gpus"] < s["aggregated_gpus"])
    forced = make_plan(PlanInputs(disaggregation="disaggregated"))
    assert forced["disaggregated"] and forced["gpus"] == s["disaggregated_gpus"]
    assert forced["prefill_gpus"] + forced["decode_gpus"] == forced["gpus"]


def test_energy_is_tdp_times_utilisation_plus_the_rest(case_study):
    pool = case_study["serving"]["prefill" if case_study["disaggregated"] else "aggregated"]
    e = case_study["energy"]
    if not case_study["disaggregated"]:
        assert e["gpu_kw"] == pytest.approx(pool["gpus"] * 400 * pool["utilisation"] / 1e3)
    assert e["other_kw"] == pytest.approx(case_study["gpus"] * 412.5 / 1e3)
    per_hour = case_study["cost"]["tokens_per_month"] / 730 / 1e6
    assert case_study["kwh_per_million_tokens"] == pytest.approx(case_study["kw"] / per_hour)


# --- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["--sessions", "-3"], "--sessions"),
    (["--sessions", "many"], "--sessions"),
    (["--gpu", "h100"], "--gpu"),
    (["--model", "llama-9"], "--model"),
    (["--config", "/no/such/config.json"], "--config"),
    (["--ttft-p95-s", "0.01"], "--ttft-p95-s"),
    (["--tpot-p95-s", "0.001"], "--tpot-p95-s"),
    (["--latency-quantile", "1.5"], "--latency-quantile"),
    (["--disaggregation", "half"], "--disaggregation"),
    (["--chunk-tokens", "100"], "--chunk-tokens"),
    (["--prompt-tokens", "100000"], "--prompt-tokens"),                  # beyond Llama 2's 4,096-token context
    (["--gpu-usd-per-hour", "0"], "--gpu-usd-per-hour"),
    (["--model", "llama-2-70b", "--config", "x.json"], "--model"),
    (["--sesions", "3"], "--sesions"),
])
def test_bad_flags_give_one_line_naming_the_flag(argv, flag, capsys):
    try:
        rc = main(argv)
    except SystemExit as exc:                      # argparse's own errors (through model.cli.ArgumentParser)
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert flag in err


def test_an_slo_below_the_floor_gives_the_floor(capsys):
    rc, out, err = run(["--ttft-p95-s", "0.01"], capsys)
    assert rc == 2 and "zero-load floor" in err
    floor = float(err.split(">= ")[1].split(" s")[0])
    ok, _, err = run(["--ttft-p95-s", f"{floor * 1.5}", "--sessions", "1000", "--json"], capsys)
    assert ok == 0, err


# --- other models, files, the report -----------------------------------------------------------------------------
def test_moe_mla_plan_runs(capsys):
    """DeepSeek-V3 (MoE, MLA) in FP8 on H200s: the plan runs and keeps its contract; in FP16 its 671B weights
    (1,342 GB) fit no 8-GPU node (8 x 127 GB usable), so its replicas span nodes, and bounded to one node the error
    says so."""
    rc, out, err = run(["--model", "deepseek-v3", "--gpu", "h200-141gb", "--weight-dtype", "fp8", "--kv-dtype",
                        "fp8", "--sessions", "50000", "--json"], capsys)
    assert rc == 0, err
    plan = json.loads(out)
    assert set(CONTRACT) <= set(plan) and plan["gpus"] >= 8
    assert plan["inputs"]["model"] == "deepseek-v3"
    assert min(plan["tp"].values()) == 8                       # 671 GB of FP8 weights need the whole node
    rc, out, err = run(["--model", "deepseek-v3", "--gpu", "h200-141gb", "--sessions", "50000", "--json"], capsys)
    assert rc == 0, err
    assert min(json.loads(out)["replica_nodes"].values()) >= 2
    rc, out, err = run(["--model", "deepseek-v3", "--gpu", "h200-141gb", "--sessions", "50000",
                        "--max-nodes-per-replica", "1"], capsys)
    assert rc == 2 and "--gpu" in err and "fp8" in err and "--max-nodes-per-replica" in err


def test_config_file_and_input_file(tmp_path, capsys):
    from model.io import DATA

    config = DATA / "models" / "qwen3-32b" / "config.json"
    rc, out, err = run(["--config", str(config), "--sessions", "1000", "--gpu", "h100-80gb", "--json"], capsys)
    assert rc == 0, err
    plan = json.loads(out)
    assert plan["inputs"]["config"] == str(config) and plan["gpus"] > 0
    spec = tmp_path / "service.yaml"
    spec.write_text("sessions: 5000\nttft_p95_s: 2.0\nno_such_input: 1\n")
    rc, out, err = run(["--input", str(spec)], capsys)
    assert rc == 2 and "no_such_input" in err
    spec.write_text("sessions: 5000\nttft-p95-s: 2.0\n")
    rc, out, err = run(["--input", str(spec), "--json"], capsys)
    assert rc == 0 and json.loads(out)["inputs"]["ttft_p95_s"] == 2.0 and json.loads(out)["inputs"]["sessions"] == 5000


def test_markdown_report(capsys):
    rc, out, err = run(["--sessions", "10000"], capsys)
    assert rc == 0
    for heading in ("# Plan: 10,000 concurrent sessions", "## Answer", "## Serving", "## KV cache",
                    "## Cost and energy", "## Validated error", "## Assumptions"):
        assert heading in out
    assert "GPUs" in out and "kW" in out and "$" in out


def test_simulate_checks_each_pool(capsys):
    """--simulate runs an aggregated replica through the discrete-event simulator at the plan's rate, and the
    disaggregated pools together through the disaggregated simulator. At the case study's setting the closed forms
    are within 25% of it on the aggregated replica (the fitted tails' residuals reach about 20%) and 10% on the
    decode replicas (the batch tail is exact up to the step-time model); the prefill replicas, dispatched as the
    plan's session routing sends prompts (each replica queueing its own share, as the closed form has it), agree
    with the closed form's P95 TTFT within the step-time model's validated error."""
    rc, out, err = run(["--simulate", "--json"], capsys)
    assert rc == 0, err
    plan = json.loads(out)
    assert plan["simulated"] is True
    sim = plan["simulation"]
    assert set(sim) == {"aggregated", "disaggregated"}
    for key in ("ttft_p95_s", "tpot_p95_s"):
        assert abs(sim["aggregated"]["relative_difference"][key]) <= 0.25, sim["aggregated"]
    dis = sim["disaggregated"]
    assert abs(dis["relative_difference"]["tpot_p95_s"]) <= 0.10, dis
    assert plan["routing"] == "session" and dis["dispatch"] == "random"
    assert abs(dis["relative_difference"]["ttft_p95_s"]) <= plan["validated_error"]["ttft"], dis
    assert dis["agreement"]["prefill_ttft"]["within"] is True
    assert dis["kv_transfer_s"] == pytest.approx(plan["serving"]["kv_transfer_s"], rel=1e-12)
    rc, out, err = run(["--simulate", "--sessions", "10000"], capsys)
    assert rc == 0 and "## Simulated check" in out


def test_a_request_rate_and_a_shared_prefix_of_ones_own(capsys):
    """--requests-per-s instead of --sessions (the sessions follow by Little's law); a popular shared prefix makes
    the persona the bulk of the reuse, and the plan routes by prefix."""
    rc, out, err = run(["--requests-per-s", "5000", "--characters", "1000", "--zipf-exponent", "0.8",
                        "--shared-persona-tokens", "3000", "--json"], capsys)
    assert rc == 0, err
    plan = json.loads(out)
    assert plan["inputs"]["demand_requests_per_s"] == 5000
    assert plan["inputs"]["sessions"] == pytest.approx(5000 * 30 * 60 / 200)
    assert plan["cache"]["history_share_of_reuse"] < 0.5 and plan["routing"] == "prefix"
    with pytest.raises(SystemExit):
        main(["--sessions", "5", "--requests-per-s", "4"])
    assert "not allowed with" in capsys.readouterr().err


def test_compare_gpus(capsys):
    rc, out, err = run(["--sessions", "100000", "--compare-gpus", "a100-80gb,h100-80gb,mi300x-192gb", "--json"],
                       capsys)
    assert rc == 0, err
    rows = {r["gpu"]: r for r in json.loads(out)["compare_gpus"]}
    assert rows["a100-80gb"]["gpus"] == json.loads(out)["gpus"]          # the plan itself, at its own price
    assert rows["h100-80gb"]["gpus"] < rows["a100-80gb"]["gpus"]          # faster GPUs, fewer of them
    assert "error" in rows["mi300x-192gb"]                               # no price on record: its reason instead
    rc, out, err = run(["--compare-gpus", "h100"], capsys)
    assert rc == 2 and err.startswith("error: --compare-gpus")


def test_a_cache_beyond_hbm_goes_to_dram_then_ssd(capsys):
    """Long think times (30 turns over 5 h; 20 over 10 h) keep more history per node than its free HBM: the rest
    goes to DRAM up to plan_dram_max_gb_per_node, then to SSD, each priced per GB-month per cache node."""
    from model.hardware import load_tier
    from model.parameters import default

    for argv in (["--session-minutes", "300", "--turns-per-session", "30"],
                 ["--session-minutes", "600", "--turns-per-session", "20", "--gpu", "h100-80gb"]):
        rc, out, err = run(argv + ["--json"], capsys)
        assert rc == 0, err
        p = json.loads(out)
        n = p["cache"]["node"]
        assert p["hbm_gb_per_node"] == pytest.approx(n["hbm_free_gb"]) and p["dram_gb_per_node"] > 0
        assert p["hbm_gb_per_node"] + p["dram_gb_per_node"] + p["ssd_gb_per_node"] == pytest.approx(n["need_gb"])
        assert p["dram_gb_per_node"] <= default("plan_dram_max_gb_per_node")
        assert p["ssd_gb_per_node"] == 0 or p["dram_gb_per_node"] == default("plan_dram_max_gb_per_node")
        items = p["cost"]["by_item_usd_per_month"]
        nodes = p["cache"]["cache_nodes"]
        assert items["dram"] == pytest.approx(p["dram_gb_per_node"] * nodes * load_tier("host-dram").usd_per_gb_month)
        assert items["ssd"] == pytest.approx(p["ssd_gb_per_node"] * nodes * load_tier("nvme-ssd").usd_per_gb_month)
        assert p["usd_per_month"] == pytest.approx(sum(items.values()))


def test_simulate_replays_the_cache_with_its_ttls(capsys):
    """--simulate replays the plan's sample trace through the node's tiers with the TTL per group: the TTLs,
    priced at the tier the cache lives in, keep the hits the capacity was sized for (within 10%; without TTL the
    replay equals the stack-distance figure exactly), for the case study and for long think times whose cache
    spills to DRAM and SSD."""
    for argv in ([], ["--session-minutes", "600", "--turns-per-session", "20", "--gpu", "h100-80gb"]):
        rc, out, err = run(argv + ["--simulate", "--json"], capsys)
        assert rc == 0, err
        rep = json.loads(out)["cache_replay"]
        assert rep["token_hit_ratio_plan"] == json.loads(out)["cache"]["token_hit_ratio"]
        assert -0.10 <= rep["relative_difference"] <= 1e-9, rep


def test_replay_without_ttl_is_the_stack_distance_figure():
    from model.plan.cache import NodeCache, cache_profile
    from model.plan.simulate import replay_cache
    from model.serving.step_time import deployment

    i = PlanInputs()
    profile = cache_profile(i.turns_per_session, i.session_minutes, i.cache_hit_share, i.shared_prefix)
    node = NodeCache(100, 10.0, 300.0, 10.0, 0.0, 0.0, 0.0)
    rep = replay_cache(profile, node, {g: None for g in profile.trace.group_names}, deployment(),
                       usd_per_gpu_hour=3.0)
    assert rep["token_hit_ratio_replayed"] == pytest.approx(profile.token_hit_ratio, abs=1e-12)
    assert rep["expirations"] == 0
