"""Token volume of a chat service: sessions in progress → sessions and turns per month (Little's law) →
input and output tokens per month, with the persona and history each turn re-sends.

Units: tokens, minutes, months of :func:`model.calendar.hours_per_month` hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.calendar import hours_per_month
from model.checks import check_fraction, check_int, check_nonnegative, check_number, check_positive

MINUTES_PER_HOUR = 60.0


@dataclass(frozen=True)
class ChatWorkload:
    """Sessions of a chat service and the tokens each turn carries.

    Attributes
    ----------
    concurrent_sessions : float
        Mean number of sessions open at any time (≥ 0).
    session_minutes : float
        Mean length of a session, minutes.
    turns_per_session : int
        Turns (one user message + one reply) per session.
    tokens_per_turn : float
        New tokens per turn: the user message plus the reply.
    reply_share : float
        Share of ``tokens_per_turn`` that is the reply (output tokens), in [0, 1].
    persona_tokens : float
        System prompt (character persona) sent with every turn, tokens.
    resend_history : bool
        Whether every turn re-sends the conversation so far (the stateless chat-API pattern).
    history_cap_tokens : float
        Most history tokens re-sent per turn (a context window or the kept history; ``inf`` = all).
    cached_input_share : float
        Share of input tokens served from a prompt (prefix) cache, in [0, 1].
    """

    concurrent_sessions: float
    session_minutes: float
    turns_per_session: int
    tokens_per_turn: float
    reply_share: float
    persona_tokens: float = 0.0
    resend_history: bool = True
    history_cap_tokens: float = math.inf
    cached_input_share: float = 0.0

    def __post_init__(self):
        check_nonnegative("concurrent_sessions", self.concurrent_sessions)
        check_positive("session_minutes", self.session_minutes)
        check_int("turns_per_session", self.turns_per_session, low=1)
        check_nonnegative("tokens_per_turn", self.tokens_per_turn)
        check_fraction("reply_share", self.reply_share)
        check_nonnegative("persona_tokens", self.persona_tokens)
        if not (self.history_cap_tokens == math.inf):
            check_nonnegative("history_cap_tokens", self.history_cap_tokens)
        check_fraction("cached_input_share", self.cached_input_share)

    def sessions_per_month(self) -> float:
        """Sessions started per month: concurrent × (minutes per month / session minutes) (Little's law)."""
        return self.concurrent_sessions * hours_per_month() * MINUTES_PER_HOUR / self.session_minutes

    def turns_per_month(self) -> float:
        """Turns per month over all sessions."""
        return self.sessions_per_month() * self.turns_per_session

    def input_tokens_by_turn(self) -> np.ndarray:
        """Input tokens of turn 1..N of a session: persona + re-sent history (capped) + the user message."""
        k = np.arange(self.turns_per_session, dtype=float)
        history = np.minimum(k * self.tokens_per_turn, self.history_cap_tokens) if self.resend_history else 0.0 * k
        return self.persona_tokens + history + self.tokens_per_turn * (1.0 - self.reply_share)

    def output_tokens_per_turn(self) -> float:
        """Reply tokens per turn."""
        return self.tokens_per_turn * self.reply_share


@dataclass(frozen=True)
class TokenVolume:
    """Tokens per month.

    Attributes
    ----------
    input_tokens, cached_input_tokens, output_tokens : float
        Per month; ``cached_input_tokens`` is the part of ``input_tokens`` served from a prompt cache.
    turns : float
        Turns per month.
    """

    input_tokens: float
    cached_input_tokens: float
    output_tokens: float
    turns: float

    @property
    def total_tokens(self) -> float:
        return self.input_tokens + self.output_tokens

    @property
    def new_input_tokens(self) -> float:
        """Input tokens not served from a cache."""
        return self.input_tokens - self.cached_input_tokens


def monthly_tokens(w: ChatWorkload) -> TokenVolume:
    """Tokens per month of workload ``w`` (input re-sends persona and history as ``w`` says)."""
    sessions = w.sessions_per_month()
    inputs = sessions * float(w.input_tokens_by_turn().sum())
    outputs = sessions * w.turns_per_session * w.output_tokens_per_turn()
    return TokenVolume(inputs, inputs * w.cached_input_share, outputs, w.turns_per_month())


def stated_product(*factors: float) -> float:
    """Plain product of figures as a source multiplies them (to show what its own formula gives)."""
    return float(np.prod([check_number("factor", f) for f in factors]))
