"""model.search.tier_search: the tier split against model.tiering's replay, tie spreading, the GPU price following the
GPU, HBM priced in the unit its capacity is counted in, infeasible configurations under a tight SLO, and the
sweep fingerprint. (Its queues are model.tiering's one recursion, tested in tests/tiering/test_tiering_timing.py.)"""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.book import phrases
from model.search import tier_search as kareto
from model.search import pareto
from model.io import DATA
from model.economics.prices import gpu_price
from model.checks import ParameterError


def test_spread_ties_keeps_order_and_mean_rate():
    t = np.array([0, 0, 0, 3, 3, 6], dtype=float)
    spread = kareto.spread_ties(t)
    assert_allclose(spread, [0, 1, 2, 3, 4.5, 6])
    assert (np.diff(spread) > 0).all()
    assert_allclose(kareto.spread_ties(np.array([0.0, 1.5, 2.0])), [0.0, 1.5, 2.0])


def test_tier_split_matches_tiering_replay():
    tiering = pytest.importorskip("model.tiering")
    from model import workload
    trace = workload.load_mooncake_trace().head(1500)
    ev = kareto.build_evaluator(trace)
    config = {"hbm_gb": 100.0, "dram_gb": 300.0, "ssd_gb": 1000.0}
    served = ev.served_tokens(**config).sum(axis=0)
    rep = tiering.replay(trace, kareto.tiering_config(config))
    ours = np.array([ev.blocks(config[k]) for k in ("hbm_gb", "dram_gb", "ssd_gb")])
    theirs = np.array(kareto.tiering_config(config).capacities)
    assert (ours == theirs).all()
    tokens = np.asarray(rep.tokens_by_tier).sum(axis=0)
    # the evaluator and the simulator agree block for block: same hits, same tier of each hit
    assert_allclose(served, tokens, rtol=0, atol=0)


def test_more_capacity_never_lowers_hit_ratio_or_throughput():
    from model import workload
    ev = kareto.build_evaluator(workload.load_mooncake_trace().head(1500))
    small = ev({"hbm_gb": 50.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    large = ev({"hbm_gb": 50.0, "dram_gb": 2000.0, "ssd_gb": 0.0})
    assert large["hit_ratio"] >= small["hit_ratio"]
    assert large["throughput_at_slo_rps"] >= small["throughput_at_slo_rps"] * (1 - 1e-3)
    assert large["cost_usd_per_hour"] > small["cost_usd_per_hour"]


def _price_row(gpu, provider="aws", pricing="on-demand"):
    """Independent read of data/prices/gpu_prices.csv: the latest row of that GPU, provider and pricing."""
    t = pd.read_csv(DATA / "prices" / "gpu_prices.csv")
    t = t[(t.gpu == gpu) & (t.provider == provider) & (t.pricing == pricing)].sort_values(["date", "usd_per_gpu_hour"])
    return float(t.iloc[-1].usd_per_gpu_hour)


@pytest.mark.parametrize("gpu", ["h100-80gb", "a100-80gb", "h200-141gb"])
def test_gpu_price_follows_the_gpu(gpu):
    setup = kareto.ServingSetup(model="llama-3-8b", gpu=gpu, n_gpus=1)
    assert setup.gpu_usd_per_hour == _price_row(gpu)
    assert (setup.price.gpu, setup.price.provider, setup.price.pricing) == (gpu, "aws", "on-demand")
    # the H100 row is the 2026-11-09 AWS p5.48xlarge price $55.04/h / 8, not the pre-cut list price
    if gpu == "h100-80gb":
        assert_allclose(setup.gpu_usd_per_hour, 55.04 / 8, rtol=1e-12)
    # a price set by the reader wins, and another row can be chosen
    mine = kareto.ServingSetup(model="llama-3-8b", gpu=gpu, n_gpus=1, price=gpu_price(gpu, usd_per_gpu_hour=1.5))
    assert mine.gpu_usd_per_hour == 1.5 and "as set in the parameters" in phrases.setting_sentence(mine)
    spot = kareto.ServingSetup(gpu="h200-141gb", price=gpu_price("h200-141gb", "aws", "spot"))
    assert spot.gpu_usd_per_hour == _price_row("h200-141gb", pricing="spot")


def test_a_price_must_be_the_gpus():
    with pytest.raises(ParameterError, match=r"^price='aws on-demand a100-80gb, .*' is not allowed: price must be "
                                             r"a price of h100-80gb$"):
        kareto.ServingSetup(gpu="h100-80gb", price=gpu_price("a100-80gb"))


def test_gpu_without_a_price_row_asks_for_a_price(monkeypatch):
    import model.economics.prices as prices

    table = prices.gpu_prices()
    without = table[table.provider != "aws"]
    monkeypatch.setattr(prices, "gpu_prices", lambda: without)
    with pytest.raises(ParameterError, match=r"^price=None .* no aws/on-demand row of h100-80gb$"):
        kareto.ServingSetup(gpu="h100-80gb")


def test_setting_sentence_names_the_price_row():
    date = pd.read_csv(DATA / "prices" / "gpu_prices.csv", dtype={"date": str}).query(
        "gpu == 'h100-80gb' and provider == 'aws'")["date"].max()
    assert phrases.setting_sentence(kareto.ServingSetup()) == (
        f"The search below runs Llama 3.1 70B on 8× h100-80gb at ${_price_row('h100-80gb'):.2f} per GPU-hour (the "
        f"h100-80gb row of data/prices/gpu_prices.csv: aws on-demand, {date}), with a P95 TTFT target of 5 s.")


def test_hbm_priced_per_gb_of_the_bytes_its_capacity_counts():
    setup = kareto.ServingSetup()
    # nvidia-smi total of an H100 80GB: 85,520,809,984 bytes (data/hardware.csv), i.e. 85.52 decimal GB
    assert_allclose(setup.hbm_usd_per_gb_hour(), 6.88 / 85.520809984, rtol=1e-12)
    # free HBM is counted in the same bytes: 8 GPUs x 0.9 (vLLM gpu_memory_utilization) - the weights
    from model.architectures import load_architecture
    from model.quantization.weights import weight_bytes
    free = (8 * 0.9 * 85_520_809_984 - weight_bytes(load_architecture("llama-3.1-70b"))) / 1e9
    assert_allclose(setup.free_hbm_gb(), free, rtol=1e-12)
    # a whole replica's HBM costs exactly the replica's GPUs
    assert_allclose(setup.hbm_usd_per_gb_hour() * 8 * 85.520809984, 8 * 6.88, rtol=1e-12)


def test_evaluator_and_simulate_are_one_model():
    """Kareto's evaluator and model.tiering.simulate on the same setup: same DRAM row and bandwidths, same tokens
    per tier, same TTFT of every request (one timing function), same price-per-token denominator."""
    from dataclasses import replace
    from model import tiering, workload
    trace = workload.load_mooncake_trace().head(800)
    trace = replace(trace, arrival_s=kareto.spread_ties(trace.arrival_s - trace.arrival_s[0]))
    setup = kareto.ServingSetup()
    ev = kareto.build_evaluator(trace, setup)
    config = {"hbm_gb": 60.0, "dram_gb": 200.0, "ssd_gb": 800.0}
    cfg = kareto.tiering_config(config, setup)
    dram = tiering.default_config(model=setup.model, gpu=setup.gpu, gpus_per_instance=setup.n_gpus,
                                  dram_tier=setup.dram_tier).tiers[1]
    assert cfg.tiers[1].read_bytes_per_s == dram.read_bytes_per_s == ev.tier_config.tiers[1].read_bytes_per_s
    assert cfg.engine == ev.tier_config.engine and cfg.engine.n_instances == 1
    result = tiering.simulate(trace, cfg)
    served = ev.served_tokens(**config)
    assert_allclose(served, result.replay.tokens_by_tier, rtol=0, atol=0)
    assert_allclose(ev.ttft_s(ev.service_times(served), 1.0), result.timing.ttft_s, rtol=1e-9, atol=1e-9)
    # the same denominator: cost per hour / (prompt + output tokens per hour)
    tokens_per_s = (trace.input_tokens.sum() + trace.output_tokens.sum()) / 3600.0
    assert tiering.usd_per_million_tokens(36.0, tokens_per_s) == pytest.approx(
        36.0 / (trace.input_tokens.sum() + trace.output_tokens.sum()) * 1e6, rel=1e-12)
    out = ev(config)
    rps = out["throughput_at_slo_rps"]
    per_request = float(trace.input_tokens.mean() + trace.output_tokens.mean())
    assert out["usd_per_million_tokens"] == pytest.approx(
        tiering.usd_per_million_tokens(out["cost_usd_per_hour"], rps * per_request), rel=1e-12)


@pytest.fixture(scope="module")
def small_trace():
    from model import workload
    return workload.load_mooncake_trace().head(1500)


def test_tight_slo_makes_every_configuration_infeasible_and_nothing_raises(small_trace):
    setup = kareto.ServingSetup(slo_ttft_p95_s=0.05)
    ev = kareto.build_evaluator(small_trace, setup)
    space = kareto.search_space(setup, **kareto.quick_grid())
    table = pd.DataFrame([{**c, **ev(c)} for c in space.grid()])
    assert not table.feasible.any()
    assert (table.throughput_at_slo_rps == 0).all() and np.isinf(table.usd_per_million_tokens).all()
    base = ev(kareto.baseline_config(setup))
    assert base["feasible"] is False
    head = pareto.headline_comparisons(table, base, kareto.OBJECTIVES, axes=["hbm_gb", "dram_gb", "ssd_gb"])
    assert head.improvement_percent.isna().all() and not head.comparable.any()
    ev_table = pareto.evaluations_table(table, table.iloc[:5], kareto.OBJECTIVES)
    assert ev_table.hypervolume_ratio.isna().all() and (ev_table.feasible == 0).all()
    assert not pareto.non_dominated_mask(pareto.as_minimisation(table, kareto.OBJECTIVES)).any()
    assert "none of the 36" in phrases.feasibility_sentence("Mooncake", 0, 36, False, 0.05)
    assert phrases.change_phrase(math.nan, better="rises", worse="falls") == "cannot be compared"
    # with no feasible baseline the reference load is the trace's own rate
    span = float(ev.arrival_s[-1])
    assert_allclose(ev.reference_rps, len(ev.arrival_s) / span, rtol=1e-12)


def test_throughput_at_slo_is_the_boundary_within_its_tolerance(small_trace):
    """The rate found meets the SLO and a rate 2 x kareto_slo_rel_tol higher misses it (P95 TTFT of the FIFO
    network grows with the rate: waits only lengthen when arrivals are compressed)."""
    from model.parameters import default
    ev = kareto.build_evaluator(small_trace)
    assert ev.slo_rel_tol == default("kareto_slo_rel_tol") == 1e-3
    service = ev.service_times(ev.served_tokens(100.0, 0.0, 0.0))
    rps = ev.throughput_at_slo(service)
    scale = rps * float(ev.arrival_s[-1] - ev.arrival_s[0]) / len(ev.arrival_s)
    assert ev.ttft_p95(service, scale) <= ev.slo_s < ev.ttft_p95(service, scale * (1 + 2 * ev.slo_rel_tol))


def test_feasible_flag_matches_throughput(small_trace):
    ev = kareto.build_evaluator(small_trace)
    r = ev({"hbm_gb": 100.0, "dram_gb": 0.0, "ssd_gb": 0.0})
    assert r["feasible"] is True and r["throughput_at_slo_rps"] > 0 and math.isfinite(r["usd_per_million_tokens"])


def test_fingerprint_follows_every_input(small_trace):
    base = kareto.build_evaluator(small_trace).fingerprint
    assert kareto.build_evaluator(small_trace).fingerprint == base
    priced = kareto.ServingSetup(price=gpu_price("h100-80gb", usd_per_gpu_hour=7.0))
    assert kareto.build_evaluator(small_trace, priced).fingerprint != base
    assert kareto.build_evaluator(small_trace, kareto.ServingSetup(ssd_drives=4)).fingerprint != base
    assert kareto.build_evaluator(small_trace, kareto.ServingSetup(dram_tier="host-dram")).fingerprint != base
    assert kareto.build_evaluator(small_trace.head(1499)).fingerprint != base
    from dataclasses import replace
    ev = kareto.build_evaluator(small_trace)
    assert kareto.evaluator_fingerprint(replace(ev, slo_rel_tol=0.01)) != base    # the search's precision too


def test_unbounded_hit_ratio_bounds_every_configuration(small_trace):
    ev = kareto.build_evaluator(small_trace)
    ceiling = ev.unbounded_hit_ratio()
    big = ev({"hbm_gb": 400.0, "dram_gb": 6000.0, "ssd_gb": 30000.0})["hit_ratio"]
    assert 0 < big <= ceiling + 1e-12
    assert ev.distinct_kv_gb() > 0


def test_phrases():
    assert phrases.config_phrase({"hbm_gb": 59.0, "dram_gb": 1024.0, "ssd_gb": 12000.0}) == \
        "59 GB of HBM, 1,024 GB of DRAM, 12 TB of SSD"
    assert phrases.config_phrase({"hbm_gb": 59.0, "dram_gb": 0.0, "ssd_gb": 0.0}) == "59 GB of HBM, no DRAM, no SSD"
    assert phrases.change_phrase(30.4, better="rises", worse="falls") == "rises 30%"
    assert phrases.change_phrase(-12.6, better="falls", worse="rises") == "rises 13%"
    assert "31 of the 36" in phrases.feasibility_sentence("Mooncake", 31, 36, True, 5.0)
