"""Power and energy of a plan: each GPU draws its TDP (``data/hardware.csv`` ``tdp_w``) × the utilisation of its
pool, and each GPU's share of the node's other parts (CPUs, DRAM, NICs, switches, fans: ``plan_node_other_w_per_gpu``,
counted at their maximum) whatever the load; kWh and gCO2 per million tokens at a grid intensity
(``plan_grid_g_co2_per_kwh``). IT power only: the facility's cooling and conversion losses (PUE) are not in it.

Units: kW, kWh, grams of CO2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MILLION = 1e6


@dataclass(frozen=True)
class Energy:
    kw: float
    gpu_kw: float
    other_kw: float
    kwh_per_million_tokens: float
    g_co2_per_million_tokens: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def plan_energy(pools, *, tdp_watts: float, other_w_per_gpu: float, tokens_per_hour: float,
                grid_g_co2_per_kwh: float) -> Energy:
    """kW of ``pools`` (each with ``gpus`` and ``utilisation``); NaN figures when the GPU has no TDP on record."""
    gpus = sum(p.gpus for p in pools)
    gpu_kw = sum(p.gpus * tdp_watts * p.utilisation for p in pools) / 1e3 if math.isfinite(tdp_watts) else math.nan
    other_kw = gpus * other_w_per_gpu / 1e3
    kw = gpu_kw + other_kw
    kwh = kw / (tokens_per_hour / MILLION) if tokens_per_hour else math.nan
    return Energy(kw, gpu_kw, other_kw, kwh, kwh * grid_g_co2_per_kwh)
