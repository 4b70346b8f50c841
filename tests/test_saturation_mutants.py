"""model.saturation against the bugs that would mislead a reader: the running batch of continuous batching
sized on the final footprint (prompt + output) instead of the time-averaged one (prompt + half the output),
the static batch limit off by one. Expectations worked out by hand."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.saturation import continuous_batch_limit, static_batch_limit
from model.step_time import deployment
from model.validation import ParameterError


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


def test_continuous_batch_limit_uses_the_time_averaged_footprint(dep):
    cap = dep.kv_capacity_tokens
    # one request of 100 + 50 tokens holds on average 100 + 25 tokens over its 50 steps
    assert_allclose(continuous_batch_limit(dep, [100], [50], 10**9), cap / 125, rtol=1e-12)
    # 100 + 50 and 300 + 10, weighted by output length: (125·50 + 305·10) / 60 = 9300 / 60 = 155 tokens
    assert_allclose(continuous_batch_limit(dep, [100, 300], [50, 10], 10**9), cap / 155, rtol=1e-12)
    # max_batch caps it
    assert continuous_batch_limit(dep, [100], [50], 8) == 8


def test_static_batch_limit_by_hand(dep):
    cap = dep.kv_capacity_tokens
    assert static_batch_limit(dep, 4096, 10**6) == cap // 4096
    assert static_batch_limit(dep, cap, 10**6) == 1            # exactly one reservation fits
    assert static_batch_limit(dep, 4096, 3) == 3
    with pytest.raises(ParameterError, match="^reserved_tokens="):
        static_batch_limit(dep, cap + 1, 8)
