"""model.ttl against the bugs that would mislead a reader: storage priced per GiB, the break-even inverted, the
TTL boundary moved, compulsory misses miscounted, the coordinate descent of ``tune_ttl`` stopped early or
taking ties, the choice of policy fixed to the per-group one. Expectations worked out by hand on traces of
two or three requests, and on simulators given as lookup tables of cost."""
import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model import ttl
from model.ttl import TtlPrices
from model.checks import ParameterError
from test_ttl import PRICES, MiniTrace, _random_trace


class EmptyTrace(MiniTrace):
    @property
    def duration_s(self):
        return 0.0


def _three_lookups():
    """Block 1 (group A, 100 tokens) at 0 s; block 2 (group B, 50 tokens) at 100 s and again at 160 s."""
    return MiniTrace(np.array([0.0, 100.0, 160.0]), np.array([0, 1, 2, 3]), np.array([1, 2, 2]),
                     np.array([0, 1, 1], dtype=np.int32), ("A", "B"), np.array([100, 50, 50], dtype=np.int32))


# --- prices ------------------------------------------------------------------------------------------------

def test_storage_priced_per_gb_and_break_even_by_hand():
    # $0.02 per GB-hour, 327,680 bytes a token: 0.02 × 327680 / 1e9 $ per token-hour, ÷ 3600 per second
    assert_allclose(PRICES.storage_usd_per_token_second, 0.02 * 327680 / 1e9 / 3600, rtol=1e-12)
    # per GiB it would be 0.02 × 327680 / 2**30 / 3600: 7 % less
    assert not np.isclose(PRICES.storage_usd_per_token_second, 0.02 * 327680 / 2**30 / 3600, rtol=1e-3, atol=0)
    # break-even: 2e-6 $ ÷ 1.8204e-9 $/s = 7.2e6 / 6553.6 = 1098.6328125 s (the "~1100 s" of test_ttl.py)
    assert_allclose(PRICES.break_even_s, 1098.6328125, rtol=1e-12)
    assert TtlPrices(0.0, 1e-6, 1000.0).break_even_s == math.inf


@pytest.mark.parametrize("args, name", [((-1.0, 1e-6, 1.0), "storage_usd_per_gb_hour"),
                                        ((0.02, -1e-6, 1.0), "recompute_usd_per_token"),
                                        ((0.02, 1e-6, 0.0), "kv_bytes_per_token")])
def test_prices_name_the_bad_parameter(args, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        TtlPrices(*args)


# --- reuse profile -----------------------------------------------------------------------------------------

def test_reuse_profile_by_hand():
    p = ttl.reuse_profile(_three_lookups())
    assert_allclose(p.interval_s, [math.inf, 60.0, math.inf], rtol=0, atol=0)
    assert_allclose(p.next_tokens, [0, 50, 0], rtol=0, atol=0)
    # hold = min(interval, 160 s − time): 160, 60, 0
    assert_allclose(p.hold_s, [160.0, 60.0, 0.0], rtol=0, atol=0)
    # first lookups: block 1 (100) and the first of block 2 (50); the reuse at 160 s is not one
    assert p.first_lookup_tokens == 150
    assert_allclose(p.duration_h, 160.0 / 3600.0, rtol=1e-15)
    # integer arrays whatever the trace's integer widths (int32 here)
    assert p.tokens.dtype == np.int64 and p.next_tokens.dtype == np.int64 and p.group.dtype == np.int64


def test_duration_at_least_one_second():
    two = lambda gap: MiniTrace(np.array([0.0, gap]), np.array([0, 1, 2]), np.array([1, 2]),
                                np.array([0, 0], dtype=np.int32), ("g",), np.array([5, 5]))
    assert_allclose(ttl.reuse_profile(two(1.5)).duration_h, 1.5 / 3600, rtol=1e-15)
    assert_allclose(ttl.reuse_profile(two(0.5)).duration_h, 1.0 / 3600, rtol=1e-15)


def test_empty_trace_has_an_empty_profile():
    e = EmptyTrace(np.array([]), np.array([0]), np.array([], dtype=np.int64), np.array([], dtype=np.int32),
                   ("g",), np.array([], dtype=np.int64))
    p = ttl.reuse_profile(e)
    assert p.first_lookup_tokens == 0 and len(p.hold_s) == 0
    assert_allclose(p.duration_h, 1.0 / 3600, rtol=1e-15)


# --- cost curves -------------------------------------------------------------------------------------------

def test_cost_curves_by_hand():
    curves = ttl.group_cost_curves(ttl.reuse_profile(_three_lookups()), PRICES, candidates=[30.0, 60.0, 61.0,
                                                                                            math.inf])
    c = curves.set_index(["group", "ttl_s"])
    hours = 160.0 / 3600.0
    # group A: one lookup, held min(TTL, 160 s) × 100 tokens; nothing reusable
    assert_allclose(c.loc[("A", 30.0), "token_seconds"], 30.0 * 100, rtol=1e-12)
    assert_allclose(c.loc[("A", math.inf), "token_seconds"], 160.0 * 100, rtol=1e-12)
    assert c.loc[("A", 30.0), "reusable_tokens"] == 0.0
    # group B: the lookup at 100 s is held min(TTL, 60 s) × 50 tokens, the one at 160 s 0 s
    assert_allclose(c.loc[("B", 30.0), "token_seconds"], 30.0 * 50, rtol=1e-12)
    assert_allclose(c.loc[("B", 60.0), "token_seconds"], 60.0 * 50, rtol=1e-12)
    # a reuse exactly TTL (60 s) later misses; one 61 s TTL later hits
    assert c.loc[("B", 60.0), "hit_tokens"] == 0.0 and c.loc[("B", 61.0), "hit_tokens"] == 50.0
    # storage $/h = $/GB-h × token-seconds × GB per token ÷ 3600 ÷ hours of trace
    assert_allclose(c.loc[("B", 30.0), "storage_usd_per_hour"], 0.02 * 1500 * 327680e-9 / 3600 / hours,
                    rtol=1e-12)
    assert_allclose(c.loc[("B", 30.0), "recompute_usd_per_hour"], 2e-6 * 50 / hours, rtol=1e-12)
    assert_allclose(c.loc[("B", 61.0), "recompute_usd_per_hour"], 0.0, atol=0)
    tot = ttl.analytic_totals(curves, {"A": 30.0, "B": 61.0})
    assert_allclose(tot["storage_usd_per_hour"], 0.02 * (3000 + 3000) * 327680e-9 / 3600 / hours, rtol=1e-12)
    assert_allclose(tot["recompute_usd_per_hour"], 0.0, atol=0)
    assert_allclose(tot["cost_usd_per_hour"], tot["storage_usd_per_hour"], rtol=1e-12)
    assert tot["reuse_hit_ratio"] == 1.0


def test_free_storage_costs_nothing_to_store():
    curves = ttl.group_cost_curves(ttl.reuse_profile(_three_lookups()), TtlPrices(0.0, 1e-6, 1000.0))
    assert (curves["storage_usd_per_hour"] == 0.0).all()


def test_candidates_checked_and_kept_as_floats():
    profile = ttl.reuse_profile(_three_lookups())
    assert ttl.group_cost_curves(profile, PRICES, candidates=[30, 0])["ttl_s"].dtype == np.float64
    with pytest.raises(ParameterError, match="^candidate ttl="):
        ttl.group_cost_curves(profile, PRICES, candidates=[-1.0, 30.0])
    with pytest.raises(ParameterError,
                       match=r"^candidates=\[\] is not allowed: candidates must be at least one TTL$"):
        ttl.group_cost_curves(profile, PRICES, candidates=[])


def test_best_uniform_ttl_is_the_least_total_cost():
    curves = pd.DataFrame({"group": ["a", "a", "b", "b"], "ttl_s": [0.0, 30.0, 0.0, 30.0],
                           "cost_usd_per_hour": [5.0, 3.0, 1.0, 2.0]})
    assert ttl.best_uniform_ttl(curves) == 30.0                       # totals: 6 at 0 s, 5 at 30 s
    assert ttl.best_uniform_ttl(curves.assign(cost_usd_per_hour=1.0)) == 0.0   # tie: the shorter


# --- tune_ttl ----------------------------------------------------------------------------------------------

def _lookup_simulator(costs, otherwise=100.0, calls=None):
    """simulate(ttls) from a table {(hot TTL, cold TTL): cost}; records the calls in ``calls``."""
    def simulate(ttls):
        if calls is not None:
            calls.append(dict(ttls))
        return {"cost_usd_per_hour": costs.get((ttls["hot"], ttls["cold"]), otherwise)}
    return simulate


def test_tuner_without_simulator_reports_the_analytic_policies():
    trace = _random_trace(20)
    cands = (0.0, 45.0, 5000.0, math.inf)
    choice = ttl.tune_ttl(trace, PRICES, candidates=cands)
    curves = ttl.group_cost_curves(ttl.reuse_profile(trace), PRICES, cands)
    per_group = ttl.best_ttl_per_group(curves)
    assert per_group == {"cold": 0.0, "hot": 5000.0}                  # hot reused every ~200 s < 1099 s
    assert choice.chosen == "TTL per group"
    assert choice.policies == {"no TTL": {"hot": math.inf, "cold": math.inf},
                               "best uniform TTL": {g: ttl.best_uniform_ttl(curves) for g in ("hot", "cold")},
                               "TTL per group": per_group}
    assert choice.policies["best uniform TTL"]["hot"] in cands
    t = choice.table.set_index("policy")
    assert list(t.index) == ["no TTL", "best uniform TTL", "TTL per group"]
    assert t.loc["no TTL", "ttl_s"] == "none"
    assert t.loc["TTL per group", "ttl_s"] == "cold: 0 s; hot: 5000 s"
    u = choice.policies["best uniform TTL"]["hot"]
    assert t.loc["best uniform TTL", "ttl_s"] == ("none" if math.isinf(u) else f"{u:g} s")
    for name, ttls in choice.policies.items():
        a = ttl.analytic_totals(curves, ttls)
        assert_allclose(t.loc[name, "analytic_reuse_hit_ratio"], a["reuse_hit_ratio"], rtol=1e-12)
        assert_allclose(t.loc[name, "analytic_cost_usd_per_hour"], a["cost_usd_per_hour"], rtol=1e-12)


# Costs of (hot TTL, cold TTL) over candidates 0, 30, 60 s. From the best uniform TTL (0, 0) = 10, one group at
# a time (hot, then cold), strict improvements only:
#   pass 1: hot 30 -> 9, hot 60 -> 19 (no); cold 30 -> 20 (no), cold 60 -> 8          => (30, 60) at 8
#   pass 2: hot 0 -> 7; hot 60 -> 20 (no); cold 0 -> 10 (no), cold 30 -> 6             => (0, 30) at 6
#   pass 3 (not made with max_passes=2): hot 60 -> 5                                   => (60, 30) at 5
TWO_PASSES = {(0, 0): 10.0, (0, 30): 6.0, (0, 60): 7.0, (30, 0): 9.0, (30, 30): 20.0, (30, 60): 8.0,
              (60, 0): 19.0, (60, 30): 5.0, (60, 60): 20.0}


def test_coordinate_descent_makes_two_passes():
    trace = _random_trace(20)
    choice = ttl.tune_ttl(trace, PRICES, _lookup_simulator(TWO_PASSES), candidates=(0.0, 30.0, 60.0))
    assert choice.policies["best uniform TTL"] == {"hot": 0.0, "cold": 0.0}
    assert choice.policies["TTL per group"] == {"hot": 0.0, "cold": 30.0}
    assert choice.chosen == "TTL per group"
    t = choice.table.set_index("policy")
    assert t.loc["TTL per group", "simulated_cost_usd_per_hour"] == 6.0
    assert t.loc["best uniform TTL", "simulated_cost_usd_per_hour"] == 10.0
    assert t.loc["no TTL", "simulated_cost_usd_per_hour"] == 100.0      # inf is no candidate: simulated apart
    three = ttl.tune_ttl(trace, PRICES, _lookup_simulator(TWO_PASSES), candidates=(0.0, 30.0, 60.0), max_passes=3)
    assert three.policies["TTL per group"] == {"hot": 60.0, "cold": 30.0}


def test_analytic_per_group_policy_reported_when_the_simulator_disagrees():
    trace = _random_trace(20)
    cands = (0.0, 30.0, 60.0)
    per_group = ttl.best_ttl_per_group(ttl.group_cost_curves(ttl.reuse_profile(trace), PRICES, cands))
    assert per_group["hot"] != per_group["cold"]
    # the simulator likes (30, 30) alone: uniform best, no descent step improves it
    choice = ttl.tune_ttl(trace, PRICES, _lookup_simulator({(30.0, 30.0): 1.0}, otherwise=2.0), candidates=cands)
    assert choice.policies["TTL per group"] == {"hot": 30.0, "cold": 30.0}
    assert choice.policies["TTL per group (analytic)"] == per_group
    t = choice.table.set_index("policy")
    assert t.loc["TTL per group (analytic)", "simulated_cost_usd_per_hour"] == 2.0
    # the simulator agrees with the analytic optimum: no extra row
    agree = ttl.tune_ttl(trace, PRICES, _lookup_simulator({(per_group["hot"], per_group["cold"]): 0.5,
                                                           (0.0, 0.0): 1.0}, otherwise=2.0), candidates=cands)
    assert agree.policies["TTL per group"] == per_group
    assert "TTL per group (analytic)" not in agree.policies
    assert "TTL per group (analytic)" not in set(agree.table["policy"])


def test_no_ttl_chosen_when_it_simulates_cheapest():
    """inf is not among the candidates, so "no TTL" is simulated apart and can beat every policy tried."""
    costs = {(0.0, 0.0): 3.0, (30.0, 30.0): 2.0, (0.0, 30.0): 2.5, (30.0, 0.0): 2.5, (math.inf, math.inf): 1.0}
    choice = ttl.tune_ttl(_random_trace(20), PRICES, _lookup_simulator(costs), candidates=(0.0, 30.0))
    assert choice.policies["best uniform TTL"] == {"hot": 30.0, "cold": 30.0}
    assert choice.policies["TTL per group"] == {"hot": 30.0, "cold": 30.0}
    assert choice.chosen == "no TTL"


def test_ties_go_to_the_per_group_policy_and_no_ttl_is_simulated_once():
    calls = []
    choice = ttl.tune_ttl(_random_trace(20), PRICES, _lookup_simulator({}, otherwise=1.0, calls=calls),
                          candidates=(0.0, 30.0, math.inf))
    assert choice.chosen == "TTL per group"
    # equal costs everywhere: the descent keeps the best uniform TTL (the shortest on ties)
    assert choice.policies["best uniform TTL"] == {"hot": 0.0, "cold": 0.0}
    assert choice.policies["TTL per group"] == {"hot": 0.0, "cold": 0.0}
    assert sum(c == {"hot": math.inf, "cold": math.inf} for c in calls) == 1


def test_descent_takes_strict_improvements_only_and_stops_when_none():
    # the cost depends on the hot TTL alone: moving the cold one never helps
    calls = []
    sim = lambda ttls: (calls.append(dict(ttls)), {"c": {0: 5.0, 30: 3.0, 60: 4.0}[ttls["hot"]]})[1]
    best, best_sim = ttl._descend(sim, ["hot", "cold"], [0, 30, 60], {"hot": 30, "cold": 30}, {"c": 3.0}, "c", 2)
    assert best == {"hot": 30, "cold": 30} and best_sim == {"c": 3.0}
    assert len(calls) == 4                      # one pass of 2 groups x 2 other candidates, then it stops
    one = ttl._descend(sim, ["hot"], [0, 30, 60], {"hot": 0}, {"c": 5.0}, "c", 2)
    assert one == ({"hot": 0}, {"c": 5.0}) and len(calls) == 4     # one group: the uniform TTL is its best
