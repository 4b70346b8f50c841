"""model.tiering.sweeps by hand: capacity sweeps and TTL tables of a three-request trace, the knee, the TTL settings
and findings on hand-made tables.

The trace: requests of blocks [1, 2], [1, 2], [3] (512 tokens each) at 0, 1 and 2 s: 5 block lookups. An LRU HBM
of 3 blocks keeps blocks 1 and 2 for the second request: 2 hits of 5 (0.4), 3 blocks (1,536 tokens) recomputed;
of 1 block it holds only block 2 when block 1 is looked up, and a prefix stops at its first miss: 0 hits, all
2,560 tokens recomputed. A TTL of 0.5 s expires blocks 1 and 2 before the second request (1 s later): 0 hits.
The engine computes 1e-4 s a token: 0.1024 s for 2 blocks, 0.0512 s for one; a block is 512 × 1,000 bytes.
"""
import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.tiering.config import Tier, TierConfig
from model.tiering.engine import PrefillEngine
from model.tiering.simulate import simulate
from model.tiering.stack_distance import replay_from_stack
from model.tiering.sweeps import (capacity_reaching, knee, knee_table, shortest_ttl_within, sweep_capacity,
                                  ttl_findings, ttl_settings, ttl_table)
from model.workload import parse_mooncake_lines

TRACE = parse_mooncake_lines([json.dumps({"timestamp": i * 1000, "input_length": 512 * len(ids), "output_length": 1,
                                          "hash_ids": ids}) for i, ids in enumerate([[1, 2], [1, 2], [3]])], name="t")
ENGINE = PrefillEngine(name="e", s_token=1e-4, s_pair=0.0, s_sequence=0.0, m_fixed=0.0, m_token=0.0,
                       s_allreduce=0.0, kv_bytes_per_token=1000.0, gpus_per_instance=2, n_instances=1,
                       gpu_usd_per_hour=2.0)
CONFIG = TierConfig(tiers=(Tier("hbm", 0, 1e9, 1e9, 1000.0), Tier("dram", 0, 1e9, 1e9, 2000.0)), engine=ENGINE)


def rows_equal(table, expected_rows):
    assert len(table) == len(expected_rows)
    for (_, got), exp in zip(table.iterrows(), expected_rows):
        for k, v in exp.items():
            if isinstance(v, str):
                assert got[k] == v, k
            else:
                assert_allclose(got[k], v, rtol=1e-12, err_msg=k)


def test_sweep_capacity_lru_by_hand():
    s = sweep_capacity(TRACE, CONFIG, "hbm", [0, 1, 3])
    assert list(s["tier"]) == ["hbm"] * 3
    assert_allclose(s["hit_ratio"], [0.0, 0.0, 0.4], rtol=0, atol=0)
    assert list(s["capacity_blocks_hbm"]) == [0, 1, 3] and list(s["capacity_blocks_dram"]) == [0, 0, 0]
    assert list(s["recomputed_tokens"]) == [2560, 2560, 1536]
    assert_allclose(s["capacity_gb"], [0.0, 512_000 / 1e9, 3 * 512_000 / 1e9], rtol=1e-12)
    # no cache: TTFTs 0.1024, 0.1024 and 0.0512 s (arrivals 1 s apart, nothing queues)
    assert_allclose(s["ttft_mean_s"].iloc[0], (0.1024 + 0.1024 + 0.0512) / 3, rtol=1e-9)
    assert list(s.columns[-3:]) == ["tier", "capacity_gb", "ttft_mean_s"]
    # every row is the simulation of that configuration
    for (_, got), c in zip(s.iterrows(), [0, 1, 3]):
        res = simulate(TRACE, CONFIG.with_capacities(hbm=c))
        rows_equal(pd.DataFrame([got]), [{**res.as_row(), "ttft_mean_s": res.ttft_mean_s}])


def test_sweep_capacity_other_tier_and_progress():
    s = sweep_capacity(TRACE, CONFIG.with_capacities(hbm=1), "dram", [3], progress=True)
    # HBM 1 + DRAM 3 (LRU demotes into DRAM): both blocks of request 2 are found, in DRAM
    assert list(s["tier"]) == ["dram"] and list(s["capacity_blocks_dram"]) == [3]
    assert_allclose([s["hit_ratio"].iloc[0], s["capacity_gb"].iloc[0]], [0.4, 3 * 512_000 / 1e9], rtol=1e-12)


@pytest.mark.parametrize("config", [replace(CONFIG, eviction="fifo"), CONFIG.with_ttl(0.5),
                                    CONFIG.with_ttl(by_group={"all": 0.5})])
def test_sweep_capacity_without_the_stack_pass(config):
    s = sweep_capacity(TRACE, config, "hbm", [3])
    # FIFO keeps blocks 1 and 2 as well (0.4); a 0.5 s TTL expires them (0)
    expected = 0.4 if config.eviction == "fifo" else 0.0
    assert_allclose(s["hit_ratio"], [expected], rtol=0, atol=0)
    rows_equal(s, [simulate(TRACE, config.with_capacities(hbm=3)).as_row()])


def test_sweep_capacity_uses_the_distances_given():
    # distances saying every lookup was seen just before: a 1-block LRU "hits" what replay_from_stack says
    fake = np.zeros(TRACE.n_blocks, dtype=np.int64)
    s = sweep_capacity(TRACE, CONFIG, "hbm", [1], distances=fake)
    cfg = CONFIG.with_capacities(hbm=1)
    expected = simulate(TRACE, cfg, replay_result=replay_from_stack(TRACE, cfg, fake)).hit_ratio
    assert expected == 1.0 and s["hit_ratio"].iloc[0] == 1.0


def test_ttl_table_by_hand():
    cfg = CONFIG.with_capacities(hbm=3)
    settings = ttl_settings([0.5, 10], [{"all": 0.5}])
    t = ttl_table(TRACE, cfg, settings)
    assert list(t.columns) == ["setting", "hit_ratio", "hit_ratio_hbm", "hit_ratio_dram", "mean_occupied_gb",
                               "storage_usd_per_hour", "recomputed_tokens", "ttft_p95_s", "cost_usd_per_hour",
                               "usd_per_million_tokens", "expirations"]
    assert list(t["setting"]) == list(settings)
    assert_allclose(t["hit_ratio"], [0.4, 0.0, 0.4, 0.0], rtol=0, atol=0)
    assert_allclose(t["hit_ratio_hbm"], [0.4, 0.0, 0.4, 0.0], rtol=0, atol=0)
    assert list(t["recomputed_tokens"]) == [1536, 2560, 1536, 2560]
    assert list(t["expirations"].iloc[[0, 2]]) == [0, 0] and (t["expirations"].iloc[[1, 3]] > 0).all()
    # storage charged on the occupied GB-hours
    for (_, got), (ttl, groups) in zip(t.iterrows(), settings.values()):
        occ = replace(cfg.with_ttl(ttl, groups), cost_basis="occupied")
        res = simulate(TRACE, occ)
        assert_allclose(got["mean_occupied_gb"], res.replay.mean_occupied_blocks().sum() * 512_000 / 1e9,
                        rtol=1e-12)
        assert_allclose([got["storage_usd_per_hour"], got["cost_usd_per_hour"], got["usd_per_million_tokens"],
                         got["ttft_p95_s"]],
                        [sum(res.storage_usd_per_hour.values()), res.cost_usd_per_hour, res.usd_per_million_tokens,
                         res.ttft_p95_s], rtol=1e-12)
        assert got["expirations"] == res.replay.expirations
    prov = simulate(TRACE, cfg)                     # on provisioned capacity the storage would cost more
    assert sum(prov.storage_usd_per_hour.values()) > t["storage_usd_per_hour"].iloc[0]


def test_ttl_table_setting_without_groups_clears_the_configs():
    # the configuration expires group "all" after 0.5 s; a setting of (no TTL, None) replaces that: 0.4 again
    cfg = CONFIG.with_capacities(hbm=3).with_ttl(by_group={"all": 0.5})
    t = ttl_table(TRACE, cfg, {"free": (math.inf, None), "kept": (math.inf, {"all": 0.5})})
    assert_allclose(t["hit_ratio"], [0.4, 0.0], rtol=0, atol=0)


def test_knee_share_and_refusal():
    # default tiering_knee_share = 0.9: 9 of the gain 10 first reached at 4
    assert knee([1, 2, 4, 8], [0, 5, 9, 10]) == 4.0 and type(knee([1, 2], [0, 1])) is float
    assert knee([1, 2, 4, 8], [0, 5, 9, 10], share=1.0) == 8.0
    assert knee([1, 2, 4, 8], [0, 5, 9, 10], share=0.5) == 2.0          # 5 = exactly half the gain
    assert knee([1, 2, 4, 8], [0, 5, 9, 10], share=0.05) == 2.0
    assert math.isnan(knee([1, 2], [3, 1]))                              # a loss: no knee
    # a loss read from an unsigned column is still a loss (3 → 1 is −2, not 254)
    assert math.isnan(knee([1, 2], np.array([3, 1], dtype=np.uint8)))
    e = pytest.raises(ParameterError, knee, [1, 2], [0, 1], share=0.0).value
    assert (e.name, e.allowed) == ("share", "a finite number in (0, 1]")


def test_knee_table_tiers_sorted_and_share_passed():
    sweeps = pd.DataFrame({"tier": ["ssd"] * 3 + ["dram"] * 3, "capacity_gb_per_instance": [0, 10, 20] * 2,
                           "hit_ratio": [0.0, 0.5, 1.0, 0.0, 0.9, 1.0], "ttft_p95_s": [3.0, 2.0, 1.0] * 2,
                           "usd_per_million_tokens": [3.0, 2.0, 1.0, 1.0, 2.0, 3.0]})
    k = knee_table(sweeps, share=0.5)
    assert list(k.columns) == ["tier", "knee_gb_per_instance_hit_ratio", "knee_gb_per_instance_ttft_p95",
                               "best_usd_per_million_tokens_at_gb"]
    assert list(k["tier"]) == ["dram", "ssd"]
    # half of each gain: dram's hit ratio at 10 GB, ssd's at 10 GB; TTFT (3 → 1) halves its gain at 10 GB
    assert list(k["knee_gb_per_instance_hit_ratio"]) == [10.0, 10.0]
    assert list(k["knee_gb_per_instance_ttft_p95"]) == [10.0, 10.0]
    assert list(k["best_usd_per_million_tokens_at_gb"]) == [0.0, 20.0]
    k9 = knee_table(sweeps)                      # 90%: dram's 0.9 at 10 GB, ssd's only at 20 GB
    assert list(k9["knee_gb_per_instance_hit_ratio"]) == [10.0, 20.0]
    assert list(k9["knee_gb_per_instance_ttft_p95"]) == [20.0, 20.0]


TABLE = pd.DataFrame({"setting": ["none", "u 30 s", "u 120 s", "pg"], "hit_ratio": [0.60, 0.50, 0.59, 0.58],
                      "mean_occupied_gb": [100.0, 10.0, 40.0, 12.0], "storage_usd_per_hour": [9.0, 1.0, 4.0, 1.5]})


def test_ttl_findings_every_figure():
    f = ttl_findings(TABLE, per_group="pg", no_ttl="none", uniform_prefix="u ")
    assert f == {"hit_ratio": 0.58, "memory_gb": 12.0, "no_ttl_hit_ratio": 0.60, "no_ttl_memory_gb": 100.0,
                 "nearest": "u 30 s", "nearest_hit_ratio": 0.50, "nearest_memory_gb": 10.0,
                 "matching": "u 120 s", "matching_memory_gb": 40.0, "memory_saved": pytest.approx(1 - 12 / 40),
                 "storage_usd_per_hour": 1.5}
    # a uniform setting of exactly the per-group hit ratio matches; of two matches the smaller memory wins
    t = TABLE.copy()
    t.loc[1, "hit_ratio"] = 0.58
    f = ttl_findings(t, per_group="pg", no_ttl="none", uniform_prefix="u ")
    assert (f["matching"], f["matching_memory_gb"]) == ("u 30 s", 10.0)
    assert_allclose(f["memory_saved"], 1 - 12 / 10, rtol=1e-12)
    # no match: NaN memory and saving; a match of 0 GB: no saving figure
    t.loc[[1, 2], "hit_ratio"] = 0.1
    f = ttl_findings(t, per_group="pg", no_ttl="none", uniform_prefix="u ")
    assert f["matching"] is None and math.isnan(f["matching_memory_gb"]) and math.isnan(f["memory_saved"])
    h = TABLE.copy()
    h.loc[2, "mean_occupied_gb"] = 0.5                   # a match of half a GB still has its saving: 1 − 12 ÷ 0.5
    assert_allclose(ttl_findings(h, per_group="pg", no_ttl="none", uniform_prefix="u ")["memory_saved"], -23.0,
                    rtol=1e-12)
    z = TABLE.copy()
    z.loc[2, "mean_occupied_gb"] = 0.0
    assert math.isnan(ttl_findings(z, per_group="pg", no_ttl="none", uniform_prefix="u ")["memory_saved"])
    # the nearest memory is nearest from above too: 12 GB is 2 from 10 and 3 from 15
    n = TABLE.copy()
    n.loc[2, "mean_occupied_gb"] = 15.0
    assert ttl_findings(n, per_group="pg", no_ttl="none", uniform_prefix="u ")["nearest"] == "u 30 s"
    n.loc[2, "mean_occupied_gb"] = 13.0
    assert ttl_findings(n, per_group="pg", no_ttl="none", uniform_prefix="u ")["nearest"] == "u 120 s"


def test_ttl_findings_refusals():
    e = pytest.raises(ParameterError, ttl_findings, TABLE, per_group="pg").value      # no "no TTL" row
    assert (e.name, e.value, e.allowed) == ("setting", "no TTL", "one of none, u 30 s, u 120 s, pg")
    e = pytest.raises(ParameterError, ttl_findings, TABLE, per_group="x", no_ttl="none").value
    assert (e.name, e.value) == ("setting", "x")
    e = pytest.raises(ParameterError, ttl_findings, TABLE, per_group="pg", no_ttl="none").value
    assert (e.name, e.value, e.allowed) == ("uniform_prefix", "uniform", "the prefix of at least one setting")


def test_ttl_settings_every_label_and_refusal():
    s = ttl_settings([0, math.inf, 2.5], [{"history": 60, "persona_tail": math.inf}, {"h": 0}])
    assert s == {"no TTL": (math.inf, {}), "uniform 0 s": (0.0, {}), "uniform inf s": (math.inf, {}),
                 "uniform 2.5 s": (2.5, {}),
                 "per group: history 60 s, persona_tail inf s; others kept": (math.inf, {"history": 60.0,
                                                                                        "persona_tail": math.inf}),
                 "per group: h 0 s; others kept": (math.inf, {"h": 0.0})}
    assert all(type(v[0]) is float for v in s.values())
    assert all(type(t) is float for _, g in s.values() for t in g.values())
    assert ttl_settings([30], []) == {"no TTL": (math.inf, {}), "uniform 30 s": (30.0, {})}
    e = pytest.raises(ParameterError, ttl_settings, np.array([]), []).value
    assert (e.name, e.value, e.allowed) == ("uniform_ttls_s", [], "a non-empty list of TTLs >= 0 s")
    for bad in (-1, math.nan, -math.inf):
        e = pytest.raises(ParameterError, ttl_settings, [5, bad], []).value
        assert (e.name, e.allowed) == ("uniform_ttls_s[1]", "a TTL >= 0 s") and e.value is bad
        e = pytest.raises(ParameterError, ttl_settings, [5], [{"a": 1}, {"h": 1, "p": bad}]).value
        assert (e.name, e.allowed) == ("per_group_ttls_s[1]['p']", "a TTL >= 0 s") and e.value is bad
    for bad in ({}, [("h", 1)], None):
        e = pytest.raises(ParameterError, ttl_settings, [5], [{"a": 1}, bad]).value
        assert (e.name, e.value, e.allowed) == ("per_group_ttls_s[1]", bad, "a non-empty {group: TTL s} mapping")


def test_lru_curves_one_index_for_all_traces():
    from model.tiering.sweeps import lru_curves

    other = parse_mooncake_lines([json.dumps({"timestamp": 0, "input_length": 512, "output_length": 1,
                                              "hash_ids": [9]})], name="o")
    c = lru_curves([TRACE, other], block_gb=2.0, points_per_curve=2)
    # TRACE: 3 distinct blocks -> capacities 1 and 3; other: 1 distinct block -> 1 and 2
    assert list(c["trace"]) == ["t", "t", "o", "o"] and list(c["capacity_blocks"]) == [1, 3, 1, 2]
    assert list(c.index) == [0, 1, 2, 3]
    assert_allclose(c["capacity_gb"], [2.0, 6.0, 2.0, 4.0], rtol=0)
    assert_allclose(c["hit_ratio"], [0.0, 0.4, 0.0, 0.0], rtol=0, atol=0)


def test_capacity_reaching_and_shortest_ttl_with_other_labels():
    curve = pd.DataFrame({"capacity_gb": [100.0, 1.0, 10.0], "hit_ratio": [0.35, 0.1, 0.3]})
    assert capacity_reaching(curve, 0.3) == 10.0 and capacity_reaching(curve, 1e-9) == 1.0
    assert capacity_reaching(curve, -0.5) == 0.0
    t = pd.DataFrame({"setting": ["keep 30 s", "keep 90 s", "uniform 5 s"], "hit_ratio": [0.4, 0.5, 0.5]})
    assert shortest_ttl_within(t, 0.5, tolerance=0.1, uniform_prefix="keep") == 30.0
    assert shortest_ttl_within(t, 0.5, tolerance=0.0, uniform_prefix="keep") == 90.0
    assert shortest_ttl_within(t, 0.5, tolerance=0.0) == 5.0
