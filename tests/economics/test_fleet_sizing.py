import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.economics.fleet_sizing import (fleet_for_sessions, fleet_monthly_cost, fleet_sizing_table,
                                gpus_for_sessions, rate_within_latency, replica_rate_at_latency, turn_rate_per_s)
from model.checks import ParameterError


def test_turn_rate_littles_law_by_hand():
    # 1M sessions in progress, 200 turns over 30 minutes each: 1e6 x 200 / 1800 s = 111,111 requests/s
    assert_allclose(turn_rate_per_s(1e6, turns_per_session=200, session_minutes=30), 111_111.11, rtol=1e-6)
    replicas, gpus = fleet_for_sessions(1e6, replica_rate_per_s=1.0, replica_gpus=8, turns_per_session=200,
                                        session_minutes=30, spare_share=0.1)
    assert replicas == 111_112 and gpus == math.ceil(111_112 * 8 * 1.1)


def test_gpus_for_sessions_and_rent():
    # 1M sessions on 900 GPUs is 1,111.1 sessions per GPU; +10% spares -> 990
    assert gpus_for_sessions(1e6, 1e6 / 900, spare_share=0.1) == 990
    assert_allclose(fleet_monthly_cost(900, 2.0), 900 * 2.0 * 730)


def _sweep():
    return pd.DataFrame({"run": "continuous", "rate_per_s": [1.0, 2.0, 3.0], "ttft_s_p95": [0.5, 1.0, 4.0],
                         "e2e_latency_s_p95": [2.0, 3.0, 9.0]})


def test_rate_within_latency_names_the_chapter_parameter():
    assert rate_within_latency(_sweep(), "ttft_s_p95", 1.0) == 2.0
    with pytest.raises(ParameterError, match="^response_p95_s="):
        rate_within_latency(_sweep(), "e2e_latency_s_p95", 1.0, name="response_p95_s")
    with pytest.raises(ParameterError, match="^latency_metrics="):
        rate_within_latency(_sweep(), "speed", 1.0, metric_name="latency_metrics")


def test_sizing_table_marks_unmet_targets():
    t = fleet_sizing_table(_sweep(), 3.5, latency_metrics=["ttft_s_p95", "e2e_latency_s_p95"], latency_target_s=1.0,
                           session_counts=[1800.0], replica_gpus=2, turns_per_session=2, session_minutes=30,
                           spare_share=0.0)
    ok = t.set_index("latency_metric")
    # 1,800 sessions x 2 turns / 1,800 s = 2 requests/s; one replica carries 2 -> 1 replica, 2 GPUs
    assert ok.loc["ttft_s_p95", "feasible"] and ok.loc["ttft_s_p95", "gpus"] == 2
    assert not ok.loc["e2e_latency_s_p95", "feasible"] and math.isnan(ok.loc["e2e_latency_s_p95", "gpus"])


def test_replica_rate_at_latency_target():
    kw = dict(prompt_tokens=2000, reply_tokens=100, latency_metric="e2e_latency_s_p95", n_requests=300,
              load_fractions=(0.1, 0.3, 0.5, 0.7, 0.9))
    tight, sat, sweep = replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=4.0, **kw)
    loose, _, _ = replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=60.0, **kw)
    assert 0 < tight <= loose <= sat
    assert (sweep["e2e_latency_s_p95"].diff().dropna() > 0).all()  # latency grows with load
    with pytest.raises(ParameterError, match="latency_target_s"):
        replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=0.5, **kw)


def test_latency_metric_names_are_sweep_columns():
    from model.economics.fleet_sizing import LATENCY_METRICS, replica_load_sweep

    _, sweep = replica_load_sweep("llama-2-70b", "a100-80gb", 8, prompt_tokens=200, reply_tokens=20, n_requests=50,
                                  load_fractions=(0.5,))
    assert set(LATENCY_METRICS) <= set(sweep.columns)


def test_fleet_rounding_is_not_fooled_by_float_error():
    # 24,105 replicas x 8 GPUs x 1.1 is 212,124 exactly; binary floating point gives 212,124.00000000003
    rate = 1e6 * 200 / 1800 / 24_105  # demand / rate = 24,105 replicas on the nose
    replicas, gpus = fleet_for_sessions(1e6, replica_rate_per_s=rate, replica_gpus=8, turns_per_session=200,
                                        session_minutes=30, spare_share=0.1)
    assert (replicas, gpus) == (24_105, 212_124)


def test_replica_saturation_rate_matches_the_token_throughput():
    from model.economics.fleet_sizing import replica_saturation_rate_per_s
    from model.economics.token_cost import modelled_tokens_per_s_per_gpu

    # requests/s x tokens per request / GPUs is the token throughput per GPU of the same replica
    rate = replica_saturation_rate_per_s("llama-2-70b", "a100-80gb", 4, prompt_tokens=2000, reply_tokens=100)
    tps = modelled_tokens_per_s_per_gpu("llama-2-70b", "a100-80gb", 4, prompt_tokens=2000, reply_tokens=100)
    assert_allclose(rate * 2100 / 4, tps, rtol=1e-12)
    assert rate > 0
