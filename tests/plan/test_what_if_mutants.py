"""model.plan.what_if by hand: column names, whole replicas exactly at a multiple of a replica's rate, the tie
between the two ways of serving, a way no TP option carries, and the grid's own columns, targets, unreachable
options and feasibility."""
import math

import pandas as pd
import pytest

from model.checks import ParameterError
from model.plan.fleet import FleetShape
from model.plan.inputs import PlanInputs
from model.plan.what_if import ROLES, gpus_at, rate_column, replica_rate_grid

# a small service: 2,000 sessions of 2 turns in 5 minutes (a short sample trace for the cache)
SMALL = PlanInputs(sessions=2000, session_minutes=5, turns_per_session=2)


def _rates(**kw):
    r = pd.Series({rate_column(role, n): 0.0 for role in ROLES for n in (1, 2)})
    for k, v in kw.items():
        r[k.replace("_", "_rate_tp")] = v
    return r


def test_column_names():
    assert ROLES == ("agg", "pre", "dec")
    assert rate_column("pre", 4) == "pre_rate_tp4"


def test_whole_replicas_at_an_exact_multiple_and_the_tie():
    """λ = 6: aggregated TP 1 at 2/s → exactly 3 replicas, 3 GPUs; prefill TP 1 at 3/s → 2 and decode TP 1 at
    6/s → 1: 3 GPUs too, a tie kept aggregated."""
    g = gpus_at(_rates(agg_1=2.0, pre_1=3.0, dec_1=6.0), 6.0, tp_options=(1, 2))
    assert g == {"aggregated": 3, "prefill": 2, "decode": 1, "disaggregated": 3, "gpus": 3,
                 "disaggregated_chosen": False}
    # the same at λ = 6.3: 4 aggregated GPUs, 3 + 2 = 5 disaggregated
    g = gpus_at(_rates(agg_1=2.0, pre_1=3.0, dec_1=6.0), 6.3, tp_options=(1, 2))
    assert (g["aggregated"], g["disaggregated"], g["gpus"]) == (4, 5, 4)
    # aggregated TP 1 at 1.5/s: 4 GPUs, as many as prefill (2) + decode TP 2 at 60/s (2): aggregated; at 1/s
    # aggregated takes 6 > 4: disaggregated
    g = gpus_at(_rates(agg_1=1.5, pre_1=3.0, dec_2=60.0), 6.0, tp_options=(1, 2))
    assert (g["aggregated"], g["prefill"], g["decode"], g["gpus"], g["disaggregated_chosen"]) == (4, 2, 2, 4, False)
    g = gpus_at(_rates(agg_1=1.0, pre_1=3.0, dec_2=60.0), 6.0, tp_options=(1, 2))
    assert (g["aggregated"], g["gpus"], g["disaggregated_chosen"]) == (6, 4, True)


def test_a_way_of_serving_no_option_carries():
    g = gpus_at(_rates(agg_1=2.0, pre_1=3.0), 6.0, tp_options=(1, 2))
    assert math.isinf(g["decode"]) and math.isinf(g["disaggregated"]) and g["gpus"] == 3
    assert g["disaggregated_chosen"] is False
    g = gpus_at(_rates(pre_2=3.0, dec_1=6.0), 6.0, tp_options=(1, 2))
    assert math.isinf(g["aggregated"]) and g["gpus"] == 4 + 1 and g["disaggregated_chosen"] is True
    # spares and a peak apply to each pool
    g = gpus_at(_rates(agg_1=2.0, pre_1=3.0, dec_1=6.0), 6.0, tp_options=(1, 2), shape=FleetShape(2.0, 0.5))
    assert (g["aggregated"], g["prefill"], g["decode"]) == (9, 6, 3)


@pytest.fixture(scope="module")
def grid():
    return replica_rate_grid(SMALL, [0.5, 1.0], tp_options=(3, 4, 8), unreachable_rate=-1.0)


def test_grid_columns_targets_and_unreachable_options(grid):
    i = SMALL
    assert list(grid.columns) == ["ttft_factor", "ttft_p95_s"] + [rate_column(r, n) for n in (3, 4, 8)
                                                                  for r in ROLES] + ["feasible"]
    assert grid["ttft_factor"].tolist() == [0.5, 1.0]
    assert grid["ttft_p95_s"].tolist() == [0.5 * i.ttft_p95_s, i.ttft_p95_s]
    # TP 3 is no deployment of the plan: unreachable in every role
    assert (grid[[rate_column(r, 3) for r in ROLES]] == -1.0).all().all()
    # the decode rate does not depend on the TTFT target; a looser target carries at least as much
    for n in (4, 8):
        assert grid[rate_column("dec", n)].nunique() == 1
        for r in ("agg", "pre"):
            assert grid[rate_column(r, n)].iloc[1] >= grid[rate_column(r, n)].iloc[0]
    assert grid["feasible"].tolist() == [True, True]
    # at the plan's own target every role carries some rate at TP 4 and 8 (the weights fit both)
    for r in ROLES:
        assert (grid[[rate_column(r, n) for n in (4, 8)]].iloc[1] > 0).all(), r


def test_an_unreachable_target_is_not_feasible():
    g = replica_rate_grid(SMALL, [1e-9], tp_options=(3,))
    assert g[rate_column("agg", 3)].tolist() == [0.0] and g["feasible"].tolist() == [False]


def test_bad_factors_name_the_parameter():
    with pytest.raises(ParameterError, match=r"^ttft_factors=\[\] is not allowed: ttft_factors must be a non-empty "
                                             r"list of numbers > 0$"):
        replica_rate_grid(SMALL, [])
    with pytest.raises(ParameterError, match=r"^ttft_factors=-1\.0 is not allowed"):
        replica_rate_grid(SMALL, [1.0, -1.0])


def test_a_one_token_reply_near_the_floor():
    """One-token replies need no decode pool (its rate is infinite: unreachable in the grid), so only the
    aggregated way is feasible; at 8% of the TTFT target (0.256 s, just above an idle TP-4 replica's floor) a
    replica carries less than one request/s, which still counts."""
    from dataclasses import replace

    g = replica_rate_grid(replace(SMALL, reply_tokens=1), [0.08], tp_options=(4,)).iloc[0]
    assert g[rate_column("dec", 4)] == 0.0
    assert 0 < g[rate_column("agg", 4)] < 1 and 0 < g[rate_column("pre", 4)] < 1
    assert bool(g["feasible"])
