"""How much of a trace can be reused at all: the ideal (unbounded, never-expiring) hit ratio counted several
ways, a workload's summary with it, and the share of chat turns whose history prefix a sliding window has
changed; and what one session-routed node of character chat reuses."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.tiering.config import default_config
from model.tiering.stack_distance import INFINITE_DISTANCE, prefix_distances
from model.tiering.streamed_fleet import simulate_chat_fleet
from model.checks import ParameterError, check_int
from model.workload import CharacterChatParams, Trace


def workload_summary(trace: Trace) -> dict:
    """:meth:`model.workload.Trace.summary` plus ``ideal_hit_ratio`` (share of block lookups whose whole
    prefix was seen before) and ``ideal_token_hit_ratio`` (share of prompt tokens in them)."""
    row = trace.summary()
    hit = prefix_distances(trace) != INFINITE_DISTANCE
    tok = trace.block_token_counts()
    row["ideal_hit_ratio"] = float(hit.mean()) if len(hit) else math.nan
    row["ideal_token_hit_ratio"] = float(tok[hit].sum() / tok.sum()) if tok.sum() else math.nan
    return row


def ideal_reuse_measures(trace: Trace) -> pd.DataFrame:
    """The ideal hit ratio of ``trace`` counted five ways: block lookups, prompt tokens, full blocks only,
    mean over requests of their reused share, and lookups of the second half of the trace (arrival at or
    after the median; the cache warmed by the first half).

    Returns
    -------
    pandas.DataFrame
        ``measure, ideal_hit_ratio``.
    """
    hit = prefix_distances(trace) != INFINITE_DISTANCE
    tok = trace.block_token_counts()
    req = trace.request_of_block()
    late = trace.arrival_s[req] >= np.median(trace.arrival_s)
    per_request = np.bincount(req, weights=hit, minlength=trace.n_requests) / trace.blocks_per_request()
    full = tok == trace.block_tokens
    return pd.DataFrame([
        {"measure": "block lookups served (prefix semantics)", "ideal_hit_ratio": float(hit.mean())},
        {"measure": "prompt tokens served", "ideal_hit_ratio": float(tok[hit].sum() / tok.sum())},
        {"measure": f"full {trace.block_tokens}-token blocks only",
         "ideal_hit_ratio": float(hit[full].mean()) if full.any() else math.nan},
        {"measure": "mean over requests of their reused share", "ideal_hit_ratio": float(per_request.mean())},
        {"measure": "second half of the trace (cache warmed by the first)", "ideal_hit_ratio": float(hit[late].mean())},
    ])


def turns_past_window_share(trace: Trace, window_turns: int) -> float:
    """Share of a chat trace's requests whose turn (0-based, in arrival order within its session) is past a
    history window of ``window_turns`` whole turns: their oldest turn has been dropped, so their history
    prefix differs from the previous turn's."""
    check_int("window_turns", window_turns, low=0)
    if trace.session is None:
        raise ParameterError("trace", trace.name, "a trace with sessions (a generated chat trace)")
    turn = pd.Series(trace.session).groupby(trace.session).cumcount().to_numpy()
    return float(np.mean(turn > window_turns)) if len(turn) else math.nan


def session_node_reuse(sessions_per_node: int, *, model: str, gpu: str, duration_s: float | None = None,
                       name: str = "sessions_per_node") -> dict:
    """One session-routed node of character chat (the fleet-cache chapter's node: one prefill instance of
    ``model`` on ``gpu``, :func:`model.tiering.config.default_config`) holding ``sessions_per_node`` concurrent
    sessions that start over ``duration_s`` seconds (default: the generator's): the summary of its replay
    (:meth:`model.tiering.streamed_fleet.ScaleResult.summary`; ``prefill_tokens_saved_share`` is the share of
    prompt tokens its cache serves).

    Raises
    ------
    ParameterError
        naming ``name`` (the caller's parameter) when no session of the node sends a request in that window:
        too few sessions for it, and nothing to measure.
    """
    n = check_int(name, sessions_per_node, low=1)
    chat = CharacterChatParams(concurrent_sessions=n, **({} if duration_s is None else {"duration_s": duration_s}))
    result = simulate_chat_fleet(chat, default_config(model=model, gpu=gpu, n_instances=1), 1, "session")
    if not any(r["requests"] for r in result.nodes):
        raise ParameterError(name, sessions_per_node, f"enough sessions for one to send a request within "
                             f"{chat.duration_s:g} s (none of {n} did)")
    return result.summary()
