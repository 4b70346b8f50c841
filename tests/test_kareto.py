"""model.kareto: the tier split against model.tiering's replay, the
vectorised FIFO recursion against a loop, tie spreading, and the audit covering every k.* claim once."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model import kareto
from model.audit.verdicts import audit, load_claims


def test_fifo_recursion_equals_loop():
    rng = np.random.default_rng(4)
    arrival = np.sort(rng.uniform(0, 100, 500))
    service = rng.exponential(0.25, 500)
    finish, out = 0.0, []
    for a, s in zip(arrival, service):
        finish = max(a, finish) + s
        out.append(finish - a)
    assert_allclose(kareto.fifo_response_times(arrival, service), out, rtol=1e-12)


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


def test_audit_covers_every_kareto_claim_once():
    head = pd.DataFrame({"objective": ["usd_per_million_tokens", "throughput_at_slo_rps", "ttft_p95_s"],
                         "improvement_percent": [10.0, 20.0, 30.0]})
    computed = kareto.audit_kareto(head, exhaustive_evaluations=540, pruned_evaluations=94,
                                   free_hbm_gb=475, best_uniform_ttl_s=300,
                                   share_reuse_after_1h=0.0, trace_hours=0.98, ttl_saving_percent=5.0,
                                   setting="test")
    table = audit(computed)
    assert sorted(table.claim_id) == sorted(load_claims(source="kareto").claim_id)
    assert (table.verdict == "not reproducible").all()
    assert table.set_index("claim_id").loc["k.throughput_gain_max", "computed_value"] == 20.0
