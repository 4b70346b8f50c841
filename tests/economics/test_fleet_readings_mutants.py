"""model.economics.fleet_readings, hand-worked cases for its mutants: every parameter of the fleet chapter's check
named in full with its allowed range (model.checks.ParameterError's message), the ends of the ranges, the order
of the checks, and the tables' columns read by hand."""
import math

import pandas as pd
import pytest

from model.checks import ParameterError
from model.economics.availability import OutageClass
from model.economics.fleet_readings import (capped_rows, check_fleet, one_answer_table, outage_record_table,
                                            prefix_reuse_table)

GOOD = dict(fleet_gpus=900, gpu="a100-80gb", spare_share=0.1, region_shares=[0.45, 0.25, 0.30],
            user_shares=[0.40, 0.25, 0.30, 0.05], home_region="East US", eu_region="West Europe",
            asia_region="Japan East", response_p95_s=3.2, availability_targets=[99.0, 99.9], sla_percent=99.95,
            planned_events_per_year=12, planned_hours=1.0, unplanned_events_per_year=3, unplanned_hours=2.0,
            gpu_availabilities=[0.99], spare_counts=[0, 1], peak_gpus=1200, trough_gpus=600, model="llama-2-70b",
            replica_gpus=8, prompt_tokens=2000, reply_tokens=100, turns_per_session=200, sim_requests=1500,
            sessions_per_node=100, session_minutes=30, session_context_tokens=10_000,
            session_counts=[10_000, 1_000_000], latency_metrics=["ttft_s_p95", "e2e_latency_s_p95"])

POS = "a finite number in (0, inf]"
NONNEG = "a finite number in [0, inf]"
INT1 = "an integer in [1, inf]"
PCT = "a finite number in [0, 100]"
REGIONS = "one of 'East US', 'Japan East', 'West Europe'"


@pytest.mark.parametrize("name, value, shown, allowed", [
    ("fleet_gpus", 0, "fleet_gpus", POS), ("spare_share", -0.1, "spare_share", NONNEG),
    ("region_shares", [0.5, 0.6], "region_shares", "shares summing to 1 (they sum to 1.1)"),
    ("region_shares", [1.5, -0.5], "region_shares[0]", "a finite number in [0, 1]"),
    ("user_shares", [0.5, 0.6], "user_shares", "shares summing to 1 (they sum to 1.1)"),
    ("user_shares", [0.5, 0.5], "len(user_shares)", "one of 4"),
    ("home_region", "Mars", "home_region", REGIONS), ("eu_region", "Mars", "eu_region", REGIONS),
    ("asia_region", "Mars", "asia_region", REGIONS), ("response_p95_s", 0, "response_p95_s", POS),
    ("availability_targets", [], "availability_targets", "a non-empty list"),
    ("gpu_availabilities", [], "gpu_availabilities", "a non-empty list"),
    ("spare_counts", [], "spare_counts", "a non-empty list"),
    ("session_counts", [], "session_counts", "a non-empty list"),
    ("latency_metrics", [], "latency_metrics", "a non-empty list"),
    ("availability_targets", [99.0, 100.5], "availability_targets[1]", PCT),
    ("availability_targets", [-1.0], "availability_targets[0]", PCT),
    ("sla_percent", 101, "sla_percent", PCT), ("sla_percent", -1, "sla_percent", PCT),
    ("planned_events_per_year", -1, "planned_events_per_year", NONNEG), ("planned_hours", -1, "planned_hours", NONNEG),
    ("unplanned_events_per_year", -1, "unplanned_events_per_year", NONNEG),
    ("unplanned_hours", -1, "unplanned_hours", NONNEG),
    ("gpu_availabilities", [0.9, 1.1], "gpu_availabilities[1]", "a finite number in [0, 1]"),
    ("spare_counts", [0, -1], "spare_counts[1]", "an integer in [0, inf]"),
    ("peak_gpus", 0, "peak_gpus", POS),
    ("trough_gpus", 1201, "trough_gpus", "a finite number in [0, 1200]"),
    ("trough_gpus", -1, "trough_gpus", "a finite number in [0, 1200]"),
    ("replica_gpus", 0, "replica_gpus", INT1), ("prompt_tokens", 0, "prompt_tokens", INT1),
    ("reply_tokens", 0, "reply_tokens", INT1), ("turns_per_session", 0, "turns_per_session", INT1),
    ("sim_requests", 0, "sim_requests", INT1), ("sessions_per_node", 0, "sessions_per_node", INT1),
    ("session_minutes", 0, "session_minutes", POS), ("session_context_tokens", 0, "session_context_tokens", POS),
    ("session_counts", [5, 0], "session_counts[1]", POS),
])
def test_each_parameter_is_named_with_its_range(name, value, shown, allowed):
    with pytest.raises(ParameterError) as err:
        check_fleet(**{**GOOD, name: value})
    got = err.value
    assert got.name == shown
    assert got.allowed == allowed
    if shown == name:                                  # the value refused is the one given
        assert got.value == value and type(got.value) is type(value)


def test_choices_are_named():
    for name, value in (("gpu", "nope"), ("model", "nope"), ("latency_metrics", ["ttft_s_p95", "nope"])):
        with pytest.raises(ParameterError) as err:
            check_fleet(**{**GOOD, name: value})
        shown = "latency_metrics[1]" if name == "latency_metrics" else name
        assert str(err.value).startswith(f"{shown}='nope' is not allowed: {shown} must be one of ")
    with pytest.raises(ParameterError) as err:
        check_fleet(**{**GOOD, "latency_metrics": ["nope"]})
    assert err.value.allowed == "one of " + ", ".join(repr(m) for m in (
        "ttft_s_p50", "ttft_s_p95", "ttft_s_p99", "e2e_latency_s_p50", "e2e_latency_s_p95", "e2e_latency_s_p99",
        "tpot_s_p50", "tpot_s_p95", "tpot_s_p99"))


def test_the_ends_of_the_ranges_pass():
    for kw in ({"spare_share": 0}, {"availability_targets": [0.0, 100.0]}, {"sla_percent": 100},
               {"sla_percent": 0}, {"planned_hours": 0}, {"unplanned_events_per_year": 0},
               {"gpu_availabilities": [0.0, 1.0]}, {"spare_counts": [0]}, {"trough_gpus": 1200},
               {"trough_gpus": 0}, {"prompt_tokens": 1}, {"sim_requests": 1}):
        check_fleet(**{**GOOD, **kw})


def test_the_checks_come_in_their_order():
    # two bad parameters: the first checked is named
    cases = [({"fleet_gpus": 0, "gpu": "nope"}, "fleet_gpus"),
             ({"replica_gpus": 0, "prompt_tokens": 0}, "replica_gpus"),
             ({"replica_gpus": 1, "prompt_tokens": 0}, "replica_gpus"),    # 70B FP16 needs two A100s
             ({"model": "nope", "prompt_tokens": 0}, "model"),
             ({"trough_gpus": -1, "model": "nope"}, "trough_gpus"),
             ({"sessions_per_node": 0, "session_minutes": 0}, "sessions_per_node")]
    for kw, named in cases:
        with pytest.raises(ParameterError) as err:
            check_fleet(**{**GOOD, **kw})
        assert err.value.name == named, kw


def _sizing(gpus, feasible, rates):
    return pd.DataFrame({"latency_metric": ["ttft_s_p95", "e2e_latency_s_p95"], "target_s": [3.2, 3.2],
                         "concurrent_sessions": [1000, 1000], "demand_requests_per_s": [111.0, 111.0],
                         "feasible": feasible, "replica_requests_per_s": rates, "gpus": gpus})


def test_prefix_reuse_table_columns_by_hand():
    t = prefix_reuse_table(_sizing([100.0, 40.0], [True, False], [1.0, 0.5]),
                           _sizing([80.0, 10.0], [False, True], [1.25, 2.0]),
                           prompt_tokens=2000, cached_tokens=1500, cached_share=0.75)
    assert list(t.columns) == ["latency_metric", "target_s", "concurrent_sessions", "demand_requests_per_s",
                               "prompt_tokens", "cached_tokens", "cached_share", "feasible_full", "feasible_cached",
                               "replica_requests_per_s_full", "replica_requests_per_s_cached", "gpus_full",
                               "gpus_cached", "gpus_saved_share"]
    assert list(t["prompt_tokens"]) == [2000, 2000] and list(t["cached_share"]) == [0.75, 0.75]
    assert list(t["feasible_full"]) == [True, False] and list(t["feasible_cached"]) == [False, True]
    assert list(t["replica_requests_per_s_full"]) == [1.0, 0.5] and list(t["gpus_full"]) == [100.0, 40.0]
    assert list(t["gpus_cached"]) == [80.0, 10.0]
    # 1 − 80/100 = 0.2; 1 − 10/40 = 0.75
    assert t["gpus_saved_share"].tolist() == pytest.approx([0.2, 0.75])


def test_capped_rows_reads_each_sweep_and_names():
    top = pd.DataFrame({"run": [0, 0], "rate_per_s": [1.0, 2.0], "ttft_s_p95": [0.1, 0.2]})
    low = pd.DataFrame({"run": [0, 0], "rate_per_s": [1.0, 2.0], "ttft_s_p95": [0.1, 9.0]})
    rows = pd.DataFrame({"latency_metric": ["ttft_s_p95"] * 4, "feasible_full": [True, True, False, True],
                         "feasible_cached": [False, True, True, True]})
    # row 0: only the full sweep counts (at its top); row 1: both, the cached one not at its top;
    # row 2: only the cached one (not at its top); row 3 as row 1
    assert capped_rows(rows, top, low, 3.2) == [True, False, False, False]
    assert capped_rows(rows, low, top, 3.2) == [False, False, True, False]
    assert capped_rows(rows, top, top, 0.15) == [False, False, False, False]    # 0.2 s misses a 0.15 s target


def test_one_answer_table_columns_and_memory_row():
    last = _sizing([100.0, 7.0], [True, True], [1.5, 2.25])
    t = one_answer_table(last, sessions=12345, replica_gpus=8, server_sessions=2500, mem_gpus=40, b_demand=1234.5,
                         b_gpus_per_replica=4, b_rate=2.5, b_gpus=80.0, spare_share=0.1, reading_names={})
    assert list(t.columns) == ["count", "demand", "replica_gpus", "per_replica", "spares", "feasible", "gpus"]
    assert t.iloc[0].to_dict() == {"count": "KV memory", "demand": "12,345 sessions", "replica_gpus": 8,
                                   "per_replica": "2,500 sessions", "spares": 0.0, "feasible": True, "gpus": 40}
    assert t.iloc[1].to_dict() == {"count": "saturation (batching)", "demand": "1,234 requests/s (T4)",
                                   "replica_gpus": 4, "per_replica": "2.50 requests/s", "spares": 0.0,
                                   "feasible": True, "gpus": 80.0}
    assert t.iloc[2].to_dict() == {"count": "P95 target, ttft_s_p95", "demand": "111 requests/s (Little's law)",
                                   "replica_gpus": 8, "per_replica": "1.50 requests/s", "spares": 0.1,
                                   "feasible": True, "gpus": 100.0}
    assert t["per_replica"].iloc[3] == "2.25 requests/s"


def test_outage_record_by_hand():
    # 12 events × 1 h = 12 h a year; 3 × 2 h = 6 h; 8,760 h a year: availability 1 − 12/8760 = 99.8630%
    t = outage_record_table([OutageClass("planned", 12, 1.0), OutageClass("unplanned", 3, 2.0)])
    assert list(t.columns) == ["item", "downtime_h_per_year", "availability_percent"]
    assert t["availability_percent"].iloc[0] == pytest.approx(100 * (1 - 12 / 8760))
    assert t["availability_percent"].iloc[1] == pytest.approx(100 * (1 - 6 / 8760))
    assert t["availability_percent"].iloc[2] == pytest.approx(100 * (1 - 18 / 8760), rel=1e-6)
    assert list(t.index) == [0, 1, 2]


def test_a_bad_target_is_named_as_the_caller_names_it():
    from model.economics.fleet_readings import at_top_load

    sweep = pd.DataFrame({"run": [0], "rate_per_s": [1.0], "ttft_s_p95": [0.1]})
    with pytest.raises(ParameterError, match="^response_p95_s=0"):
        at_top_load(sweep, "ttft_s_p95", 0, name="response_p95_s")
    rows = pd.DataFrame({"latency_metric": ["ttft_s_p95"], "feasible_full": [True], "feasible_cached": [False]})
    with pytest.raises(ParameterError, match="^my_metric='nope'"):
        capped_rows(rows.assign(latency_metric="nope"), sweep, sweep, 1.0, metric_name="my_metric")


def test_one_answer_table_of_one_reading():
    last = _sizing([100.0, 7.0], [True, True], [1.5, 2.25]).iloc[:1]
    t = one_answer_table(last, sessions=10, replica_gpus=8, server_sessions=5, mem_gpus=None, b_demand=1.0,
                         b_gpus_per_replica=4, b_rate=2.5, b_gpus=80.0, spare_share=0.1, reading_names={})
    assert t["demand"].iloc[2] == "111 requests/s (Little's law)" and len(t) == 3
