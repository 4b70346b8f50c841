"""The chunked-prefill replica's TTFT tail in model/plan/serving.py: Takács's busy period against the Borel–Tanner
distribution worked by hand, the slot-order (random priority) sojourn against its mean in closed form, the shared
last chunk step, and (slow) the closed form against the discrete-event simulator at three loads."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.plan.serving import (aggregated_capacity, aggregated_state, busy_period_cdf, prompt_chunks,
                                random_priority_quantile, random_priority_sf, shared_service_s)


# --- busy_period_cdf -----------------------------------------------------------------------------------------------
def test_busy_period_is_borel_tanner_for_whole_services():
    """Tanner (1953): a queue that starts with Q customers of constant service b, arrivals at r, a = r·b, serves
    Y = y customers in its busy period with probability Q / (y − Q)! · y^(y−Q−1) · a^(y−Q) · e^(−a·y). Q = 2, a = 0.5:
    Y = 2 (ends at 2 s) e^(−1) = 0.367879; Y = 3 (3 s) 2 · 3⁰ · 0.5 · e^(−1.5) = 0.223130; Y = 4 (4 s)
    2/2 · 4¹ · 0.25 · e^(−2) = 0.135335."""
    assert_allclose(busy_period_cdf(2.0, 2.0, 0.5, 1.0), 0.367879, rtol=1e-5)
    assert_allclose(busy_period_cdf(2.0, 3.0, 0.5, 1.0), 0.367879 + 0.223130, rtol=1e-5)
    assert_allclose(busy_period_cdf(2.0, 4.5, 0.5, 1.0), 0.367879 + 0.223130 + 0.135335, rtol=1e-5)


def test_busy_period_of_a_fractional_start():
    """x = 1 s, λ = 0.5/s, S = 1 s: over by 1 s only if nobody arrives, e^(−0.5) = 0.606531; by 2 s also with one
    arrival, 1/2 · e^(−1) · 1 = 0.183940 more."""
    assert_allclose(busy_period_cdf(1.0, 1.0, 0.5, 1.0), 0.606531, rtol=1e-5)
    assert_allclose(busy_period_cdf(1.0, 1.99, 0.5, 1.0), 0.606531, rtol=1e-5)
    assert_allclose(busy_period_cdf(1.0, 2.0, 0.5, 1.0), 0.606531 + 0.183940, rtol=1e-5)
    assert busy_period_cdf(1.0, 0.99, 0.5, 1.0) == 0.0                  # the start's own work is not done
    assert busy_period_cdf(1.0, 1.0, 0.0, 1.0) == 1.0                   # nobody arrives
    assert_allclose(busy_period_cdf(np.array([1.0, 3.0]), 2.0, np.array([0.5, 0.5]), 1.0), [0.790471, 0.0],
                    rtol=1e-5)


def test_busy_period_mean_is_x_over_one_minus_rho():
    """A busy period started by x at load ρ = λS lasts x / (1 − ρ) on average (each second of work brings ρ more):
    x = 0.7 s, λ = 2/s, S = 0.3 s → 0.7 / 0.4 = 1.75 s, and it is over with certainty in the long run."""
    t = np.arange(0.7, 80.0, 0.3) + 1e-9                       # the atoms x + k·S
    cdf = np.array([busy_period_cdf(0.7, x, 2.0, 0.3) for x in t])
    pmf = np.diff(np.concatenate(([0.0], cdf)))
    assert_allclose(cdf[-1], 1.0, atol=1e-9)
    assert_allclose(np.sum(pmf * (t - 1e-9)), 0.7 / (1 - 0.6), rtol=1e-6)


# --- random_priority_sf / quantile --------------------------------------------------------------------------------
def test_an_idle_queue_gives_the_prompts_own_time():
    assert random_priority_sf(0.299, service_s=0.3, own_s=0.3, rho=0.0) == 1.0
    assert random_priority_sf(0.3, service_s=0.3, own_s=0.3, rho=0.0) == 0.0
    assert random_priority_quantile(0.3, 0.31, 0.0, 0.95) == 0.31
    assert random_priority_quantile(0.3, 0.31, 1.0, 0.95) == math.inf


@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_mean_sojourn_matches_its_closed_form(rho):
    """A prompt overtaken by the share u waits out B_σ(V_σ + own), σ = ρu, of mean (E[V_σ] + own)/(1 − σ) with
    E[V_σ] = σ·S/(2(1 − σ)) (Pollaczek–Khinchine's mean work at cv² = 0). Over u uniform:
    ∫ own/(1 − ρu) du = −own·ln(1 − ρ)/ρ and ∫ ρu·S/(2(1 − ρu)²) du = S/(2ρ)·(ρ/(1 − ρ) + ln(1 − ρ)).
    The mean ∫ P(T > t) dt of the quadrature must come within 2% of it (16 × 16 nodes)."""
    s, own = 0.3, 0.32
    expected = -own * math.log(1 - rho) / rho + s / (2 * rho) * (rho / (1 - rho) + math.log(1 - rho))
    dt = 0.02
    t = np.arange(0.0, 25 * s / (1 - rho), dt) + dt / 2             # midpoints
    sf = np.array([random_priority_sf(x, service_s=s, own_s=own, rho=rho) for x in t])
    assert_allclose(np.sum(sf) * dt, expected, rtol=0.02)


def test_quantile_inverts_the_tail():
    """P(T > quantile) = 1 − q within the bisection's precision, and the tail is heavier than FIFO's: the M/D/1
    exponential tail's P95 sojourn at ρ = 0.7, S = own = 0.3 s is 0.3 + 0.3/(2·0.3)·ln(0.7/0.05) = 1.619 s."""
    t95 = random_priority_quantile(0.3, 0.3, 0.7, 0.95)
    assert_allclose(random_priority_sf(t95 * (1 + 2e-4), service_s=0.3, own_s=0.3, rho=0.7), 0.05, atol=0.002)
    assert random_priority_sf(t95 * (1 - 2e-4), service_s=0.3, own_s=0.3, rho=0.7) > 0.05 - 0.002
    assert t95 > 0.3 + 0.3 / 0.6 * math.log(0.7 / 0.05)


def test_cv2_widens_only_the_queued_work():
    """cv² doubles the queued work's mean at cv² = 1: the tail grows; at ρ = 0 it changes nothing."""
    base = random_priority_quantile(0.3, 0.3, 0.6, 0.95, 0.0)
    assert random_priority_quantile(0.3, 0.3, 0.6, 0.95, 1.0) > base * 1.2
    assert random_priority_quantile(0.3, 0.3, 0.0, 0.95, 1.0) == 0.3


# --- the prompt's chunk steps -------------------------------------------------------------------------------------
def test_prompt_chunks():
    assert prompt_chunks(1115, 509) == (2, 97)                  # 1115 = 2 × 509 + 97
    assert prompt_chunks(1000, 500) == (2, 0.0)
    assert prompt_chunks(400, 511.5) == (0, 400.0)


def test_shared_service_mixes_alone_and_packed_by_rho():
    """own 0.3 s, packed 0.27 s, 2 prompts/s: S = 0.3 / (1 + 2 × 0.03) = 0.283019 s, and with ρ = 2S = 0.566038 it
    is (1 − ρ)·0.3 + ρ·0.27 = 0.130189 + 0.152830."""
    s = shared_service_s(0.3, 0.27, 2.0)
    assert_allclose(s, 0.283019, rtol=1e-5)
    assert_allclose(s, 0.130189 + 0.152830, rtol=1e-5)
    assert shared_service_s(0.3, 0.27, 0.0) == 0.3
    assert shared_service_s(0.3, 0.3, 5.0) == 0.3


# --- against the simulator ---------------------------------------------------------------------------------------
#: Requests of each simulated load (as data/plan/aggregated_ttft_check.csv's runs).
SIM_REQUESTS = 20_000


@pytest.mark.slow
@pytest.mark.parametrize("load", [0.25, 0.5, 0.75])
def test_closed_form_p95_ttft_within_validated_error_of_the_simulator(load):
    """Llama 2 70B on 4 × A100 80GB, 2,000 + 100 tokens with 885 cached, 512-token steps: the closed form's P95 TTFT
    within the step-time model's validated TTFT error of the simulated one at 25%, 50% and 75% of the replica's
    capacity (seed 0)."""
    from model.plan.compose import validated_errors
    from model.serving import Scheduler, simulate
    from model.serving.step_time import deployment
    from model.workload.requests import poisson_workload

    dep = deployment("llama-2-70b", "a100-80gb", 4)
    kw = dict(prompt_tokens=2000, cached_tokens=885, reply_tokens=100, chunk_tokens=512, max_batch=256)
    rate = load * aggregated_capacity(dep, **kw)
    closed = aggregated_state(dep, rate, **kw, q=0.95, cv2=0.0).ttft_p95_s
    res = simulate(dep, poisson_workload(SIM_REQUESTS, rate, seed=0, prompt_tokens=2000, output_tokens=100,
                                         cached_tokens=885),
                   Scheduler("chunked_prefill", max_batch=256, max_batched_tokens=512))
    r = res.requests.dropna(subset=["finish_s"]).sort_values("arrival_s")
    r = r.iloc[len(r) // 10: len(r) * 9 // 10]
    simulated = float(np.percentile(r["first_token_s"] - r["arrival_s"], 95))
    assert_allclose(simulated, closed, rtol=validated_errors()["ttft"])
