import pytest
from numpy.testing import assert_allclose

from model.economics.token_volume import ChatWorkload, monthly_tokens, stated_product
from model.checks import ParameterError


def test_sessions_and_tokens_little_law():
    w = ChatWorkload(concurrent_sessions=10_000, session_minutes=30, turns_per_session=200, tokens_per_turn=500,
                     reply_share=0.5, resend_history=False)
    # 730 h x 60 min / 30 min = 1,460 sessions per slot-month
    assert_allclose(w.sessions_per_month(), 10_000 * 1460)
    v = monthly_tokens(w)
    assert_allclose(v.total_tokens, 10_000 * 1460 * 200 * 500)
    assert_allclose(v.output_tokens, v.input_tokens)
    assert_allclose(v.turns, 10_000 * 1460 * 200)


def test_resent_history_is_an_arithmetic_series():
    n, t = 200, 50
    w = ChatWorkload(1, 30, n, t, 0.5, persona_tokens=100, resend_history=True)
    # sum_k (100 + k*t + t/2) for k = 0..n-1
    assert_allclose(w.input_tokens_by_turn().sum(), n * 100 + t * n * (n - 1) / 2 + n * t / 2)
    capped = ChatWorkload(1, 30, n, t, 0.5, resend_history=True, history_cap_tokens=1000)
    assert capped.input_tokens_by_turn().max() == 1000 + t / 2


def test_cached_share_splits_the_input():
    w = ChatWorkload(1, 30, 10, 100, 0.5, resend_history=False, cached_input_share=0.25)
    v = monthly_tokens(w)
    assert_allclose(v.cached_input_tokens, 0.25 * v.input_tokens)
    assert_allclose(v.new_input_tokens, 0.75 * v.input_tokens)


def test_stated_product_is_a_plain_product():
    assert stated_product(10_000, 30, 200, 500) == 3e10
    with pytest.raises(ParameterError, match="factor"):
        stated_product(1, float("nan"))


@pytest.mark.parametrize("kwargs, name", [
    (dict(concurrent_sessions=-1), "concurrent_sessions"),
    (dict(reply_share=1.5), "reply_share"),
    (dict(turns_per_session=0), "turns_per_session"),
    (dict(session_minutes=0), "session_minutes"),
])
def test_bad_workload(kwargs, name):
    base = dict(concurrent_sessions=1, session_minutes=30, turns_per_session=10, tokens_per_turn=5, reply_share=0.5)
    with pytest.raises(ParameterError, match=name):
        ChatWorkload(**{**base, **kwargs})
