"""Request streams offered to a serving replica: arrival times with prompt and output lengths
(:class:`Workload`), drawn as Poisson arrivals with fixed or sampled lengths, from the Azure conversation
trace, or as multi-turn chat sessions. All draws are seeded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.checks import ParameterError, check_int, check_nonnegative, check_positive


@dataclass(frozen=True)
class Workload:
    """Requests: arrival times (s, non-decreasing), prompt and output lengths (tokens, ≥ 1).

    ``cached_tokens`` (optional, tokens per request, 0 ≤ cached ≤ prompt) is the prefix of each prompt whose
    KV is already held (a prefix cache hit): the replica loads it instead of recomputing it, so the prefill
    computes only the remaining prompt tokens, attending over the cached ones; the whole prompt still takes
    KV memory. ``None`` (the default) is no cache, every prompt prefilled whole.
    """

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    name: str = "workload"
    cached_tokens: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.arrival_s)
        if n == 0 or len(self.prompt_tokens) != n or len(self.output_tokens) != n:
            raise ParameterError("workload", n, "non-empty arrays of equal length")
        if np.any(np.diff(self.arrival_s) < 0) or self.arrival_s[0] < 0:
            raise ParameterError("arrival_s", "unsorted or negative", "non-decreasing times >= 0")
        if self.prompt_tokens.min() < 1 or self.output_tokens.min() < 1:
            raise ParameterError("lengths", "value < 1", "prompt and output lengths >= 1 token")
        if self.cached_tokens is not None:
            c = np.asarray(self.cached_tokens)
            if c.shape != (n,):
                raise ParameterError("cached_tokens", f"shape {c.shape}", f"one count per request ({n})")
            if c.min() < 0:
                raise ParameterError("cached_tokens", int(c.min()), "a count of tokens >= 0")
            over = np.flatnonzero(c > self.prompt_tokens)
            if over.size:
                i = int(over[0])
                raise ParameterError("cached_tokens", int(c[i]),
                                     f"<= the request's prompt_tokens ({int(self.prompt_tokens[i])}, request {i})")

    @property
    def cached(self) -> np.ndarray:
        """Cached prompt tokens per request (zeros without a prefix cache)."""
        if self.cached_tokens is None:
            return np.zeros(len(self.arrival_s), np.int64)
        return np.asarray(self.cached_tokens, np.int64)

    def __len__(self) -> int:
        return len(self.arrival_s)

    @property
    def mean_prompt(self) -> float:
        return float(self.prompt_tokens.mean())

    @property
    def mean_output(self) -> float:
        return float(self.output_tokens.mean())


@lru_cache(maxsize=1)
def azure_conversation_lengths() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(arrival s from the first request, prompt tokens, output tokens) of the Azure 2023 conversation trace,
    read (checksum verified, records validated) by :func:`model.workload.load_azure_trace`."""
    from model.workload import load_azure_trace

    trace = load_azure_trace()
    return trace.arrival_s, trace.input_tokens, trace.output_tokens


def _arrivals(n: int, rate_per_s: float, rng: np.random.Generator) -> np.ndarray:
    if math.isinf(rate_per_s):
        return np.zeros(n)
    return np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))


def poisson_workload(n_requests: int, rate_per_s: float, *, prompt_tokens, output_tokens,
                     seed: int = 0, name: str = "poisson", cached_tokens: int = 0) -> Workload:
    """Poisson arrivals at ``rate_per_s`` (``math.inf``: all at time 0, the overload case) with fixed lengths
    (ints) or lengths drawn uniformly with replacement from given arrays.

    ``cached_tokens`` (tokens, 0 ≤ cached ≤ every prompt) of each prompt are a prefix cache hit
    (:class:`Workload`); 0, the default, is no cache and draws exactly the workload it drew before."""
    c = check_int("cached_tokens", cached_tokens, low=0)
    n = check_int("n_requests", n_requests, low=1)
    if not math.isinf(rate_per_s):
        check_positive("rate_per_s", rate_per_s)
    rng = np.random.default_rng(seed)
    arrival = _arrivals(n, rate_per_s, rng)

    def draw(spec, label):
        if np.isscalar(spec):
            return np.full(n, check_int(label, spec, low=1), dtype=np.int64)
        pool = np.asarray(spec, dtype=np.int64)
        return pool[rng.integers(0, len(pool), size=n)]

    prompt, output = draw(prompt_tokens, "prompt_tokens"), draw(output_tokens, "output_tokens")
    if c > int(prompt.min()):
        raise ParameterError("cached_tokens", c, f"<= prompt_tokens ({int(prompt.min())}, the shortest prompt)")
    return Workload(arrival, prompt, output, name, None if c == 0 else np.full(n, c, np.int64))


def azure_workload(n_requests: int, rate_per_s: float | None = None, *, seed: int = 0,
                   max_total_tokens: int | None = None) -> Workload:
    """Requests with (prompt, output) pairs of the Azure conversation trace.

    ``rate_per_s=None`` replays the trace's own first ``n_requests`` arrivals; otherwise pairs are drawn with
    replacement (seeded) and arrive as a Poisson process at ``rate_per_s``. Pairs whose prompt + output
    exceed ``max_total_tokens`` (e.g. the model's native context) are left out of the pool.
    """
    arrival, prompt, output = azure_conversation_lengths()
    n = check_int("n_requests", n_requests, low=1)
    keep = np.ones(len(prompt), bool) if max_total_tokens is None else (prompt + output <= max_total_tokens)
    if rate_per_s is None:
        idx = np.flatnonzero(keep)[:n]
        return Workload(arrival[idx] - arrival[idx[0]], prompt[idx], output[idx], "azure-conv trace")
    if not math.isinf(rate_per_s):
        check_positive("rate_per_s", rate_per_s)
    rng = np.random.default_rng(seed)
    pick = rng.choice(np.flatnonzero(keep), size=n, replace=True)
    return Workload(_arrivals(n, rate_per_s, rng), prompt[pick], output[pick], "azure-conv lengths")


def session_workload(n_sessions: int, turns: int, *, session_rate_per_s: float, think_time_s: float,
                     user_tokens: int, reply_tokens: int, system_tokens: int = 0, seed: int = 0,
                     assumed_turn_s: float = 0.0) -> Workload:
    """Multi-turn chat sessions: sessions start as a Poisson process; turn k of a session arrives
    ``think_time_s`` (exponential, mean) after the previous turn's arrival plus ``assumed_turn_s`` (an open-loop
    approximation of the reply time); its prompt is the whole history (system + k user messages + k − 1
    replies) and it generates ``reply_tokens`` tokens."""
    ns = check_int("n_sessions", n_sessions, low=1)
    nt = check_int("turns", turns, low=1)
    check_positive("session_rate_per_s", session_rate_per_s)
    check_nonnegative("think_time_s", think_time_s)
    rng = np.random.default_rng(seed)
    start = np.cumsum(rng.exponential(1 / session_rate_per_s, size=ns))
    gaps = rng.exponential(think_time_s, size=(ns, nt)) if think_time_s > 0 else np.zeros((ns, nt))
    gaps[:, 0] = 0
    arrival = start[:, None] + np.cumsum(gaps + assumed_turn_s * (np.arange(nt) > 0), axis=1)
    k = np.arange(1, nt + 1)
    prompt = np.broadcast_to(system_tokens + k * user_tokens + (k - 1) * reply_tokens, (ns, nt))
    order = np.argsort(arrival, axis=None, kind="stable")
    return Workload(arrival.ravel()[order], prompt.ravel()[order].astype(np.int64),
                    np.full(ns * nt, check_int("reply_tokens", reply_tokens, low=1), np.int64), "sessions")
