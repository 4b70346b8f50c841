"""The synthetic character-chat workload: sessions arrive as a Poisson process (Little's law), each picks a
character by Zipf popularity and runs its turns; the prompt is persona + history window + user message, with
block ids that share the persona and the history prefix the way a prefix cache sees them.

:func:`iter_character_chat` streams time-ordered chunks, so a trace of a million sessions never needs to be
in memory at once (:func:`model.workload.public_traces.write_jsonl` writes such a stream).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from model.parameters import default
from model.checks import (ParameterError, check_choice, check_fraction, check_int, check_nonnegative,
                              check_number, check_positive)
from model.workload.popularity import ZipfSampler
from model.workload.trace import Trace, _take, concat_traces

#: Block groups of the character-chat workload.
CHAT_GROUPS = ("shared_persona", "persona_popular", "persona_tail", "history")
_CHAR_BASE = 1 << 40      # character persona blocks: _CHAR_BASE + character * blocks_per_persona + j
_HIST_BASE = 1 << 61      # history blocks: _HIST_BASE + (session << 32 | epoch << 12 | j)
_PART_BASE = 1 << 62      # blocks new at every turn: _PART_BASE + (session << 20 | turn), or with memory tokens
#                            _PART_BASE + (session << 32 | turn << 12 | j)


@dataclass(frozen=True)
class CharacterChatParams:
    """Parameters of the synthetic character-chat workload (defaults: ``data/parameters/workload.csv``,
    each from the case study's figures).

    Attributes
    ----------
    n_characters : int
        Characters (personas), popularity-ranked; case study §1: 5M.
    zipf_exponent : float
        Popularity of the character of rank r (0-based) ∝ (r + 1) ** -zipf_exponent.
    popular_characters : int
        Top-ranked characters whose persona blocks form the ``persona_popular`` group (§7: top 100K).
    shared_persona_tokens : int
        General persona prefix shared by every character (§7 layering: 1K).
    character_persona_tokens : int
        Character-specific traits after it (§7 layering: 1K; 10K before compression).
    concurrent_sessions : float
        Mean number of sessions in progress; sessions arrive as a Poisson process of rate
        concurrent_sessions / mean session duration (Little's law).
    mean_turns : float
        Mean turns per session (§1: 200).
    turns_distribution : {"geometric", "fixed"}
        Turns per session: geometric on 1, 2, ... with mean ``mean_turns``, or exactly ``mean_turns``.
    session_minutes : float
        Mean session duration, minutes (§1: 30); the think time between turns is exponential with mean
        session_minutes × 60 / mean_turns.
    tokens_per_turn : int
        Tokens a turn adds to the history (user message + reply); §1's 10K tokens over 200 turns = 50.
    reply_share : float
        Share of a turn's tokens that is the generated reply (the output of the request).
    history_window_tokens : int
        History kept in the prompt (§1: 10K); older turns are dropped whole, which changes the prompt's
        history prefix (new block ids).
    memory_tokens : int
        Tokens between the history window and the user's message that change at every turn (a summary of
        older turns, retrieved memories); 0 by default. Every block that reaches into them is new at each
        turn.
    duration_s : float
        Sessions start in [0, duration_s); their later turns may arrive after it.
    block_tokens : int
        Tokens per prefix block (512, as in the Mooncake trace).
    """

    n_characters: int = field(default_factory=lambda: int(default("chat_characters")))
    zipf_exponent: float = field(default_factory=lambda: default("chat_zipf_exponent"))
    popular_characters: int = field(default_factory=lambda: int(default("chat_popular_characters")))
    shared_persona_tokens: int = field(default_factory=lambda: int(default("chat_shared_persona_tokens")))
    character_persona_tokens: int = field(default_factory=lambda: int(default("chat_character_persona_tokens")))
    concurrent_sessions: float = field(default_factory=lambda: default("chat_concurrent_sessions"))
    mean_turns: float = field(default_factory=lambda: default("chat_turns_per_session"))
    turns_distribution: str = "geometric"
    session_minutes: float = field(default_factory=lambda: default("chat_session_minutes"))
    tokens_per_turn: int = field(default_factory=lambda: int(default("chat_tokens_per_turn")))
    reply_share: float = field(default_factory=lambda: default("chat_reply_share"))
    history_window_tokens: int = field(default_factory=lambda: int(default("chat_history_window_tokens")))
    memory_tokens: int = field(default_factory=lambda: int(default("chat_memory_tokens")))
    duration_s: float = field(default_factory=lambda: default("chat_duration_s"))
    block_tokens: int = field(default_factory=lambda: int(default("mooncake_block_tokens")))

    def __post_init__(self):
        check_int("n_characters", self.n_characters, low=1, high=1 << 36)
        check_nonnegative("zipf_exponent", self.zipf_exponent)
        check_int("popular_characters", self.popular_characters, low=0, high=self.n_characters)
        check_int("shared_persona_tokens", self.shared_persona_tokens, low=0)
        check_int("character_persona_tokens", self.character_persona_tokens, low=0)
        check_positive("concurrent_sessions", self.concurrent_sessions)
        check_number("mean_turns", self.mean_turns, low=1.0)
        check_choice("turns_distribution", self.turns_distribution, ("geometric", "fixed"))
        check_positive("session_minutes", self.session_minutes)
        check_int("tokens_per_turn", self.tokens_per_turn, low=2)
        check_fraction("reply_share", self.reply_share, allow_zero=False, allow_one=False)
        check_int("history_window_tokens", self.history_window_tokens, low=self.tokens_per_turn)
        check_int("memory_tokens", self.memory_tokens, low=0)
        check_int("block_tokens", self.block_tokens, low=1)
        if -(-(self.persona_tokens + self.history_window_tokens + self.memory_tokens + self.tokens_per_turn)
             // self.block_tokens) >= 1 << 12:
            raise ParameterError("history_window_tokens", self.history_window_tokens,
                                 f"small enough for a prompt of fewer than 4096 blocks of {self.block_tokens} tokens")
        check_positive("duration_s", self.duration_s)

    @property
    def persona_tokens(self) -> int:
        """Whole persona prompt: shared + character-specific tokens."""
        return self.shared_persona_tokens + self.character_persona_tokens

    @property
    def session_rate_per_s(self) -> float:
        """Poisson arrival rate of sessions, sessions/s (Little's law: concurrent / mean duration)."""
        return self.concurrent_sessions / (self.session_minutes * 60.0)

    @property
    def think_time_s(self) -> float:
        """Mean time between turns of a session, s."""
        return self.session_minutes * 60.0 / self.mean_turns

    @property
    def user_tokens(self) -> int:
        """Tokens of the user's message in a turn."""
        return self.tokens_per_turn - self.reply_tokens

    @property
    def reply_tokens(self) -> int:
        """Tokens of the generated reply in a turn."""
        return max(1, int(round(self.tokens_per_turn * self.reply_share)))

    @property
    def window_turns(self) -> int:
        """Whole past turns the history window holds."""
        return self.history_window_tokens // self.tokens_per_turn


def iter_character_chat(params: CharacterChatParams | None = None, *, seed: int = 0,
                        chunk_sessions: int | None = None, max_sessions: int | None = None) -> Iterator[Trace]:
    """Stream the character-chat workload as time-ordered :class:`Trace` chunks.

    Sessions arrive as a Poisson process over ``[0, params.duration_s)``; each picks a character by Zipf
    popularity and runs its turns with exponential think times. The prompt of turn t is
    ``persona + history + user message`` where history holds the last ``window_turns`` whole turns; the
    prompt of turn t is a prefix of that of turn t + 1 until the window slides. Block ids: the shared
    persona's full blocks are common to all, a character's full persona blocks to all its sessions, the full
    history blocks to the session's turns (until the window slides), and the last partial block is unique.

    Parameters
    ----------
    params : CharacterChatParams, optional
        Workload parameters (defaults from the case study).
    seed : int
        Seed of the ``numpy.random.Generator``: the same seed gives the same stream.
    chunk_sessions : int, optional
        Sessions generated per step (memory bound); default ``chat_chunk_sessions``.
    max_sessions : int, optional
        Stop after this many sessions (whatever ``duration_s`` says).

    Yields
    ------
    Trace
        Chunks in arrival order (concatenate with :func:`concat_traces`, or write with :func:`write_jsonl`).
        Chunk ``block_group`` indexes :data:`CHAT_GROUPS`; ``session`` and ``character`` are set.
    """
    p = params or CharacterChatParams()
    chunk = int(default("chat_chunk_sessions")) if chunk_sessions is None else check_int(
        "chunk_sessions", chunk_sessions, low=1)
    cap = math.inf if max_sessions is None else check_int("max_sessions", max_sessions, low=1)
    rng = np.random.default_rng(seed)
    sampler = ZipfSampler(p.n_characters, p.zipf_exponent)
    pending: list[Trace] = []
    t_next = 0.0
    first_session = 0
    while True:
        if first_session + chunk >= 1 << 29:
            raise ParameterError("max_sessions", first_session + chunk, "fewer than 2**29 sessions per stream")
        # session arrival times of this step
        gaps = rng.exponential(1.0 / p.session_rate_per_s, size=chunk)
        starts = t_next + np.cumsum(gaps)
        keep = starts < p.duration_s
        if first_session + chunk > cap:
            keep[int(cap - first_session):] = False
        starts = starts[keep]
        done = len(starts) < chunk
        if len(starts):
            pending.append(_chat_sessions(p, rng, sampler, starts, first_session))
            first_session += len(starts)
            t_next = float(starts[-1])
        horizon = math.inf if done else t_next  # sessions still to come start after t_next
        if pending:
            merged = concat_traces(pending) if len(pending) > 1 else pending[0]
            order = np.argsort(merged.arrival_s, kind="stable")
            n_out = int(np.searchsorted(merged.arrival_s[order], horizon, side="left"))
            if n_out:
                yield _take(merged, order[:n_out])
            pending = [_take(merged, order[n_out:])] if n_out < merged.n_requests else []
        if done:
            return


def iter_character_chat_windows(params: CharacterChatParams | None = None, *, seed: int = 0,
                                window_s: float | None = None, max_sessions: int | None = None) -> Iterator[Trace]:
    """The character-chat workload of :func:`iter_character_chat` (same laws: Poisson session starts, Zipf
    characters, geometric or fixed turns, exponential think times), drawn turn by turn in time windows, so
    that memory holds the sessions in progress and one window's requests, never the whole trace: at a million
    concurrent sessions a few tens of MB of session state. (The draws come in another order than
    :func:`iter_character_chat`'s, so the two streams are different samples of the same workload.)

    Parameters
    ----------
    params : CharacterChatParams, optional
    seed : int
        Seed of the ``numpy.random.Generator``.
    window_s : float, optional
        Length of one window, s (default: an eighth of the mean think time, ``params.think_time_s``).
    max_sessions : int, optional
        Start at most this many sessions.

    Yields
    ------
    Trace
        The requests arriving in each window, in arrival order (empty windows are skipped).
    """
    p = params or CharacterChatParams()
    w = p.think_time_s / 8 if window_s is None else check_positive("window_s", window_s)
    cap = math.inf if max_sessions is None else check_int("max_sessions", max_sessions, low=1)
    rng = np.random.default_rng(seed)
    sampler = ZipfSampler(p.n_characters, p.zipf_exponent)
    sess = np.zeros(0, np.int64)
    char = np.zeros(0, np.int64)
    turns = np.zeros(0, np.int64)
    turn = np.zeros(0, np.int64)
    nxt = np.zeros(0, np.float64)
    started = 0
    t = 0.0
    while t < p.duration_s or len(sess):
        end = t + w
        if t < p.duration_s and started < cap:
            span = min(end, p.duration_s) - t
            n = int(min(rng.poisson(p.session_rate_per_s * span), cap - started))
            if n:
                starts = t + np.sort(rng.uniform(0.0, span, n))
                if p.turns_distribution == "fixed":
                    k = np.full(n, max(1, int(round(p.mean_turns))), dtype=np.int64)
                else:
                    k = rng.geometric(1.0 / p.mean_turns, size=n).astype(np.int64)
                sess = np.concatenate([sess, np.arange(started, started + n, dtype=np.int64)])
                char = np.concatenate([char, sampler.sample(rng, n).astype(np.int64)])
                turns = np.concatenate([turns, k])
                turn = np.concatenate([turn, np.zeros(n, np.int64)])
                nxt = np.concatenate([nxt, starts])
                started += n
        out_s, out_t, out_a, out_c = [], [], [], []
        while True:
            due = np.flatnonzero(nxt < end)
            if len(due) == 0:
                break
            out_s.append(sess[due])
            out_t.append(turn[due])
            out_a.append(nxt[due])
            out_c.append(char[due])
            turn[due] += 1
            nxt[due] += rng.exponential(p.think_time_s, size=len(due))
            alive = turn < turns
            if not alive.all():
                sess, char, turns, turn, nxt = sess[alive], char[alive], turns[alive], turn[alive], nxt[alive]
        if out_s:
            a = np.concatenate(out_a)
            order = np.argsort(a, kind="stable")
            yield _chat_requests(p, np.concatenate(out_s)[order], np.concatenate(out_t)[order], a[order],
                                 np.concatenate(out_c)[order])
        t = end


def character_chat_trace(params: CharacterChatParams | None = None, *, seed: int = 0,
                         max_sessions: int | None = None, name: str = "character-chat",
                         names: dict[str, str] | None = None) -> Trace:
    """The whole character-chat workload in memory (see :func:`iter_character_chat`).

    ``names`` maps a field of :class:`CharacterChatParams` to the caller's name for it (a chapter's
    ``chat_duration_s``), used by the error raised when no session starts within ``duration_s``.
    """
    chunks = list(iter_character_chat(params, seed=seed, max_sessions=max_sessions))
    if not chunks:
        raise ParameterError((names or {}).get("duration_s", "duration_s"),
                             (params or CharacterChatParams()).duration_s,
                             "long enough for at least one session to start")
    return replace(concat_traces(chunks), name=name)


def _chat_sessions(p: CharacterChatParams, rng: np.random.Generator, sampler: ZipfSampler,
                   starts: np.ndarray, first_session: int) -> Trace:
    """All turns of sessions starting at ``starts`` (vectorised)."""
    n_s = len(starts)
    chars = sampler.sample(rng, n_s)
    if p.turns_distribution == "fixed":
        turns = np.full(n_s, max(1, int(round(p.mean_turns))), dtype=np.int64)
    else:
        turns = rng.geometric(1.0 / p.mean_turns, size=n_s).astype(np.int64)
    sess = np.repeat(np.arange(first_session, first_session + n_s, dtype=np.int64), turns)
    offs = np.zeros(n_s + 1, dtype=np.int64)
    np.cumsum(turns, out=offs[1:])
    turn = np.arange(offs[-1], dtype=np.int64) - np.repeat(offs[:-1], turns)
    gaps = rng.exponential(p.think_time_s, size=int(offs[-1]))
    gaps[offs[:-1]] = 0.0  # first turn at the session start
    csum = np.cumsum(gaps)
    arrival = np.repeat(starts, turns) + csum - np.repeat(csum[offs[:-1]], turns)
    char = np.repeat(chars, turns)
    return _chat_requests(p, sess, turn, arrival, char)


def _chat_requests(p: CharacterChatParams, sess: np.ndarray, turn: np.ndarray, arrival: np.ndarray,
                   char: np.ndarray) -> Trace:
    """The requests (turn ``turn`` of session ``sess`` of character ``char`` at ``arrival``) with their
    prompts' blocks (no random draws: the prompt follows from the session, the turn and the character)."""
    w = p.window_turns
    epoch = np.maximum(turn - w, 0)                      # first turn still in the window
    hist_turns = turn - epoch
    hist_end = p.persona_tokens + hist_turns * p.tokens_per_turn
    input_tokens = hist_end + p.memory_tokens + p.user_tokens
    output_tokens = np.full(len(turn), p.reply_tokens, dtype=np.int64)
    bt = p.block_tokens
    n_blocks = -(-input_tokens // bt)
    boffs = np.zeros(len(turn) + 1, dtype=np.int64)
    np.cumsum(n_blocks, out=boffs[1:])
    rq = np.repeat(np.arange(len(turn)), n_blocks)
    j = np.arange(boffs[-1], dtype=np.int64) - boffs[:-1][rq]
    end = (j + 1) * bt                                    # token just past block j
    shared_full = p.shared_persona_tokens // bt
    persona_full = p.persona_tokens // bt
    blocks_per_persona = persona_full - shared_full
    full = end <= input_tokens[rq]
    is_shared = j < shared_full
    is_persona = (~is_shared) & (j < persona_full)
    ids = np.where(is_shared, j, 0)
    ids = np.where(is_persona, _CHAR_BASE + char[rq] * max(blocks_per_persona, 1) + (j - shared_full), ids)
    if p.memory_tokens:   # a block reaching into the turn's memory tokens is new at every turn
        full = end <= hist_end[rq]
    hist = (~is_shared) & (~is_persona) & full
    ids = np.where(hist, _HIST_BASE + ((sess[rq] << 32) | (epoch[rq] << 12) | j), ids)
    part = (~is_shared) & (~is_persona) & (~full)
    ids = np.where(part, _PART_BASE + ((sess[rq] << 32) | (turn[rq] << 12) | j) if p.memory_tokens
                   else _PART_BASE + ((sess[rq] << 20) | turn[rq]), ids)
    group = np.full(len(j), CHAT_GROUPS.index("history"), dtype=np.int32)
    group[is_shared] = CHAT_GROUPS.index("shared_persona")
    popular = char[rq] < p.popular_characters
    group[is_persona & popular] = CHAT_GROUPS.index("persona_popular")
    group[is_persona & ~popular] = CHAT_GROUPS.index("persona_tail")
    return Trace(name="character-chat", arrival_s=arrival, input_tokens=input_tokens.astype(np.int64),
                 output_tokens=output_tokens, block_offsets=boffs, block_ids=ids.astype(np.int64),
                 block_tokens=bt, block_group=group, group_names=CHAT_GROUPS, session=sess, character=char)
