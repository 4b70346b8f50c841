"""model.plan.cost by hand: tokens in a 730-hour month, the GPUs' rent (a price set by the user, a dated row of
data/prices/gpu_prices.csv), DRAM and SSD at data/hardware.csv's prices or the user's, the same tokens at an API's
published prices, regions beyond the first, per-million figures and the break-even GPU-hour price."""
import math
from types import SimpleNamespace

import pytest
from numpy.testing import assert_allclose

import model.plan.cost as cost
from model.checks import ParameterError
from model.plan.cost import MILLION, PRICE_FLAGS, SECONDS_PER_HOUR, Cost, plan_cost, tier_prices, tokens_per_month

HOURS = 730                 # data/parameters/defaults.csv hours_per_month
DRAM_USD_PER_GB_MONTH = 3.093   # data/hardware.csv host-dram
SSD_USD_PER_GB_MONTH = 0.08     # data/hardware.csv nvme-ssd
# data/prices/api_prices.csv gpt-3.5-turbo-0125: $0.50 per 1M input, $1.50 per 1M output tokens
# data/prices/gpu_prices.csv a100-80gb aws on-demand (2026-11-09): $3.4309 per GPU-hour


def inputs(**kw):
    base = dict(gpu="a100-80gb", gpu_provider="aws", gpu_pricing="on-demand", gpu_usd_per_hour=2.0,
                demand_requests_per_s=2.0, prompt_tokens=100, reply_tokens=50, api_model="gpt-3.5-turbo-0125",
                dram_usd_per_gb_month=None, ssd_usd_per_gb_month=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_constants():
    assert (MILLION, SECONDS_PER_HOUR) == (1e6, 3600.0)
    assert PRICE_FLAGS == {"gpu": "--gpu", "provider": "--gpu-provider", "pricing": "--gpu-pricing",
                           "usd_per_gpu_hour": "--gpu-usd-per-hour"}


def test_tokens_per_month_by_hand():
    assert_allclose(tokens_per_month(2.0, 100, 50), 2 * 150 * 730 * 3600, rtol=1e-12)


def test_plan_cost_by_hand():
    """3 GPUs at $2/h: 3 × 2 × 730 = $4,380; 10 GB DRAM, 100 GB SSD; API: 2 requests/s × 730 × 3600 s ×
    (100 × 0.5 + 50 × 1.5) / 1e6 = $657 a month."""
    c = plan_cost(inputs(), gpus=3, dram_gb=10.0, ssd_gb=100.0)
    assert (c.usd_per_gpu_hour, c.price_label, c.api_model) == (2.0, "a price set by the user", "gpt-3.5-turbo-0125")
    assert_allclose([c.gpus_usd_per_month, c.dram_usd_per_month, c.ssd_usd_per_month],
                    [4380.0, 10 * DRAM_USD_PER_GB_MONTH, 100 * SSD_USD_PER_GB_MONTH], rtol=1e-12)
    assert c.network_usd_per_month == 0.0 and c.regions_usd_per_month == 0.0
    tokens = 2 * 150 * 730 * 3600
    assert_allclose([c.tokens_per_month, c.api_usd_per_month], [tokens, 657.0], rtol=1e-12)
    total = 4380.0 + 10 * DRAM_USD_PER_GB_MONTH + 8.0
    assert_allclose(c.usd_per_month, total, rtol=1e-12)
    assert_allclose(c.usd_per_million_tokens, total / tokens * 1e6, rtol=1e-12)
    assert_allclose(c.api_usd_per_million_tokens, 657.0 / tokens * 1e6, rtol=1e-12)
    # the GPUs may cost (657 − 30.93 − 8) ÷ (3 × 730) per hour for the plan to cost what the API does
    assert_allclose(c.break_even_usd_per_gpu_hour(3), (657.0 - 10 * DRAM_USD_PER_GB_MONTH - 8.0) / (3 * 730),
                    rtol=1e-12)
    assert math.isnan(c.break_even_usd_per_gpu_hour(0))


def test_a_price_from_the_table_and_the_users_tier_prices():
    c = plan_cost(inputs(gpu_usd_per_hour=None, dram_usd_per_gb_month=2.0, ssd_usd_per_gb_month=0.5),
                  gpus=2, dram_gb=10.0, ssd_gb=100.0)
    assert c.usd_per_gpu_hour == 3.4309 and c.price_label == "aws on-demand a100-80gb, 2026-11-09"
    assert_allclose([c.gpus_usd_per_month, c.dram_usd_per_month, c.ssd_usd_per_month],
                    [2 * 3.4309 * 730, 20.0, 50.0], rtol=1e-12)
    assert tier_prices(inputs()) == (DRAM_USD_PER_GB_MONTH, SSD_USD_PER_GB_MONTH)
    assert tier_prices(inputs(dram_usd_per_gb_month=1.0)) == (1.0, SSD_USD_PER_GB_MONTH)
    assert tier_prices(inputs(ssd_usd_per_gb_month=0.25)) == (DRAM_USD_PER_GB_MONTH, 0.25)


def test_regions_beyond_the_first(monkeypatch):
    """At $1,000 a region a month (a value substituted to show the arithmetic; the data's is 0), 3 regions add
    2 × $1,000, which the break-even price leaves out of the GPUs' share."""
    real = cost.default
    monkeypatch.setattr(cost, "default",
                        lambda name: 1000.0 if name == "econ_region_fixed_usd_per_month" else real(name))
    c = plan_cost(inputs(), gpus=3, dram_gb=0.0, ssd_gb=0.0, regions=3)
    assert c.regions_usd_per_month == 2000.0
    assert_allclose(c.usd_per_month, 4380.0 + 2000.0, rtol=1e-12)
    assert_allclose(c.break_even_usd_per_gpu_hour(3), (657.0 - 2000.0) / (3 * 730), rtol=1e-12)
    assert plan_cost(inputs(), gpus=3, dram_gb=0.0, ssd_gb=0.0).regions_usd_per_month == 0.0


def test_cost_as_dict():
    c = Cost(2.0, "label", 100.0, 10.0, 1.0, 0.5, 2e6, "api", 300.0, 20.0)
    d = c.as_dict(4)
    assert d == {"usd_per_gpu_hour": 2.0, "gpu_price": "label",
                 "by_item_usd_per_month": {"gpus": 100.0, "dram": 10.0, "ssd": 1.0, "network": 0.5, "regions": 20.0},
                 "tokens_per_month": 2e6, "api_model": "api", "api_usd_per_month": 300.0,
                 "api_usd_per_million_tokens": 150.0,
                 "break_even_usd_per_gpu_hour": pytest.approx((300.0 - 31.5) / (4 * 730), rel=1e-12)}
    assert_allclose(c.usd_per_month, 131.5, rtol=1e-12)
    assert_allclose(c.usd_per_million_tokens, 65.75, rtol=1e-12)
    assert Cost(1.0, "", 0, 0, 0, 0, 1.0, "", 0).regions_usd_per_month == 0.0


def test_price_errors_name_the_flags():
    with pytest.raises(ParameterError, match="^--gpu-usd-per-hour=-1.0 is not allowed"):
        plan_cost(inputs(gpu_usd_per_hour=-1.0), gpus=1, dram_gb=0.0, ssd_gb=0.0)
    with pytest.raises(ParameterError, match="^--gpu-provider='nowhere' is not allowed"):
        plan_cost(inputs(gpu_usd_per_hour=None, gpu_provider="nowhere"), gpus=1, dram_gb=0.0, ssd_gb=0.0)
    with pytest.raises(ParameterError, match="^--gpu-pricing='free' is not allowed"):
        plan_cost(inputs(gpu_usd_per_hour=None, gpu_pricing="free"), gpus=1, dram_gb=0.0, ssd_gb=0.0)
    with pytest.raises(ParameterError, match="^--gpu='tpu' is not allowed"):
        plan_cost(inputs(gpu_usd_per_hour=None, gpu="tpu"), gpus=1, dram_gb=0.0, ssd_gb=0.0)
    with pytest.raises(ParameterError, match="^--api-model="):
        plan_cost(inputs(api_model="no-such-model"), gpus=1, dram_gb=0.0, ssd_gb=0.0)
