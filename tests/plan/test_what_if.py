"""The what-if's closed form (model.plan.what_if): every replica option's load at a grid of P95 TTFT targets, and
the plan's GPUs at any demand from it, against hand arithmetic and against the planner run afresh."""
import math
from dataclasses import replace

import pandas as pd
import pytest

from model.checks import ParameterError
from model.plan.compose import make_plan
from model.plan.inputs import PlanInputs
from model.plan.services import service_inputs
from model.plan.what_if import gpus_at, rate_column, replica_rate_grid


def test_gpus_at_is_whole_replicas_by_hand():
    """λ = 12 requests/s; aggregated: TP 4 at 5/s → ⌈12/5⌉ × 4 = 12, TP 8 at 11/s → ⌈12/11⌉ × 8 = 16
    → 12;
    prefill TP 2 at 2.5/s → 5 × 2 = 10; decode TP 4 at 30/s → 4, TP 2 unreachable (0) → 4: 10 + 4 = 14 > 12,
    so aggregated, 12 GPUs. At λ = 30: aggregated min(6 × 4, 3 × 8) = 24, disaggregated 12 × 2 + 4 = 28."""
    rates = pd.Series({rate_column(r, n): 0.0 for r in ("agg", "pre", "dec") for n in (2, 4, 8)})
    rates[rate_column("agg", 4)], rates[rate_column("agg", 8)] = 5.0, 11.0
    rates[rate_column("pre", 2)] = 2.5
    rates[rate_column("dec", 4)] = 30.0
    g = gpus_at(rates, 12.0, tp_options=(2, 4, 8))
    assert (g["aggregated"], g["prefill"], g["decode"], g["gpus"], g["disaggregated_chosen"]) == (12, 10, 4, 12, False)
    g = gpus_at(rates, 30.0, tp_options=(2, 4, 8))
    assert (g["aggregated"], g["disaggregated"], g["gpus"]) == (24, 28, 24)
    # 10% spares on one region: ⌈24 × 1.1⌉ = 27; a peak of 1.5 (λ = 45): aggregated min(9 × 4, 5 × 8) = 36,
    # over two equal regions with 10% spares ⌈18 × 1.1⌉ × 2 = 40
    from model.plan.fleet import FleetShape

    assert gpus_at(rates, 30.0, tp_options=(2, 4, 8), shape=FleetShape(1.0, 0.1))["aggregated"] == 27
    assert gpus_at(rates, 30.0, tp_options=(2, 4, 8), shape=FleetShape(1.5, 0.1, (0.5, 0.5)))["aggregated"] == 40
    rates[:] = 0.0
    assert math.isinf(gpus_at(rates, 1.0, tp_options=(2, 4, 8))["gpus"])


@pytest.mark.parametrize("service", ["coding_assistant",
                                     pytest.param("support_bot", marks=pytest.mark.slow)])
def test_the_grid_reproduces_the_planner_at_other_loads_and_targets(service):
    """The page's closed form (replica rates of one grid, whole replicas at any demand) against the planner run
    afresh at a third and at 2.5 times the sessions, and at half the P95 TTFT target: the same GPUs and the same
    choice of serving (exact: the rates do not depend on the demand)."""
    i = service_inputs(service)
    grid = replica_rate_grid(i, [0.5, 1.0]).set_index("ttft_factor")
    for k in (1 / 3, 2.5):
        plan = make_plan(replace(i, sessions=i.sessions * k))
        g = gpus_at(grid.loc[1.0], i.demand_requests_per_s * k, shape=i.fleet_shape)
        assert (g["gpus"], g["disaggregated_chosen"]) == (plan["gpus"], plan["disaggregated"])
    plan = make_plan(replace(i, ttft_p95_s=i.ttft_p95_s / 2))
    assert gpus_at(grid.loc[0.5], i.demand_requests_per_s, shape=i.fleet_shape)["gpus"] == plan["gpus"]
    # a diurnal peak and three regions: the grid made at the peak, each region rounding up its share and spares
    j = replace(i, peak_to_mean=1.5, regions=3)
    grid = replica_rate_grid(j, [1.0]).set_index("ttft_factor")
    assert gpus_at(grid.loc[1.0], j.demand_requests_per_s, shape=j.fleet_shape)["gpus"] == make_plan(j)["gpus"]


def test_the_grid_refuses_bad_factors():
    with pytest.raises(ParameterError, match=r"^ttft_factors="):
        replica_rate_grid(PlanInputs(), [])
    with pytest.raises(ParameterError, match=r"^ttft_factors="):
        replica_rate_grid(PlanInputs(), [1.0, 0.0])
