"""The fleet around a plan's serving pools: the diurnal peak the pools are sized for, the hot spares, and the
split over regions.

Each pool's replicas are sized at the peak demand (mean × ``peak_to_mean``; whole replicas, as
:func:`model.plan.serving.size_serving` does at the mean); its serving GPUs are then split over the regions by
their shares, each region rounding up its share and its spares apart — the fleet chapter's
:func:`model.economics.regions.split_fleet`, ceil(share × GPUs × (1 + spare)). The GPUs' busy share (energy) and
the tokens (cost per token) stay at the mean demand. Extra regions may carry a fixed monthly cost
(``econ_region_fixed_usd_per_month``).

Units: requests/s, GPUs, USD/month.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from model.checks import ParameterError, check_int, check_number, check_shares
from model.economics.regions import split_fleet
from model.serving.capacity import busy_gpus


@dataclass(frozen=True)
class FleetShape:
    """How the fleet is laid out around the serving pools.

    Attributes
    ----------
    peak_to_mean : float
        Demand the pools are sized for, as a multiple of the mean (>= 1).
    spare_fraction : float
        Hot spares per region, as a share of its serving GPUs (>= 0).
    region_shares : tuple of float
        Share of the demand each region serves (sums to 1).
    """

    peak_to_mean: float = 1.0
    spare_fraction: float = 0.0
    region_shares: tuple = (1.0,)

    def __post_init__(self):
        check_number("peak_to_mean", self.peak_to_mean, low=1.0)
        check_number("spare_fraction", self.spare_fraction, low=0.0)
        check_shares("region_shares", self.region_shares)

    @property
    def regions(self) -> int:
        return len(self.region_shares)


def equal_shares(regions: int) -> tuple:
    """``regions`` equal shares of the demand.

    Raises
    ------
    ParameterError
        naming ``regions`` unless it is a whole number >= 1.
    """
    n = check_int("regions", regions, low=1)
    return tuple([1.0 / n] * n)


def fleet_pool(pool, demand_requests_per_s: float, shape: FleetShape):
    """``pool`` (:class:`model.plan.serving.Pool`) resized for ``shape``: replicas at the peak demand, GPUs with
    every region's spares (``gpus``), busy GPUs at the mean demand. None stays None; a pool of no replicas (a
    one-token reply's decode pool) stays empty."""
    if pool is None or pool.replicas == 0:
        return pool
    peak = demand_requests_per_s * shape.peak_to_mean
    replicas = math.ceil(peak / pool.replica_requests_per_s - 1e-9) if peak > 0 else 0
    by_region = split_fleet(replicas * pool.tp, list(shape.region_shares), spare_share=shape.spare_fraction)
    busy = busy_gpus(demand_requests_per_s, replica_rate_per_s=pool.replica_requests_per_s,
                     gpus_per_replica=pool.tp)
    return replace(pool, replicas=replicas, gpus=int(by_region.sum()), busy_gpus=busy)


def gpus_by_region(pool, demand_requests_per_s: float, shape: FleetShape) -> list[int]:
    """GPUs of ``pool`` (as :func:`fleet_pool` sizes it) in each region."""
    if pool is None or pool.replicas == 0:
        return [0] * shape.regions
    peak = demand_requests_per_s * shape.peak_to_mean
    replicas = math.ceil(peak / pool.replica_requests_per_s - 1e-9) if peak > 0 else 0
    return [int(g) for g in split_fleet(replicas * pool.tp, list(shape.region_shares),
                                        spare_share=shape.spare_fraction)]


def fleet_serving(serving, demand_requests_per_s: float, shape: FleetShape, *, mode: str = "auto"):
    """``serving`` (:class:`model.plan.serving.Serving`) with every pool resized by :func:`fleet_pool`, and the
    choice between aggregated and disaggregated made again on the resized GPUs (``mode`` as in
    :func:`model.plan.serving.size_serving`)."""
    agg, pre, dec = (fleet_pool(p, demand_requests_per_s, shape)
                     for p in (serving.aggregated, serving.prefill, serving.decode))
    disagg_ok = pre is not None and dec is not None
    if mode == "auto":
        dis = disagg_ok and (agg is None or pre.gpus + dec.gpus < agg.gpus)
    else:
        dis = mode == "disaggregated"
    return replace(serving, aggregated=agg, prefill=pre, decode=dec, disaggregated=dis)


def nodes_of(gpus_per_region, node_gpus: int) -> int:
    """Whole nodes of ``node_gpus`` GPUs holding each region's GPUs."""
    return int(sum(math.ceil(g / node_gpus - 1e-9) for g in np.atleast_1d(gpus_per_region)))


def region_shares_from(regions: int | None, shares) -> tuple:
    """The regions' shares: ``shares`` if given (its length must be ``regions`` when both are), else ``regions``
    equal ones.

    Raises
    ------
    ParameterError
        naming ``region_shares`` (not summing to 1, a share outside [0, 1], or a count other than ``regions``) or
        ``regions``.
    """
    if shares is None:
        return equal_shares(1 if regions is None else regions)
    values = tuple(check_shares("region_shares", list(shares)))
    if regions is not None and len(values) != regions:
        raise ParameterError("region_shares", list(shares), f"{regions} shares, one per region (--regions)")
    return values
