"""Audit of the case study's §9 (T9): the monthly cost breakdown at 1M sessions and the unit economics,
at the source's own setting (900 A100s, §2's $0.08 per 1M tokens, the multi-region design of §6/§10) and the
audit's readings (:mod:`model.audit.readings`: T9's own GPU price, which T9's GPU line sets; "concurrent"
sessions open at once; §8's tokens per turn; new tokens billed); and the price of one GPU that each section's
dollar figures imply."""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.t2_api_costs import across_volume, monthly_volume
from model.audit.t6_regions import multiregion_cost_readings, multiregion_designs
from model.audit.verdicts import Computed
from model.calendar import hours_per_month
from model.economics.fleet_sizing import fleet_monthly_cost
from model.economics.token_cost import MILLION
from model.economics.unit_economics import UnitEconomics, cost_breakdown

#: T9's cost lines, in the table's order.
T9_LINES = ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")


def _nr(claim_id: str, unit: str, why: str) -> Computed:
    return Computed(claim_id, math.nan, unit, why, role="measurement")


def cost_lines() -> dict:
    """T9's seven monthly cost lines, USD/month."""
    return {k: stated_value(f"t9.{k}.monthly_cost") for k in T9_LINES}


def breakdown() -> pd.DataFrame:
    """:func:`model.economics.unit_economics.cost_breakdown` of T9's lines, with T9's stated (rounded) shares."""
    table = cost_breakdown(cost_lines())
    table["stated_share"] = [stated_value(f"t9.{k}.share") / 100 for k in T9_LINES] + [1.0]
    return table


def unit_economics() -> UnitEconomics:
    """T9's users, conversion, ARPU and total cost."""
    return UnitEconomics(stated_value("t9.unit.mau"), stated_value("t9.unit.conversion_rate") / 100,
                         stated_value("t9.unit.arpu"), sum(cost_lines().values()))


def implied_gpu_costs() -> pd.DataFrame:
    """USD per GPU-month implied by each section that prices a GPU count.

    Columns: section, statement, usd_per_month, gpus, usd_per_gpu_month, usd_per_gpu_hour.
    """
    hours = hours_per_month()
    peak, trough = stated_value("l11.autoscaling.peak_gpus"), stated_value("l11.autoscaling.offpeak_gpus")
    rows = [
        ("§4 (T4)", "-35% ($875K/month) for 2,500 → 1,630 GPUs", stated_value("t4.cb.monthly_saving"),
         stated_value("t4.baseline.gpus_for_1m") - stated_value("t4.cb.gpus_for_1m")),
        ("§5", "$1.6M/month for 1,630 → 900 GPUs", stated_value("t5.effect.monthly_saving"),
         stated_value("t5.effect.gpus_before") - stated_value("t5.effect.gpus_after")),
        ("§9 (T9)", "GPU (A100 × 900) $4.5M/month", stated_value("t9.gpu.monthly_cost"), stated_value("t9.gpu.gpu_count")),
        ("§11", "$1.2M/month saved, 1,200 → 600 GPUs off-peak (sinusoidal day: mean 300 GPUs saved)",
         stated_value("l11.autoscaling.monthly_saving"), (peak - trough) / 2.0),
        ("§11", "$1.2M/month saved if 600 GPUs were off all month (upper bound on GPUs saved)",
         stated_value("l11.autoscaling.monthly_saving"), peak - trough),
    ]
    out = pd.DataFrame(rows, columns=["section", "statement", "usd_per_month", "gpus"])
    out["usd_per_month"] = out["usd_per_month"].astype(float)
    out["gpus"] = out["gpus"].astype(float)
    out["usd_per_gpu_month"] = out["usd_per_month"] / out["gpus"]
    out["usd_per_gpu_hour"] = out["usd_per_gpu_month"] / hours
    return out


def computed() -> list[Computed]:
    """Every T9 figure, computed at the source's setting and the audit's readings."""
    lines = cost_lines()
    total = sum(lines.values())  # tracked: the total reads every line
    gpus = stated_value("t9.gpu.gpu_count")
    hours = hours_per_month()
    implied = lines["gpu"] / gpus / hours
    gpu_cost, gpu_under = R.across("gpu_price", lambda a: Alt(fleet_monthly_cost(gpus, R.gpu_usd_per_hour(a))))
    n = stated_value("t2.arith.sessions_1m")
    price = stated_value("t2.self_hosted.price")
    llm, llm_under = across_volume(lambda **kw: Alt(monthly_volume(n, **kw).total_tokens / MILLION * price))
    tokens_1m = monthly_volume(n).total_tokens
    stated_shares = sum(stated_value(f"t9.{k}.share") for k in lines)
    exact_shares = sum(v / total for v in lines.values())
    ue = unit_economics()
    regions = multiregion_designs()
    multi, multi_under = multiregion_cost_readings()
    out = [
        Computed("t9.gpu.gpu_count", gpus, "count",
                 "restates the 900 GPUs of §5 after INT8 (also the mean of §11's 1,200/600 day)",
                 role="restatement", restates="t5.effect.gpus_after"),
        Computed("t9.gpu.monthly_cost", gpu_cost.value, "USD/month",
                 f"the audit's reading of the GPU price: $4.5M for 900 GPUs is ${implied:.2f}/GPU-h "
                 f"(${implied * hours:,.0f} a GPU-month); at {R.gpu_price_label('aws_on_demand')} "
                 f"(${R.gpu_usd_per_hour('aws_on_demand'):.2f}/GPU-h) 900 GPUs cost "
                 f"${gpu_under[('gpu_price', 'aws_on_demand')].value / 1e6:.2f}M",
                 role="reading", under=gpu_under),
        Computed("t9.llm_inference.monthly_cost", llm.value, "USD/month",
                 f"the self-hosted tokens of 1M sessions: 1M x {R.sessions_per_slot_month():,.0f} sessions a month "
                 f"x 200 turns x {R.tokens_per_turn():g} tokens = {tokens_1m / 1e12:.1f}T tokens x ${price:g}/1M (§2) = "
                 f"${llm.value / 1e6:.2f}M; the GPUs serving Llama 2 are already the $4.5M line",
                 under=llm_under),
        _nr("t9.storage.monthly_cost", "USD/month", "no stored volume, retention or $/GB given"),
        _nr("t9.network.monthly_cost", "USD/month", "no traffic volume or $/GB given"),
        Computed("t9.multiregion.monthly_cost", multi.value, "USD/month",
                 f"the multi-region design of §6/§10 (T6 audit): {regions['extra_gpus'].iloc[-1]:.0f} GPUs more so "
                 f"that one region may fail, at {R.gpu_price_label()}", under=multi_under,
                 reads=("t6.north_america.user_share", "t6.europe.user_share", "t6.asia.user_share",
                        "t6.other.user_share", "l10.design.spare_gpu_share")),
        _nr("t9.other.monthly_cost", "USD/month", "monitoring and logs: no volumes or prices given"),
        _nr("t9.engineering.monthly_cost", "USD/month", "no headcount or salaries given"),
        Computed("t9.total.monthly_cost", total, "USD/month",
                 "sum of the seven stated lines: " + " + ".join(f"{v / 1e6:g}" for v in lines.values())
                 + f" = ${total / 1e6:g}M"),
        Computed("t9.total.share", 100 * exact_shares, "%",
                 f"exact shares sum to {100 * exact_shares:g}%; the stated (rounded) line shares sum to "
                 f"{stated_shares:g}%"),
    ]
    for k, v in lines.items():
        out.append(Computed(f"t9.{k}.share", 100 * v / total, "%",
                            f"${v / 1e6:g}M / ${total / 1e6:g}M = {v / total:.1%}"))
    rev = ue.revenue
    out += [
        Computed("t9.unit.mau", stated_value("t9.unit.mau"), "count", "input (the service's user count)",
                 role="input"),
        Computed("t9.unit.paid_users", ue.paid_users, "count", "20M MAU × 10% = 2M"),
        Computed("t9.unit.conversion_rate", 100 * stated_value("t9.unit.paid_users") / stated_value("t9.unit.mau"), "%",
                 "2M paid / 20M MAU"),
        Computed("t9.unit.arpu", stated_value("t9.unit.arpu"), "USD/user/month", "input (subscription price)",
                 role="input"),
        Computed("t9.unit.monthly_revenue", rev, "USD/month", f"2M × $9.99 = ${rev / 1e6:.2f}M"),
        Computed("t9.unit.gross_profit_revenue", rev, "USD/month", f"revenue 2M × $9.99 = ${rev / 1e6:.2f}M"),
        Computed("t9.unit.gross_profit_cost", total, "USD/month", f"T9 total ${total / 1e6:g}M (sum of the lines)"),
        Computed("t9.unit.gross_profit", ue.gross_profit, "USD/month",
                 f"${rev / 1e6:.2f}M − ${total / 1e6:g}M = ${ue.gross_profit / 1e6:.2f}M"),
        Computed("t9.unit.gross_margin", 100 * ue.gross_margin, "%",
                 f"${ue.gross_profit / 1e6:.2f}M / ${rev / 1e6:.2f}M = {ue.gross_margin:.1%}"),
    ]
    return out


def table() -> pd.DataFrame:
    """The T9 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
