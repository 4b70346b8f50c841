"""Prompts with a cached prefix in the replica simulation, the analytic saturation and the fleet's load sweep:
the prefill computes only the prompt tokens not in KV, attending over the cached ones; the KV footprint is
the whole prompt; no cache (the default) is today's behaviour."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.workload.requests import Workload, azure_workload, poisson_workload
from model.serving.saturation import continuous_saturation
from model.serving.step_time import deployment
from model.economics.fleet_sizing import replica_load_sweep
from model.quantization.weights import COMPUTE_TYPE
from model.serving import Scheduler, flops_utilization, simulate
from model.tiering.engine import PrefillEngine
from model.checks import ParameterError

P, O = 2000, 100   # the fleet chapter's turn: 2,000-token prompt, 100-token reply


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 8)


def prefill_by_hand(dep, new, past):
    """Roofline of one prefill step of ``new`` tokens after ``past`` cached ones, written out term by term
    from the model's definitions (module docstring of model.serving.step_time), not through its methods."""
    a = dep.arch
    lm_head = a.vocab_size * a.hidden_size
    body = a.matmul_parameters() - lm_head
    pairs = new * past + new * (new + 1) / 2           # causal: token i attends past + i positions
    compute = (2 * body * (new + dep.mfu_half_tokens) + 2 * lm_head * 1) / dep.flops_per_s \
        + 4 * a.num_layers * a.num_attention_heads * a.head_dim * pairs / dep.attention_flops_per_s
    memory = dep.weight_bytes / dep.bytes_per_s + dep.kv_bytes_per_token * (past + new) / dep.kv_bytes_per_s
    n = dep.n_gpus
    ring = 2 * a.num_layers * new * a.hidden_size * 2 * 2 * (n - 1) / n / (dep.gpu.interconnect_bytes_per_s / 2)
    allreduce = ring + 2 * a.num_layers * dep.allreduce_latency_s
    return max(compute, memory) + dep.overlap * min(compute, memory) + dep.step_overhead_s \
        + a.num_layers * dep.layer_overhead_s + allreduce + dep.sequence_overhead_s * 1  # one sequence


def test_hand_prefill_is_the_step_time_models(dep):
    # the hand formula, Deployment.prefill_time and the tiering engine's scalar form agree
    engine = PrefillEngine.from_deployment(dep)
    for new, past in [(2000, 0), (1000, 1000), (1, 1999), (37, 5000)]:
        assert_allclose(prefill_by_hand(dep, new, past), float(dep.prefill_time(new, past)), rtol=1e-12)
        assert_allclose(prefill_by_hand(dep, new, past), float(engine.prefill_time_s(new, past)), rtol=1e-12)


@pytest.mark.parametrize("policy", ["continuous", "chunked_prefill"])
@pytest.mark.parametrize("cached", [0, 500, 1500, 1999, 2000])
def test_isolated_request_prefills_only_the_uncached_tokens(dep, policy, cached):
    # requests 100 s apart never share the GPU: TTFT = the prefill of p - c new tokens after c cached ones
    # (a fully cached prompt still computes its last position); decoding reads the whole prompt as before
    w = Workload(np.array([0.0, 100.0, 200.0]), np.full(3, P), np.full(3, O), cached_tokens=np.full(3, cached))
    res = simulate(dep, w, Scheduler(policy, max_batch=8, max_batched_tokens=4096))
    r = res.requests
    hit = min(cached, P - 1)
    assert_allclose(r["first_token_s"] - r["arrival_s"], prefill_by_hand(dep, P - hit, hit), rtol=1e-9)
    decode = sum(float(dep.decode_time(1, P + k - 1)) for k in range(1, O))
    assert_allclose(r["finish_s"] - r["first_token_s"], decode, rtol=1e-9)
    # the whole prompt is in KV after the prefill step, cached or not
    tl = res.timeline
    first_steps = tl[tl["kind"].isin(["prefill", "mixed"])]
    assert (first_steps["kv_used_tokens"] == P).all()
    assert (r["cached_tokens"] == cached).all()


def test_no_cache_is_todays_workload_and_simulation(dep):
    base = poisson_workload(300, 4.0, prompt_tokens=P, output_tokens=O, seed=3)
    zero = poisson_workload(300, 4.0, prompt_tokens=P, output_tokens=O, seed=3, cached_tokens=0)
    assert zero.cached_tokens is None and base.cached_tokens is None
    assert np.array_equal(base.arrival_s, zero.arrival_s) and np.array_equal(base.prompt_tokens, zero.prompt_tokens)
    # an explicit cache of zero tokens simulates exactly as no cache (only the extra column differs)
    explicit = Workload(base.arrival_s, base.prompt_tokens, base.output_tokens, cached_tokens=np.zeros(300, np.int64))
    for policy in ("continuous", "chunked_prefill"):
        a = simulate(dep, base, Scheduler(policy, max_batch=64))
        b = simulate(dep, explicit, Scheduler(policy, max_batch=64))
        assert a.timeline.equals(b.timeline)
        assert a.requests.equals(b.requests.drop(columns="cached_tokens"))
        assert (a.busy_s, a.end_s, a.steps) == (b.busy_s, b.end_s, b.steps)


def test_saturation_gains_exactly_the_prefill_saved(dep):
    # per request = prefill + decode share; the cache changes only the prefill, so
    # 1/x(c) - 1/x(0) = prefill(p - c after c) - prefill(p)
    x0 = continuous_saturation(dep, [P], [O], max_batch=256)
    rates = [x0.requests_per_s]
    for c in (500, 1000, 1500, 2000):
        xc = continuous_saturation(dep, [P], [O], max_batch=256, cached_tokens=c)
        hit = min(c, P - 1)
        assert_allclose(1 / xc.requests_per_s - 1 / x0.requests_per_s,
                        prefill_by_hand(dep, P - hit, hit) - prefill_by_hand(dep, P, 0), rtol=1e-9)
        assert xc.batch == x0.batch   # same KV footprint, same batch
        rates.append(xc.requests_per_s)
    assert np.all(np.diff(rates) > 0)


def test_simulated_saturation_rises_with_the_cache_and_the_analytic_is_conservative(dep):
    # without a cache the analytic saturation is the simulated one within 5%; with a cache the scheduler
    # packs several short prefills into one step (token budget), which the analytic one-prefill-per-request
    # figure does not count: it stays below the simulation (within 5% above it at most)
    out = []
    for c in (0, 1000, 1900):
        w = poisson_workload(1500, math.inf, prompt_tokens=P, output_tokens=O, seed=1, cached_tokens=c)
        sim = simulate(dep, w, Scheduler("continuous", max_batch=64)).summary(warmup_fraction=0.1)
        sat = continuous_saturation(dep, [P], [O], max_batch=64, cached_tokens=c)
        if c == 0:
            assert_allclose(sim["throughput_requests_per_min"], sat.requests_per_min, rtol=0.05)
        assert sat.requests_per_min <= 1.05 * sim["throughput_requests_per_min"]
        out.append(sim["throughput_requests_per_min"])
    assert out[0] < out[1] < out[2]


def test_preempted_requests_with_a_cache_all_finish(dep):
    # an overloaded small replica preempts; readmitted requests find their prefix cached again
    small = deployment("llama-2-70b", "a100-80gb", 2)
    w0 = azure_workload(300, math.inf, seed=2, max_total_tokens=4096)
    w = Workload(w0.arrival_s, w0.prompt_tokens, w0.output_tokens, cached_tokens=w0.prompt_tokens // 2)
    r = simulate(small, w, Scheduler("continuous", max_batch=256)).requests
    assert r["preemptions"].sum() > 0
    assert r["finish_s"].notna().all() and (r["first_token_s"] >= r["arrival_s"]).all()


def test_flops_utilization_counts_computed_tokens_only(dep):
    w = poisson_workload(200, 2.0, prompt_tokens=P, output_tokens=O, seed=4, cached_tokens=1200)
    res = simulate(dep, w, Scheduler("continuous", max_batch=64))
    span = res.end_s - float(res.requests["arrival_s"].min())
    peak = dep.n_gpus * dep.gpu.flops(COMPUTE_TYPE[dep.weight_dtype])
    tokens = flops_utilization(dep, res) * span * peak / (2 * dep.arch.matmul_parameters())
    assert_allclose(tokens, 200 * (P - 1200 + O), rtol=1e-9)


def test_load_sweep_with_a_cache(dep):
    kw = dict(prompt_tokens=P, reply_tokens=O, n_requests=200, load_fractions=(0.3, 0.9))
    sat0, sweep0 = replica_load_sweep("llama-2-70b", "a100-80gb", 8, **kw)
    sat00, sweep00 = replica_load_sweep("llama-2-70b", "a100-80gb", 8, cached_tokens=0, **kw)
    assert sat00 == sat0 and sweep00.equals(sweep0)
    sat1, sweep1 = replica_load_sweep("llama-2-70b", "a100-80gb", 8, cached_tokens=1000, **kw)
    assert_allclose(sat1, continuous_saturation(dep, [P], [O], max_batch=256, cached_tokens=1000).requests_per_s,
                    rtol=1e-12)
    assert sat1 > sat0
    assert_allclose(sweep1["rate_per_s"], [0.3 * sat1, 0.9 * sat1], rtol=1e-12)
    # at the lightest load (a higher rate than without the cache) the first token still comes sooner
    assert sweep1["ttft_s_p50"].iloc[0] < sweep0["ttft_s_p50"].iloc[0]


@pytest.mark.parametrize("call", [
    lambda d: poisson_workload(10, 1.0, prompt_tokens=P, output_tokens=O, cached_tokens=-1),
    lambda d: poisson_workload(10, 1.0, prompt_tokens=P, output_tokens=O, cached_tokens=P + 1),
    lambda d: poisson_workload(10, 1.0, prompt_tokens=P, output_tokens=O, cached_tokens=1.5),
    lambda d: poisson_workload(10, 1.0, prompt_tokens=[100, 3000], output_tokens=O, cached_tokens=500, seed=0),
    lambda d: Workload(np.zeros(2), np.full(2, P), np.full(2, O), cached_tokens=np.array([0, P + 1])),
    lambda d: Workload(np.zeros(2), np.full(2, P), np.full(2, O), cached_tokens=np.array([-3, 0])),
    lambda d: Workload(np.zeros(2), np.full(2, P), np.full(2, O), cached_tokens=np.zeros(3)),
    lambda d: continuous_saturation(d, [P], [O], max_batch=8, cached_tokens=-1),
    lambda d: continuous_saturation(d, [P], [O], max_batch=8, cached_tokens=P + 1),
    lambda d: replica_load_sweep("llama-2-70b", "a100-80gb", 8, prompt_tokens=P, reply_tokens=O, cached_tokens=P + 1),
    lambda d: replica_load_sweep("llama-2-70b", "a100-80gb", 8, prompt_tokens=P, reply_tokens=O, cached_tokens=-5),
    lambda d: simulate(d, Workload(np.zeros(2), np.full(2, P), np.full(2, O), cached_tokens=np.full(2, 10)),
                       Scheduler("static", max_batch=2)),
])
def test_bad_cached_tokens_name_the_parameter(dep, call):
    with pytest.raises(ParameterError, match="^cached_tokens="):
        call(dep)
