"""GPUs and monthly GPU cost of a fleet that serves a demand at a per-GPU throughput, with the GPU-hour price
of the chosen GPU (a dated row of ``data/prices/gpu_prices.csv``) unless the user sets one."""

from __future__ import annotations

from dataclasses import dataclass

from model.parameters import default
from model.validation import ParameterError, check_positive


@dataclass(frozen=True)
class GpuHourPrice:
    """A GPU-hour price and where it comes from.

    Attributes
    ----------
    gpu : str
        GPU name (``data/hardware.csv``).
    usd_per_gpu_hour : float or None
        USD per GPU-hour; ``None`` when no price row exists and none was set.
    label : str
        Provenance in words: the price row (provider, pricing, date) or "set by the user", or why there is
        no price.
    """

    gpu: str
    usd_per_gpu_hour: float | None
    label: str

    @property
    def found(self) -> bool:
        """Whether a price is known."""
        return self.usd_per_gpu_hour is not None


def gpu_hour_price(gpu: str, usd_per_gpu_hour: float | None = None, *, provider: str = "aws",
                   pricing: str = "on-demand", name: str = "gpu_usd_per_hour") -> GpuHourPrice:
    """The price of one ``gpu`` hour: ``usd_per_gpu_hour`` if set (validated under ``name``), else the
    latest ``provider``/``pricing`` row of ``data/prices/gpu_prices.csv`` for that GPU; with no such row the
    price is ``None`` and ``label`` says so (the caller shows it instead of a cost)."""
    if usd_per_gpu_hour is not None:
        return GpuHourPrice(gpu, check_positive(name, usd_per_gpu_hour), f"${usd_per_gpu_hour:.2f}/GPU-hour set by "
                            f"{name}")
    from model.economics import gpu_price

    try:
        row = gpu_price(gpu, provider, pricing)
    except ParameterError:
        return GpuHourPrice(gpu, None, f"no {provider} {pricing} price row for {gpu} in data/prices/gpu_prices.csv "
                            f"(set {name} to price it)")
    return GpuHourPrice(gpu, row.usd_per_gpu_hour, f"${row.usd_per_gpu_hour:.2f}/GPU-hour ({row.label})")


def fleet_gpus(demand_requests_per_min: float, requests_per_min_per_gpu: float) -> float:
    """GPUs needed to serve ``demand_requests_per_min`` when each GPU completes
    ``requests_per_min_per_gpu`` (no rounding, no spares)."""
    return check_positive("demand_requests_per_min", demand_requests_per_min) / check_positive(
        "requests_per_min_per_gpu", requests_per_min_per_gpu)


def fleet_usd_per_month(gpus: float, price: GpuHourPrice) -> float:
    """USD per month of ``gpus`` GPUs rented all month (``hours_per_month``); NaN when the price is unknown."""
    if not price.found:
        return float("nan")
    return gpus * price.usd_per_gpu_hour * default("hours_per_month")
