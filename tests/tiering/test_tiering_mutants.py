"""model.tiering's core (engine, timing, cost, replay, stack distances) against the bugs a reader would be
hurt by: the clamp to one computed token removed, n²/2 attention pairs instead of n(n+1)/2, $ per million
tokens from tokens per second instead of per hour, storage priced on the wrong basis, queues served in the
wrong order. Expectations worked out by hand in the comments."""
import math
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.tiering import PrefillEngine, Tier, TierConfig, storage_cost_per_hour, usd_per_million_tokens
from model.tiering.timing import lindley_done_s, network_done_s
from model.checks import ParameterError

#: An engine with round coefficients (not a real GPU): every term of the prefill time shows.
E = dict(name="toy", s_token=1e-3, s_pair=1e-6, s_sequence=2e-3, m_fixed=0.05, m_token=1e-5, s_allreduce=1e-4,
         kv_bytes_per_token=1000.0, gpus_per_instance=2, n_instances=3, gpu_usd_per_hour=2.0,
         s_compute_fixed=0.01, overlap=0.25, s_fixed=0.003)


# --- engine ------------------------------------------------------------------------------------------------

def test_prefill_time_by_hand():
    e = PrefillEngine(**E)
    # n = 100 new after p = 50 cached: pairs = 100·50 + 100·101/2 = 10,050 (causal: token i sees p + i)
    # C = 1e-3·100 + 1e-6·10050 + 2e-3 + 0.01 = 0.12205; M = 0.05 + 1e-5·150 = 0.0515 (compute-bound)
    # t = 0.12205 + 0.25·0.0515 + 0.003 + 1e-4·100 = 0.147925
    assert_allclose(e.prefill_time_s(100, 50), 0.147925, rtol=1e-12)
    # brute force of the pairs: sum over i = 1..n of (p + i)
    pairs = sum(50 + i for i in range(1, 101))
    assert pairs == 10050
    # a fully cached prompt still computes one token: n = 1 after p = 50
    # C = 1e-3 + 1e-6·51 + 2e-3 + 0.01 = 0.013051; M = 0.05 + 1e-5·51 = 0.05051 (memory-bound)
    # t = 0.05051 + 0.25·0.013051 + 0.003 + 1e-4 = 0.05687275
    assert_allclose(e.prefill_time_s(0, 50), 0.05687275, rtol=1e-12)
    assert_allclose(e.prefill_time_s(np.array([0, 0.5, 100]), np.array([50, 50, 50])),
                    [0.05687275, 0.05687275, 0.147925], rtol=1e-12)
    assert_allclose(e.prefill_time_s(1), e.prefill_time_s(1, 0), rtol=0)     # cached tokens default to none
    assert e.n_gpus == 6


def test_prefill_time_defaults_are_the_plain_roofline():
    e = PrefillEngine(**{k: v for k, v in E.items() if k not in ("s_compute_fixed", "overlap", "s_fixed")})
    # C = 0.1 + 0.01005 + 0.002 = 0.11205 > M = 0.0515; no overlap term, no fixed seconds; + 0.01 all-reduce
    assert_allclose(e.prefill_time_s(100, 50), 0.11205 + 0.01, rtol=1e-12)


@pytest.mark.parametrize("attr, bad", [("s_token", -1.0), ("s_pair", -1.0), ("s_sequence", -1.0),
                                       ("m_fixed", -1.0), ("m_token", -1.0), ("s_allreduce", -1.0),
                                       ("s_compute_fixed", -1.0), ("overlap", -1.0), ("s_fixed", -1.0),
                                       ("kv_bytes_per_token", 0.0), ("gpus_per_instance", 0),
                                       ("n_instances", 0), ("gpu_usd_per_hour", -1.0)])
def test_engine_checks_name_the_field(attr, bad):
    with pytest.raises(ParameterError, match=f"^{attr}="):
        PrefillEngine(**{**E, attr: bad})


def test_engine_from_names_prices_the_gpu_at_the_dated_price(engine):
    # data/prices/gpu_prices.csv: AWS p4de.24xlarge on demand, $27.44705/h for 8 GPUs = $3.4309 a GPU-hour
    assert engine.gpu_usd_per_hour == 3.4309
    assert engine.gpus_per_instance == 4 and engine.n_instances == 1     # tiering_gpus_per_instance = 4
    assert engine.name == "llama-2-70b on 4 x a100-80gb"
    cheap = PrefillEngine.from_names(n_instances=2, gpu_usd_per_hour=1.5)
    assert cheap.gpu_usd_per_hour == 1.5 and cheap.n_instances == 2 and cheap.n_gpus == 8


# --- timing ------------------------------------------------------------------------------------------------

def test_usd_per_million_tokens_per_hour():
    # $36 per hour at 10 tokens/s: 36,000 tokens an hour -> $1,000 per million
    assert_allclose(usd_per_million_tokens(36.0, 10.0), 1000.0, rtol=1e-12)
    assert usd_per_million_tokens(36.0, 0.0) == math.inf


def test_single_fifo_server_by_hand():
    # arrivals 0, 1, 10 s, service 2, 2, 1 s: done at 2, 4 (waits), 11 (idle server)
    assert_allclose(lindley_done_s(np.array([0.0, 1.0, 10.0]), np.array([2.0, 2.0, 1.0])), [2.0, 4.0, 11.0],
                    rtol=1e-12)
    # the same queue, its server busy until 3 s: done at 5, 7, 11 s
    assert_allclose(lindley_done_s(np.array([0.0, 1.0, 10.0]), np.array([2.0, 2.0, 1.0]), free=3.0),
                    [5.0, 7.0, 11.0], rtol=1e-12)


def test_two_fifo_servers_by_hand():
    # 4 jobs at 0, 0, 0, 1 s taking 3, 2, 2, 1 s on 2 servers: A 0-3, B 0-2, job 3 on B 2-4, job 4 on A 3-4
    assert_allclose(lindley_done_s(np.array([0.0, 0.0, 0.0, 1.0]), np.array([3.0, 2.0, 2.0, 1.0]), servers=2),
                    [3.0, 2.0, 4.0, 4.0], rtol=1e-12)
    # both servers busy until 1 s: A 1-4, B 1-3, job 3 on B 3-5, job 4 on A 4-5
    assert_allclose(lindley_done_s(np.array([0.0, 0.0, 0.0, 1.0]), np.array([3.0, 2.0, 2.0, 1.0]), servers=2,
                                   free=1.0), [4.0, 3.0, 5.0, 5.0], rtol=1e-12)


def test_network_of_loads_then_prefill_by_hand():
    # request 0 loads 1 s from tier 0; request 1 loads 0.5 s from tier 0 (queued behind: 1.5 s) and 2 s from
    # tier 1 (ready at 2 s); prefill 1 s each on one instance: done at 2 and 3 s
    ready, done = network_done_s(np.array([0.0, 0.0]), np.array([[1.0, 0.0], [0.5, 2.0]]), np.array([1.0, 1.0]), 1)
    assert_allclose(ready, [1.0, 2.0], rtol=1e-12)
    assert_allclose(done, [2.0, 3.0], rtol=1e-12)
    # two instances: loads on two links per tier, prefills in parallel
    ready, done = network_done_s(np.array([0.0, 0.0]), np.array([[1.0, 0.0], [0.5, 2.0]]), np.array([1.0, 1.0]), 2)
    assert_allclose(ready, [1.0, 2.0], rtol=1e-12)
    assert_allclose(done, [2.0, 3.0], rtol=1e-12)
    # prefill in order of readiness: request 1 (0.5 s from tier 0) goes before request 0 (3 s from tier 1)
    ready, done = network_done_s(np.array([0.0, 0.0]), np.array([[0.0, 3.0], [0.5, 0.0]]), np.array([1.0, 1.0]), 1)
    assert_allclose(ready, [3.0, 0.5], rtol=1e-12)
    assert_allclose(done, [4.0, 1.5], rtol=1e-12)
    # equal readiness: in request order
    ready, done = network_done_s(np.array([0.0, 0.0]), np.zeros((2, 1)), np.array([2.0, 1.0]), 1)
    assert_allclose(done, [2.0, 3.0], rtol=1e-12)


# --- cost --------------------------------------------------------------------------------------------------

def test_storage_cost_on_occupied_blocks_by_hand(engine):
    tiers = (Tier("hbm", 10, 2e12, 2e12, 0.0), Tier("dram", 1000, 3e10, 3e10, 3.0), Tier("ssd", 5000, 1e9, 1e9, 0.5))
    cfg = TierConfig(tiers=tiers, engine=engine, cost_basis="occupied")
    rep = SimpleNamespace(mean_occupied_blocks=lambda: np.array([4.0, 250.0, 1000.0]))
    cost = storage_cost_per_hour(cfg, rep)
    gb = 512 * engine.kv_bytes_per_token / 1e9             # one block of 512 tokens, GB
    assert cost["hbm"] == 0.0
    assert_allclose(cost["dram"], 250 * gb * 3.0 / 730, rtol=1e-12)
    assert_allclose(cost["ssd"], 1000 * gb * 0.5 / 730, rtol=1e-12)
    with pytest.raises(ParameterError, match="^rep=None is not allowed: rep must be a ReplayResult when "
                                             "cost_basis='occupied'$"):
        storage_cost_per_hour(cfg)
    prov = storage_cost_per_hour(TierConfig(tiers=tiers, engine=engine), rep)     # provisioned: rep ignored
    assert_allclose(prov["ssd"], 5000 * gb * 0.5 / 730, rtol=1e-12)


def test_engine_price_is_the_gpus_row_unless_given():
    from model.serving.step_time import deployment

    # H200: AWS on demand $7.912 (spot $3.3214 on the same date is not the default)
    assert PrefillEngine.from_names("llama-2-70b", "h200-141gb").gpu_usd_per_hour == 7.912
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    assert PrefillEngine.from_deployment(dep, gpu_usd_per_hour=2).gpu_usd_per_hour == 2.0
    for bad in (0, -1.0):
        with pytest.raises(ParameterError, match="^gpu_usd_per_hour="):
            PrefillEngine.from_deployment(dep, gpu_usd_per_hour=bad)


def test_engine_from_deployment_and_names_pass_their_arguments():
    from model.serving.step_time import deployment

    assert PrefillEngine(**{**E, "gpus_per_instance": 1}).n_gpus == 3
    dep = deployment("llama-2-70b", "a100-80gb", 8)
    e = PrefillEngine.from_deployment(dep, gpu_usd_per_hour=1.0)
    assert e.n_instances == 1 and e.gpus_per_instance == 8
    named = PrefillEngine.from_names(gpus_per_instance=8, gpu_usd_per_hour=1.0)
    assert named == e
    # deployment keywords reach the Deployment: at MFU 0.3 the per-token compute is 2 × body ÷ (8 × 312e12 × 0.3)
    slow = PrefillEngine.from_names(gpus_per_instance=8, gpu_usd_per_hour=1.0, mfu=0.3, low_precision_mfu=1.0)
    body = dep.arch.matmul_parameters() - 32000 * 8192
    assert_allclose(slow.s_token, 2 * body / (8 * 312e12 * 0.3), rtol=1e-12)


def test_token_price_below_one_token_per_second():
    # $36 per hour at 0.5 tokens/s: 1,800 tokens an hour -> $20,000 per million
    assert_allclose(usd_per_million_tokens(36.0, 0.5), 20000.0, rtol=1e-12)


def test_two_instances_prefill_side_by_side_and_integer_arrivals():
    # two requests at 0 s with nothing to load, 1 s of prefill each: on two instances both done at 1 s
    ready, done = network_done_s(np.array([0.0, 0.0]), np.zeros((2, 1)), np.array([1.0, 1.0]), 2)
    assert_allclose(done, [1.0, 1.0], rtol=1e-12)
    ready, done = network_done_s(np.array([0.0, 0.0]), np.zeros((2, 1)), np.array([1.0, 1.0]), 1)
    assert_allclose(done, [1.0, 2.0], rtol=1e-12)
    # integer arrival times: the ready times keep their fractions (0.5 s and 0.5 + 0.25 s of loading)
    ready, done = network_done_s(np.array([0, 0]), np.array([[0.5], [0.25]]), np.array([1.0, 1.0]), 1)
    assert_allclose(ready, [0.5, 0.75], rtol=1e-12)
    assert_allclose(done, [1.5, 2.5], rtol=1e-12)


def test_timing_fields_of_both_models(engine):
    import json

    from model.tiering import time_requests
    from model.tiering.replay import replay
    from model.workload import parse_mooncake_lines

    # request 0: blocks 1, 2 computed; request 1 (0.5 s later) reuses both and adds block 3
    lines = [json.dumps({"timestamp": 0, "input_length": 1024, "output_length": 1, "hash_ids": [1, 2]}),
             json.dumps({"timestamp": 500, "input_length": 1536, "output_length": 1, "hash_ids": [1, 2, 3]})]
    t = parse_mooncake_lines(lines)
    cfg = TierConfig(tiers=(Tier("hbm", 10, 2e12, 2e12, 0.0), Tier("dram", 10, 1e10, 1e10, 1.0)), engine=engine)
    rep = replay(t, cfg)
    load_hbm = 1024 * engine.kv_bytes_per_token / 2e12          # 2 blocks of 512 tokens from HBM
    for timing in ("recursion", "simpy"):
        tm = time_requests(t, rep, cfg, timing=timing)
        assert_allclose(tm.arrival_s, [0.0, 0.5], rtol=0, atol=0)
        assert_allclose(tm.load_s, [0.0, load_hbm], rtol=1e-12)
        assert_allclose(tm.prefill_s, [engine.prefill_time_s(1024, 0), engine.prefill_time_s(512, 1024)],
                        rtol=1e-12)
        first_done = engine.prefill_time_s(1024, 0)
        assert_allclose(tm.ready_s, [0.0, 0.5 + load_hbm], rtol=1e-12)
        assert_allclose(tm.done_s, [first_done, max(first_done, 0.5 + load_hbm) + tm.prefill_s[1]], rtol=1e-12)
    with pytest.raises(ParameterError, match="^timing="):
        time_requests(t, rep, cfg, timing="exact")


def test_storage_cost_of_a_one_dollar_tier_and_of_an_unbounded_free_tier(engine):
    tiers = (Tier("hbm", math.inf, 2e12, 2e12, 0.0), Tier("dram", 100, 3e10, 3e10, 1.0))
    cost = storage_cost_per_hour(TierConfig(tiers=tiers, engine=engine))
    assert cost["hbm"] == 0.0                              # free, however large (not inf × 0 = NaN)
    assert_allclose(cost["dram"], 100 * 512 * engine.kv_bytes_per_token / 1e9 * 1.0 / 730, rtol=1e-12)


# --- replay ------------------------------------------------------------------------------------------------

def _replay_mods():
    from model.tiering.replay import ReplayResult, dense_ids, replay, replay_reference

    return ReplayResult, dense_ids, replay, replay_reference


def test_replay_refuses_a_mismatched_or_empty_trace(engine):
    from tiering_refs import one_tier, random_trace

    _, _, replay, replay_reference = _replay_mods()
    t = random_trace(0, n_requests=5)
    for f in (replay, replay_reference):
        with pytest.raises(ParameterError, match=r"^config.block_tokens=256 is not allowed: config.block_tokens must "
                                                 r"be equal to the trace's block_tokens \(512\)$"):
            f(t, one_tier(engine, 10, block_tokens=256))
        with pytest.raises(ParameterError, match=rf"^trace='{t.name}' is not allowed: trace must be a trace with at "
                                                 r"least one request$"):
            f(t.head(0), one_tier(engine, 10))


def test_replay_result_readings_by_hand():
    ReplayResult, *_ = _replay_mods()

    def result(served, occupied, span):
        return ReplayResult(tier_names=("a", "b", "c"), served_tier=np.array(served, dtype=np.int8),
                            tokens_by_tier=np.zeros((1, 3), np.int64), recomputed_tokens=np.zeros(1, np.int64),
                            occupied_block_seconds=np.array(occupied, float), span_s=span,
                            demotions=np.zeros(3, np.int64), expirations=0)

    r = result([0, -1, 0, 1], [10.0, 4.0, 0.0], 2.0)
    assert r.hit_ratio() == 0.75
    assert_allclose(r.hit_ratio_by_tier(), [0.5, 0.25, 0.0], rtol=0, atol=0)   # tier c unused: still listed
    assert_allclose(r.mean_occupied_blocks(), [5.0, 2.0, 0.0], rtol=1e-15)
    assert_allclose(result([0], [10.0, 4.0, 0.0], 0.5).mean_occupied_blocks(), [20.0, 8.0, 0.0], rtol=1e-15)
    assert_allclose(result([0], [1.0, 1.0, 1.0], 0.5).hit_ratio_by_tier(), [1.0, 0.0, 0.0], rtol=0, atol=0)
    with warnings.catch_warnings():               # a zero-length trace is not divided by its zero span
        warnings.simplefilter("error")
        empty = result([0], [0.0, 0.0, 0.0], 0.0).mean_occupied_blocks()
    assert empty.shape == (3,) and np.isnan(empty).all()


def test_dense_ids_are_computed_once_per_trace():
    from tiering_refs import random_trace

    _, dense_ids, _, _ = _replay_mods()
    t = random_trace(1, n_requests=20)
    first = dense_ids(t)
    assert dense_ids(t) is first
    ids, n = first
    assert n == len(np.unique(t.block_ids)) and ids.dtype == np.int32
    # renumbered in order of first appearance
    seen = list(dict.fromkeys(t.block_ids.tolist()))
    assert ids.tolist() == [seen.index(b) for b in t.block_ids.tolist()]


def test_both_replays_report_tiers_and_integer_arrays(engine):
    from tiering_refs import random_trace

    _, _, replay, replay_reference = _replay_mods()
    t = random_trace(2, n_requests=40)
    cfg = TierConfig(tiers=(Tier("hbm", 5, 2e12, 2e12, 0.0), Tier("dram", 20, 3e10, 3e10, 1.0)), engine=engine)
    for f in (replay, replay_reference):
        r = f(t, cfg)
        assert r.tier_names == ("hbm", "dram")
        assert r.served_tier.dtype == np.int8 and r.tokens_by_tier.dtype == np.int64
        assert_allclose(r.tokens_by_tier.sum(axis=1) + r.recomputed_tokens, t.input_tokens, rtol=0, atol=0)


def test_a_disabled_tier_with_a_ttl_caches_nothing(engine):
    from tiering_refs import one_tier, random_trace

    _, _, replay, replay_reference = _replay_mods()
    t = random_trace(3, n_requests=30)
    for ttl in (0.0, 30.0):
        cfg = one_tier(engine, 0, default_ttl_s=ttl)
        ref, ker = replay_reference(t, cfg), replay(t, cfg)
        assert ref.hit_ratio() == 0.0 == ker.hit_ratio()
        assert ref.expirations == ker.expirations == 0
        assert_allclose(ref.occupied_block_seconds, [0.0], atol=0)


class _Terminal:
    def __init__(self, tty):
        self.tty, self.text = tty, []

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text.append(s)

    def flush(self):
        pass


@pytest.mark.parametrize("tty", [True, False])
def test_reference_replay_progress_only_when_asked_and_on_a_terminal(engine, monkeypatch, tty):
    import sys

    from tiering_refs import one_tier, random_trace

    _, _, replay, replay_reference = _replay_mods()
    t, cfg = random_trace(4, n_requests=10), one_tier(engine, 10)
    import threading

    import tqdm

    # no tqdm monitor thread: a thread left running in a process that later forks (mutmut's workers) can hold
    # tqdm's lock in the child
    monkeypatch.setattr(tqdm.tqdm, "monitor_interval", 0)
    # and a lock of this process only: tqdm's default one is shared with forked processes, and one killed while
    # holding it blocks every later bar
    monkeypatch.setattr(tqdm.tqdm, "_lock", threading.RLock(), raising=False)
    term = _Terminal(tty)
    monkeypatch.setattr(sys, "stderr", term)
    replay_reference(t, cfg)
    replay(t, cfg)
    assert "".join(term.text) == ""
    replay_reference(t, cfg, progress=True)
    out = "".join(term.text)
    if tty:
        assert re.search(r"(?:^|\r)replay: ", out) and "10/10" in out and "req/s" in out
    else:
        assert out == ""


# --- stack distances ---------------------------------------------------------------------------------------

def _trace_of(requests, gap_ms=1000):
    import json

    from model.workload import parse_mooncake_lines

    return parse_mooncake_lines([json.dumps({"timestamp": i * gap_ms, "input_length": 512 * len(ids),
                                             "output_length": 1, "hash_ids": ids}) for i, ids in enumerate(requests)])


def _brute(requests, at):
    """Distinct other blocks between a block's previous access and the start of its request (``lookup``) or
    the access itself (``access``)."""
    from model.tiering import INFINITE_DISTANCE

    seq, starts = [], []
    for ids in requests:
        starts += [len(seq)] * len(ids)
        seq += ids
    out = []
    for t, b in enumerate(seq):
        prev = max((q for q in range(t) if seq[q] == b), default=None)
        end = starts[t] if at == "lookup" else t
        out.append(INFINITE_DISTANCE if prev is None else len(set(seq[prev + 1:end]) - {b}))
    return out


def test_stack_distances_of_multi_block_requests_by_brute_force():
    from model.tiering import stack_distances

    rng = np.random.default_rng(11)
    # requests of two distinct blocks: every request starts at an even position (no window end has bit 0 set)
    two = [[int(x) for x in rng.choice(9, size=2, replace=False)] for _ in range(40)]
    # requests of 1 to 4 distinct blocks
    mixed = [[int(x) for x in rng.choice(9, size=int(rng.integers(1, 5)), replace=False)] for _ in range(40)]
    for reqs in (two, mixed):
        t = _trace_of(reqs)
        for at in ("lookup", "access"):
            assert stack_distances(t, at=at).tolist() == _brute(reqs, at), at
    # exactly one reuse: A, B, A -> the second A is 1 deep
    assert stack_distances(_trace_of([[1], [2], [1]])).tolist()[-1] == 1
    with pytest.raises(ParameterError, match=r"^at='start' is not allowed"):
        stack_distances(t, at="start")


def test_hit_ratio_curve_by_hand():
    from model.tiering import INFINITE_DISTANCE, ideal_hit_ratio, lru_hit_ratio_curve
    from model.tiering.stack_distance import prefix_distances

    # A; A B; C; A B: lookups A(∞) | A(0) B(∞) | C(∞) | A(2: B, C) B(2: A, C) -> prefix maxima ∞ | 0 ∞ | ∞ | 2 2
    reqs = [[1], [1, 2], [3], [1, 2]]
    t = _trace_of(reqs)
    inf = INFINITE_DISTANCE
    assert prefix_distances(t).tolist() == [inf, 0, inf, inf, 2, 2]
    c = lru_hit_ratio_curve(t, [0, 1, 3])
    assert list(c.columns) == ["capacity_blocks", "hit_ratio", "token_hit_ratio"]
    assert c["capacity_blocks"].dtype == np.float64
    assert_allclose(c["hit_ratio"], [0, 1 / 6, 3 / 6], rtol=1e-15)
    assert_allclose(c["token_hit_ratio"], [0, 512 / 3072, 3 * 512 / 3072], rtol=1e-15)
    assert ideal_hit_ratio(t) == 3 / 6
    # given distances are used, not recomputed: all cold
    cold = np.full(6, inf, dtype=np.int64)
    assert (lru_hit_ratio_curve(t, [1, 100], distances=cold)["hit_ratio"] == 0).all()
    assert (prefix_distances(t, cold) == inf).all()
    for bad in ([-1.0], [np.nan]):
        with pytest.raises(ParameterError, match=r"^capacities=\[.*\] is not allowed: capacities must be capacities "
                                                 r">= 0 \(blocks\)$"):
            lru_hit_ratio_curve(t, bad)
    assert math.isnan(ideal_hit_ratio(t.head(0)))


def test_replay_from_stack_fields_and_limits(engine):
    from tiering_refs import random_trace

    from model.tiering import INFINITE_DISTANCE, replay, replay_from_stack

    t = random_trace(5, n_requests=60, n_ids=12)
    cfg = TierConfig(tiers=(Tier("hbm", 2, 2e12, 2e12, 0.0), Tier("dram", 3, 3e10, 3e10, 1.0)), engine=engine)
    a, b = replay(t, cfg), replay_from_stack(t, cfg)
    assert b.served_tier.dtype == np.int8
    assert a.served_tier.tolist() == b.served_tier.tolist()             # small tiers: depths at the bounds
    assert_allclose(b.occupied_block_seconds, a.occupied_block_seconds, rtol=1e-9)
    assert b.recomputed_tokens.tolist() == a.recomputed_tokens.tolist()
    assert b.tier_names == ("hbm", "dram") and b.span_s == t.duration_s
    assert b.demotions.tolist() == [-1, -1] and b.expirations == 0
    cold = replay_from_stack(t, cfg, distances=np.full(t.n_blocks, INFINITE_DISTANCE, dtype=np.int64))
    assert cold.hit_ratio() == 0.0
    one = replay_from_stack(t.head(1), cfg)
    assert one.occupied_block_seconds.tolist() == [0.0, 0.0]
    msg = (r"^config='eviction/TTL' is not allowed: config must be eviction='lru' and no finite TTL for "
           r"replay_from_stack$")
    with pytest.raises(ParameterError, match=msg):
        replay_from_stack(t, dataclasses_replace(cfg, eviction="fifo"))
    with pytest.raises(ParameterError, match=msg):
        replay_from_stack(t, cfg.with_ttl(default_ttl_s=60.0))


def dataclasses_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)
