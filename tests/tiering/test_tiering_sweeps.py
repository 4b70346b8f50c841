"""model.tiering.sweeps: the knee by hand, TTL settings and what a TTL table says, on hand-made tables."""
import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.tiering import knee, knee_table, ttl_findings, ttl_settings
from model.checks import ParameterError


def test_knee_by_hand():
    # gain 0 -> 10; 90% of it (9) is first reached at capacity 4
    assert knee([1, 2, 4, 8], [0, 5, 9, 10]) == 4
    assert knee([8, 1, 4, 2], [10, 0, 9, 5]) == 4                 # order does not matter
    assert knee([1, 2, 4], [0, 5, 10], share=0.4) == 2
    assert math.isnan(knee([1, 2], [3, 3]))


def test_knee_table():
    sweeps = pd.DataFrame({"tier": ["dram"] * 3, "capacity_gb_per_instance": [0, 100, 200],
                           "hit_ratio": [0.1, 0.3, 0.31], "ttft_p95_s": [10.0, 4.0, 3.9],
                           "usd_per_million_tokens": [1.0, 0.9, 0.95]})
    k = knee_table(sweeps).set_index("tier").loc["dram"]
    assert k["knee_gb_per_instance_hit_ratio"] == 100 and k["knee_gb_per_instance_ttft_p95"] == 100
    assert k["best_usd_per_million_tokens_at_gb"] == 100


def test_ttl_settings_labels_and_errors():
    s = ttl_settings([30, 120], [{"history": 60}])
    assert list(s) == ["no TTL", "uniform 30 s", "uniform 120 s", "per group: history 60 s; others kept"]
    assert s["uniform 30 s"] == (30.0, {}) and s["per group: history 60 s; others kept"] == (math.inf, {"history": 60.0})
    with pytest.raises(ParameterError, match=r"uniform_ttls_s\[0\]"):
        ttl_settings([-1], [])
    with pytest.raises(ParameterError, match=r"per_group_ttls_s\[0\]"):
        ttl_settings([30], [{}])
    # no uniform TTL leaves the findings nothing to compare the per-group setting with: refused by its name
    with pytest.raises(ParameterError, match=r"^uniform_ttls_s=\[\] is not allowed"):
        ttl_settings([], [{"history": 60}])


def test_ttl_findings_by_hand():
    t = pd.DataFrame({"setting": ["no TTL", "uniform 30 s", "uniform 120 s", "per group: x"],
                      "hit_ratio": [0.60, 0.50, 0.59, 0.58], "mean_occupied_gb": [100.0, 10.0, 40.0, 12.0],
                      "storage_usd_per_hour": [0.0, 0.0, 0.0, 0.0]})
    f = ttl_findings(t, per_group="per group: x")
    assert f["nearest"] == "uniform 30 s" and f["nearest_hit_ratio"] == 0.50
    assert f["matching"] == "uniform 120 s"
    assert_allclose(f["memory_saved"], 1 - 12 / 40)
    assert f["no_ttl_hit_ratio"] == 0.60
    t.loc[2, "hit_ratio"] = 0.55
    assert ttl_findings(t, per_group="per group: x")["matching"] is None
    with pytest.raises(ParameterError, match="setting"):
        ttl_findings(t, per_group="nope")


def _trace_of(requests, name):
    import json

    from model.workload import parse_mooncake_lines

    return parse_mooncake_lines([json.dumps({"timestamp": i * 1000, "input_length": 512 * len(ids),
                                             "output_length": 1, "hash_ids": ids}) for i, ids in enumerate(requests)],
                                name=name)


def test_lru_curves_by_hand():
    from model.tiering.sweeps import lru_curves

    # 3 distinct blocks: capacities 1 and 3 (geomspace 1..3 in 3 points, whole blocks, deduplicated); the second
    # request reuses blocks 1 and 2, each with one other block used since, so it hits from 3 blocks, not from 1
    a = _trace_of([[1, 2], [1, 2], [3]], "a")
    b = _trace_of([[7], [7]], "b")
    c = lru_curves([a, b], block_gb=0.5, points_per_curve=3)
    assert list(c["trace"]) == ["a", "a", "b", "b"]
    assert list(c["capacity_blocks"]) == [1, 3, 1, 2]
    assert_allclose(c["hit_ratio"], [0, 2 / 5, 1 / 2, 1 / 2])
    assert_allclose(c["capacity_gb"], [0.5, 1.5, 0.5, 1.0])


def test_capacity_reaching():
    from model.tiering.sweeps import capacity_reaching

    curve = pd.DataFrame({"capacity_gb": [1.0, 10.0, 100.0], "hit_ratio": [0.1, 0.3, 0.35]})
    assert capacity_reaching(curve, 0.3) == 10.0 and capacity_reaching(curve, 0.05) == 1.0
    assert capacity_reaching(curve, 0.0) == 0.0 and capacity_reaching(curve, math.nan) == 0.0
    assert math.isnan(capacity_reaching(curve, 0.5))


def test_shortest_ttl_within():
    from model.tiering.sweeps import shortest_ttl_within

    t = pd.DataFrame({"setting": ["no TTL", "uniform 30 s", "uniform 600 s", "uniform 120 s", "per group: x"],
                      "hit_ratio": [0.50, 0.40, 0.50, 0.495, 0.20]})
    assert shortest_ttl_within(t, 0.50, tolerance=0.01) == 120.0
    assert shortest_ttl_within(t, 0.50, tolerance=0.0) == 600.0
    assert shortest_ttl_within(t, 0.50, tolerance=0.2) == 30.0
    assert math.isnan(shortest_ttl_within(t, 0.60, tolerance=0.01))
