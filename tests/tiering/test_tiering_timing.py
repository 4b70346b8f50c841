"""model.tiering.timing: the prefill time is model.step_time's, the recursion equals simpy, a queue by hand."""
import json

import numpy as np
from numpy.testing import assert_allclose

from model.step_time import deployment
from model.tiering import default_config, replay, simulate, time_requests
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
