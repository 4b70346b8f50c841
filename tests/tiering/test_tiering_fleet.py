"""model.tiering.fleet: routing, per-node replays against independent single-cache replays, the global pool
against one replay of the summed capacity, and the command line with --nodes 1 equal to the single-cache
replay."""
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.tiering import Tier, TierConfig, main, replay, simulate
from model.tiering.fleet import ROUTES, block_owner, route_requests, shard, simulate_fleet
from model.checks import ParameterError
from model.workload import CharacterChatParams, character_chat_trace
from tiering_refs import random_trace, reference_lru, write_jsonl


@pytest.fixture(scope="module")
def chat():
    return character_chat_trace(CharacterChatParams(concurrent_sessions=60), seed=5, max_sessions=60)


def _three_tier(engine, hbm=40, dram=200, ssd=600):
    return TierConfig(tiers=(Tier("hbm", hbm, 2e12, 2e12, 0.0), Tier("dram", dram, 3e10, 3e10, 3.0),
                             Tier("ssd", ssd, 7e9, 7e9, 0.1)), engine=engine)


def test_routes_place_requests_as_documented(chat):
    n = 4
    assert_allclose(route_requests(chat, n, "round-robin"), np.arange(chat.n_requests) % n)
    assert_allclose(route_requests(chat, n, "session"), chat.session % n)
    assert_allclose(route_requests(chat, n, "prefix"), block_owner(chat.block_ids[chat.block_offsets[:-1]], n))
    first = chat.block_ids[chat.block_offsets[:-1]]
    prefix = route_requests(chat, n, "prefix")
    assert all(len(set(prefix[first == f])) == 1 for f in np.unique(first))     # one first block, one node
    owner = block_owner(np.arange(10000), 8)
    assert set(np.unique(owner)) == set(range(8))
    assert np.bincount(owner).min() > 1100           # spread evenly (1250 each on average)


def test_bad_route_and_nodes_name_the_parameter(chat, engine):
    with pytest.raises(ParameterError, match="route"):
        route_requests(chat, 2, "random")
    with pytest.raises(ParameterError, match="nodes"):
        simulate_fleet(chat, _three_tier(engine), 0, "prefix")
    with pytest.raises(ParameterError, match="session ids"):
        route_requests(random_trace(1), 2, "session")


@pytest.mark.parametrize("route", ROUTES)
def test_one_node_is_the_single_cache_simulation(chat, engine, route):
    cfg = _three_tier(engine).with_ttl(default_ttl_s=300.0)
    single = simulate(chat, cfg)
    fleet = simulate_fleet(chat, cfg, 1, route).summary()
    assert fleet["hit_ratio"] == single.hit_ratio
    assert {t: fleet[f"hit_ratio_{t}"] for t in cfg.tier_names} == single.hit_ratio_by_tier
    assert {t: fleet[f"prefill_tokens_saved_{t}"] for t in cfg.tier_names} == single.tokens_by_tier
    assert fleet["ttft_p95_s"] == single.ttft_p95_s and fleet["ttft_p50_s"] == single.ttft_p50_s
    assert fleet["cost_usd_per_hour"] == single.cost_usd_per_hour
    assert fleet["usd_per_million_tokens"] == single.usd_per_million_tokens
    assert fleet["remote_tokens"] == 0 and fleet["load_imbalance"] == 1.0


@pytest.mark.parametrize("route", ["round-robin", "session", "prefix"])
def test_local_nodes_are_independent_single_cache_replays(chat, engine, route):
    cfg = _three_tier(engine)
    fleet = simulate_fleet(chat, cfg, 3, route)
    parts = shard(chat, 3, route)
    assert sum(p.n_requests for p in parts) == chat.n_requests
    hits = lookups = 0
    for part, node in zip(parts, fleet.nodes):
        assert node.requests == part.n_requests
        if part.n_requests == 0:
            continue
        rep = replay(part, cfg)
        assert node.requests == part.n_requests and node.lookups == part.n_blocks
        assert node.hits_by_tier.sum() == (rep.served_tier >= 0).sum()
        hits += (rep.served_tier >= 0).sum()
        lookups += part.n_blocks
    s = fleet.summary()
    assert s["hit_ratio"] == hits / lookups
    assert s["prefill_tokens_saved"] + s["recomputed_tokens"] == s["input_tokens"] == chat.input_tokens.sum()
    busy = np.array([r.prefill_busy_s for r in fleet.nodes])
    assert_allclose(s["load_imbalance"], busy.max() / busy.mean(), rtol=1e-12)


def test_one_tier_round_robin_node_equals_reference_lru(engine):
    t = random_trace(4, n_requests=400)
    cfg = TierConfig(tiers=(Tier("hbm", 15, 2e12, 2e12, 0.0),), engine=engine)
    fleet = simulate_fleet(t, cfg, 2, "round-robin")
    for part, node in zip(shard(t, 2, "round-robin"), fleet.nodes):
        hits, n = reference_lru(part, 15)
        assert node.hits_by_tier[0] == hits and node.lookups == n


def test_global_pool_is_one_replay_of_the_summed_capacity(chat, engine):
    cfg = _three_tier(engine, hbm=20, dram=60, ssd=100)
    n = 4
    fleet = simulate_fleet(chat, cfg, n, "global")
    pool = replay(chat, cfg.with_capacities(hbm=20 * n, dram=60 * n, ssd=100 * n))
    s = fleet.summary()
    assert s["hit_ratio"] == pool.hit_ratio()
    assert_allclose([s[f"hit_ratio_{t}"] for t in cfg.tier_names], pool.hit_ratio_by_tier(), rtol=0, atol=1e-15)
    # blocks spread over 4 owners: about 3/4 of the hit tokens come from another node's memory
    assert 0.6 < s["remote_tokens"] / s["prefill_tokens_saved"] < 0.9
    # a pool of N × C never hits less than N separate caches of C under round-robin (same total capacity)
    assert s["hit_ratio"] >= simulate_fleet(chat, cfg, n, "round-robin").summary()["hit_ratio"]
    # an infinitely fast network costs nothing: TTFT is no better than with the NIC
    from model.tiering.fleet import simulate_global
    fast = simulate_global(chat, cfg, n, nic_bytes_per_s=math.inf)
    assert max(np.percentile(r.ttft_s, 95) for r in fast) <= max(np.percentile(r.ttft_s, 95) for r in fleet.nodes)


def test_session_affinity_beats_round_robin_on_chat(chat, engine):
    cfg = _three_tier(engine, hbm=30, dram=0, ssd=0)
    rr = simulate_fleet(chat, cfg, 4, "round-robin").summary()["hit_ratio"]
    ss = simulate_fleet(chat, cfg, 4, "session").summary()["hit_ratio"]
    assert ss > rr


@pytest.mark.parametrize("route", ROUTES)
def test_cli_one_node_equals_single_cache_replay(tmp_path, capsys, route):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    if route == "session":      # a Mooncake-format trace has no sessions: a clear error
        assert main(["replay", str(path), "--capacity-blocks", "20", "--nodes", "1", "--route", route]) == 2
        assert capsys.readouterr().err == ("error: --route='session' is not allowed: --route must be one of "
                                           "round-robin, prefix, global for this trace ('session' needs session_id "
                                           "on every record; this trace has none)\n")
        return
    assert main(["replay", str(path), "--tiers", "hbm=8,dram=20", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert main(["replay", str(path), "--tiers", "hbm=8,dram=20", "--nodes", "1", "--route", route, "--json"]) == 0
    fleet = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in fleet.items() if k != "fleet"} == single
    assert fleet["fleet"]["nodes"] == 1 and len(fleet["fleet"]["per_node"]) == 1


def test_cli_fleet_and_bad_flags(tmp_path, capsys):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    assert main(["replay", str(path), "--capacity-blocks", "10", "--nodes", "3", "--route", "global", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fleet"]["route"] == "global" and out["fleet"]["nodes"] == 3
    hits, n = reference_lru(t, 30)                    # the pool: 3 x 10 blocks of one tier
    assert out["hit_ratio"] == hits / n
    assert main(["replay", str(path), "--capacity-blocks", "10", "--nodes", "0"]) == 2
    assert "--nodes" in capsys.readouterr().err
    assert main(["replay", str(path), "--capacity-blocks", "10", "--route", "nearest"]) == 2
    assert "--route" in capsys.readouterr().err
