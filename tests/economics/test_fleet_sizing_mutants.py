"""model.economics.fleet_sizing against the bugs that would mislead a reader: GPUs of a rate off by the replica size,
checks dropped or naming another parameter, a slower-than-one-request-per-second replica taken as unable,
the saturation rate of another replica. Expectations worked out by hand."""
import io
import math
import sys

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.serving.saturation import continuous_saturation
from model.serving.step_time import deployment
from model.economics.fleet_sizing import (fleet_sizing_table, highest_rate_meeting, rate_within_latency,
                                replica_load_sweep, replica_rate_at_latency, replica_saturation_rate_per_s)
from model.checks import ParameterError


def _sweep(rates=(1.0, 2.0, 3.0)):
    return pd.DataFrame({"run": "continuous", "rate_per_s": list(rates), "ttft_s_p95": [0.5, 1.0, 4.0],
                         "e2e_latency_s_p95": [2.0, 3.0, 9.0], "tpot_s_p50": [0.01, 0.02, 0.03],
                         "tpot_s_p99": [0.02, 0.04, 0.06], "rate_label": ["a", "b", "c"]})


def test_replica_saturation_rate_is_that_of_the_named_replica():
    # 70B on 8 A100s holds ~1.4M KV tokens: 256 sequences of 500 + 200 tokens fit, so max_batch=256 binds
    want = continuous_saturation(deployment("llama-2-70b", "a100-80gb", 8), [500], [200], max_batch=256)
    assert_allclose(replica_saturation_rate_per_s("llama-2-70b", "a100-80gb", 8, prompt_tokens=500, reply_tokens=200),
                    want.requests_per_s, rtol=1e-12)
    assert replica_saturation_rate_per_s("llama-2-7b", "a100-80gb", 1, prompt_tokens=500, reply_tokens=200) > 0
    for kw, name in [(dict(n_gpus=0), "n_gpus"), (dict(prompt_tokens=0), "prompt_tokens"),
                     (dict(reply_tokens=0), "reply_tokens")]:
        args = {"n_gpus": 8, "prompt_tokens": 500, "reply_tokens": 200, **kw}
        with pytest.raises(ParameterError, match=f"^{name}=0 is not allowed"):
            replica_saturation_rate_per_s("llama-2-70b", "a100-80gb", args.pop("n_gpus"), **args)


def test_default_parameter_names_of_the_errors():
    with pytest.raises(ParameterError, match="^latency_target_s=0"):
        highest_rate_meeting(_sweep(), "ttft_s_p95", 0)
    with pytest.raises(ParameterError, match=r"^latency_metric='speed' is not allowed: latency_metric must be one of "
                                             r"ttft_s_p95, e2e_latency_s_p95, tpot_s_p50, tpot_s_p99$"):
        highest_rate_meeting(_sweep(), "speed", 1.0)
    with pytest.raises(ParameterError, match="^latency_metric='speed'"):
        rate_within_latency(_sweep(), "speed", 1.0)
    with pytest.raises(ParameterError, match="^ttft_target_s=0"):
        rate_within_latency(_sweep(), "ttft_s_p95", 0, name="ttft_target_s")
    kw = dict(session_counts=[1800.0], replica_gpus=2, turns_per_session=2, session_minutes=30, spare_share=0.0)
    with pytest.raises(ParameterError, match="^latency_target_s=0"):
        fleet_sizing_table(_sweep(), 3.5, latency_metrics=["ttft_s_p95"], latency_target_s=0, **kw)
    with pytest.raises(ParameterError, match="^latency_metrics='speed'"):
        fleet_sizing_table(_sweep(), 3.5, latency_metrics=["speed"], latency_target_s=1.0, **kw)
    with pytest.raises(ParameterError, match="^response_s=0"):
        fleet_sizing_table(_sweep(), 3.5, latency_metrics=["ttft_s_p95"], latency_target_s=0, name="response_s", **kw)
    with pytest.raises(ParameterError, match="^reading='speed'"):
        fleet_sizing_table(_sweep(), 3.5, latency_metrics=["speed"], latency_target_s=1.0, metric_name="reading", **kw)


def test_a_slow_replica_still_counts_and_one_at_rate_zero_does_not():
    kw = dict(latency_metrics=["ttft_s_p95"], latency_target_s=1.0, session_counts=[1800.0], replica_gpus=2,
              turns_per_session=2, session_minutes=30, spare_share=0.0)
    # a replica meeting the target at 0.5 requests/s: 2 requests/s need 4 replicas, 8 GPUs
    slow = fleet_sizing_table(_sweep((0.25, 0.5, 3.0)), 3.5, **kw).iloc[0]
    assert slow["feasible"] and slow["replica_requests_per_s"] == 0.5
    assert slow["replicas"] == 4 and slow["gpus"] == 8 and slow["sessions_per_gpu"] == 225.0
    # a sweep whose only rate meeting the target is 0 requests/s: no fleet of such replicas carries any load
    idle = fleet_sizing_table(_sweep((0.0, 2.0, 3.0)).assign(ttft_s_p95=[0.5, 2.0, 4.0]), 3.5, **kw).iloc[0]
    assert not idle["feasible"] and math.isnan(idle["replica_requests_per_s"]) and math.isnan(idle["gpus"])


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_replica_sweep_is_the_documented_sweep_and_never_shows_a_bar(monkeypatch):
    """A small replica (7B on one A100, 60 requests of 200 + 20 tokens, batch 16, seed 3) at 0.2 and 0.6 of its
    analytic saturation: the same rows as sweep_load of those pieces; no progress bar even on a terminal."""
    from model.workload.requests import poisson_workload
    from model.serving import Scheduler, sweep_load

    import threading

    import tqdm

    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)     # no monitor thread left behind (see the tiering test)
    monkeypatch.setattr(tqdm.tqdm, "_lock", threading.RLock(), raising=False)    # nor a lock shared with forked processes
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    kw = dict(prompt_tokens=200, reply_tokens=20, max_batch=16, n_requests=60, seed=3, load_fractions=(0.2, 0.6))
    sat, sweep = replica_load_sweep("llama-2-7b", "a100-80gb", 1, **kw)
    assert term.getvalue() == ""
    dep = deployment("llama-2-7b", "a100-80gb", 1)
    want_sat = continuous_saturation(dep, [200], [20], max_batch=16).requests_per_s
    assert_allclose(sat, want_sat, rtol=1e-12)
    want = sweep_load({"continuous": (dep, Scheduler("continuous", 16))}, [0.2 * want_sat, 0.6 * want_sat],
                      lambda r: poisson_workload(60, r, prompt_tokens=200, output_tokens=20, seed=3), progress=False)
    pd.testing.assert_frame_equal(sweep, want)
    assert (sweep["run"] == "continuous").all()
    # the rate at a latency target reads the same sweep
    target = float(sweep["e2e_latency_s_p95"].max())
    rate, sat2, sweep2 = replica_rate_at_latency("llama-2-7b", "a100-80gb", 1, latency_metric="e2e_latency_s_p95",
                                                 latency_target_s=target, **kw)
    pd.testing.assert_frame_equal(sweep2, want)
    assert sat2 == sat and rate == 0.6 * want_sat
    with pytest.raises(ParameterError, match="^latency_target_s=0"):
        replica_rate_at_latency("llama-2-7b", "a100-80gb", 1, latency_metric="e2e_latency_s_p95",
                                latency_target_s=0, **kw)

