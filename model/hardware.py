"""Accelerators and KV-cache memory tiers from ``data/hardware.csv`` (each row cites its datasheet) and the
share of a GPU's memory weights and KV cache may use. A GPU's hourly price: :func:`model.economics.prices.gpu_price`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from model.io import DATA
from model.parameters import default
from model.checks import ParameterError, check_fraction

HARDWARE_CSV = DATA / "hardware.csv"

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
        Dense tensor-core peak by compute type (``"bf16"``, ``"fp16"``, ``"int8"``, ``"fp8"``, ``"fp4"``),
        operations/s (NaN where the GPU has no such path, e.g. FP4 before Blackwell).
    interconnect_bytes_per_s : float
        GPU-to-GPU (NVLink, Infinity Fabric) bandwidth, both directions together as vendors quote it, bytes/s (NaN if
        unknown).
    source : str
        Datasheet.
    scaleup_bytes_per_s_per_direction : float
        Scale-up bandwidth of one GPU in one direction (half of ``interconnect_bytes_per_s``), bytes/s.
    tdp_watts : float
        Thermal design power (board power) of one GPU, watts.
    achievable_flops : dict
        Dense matmul rate the vendor publishes as achievable (AMD's "max-achievable FLOPs": a tuned GEMM at the
        clock the chip holds under that load) by compute type, operations/s; NaN where the vendor publishes none
        (every NVIDIA part here).
    """

    name: str
    memory_gb: float
    memory_bytes: float
    bandwidth_bytes_per_s: float
    peak_flops: dict
    interconnect_bytes_per_s: float
    source: str
    scaleup_bytes_per_s_per_direction: float = math.nan
    tdp_watts: float = math.nan
    achievable_flops: dict = field(default_factory=dict)

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

    def sustained_flops(self, compute_dtype: str) -> float:
        """Dense matmul rate a step's efficiencies apply to, operations/s: the vendor's published achievable rate
        for ``compute_dtype`` where there is one (:attr:`achievable_flops`), else the datasheet peak
        (:meth:`flops`, which raises for a type the GPU lacks). Never above the peak."""
        peak = self.flops(compute_dtype)
        value = self.achievable_flops.get(compute_dtype, math.nan)
        return min(value, peak) if math.isfinite(value) and value > 0 else peak


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
            "fp4": _f(r["fp4_tflops"]) * tera,
        },
        interconnect_bytes_per_s=_f(r["interconnect_gb_s"]) * GB,
        source=str(r["source"]),
        scaleup_bytes_per_s_per_direction=_f(r["scaleup_gb_s_per_direction"]) * GB,
        tdp_watts=_f(r["tdp_w"]),
        achievable_flops={k: _f(r.get(f"achievable_{k}_tflops")) * tera for k in ("fp16", "bf16", "fp8")},
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
