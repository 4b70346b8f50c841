"""model.tiering.slo against hand-worked queues: a single prefill server, a constant service time and evenly
spaced arrivals, where P95 TTFT has a closed form and the SLO threshold can be solved by hand.

The queue of every test below: n requests arriving at k·f seconds (k = 0 … n−1, the trace's unit spacing times
the factor f of the search), each served in c seconds by one instance, FIFO. With f ≥ c no request waits
(TTFT = c); with f < c the queue grows by c − f per request: done_k = (k + 1)·c, TTFT_k = c + k·(c − f). NumPy's
P95 of n = 21 values interpolates at rank 0.95 × 20 = 19 exactly, so P95 TTFT = c + 19·(c − f) for f < c.
"""
import importlib
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.tiering import slo_table, throughput_at_slo
from model.tiering.config import Tier, TierConfig
from model.tiering.engine import PrefillEngine
from model.tiering.slo import zero_load_ttft_s
from model.workload.trace import _from_lists

# the modules themselves (the package re-exports functions of the same names)
simulate_module = importlib.import_module("model.tiering.simulate")
slo_module = importlib.import_module("model.tiering.slo")

N = 21                       # requests; P95 sits at rank 19 of 0..20
BLOCK = 4                    # tokens per block


def _engine(*, s_fixed=0.0, s_token=0.0, usd=2.0):
    """One instance whose prefill takes s_fixed + s_token × max(new tokens, 1) seconds (no other term)."""
    return PrefillEngine("hand", s_token, 0.0, 0.0, 0.0, 0.0, 0.0, kv_bytes_per_token=1.0, gpus_per_instance=1,
                         n_instances=1, gpu_usd_per_hour=usd, s_fixed=s_fixed)


def _config(engine, *, bw=100.0, ttl=math.inf):
    return TierConfig(tiers=(Tier("hbm", math.inf, bw, bw, 0.0),), engine=engine, block_tokens=BLOCK,
                      default_ttl_s=ttl)


def _queue_trace(n=N, spacing=1.0):
    """n requests one spacing apart, each a distinct one-block 4-token prompt (no reuse) and 1 output token."""
    return _from_lists("queue", np.arange(n) * spacing, [BLOCK] * n, [1] * n, [[i] for i in range(n)], BLOCK)


def _p95_closed_form(c, f):
    return c + 19.0 * max(c - f, 0.0)


# --- the closed form itself ------------------------------------------------------------------------------
def test_bisection_lands_on_the_closed_form_threshold():
    """c = 1 s, target 3 s: 1 + 19 (1 − f) ≤ 3 ⇔ f ≥ 1 − 2/19; the search returns a factor within rel_tol above."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    f_star = 1.0 - 2.0 / 19.0
    for tol in (0.02, 1e-3):
        res = throughput_at_slo(trace, cfg, 3.0, rel_tol=tol)
        assert res.feasible
        assert f_star <= res.time_scale <= f_star * (1.0 + tol) * (1.0 + 1e-12)
        assert_allclose(res.requests_per_s, N / (res.time_scale * 20.0), rtol=1e-12)   # n / (f × 20 s)
        assert_allclose(res.result.ttft_p95_s, _p95_closed_form(1.0, res.time_scale), rtol=1e-9)
        assert res.p95_ttft_target_s == 3.0
        assert_allclose(res.floor_p95_ttft_s, 1.0, rtol=1e-12)
    # the tight tolerance pins the factor to 0.1%: the default (2%) one could not
    assert res.time_scale <= f_star * 1.001 + 1e-12


def test_fast_end_meets_the_target_exactly():
    """max_speedup = 2: the fastest factor tried is 1/2; with c = 1 s its P95 TTFT is 1 + 19 × 0.5 = 10.5 s,
    exactly the target (≤ meets), so the answer is that end: 21 requests / (0.5 × 20 s) = 2.1 requests/s."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    res = throughput_at_slo(trace, cfg, 10.5, max_speedup=2.0)
    assert res.feasible and res.time_scale == 0.5
    assert_allclose(res.requests_per_s, 2.1, rtol=1e-12)
    assert res.p95_ttft_target_s == 10.5 and res.best_p95_ttft_s == 10.5
    assert_allclose(res.floor_p95_ttft_s, 1.0, rtol=1e-12)
    # at f = 1/2 the server never idles: the last request finishes at 21 s; 21 × (4 + 1) tokens in 21 s
    assert_allclose(res.result.throughput_tokens_per_s, 5.0, rtol=1e-12)
    row = res.as_row()
    assert list(row) == ["feasible", "throughput_at_slo_rps", "p95_ttft_target_s", "ttft_p95_s",
                         "floor_p95_ttft_s", "hit_ratio", "cost_usd_per_hour", "usd_per_million_tokens"]
    assert row["feasible"] is True and row["p95_ttft_target_s"] == 10.5 and row["ttft_p95_s"] == 10.5
    assert row["hit_ratio"] == 0.0 and row["cost_usd_per_hour"] == 2.0
    # $2/h ÷ (5 tokens/s × 3600 s/h) × 1e6
    assert_allclose(row["usd_per_million_tokens"], 2.0 / (5.0 * 3600.0) * 1e6, rtol=1e-12)


def test_max_speedup_one_is_allowed_and_sets_both_ends():
    """max_speedup = 1 (the bound itself): only the trace's own rate is tried; c = 1 s, f = 1: no queue."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    res = throughput_at_slo(trace, cfg, 1.5, max_speedup=1.0)
    assert res.feasible and res.time_scale == 1.0
    assert_allclose(res.requests_per_s, 21.0 / 20.0, rtol=1e-12)
    assert_allclose(res.best_p95_ttft_s, 1.0, rtol=1e-12)


def test_slow_end_misses_with_the_floor_reachable():
    """max_speedup = 1 and c = 2 s: at f = 1 TTFT_k = 2 + k, P95 = 21 s, while the zero-load floor is 2 s. A
    10 s target is above the floor but missed at the slowest rate tried: infeasible, with that simulation."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=2.0))
    res = throughput_at_slo(trace, cfg, 10.0, max_speedup=1.0)
    assert not res.feasible
    assert res.requests_per_s == 0.0 and res.time_scale == math.inf and res.p95_ttft_target_s == 10.0
    assert_allclose(res.best_p95_ttft_s, 21.0, rtol=1e-12)
    assert_allclose(res.floor_p95_ttft_s, 2.0, rtol=1e-12)
    row = res.as_row()
    assert row["p95_ttft_target_s"] == 10.0 and math.isnan(row["usd_per_million_tokens"])


def test_floor_above_target_returns_at_once():
    """c = 2 s: no rate beats the 2 s floor, so a 1.5 s target is out of reach before any search."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=2.0))
    res = throughput_at_slo(trace, cfg, 1.5, max_speedup=4.0)
    assert not res.feasible
    assert res.requests_per_s == 0.0 and res.time_scale == math.inf and res.p95_ttft_target_s == 1.5
    assert_allclose(res.floor_p95_ttft_s, 2.0, rtol=1e-12)
    assert_allclose(res.best_p95_ttft_s, 2.0, rtol=1e-12)      # the slowest rate (f = 4): no queue


def test_target_equal_to_the_floor_is_met_at_the_threshold():
    """Target = c = 1 s = the floor (not above it: the search runs). max_speedup = 4: f = 1/4 misses
    (P95 = 1 + 19 × 0.75), f = 4 meets with P95 = 1 s exactly (equal counts as met), and the first midpoint
    √(1/4 × 4) = 1 meets exactly too (no queue at f = c); every later midpoint lies below 1 and queues. So the
    answer is f = 1: 21 / 20 requests/s."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    res = throughput_at_slo(trace, cfg, 1.0, max_speedup=4.0)
    assert res.feasible and res.time_scale == 1.0
    assert_allclose(res.requests_per_s, 21.0 / 20.0, rtol=1e-12)
    assert res.best_p95_ttft_s == 1.0 and res.p95_ttft_target_s == 1.0
    assert_allclose(res.floor_p95_ttft_s, 1.0, rtol=1e-12)


def test_bracket_already_narrow_returns_the_slow_end_with_its_simulation():
    """rel_tol = 3 with max_speedup = 2: the bracket [1/2, 2] spans a ratio 4 ≤ 1 + 3, so no midpoint is tried
    and the answer is the slow end f = 2 with its own simulation (no queue: P95 = c = 1 s)."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    res = throughput_at_slo(trace, cfg, 5.0, max_speedup=2.0, rel_tol=3.0)
    assert res.feasible and res.time_scale == 2.0
    assert_allclose(res.requests_per_s, 21.0 / 40.0, rtol=1e-12)
    assert_allclose(res.best_p95_ttft_s, 1.0, rtol=1e-12)
    assert res.p95_ttft_target_s == 5.0


def test_short_trace_is_searched():
    """A trace 0.4 s long (under a second) is valid: c = 0.01 s, spacing 0.02 s, a 1 s target is met at the
    fastest factor 1/1000 only if P95 = 0.01 + 19 (0.01 − 0.00002) ≤ 1, which holds: 0.19 962 s."""
    trace, cfg = _queue_trace(spacing=0.02), _config(_engine(s_fixed=0.01))
    res = throughput_at_slo(trace, cfg, 1.0)
    assert res.feasible and res.time_scale == 1e-3
    assert_allclose(res.best_p95_ttft_s, 0.01 + 19 * (0.01 - 0.02e-3), rtol=1e-9)
    assert_allclose(res.requests_per_s, 21.0 / (1e-3 * 0.4), rtol=1e-12)


def test_slo_table_passes_its_options():
    """max_speedup = 2 reaches the table: the fast end 1/2 meets 10.5 s exactly (2.1 requests/s)."""
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    t = slo_table(trace, {"one": cfg}, 10.5, max_speedup=2.0)
    assert list(t["configuration"]) == ["one"]
    assert_allclose(t["throughput_at_slo_rps"].to_numpy(), [2.1], rtol=1e-12)
    assert_allclose(t["p95_ttft_target_s"].to_numpy(), [10.5], rtol=0)


# --- the replay is done once without TTL ------------------------------------------------------------------
def test_without_ttl_the_replay_is_done_once(monkeypatch):
    calls = []

    def counting(real):
        def wrapped(*args, **kwargs):
            calls.append(1)
            return real(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(slo_module, "replay", counting(slo_module.replay))
    monkeypatch.setattr(simulate_module, "replay", counting(simulate_module.replay))
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    res = throughput_at_slo(trace, cfg, 3.0)
    assert res.feasible and len(calls) == 1
    calls.clear()
    throughput_at_slo(trace, cfg, 0.5)                  # below the floor: one replay, no search
    assert len(calls) == 1


# --- with a TTL the replay follows the rate ----------------------------------------------------------------
def _ttl_trace():
    """10 pairs one second apart: request 2j has block j (4 tokens); request 2j+1 reuses block j and adds one
    of its own (5 tokens; the last pair's adds 3 blocks: 16 tokens)."""
    arrivals, tokens, blocks = [], [], []
    for j in range(10):
        arrivals += [2.0 * j, 2.0 * j + 1.0]
        tokens += [4, 5 if j < 9 else 16]
        blocks += [[j], [j, 100 + j] if j < 9 else [j, 100 + j, 200 + j, 300 + j]]
    return _from_lists("pairs", arrivals, tokens, [1] * 20, blocks, BLOCK)


def test_ttl_replay_at_the_rate_found():
    """TTL 0.5 s. At the fastest factor tried (max_speedup 4: f = 1/4) each pair's reuse comes 0.25 s later,
    inside the TTL: 10 hits out of 10 + 9 × 2 + 4 = 32 block lookups; at f = 1 (the trace as it is) every
    reuse comes 1 s later, past the TTL, and misses.

    Prefill 0.001 s per new token, loads at 100 bytes/s (1 byte per token): the 1 s target is met at f = 1/4."""
    cfg = _config(_engine(s_token=1e-3), ttl=0.5)
    trace = _ttl_trace()
    lookups = 10 + 9 * 2 + 4                           # blocks of the even requests, then of the odd ones
    res = throughput_at_slo(trace, cfg, 1.0, max_speedup=4.0)
    assert res.feasible and res.time_scale == 0.25
    assert_allclose(res.result.hit_ratio, 10 / lookups, rtol=1e-12)
    assert_allclose(res.requests_per_s, 20.0 / (0.25 * 19.0), rtol=1e-12)
    # floor: the zero-load TTFT at the slowest factor (f = 4: every reuse 4 s later, past the TTL, misses),
    # prefill of all tokens: 0.004 s (10 even requests), 0.005 s (9 odd), 0.016 s (the last). P95 over 20
    # values: rank 0.95 × 19 = 18.05, between the two largest sorted values 0.005 and 0.016.
    assert_allclose(res.floor_p95_ttft_s, 0.005 + 0.05 * (0.016 - 0.005), rtol=1e-9)


def test_zero_load_ttft_by_hand():
    """Hits load over the tier's link (tokens × 1 byte ÷ 100 bytes/s), the rest is prefilled at
    0.5 s + 0.01 s per new token. Request 0: 8 new tokens; request 1 reuses its two blocks (8 tokens) and adds 4;
    request 2: 3 new tokens."""
    trace = _from_lists("hand", [0.0, 1.0, 2.0], [8, 12, 3], [1, 1, 1], [[1, 2], [1, 2, 3], [4]], BLOCK)
    cfg = _config(_engine(s_fixed=0.5, s_token=0.01), bw=100.0)
    expected = [0.5 + 0.08, 8 / 100 + 0.5 + 0.04, 0.5 + 0.03]
    assert_allclose(zero_load_ttft_s(trace, cfg), expected, rtol=1e-12)


# --- parameter checks: one line naming the parameter and its allowed values -----------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"p95_ttft_target_s": 0.0},
     "p95_ttft_target_s=0.0 is not allowed: p95_ttft_target_s must be a finite number in (0, inf]"),
    ({"rel_tol": 0.0}, "rel_tol=0.0 is not allowed: rel_tol must be a finite number in (0, inf]"),
    ({"rel_tol": -1.0}, "rel_tol=-1.0 is not allowed: rel_tol must be a finite number in (0, inf]"),
    ({"max_speedup": 0.5}, "max_speedup=0.5 is not allowed: max_speedup must be a finite number in [1, inf]"),
    ({"timing": "bogus"}, "timing='bogus' is not allowed: timing must be one of 'recursion', 'simpy'"),
])
def test_bad_parameters_are_named(kwargs, message):
    trace, cfg = _queue_trace(), _config(_engine(s_fixed=1.0))
    args = {"p95_ttft_target_s": 3.0, **kwargs}
    with pytest.raises(ParameterError) as err:
        throughput_at_slo(trace, cfg, **args)
    assert str(err.value) == message


def test_trace_without_spread_is_refused():
    trace = _from_lists("instant", [5.0, 5.0], [4, 4], [1, 1], [[1], [2]], BLOCK)
    with pytest.raises(ParameterError) as err:
        throughput_at_slo(trace, _config(_engine(s_fixed=1.0)), 3.0)
    assert str(err.value) == ("trace='instant' is not allowed: trace must be a trace with arrivals spread "
                              "over time")
