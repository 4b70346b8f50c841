"""``model.economics`` gathers the economics modules: every name other modules and chapters import from it
keeps working, and it holds no audit (the audit of the money figures is in ``model.audit``)."""

import importlib

import pytest

from model import economics as E

#: Names imported from ``model.economics`` elsewhere (model/tiering.py, notebooks) or by earlier chapters.
PUBLIC = ["gpu_price", "gpu_prices", "api_price", "api_prices", "GpuPrice", "ApiPrice", "hours_per_month",
          "ChatWorkload", "TokenVolume", "monthly_tokens", "stated_product", "api_monthly_cost",
          "modelled_tokens_per_s_per_gpu", "self_hosted_usd_per_million_tokens", "throughput_for_price",
          "gpus_for_sessions", "fleet_monthly_cost", "diurnal_load", "autoscaled_gpu_hours", "autoscaling_saving",
          "cost_breakdown", "UnitEconomics", "region_shares", "turn_rate_per_s", "replica_load_sweep",
          "rate_within_latency", "replica_rate_at_latency", "fleet_for_sessions", "LOAD_FRACTIONS", "default"]


@pytest.mark.parametrize("name", PUBLIC)
def test_reexports(name):
    assert hasattr(E, name)
    assert name in E.__all__ or name == "default"


@pytest.mark.parametrize("module, name", [("model.prices", "gpu_price"), ("model.token_volume", "ChatWorkload"),
                                          ("model.token_cost", "api_monthly_cost"),
                                          ("model.fleet_sizing", "fleet_for_sessions"),
                                          ("model.autoscaling", "autoscaling_saving"),
                                          ("model.unit_economics", "UnitEconomics")])
def test_reexports_are_the_concept_modules_objects(module, name):
    assert getattr(E, name) is getattr(importlib.import_module(module), name)


def test_no_audit_left_in_the_model():
    assert not [n for n in dir(E) if n.startswith("audit")]
    for mod in ("model.economics", "model.prices", "model.token_volume", "model.token_cost", "model.fleet_sizing",
                "model.autoscaling", "model.unit_economics", "model.regions", "model.availability"):
        src = importlib.import_module(mod).__file__
        text = open(src, encoding="utf-8").read()
        assert "stated_value" not in text and "model.audit" not in text.replace(":mod:`model.audit`", ""), mod


def test_tiering_import_still_works():
    from model.economics import gpu_price

    assert gpu_price("a100-80gb", "aws", "on-demand").usd_per_gpu_hour > 0
