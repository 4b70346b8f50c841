"""Audit of the case study's §11: monitoring thresholds, autoscaling between 1,200 and 600 GPUs and its
$1.2M/month saving, under the audit's readings (:mod:`model.audit.readings`): T9's own price of a GPU-month
(the check internal to the source; the dated AWS on-demand A100 80GB price is the other reading) and T9's
900 GPUs as the month's mean fleet (their peak need, the other)."""

from __future__ import annotations

import pandas as pd

from model.audit.claims import stated_value
from model.audit.t6_regions import spare_share, usd_per_gpu_month
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.economics.autoscaling import autoscaling_saving
from model.calendar import hours_per_month

T9_LINES = ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def saving(gpu_price: str | None = None) -> dict:
    """:func:`model.economics.autoscaling.autoscaling_saving` of §11's 1,200/600-GPU day at the GPU price of
    the reading ``gpu_price`` (default: the audit's, T9's own)."""
    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    return autoscaling_saving(peak_gpus=peak, trough_gpus=trough, usd_per_gpu_hour=R.gpu_usd_per_hour(gpu_price))


def computed() -> list[Computed]:
    """Every §11 figure, computed at the source's setting and the audit's readings."""
    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    hours = hours_per_month()
    price_month = usd_per_gpu_month()
    spare = spare_share()
    model = saving()
    main_saving, under_saving = R.across("gpu_price", lambda a: Alt(saving(a)["saving_usd_per_month"]))
    at_market = under_saving[("gpu_price", "aws_on_demand")].value
    fleet = stated_value("t9.gpu.gpu_count")
    peak_fleet, under_peak = R.across("fleet_900", lambda a: Alt(R.fleet_gpus(a)[1]))
    stated_saving = stated_value("l11.autoscaling.monthly_saving")
    off_hours = stated_saving / ((peak - trough) * price_month) * R.HOURS_PER_DAY
    daily = sum(stated_value(f"t9.{k}.monthly_cost") for k in T9_LINES) / (hours / R.HOURS_PER_DAY)
    alert = stated_value("l11.monitoring.daily_cost_alert")
    util = stated_value("t1.gpu_util.optimized")
    threshold = stated_value("l11.monitoring.scale_out_threshold")
    return [
        Computed("l11.monitoring.interval", stated_value("l11.monitoring.interval"), "min",
                 "a monitoring interval the operator chooses", role="interval"),
        Computed("l11.monitoring.scale_out_threshold", threshold, "%",
                 f"a threshold the operator chooses; the fleet's stated mean utilisation ({util:g}%) leaves "
                 f"{threshold - util:g} points below it", role="threshold"),
        Computed("l11.monitoring.daily_cost_alert", alert, "USD",
                 f"a threshold the operator chooses; T9's ${daily * hours / R.HOURS_PER_DAY / 1e6:.1f}M/month is "
                 f"${daily / 1e3:,.0f}K per day, so the alert sits {alert / daily - 1:.0%} above an average day",
                 role="threshold"),
        Computed("l11.autoscaling.peak_gpus", peak_fleet.value, "count",
                 f"§11's day is symmetric about its mean (1,200 and 600 about 900); read as the month's mean "
                 f"fleet (the audit's reading), T9's {fleet:,.0f} GPUs peak at 2 × {fleet:,.0f} − {trough:,.0f} = "
                 f"{peak_fleet.value:,.0f}; read as the peak need, {fleet:,.0f} + {spare:.0%} hot spares = "
                 f"{under_peak[('fleet_900', 'peak')].value:,.0f}", under=under_peak),
        Computed("l11.autoscaling.offpeak_gpus", peak * (1 + stated_value("l11.autoscaling.offpeak_change") / 100),
                 "count", "1,200 × (1 − 50%) (arithmetic of the stated figures)"),
        Computed("l11.autoscaling.offpeak_change", _pct_change(trough, peak), "%", "600 / 1,200 − 1"),
        Computed("l11.autoscaling.monthly_saving", main_saving.value, "USD/month",
                 f"sinusoidal day {peak:,.0f} ↔ {trough:,.0f} GPUs: mean {model['mean_gpus']:.0f} GPUs, "
                 f"{peak - model['mean_gpus']:.0f} GPU-months saved × ${price_month:,.0f} ({R.gpu_price_label()}) = "
                 f"${main_saving.value / 1e6:.2f}M; at {R.gpu_price_label('aws_on_demand')} ${at_market / 1e6:.2f}M; "
                 f"$1.2M at T9's price means {peak - trough:,.0f} GPUs off {off_hours:.1f} h a day",
                 under=under_saving),
    ]


def table() -> pd.DataFrame:
    """The §11 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
