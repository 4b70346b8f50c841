import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.economics.autoscaling import autoscaled_gpu_hours, autoscaling_saving, diurnal_load
from model.checks import ParameterError


def test_diurnal_ends_and_mean():
    h = np.arange(24.0)
    load = diurnal_load(h, peak=1200, trough=600, peak_hour=21)
    assert_allclose(load[21], 1200) and assert_allclose(load[9], 600)
    assert_allclose(load.mean(), 900)


def test_autoscaling_sine_mean_is_midpoint():
    s = autoscaling_saving(peak_gpus=1200, trough_gpus=600, usd_per_gpu_hour=1.0, steps_per_day=96)
    assert_allclose(s["mean_gpus"], 900, rtol=2e-3)
    # 300 GPUs saved on average x 730 h x $1
    assert_allclose(s["saving_usd_per_month"], 300 * 730, rtol=5e-3)
    flat = autoscaling_saving(peak_gpus=1000, trough_gpus=1000, usd_per_gpu_hour=1.0)
    assert flat["saving_usd_per_month"] == 0


def test_whole_gpus_each_step():
    assert autoscaled_gpu_hours([0.2, 1.0, 1.5], step_hours=2.0) == (1 + 1 + 2) * 2.0
    with pytest.raises(ParameterError, match="load_gpus"):
        autoscaled_gpu_hours([-1.0], step_hours=1.0)
    with pytest.raises(ParameterError, match="trough"):
        diurnal_load(np.arange(3.0), peak=10, trough=20)
