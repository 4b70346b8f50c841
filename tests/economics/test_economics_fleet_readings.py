"""model.economics.fleet_readings: the fleet chapter's parameter check and tables, on hand-made inputs."""
import math

import pandas as pd
import pytest

from model.checks import ParameterError
from model.economics.availability import OutageClass
from model.economics.fleet_readings import (at_top_load, capped_rows, check_fleet, one_answer_table,
                                            outage_record_table, prefix_reuse_table)

GOOD = dict(fleet_gpus=900, gpu="a100-80gb", spare_share=0.1, region_shares=[0.45, 0.25, 0.30],
            user_shares=[0.40, 0.25, 0.30, 0.05], home_region="East US", eu_region="West Europe",
            asia_region="Japan East", response_p95_s=3.2, availability_targets=[99.0, 99.9], sla_percent=99.95,
            planned_events_per_year=12, planned_hours=1.0, unplanned_events_per_year=3, unplanned_hours=2.0,
            gpu_availabilities=[0.99], spare_counts=[0, 1], peak_gpus=1200, trough_gpus=600, model="llama-2-70b",
            replica_gpus=8, prompt_tokens=2000, reply_tokens=100, turns_per_session=200, sim_requests=1500,
            sessions_per_node=100, session_minutes=30, session_context_tokens=10_000,
            session_counts=[10_000, 1_000_000], latency_metrics=["ttft_s_p95", "e2e_latency_s_p95"])


def test_check_fleet_accepts_the_defaults():
    check_fleet(**GOOD)


@pytest.mark.parametrize("name, value", [("fleet_gpus", 0), ("gpu", "no-such-gpu"), ("user_shares", [0.5, 0.5]),
                                         ("eu_region", "Mars"), ("trough_gpus", 1300), ("replica_gpus", 0),
                                         ("latency_metrics", ["nope"]), ("spare_counts", [-1]),
                                         ("availability_targets", []), ("gpu_availabilities", []),
                                         ("spare_counts", []), ("session_counts", []), ("latency_metrics", []),
                                         ("replica_gpus", 1)])   # 70B FP16 weights need two A100s
def test_check_fleet_names_the_bad_parameter(name, value):
    with pytest.raises(ParameterError, match=name.split("_")[0]):
        check_fleet(**{**GOOD, name: value})


def _sizing(gpus, feasible, rates):
    return pd.DataFrame({"latency_metric": ["ttft_s_p95", "e2e_latency_s_p95"], "target_s": [3.2, 3.2],
                         "concurrent_sessions": [1000, 1000], "demand_requests_per_s": [111.0, 111.0],
                         "feasible": feasible, "replica_requests_per_s": rates, "gpus": gpus})


def test_prefix_reuse_table():
    t = prefix_reuse_table(_sizing([100.0, 200.0], [True, True], [1.0, 0.5]),
                           _sizing([80.0, 50.0], [True, True], [1.25, 2.0]),
                           prompt_tokens=2000, cached_tokens=1500, cached_share=0.75)
    assert t["gpus_saved_share"].tolist() == pytest.approx([0.2, 0.75])
    assert t["replica_requests_per_s_cached"].tolist() == [1.25, 2.0]
    assert t["cached_tokens"].tolist() == [1500, 1500]
    assert list(t.columns[:4]) == ["latency_metric", "target_s", "concurrent_sessions", "demand_requests_per_s"]


def test_at_top_load_and_capped_rows():
    sweep = pd.DataFrame({"run": [0, 0, 0], "rate_per_s": [1.0, 2.0, 3.0], "ttft_s_p95": [0.1, 0.2, 0.3],
                          "e2e_latency_s_p95": [1.0, 2.0, 9.0]})
    assert at_top_load(sweep, "ttft_s_p95", 3.2)
    assert not at_top_load(sweep, "e2e_latency_s_p95", 3.2)
    rows = pd.DataFrame({"latency_metric": ["ttft_s_p95", "e2e_latency_s_p95", "ttft_s_p95"],
                         "feasible_full": [True, True, False], "feasible_cached": [True, True, False]})
    assert capped_rows(rows, sweep, sweep, 3.2) == [True, False, False]


def test_one_answer_table():
    last = _sizing([100.0, math.nan], [True, False], [1.234, math.nan])
    t = one_answer_table(last, sessions=1000, replica_gpus=8, server_sessions=250, mem_gpus=None, b_demand=50.0,
                         b_gpus_per_replica=4, b_rate=2.5, b_gpus=80.0, spare_share=0.1,
                         reading_names={"ttft_s_p95": "first token"})
    assert t["count"].tolist() == ["KV memory", "saturation (batching)", "P95 target, first token",
                                   "P95 target, e2e_latency_s_p95"]
    assert t["per_replica"].tolist() == ["250 sessions", "2.50 requests/s", "1.23 requests/s", "target out of reach"]
    assert t["demand"].tolist()[1:3] == ["50 requests/s (T4)", "111 requests/s (Little's law)"]
    assert math.isnan(t["gpus"].iloc[0]) and t["gpus"].iloc[1] == 80.0
    assert t["spares"].tolist() == [0.0, 0.0, 0.1, 0.1]
    assert t["feasible"].tolist() == [False, True, True, False]     # no count where gpus is NaN


def test_outage_record_table():
    t = outage_record_table([OutageClass("planned", 12, 1.0), OutageClass("unplanned", 3, 2.0)])
    assert t["item"].tolist() == ["planned", "unplanned", "both"]
    assert t["downtime_h_per_year"].tolist() == [12.0, 6.0, 18.0]
    assert t["availability_percent"].iloc[-1] < t["availability_percent"].iloc[0] < 100


def test_check_fleet_names_replica_gpus_that_cannot_split_the_kv_heads():
    with pytest.raises(ParameterError) as e:       # Qwen3-Next's 32 linear-attention value heads over 40 GPUs
        check_fleet(**{**GOOD, "model": "qwen3-next-80b-a3b", "replica_gpus": 40})
    assert e.value.name == "replica_gpus"
