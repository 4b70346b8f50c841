import math

import pytest
from numpy.testing import assert_allclose

from model.fleet_cost import fleet_gpus, fleet_usd_per_month, gpu_hour_price
from model.validation import ParameterError


def test_price_follows_the_gpu_row():
    a100 = gpu_hour_price("a100-80gb")
    h100 = gpu_hour_price("h100-80gb")
    assert a100.found and a100.usd_per_gpu_hour == 3.4309   # p4de.24xlarge $27.44705/h / 8 (data/prices)
    assert h100.usd_per_gpu_hour == 6.88                     # p5.48xlarge $55.04/h / 8
    assert "aws on-demand" in a100.label


def test_set_price_and_missing_row():
    assert gpu_hour_price("a100-80gb", 2.0).usd_per_gpu_hour == 2.0
    missing = gpu_hour_price("a100-80gb", provider="nowhere")
    assert not missing.found and "no nowhere on-demand price row" in missing.label
    assert math.isnan(fleet_usd_per_month(10, missing))
    with pytest.raises(ParameterError, match="gpu_usd_per_hour"):
        gpu_hour_price("a100-80gb", -1.0)


def test_fleet_arithmetic():
    assert_allclose(fleet_gpus(3_000_000, 40.0), 75_000)
    assert_allclose(fleet_usd_per_month(100, gpu_hour_price("a100-80gb", 2.0)), 100 * 2.0 * 730)
    with pytest.raises(ParameterError, match="requests_per_min_per_gpu"):
        fleet_gpus(10, 0)
