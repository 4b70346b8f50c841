"""The aggregated replica's wait plus the rest of a running step (model.plan.serving.residual_wait_cdf and
residual_wait_quantile) against closed forms worked by hand, and the chunk costs' and the queueing batch's edges.

With R = 0 (probability 1 − r) or uniform on (0, d) (probability r), independent of the wait W:

    P(W + R ≤ t) = (1 − r)·F_W(t) + r·(1/d)·∫₀^d F_W(t − u) du.

For the exponential tail F_W(t) = 1 − ρ·e^(−t/m) (t ≥ 0) the integral is, for t ≥ d,
(1/d)·[d − ρ·m·(e^(−(t − d)/m) − e^(−t/m))], and for 0 ≤ t < d, (1/d)·[t − ρ·m·(1 − e^(−t/m))] (F_W = 0 below 0).
For ρ = 0 the wait is 0 and P = (1 − r) + r·t/d on [0, d]."""
import math

import pytest
from numpy.testing import assert_allclose

import model.plan.serving as sv
from model.plan.serving import (aggregated_capacity, aggregated_state, aggregated_wait_quantile, md1_wait_cdf,
                                residual_wait_cdf, residual_wait_quantile)

from test_plan_serving_mutants import KW, Toy, bisect_quantile, toy_chunk

#: The midpoint rule on 32 points against the exact integral of a smooth law: well inside 1e-3 here.
RULE_RTOL = 1e-3


def exp_tail_with_rest(t, *, s, rho, cv2, d, r):
    m = s * (1 + cv2) / (2 * (1 - rho))
    f = 0.0 if t < 0 else 1 - rho * math.exp(-t / m)
    if t < 0:
        spread = 0.0
    elif t < d:
        spread = (t - rho * m * (1 - math.exp(-t / m))) / d
    else:
        spread = (d - rho * m * (math.exp(-(t - d) / m) - math.exp(-t / m))) / d
    return (1 - r) * f + r * spread


@pytest.mark.parametrize("t", [0.05, 0.2, 0.7, 2.5])
def test_exponential_tail_plus_rest_by_hand(t):
    kw = dict(service_s=0.3, rho=0.8, cv2=0.5, step_s=0.4, running=0.7)
    assert_allclose(residual_wait_cdf(t, **kw), exp_tail_with_rest(t, s=0.3, rho=0.8, cv2=0.5, d=0.4, r=0.7),
                    rtol=RULE_RTOL)
    assert residual_wait_cdf(-0.01, **kw) == 0.0


def test_no_running_step_leaves_the_wait_alone():
    """running = 0 or a zero-length step: P(W + R ≤ t) = F_W(t), the M/D/1 law at cv2 = 0, the tail above 0."""
    for kw in (dict(running=0.0, step_s=0.4), dict(running=0.6, step_s=0.0)):
        assert residual_wait_cdf(0.5, service_s=0.3, rho=0.7, cv2=0.0, **kw) == pytest.approx(
            md1_wait_cdf(0.5, service_s=0.3, rho=0.7), rel=1e-12)
        m = 0.3 * 1.5 / (2 * 0.3)
        assert residual_wait_cdf(0.5, service_s=0.3, rho=0.7, cv2=0.5, **kw) == pytest.approx(
            1 - 0.7 * math.exp(-0.5 / m), rel=1e-12)
        assert residual_wait_quantile(0.95, service_s=0.3, rho=0.7, cv2=0.0, **kw) == aggregated_wait_quantile(
            0.3, 0.7, 0.95, 0.0)


def test_empty_queue_leaves_the_rest_of_the_step():
    """ρ = 0: no wait, so P = (1 − r) + r·t/d; the midpoint rule counts the nodes below t, exact at t = d/2."""
    kw = dict(service_s=0.3, rho=0.0, cv2=0.0, step_s=0.4, running=0.6)
    assert residual_wait_cdf(0.2, **kw) == pytest.approx(0.4 + 0.6 * 0.5, rel=1e-12)
    assert residual_wait_cdf(0.4, **kw) == pytest.approx(1.0, rel=1e-12)
    assert residual_wait_cdf(0.0, **kw) == pytest.approx(0.4, rel=1e-12)
    # the quantile: (1 − r) + r·t/d = q at t = d (q − 1 + r)/r: 0.4 × 0.55 / 0.6
    assert_allclose(residual_wait_quantile(0.95, **kw), 0.4 * 0.55 / 0.6, rtol=1 / 32)


def test_saturated_queue():
    kw = dict(service_s=0.3, cv2=0.0, step_s=0.4, running=0.6)
    assert residual_wait_cdf(5.0, rho=1.0, **kw) == 0.0
    assert residual_wait_quantile(0.95, rho=1.0, **kw) == math.inf


@pytest.mark.parametrize("cv2", [0.0, 0.5])
def test_quantile_is_where_the_law_crosses_q(cv2):
    """The quantile lies between the wait's own and that plus a step, the law at it is at least q and a hair
    (twice the bisection's tolerance) below it less than q."""
    kw = dict(service_s=0.3, rho=0.8, cv2=cv2, step_s=0.4, running=0.9)
    t = residual_wait_quantile(0.95, **kw)
    w = aggregated_wait_quantile(0.3, 0.8, 0.95, cv2)
    assert w < t < w + 0.4
    assert residual_wait_cdf(t, **kw) >= 0.95
    assert residual_wait_cdf(t * (1 - 2 * sv.QUANTILE_REL_TOL), **kw) < 0.95
    if cv2:
        exact = bisect_quantile(lambda x: exp_tail_with_rest(x, s=0.3, rho=0.8, cv2=cv2, d=0.4, r=0.9), 0.95, w,
                                w + 0.4)
        assert_allclose(t, exact, rtol=RULE_RTOL)


def test_capacity_is_where_the_queueing_period_saturates():
    """On the toy the queue's tail saturates first (ρ_w reaches 1 before ρ): just below the capacity the state
    has a finite TTFT and ρ_w just under 1."""
    cap = aggregated_capacity(Toy(), **KW)
    st = aggregated_state(Toy(), cap * 0.999, **KW, q=0.95, cv2=0.0)
    assert st.feasible and math.isfinite(st.ttft_p95_s)
    assert 0.99 < st.wait_busy < 1.0 and st.busy < st.wait_busy
    assert st.wait_batch > st.batch


def test_chunk_costs_edges():
    """A chunk of exactly one free token still computes; none is refused. A prompt that fills its steps exactly
    (rest 0) costs its full steps alone and packed. The decode-only step is the step of b decodes."""
    ctx = 1050.0
    one = sv._chunk_costs(Toy(), 511.0, new=3.0, past=0.0, ctx=ctx, chunk_tokens=512)
    assert one is not None and one[4] == 1.0
    assert sv._chunk_costs(Toy(), 512.0, new=3.0, past=0.0, ctx=ctx, chunk_tokens=512) is None
    own, packed, t_c, t_d, room = sv._chunk_costs(Toy(), 12.0, new=1000.0, past=0.0, ctx=ctx, chunk_tokens=512)
    assert room == 500.0 and own == pytest.approx(packed, rel=1e-15)
    toy = toy_chunk                  # the toy's step of b decodes at context 1,050 and k prompt tokens, by hand
    assert_allclose(own, toy(12, 500, 0) + toy(12, 500, 500), rtol=1e-12)
    assert_allclose(t_c, own / 2, rtol=1e-12)
    assert_allclose(t_d, toy(12, 0, 0), rtol=1e-12)
    # a partial last step: packed charges its tokens at the rate of a full step after the full ones
    own, packed, t_c, t_d, room = sv._chunk_costs(Toy(), 12.0, new=1100.0, past=200.0, ctx=ctx, chunk_tokens=512)
    full = toy(12, 500, 200) + toy(12, 500, 700)
    assert_allclose(own, full + toy(12, 100, 1200), rtol=1e-12)
    assert_allclose(packed, full + 100 / 500 * toy(12, 500, 1200), rtol=1e-12)
    assert_allclose(t_c, packed / (1100 / 500), rtol=1e-12)
