"""Goodput and SLO attainment (model/serving/goodput.py) on requests tables worked by hand, and the highest rate
within a target on a run whose threshold is known."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving.goodput import goodput_requests_per_s, highest_rate, latencies, slo_attainment


def table():
    # four requests: (arrival, first token, finish, output tokens)
    rows = [(0.0, 0.3, 0.3 + 9 * 0.03, 10),     # TTFT 0.3, TPOT 0.03: meets both
            (1.0, 1.5, 1.5 + 9 * 0.03, 10),     # TTFT 0.5: misses TTFT
            (2.0, 2.2, 2.2 + 9 * 0.05, 10),     # TPOT 0.05: misses TPOT
            (3.0, 3.1, 3.1, 1)]                 # one token: TPOT 0, meets both
    a, f, e, o = map(np.array, zip(*rows))
    return pd.DataFrame({"arrival_s": a, "first_token_s": f, "finish_s": e, "output_tokens": o})


def test_latencies_and_attainment_by_hand():
    lat = latencies(table())
    assert_allclose(lat["ttft_s"], [0.3, 0.5, 0.2, 0.1], rtol=1e-12)
    assert_allclose(lat["tpot_s"], [0.03, 0.03, 0.05, 0.0], rtol=1e-9, atol=1e-15)
    assert slo_attainment(table(), 0.4, 0.04) == 0.5
    # 2 requests meet both over the span from 0 s to the last finish (2.2 + 0.45 = 2.65 s, request 3 ends 3.1 s)
    assert_allclose(goodput_requests_per_s(table(), 0.4, 0.04), 2 / 3.1, rtol=1e-12)


def test_unfinished_requests_count_as_missing():
    t = table()
    t.loc[0, "finish_s"] = np.nan
    assert slo_attainment(t, 0.4, 0.04) == 0.25


def test_highest_rate_finds_a_known_threshold():
    """A stand-in run that meets the target below 3.7 requests/s: the search lands within its tolerance."""
    def run(rate):
        return pd.DataFrame({"ok": [rate <= 3.7]})
    found = highest_rate(run, lambda df: bool(df["ok"].iloc[0]), low=0.5, high=1.0, rel_tol=0.01)
    assert 3.7 / 1.01 <= found <= 3.7
    assert highest_rate(run, lambda df: bool(df["ok"].iloc[0]), low=5.0, high=6.0, rel_tol=0.01) == 0.0


def test_bad_targets_are_refused():
    with pytest.raises(ParameterError, match="tpot_slo_s"):
        slo_attainment(table(), 0.4, 0.0)
    with pytest.raises(ParameterError, match="high"):
        highest_rate(lambda r: None, lambda d: True, low=2.0, high=1.0, rel_tol=0.01)
