"""model.serving.step_time_accuracy by hand: a replica whose step times are simple linear forms (so every batch,
life, latency and throughput of a setting is worked out below with a pencil), the unit conversions of a
measured point (replicas, per-GPU scope, total tokens, requests, static batch latency), the batch caps, the
overload read from the measurements, and the summaries by metric and by family."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.serving.step_time_accuracy as sta
from model.checks import ParameterError
from model.serving.step_time_accuracy import (ARCHITECTURE_OF, batch_life_s, error_summary, family_mask,
                                              family_summary, max_batch, measured_overload, point_deployment,
                                              predict_point, predict_setting, prediction_table, requests_in_run)


class Linear:
    """A replica with linear step times (seconds) and a KV memory of ``kv_capacity_tokens`` tokens:

    - step(tokens, pairs, sequences, read, written) = 1e-3 tokens + 1e-7 pairs + 1e-2 sequences + 1e-6 read
      + 1e-5 written;
    - decode(B, context) = 0.01 + 0.001 B + 1e-6 B context;
    - prefill(I) = 0.005 + 1e-4 I.
    """

    def __init__(self, kv_capacity_tokens=100, n_gpus=2):
        self.kv_capacity_tokens = kv_capacity_tokens
        self.n_gpus = n_gpus

    def step_time(self, tokens, pairs, sequences, read, written):
        return 1e-3 * tokens + 1e-7 * pairs + 1e-2 * sequences + 1e-6 * read + 1e-5 * written

    def decode_time(self, batch, context):
        return 0.01 + 0.001 * batch + 1e-6 * batch * np.asarray(context, float)

    def prefill_time(self, prompt_tokens):
        return 0.005 + 1e-4 * prompt_tokens


# I = 10 prompt tokens, O = 5 output tokens throughout.
# Batch prefill of B prompts: tokens 10 B, pairs B·10·11/2 = 55 B, B sequences, nothing read, 10 B written:
#   pre(B) = 0.01 B + 5.5e-6 B + 0.01 B + 1e-4 B = 0.0201055 B.
# Static decode: 4 steps at contexts 10, 11, 12, 13 (sum 46): dec = 4 (0.01 + 0.001 B) + 46e-6 B.
# In-flight decode: 4 steps at the mean context 12.5: dec = 4 (0.01 + 0.001 B + 12.5e-6 B) = 0.04 + 0.00405 B.
def pre(b):
    return 0.0201055 * b


def dec_static(b):
    return 4 * (0.01 + 0.001 * b) + 46e-6 * b


def dec_inflight(b):
    return 0.04 + 0.00405 * b


def test_max_batch_static_sequences_hold_their_whole_kv_in_flight_the_mean():
    """100 KV tokens, 10 → 5 tokens: static sequences hold 10 + 5 = 15 tokens to the end (6 fit), in-flight ones
    10 + 5/2 = 12.5 on average (8 fit). Swapping the two footprints gives 8 and 6."""
    dep = Linear(100)
    assert max_batch(dep, 10, 5, static=True) == 6
    assert max_batch(dep, 10, 5, static=False) == 8
    assert max_batch(dep, 10, 5, static=False, cap=7.9) == 7
    assert max_batch(dep, 10, 5, static=True, cap=7) == 6
    # 10 → 10 tokens: 20 (static, 5 fit) or 15 (in-flight, 6 fit)
    assert max_batch(dep, 10, 10, static=True) == 5
    assert max_batch(dep, 10, 10, static=False) == 6
    # a footprint below one token counts as one; no KV memory holds no sequence
    assert max_batch(dep, 0.5, 0.0, static=True) == 100
    assert max_batch(Linear(-30), 10, 5, static=True) == 0


def test_batch_life_by_hand():
    dep = Linear()
    p, d = batch_life_s(dep, 2, 10, 5, static=True)
    assert_allclose([p, d], [pre(2), dec_static(2)], rtol=1e-12)
    p, d = batch_life_s(dep, 2, 10, 5, static=False)
    assert_allclose([p, d], [pre(2), dec_inflight(2)], rtol=1e-12)
    # one output token: no decode step; two: one step at the prompt's context (static) or at 10 + 1 (in-flight)
    assert batch_life_s(dep, 2, 10, 1, static=True) == (pytest.approx(pre(2), rel=1e-12), 0.0)
    assert_allclose(batch_life_s(dep, 2, 10, 2, static=True)[1], 0.012 + 20e-6, rtol=1e-12)
    assert_allclose(batch_life_s(dep, 2, 10, 2, static=False)[1], 0.012 + 22e-6, rtol=1e-12)


def test_static_setting_by_hand():
    """A static batch of 7 (above the 6 the memory holds: a stated static batch is kept as it is)."""
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="static", batch=7)
    assert p.regime == "static" and p.batch == 7
    assert_allclose(p.ttft_s, pre(7), rtol=1e-12)
    assert_allclose(p.tpot_s, dec_static(7) / 4, rtol=1e-12)
    assert_allclose(p.replica_output_tokens_per_s, 7 * 5 / (pre(7) + dec_static(7)), rtol=1e-12)
    one = predict_setting(Linear(), input_tokens=10, output_tokens=1, batching="static", batch=3)
    assert math.isnan(one.tpot_s) and one.ttft_s == pytest.approx(pre(3), rel=1e-12)
    # two output tokens: one decode step at the prompt's 10 tokens
    two = predict_setting(Linear(), input_tokens=10, output_tokens=2, batching="static", batch=3)
    assert_allclose(two.tpot_s, 0.01 + 0.003 + 30e-6, rtol=1e-12)
    # an engine-chosen static batch: the 6 whole sequences the memory holds
    assert predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="static").batch == 6


def test_in_flight_setting_by_hand():
    """An in-flight batch of 20 is capped at the 8 the memory holds. TTFT = one prompt's prefill (0.006 s) + half
    a decode step at 12.5 tokens; TPOT = (pre + dec − 0.006) ÷ 4."""
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", batch=20)
    assert p.regime == "in-flight" and p.batch == 8
    step = 0.01 + 0.008 + 8 * 12.5e-6
    assert_allclose(p.ttft_s, 0.006 + 0.5 * step, rtol=1e-12)
    assert_allclose(p.tpot_s, (pre(8) + dec_inflight(8) - 0.006) / 4, rtol=1e-12)
    assert_allclose(p.replica_output_tokens_per_s, 8 * 5 / (pre(8) + dec_inflight(8)), rtol=1e-12)
    below = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", batch=3)
    assert below.batch == 3
    one = predict_setting(Linear(), input_tokens=10, output_tokens=1, batching="in-flight", batch=3)
    assert math.isnan(one.tpot_s)
    # two output tokens: TPOT = the batch's prefill and its one decode step (at 10 + 1 tokens) less one prompt's
    two = predict_setting(Linear(), input_tokens=10, output_tokens=2, batching="in-flight", batch=3)
    assert_allclose(two.tpot_s, 0.0201055 * 3 + 0.013 + 33e-6 - 0.006, rtol=1e-12)
    # a stated batch at a finite rate is taken as full: above its throughput the rate overloads it
    full = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", batch=8,
                           rate_per_s=1000.0)
    assert full.regime == "overloaded" and full.batch == 8


def test_engine_chosen_batch_and_its_cap():
    """No rate, or an infinite one: the batch the memory holds (8), or the cap when smaller; never below 1."""
    for rate in (None, math.inf):
        p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=rate)
        assert p.batch == 8
    assert predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight",
                           batch_cap=3).batch == 3
    assert predict_setting(Linear(5), input_tokens=10, output_tokens=5, batching="in-flight").batch == 1
    # the default cap is batching_engine_batch_cap (2048, data/parameters/batching.csv)
    assert predict_setting(Linear(10**6), input_tokens=10, output_tokens=5, batching="in-flight").batch == 2048


def test_little_law_batch_closed_form():
    """At λ = 10 requests/s a request lives prefill(10) + 4 decode steps = 0.006 + 0.04 + 0.00405 B, so
    B = λ (0.046 + 0.00405 B) = 0.46 / 0.9595; throughput is the offered 10 × 5 tokens/s."""
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=10.0)
    b = 0.46 / 0.9595
    assert p.regime == "rate-limited"
    assert_allclose(p.batch, b, rtol=1e-6)
    assert_allclose(p.replica_output_tokens_per_s, 50.0, rtol=1e-12)
    assert_allclose(p.ttft_s, 0.006 + 0.5 * (0.01 + 0.001 * b + 12.5e-6 * b), rtol=1e-6)
    # a tiny rate: the batch is λ × 0.046 / (1 − 0.00405 λ), above the 1e-3 floor
    small = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=0.05)
    assert_allclose(small.batch, 0.05 * 0.046 / (1 - 0.05 * 0.00405), rtol=0, atol=1e-6)
    # the floor: a batch never falls below 1e-3 requests
    floor = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=1e-3)
    assert_allclose(floor.batch, 1e-3, rtol=1e-12)


def test_a_batch_just_below_the_memory_is_not_saturated():
    """B = 7.5 < 8 takes λ = 7.5 / (0.046 + 0.00405 × 7.5) = 7.5 / 0.076375: rate-limited, not overloaded
    (the batch's own prefill makes its step throughput lower than the offered rate)."""
    lam = 7.5 / 0.076375
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=lam)
    assert_allclose(p.batch, 7.5, rtol=1e-6)
    assert p.regime == "rate-limited"
    assert_allclose(p.replica_output_tokens_per_s, 5 * lam, rtol=1e-12)


def test_overloaded_setting_by_hand():
    """λ = 1000/s fills the 8 slots: throughput is the full batch's, 8 × 5 ÷ (pre + dec); the latencies are
    queue time."""
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=1000.0)
    assert p.regime == "overloaded" and p.batch == 8
    assert_allclose(p.replica_output_tokens_per_s, 40 / (pre(8) + dec_inflight(8)), rtol=1e-12)


class SlowPrefill(Linear):
    """:class:`Linear` whose lone prompt takes 1 s to prefill (so Little's law fills the batch at a low rate)
    while a batch's prefill step stays cheap."""

    def prefill_time(self, prompt_tokens):
        return 1.0


def test_a_full_batch_within_its_throughput_is_rate_limited():
    """A full batch of 8 delivers 40 ÷ (pre + dec) = 171.5 tokens/s. At 20 requests/s (100 tokens/s), and at
    exactly its throughput, the batch is full yet rate-limited; at 50/s (250 tokens/s) it is overloaded."""
    tput = 40 / (pre(8) + dec_inflight(8))
    for lam in (20.0, tput / 5):
        p = predict_setting(SlowPrefill(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=lam)
        assert p.batch == 8 and p.regime == "rate-limited"
        assert_allclose(p.replica_output_tokens_per_s, 5 * lam, rtol=1e-12)
    p = predict_setting(SlowPrefill(), input_tokens=10, output_tokens=5, batching="in-flight", rate_per_s=50.0)
    assert p.batch == 8 and p.regime == "overloaded"
    assert_allclose(p.replica_output_tokens_per_s, tput, rtol=1e-12)


def test_closed_loop_concurrency_waits_for_a_slot():
    """20 clients on 8 slots: 12 wait 12/8 request lives (pre + dec of the full batch) before their prefill."""
    p = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", concurrency=20)
    assert p.batch == 8 and p.regime == "in-flight"
    life = pre(8) + dec_inflight(8)
    step = 0.01 + 0.008 + 8 * 12.5e-6
    assert_allclose(p.ttft_s, 0.006 + 0.5 * step + 12 / 8 * life, rtol=1e-12)
    small = predict_setting(Linear(), input_tokens=10, output_tokens=5, batching="in-flight", concurrency=3)
    assert small.batch == 3
    assert_allclose(small.ttft_s, 0.006 + 0.5 * (0.01 + 0.003 + 3 * 12.5e-6), rtol=1e-12)


def _row(**kw):
    base = {"point_id": "x:run:metric", "model": "m", "gpu": "g", "n_gpus": 4, "tensor_parallel": 2.0,
            "weight_dtype": "fp16", "kv_dtype": np.nan, "engine": "e", "batching": "in-flight", "batch": 20.0,
            "batch_kind": "fixed", "offered_rate_per_s": np.nan, "input_tokens": 10.0, "output_tokens": 5.0,
            "metric": "output_tokens_per_s", "value": 1.0, "scope": "system", "role": "validation",
            "caveats": ""}
    base.update(kw)
    return pd.Series(base)


@pytest.fixture
def linear(monkeypatch):
    """Every point runs on :class:`Linear` replicas of 2 GPUs (a row of 4 GPUs: 2 replicas); the keyword
    arguments each deployment was asked for are recorded."""
    asked = []

    def dep(row, **kw):
        asked.append(kw)
        return Linear()
    monkeypatch.setattr(sta, "point_deployment", dep)
    return asked


def test_point_units_and_replicas(linear):
    """Two replicas of a full in-flight batch of 8: system output tokens/s = 2 × 40 ÷ (pre + dec)."""
    one = 40 / (pre(8) + dec_inflight(8))
    want = {"output_tokens_per_s": 2 * one, "output_tokens_per_s_per_gpu": 2 * one / 4,
            "total_tokens_per_s": 2 * one * 15 / 5, "requests_per_s": 2 * one / 5,
            "batch_latency_ms": 1e3 * 8 * 5 / one, "tpot_ms": 1e3 * (pre(8) + dec_inflight(8) - 0.006) / 4,
            "ttft_ms": 1e3 * (0.006 + 0.5 * (0.018 + 8 * 12.5e-6))}
    for metric, value in want.items():
        got, regime, reason, b = predict_point(_row(metric=metric))
        assert (regime, reason, b) == ("in-flight", "", 8), metric
        assert_allclose(got, value, rtol=1e-12, err_msg=metric)


def test_replicas_are_whole_and_at_least_one(linear):
    """3 GPUs of TP 2 are 1 replica (3 // 2); 2 GPUs too."""
    one = 40 / (pre(8) + dec_inflight(8))
    assert_allclose(predict_point(_row(n_gpus=3))[0], one, rtol=1e-12)
    assert_allclose(predict_point(_row(n_gpus=2))[0], one, rtol=1e-12)
    assert_allclose(predict_point(_row(n_gpus=1))[0], one, rtol=1e-12)


def test_deployment_keywords_reach_every_point(linear):
    predict_point(_row(), mbu=0.5)
    prediction_table(pd.DataFrame([_row()]), mfu=0.25)
    assert linear == [{"mbu": 0.5}, {"mfu": 0.25}]


def test_point_static_rows_and_engine_chosen(linear):
    got, regime, _, b = predict_point(_row(batching="static", batch=3.0))
    assert regime == "static" and b == 3
    assert_allclose(got, 2 * 15 / (pre(3) + dec_static(3)), rtol=1e-12)
    # engine-chosen ignores the batch column; "unknown" batching counts as in-flight
    assert predict_point(_row(batch_kind="engine-chosen", batching="unknown"))[1:] == ("in-flight", "", 8)
    # a stated run of 6 requests over 2 replicas caps the batch at 3
    assert predict_point(_row(batch_kind="engine-chosen", caveats="6 requests"))[3] == 3
    assert predict_point(_row(batch=np.nan))[3] == 8


def test_point_concurrency_and_rate_are_per_replica(linear):
    """A concurrency of 12 over 2 replicas: 6 per replica, all running; a rate of 20/s: 10/s per replica."""
    got, _, _, b = predict_point(_row(batch=12.0, batch_kind="concurrency", metric="ttft_ms"))
    assert b == 6
    assert_allclose(got, 1e3 * (0.006 + 0.5 * (0.016 + 6 * 12.5e-6)), rtol=1e-12)
    got, regime, _, b = predict_point(_row(batch=20.0, batch_kind="concurrency", metric="ttft_ms"))
    assert b == 8
    assert_allclose(got, 1e3 * (0.006 + 0.5 * (0.018 + 8 * 12.5e-6) + 2 / 8 * (pre(8) + dec_inflight(8))),
                    rtol=1e-12)
    got, regime, _, b = predict_point(_row(batch_kind="engine-chosen", offered_rate_per_s=20.0))
    assert regime == "rate-limited"
    assert_allclose(b, 0.46 / 0.9595, rtol=1e-6)
    assert_allclose(got, 2 * 10 * 5, rtol=1e-12)


def _same(got, want):
    assert math.isnan(got[0]) and math.isnan(got[3]) and got[1:3] == want


def test_points_not_predicted_say_why(linear):
    _same(predict_point(_row(output_tokens=np.nan)), ("", "lengths not stated"))
    _same(predict_point(_row(input_tokens=np.nan)), ("", "lengths not stated"))
    _same(predict_point(_row(weight_dtype=np.nan)), ("", "precision not stated"))
    inf = _row(batch_kind="engine-chosen", offered_rate_per_s=math.inf, metric="tpot_ms")
    _same(predict_point(inf), ("", "all requests sent at once: queue time"))
    # a rate that is not a number is no rate
    assert predict_point(_row(offered_rate_per_s=None))[1:] == ("in-flight", "", 8)
    # a static batch sent at once is predicted; so is a throughput
    assert predict_point(_row(batching="static", batch=3.0, offered_rate_per_s=math.inf,
                              metric="tpot_ms"))[2] == ""
    assert predict_point(_row(batch_kind="engine-chosen", offered_rate_per_s=math.inf))[2] == ""
    over = predict_point(_row(metric="ttft_ms"), True)
    assert math.isnan(over[0]) and over[1:] == ("in-flight", "measured throughput below the offered rate: queue time",
                                                8)
    assert predict_point(_row(), True)[2] == ""


def test_a_deployment_that_cannot_be_built_is_a_reason(monkeypatch):
    def fail(row, **kw):
        raise ValueError("too big")
    monkeypatch.setattr(sta, "point_deployment", fail)
    _same(predict_point(_row()), ("", "no deployment: too big"))


def test_point_deployment_reads_the_row():
    """TP unstated: the row's GPUs; the KV format unstated: the weights' for FP16/BF16/FP8, else FP16;
    Llama 3.3 70B is built as Llama 3.1 70B; dep_kwargs reach the deployment."""
    r = _row(model="llama-3.3-70b", gpu="h100-80gb", n_gpus=4, tensor_parallel=np.nan, weight_dtype="fp8")
    dep = point_deployment(r)
    assert dep.n_gpus == 4 and dep.kv_dtype == "fp8" and dep.expert_parallel == 1
    assert dep.arch.name == point_deployment(_row(model=ARCHITECTURE_OF["llama-3.3-70b"], gpu="h100-80gb",
                                                  weight_dtype="fp8")).arch.name
    assert point_deployment(_row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0,
                                 weight_dtype="int8")).kv_dtype == "fp16"
    assert point_deployment(_row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0,
                                 weight_dtype="bf16")).kv_dtype == "bf16"
    assert point_deployment(_row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0,
                                 weight_dtype="fp16", kv_dtype="fp8")).kv_dtype == "fp8"
    assert point_deployment(_row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0,
                                 weight_dtype="fp16"), mbu=0.5).mbu == 0.5
    adp = _row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0, attention_data_parallel="TRUE")
    assert point_deployment(adp).attention_data_parallel is True
    no = _row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0, attention_data_parallel="")
    assert point_deployment(no).attention_data_parallel is False
    false = _row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0, attention_data_parallel="False")
    assert point_deployment(false).attention_data_parallel is False
    # an empty expert-parallel cell is no expert parallelism
    empty = _row(model="llama-3.1-70b", gpu="h100-80gb", tensor_parallel=4.0, expert_parallel="")
    assert point_deployment(empty).expert_parallel == 1


def test_an_optional_column_of_a_row_without_get():
    class Bare:
        def __getitem__(self, key):
            return 1.0
    assert sta._stated(Bare(), "expert_parallel") is None
    assert sta._stated(pd.Series({"a": 2.0}), "a") == 2.0
    assert sta._stated(pd.Series({"a": np.nan}), "a") is None


def test_requests_in_run_reads_thousands():
    assert requests_in_run("a run of 1,200 requests") == 1200
    assert requests_in_run(np.nan) == math.inf


def test_overload_groups_by_run_not_by_prefix():
    """Runs "a:b:r1" and "a:b:r2" share the prefix "a:b": only r1 delivered 8 of 10 requests/s (< 90%); r2's
    9.5 tokens/s of 10-token outputs is 0.95/s at 1/s. An output rate of 0.5 at 1/s with no rate stated
    (NaN) is never an overload."""
    pts = pd.DataFrame({"point_id": ["a:b:r1:requests_per_s", "a:b:r1:ttft_ms", "a:b:r2:output_tokens_per_s",
                                     "a:b:r2:ttft_ms", "a:b:r3:output_tokens_per_s"],
                        "offered_rate_per_s": [10.0, 10.0, 1.0, 1.0, np.nan],
                        "metric": ["requests_per_s", "ttft_ms", "output_tokens_per_s", "ttft_ms",
                                   "output_tokens_per_s"],
                        "value": [8.0, 500.0, 9.5, 40.0, 0.5], "output_tokens": [10.0] * 5})
    assert measured_overload(pts).tolist() == [True, True, False, False, False]
    # 5 tokens/s of 10-token outputs at 1 request/s: 0.5 requests/s, an overload
    slow = pts.assign(value=[8.0, 500.0, 5.0, 40.0, 0.5])
    assert measured_overload(slow).tolist() == [True, True, True, True, False]
    # a run of latencies alone (nothing achieved on record) is not an overload
    lone = pd.DataFrame({"point_id": ["z:1:ttft_ms"], "offered_rate_per_s": [1.0], "metric": ["ttft_ms"],
                         "value": [5.0], "output_tokens": [10.0]}, index=[7])
    assert measured_overload(lone).tolist() == [False]
    # exactly 90% is not an overload
    at = pts.assign(value=[9.0, 500.0, 9.0, 40.0, 0.5])
    assert measured_overload(at).tolist() == [False, False, False, False, False]


def test_prediction_table_on_two_rows(linear):
    """Error = predicted ÷ measured − 1 and its absolute value; the overload of a run reaches its latency."""
    one = 40 / (pre(8) + dec_inflight(8))
    pts = pd.DataFrame([_row(point_id="r:1:output_tokens_per_s", value=2 * one / 1.25),
                        _row(point_id="r:2:ttft_ms", metric="ttft_ms", value=1.0, role="calibration",
                             batching="static", batch=3.0)])
    t = prediction_table(pts)
    assert list(t.columns[:3]) == ["point_id", "model", "gpu"]
    assert t["phase"].tolist() == ["throughput", "prefill"]
    assert_allclose(t["error"].iloc[0], 0.25, rtol=1e-9)
    assert_allclose(t["abs_error"], t["error"].abs(), rtol=0)
    assert_allclose(t["predicted"].iloc[1], 1e3 * pre(3), rtol=1e-12)
    assert t["regime"].tolist() == ["in-flight", "static"] and t["batch_used"].tolist() == [8, 3]
    assert t["n_gpus"].tolist() == [4, 4] and t["reason"].tolist() == ["", ""]
    for col in ("tensor_parallel", "weight_dtype", "engine", "batching", "batch_kind", "input_tokens",
                "output_tokens", "metric", "role"):
        assert t[col].tolist() == pts[col].tolist(), col
    assert t["measured"].tolist() == pts["value"].tolist()
    # a measured overload (8 of 10 requests/s) reaches the run's latency row
    over = pd.DataFrame([_row(point_id="q:1:requests_per_s", metric="requests_per_s", value=8.0,
                              offered_rate_per_s=10.0, batch_kind="engine-chosen"),
                         _row(point_id="q:1:ttft_ms", metric="ttft_ms", value=50.0, offered_rate_per_s=10.0,
                              batch_kind="engine-chosen")])
    t = prediction_table(over)
    assert math.isnan(t["predicted"].iloc[1]) and "queue time" in t["reason"].iloc[1]


def _errors(metric, role, predicted):
    t = pd.DataFrame({"metric": metric, "role": role, "predicted": predicted, "measured": 1.0})
    t["error"] = t["predicted"] / t["measured"] - 1
    t["abs_error"] = t["error"].abs()
    return t


def test_error_summary_all_row_and_signed_median():
    t = _errors(["a", "a", "b", "b", "b"], ["validation"] * 4 + ["calibration"], [1.1, 0.7, 1.2, np.nan, 9.0])
    t["reason"] = [np.nan, "", "", "x", ""]   # an empty cell elsewhere does not drop a predicted row
    s = error_summary(t).set_index("metric")
    assert s.index.tolist() == ["a", "b", "all"]
    assert s["points"].tolist() == [2, 2, 4] and s["predicted"].tolist() == [2, 1, 3]
    assert_allclose(s.loc["all", "median_abs_error"], 0.2, rtol=1e-9)
    assert_allclose(s.loc["all", "max_abs_error"], 0.3, rtol=1e-9)
    assert_allclose(s.loc["a", "median_error"], -0.1, rtol=1e-9)
    assert_allclose(s.loc["all", "median_error"], 0.1, rtol=1e-9)
    cal = error_summary(t, role="calibration")
    assert cal["metric"].tolist() == ["b", "all"]
    none = error_summary(_errors(["a"], ["validation"], [np.nan]))
    assert none["predicted"].tolist() == [0, 0]
    assert none[["median_abs_error", "max_abs_error", "median_error"]].isna().all().all()


def test_families_of_published_configs():
    """Llama 3.1 70B is dense, Mixtral 8x7B an MoE with per-head attention, DeepSeek-R1 MLA (and MoE); FP4
    rows count by their weights, whatever the model; Llama 3.3 70B is read as Llama 3.1 70B."""
    t = pd.DataFrame({"model": ["llama-3.3-70b", "mixtral-8x7b", "deepseek-r1", "llama-3.1-70b"],
                      "weight_dtype": ["fp16", "fp16", "fp8", "fp4"], "role": "validation",
                      "predicted": [1.1, 1.2, np.nan, 0.6], "measured": 1.0})
    t["error"] = t["predicted"] / t["measured"] - 1
    t["abs_error"] = t["error"].abs()
    assert family_mask(t, "dense").tolist() == [True, False, False, True]
    assert family_mask(t, "moe").tolist() == [False, True, False, False]
    assert family_mask(t, "mla").tolist() == [False, False, True, False]
    assert family_mask(t, "fp4").tolist() == [False, False, False, True]
    t["reason"] = [np.nan, "", "", ""]
    with pytest.raises(ParameterError, match="^family='ssm' is not allowed: family must be one of dense, moe, mla, "
                                             "fp4$"):
        family_mask(t, "ssm")
    s = family_summary(t).set_index("family")
    assert s.index.tolist() == ["dense", "moe", "mla", "fp4"]
    assert s["points"].tolist() == [2, 1, 1, 1] and s["predicted"].tolist() == [2, 1, 0, 1]
    assert_allclose(s.loc["dense", "median_abs_error"], 0.25, rtol=1e-9)
    assert_allclose(s.loc["dense", "max_abs_error"], 0.4, rtol=1e-9)
    assert_allclose(s.loc["dense", "median_error"], -0.15, rtol=1e-9)
    assert s.loc["mla", ["median_abs_error", "max_abs_error", "median_error"]].isna().all()
    assert family_summary(t, role="calibration")["points"].tolist() == [0, 0, 0, 0]
