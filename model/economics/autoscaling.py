"""Autoscaling over a day: a diurnal load curve between a peak and a trough, the GPU-hours of a fleet
that follows it, and the monthly saving against a static peak-sized fleet.

Units: GPUs, hours, USD; a month is :func:`model.calendar.hours_per_month` hours.
"""

from __future__ import annotations

import math

import numpy as np

from model.calendar import hours_per_month
from model.checks import ParameterError, check_int, check_number, check_positive


def diurnal_load(hours: np.ndarray, *, peak: float, trough: float, peak_hour: float = 21.0) -> np.ndarray:
    """A sinusoidal day: load ``peak`` at ``peak_hour`` and ``trough`` twelve hours later.

    With only the two ends of a day known, a sinusoid is the least-informative smooth curve through them
    (its mean is their midpoint).
    """
    check_positive("peak", peak)
    check_number("trough", trough, low=0.0, high=peak)
    check_number("peak_hour", peak_hour, low=0.0, high=24.0)
    h = np.asarray(hours, dtype=float)
    mid, amp = (peak + trough) / 2.0, (peak - trough) / 2.0
    return mid + amp * np.cos(2.0 * np.pi * (h - peak_hour) / 24.0)


def autoscaled_gpu_hours(load_gpus: np.ndarray, *, step_hours: float) -> float:
    """GPU-hours of a fleet that follows ``load_gpus`` (whole GPUs, rounded up each step)."""
    check_positive("step_hours", step_hours)
    load = np.asarray(load_gpus, dtype=float)
    if (load < 0).any():
        raise ParameterError("load_gpus", float(load.min()), "non-negative GPU counts")
    return float(np.ceil(load - 1e-9).sum() * step_hours)


def autoscaling_saving(*, peak_gpus: float, trough_gpus: float, usd_per_gpu_hour: float,
                       steps_per_day: int = 96, peak_hour: float = 21.0) -> dict:
    """Monthly saving of following a sinusoidal day (:func:`diurnal_load`) instead of keeping the peak fleet.

    Returns
    -------
    dict
        ``static_gpu_hours``, ``autoscaled_gpu_hours`` (per day), ``mean_gpus``, ``saving_usd_per_month``.
    """
    check_int("steps_per_day", steps_per_day, low=1)
    step = 24.0 / steps_per_day
    hours = np.arange(steps_per_day) * step
    load = diurnal_load(hours, peak=peak_gpus, trough=trough_gpus, peak_hour=peak_hour)
    auto = autoscaled_gpu_hours(load, step_hours=step)
    static = math.ceil(peak_gpus) * 24.0
    days = hours_per_month() / 24.0
    return {"static_gpu_hours": static, "autoscaled_gpu_hours": auto, "mean_gpus": auto / 24.0,
            "saving_usd_per_month": (static - auto) * days * check_positive("usd_per_gpu_hour", usd_per_gpu_hour)}
