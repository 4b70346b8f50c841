"""Tests of the economics modules (token_volume, token_cost, unit_economics, fleet_sizing, autoscaling,
calendar) written against realistic bugs (utilisation ignored, truncation instead of rounding up, a 12-hour
day, GPUs floored, validation removed): expectations worked out by hand."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.economics.autoscaling import autoscaled_gpu_hours, autoscaling_saving, diurnal_load
from model.calendar import hours_per_month, hours_per_year
from model.economics.fleet_sizing import (LATENCY_METRICS, fleet_for_sessions, fleet_monthly_cost, fleet_sizing_table,
                                gpus_for_sessions, highest_rate_meeting, rate_within_latency, turn_rate_per_s)
from model.economics.prices import ApiPrice
from model.economics.token_cost import (MILLION, SECONDS_PER_HOUR, api_monthly_cost, self_hosted_usd_per_million_tokens,
                              throughput_for_price)
from model.economics.token_volume import MINUTES_PER_HOUR, ChatWorkload, TokenVolume, monthly_tokens
from model.economics.unit_economics import UnitEconomics, cost_breakdown
from model.checks import ParameterError


def test_calendar_hours():
    assert hours_per_month() == 730.0 == 365 * 24 / 12
    assert hours_per_year() == 8760.0 == 365 * 24


# --- token_cost ------------------------------------------------------------------------------------------

def test_throughput_for_price_counts_utilisation():
    # $2/GPU-h at $1 per 1M tokens needs 2M tokens per busy hour; busy half the time: 2M / 3600 / 0.5 tokens/s
    assert_allclose(throughput_for_price(1.0, 2.0, 0.5), 2e6 / 3600 / 0.5, rtol=1e-12)
    assert_allclose(throughput_for_price(4.0, 2.0, 0.25), 0.5e6 / 3600 / 0.25, rtol=1e-12)
    for bad, name in [((0, 2.0, 0.5), "usd_per_million_tokens"), ((1.0, 0, 0.5), "usd_per_gpu_hour"),
                      ((1.0, 2.0, 0.0), "utilization"), ((1.0, 2.0, 1.5), "utilization")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            throughput_for_price(*bad)
    assert throughput_for_price(1.0, 3.6, 1.0) == pytest.approx(1000.0, rel=1e-12)


def test_self_hosted_price_by_hand():
    # $3/GPU-h, 500 tokens/s, busy 60%: 500 x 3600 x 0.6 = 1.08M tokens per paid hour -> $2.777 per 1M
    assert_allclose(self_hosted_usd_per_million_tokens(3.0, 500, 0.6), 3.0 / 1.08, rtol=1e-12)
    for bad, name in [((0, 500, 0.6), "usd_per_gpu_hour"), ((3.0, 0, 0.6), "tokens_per_s_per_gpu"),
                      ((3.0, 500, 0.0), "utilization")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            self_hosted_usd_per_million_tokens(*bad)
    assert MILLION == 1e6 and SECONDS_PER_HOUR == 3600.0


def test_api_cost_prices_input_and_output_apart():
    price = ApiPrice("m", "p", 2.0, 10.0, "2024")
    v = TokenVolume(input_tokens=3e6, cached_input_tokens=1e6, output_tokens=0.5e6, turns=1)
    # new input 2M x $2 + cached 1M x $2 x 0.1 + output 0.5M x $10
    assert_allclose(api_monthly_cost(v, price, cached_discount=0.9), 4.0 + 0.2 + 5.0, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^cached_discount="):
        api_monthly_cost(v, price, cached_discount=1.5)


# --- token_volume ----------------------------------------------------------------------------------------

def test_workload_by_hand():
    # 3 sessions open, 73 minutes each: 3 x 730 x 60 / 73 = 1,800 sessions a month, 4 turns each
    w = ChatWorkload(concurrent_sessions=3, session_minutes=73, turns_per_session=4, tokens_per_turn=100,
                     reply_share=0.25, persona_tokens=10, history_cap_tokens=250)
    assert MINUTES_PER_HOUR == 60.0
    assert_allclose(w.sessions_per_month(), 1800, rtol=1e-12)
    assert_allclose(w.turns_per_month(), 7200, rtol=1e-12)
    # turn k re-sends min(100 k, 250) history: 0, 100, 200, 250; plus persona 10 and the user's 75
    assert w.input_tokens_by_turn().tolist() == [85, 185, 285, 335]
    assert w.output_tokens_per_turn() == 25
    v = monthly_tokens(w)
    assert_allclose(v.input_tokens, 1800 * 890, rtol=1e-12)
    assert_allclose(v.output_tokens, 1800 * 4 * 25, rtol=1e-12)
    assert v.cached_input_tokens == 0.0 and v.turns == pytest.approx(7200)
    assert v.total_tokens == v.input_tokens + v.output_tokens
    no_history = ChatWorkload(3, 73, 4, 100, 0.25, persona_tokens=10, resend_history=False)
    assert no_history.input_tokens_by_turn().tolist() == [85, 85, 85, 85]


def test_workload_defaults_and_validation():
    w = ChatWorkload(1, 30, 3, 10, 0.5)
    assert (w.persona_tokens, w.resend_history, w.history_cap_tokens, w.cached_input_share) == (0.0, True, math.inf,
                                                                                               0.0)
    assert w.input_tokens_by_turn().tolist() == [5, 15, 25]
    base = dict(concurrent_sessions=1, session_minutes=30, turns_per_session=10, tokens_per_turn=5, reply_share=0.5)
    for kwargs, name in [(dict(tokens_per_turn=-1), "tokens_per_turn"), (dict(persona_tokens=-1), "persona_tokens"),
                         (dict(history_cap_tokens=-1), "history_cap_tokens"),
                         (dict(cached_input_share=1.2), "cached_input_share")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            ChatWorkload(**{**base, **kwargs})
    assert ChatWorkload(**{**base, "history_cap_tokens": 0}).input_tokens_by_turn().max() == 2.5
    assert ChatWorkload(**{**base, "concurrent_sessions": 0}).sessions_per_month() == 0.0


# --- unit_economics --------------------------------------------------------------------------------------

def test_unit_economics_edges():
    ue = UnitEconomics(mau=1000, conversion_rate=0.2, arpu=5.0, monthly_cost=600.0)
    assert ue.paid_users == 200 and ue.revenue == 1000 and ue.gross_profit == 400
    assert ue.gross_margin == 0.4 and ue.cost_per_mau == 0.6
    assert math.isnan(UnitEconomics(1000, 0.0, 5.0, 10.0).gross_margin)
    assert math.isnan(UnitEconomics(0, 0.1, 5.0, 10.0).cost_per_mau)
    for args, name in [((1, 0.1, -1, 1), "arpu"), ((1, 0.1, 1, -1), "monthly_cost")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            UnitEconomics(*args)


def test_cost_breakdown_by_hand():
    t = cost_breakdown({"gpu": 3.0, "storage": 1.0, "free": 0.0})
    assert list(t.columns) == ["item", "usd_per_month", "share"]
    assert t["item"].tolist() == ["gpu", "storage", "free", "total"]
    assert t["share"].tolist() == [0.75, 0.25, 0.0, 1.0]
    assert t["usd_per_month"].tolist() == [3.0, 1.0, 0.0, 4.0]
    with pytest.raises(ParameterError, match=r"^lines="):
        cost_breakdown({"a": 0.0})
    with pytest.raises(ParameterError, match=r"lines\['a'\]"):
        cost_breakdown({"a": -1.0})


# --- fleet_sizing ----------------------------------------------------------------------------------------

def test_gpus_for_sessions_rounds_up():
    # 1,001 sessions at 100 per GPU: 10.01 GPUs -> 11 (truncation would say 10)
    assert gpus_for_sessions(1001, 100) == 11
    assert gpus_for_sessions(1000, 100) == 10
    assert gpus_for_sessions(1000, 100, spare_share=0.25) == 13          # 12.5 -> 13
    assert gpus_for_sessions(0, 100) == 0
    for args, kw, name in [((-1, 100), {}, "concurrent_sessions"), ((1, 0), {}, "sessions_per_gpu"),
                           ((1, 1), {"spare_share": -0.1}, "spare_share")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            gpus_for_sessions(*args, **kw)


def test_fleet_rent_and_turn_rate():
    assert fleet_monthly_cost(3, 2.0) == 3 * 2.0 * 730
    with pytest.raises(ParameterError, match=r"^gpus="):
        fleet_monthly_cost(-1, 2.0)
    with pytest.raises(ParameterError, match=r"^usd_per_gpu_hour="):
        fleet_monthly_cost(1, 0)
    # 90 sessions, 20 turns over 10 minutes each: 90 x 20 / 600 s = 3 requests/s
    assert_allclose(turn_rate_per_s(90, turns_per_session=20, session_minutes=10), 3.0, rtol=1e-12)
    for kw, name in [(dict(concurrent_sessions=-1), "concurrent_sessions"), (dict(turns_per_session=0),
                     "turns_per_session"), (dict(session_minutes=0), "session_minutes")]:
        args = {**dict(concurrent_sessions=1, turns_per_session=1, session_minutes=1), **kw}
        n = args.pop("concurrent_sessions")
        with pytest.raises(ParameterError, match=f"^{name}="):
            turn_rate_per_s(n, **args)


def test_fleet_for_sessions_by_hand():
    # 3 requests/s on replicas carrying 0.7: 4.29 -> 5 replicas of 4 GPUs = 20; +10% spares -> 22
    assert fleet_for_sessions(90, replica_rate_per_s=0.7, replica_gpus=4, turns_per_session=20, session_minutes=10,
                              spare_share=0.1) == (5, 22)
    assert fleet_for_sessions(90, replica_rate_per_s=3.0, replica_gpus=2, turns_per_session=20,
                              session_minutes=10) == (1, 2)
    for kw, name in [(dict(replica_rate_per_s=0), "replica_rate_per_s"), (dict(replica_gpus=0), "replica_gpus"),
                     (dict(spare_share=-1), "spare_share")]:
        args = {**dict(replica_rate_per_s=1.0, replica_gpus=1, turns_per_session=1, session_minutes=1), **kw}
        with pytest.raises(ParameterError, match=f"^{name}="):
            fleet_for_sessions(10, **args)


def _sweep():
    return pd.DataFrame({"run": "continuous", "rate_per_s": [1.0, 2.0, 3.0], "ttft_s_p95": [0.5, 1.0, 4.0],
                         "e2e_latency_s_p95": [2.0, 3.0, 9.0]})


def test_highest_rate_meeting_by_hand():
    assert highest_rate_meeting(_sweep(), "ttft_s_p95", 4.0) == 3.0          # the target itself is met
    assert highest_rate_meeting(_sweep(), "ttft_s_p95", 0.9) == 1.0
    assert math.isnan(highest_rate_meeting(_sweep(), "e2e_latency_s_p95", 1.0))
    with pytest.raises(ParameterError, match="^my_target="):
        highest_rate_meeting(_sweep(), "ttft_s_p95", 0.0, name="my_target")
    with pytest.raises(ParameterError, match="one of ttft_s_p95, e2e_latency_s_p95"):
        highest_rate_meeting(_sweep(), "speed", 1.0, metric_name="my_metric")
    with pytest.raises(ParameterError, match=r"^latency_target_s=1.0 .*>= 2.00 s \(e2e_latency_s_p95 at the lightest "
                                             r"simulated load, 1 requests/s\)"):
        rate_within_latency(_sweep(), "e2e_latency_s_p95", 1.0)
    assert len(LATENCY_METRICS) == 9 and "tpot_s_p99" in LATENCY_METRICS


def test_fleet_sizing_table_by_hand():
    t = fleet_sizing_table(_sweep(), 3.5, latency_metrics=["ttft_s_p95", "e2e_latency_s_p95"], latency_target_s=1.0,
                           session_counts=[1800.0, 5400.0], replica_gpus=2, turns_per_session=2, session_minutes=30,
                           spare_share=0.5)
    assert list(t.columns) == ["latency_metric", "target_s", "concurrent_sessions", "demand_requests_per_s",
                               "replica_requests_per_s", "replica_saturation_requests_per_s", "feasible",
                               "replicas", "gpus", "sessions_per_gpu"]
    ok = t[t.latency_metric == "ttft_s_p95"]
    # 5,400 sessions x 2 turns / 1,800 s = 6 requests/s at 2 per replica: 3 replicas, 3 x 2 x 1.5 = 9 GPUs
    assert ok["demand_requests_per_s"].tolist() == [2.0, 6.0]
    assert ok["replicas"].tolist() == [1, 3] and ok["gpus"].tolist() == [3, 9]
    assert ok["sessions_per_gpu"].tolist() == [600.0, 600.0]
    assert (ok["replica_requests_per_s"] == 2.0).all() and (t["replica_saturation_requests_per_s"] == 3.5).all()
    assert (t["target_s"] == 1.0).all()
    bad = t[t.latency_metric == "e2e_latency_s_p95"]
    assert not bad["feasible"].any() and bad["replica_requests_per_s"].isna().all()
    assert bad["sessions_per_gpu"].isna().all() and bad["replicas"].isna().all()
    assert bad["demand_requests_per_s"].tolist() == [2.0, 6.0]


# --- autoscaling -----------------------------------------------------------------------------------------

def test_diurnal_period_is_24_hours():
    h = np.array([21.0, 3.0, 9.0, 15.0, 45.0])
    # peak at 21 h, trough 12 h later (9 h), midpoint 6 h either side; one day later the peak again
    assert_allclose(diurnal_load(h, peak=10, trough=2), [10, 6, 2, 6, 10], atol=1e-12)
    assert_allclose(diurnal_load(np.array([0.0, 12.0]), peak=10, trough=2, peak_hour=0), [10, 2], atol=1e-12)
    for kw, name in [(dict(peak=0, trough=0), "peak"), (dict(peak=10, trough=-1), "trough"),
                     (dict(peak=10, trough=1, peak_hour=25), "peak_hour")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            diurnal_load(h, **kw)
    assert_allclose(diurnal_load(h, peak=10, trough=10), 10)          # trough == peak allowed


def test_autoscaled_gpus_are_rounded_up():
    assert autoscaled_gpu_hours([1.2, 2.0, 0.0], step_hours=0.5) == (2 + 2 + 0) * 0.5
    assert autoscaled_gpu_hours([2.0000000001], step_hours=1.0) == 2.0     # float noise is not a GPU
    with pytest.raises(ParameterError, match=r"^step_hours="):
        autoscaled_gpu_hours([1.0], step_hours=0)


def test_autoscaling_saving_by_hand():
    # four steps of 6 h from 0 h, peak 10 at 0 h, trough 2: loads 10, 6, 2, 6 -> 24 GPU-steps x 6 h = 144 GPU-h
    s = autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=2.0, steps_per_day=4, peak_hour=0.0)
    assert s["static_gpu_hours"] == 240.0
    assert s["autoscaled_gpu_hours"] == pytest.approx(144.0)
    assert s["mean_gpus"] == pytest.approx(6.0)
    # (240 - 144) GPU-h a day x 730 / 24 days x $2
    assert s["saving_usd_per_month"] == pytest.approx(96 * 730 / 24 * 2.0)
    # a fractional peak is a whole GPU of the static fleet: ceil(9.5) x 24
    assert autoscaling_saving(peak_gpus=9.5, trough_gpus=9.5, usd_per_gpu_hour=1.0)["static_gpu_hours"] == 240.0
    with pytest.raises(ParameterError, match=r"^steps_per_day="):
        autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=1.0, steps_per_day=0)
    with pytest.raises(ParameterError, match=r"^usd_per_gpu_hour="):
        autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=0)
    # the default peak hour is 21 h: with 24 hourly steps the fleet at 21 h is the peak
    d = autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=1.0, steps_per_day=24)
    expected = np.ceil(diurnal_load(np.arange(24.0), peak=10, trough=2, peak_hour=21.0) - 1e-9).sum()
    assert d["autoscaled_gpu_hours"] == pytest.approx(expected)


def test_workload_errors_name_the_field_and_one_turn_is_valid():
    base = dict(concurrent_sessions=1, session_minutes=30, turns_per_session=10, tokens_per_turn=5, reply_share=0.5)
    for kwargs, name in [(dict(concurrent_sessions=-1), "concurrent_sessions"), (dict(session_minutes=0),
                         "session_minutes"), (dict(turns_per_session=0), "turns_per_session"),
                         (dict(reply_share=1.5), "reply_share")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            ChatWorkload(**{**base, **kwargs})
    one = ChatWorkload(**{**base, "turns_per_session": 1})
    assert one.input_tokens_by_turn().tolist() == [2.5]
    from model.economics.token_volume import stated_product
    with pytest.raises(ParameterError, match=r"^factor=nan "):
        stated_product(1, float("nan"))


def test_cost_breakdown_messages_and_a_small_total():
    with pytest.raises(ParameterError, match=r"^lines=\{\} is not allowed: lines must be at least one cost line$"):
        cost_breakdown({})
    with pytest.raises(ParameterError, match=r"^lines=\{'a': 0\.0\} is not allowed: lines must be a positive total$"):
        cost_breakdown({"a": 0.0})
    assert cost_breakdown({"a": 0.5})["share"].tolist() == [1.0, 1.0]          # a total below $1 is a total
    with pytest.raises(ParameterError, match=r"^mau="):
        UnitEconomics(-1, 0.1, 1, 1)
    with pytest.raises(ParameterError, match=r"^conversion_rate="):
        UnitEconomics(1, 1.1, 1, 1)


def test_api_scenarios_cap_the_history():
    from model.economics.token_cost import api_cost_scenarios
    price = ApiPrice("m", "p", 1.0, 1.0, "2024")
    t = api_cost_scenarios(price, concurrent_sessions=1, tokens_per_turn=[10], session_minutes=730 * 60,
                           turns_per_session=3, reply_share=0.5, persona_tokens=100, history_cap_tokens=10)
    assert list(t.columns) == ["scenario", "tokens_per_turn", "input_tokens", "output_tokens", "usd_per_month"]
    row = t.set_index("scenario")
    # history capped at 10: inputs 5 + 15 + 15 = 35 (+ 3 x 100 persona), outputs 15
    assert row.loc["history re-sent each turn", "input_tokens"] == pytest.approx(35)
    assert row.loc["history + persona re-sent", "input_tokens"] == pytest.approx(335)
    assert row.loc["new tokens only", "output_tokens"] == pytest.approx(15)
    assert row.loc["history + persona re-sent", "usd_per_month"] == pytest.approx(350 / 1e6)


def test_modelled_throughput_counts_prompt_and_reply():
    from model.serving.saturation import continuous_saturation
    from model.serving.step_time import deployment
    from model.economics.token_cost import modelled_tokens_per_s_per_gpu
    sat = continuous_saturation(deployment("llama-2-70b", "a100-80gb", 4), [500], [100], max_batch=256)
    x = modelled_tokens_per_s_per_gpu(prompt_tokens=500, reply_tokens=100)      # the defaults: 70B, 4 x A100
    assert x == pytest.approx(sat.requests_per_s * 600 / 4, rel=1e-12)
    for kw, name in [(dict(prompt_tokens=0, reply_tokens=1), "prompt_tokens"),
                     (dict(prompt_tokens=1, reply_tokens=0), "reply_tokens")]:
        with pytest.raises(ParameterError, match=f"^{name}="):
            modelled_tokens_per_s_per_gpu(**kw)


def test_autoscaling_defaults_and_edges_by_hand():
    # default day: 96 steps of 15 min; peak 10, trough 2 -> loads 6 + 4 cos(2π (h − 21) / 24), rounded up:
    # 620 GPU-steps × 0.25 h = 155 GPU-h (97 steps would give 156.87)
    brute = sum(math.ceil(6 + 4 * math.cos(2 * math.pi * (k / 4 - 21) / 24) - 1e-9) for k in range(96)) / 4
    assert brute == 155.0
    assert autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=1.0)["autoscaled_gpu_hours"] == 155.0
    # one step a day: the fleet at 0 h all day (the peak when it peaks at 0 h): nothing saved
    one = autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=1.0, steps_per_day=1, peak_hour=0.0)
    assert one["autoscaled_gpu_hours"] == 240.0 and one["saving_usd_per_month"] == 0.0
    # troughs below one GPU are loads too; a peak hour before midnight is not
    assert_allclose(diurnal_load(np.array([9.0, 21.0]), peak=2, trough=0.5), [0.5, 2.0], atol=1e-12)
    with pytest.raises(ParameterError, match="^peak_hour=-1"):
        diurnal_load(np.array([0.0]), peak=2, trough=1, peak_hour=-1)
    with pytest.raises(ParameterError, match=r"^load_gpus=-2.5 is not allowed: load_gpus must be non-negative GPU "
                                             r"counts$"):
        autoscaled_gpu_hours([1.0, -2.5], step_hours=1.0)


def test_default_peak_hour_on_a_day_of_seven_steps():
    # 7 steps of 24/7 h from 0 h; peak 10 at 21 h, trough 2: sum of ceil(6 + 4 cos(2π (k·24/7 − 21) / 24)) = 45
    # GPU-steps × 24/7 h = 154.29 GPU-h (a peak at 22 h would give 157.71)
    brute = sum(math.ceil(6 + 4 * math.cos(2 * math.pi * (k * 24 / 7 - 21) / 24) - 1e-9) for k in range(7))
    assert brute == 45
    s = autoscaling_saving(peak_gpus=10, trough_gpus=2, usd_per_gpu_hour=1.0, steps_per_day=7)
    assert_allclose(s["autoscaled_gpu_hours"], 45 * 24 / 7, rtol=1e-12)
