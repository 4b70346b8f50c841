import json
import math
from collections import OrderedDict

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.batching import deployment
from model.tiering import (INFINITE_DISTANCE, PrefillEngine, Tier, TierConfig, default_config, ideal_hit_ratio,
                           lru_hit_ratio_curve, main, replay, replay_from_stack, simulate, stack_distances,
                           storage_cost_per_hour, throughput_at_slo, time_requests)
from model.validation import ParameterError
from model.workload import (CharacterChatParams, Trace, character_chat_trace, load_mooncake_trace,
                            parse_mooncake_lines)


@pytest.fixture(scope="module")
def mooncake():
    return load_mooncake_trace()


@pytest.fixture(scope="module")
def engine():
    return PrefillEngine.from_names()


def one_tier(engine, capacity, **kw):
    return TierConfig(tiers=(Tier("hbm", capacity, 2e12, 2e12, 0.0),), engine=engine, **kw)


def random_trace(seed: int, n_requests: int = 300, n_ids: int = 60) -> Trace:
    """Requests whose prompts share prefixes: each picks a random family and extends it by a few blocks."""
    rng = np.random.default_rng(seed)
    lines, t = [], 0
    for _ in range(n_requests):
        t += int(rng.integers(0, 3000))
        fam = int(rng.integers(0, 8))
        n = int(rng.integers(1, 7))
        ids = [fam * 1000 + int(x) for x in np.sort(rng.choice(n_ids, size=n, replace=False))]
        ids[0] = fam * 1000  # family root first
        ids = list(dict.fromkeys(ids))
        lines.append(json.dumps({"timestamp": t, "input_length": 512 * len(ids) - int(rng.integers(0, 500)),
                                 "output_length": 10, "hash_ids": ids}))
    return parse_mooncake_lines(lines, source="random")


# --- independent references ---------------------------------------------------------------------------------
def reference_lru(trace: Trace, capacity: int) -> tuple[int, int]:
    """Plain LRU over blocks with prefix semantics: look the blocks up in order (stop at the first miss), then
    make all of them most recently used in order. Returns (hit blocks, looked-up blocks)."""
    cache, hits = OrderedDict(), 0
    for i in range(trace.n_requests):
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in cache:
                break
            hits += 1
        for b in blocks:
            cache.pop(b, None)
            cache[b] = True
            while len(cache) > capacity:
                cache.popitem(last=False)
    return hits, trace.n_blocks


def reference_ideal(trace: Trace) -> float:
    seen, hits = set(), 0
    for i in range(trace.n_requests):
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in seen:
                break
            hits += 1
        seen.update(blocks)
    return hits / trace.n_blocks


def reference_ttl(trace: Trace, ttl: float) -> float:
    """Infinite cache with a TTL: a block is alive at time t iff it was accessed within (t - ttl, t]."""
    last, hits = {}, 0
    for i in range(trace.n_requests):
        t = trace.arrival_s[i]
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in last or t - last[b] >= ttl:
                break
            hits += 1
        for b in blocks:
            last[b] = t
    return hits / trace.n_blocks


def brute_stack_distances(seq):
    out = []
    for t, b in enumerate(seq):
        prev = max((q for q in range(t) if seq[q] == b), default=None)
        out.append(INFINITE_DISTANCE if prev is None else len(set(seq[prev + 1:t])))
    return np.array(out)


# --- the cache ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("capacity", [1, 5, 17, 60])
def test_single_tier_equals_reference_lru(seed, capacity, engine):
    t = random_trace(seed)
    hits, n = reference_lru(t, capacity)
    assert_allclose(replay(t, one_tier(engine, capacity)).hit_ratio(), hits / n, rtol=0, atol=1e-12)
    assert_allclose(lru_hit_ratio_curve(t, [capacity])["hit_ratio"][0], hits / n, rtol=0, atol=1e-12)


def test_mooncake_reference_lru_and_ideal(mooncake, engine):
    head = mooncake.head(3000)
    for cap in (500, 5000):
        hits, n = reference_lru(head, cap)
        assert replay(head, one_tier(engine, cap)).hit_ratio() == hits / n
    ideal = reference_ideal(mooncake)
    assert_allclose(ideal_hit_ratio(mooncake), ideal, rtol=0, atol=1e-12)
    assert_allclose(replay(mooncake, one_tier(engine, math.inf)).hit_ratio(), ideal, rtol=0, atol=1e-12)
    # the released trace's ideal block hit ratio (computed here): 36.6%, below the paper's ~40% cache ratio
    assert_allclose(ideal, 0.3664, atol=5e-4)


def test_stack_distances_brute_force():
    rng = np.random.default_rng(5)
    seq = rng.integers(0, 12, size=300).tolist()
    t = parse_mooncake_lines([json.dumps({"timestamp": i, "input_length": 1, "output_length": 1, "hash_ids": [b]})
                              for i, b in enumerate(seq)])
    assert_array_equal(stack_distances(t), brute_stack_distances(seq))
    assert_array_equal(stack_distances(t, at="access"), brute_stack_distances(seq))


def test_hit_ratio_monotone_in_capacity(mooncake):
    curve = lru_hit_ratio_curve(mooncake, np.unique(np.geomspace(1, 300_000, 60).astype(int)))
    assert np.all(np.diff(curve["hit_ratio"]) >= 0) and np.all(np.diff(curve["token_hit_ratio"]) >= 0)
    assert_allclose(curve["hit_ratio"].iloc[-1], ideal_hit_ratio(mooncake))


def test_multi_tier_equals_stack_slices(mooncake, engine):
    tiers = (Tier("hbm", 700, 2e12, 2e12, 0.0), Tier("dram", 4000, 3e10, 3e10, 3.0), Tier("ssd", 20000, 7e9, 7e9, 0.08))
    cfg = TierConfig(tiers=tiers, engine=engine)
    a, b = replay(mooncake, cfg), replay_from_stack(mooncake, cfg)
    assert_array_equal(a.served_tier, b.served_tier)
    assert_allclose(a.occupied_block_seconds, b.occupied_block_seconds, rtol=1e-9)
    # total hit ratio of the hierarchy = single LRU of the summed capacity
    assert a.hit_ratio() == replay(mooncake, one_tier(engine, 24_700)).hit_ratio()
    assert np.all(a.hit_ratio_by_tier() > 0)


def test_conservation_of_tokens(engine):
    t = character_chat_trace(CharacterChatParams(n_characters=500, popular_characters=50, concurrent_sessions=20, mean_turns=10,
                                                 session_minutes=2, duration_s=200), seed=2)
    tiers = (Tier("hbm", 30, 2e12, 2e12, 0.0), Tier("dram", 100, 3e10, 3e10, 3.0))
    rep = replay(t, TierConfig(tiers=tiers, engine=engine, default_ttl_s=60.0))
    assert_array_equal(rep.tokens_by_tier.sum(axis=1) + rep.recomputed_tokens, t.input_tokens)
    assert rep.recomputed_tokens.min() >= 0


def test_ttl(engine):
    t = random_trace(3, n_requests=500)
    assert replay(t, one_tier(engine, math.inf, default_ttl_s=0.0)).hit_ratio() == 0.0
    assert replay(t, one_tier(engine, math.inf, default_ttl_s=math.inf)).hit_ratio() == reference_ideal(t)
    ratios = []
    for ttl in (0.5, 1.0, 3.0, 10.0, 100.0):
        r = replay(t, one_tier(engine, math.inf, default_ttl_s=ttl)).hit_ratio()
        assert_allclose(r, reference_ttl(t, ttl), rtol=0, atol=1e-12)
        ratios.append(r)
    assert np.all(np.diff(ratios) >= 0)


def test_ttl_per_group(engine):
    t = random_trace(4, n_requests=400)
    half = t.with_groups((t.block_ids // 1000 % 2).astype(np.int32), ("even", "odd"))
    cfg = one_tier(engine, math.inf).with_ttl(by_group={"even": 0.0})
    rep = replay(half, cfg)
    served_even = rep.served_tier[half.block_group == 0]
    assert np.all(served_even == -1)
    odd_only = replay(half, one_tier(engine, math.inf)).served_tier[half.block_group == 1]
    assert_array_equal(rep.served_tier[half.block_group == 1], odd_only)


def test_fifo_differs_from_lru_and_never_beats_ideal(mooncake, engine):
    lru = replay(mooncake, one_tier(engine, 3000)).hit_ratio()
    fifo = replay(mooncake, one_tier(engine, 3000, eviction="fifo")).hit_ratio()
    assert fifo != lru and fifo <= ideal_hit_ratio(mooncake)


# --- timing and cost ----------------------------------------------------------------------------------------
def test_prefill_time_is_batching_step_time(engine):
    dep = deployment()
    n, p = np.array([1, 100, 2048, 12000]), np.array([0, 512, 4096, 0])
    assert_allclose(engine.prefill_time_s(n, p), dep.prefill_time(n, p), rtol=1e-12)


def test_recursion_equals_simpy(mooncake):
    cfg = default_config(n_instances=3)
    head = mooncake.head(1500)
    rep = replay(head, cfg)
    a = time_requests(head, rep, cfg)
    b = time_requests(head, rep, cfg, timing="simpy")
    assert_allclose(a.done_s, b.done_s, rtol=1e-9, atol=1e-9)
    assert np.all(a.ttft_s >= a.prefill_s - 1e-12)


def test_single_server_queue_by_hand(engine):
    # three requests at t=0 with no reuse on one instance: TTFTs are cumulative sums of the prefill times
    lines = [json.dumps({"timestamp": 0, "input_length": 1000, "output_length": 1, "hash_ids": [i, 100 + i]})
             for i in range(3)]
    t = parse_mooncake_lines(lines)
    res = simulate(t, one_tier(engine, 10))
    one = engine.prefill_time_s(1000, 0)
    assert_allclose(np.sort(res.timing.ttft_s), [one, 2 * one, 3 * one])
    assert res.hit_ratio == 0 and res.recomputed_tokens == 3000


def test_storage_cost_by_hand(engine):
    tiers = (Tier("hbm", 10, 2e12, 2e12, 0.0), Tier("dram", 1000, 3e10, 3e10, 3.0))
    cfg = TierConfig(tiers=tiers, engine=engine)
    cost = storage_cost_per_hour(cfg)
    gb = 1000 * 512 * engine.kv_bytes_per_token / 1e9
    assert_allclose(cost["dram"], gb * 3.0 / 730)
    assert cost["hbm"] == 0.0


def test_throughput_at_slo_brackets_the_target(mooncake):
    cfg = default_config(n_instances=8)
    head = mooncake.head(4000)
    res = throughput_at_slo(head, cfg, 15.0)
    assert res.requests_per_s > 0 and res.result.ttft_p95_s <= 15.0
    faster = simulate(head.time_scaled(res.time_scale / 1.05), cfg)
    assert faster.ttft_p95_s > 15.0
    assert throughput_at_slo(head, cfg, 0.01).requests_per_s == 0.0


def test_bad_configurations(engine, mooncake):
    with pytest.raises(ParameterError, match="capacity_blocks"):
        Tier("x", -1, 1.0, 1.0, 0.0)
    with pytest.raises(ParameterError, match="default_ttl_s"):
        one_tier(engine, 1, default_ttl_s=-1)
    with pytest.raises(ParameterError, match="block_tokens"):
        replay(mooncake, one_tier(engine, 1, block_tokens=16))
    with pytest.raises(ParameterError, match="eviction"):
        one_tier(engine, 1, eviction="lfu")


# --- command line -------------------------------------------------------------------------------------------
def test_cli_replay_json(tmp_path, capsys):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({"timestamp": int(round(t.arrival_s[i] * 1000)),
                                        "input_length": int(t.input_tokens[i]), "output_length": 10,
                                        "hash_ids": t.blocks_of(i).tolist()}) + "\n" for i in range(t.n_requests)))
    assert main(["replay", str(path), "--capacity-blocks", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    hits, n = reference_lru(t, 20)
    assert out["requests"] == t.n_requests and out["blocks"] == n
    assert out["hit_ratio"] == hits / n and out["hit_ratio_by_tier"]["hbm"] == hits / n
    assert main(["replay", str(path), "--tiers", "hbm=5,dram=15", "--json"]) == 0
    out2 = json.loads(capsys.readouterr().out)
    assert_allclose(out2["hit_ratio"], hits / n)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--ttl", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hit_ratio"] == 0.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [1]}\n')
    assert main(["replay", str(bad), "--capacity-blocks", "2"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
