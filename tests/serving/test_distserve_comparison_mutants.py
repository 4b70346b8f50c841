"""model.serving.distserve_comparison by hand: the comparison's wiring with the simulators replaced by closed forms
whose answers are known here, so that each searched rate, the goodput per GPU and the gain can be worked out.

The stand-ins: a run at rate r gives every request a latency f × target × r ÷ capacity, f spread over
0 … 10/9 in 11 equal steps (its P90 is 1.0, its median 5/9, its maximum 10/9), so the P90 meets the target exactly
when r ≤ capacity. The capacities (requests/s): colocated 3.02 for TTFT and 1.62 for TPOT; a prefill replica 5.62
(TTFT); a decode replica 10.02 (TPOT). The rate search returns the highest rate of the grid 0.05, 0.10, …, 15
that meets its target: 3.00, 1.60, 5.60, 10.00; 2P1D: min(2 × 5.62, 10.02) → 10.00, ÷ 3 GPUs = 3.333;
gain 3.333 ÷ 1.60 = 2.083. The published figures (data/measurements/distserve_goodput.csv) are 3, 1.6, 1.6, 5.6,
10, 3.3 and 2, with P90 TTFT ≤ 0.4 s and P90 TPOT ≤ 0.04 s, 512-token prompts and 64-token replies.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

import model.serving.distserve_comparison as dc
from model.checks import ParameterError
from model.workload.requests import Workload

F = np.linspace(0.0, 10 / 9, 11)
GRID = np.round(np.arange(1, 301) * 0.05, 2)
COLOCATED_TTFT, COLOCATED_TPOT, PREFILL, DECODE = 3.02, 1.62, 5.62, 10.02
TTFT_SLO, TPOT_SLO = 0.4, 0.04
QUANTITIES = ["colocated_ttft_rate", "colocated_tpot_rate", "colocated_goodput_per_gpu", "prefill_only_rate",
              "decode_only_rate", "disaggregated_goodput_per_gpu", "goodput_gain"]
PUBLISHED = [3, 1.6, 1.6, 5.6, 10, 3.3, 2]
SIMULATED = [3.0, 1.6, 1.6, 5.6, 10.0, 10.0 / 3, 10.0 / 3 / 1.6]


def _lat(rate, ttft_cap, tpot_cap):
    return {"ttft_s": F * TTFT_SLO * rate / ttft_cap, "tpot_s": F * TPOT_SLO * rate / tpot_cap}


@pytest.fixture
def fakes(monkeypatch):
    calls = SimpleNamespace(workloads=[], searches=[], deployments=[], pools=[])

    def poisson_workload(n, rate, *, prompt_tokens, output_tokens, seed):
        calls.workloads.append((n, prompt_tokens, output_tokens, seed))
        return Workload(np.full(n, float(rate)), np.full(n, prompt_tokens), np.full(n, output_tokens), "poisson")

    def simulate(dep, w, scheduler):
        calls.deployments.append((dep.arch.name, dep.gpu.name, dep.n_gpus, scheduler.policy))
        assert w.cached_tokens is None and set(w.output_tokens) == {64} and set(w.prompt_tokens) == {512}
        return SimpleNamespace(requests=_lat(w.arrival_s[0], COLOCATED_TTFT, COLOCATED_TPOT))

    def simulate_disaggregated(pools, w):
        calls.pools.append((pools.prefill_replicas, pools.decode_replicas, pools.link.name, pools.prefill.n_gpus,
                            pools.decode.n_gpus, pools.prefill.gpu.name))
        assert set(w.prompt_tokens) == {512}
        cached = w.cached_tokens is not None
        if cached:      # the decode-only runs: all but the prompt's last token cached
            assert set(w.cached_tokens) == {511} and len(w.cached_tokens) == len(w.arrival_s)
        one_token = set(w.output_tokens) == {1}
        assert one_token or set(w.output_tokens) == {64}
        return SimpleNamespace(requests=_lat(w.arrival_s[0], math.inf if cached else PREFILL * pools.prefill_replicas,
                                             math.inf if one_token else DECODE * pools.decode_replicas))

    def highest_rate(run, meets, *, low, high, rel_tol):
        calls.searches.append((low, high, rel_tol))
        ok = [r for r in GRID if meets(run(r))]
        return max(ok) if ok else 0.0

    for name, fn in [("poisson_workload", poisson_workload), ("simulate", simulate),
                     ("simulate_disaggregated", simulate_disaggregated), ("highest_rate", highest_rate),
                     ("latencies", lambda requests: requests)]:
        monkeypatch.setattr(dc, name, fn)
    dc._compare.cache_clear()
    yield calls
    dc._compare.cache_clear()


def test_the_grid_and_spread_used_below():
    assert_allclose([np.quantile(F, 0.9), np.quantile(F, 0.5), F.max()], [1.0, 5 / 9, 10 / 9], rtol=1e-12)
    assert GRID[0] == 0.05 and GRID[-1] == 15.0


def test_compare_with_closed_form_runs(fakes):
    out = dc.compare(requests=120, seed=3)
    assert list(out.columns) == ["quantity", "label", "unit", "configuration", "published", "simulated",
                                 "simulated_over_published"]
    assert list(out["quantity"]) == QUANTITIES and list(out.index) == list(range(7))
    assert_allclose(out["published"], PUBLISHED, rtol=0)
    assert_allclose(out["simulated"], SIMULATED, rtol=1e-12)
    assert_allclose(out["simulated_over_published"], np.array(SIMULATED) / np.array(PUBLISHED), rtol=1e-12)
    assert out["unit"].iloc[0] == "requests/s" and out["configuration"].iloc[5] == "2P1D"
    # every run: 120 requests of 512 + 64 tokens (1 for the prefill-only runs), seed 3
    assert {(n, p, s) for n, p, _, s in fakes.workloads} == {(120, 512, 3)}
    assert {o for _, _, o, _ in fakes.workloads} == {1, 64}
    # one replica on one A100 80GB, vLLM's continuous batching
    assert set(fakes.deployments) == {("llama-2-13b", "a100-80gb", 1, "continuous")}
    # single-phase runs on 1P1D, the goodput run on 2P1D, over NVLink
    assert {p[:2] for p in fakes.pools} == {(1, 1), (2, 1)}
    assert {p[2:] for p in fakes.pools} == {("nvlink", 1, 1, "a100-80gb")}
    # five searches from the bracket (0.25, 1.0) at tiering_slo_rel_tol = 2%
    assert fakes.searches == [(0.25, 1.0, 0.02)] * 5


def test_defaults_and_refusals(fakes):
    out = dc.compare()
    # distserve_check_requests = 600, distserve_check_seed = 0
    assert {(n, s) for n, _, _, s in fakes.workloads} == {(600, 0)}
    assert_allclose(out["simulated"], SIMULATED, rtol=1e-12)
    out.loc[0, "simulated"] = -1.0                      # a copy: the kept result is untouched
    assert dc.compare()["simulated"].iloc[0] == 3.0
    e = pytest.raises(ParameterError, dc.compare, requests=0).value
    assert (e.name, e.allowed) == ("requests", "an integer in [1, inf]")
    assert dc.compare(requests=1)["simulated"].iloc[0] == 3.0
    e = pytest.raises(ParameterError, dc.compare, seed=-1).value
    assert (e.name, e.allowed) == ("seed", "an integer in [0, inf]")
    assert {s for _, _, _, s in [w for w in fakes.workloads if w[0] == 1]} == {0}


def test_published_rows_and_their_setting():
    t = dc.published()
    assert list(t["quantity"]) == QUANTITIES
    assert dc._setting(t) == {"model": "llama-2-13b", "gpu": "a100-80gb", "prompt_tokens": 512,
                              "output_tokens": 64, "ttft_slo_s": 0.4, "tpot_slo_s": 0.04, "latency_quantile": 0.9}
    for col, other in [("gpu", "h100-80gb"), ("latency_quantile", 0.5), ("model", "llama-2-7b")]:
        bad = t.copy()
        bad.loc[3, col] = other
        with pytest.raises(ValueError) as err:
            dc._setting(bad)
        assert str(err.value) == f"distserve_goodput.csv: column {col} differs between rows"
    assert dc._setting(t.head(1))["prompt_tokens"] == 512           # one row is a setting too
    # columns outside the setting may differ
    other = t.copy()
    other.loc[3, "unit"] = "x"
    assert dc._setting(other)["gpu"] == "a100-80gb"
