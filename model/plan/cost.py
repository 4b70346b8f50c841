"""What a plan costs: rent of its GPUs (:func:`model.economics.prices.gpu_price`, the one GPU-price lookup), its
DRAM and SSD (``usd_per_gb_month`` of ``data/hardware.csv``), per month and per million tokens, and the same
tokens at an API's prices (:func:`model.economics.prices.api_price`).

Network: the NICs are part of the rented node and the KV transfer crosses the node's own fabric, so no separate
line is charged (0, stated in the plan). Units: USD, tokens; a month is ``hours_per_month`` hours.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.calendar import hours_per_month
from model.economics.prices import api_price, gpu_price
from model.hardware import load_tier
from model.parameters import default
from model.plan.cache import DRAM_TIER, SSD_TIER

MILLION = 1e6
SECONDS_PER_HOUR = 3600.0
#: Flags of ``python -m model.plan`` named in price errors.
PRICE_FLAGS = {"gpu": "--gpu", "provider": "--gpu-provider", "pricing": "--gpu-pricing",
               "usd_per_gpu_hour": "--gpu-usd-per-hour"}


def tokens_per_month(demand_requests_per_s: float, prompt_tokens: int, reply_tokens: int) -> float:
    """Prompt + reply tokens the model processes in a month at ``demand_requests_per_s``."""
    return demand_requests_per_s * (prompt_tokens + reply_tokens) * hours_per_month() * SECONDS_PER_HOUR


@dataclass(frozen=True)
class Cost:
    usd_per_gpu_hour: float
    price_label: str
    gpus_usd_per_month: float
    dram_usd_per_month: float
    ssd_usd_per_month: float
    network_usd_per_month: float
    tokens_per_month: float
    api_model: str
    api_usd_per_month: float
    regions_usd_per_month: float = 0.0

    @property
    def usd_per_month(self) -> float:
        return (self.gpus_usd_per_month + self.dram_usd_per_month + self.ssd_usd_per_month
                + self.network_usd_per_month + self.regions_usd_per_month)

    @property
    def usd_per_million_tokens(self) -> float:
        return self.usd_per_month / self.tokens_per_month * MILLION

    @property
    def api_usd_per_million_tokens(self) -> float:
        return self.api_usd_per_month / self.tokens_per_month * MILLION

    def break_even_usd_per_gpu_hour(self, gpus: int) -> float:
        """GPU-hour price at which the plan costs what the API charges for the same tokens."""
        rest = (self.dram_usd_per_month + self.ssd_usd_per_month + self.network_usd_per_month
                + self.regions_usd_per_month)
        return (self.api_usd_per_month - rest) / (gpus * hours_per_month()) if gpus else float("nan")

    def as_dict(self, gpus: int) -> dict:
        return {"usd_per_gpu_hour": self.usd_per_gpu_hour, "gpu_price": self.price_label,
                "by_item_usd_per_month": {"gpus": self.gpus_usd_per_month, "dram": self.dram_usd_per_month,
                                          "ssd": self.ssd_usd_per_month, "network": self.network_usd_per_month,
                                          "regions": self.regions_usd_per_month},
                "tokens_per_month": self.tokens_per_month, "api_model": self.api_model,
                "api_usd_per_month": self.api_usd_per_month,
                "api_usd_per_million_tokens": self.api_usd_per_million_tokens,
                "break_even_usd_per_gpu_hour": self.break_even_usd_per_gpu_hour(gpus)}


def tier_prices(inputs) -> tuple[float, float]:
    """USD per GB-month of the cache's DRAM and SSD: the inputs' own, else ``data/hardware.csv``'s."""
    dram = load_tier(DRAM_TIER).usd_per_gb_month if inputs.dram_usd_per_gb_month is None \
        else inputs.dram_usd_per_gb_month
    ssd = load_tier(SSD_TIER).usd_per_gb_month if inputs.ssd_usd_per_gb_month is None else inputs.ssd_usd_per_gb_month
    return dram, ssd


def plan_cost(inputs, *, gpus: int, dram_gb: float, ssd_gb: float, regions: int = 1) -> Cost:
    """Monthly cost of ``gpus`` GPUs and ``dram_gb``/``ssd_gb`` of cache (whole fleet) for ``inputs``, and of
    ``regions`` − 1 regions beyond the first at ``econ_region_fixed_usd_per_month`` each."""
    price = gpu_price(inputs.gpu, inputs.gpu_provider, inputs.gpu_pricing, inputs.gpu_usd_per_hour,
                      names=PRICE_FLAGS)
    tokens = tokens_per_month(inputs.demand_requests_per_s, inputs.prompt_tokens, inputs.reply_tokens)
    api = api_price(inputs.api_model, name="--api-model")
    per_request = inputs.prompt_tokens * api.usd_per_1m_input + inputs.reply_tokens * api.usd_per_1m_output
    api_month = inputs.demand_requests_per_s * hours_per_month() * SECONDS_PER_HOUR * per_request / MILLION
    dram, ssd = tier_prices(inputs)
    return Cost(price.usd_per_gpu_hour, price.label, gpus * price.usd_per_gpu_month(), dram_gb * dram, ssd_gb * ssd,
                0.0, tokens, api.model, api_month, (regions - 1) * default("econ_region_fixed_usd_per_month"))
