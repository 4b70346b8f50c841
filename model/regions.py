"""Regions: where users are, how far (in round-trip time) they are from an inference region, and what
serving them from several regions costs in GPUs.

Round-trip times come from ``data/regions/azure_rtt_p95_ms.csv`` (Azure's published monthly P95
inter-region RTTs); user shares from the case study's T6 unless given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from model.availability import capacity_to_survive_region_loss
from model.io import DATA, verify_sha256
from model.validation import ParameterError, check_choice, check_nonnegative, check_positive, check_shares

RTT_CSV = DATA / "regions" / "azure_rtt_p95_ms.csv"
RTT_SHA256 = "a46b17b4c0ffee16861aece6577b034b400168bc0b5f8cf41d1e0f5a4fdef437"
GROUPS = ("north_america", "europe", "asia", "other")


@lru_cache(maxsize=1)
def rtt_table() -> pd.DataFrame:
    """Azure P95 round-trip times: source_region, destination_region, destination_group, rtt_p95_ms (ms).
    The file's sha256 is checked first."""
    return pd.read_csv(verify_sha256(RTT_CSV, RTT_SHA256))


@dataclass(frozen=True)
class GroupRtt:
    """Round-trip times from one region to the regions standing for one user group, ms."""

    source_region: str
    group: str
    n_regions: int
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float

    def within_iqr(self, value_ms: float) -> bool:
        """Whether ``value_ms`` lies between the first and third quartiles."""
        return self.q1 <= value_ms <= self.q3


def group_rtt(source_region: str, group: str) -> GroupRtt:
    """Spread of RTTs from ``source_region`` to the regions of user ``group`` (one of :data:`GROUPS`)."""
    table = rtt_table()
    check_choice("source_region", source_region, sorted(table["source_region"].unique()))
    check_choice("group", group, GROUPS)
    ms = table[(table["source_region"] == source_region) & (table["destination_group"] == group)
               & (table["destination_region"] != source_region)]["rtt_p95_ms"].to_numpy(float)
    q = np.percentile(ms, [0, 25, 50, 75, 100])
    return GroupRtt(source_region, group, len(ms), *map(float, q))


def weighted_latency(shares: list[float], latencies_ms: list[float]) -> float:
    """User-weighted mean latency, ms: Σ share × latency (shares must sum to 1)."""
    s = np.asarray(check_shares("shares", shares))
    lat = np.asarray([check_nonnegative(f"latencies_ms[{i}]", v) for i, v in enumerate(latencies_ms)])
    if lat.shape != s.shape:
        raise ParameterError("latencies_ms", list(latencies_ms), f"one latency per share ({len(s)})")
    return float(s @ lat)


def split_fleet(gpus: float, shares: list[float], *, spare_share: float = 0.0) -> np.ndarray:
    """GPUs per region when a fleet sized for ``gpus`` of load is split by ``shares`` and every region
    keeps ``spare_share`` hot spares: ceil(share × gpus × (1 + spare))."""
    check_nonnegative("gpus", gpus)
    s = np.asarray(check_shares("shares", shares))
    spare = check_nonnegative("spare_share", spare_share)
    return np.ceil(s * gpus * (1.0 + spare) - 1e-9)


def multiregion_gpus(gpus: float, shares: list[float], *, spare_share: float, survive_region_loss: bool) -> float:
    """GPUs a multi-region deployment needs for a load of ``gpus`` GPUs.

    Each region holds its share plus ``spare_share`` hot spares; with ``survive_region_loss`` the regions
    are grown, if needed, so that any one region may fail and the others carry the whole load
    (:func:`model.availability.capacity_to_survive_region_loss`).
    """
    base = split_fleet(gpus, shares, spare_share=spare_share).sum()
    if not survive_region_loss:
        return float(base)
    need = capacity_to_survive_region_loss(shares) * gpus
    return float(max(base, math.ceil(need - 1e-9)))


def multiregion_cost_table(gpus: float, shares: list[float], *, spare_share: float,
                           usd_per_gpu_month: float, usd_per_region_month: float = 0.0) -> pd.DataFrame:
    """Monthly cost of serving the load from one region vs. several, under three designs.

    Columns: design, regions, gpus, extra_gpus (vs one region with the same spare share),
    extra_usd_per_month.
    """
    check_positive("usd_per_gpu_month", usd_per_gpu_month)
    check_nonnegative("usd_per_region_month", usd_per_region_month)
    n = len(shares)
    single = split_fleet(gpus, [1.0], spare_share=spare_share).sum()
    designs = [
        ("one region (+spares)", 1, single),
        ("split by user share (+spares)", n, multiregion_gpus(gpus, shares, spare_share=spare_share,
                                                               survive_region_loss=False)),
        ("split, survives one region down", n, multiregion_gpus(gpus, shares, spare_share=spare_share,
                                                                 survive_region_loss=True)),
    ]
    rows = []
    for name, regions, g in designs:
        extra = g - single
        rows.append({"design": name, "regions": regions, "gpus": g, "extra_gpus": extra,
                     "extra_usd_per_month": extra * usd_per_gpu_month + (regions - 1) * usd_per_region_month})
    return pd.DataFrame(rows)


# --- audit of T6 ----------------------------------------------------------------------------------------

_T6_ROWS = {"north_america": "north_america", "europe": "europe", "asia": "asia", "other": "other"}


def audit_t6(*, fleet_gpus: float, usd_per_gpu_month: float, spare_share: float,
             shares: list[float] | None = None, home_region: str = "East US",
             asia_region: str = "Japan East") -> list:
    """The case study's T6 (user shares, latency from US-East, multi-region cost) recomputed.

    Parameters
    ----------
    fleet_gpus : GPUs serving the load from one region (case study T5/T9: 900).
    usd_per_gpu_month : price of one GPU for a month (the chapter uses T9's own $4.5M / 900).
    spare_share : hot spares per region (case study §10: 10%).
    shares : load share of each inference region (default: US-East 45%, EU-West 25%, AP-Northeast 30%).
    home_region, asia_region : Azure regions standing for US-East and AP-Northeast.

    Returns
    -------
    list of :class:`model.audit.verdicts.Computed`
    """
    from model.availability import default_region_shares
    from model.audit.verdicts import Computed, stated_value

    shares = default_region_shares() if shares is None else shares
    out = []
    user = {g: stated_value(f"t6.{g}.user_share") for g in _T6_ROWS}
    total = sum(user.values())
    for g in _T6_ROWS:
        out.append(Computed(f"t6.{g}.user_share", math.nan, "%",
                            f"input (no public traffic split to check against); the four shares sum to {total:g}%",
                            verdict="not reproducible"))
        stated = stated_value(f"t6.{g}.latency_from_us_east")
        r = group_rtt(home_region, g)
        ok = r.within_iqr(stated)
        out.append(Computed(f"t6.{g}.latency_from_us_east", r.median, "ms",
                            f"Azure P95 RTT {home_region} → {r.n_regions} {g.replace('_', ' ')} regions: median "
                            f"{r.median:.0f} ms, quartiles {r.q1:.0f}–{r.q3:.0f} ms, range {r.minimum:.0f}–"
                            f"{r.maximum:.0f} ms; {stated:g} ms is {'inside' if ok else 'outside'} the quartiles",
                            verdict="consistent" if ok else "inconsistent"))
        out.append(Computed(f"t6.{g}.mitigation", math.nan, "text", "qualitative (where the users are served)",
                            verdict="not reproducible"))
    before = stated_value("t6.multiregion.asia_latency_before")
    asia_us = group_rtt(home_region, "asia")
    out.append(Computed("t6.multiregion.asia_latency_before", before, "ms",
                        f"the same 200 ms as T6's Asia row (Azure: median {asia_us.median:.0f} ms)"))
    after = stated_value("t6.multiregion.asia_latency_after")
    asia_home = group_rtt(asia_region, "asia")
    ok = asia_home.within_iqr(after)
    out.append(Computed("t6.multiregion.asia_latency_after", asia_home.median, "ms",
                        f"Azure P95 RTT {asia_region} → {asia_home.n_regions} Asian regions: median "
                        f"{asia_home.median:.0f} ms, quartiles {asia_home.q1:.0f}–{asia_home.q3:.0f} ms; "
                        f"{after:g} ms is {'inside' if ok else 'outside'} the quartiles",
                        verdict="consistent" if ok else "inconsistent"))
    out.append(Computed("t6.multiregion.regions", len(shares), "count",
                        "T6 names three inference regions: US-East, EU-West, AP-Northeast (other: CDN only)"))
    table = multiregion_cost_table(fleet_gpus, shares, spare_share=spare_share, usd_per_gpu_month=usd_per_gpu_month)
    survive = table.iloc[2]
    split = table.iloc[1]
    stated_cost = stated_value("t6.multiregion.cost_increase")
    out.append(Computed("t6.multiregion.cost_increase", float(survive["extra_usd_per_month"]), "USD/month",
                        f"§10 asks that one region's loss be covered: {survive['gpus']:.0f} GPUs vs "
                        f"{table.iloc[0]['gpus']:.0f} in one region, +{survive['extra_gpus']:.0f} × "
                        f"${usd_per_gpu_month:,.0f}/GPU-month; a plain split adds {split['extra_gpus']:.0f} GPUs; "
                        f"$800K buys {stated_cost / usd_per_gpu_month:.0f} GPUs"))
    return out
