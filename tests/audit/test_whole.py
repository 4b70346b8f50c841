"""The case study's audit judged as a whole: the rules hold on every row, and the rows the re-check named are
judged as it asked (one reading per quantity, ranges that decide, inputs carried through, bounds that hold,
one label per kind)."""

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.audit import readings as R
from model.audit.claims import load_claims
from model.audit.verdicts import FAILED_VERDICTS, GIVEN, INCONSISTENT_INPUTS, RANGE_DECISIVE_RATIO, ROLES
from model.audit.whole import GROUPS, group_audit, section


@pytest.fixture(scope="module")
def case():
    table, order = group_audit("case_study")
    return table.set_index("claim_id"), order


def test_every_case_study_figure_once_and_sections_are_slices(case):
    table, order = case
    assert table.index.is_unique
    assert set(table.index) == set(load_claims(source="case_study")["claim_id"])
    assert sum(len(ids) for ids in order.values()) == len(table)
    t5 = section("model.audit.t5_quantization")
    assert list(t5["claim_id"]) == order["t5_quantization"]
    pd.testing.assert_frame_equal(t5.set_index("claim_id"), table.loc[order["t5_quantization"]])
    assert set(GROUPS["kareto"]) == {"kareto_paper"}


def test_one_reading_per_quantity_across_rows(case):
    table, _ = case
    used = {}
    for cell in table["readings"]:
        for pair in filter(None, cell.split("; ")):
            q, a = pair.split("=")
            used.setdefault(q, set()).add(a)
    assert used, "no row names a reading"
    assert all(alts == {R.audit_reading(q)} for q, alts in used.items()), used
    # the quantities the re-check named are each read by some row
    assert {"concurrent_sessions", "tokens_per_turn", "gpu_price", "fleet_900", "latency"} <= set(used)


def test_no_consistent_figure_reads_a_failing_one(case):
    table, _ = case

    def fails(cid, depth=0):
        v, of = table.loc[cid, "verdict"], table.loc[cid, "restates"]
        return v in FAILED_VERDICTS or (v == GIVEN and bool(of) and depth < 10 and fails(of, depth + 1))

    for cid, r in table.iterrows():
        bad = [i for i in r["reads"].split() if i != cid and fails(i)]
        if r["verdict"] == "consistent":
            assert not bad, (cid, bad)
        if r["verdict"] == INCONSISTENT_INPUTS:
            assert bad and r["inputs_flagged"].split() == sorted(bad), cid


def test_ranges_that_pass_are_narrow(case):
    table, _ = case
    ranges = table[table["kind"] == "range"]
    assert (ranges["depends_on"].str.len() > 0).all()
    passed = ranges[ranges["verdict"].isin(["consistent", INCONSISTENT_INPUTS])]
    assert (passed["range_ratio"] <= RANGE_DECISIVE_RATIO).all()
    wide_inside = ranges[(ranges["range_ratio"] > RANGE_DECISIVE_RATIO)
                         & (ranges["stated_value"] >= ranges["low"] * 0.95) & (ranges["stated_value"] <= ranges["high"] * 1.05)]
    assert (wide_inside["verdict"] == "not reproducible").all() and len(wide_inside)


def test_impossible_only_against_a_stated_bound(case):
    table, _ = case
    impossible = table[table["verdict"] == "impossible"]
    assert len(impossible) and impossible["kind"].isin(["upper_bound", "lower_bound"]).all()
    assert (impossible["holds_under"].str.len() > 20).all()


def test_one_label_per_kind_of_row(case):
    table, _ = case
    assert set(table["role"]) <= set(ROLES)
    fixed = table[table["role"] != "computed"].groupby("role")["verdict"].nunique()
    assert (fixed == 1).all(), fixed
    chosen = ["l11.monitoring.interval", "l11.monitoring.scale_out_threshold", "l11.monitoring.daily_cost_alert",
              "l10.design.spare_gpu_share", "l10.design.failover_time", "l8.short_term.turns", "l8.mid_term.tokens_sent",
              "r12.short_term.horizon", "t1.s1_goal.monthly_cost_cap", "l10.sla.availability"]
    assert (table.loc[chosen, "verdict"] == GIVEN).all()
    assert set(table.loc[chosen, "role"]) <= {"threshold", "interval", "design input"}


def test_the_rows_the_recheck_named(case):
    table, _ = case
    v = table["verdict"]
    # a range of an unstated choice spanning most plausible values decides nothing
    assert v["l7.effect.cache_hit_rate"] == "not reproducible"
    # "1M concurrent" read one way: the $4.8M fails under it, and the row says which reading it would pass under
    cost = table.loc["l7.effect.cost_before"]
    assert cost["verdict"] == "inconsistent" and cost["verdict_depends_on_reading"]
    assert "under one_per_day (sessions a day): 4,866,667" in cost["reason"]
    # 1,200/600 averages to T9's 900: not inconsistent under the audit's reading of the 900 GPUs
    assert v["l11.autoscaling.peak_gpus"] in ("consistent", INCONSISTENT_INPUTS)
    assert_allclose(table.loc["l11.autoscaling.peak_gpus", "computed_value"], 1200)
    # sums on inputs judged wrong, and the two API bills
    for cid in ("t2.selection.monthly_saving", "t2.selection.annual_saving", "t2.arith.monthly_cost_1m",
                "t12.availability.improvement", "t1.availability.change"):
        assert v[cid] == INCONSISTENT_INPUTS, cid
    assert v["t1.s1_challenge.naive_monthly_cost"] == v["s.lesson_openai.monthly_cost"] == "inconsistent"
    # 350 MB is 1.4 GB / 4; the KV cache of a 10K-token session / 4 is 819 MB: inconsistent, not impossible
    mem = table.loc["t3.pagedattention.mem_after"]
    assert mem["verdict"] == "inconsistent" and mem["kind"] == "estimate"
    assert_allclose(mem["computed_value"], 10_000 * 327_680 / 4 / 1e6)
    # one GPU price throughout: T9's, whose own line is then the reading, not a check
    assert v["t9.gpu.monthly_cost"] == GIVEN and table.loc["t9.gpu.monthly_cost", "role"] == "reading"
    priced = table[table["readings"].str.contains("gpu_price")]
    assert len(priced) >= 5 and priced["readings"].str.contains("gpu_price=t9").all()


def test_every_figure_not_left_open_has_a_computed_value(case):
    """Only a not reproducible or qualitative figure may lack a computed value (a given figure shows the
    stated one)."""
    table, _ = case
    empty = table[table["computed_value"].isna() & (table["verdict"] != "not reproducible") & (table["unit"] != "text")]
    assert empty.empty, list(empty.index)

