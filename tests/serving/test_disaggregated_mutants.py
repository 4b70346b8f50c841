"""model.serving.disaggregated by hand: event traces of a few requests on replicas whose step times are simple
linear forms, so every prefill step, transfer, decode step and finish below is worked out with a pencil;
dispatch to the least-loaded replicas, the prefill token budget and batch limit, decode admission by batch slots
and KV blocks, a cached prefix, the pools' checks, utilisation and summary."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.checks import ParameterError
from model.serving.disaggregated import Pools, simulate_disaggregated, transfer_seconds
from model.serving.kv_transfer import Link
from model.serving.simulation import Scheduler
from model.workload.requests import Workload

# Llama 2 13B (config.json: 40 layers, 40 KV heads of 128), FP16 KV: 2 × 40 × 40 × 128 × 2 = 819,200 bytes per
# token; a link of 819,200,000 bytes/s moves one token's KV in 1 ms, after a latency of 2 ms.
ARCH = load_architecture("llama-2-13b")
LINK = Link("nic", 819_200_000.0, 0.002)


class Replica:
    """Step times (s) as linear forms:

    - a prefill step: 1e-3 tokens + 1e-6 attention pairs + 1e-2 sequences + 1e-4 cached tokens read
      + 1e-5 tokens written;
    - a decode step of B sequences over kv tokens: max(0.02 B + 1e-3 kv, 0.03 + 1e-5 kv) (the compute line
      wins above 10 tokens for one sequence).
    """

    def __init__(self, kv_capacity_tokens=10_000, n_gpus=1, kv_dtype="fp16", arch=ARCH):
        self.kv_capacity_tokens = kv_capacity_tokens
        self.n_gpus = n_gpus
        self.kv_dtype = kv_dtype
        self.arch = arch

    def step_time(self, tokens, pairs, sequences, read, written):
        return 1e-3 * tokens + 1e-6 * pairs + 1e-2 * sequences + 1e-4 * read + 1e-5 * written

    def decode_coefficients(self, b):
        return 0.02 * b, 1e-3, 0.03, 1e-5


def prefill(prompts, cached=None):
    """Hand form of one prefill step of these prompts (cached prefix tokens read, not computed)."""
    cached = cached or [0] * len(prompts)
    w = [p - c for p, c in zip(prompts, cached)]
    pairs = sum(x * c + x * (x + 1) / 2 for x, c in zip(w, cached))
    return 1e-3 * sum(w) + 1e-6 * pairs + 1e-2 * len(w) + 1e-4 * sum(cached) + 1e-5 * sum(w)


def decode(b, kv):
    return max(0.02 * b + 1e-3 * kv, 0.03 + 1e-5 * kv)


def xfer(p):
    return 0.002 + 1e-3 * p


def pools(P=1, D=1, prefill_scheduler=Scheduler("continuous", block_tokens=16),
          decode_scheduler=Scheduler("continuous", block_tokens=16), p=None, d=None):
    return Pools(p or Replica(), d or Replica(), P, D, LINK, prefill_scheduler, decode_scheduler)


def wl(arrival, prompt, output, cached=None):
    return Workload(np.asarray(arrival, float), np.asarray(prompt), np.asarray(output),
                    cached_tokens=None if cached is None else np.asarray(cached))


def test_one_request_alone():
    """Arrives at 1 s, 10 → 3 tokens: prefill, a 12 ms transfer, then two decode steps over 11 and 12 tokens
    (the second one's sequence holds its first decoded token too)."""
    res = simulate_disaggregated(pools(), wl([1.0], [10], [3]))
    r = res.requests.iloc[0]
    p_end = 1.0 + prefill([10])
    first = p_end + xfer(10)
    finish = first + decode(1, 11) + decode(1, 12)
    assert_allclose([r["prefill_end_s"], r["transfer_s"], r["first_token_s"], r["decode_start_s"], r["finish_s"]],
                    [p_end, xfer(10), first, first, finish], rtol=1e-12)
    assert (r["prefill_replica"], r["decode_replica"]) == (0, 0)
    assert list(res.requests.columns) == ["arrival_s", "prompt_tokens", "output_tokens", "prefill_replica",
                                          "prefill_end_s", "transfer_s", "first_token_s", "decode_replica",
                                          "decode_start_s", "finish_s"]
    assert_allclose(res.prefill_busy_s, [prefill([10])], rtol=1e-12)
    assert_allclose(res.decode_busy_s, [decode(1, 11) + decode(1, 12)], rtol=1e-12)
    assert_allclose(res.link_busy_s, [xfer(10)], rtol=1e-12)
    assert (res.prefill_steps, res.decode_steps) == (1, 2)
    assert_allclose([res.end_s, res.span_s], [finish, finish - 1.0], rtol=1e-12)
    assert_allclose(res.utilisation("prefill"), prefill([10]) / (finish - 1.0), rtol=1e-12)
    assert_allclose(res.utilisation("link"), xfer(10) / (finish - 1.0), rtol=1e-12)
    assert_allclose(res.utilisation("decode"), (decode(1, 11) + decode(1, 12)) / (finish - 1.0), rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^pool='gpu' is not allowed: pool must be prefill, decode or link$"):
        res.utilisation("gpu")
    assert_allclose(transfer_seconds(pools(), 10), xfer(10), rtol=1e-12)


def test_a_short_prompt_decodes_on_the_memory_line():
    """5 → 2 tokens: one decode step over 6 tokens, max(0.026, 0.03006) = the memory line."""
    res = simulate_disaggregated(pools(), wl([0.0], [5], [2]))
    assert_allclose(res.requests["finish_s"].iloc[0], prefill([5]) + xfer(5) + 0.03006, rtol=1e-12)


def test_a_one_token_reply_ends_with_its_transfer():
    res = simulate_disaggregated(pools(), wl([0.0], [10], [1]))
    r = res.requests.iloc[0]
    assert_allclose(r["finish_s"], prefill([10]) + xfer(10), rtol=1e-12)
    assert math.isnan(r["decode_start_s"]) and res.decode_steps == 0
    assert res.decode_busy_s.tolist() == [0.0]


def test_token_budget_splits_the_prefill_and_the_link_is_fifo():
    """Three prompts of 10, 20, 30 at 0 s, budget 40 tokens: the first step takes 10 + 20, the second 30. The two
    KVs of the first step leave one after the other over the replica's link."""
    ps = Scheduler("continuous", block_tokens=16, max_batched_tokens=40)
    res = simulate_disaggregated(pools(prefill_scheduler=ps), wl([0.0, 0.0, 0.0], [10, 20, 30], [2, 2, 2]))
    r = res.requests
    s1 = prefill([10, 20])
    s2 = s1 + prefill([30])
    assert_allclose(r["prefill_end_s"], [s1, s1, s2], rtol=1e-12)
    first = [s1 + xfer(10), s1 + xfer(10) + xfer(20), max(s2, s1 + xfer(10) + xfer(20)) + xfer(30)]
    assert_allclose(r["first_token_s"], first, rtol=1e-12)
    assert res.prefill_steps == 2
    assert_allclose(res.link_busy_s, [xfer(10) + xfer(20) + xfer(30)], rtol=1e-12)
    # decode: request 0 runs alone (11 tokens); request 1 arrives during it and starts at its end
    f0 = first[0] + decode(1, 11)
    assert first[1] < f0
    f1 = f0 + decode(1, 21)
    assert_allclose(r["decode_start_s"].iloc[:2], [first[0], f0], rtol=1e-12)
    assert_allclose(r["finish_s"].iloc[:2], [f0, f1], rtol=1e-12)
    start2 = max(first[2], f1)
    assert_allclose(r["finish_s"].iloc[2], start2 + decode(1, 31), rtol=1e-12)
    # a budget exactly the two first prompts' 30 tokens still takes both
    ps30 = Scheduler("continuous", block_tokens=16, max_batched_tokens=30)
    r30 = simulate_disaggregated(pools(prefill_scheduler=ps30), wl([0.0, 0.0, 0.0], [10, 20, 30], [2, 2, 2]))
    assert_allclose(r30.requests["prefill_end_s"], [s1, s1, s2], rtol=1e-12)


def test_prefill_batch_limit():
    """Batch limit 2: three prompts of 10 at 0 s take two steps (2 + 1) whatever the budget."""
    ps = Scheduler("continuous", max_batch=2, block_tokens=16)
    res = simulate_disaggregated(pools(prefill_scheduler=ps), wl([0.0] * 3, [10] * 3, [1] * 3))
    s1 = prefill([10, 10])
    assert_allclose(res.requests["prefill_end_s"], [s1, s1, s1 + prefill([10])], rtol=1e-12)


def test_decode_batch_of_two_by_hand():
    """Two requests of 10 → 3 tokens whose KV arrive together on two links (2 prefill replicas): the decode
    replica runs them as a batch of 2 over 2 × 10 + 2 = 22 tokens, then 24."""
    res = simulate_disaggregated(pools(P=2), wl([0.0, 0.0], [10, 10], [3, 3]))
    r = res.requests
    assert r["prefill_replica"].tolist() == [0, 1] and r["decode_replica"].tolist() == [0, 0]
    first = prefill([10]) + xfer(10)
    assert_allclose(r["first_token_s"], [first, first], rtol=1e-12)
    # the first transfer end starts a step of one sequence; the second joins at its end
    f = first + decode(1, 11)
    assert_allclose(r["decode_start_s"], [first, f], rtol=1e-12)
    # step 2: both, over 11 + 10 tokens held plus their 2 new ones; request 0 ends after it; request 1 (now 11
    # tokens) needs one more step over 12
    s2 = f + decode(2, 11 + 10 + 2)
    assert_allclose(r["finish_s"], [s2, s2 + decode(1, 12)], rtol=1e-12)
    assert res.decode_steps == 3
    assert_allclose(res.prefill_busy_s, [prefill([10])] * 2, rtol=1e-12)
    # each prefill replica busy prefill(10) of the span
    assert_allclose(res.utilisation("prefill"), prefill([10]) / res.span_s, rtol=1e-12)


def test_decode_dispatch_to_the_fewest_sequences_and_batch_limit():
    """Two decode replicas: the first KV goes to replica 0, the second to replica 1 (fewer sequences), the
    third to replica 0 again (tie: the lowest index). With one decode slot, a second request waits for the
    first to finish."""
    res = simulate_disaggregated(pools(D=2), wl([0.0, 0.0, 0.0], [10, 10, 10], [2, 2, 2]))
    assert res.requests["decode_replica"].tolist() == [0, 1, 0]
    ds = Scheduler("continuous", max_batch=1, block_tokens=16)
    one = simulate_disaggregated(pools(decode_scheduler=ds), wl([0.0, 0.0], [10, 10], [3, 3]))
    r = one.requests
    f0 = r["first_token_s"].iloc[0] + decode(1, 11) + decode(1, 12)
    assert_allclose(r["finish_s"].iloc[0], f0, rtol=1e-12)
    assert_allclose(r["decode_start_s"].iloc[1], f0, rtol=1e-12)
    assert_allclose(r["finish_s"].iloc[1], f0 + decode(1, 11) + decode(1, 12), rtol=1e-12)


def test_decode_dispatch_counts_sequences_until_they_leave():
    """Four KVs at once on two decode replicas: 0, 1, 0, 1. A one-token reply leaves its replica's count at once,
    a decoded one when it finishes: later requests find both replicas empty again (0, then 1)."""
    res = simulate_disaggregated(pools(D=2), wl([0.0] * 4, [10] * 4, [2] * 4))
    assert res.requests["decode_replica"].tolist() == [0, 1, 0, 1]
    for first_output in (1, 2):
        res = simulate_disaggregated(pools(D=2), wl([0.0, 1.0, 1.0], [10] * 3, [first_output, 5, 5]))
        assert res.requests["decode_replica"].tolist() == [0, 0, 1]


def test_transfers_ending_together_are_handled_in_order():
    """Two prefill replicas end together: the first's KV goes to decode replica 0, the second's to replica 1."""
    res = simulate_disaggregated(pools(P=2, D=2), wl([0.0, 0.0], [10, 10], [3, 3]))
    assert res.requests["decode_replica"].tolist() == [0, 1]


def test_an_arrival_at_a_prefill_end_sees_the_replica_still_loaded():
    """Prefill replica 0 ends its prompt of 10 at T; prompt 5 (arrived at 0.01 s) is still on replica 1. A third
    request arriving at exactly T is queued before the step end is handled: replica 0 still counts 10 tokens, so
    it goes to replica 1 (5 tokens)."""
    t = Replica().step_time(10.0, 55.0, 1.0, 0.0, 10.0)
    res = simulate_disaggregated(pools(P=2), wl([0.0, 0.01, t], [10, 5, 10], [1, 1, 1]))
    assert res.requests["prefill_replica"].tolist() == [0, 1, 1]


def test_a_busy_prefill_replica_finishes_its_step_first():
    """A prompt arriving during a prefill step waits for the step's end (one replica)."""
    res = simulate_disaggregated(pools(), wl([0.0, 0.005], [10, 5], [1, 1]))
    assert_allclose(res.requests["prefill_end_s"], [prefill([10]), prefill([10]) + prefill([5])], rtol=1e-12)


def test_decode_blocks_add_up_over_the_batch():
    """Decode KV of 32 tokens = 2 blocks of 16; three requests of 10 + 3 tokens (1 block each) arrive together:
    the first runs, the second joins after one step (2 blocks), the third waits for the first to finish (after its
    two steps)."""
    res = simulate_disaggregated(pools(P=3, d=Replica(32)), wl([0.0] * 3, [10] * 3, [3] * 3))
    r = res.requests
    first = prefill([10]) + xfer(10)
    s1 = first + decode(1, 11)
    s2 = s1 + decode(2, 12 + 11)
    assert_allclose(r["decode_start_s"], [first, s1, s2], rtol=1e-12)
    assert_allclose(r["finish_s"].iloc[0], s2, rtol=1e-12)


def test_column_types():
    """Whole numbers stay whole (prompt and reply tokens, replicas), times are floats, whatever the workload's
    arrays hold."""
    w = Workload(np.array([0, 1]), np.array([10.0, 10.0]), np.array([2.0, 1.0]))
    r = simulate_disaggregated(pools(), w).requests
    for col in ("prompt_tokens", "output_tokens", "prefill_replica", "decode_replica"):
        assert r[col].dtype == np.int64, col
    for col in ("arrival_s", "prefill_end_s", "transfer_s", "first_token_s", "decode_start_s", "finish_s"):
        assert r[col].dtype == np.float64, col


def test_decode_admission_waits_for_kv_blocks():
    """Decode KV of 48 tokens, blocks of 16: a request of 20 + 5 tokens needs 2 blocks of the 3, so a second one
    waits for the first to finish; one of 32 + 16 = 48 tokens fits exactly."""
    res = simulate_disaggregated(pools(d=Replica(48)), wl([0.0, 0.0], [20, 20], [5, 5]))
    r = res.requests
    assert_allclose(r["decode_start_s"].iloc[1], r["finish_s"].iloc[0], rtol=1e-12)
    ok = simulate_disaggregated(pools(d=Replica(48)), wl([0.0], [32], [16]))
    assert ok.requests["finish_s"].notna().all()
    # 40 + 9 = 49 tokens need 4 blocks of 16 (64 tokens) but 48 tokens hold 3
    with pytest.raises(ParameterError, match=r"^workload='a request of 49 tokens' is not allowed: workload must be "
                                             r"requests of at most 48 tokens \(KV capacity of a decode replica\)$"):
        simulate_disaggregated(pools(d=Replica(48)), wl([0.0], [40], [9]))
    # 40 + 8 = 48 fit, in 3 blocks
    assert simulate_disaggregated(pools(d=Replica(48)), wl([0.0], [40], [8])).requests["finish_s"].notna().all()
    # the prefill replica's KV must hold the prompt
    with pytest.raises(ParameterError, match=r"^workload='a prompt of 41 tokens' is not allowed: workload must be "
                                             r"prompts of at most 40 tokens \(KV capacity of a prefill replica\)$"):
        simulate_disaggregated(pools(p=Replica(40)), wl([0.0], [41], [1]))
    simulate_disaggregated(pools(p=Replica(40)), wl([0.0], [40], [1]))


def test_prefill_dispatch_to_the_fewest_prompt_tokens():
    """Two prefill replicas: 30 tokens go to replica 0, then 10 to replica 1, then 20 to replica 1 again (10 < 30
    queued), then 5 to replica 0 (a tie at 30: the lowest index); a later arrival, once both are free, goes to
    replica 0."""
    res = simulate_disaggregated(pools(P=2), wl([0.0, 0.0, 0.0, 0.0], [30, 10, 20, 5], [1] * 4))
    assert res.requests["prefill_replica"].tolist() == [0, 1, 1, 0]
    late = simulate_disaggregated(pools(P=2), wl([0.0, 0.0, 5.0], [30, 10, 20], [1] * 3))
    assert late.requests["prefill_replica"].tolist() == [0, 1, 0]


def test_a_cached_prefix_is_read_not_computed():
    """A prompt of 10 with 6 cached tokens computes 4 (pairs 4 × 6 + 4 × 5 / 2 = 34, 6 read); a fully cached
    prompt still computes its last token. The whole prompt's KV is sent."""
    res = simulate_disaggregated(pools(), wl([0.0, 10.0], [10, 10], [1, 1], cached=[6, 10]))
    r = res.requests
    assert_allclose(r["prefill_end_s"], [prefill([10], [6]), 10.0 + prefill([10], [9])], rtol=1e-12)
    assert_allclose(r["transfer_s"], [xfer(10), xfer(10)], rtol=1e-12)


def test_pools_checks_and_gpus():
    p = pools(P=2, D=3, p=Replica(n_gpus=4), d=Replica(n_gpus=2))
    assert p.gpus == 2 * 4 + 3 * 2
    with pytest.raises(ParameterError, match="^prefill_replicas=0 is not allowed"):
        pools(P=0)
    with pytest.raises(ParameterError, match="^decode_replicas=0 is not allowed"):
        pools(D=0)
    pools(P=1, D=1)
    other = load_architecture("llama-2-7b")
    with pytest.raises(ParameterError, match=r"^decode='llama-2-7b' is not allowed: decode must be the prefill "
                                             r"pool's model \(llama-2-13b\)$"):
        pools(d=Replica(arch=other))
    with pytest.raises(ParameterError, match=r"^kv_dtype='fp8' is not allowed: kv_dtype must be the prefill "
                                             r"pool's \(fp16\)$"):
        pools(d=Replica(kv_dtype="fp8"))
    d = Pools(Replica(), Replica(), 1, 1, LINK)
    assert d.prefill_scheduler == Scheduler("continuous") and d.decode_scheduler == Scheduler("continuous")


def test_transfer_under_tensor_parallelism():
    """TP 4 prefill, TP 2 decode: each of 2 GPU pairs moves half of the 10 tokens' KV (40 heads ÷ 2)."""
    p = pools(p=Replica(n_gpus=4), d=Replica(n_gpus=2))
    assert_allclose(transfer_seconds(p, 10), 0.002 + 1e-3 * 10 / 2, rtol=1e-12)
    res = simulate_disaggregated(p, wl([0.0], [10], [1]))
    assert_allclose(res.requests["transfer_s"], [0.002 + 0.005], rtol=1e-12)
    q = pools(p=Replica(n_gpus=1), d=Replica(n_gpus=2))
    assert_allclose(simulate_disaggregated(q, wl([0.0], [10], [1])).requests["transfer_s"], [xfer(10)], rtol=1e-12)


def test_summary_by_hand():
    """Two requests 10 s apart, alone in the system: the same TTFT and TPOT each; percentiles equal them."""
    res = simulate_disaggregated(pools(), wl([0.0, 10.0], [10, 10], [3, 3]))
    ttft = prefill([10]) + xfer(10)
    tpot = (decode(1, 11) + decode(1, 12)) / 2
    s = res.summary(ttft * (1 + 1e-9), tpot * (1 + 1e-9))
    assert s["requests"] == 2 and s["slo_attainment"] == 1.0
    assert_allclose(s["goodput_requests_per_s"], 2 / res.span_s, rtol=1e-12)
    assert_allclose(s["kv_transfer_s_mean"], xfer(10), rtol=1e-12)
    assert_allclose(s["prefill_gpu_busy_fraction"], 2 * prefill([10]) / res.span_s, rtol=1e-12)
    assert_allclose(s["decode_gpu_busy_fraction"], 2 * 2 * tpot / res.span_s, rtol=1e-12)
    for q in (50, 90, 95, 99):
        assert_allclose([s[f"ttft_s_p{q}"], s[f"tpot_s_p{q}"], s[f"e2e_latency_s_p{q}"]],
                        [ttft, tpot, ttft + 2 * tpot], rtol=1e-9)
    assert res.summary(ttft * (1 - 1e-9), tpot * 2)["slo_attainment"] == 0.0
    assert res.summary(ttft * 2, tpot * (1 - 1e-9))["slo_attainment"] == 0.0


def test_percentiles_of_a_spread():
    """Four requests far apart with prompts 10, 20, 30, 40 (one token each): TTFT = prefill + transfer, so its
    P50 is the mean of the two middle ones and P90 interpolates 0.7 of the way from the third to the fourth."""
    res = simulate_disaggregated(pools(), wl([0.0, 10.0, 20.0, 30.0], [10, 20, 30, 40], [1] * 4))
    t = [prefill([p]) + xfer(p) for p in (10, 20, 30, 40)]
    s = res.summary(1.0, 1.0)
    assert_allclose(s["ttft_s_p50"], (t[1] + t[2]) / 2, rtol=1e-9)
    assert_allclose(s["ttft_s_p90"], t[2] + 0.7 * (t[3] - t[2]), rtol=1e-9)
    assert_allclose(s["ttft_s_p99"], t[2] + 0.97 * (t[3] - t[2]), rtol=1e-9)


def test_zero_span_has_no_utilisation():
    res = simulate_disaggregated(pools(), wl([0.0], [10], [1]))
    zero = type(res)(res.requests.assign(arrival_s=res.end_s), res.prefill_busy_s, res.decode_busy_s,
                     res.link_busy_s, res.end_s, 1, 0)
    assert zero.span_s == 0.0 and zero.utilisation("prefill") == 0.0
