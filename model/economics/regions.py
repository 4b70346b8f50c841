"""Regions: where users are, how far (in round-trip time) they are from an inference region, and what
serving them from several regions costs in GPUs.

Round-trip times come from ``data/regions/azure_rtt_p95_ms.csv`` (Azure's published monthly P95
inter-region RTTs); user and load shares are parameters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from model.economics.availability import capacity_to_survive_region_loss
from model.io import DATA, verify_sha256
from model.checks import ParameterError, check_choice, check_nonnegative, check_positive, check_shares

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


def region_shares(shares: dict[str, float]) -> dict[str, float]:
    """Validate user shares by region: each in [0, 1], summing to 1."""
    check_shares("shares", list(shares.values()))
    return dict(shares)


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
    (:func:`model.economics.availability.capacity_to_survive_region_loss`).
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
