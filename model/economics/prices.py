"""Dated, cited prices: GPU rental per GPU-hour (``data/prices/gpu_prices.csv``) and API prices per 1M
tokens (``data/prices/api_prices.csv``).

Every chapter, command line and model module prices a GPU-hour with :func:`gpu_price`, which returns a
:class:`GpuPrice` (a price row, or a price set by the user) and has one rule for a missing row: it raises.

Units: USD; a "month" is :func:`model.calendar.hours_per_month` hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from model.calendar import hours_per_month
from model.io import DATA
from model.checks import ParameterError, check_positive

PRICES_DIR = DATA / "prices"
GPU_PRICE_COLUMNS = ["gpu", "provider", "pricing", "usd_per_gpu_hour", "date", "source", "notes"]
API_PRICE_COLUMNS = ["model", "provider", "usd_per_1m_input_tokens", "usd_per_1m_output_tokens", "date",
                     "source", "notes"]


def _price_table(name: str, columns: list[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    """``data/prices/<name>`` with its ``columns`` checked and its ``numeric`` columns as floats."""
    table = pd.read_csv(PRICES_DIR / name, dtype={"date": str}, keep_default_na=False)
    missing = set(columns) - set(table.columns)
    if missing:
        raise ValueError(f"data/prices/{name}: missing columns {sorted(missing)}")
    for col in numeric:
        table[col] = table[col].astype(float)
    return table


@lru_cache(maxsize=1)
def gpu_prices() -> pd.DataFrame:
    """Dated, cited GPU rental prices (``data/prices/gpu_prices.csv``), USD per GPU-hour."""
    return _price_table("gpu_prices.csv", GPU_PRICE_COLUMNS, ("usd_per_gpu_hour",))


@lru_cache(maxsize=1)
def api_prices() -> pd.DataFrame:
    """Dated, cited API prices (``data/prices/api_prices.csv``), USD per 1M input / output tokens."""
    return _price_table("api_prices.csv", API_PRICE_COLUMNS, ("usd_per_1m_input_tokens", "usd_per_1m_output_tokens"))


#: The price row a GPU gets unless the caller chooses another: the hyperscaler on-demand list price.
DEFAULT_PROVIDER, DEFAULT_PRICING = "aws", "on-demand"
#: ``date`` and ``source`` of a price set by the user.
SET_BY_USER = "set by the user"
#: The parameters of :func:`gpu_price`, as its ``names`` argument maps them to the names the caller's user types.
GPU_PRICE_PARAMETERS = ("gpu", "provider", "pricing", "usd_per_gpu_hour")


@dataclass(frozen=True)
class GpuPrice:
    """The price of one GPU-hour and where it comes from: a dated row of ``data/prices/gpu_prices.csv``, or
    a price set by the user (``provider="user"``, ``pricing="set"``, ``date`` and ``source``
    :data:`SET_BY_USER`). Build it with :func:`gpu_price`."""

    gpu: str
    provider: str
    pricing: str
    usd_per_gpu_hour: float
    date: str
    source: str

    @property
    def set_by_user(self) -> bool:
        """Whether the user set this price (rather than a row of ``data/prices/gpu_prices.csv``)."""
        return self.source == SET_BY_USER

    @property
    def label(self) -> str:
        """Where the price comes from, in a few words: ``"aws on-demand a100-80gb, 2026-11-09"``, or
        ``"a price set by the user"``."""
        if self.set_by_user:
            return "a price set by the user"
        return f"{self.provider} {self.pricing} {self.gpu}, {self.date}"

    def usd_per_gpu_month(self) -> float:
        """USD for one GPU over a month of :func:`~model.calendar.hours_per_month` hours."""
        return self.usd_per_gpu_hour * hours_per_month()


def gpu_price(gpu: str, provider: str = DEFAULT_PROVIDER, pricing: str | None = DEFAULT_PRICING,
              usd_per_gpu_hour: float | None = None, *, names: Mapping[str, str | None] | None = None) -> GpuPrice:
    """The price of one GPU-hour of ``gpu``: the one GPU-price lookup of the study.

    The rule:

    1. ``usd_per_gpu_hour`` set: that price wins (it must be > 0); ``provider`` and ``pricing`` are not read.
    2. Otherwise the row of ``gpu`` from ``provider`` under ``pricing`` (``None``: any pricing of that
       provider) in ``data/prices/gpu_prices.csv`` is required: the latest date, and of several rows of that
       date (e.g. RunPod community and secure cloud) the highest. A missing row raises.

    ``names`` maps :data:`GPU_PRICE_PARAMETERS` to the names the caller's user types (e.g.
    ``{"provider": "gpu_provider", "usd_per_gpu_hour": "--gpu-usd-per-hour"}``; unmapped ones keep their own
    name). Map ``provider`` and ``pricing`` to ``None`` when the user cannot choose the row (the caller fixes
    it): a missing row then asks for ``usd_per_gpu_hour``.

    Raises
    ------
    ParameterError
        naming ``usd_per_gpu_hour`` if it is not > 0; ``gpu`` if the file prices no such GPU; ``provider``
        if the file has no row of that provider for the GPU, else ``pricing`` (both allowing the GPU's
        provider/pricing pairs or a price of one's own); ``usd_per_gpu_hour`` (value ``None``) when the row
        is missing and the parameter at fault is mapped to ``None``.
    """
    n = {k: k for k in GPU_PRICE_PARAMETERS} | dict(names or {})
    if usd_per_gpu_hour is not None:
        usd = check_positive(n["usd_per_gpu_hour"], usd_per_gpu_hour)
        return GpuPrice(gpu, "user", "set", usd, SET_BY_USER, SET_BY_USER)
    table = gpu_prices()
    own = f"or {n['usd_per_gpu_hour']} set"
    rows = table[table["gpu"] == gpu]
    if rows.empty:
        raise ParameterError(n["gpu"], gpu, f"one of {', '.join(sorted(table['gpu'].unique()))} (priced in "
                                            f"data/prices/gpu_prices.csv), {own}")
    chosen = rows[(rows["provider"] == provider) & ((rows["pricing"] == pricing) if pricing is not None else True)]
    if chosen.empty:
        wrong, value = ("pricing", pricing) if provider in set(rows["provider"]) else ("provider", provider)
        if n[wrong] is None:
            raise ParameterError(n["usd_per_gpu_hour"], None, f"set: data/prices/gpu_prices.csv has no "
                                                              f"{provider}/{pricing} row of {gpu}")
        pairs = ", ".join(f"{p}/{q}" for p, q in
                          rows[["provider", "pricing"]].drop_duplicates().itertuples(index=False))
        raise ParameterError(n[wrong], value, f"one of {pairs} ({gpu}'s rows in data/prices/gpu_prices.csv), "
                                              f"{own}")
    r = chosen.sort_values(["date", "usd_per_gpu_hour"]).iloc[-1]
    return GpuPrice(r["gpu"], r["provider"], r["pricing"], float(r["usd_per_gpu_hour"]), r["date"], r["source"])


@dataclass(frozen=True)
class ApiPrice:
    """One API price row, USD per 1M tokens."""

    model: str
    provider: str
    usd_per_1m_input: float
    usd_per_1m_output: float
    date: str


def api_price(model: str, provider: str = "openai", *, name: str = "model/provider") -> ApiPrice:
    """The API price of ``model`` (e.g. ``"gpt-3.5-turbo-0125"``) at ``provider`` (``name``: the
    parameter named in the error)."""
    table = api_prices()
    rows = table[(table["model"] == model) & (table["provider"] == provider)]
    if rows.empty:
        raise ParameterError(name, f"{model}/{provider}" if name == "model/provider" else model,
                             "one of " + ", ".join(f"{m}/{p}" for m, p in
                                                   table[["model", "provider"]].itertuples(index=False)))
    r = rows.iloc[-1]
    return ApiPrice(r["model"], r["provider"], float(r["usd_per_1m_input_tokens"]),
                    float(r["usd_per_1m_output_tokens"]), r["date"])
