"""model.plan.serving by hand: the M/G/1 wait's tail, the normal quantile, the TP options, the KV transfer between
pools, and the prefill, decode and aggregated pools of a toy deployment whose step time is a line in its tokens,
pairs, sequences and KV reads (so every expected value below is arithmetic written out here), the end-to-end
splits, the zero-load floors, the choice of pool and of serving."""
import math
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_allclose

import model.plan.serving as sv
from model.architectures import load_architecture
from model.checks import ParameterError
from model.hardware import load_gpu
from model.plan.serving import (Pool, Serving, aggregated_capacity, aggregated_floor, aggregated_pool,
                                aggregated_state, aggregated_wait_quantile, best_pool, decode_batch_limit,
                                decode_context, decode_pool, decode_tpot_at, deployments, e2e_splits,
                                expert_parallel_deployments, kv_transfer_bytes, kv_transfer_s, md1_wait_cdf,
                                md1_wait_quantile, normal_quantile, pool_deployment, prefill_pool, prefill_service_s,
                                prefill_ttft_at, prompt_chunks, shared_service_s, size_serving, tp_options,
                                wait_quantile, zero_load_floors)

ARCH = load_architecture("llama-2-7b")      # 32 layers, 32 KV heads of 128: 2 × 32 × 32 × 128 × 2 B = 524,288 B/token
GPU = load_gpu("a100-80gb")
NIC_BYTES_PER_S = 50e9                        # data/hardware.csv rdma-nic-400g: 50 GB/s; kv_transfer_latency_s = 0
Z95 = 1.6448536269514722                      # Φ⁻¹(0.95)


@dataclass(frozen=True)
class Toy:
    """A deployment whose step lasts 0.01 s + 1e-4 s per token + 1e-9 s per attention pair + 1e-3 s per sequence
    + 1e-8 s per KV token read, and whose decode step of b sequences at context c lasts 0.01 + 1e-3·b + 1e-7·b·c."""

    n_gpus: int = 1
    kv_capacity_tokens: float = 100_000.0
    attention_ranks: int = 1
    expert_parallel: int = 1
    nodes: int = 1
    arch: object = ARCH
    gpu: object = GPU
    kv_dtype: str = "fp16"
    _kv_grows: bool = True

    @property
    def kv_tensor_parallel(self):
        return self.n_gpus

    def step_time(self, tokens, pairs, seqs, read, written):
        return (0.01 + 1e-4 * np.asarray(tokens, float) + 1e-9 * np.asarray(pairs, float)
                + 1e-3 * np.asarray(seqs, float) + 1e-8 * np.asarray(read, float))

    def prefill_time(self, n, past=0):
        n = np.asarray(n, float)
        return self.step_time(n, n * past + n * (n + 1) / 2, 1.0, past, n)

    def decode_time(self, b, ctx):
        b = np.asarray(b, float)
        return 0.01 + 1e-3 * b + 1e-7 * b * np.asarray(ctx, float)


def toy_step(tokens, pairs, seqs, read):
    return 0.01 + 1e-4 * tokens + 1e-9 * pairs + 1e-3 * seqs + 1e-8 * read


# --- the queue's tail ----------------------------------------------------------------------------------------------
def test_wait_quantile_by_hand():
    """s = 2 s, ρ = 0.5, q = 0.95, cv² = 0.5: m = 2 × 1.5 / (2 × 0.5) = 3 s; wait = 3 × ln(0.5/0.05) = 6.907755 s."""
    assert_allclose(wait_quantile(2.0, 0.5, 0.95, 0.5), 3.0 * math.log(10.0), rtol=1e-12)
    assert wait_quantile(2.0, 0.05, 0.95, 0.5) == 0.0          # ρ ≤ 1 − q: the P95 does not wait
    assert wait_quantile(2.0, 0.04, 0.95, 0.5) == 0.0
    assert wait_quantile(2.0, 1.0, 0.95, 0.5) == math.inf
    assert_allclose(wait_quantile(2.0, 0.0501, 0.95, 0.0), 2.0 / (2 * 0.9499) * math.log(0.0501 / 0.05), rtol=1e-9)


def test_normal_quantile():
    assert_allclose(normal_quantile(0.95), Z95, rtol=1e-12)
    assert_allclose(normal_quantile(0.5), 0.0, atol=1e-15)


def test_tp_options():
    assert tp_options(8) == [1, 2, 4, 8]
    assert tp_options(6) == [1, 2, 4]
    assert tp_options(1) == [1]
    assert tp_options(0) == []


def test_deployments_and_expert_parallel_ones():
    """Llama 2 7B (13.5 GB of FP16 weights) fits one A100 80GB: every TP up to 4; a dense model has no
    expert-parallel replicas."""
    deps = deployments(ARCH, GPU, 4, "fp16", "fp16")
    assert [d.n_gpus for d in deps] == [1, 2, 4]
    assert expert_parallel_deployments(ARCH, GPU, 8, 2, "fp16", "fp16") == []
    big = load_architecture("llama-3.1-405b")     # 810 GB of FP16 weights: no TP of 80 GB A100s in a node holds them
    assert deployments(big, GPU, 8, "fp16", "fp16") == []
    moe = load_architecture("qwen3-30b-a3b")
    eps = expert_parallel_deployments(moe, load_gpu("h100-80gb"), 8, 2, "bf16", "bf16")
    assert [(d.n_gpus, d.expert_parallel, d.attention_ranks) for d in eps] == [(8, 8, 8), (16, 16, 16)]
    toy = Pool("decode", 16, 1.0, 1, 16, 1.0, math.nan, 0.1, 4.0, ep=16, nodes=2)
    assert pool_deployment(toy, eps) is eps[1]


# --- KV transfer between pools --------------------------------------------------------------------------------------
def test_kv_transfer_by_hand():
    """1,000 tokens × 524,288 B = 524,288,000 B; between TP 2 and TP 4 each GPU pair moves half, over one 50 GB/s NIC:
    262,144,000 / 50e9 = 5.24288 ms."""
    assert_allclose(kv_transfer_bytes(ARCH, 1000, "fp16"), 1000 * 524_288, rtol=1e-12)
    t = kv_transfer_s(ARCH, 1000, "fp16", Toy(n_gpus=2), Toy(n_gpus=4))
    assert_allclose(t, 1000 * 524_288 / 2 / NIC_BYTES_PER_S, rtol=1e-12)
    assert_allclose(kv_transfer_s(ARCH, 1000, "fp16", Toy(n_gpus=4), Toy(n_gpus=1)), 1000 * 524_288 / NIC_BYTES_PER_S,
                    rtol=1e-12)


# --- prefill pool ---------------------------------------------------------------------------------------------------
def test_prefill_service_by_hand():
    """p = 1,000 with 400 cached: 600 tokens after 400, pairs 600 × 400 + 600 × 601 / 2 = 420,300, read 400:
    0.01 + 0.06 + 0.0004203 + 0.001 + 0.000004 = 0.0714243 s. Fully cached: one token computed after 999."""
    assert_allclose(prefill_service_s(Toy(), 1000, 400), 0.0714243, rtol=1e-9)
    assert_allclose(prefill_service_s(Toy(), 1000, 5000), toy_step(1, 999 + 1, 1, 999), rtol=1e-12)
    # two prompts a step (attention data parallelism): 1,200 tokens, pairs 2 × 420,300, 2 sequences, read 800
    assert_allclose(prefill_service_s(Toy(attention_ranks=2), 1000, 400), toy_step(1200, 840_600, 2, 800),
                    rtol=1e-12)
    assert_allclose(prefill_service_s(Toy(attention_ranks=2), 1000, 400, prompts=1), 0.0714243, rtol=1e-9)


def test_prefill_pool_by_hand():
    """s = 0.0714243 s, t_x = 0.01 s, target 0.3 s, M/D/1: s + t_x + s/(2(1 − ρ))·ln(ρ/0.05) = 0.3 at the highest ρ;
    the replica carries ρ / s requests/s."""
    s, tx = 0.0714243, 0.01
    pool = prefill_pool(Toy(), 50.0, prompt_tokens=1000, cached_tokens=400, transfer_s=tx, ttft_s=0.3, q=0.95, cv2=0.0)
    rho = pool.busy_at_rate
    assert_allclose(s + tx + s / (2 * (1 - rho)) * math.log(rho / 0.05), 0.3, rtol=2e-3)
    assert_allclose(pool.ttft_p95_s, s + tx + s / (2 * (1 - rho)) * math.log(rho / 0.05), rtol=1e-9)
    assert_allclose(pool.replica_requests_per_s, rho / s, rtol=1e-9)
    assert pool.replicas == math.ceil(50.0 / (rho / s)) and pool.gpus == pool.replicas
    assert (pool.role, pool.tp, pool.batch) == ("prefill", 1, 0.0) and math.isnan(pool.tpot_p95_s)
    assert 0.55 < rho < 0.8
    # above it, a target an idle replica misses; a loose one lets ρ run to its top
    assert prefill_pool(Toy(), 50.0, prompt_tokens=1000, cached_tokens=400, transfer_s=tx, ttft_s=0.08, q=0.95,
                        cv2=0.0) is None
    loose = prefill_pool(Toy(), 50.0, prompt_tokens=1000, cached_tokens=400, transfer_s=tx, ttft_s=1e9, q=0.95,
                         cv2=0.0)                # even ρ = 1 − 1e-9 waits only s/2e-9·ln(20) ≈ 1e8 s
    assert loose.busy_at_rate == 1.0 - 1e-9
    # cv² = 1 doubles the wait: a lower ρ meets the same target
    mm1 = prefill_pool(Toy(), 50.0, prompt_tokens=1000, cached_tokens=400, transfer_s=tx, ttft_s=0.3, q=0.95, cv2=1.0)
    assert_allclose(s + tx + s / (1 - mm1.busy_at_rate) * math.log(mm1.busy_at_rate / 0.05), 0.3, rtol=2e-3)


def test_prefill_ttft_at_by_hand():
    s = 0.0714243
    rho = 7.0 * s
    assert_allclose(prefill_ttft_at(Toy(), 7.0, prompt_tokens=1000, cached_tokens=400, transfer_s=0.01, q=0.95,
                                    cv2=0.0), s + 0.01 + s / (2 * (1 - rho)) * math.log(rho / 0.05), rtol=1e-7)
    # two prompts a step: s = 0.01 + 0.12 + 0.0008406 + 0.002 + 0.000008 = 0.1328486 s, ρ = 7 × s / 2
    s2 = 0.1328486
    rho2 = 7.0 * s2 / 2
    assert_allclose(prefill_ttft_at(Toy(attention_ranks=2), 7.0, prompt_tokens=1000, cached_tokens=400,
                                    transfer_s=0.0, q=0.95, cv2=0.0),
                    s2 + s2 / (2 * (1 - rho2)) * math.log(rho2 / 0.05), rtol=1e-7)
    assert prefill_ttft_at(Toy(), 15.0, prompt_tokens=1000, cached_tokens=400, transfer_s=0.01, q=0.95,
                           cv2=0.0) == math.inf                     # ρ = 15 × 0.0714 ≥ 1


# --- decode pool ----------------------------------------------------------------------------------------------------
def test_decode_context_and_limit():
    assert decode_context(1000, 100) == 1050.0
    # 100,000 KV tokens ÷ (1,000 + 100/2) per sequence = 95.2: 95 sequences; max_batch 64 caps it
    assert decode_batch_limit(Toy(), 1000, 100, 256) == 95
    assert decode_batch_limit(Toy(), 1000, 100, 64) == 64
    assert decode_batch_limit(Toy(attention_ranks=2), 1000, 100, 40) == 80


# --- aggregated replica ---------------------------------------------------------------------------------------------
KW = dict(prompt_tokens=1000, cached_tokens=0, reply_tokens=100, chunk_tokens=512, max_batch=256)


def toy_chunk(b, k, before, ctx=1050.0):
    """A toy step of b decodes at context ctx and k prompt tokens after ``before`` of the prompt's."""
    return toy_step(b + k, b * (ctx + 1) + k * (before + k / 2 + 0.5), b, b * (ctx + 1) + (before if k else 0.0))


def test_aggregated_floor_by_hand():
    """Idle: 1,000 new tokens in 512-token steps: 512 after 0, then 488 after 512 (floor(1000/512) = 1 full step):
    own = 0.01 + 0.0512 + 1e-9·512·256.5 + 0 (no decodes) + 0 reads, + 0.01 + 0.0488 + 1e-9·488·(512 + 244.5) +
    1e-8·512."""
    own = (0.01 + 512e-4 + 1e-9 * 512 * 256.5) + (0.01 + 488e-4 + 1e-9 * 488 * 756.5 + 1e-8 * 512)
    ttft, tpot = aggregated_floor(Toy(), **KW, q=0.95)
    assert_allclose(ttft, own, rtol=1e-6)
    assert_allclose(tpot, 0.01, rtol=1e-5)                      # an idle replica's decode-only step


def test_aggregated_state_by_hand_at_one_rate():
    """At 2 requests/s the state must satisfy, with B its batch and room = 512 − B: own = the full step + the partial
    one (488 + B tokens ... as toy_chunk), packed = the full step + (rest/room) × a full step after it, S = own / (1 +
    2(own − packed)), ρ = 2S, chunk steps = (1 − ρ)·2 + ρ·1000/room, t̄ = 1/(2·chunk steps + (1 − ρ)/t_d) and
    B = 2 × 99 × t̄."""
    st = aggregated_state(Toy(), 2.0, **KW, q=0.95, cv2=0.0)
    b = st.batch
    room = 512 - b
    full, rest = 1, 1000 - room
    own = toy_chunk(b, room, 0.0) + toy_chunk(b, rest, room)
    packed = toy_chunk(b, room, 0.0) + rest / room * toy_chunk(b, room, room)
    s = own / (1 + 2 * (own - packed))
    rho = 2 * s
    t_d = toy_chunk(b, 0, 0.0)
    steps = (1 - rho) * 2 + rho * 1000 / room
    t_mean = 1 / (2 * steps + (1 - rho) / t_d)
    assert st.feasible
    assert_allclose([st.own_s, st.service_s, st.busy, st.step_s], [own, s, rho, t_mean], rtol=1e-7)
    assert_allclose(b, 2 * 99 * t_mean, rtol=1e-7)
    assert_allclose(st.prefill_tokens_per_step, 2 * 1000 * t_mean, rtol=1e-9)
    t_c = packed / (1000 / room)
    factor = 0.27                                   # data/parameters/plan.csv plan_chunk_tpot_factor at q = 0.95
    assert_allclose(st.tpot_p95_s, min(t_c, t_mean + factor * rho / (1 - rho) * (t_c - t_mean)), rtol=1e-7)
    # while prompts queue every step is a chunk step: B_w = 2 × 99 × t_c(B_w), iterated by hand from B; there the
    # room is below 500, so the 1,000 tokens take two full steps and a partial third
    def chunks(bb):
        room_b = 512 - bb
        full_b = int(1000 // room_b)
        fulls = sum(toy_chunk(bb, room_b, j * room_b) for j in range(full_b))
        rest_b = 1000 - full_b * room_b
        return (fulls + toy_chunk(bb, rest_b, full_b * room_b),
                fulls + rest_b / room_b * toy_chunk(bb, room_b, full_b * room_b), room_b)

    b_w = b
    for _ in range(200):
        _, packed_w, room_w = chunks(b_w)
        b_w = 2 * 99 * packed_w / (1000 / room_w)
    own_w, s_w, room_w = chunks(b_w)
    assert int(1000 // room_w) == 2
    running = 1 - math.exp(-b)
    assert b_w > b
    assert_allclose([st.wait_batch, st.wait_own_s, st.wait_service_s, st.wait_busy, st.decode_step_s, st.running],
                    [b_w, own_w, s_w, 2 * s_w, t_d, running], rtol=1e-7)
    # TTFT = own steps at B_w + the P95 of (M/D/1 wait of service S_w at ρ_w) + (with P = running) U(0, t_d)
    wait = erlang_md1_cdf_with_rest(s_w, 2 * s_w, t_d, running)
    ttft = own_w + bisect_quantile(wait, 0.95, 0.0, 10.0)
    assert_allclose(st.ttft_p95_s, ttft, rtol=2e-3)
    assert own_w + md1_wait_quantile(s_w, 2 * s_w, 0.95) < st.ttft_p95_s < own_w + md1_wait_quantile(s_w, 2 * s_w,
                                                                                                      0.95) + t_d


def erlang_md1_cdf(t, s, rho):
    """Erlang's M/D/1 waiting time law, P(W ≤ t) = (1 − ρ) Σ_{k=0}^{⌊t/S⌋} (λ(kS − t))^k / k! · e^{λ(t − kS)}
    (alternating; fine for the few services of these tests)."""
    if t < 0:
        return 0.0
    lam = rho / s
    return (1 - rho) * sum((lam * (k * s - t)) ** k / math.factorial(k) * math.exp(lam * (t - k * s))
                           for k in range(int(t // s) + 1))


def erlang_md1_cdf_with_rest(s, rho, step, running, points=4000):
    """P(W + R ≤ t), R = 0 with probability 1 − running, else uniform on (0, step): a fine midpoint rule."""
    u = (np.arange(points) + 0.5) / points * step
    return lambda t: ((1 - running) * erlang_md1_cdf(t, s, rho)
                      + running * float(np.mean([erlang_md1_cdf(t - x, s, rho) for x in u])))


def bisect_quantile(cdf, q, lo, hi):
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return hi


def test_aggregated_state_at_the_edges():
    # a KV of 5 sequences: at 4 requests/s the batch, 4 × 99 × t̄ with t̄ ≥ 0.017 s, outgrows it
    st = aggregated_state(Toy(kv_capacity_tokens=5 * 1050.0), 4.0, **KW, q=0.95, cv2=0.0)
    assert not st.feasible and st.ttft_p95_s == math.inf and st.tpot_p95_s == math.inf and math.isnan(st.step_s)
    # prompts beyond the queue's capacity (1 / S ≈ 8.6 requests/s)
    assert not aggregated_state(Toy(), 9.0, **KW, q=0.95, cv2=0.0).feasible
    # a chunk smaller than the batch leaves no room
    assert not aggregated_state(Toy(), 2.0, **{**KW, "chunk_tokens": 5}, q=0.95, cv2=0.0).feasible
    # a prompt that fits one step: no full step, the partial one is the prompt
    st = aggregated_state(Toy(), 1e-9, **{**KW, "prompt_tokens": 300}, q=0.95, cv2=0.0)
    assert_allclose(st.own_s, 0.01 + 0.03 + 1e-9 * 300 * 150.5, rtol=1e-6)
    # a quantile below the fitted 0.95 scales the TPOT term by z_q / z_0.95: at q = 0.5 it vanishes
    half = aggregated_state(Toy(), 2.0, **KW, q=0.5, cv2=0.0)
    assert_allclose(half.tpot_p95_s, half.step_s, rtol=1e-12)


def test_aggregated_capacity_and_pool_by_hand():
    """The capacity is where the queue saturates: just below it the state exists, just above it not. The pool runs at
    the highest rate meeting both targets: there P(TTFT > target) ≤ 5%, and 1% above it one of the targets fails."""
    cap = aggregated_capacity(Toy(), **KW)
    assert aggregated_state(Toy(), cap * 0.999, **KW, q=0.95, cv2=0.0).feasible
    assert not aggregated_state(Toy(), cap * 1.003, **KW, q=0.95, cv2=0.0).feasible
    assert aggregated_capacity(Toy(kv_capacity_tokens=500.0), **KW) == 0.0
    pool = aggregated_pool(Toy(), 100.0, **KW, ttft_s=0.6, tpot_s=1.0, q=0.95, cv2=0.0)
    r = pool.replica_requests_per_s
    at = aggregated_state(Toy(), r, **KW, q=0.95, cv2=0.0)
    above = aggregated_state(Toy(), r * 1.01, **KW, q=0.95, cv2=0.0)
    assert at.ttft_p95_s <= 0.6 * (1 + 2e-4) and above.ttft_p95_s > 0.6
    # the rate search's test: at most 5% of prompts wait (and finish the step in progress) longer than the target
    # less their own steps
    for st, meets in ((at, True), (above, False)):
        wait = erlang_md1_cdf_with_rest(st.wait_service_s, st.wait_busy, st.decode_step_s, st.running, points=400)
        assert (wait(0.6 - st.wait_own_s) >= 0.95) is meets
    assert_allclose([pool.ttft_p95_s, pool.tpot_p95_s, pool.batch], [at.ttft_p95_s, at.tpot_p95_s, at.batch])
    assert pool.replicas == math.ceil(100.0 / r) and pool.role == "aggregated"
    # a TPOT target binds instead
    tight = aggregated_pool(Toy(), 100.0, **KW, ttft_s=100.0, tpot_s=0.03, q=0.95, cv2=0.0)
    assert tight.tpot_p95_s <= 0.03
    assert aggregated_state(Toy(), tight.replica_requests_per_s * 1.01, **KW, q=0.95, cv2=0.0).tpot_p95_s > 0.03
    # targets an idle replica misses
    assert aggregated_pool(Toy(), 1.0, **KW, ttft_s=0.1, tpot_s=1.0, q=0.95, cv2=0.0) is None
    assert aggregated_pool(Toy(), 1.0, **KW, ttft_s=10.0, tpot_s=0.009, q=0.95, cv2=0.0) is None
    # cv² widens the tail: a lower rate meets the same target
    wide = aggregated_pool(Toy(), 100.0, **KW, ttft_s=0.6, tpot_s=1.0, q=0.95, cv2=1.0)
    assert wide.replica_requests_per_s < r


def test_aggregated_wait_is_exact_md1_at_cv2_0_else_the_exponential_tail():
    """cv² = 0: the FIFO M/D/1 wait. cv² = 1 at ρ = 0.7, S = 0.3 s: m = 0.3·2/(2·0.3) = 1 s, P95 = ln(0.7/0.05) =
    ln 14 = 2.639057 s."""
    assert aggregated_wait_quantile(0.3, 0.7, 0.95, 0.0) == md1_wait_quantile(0.3, 0.7, 0.95)
    assert_allclose(aggregated_wait_quantile(0.3, 0.7, 0.95, 1.0), 2.639057, rtol=1e-6)


# --- pools, choice and floors -------------------------------------------------------------------------------------
def pool(role, tp, gpus, busy):
    return Pool(role, tp, 1.0, gpus // tp, gpus, busy, 1.0, 0.1, 2.0)


def test_pool_properties_and_best_pool():
    p = Pool("prefill", 4, 2.0, 3, 12, 9.0, 1.0, math.nan, 0.0, busy_at_rate=0.5)
    assert_allclose([p.load_share, p.utilisation], [0.75, 0.375], rtol=1e-12)
    assert Pool("decode", 4, 2.0, 0, 0, 0.0, 1.0, 1.0, 0.0).load_share == 0.0
    d = p.as_dict()
    assert (d["role"], d["tp"], d["replicas"], d["gpus"], d["load_share"], d["utilisation"]) == \
        ("prefill", 4, 3, 12, 0.75, 0.375)
    a, b, c = pool("decode", 4, 8, 7.0), pool("decode", 2, 8, 6.0), pool("decode", 1, 8, 6.0)
    assert best_pool([a, None, b]) is b                          # fewer busy GPUs at equal GPUs
    assert best_pool([b, c]) is c                                 # then the smaller TP
    assert best_pool([pool("decode", 8, 16, 1.0), a]) is a
    assert best_pool([None, None]) is None and best_pool([]) is None


def test_serving_properties():
    agg, pre, dec = pool("aggregated", 4, 12, 10.0), pool("prefill", 4, 4, 3.0), pool("decode", 2, 6, 5.0)
    s = Serving(agg, pre, dec, 1.0, 0.1, True, {})
    assert s.pools == [pre, dec] and s.gpus == 10 and s.disaggregated_gpus == 10 and s.aggregated_gpus == 12
    s = Serving(agg, pre, None, 1.0, 0.1, False, {})
    assert s.pools == [agg] and s.gpus == 12 and s.disaggregated_gpus == math.inf
    assert Serving(None, pre, dec, 1.0, 0.1, True, {}).aggregated_gpus == math.inf


def test_e2e_splits_by_hand():
    """Floors 0.5 s and 0.02 s, 101 tokens: floor = 0.5 + 100 × 0.02 = 2.5 s; target 4.5 s leaves 2 s of slack, shared
    at 1/4, 2/4, 3/4 with 3 points: (0.5 + 0.5, 0.02 + 1.5/100), (1.5, 0.03), (2.0, 0.025)."""
    out = e2e_splits(4.5, ttft_floor_s=0.5, tpot_floor_s=0.02, reply_tokens=101, points=3)
    assert_allclose(out, [(1.0, 0.035), (1.5, 0.03), (2.0, 0.025)], rtol=1e-12)
    assert e2e_splits(4.5, ttft_floor_s=0.5, tpot_floor_s=0.02, reply_tokens=1, points=3) == [(4.5, 4.5)]
    with pytest.raises(ParameterError, match=r"e2e_p95_s.*> 2\.5 s.*0\.5 s \+ 100 × .*0\.02 s"):
        e2e_splits(2.5, ttft_floor_s=0.5, tpot_floor_s=0.02, reply_tokens=101, points=3)


def test_zero_load_floors_by_hand():
    """Toy deployments of TP 1 and 2 (the same step time): the aggregated replica's idle prompt (own steps, as
    test_aggregated_floor_by_hand) against the prefill replica's one step of 1,000 tokens plus the KV transfer
    (524,288,000 B over one NIC at TP 1, half at TP 2); one sequence's decode step 0.01 + 1e-3 + 1.05e-4."""
    own = (0.01 + 512e-4 + 1e-9 * 512 * 256.5) + (0.01 + 488e-4 + 1e-9 * 488 * 756.5 + 1e-8 * 512)
    pre = toy_step(1000, 1000 * 1001 / 2, 1, 0) + 1000 * 524_288 / 2 / NIC_BYTES_PER_S
    f = zero_load_floors([Toy(), Toy(n_gpus=2)], **KW, q=0.95, kv_dtype="fp16")
    assert_allclose(f["ttft_p95_s"], min(own, pre), rtol=1e-6)
    assert_allclose(f["tpot_p95_s"], 0.01 + 1e-3 + 1.05e-4, rtol=1e-9)
    # attention data parallelism: no aggregated option, the prefill one alone
    f = zero_load_floors([Toy(attention_ranks=2)], **KW, q=0.95, kv_dtype="fp16")
    assert_allclose(f["ttft_p95_s"], toy_step(1000, 1000 * 1001 / 2, 1, 0) + 1000 * 524_288 / NIC_BYTES_PER_S,
                    rtol=1e-9)
    # no KV room for a sequence: no TPOT floor
    assert zero_load_floors([Toy(kv_capacity_tokens=500.0)], **KW, q=0.95, kv_dtype="fp16")["tpot_p95_s"] == math.inf


SIZE = dict(prompt_tokens=1000, cached_tokens=0, reply_tokens=100, chunk_tokens=512, max_batch=256, q=0.95, cv2=0.0,
            prefill_cv2=0.0)


def test_size_serving_chooses_the_fewer_gpus():
    deps = [Toy(), Toy(n_gpus=2)]
    s = size_serving(deps, 40.0, ttft_s=0.6, tpot_s=0.05, **SIZE)
    agg, pre, dec = s.aggregated, s.prefill, s.decode
    assert agg is not None and pre is not None and dec is not None
    assert s.disaggregated == (pre.gpus + dec.gpus < agg.gpus)
    assert_allclose(s.transfer_bytes, 1000 * 524_288, rtol=1e-12)
    assert_allclose(s.transfer_s, 1000 * 524_288 / min(pre.tp, dec.tp) / NIC_BYTES_PER_S, rtol=1e-12)
    assert s.floors == zero_load_floors(deps, **{k: v for k, v in SIZE.items() if k not in ("cv2", "prefill_cv2")},
                                        kv_dtype="fp16")
    forced = size_serving(deps, 40.0, ttft_s=0.6, tpot_s=0.05, **SIZE, mode="aggregated")
    assert not forced.disaggregated and forced.pools == [agg]
    forced = size_serving(deps, 40.0, ttft_s=0.6, tpot_s=0.05, **SIZE, mode="disaggregated")
    assert forced.disaggregated and forced.pools == [pre, dec]
    # TP 1 and TP 2 toys step alike: the smaller TP needs fewer GPUs in every pool
    assert (agg.tp, pre.tp, dec.tp) == (1, 1, 1)


def test_size_serving_refusals_and_one_way_only():
    deps = [Toy()]
    # 1-token steps: the aggregated replica prefills 1,000 steps of ≥ 0.0101 s (> 10 s), the prefill pool 0.122 s
    only = size_serving(deps, 10.0, ttft_s=1.0, tpot_s=0.05, **{**SIZE, "chunk_tokens": 1})
    assert only.aggregated is None and only.disaggregated and only.pools == [only.prefill, only.decode]
    with pytest.raises(ParameterError, match="disaggregation.*auto or disaggregated: no aggregated"):
        size_serving(deps, 10.0, ttft_s=1.0, tpot_s=0.05, **{**SIZE, "chunk_tokens": 1}, mode="aggregated")
    # TPOT 0.0105 s: one sequence decoding alone takes 0.011105 s on a decode replica, while an aggregated replica at
    # a small rate steps its few decodes in about 0.01 s
    agg_only = size_serving(deps, 0.5, ttft_s=1.0, tpot_s=0.0105, **SIZE)
    assert agg_only.decode is None and not agg_only.disaggregated and math.isnan(agg_only.transfer_s)
    with pytest.raises(ParameterError, match="disaggregation.*auto or aggregated: no prefill/decode"):
        size_serving(deps, 0.5, ttft_s=1.0, tpot_s=0.0105, **SIZE, mode="disaggregated")
    # below the floors: TTFT min(0.1205 s aggregated, 0.1220 s prefill + transfer); TPOT one sequence alone, 0.011105 s
    with pytest.raises(ParameterError, match=r"ttft_p95_s.*>= 0\.121 s, the zero-load floor"):
        size_serving(deps, 10.0, ttft_s=0.05, tpot_s=0.05, **SIZE)
    with pytest.raises(ParameterError, match=r"tpot_p95_s.*>= 0\.0111 s, the zero-load floor"):
        size_serving(deps, 10.0, ttft_s=5.0, tpot_s=0.005, **SIZE)


# --- edges the cases above do not reach -----------------------------------------------------------------------------
def test_aggregated_floor_with_two_full_steps_a_whole_last_one_and_a_cache():
    """1,200 tokens: 512 after 0, 512 after 512, 176 after 1,024 (reads 512 and 1,024 stored tokens). 1,024 tokens:
    two full steps and no partial one. 513 tokens: a last step of one token after 512. 1,000 tokens with 300 cached:
    512 after 300, 188 after 812."""
    def floor(p, c=0):
        return aggregated_floor(Toy(), prompt_tokens=p, cached_tokens=c, reply_tokens=100, chunk_tokens=512,
                                max_batch=256, q=0.95)[0]
    full0 = 0.01 + 512e-4 + 1e-9 * 512 * 256.5
    full1 = 0.01 + 512e-4 + 1e-9 * 512 * (512 + 256.5) + 1e-8 * 512
    assert_allclose(floor(1200), full0 + full1 + (0.01 + 176e-4 + 1e-9 * 176 * (1024 + 88.5) + 1e-8 * 1024),
                    rtol=1e-6)
    assert_allclose(floor(1024), full0 + full1, rtol=1e-6)
    assert_allclose(floor(513), full0 + (0.01 + 1e-4 + 1e-9 * 1 * (512 + 1.0) + 1e-8 * 512), rtol=1e-6)
    assert_allclose(floor(1000, 300), (0.01 + 512e-4 + 1e-9 * 512 * (300 + 256.5) + 1e-8 * 300)
                    + (0.01 + 188e-4 + 1e-9 * 188 * (812 + 94.5) + 1e-8 * 812), rtol=1e-6)
    # all cached: one token computed after 999
    assert_allclose(floor(1000, 5000), 0.01 + 1e-4 + 1e-9 * 1000.0 + 1e-8 * 999, rtol=1e-6)


def test_aggregated_floor_on_a_real_deployment_charges_the_written_kv():
    """The step's arguments as the step-time model takes them (written = the step's tokens): an idle Llama 2 7B
    replica on one A100, 1,000 tokens in steps of 512 and 488."""
    from model.serving.step_time import deployment

    dep = deployment("llama-2-7b", "a100-80gb", 1)
    own = float(dep.step_time(512.0, 512 * 256.5, 0.0, 0.0, 512.0)) \
        + float(dep.step_time(488.0, 488 * 756.5, 0.0, 512.0, 488.0))
    assert_allclose(aggregated_floor(dep, **KW, q=0.95)[0], own, rtol=1e-6)


def test_prefill_service_on_sliding_window_layers():
    """Gemma 3 27B (sliding layers hold at most their window): two prompts a step of 1,000 tokens after 600 cached
    attend the pairs and read the stored tokens model.kv.size counts, twice."""
    from model.kv.size import prefill_pairs_per_layer
    from model.serving.step_time import deployment

    dep = deployment("gemma-3-27b", "h100-80gb", 1)
    pairs = float(prefill_pairs_per_layer(dep.arch, 400, 600)) * 2
    read = float(dep.kv_tokens_held(600)) * 2
    assert_allclose(prefill_service_s(dep, 1000, 600, prompts=2), float(dep.step_time(800.0, pairs, 2.0, read, 800.0)),
                    rtol=1e-12)
    # nothing cached: nothing read
    pairs0 = float(prefill_pairs_per_layer(dep.arch, 1000, 0)) * 2
    assert_allclose(prefill_service_s(dep, 1000, 0, prompts=2), float(dep.step_time(2000.0, pairs0, 2.0, 0.0, 2000.0)),
                    rtol=1e-12)


def test_pool_fields_and_rounding():
    """A decode pool of a toy with expert parallelism 2 over 3 nodes: the pool keeps them; 3 × its rate of demand is
    exactly 3 replicas; half a request/s still needs one, none needs none; busy GPUs = demand ÷ rate × GPUs."""
    toy = Toy(n_gpus=2, expert_parallel=2, nodes=3)
    base = decode_pool(toy, 1.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05, max_batch=256, q=0.95)
    r = base.replica_requests_per_s
    three = decode_pool(toy, 3 * r, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05, max_batch=256, q=0.95)
    assert (three.replicas, three.gpus, three.ep, three.nodes, three.busy_at_rate) == (3, 6, 2, 3, 1.0)
    assert_allclose(three.busy_gpus, 6.0, rtol=1e-12)
    half = decode_pool(toy, 0.5, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05, max_batch=256, q=0.95)
    assert half.replicas == 1 and half.gpus == 2
    assert_allclose(half.busy_gpus, 0.5 / r * 2, rtol=1e-12)
    none = decode_pool(toy, 0.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05, max_batch=256, q=0.95)
    assert (none.replicas, none.gpus, none.busy_gpus) == (0, 0, 0.0)
    one = decode_pool(toy, 1.0, prompt_tokens=1000, reply_tokens=1, tpot_s=0.05, max_batch=256, q=0.95)
    assert one == Pool("decode", 2, math.inf, 0, 0, 0.0, one.ttft_p95_s, one.tpot_p95_s, 0.0, 1.0, 2, 3)
    assert math.isnan(one.ttft_p95_s)
    # a KV of exactly one sequence still decodes, one at a time
    single = decode_pool(Toy(kv_capacity_tokens=1050.0), 1.0, prompt_tokens=1000, reply_tokens=100, tpot_s=0.05,
                         max_batch=256, q=0.95)
    assert 0.0 < single.batch < 1.0 and single.tpot_p95_s <= 0.05     # one running, others waiting for it
    # prefill with two prompts a step: a replica carries ρ × 2 / s
    pre = prefill_pool(Toy(attention_ranks=2), 10.0, prompt_tokens=1000, cached_tokens=400, transfer_s=0.0,
                       ttft_s=0.5, q=0.95, cv2=0.0)
    assert_allclose(pre.replica_requests_per_s, pre.busy_at_rate * 2 / 0.1328486, rtol=1e-6)


def test_pool_as_dict_keys():
    p = Pool("prefill", 4, 2.0, 3, 12, 9.0, 1.5, 0.1, 7.0, busy_at_rate=0.5, ep=2, nodes=3)
    assert p.as_dict() == {"role": "prefill", "tp": 4, "replica_requests_per_s": 2.0, "replicas": 3, "gpus": 12,
                           "busy_gpus": 9.0, "load_share": 0.75, "utilisation": 0.375, "ttft_p95_s": 1.5,
                           "tpot_p95_s": 0.1, "batch": 7.0, "ep": 2, "nodes": 3}
    deps = [Toy(n_gpus=8), Toy(n_gpus=8, expert_parallel=8)]
    assert pool_deployment(p.__class__("decode", 8, 1.0, 1, 8, 1.0, 1.0, 1.0, 1.0, ep=8), deps) is deps[1]


def test_aggregated_state_infeasible_fields_and_cv2():
    st = aggregated_state(Toy(kv_capacity_tokens=5 * 1050.0), 4.0, **KW, q=0.95, cv2=0.0)
    assert st.feasible is False and math.isnan(st.batch) and math.isnan(st.prefill_tokens_per_step)
    assert math.isnan(st.busy) and math.isnan(st.service_s) and math.isnan(st.own_s)
    narrow = aggregated_state(Toy(), 4.0, **KW, q=0.95, cv2=0.0)
    wide = aggregated_state(Toy(), 4.0, **KW, q=0.95, cv2=1.0)
    assert wide.ttft_p95_s > narrow.ttft_p95_s * 1.05 and wide.busy == narrow.busy
    cap = aggregated_capacity(Toy(), **KW)
    for over in (1.05, 1.5):
        assert aggregated_state(Toy(), cap * over, **KW, q=0.95, cv2=0.0).feasible is False


def test_deployments_keep_the_weight_format_and_skip_what_does_not_fit():
    """Llama 2 70B: 138 GB of FP16 weights fit no single 80 GB A100, but TP 8 holds them; in INT4 (35 GB) one GPU
    does. DeepSeek-V3's 671 GB of FP8 weights fit no node of 8 × H800 80GB (640 GB), but two nodes."""
    big = load_architecture("llama-2-70b")
    fp16 = deployments(big, GPU, 8, "fp16", "fp16")
    assert 1 not in [d.n_gpus for d in fp16] and 8 in [d.n_gpus for d in fp16]
    assert {d.weight_dtype for d in fp16} == {"fp16"}
    assert {d.kv_dtype for d in deployments(big, GPU, 8, "fp16", "fp8")} == {"fp8"}
    assert [d.n_gpus for d in deployments(big, GPU, 8, "int4", "fp16")][0] == 1
    ds = expert_parallel_deployments(load_architecture("deepseek-v3"), load_gpu("h800-80gb"), 8, 2, "fp8", "bf16")
    assert [(d.n_gpus, d.expert_parallel, d.weight_dtype, d.nodes) for d in ds] == [(16, 16, "fp8", 2)]
    assert ds[0].attention_ranks == 16 and ds[0].kv_dtype == "bf16"


def test_kv_transfer_in_the_kv_format():
    """FP8 KV: 1 byte an element, half of FP16's 524,288 B a token."""
    assert_allclose(kv_transfer_bytes(ARCH, 1000, "fp8"), 1000 * 262_144, rtol=1e-12)


def test_size_serving_messages_and_the_transfer_to_the_decode_replica():
    """Toys of TP 1 and 2 (the same steps): the decode pool is TP 1, so a TP-2 prefill replica hands its KV over at TP
    min(2, 1) = 1, 10.49 ms, though its own floor (to a replica like it) moves half, 5.24 ms: floor 0.1115005 + 0.0052429
    = 0.116743 s. At 0.119 s no pool meets it (aggregated: 0.1205 s of own steps; prefill: 0.1115 + 0.0104858)."""
    deps = [Toy(n_gpus=2), Toy()]
    with pytest.raises(ParameterError) as e:
        size_serving(deps, 10.0, ttft_s=0.119, tpot_s=0.05, **SIZE)
    assert str(e.value) == ("ttft_p95_s=0.119 is not allowed: ttft_p95_s must be a target some replica meets "
                            "together with tpot_p95_s (floors: TTFT 0.117 s, TPOT 0.0111 s)")
    with pytest.raises(ParameterError) as e:
        size_serving([Toy()], 10.0, ttft_s=0.05, tpot_s=0.05, **SIZE)
    assert str(e.value) == ("ttft_p95_s=0.05 is not allowed: ttft_p95_s must be >= 0.121 s, the zero-load floor "
                            "(an idle replica's prefill of the prompt)")
    with pytest.raises(ParameterError) as e:
        size_serving([Toy()], 10.0, ttft_s=5.0, tpot_s=0.005, **SIZE)
    assert str(e.value) == ("tpot_p95_s=0.005 is not allowed: tpot_p95_s must be >= 0.0111 s, the zero-load floor "
                            "(one sequence decoding alone)")
    with pytest.raises(ParameterError) as e:
        size_serving([Toy()], 10.0, ttft_s=1.0, tpot_s=0.05, **{**SIZE, "chunk_tokens": 1}, mode="aggregated")
    assert str(e.value) == ("disaggregation='aggregated' is not allowed: disaggregation must be auto or disaggregated: "
                            "no aggregated replica meets the targets")
    with pytest.raises(ParameterError) as e:
        size_serving([Toy()], 0.5, ttft_s=1.0, tpot_s=0.0105, **SIZE, mode="disaggregated")
    assert str(e.value) == ("disaggregation='disaggregated' is not allowed: disaggregation must be auto or aggregated: "
                            "no prefill/decode pools meet the targets")
    with pytest.raises(ParameterError) as e:
        e2e_splits(2.5, ttft_floor_s=0.5, tpot_floor_s=0.02, reply_tokens=101, points=3)
    assert str(e.value).startswith("e2e_p95_s=2.5 is not allowed: e2e_p95_s must be > 2.5 s, the zero-load floor")


def test_zero_load_floors_take_the_lowest_over_every_option():
    """In either order the TP-2 prefill replica's 0.116743 s is the lowest floor; a KV of exactly one sequence still
    has a TPOT floor."""
    for deps in ([Toy(n_gpus=2), Toy()], [Toy(), Toy(n_gpus=2)]):
        f = zero_load_floors(deps, **KW, q=0.95, kv_dtype="fp16")
        assert_allclose(f["ttft_p95_s"], 0.1115005 + 1000 * 524_288 / 2 / NIC_BYTES_PER_S, rtol=1e-6)
    f = zero_load_floors([Toy(kv_capacity_tokens=1050.0)], **KW, q=0.95, kv_dtype="fp16")
    assert_allclose(f["tpot_p95_s"], 0.011105, rtol=1e-9)
