"""Storage cost of the tiers of a hierarchy, per hour: on provisioned capacity or on occupied GB-hours."""

from __future__ import annotations

import numpy as np

from model.parameters import default
from model.tiering.config import TierConfig
from model.tiering.replay import ReplayResult
from model.checks import ParameterError


def storage_cost_per_hour(config: TierConfig, rep: ReplayResult | None = None) -> dict:
    """Storage cost of each tier, $/h: GB × $/GB-month ÷ hours per month, on provisioned capacity or (with
    ``cost_basis="occupied"``) on the time-averaged occupied blocks of ``rep``."""
    if config.cost_basis == "occupied":
        if rep is None:
            raise ParameterError("rep", None, "a ReplayResult when cost_basis='occupied'")
        blocks = rep.mean_occupied_blocks()
    else:
        blocks = np.array(config.capacities, dtype=float)
    out = {}
    for t, b in zip(config.tiers, blocks):
        if t.usd_per_gb_month == 0:
            out[t.name] = 0.0
        else:
            out[t.name] = float(b * config.block_bytes / 1e9 * t.usd_per_gb_month / default("hours_per_month"))
    return out
