"""model.tiering.streamed_fleet: the streamed chat fleet against the in-memory fleet replay on the same stream (hit
ratios exact), split over workers or on a Dask LocalCluster with identical results, and the sampled estimate's
interval."""
import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.tiering import ROUTES, default_config, simulate_fleet
from model.tiering.streamed_fleet import TTFT_BINS_S, hist_percentile, ratio_interval, simulate_chat_fleet, simulate_chat_fleets
from model.workload import CharacterChatParams, concat_traces
from model.workload.chat import iter_character_chat_windows

P = CharacterChatParams(concurrent_sessions=120)


@pytest.fixture(scope="module")
def config():
    return default_config(n_instances=1).with_capacities(hbm=200, dram=1000, ssd=3000)


@pytest.fixture(scope="module")
def stream():
    return concat_traces(list(iter_character_chat_windows(P, seed=4)))


@pytest.mark.parametrize("route", ROUTES)
def test_streamed_fleet_hits_equal_the_in_memory_fleet(config, stream, route):
    a = simulate_chat_fleet(P, config, 3, route, seed=4)
    b = simulate_fleet(stream, config, 3, route)
    s = a.summary()
    assert s["requests"] == stream.n_requests
    assert s["hit_ratio"] == pytest.approx(b.summary()["hit_ratio"], rel=1e-12)
    if route != "global":
        for row, node in zip(a.nodes, b.nodes):
            assert row["hits"] == node.hits_by_tier.sum() and row["lookups"] == node.lookups
            assert row["recomputed_tokens"] == node.recomputed_tokens
    # the streamed TTFT (histogram, chunked queue) stays close to the exact one of the in-memory fleet
    assert s["ttft_p95_s"] == pytest.approx(b.summary()["ttft_p95_s"], rel=0.05)


@pytest.mark.slow
def test_workers_and_dask_give_identical_results(config):
    one = simulate_chat_fleet(P, config, 4, "session", seed=4, workers=1).summary()
    two = simulate_chat_fleet(P, config, 4, "session", seed=4, workers=2).summary()
    assert one == two
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        dask = simulate_chat_fleet(P, config, 4, "session", seed=4, workers=2,
                                   scheduler=cl.scheduler_address).summary()
    assert dask == one


def test_sampled_nodes_interval_covers_the_full_fleet(config):
    full = simulate_chat_fleet(P, config, 12, "session", seed=4)
    sampled = simulate_chat_fleet(P, config, 12, "session", seed=4, sample_nodes=4).summary()
    assert sampled["simulated_nodes"] == 4
    assert sampled["hit_ratio_low"] <= full.summary()["hit_ratio"] <= sampled["hit_ratio_high"]


def test_ratio_interval_and_histogram_percentile():
    rng = np.random.default_rng(0)
    lookups = rng.integers(900, 1100, 50).astype(float)
    hits = rng.binomial(lookups.astype(int), 0.4).astype(float)
    est, lo, hi = ratio_interval(hits, lookups, 50)
    assert est == lo == hi == hits.sum() / lookups.sum()          # the whole population: no uncertainty
    est, lo, hi = ratio_interval(hits[:10], lookups[:10], 1000)
    assert lo < est < hi and hi - lo < 0.05
    x = rng.exponential(2.0, 100_000)
    hist = np.bincount(np.searchsorted(TTFT_BINS_S, x), minlength=len(TTFT_BINS_S) + 1)
    assert_allclose(hist_percentile(hist, 95), np.percentile(x, 95), rtol=0.011)


def test_windowed_generator_follows_the_workload_laws():
    p = CharacterChatParams(concurrent_sessions=400, mean_turns=20, session_minutes=10)
    chunks = list(iter_character_chat_windows(p, seed=1))
    t = concat_traces(chunks)
    assert all(np.all(np.diff(c.arrival_s) >= 0) for c in chunks)
    assert all(a.arrival_s[-1] <= b.arrival_s[0] for a, b in zip(chunks, chunks[1:]))
    sessions = np.unique(t.session)
    # Little's law: sessions started in the window = rate x duration (Poisson: within 4 standard deviations)
    expected = p.session_rate_per_s * p.duration_s
    assert abs(len(sessions) - expected) < 4 * np.sqrt(expected)
    assert np.mean(np.bincount(t.session)[sessions]) == pytest.approx(p.mean_turns, rel=0.1)
    gaps = np.concatenate([np.diff(t.arrival_s[t.session == s]) for s in sessions[:200]])
    assert np.mean(gaps) == pytest.approx(p.think_time_s, rel=0.1)


def test_global_pools_equal_separate_pools_of_their_sessions(config, stream):
    """A global fleet of 4 nodes in 2 pools of 2: each pool is one replay, with 2 x each tier, of the sessions
    whose id is its index mod 2; the fleet's hits are the two replays' hits added."""
    from model.tiering import replay
    from model.workload.trace import _take

    res = simulate_chat_fleet(P, config, 4, "global", seed=4, pool_nodes=2)
    pooled = config.with_capacities(**{t.name: 2 * t.capacity_blocks for t in config.tiers})
    hits = lookups = 0
    for p in range(2):
        part = _take(stream, np.flatnonzero(stream.session % 2 == p))
        r = replay(part, pooled)
        hits += int((r.served_tier >= 0).sum())
        lookups += part.n_blocks
    s = res.summary()
    assert s["requests"] == stream.n_requests and s["pools"] == 2
    assert_allclose(s["hit_ratio"], hits / lookups, rtol=1e-12)
    # one pool sampled of two: its own ratio, with an interval
    one = simulate_chat_fleet(P, config, 4, "global", seed=4, pool_nodes=2, sample_nodes=1).summary()
    part = _take(stream, np.flatnonzero(stream.session % 2 == 0))
    assert_allclose(one["hit_ratio"], replay(part, pooled).hit_ratio(), rtol=1e-12)


def test_pool_nodes_must_divide_the_fleet(config):
    with pytest.raises(ValueError, match="pool_nodes"):
        simulate_chat_fleet(P, config, 4, "global", pool_nodes=3)


def test_one_pass_serves_every_route_and_keeps_the_nodes_requests(config, stream):
    from model.tiering.fleet import block_owner
    from model.workload.trace import _take

    many = simulate_chat_fleets(P, config, 3, ["session", "prefix", "global"], seed=4, keep_units=2,
                                prefix_blocks=3)
    for r in ("session", "global"):
        assert many[r].summary() == simulate_chat_fleet(P, config, 3, r, seed=4).summary()
    # session routing: node k holds the sessions with id mod 3 == k, in arrival order
    assert sorted(many["session"].traces) == [0, 1]
    kept = many["session"].traces[1]
    want = _take(stream, np.flatnonzero(stream.session % 3 == 1))
    np.testing.assert_array_equal(kept.block_ids, want.block_ids)
    np.testing.assert_array_equal(kept.arrival_s, want.arrival_s)
    # prefix routing on the third block: the owner of that block's id (or of the last block if shorter)
    third = np.minimum(stream.block_offsets[:-1] + 2, stream.block_offsets[1:] - 1)
    node = block_owner(stream.block_ids[third], 3)
    for k in range(3):
        assert many["prefix"].nodes[k]["requests"] == int(np.sum(node == k))


def test_prefill_seconds_saved_against_the_engine(config, stream):
    """Seconds saved per request = mean over requests of prefill(all tokens) − prefill(missed after cached),
    each from the engine's own prefill time; GPUs saved = that × sessions ÷ think time × GPUs per instance."""
    from model.tiering import simulate_fleet
    from model.tiering.streamed_fleet import prefill_gpus_saved

    res = simulate_chat_fleet(P, config, 3, "session", seed=4)
    s = res.summary()
    ref = simulate_fleet(stream, config, 3, "session")
    eng = config.engine
    full = eng.prefill_time_s(stream.input_tokens, np.zeros(stream.n_requests)).sum()
    busy = sum(n.prefill_busy_s for n in ref.nodes)
    assert_allclose(s["prefill_saved_s_per_request"], (full - busy) / stream.n_requests, rtol=1e-9)
    assert s["prefill_saved_s_per_request"] > 0
    assert_allclose(s["prefill_s_per_request"], busy / stream.n_requests, rtol=1e-9)
    assert_allclose(s["input_tokens_per_request"], stream.input_tokens.mean(), rtol=1e-12)
    assert_allclose(s["recomputed_tokens_per_request"],
                    sum(n.recomputed_tokens for n in ref.nodes) / stream.n_requests, rtol=1e-12)
    from model.tiering.streamed_fleet import prefill_gpus
    assert_allclose(prefill_gpus(s, P, config) / prefill_gpus_saved(s, P, config), busy / (full - busy), rtol=1e-9)
    gpus = prefill_gpus_saved(s, P, config)
    assert_allclose(gpus, s["prefill_saved_s_per_request"] * P.concurrent_sessions / P.think_time_s
                    * eng.gpus_per_instance, rtol=1e-12)


def test_request_imbalance_counts_every_node_even_when_sampled(config, stream):
    from model.tiering.fleet import block_owner

    first = block_owner(stream.block_ids[stream.block_offsets[:-1]], 6)
    per_node = np.bincount(first, minlength=6)
    s = simulate_chat_fleet(P, config, 6, "prefix", seed=4, sample_nodes=2).summary()
    assert s["simulated_nodes"] == 2
    assert_allclose(s["request_imbalance"], per_node.max() / per_node.mean(), rtol=1e-12)
    per_session = np.bincount(stream.session % 6, minlength=6)
    s = simulate_chat_fleet(P, config, 6, "session", seed=4, sample_nodes=2).summary()
    assert_allclose(s["request_imbalance"], per_session.max() / per_session.mean(), rtol=1e-12)


def test_t_quantile_against_the_published_table():
    """Student's t, 97.5% quantile (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2): df 1 12.706, 2 4.303,
    3 3.182, 5 2.571, 7 2.365, 10 2.228, 30 2.042; the normal 1.960 as df grows."""
    from model.tiering.streamed_fleet import t_quantile_975

    assert_allclose(t_quantile_975(3), 3.182, atol=0.004)
    for df, want in ((1, 12.706), (2, 4.303), (4, 2.776), (5, 2.571), (7, 2.365), (10, 2.228), (30, 2.042)):
        assert_allclose(t_quantile_975(df), want, atol=0.001)
    assert_allclose(t_quantile_975(10_000), 1.960, atol=0.001)


def test_ratio_interval_covers_about_95_percent_of_random_samples():
    """Random samples of 8 of 100 nodes whose hit ratios vary as the chat fleet's do (sd 0.034 about 0.50,
    lookups ±13%): the t interval holds the population ratio in 95% ± 2.5% of 4,000 samples."""
    rng = np.random.default_rng(7)
    lookups = rng.normal(330_000, 42_000, 100)
    hits = lookups * rng.normal(0.50, 0.034, 100)
    truth = hits.sum() / lookups.sum()
    cover = 0
    for _ in range(4000):
        c = rng.choice(100, 8, replace=False)
        _, lo, hi = ratio_interval(hits[c], lookups[c], 100)
        cover += lo <= truth <= hi
    assert abs(cover / 4000 - 0.95) < 0.025


def test_kept_requests_stop_at_the_cap(config, stream, monkeypatch):
    """Prefix routing on the shared first block sends every request to one node: its kept requests stop at
    the cap, whole requests in arrival order, and the unit is reported as cut."""
    import model.tiering.streamed_fleet as scale

    real = scale.default
    monkeypatch.setattr(scale, "default", lambda name: 5000 if name == "fleet_keep_max_lookups" else real(name))
    res = simulate_chat_fleet(P, config, 3, "prefix", seed=4, keep_units=3)
    (unit, kept), = [(u, t) for u, t in res.traces.items() if t.n_requests]
    assert res.traces_truncated == frozenset({unit})
    assert kept.n_blocks <= 5000 < kept.n_blocks + int(np.diff(stream.block_offsets)[kept.n_requests])
    np.testing.assert_array_equal(kept.block_ids, stream.block_ids[:kept.n_blocks])


@pytest.mark.parametrize("route", ROUTES)
def test_both_fleets_report_one_schema_with_one_meaning(config, stream, route):
    """The streamed and the replayed fleet name their fleet-wide figures alike (fleet_summary_keys) and, on the
    same stream, agree exactly on the counts, the GPUs and the hit ratios overall and by tier."""
    from model.tiering.fleet import FLEET_NODE_COLUMNS, fleet_gpus, fleet_summary_keys

    a = simulate_chat_fleet(P, config, 3, route, seed=4)
    b = simulate_fleet(stream, config, 3, route)
    sa, sb = a.summary(), b.summary()
    keys = fleet_summary_keys(config.tier_names)
    assert set(keys) <= set(sa) and set(keys) <= set(sb)
    assert "hit_ratio_by_tier" not in sb and "blocks" not in sb      # one flat schema, no second spelling
    assert sa["gpus"] == sb["gpus"] == 3 * config.engine.n_instances * config.engine.gpus_per_instance
    assert fleet_gpus(3, config) == sa["gpus"]
    for k in ("route", "nodes", "requests", "lookups"):
        assert sa[k] == sb[k], k
    for k in ("hit_ratio",) + tuple(f"hit_ratio_{t}" for t in config.tier_names):
        assert sa[k] == pytest.approx(sb[k], rel=1e-12, abs=1e-15), k
    assert sum(sb[f"hit_ratio_{t}"] for t in config.tier_names) == pytest.approx(sb["hit_ratio"], rel=1e-12)
    if route != "global":
        assert sa["request_imbalance"] == pytest.approx(sb["request_imbalance"], rel=1e-12)
    assert set(FLEET_NODE_COLUMNS) <= set(a.node_table().columns)
    assert set(FLEET_NODE_COLUMNS) <= set(b.node_table().columns)


@pytest.mark.parametrize("name, value", [("routes", []), ("routes", ["random"]), ("hit_share_target", 0.0),
                                         ("hit_share_target", 1.5), ("l8_history_tokens", 1),
                                         ("l8_history_tokens", 10_000_000), ("l8_memory_tokens", -1)])
def test_check_chat_fleet_names_the_bad_parameter(name, value):
    """Each value the fleet-cache chapter's runs cannot take is refused up front under the chapter's name (an
    empty route list failed on max() of nothing, a zero hit share and a one-token history window were refused
    deep inside under internal names)."""
    from model.checks import ParameterError
    from model.tiering.chat_fleet import check_chat_fleet

    good = dict(sessions_scales=[200], full_scales=[200], sessions_per_node=100, sample_nodes=8, pool_nodes=10,
                prefix_blocks=3, hit_share_target=0.9, routes=list(ROUTES), l8_history_tokens=1000,
                l8_memory_tokens=1000)
    check_chat_fleet(**good)
    with pytest.raises(ParameterError) as e:
        check_chat_fleet(**{**good, name: value})
    assert e.value.name == name
