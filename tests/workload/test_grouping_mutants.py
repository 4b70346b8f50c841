"""model.workload.grouping by hand: each grouping of small hand-made traces, group by group, with the defaults of
data/parameters/workload.csv (8 prefix families; popularity edges 1 and 10 references; length edges 4,096 and
16,384 tokens), the ties and edges of each, and every refusal named as typed."""
import json

import numpy as np
import pytest

from model.checks import ParameterError
from model.workload import group_blocks, parse_mooncake_lines

BLOCK = 512    # tokens per block of these traces: a prompt of L tokens has ceil(L / 512) hash ids


def trace(*requests):
    """A trace of (input tokens, hash ids) requests, one a millisecond apart."""
    return parse_mooncake_lines([json.dumps({"timestamp": i, "input_length": n, "output_length": 1, "hash_ids": ids})
                                 for i, (n, ids) in enumerate(requests)], block_tokens=BLOCK)


def test_none_is_one_group_of_every_block():
    t = group_blocks(trace((600, [3, 4]), (100, [5])), "none")
    assert t.group_names == ("all",)
    assert t.block_group.tolist() == [0, 0, 0]
    assert t.block_group.dtype == np.int32


def test_an_unknown_grouping_is_refused_by_name():
    with pytest.raises(ParameterError) as err:
        group_blocks(trace((100, [1])), "session")
    assert (err.value.name, err.value.value) == ("by", "session")
    assert err.value.allowed == "one of 'none', 'prefix_family', 'prefix_popularity', 'length_class'"


# --- prefix families ------------------------------------------------------------------------------------------
def test_families_by_first_block_when_no_block_is_shared_by_all():
    # first blocks 9, 9, 5, 7: no block common to every request, so each request's family is its first block;
    # family 9 has 2 requests, 5 and 7 one each (the tie goes to the smaller id, 5)
    t = trace((600, [9, 1]), (100, [9]), (1100, [5, 1, 2]), (100, [7]))
    g = group_blocks(t, "prefix_family", n_families=2)
    assert g.group_names == ("family:9", "family:5", "family:other")
    assert g.block_group.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert g.block_group.dtype == np.int32


def test_families_by_second_block_when_the_first_is_shared_by_all():
    # block 0 opens every prompt: the family is the second block (4, 4, 6) or, for a one-block prompt, the first (0)
    t = trace((1100, [0, 4, 1]), (600, [0, 4]), (600, [0, 6]), (100, [0]))
    g = group_blocks(t, "prefix_family", n_families=3)
    # 3 families: 4 (2 requests), then 0 and 6 (1 each, 0 first): exactly 3, so no "family:other"
    assert g.group_names == ("family:4", "family:0", "family:6")
    assert g.block_group.tolist() == [0, 0, 0, 0, 0, 2, 2, 1]
    # more groups allowed than there are families: one name per family
    assert group_blocks(t, "prefix_family", n_families=5).group_names == ("family:4", "family:0", "family:6")


def test_one_request_has_its_second_block_as_family():
    # a one-request trace shares its first block with every request (itself)
    g = group_blocks(trace((1100, [3, 8, 2])), "prefix_family", n_families=1)
    assert g.group_names == ("family:8",)
    assert g.block_group.tolist() == [0, 0, 0]


def test_default_number_of_families_is_eight():
    # 10 requests, each its own one-block family 10..19 (first blocks differ): the 8 smallest ids get a group each
    t = trace(*[(100, [10 + i]) for i in range(10)])
    g = group_blocks(t, "prefix_family")
    assert g.group_names == tuple(f"family:{10 + i}" for i in range(8)) + ("family:other",)
    assert g.block_group.tolist() == list(range(8)) + [8, 8]


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_a_bad_number_of_families_is_refused(n):
    with pytest.raises(ParameterError) as err:
        group_blocks(trace((100, [1])), "prefix_family", n_families=n)
    assert (err.value.name, err.value.value) == ("n_families", n)
    assert err.value.allowed == "an integer in [1, inf]"


# --- prefix popularity ------------------------------------------------------------------------------------------
def test_popularity_groups_at_the_default_edges():
    # block 1 in 11 prompts, block 2 in 10, block 3 in 2, blocks 4 and 5 once:
    # refs <= 1 -> group 0, 2..10 -> group 1, > 10 -> group 2
    reqs = [(600, [1, 2])] * 10 + [(600, [1, 3]), (1100, [3, 4, 5])]
    g = group_blocks(trace(*reqs), "prefix_popularity")
    assert g.group_names == ("refs<=1", "refs 2..10", "refs>10")
    assert g.block_group.tolist() == [2, 1] * 10 + [2, 1] + [1, 0, 0]


def test_popularity_groups_at_three_edges():
    # refs: block 7 three times, block 8 twice, block 9 once; edges 1, 2, 3 -> groups 2, 1, 0
    g = group_blocks(trace((600, [7, 8]), (600, [7, 8]), (600, [7, 9])), "prefix_popularity",
                     popularity_edges=[1, 2, 3])
    assert g.group_names == ("refs<=1", "refs 2..2", "refs 3..3", "refs>3")
    assert g.block_group.tolist() == [2, 1, 2, 1, 2, 0]


# --- prompt length classes ----------------------------------------------------------------------------------------
def test_length_classes_at_the_default_edges():
    # 4,096 tokens = 8 blocks (class 0); 4,097 = 9 blocks (class 1); 16,384 = 32 blocks (class 1); 16,385 = 33 (2)
    lengths = [4096, 4097, 16384, 16385]
    reqs = [(n, list(range(100 * i, 100 * i + -(-n // BLOCK)))) for i, n in enumerate(lengths)]
    g = group_blocks(trace(*reqs), "length_class")
    assert g.group_names == ("tokens<=4096", "tokens 4097..16384", "tokens>16384")
    assert g.block_group.tolist() == [0] * 8 + [1] * 9 + [1] * 32 + [2] * 33


def test_one_length_edge():
    g = group_blocks(trace((512, [1]), (513, [1, 2])), "length_class", length_edges_tokens=[512])
    assert g.group_names == ("tokens<=512", "tokens>512")
    assert g.block_group.tolist() == [0, 1, 1]
    # an edge of 0 tokens is allowed (no prompt is empty): every request above it
    g = group_blocks(trace((512, [1])), "length_class", length_edges_tokens=[0])
    assert g.block_group.tolist() == [1]


@pytest.mark.parametrize("by, name", [("prefix_popularity", "popularity_edges"),
                                      ("length_class", "length_edges_tokens")])
@pytest.mark.parametrize("edges", [[], [5, 5], [5, 4], [-1, 3]])
def test_bad_edges_are_refused_under_their_name(by, name, edges):
    with pytest.raises(ParameterError) as err:
        group_blocks(trace((100, [1])), by, **{name: edges})
    assert (err.value.name, err.value.value) == (name, edges)
    assert err.value.allowed == "a non-empty, strictly increasing list of non-negative integers"
