"""The real traces: loaders of the Mooncake (FAST'25) and Azure (2023) conversation traces, checksum-verified,
with record validation that names the file and line; and the Mooncake-format JSONL writer.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from model.io import DATA, verify_sha256
from model.parameters import default
from model.checks import check_int
from model.workload.trace import Trace, _from_lists

TRACES_DIR = DATA / "traces"
#: Mooncake's released conversation trace and its sha256 (data/traces/README.md).
MOONCAKE_CONVERSATION = TRACES_DIR / "mooncake" / "conversation_trace.jsonl"
MOONCAKE_CONVERSATION_SHA256 = "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df"
#: Azure LLM inference trace 2023, conversation service, and its sha256 (data/traces/README.md).
AZURE_CONVERSATION = TRACES_DIR / "azure" / "AzureLLMInferenceTrace_conv.csv"
AZURE_CONVERSATION_SHA256 = "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8"


class TraceFormatError(ValueError):
    """A trace record is malformed; the message names the file, the line and the field."""


_MOONCAKE_FIELDS = ("timestamp", "input_length", "output_length", "hash_ids")


def _int_field(rec: dict, key: str, where: str, *, low: int) -> int:
    value = rec[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise TraceFormatError(f"{where}: field {key!r} is {value!r}; must be an integer >= {low}")
    return value


def parse_mooncake_lines(lines: Iterable[str], *, source: str = "<trace>",
                         block_tokens: int | None = None, name: str | None = None) -> Trace:
    """Parse Mooncake-format JSONL records into a :class:`Trace`.

    Each line is a JSON object with ``timestamp`` (ms from trace start), ``input_length`` (tokens),
    ``output_length`` (tokens) and ``hash_ids`` (ids of the prompt's consecutive ``block_tokens``-token
    blocks), and optionally ``session_id`` (an integer >= 0 naming the conversation; on every record or on
    none: the trace's :attr:`Trace.session`, which session routing needs). Blank lines are ignored; nothing
    else is skipped.

    Raises
    ------
    TraceFormatError
        naming ``source`` and the 1-based line number, for invalid JSON, a missing field, a negative
        length or timestamp, a non-integer hash id, ``len(hash_ids) != ceil(input_length / block_tokens)``,
        timestamps that go backwards, or ``session_id`` on some records only or not an integer >= 0.
    """
    bt = int(default("mooncake_block_tokens")) if block_tokens is None else check_int("block_tokens",
                                                                                        block_tokens, low=1)
    ts, ins, outs, blocks, sessions = [], [], [], [], []
    previous = -math.inf
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TraceFormatError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(rec, dict):
            raise TraceFormatError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        missing = [k for k in _MOONCAKE_FIELDS if k not in rec]
        if missing:
            raise TraceFormatError(f"{where}: missing field(s) {', '.join(missing)}")
        t = rec["timestamp"]
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t) or t < 0:
            raise TraceFormatError(f"{where}: field 'timestamp' is {t!r}; must be a number >= 0 (ms)")
        if t < previous:
            raise TraceFormatError(f"{where}: timestamp {t} is earlier than the previous record's {previous}")
        previous = t
        n_in = _int_field(rec, "input_length", where, low=1)
        n_out = _int_field(rec, "output_length", where, low=0)
        ids = rec["hash_ids"]
        if not isinstance(ids, list) or any(not isinstance(h, int) or isinstance(h, bool) for h in ids):
            raise TraceFormatError(f"{where}: field 'hash_ids' must be a list of integers")
        expected = -(-n_in // bt)
        if len(ids) != expected:
            raise TraceFormatError(f"{where}: len(hash_ids)={len(ids)} but ceil(input_length/{bt})="
                                   f"ceil({n_in}/{bt})={expected}")
        if ts and ("session_id" in rec) != bool(sessions):
            raise TraceFormatError(f"{where}: field 'session_id' " + ("missing; the first record has one"
                                   if sessions else "present; the first record has none") +
                                   " (on every record or on none)")
        if "session_id" in rec:
            sessions.append(_int_field(rec, "session_id", where, low=0))
        ts.append(t / 1000.0)
        ins.append(n_in)
        outs.append(n_out)
        blocks.append(ids)
    if not ts:
        raise TraceFormatError(f"{source}: no records")
    extra = {"session": np.asarray(sessions, dtype=np.int64)} if sessions else {}
    return _from_lists(name or Path(source).stem, ts, ins, outs, blocks, bt, **extra)


def load_mooncake_trace(path: str | os.PathLike | None = None, *, verify: bool = True,
                        block_tokens: int | None = None) -> Trace:
    """Load a Mooncake-format JSONL trace (default: the released conversation trace, checksum-verified).

    Parameters
    ----------
    path : path, optional
        Trace file; default :data:`MOONCAKE_CONVERSATION` (12,031 requests, 288,500 block lookups).
    verify : bool
        Check the sha256 of the default trace against ``data/traces/README.md`` (ignored for other paths).
    block_tokens : int, optional
        Tokens per hash block (default ``mooncake_block_tokens`` = 512).
    """
    if path is None:
        path = verify_sha256(MOONCAKE_CONVERSATION, MOONCAKE_CONVERSATION_SHA256) if verify \
            else MOONCAKE_CONVERSATION
        name = "mooncake-conversation"
    else:
        name = Path(path).stem
    with open(path, encoding="utf-8") as fh:
        return parse_mooncake_lines(fh, source=str(path), block_tokens=block_tokens, name=name)


def load_azure_trace(path: str | os.PathLike | None = None, *, verify: bool = True,
                     block_tokens: int | None = None) -> Trace:
    """Load the Azure LLM inference conversation trace (2023): arrivals and lengths only.

    The trace has no prefix hashes, so every prompt block gets an id of its own: nothing is shared, and the
    ideal hit ratio is 0 unless a grouping or synthetic prefix structure is added. Arrival times are
    seconds from the first record.

    Raises
    ------
    TraceFormatError
        naming the line, for a missing column, unparsable time or negative/zero length.
    """
    bt = int(default("mooncake_block_tokens")) if block_tokens is None else check_int("block_tokens",
                                                                                        block_tokens, low=1)
    if path is None:
        path = verify_sha256(AZURE_CONVERSATION, AZURE_CONVERSATION_SHA256) if verify else AZURE_CONVERSATION
        name = "azure-conversation"
    else:
        name = Path(path).stem
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("TIMESTAMP", "ContextTokens", "GeneratedTokens"):
        if col not in df.columns:
            raise TraceFormatError(f"{path}: missing column {col!r}")
    times = pd.to_datetime(df["TIMESTAMP"], errors="coerce", format="mixed")
    ins = pd.to_numeric(df["ContextTokens"], errors="coerce")
    outs = pd.to_numeric(df["GeneratedTokens"], errors="coerce")
    bad = times.isna() | ins.isna() | outs.isna() | (ins < 1) | (outs < 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise TraceFormatError(f"{path}:{i + 2}: malformed record {df.iloc[i].to_dict()} "
                               "(TIMESTAMP must be a time, ContextTokens >= 1, GeneratedTokens >= 0)")
    arrival = (times - times.iloc[0]).dt.total_seconds().to_numpy()
    if np.any(np.diff(arrival) < 0):
        i = int(np.flatnonzero(np.diff(arrival) < 0)[0]) + 1
        raise TraceFormatError(f"{path}:{i + 2}: TIMESTAMP earlier than the previous record's")
    ins = ins.to_numpy(dtype=np.int64)
    counts = -(-ins // bt)
    offsets = np.zeros(len(ins) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Trace(name=name, arrival_s=arrival.astype(np.float64), input_tokens=ins,
                 output_tokens=outs.to_numpy(dtype=np.int64), block_offsets=offsets,
                 block_ids=np.arange(offsets[-1], dtype=np.int64), block_tokens=bt)


def trace_to_jsonl_lines(trace: Trace) -> Iterator[str]:
    """Mooncake-format JSONL lines of ``trace`` (``timestamp`` in whole ms; ``session_id`` when the trace has
    sessions)."""
    ms = np.rint(trace.arrival_s * 1000).astype(np.int64)
    for i in range(trace.n_requests):
        rec = {"timestamp": int(ms[i]), "input_length": int(trace.input_tokens[i]),
               "output_length": int(trace.output_tokens[i]), "hash_ids": trace.blocks_of(i).tolist()}
        if trace.session is not None:
            rec["session_id"] = int(trace.session[i])
        yield json.dumps(rec) + "\n"


def write_jsonl(traces: Trace | Iterable[Trace], path: str | os.PathLike) -> Path:
    """Write a trace, or a stream of trace chunks, as Mooncake-format JSONL (atomically: through a
    temporary file renamed at the end)."""
    path = Path(path)
    chunks = [traces] if isinstance(traces, Trace) else traces
    tmp = path.with_name(f".{path.name}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            for chunk in chunks:
                fh.writelines(trace_to_jsonl_lines(chunk))
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    return path
