"""model.serving.simulation against the bugs that would mislead a reader: steps, busy time or the time series
miscounted, the token budget or the watermark misapplied at admission, chunks of a prompt mis-sized, a
preempted request resumed with the wrong remainder, the summary's percentiles, windows and guards. Every
expectation is traced by hand step by step (the comments), each step's duration from
:class:`model.serving.step_time.Deployment`'s own step times (tested in tests/serving/test_step_time_mutants.py)."""
import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.workload.requests import Workload
from model.serving import Scheduler, simulate
from model.serving.simulation import SimResult
from model.serving.step_time import deployment
from model.checks import ParameterError

#: 7B on one A100 with a partial compute/memory overlap and a step overhead, so every term of a step shows.
LAP = deployment("llama-2-7b", "a100-80gb", 1, overlap=0.4, step_overhead_s=1e-3)


def _tiny(tokens=64, **kw):
    """LAP with room for exactly ``tokens`` KV tokens (4 blocks of 16 at 64)."""
    d = deployment("llama-2-7b", "a100-80gb", 1, overlap=0.4, step_overhead_s=1e-3, memory_utilization=1.0, **kw)
    return dataclasses.replace(d, gpu=dataclasses.replace(d.gpu, memory_bytes=d.weight_bytes
                                                          + tokens * d.kv_bytes_per_token))


def _run(dep, prompts, outputs, policy="continuous", arrivals=None, **sch):
    n = len(prompts)
    w = Workload(np.zeros(n) if arrivals is None else np.asarray(arrivals, float), np.array(prompts),
                 np.array(outputs))
    return simulate(dep, w, Scheduler(policy, **sch))


def _timeline(res):
    return res.timeline[["running", "kv_used_tokens", "kv_reserved_tokens", "kind"]].values.tolist()


def test_continuous_two_requests_step_by_step():
    # prompts 100 and 300 (outputs 3 and 2) at 0 s, blocks of 16
    res = _run(LAP, [100, 300], [3, 2], max_batch=4, block_tokens=16, max_batched_tokens=1000)
    d1 = LAP.batch_prefill_time([100, 300])         # one prefill step of both: 7 + 19 blocks
    d2 = float(LAP.decode_time(2, 200))             # both decode: contexts 100 + 300 (+1 each) = 2 × (200 + 1)
    d3 = float(LAP.decode_time(1, 101))             # request 1 left after d2; request 0 decodes at 101
    assert_allclose(res.timeline["step_s"], [d1, d2, d3], rtol=1e-12)
    assert_allclose(res.timeline["time_s"], np.cumsum([d1, d2, d3]), rtol=1e-12)
    assert _timeline(res) == [[2, 400, 26 * 16, "prefill"], [1, 101, 7 * 16, "decode"], [0, 0, 0, "decode"]]
    r = res.requests
    assert_allclose(r["first_token_s"], [d1, d1], rtol=1e-12)
    assert_allclose(r["finish_s"], [d1 + d2 + d3, d1 + d2], rtol=1e-12)
    assert r["preemptions"].tolist() == [0, 0] and r["preemptions"].dtype == np.int64
    assert res.steps == 3 and res.policy == "continuous" and res.max_batch == 4
    assert_allclose([res.busy_s, res.end_s], [d1 + d2 + d3] * 2, rtol=1e-12)


def test_chunked_prefill_step_by_step():
    # one prompt of 65 tokens (output 2), 64 tokens a step: a chunk of 64, then the last token, then a decode
    res = _run(LAP, [65], [2], policy="chunked_prefill", max_batch=4, block_tokens=16, max_batched_tokens=64)
    d1 = float(LAP.step_time(64, 64 * 65 / 2, 0, 0, 64))               # no logits yet
    d2 = float(LAP.step_time(1, 64 + 1, 1, 64, 1))                      # reads the 64 cached, emits a token
    d3 = float(LAP.decode_time(1, 65))
    assert_allclose(res.timeline["step_s"], [d1, d2, d3], rtol=1e-12)
    assert _timeline(res) == [[1, 64, 80, "mixed"], [1, 65, 80, "mixed"], [0, 0, 0, "decode"]]
    assert_allclose(res.requests["first_token_s"], [d1 + d2], rtol=1e-12)
    assert_allclose(res.requests["finish_s"], [d1 + d2 + d3], rtol=1e-12)
    assert res.steps == 3 and res.policy == "chunked_prefill"
    assert_allclose(res.busy_s, d1 + d2 + d3, rtol=1e-12)


def test_chunked_prefill_mixes_decodes_and_chunks():
    # prompts 10 (output 3) and 40 (output 2) at 0 s, 20 tokens a step, blocks of 16 (1 + 3 blocks)
    res = _run(LAP, [10, 40], [3, 2], policy="chunked_prefill", max_batch=4, block_tokens=16,
               max_batched_tokens=20)
    # 1: chunks 10 (request 0 complete: its first token) + 10 of request 1
    d1 = float(LAP.step_time(20, 2 * 10 * 11 / 2, 1, 0, 20))
    # 2: request 0 decodes (context 10 + 1 read); request 1 gets 19 tokens after its 10 cached
    d2 = float(LAP.step_time(20, 11 + 19 * 10 + 19 * 20 / 2, 1, 11 + 10, 20))
    # 3: request 0 decodes its last token (11 + 1); request 1's last 11 tokens after 29: its first token
    d3 = float(LAP.step_time(12, 12 + 11 * 29 + 11 * 12 / 2, 2, 12 + 29, 12))
    # 4: request 1 decodes at context 40
    d4 = float(LAP.decode_time(1, 40))
    assert_allclose(res.timeline["step_s"], [d1, d2, d3, d4], rtol=1e-12)
    assert _timeline(res) == [[2, 20, 64, "mixed"], [2, 40, 64, "mixed"], [1, 40, 48, "mixed"],
                              [0, 0, 0, "decode"]]
    t = np.cumsum([d1, d2, d3, d4])
    assert_allclose(res.requests["first_token_s"], [t[0], t[2]], rtol=1e-12)
    assert_allclose(res.requests["finish_s"], [t[2], t[3]], rtol=1e-12)


def test_chunks_take_the_budget_in_order():
    # prompts 30 and 30, 20 tokens a step: the first gets 20, the second nothing in the first step
    res = _run(LAP, [30, 30], [2, 2], policy="chunked_prefill", max_batch=4, block_tokens=16, max_batched_tokens=20)
    assert_allclose(res.timeline["step_s"].iloc[0], float(LAP.step_time(20, 20 * 21 / 2, 0, 0, 20)), rtol=1e-12)
    assert res.timeline["kv_used_tokens"].iloc[0] == 20


def test_preempted_request_resumes_where_it_stopped():
    dep = _tiny(64)                                          # 4 blocks of 16
    res = _run(dep, [16, 16], [20, 20], max_batch=4, block_tokens=16, watermark=0.0)
    # prefill both (1 block each); decodes at contexts 16..31 take a new block each at 16 (4 blocks in use);
    # at 32 both need one more: request 1 (admitted last) is preempted, request 0 decodes 32, 33, 34 and ends
    # (17 + 3 = 20 tokens); request 1 is recomputed (16 + 17 generated = 33 tokens) and decodes 33, 34
    steps = [dep.batch_prefill_time([16, 16])] + [float(dep.decode_time(2, 16 + k)) for k in range(16)] \
        + [float(dep.decode_time(1, c)) for c in (32, 33, 34)] + [float(dep.prefill_time(33))] \
        + [float(dep.decode_time(1, c)) for c in (33, 34)]
    assert_allclose(res.timeline["step_s"], steps, rtol=1e-12)
    t = np.cumsum(steps)
    r = res.requests
    assert r["preemptions"].tolist() == [0, 1]
    assert_allclose(r["first_token_s"], [t[0], t[0]], rtol=1e-12)     # the recompute emits no new first token
    assert_allclose(r["finish_s"], [t[19], t[-1]], rtol=1e-12)
    assert res.timeline["kind"].tolist() == ["prefill"] + ["decode"] * 19 + ["prefill", "decode", "decode"]
    assert (res.timeline["kv_reserved_tokens"] <= 64).all()
    assert res.timeline["kv_reserved_tokens"].iloc[1] == 64 and res.timeline["kv_reserved_tokens"].iloc[17] == 48
    assert res.steps == len(steps) and res.timeline["kv_reserved_tokens"].dtype == np.int64
    assert_allclose(res.busy_s, sum(steps), rtol=1e-12)


def test_preempting_the_smaller_request_frees_its_blocks_only():
    dep = _tiny(80)                                          # 5 blocks of 16
    res = _run(dep, [32, 16], [20, 20], max_batch=4, block_tokens=16, watermark=0.0)
    # 2 + 1 blocks; both take a block at contexts 32 / 16 (5 in use); at 48 / 32 both need one more: request 1
    # (2 blocks) is preempted, request 0 takes one: 3 + 1 = 4 blocks
    tl = res.timeline
    assert tl["kv_reserved_tokens"].tolist()[:2] == [48, 80]
    assert tl["kv_reserved_tokens"].iloc[17] == 64 and res.requests["preemptions"].tolist() == [0, 1]
    assert (tl["kv_reserved_tokens"] >= 0).all() and tl["kv_reserved_tokens"].iloc[-1] == 0


def _prefill_steps(res):
    return int((res.timeline["kind"] == "prefill").sum())


def test_admission_token_budget():
    # 50 tokens a step, but a 100-token prompt must run: the budget becomes 100; then 30 + 60 = 90 fit together
    res = _run(LAP, [100, 30, 60], [60, 2, 2], max_batch=8, max_batched_tokens=50)
    assert _prefill_steps(res) == 2
    # 150 tokens a step and prompts of 60: two fit (120), the third (180) waits
    res = _run(LAP, [60, 60, 60], [100, 2, 2], max_batch=8, max_batched_tokens=150)
    assert _prefill_steps(res) == 2
    assert res.requests["first_token_s"].iloc[2] > res.requests["first_token_s"].iloc[1]
    # 150 tokens a step, prompts 30, 60, 50 (140): one prefill step (the budget is not cut to the longest prompt)
    res = _run(LAP, [30, 60, 50], [100, 2, 2], max_batch=8, max_batched_tokens=150)
    assert _prefill_steps(res) == 1


def test_admission_blocks_and_watermark():
    tiny = _tiny(64)
    # two prompts of 32 tokens fill the 4 blocks exactly: admitted together, done with their only token
    both = _run(tiny, [32, 32], [1, 1], max_batch=4, block_tokens=16, watermark=0.0)
    assert _prefill_steps(both) == 1
    assert_allclose(both.requests["finish_s"], [tiny.batch_prefill_time([32, 32])] * 2, rtol=1e-12)
    # 48 + 32 tokens need 5 blocks: the second waits for the first
    res = _run(tiny, [48, 32], [1, 1], max_batch=4, block_tokens=16, watermark=0.0)
    assert _prefill_steps(res) == 2 and (res.timeline["kv_reserved_tokens"] <= 64).all()
    # a watermark of half the blocks (2): a lone request is admitted even below it; 16 + 32 tokens leave 1 < 2
    assert _prefill_steps(_run(tiny, [48], [1], max_batch=4, block_tokens=16, watermark=0.5)) == 1
    assert _prefill_steps(_run(tiny, [16, 32], [1, 1], max_batch=4, block_tokens=16, watermark=0.5)) == 2
    # a request exactly as long as the KV capacity runs
    assert _run(tiny, [60], [4], max_batch=4, block_tokens=16).requests["finish_s"].notna().all()


@pytest.mark.parametrize("mfu", [None, 0.01])       # decode memory-bound (default), compute-bound (MFU 1 %)
def test_static_batches_step_by_step(mfu):
    dep = LAP if mfu is None else deployment("llama-2-7b", "a100-80gb", 1, overlap=0.4, step_overhead_s=1e-3, mfu=mfu)
    # prompts 100, 200, 150, 120 (outputs 5, 3, 2, 1) at 0 s, batches of 2 reserving 400 tokens each
    res = _run(dep, [100, 200, 150, 120], [5, 3, 2, 1], policy="static", max_batch=2, reserved_tokens=400)
    pf1 = float(dep.step_time(2 * 200, 2 * 200 * 201 / 2, 2, 0, 400))      # padded to 200
    dec1 = sum(float(dep.decode_time(2, 200 + j)) for j in range(4))        # 4 decode steps, padded rows
    pf2 = float(dep.step_time(2 * 150, 2 * 150 * 151 / 2, 2, 0, 300))
    dec2 = float(dep.decode_time(2, 150))
    t = np.cumsum([pf1, dec1, pf2, dec2])
    assert_allclose(res.timeline["step_s"], [pf1, dec1, pf2, dec2], rtol=1e-12)
    assert_allclose(res.timeline["time_s"], t, rtol=1e-12)
    # live sequences while decoding: 2 × mean(4, 2) / 4 = 1.5, then 2 × mean(1, 0) / 1 = 1; held: prompts, then
    # prompts + outputs
    assert _timeline(res) == [[2, 300, 800, "prefill"], [1.5, 308, 800, "decode"], [2, 270, 800, "prefill"],
                              [1.0, 273, 800, "decode"]]
    assert_allclose(res.requests["first_token_s"], [t[0], t[0], t[2], t[2]], rtol=1e-12)
    assert_allclose(res.requests["finish_s"], [t[1], t[1], t[3], t[3]], rtol=1e-12)
    assert res.steps == 5 + 2 and res.max_batch == 2 and res.policy == "static"
    assert_allclose(res.busy_s, t[3], rtol=1e-12)
    # a last batch smaller than the others (one request of 150 + 2): decode steps of 1 sequence
    one = _run(dep, [100, 200, 150], [5, 3, 2], policy="static", max_batch=2, reserved_tokens=400)
    assert_allclose(one.timeline["step_s"].iloc[3], float(dep.decode_time(1, 150)), rtol=1e-12)
    assert one.timeline["running"].iloc[3] == 1.0


def test_static_batch_of_one_reservation_and_memory_errors():
    tiny = _tiny(64)
    # a reservation of 33 tokens: one sequence fits (64 // 33 = 1)
    assert _run(tiny, [20, 20], [5, 5], policy="static", max_batch=8, reserved_tokens=33).max_batch == 1
    assert _run(tiny, [20], [5], policy="static", max_batch=8, reserved_tokens=64).max_batch == 1
    with pytest.raises(ParameterError, match=r"^max_batch=8 is not allowed: max_batch must be a batch that fits: not "
                                             r"one sequence of 65 reserved tokens fits the KV budget of 64 tokens$"):
        _run(tiny, [20], [5], policy="static", max_batch=8, reserved_tokens=65)
    with pytest.raises(ParameterError, match=r"^reserved_tokens=20 is not allowed: reserved_tokens must be >= the "
                                             r"longest request \(25 tokens\)$"):
        _run(tiny, [20], [5], policy="static", reserved_tokens=20)
    with pytest.raises(ParameterError, match=r"^workload='a request of 65 tokens' is not allowed: workload must be "
                                             r"requests of at most 64 tokens \(KV capacity of the replica\)$"):
        _run(tiny, [60], [5])


@pytest.mark.parametrize("kw, message", [
    (dict(policy="greedy"), r"^policy='greedy' is not allowed"),
    (dict(max_batch=0), r"^max_batch=0 is not allowed: max_batch must be an integer in \[1, inf\]$"),
    (dict(block_tokens=0), r"^block_tokens=0 is not allowed: block_tokens must be an integer in \[1, inf\]$"),
    (dict(reserved_tokens=1), r"^reserved_tokens=1 is not allowed: reserved_tokens must be an integer in \[2, inf\]$"),
    (dict(max_batched_tokens=0),
     r"^max_batched_tokens=0 is not allowed: max_batched_tokens must be an integer in \[1, inf\]$"),
    (dict(watermark=1.0), r"^watermark=1.0 is not allowed: watermark must be a finite number in \[0, 1\)$"),
    (dict(watermark=-0.1), r"^watermark=-0.1 is not allowed")])
def test_scheduler_checks(kw, message):
    with pytest.raises(ParameterError, match=message):
        Scheduler(**kw)


def test_scheduler_edges_allowed():
    s = Scheduler(max_batch=1, block_tokens=1, reserved_tokens=2, max_batched_tokens=1, watermark=0.99)
    assert (s.max_batch, s.block, s.reserved_tokens, s.token_budget, s.wm) == (1, 1, 2, 1, 0.99)


def _result(requests, timeline, end_s, max_batch=4, capacity=128):
    tl = pd.DataFrame(timeline)
    return SimResult(pd.DataFrame(requests), tl, "continuous", max_batch, capacity, float(tl["step_s"].sum()),
                     end_s, len(tl))


#: Four requests (arrivals from 1 s) and three steps, every metric worked out by hand below.
REQ = {"arrival_s": [1.0, 2.0, 3.0, 4.0], "prompt_tokens": [10] * 4, "output_tokens": [1, 3, 5, 2],
       "first_token_s": [1.5, 2.5, 4.0, 4.5], "finish_s": [1.5, 3.5, 6.0, 5.0], "preemptions": [0, 1, 0, 2]}
TL = {"time_s": [2.0, 3.0, 5.0], "running": [1, 2, 3], "kv_used_tokens": [10, 30, 60],
      "kv_reserved_tokens": [16, 32, 64], "step_s": [0.5, 1.0, 2.0], "kind": ["prefill", "decode", "decode"]}


def test_summary_by_hand():
    s = _result(REQ, TL, 6.0).summary()
    # TTFT 0.5, 0.5, 1, 0.5; e2e 0.5, 1.5, 3, 1; TPOT (e2e − TTFT) / max(o − 1, 1) = 0, 0.5, 0.5, 0.5
    want = {"policy": "continuous", "requests": 4,
            "throughput_requests_per_min": 60 * 4 / 5.0,          # span: 6 s end − 1 s first arrival
            "throughput_tokens_per_s": 11 / 5.0, "gpu_busy_fraction": 3.5 / 5.0,
            "batch_slot_utilization": (1 * 0.5 + 2 * 1 + 3 * 2) / 3.5 / 4, "sessions_held": 8.5 / 3.5,
            "kv_occupancy": (16 * 0.5 + 32 * 1 + 64 * 2) / 3.5 / 128,
            "kv_utilization": (10 * 0.5 + 30 + 60 * 2) / (16 * 0.5 + 32 + 64 * 2), "preemptions": 3,
            "normalized_latency_s_per_token": (0.5 / 1 + 1.5 / 3 + 3 / 5 + 1 / 2) / 4,
            # linear interpolation on the sorted values: rank q/100 × 3
            "ttft_s_p50": 0.5, "ttft_s_p95": 0.5 + 0.85 * 0.5, "ttft_s_p99": 0.5 + 0.97 * 0.5, "ttft_s_mean": 0.625,
            "tpot_s_p50": 0.5, "tpot_s_p95": 0.5, "tpot_s_p99": 0.5, "tpot_s_mean": 0.375,
            "e2e_latency_s_p50": 1.25, "e2e_latency_s_p95": 1.5 + 0.85 * 1.5, "e2e_latency_s_p99": 1.5 + 0.97 * 1.5,
            "e2e_latency_s_mean": 1.5}
    assert set(s) == set(want)
    for k, v in want.items():
        if isinstance(v, str):
            assert s[k] == v
        else:
            assert_allclose(s[k], v, rtol=1e-12, err_msg=k)


def test_summary_steady_state_window_by_hand():
    # completions sorted 1.5, 3.5, 5, 6 s; warm-up 0.25: lo = 1, hi = 3: window 5 − 3.5 s, one request (the
    # one finishing at 5 s, 2 output tokens) after the window opens
    s = _result(REQ, TL, 6.0).summary(warmup_fraction=0.25)
    assert_allclose(s["throughput_requests_per_min"], 60 * 1 / 1.5, rtol=1e-12)
    assert_allclose(s["throughput_tokens_per_s"], 2 / 1.5, rtol=1e-12)
    # ties of completion times are taken in request order: completions 3, 3, 2, 2 s sort as requests 2, 3, 0, 1,
    # so the one request after the window (2 to 3 s) is request 0 (1 output token), not request 1 (3)
    tied = dict(REQ, arrival_s=[0.0] * 4, first_token_s=[0.5] * 4, finish_s=[3.0, 3.0, 2.0, 2.0])
    s = _result(tied, TL, 6.0).summary(warmup_fraction=0.25)
    assert_allclose(s["throughput_tokens_per_s"], 1 / 1.0, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_summary_guards_of_an_idle_or_short_run():
    idle = _result(REQ, dict(TL, step_s=[0.0, 0.0, 0.0]), 6.0).summary()
    assert idle["batch_slot_utilization"] == 0.0 and idle["sessions_held"] == 0.0
    # reserved token-seconds below one: the utilisation divides by 1, not by less
    short = _result(REQ, dict(TL, step_s=[0.001, 0.001, 0.002]), 6.0).summary()
    used = (10 * 0.001 + 30 * 0.001 + 60 * 0.002)
    assert_allclose(short["kv_utilization"], used / 1.0, rtol=1e-12)


def test_workload_arrays_are_taken_as_float_times_and_integer_tokens():
    # integer arrival times and float token counts give the same run, recorded as float times and int64 tokens
    w = Workload(np.array([0, 1]), np.array([100.0, 300.0]), np.array([3.0, 2.0]))
    res = simulate(LAP, w, Scheduler("continuous", max_batch=4, block_tokens=16, max_batched_tokens=1000))
    r = res.requests
    assert r["arrival_s"].dtype == np.float64
    assert r["prompt_tokens"].dtype == np.int64 and r["output_tokens"].dtype == np.int64
    ref = simulate(LAP, Workload(np.array([0.0, 1.0]), np.array([100, 300]), np.array([3, 2])),
                   Scheduler("continuous", max_batch=4, block_tokens=16, max_batched_tokens=1000))
    pd.testing.assert_frame_equal(r, ref.requests)


def test_static_batch_of_one_token_outputs_has_no_decode():
    # prompts 100 and 120, one output token each: the prefill emits it; no decode step, nothing live after it
    res = _run(LAP, [100, 120], [1, 1], policy="static", max_batch=2, reserved_tokens=200)
    pf = float(LAP.step_time(2 * 120, 2 * 120 * 121 / 2, 2, 0, 240))
    assert_allclose(res.timeline["step_s"], [pf, 0.0], rtol=1e-12)
    assert _timeline(res) == [[2, 220, 400, "prefill"], [0.0, 222, 400, "decode"]]
    assert_allclose(res.requests["finish_s"], [pf, pf], rtol=1e-12)
    assert res.steps == 1
