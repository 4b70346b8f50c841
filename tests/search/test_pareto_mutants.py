"""Tests of model.search.pareto written against realistic bugs (the reference point inside the nadir, a performance
gain that counts the cost, a search that ignores its beam width or threshold, edge cases of the filters):
every expectation worked out by hand."""
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.search import pareto
from model.search.pareto import Axis, Objective, SearchSpace
from model.checks import ParameterError

OBJ = pareto.DEFAULT_OBJECTIVES


def test_default_objectives_and_senses():
    assert [(o.name, o.sense) for o in OBJ] == [("cost_usd_per_hour", "min"), ("throughput_at_slo_rps", "max"),
                                                ("ttft_p95_s", "min")]
    assert Objective("x").sense == "min"
    with pytest.raises(ParameterError, match=r"^sense="):
        Objective("x", "maximise")


def test_as_minimisation_and_finite_mask_errors():
    objs = (Objective("c", "min"), Objective("t", "max"))
    with pytest.raises(ParameterError, match=r"values=\['t'\]"):
        pareto.as_minimisation(pd.DataFrame({"c": [1.0]}), objs)
    with pytest.raises(ParameterError, match=r"an \(n, 2\) array"):
        pareto.as_minimisation(np.ones((2, 3)), objs)
    with pytest.raises(ParameterError, match=r"^values="):
        pareto.as_minimisation(np.ones(2), objs)
    raw = np.array([[1.0, 2.0]])
    out = pareto.as_minimisation(raw, objs)
    assert out.tolist() == [[1.0, -2.0]] and raw.tolist() == [[1.0, 2.0]]      # the input is not changed
    with pytest.raises(ParameterError, match=r"^objectives="):
        pareto.finite_mask(pd.DataFrame({"c": [1.0]}))
    with pytest.raises(ParameterError, match=r"^values="):
        pareto.finite_mask(np.ones(3))
    t = pd.DataFrame({"c": [1.0, np.nan, 2.0], "t": [1.0, 1.0, -np.inf], "other": [np.nan] * 3})
    assert pareto.finite_mask(t, objs).tolist() == [True, False, False]


def test_non_dominated_mask_edges():
    assert pareto.non_dominated_mask(np.empty((0, 2))).tolist() == []
    assert pareto.non_dominated_mask(np.array([[np.nan, 1.0]])).tolist() == [False]
    with pytest.raises(ParameterError, match=r"^points="):
        pareto.non_dominated_mask(np.ones(3))
    with pytest.raises(ParameterError, match=r"^block="):
        pareto.non_dominated_mask(np.ones((2, 2)), block=0)
    # equal in one objective, better in the other: dominated; a block of one row compares with every row
    pts = np.array([[1.0, 2.0], [1.0, 1.0], [0.0, 3.0], [2.0, 0.0]])
    assert pareto.non_dominated_mask(pts, block=1).tolist() == [False, True, True, True]


def test_hypervolume_one_and_four_dimensions():
    assert pareto.hypervolume(np.array([[2.0], [3.0]]), [5.0]) == 3.0
    pts = np.array([[1, 2, 3, 1], [2, 1, 1, 2], [3, 3, 0, 0]], dtype=float)
    ref = np.array([4.0, 4.0, 4.0, 4.0])
    total = 0.0
    for r in range(1, 4):
        for s in itertools.combinations(range(3), r):
            total += (-1) ** (r + 1) * np.prod(np.clip(ref - pts[list(s)].max(axis=0), 0, None))
    assert_allclose(pareto.hypervolume(pts, ref), total, rtol=1e-12)
    # a point on the reference boundary adds nothing; duplicates count once
    assert pareto.hypervolume(np.array([[1.0, 4.0], [1.0, 2.0], [1.0, 2.0]]), [4.0, 4.0]) == 3.0 * 2.0
    with pytest.raises(ParameterError, match="finite coordinates"):
        pareto.hypervolume(np.ones((1, 2)), [np.inf, 2.0])
    with pytest.raises(ParameterError, match=r"^reference="):
        pareto.hypervolume(np.ones(2), [2.0, 2.0])


def test_hypervolume_3d_with_equal_last_coordinates():
    # two boxes of equal height: (1,3,1) and (3,1,1) against (4,4,4): area 3 + 3 - 1 = 5, times depth 3
    pts = np.array([[1, 3, 1], [3, 1, 1]], dtype=float)
    assert_allclose(pareto.hypervolume(pts, [4, 4, 4]), 15.0, rtol=1e-12)


def test_reference_point_is_beyond_the_nadir():
    # worst (3, 5), range (2, 3): nadir + 0.1 x range = (3.2, 5.3), outside every point
    pts = np.array([[1.0, 5.0], [3.0, 2.0]])
    assert_allclose(pareto.reference_point(pts), [3.2, 5.3], rtol=1e-12)          # default margin 0.1
    assert_allclose(pareto.reference_point(pts, margin=0.5), [4.0, 6.5], rtol=1e-12)
    assert_allclose(pareto.reference_point(pts, margin=0.0), [3.0, 5.0], rtol=1e-12)
    # a zero range gets margin x |value|, or margin itself at 0
    same = np.array([[2.0, -4.0, 0.0], [2.0, -4.0, 0.0]])
    assert_allclose(pareto.reference_point(same, margin=0.1), [2.2, -3.6, 0.1], rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^margin="):
        pareto.reference_point(pts, margin=-0.1)
    with pytest.raises(ParameterError, match=r"^points="):
        pareto.reference_point(np.ones(3))


def test_hypervolume_ratio_by_hand():
    objs = (Objective("c", "min"), Objective("t", "max"))
    complete = pd.DataFrame({"c": [1.0, 2.0], "t": [1.0, 2.0]})       # minimised: (1, -1), (2, -2)
    # reference (2.1, -0.9): whole = 1.1 x 0.1 + 0.1 x 1.0 = 0.21; found (1, -1) alone = 1.1 x 0.1 = 0.11
    assert_allclose(pareto.hypervolume_ratio(complete.iloc[:1], complete, objs), 0.11 / 0.21, rtol=1e-12)
    # an explicit reference (3, 0): whole 2 + 1 = 3... by hand: (1,-1) box 2x1, (2,-2) box 1x2, overlap 1 -> 3
    assert_allclose(pareto.hypervolume_ratio(complete.iloc[:1], complete, objs, reference=[3.0, 0.0]), 2 / 3)
    assert math.isnan(pareto.hypervolume_ratio(complete, complete.assign(c=np.inf), objs))
    with pytest.raises(ParameterError, match=r"^complete="):
        pareto.hypervolume_ratio(complete, complete, objs, reference=[0.0, -5.0])


def test_axis_and_space_validation():
    with pytest.raises(ParameterError, match="axis a"):
        Axis("a", ())
    with pytest.raises(ParameterError, match="distinct values"):
        Axis("a", (1, 1))
    assert Axis("p", ("lru", "fifo"), growth=False).values == ("lru", "fifo")     # categorical: any order
    assert Axis("a", (1, 2)).growth
    with pytest.raises(ParameterError, match=r"^axes="):
        SearchSpace((Axis("a", (1,)), Axis("a", (2,))))
    s = SearchSpace((Axis("a", (0, 1)), Axis("b", (5, 6, 7))))
    assert s.size == 6 and s.grid()[1] == {"a": 0, "b": 6} and s.config_at((1, 2)) == {"a": 1, "b": 7}


def test_performance_gain_ignores_the_cost():
    # cost halves, performance unchanged: no performance gain (the cost is the first objective, not a gain)
    b = {"cost_usd_per_hour": 10.0, "throughput_at_slo_rps": 100.0, "ttft_p95_s": 1.0}
    assert pareto.performance_gain(b, dict(b, cost_usd_per_hour=5.0)) == 0.0
    # throughput +5%, latency -20%: the best is 0.2
    assert_allclose(pareto.performance_gain(b, dict(b, throughput_at_slo_rps=105.0, ttft_p95_s=0.8)), 0.2)
    # everything worse: negative, the least bad (-1%)
    assert_allclose(pareto.performance_gain(b, dict(b, throughput_at_slo_rps=99.0, ttft_p95_s=1.5)), -0.01)
    # from an infeasible (infinite) value to a finite one: infinite gain; both infinite: no gain
    inf = dict(b, ttft_p95_s=math.inf)
    assert pareto.performance_gain(inf, b) == math.inf
    assert pareto.performance_gain(dict(inf, throughput_at_slo_rps=math.nan), dict(inf, throughput_at_slo_rps=math.nan)) == 0.0
    assert pareto.performance_gain(b, dict(b, ttft_p95_s=math.inf)) == 0.0
    # from zero: relative to the new value
    z = dict(b, throughput_at_slo_rps=0.0)
    assert pareto.performance_gain(z, dict(z, throughput_at_slo_rps=4.0)) == 1.0
    assert pareto.performance_gain(dict(z, ttft_p95_s=0.0), dict(z, ttft_p95_s=0.0)) == 0.0
    # a negative value before: the scale is its magnitude
    neg = {"cost_usd_per_hour": 1.0, "throughput_at_slo_rps": -2.0, "ttft_p95_s": 1.0}
    assert pareto.performance_gain(neg, dict(neg, throughput_at_slo_rps=-1.0)) == 0.5


def test_marginal_elasticity_edges():
    b = {"cost_usd_per_hour": 10.0, "throughput_at_slo_rps": 100.0, "ttft_p95_s": 1.0}
    # +25% cost for +10% throughput: 0.4
    assert_allclose(pareto.marginal_elasticity(b, dict(b, cost_usd_per_hour=12.5, throughput_at_slo_rps=110.0)), 0.4)
    # cheaper and better: inf; cheaper and worse: -inf; cheaper and equal: 0
    assert pareto.marginal_elasticity(b, dict(b, cost_usd_per_hour=9.0, ttft_p95_s=0.9)) == math.inf
    assert pareto.marginal_elasticity(b, dict(b, cost_usd_per_hour=9.0, throughput_at_slo_rps=99.0,
                                              ttft_p95_s=1.1)) == -math.inf
    assert pareto.marginal_elasticity(b, dict(b, cost_usd_per_hour=9.0)) == 0.0
    # from zero cost: any cost is an infinite relative increase (elasticity 0); zero to zero is no increase
    zero = dict(b, cost_usd_per_hour=0.0)
    assert pareto.marginal_elasticity(zero, dict(b, throughput_at_slo_rps=200.0)) == 0.0
    assert pareto.marginal_elasticity(zero, dict(zero, throughput_at_slo_rps=200.0)) == math.inf


def _linear(config):
    a, b = config["a"], config["b"]
    return {"cost_usd_per_hour": 1.0 + a + b, "throughput_at_slo_rps": 10.0 + 3 * a + 2 * b, "ttft_p95_s": 1.0}


def _evaluate(configs):
    return pd.DataFrame([{**c, **_linear(c)} for c in configs])


SPACE = SearchSpace((Axis("a", (0, 1, 2)), Axis("b", (0, 1, 2))))


def test_search_with_beam_one_follows_the_best_step():
    # from (0,0): a -> +100% cost, +30% throughput (0.3); b -> +20% (0.2): a. From (1,0): (2,0) 0.46 > (1,1) 0.31.
    # From (2,0): only (2,1), 0.375; then (2,2), 0.44; then no step is left: the knee is the top corner.
    r = pareto.diminishing_returns_search(SPACE, _evaluate, threshold=0.1, beam=1)
    assert [(c["a"], c["b"]) for c in r.path] == [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2)]
    assert [(c["a"], c["b"]) for c in r.knees] == [(2, 2)]
    assert r.evaluations == 7 and len(r.results) == 7
    assert r.results[["a", "b"]].apply(tuple, axis=1).tolist() == [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (2, 1),
                                                                  (2, 2)]


def test_search_with_beam_two_follows_two_steps():
    # round 1: (1,0) 0.3 and (0,1) 0.2; round 2: (1,1) from (0,1) 0.5, (2,0) 0.46 [(0,2) 0.33 dropped];
    # round 3: (2,1) 0.6, (1,2) 0.4; round 4: (2,2)
    r = pareto.diminishing_returns_search(SPACE, _evaluate, threshold=0.1, beam=2)
    assert [(c["a"], c["b"]) for c in r.path] == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (2, 1), (1, 2), (2, 2)]
    assert r.evaluations == 9


def test_search_threshold_stops_at_the_knee():
    # no first step reaches 0.35: the walk stops at the start, after evaluating its two neighbours
    r = pareto.diminishing_returns_search(SPACE, _evaluate, threshold=0.35, beam=1)
    assert [(c["a"], c["b"]) for c in r.path] == [(0, 0)] and [(c["a"], c["b"]) for c in r.knees] == [(0, 0)]
    assert r.evaluations == 3
    # a step exactly at the threshold is taken (0.3 >= 0.3)
    r = pareto.diminishing_returns_search(SPACE, _evaluate, threshold=0.3, beam=1)
    assert [(c["a"], c["b"]) for c in r.path][:2] == [(0, 0), (1, 0)]
    with pytest.raises(ParameterError, match=r"^threshold="):
        pareto.diminishing_returns_search(SPACE, _evaluate, threshold=-1)
    with pytest.raises(ParameterError, match=r"^beam="):
        pareto.diminishing_returns_search(SPACE, _evaluate, beam=0)


def test_search_defaults_threshold_and_beam():
    # defaults: threshold 0.2, beam 3. Round 1 takes (1,0) 0.3 and (0,1) 0.2 (at the threshold)
    r = pareto.diminishing_returns_search(SPACE, _evaluate)
    assert [(c["a"], c["b"]) for c in r.path][:3] == [(0, 0), (1, 0), (0, 1)]
    # round 2 candidates: (1,1) 0.5, (2,0) 0.46, (0,2) 0.33: three kept with beam 3
    assert [(c["a"], c["b"]) for c in r.path][3:6] == [(1, 1), (2, 0), (0, 2)]


def test_search_enumerates_categorical_axes_and_checks_rows():
    space = SearchSpace((Axis("p", ("x", "y"), growth=False), Axis("a", (0, 1))))

    def ev(configs):
        return pd.DataFrame([{**c, "cost_usd_per_hour": 1.0 + c["a"], "throughput_at_slo_rps": 1.0 + 9 * c["a"],
                              "ttft_p95_s": 1.0} for c in configs])

    r = pareto.diminishing_returns_search(space, ev, threshold=0.1, beam=1)
    assert [(c["p"], c["a"]) for c in r.path] == [("x", 0), ("x", 1), ("y", 0), ("y", 1)]
    assert r.evaluations == 4
    with pytest.raises(ParameterError, match=r"^evaluate_many="):
        pareto.diminishing_returns_search(space, lambda cs: ev(cs).iloc[:0], threshold=0.1)


def test_best_under_objective_ties_and_infinite():
    t = pd.DataFrame({"c": [2.0, 1.0, 1.0, np.inf], "t": [np.nan, 5.0, 5.0, 1.0]})
    assert pareto.best_under_objective(t, Objective("c", "min")).name == 1        # first of the tie
    assert pareto.best_under_objective(t, Objective("t", "max")).name == 1
    assert pareto.best_under_objective(t.assign(c=-t["c"]), Objective("c", "max")).name == 1
    assert pareto.best_under_objective(pd.DataFrame({"c": [np.nan]}), Objective("c")) is None
    assert pareto.best_under_objective(pd.DataFrame({"c": [-np.inf, 3.0]}), Objective("c")).name == 1


def test_headline_comparisons_columns_and_default_axes():
    objs = (Objective("cost", "min"), Objective("thr", "max"))
    table = pd.DataFrame({"size": [1, 2], "cost": [4.0, 8.0], "thr": [2.0, 6.0]})
    h = pareto.headline_comparisons(table, {"cost": 5.0, "thr": 3.0}, objs)
    assert list(h.columns) == ["objective", "sense", "baseline", "best", "improvement_percent", "comparable", "size"]
    assert h["size"].tolist() == [1, 2] and h["sense"].tolist() == ["min", "max"]
    assert_allclose(h["improvement_percent"], [20.0, 100.0])
    assert h["baseline"].tolist() == [5.0, 3.0] and h["best"].tolist() == [4.0, 6.0] and h["comparable"].all()
    # a negative baseline: the change is relative to its magnitude
    neg = pareto.headline_comparisons(table, {"cost": 5.0, "thr": -2.0}, objs)
    assert_allclose(neg["improvement_percent"], [20.0, 400.0])
    empty = pareto.headline_comparisons(table.iloc[:0], {"cost": 5.0, "thr": 3.0}, objs, axes=["size"])
    assert empty["best"].isna().all() and empty["size"].isna().all() and not empty["comparable"].any()


def test_evaluations_table_by_hand():
    objs = (Objective("c", "min"), Objective("t", "max"))
    ex = pd.DataFrame({"c": [1.0, 2.0, 3.0, np.inf], "t": [1.0, 2.0, 1.5, 9.0]})
    pr = ex.iloc[[0, 2]]
    t = pareto.evaluations_table(ex, pr, objs).set_index("search")
    assert t.loc["exhaustive grid", "evaluations"] == 4 and t.loc["exhaustive grid", "feasible"] == 3
    assert t.loc["exhaustive grid", "frontier_points"] == 2 and t.loc["exhaustive grid", "hypervolume_ratio"] == 1.0
    assert t.loc["exhaustive grid", "evaluation_reduction"] == 1.0
    p = t.loc["diminishing-returns pruned"]
    assert p["evaluations"] == 2 and p["feasible"] == 2 and p["frontier_points"] == 2
    assert p["evaluation_reduction"] == 2.0
    assert_allclose(p["hypervolume_ratio"], pareto.hypervolume_ratio(pr, ex, objs))
    # minimised (1,-1), (2,-2), (3,-1.5); reference (3.2, -0.9): whole = 2.2 x 0.1 + 1.2 x 1.1 - 1.2 x 0.1 = 1.42;
    # found (1,-1), (3,-1.5): 2.2 x 0.1 + 0.2 x 0.6 - 0.2 x 0.1 = 0.32
    assert_allclose(p["hypervolume_ratio"], 0.32 / 1.42, rtol=1e-12)
    none = pareto.evaluations_table(ex.iloc[3:], ex.iloc[:0], objs).set_index("search")
    assert math.isnan(none.loc["exhaustive grid", "hypervolume_ratio"]) and none.loc["exhaustive grid", "feasible"] == 0
    assert none.loc["diminishing-returns pruned", "evaluation_reduction"] == math.inf
    assert none.loc["diminishing-returns pruned", "feasible"] == 0


def test_as_configs_makes_json_safe_numbers():
    out = pareto.as_configs([{"a": np.int64(3), "b": np.float64(0.5), "c": "lru"}])
    assert out == [{"a": 3, "b": 0.5, "c": "lru"}]
    assert type(out[0]["a"]) is int and type(out[0]["b"]) is float


def test_axis_and_space_messages():
    with pytest.raises(ParameterError, match=r"^axis a=\(\) is not allowed: axis a must be at least one value$"):
        Axis("a", ())
    with pytest.raises(ParameterError, match=r"^axis a=\(1, 1\) is not allowed: axis a must be distinct values$"):
        Axis("a", (1, 1))
    with pytest.raises(ParameterError, match=r"^axis a=\(2, 1\) is not allowed: axis a must be values sorted "
                                             r"ascending \(a growth axis\)$"):
        Axis("a", (2, 1))
    with pytest.raises(ParameterError, match=r"^axes=\['a', 'a'\] is not allowed: axes must be distinct axis names$"):
        SearchSpace((Axis("a", (1,)), Axis("a", (2,))))


def test_best_under_objective_reads_any_numeric_column():
    t = pd.DataFrame({"c": pd.Series([None, 2, 1], dtype=object)})
    assert pareto.best_under_objective(t, Objective("c")).name == 2


def test_headline_comparisons_keeps_only_the_axes_asked_for():
    objs = (Objective("cost", "min"), Objective("thr", "max"))
    table = pd.DataFrame({"size": [1, 2], "other": ["x", "y"], "cost": [4.0, 8.0], "thr": [2.0, 6.0]})
    h = pareto.headline_comparisons(table, {"cost": 5.0, "thr": 3.0}, objs, axes=["size"])
    assert "other" not in h.columns and h["size"].tolist() == [1, 2]
    none = pareto.headline_comparisons(table, {"cost": math.inf, "thr": 3.0}, objs, axes=["size"])
    assert none["improvement_percent"].dtype == float and none["improvement_percent"].isna().all()


def test_evaluations_table_of_empty_results():
    objs = (Objective("c", "min"), Objective("t", "max"))
    empty = pd.DataFrame({"c": pd.Series([], dtype=float), "t": pd.Series([], dtype=float)})
    t = pareto.evaluations_table(empty, empty, objs).set_index("search")
    assert t.loc["exhaustive grid", "feasible"] == 0 and t.loc["diminishing-returns pruned", "feasible"] == 0
    assert math.isnan(t.loc["exhaustive grid", "hypervolume_ratio"])
    assert math.isnan(t.loc["diminishing-returns pruned", "hypervolume_ratio"])
