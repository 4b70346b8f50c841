import numpy as np
from numpy.testing import assert_allclose

from model.parameters import default
from model.serving.step_time_fit import FITTED, PARAMETER_NAME, START, loss, nelder_mead
from model.serving.step_time_accuracy import error_summary, load_points, prediction_table


def test_nelder_mead_finds_a_quadratic_minimum():
    target = np.array([1.0, -2.0, 0.5])
    x, fx, evals = nelder_mead(lambda x: float(np.sum((x - target) ** 2 * [1, 3, 10])), np.zeros(3),
                               max_evals=2000, tol=1e-12)
    assert_allclose(x, target, atol=1e-4)
    assert fx < 1e-8 and evals <= 2000


def test_stored_parameters_beat_the_plain_start_on_calibration_rows_only():
    pts = load_points()
    cal = pts[pts["role"] == "calibration"]
    stored = {k: default(PARAMETER_NAME[k]) for k in FITTED}
    assert loss(prediction_table(cal, **stored)) < 0.7 * loss(prediction_table(cal, **START))


def test_validation_error_meets_the_stated_figures():
    # the figures the validation chapter states: median |error| on validation rows under 10%
    s = error_summary(prediction_table()).set_index("metric")
    assert s.loc["all", "median_abs_error"] < 0.10
    assert s.loc["all", "predicted"] >= 200
