"""model.plan.simulate by hand: the counted window of a run and its P95s, the relative difference, the replicas
of a simulated disaggregated group, the agreement with the validated error, the dispatch of each routing, and the
simulators on a small setting (Llama 3.1 8B on one H100, 200-token prompts with 50 cached, 10-token replies):
lone requests, whose TTFT is the prompt's prefill step plus its KV transfer and whose TPOT is one sequence's decode
step, the closed forms evaluated at the rate each replica sees, and the cache's replay with and without TTLs."""
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.plan.serving as plan_serving
import model.plan.simulate as simulate_module
from model.architectures import load_architecture
from model.checks import ParameterError
from model.hardware import load_gpu
from model.plan.serving import Pool, deployments, expert_parallel_deployments, prefill_service_s
from model.plan.simulate import (POOL_METRICS, ROUTING_DISPATCH, STEADY_STATE_BATCHES, _p95_window, _rel,
                                 agreement, dispatch_for, replay_cache, replica_counts, simulate_disaggregated_plan,
                                 simulate_plan)

PROMPT, CACHED, REPLY, MAX_BATCH = 200, 50, 10, 64
NIC_BYTES_PER_S = 50e9       # data/hardware.csv rdma-nic-400g (400 Gb/s) x plan_nics_per_gpu 1
# Llama 3.1 8B (data/models/llama-3.1-8b/config.json): 32 layers x 8 KV heads x 128 (4,096 / 32 heads), K and V,
# 2 bytes each in fp16; the 200-token prompt's KV crosses one NIC (kv_transfer_latency_s 0)
TRANSFER_S = PROMPT * 32 * 8 * 128 * 2 * 2 / NIC_BYTES_PER_S


@pytest.fixture(scope="module")
def small():
    arch, gpu = load_architecture("llama-3.1-8b"), load_gpu("h100-80gb")
    deps = deployments(arch, gpu, 1, "fp16", "fp16")
    assert [d.n_gpus for d in deps] == [1]
    return deps


def _pools(prefill_rate=3.0, decode_rate=1.25, tp=1, ep=1):
    """A prefill pool of 3 requests/s a replica and a decode pool of 1.25: 1 prefill and round(2.4) = 2 decode
    replicas, the group's rate min(1 × 3, 2 × 1.25) = 2.5/s."""
    pre = Pool("prefill", tp, prefill_rate, 1, tp, 0.1, 0.2, math.nan, 0.0, 0.5, ep)
    dec = Pool("decode", tp, decode_rate, 1, tp, 0.1, math.nan, 0.01, 4.0, 1.0, ep)
    return SimpleNamespace(aggregated=None, prefill=pre, decode=dec)


def _few_requests(monkeypatch, n, aggregated=None):
    """``plan_simulate_requests`` (per replica of a group) replaced by ``n`` and ``plan_simulate_aggregated_requests``
    (the aggregated replica's) by ``aggregated`` (the data's 6,000 and 100,000 make runs of seconds)."""
    real = simulate_module.default
    patched = {"plan_simulate_requests": n, "plan_simulate_aggregated_requests": n if aggregated is None else aggregated}
    monkeypatch.setattr(simulate_module, "default", lambda name: patched[name] if name in patched else real(name))


# --- the counted window -------------------------------------------------------------------------------------------
def test_p95_window_counts_the_middle_of_the_arrivals():
    """20 finished requests (arrivals 0 … 19 s) and one unfinished (no finish): warm-up 0.1 leaves out int(2) at
    each end, so arrivals 2 … 17 are counted (16). Their TTFTs are 0.03 … 0.18 s (0.01 s steps) and TPOTs 0.001 … 0.016 s: the
    95th percentile of 16 sorted values sits at 0.95 × 15 = 14.25, v14 + 0.25 (v15 − v14): TTFT 0.17 + 0.0025,
    TPOT 0.015 + 0.00025. The last counted request has a one-token reply: its whole 0.016 s after the first token
    is its TPOT (divisor at least 1); the others 3 tokens (2 gaps). The ends are 100 s slow: counted, they would
    be the P95."""
    rows = []
    for i in range(20):
        inside = 2 <= i <= 17
        k = i - 2
        ttft = 0.01 * (k + 1) + 0.02 if inside else 100.0
        tpot = 0.001 * (k + 1) if inside else 100.0
        out = 1 if i == 17 else 3
        gaps = max(out - 1, 1)
        rows.append((float(i), i + ttft, i + ttft + gaps * tpot, out))
    rows.append((9.5, 10.0, math.nan, 3))              # unfinished: not counted, not in the window's length
    t = pd.DataFrame(rows[::-1], columns=["arrival_s", "first_token_s", "finish_s", "output_tokens"])
    # a one-token reply never starts decoding (the simulators leave its decode start empty): still counted
    t["decode_start_s"] = np.where(t["output_tokens"] == 1, math.nan, t["first_token_s"])
    w = _p95_window(SimpleNamespace(requests=t), 0.1)
    assert w["requests"] == 16
    assert_allclose([w["ttft_p95_s"], w["tpot_p95_s"]], [0.17 + 0.0025, 0.015 + 0.00025], rtol=1e-9)
    assert type(w["ttft_p95_s"]) is float and type(w["requests"]) is int
    # no warm-up: all 20 counted, and the slow ends make the P95 (0.95 × 19 = 18.05 → 100 s)
    assert _p95_window(SimpleNamespace(requests=t), 0.0)["requests"] == 20
    assert_allclose(_p95_window(SimpleNamespace(requests=t), 0.0)["ttft_p95_s"], 100.0, rtol=1e-12)


def test_rel():
    assert_allclose(_rel(1.125, 1.0), 0.125, rtol=1e-12)
    assert_allclose(_rel(0.5, 2.0), -0.75, rtol=1e-12)
    assert _rel(0.0, 1.0) == -1.0
    for sim, plan in ((1.0, 0.0), (1.0, math.inf), (math.inf, 1.0), (math.nan, 1.0), (1.0, math.nan),
                      (1.0, None)):
        assert _rel(sim, plan) is None


def test_replica_counts_by_hand():
    """The pool whose replica carries more gets one; the other the rounded ratio, at least one."""
    assert replica_counts(3.0, 1.25) == (1, 2)          # 3 / 1.25 = 2.4 → 2 decode replicas
    assert replica_counts(1.25, 3.0) == (2, 1)          # the other way round
    assert replica_counts(5.0, 5.0) == (1, 1)
    assert replica_counts(1.4, 1.0) == (1, 1)           # round(1.4) = 1
    assert replica_counts(1.0, 1.4) == (1, 1)
    assert replica_counts(1.0, 1.6) == (2, 1)           # round(1.6) = 2
    assert replica_counts(7.0, 2.0) == (1, 4)           # round(3.5) = 4 (to even)
    assert replica_counts(2.0, 7.0) == (4, 1)


def test_agreement_by_hand():
    """TTFT 1.125 s simulated against 1.0 closed: +12.5%, within a 12.5% error (the bound counts); TPOT 0.375
    against 0.5: −25%, outside 20% (its size counts, not its sign)."""
    sim = {"ttft_p95_s": 1.125, "tpot_p95_s": 0.375}
    closed = {"ttft_p95_s": 1.0, "tpot_p95_s": 0.5}
    a = agreement(sim, closed, {"ttft": 0.125, "tpot": 0.2})
    assert POOL_METRICS == {"prefill": ("ttft",), "decode": ("tpot",)}
    assert a == {"prefill_ttft": {"closed_form_s": 1.0, "simulated_s": 1.125, "relative_difference": 0.125,
                                  "validated_error": 0.125, "within": True},
                 "decode_tpot": {"closed_form_s": 0.5, "simulated_s": 0.375, "relative_difference": -0.25,
                                 "validated_error": 0.2, "within": False}}
    # one pool, both metrics; no validated error for TPOT, an infinite closed form for TTFT: nothing to judge
    b = agreement(sim, {"ttft_p95_s": math.inf, "tpot_p95_s": 0.5}, {"ttft": 0.125},
                  pools={"aggregated": ("ttft", "tpot")})
    assert list(b) == ["aggregated_ttft", "aggregated_tpot"]
    assert b["aggregated_ttft"]["relative_difference"] is None and b["aggregated_ttft"]["within"] is None
    assert b["aggregated_ttft"]["validated_error"] == 0.125
    assert b["aggregated_tpot"]["validated_error"] is None and b["aggregated_tpot"]["within"] is None
    assert b["aggregated_tpot"]["relative_difference"] == -0.25


def test_dispatch_of_each_routing():
    assert ROUTING_DISPATCH == {"session": "random", "prefix": "random", "round-robin": "least_loaded",
                                "least-loaded": "least_loaded"}
    assert [dispatch_for(r) for r in ("session", "prefix", "round-robin", "least-loaded")] == [
        "random", "random", "least_loaded", "least_loaded"]
    with pytest.raises(ParameterError, match=r"^routing='sticky' is not allowed: routing must be one of 'session', "
                                             r"'prefix', 'round-robin', 'least-loaded'$"):
        dispatch_for("sticky")


# --- the disaggregated group ----------------------------------------------------------------------------------------
def test_lone_requests_of_a_disaggregated_group(small):
    """At 1/1,000 of the group's rate (one request every 400 s) each request is alone: its TTFT is the prompt's
    prefill step (150 new tokens after 50 cached) plus the KV transfer, in the simulator and in the closed form (a
    queue busy less than 1 − q of the time waits 0 at q); its TPOT is one sequence's decode step, which the closed
    form takes at the mean context 200 + 10/2 and the simulator steps through contexts 201 … 209."""
    dp = small[0]
    out = simulate_disaggregated_plan(_pools(), small, prompt_tokens=PROMPT, cached_tokens=CACHED,
                                      reply_tokens=REPLY, max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0,
                                      rate_share=1e-3, requests=10, seed=3)
    assert (out["prefill_replicas"], out["decode_replicas"]) == (1, 2)
    assert_allclose(out["rate_per_s"], 1e-3 * 2.5, rtol=1e-12)
    assert_allclose(out["kv_transfer_s"], TRANSFER_S, rtol=1e-12)
    step = prefill_service_s(dp, PROMPT, CACHED)
    assert_allclose(out["simulated"]["ttft_p95_s"], step + TRANSFER_S, rtol=1e-9)
    assert_allclose(out["closed_form"]["ttft_p95_s"], step + TRANSFER_S, rtol=1e-12)
    lo, hi = float(dp.decode_time(1, PROMPT + 1)), float(dp.decode_time(1, PROMPT + REPLY))
    assert lo <= out["simulated"]["tpot_p95_s"] <= hi
    assert_allclose(out["closed_form"]["tpot_p95_s"], float(dp.decode_time(1, PROMPT + REPLY / 2)), rtol=1e-12)
    assert out["simulated"]["requests"] == 8          # 10 requests, int(1) left out at each end
    assert out["plan"] == {"ttft_p95_s": 0.2, "tpot_p95_s": 0.01, "prefill_rate_per_s": 3.0,
                           "decode_rate_per_s": 1.25, "decode_batch": 4.0}
    for k in ("ttft_p95_s", "tpot_p95_s"):
        assert_allclose(out["relative_difference"][k],
                        out["simulated"][k] / out["closed_form"][k] - 1, rtol=1e-9, atol=1e-15)
    assert out["dispatch"] == "least_loaded" and out["steady_state"] is True
    # busy shares: the one prefill replica computes 10 prompt steps, the two decode replicas 10 × 9 steps between
    # them, over the same span: prefill ÷ decode = (10 s / 1) ÷ (90 t / 2)
    assert_allclose(out["prefill_busy"] / out["decode_busy"], (10 * step) / (90 * out["simulated"]["tpot_p95_s"] / 2),
                    rtol=0.01)
    assert 0 < out["prefill_busy"] < 1e-3
    a = out["agreement"]
    assert list(a) == ["prefill_ttft", "decode_tpot"]
    assert a["prefill_ttft"]["validated_error"] is None and a["prefill_ttft"]["within"] is None
    assert a["prefill_ttft"]["simulated_s"] == out["simulated"]["ttft_p95_s"]


def test_a_prompt_wholly_cached_computes_one_token(small):
    """500 cached tokens of a 200-token prompt: 199 are a hit, one token is computed."""
    dp = small[0]
    out = simulate_disaggregated_plan(_pools(), small, prompt_tokens=PROMPT, cached_tokens=500, reply_tokens=REPLY,
                                      max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0, rate_share=1e-3, requests=10)
    step = prefill_service_s(dp, PROMPT, PROMPT - 1)
    assert_allclose(out["simulated"]["ttft_p95_s"], step + TRANSFER_S, rtol=1e-9)
    assert_allclose(out["closed_form"]["ttft_p95_s"], step + TRANSFER_S, rtol=1e-12)


class _Recorder:
    def __init__(self, real=None, value=None):
        self.real, self.value, self.calls = real, value, []

    def __call__(self, *args, **kw):
        self.calls.append((args, kw))
        return self.real(*args, **kw) if self.real else self.value


@pytest.mark.parametrize("rates, replicas, batch, steady", [
    ((3.0, 1.25), (1, 2), 8.0, True), ((3.0, 1.25), (1, 2), 8.25, False),
    ((1.25, 3.0), (2, 1), 16.0, True), ((1.25, 3.0), (2, 1), 16.5, False)])
def test_the_closed_forms_are_taken_at_each_replicas_rate(small, monkeypatch, rates, replicas, batch, steady):
    """Half the group's rate, 0.5 × min(1 × 3, 2 × 1.25) = 1.25/s either way round: with one prefill and two
    decode replicas the prefill replica sees 1.25/s and each decode replica 0.625/s; with two prefill and one
    decode, 0.625/s and 1.25/s. The prefill step carries one prompt (one attention group) of at most 150 new
    tokens; a decode replica runs up to 64 sequences; the KV crosses the NIC. 40 requests, 32 counted: steady
    when 32 ≥ 2 × the decode replicas × the closed form's batch (8 of 2 replicas is, 8.25 is not; 16 of one is,
    16.5 is not). Session routing dispatches at random."""
    n_p, n_d = replicas
    import model.serving.disaggregated as dis

    run = _Recorder(dis.simulate_disaggregated)
    tpot = _Recorder(value=(batch, 0.0125))
    ttft = _Recorder(value=0.75)
    monkeypatch.setattr(dis, "simulate_disaggregated", run)
    monkeypatch.setattr(plan_serving, "decode_tpot_at", tpot)
    monkeypatch.setattr(plan_serving, "prefill_ttft_at", ttft)
    err = {"ttft": 10.0, "tpot": 0.01}
    out = simulate_disaggregated_plan(_pools(*rates), small, prompt_tokens=PROMPT, cached_tokens=CACHED,
                                      reply_tokens=REPLY, max_batch=MAX_BATCH, q=0.9, prefill_cv2=0.25,
                                      rate_share=0.5, requests=40, seed=7, routing="session", validated_error=err)
    assert_allclose(out["rate_per_s"], 1.25, rtol=1e-12)
    (args, kw), = tpot.calls
    assert args[0] is small[0]
    assert_allclose(args[1], 1.25 / n_d, rtol=1e-12)
    assert kw == {"prompt_tokens": PROMPT, "reply_tokens": REPLY, "max_batch": MAX_BATCH, "q": 0.9}
    (args, kw), = ttft.calls
    assert args[0] is small[0]
    assert_allclose(args[1], 1.25 / n_p, rtol=1e-12)
    assert kw == {"prompt_tokens": PROMPT, "cached_tokens": CACHED, "transfer_s": pytest.approx(TRANSFER_S),
                  "q": 0.9, "cv2": 0.25}
    assert out["closed_form"] == {"ttft_p95_s": 0.75, "tpot_p95_s": 0.0125}
    (args, kw), = run.calls
    pools, work = args
    assert kw == {"dispatch": "random", "seed": 7} and out["dispatch"] == "random"
    assert (pools.prefill_replicas, pools.decode_replicas) == replicas
    assert (out["prefill_replicas"], out["decode_replicas"]) == replicas
    assert pools.prefill is small[0] and pools.decode is small[0]
    assert (pools.prefill_scheduler.policy, pools.prefill_scheduler.max_batch,
            pools.prefill_scheduler.max_batched_tokens) == ("continuous", 1, 150)
    assert (pools.decode_scheduler.policy, pools.decode_scheduler.max_batch) == ("continuous", 64)
    assert (pools.link.name, pools.link.bandwidth_bytes_per_s, pools.link.latency_s) == ("nic", NIC_BYTES_PER_S, 0.0)
    assert len(work) == 40 and set(work.prompt_tokens) == {PROMPT} and set(work.output_tokens) == {REPLY}
    assert set(work.cached) == {CACHED}
    # the draw is seeded: 40 gaps of mean 1 / 1.25 s from numpy's generator of seed 7
    gaps = np.random.default_rng(7).exponential(1 / 1.25, size=40)
    assert_allclose(work.arrival_s, np.cumsum(gaps), rtol=1e-12)
    assert out["simulated"]["requests"] == 32
    assert out["steady_state"] is steady
    assert STEADY_STATE_BATCHES == 2
    a = out["agreement"]
    assert a["prefill_ttft"]["validated_error"] == 10.0 and a["prefill_ttft"]["within"] is True
    assert a["decode_tpot"]["validated_error"] == 0.01


def test_the_defaults_of_a_group_run(small, monkeypatch):
    """Without a share, seed or routing: the group's whole rate (min(1 × 3, 2 × 1.25) = 2.5/s), seed 0 and
    round-robin routing's least-loaded dispatch."""
    import model.serving.disaggregated as dis

    run = _Recorder(dis.simulate_disaggregated)
    monkeypatch.setattr(dis, "simulate_disaggregated", run)
    out = simulate_disaggregated_plan(_pools(), small, prompt_tokens=PROMPT, cached_tokens=CACHED,
                                      reply_tokens=REPLY, max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0, requests=10)
    assert_allclose(out["rate_per_s"], 2.5, rtol=1e-12)
    assert run.calls[0][1] == {"dispatch": "least_loaded", "seed": 0}
    gaps = np.random.default_rng(0).exponential(1 / 2.5, size=10)
    assert_allclose(run.calls[0][0][1].arrival_s, np.cumsum(gaps), rtol=1e-12)


def test_the_default_requests_are_per_replica_of_the_group(small, monkeypatch):
    """``plan_simulate_requests`` per replica (15 here): 15 × (1 + 2) = 45 requests, of which int(40.5) −
    int(4.5) = 36 counted."""
    _few_requests(monkeypatch, 15)
    out = simulate_disaggregated_plan(_pools(), small, prompt_tokens=PROMPT, cached_tokens=CACHED,
                                      reply_tokens=REPLY, max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0,
                                      rate_share=1e-3)
    assert out["simulated"]["requests"] == 36


def test_expert_parallel_replicas_carry_one_prompt_per_attention_group(monkeypatch):
    """Qwen3-30B-A3B on one node of 2 H100s with EP2 and attention data parallelism: 2 attention groups, so a
    prefill step carries up to 2 prompts of 150 new tokens (300) and a decode replica 2 × 64 sequences."""
    import model.serving.disaggregated as dis

    deps = expert_parallel_deployments(load_architecture("qwen3-30b-a3b"), load_gpu("h100-80gb"), 2, 1,
                                       "fp16", "fp16")
    assert [(d.n_gpus, d.attention_ranks) for d in deps] == [(2, 2)]
    run = _Recorder(dis.simulate_disaggregated)
    monkeypatch.setattr(dis, "simulate_disaggregated", run)
    simulate_disaggregated_plan(_pools(tp=2, ep=2), deps, prompt_tokens=PROMPT, cached_tokens=CACHED,
                                reply_tokens=REPLY, max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0, rate_share=1e-3,
                                requests=10)
    pools = run.calls[0][0][0]
    assert (pools.prefill_scheduler.max_batch, pools.prefill_scheduler.max_batched_tokens) == (2, 300)
    assert pools.decode_scheduler.max_batch == 128


# --- simulate_plan --------------------------------------------------------------------------------------------------
def _agg(rate, ttft=0.05, tpot=0.01):
    return Pool("aggregated", 1, rate, 1, 1, 0.1, ttft, tpot, 0.0)


def test_a_lone_request_on_an_aggregated_replica(small, monkeypatch):
    """At 0.01 requests/s each of 20 requests (16 counted) is alone: its TTFT is the prompt's one chunk step (150
    new tokens < 512), its TPOT one sequence's decode step; the plan's 0.05 s and 0.01 s are the closed form set
    beside them."""
    _few_requests(monkeypatch, 20)
    dp = small[0]
    out = simulate_plan(SimpleNamespace(aggregated=_agg(0.01), prefill=None, decode=None), small,
                        prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=512,
                        max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0)
    assert list(out) == ["aggregated"]
    a = out["aggregated"]
    assert a["rate_per_s"] == 0.01 and a["simulated"]["requests"] == 16
    assert_allclose(a["simulated"]["ttft_p95_s"], prefill_service_s(dp, PROMPT, CACHED), rtol=1e-9)
    lo, hi = float(dp.decode_time(1, PROMPT + 1)), float(dp.decode_time(1, PROMPT + REPLY))
    assert lo <= a["simulated"]["tpot_p95_s"] <= hi
    assert a["plan"] == {"ttft_p95_s": 0.05, "tpot_p95_s": 0.01}
    assert_allclose(a["relative_difference"]["ttft_p95_s"], a["simulated"]["ttft_p95_s"] / 0.05 - 1, rtol=1e-12)
    assert_allclose(a["relative_difference"]["tpot_p95_s"], a["simulated"]["tpot_p95_s"] / 0.01 - 1, rtol=1e-12)
    assert list(a["agreement"]) == ["aggregated_ttft", "aggregated_tpot"]
    assert a["agreement"]["aggregated_ttft"]["closed_form_s"] == 0.05
    assert a["agreement"]["aggregated_tpot"]["closed_form_s"] == 0.01
    assert a["agreement"]["aggregated_tpot"]["within"] is None
    # a validated error of 100% holds the −38% TPOT difference; 10% does not hold the −81% TTFT one
    e = simulate_plan(SimpleNamespace(aggregated=_agg(0.01), prefill=None, decode=None), small,
                      prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=512,
                      max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0,
                      validated_error={"ttft": 0.1, "tpot": 1.0})["aggregated"]["agreement"]
    assert (e["aggregated_ttft"]["within"], e["aggregated_tpot"]["within"]) == (False, True)


def test_a_prompt_longer_than_a_chunk_takes_two_steps(small, monkeypatch):
    """150 new tokens in 100-token chunks: two steps, each reading all the weights, so the lone TTFT is at least two
    one-sequence decode steps (one 150-token prefill step is less than that)."""
    _few_requests(monkeypatch, 10)
    dp = small[0]
    out = simulate_plan(SimpleNamespace(aggregated=_agg(0.01), prefill=None, decode=None), small,
                        prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=100,
                        max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0)
    two = 2 * float(dp.decode_time(1, PROMPT))
    assert prefill_service_s(dp, PROMPT, CACHED) < two <= out["aggregated"]["simulated"]["ttft_p95_s"]


def test_simulate_plan_hands_its_inputs_to_the_simulators(small, monkeypatch):
    """The aggregated run: ``plan_simulate_aggregated_requests`` Poisson requests at the replica's rate, drawn with the seed,
    with the prompt's cached tokens (at most prompt − 1), run with chunked prefill at the plan's chunk and batch;
    the disaggregated group gets the plan's inputs as given."""
    import model.serving as serving
    import model.workload.requests as requests

    _few_requests(monkeypatch, 7, aggregated=12)
    draw = _Recorder(requests.poisson_workload)
    run = _Recorder(serving.simulate)
    group = _Recorder(value={"group": True})
    monkeypatch.setattr(requests, "poisson_workload", draw)
    monkeypatch.setattr(serving, "simulate", run)
    monkeypatch.setattr(simulate_module, "simulate_disaggregated_plan", group)
    s = _pools()
    s.aggregated = _agg(0.01)
    err = {"ttft": 0.5}
    out = simulate_plan(s, small, prompt_tokens=PROMPT, cached_tokens=500, reply_tokens=REPLY, chunk_tokens=256,
                        max_batch=32, q=0.9, prefill_cv2=0.25, seed=5, routing="prefix", validated_error=err)
    assert out["disaggregated"] == {"group": True}
    (args, kw), = draw.calls
    assert args == (12, 0.01)
    assert kw == {"seed": 5, "prompt_tokens": PROMPT, "output_tokens": REPLY, "cached_tokens": PROMPT - 1}
    (args, kw), = run.calls
    assert args[0] is small[0]
    assert (args[2].policy, args[2].max_batch, args[2].max_batched_tokens) == ("chunked_prefill", 32, 256)
    (args, kw), = group.calls
    assert args == (s, small)
    assert kw == {"prompt_tokens": PROMPT, "cached_tokens": 500, "reply_tokens": REPLY, "max_batch": 32, "q": 0.9,
                  "prefill_cv2": 0.25, "seed": 5, "routing": "prefix", "validated_error": err}
    assert out["aggregated"]["agreement"]["aggregated_ttft"]["validated_error"] == 0.5


def test_simulate_plan_defaults(small, monkeypatch):
    """Without a seed, routing or validated error: seed 0 for both runs, round-robin routing for the group."""
    import model.workload.requests as requests

    _few_requests(monkeypatch, 10)
    draw = _Recorder(requests.poisson_workload)
    group = _Recorder(value={})
    monkeypatch.setattr(requests, "poisson_workload", draw)
    monkeypatch.setattr(simulate_module, "simulate_disaggregated_plan", group)
    s = _pools()
    s.aggregated = _agg(0.01)
    simulate_plan(s, small, prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=512,
                  max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0)
    assert draw.calls[0][1]["seed"] == 0
    kw = group.calls[0][1]
    assert (kw["seed"], kw["routing"], kw["validated_error"]) == (0, "round-robin", None)


@pytest.mark.parametrize("agg, prefill, decode_rate, keys", [
    (None, True, 1.25, ["disaggregated"]),
    ("inf", True, 1.25, ["disaggregated"]),
    ("zero", False, 1.25, []),
    (None, True, math.inf, []),
    (None, False, 1.25, []),
])
def test_which_pools_are_simulated(small, monkeypatch, agg, prefill, decode_rate, keys):
    """An aggregated replica of no or an infinite rate is not run; a decode pool of an infinite rate (one-token
    replies) or a missing prefill pool leaves the group out."""
    group = _Recorder(value={})
    monkeypatch.setattr(simulate_module, "simulate_disaggregated_plan", group)
    s = _pools(decode_rate=decode_rate)
    s.aggregated = {None: None, "inf": _agg(math.inf), "zero": _agg(0.0)}[agg]
    if not prefill:
        s.prefill = None
    out = simulate_plan(s, small, prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=512,
                        max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0)
    assert list(out) == keys


def test_a_missing_decode_pool_leaves_the_group_out(small, monkeypatch):
    monkeypatch.setattr(simulate_module, "simulate_disaggregated_plan", _Recorder(value={}))
    s = _pools()
    s.decode = None
    assert simulate_plan(s, small, prompt_tokens=PROMPT, cached_tokens=CACHED, reply_tokens=REPLY, chunk_tokens=512,
                         max_batch=MAX_BATCH, q=0.95, prefill_cv2=0.0) == {}


# --- the cache's replay ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def profile():
    """The sample trace of 100 sessions of 2 turns in 5 minutes (model.plan.cache)."""
    from model.plan.cache import cache_profile
    from model.plan.inputs import PlanInputs

    i = PlanInputs(sessions=2000, session_minutes=5, turns_per_session=2)
    return cache_profile(i.turns_per_session, i.session_minutes, i.cache_hit_share, i.shared_prefix)


GROUPS = ("shared_persona", "persona_popular", "persona_tail", "history")


def test_the_replay_without_ttl_is_the_plans_hit_ratio(profile, small):
    """The node's capacity split as its GB: 1 + 1 of 3 GB → round(C/3) blocks of HBM and of DRAM, the rest SSD; no
    TTL (None: never expires): the hierarchy holds what one LRU of the whole capacity does, the hit ratio the
    plan's stack distances gave."""
    c = profile.capacity_blocks
    node = SimpleNamespace(need_gb=3.0, hbm_gb=1.0, dram_gb=1.0)
    out = replay_cache(profile, node, {g: None for g in GROUPS}, small[0], usd_per_gpu_hour=2.0)
    third = int(round(c / 3))
    assert out["capacity_blocks"] == {"hbm": third, "dram": third, "ssd": c - 2 * third}
    assert out["ttl_s_by_group"] == {g: None for g in GROUPS}
    assert out["expirations"] == 0
    assert_allclose(out["token_hit_ratio_replayed"], profile.token_hit_ratio, rtol=1e-12)
    assert out["token_hit_ratio_plan"] == profile.token_hit_ratio
    assert abs(out["relative_difference"]) <= 1e-12
    # the hit tokens over the trace's prompt tokens: at most the share the generator makes reusable
    assert 0 < out["token_hit_ratio_replayed"] < 1


def test_a_ttl_expires_blocks_the_capacity_would_keep(profile, small):
    """A TTL of 0 s on every group: blocks expire between turns, so fewer hits than the plan's and expirations
    counted; the relative difference is replayed ÷ plan − 1."""
    node = SimpleNamespace(need_gb=4.0, hbm_gb=1.0, dram_gb=2.0)
    out = replay_cache(profile, node, {g: 0.0 for g in GROUPS}, small[0], usd_per_gpu_hour=2.0)
    assert out["expirations"] > 0
    assert out["token_hit_ratio_replayed"] < profile.token_hit_ratio
    assert_allclose(out["relative_difference"], out["token_hit_ratio_replayed"] / profile.token_hit_ratio - 1,
                    rtol=1e-12)
    # only the history expiring (the personas kept): between the two
    part = replay_cache(profile, node, {**{g: None for g in GROUPS}, "history": 0.0}, small[0], usd_per_gpu_hour=2.0)
    assert out["token_hit_ratio_replayed"] <= part["token_hit_ratio_replayed"] <= profile.token_hit_ratio
    assert 0 < part["expirations"] <= out["expirations"]


def _hand_profile(capacity_blocks=10):
    """Three requests of 16-token blocks: blocks 1, 2 at 0 s; 1, 2, 3 at 10 s; 1, 4 at 20 s (32 + 48 + 32 = 112
    prompt tokens); the plan's hit ratio set at 0.5."""
    from model.plan.cache import CacheProfile
    from model.workload.trace import Trace

    trace = Trace("hand", np.array([0.0, 10.0, 20.0]), np.array([32, 48, 32]), np.array([5, 5, 5]),
                  np.array([0, 2, 5, 7]), np.array([1, 2, 1, 2, 3, 1, 4]), 16, group_names=("history",))
    return CacheProfile(3, 3, 112 / 3, 0.5, capacity_blocks, 0.5, 0.5, 16, 1.0, "session", trace)


@pytest.mark.parametrize("capacity, ttl, hit_tokens, expirations", [
    (10, None, 32 + 16, 0),       # room for all: the second request hits 1, 2; the third 1
    (10, 15.0, 32 + 16, 0),       # each block is reused 10 s after its last use: within 15 s
    (10, 5.0, 0, 2 + 3),          # past 5 s: at 10 s the first request's 2 blocks expire, at 20 s the second's 3
    (4, None, 32 + 16, 0),        # 4 blocks hold 1, 2, 3: the same hits
    (2, None, 32, 0),             # 2 blocks: 3 evicts 1 (least recently used), so the third request misses
])
def test_a_hand_replay(small, capacity, ttl, hit_tokens, expirations):
    """Hit tokens ÷ the 112 prompt tokens, set beside the plan's 0.5; capacity split 1 : 1 of 2 GB (HBM, DRAM)."""
    out = replay_cache(_hand_profile(capacity), SimpleNamespace(need_gb=2.0, hbm_gb=1.0, dram_gb=1.0),
                       {"history": ttl}, small[0], usd_per_gpu_hour=2.0)
    assert_allclose(out["token_hit_ratio_replayed"], hit_tokens / 112, rtol=1e-12, atol=1e-15)
    assert out["token_hit_ratio_plan"] == 0.5 and out["expirations"] == expirations
    assert_allclose(out["relative_difference"], hit_tokens / 112 / 0.5 - 1, rtol=1e-12)
    half = int(round(capacity / 2))
    assert out["capacity_blocks"] == {"hbm": half, "dram": half, "ssd": capacity - 2 * half}


def test_the_capacity_split_rounds_and_never_goes_below_zero(profile, small):
    """A node needing no GB is read as 1 GB; shares that round up past the whole leave no SSD (not a negative
    one). No hit ratio of the plan: no relative difference."""
    from dataclasses import replace

    p = replace(profile, capacity_blocks=3, token_hit_ratio=0.0)
    out = replay_cache(p, SimpleNamespace(need_gb=0.0, hbm_gb=0.5, dram_gb=0.5), {}, small[0], usd_per_gpu_hour=2.0)
    assert out["capacity_blocks"] == {"hbm": 2, "dram": 2, "ssd": 0}   # round(1.5) = 2 each (to even)
    assert out["relative_difference"] is None
    out = replay_cache(p, SimpleNamespace(need_gb=0.0, hbm_gb=0.25, dram_gb=0.25), {}, small[0], usd_per_gpu_hour=2.0)
    assert out["capacity_blocks"] == {"hbm": 1, "dram": 1, "ssd": 1}   # round(0.75) = 1
