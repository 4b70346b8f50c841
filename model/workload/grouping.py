"""Groups for traces that carry none: what a per-group TTL acts on (prefix family, prefix popularity,
prompt-length class)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.parameters import default
from model.checks import ParameterError, check_choice, check_int
from model.workload.trace import UNGROUPED, Trace

GROUPINGS = ("none", "prefix_family", "prefix_popularity", "length_class")


def group_blocks(trace: Trace, by: str, *, n_families: int | None = None,
                 popularity_edges: Sequence[int] | None = None,
                 length_edges_tokens: Sequence[int] | None = None) -> Trace:
    """Assign a group to every block lookup of a trace that carries none (what a per-group TTL acts on).

    Parameters
    ----------
    by : {"none", "prefix_family", "prefix_popularity", "length_class"}
        - ``"prefix_family"``: the request's first block that is not shared by the whole trace (Mooncake's
          block 0 is shared by every request): requests sharing it form a family (a conversation or an
          application prompt). The ``n_families`` families with most requests get a group each, the rest
          share ``"family:other"``.
        - ``"prefix_popularity"``: how many requests look the block up over the whole trace (an oracle
          count, as an offline optimiser has): groups ``"refs<=a"``, ``"refs a+1..b"``, ...
          by ``popularity_edges``.
        - ``"length_class"``: the request's prompt length class by ``length_edges_tokens``.
        - ``"none"``: one group.

    Returns
    -------
    Trace
        The same requests with ``block_group``/``group_names`` set. A block looked up by requests of
        different groups carries, at each lookup, the group of that request (the simulator re-tags a block
        on every access).
    """
    check_choice("by", by, GROUPINGS)
    if by == "none":
        return trace.with_groups(np.zeros(trace.n_blocks, dtype=np.int32), (UNGROUPED,))
    req = trace.request_of_block()
    if by == "prefix_family":
        k = int(default("group_prefix_families")) if n_families is None else check_int("n_families",
                                                                                        n_families, low=1)
        family = _family_of_requests(trace)
        ids, inverse, counts = np.unique(family, return_inverse=True, return_counts=True)
        order = np.lexsort((ids, -counts))  # most requests first, ties by id: deterministic
        rank = np.empty(len(ids), dtype=np.int64)
        rank[order] = np.arange(len(ids))
        g_req = np.minimum(rank[inverse], k)
        names = [f"family:{ids[order[j]]}" for j in range(min(k, len(ids)))]
        if len(ids) > k:
            names.append("family:other")
        return trace.with_groups(g_req[req].astype(np.int32), names)
    if by == "prefix_popularity":
        edges = [int(e) for e in (popularity_edges if popularity_edges is not None else
                                  (default("group_popularity_edge_low"), default("group_popularity_edge_high")))]
        _check_edges("popularity_edges", edges)
        _, inverse, counts = np.unique(trace.block_ids, return_inverse=True, return_counts=True)
        refs = counts[inverse]
        g = np.searchsorted(np.asarray(edges), refs, side="left")
        names = _edge_names("refs", edges)
        return trace.with_groups(g.astype(np.int32), names)
    edges = [int(e) for e in (length_edges_tokens if length_edges_tokens is not None else
                              (default("group_length_edge_short_tokens"), default("group_length_edge_long_tokens")))]
    _check_edges("length_edges_tokens", edges)
    g_req = np.searchsorted(np.asarray(edges), trace.input_tokens, side="left")
    return trace.with_groups(g_req[req].astype(np.int32), _edge_names("tokens", edges))


def _family_of_requests(trace: Trace) -> np.ndarray:
    """Id of each request's first block not shared by every request (its only block if it has one)."""
    n = trace.blocks_per_request()
    first = trace.block_ids[trace.block_offsets[:-1]]
    common = first[0] if trace.n_requests and np.all(first == first[0]) else None
    second_pos = np.minimum(trace.block_offsets[:-1] + 1, trace.block_offsets[1:] - 1)
    if common is None:
        return first
    return np.where(n > 1, trace.block_ids[second_pos], first)


def _check_edges(name: str, edges: list[int]):
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ParameterError(name, edges, "a non-empty, strictly increasing list of non-negative integers")


def _edge_names(what: str, edges: list[int]) -> list[str]:
    names = [f"{what}<={edges[0]}"]
    names += [f"{what} {a + 1}..{b}" for a, b in zip(edges, edges[1:])]
    names.append(f"{what}>{edges[-1]}")
    return names
