"""model.economics.readings: the economics chapter's tables and parameter check, against hand-worked values."""
import math
from types import SimpleNamespace

import pytest

from model.checks import ParameterError
from model.economics.prices import gpu_price, gpu_prices
from model.economics.readings import (check_economics, price_curves, price_sensitivity_table, token_volume_table,
                                      unit_economics_table)

GOOD = dict(gpu="a100-80gb", model="llama-2-70b", n_gpus=4, prompt_tokens=2000, reply_tokens=100, max_batch=256,
            turns_per_session=200, utilization=0.92, reply_share=0.5, session_minutes=30, tokens_per_turn=500,
            target_usd_per_million_tokens=0.08, fleet_gpus=900, persona_tokens=10_000, history_cap_tokens=10_000,
            session_counts=[10_000, 1_000_000], tokens_per_turn_readings=[50, 100, 500])


def test_good_parameters_pass():
    assert check_economics(**GOOD) is None


@pytest.mark.parametrize("name, value, named", [
    ("gpu", "nope", "gpu"), ("model", "nope", "model"), ("n_gpus", 0, "n_gpus"), ("max_batch", 0, "max_batch"),
    ("utilization", 0.0, "utilization"), ("reply_share", 1.5, "reply_share"), ("fleet_gpus", 0, "fleet_gpus"),
    ("persona_tokens", -1, "persona_tokens"), ("session_counts", [], "session_counts"),
    ("session_counts", [10, -1], "session_counts[1]"), ("tokens_per_turn_readings", [], "tokens_per_turn_readings"),
    ("tokens_per_turn_readings", [0], "tokens_per_turn_readings[0]"),
    ("n_gpus", 1, "n_gpus"),                                       # 70B FP16 weights do not fit one A100
    ({"model": "qwen3-next-80b-a3b", "n_gpus": 40}, None, "n_gpus")])  # 40 GPUs cannot split 32 value heads
def test_each_bad_parameter_is_named(name, value, named):
    with pytest.raises(ParameterError) as err:
        check_economics(**{**GOOD, **(name if isinstance(name, dict) else {name: value})})
    assert err.value.name == named


def test_token_volume_two_readings():
    # 10,000 sessions of 30 min: 10,000 × 730 h × 60 / 30 = 14.6M sessions a month; × 200 turns × 500 tokens
    t = token_volume_table([10_000], session_minutes=30, turns_per_session=200, tokens_per_turn=500, reply_share=0.5)
    assert list(t.columns) == ["concurrent_sessions", "reading", "sessions_per_month", "tokens_per_month"]
    assert len(t) == 2
    assert math.isnan(t["sessions_per_month"].iloc[0])
    assert t["tokens_per_month"].iloc[0] == 10_000 * 30 * 200 * 500
    assert t["sessions_per_month"].iloc[1] == pytest.approx(14.6e6)
    assert t["tokens_per_month"].iloc[1] == pytest.approx(14.6e6 * 200 * 500)


def test_price_sensitivity_rows_and_costs():
    price = gpu_price("a100-80gb", "aws", "on-demand")
    t = price_sensitivity_table("a100-80gb", price, tokens_per_s_modelled=1000, tokens_per_s_measured=None,
                                utilization=0.5, fleet_gpus=10)
    assert len(t) == (gpu_prices()["gpu"] == "a100-80gb").sum()
    assert list(t["usd_per_gpu_hour"]) == sorted(t["usd_per_gpu_hour"])
    first = t.iloc[0]
    # $p/h ÷ (1000 tok/s × 3600 s × 0.5) × 1e6 tokens; 10 GPUs × $p × 730 h
    assert first["usd_per_million_tokens"] == pytest.approx(first["usd_per_gpu_hour"] / 1.8e6 * 1e6)
    assert first["fleet_usd_per_month"] == pytest.approx(10 * first["usd_per_gpu_hour"] * 730)
    assert t["usd_per_million_tokens_measured"].isna().all()


def test_price_sensitivity_adds_a_price_set_by_the_user():
    price = gpu_price("a100-80gb", usd_per_gpu_hour=0.01)
    t = price_sensitivity_table("a100-80gb", price, tokens_per_s_modelled=1000, tokens_per_s_measured=2000,
                                utilization=1.0, fleet_gpus=1)
    assert len(t) == (gpu_prices()["gpu"] == "a100-80gb").sum() + 1
    assert t["usd_per_gpu_hour"].iloc[0] == 0.01                     # the cheapest, first
    assert t["usd_per_million_tokens_measured"].iloc[0] == pytest.approx(0.01 / 7.2e6 * 1e6)


def test_price_curves():
    c = price_curves([1.0, 2.0], [(1000, "modelled"), (2500, "measured")], 0.5)
    assert list(c["throughput"]) == ["1,000 tok/s/GPU (modelled)", "2,500 tok/s/GPU (measured)"] * 2
    assert list(c["usd_per_gpu_hour"]) == [1.0, 1.0, 2.0, 2.0]
    assert c["usd_per_million_tokens"].iloc[3] == pytest.approx(2.0 / (2500 * 3600 * 0.5) * 1e6)


def test_unit_economics_table():
    ue = SimpleNamespace(mau=1000, paid_users=50, revenue=500.0, monthly_cost=300.0, gross_profit=200.0,
                         gross_margin=40.0, cost_per_mau=0.3)
    t = unit_economics_table(ue)
    assert t.iloc[0].to_dict() == {"mau": 1000, "paid_users": 50, "revenue_usd_per_month": 500.0,
                                   "cost_usd_per_month": 300.0, "gross_profit_usd_per_month": 200.0,
                                   "gross_margin": 40.0, "cost_per_mau_usd": 0.3}
