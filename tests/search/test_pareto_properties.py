"""Property-based tests (Hypothesis, derandomised, no database) of the Pareto filter and the hypervolume."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from model.search.pareto import hypervolume, non_dominated_mask

PROFILE = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                   suppress_health_check=[HealthCheck.too_slow])


points = st.lists(st.tuples(*[st.integers(0, 20)] * 3), min_size=1, max_size=30).map(
    lambda xs: np.array(xs, dtype=float))


def dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))


@PROFILE
@given(points)
def test_non_dominated_filter(pts):
    mask = non_dominated_mask(pts)
    front, removed = pts[mask], pts[~mask]
    assert len(front) >= 1
    for i, a in enumerate(front):
        assert not any(dominates(b, a) for j, b in enumerate(front) if j != i)
    for r in removed:
        assert any(dominates(f, r) for f in front) or any(np.array_equal(f, r) for f in front)


@PROFILE
@given(points, points)
def test_hypervolume_is_monotone_under_adding_points(a, b):
    ref = np.full(3, 21.0)
    hv_a = hypervolume(a, ref)
    hv_ab = hypervolume(np.vstack([a, b]), ref)
    assert hv_ab >= hv_a - 1e-9
    # and it is bounded by the box
    assert 0.0 <= hv_ab <= 21.0 ** 3 + 1e-9
    # a single point's hypervolume is its box to the reference
    p = a[:1]
    assert_allclose(hypervolume(p, ref), float(np.prod(ref - p[0])), rtol=1e-12)
