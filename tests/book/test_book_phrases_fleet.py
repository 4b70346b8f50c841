"""model.book.phrases: the sentences of the fleet chapter, against hand-written text for each branch."""
import pandas as pd

from model.book.phrases import (fleet_verdict, gpus_by_reading, gpus_text, latency_place, latency_places,
                                outages_alone, prefix_by_reading, prefix_gpus_by_reading, price_for_saving,
                                reading_name, regions_conclusion, regions_count, sizing_sentence, sla_met,
                                stated_enough, usd_short)


def _last(feasible=(True, False), gpus=(1200.0, float("nan"))):
    return pd.DataFrame({"latency_metric": ["ttft_s_p95", "e2e_latency_s_p95"], "feasible": list(feasible),
                         "gpus": list(gpus), "sessions_per_gpu": [833.3, float("nan")]})


def test_reading_name_and_counts():
    assert reading_name("ttft_s_p95") == "first token (TTFT P95)"
    assert reading_name("other") == "other"
    assert gpus_text(1) == "1 GPU"
    assert gpus_text(1234) == "1,234 GPUs"
    assert usd_short(1_234_567) == "$1.23M"
    assert usd_short(-2_000_000) == "$-2M"
    assert usd_short(812_345) == "$812K"


def test_sizing_sentence():
    sweep = pd.DataFrame({"ttft_s_p95": [0.5], "e2e_latency_s_p95": [4.567]})
    assert sizing_sentence(_last(), sweep) == (
        "1,200 GPUs if it is the first token (ttft_s_p95: 8.3e+02 sessions per GPU); no number of GPUs if it is "
        "the whole reply (even the lightest simulated load gives 4.57 s e2e_latency_s_p95; feasible = False in "
        "the table)")


def test_fleet_verdict_branches():
    assert fleet_verdict(_last((False, False)), 900) == (
        "no simulated reading reaches the target, so no number of such replicas does")
    assert fleet_verdict(_last(), 900) == "+33% the 900 GPUs of the stated fleet"
    assert fleet_verdict(_last((True, True), (2700.0, 1800.0)), 900) == "×2 to ×3 the 900 GPUs of the stated fleet"


def test_gpus_by_reading():
    assert gpus_by_reading(_last()) == ("1,200 GPUs if it reads the first token (TTFT P95); no number of GPUs if "
                                        "it reads the whole reply (end-to-end P95)")


def _pc():
    return pd.DataFrame({"latency_metric": ["ttft_s_p95", "e2e_latency_s_p95", "x"],
                         "feasible_full": [True, False, True], "feasible_cached": [True, True, False],
                         "gpus_full": [1000.0, float("nan"), 50.0], "gpus_cached": [800.0, 2000.0, float("nan")],
                         "replica_requests_per_s_full": [1.234, float("nan"), 2.0],
                         "replica_requests_per_s_cached": [2.5, 0.75, float("nan")]})


def test_prefix_phrases():
    assert prefix_gpus_by_reading(_pc()) == (
        "800 GPUs instead of 1,000 if it reads the first token (TTFT P95); 2,000 GPUs instead of no number of if "
        "it reads the whole reply (end-to-end P95); no number of GPUs instead of 50 if it reads the x")
    assert prefix_by_reading(_pc(), [True, False, False], 0.9) == (
        "800 GPUs instead of 1,000 if it reads the first token (TTFT P95): a replica carries 2.50 instead of 1.23 "
        "requests/s (both at the heaviest simulated load, 90% of saturation: upper bounds); 2,000 GPUs instead "
        "of no number of if it reads the whole reply (end-to-end P95): a replica carries 0.75 requests/s; "
        "no number of GPUs instead of 50 if it reads the x: no replica meets the target")


def test_latency_place_branches():
    assert latency_place("north_america", 50, 10, 80) == "north america 50 ms is inside (10–80 ms)"
    assert latency_place("asia", 200.5, 100, 180) == "asia 200.5 ms is above every region (100–180 ms)"
    assert latency_place("europe", 5, 70.4, 90.6) == "europe 5 ms is below every region (70–91 ms)"
    table = pd.DataFrame({"destination_group": ["asia", "europe"], "stated_ms": [200.0, 80.0],
                          "minimum": [100.0, 70.0], "maximum": [180.0, 90.0]})
    assert latency_places(table) == ("asia 200 ms is above every region (100–180 ms); "
                                     "europe 80 ms is inside (70–90 ms)")


def test_region_and_availability_words():
    assert regions_conclusion(0.05) == "regions are about availability and data residency more than speed"
    assert regions_conclusion(0.1) == "the regions buy a noticeable part of the response time"
    assert stated_enough(100, 200) == "enough for the plain split, not to survive a region loss"
    assert stated_enough(200, 200) == "enough to survive a region loss"
    assert sla_met(99.95, 99.95) == "meets"
    assert sla_met(99.9, 99.95) == "misses"
    assert outages_alone(6.0, 4.38) == "the outages alone exceed it"
    assert outages_alone(4.38, 4.38) == "the outages alone stay within it"
    assert [regions_count(k) for k in (0, 1, 2)] == ["no region", "one region", "2 regions"]
    assert regions_count(3, "region loss", "region losses") == "3 region losses"


def test_price_for_saving():
    assert price_for_saving(1_200_000, 400_000) == "$3.00"
    assert price_for_saving(1_200_000, 0.0) == "an unbounded price (no GPU-hour is saved)"   # a flat day
