"""model.search.pareto: non-dominated filter against brute force, hypervolume against hand-computed cases and
inclusion-exclusion, and the diminishing-returns search on analytic objectives."""
import itertools

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.search import pareto
from model.search.pareto import Axis, Objective, SearchSpace
from model.checks import ParameterError


def _brute_force_front(points):
    """Independent reference: a point is kept unless some other point is <= everywhere and < somewhere."""
    n = len(points)
    keep = []
    for i in range(n):
        dominated = False
        for j in range(n):
            if j != i and all(points[j][d] <= points[i][d] for d in range(points.shape[1])) \
                    and any(points[j][d] < points[i][d] for d in range(points.shape[1])):
                dominated = True
                break
        keep.append(not dominated)
    return np.array(keep)


@pytest.mark.parametrize("seed", range(6))
def test_non_dominated_mask_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    # integers on a small range force ties and duplicates
    points = rng.integers(0, 6, size=(120, 3)).astype(float)
    assert (pareto.non_dominated_mask(points, block=17) == _brute_force_front(points)).all()


def test_non_dominated_mask_continuous_and_two_dims():
    rng = np.random.default_rng(11)
    for k in (2, 3, 4):
        points = rng.normal(size=(80, k))
        assert (pareto.non_dominated_mask(points) == _brute_force_front(points)).all()


def test_non_dominated_mask_duplicates_and_nan():
    points = np.array([[1, 1, 1], [1, 1, 1], [2, 2, 2], [np.nan, 0, 0], [0, 5, 5]], dtype=float)
    assert pareto.non_dominated_mask(points).tolist() == [True, True, False, False, True]


def test_as_minimisation_flips_maximised_objectives():
    objs = (Objective("c", "min"), Objective("t", "max"))
    table = pd.DataFrame({"c": [1.0, 2.0], "t": [10.0, 30.0]})
    assert_allclose(pareto.as_minimisation(table, objs), [[1, -10], [2, -30]])
    front = pareto.pareto_front(pd.DataFrame({"c": [1.0, 2.0, 2.0], "t": [10.0, 30.0, 20.0]}), objs)
    assert front.index.tolist() == [0, 1]


def test_hypervolume_hand_computed_2d():
    # points (1,3), (2,2), (3,1) with reference (4,4): staircase area = 3 + 2 + 1 ... by hand:
    # x in [1,2): height 4-3 = 1; x in [2,3): height 2; x in [3,4): height 3 -> 1 + 2 + 3 = 6
    pts = np.array([[1, 3], [2, 2], [3, 1]], dtype=float)
    assert_allclose(pareto.hypervolume(pts, [4, 4]), 6.0, rtol=1e-12)


def test_hypervolume_hand_computed_3d():
    # Two boxes against reference (4,4,4): a=(1,2,3) -> 3*2*1 = 6; b=(2,1,2) -> 2*3*2 = 12;
    # overlap = (4-2)*(4-2)*(4-3) = 4 -> union = 6 + 12 - 4 = 14
    pts = np.array([[1, 2, 3], [2, 1, 2]], dtype=float)
    assert_allclose(pareto.hypervolume(pts, [4, 4, 4]), 14.0, rtol=1e-12)
    # a dominated point and a point outside the reference box add nothing
    more = np.vstack([pts, [3, 3, 3], [5, 0, 0]])
    assert_allclose(pareto.hypervolume(more, [4, 4, 4]), 14.0, rtol=1e-12)
    assert pareto.hypervolume(np.empty((0, 3)), [1, 1, 1]) == 0.0


def _inclusion_exclusion(points, ref):
    total = 0.0
    n = len(points)
    for r in range(1, n + 1):
        for subset in itertools.combinations(range(n), r):
            corner = np.max(points[list(subset)], axis=0)
            total += (-1) ** (r + 1) * np.prod(np.clip(ref - corner, 0, None))
    return total


@pytest.mark.parametrize("seed", range(5))
def test_hypervolume_equals_inclusion_exclusion(seed):
    rng = np.random.default_rng(100 + seed)
    pts = rng.uniform(0, 1, size=(8, 3))
    ref = np.array([1.1, 1.2, 1.0])
    assert_allclose(pareto.hypervolume(pts, ref), _inclusion_exclusion(pts, ref), rtol=1e-10)


def test_hypervolume_ratio_invariant_to_units():
    rng = np.random.default_rng(3)
    objs = pareto.DEFAULT_OBJECTIVES
    table = pd.DataFrame(rng.uniform(1, 2, size=(40, 3)), columns=[o.name for o in objs])
    part = table.iloc[:15]
    r1 = pareto.hypervolume_ratio(part, table, objs)
    scaled = lambda t: t.assign(cost_usd_per_hour=t.cost_usd_per_hour * 1000, ttft_p95_s=t.ttft_p95_s / 7)
    assert_allclose(pareto.hypervolume_ratio(scaled(part), scaled(table), objs), r1, rtol=1e-10)
    assert 0 < r1 <= 1
    assert_allclose(pareto.hypervolume_ratio(table, table, objs), 1.0)


def test_hypervolume_rejects_bad_reference():
    with pytest.raises(ParameterError, match="reference"):
        pareto.hypervolume(np.ones((2, 3)), [1, 1])


def test_axis_and_space_validation_and_grid():
    with pytest.raises(ParameterError, match="ascending"):
        Axis("dram_gb", (2, 1))
    space = SearchSpace((Axis("a", (0, 1, 2)), Axis("p", ("lru", "fifo"), growth=False)))
    assert space.size == 6
    assert space.grid()[:2] == [{"a": 0, "p": "lru"}, {"a": 0, "p": "fifo"}]


def test_marginal_elasticity_cases():
    b = {"cost_usd_per_hour": 10.0, "throughput_at_slo_rps": 100.0, "ttft_p95_s": 1.0}
    a = {"cost_usd_per_hour": 11.0, "throughput_at_slo_rps": 105.0, "ttft_p95_s": 0.9}
    # +10% cost buys max(+5% throughput, -10% latency) = 10% -> elasticity 1.0
    assert_allclose(pareto.marginal_elasticity(b, a), 1.0)
    free = dict(a, cost_usd_per_hour=10.0)
    assert pareto.marginal_elasticity(b, free) == np.inf


# --- the diminishing-returns search on an analytic landscape ------------------------------------------

def _analytic(config):
    """Saturating performance (throughput grows like 1 - exp(-capacity/scale)); linear cost."""
    d, s = config["dram"], config["ssd"]
    hit = 1 - np.exp(-(d / 100 + s / 400))
    slow = 1 - np.exp(-d / 100)
    return {"cost_usd_per_hour": 5 + 0.01 * d + 0.002 * s + (0.5 if config["policy"] == "fifo" else 0),
            "throughput_at_slo_rps": 10 + 10 * hit,
            "ttft_p95_s": 2.0 - 1.0 * slow - 0.3 * hit}


def _evaluate_many(configs):
    return pd.DataFrame([{**c, **_analytic(c)} for c in configs])


def test_search_prunes_and_recovers_frontier():
    space = SearchSpace((Axis("dram", tuple(range(0, 1001, 50))), Axis("ssd", tuple(range(0, 4001, 250))),
                         Axis("policy", ("lru", "fifo"), growth=False)))
    exhaustive = _evaluate_many(space.grid())
    found = pareto.diminishing_returns_search(space, _evaluate_many, threshold=0.05, beam=2)
    assert found.evaluations < space.size / 5
    # every evaluated row is a grid point with its own objective values (no recomputation by the search)
    assert not found.results.duplicated(["dram", "ssd", "policy"]).any()
    ratio = pareto.hypervolume_ratio(found.results, exhaustive)
    assert ratio >= 0.9
    # the knee: walks stop before the top of the grid, where gains per dollar fall below the threshold
    assert all(k["dram"] < 1000 for k in found.knees)
    # a lower threshold walks further: evaluations do not decrease
    wider = pareto.diminishing_returns_search(space, _evaluate_many, threshold=0.005, beam=2)
    assert wider.evaluations >= found.evaluations


def test_headline_comparisons_direction():
    table = pd.DataFrame({"cost_usd_per_hour": [10.0, 8.0, 12.0], "throughput_at_slo_rps": [100.0, 90, 110],
                          "ttft_p95_s": [1.0, 1.2, 0.5]})
    base = table.iloc[0].to_dict()
    head = pareto.headline_comparisons(table, base, axes=[]).set_index("objective")["improvement_percent"]
    assert_allclose(head.to_numpy(), [20.0, 10.0, 50.0])


def test_infeasible_rows_are_left_out_of_frontier_reference_and_hypervolume():
    pts = np.array([[1.0, 2.0], [2.0, 1.0], [np.inf, 0.5], [0.5, np.nan]])
    assert pareto.non_dominated_mask(pts).tolist() == [True, True, False, False]
    assert pareto.finite_mask(pts).tolist() == [True, True, False, False]
    ref = pareto.reference_point(pts, margin=0.1)
    assert_allclose(ref, [2.1, 2.1])
    # union of [1,2.1]x[2,2.1] and [2,2.1]x[1,2.1]: 1.1*0.1 + 0.1*1.1 - 0.1*0.1
    assert_allclose(pareto.hypervolume(pts, ref), 0.11 + 0.11 - 0.01, rtol=1e-12)
    with pytest.raises(ParameterError):
        pareto.reference_point(np.array([[np.inf, 1.0]]))


def test_headline_comparisons_zero_or_infeasible_baseline():
    objs = (Objective("cost", "min"), Objective("thr", "max"))
    table = pd.DataFrame({"a": [1, 2, 3], "cost": [np.inf, 4.0, 2.0], "thr": [0.0, 1.0, 3.0]})
    zero = pareto.headline_comparisons(table, {"cost": 5.0, "thr": 0.0}, objs, axes=["a"])
    z = zero.set_index("objective")
    assert np.isnan(z.loc["thr", "improvement_percent"]) and not z.loc["thr", "comparable"]
    assert_allclose(z.loc["cost", "improvement_percent"], 60.0)      # (5 - 2) / 5
    assert z.loc["cost", "a"] == 3                                     # the infinite-cost row is skipped
    inf = pareto.headline_comparisons(table, {"cost": np.inf, "thr": 0.0}, objs, axes=["a"])
    assert inf.improvement_percent.isna().all()
    none = pareto.headline_comparisons(table.iloc[:1], {"cost": 5.0, "thr": 1.0}, objs, axes=["a"])
    assert none.improvement_percent.isna().all() and none.best.isna().all()
