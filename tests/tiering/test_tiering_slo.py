"""model.tiering.slo: the SLO search brackets the target; an unreachable target says so, with its floor."""
import numpy as np
from numpy.testing import assert_allclose

from model.tiering import default_config, replay, simulate, slo_table, throughput_at_slo


def test_throughput_at_slo_brackets_the_target(mooncake):
    cfg = default_config(n_instances=8)
    head = mooncake.head(4000)
    res = throughput_at_slo(head, cfg, 15.0)
    assert res.requests_per_s > 0 and res.result.ttft_p95_s <= 15.0
    faster = simulate(head.time_scaled(res.time_scale / 1.05), cfg)
    assert faster.ttft_p95_s > 15.0
    assert throughput_at_slo(head, cfg, 0.01).requests_per_s == 0.0


def test_unreachable_target_reports_its_floor(mooncake):
    cfg = default_config(n_instances=8)
    head = mooncake.head(2000)
    rep = replay(head, cfg)
    # independent floor: per request, the slowest tier load (tokens × bytes / bandwidth) plus its prefill
    bw = np.array([t.read_bytes_per_s for t in cfg.tiers])
    load = (rep.tokens_by_tier * cfg.engine.kv_bytes_per_token / bw).max(axis=1)
    prefill = cfg.engine.prefill_time_s(rep.recomputed_tokens, rep.tokens_by_tier.sum(axis=1))
    floor = np.percentile(load + prefill, 95)
    res = throughput_at_slo(head, cfg, 0.5 * floor)
    assert not res.feasible and res.requests_per_s == 0.0
    assert_allclose(res.floor_p95_ttft_s, floor, rtol=1e-12)
    assert res.best_p95_ttft_s >= floor - 1e-9                 # no rate beats the floor
    row = res.as_row()
    assert row["feasible"] is False and row["throughput_at_slo_rps"] == 0.0 and np.isfinite(row["hit_ratio"])
    assert np.isnan(row["usd_per_million_tokens"]) and np.isfinite(row["cost_usd_per_hour"])
    ok = throughput_at_slo(head, cfg, 1.5 * floor)
    assert ok.feasible and ok.result.ttft_p95_s <= 1.5 * floor and ok.floor_p95_ttft_s == res.floor_p95_ttft_s


def test_readme_example_is_infeasible_for_a_reason(mooncake):
    """16 instances and a 5 s target: the P95 prompt alone takes longer than 5 s to prefill on 4 A100s."""
    cfg = default_config(n_instances=16)
    res = throughput_at_slo(mooncake, cfg.with_capacities(dram=0, ssd=0), 5.0)
    assert not res.feasible and res.floor_p95_ttft_s > 5.0
    p95_prompt = np.percentile(mooncake.input_tokens, 95)
    assert cfg.engine.prefill_time_s(p95_prompt * 0.8, p95_prompt * 0.2) > 5.0


def test_slo_table_has_a_feasible_column(mooncake):
    head = mooncake.head(1500)
    cfg = default_config(n_instances=8)
    t = slo_table(head, {"hbm": cfg.with_capacities(dram=0, ssd=0), "all": cfg}, 1.0)
    assert list(t["configuration"]) == ["hbm", "all"] and t["feasible"].dtype == bool
    assert (t.loc[~t["feasible"], "throughput_at_slo_rps"] == 0).all()
    assert t[["hit_ratio", "ttft_p95_s", "floor_p95_ttft_s", "cost_usd_per_hour"]].notna().all().all()
