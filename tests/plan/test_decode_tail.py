"""The decode replica's TPOT tail with its admission queue (model.plan.serving.decode_tail, decode_pool,
decode_tpot_at): two chains worked by hand (two slots; departures that do not depend on the batch, which is M/M/1),
and the toy deployment of test_plan_serving_mutants against a brute-force evaluation of the same chain (π by
products over a long truncated tail, the wait of a full replica as an explicit mixture of Erlang laws instead of the
exponential the module sums it to)."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.plan.serving import decode_pool, decode_tail, decode_tpot_at
from test_plan_serving_mutants import Toy



def brute_force(step_s, steps, rate, q):
    """(mean running batch, TPOT at q, P(wait)) of the birth-death chain, summed term by term."""
    t = np.asarray(step_s, float)
    L = len(t)
    mu_l = L / (steps * t[-1])
    r = rate / mu_l
    extra = int(math.ceil(math.log(1e-16) / math.log(r))) + 10      # geometric tail below 1e-16 of π_L
    w = [1.0]
    for n in range(1, L + extra + 1):
        m = min(n, L)
        w.append(w[-1] * rate / (m / (steps * t[m - 1])))
    pi = np.array(w) / sum(w)
    n = np.arange(len(pi))
    batch = float(np.dot(np.minimum(n, L), pi))
    p_wait = float(pi[L:].sum())

    def survival(tau):
        s = float(pi[:L][t > tau].sum())                           # arrivals to n < L run in a batch of n + 1
        x = mu_l * steps * max(tau - t[-1], 0.0)                   # a full replica: k = n − L + 1 departures ahead
        ks = n[L:] - L + 1
        pmf = np.empty(ks.max())
        pmf[0] = math.exp(-x)
        for j in range(1, len(pmf)):
            pmf[j] = pmf[j - 1] * x / j
        cdf = np.cumsum(pmf)                                         # P(Erlang(k, μ_L) > x) = P(Poisson(x) ≤ k − 1)
        return s + float(np.dot(pi[L:], np.minimum(cdf[ks - 1], 1.0)))

    lo, hi = 0.0, t[-1] + 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if survival(mid) <= 1 - q else (mid, hi)
    return batch, hi, p_wait


def test_two_slots_by_hand():
    """L = 2, one step each, t = (1, 2) s: μ_1 = 1/1, μ_2 = 2/2 = 1, so at λ = 0.5 it is M/M/1 of ρ = 0.5:
    π = (0.5, 0.25), P(wait) = P(N ≥ 2) = 0.25, mean running batch 0·0.5 + 1·0.25 + 2·0.25 = 0.75. At q = 0.95 the
    wait sets the tail (0.25 ≥ 0.05): TPOT = t(2) + ln(0.25 / 0.05) / (μ_2 (1 − r) · 1) = 2 + 2 ln 5. At q = 0.6
    (a miss of 0.4): P(TPOT > t(2)) = 0.25 ≤ 0.4 but P(TPOT > t(1)) = 0.25 + 0.25 = 0.5 > 0.4, so t(2) = 2; at q = 0.4
    (0.6) t(1) = 1 already."""
    b, tpot, p = decode_tail(np.array([1.0, 2.0]), 1, 0.5, 0.95)
    assert_allclose((b, tpot, p), (0.75, 2 + 2 * math.log(5), 0.25), rtol=1e-12)
    assert decode_tail(np.array([1.0, 2.0]), 1, 0.5, 0.6)[1] == 2.0
    assert decode_tail(np.array([1.0, 2.0]), 1, 0.5, 0.4)[1] == 1.0
    assert decode_tail(np.array([1.0, 2.0]), 1, 0.5, 0.0)[1] == 1.0


def test_departures_that_do_not_depend_on_the_batch_are_mm1():
    """t(n) = n s with one step: μ_n = min(n, 3) / t(min(n, 3)) = 1 at every n, M/M/1 of ρ = 0.8 with three
    slots. P(wait) = P(N ≥ 3) = 0.8³ = 0.512; mean running batch = P(N ≥ 1) + P(N ≥ 2) + P(N ≥ 3) = 0.8 + 0.64 +
    0.512 = 1.952; the wait of a waiting sequence is exponential of rate μ(1 − ρ) = 0.2 (M/M/1's), so TPOT at 0.95 =
    t(3) + ln(0.512 / 0.05) / 0.2 = 3 + 5 ln 10.24."""
    b, tpot, p = decode_tail(np.array([1.0, 2.0, 3.0]), 1, 0.8, 0.95)
    assert_allclose((b, tpot, p), (1.952, 3 + 5 * math.log(10.24), 0.512), rtol=1e-12)
    # two steps per sequence halve the rates: λ = 0.4 gives the same chain, and the wait is spread over 2 tokens
    b2, tpot2, p2 = decode_tail(np.array([1.0, 2.0, 3.0]), 2, 0.4, 0.95)
    assert_allclose((b2, p2), (1.952, 0.512), rtol=1e-12)
    assert_allclose(tpot2, 3 + math.log(10.24) / (0.1 * 2), rtol=1e-12)


def test_no_load_no_steps_no_room_and_overload():
    t = np.array([0.02, 0.03])
    assert decode_tail(t, 10, 0.0, 0.95) == (0.0, 0.02, 0.0)          # idle: one sequence's step
    assert decode_tail(t, 0, 5.0, 0.95) == (0.0, 0.02, 0.0)           # a one-token reply never decodes
    assert decode_tail(np.zeros(0), 10, 1.0, 0.95) == (0.0, math.inf, 0.0)   # no room for a sequence
    # a full replica completes μ_L = 2 / (10 × 0.03) = 6.667/s: at and above it the queue never empties
    assert decode_tail(t, 10, 2 / 0.3, 0.95) == (math.inf, math.inf, 1.0)
    assert math.isfinite(decode_tail(t, 10, 2 / 0.3 * 0.999, 0.95)[1])


@pytest.mark.parametrize("rate", [0.01, 0.5, 5.0, 8.0, 8.3])
def test_the_toy_replica_against_the_brute_force_chain(rate):
    """The toy: t(b) = 0.01 + 1.105e-3·b at context 1,050, 99 steps, at most 95 sequences (KV of 100,000 tokens,
    1,050 each): a full replica completes 95 / (99 × 0.114975) = 8.346/s. From a light load to near that."""
    step = 0.01 + 1.105e-3 * np.arange(1, 96)
    b, tpot = decode_tpot_at(Toy(), rate, prompt_tokens=1000, reply_tokens=100, max_batch=256, q=0.95)
    rb, rt, rp = brute_force(step, 99, rate, 0.95)
    assert_allclose(b, rb, rtol=1e-9)
    assert_allclose(tpot, rt, rtol=1e-9)
    assert_allclose(decode_tail(step, 99, rate, 0.95)[2], rp, rtol=1e-9, atol=1e-300)


def test_overload_of_the_toy_replica():
    """8.5/s is above what a full toy replica completes (8.346/s)."""
    assert decode_tpot_at(Toy(), 8.5, prompt_tokens=1000, reply_tokens=100, max_batch=256, q=0.95) == (math.inf,
                                                                                                        math.inf)


def test_decode_pool_runs_at_the_highest_rate_within_the_target():
    """The pool's rate meets the target (its TPOT at 0.95 within 0.05 s) and 1% more would not (the search stops
    within 0.2% of the boundary); its batch is the chain's mean at that rate; the replicas carry the demand."""
    pool = decode_pool(Toy(), 100.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05, max_batch=256, q=0.95)
    r = pool.replica_requests_per_s
    step = 0.01 + 1.105e-3 * np.arange(1, 96)
    b, tpot, _ = brute_force(step, 99, r, 0.95)
    assert tpot <= 0.05 < brute_force(step, 99, r * 1.01, 0.95)[1]
    assert_allclose((pool.batch, pool.tpot_p95_s), (b, tpot), rtol=1e-9)
    assert pool.replicas == math.ceil(100.0 / r) and math.isnan(pool.ttft_p95_s) and pool.role == "decode"
    # a KV of ten sequences: the queue of a full replica sets the rate, below the 10 / (99 × 0.02105) = 4.799/s it
    # completes; the P95 TPOT is then within the target but above t(10) = 0.02105 s, the wait's share
    capped = decode_pool(Toy(kv_capacity_tokens=10_500.0), 100.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05,
                         max_batch=256, q=0.95)
    step10 = step[:10]
    assert capped.replica_requests_per_s < 10 / (99 * 0.02105)
    assert brute_force(step10, 99, capped.replica_requests_per_s, 0.95)[1] <= 0.05
    assert brute_force(step10, 99, capped.replica_requests_per_s * 1.01, 0.95)[1] > 0.05
    assert 0.02105 < capped.tpot_p95_s <= 0.05
    # one sequence alone misses 0.011 s (0.011105 s); no KV room for one sequence
    assert decode_pool(Toy(), 1.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.011, max_batch=256, q=0.95) is None
    assert decode_pool(Toy(kv_capacity_tokens=500.0), 1.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05,
                       max_batch=256, q=0.95) is None
    # a target of exactly one sequence's step is met by a nearly idle replica only
    idle = decode_pool(Toy(), 1.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.011105, max_batch=256, q=0.95)
    assert idle is not None and idle.batch < 0.06 and idle.tpot_p95_s == pytest.approx(0.011105, rel=1e-12)
    # a one-token reply never decodes: infinite rate, no GPUs, one sequence's step as its TPOT
    one = decode_pool(Toy(), 1.0, prompt_tokens=1000, reply_tokens=1, tpot_s=0.05, max_batch=256, q=0.95)
    assert (one.replica_requests_per_s, one.replicas, one.gpus, one.busy_gpus) == (math.inf, 0, 0, 0.0)
    assert_allclose(one.tpot_p95_s, 0.01 + 1e-3 + 1e-7 * 1000.5, rtol=1e-12)
