"""Accelerators and KV-cache memory tiers from ``data/hardware.csv`` (each row cites its datasheet), the share
of a GPU's memory weights and KV cache may use, and a GPU's dated hourly price
(``data/prices/gpu_prices.csv``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from model.io import DATA
from model.parameters import default
from model.validation import ParameterError, check_choice, check_fraction

HARDWARE_CSV = DATA / "hardware.csv"
#: Provider and pricing of the price a GPU gets unless one is chosen: the hyperscaler on-demand list price.
DEFAULT_PRICE_BASIS = ("aws", "on-demand")

#: Bytes in one decimal gigabyte (datasheets quote bandwidth in GB/s = 1e9 bytes/s).
GB = 1e9


@dataclass(frozen=True)
class Accelerator:
    """One GPU.

    Attributes
    ----------
    name : str
        Row name in ``data/hardware.csv`` (e.g. ``"a100-80gb"``).
    memory_bytes : float
        HBM capacity, bytes.
    bandwidth_bytes_per_s : float
        HBM bandwidth, bytes/s.
    peak_flops : dict
        Dense tensor-core peak by compute type (``"bf16"``, ``"fp16"``, ``"int8"``, ``"fp8"``), operations/s.
    interconnect_bytes_per_s : float
        GPU-to-GPU (NVLink) bandwidth, bytes/s (NaN if unknown).
    source : str
        Datasheet.
    """

    name: str
    memory_gb: float
    memory_bytes: float
    bandwidth_bytes_per_s: float
    peak_flops: dict
    interconnect_bytes_per_s: float
    source: str

    def supports(self, compute_dtype: str) -> bool:
        """Whether this GPU has a tensor-core path for ``compute_dtype`` (a positive dense peak)."""
        value = self.peak_flops.get(compute_dtype, math.nan)
        return math.isfinite(value) and value > 0

    def flops(self, compute_dtype: str) -> float:
        """Dense peak for ``compute_dtype``, operations/s.

        Raises
        ------
        ParameterError
            if this GPU has no tensor-core path for that type (e.g. FP8 on an A100).
        """
        value = self.peak_flops.get(compute_dtype, math.nan)
        if not math.isfinite(value) or value <= 0:
            supported = [k for k, v in self.peak_flops.items() if math.isfinite(v) and v > 0]
            raise ParameterError("compute_dtype", compute_dtype,
                                 f"one supported by {self.name}: {', '.join(supported)}")
        return value


@dataclass(frozen=True)
class MemoryTier:
    """A place to keep KV cache outside (or inside) the GPU.

    Attributes
    ----------
    name : str
        ``"hbm"``, ``"host-dram"``, ``"nvme-ssd"``...
    bandwidth_bytes_per_s : float
        Bandwidth of moving KV between this tier and the GPU, bytes/s.
    usd_per_gb_month : float
        Price of capacity, US dollars per GB per month (NaN if not priced).
    source : str
        Where the figures come from.
    """

    name: str
    bandwidth_bytes_per_s: float
    usd_per_gb_month: float
    source: str


@lru_cache(maxsize=1)
def hardware_table() -> pd.DataFrame:
    """The whole ``data/hardware.csv`` (read once)."""
    return pd.read_csv(HARDWARE_CSV)


def _row(name: str, kind: str) -> pd.Series:
    table = hardware_table()
    rows = table[(table["name"] == name) & (table["kind"] == kind)]
    if rows.empty:
        names = ", ".join(table.loc[table["kind"] == kind, "name"])
        raise ParameterError("gpu" if kind == "gpu" else "tier", name, f"one of {names}")
    return rows.iloc[0]


def _f(value) -> float:
    return float(value) if pd.notna(value) else math.nan


def available_gpus() -> list[str]:
    """Names of the GPUs in ``data/hardware.csv``."""
    table = hardware_table()
    return list(table.loc[table["kind"] == "gpu", "name"])


def available_tiers() -> list[str]:
    """Names of the memory tiers in ``data/hardware.csv``."""
    table = hardware_table()
    return list(table.loc[table["kind"] == "tier", "name"])


@lru_cache(maxsize=None)
def load_gpu(name: str) -> Accelerator:
    """The accelerator called ``name`` (see :func:`available_gpus`)."""
    r = _row(name, "gpu")
    tera = 1e12
    return Accelerator(
        name=name,
        memory_gb=_f(r["memory_gb"]),
        memory_bytes=_f(r["memory_bytes"]),
        bandwidth_bytes_per_s=_f(r["bandwidth_gb_s"]) * GB,
        peak_flops={
            "bf16": _f(r["bf16_tflops"]) * tera,
            "fp16": _f(r["fp16_tflops"]) * tera,
            "int8": _f(r["int8_tops"]) * tera,
            "fp8": _f(r["fp8_tflops"]) * tera,
        },
        interconnect_bytes_per_s=_f(r["interconnect_gb_s"]) * GB,
        source=str(r["source"]),
    )


@lru_cache(maxsize=None)
def load_tier(name: str) -> MemoryTier:
    """The memory tier called ``name`` (see :func:`available_tiers`)."""
    r = _row(name, "tier")
    return MemoryTier(
        name=name,
        bandwidth_bytes_per_s=_f(r["bandwidth_gb_s"]) * GB,
        usd_per_gb_month=_f(r["usd_per_gb_month"]),
        source=str(r["source"]),
    )


def usable_bytes_per_gpu(gpu: Accelerator, memory_utilization: float | None = None) -> float:
    """Bytes of one GPU that weights and KV cache may use: capacity × ``memory_utilization``
    (default: vLLM's ``gpu_memory_utilization``, see ``data/parameters``); the rest is the activation reserve."""
    u = default("gpu_memory_utilization") if memory_utilization is None else memory_utilization
    check_fraction("memory_utilization", u, allow_zero=False)
    return gpu.memory_bytes * u


@dataclass(frozen=True)
class GpuHourPrice:
    """One dated rental price of a GPU (a row of ``data/prices/gpu_prices.csv``), USD per GPU-hour."""

    gpu: str
    provider: str
    pricing: str
    usd_per_gpu_hour: float
    date: str
    source: str

    @property
    def label(self) -> str:
        """Where the price comes from, in a few words (e.g. ``"aws on-demand, 2026-11-09"``)."""
        return f"{self.provider} {self.pricing}, {self.date}"


def _gpu_price_rows() -> pd.DataFrame:
    """The price table, read once by its one reader (:func:`model.prices.gpu_prices`)."""
    from model.prices import gpu_prices

    return gpu_prices()


def gpu_hour_prices(gpu: str) -> list[GpuHourPrice]:
    """Every dated price row of ``gpu``, oldest first (cheapest first within one date).

    Raises
    ------
    ParameterError
        naming ``gpu`` if no row prices it.
    """
    table = _gpu_price_rows()
    check_choice("gpu", gpu, sorted(table["gpu"].unique()))
    rows = table[table["gpu"] == gpu].sort_values(["date", "usd_per_gpu_hour"])
    return [GpuHourPrice(r.gpu, r.provider, r.pricing, float(r.usd_per_gpu_hour), r.date, r.source)
            for r in rows.itertuples(index=False)]


def gpu_hour_price(gpu: str, provider: str | None = None, pricing: str | None = None) -> GpuHourPrice:
    """The latest price of ``gpu`` from ``provider`` under ``pricing``; by default
    (:data:`DEFAULT_PRICE_BASIS`) the AWS on-demand row, else the latest on-demand row, else the latest row.
    Of several rows of one date, the highest."""
    rows = gpu_hour_prices(gpu)
    if provider is None and pricing is None:
        for keep in (lambda r: (r.provider, r.pricing) == DEFAULT_PRICE_BASIS, lambda r: r.pricing == "on-demand",
                     lambda r: True):
            chosen = [r for r in rows if keep(r)]
            if chosen:
                return chosen[-1]
    chosen = [r for r in rows if (provider is None or r.provider == provider)
              and (pricing is None or r.pricing == pricing)]
    if not chosen:
        raise ParameterError("provider/pricing", f"{provider}/{pricing}", "one of " + ", ".join(
            sorted({f"{r.provider}/{r.pricing}" for r in rows})))
    return chosen[-1]
