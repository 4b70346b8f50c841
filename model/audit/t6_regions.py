"""Audit of the case study's T6 (§6): user shares by region, latency from US-East, and the cost of the
multi-region design, at the source's own setting (the 900 GPUs as the month's mean fleet, T9's price of a
GPU-month, §10's +10% spares, its three inference regions: the audit's readings, :mod:`model.audit.readings`).

Azure regions stand for the source's region names: East US for "US-East", Japan East for
"AP-Northeast" (data/regions/README.md); a user group's latency is judged against the spread of Azure's
published P95 round-trip times to the regions of that group.
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.economics.regions import GROUPS, group_rtt, multiregion_cost_table

#: Azure region standing for the source's "US-East" (data/regions/README.md).
HOME_REGION = "East US"
#: Azure region standing for the source's "AP-Northeast" (Tokyo).
ASIA_REGION = "Japan East"


def user_shares() -> list[float]:
    """T6's user shares of North America, Europe, Asia and other, as fractions (in :data:`GROUPS` order)."""
    return [stated_value(f"t6.{g}.user_share") / 100 for g in GROUPS]


def inference_region_shares() -> list[float]:
    """Load shares of T6's three inference regions: US-East serves North America (40%) and the rest of the
    world (5%, via CDN), EU-West Europe (25%), AP-Northeast Asia (30%)."""
    na, eu, asia, other = user_shares()
    return [na + other, eu, asia]


def fleet_gpus(fleet_900: str | None = None) -> float:
    """The month's mean fleet serving the 1M-session load under the reading ``fleet_900`` of §5's and T9's
    900 GPUs (default: the audit's, the mean itself; :mod:`model.audit.readings`)."""
    return R.fleet_gpus(fleet_900)[0]


def usd_per_gpu_month(gpu_price: str | None = None) -> float:
    """The price of one GPU-month under the reading ``gpu_price`` (default: the audit's, T9's own: $4.5M / 900
    GPUs)."""
    return R.gpu_usd_per_month(gpu_price)


def spare_share() -> float:
    """§10's hot spares per region, as a fraction (+10%)."""
    return stated_value("l10.design.spare_gpu_share") / 100


def multiregion_designs(fleet_900: str | None = None, gpu_price: str | None = None) -> pd.DataFrame:
    """:func:`model.economics.regions.multiregion_cost_table` at the source's setting (the month's mean fleet,
    T6's shares, +10% spares, a GPU-month's price) under the readings ``fleet_900`` and ``gpu_price``
    (default: the audit's): the extra GPUs scale with the load, so their monthly cost is that of the mean
    fleet's."""
    return multiregion_cost_table(float(fleet_gpus(fleet_900)), inference_region_shares(), spare_share=spare_share(),
                                  usd_per_gpu_month=float(usd_per_gpu_month(gpu_price)))


def multiregion_extra(fleet_900: str | None = None, gpu_price: str | None = None) -> Alt:
    """USD a month the design that survives one region's loss adds, under the readings."""
    return Alt(float(multiregion_designs(fleet_900, gpu_price).iloc[-1]["extra_usd_per_month"]))


def multiregion_cost_readings() -> tuple:
    """:func:`multiregion_extra` at the audit's readings, and ``under`` every other reading of the fleet and
    of the GPU price."""
    main, under = R.across("fleet_900", lambda a: multiregion_extra(fleet_900=a))
    under.update(R.across("gpu_price", lambda a: multiregion_extra(gpu_price=a))[1])
    return main, under


def _latency_row(claim_id: str, source_region: str, group: str) -> Computed:
    r = group_rtt(source_region, group)
    return Computed(claim_id, r.median, "ms",
                    f"Azure P95 RTT {source_region} → {r.n_regions} {group.replace('_', ' ')} regions: median "
                    f"{r.median:.0f} ms, quartiles {r.q1:.0f}–{r.q3:.0f} ms, range {r.minimum:.0f}–{r.maximum:.0f} ms "
                    "(the region standing for the group is the source's open choice)",
                    kind="range", low=r.minimum, high=r.maximum,
                    depends_on=f"which of the {group.replace('_', ' ')} regions stands for the group")


def computed() -> list[Computed]:
    """Every T6 figure, computed at the source's setting."""
    out = []
    shares = user_shares()
    for g in GROUPS:
        out.append(Computed(f"t6.{g}.user_share", stated_value(f"t6.{g}.user_share"), "%",
                            f"input (the service's traffic split); the four shares sum to {100 * sum(shares):g}%",
                            role="input"))
        out.append(_latency_row(f"t6.{g}.latency_from_us_east", HOME_REGION, g))
        out.append(Computed(f"t6.{g}.mitigation", math.nan, "text", "qualitative (where the users are served)",
                            role="qualitative"))
    asia_us = group_rtt(HOME_REGION, "asia")
    out.append(Computed("t6.multiregion.asia_latency_before", stated_value("t6.multiregion.asia_latency_before"), "ms",
                        f"restates T6's Asia row (200 ms from US-East), audited there (Azure median "
                        f"{asia_us.median:.0f} ms)", role="restatement", restates="t6.asia.latency_from_us_east"))
    out.append(_latency_row("t6.multiregion.asia_latency_after", ASIA_REGION, "asia"))
    out.append(Computed("t6.multiregion.regions", stated_value("t6.multiregion.regions"), "count",
                        "input: the design names three inference regions (US-East, EU-West, AP-Northeast; other "
                        "users via CDN)", role="design input"))
    table = multiregion_designs()
    survive, split = table.iloc[2], table.iloc[1]
    price = usd_per_gpu_month()
    stated_cost = stated_value("t6.multiregion.cost_increase")
    main, under = multiregion_cost_readings()
    out.append(Computed("t6.multiregion.cost_increase", main.value, "USD/month",
                        f"§10 asks that one region's loss be covered: {survive['gpus']:.0f} GPUs vs "
                        f"{table.iloc[0]['gpus']:.0f} in one region for the month's mean fleet of "
                        f"{fleet_gpus():.0f}, +{survive['extra_gpus']:.0f} × ${price:,.0f}/GPU-month "
                        f"({R.gpu_price_label()}); a plain split adds {split['extra_gpus']:.0f} GPUs; $800K buys "
                        f"{stated_cost / price:.0f} GPUs", under=under,
                        reads=("t6.north_america.user_share", "t6.europe.user_share", "t6.asia.user_share",
                               "t6.other.user_share", "l10.design.spare_gpu_share")))
    return out


def table() -> pd.DataFrame:
    """The T6 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
