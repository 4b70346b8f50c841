"""Tests of model.workload.grouping: each grouping on a hand-made trace."""

import json

import pytest

from model.checks import ParameterError
from model.workload import group_blocks, parse_mooncake_lines


def _line(**kw):
    rec = {"timestamp": 0, "input_length": 1000, "output_length": 10, "hash_ids": [1, 2]}
    rec.update(kw)
    return json.dumps({k: v for k, v in rec.items() if v is not None})


# --- groups -------------------------------------------------------------------------------------------------
def test_groupings():
    t = parse_mooncake_lines([
        _line(timestamp=0, input_length=100, hash_ids=[0]),
        _line(timestamp=1, input_length=1000, hash_ids=[0, 7]),
        _line(timestamp=2, input_length=1500, hash_ids=[0, 7, 8]),
        _line(timestamp=3, input_length=20000, hash_ids=[0] + list(range(100, 139))),
    ])
    fam = group_blocks(t, "prefix_family", n_families=1)
    assert fam.group_names == ("family:7", "family:other")
    assert fam.block_group.tolist() == [1, 0, 0, 0, 0, 0] + [1] * 40
    pop = group_blocks(t, "prefix_popularity", popularity_edges=[1, 2])
    # block 0 looked up 3 times, block 7 twice, the rest once
    assert pop.block_group[:6].tolist() == [2, 2, 1, 2, 1, 0]
    length = group_blocks(t, "length_class", length_edges_tokens=[1000, 10000])
    assert length.block_group[[0, 1, 3, 6]].tolist() == [0, 0, 1, 2]
    with pytest.raises(ParameterError, match="length_edges_tokens"):
        group_blocks(t, "length_class", length_edges_tokens=[5, 5])


