"""The trace container: a request stream with prefix identity, stored column-wise.

A workload is a :class:`Trace`: per request an arrival time, prompt and output lengths and the ids of the
prompt's consecutive ``block_tokens``-token prefix blocks (equal ids mean equal prefixes, the Mooncake
``hash_ids`` convention), stored column-wise (NumPy arrays plus CSR offsets) so that a 300K-block trace
costs a few MB and replays fast.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from model.checks import ParameterError, check_int, check_positive

#: Group label of blocks of a trace that carries no grouping.
UNGROUPED = "all"


@dataclass(frozen=True, eq=False)
class Trace:
    """A request stream with prefix identity, column-wise.

    Attributes
    ----------
    name : str
        Label used in tables.
    arrival_s : numpy.ndarray
        Arrival time of each request, seconds from the start of the trace (float64, non-decreasing).
    input_tokens : numpy.ndarray
        Prompt length of each request, tokens (int64, >= 1).
    output_tokens : numpy.ndarray
        Generated tokens of each request (int64, >= 0).
    block_offsets : numpy.ndarray
        CSR offsets (int64, length ``n_requests + 1``): the blocks of request ``i`` are
        ``block_ids[block_offsets[i]:block_offsets[i + 1]]``.
    block_ids : numpy.ndarray
        Ids of the prompt's consecutive prefix blocks (int64); request ``i`` has
        ``ceil(input_tokens[i] / block_tokens)`` of them, the last one possibly partial.
    block_tokens : int
        Tokens per prefix block (512 in the Mooncake trace).
    block_group : numpy.ndarray
        Group index of every block lookup (int32, same length as ``block_ids``) into ``group_names``:
        what a per-group TTL acts on.
    group_names : tuple of str
        Names of the groups.
    session : numpy.ndarray or None
        Session id of each request (int64), when the workload has sessions.
    character : numpy.ndarray or None
        Character (persona) id of each request (int64), when the workload has personas; the id is the
        character's popularity rank (0 = most popular).
    """

    name: str
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    block_offsets: np.ndarray
    block_ids: np.ndarray
    block_tokens: int
    block_group: np.ndarray = field(default=None)
    group_names: tuple = (UNGROUPED,)
    session: np.ndarray | None = None
    character: np.ndarray | None = None

    def __post_init__(self):
        check_int("block_tokens", self.block_tokens, low=1)
        n = len(self.arrival_s)
        for attr in ("input_tokens", "output_tokens"):
            if len(getattr(self, attr)) != n:
                raise ParameterError(attr, f"length {len(getattr(self, attr))}", f"length {n} (one per request)")
        if len(self.block_offsets) != n + 1 or (n >= 0 and self.block_offsets[-1] != len(self.block_ids)):
            raise ParameterError("block_offsets", f"length {len(self.block_offsets)}",
                                 f"length {n + 1} ending at len(block_ids)={len(self.block_ids)}")
        if self.block_group is None:
            object.__setattr__(self, "block_group", np.zeros(len(self.block_ids), dtype=np.int32))
        if len(self.block_group) != len(self.block_ids):
            raise ParameterError("block_group", f"length {len(self.block_group)}",
                                 f"length {len(self.block_ids)} (one per block)")
        if len(self.block_group) and (self.block_group.min() < 0
                                      or self.block_group.max() >= len(self.group_names)):
            raise ParameterError("block_group", "index out of range",
                                 f"indices into group_names (0..{len(self.group_names) - 1})")

    # --- sizes ---------------------------------------------------------------------------------------
    @property
    def n_requests(self) -> int:
        """Number of requests."""
        return len(self.arrival_s)

    @property
    def n_blocks(self) -> int:
        """Number of block lookups (sum over requests of their prompt blocks)."""
        return len(self.block_ids)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last arrival, seconds."""
        return float(self.arrival_s[-1] - self.arrival_s[0]) if self.n_requests else 0.0

    def blocks_per_request(self) -> np.ndarray:
        """Number of prompt blocks of each request (int64)."""
        return np.diff(self.block_offsets)

    def request_of_block(self) -> np.ndarray:
        """Request index of every block lookup (int64, length :attr:`n_blocks`)."""
        return np.repeat(np.arange(self.n_requests, dtype=np.int64), self.blocks_per_request())

    def position_of_block(self) -> np.ndarray:
        """Position of every block lookup inside its request's prompt (0 = first block)."""
        return np.arange(self.n_blocks, dtype=np.int64) - np.repeat(self.block_offsets[:-1],
                                                                     self.blocks_per_request())

    def block_token_counts(self) -> np.ndarray:
        """Tokens of every block lookup: ``block_tokens``, except the last block of a request which holds
        the remainder ``input_tokens - block_tokens * (blocks - 1)``."""
        counts = np.full(self.n_blocks, self.block_tokens, dtype=np.int64)
        last = self.block_offsets[1:] - 1
        nonempty = self.blocks_per_request() > 0
        counts[last[nonempty]] = (self.input_tokens[nonempty]
                                  - self.block_tokens * (self.blocks_per_request()[nonempty] - 1))
        return counts

    def blocks_of(self, i: int) -> np.ndarray:
        """Block ids of request ``i``."""
        return self.block_ids[self.block_offsets[i]:self.block_offsets[i + 1]]

    # --- derived traces --------------------------------------------------------------------------------
    def with_groups(self, block_group: np.ndarray, group_names: Sequence[str]) -> "Trace":
        """The same trace with another grouping of its blocks (see :func:`group_blocks`)."""
        return replace(self, block_group=np.asarray(block_group, dtype=np.int32),
                       group_names=tuple(str(g) for g in group_names))

    def time_scaled(self, factor: float) -> "Trace":
        """Arrival times multiplied by ``factor`` (< 1 compresses the trace: a higher request rate)."""
        check_positive("factor", factor)
        return replace(self, arrival_s=self.arrival_s * factor)

    def head(self, n_requests: int) -> "Trace":
        """The first ``n_requests`` requests."""
        n = min(check_int("n_requests", n_requests, low=0), self.n_requests)
        end = int(self.block_offsets[n])
        opt = {k: (None if getattr(self, k) is None else getattr(self, k)[:n]) for k in ("session", "character")}
        return replace(self, arrival_s=self.arrival_s[:n], input_tokens=self.input_tokens[:n],
                       output_tokens=self.output_tokens[:n], block_offsets=self.block_offsets[:n + 1],
                       block_ids=self.block_ids[:end], block_group=self.block_group[:end], **opt)

    def requests_table(self) -> pd.DataFrame:
        """One row per request: ``arrival_s, input_tokens, output_tokens, blocks`` (+ session, character)."""
        df = pd.DataFrame({"arrival_s": self.arrival_s, "input_tokens": self.input_tokens,
                           "output_tokens": self.output_tokens, "blocks": self.blocks_per_request()})
        if self.session is not None:
            df["session"] = self.session
        if self.character is not None:
            df["character"] = self.character
        return df

    def summary(self) -> dict:
        """Requests, block lookups, distinct blocks, mean prompt and output tokens, duration, request rate."""
        return {
            "trace": self.name,
            "requests": self.n_requests,
            "block_lookups": self.n_blocks,
            "distinct_blocks": int(len(np.unique(self.block_ids))),
            "mean_input_tokens": float(self.input_tokens.mean()) if self.n_requests else math.nan,
            "mean_output_tokens": float(self.output_tokens.mean()) if self.n_requests else math.nan,
            "duration_s": self.duration_s,
            "requests_per_s": self.n_requests / self.duration_s if self.duration_s > 0 else math.nan,
        }


def _from_lists(name: str, arrival_s, input_tokens, output_tokens, block_lists, block_tokens: int,
                **extra) -> Trace:
    counts = np.fromiter((len(b) for b in block_lists), dtype=np.int64, count=len(block_lists))
    offsets = np.zeros(len(block_lists) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.fromiter((x for b in block_lists for x in b), dtype=np.int64, count=int(offsets[-1]))
    return Trace(name=name, arrival_s=np.asarray(arrival_s, dtype=np.float64),
                 input_tokens=np.asarray(input_tokens, dtype=np.int64),
                 output_tokens=np.asarray(output_tokens, dtype=np.int64),
                 block_offsets=offsets, block_ids=flat, block_tokens=block_tokens, **extra)


def concat_traces(traces: Sequence[Trace], name: str | None = None) -> Trace:
    """Join traces (e.g. the chunks of :func:`iter_character_chat`) end to end; they must share
    ``block_tokens`` and ``group_names``."""
    traces = list(traces)
    if not traces:
        raise ParameterError("traces", "[]", "at least one trace")
    first = traces[0]
    for t in traces[1:]:
        if t.block_tokens != first.block_tokens or t.group_names != first.group_names:
            raise ParameterError("traces", t.name, "traces with the same block_tokens and group_names")
    offsets = [np.zeros(1, dtype=np.int64)]
    base = 0
    for t in traces:
        offsets.append(t.block_offsets[1:] + base)
        base += t.n_blocks
    opt = {}
    for k in ("session", "character"):
        if all(getattr(t, k) is not None for t in traces):
            opt[k] = np.concatenate([getattr(t, k) for t in traces])
    return Trace(name=name or first.name, arrival_s=np.concatenate([t.arrival_s for t in traces]),
                 input_tokens=np.concatenate([t.input_tokens for t in traces]),
                 output_tokens=np.concatenate([t.output_tokens for t in traces]),
                 block_offsets=np.concatenate(offsets), block_ids=np.concatenate([t.block_ids for t in traces]),
                 block_tokens=first.block_tokens, block_group=np.concatenate([t.block_group for t in traces]),
                 group_names=first.group_names, **opt)


def _take(trace: Trace, index: np.ndarray) -> Trace:
    """Requests ``index`` of ``trace`` (in that order)."""
    counts = trace.blocks_per_request()[index]
    offsets = np.zeros(len(index) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    starts = trace.block_offsets[:-1][index]
    flat = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    opt = {k: (None if getattr(trace, k) is None else getattr(trace, k)[index]) for k in ("session", "character")}
    return replace(trace, arrival_s=trace.arrival_s[index], input_tokens=trace.input_tokens[index],
                   output_tokens=trace.output_tokens[index], block_offsets=offsets,
                   block_ids=trace.block_ids[flat], block_group=trace.block_group[flat], **opt)
