"""model.audit.kareto_paper: every k.* claim audited once, verdicts only "given" or "not reproducible", the
headline figures recomputed independently at the audit's fixed setting, and the table identical whatever a
chapter would pass (it takes no parameters)."""
import inspect

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model import workload
from model.search import tier_search as kareto
from model.audit import kareto_paper
from model.audit.verdicts import load_claims, verdict_counts


@pytest.fixture(scope="module")
def table():
    return kareto_paper.table()


def test_every_kareto_claim_once(table):
    assert sorted(table.claim_id) == sorted(load_claims(source="kareto").claim_id)
    assert table.claim_id.is_unique


def test_verdicts(table):
    counts = verdict_counts(table)
    assert counts["given"] == 6 and counts["not reproducible"] == 4 and counts.sum() == 10
    given = table[table.verdict == "given"]
    assert given.read_back.all()          # inputs and restatements are the stated figures themselves
    # the headline figures are computed, not read back
    head = table.set_index("claim_id").loc[["k.throughput_gain_max", "k.latency_reduction_max",
                                            "k.cost_reduction_max"]]
    assert not head.read_back.any() and head.computed_value.notna().all()


def test_takes_no_parameters():
    assert not inspect.signature(kareto_paper.computed).parameters
    assert not inspect.signature(kareto_paper.table).parameters


@pytest.mark.slow
def test_headline_throughput_recomputed_at_the_fixed_setting(table):
    """Independent of the audit's own path: evaluate every grid point directly at the audit setting."""
    setup = kareto.ServingSetup(model="llama-3.1-70b", gpu="h100-80gb", n_gpus=8, slo_ttft_p95_s=5.0)
    assert setup == kareto_paper.audit_setup()
    ev = kareto.build_evaluator(workload.load_mooncake_trace(), setup)
    grid = pd.DataFrame([{**c, **ev(c)} for c in kareto.search_space(setup).grid()])
    base = ev(kareto.baseline_config(setup))
    best = grid.throughput_at_slo_rps.max()
    expected = 100 * (best - base["throughput_at_slo_rps"]) / base["throughput_at_slo_rps"]
    got = table.set_index("claim_id").loc["k.throughput_gain_max", "computed_value"]
    assert_allclose(got, expected, rtol=1e-12)
    cheapest = grid.usd_per_million_tokens.min()
    expected_cost = 100 * (base["usd_per_million_tokens"] - cheapest) / base["usd_per_million_tokens"]
    assert_allclose(table.set_index("claim_id").loc["k.cost_reduction_max", "computed_value"], expected_cost,
                    rtol=1e-12)


@pytest.mark.slow
def test_recorded_search_equals_a_fresh_one_and_the_table_is_identical_run_to_run(table):
    """The record ``kareto_audit`` holds exactly what the search computes now (bit for bit), and the table
    is the same from either."""
    fresh = kareto_paper.grid_tables(**kareto_paper.grid_kwargs())
    recorded = kareto_paper.search_at_audit_setting()
    for name in ("exhaustive", "pruned", "headlines"):
        pd.testing.assert_frame_equal(recorded[name].reset_index(drop=True), fresh[name].reset_index(drop=True),
                                      check_exact=True, check_dtype=False, obj=name)
    assert recorded["baseline"] == fresh["baseline"].iloc[0].to_dict()
    kareto_paper.search_at_audit_setting.cache_clear()
    again = kareto_paper.table()
    assert again.to_csv(index=False) == table.to_csv(index=False)


def test_the_grid_is_recorded_at_the_audit_setting():
    """The record the audit reads (data/records/kareto_audit) was made by its own function at its fixed
    setting, and is current (tests/test_records.py fails on any stale record)."""
    from model.records import load_record

    rec = load_record("kareto_audit")
    assert rec.function == "model.audit.kareto_paper:grid_tables"
    assert rec.kwargs == kareto_paper.grid_kwargs()
    assert set(rec.tables) == {"exhaustive", "pruned", "baseline", "headlines"}
