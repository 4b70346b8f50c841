"""The T4 / utilisation audit: the source's own arithmetic, physical bounds by hand, ranges over copy size."""
import math

import pytest
from numpy.testing import assert_allclose

from model.audit import t4_continuous_batching as t4
from model.audit.verdicts import INCONSISTENT_INPUTS

A100_BW = 2039e9                       # bytes/s, datasheet
A100_FP16 = 312e12                     # dense FP16 tensor FLOP/s, datasheet
LLAMA2_70B_BYTES = 137_953_296_384
# matmul parameters of Llama 2 70B from its config: 80 layers x (q, o: 8192^2; k, v: 8192 x 1024; MLP 3 x 8192 x 28672)
# + LM head 32000 x 8192
MATMUL = 80 * (2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 32000 * 8192


@pytest.fixture(scope="module")
def table():
    return t4.table().set_index("claim_id")


def test_source_implied_figures():
    before, after = t4.implied_demand_per_min()
    assert before == 2500 * 1200 and after == 1630 * 1840
    assert_allclose(t4.implied_gpu_usd_per_month(), 875_000 / 870)
    assert_allclose(list(t4.implied_ratios().values()), [1840 / 1200, 2500 / 1630, 92 / 60])


def test_throughput_bounds_by_hand(table):
    seq = 60 * A100_BW / (100 * LLAMA2_70B_BYTES)   # req/min per GPU: weights read once per reply token
    cb = 60 * A100_FP16 / (2 * MATMUL * 100)        # req/min per GPU: 2 FLOPs per parameter per reply token
    for cid, bound in (("t4.baseline.throughput", seq), ("t4.cb.throughput", cb)):
        r = table.loc[cid]
        assert r["kind"] == "upper_bound" and r["verdict"] == "impossible" and "FP16" in r["holds_under"]
        assert_allclose(r["computed_value"], bound, rtol=1e-9)
        # read as the whole service's rate, it is far below the demand of 1M sessions: inconsistent, not impossible
        assert "fleet: inconsistent" in r["verdict_by_reading"]
    # with §1's 50-token turns, 1,840 requests/min would be within the compute bound: the row says so
    assert "consistent under s1_50" in table.loc["t4.cb.throughput", "reason"]


def test_utilisation_rests_on_the_sources_arithmetic(table):
    assert_allclose(table.loc["t4.cb.gpu_util", "computed_value"], 60 * 2500 / 1630)
    assert_allclose(table.loc["t1.gpu_util.optimized", "computed_value"], 60 * 1840 / 1200)
    assert_allclose(table.loc["t12.gpu_util.improvement", "computed_value"], 100 * (92 / 60 - 1))
    assert_allclose(table.loc["t4.problem.wasted_share", "computed_value"], 40)
    # the arithmetic holds, on GPU counts and throughputs judged inconsistent and impossible in their own rows
    assert (table.loc[["t4.cb.gpu_util", "t1.gpu_util.optimized", "t12.gpu_util.improvement"], "verdict"]
            == INCONSISTENT_INPUTS).all()
    assert table.loc["t4.cb.gpu_util", "inputs_flagged"] == "t4.baseline.gpus_for_1m t4.cb.gpus_for_1m"
    assert table.loc["t4.baseline.gpu_util", "verdict"] == "not reproducible"
    assert math.isnan(table.loc["t4.baseline.gpu_util", "computed_value"])
    restated = ["t4.heading.gpu_util_before", "t4.problem.gpu_util", "t1.gpu_util.initial", "t12.gpu_util.initial",
                "s.success_cb.gpu_util_before", "t4.heading.gpu_util_after", "t12.gpu_util.optimized",
                "s.success_cb.gpu_util_after", "s.strength_gpu.gpu_util", "s.lesson_cb.cost_change"]
    assert (table.loc[restated, "verdict"] == "given").all()


def test_fleet_ranges_follow_the_copy_sizes(table):
    r = t4.rates()
    assert list(r["n_gpus"]) == [4, 8]
    demand = 1_000_000 * 200 / 30                # §1: 1M sessions, 200 turns per 30-minute session
    assert_allclose(t4.session_demand_per_min(), demand)
    before, after = demand / r["sequential_rpm_per_gpu"], demand / r["continuous_rpm_per_gpu"]
    assert_allclose([table.loc["t4.baseline.gpus_for_1m", "low"], table.loc["t4.baseline.gpus_for_1m", "high"]],
                    [before.min(), before.max()])
    assert_allclose([table.loc["t4.cb.gpus_for_1m", "low"], table.loc["t4.cb.gpus_for_1m", "high"]],
                    [after.min(), after.max()])
    saving = (before - after) * 4.5e6 / 900       # T9's own price of a GPU-month (the audit's reading)
    assert_allclose([table.loc["t4.cb.monthly_saving", "low"], table.loc["t4.cb.monthly_saving", "high"]],
                    [saving.min(), saving.max()], rtol=1e-9)
    # one at a time cannot beat its bandwidth bound; continuous batching is many times faster
    assert (r["sequential_rpm_per_gpu"] < r["sequential_bound_rpm_per_gpu"]).all()
    assert (r["continuous_rpm_per_gpu"] > 5 * r["sequential_rpm_per_gpu"]).all()
    assert table.loc["t4.cb.cost_change", "high"] < -35


def test_each_claim_once():
    ids = [c.claim_id for c in t4.computed()]
    assert len(ids) == len(set(ids)) == 22
