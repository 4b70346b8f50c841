"""model.workload.trace by hand: a three-request trace of 4-token blocks written out column by column, its sizes,
per-block columns, derived traces and summary worked out here, and each refusal of a malformed trace.

The trace (block_tokens = 4):

    request  arrival  input  output  blocks        session  character
    0        1.0 s    10     5       7, 8, 9       100      0
    1        2.5 s    4      0       7             101      2
    2        6.0 s    5      3       7, 11         100      0
"""
import math
import warnings
from dataclasses import replace

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.checks import ParameterError
from model.workload.trace import UNGROUPED, Trace, _from_lists, _take, concat_traces

ARRIVAL = [1.0, 2.5, 6.0]
INPUT = [10, 4, 5]
OUTPUT = [5, 0, 3]
BLOCKS = [[7, 8, 9], [7], [7, 11]]
OFFSETS = [0, 3, 4, 6]
IDS = [7, 8, 9, 7, 7, 11]
GROUPS = [0, 1, 1, 0, 1, 0]


def trace(**kw):
    base = dict(name="t", arrival_s=np.array(ARRIVAL), input_tokens=np.array(INPUT, dtype=np.int64),
                output_tokens=np.array(OUTPUT, dtype=np.int64), block_offsets=np.array(OFFSETS, dtype=np.int64),
                block_ids=np.array(IDS, dtype=np.int64), block_tokens=4)
    base.update(kw)
    return Trace(**base)


def grouped(**kw):
    return trace(block_group=np.array(GROUPS, dtype=np.int32), group_names=("a", "b"),
                 session=np.array([100, 101, 100]), character=np.array([0, 2, 0]), **kw)


def refused(**kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        trace(**kw)
    return err.value


def test_sizes_and_per_block_columns():
    t = trace()
    assert (t.n_requests, t.n_blocks) == (3, 6)
    assert_allclose(t.duration_s, 6.0 - 1.0, rtol=0)
    assert_array_equal(t.blocks_per_request(), [3, 1, 2])
    assert_array_equal(t.request_of_block(), [0, 0, 0, 1, 2, 2])
    assert_array_equal(t.position_of_block(), [0, 1, 2, 0, 0, 1])
    # 10 tokens = 4 + 4 + 2; 4 = 4; 5 = 4 + 1
    assert_array_equal(t.block_token_counts(), [4, 4, 2, 4, 4, 1])
    assert_array_equal(t.blocks_of(0), [7, 8, 9])
    assert_array_equal(t.blocks_of(1), [7])
    assert_array_equal(t.blocks_of(2), [7, 11])


def test_defaults_one_group_of_every_block():
    t = trace()
    assert t.group_names == (UNGROUPED,) == ("all",)
    assert t.block_group.dtype == np.int32 and list(t.block_group) == [0] * 6
    assert t.session is None and t.character is None


def test_a_request_without_blocks_keeps_the_others_counts():
    # request 1 has no block: its "last block" index (offset 2 - 1 = 1) belongs to request 0, whose count stays 6 - 4
    t = Trace(name="z", arrival_s=np.array([0.0, 1.0]), input_tokens=np.array([6, 0]),
              output_tokens=np.array([1, 1]), block_offsets=np.array([0, 2, 2]), block_ids=np.array([3, 4]),
              block_tokens=4)
    assert_array_equal(t.block_token_counts(), [4, 2])
    assert_array_equal(t.position_of_block(), [0, 1])
    # a one-block request shorter than a block: its only block holds 3 - 4 × 0 = 3 tokens
    u = Trace(name="u", arrival_s=np.array([0.0, 1.0, 2.0]), input_tokens=np.array([6, 0, 3]),
              output_tokens=np.array([1, 1, 1]), block_offsets=np.array([0, 2, 2, 3]), block_ids=np.array([3, 4, 5]),
              block_tokens=4)
    assert_array_equal(u.block_token_counts(), [4, 2, 3])


def test_an_empty_trace():
    t = trace(arrival_s=np.zeros(0), input_tokens=np.zeros(0, dtype=np.int64),
              output_tokens=np.zeros(0, dtype=np.int64), block_offsets=np.zeros(1, dtype=np.int64),
              block_ids=np.zeros(0, dtype=np.int64))
    assert (t.n_requests, t.n_blocks, t.duration_s) == (0, 0, 0.0)
    s = t.summary()
    assert (s["requests"], s["block_lookups"], s["distinct_blocks"], s["duration_s"]) == (0, 0, 0, 0.0)
    assert math.isnan(s["mean_input_tokens"]) and math.isnan(s["mean_output_tokens"])
    assert math.isnan(s["requests_per_s"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # the empty means are not taken (NumPy would warn of an empty slice)
        t.summary()


def test_summary_by_hand():
    s = trace().summary()
    assert (s["trace"], s["requests"], s["block_lookups"]) == ("t", 3, 6)
    assert s["distinct_blocks"] == 4        # 7, 8, 9, 11
    assert_allclose([s["mean_input_tokens"], s["mean_output_tokens"], s["duration_s"], s["requests_per_s"]],
                    [19 / 3, 8 / 3, 5.0, 3 / 5.0], rtol=1e-12)
    # one request: no duration, no rate
    one = trace().head(1).summary()
    assert one["duration_s"] == 0.0 and math.isnan(one["requests_per_s"])
    assert_allclose([one["mean_input_tokens"], one["mean_output_tokens"]], [10.0, 5.0], rtol=0)
    # three requests over half a second: 3 ÷ 0.5 s = 6 requests/s (a span under 1 s still has a rate)
    half = trace(arrival_s=np.array([1.0, 1.25, 1.5])).head(3).summary()
    assert_allclose([half["duration_s"], half["requests_per_s"]], [0.5, 3 / 0.5], rtol=1e-12)


def test_refusals_name_the_column():
    e = refused(block_tokens=0)
    assert (e.name, e.allowed) == ("block_tokens", "an integer in [1, inf]")
    e = refused(input_tokens=np.array([10, 4]))
    assert (e.name, e.value, e.allowed) == ("input_tokens", "length 2", "length 3 (one per request)")
    e = refused(output_tokens=np.array([1, 2, 3, 4]))
    assert (e.name, e.value, e.allowed) == ("output_tokens", "length 4", "length 3 (one per request)")
    e = refused(block_offsets=np.array([0, 3, 6]))
    assert (e.name, e.value, e.allowed) == ("block_offsets", "length 3", "length 4 ending at len(block_ids)=6")
    e = refused(block_offsets=np.array([0, 3, 4, 5]))       # right length, ends short of the 6 block ids
    assert (e.name, e.value) == ("block_offsets", "length 4")
    e = refused(block_group=np.zeros(5, dtype=np.int32))
    assert (e.name, e.value, e.allowed) == ("block_group", "length 5", "length 6 (one per block)")
    e = refused(block_group=np.array([0, 1, 2, 0, 0, 0], dtype=np.int32), group_names=("a", "b"))
    assert (e.name, e.value, e.allowed) == ("block_group", "index out of range", "indices into group_names (0..1)")
    e = refused(block_group=np.array([0, -1, 0, 0, 0, 0], dtype=np.int32), group_names=("a", "b"))
    assert e.name == "block_group"
    # no request but a block id: the offsets [0] do not end at 1
    with pytest.raises(ParameterError, match="block_offsets"):
        Trace(name="e", arrival_s=np.zeros(0), input_tokens=np.zeros(0), output_tokens=np.zeros(0),
              block_offsets=np.zeros(1, dtype=np.int64), block_ids=np.array([5]), block_tokens=4)


def test_group_indices_at_the_ends_are_accepted():
    t = grouped()
    assert t.group_names == ("a", "b") and list(t.block_group) == GROUPS


def test_with_groups_and_time_scaled():
    t = trace().with_groups([1, 0, 0, 1, 1, 0], ["x", 2])
    assert t.group_names == ("x", "2") and t.block_group.dtype == np.int32
    assert list(t.block_group) == [1, 0, 0, 1, 1, 0]
    s = trace().time_scaled(0.5)
    assert_allclose(s.arrival_s, [0.5, 1.25, 3.0], rtol=0)
    assert_array_equal(s.block_ids, IDS)
    with pytest.raises(ParameterError) as err:
        trace().time_scaled(0.0)
    assert err.value.name == "factor"


def test_head():
    h = grouped().head(2)
    assert_allclose(h.arrival_s, [1.0, 2.5], rtol=0)
    assert_array_equal(h.input_tokens, [10, 4])
    assert_array_equal(h.output_tokens, [5, 0])
    assert_array_equal(h.block_offsets, [0, 3, 4])
    assert_array_equal(h.block_ids, [7, 8, 9, 7])
    assert_array_equal(h.block_group, [0, 1, 1, 0])
    assert_array_equal(h.session, [100, 101])
    assert_array_equal(h.character, [0, 2])
    assert h.group_names == ("a", "b")
    assert trace().head(2).session is None and trace().head(2).character is None
    assert grouped().head(99).n_requests == 3                # more than there are: all of them
    z = grouped().head(0)
    assert (z.n_requests, z.n_blocks) == (0, 0) and list(z.block_offsets) == [0]
    with pytest.raises(ParameterError) as err:
        trace().head(-1)
    assert (err.value.name, err.value.allowed) == ("n_requests", "an integer in [0, inf]")


def test_requests_table():
    df = grouped().requests_table()
    assert list(df.columns) == ["arrival_s", "input_tokens", "output_tokens", "blocks", "session", "character"]
    assert df.to_dict("list") == {"arrival_s": ARRIVAL, "input_tokens": INPUT, "output_tokens": OUTPUT,
                                  "blocks": [3, 1, 2], "session": [100, 101, 100], "character": [0, 2, 0]}
    assert list(trace().requests_table().columns) == ["arrival_s", "input_tokens", "output_tokens", "blocks"]
    only_character = trace(character=np.array([1, 1, 1])).requests_table()
    assert list(only_character.columns) == ["arrival_s", "input_tokens", "output_tokens", "blocks", "character"]


def test_from_lists_builds_the_columns():
    t = _from_lists("l", [1, 2, 6], np.array(INPUT, dtype=np.int32), np.array(OUTPUT, dtype=np.int32), BLOCKS, 4,
                    session=np.array([100, 101, 100]))
    assert t.name == "l" and t.block_tokens == 4
    assert (t.arrival_s.dtype, t.input_tokens.dtype, t.output_tokens.dtype) == (np.float64, np.int64, np.int64)
    assert (t.block_offsets.dtype, t.block_ids.dtype) == (np.int64, np.int64)
    assert_allclose(t.arrival_s, [1.0, 2.0, 6.0], rtol=0)
    assert_array_equal(t.input_tokens, INPUT)
    assert_array_equal(t.output_tokens, OUTPUT)
    assert_array_equal(t.block_offsets, OFFSETS)
    assert_array_equal(t.block_ids, IDS)
    assert_array_equal(t.session, [100, 101, 100])


def test_take_picks_requests_in_the_order_given():
    t = _take(grouped(), np.array([2, 0]))
    # request 2's blocks (positions 4, 5) then request 0's (positions 0, 1, 2)
    assert_array_equal(t.block_offsets, [0, 2, 5])
    assert_array_equal(t.block_ids, [7, 11, 7, 8, 9])
    assert_array_equal(t.block_group, [1, 0, 0, 1, 1])
    assert_allclose(t.arrival_s, [6.0, 1.0], rtol=0)
    assert_array_equal(t.input_tokens, [5, 10])
    assert_array_equal(t.output_tokens, [3, 5])
    assert_array_equal(t.session, [100, 100])
    assert_array_equal(t.character, [0, 0])
    assert _take(trace(), np.array([1])).session is None
    one = _take(trace(), np.array([1]))
    assert list(one.block_offsets) == [0, 1] and list(one.block_ids) == [7]


def test_concat_traces_joins_end_to_end():
    g = grouped()
    j = concat_traces([g.head(1), _take(g, np.array([1, 2]))], name="joined")
    assert j.name == "joined" and j.block_tokens == 4 and j.group_names == ("a", "b")
    assert_array_equal(j.block_offsets, OFFSETS)
    assert j.block_offsets.dtype == np.int64
    assert_array_equal(j.block_ids, IDS)
    assert_array_equal(j.block_group, GROUPS)
    assert_allclose(j.arrival_s, ARRIVAL, rtol=0)
    assert_array_equal(j.input_tokens, INPUT)
    assert_array_equal(j.output_tokens, OUTPUT)
    assert_array_equal(j.session, [100, 101, 100])
    assert_array_equal(j.character, [0, 2, 0])
    # three pieces: the offsets of each shifted by the blocks before it (3, then 3 + 1)
    k = concat_traces([g.head(1), _take(g, np.array([1])), _take(g, np.array([2]))])
    assert k.name == "t"
    assert_array_equal(k.block_offsets, OFFSETS)
    # a piece without sessions: the result has none; the characters, on both, are kept
    mixed = concat_traces([g.head(1), replace(_take(g, np.array([1, 2])), session=None)])
    assert mixed.session is None
    assert_array_equal(mixed.character, [0, 2, 0])


def test_concat_traces_refusals():
    with pytest.raises(ParameterError) as err:
        concat_traces([])
    assert (err.value.name, err.value.value, err.value.allowed) == ("traces", "[]", "at least one trace")
    with pytest.raises(ParameterError) as err:
        concat_traces([trace(), trace(name="other", block_tokens=8)])
    assert (err.value.name, err.value.value) == ("traces", "other")
    assert err.value.allowed == "traces with the same block_tokens and group_names"
    with pytest.raises(ParameterError) as err:
        concat_traces([trace(), grouped(name="g2")])
    assert err.value.value == "g2"
