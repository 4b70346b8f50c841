"""Audit of the case study's T6 (§6): user shares by region, latency from US-East, and the cost of the
multi-region design, at the source's own setting (900 GPUs, T9's price of a GPU-month, §10's +10% spares,
its three inference regions).

Azure regions stand for the source's region names: East US for "US-East", Japan East for
"AP-Northeast" (data/regions/README.md); a user group's latency is judged against the spread of Azure's
published P95 round-trip times to the regions of that group.
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit.verdicts import Computed, audit
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


def fleet_gpus() -> float:
    """GPUs serving the 1M-session load (§5 after INT8; T9's GPU count)."""
    return stated_value("t5.effect.gpus_after")


def usd_per_gpu_month() -> float:
    """T9's own price of one GPU-month: $4.5M / 900 GPUs."""
    return stated_value("t9.gpu.monthly_cost") / stated_value("t9.gpu.gpu_count")


def spare_share() -> float:
    """§10's hot spares per region, as a fraction (+10%)."""
    return stated_value("l10.design.spare_gpu_share") / 100


def multiregion_designs() -> pd.DataFrame:
    """:func:`model.economics.regions.multiregion_cost_table` at the source's setting (900 GPUs, T6's shares, +10%
    spares, T9's GPU price)."""
    return multiregion_cost_table(fleet_gpus(), inference_region_shares(), spare_share=spare_share(),
                                  usd_per_gpu_month=usd_per_gpu_month())


def _latency_row(claim_id: str, source_region: str, group: str) -> Computed:
    r = group_rtt(source_region, group)
    return Computed(claim_id, r.median, "ms",
                    f"Azure P95 RTT {source_region} → {r.n_regions} {group.replace('_', ' ')} regions: median "
                    f"{r.median:.0f} ms, quartiles {r.q1:.0f}–{r.q3:.0f} ms, range {r.minimum:.0f}–{r.maximum:.0f} ms "
                    "(the region standing for the group is the source's open choice)",
                    kind="range", low=r.minimum, high=r.maximum)


def computed() -> list[Computed]:
    """Every T6 figure, computed at the source's setting."""
    out = []
    shares = user_shares()
    for g in GROUPS:
        out.append(Computed(f"t6.{g}.user_share", stated_value(f"t6.{g}.user_share"), "%",
                            f"input (the service's traffic split); the four shares sum to {100 * sum(shares):g}%",
                            verdict="given"))
        out.append(_latency_row(f"t6.{g}.latency_from_us_east", HOME_REGION, g))
        out.append(Computed(f"t6.{g}.mitigation", math.nan, "text", "qualitative (where the users are served)",
                            verdict="not reproducible"))
    asia_us = group_rtt(HOME_REGION, "asia")
    out.append(Computed("t6.multiregion.asia_latency_before", stated_value("t6.multiregion.asia_latency_before"), "ms",
                        f"restates T6's Asia row (200 ms from US-East), audited there (Azure median "
                        f"{asia_us.median:.0f} ms)", verdict="given"))
    out.append(_latency_row("t6.multiregion.asia_latency_after", ASIA_REGION, "asia"))
    out.append(Computed("t6.multiregion.regions", stated_value("t6.multiregion.regions"), "count",
                        "input: the design names three inference regions (US-East, EU-West, AP-Northeast; other "
                        "users via CDN)", verdict="given"))
    table = multiregion_designs()
    survive, split = table.iloc[2], table.iloc[1]
    price = usd_per_gpu_month()
    stated_cost = stated_value("t6.multiregion.cost_increase")
    out.append(Computed("t6.multiregion.cost_increase", float(survive["extra_usd_per_month"]), "USD/month",
                        f"§10 asks that one region's loss be covered: {survive['gpus']:.0f} GPUs vs "
                        f"{table.iloc[0]['gpus']:.0f} in one region, +{survive['extra_gpus']:.0f} × "
                        f"${price:,.0f}/GPU-month (T9's price); a plain split adds {split['extra_gpus']:.0f} GPUs; "
                        f"$800K buys {stated_cost / price:.0f} GPUs"))
    return out


def table() -> pd.DataFrame:
    """The T6 audit table (:func:`model.audit.verdicts.audit` of :func:`computed`)."""
    return audit(computed())
