"""model.serving.step_time_fit by hand: Nelder–Mead's sequence of trial points worked out step by step
(reflection, expansion, both contractions, shrink), the soft-L1 loss of known log errors, the parameter
transforms (logit, log, their clips and floors), rounding to significant figures, and a short fit on a few
calibration rows."""
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.serving.step_time_accuracy import load_points, prediction_table
from model.serving.step_time_fit import (FITTED, LOSS_SCALE, START, StepTimeFit, _from_x, _to_x, fit_step_time, loss,
                                         nelder_mead)


def _recording(f):
    calls = []

    def g(x):
        calls.append(np.array(x, float).tolist())
        return f(np.asarray(x, float))
    return g, calls


# --- Nelder–Mead, point by point ------------------------------------------------------------------------------
def test_one_dimensional_trace_by_hand():
    """f = (x − 3)², x0 = 0, step 0.5. Simplex {0: 9, 0.5: 6.25}; centre 0.5: reflection 1 (4) beats the best,
    expansion 1.5 (2.25) beats the reflection: kept. Centre 1.5: reflection 2.5 (0.25), expansion 3.5 (0.25) no
    better than it: the reflection kept. Centre 2.5: reflection 3.5 (0.25) does not beat the best (0.25) but beats
    the worst (2.25): inside contraction 2.5 + (3.5 − 2.5)/2 = 3 (0) kept. Centre 3: reflection 3.5 (0.25) no
    better than the worst 2.5 (0.25): outside contraction 3 + (2.5 − 3)/2 = 2.75 (0.0625) kept. Then reflection
    3.25 and contraction 2.875."""
    f, calls = _recording(lambda x: float((x[0] - 3.0) ** 2))
    x, fx, evals = nelder_mead(f, np.array([0.0]), max_evals=12)
    assert calls == [[0.0], [0.5], [1.0], [1.5], [2.5], [3.5], [3.5], [3.0], [3.5], [2.75], [3.25], [2.875]]
    assert evals == 12 and x.tolist() == [3.0] and fx == 0.0


def test_shrink_by_hand():
    """f = 0 at 0, 5|x| left of it, 1 + 2 (x − 1)² right of it; x0 = 0, step 1. Simplex {0: 0, 1: 1}: reflection
    −1 (5) is worse than the worst, contraction 0.5 (1.5) too: shrink 1 → 0.5 (evaluated again). Then reflection
    −0.5 (2.5), contraction 0.25 (2.125) worse than the worst (1.5): shrink 0.5 → 0.25."""
    def g(x):
        v = x[0]
        return 0.0 if v == 0 else (5 * abs(v) if v < 0 else 1 + 2 * (v - 1) ** 2)
    f, calls = _recording(g)
    x, fx, evals = nelder_mead(f, np.array([0.0]), step=1.0, max_evals=8)
    assert calls == [[0.0], [1.0], [-1.0], [0.5], [0.5], [-0.5], [0.25], [0.25]]
    assert evals == 8 and x.tolist() == [0.0] and fx == 0.0


def test_two_dimensional_trace_by_hand():
    """f = x² + 2y² from (1, 1), step 0.5: simplex (1, 1): 3, (1.5, 1): 4.25, (1, 1.5): 5.5. Centre (1.25, 1):
    reflection (1.5, 0.5): 2.75 beats the best, expansion (1.75, 0): 3.0625 does not beat it: reflection kept.
    Centre (1.25, 0.75): reflection (1, 0.5): 1.5, expansion (0.75, 0.25): 0.6875 kept. Centre (1.125, 0.375):
    reflection (1.25, −0.25): 1.6875, between the best and the second worst: kept as it is."""
    f, calls = _recording(lambda p: float(p[0] ** 2 + 2 * p[1] ** 2))
    x, fx, evals = nelder_mead(f, np.array([1.0, 1.0]), max_evals=8)
    assert calls == [[1.0, 1.0], [1.5, 1.0], [1.0, 1.5], [1.5, 0.5], [1.75, 0.0], [1.0, 0.5], [0.75, 0.25],
                     [1.25, -0.25]]
    assert evals == 8 and x.tolist() == [0.75, 0.25] and fx == 0.6875
    # one more step: simplex (0.75, 0.25), (1.25, −0.25), (1.5, 0.5); centre (1, 0): reflection (0.5, −0.5) 0.75
    f, calls = _recording(lambda p: float(p[0] ** 2 + 2 * p[1] ** 2))
    nelder_mead(f, np.array([1.0, 1.0]), max_evals=9)
    assert calls[-1] == [0.5, -0.5]


def test_a_flat_function_stops_at_the_start():
    """All vertices equal: the spread 0 is within tol at once; x0 (the first of equals) is returned."""
    f, calls = _recording(lambda x: 7.0)
    x, fx, evals = nelder_mead(f, np.array([2.0, -1.0, 0.5]), max_evals=100)
    assert evals == 4 and len(calls) == 4 and x.tolist() == [2.0, -1.0, 0.5] and fx == 7.0


def test_the_tolerance_is_relative_to_the_best_value():
    """(x − 3)² from 0, step 0.5: spread 9 − 6.25 = 2.75. With tol 0.2: 2.75 ≤ 0.2 × (6.25 + 0.2) = 1.29? no.
    With tol 0.5: 2.75 ≤ 0.5 × 6.75 = 3.375: stop at once, best vertex 0.5."""
    x, fx, evals = nelder_mead(lambda x: float((x[0] - 3) ** 2), np.array([0.0]), tol=0.5)
    assert evals == 2 and x.tolist() == [0.5] and fx == 6.25
    x, fx, evals = nelder_mead(lambda x: float((x[0] - 3) ** 2), np.array([0.0]), tol=0.2, max_evals=3)
    assert evals == 4                                       # went on: a reflection and an expansion
    # a zero best value: the spread 1e-10 is within tol × tol = 1e-10 (tol 1e-5, the default)
    x, fx, evals = nelder_mead(lambda x: 0.0 if x[0] == 0 else 1e-10, np.array([0.0]))
    assert evals == 2 and fx == 0.0


def test_evaluations_are_counted_and_bounded():
    f, calls = _recording(lambda p: float(np.sum((p - [1.0, -2.0, 0.5]) ** 2 * [1, 3, 10])))
    x, fx, evals = nelder_mead(f, np.zeros(3))
    assert evals == len(calls) and evals <= 600 + 3            # a shrink may overshoot by n
    f, calls = _recording(lambda p: float(np.sum(p ** 2)))
    nelder_mead(f, np.ones(2), max_evals=30)
    assert len(calls) <= 30 + 2


# --- loss and transforms ----------------------------------------------------------------------------------------
def test_soft_l1_loss_by_hand():
    """r = log(predicted ÷ measured) / 0.1; loss = mean 2 (√(1 + r²) − 1). Rows with no or a non-positive
    prediction are left out."""
    e = math.e
    table = pd.DataFrame({"predicted": [1.0, 2.0 * e ** 0.1, 3.0 * e ** -0.3, np.nan, 0.0, -1.0],
                          "measured": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    expected = (0.0 + 2 * (math.sqrt(2) - 1) + 2 * (math.sqrt(10) - 1)) / 3
    assert_allclose(loss(table), expected, rtol=1e-12)
    assert LOSS_SCALE == 0.1
    # small errors count quadratically: r = 0.01 → 2(√1.0001 − 1) ≈ r²
    small = pd.DataFrame({"predicted": [e ** 0.001], "measured": [1.0]})
    assert_allclose(loss(small), 1e-4, rtol=1e-4)


def test_transforms_by_hand():
    x = _to_x(START)
    logit = lambda p: math.log(p / (1 - p))                  # noqa: E731
    assert list(FITTED) == ["mfu", "mbu", "attention_mfu", "attention_mbu", "mfu_half_tokens", "overlap",
                            "layer_overhead_s", "allreduce_latency_s", "low_precision_mfu", "low_precision_mbu",
                            "fp4_mfu", "fp4_mbu", "expert_mfu", "sequence_overhead_s"]
    assert_allclose(x, [logit(0.63), logit(0.584), 0.0, 0.0, math.log(64.0), logit(0.2), math.log(20e-6),
                        math.log(10e-6), logit(0.7), logit(0.9), logit(0.7), logit(0.9), 0.0, math.log(5e-6)],
                    rtol=1e-12, atol=1e-15)
    back = _from_x(x)
    assert list(back) == list(FITTED)
    assert_allclose([back[k] for k in FITTED], [START[k] for k in FITTED], rtol=1e-12)
    # fractions are clipped to [1e-6, 1 − 1e-6], the others floored (1 token, 0.1 µs, 0.1 µs) before the log
    edge = {**START, "mfu": 0.0, "mbu": 1.0, "mfu_half_tokens": 0.5, "layer_overhead_s": 0.0,
            "allreduce_latency_s": 1e-8, "overlap": 1e-7}
    y = _to_x(edge)
    assert_allclose(y[[0, 1, 4, 5, 6, 7]], [logit(1e-6), logit(1 - 1e-6), 0.0, logit(1e-6), math.log(1e-7),
                                            math.log(1e-7)], rtol=1e-9)
    assert_allclose(_to_x({**START, "mfu_half_tokens": 1.0, "layer_overhead_s": 1e-7})[[4, 6]],
                    [0.0, math.log(1e-7)], rtol=1e-12, atol=1e-15)
    z = _from_x(np.array([0.0, math.log(3.0), 0, 0, math.log(5.0), 0, 0, 0, 0, 0, 0, 0, 0, 0]))
    assert_allclose([z["mfu"], z["mbu"], z["mfu_half_tokens"], z["layer_overhead_s"]], [0.5, 0.75, 5.0, 1.0],
                    rtol=1e-12)


def test_rounded_to_significant_figures():
    fit = StepTimeFit({"a": 0.123456, "b": 98765.4, "c": 2.5e-5}, 0.1, 10, 3)
    assert fit.rounded() == {"a": 0.123, "b": 98800.0, "c": 2.5e-5}
    assert fit.rounded(2) == {"a": 0.12, "b": 99000.0, "c": 2.5e-5}


# --- the fit -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def few_points():
    pts = load_points()
    cal = pts[pts["role"] == "calibration"].head(6)
    val = pts[pts["role"] == "validation"].head(3)
    return pd.concat([cal, val])


def test_short_fit_on_a_few_rows(few_points):
    fit = fit_step_time(few_points, max_evals=25)
    cal = few_points[few_points["role"] == "calibration"]
    assert list(fit.params) == list(FITTED)
    assert 25 <= fit.evaluations <= 25 + len(FITTED)
    table = prediction_table(cal, **fit.params)
    assert fit.calibration_rows == int(table["predicted"].notna().sum()) == 6
    assert_allclose(fit.loss, loss(table), rtol=1e-12)
    # the best vertex is never worse than the start
    assert fit.loss <= loss(prediction_table(cal, **START))
    # another start gives another path
    other = fit_step_time(few_points, max_evals=12, start={**START, "mfu": 0.3})
    assert other.params != fit.params and 12 <= other.evaluations <= 12 + len(FITTED)


def test_a_parameter_set_the_model_refuses_scores_infinity(few_points, monkeypatch):
    """The fit survives trial points the model rejects: their loss is inf and they are never kept."""
    import model.serving.step_time_fit as fit_module
    real = fit_module.prediction_table
    seen = []

    def picky(points, **params):
        seen.append(params["mfu"])
        if len(seen) in (2, 3):
            raise ValueError("refused")
        return real(points, **params)

    monkeypatch.setattr(fit_module, "prediction_table", picky)
    fit = fit_step_time(few_points, max_evals=11)
    assert math.isfinite(fit.loss) and fit.evaluations >= 11


def test_no_calibration_rows_is_an_error(few_points):
    with pytest.raises(ValueError) as err:
        fit_step_time(few_points[few_points["role"] == "validation"])
    assert str(err.value) == "points: no calibration rows"


def test_inside_contraction_by_hand():
    """(x − 3)² from 0 with step 2: simplex {0: 9, 2: 1}; reflection 4 (1) is no better than the best but better
    than the worst: inside contraction 2 + (4 − 2)/2 = 3."""
    f, calls = _recording(lambda x: float((x[0] - 3.0) ** 2))
    x, fx, evals = nelder_mead(f, np.array([0.0]), step=2.0, max_evals=4)
    assert calls == [[0.0], [2.0], [4.0], [3.0]] and x.tolist() == [3.0] and fx == 0.0


def test_the_last_improvement_is_returned():
    """Stopped right after the first expansion (1.5: 2.25), the best point is that last one, not the old best."""
    x, fx, evals = nelder_mead(lambda x: float((x[0] - 3.0) ** 2), np.array([0.0]), max_evals=4)
    assert evals == 4 and x.tolist() == [1.5] and fx == 2.25


def test_shrink_towards_a_best_vertex_away_from_zero():
    """The shrink test moved by 10: vertices shrink towards 10 (10.5, then 10.25), not towards the origin."""
    def g(x):
        v = x[0] - 10.0
        return 0.0 if v == 0 else (5 * abs(v) if v < 0 else 1 + 2 * (v - 1) ** 2)
    f, calls = _recording(g)
    nelder_mead(f, np.array([10.0]), step=1.0, max_evals=8)
    assert calls == [[10.0], [11.0], [9.0], [10.5], [10.5], [9.5], [10.25], [10.25]]


def test_a_contraction_only_as_good_as_the_worst_shrinks():
    """f = 0 at 0, 5|x| left, 1 right: reflection −1 (5), contraction 0.5 (1) only ties the worst (1): shrink,
    which evaluates 0.5 again."""
    f, calls = _recording(lambda x: 0.0 if x[0] == 0 else (5 * abs(x[0]) if x[0] < 0 else 1.0))
    nelder_mead(f, np.array([0.0]), step=1.0, max_evals=5)
    assert calls == [[0.0], [1.0], [-1.0], [0.5], [0.5]]


def test_two_dimensional_contractions_by_hand():
    """Values set by hand: (0, 0): 0, (1, 0): 2, (0, 1): 4, (1, −1): 3, (0.75, −0.5): 2.5, anything else 10.
    Centre (0.5, 0); reflection (1, −1): 3, worse than the second (2), better than the worst (4): inside
    contraction (0.5, 0) + ((1, −1) − (0.5, 0))/2 = (0.75, −0.5): 2.5, better than min(3, 4): kept. Centre of
    (0, 0) and (1, 0) again: reflection of (0.75, −0.5) is (0.25, 0.5): 10, worse than the worst: outside
    contraction (0.5, 0) + ((0.75, −0.5) − (0.5, 0))/2 = (0.625, −0.25): 10, no better: shrink towards (0, 0),
    (1, 0) → (0.5, 0) and (0.75, −0.5) → (0.375, −0.25)."""
    table = {(0.0, 0.0): 0.0, (1.0, 0.0): 2.0, (0.0, 1.0): 4.0, (1.0, -1.0): 3.0, (0.75, -0.5): 2.5}
    f, calls = _recording(lambda p: table.get((float(p[0]), float(p[1])), 10.0))
    nelder_mead(f, np.array([0.0, 0.0]), step=1.0, max_evals=6)
    assert calls == [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, -1.0], [0.75, -0.5], [0.25, 0.5], [0.625, -0.25],
                     [0.5, 0.0], [0.375, -0.25]]


def test_convergence_compares_the_best_with_the_worst():
    """Two equal best vertices (0) and a worst one (1): the spread is 1, not 0, so the search goes on."""
    f, calls = _recording(lambda p: 1.0 if p[1] > 0 else 0.0)
    x, fx, evals = nelder_mead(f, np.array([0.0, 0.0]), max_evals=4)
    assert evals > 3
    # the spread exactly at the bound stops: x², from 0 with step 0.5: 0.25 ≤ 0.5 × (0 + 0.5)
    x, fx, evals = nelder_mead(lambda x: float(x[0] ** 2), np.array([0.0]), tol=0.5)
    assert evals == 2 and x.tolist() == [0.0]
    # the bound scales with the best value (6.25), not the worst (9): 2.75 > 0.35 × 6.6 = 2.31, go on
    x, fx, evals = nelder_mead(lambda x: float((x[0] - 3) ** 2), np.array([0.0]), tol=0.35, max_evals=3)
    assert evals == 4


def test_default_budget_and_float_start():
    """f = −x has no minimum: every step expands (2 evaluations), so the default budget of 600 is met exactly;
    an integer start comes back as floats."""
    x, fx, evals = nelder_mead(lambda x: -float(x[0]), np.array([0.0]))
    assert evals == 600
    x, fx, evals = nelder_mead(lambda x: 1.0, [2, -1])
    assert x.dtype == np.float64 and x.tolist() == [2.0, -1.0]


def test_fit_defaults(monkeypatch):
    """Without points the fit reads the measured ones (the calibration rows of data/measurements that the accuracy
    rules predict: more than the 152 Llama rows, at most every calibration row); it starts at START with a budget
    of 600 evaluations."""
    import model.serving.step_time_fit as fit_module
    seen = {}

    def stub(f, x0, **kwargs):
        seen.update(x0=x0, **kwargs)
        return x0, 0.0, 1

    monkeypatch.setattr(fit_module, "nelder_mead", stub)
    fit = fit_step_time()
    assert seen["max_evals"] == 600
    assert_allclose(seen["x0"], _to_x(START), rtol=1e-15)
    table = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "measurements" / "step_time_points.csv")
    assert 152 < fit.calibration_rows <= int((table["role"] == "calibration").sum())
    assert_allclose([fit.params[k] for k in FITTED], [START[k] for k in FITTED], rtol=1e-12)


def test_loss_keeps_rows_with_gaps_elsewhere():
    """Only a missing prediction excludes a row: a missing note in another column does not."""
    table = pd.DataFrame({"predicted": [math.e ** 0.1, 1.0], "measured": [1.0, 1.0], "reason": [np.nan, "ok"]})
    assert_allclose(loss(table), (2 * (math.sqrt(2) - 1) + 0.0) / 2, rtol=1e-12)
