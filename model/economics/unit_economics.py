"""Unit economics of a month: cost lines and their shares, users, revenue and gross margin.

Units: USD per month, users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from model.checks import ParameterError, check_fraction, check_nonnegative


def cost_breakdown(lines: dict[str, float]) -> pd.DataFrame:
    """Monthly cost lines with their shares of the total.

    Columns: item, usd_per_month, share (fraction); a last row ``total``.
    """
    if not lines:
        raise ParameterError("lines", lines, "at least one cost line")
    items = {k: check_nonnegative(f"lines[{k!r}]", v) for k, v in lines.items()}
    total = sum(items.values())
    if total <= 0:
        raise ParameterError("lines", lines, "a positive total")
    rows = [{"item": k, "usd_per_month": v, "share": v / total} for k, v in items.items()]
    rows.append({"item": "total", "usd_per_month": total, "share": 1.0})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class UnitEconomics:
    """Users, revenue and margin for a month.

    Attributes
    ----------
    mau : monthly active users.
    conversion_rate : share of MAU paying, [0, 1].
    arpu : USD per paying user per month.
    monthly_cost : USD per month.
    """

    mau: float
    conversion_rate: float
    arpu: float
    monthly_cost: float

    def __post_init__(self):
        check_nonnegative("mau", self.mau)
        check_fraction("conversion_rate", self.conversion_rate)
        check_nonnegative("arpu", self.arpu)
        check_nonnegative("monthly_cost", self.monthly_cost)

    @property
    def paid_users(self) -> float:
        return self.mau * self.conversion_rate

    @property
    def revenue(self) -> float:
        return self.paid_users * self.arpu

    @property
    def gross_profit(self) -> float:
        return self.revenue - self.monthly_cost

    @property
    def gross_margin(self) -> float:
        """Gross profit ÷ revenue (NaN with no revenue)."""
        return self.gross_profit / self.revenue if self.revenue > 0 else math.nan

    @property
    def cost_per_mau(self) -> float:
        return self.monthly_cost / self.mau if self.mau > 0 else math.nan
