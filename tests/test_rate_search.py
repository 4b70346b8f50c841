"""model.rate_search: the bisection's points and answer worked out by hand, its answer against the exact threshold
of known monotone predicates in both spacings and orientations, its checks; the table reading by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.rate_search import bisect_boundary, highest_rate_within
from model.checks import ParameterError


def _recording(predicate):
    seen = []

    def meets(x):
        seen.append(x)
        return predicate(x)
    return meets, seen


def test_linear_bisection_by_hand():
    # met below 1.3, bracket [1, 2], rel_tol 0.1: 1.5 misses; width 0.5 > 0.15 -> 1.25 meets; 0.25 > 0.15 ->
    # 1.375 misses; width 0.125 <= 0.1 x 1.375 -> stop at the last point met, 1.25
    meets, seen = _recording(lambda x: x <= 1.3)
    assert bisect_boundary(meets, 1.0, 2.0, rel_tol=0.1, spacing="linear") == 1.25
    assert seen == [1.5, 1.25, 1.375]


def test_log_bisection_by_hand():
    # met from 5 up (a factor stretching arrival times), bracket [1, 100], rel_tol 1 (stop within a factor 2):
    # sqrt(100) = 10 meets; 10 / 1 > 2 -> 10^0.5 misses; 10 / 3.16 > 2 -> 10^0.75 = 5.62 meets; 5.62 / 3.16 = 1.78
    meets, seen = _recording(lambda x: x >= 5.0)
    out = bisect_boundary(meets, 100.0, 1.0, rel_tol=1.0)                  # log spacing is the default
    assert_allclose(seen, [10.0, 10 ** 0.5, 10 ** 0.75], rtol=1e-14)
    assert out == seen[-1]


@pytest.mark.parametrize("spacing", ["log", "linear"])
def test_answer_is_within_tolerance_of_the_exact_threshold(spacing):
    # the final bracket holds the threshold x*; log stops at a ratio <= 1 + tol, linear at a width <= tol x high end
    rng = np.random.default_rng(7)
    for threshold in rng.uniform(0.01, 900.0, 50):
        for tol in (0.02, 1e-3):
            low_end = threshold / (1 + tol) if spacing == "log" else threshold * (1 - tol)
            high_end = threshold * (1 + tol) if spacing == "log" else threshold / (1 - tol)
            # met below the threshold (a rate): the answer meets it and is within tol of it
            below = bisect_boundary(lambda x: x <= threshold, 1e-3, 1000.0, rel_tol=tol, spacing=spacing)
            assert low_end <= below <= threshold
            # met above the threshold (a factor on arrival times)
            above = bisect_boundary(lambda x: x >= threshold, 1000.0, 1e-3, rel_tol=tol, spacing=spacing)
            assert threshold <= above <= high_end


def test_no_step_when_the_bracket_is_already_narrow():
    meets, seen = _recording(lambda x: True)
    assert bisect_boundary(meets, 1.0, 1.01, rel_tol=0.02, spacing="log") == 1.0
    assert bisect_boundary(meets, 1.0, 1.0005, rel_tol=1e-3, spacing="linear") == 1.0
    # a bracket exactly at the tolerance is narrow enough: ratio 2 = 1 + 1; width 1 = 0.5 x 2
    assert bisect_boundary(meets, 2.0, 1.0, rel_tol=1.0, spacing="log") == 2.0
    assert bisect_boundary(meets, 1.0, 2.0, rel_tol=0.5, spacing="linear") == 1.0
    assert seen == []
    # just wider than the tolerance: one step
    assert bisect_boundary(meets, 2.0, 0.999, rel_tol=1.0, spacing="log") == math.sqrt(2.0 * 0.999)
    assert bisect_boundary(meets, 1.0, 2.001, rel_tol=0.5, spacing="linear") == 0.5 * (1.0 + 2.001)
    assert len(seen) == 2


def test_bisection_checks_its_arguments():
    with pytest.raises(ParameterError, match="^rel_tol="):
        bisect_boundary(lambda x: True, 1.0, 2.0, rel_tol=0.0)
    with pytest.raises(ParameterError, match="^spacing="):
        bisect_boundary(lambda x: True, 1.0, 2.0, rel_tol=0.1, spacing="cubic")
    positive = r"=0\.0 is not allowed: {} must be a finite number in \(0, inf\]$"
    with pytest.raises(ParameterError, match="^good" + positive.format("good")):
        bisect_boundary(lambda x: True, 0.0, 2.0, rel_tol=0.1, spacing="log")
    with pytest.raises(ParameterError, match="^bad" + positive.format("bad")):
        bisect_boundary(lambda x: True, 2.0, 0.0, rel_tol=0.1, spacing="log")
    with pytest.raises(ParameterError, match="^bad=-1.0 "):
        bisect_boundary(lambda x: True, 2.0, -1.0, rel_tol=0.1)
    # a linear bracket may start at 0
    assert bisect_boundary(lambda x: x <= 0.5, 0.0, 1.0, rel_tol=0.3, spacing="linear") == 0.5


def test_highest_rate_within_reads_the_table():
    sweep = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 2 + ["c"] * 2,
                          "rate_per_s": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 1.0, 2.0],
                          "p95": [0.5, 1.2, 0.9, 3.0, 2.0, 3.0, 1.0, 1.0]})
    got = highest_rate_within(sweep, "p95", 1.0)
    # a: 3 meets above 2 that misses (no monotonicity assumed); b: nothing meets; c: the limit itself meets
    assert list(got.index) == ["a", "b", "c"]
    assert got["a"] == 3.0 and math.isnan(got["b"]) and got["c"] == 2.0
    assert highest_rate_within(sweep, "p95", 0.1).isna().all()
