"""model.tiering.timing: the prefill time is model.serving.step_time's, the recursion equals simpy, a queue by hand, and
the one queue recursion (lindley_done_s) against a plain loop, with one server or several, idle or carried over."""
import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.serving.step_time import deployment
from model.tiering import default_config, lindley_done_s, replay, simulate, time_requests
from model.checks import ParameterError
from model.workload import parse_mooncake_lines
from tiering_refs import one_tier


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


def _loop_done(arrival, service, free=-math.inf):
    """d[i] = max(a[i], d[i-1]) + s[i], d[-1] = free: Lindley's recursion as written."""
    done, out = free, []
    for a, s in zip(arrival.tolist(), service.tolist()):
        done = max(a, done) + s
        out.append(done)
    return np.array(out)


def _loop_done_servers(arrival, service, servers, free=-math.inf):
    """Each job in turn on the server that frees first (a plain list, no heap)."""
    busy, out = [free] * servers, []
    for a, s in zip(arrival.tolist(), service.tolist()):
        k = busy.index(min(busy))
        start = a if a > busy[k] else busy[k]
        busy[k] = start + s
        out.append(busy[k])
    return np.array(out)


@pytest.mark.parametrize("free", [-math.inf, 0.0, 40.0, 150.0])
def test_lindley_recursion_equals_the_loop(free):
    rng = np.random.default_rng(4)
    arrival = np.sort(rng.uniform(0, 100, 500))
    service = rng.exponential(0.25, 500)
    service[::7] = 0.0
    done = lindley_done_s(arrival, service, free=free)
    # the running-maximum form adds in another order than the loop: equal up to rounding of sums near 100 s
    assert_allclose(done, _loop_done(arrival, service, free), rtol=1e-12, atol=0)
    # response times (wait + service), the quantity a queueing text tabulates
    assert_allclose(done - arrival, _loop_done(arrival, service, free) - arrival, rtol=0, atol=1e-10)
    if free == 150.0:                                    # every job waits for the busy server: plain sums
        assert_allclose(done, 150.0 + np.cumsum(service), rtol=1e-12)


@pytest.mark.parametrize("servers", [2, 3, 8])
def test_several_servers_equal_the_loop_exactly(servers):
    rng = np.random.default_rng(servers)
    arrival = np.sort(rng.uniform(0, 50, 400))
    service = rng.exponential(0.5, 400)
    for free in (-math.inf, 10.0):
        assert_array_equal(lindley_done_s(arrival, service, servers=servers, free=free),
                           _loop_done_servers(arrival, service, servers, free))


def test_queue_carried_over_chunks_is_one_queue():
    """The streamed fleet times a node chunk by chunk, passing the last completion on as ``free``."""
    rng = np.random.default_rng(11)
    arrival = np.sort(rng.uniform(0, 20, 300))
    service = rng.exponential(0.08, 300)
    whole = lindley_done_s(arrival, service)
    first = lindley_done_s(arrival[:120], service[:120])
    rest = lindley_done_s(arrival[120:], service[120:], free=first[-1])
    assert_allclose(np.concatenate([first, rest]), whole, rtol=1e-12)
    assert rest[0] >= first[-1] + service[120] - 1e-12


def test_lindley_servers_must_be_a_positive_count():
    with pytest.raises(ParameterError, match="^servers="):
        lindley_done_s(np.zeros(2), np.ones(2), servers=0)
    assert lindley_done_s(np.zeros(0), np.zeros(0)).shape == (0,)
    assert lindley_done_s(np.zeros(0), np.zeros(0), servers=2).shape == (0,)
