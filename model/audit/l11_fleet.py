"""Audit of the case study's §11: monitoring thresholds, autoscaling between 1,200 and 600 GPUs and its
$1.2M/month saving, valued at T9's own price of a GPU-month (the check internal to the source), with the
dated AWS on-demand A100 80GB price reported beside it."""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit.t6_regions import spare_share, usd_per_gpu_month
from model.audit.verdicts import Computed, audit
from model.economics.autoscaling import autoscaling_saving
from model.calendar import hours_per_month
from model.economics.fleet_sizing import gpus_for_sessions
from model.economics.prices import gpu_price

#: The market row the saving is also valued at: the source's own cloud and GPU (§2: AWS, A100).
MARKET = ("a100-80gb", "aws", "on-demand")
T9_LINES = ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def computed() -> list[Computed]:
    """Every §11 figure, computed at the source's setting."""
    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    hours = hours_per_month()
    price_month = usd_per_gpu_month()
    spare = spare_share()
    market = gpu_price(*MARKET)
    model = autoscaling_saving(peak_gpus=peak, trough_gpus=trough, usd_per_gpu_hour=price_month / hours)
    at_market = autoscaling_saving(peak_gpus=peak, trough_gpus=trough, usd_per_gpu_hour=market.usd_per_gpu_hour)
    fleet = stated_value("t5.effect.gpus_after")
    sessions = stated_value("t1.sessions.optimized")
    peak_fleet = gpus_for_sessions(sessions, sessions / fleet, spare_share=spare)
    stated_saving = stated_value("l11.autoscaling.monthly_saving")
    off_hours = stated_saving / ((peak - trough) * price_month) * 24.0
    daily = sum(stated_value(f"t9.{k}.monthly_cost") for k in T9_LINES) / (hours / 24.0)
    alert = stated_value("l11.monitoring.daily_cost_alert")
    util = stated_value("t1.gpu_util.optimized")
    threshold = stated_value("l11.monitoring.scale_out_threshold")
    return [
        Computed("l11.monitoring.interval", math.nan, "min", "an operating choice", verdict="not reproducible"),
        Computed("l11.monitoring.scale_out_threshold", math.nan, "%",
                 f"an operating choice; note the fleet's stated mean utilisation ({util:g}%) leaves "
                 f"{threshold - util:g} points below it", verdict="not reproducible"),
        Computed("l11.monitoring.daily_cost_alert", math.nan, "USD",
                 f"a threshold; for scale, T9's ${daily * hours / 24 / 1e6:.1f}M/month is ${daily / 1e3:,.0f}K per "
                 f"day, so the alert sits {alert / daily - 1:.0%} above an average day", verdict="not reproducible"),
        Computed("l11.autoscaling.peak_gpus", peak_fleet, "count",
                 f"§5 serves the 1M-session design load on {fleet:,.0f} GPUs; + {spare:.0%} hot spares = "
                 f"{peak_fleet:,}; {peak:,.0f} at peak would mean the design load is not the peak"),
        Computed("l11.autoscaling.offpeak_gpus", peak * (1 + stated_value("l11.autoscaling.offpeak_change") / 100),
                 "count", "1,200 × (1 − 50%) (arithmetic of the stated figures)"),
        Computed("l11.autoscaling.offpeak_change", _pct_change(trough, peak), "%", "600 / 1,200 − 1"),
        Computed("l11.autoscaling.monthly_saving", model["saving_usd_per_month"], "USD/month",
                 f"sinusoidal day {peak:,.0f} ↔ {trough:,.0f} GPUs: mean {model['mean_gpus']:.0f} GPUs, "
                 f"{peak - model['mean_gpus']:.0f} GPU-months saved × ${price_month:,.0f} (T9's price) = "
                 f"${model['saving_usd_per_month'] / 1e6:.2f}M; at {market.label} "
                 f"${at_market['saving_usd_per_month'] / 1e6:.2f}M; $1.2M at T9's price means {peak - trough:,.0f} "
                 f"GPUs off {off_hours:.1f} h a day"),
    ]


def table() -> pd.DataFrame:
    """The §11 audit table."""
    return audit(computed())
