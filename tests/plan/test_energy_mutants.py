"""model.plan.energy by hand: two pools of GPUs at a TDP and a utilisation, the node's other parts per GPU, kWh
and grams of CO2 per million tokens."""
import math
from types import SimpleNamespace

from numpy.testing import assert_allclose

from model.plan.energy import MILLION, Energy, plan_energy

POOLS = [SimpleNamespace(gpus=4, utilisation=0.5), SimpleNamespace(gpus=2, utilisation=1.0)]


def test_energy_by_hand():
    """4 GPUs at half of 700 W and 2 at all of it: 2.8 kW; 6 × 412.5 W of the rest: 2.475 kW; 5.275 kW over
    3.6 million tokens an hour: 5.275 ÷ 3.6 kWh per million tokens, × 367 g/kWh."""
    e = plan_energy(POOLS, tdp_watts=700.0, other_w_per_gpu=412.5, tokens_per_hour=3.6e6, grid_g_co2_per_kwh=367.0)
    assert_allclose([e.gpu_kw, e.other_kw, e.kw], [2.8, 2.475, 5.275], rtol=1e-12)
    assert_allclose(e.kwh_per_million_tokens, 5.275 / 3.6, rtol=1e-12)
    assert_allclose(e.g_co2_per_million_tokens, 5.275 / 3.6 * 367.0, rtol=1e-12)
    assert e.as_dict() == {"kw": e.kw, "gpu_kw": e.gpu_kw, "other_kw": e.other_kw,
                           "kwh_per_million_tokens": e.kwh_per_million_tokens,
                           "g_co2_per_million_tokens": e.g_co2_per_million_tokens}
    assert MILLION == 1e6


def test_no_tdp_on_record_or_no_tokens():
    e = plan_energy(POOLS, tdp_watts=math.nan, other_w_per_gpu=412.5, tokens_per_hour=3.6e6, grid_g_co2_per_kwh=1.0)
    assert math.isnan(e.gpu_kw) and math.isnan(e.kw) and e.other_kw == 2.475
    # no TDP on record is NaN even with no pools to sum over
    assert math.isnan(plan_energy([], tdp_watts=math.nan, other_w_per_gpu=1.0, tokens_per_hour=1.0,
                                  grid_g_co2_per_kwh=1.0).gpu_kw)
    z = plan_energy(POOLS, tdp_watts=700.0, other_w_per_gpu=0.0, tokens_per_hour=0.0, grid_g_co2_per_kwh=1.0)
    assert z.kw == 2.8 and math.isnan(z.kwh_per_million_tokens) and math.isnan(z.g_co2_per_million_tokens)
    assert isinstance(z, Energy)
