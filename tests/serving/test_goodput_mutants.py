"""model.serving.goodput by hand: latencies of short requests tables (two-token and one-token replies, an
unfinished request), attainment exactly at a target, goodput over a run's span, the rates the highest-rate
search tries (its doubling bracket, its log-spaced bisection, its give-up), and a quantile at its target."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving.goodput import (goodput_requests_per_s, highest_rate, latencies, quantile_within,
                                   slo_attainment)


def _table(rows):
    a, f, e, o = map(np.array, zip(*rows))
    return pd.DataFrame({"arrival_s": a, "first_token_s": f, "finish_s": e, "output_tokens": o})


def test_latencies_of_two_and_one_token_replies():
    """Two tokens: TPOT = the one gap (1.5 − 1.0 = 0.5 s); one token finishing after its first token: the
    whole gap (a divisor of at least 1); the unfinished request is left out."""
    t = _table([(0.0, 1.0, 1.5, 2), (0.0, 0.25, 0.5, 1), (0.0, 0.5, np.nan, 4)])
    lat = latencies(t)
    assert list(lat.columns) == ["ttft_s", "tpot_s", "e2e_latency_s"]
    assert_allclose(lat.to_numpy(), [[1.0, 0.5, 1.5], [0.25, 0.25, 0.5]], rtol=1e-12)
    assert list(lat.index) == [0, 1]
    # an empty cell of another column (a one-token reply's decode start) does not drop a finished request
    lat = latencies(t.assign(decode_start_s=[0.5, np.nan, np.nan]))
    assert len(lat) == 2


def test_attainment_exactly_at_the_targets():
    """TTFT 0.5 s and TPOT 0.25 s exactly at targets of 0.5 s and 0.25 s meet them; the unfinished request
    counts in the denominator (1 of 2)."""
    t = _table([(0.0, 0.5, 0.75, 2), (0.0, 0.5, np.nan, 2)])
    assert slo_attainment(t, 0.5, 0.25) == 0.5
    assert slo_attainment(t, 0.25, 0.25) == 0.0
    assert slo_attainment(t, 0.5, 0.125) == 0.0


def test_bad_targets_name_the_parameter():
    t = _table([(0.0, 0.5, 0.75, 2)])
    with pytest.raises(ParameterError, match=r"^ttft_slo_s=0\.0 is not allowed"):
        slo_attainment(t, 0.0, 0.25)
    with pytest.raises(ParameterError, match=r"^tpot_slo_s=-1\.0 is not allowed"):
        slo_attainment(t, 0.5, -1.0)


def test_goodput_over_the_run_span():
    """Arrivals from 1 s, last finish at 5 s: 2 of 3 meet the targets over 4 s; an unfinished request does not
    end the span; a run of no length has no goodput."""
    t = _table([(1.0, 1.5, 2.0, 2), (2.0, 2.5, 5.0, 2), (3.0, 3.25, 3.5, 2), (4.0, 9.0, np.nan, 2)])
    # TTFT 0.5, 0.5, 0.25; TPOT 0.5, 2.5, 0.25: with targets 0.5 s and 0.5 s, requests 1 and 3 meet both
    # attainment 2/4 × 4 requests over the 4 s from the first arrival to the last finish
    assert_allclose(goodput_requests_per_s(t, 0.5, 0.5), 2 / 4, rtol=1e-12)
    # without the unfinished one: 2 of 3 over the same 4 s
    assert_allclose(goodput_requests_per_s(t.iloc[:3], 0.5, 0.5), 2 / 4, rtol=1e-12)
    assert goodput_requests_per_s(_table([(1.0, 1.0, 1.0, 1)]), 0.5, 0.5) == 0.0
    # a run shorter than a second: 1 request in 0.5 s
    assert goodput_requests_per_s(_table([(1.0, 1.25, 1.5, 2)]), 0.5, 0.5) == 2.0


def _recording(threshold):
    calls = []

    def run(rate):
        calls.append(rate)
        return rate <= threshold
    return run, calls


def test_highest_rate_doubles_then_bisects_on_a_log_scale():
    """Threshold 3.7/s from the bracket [0.5, 1]: 0.5, 1 and 2 meet, 4 does not; the first midpoint is
    √(2 × 4) = 2√2 (log-spaced), then √(2√2 × 4)."""
    run, calls = _recording(3.7)
    found = highest_rate(run, lambda ok: ok, low=0.5, high=1.0, rel_tol=0.01)
    assert_allclose(calls[:6], [0.5, 1.0, 2.0, 4.0, 2 * math.sqrt(2), math.sqrt(8 * math.sqrt(2))], rtol=1e-12)
    assert 3.7 / 1.01 <= found <= 3.7
    # a coarser tolerance stops earlier, still on the meeting side
    run, calls = _recording(3.7)
    coarse = highest_rate(run, lambda ok: ok, low=0.5, high=1.0, rel_tol=0.5)
    assert coarse <= 3.7 and len(calls) < 8


def test_highest_rate_gives_up_after_eight_doublings():
    """Always met: the bracket doubles 8 times (2, 4, ..., 256 met) and the last rate met is returned."""
    run, calls = _recording(math.inf)
    assert highest_rate(run, lambda ok: ok, low=1.0, high=2.0, rel_tol=0.01) == 256.0
    assert calls == [1.0] + [2.0 ** k for k in range(1, 9)]
    # met at the eighth doubling's rate (256) only just: 512 is never tried
    run, calls = _recording(256.0)
    assert highest_rate(run, lambda ok: ok, low=1.0, high=2.0, rel_tol=0.01) == 256.0
    # failing at the last doubling bisects between 128 and 256
    run, calls = _recording(200.0)
    found = highest_rate(run, lambda ok: ok, low=1.0, high=2.0, rel_tol=0.01)
    assert calls[:9] == [1.0] + [2.0 ** k for k in range(1, 9)]
    assert 200 / 1.01 <= found <= 200


def test_highest_rate_bad_brackets():
    run, calls = _recording(3.0)
    assert highest_rate(run, lambda ok: ok, low=4.0, high=5.0, rel_tol=0.01) == 0.0
    assert calls == [4.0]
    with pytest.raises(ParameterError, match=r"^high=2\.0 is not allowed: high must be a rate above low "
                                             r"\(2\.0 requests/s\)$"):
        highest_rate(run, lambda ok: ok, low=2.0, high=2.0, rel_tol=0.01)
    with pytest.raises(ParameterError, match=r"^low=0\.0 is not allowed"):
        highest_rate(run, lambda ok: ok, low=0.0, high=2.0, rel_tol=0.01)


def test_quantile_within_its_target():
    """Values 1 … 10: the median is 5.5, the 0.9 quantile 9.1 (linear interpolation)."""
    v = list(range(1, 11))
    assert quantile_within(v, 0.5, 5.5) is True
    assert quantile_within(v, 0.5, 5.4) is False
    assert quantile_within(v, 0.9, 9.1) is True
    assert quantile_within(v, 0.9, 9.0) is False
    with pytest.raises(ParameterError, match=r"^q=1\.5 is not allowed"):
        quantile_within(v, 1.5, 1.0)
