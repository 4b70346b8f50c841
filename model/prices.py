"""Dated, cited prices: GPU rental per GPU-hour (``data/prices/gpu_prices.csv``) and API prices per 1M
tokens (``data/prices/api_prices.csv``).

Units: USD; a "month" is :func:`model.calendar.hours_per_month` hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from model.calendar import hours_per_month
from model.io import DATA
from model.validation import ParameterError, check_choice, check_positive

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


@dataclass(frozen=True)
class GpuPrice:
    """One dated GPU price row (or a price set by the user: ``source="set by the user"``)."""

    gpu: str
    provider: str
    pricing: str
    usd_per_gpu_hour: float
    date: str
    source: str

    @property
    def label(self) -> str:
        return f"{self.provider} {self.pricing} {self.gpu}, {self.date}"

    def usd_per_gpu_month(self) -> float:
        """USD for one GPU over a month of :func:`~model.calendar.hours_per_month` hours."""
        return self.usd_per_gpu_hour * hours_per_month()


def gpu_price(gpu: str, provider: str, pricing: str | None = None, date: str | None = None) -> GpuPrice:
    """The price of ``gpu`` from ``provider`` under ``pricing`` (``None``: any pricing of that provider);
    the latest dated row unless ``date`` is given (several rows of one provider and date, e.g. RunPod
    community vs. secure cloud: the highest).
    """
    table = gpu_prices()
    check_choice("gpu", gpu, sorted(table["gpu"].unique()))
    rows = table[(table["gpu"] == gpu) & (table["provider"] == provider)
                 & ((table["pricing"] == pricing) if pricing is not None else True)]
    if rows.empty:
        options = table[table["gpu"] == gpu][["provider", "pricing"]].drop_duplicates()
        raise ParameterError("provider/pricing", f"{provider}/{pricing}",
                             "one of " + ", ".join(f"{p}/{q}" for p, q in options.itertuples(index=False)))
    if date is not None:
        check_choice("date", date, sorted(rows["date"].unique()))
        rows = rows[rows["date"] == date]
    rows = rows.sort_values(["date", "usd_per_gpu_hour"])
    r = rows.iloc[-1]
    return GpuPrice(r["gpu"], r["provider"], r["pricing"], float(r["usd_per_gpu_hour"]), r["date"], r["source"])


def chosen_gpu_price(gpu: str, provider: str, pricing: str | None, usd_per_gpu_hour: float | None = None, *,
                     names: tuple[str, str, str, str] = ("gpu", "gpu_provider", "gpu_pricing",
                                                         "usd_per_gpu_hour")) -> GpuPrice:
    """The price a chapter uses for its chosen ``gpu``: the ``provider``/``pricing`` row of
    ``data/prices/gpu_prices.csv`` (:func:`gpu_price`), or ``usd_per_gpu_hour`` when the user sets one.

    ``names`` are the chapter's parameter names, used in the error messages.
    """
    table = gpu_prices()
    g, p, q, u = names
    check_choice(g, gpu, sorted(table["gpu"].unique()))
    rows = table[table["gpu"] == gpu]
    if usd_per_gpu_hour is not None:
        check_positive(u, usd_per_gpu_hour)
        return GpuPrice(gpu, provider or "user", pricing or "set", float(usd_per_gpu_hour), "set by the user",
                        "set by the user")
    check_choice(p, provider, sorted(rows["provider"].unique()))
    rows = rows[rows["provider"] == provider]
    if pricing is not None:
        check_choice(q, pricing, sorted(rows["pricing"].unique()))
    return gpu_price(gpu, provider, pricing)


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
