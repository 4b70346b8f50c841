"""model.ttl: the analytic per-group cost curves equal an independent event-by-event replay, the per-group
choice is never costlier than the best uniform TTL (analytically and on a simulator's own objective), and
limits (free storage -> keep forever; free recompute -> expire at once)."""
import math
from dataclasses import dataclass

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model import ttl
from model.ttl import TtlPrices


@dataclass
class MiniTrace:
    """The part of model.workload.Trace that model.ttl reads (kept independent of the loader)."""

    arrival_s: np.ndarray
    block_offsets: np.ndarray
    block_ids: np.ndarray
    block_group: np.ndarray
    group_names: tuple
    tokens: np.ndarray

    @property
    def duration_s(self):
        return float(self.arrival_s[-1] - self.arrival_s[0])

    def request_of_block(self):
        return np.repeat(np.arange(len(self.arrival_s)), np.diff(self.block_offsets))

    def block_token_counts(self):
        return self.tokens


def _random_trace(seed, n_requests=300):
    """Requests reuse prefixes of a few 'conversations'; two groups with different reuse speeds."""
    rng = np.random.default_rng(seed)
    arrival = np.sort(rng.uniform(0, 4000, n_requests))
    offsets, ids, groups, tokens = [0], [], [], []
    for _ in range(n_requests):
        fast = rng.random() < 0.5
        conv = int(rng.integers(0, 8 if fast else 60))
        n = int(rng.integers(1, 6))
        base = (0 if fast else 1000) + conv * 10
        ids.extend(base + np.arange(n))
        groups.extend([0 if fast else 1] * n)
        tokens.extend([512] * (n - 1) + [int(rng.integers(1, 513))])
        offsets.append(len(ids))
    return MiniTrace(arrival, np.array(offsets), np.array(ids), np.array(groups, dtype=np.int32),
                     ("hot", "cold"), np.array(tokens))


def _replay(trace, ttl_by_group, prices, prefix=False):
    """Independent reference: replay lookups in time order with a TTL-only cache (no capacity)."""
    names = trace.group_names
    req = trace.request_of_block()
    times = trace.arrival_s[req]
    tokens = trace.block_token_counts()
    last = {}
    held = hit = reusable = 0.0
    for r in range(len(trace.arrival_s)):
        missed = False
        for i in range(trace.block_offsets[r], trace.block_offsets[r + 1]):
            b, t = trace.block_ids[i], times[i]
            if b in last:
                t0, g0, tok0 = last[b]
                limit = ttl_by_group[names[g0]]
                reusable += tokens[i]
                if t - t0 < limit:                       # independent of ttl.reused_within_ttl
                    held += (t - t0) * tok0
                    if not (prefix and missed):
                        hit += tokens[i]
                    else:
                        missed = True
                else:
                    held += limit * tok0
                    missed = True
            else:
                missed = True
            last[b] = (t, trace.block_group[i], tokens[i])
    end = times.max()
    for t0, g0, tok0 in last.values():
        held += min(ttl_by_group[names[g0]], end - t0) * tok0
    hours = trace.duration_s / 3600
    storage = held * prices.storage_usd_per_token_second / hours
    recompute = (reusable - hit) * prices.recompute_usd_per_token / hours
    return {"cost_usd_per_hour": storage + recompute, "hit_ratio": hit / reusable, "token_seconds": held}


# break-even ~1100 s: the 'hot' group (reuse every ~200 s) is worth keeping, the 'cold' one is not
PRICES = TtlPrices(storage_usd_per_gb_hour=0.02, recompute_usd_per_token=2e-6, kv_bytes_per_token=327680)


@pytest.mark.parametrize("seed", range(3))
def test_analytic_curves_equal_replay(seed):
    trace = _random_trace(seed)
    curves = ttl.group_cost_curves(ttl.reuse_profile(trace), PRICES)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        choice = {g: float(rng.choice(ttl.DEFAULT_TTL_CANDIDATES_S)) for g in trace.group_names}
        analytic = ttl.analytic_totals(curves, choice)
        ref = _replay(trace, choice, PRICES)
        assert_allclose(analytic["cost_usd_per_hour"], ref["cost_usd_per_hour"], rtol=1e-9)
        assert_allclose(analytic["reuse_hit_ratio"], ref["hit_ratio"], rtol=1e-12)


def test_per_group_never_costlier_than_uniform_analytically():
    for seed in range(5):
        trace = _random_trace(10 + seed)
        curves = ttl.group_cost_curves(ttl.reuse_profile(trace), PRICES)
        per_group = ttl.analytic_totals(curves, ttl.best_ttl_per_group(curves))["cost_usd_per_hour"]
        for t in ttl.DEFAULT_TTL_CANDIDATES_S:
            uniform = ttl.analytic_totals(curves, {g: t for g in trace.group_names})["cost_usd_per_hour"]
            assert per_group <= uniform + 1e-12


def test_limits_free_storage_and_free_recompute():
    trace = _random_trace(7)
    profile = ttl.reuse_profile(trace)
    free_storage = TtlPrices(0.0, 1e-6, 1000.0)
    assert all(math.isinf(t) or t >= profile.interval_s[np.isfinite(profile.interval_s)].max()
               for t in ttl.best_ttl_per_group(ttl.group_cost_curves(profile, free_storage)).values())
    free_recompute = TtlPrices(1.0, 0.0, 1000.0)
    assert set(ttl.best_ttl_per_group(ttl.group_cost_curves(profile, free_recompute)).values()) == {0.0}
    assert PRICES.break_even_s > 0


@pytest.mark.parametrize("seed", range(3))
def test_tuner_never_worse_than_best_uniform_on_simulator_objective(seed):
    trace = _random_trace(20 + seed)
    simulate = lambda ttls: _replay(trace, ttls, PRICES, prefix=True)
    choice = ttl.tune_ttl(trace, PRICES, simulate)
    table = choice.table.set_index("policy")
    chosen_cost = table.loc[choice.chosen, "simulated_cost_usd_per_hour"]
    brute_uniform = min(simulate({g: t for g in trace.group_names})["cost_usd_per_hour"]
                        for t in ttl.DEFAULT_TTL_CANDIDATES_S)
    assert chosen_cost <= brute_uniform + 1e-12
    assert chosen_cost <= table.loc["no TTL", "simulated_cost_usd_per_hour"] + 1e-12
    assert {"no TTL", "best uniform TTL", "TTL per group"} <= set(table.index) <= {
        "no TTL", "best uniform TTL", "TTL per group", "TTL per group (analytic)"}
    # tuned on the simulator: the TTL per group never simulates costlier than the best uniform TTL
    assert table.loc["TTL per group", "simulated_cost_usd_per_hour"] <= \
        table.loc["best uniform TTL", "simulated_cost_usd_per_hour"] + 1e-12
    assert_allclose(table["analytic_error_usd_per_hour"],
                    table["analytic_cost_usd_per_hour"] - table["simulated_cost_usd_per_hour"], rtol=0, atol=1e-12)


def test_groups_with_different_reuse_get_different_ttls():
    trace = _random_trace(20)
    curves = ttl.group_cost_curves(ttl.reuse_profile(trace), PRICES)
    per_group = ttl.best_ttl_per_group(curves)
    assert per_group["hot"] > per_group["cold"]
    uniform = ttl.best_uniform_ttl(curves)
    assert ttl.analytic_totals(curves, per_group)["cost_usd_per_hour"] < \
        0.9 * ttl.analytic_totals(curves, {g: uniform for g in per_group})["cost_usd_per_hour"]


def _two_lookups(gap_s):
    """One block looked up at 0 and again ``gap_s`` later (512 tokens each), one group."""
    return MiniTrace(np.array([0.0, gap_s]), np.array([0, 1, 2]), np.array([7, 7]), np.array([0, 0], dtype=np.int32),
                     ("g",), np.array([512, 512]))


@pytest.mark.parametrize("gap, ttl_s, hit", [(60.0, 60.0, False), (60.0, 60.5, True), (60.0, 59.5, False),
                                             (0.0, 0.0, False), (0.0, 1.0, True), (60.0, math.inf, True)])
def test_ttl_boundary_rule_analytic_side(gap, ttl_s, hit):
    """A reuse exactly TTL after the last access misses; TTL 0 allows no reuse, even at the same instant."""
    assert bool(ttl.reused_within_ttl(gap, ttl_s)) is hit
    curves = ttl.group_cost_curves(ttl.reuse_profile(_two_lookups(gap)), PRICES, candidates=[ttl_s])
    assert curves["hit_tokens"].iloc[0] == (512 if hit else 0)


def test_ttl_boundary_rule_on_arrays():
    assert_allclose(ttl.reused_within_ttl(np.array([0.0, 1.0, 2.0]), 1.0), [True, False, False])
