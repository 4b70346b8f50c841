"""Dispatch policies of the disaggregated simulator (model/serving/disaggregated.py): with the prefill replicas
drawn at random or fixed by session, each replica is a FIFO M/D/1 queue of its own Poisson share, checked against
the Pollaczek–Khinchine mean wait and Erlang's exact M/D/1 waiting-time distribution worked here apart; the
least-loaded dispatch pools the queues and waits less."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving import Scheduler
from model.serving.disaggregated import Pools, simulate_disaggregated
from model.serving.kv_transfer import load_link
from model.serving.step_time import deployment
from model.workload.requests import poisson_workload

PROMPT = 512
REPLICAS = 4
#: Requests per replica: at ρ = 0.8 the M/D/1 mean wait's relative standard error over 5,000 requests is a few
#: percent (the queue relaxes over ~1/(1 − √ρ)² ≈ 90 services); the tolerance is about three of them.
REQUESTS_PER_REPLICA = 5000
MEAN_TOLERANCE = 0.10
P95_TOLERANCE = 0.10


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-13b", "a100-80gb", 1)


def md1_wait_cdf(t: float, rho: float, service_s: float) -> float:
    """Erlang's M/D/1 waiting-time distribution, P(W ≤ t) = (1 − ρ) Σ_{k=0}^{⌊t/S⌋} [λ(kS − t)]^k / k! ·
    e^{−λ(kS − t)} with λ = ρ/S (exact; the alternating sum is accurate for t of a few services)."""
    lam = rho / service_s
    return (1 - rho) * sum((lam * (k * service_s - t)) ** k / math.factorial(k) * math.exp(-lam * (k * service_s - t))
                           for k in range(int(t // service_s) + 1))


def md1_wait_quantile(q: float, rho: float, service_s: float) -> float:
    """The wait at quantile q of :func:`md1_wait_cdf`, by bisection (the CDF is non-decreasing)."""
    lo, hi = 0.0, 40 * service_s
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if md1_wait_cdf(mid, rho, service_s) < q else (lo, mid)
    return (lo + hi) / 2


def test_erlang_md1_distribution_matches_its_known_moments():
    """The helper is right: P(W = 0) = 1 − ρ, and its mean (∫ P(W > t) dt) is Pollaczek–Khinchine's
    ρS / (2(1 − ρ))."""
    assert_allclose(md1_wait_cdf(0.0, 0.8, 1.0), 0.2, rtol=1e-12)
    t = np.linspace(0, 30, 30001)
    tail = 1 - np.array([md1_wait_cdf(x, 0.5, 1.0) for x in t])
    assert_allclose(np.sum((tail[1:] + tail[:-1]) / 2) * (t[1] - t[0]), 0.5 * 1.0 / (2 * 0.5), rtol=1e-3)


def _waits(dep, rho, dispatch, *, sessions=None, seed=1):
    service = float(dep.prefill_time(PROMPT))
    n = REPLICAS * REQUESTS_PER_REPLICA
    w = poisson_workload(n, REPLICAS * rho / service, prompt_tokens=PROMPT, output_tokens=1, seed=seed)
    pools = Pools(dep, dep, REPLICAS, 1, load_link("free", dep.gpu), prefill_scheduler=Scheduler("continuous",
                                                                                                 max_batch=1))
    r = simulate_disaggregated(pools, w, dispatch=dispatch, sessions=sessions, seed=seed).requests
    return (r["prefill_end_s"] - r["arrival_s"]).to_numpy() - service, service, r


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_random_dispatch_queues_each_replica_as_md1(dep, rho):
    wait, s, r = _waits(dep, rho, "random")
    assert_allclose(wait.mean(), rho * s / (2 * (1 - rho)), rtol=MEAN_TOLERANCE)      # λS²/(2(1 − ρ)), λ = ρ/S
    assert_allclose(np.percentile(wait, 95), md1_wait_quantile(0.95, rho, s), rtol=P95_TOLERANCE)
    assert_allclose(np.bincount(r["prefill_replica"]) / len(r), 1 / REPLICAS, atol=0.02)


def test_sticky_dispatch_fixes_the_replica_by_session(dep):
    """Session ids drawn from many sessions: replica = session mod replicas, and each replica again an M/D/1."""
    n = REPLICAS * REQUESTS_PER_REPLICA
    sessions = np.random.default_rng(3).integers(0, 100_000, size=n)
    wait, s, r = _waits(dep, 0.5, "sticky", sessions=sessions)
    assert (r["prefill_replica"].to_numpy() == sessions % REPLICAS).all()
    assert (r["decode_replica"].to_numpy() == sessions % 1).all()
    assert_allclose(wait.mean(), 0.5 * s / (2 * 0.5), rtol=MEAN_TOLERANCE)


def test_least_loaded_dispatch_pools_the_queues(dep):
    """Join-the-shortest-queue over 4 replicas waits far less than 4 separate M/D/1 queues at the same load."""
    wait, s, _ = _waits(dep, 0.8, "least_loaded")
    assert wait.mean() < 0.5 * (0.8 * s / (2 * 0.2))


def test_random_dispatch_same_seed_same_tables(dep):
    w = poisson_workload(200, 30.0, prompt_tokens=PROMPT, output_tokens=8, seed=2)
    pools = Pools(dep, dep, 3, 2, load_link("nic", dep.gpu))
    a = simulate_disaggregated(pools, w, dispatch="random", seed=5).requests
    b = simulate_disaggregated(pools, w, dispatch="random", seed=5).requests
    c = simulate_disaggregated(pools, w, dispatch="random", seed=6).requests
    assert a.equals(b)
    assert not a["prefill_replica"].equals(c["prefill_replica"])


def test_bad_dispatch_names_the_parameter(dep):
    w = poisson_workload(5, 1.0, prompt_tokens=PROMPT, output_tokens=2, seed=0)
    pools = Pools(dep, dep, 2, 1, load_link("free", dep.gpu))
    with pytest.raises(ParameterError, match="dispatch.*least_loaded"):
        simulate_disaggregated(pools, w, dispatch="round_robin")
    with pytest.raises(ParameterError, match="sessions"):
        simulate_disaggregated(pools, w, dispatch="sticky")
    with pytest.raises(ParameterError, match="sessions"):
        simulate_disaggregated(pools, w, dispatch="sticky", sessions=[0, 1])
