"""Economics of chat serving, gathered from one module per concept (kept importable as
``model.economics`` for the chapters and modules that import it from here):

``model.calendar``       hours per month / year
``model.prices``         dated GPU and API prices (``data/prices/``)
``model.token_volume``   sessions → turns → tokens per month
``model.token_cost``     API bill of a token volume; self-hosted price per token
``model.fleet_sizing``   GPUs for a load, fleet rent, replicas at a latency target
``model.autoscaling``    a diurnal day and the saving of following it
``model.unit_economics`` cost lines, users, revenue and margin

The audit of the case study's money figures is in :mod:`model.audit` (``t2_api_costs``, ``t9_costs``,
``t12_summary``, ``r12_roadmap``, ``l11_fleet``).
"""

from __future__ import annotations

from model.autoscaling import autoscaled_gpu_hours, autoscaling_saving, diurnal_load
from model.calendar import hours_per_month, hours_per_year
from model.fleet_sizing import (LATENCY_METRICS, LOAD_FRACTIONS, fleet_for_sessions, fleet_monthly_cost, fleet_sizing_table,
                                gpus_for_sessions, highest_rate_meeting, rate_within_latency,
                                replica_load_sweep, replica_rate_at_latency, turn_rate_per_s)
from model.parameters import default
from model.prices import (API_PRICE_COLUMNS, GPU_PRICE_COLUMNS, PRICES_DIR, ApiPrice, GpuPrice, api_price,
                          api_prices, gpu_price, gpu_prices)
from model.regions import region_shares
from model.token_cost import (MEASURED_THROUGHPUT_SETTING, MILLION, SECONDS_PER_HOUR, api_cost_scenarios,
                              api_monthly_cost, measured_tokens_per_s_per_gpu, modelled_tokens_per_s_per_gpu, self_hosted_usd_per_million_tokens,
                              throughput_for_price)
from model.token_volume import MINUTES_PER_HOUR, ChatWorkload, TokenVolume, monthly_tokens, stated_product
from model.unit_economics import UnitEconomics, cost_breakdown

__all__ = [
    "API_PRICE_COLUMNS", "LATENCY_METRICS", "MEASURED_THROUGHPUT_SETTING", "measured_tokens_per_s_per_gpu", "GPU_PRICE_COLUMNS", "LOAD_FRACTIONS", "MILLION", "MINUTES_PER_HOUR", "PRICES_DIR",
    "SECONDS_PER_HOUR", "ApiPrice", "ChatWorkload", "GpuPrice", "TokenVolume", "UnitEconomics", "api_cost_scenarios",
    "api_monthly_cost", "api_price", "api_prices", "autoscaled_gpu_hours", "autoscaling_saving",
    "cost_breakdown", "default", "diurnal_load", "fleet_for_sessions", "fleet_monthly_cost", "fleet_sizing_table",
    "gpu_price", "gpu_prices", "gpus_for_sessions", "highest_rate_meeting", "hours_per_month", "hours_per_year",
    "modelled_tokens_per_s_per_gpu", "monthly_tokens", "rate_within_latency", "region_shares", "replica_load_sweep",
    "replica_rate_at_latency", "self_hosted_usd_per_million_tokens", "stated_product", "throughput_for_price",
    "turn_rate_per_s",
]
