"""model.tiering.reuse by hand: the ideal (unbounded, never-expiring) hit ratio of a five-request trace counted
every way, block by block; the turns past a history window of a trace with sessions; and the refusals of one
session-routed node."""
import json
import math

import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.tiering.reuse import ideal_reuse_measures, session_node_reuse, turns_past_window_share, workload_summary
from model.workload import parse_mooncake_lines

# (arrival ms, prompt tokens, block ids), 512-token blocks; prefix semantics: a lookup hits only if its block and
# every block before it in the prompt were seen before
#   request 0 at 0 s:  [1, 2]     512 + 488 tokens    miss, miss
#   request 1 at 1 s:  [1, 2, 3]  3 × 512             hit, hit, miss
#   request 2 at 2 s:  [1, 4]     512 + 88            hit, miss
#   request 3 at 3 s:  [5, 2]     2 × 512             miss, miss (block 2 was seen, but after a miss)
#   request 4 at 4 s:  [1]        512                 hit
REQUESTS = [(0, 1000, [1, 2]), (1000, 1536, [1, 2, 3]), (2000, 600, [1, 4]), (3000, 1024, [5, 2]), (4000, 512, [1])]


def trace(requests=REQUESTS, sessions=None):
    lines = []
    for i, (t, n, ids) in enumerate(requests):
        rec = {"timestamp": t, "input_length": n, "output_length": 1, "hash_ids": ids}
        if sessions is not None:
            rec["session_id"] = sessions[i]
        lines.append(json.dumps(rec))
    return parse_mooncake_lines(lines, block_tokens=512, name="hand")


# 10 lookups, 4 hits; 4,672 prompt tokens, of them 512 + 512 (request 1) + 512 (request 2) + 512 (request 4) hit
HIT_RATIO = 4 / 10
TOKEN_HIT_RATIO = 2048 / 4672


def test_workload_summary_by_hand():
    row = workload_summary(trace())
    assert (row["trace"], row["requests"], row["block_lookups"], row["distinct_blocks"]) == ("hand", 5, 10, 5)
    assert_allclose([row["ideal_hit_ratio"], row["ideal_token_hit_ratio"]], [HIT_RATIO, TOKEN_HIT_RATIO], rtol=1e-14)


def test_ideal_reuse_measures_by_hand():
    m = ideal_reuse_measures(trace())
    assert list(m.columns) == ["measure", "ideal_hit_ratio"]
    assert m["measure"].tolist() == [
        "block lookups served (prefix semantics)", "prompt tokens served", "full 512-token blocks only",
        "mean over requests of their reused share", "second half of the trace (cache warmed by the first)"]
    assert_allclose(m["ideal_hit_ratio"].to_numpy(), [
        HIT_RATIO, TOKEN_HIT_RATIO,
        # full blocks: all but request 0's 488 tokens and request 2's 88: 8 lookups, the same 4 hits
        4 / 8,
        # reused shares 0, 2/3, 1/2, 0, 1 over 5 requests
        (2 / 3 + 1 / 2 + 1) / 5,
        # arrivals at or after the median (2 s): requests 2, 3, 4: 5 lookups, 2 hits
        2 / 5,
    ], rtol=1e-14)


def test_no_full_block_has_no_full_block_measure():
    m = ideal_reuse_measures(trace([(0, 100, [1]), (1000, 100, [1])])).set_index("measure")["ideal_hit_ratio"]
    assert math.isnan(m["full 512-token blocks only"])
    # the second lookup of block 1 hits; 100 of 200 tokens
    assert_allclose(m.drop("full 512-token blocks only").to_numpy(), [0.5, 0.5, 0.5, 1.0], rtol=1e-14)


def test_turns_past_window_by_hand():
    # sessions 0, 1, 0, 0, 1: turns 0, 0, 1, 2, 1 in arrival order within each session
    t = trace(sessions=[0, 1, 0, 0, 1])
    assert_allclose([turns_past_window_share(t, w) for w in (0, 1, 2)], [3 / 5, 1 / 5, 0.0], rtol=1e-14)


def test_turns_past_window_refusals():
    with pytest.raises(ParameterError) as err:
        turns_past_window_share(trace(sessions=[0, 1, 0, 0, 1]), -1)
    assert (err.value.name, err.value.value, err.value.allowed) == ("window_turns", -1, "an integer in [0, inf]")
    with pytest.raises(ParameterError) as err:
        turns_past_window_share(trace(), 2)
    assert (err.value.name, err.value.value, err.value.allowed) == (
        "trace", "hand", "a trace with sessions (a generated chat trace)")


@pytest.mark.parametrize("n", [0, 1.5])
def test_session_node_reuse_refuses_a_bad_count_under_the_caller_s_name(n):
    with pytest.raises(ParameterError) as err:
        session_node_reuse(n, model="llama-2-70b", gpu="a100-80gb", duration_s=300, name="sessions")
    assert (err.value.name, err.value.value, err.value.allowed) == ("sessions", n, "an integer in [1, inf]")


def test_session_node_reuse_refuses_a_node_that_sends_nothing_in_full():
    # one session starting within 300 s sends no request in it (see tests/tiering/test_tiering_reuse.py)
    with pytest.raises(ParameterError) as err:
        session_node_reuse(1, model="llama-2-70b", gpu="a100-80gb", duration_s=300, name="per_node")
    assert (err.value.name, err.value.value) == ("per_node", 1)
    assert err.value.allowed == "enough sessions for one to send a request within 300 s (none of 1 did)"


def test_session_node_reuse_at_the_generator_s_duration_replays_one_node_of_the_named_model_and_gpu():
    # no duration: the generator's own (data/parameters/workload.csv chat_duration_s); a model and GPU other
    # than the defaults, one prefill instance, one node, session routing
    from model.tiering.config import default_config
    from model.tiering.streamed_fleet import simulate_chat_fleet
    from model.workload import CharacterChatParams

    got = session_node_reuse(3, model="llama-3-8b", gpu="h100-80gb")
    node = default_config(model="llama-3-8b", gpu="h100-80gb", n_instances=1)
    want = simulate_chat_fleet(CharacterChatParams(concurrent_sessions=3), node, 1, "session").summary()
    assert got == want
    assert got["requests"] > 0
