"""model.serving.saturation against the bugs that would mislead a reader: the running batch of continuous batching
sized on the final footprint (prompt + output) instead of the time-averaged one (prompt + half the output),
the static batch limit off by one. Expectations worked out by hand."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.serving.saturation import continuous_batch_limit, continuous_saturation, static_batch_limit, static_saturation
from model.serving.step_time import deployment
from model.checks import ParameterError


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


@pytest.fixture(scope="module")
def lap():
    """The replica with a partial overlap of compute and memory (the fitted default is 1, where the two
    branches of a step's max coincide and a wrong branch cannot show)."""
    return deployment("llama-2-70b", "a100-80gb", 4, overlap=0.4)


@pytest.mark.parametrize("b", [8, 256])      # decode memory-bound at 8, compute-bound at 256
def test_static_saturation_closed_form_with_partial_overlap(lap, b):
    p, o = 100, 50
    pre = lap.batch_prefill_time(np.full(b, p))
    dec = sum(float(lap.decode_time(b, p + j - 1)) for j in range(1, o))
    sat = static_saturation(lap, [p], [o], batch=b, n_batches=3)
    assert sat.policy == "static" and sat.batch == b
    assert_allclose(sat.requests_per_s, b / (pre + dec), rtol=1e-9)
    assert_allclose(sat.output_tokens_per_s, b / (pre + dec) * o, rtol=1e-9)
    assert_allclose(sat.prefill_share, pre / (pre + dec), rtol=1e-9)


@pytest.mark.parametrize("max_batch", [8, 256])
def test_continuous_saturation_closed_form_with_partial_overlap(lap, max_batch):
    # fixed lengths: B = min(max_batch, capacity / (p + o/2)); per request one prefill and (o − 1) / B decode
    # steps of B sequences whose mean context + 1 is p + o/2 (k-th step reads p + k tokens, k = 1..o−1)
    p, o = 200, 30
    b = int(min(max_batch, lap.kv_capacity_tokens / (p + o / 2)))
    per = float(lap.prefill_time(p)) + (o - 1) * float(lap.decode_time(b, p + o / 2 - 1)) / b
    sat = continuous_saturation(lap, [p], [o], max_batch=max_batch)
    assert sat.policy == "continuous" and sat.batch == b
    assert_allclose(sat.requests_per_s, 1 / per, rtol=1e-9)
    assert_allclose(sat.output_tokens_per_s, o / per, rtol=1e-9)
    assert_allclose(sat.prefill_share, float(lap.prefill_time(p)) / per, rtol=1e-9)


def test_continuous_saturation_short_outputs_and_kv_bound_batch(lap):
    # one output token: a prefill per request, no decode step
    assert_allclose(continuous_saturation(lap, [200], [1], max_batch=8).requests_per_s,
                    1 / float(lap.prefill_time(200)), rtol=1e-9)
    # two: one decode step at context 200 (reads 201 tokens = p + o/2)
    b2 = continuous_saturation(lap, [200], [2], max_batch=8)
    assert_allclose(1 / b2.requests_per_s, float(lap.prefill_time(200)) + float(lap.decode_time(8, 200)) / 8,
                    rtol=1e-9)
    # long requests: the KV capacity, not max_batch, sets the batch (4000 + 1000 / 2 tokens a sequence)
    big = continuous_saturation(lap, [4000], [1000], max_batch=10**6)
    assert big.batch == int(lap.kv_capacity_tokens // 4500) < 256


def test_static_batch_limit_checks(dep):
    cap = dep.kv_capacity_tokens
    assert static_batch_limit(dep, 1, 10**9) == cap
    assert static_batch_limit(dep, 4096, 1) == 1
    with pytest.raises(ParameterError, match=rf"^reserved_tokens={cap + 1} is not allowed: reserved_tokens must be "
                                             rf"<= {cap} \(KV capacity of the replica\)$"):
        static_batch_limit(dep, cap + 1, 8)
    with pytest.raises(ParameterError, match=r"^reserved_tokens=0 is not allowed: reserved_tokens must be an integer"):
        static_batch_limit(dep, 0, 8)
    with pytest.raises(ParameterError, match=r"^max_batch=0 is not allowed: max_batch must be an integer in \[1, "):
        static_batch_limit(dep, 4096, 0)


def test_static_saturation_draws_batches_of_both_lengths(lap):
    # batch 1 of a short (100 + 10) or a long (2000 + 10) request drawn uniformly: the rate is n / (k·t_long +
    # (n − k)·t_short) with k ≈ n/2, within 10% of 2 / (t_short + t_long) for 2000 draws
    t_short = 1 / static_saturation(lap, [100], [10], batch=1, n_batches=2).requests_per_s
    t_long = 1 / static_saturation(lap, [2000], [10], batch=1, n_batches=2).requests_per_s
    mixed = static_saturation(lap, [100, 2000], [10, 10], batch=1)
    assert_allclose(mixed.requests_per_s, 2 / (t_short + t_long), rtol=0.1)
    # seeded: the defaults are seed 0 and 2000 batches
    again = static_saturation(lap, [100, 2000], [10, 10], batch=1, n_batches=2000, seed=0)
    assert again == mixed
    assert static_saturation(lap, [100, 2000], [10, 10], batch=1, seed=1) != mixed
    assert static_saturation(lap, [100, 2000], [10, 10], batch=1, n_batches=2001) != mixed
    assert static_saturation(lap, [100], [10], batch=1).batch == 1
    with pytest.raises(ParameterError, match=r"^batch=0 is not allowed: batch must be an integer in \[1, "):
        static_saturation(lap, [100], [10], batch=0)
