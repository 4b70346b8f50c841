"""Persona prompts and conversation memory of a character-chat service, as arithmetic on its parameters:
what sending the persona with every request costs a month, how many personas a memory budget holds, what
a static or LRU persona cache hits under Zipf popularity, and what tiered memory (recent turns raw, a
summary of older turns, retrieved snippets of the oldest) sends instead of the full history.

Everything here takes its figures as arguments (:class:`PersonaInputs`); nothing reads the source documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.parameters import default
from model.checks import ParameterError, check_int, check_nonnegative, check_positive
from model.workload.popularity import binned_zipf, cache_hit_ratio, che_lru_hit_ratio, zipf_pmf


@dataclass(frozen=True)
class PersonaInputs:
    """Figures of a character-chat service that set its persona and memory costs.

    Attributes
    ----------
    characters : int
        Characters (personas) in the catalogue.
    popular_characters : int
        Personas a persona cache holds (the most popular ones).
    persona_tokens_before, persona_tokens_after : int
        Persona prompt before and after compression, tokens.
    concurrent_sessions : float
        Session slots (sessions in progress at the peak).
    session_minutes : float
        Mean session length, minutes.
    turns_per_session : int
        Turns (requests) per session.
    sessions_per_slot_month : float
        Sessions a slot serves a month under the light reading of "concurrent" (e.g. 30: one a day);
        the heavy reading is :attr:`little_sessions_per_slot_month` (slots always busy).
    self_hosted_usd_per_million, api_usd_per_million : float
        Prompt-token prices, USD per million tokens.
    short_turns : int
        Most recent turns sent raw (short-term memory).
    mid_last_turn : int
        Last turn (counting back) summarised as mid-term memory; older turns are long-term memory.
    mid_summary_tokens, long_rag_tokens : int
        Tokens of the mid-term summary and of the long-term retrieved snippets sent with each request.
    hours_per_month : float
        Hours in a month (default ``hours_per_month`` of ``data/parameters``).
    """

    characters: int
    popular_characters: int
    persona_tokens_before: int
    persona_tokens_after: int
    concurrent_sessions: float
    session_minutes: float
    turns_per_session: int
    sessions_per_slot_month: float
    self_hosted_usd_per_million: float
    api_usd_per_million: float
    short_turns: int
    mid_last_turn: int
    mid_summary_tokens: int
    long_rag_tokens: int
    hours_per_month: float = field(default_factory=lambda: default("hours_per_month"))

    def __post_init__(self):
        check_int("characters", self.characters, low=2)
        check_int("popular_characters", self.popular_characters, low=1, high=self.characters - 1)
        check_int("persona_tokens_before", self.persona_tokens_before, low=1)
        check_int("persona_tokens_after", self.persona_tokens_after, low=1)
        check_positive("concurrent_sessions", self.concurrent_sessions)
        check_positive("session_minutes", self.session_minutes)
        check_int("turns_per_session", self.turns_per_session, low=1)
        check_positive("sessions_per_slot_month", self.sessions_per_slot_month)
        check_positive("self_hosted_usd_per_million", self.self_hosted_usd_per_million)
        check_positive("api_usd_per_million", self.api_usd_per_million)
        check_int("short_turns", self.short_turns, low=0, high=self.turns_per_session)
        check_int("mid_last_turn", self.mid_last_turn, low=self.short_turns, high=self.turns_per_session)
        check_int("mid_summary_tokens", self.mid_summary_tokens, low=0)
        check_int("long_rag_tokens", self.long_rag_tokens, low=0)
        check_positive("hours_per_month", self.hours_per_month)

    @property
    def little_sessions_per_slot_month(self) -> float:
        """Sessions an always-busy slot runs a month: back to back, ``session_minutes`` each."""
        return self.hours_per_month * 60.0 / self.session_minutes

    @property
    def requests_per_month(self) -> float:
        """Turns served a month by ``concurrent_sessions`` always-busy slots (Little's law)."""
        return self.concurrent_sessions * self.little_sessions_per_slot_month * self.turns_per_session

    @property
    def slot_requests_per_month(self) -> float:
        """Turns served a month when each slot serves ``sessions_per_slot_month`` sessions."""
        return self.concurrent_sessions * self.sessions_per_slot_month * self.turns_per_session


def monthly_prompt_cost(requests_per_month: float, tokens_per_request: float, usd_per_million: float) -> float:
    """USD a month of sending ``tokens_per_request`` prompt tokens with each of ``requests_per_month`` requests
    at ``usd_per_million`` USD per million tokens."""
    check_nonnegative("requests_per_month", requests_per_month)
    check_nonnegative("tokens_per_request", tokens_per_request)
    check_nonnegative("usd_per_million", usd_per_million)
    return requests_per_month * tokens_per_request * usd_per_million / 1e6


def persona_cost_table(x: PersonaInputs, *, gpu_prefill_usd_per_million: float) -> pd.DataFrame:
    """Monthly cost of sending the persona prompt with every request, before and after compression, on three
    $/token bases (self-hosted price, API price, prefill on rented GPUs) and two request volumes (each slot
    serving ``sessions_per_slot_month`` sessions; slots always busy).

    Columns: basis, usd_per_million_tokens, volume, sessions_per_slot_month, requests_per_month,
    usd_per_month_before, usd_per_month_after, change.
    """
    rows = []
    bases = [("self-hosted price", x.self_hosted_usd_per_million), ("API price", x.api_usd_per_million),
             ("prefill on rented GPUs (roofline)", gpu_prefill_usd_per_million)]
    volumes = [(f"{x.sessions_per_slot_month:,.4g} sessions per slot a month", x.sessions_per_slot_month,
                x.slot_requests_per_month),
               ("slots always busy (Little's law)", x.little_sessions_per_slot_month, x.requests_per_month)]
    for basis, price in bases:
        for vol, per_slot, req in volumes:
            before = monthly_prompt_cost(req, x.persona_tokens_before, price)
            after = monthly_prompt_cost(req, x.persona_tokens_after, price)
            rows.append({"basis": basis, "usd_per_million_tokens": price, "volume": vol,
                         "sessions_per_slot_month": per_slot, "requests_per_month": req,
                         "usd_per_month_before": before, "usd_per_month_after": after,
                         "change": after / before - 1})
    return pd.DataFrame(rows)


def static_hit_ratio(pmf: np.ndarray, capacity: int) -> float:
    """Hit ratio of a cache pinning the ``capacity`` most probable items (``pmf`` sorted, most popular first)."""
    c = check_int("capacity", capacity, low=0)
    return float(np.sum(pmf[:min(c, len(pmf))])) if c > 0 else 0.0


def persona_hit_table(characters: int, exponents: Sequence[float], capacities: Sequence[int]) -> pd.DataFrame:
    """Persona-cache hit ratio vs. Zipf exponent and cache capacity (personas held), for a static cache of
    the top ``capacity`` characters and an LRU cache (Che's approximation).

    Columns: zipf_exponent, capacity_personas, static_top_hit_ratio, lru_hit_ratio."""
    rows = []
    for s in exponents:
        pmf = zipf_pmf(characters, s)
        probs, counts = binned_zipf(characters, s)
        for c in capacities:
            c = int(c)
            rows.append({"zipf_exponent": s, "capacity_personas": c,
                         "static_top_hit_ratio": static_hit_ratio(pmf, c),
                         "lru_hit_ratio": che_lru_hit_ratio(probs, c, counts)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class MemoryTiers:
    """History tokens of one request under tiered memory (see :func:`memory_tiers`), tokens."""

    tokens_per_turn: float
    full_history_tokens: float
    short_raw_tokens: float
    mid_raw_tokens: float
    long_raw_tokens: float
    tokens_sent: float

    @property
    def change(self) -> float:
        """Relative change of the history sent: tokens_sent / full_history_tokens − 1."""
        return self.tokens_sent / self.full_history_tokens - 1


def memory_tiers(x: PersonaInputs, tokens_per_turn: float) -> MemoryTiers:
    """The history of a ``turns_per_session``-turn conversation at ``tokens_per_turn`` tokens a turn: in full,
    and under tiered memory (the last ``short_turns`` turns raw, turns up to ``mid_last_turn`` as a
    ``mid_summary_tokens`` summary, the rest as ``long_rag_tokens`` retrieved tokens)."""
    check_positive("tokens_per_turn", tokens_per_turn)
    n_mid = x.mid_last_turn - x.short_turns
    n_long = x.turns_per_session - x.mid_last_turn
    short = x.short_turns * tokens_per_turn
    return MemoryTiers(tokens_per_turn=tokens_per_turn, full_history_tokens=x.turns_per_session * tokens_per_turn,
                       short_raw_tokens=short, mid_raw_tokens=n_mid * tokens_per_turn,
                       long_raw_tokens=n_long * tokens_per_turn,
                       tokens_sent=short + x.mid_summary_tokens + x.long_rag_tokens)


def memory_tiers_table(x: PersonaInputs, tokens_per_turn: Sequence[float]) -> pd.DataFrame:
    """:func:`memory_tiers` for each of ``tokens_per_turn``, with the whole prompt (persona after compression
    + history) before and after.

    Columns: tokens_per_turn, full_history_tokens, short_raw_tokens, mid_raw_tokens, long_raw_tokens,
    tokens_sent, change, prompt_tokens_before, prompt_tokens_after, prompt_change."""
    if not len(tokens_per_turn):
        raise ParameterError("tokens_per_turn", list(tokens_per_turn), "at least one tokens-per-turn figure")
    rows = []
    for tpt in tokens_per_turn:
        m = memory_tiers(x, tpt)
        before = x.persona_tokens_after + m.full_history_tokens
        after = x.persona_tokens_after + m.tokens_sent
        rows.append({"tokens_per_turn": tpt, "full_history_tokens": m.full_history_tokens,
                     "short_raw_tokens": m.short_raw_tokens, "mid_raw_tokens": m.mid_raw_tokens,
                     "long_raw_tokens": m.long_raw_tokens, "tokens_sent": m.tokens_sent, "change": m.change,
                     "prompt_tokens_before": before, "prompt_tokens_after": after,
                     "prompt_change": after / before - 1})
    return pd.DataFrame(rows)


def fleet_persona_capacity(*, fleet_gpus: int, kv_budget_bytes_per_gpu: float, kv_bytes_per_token: float,
                           persona_tokens: int) -> int:
    """Personas whose KV cache fits in the HBM KV budget of the whole fleet (each GPU holding different
    ones, nothing else cached): fleet budget ÷ (persona tokens × KV bytes per token). A budget at or below
    zero (the weights alone fill the GPU) holds none."""
    check_int("fleet_gpus", fleet_gpus, low=1)
    check_positive("kv_bytes_per_token", kv_bytes_per_token)
    check_int("persona_tokens", persona_tokens, low=1)
    return int(fleet_gpus * max(kv_budget_bytes_per_gpu, 0.0) // (persona_tokens * kv_bytes_per_token))


def node_persona_capacity(*, fleet_gpus: int, gpus_per_node: int, dram_bytes_per_node: float,
                          kv_bytes_per_token: float, persona_tokens: int) -> int:
    """Personas whose KV cache fits in the host DRAM of the fleet's servers (``fleet_gpus / gpus_per_node``
    servers, each holding different personas)."""
    check_int("fleet_gpus", fleet_gpus, low=1)
    check_int("gpus_per_node", gpus_per_node, low=1)
    check_nonnegative("dram_bytes_per_node", dram_bytes_per_node)
    check_positive("kv_bytes_per_token", kv_bytes_per_token)
    check_int("persona_tokens", persona_tokens, low=1)
    return int(fleet_gpus / gpus_per_node * dram_bytes_per_node // (persona_tokens * kv_bytes_per_token))


def prefill_usd_per_million(*, prefill_s: float, prompt_tokens: float, gpus: int, usd_per_gpu_hour: float) -> float:
    """USD per million prompt tokens of prefill on rented GPUs: ``gpus`` GPUs at ``usd_per_gpu_hour`` busy for
    ``prefill_s`` seconds to prefill a ``prompt_tokens``-token prompt."""
    check_positive("prefill_s", prefill_s)
    check_positive("prompt_tokens", prompt_tokens)
    check_int("gpus", gpus, low=1)
    check_nonnegative("usd_per_gpu_hour", usd_per_gpu_hour)
    return gpus * usd_per_gpu_hour / 3600.0 * prefill_s / prompt_tokens * 1e6


def persona_budget_table(x: PersonaInputs, *, fleet_gpus: int, kv_budget_bytes_per_gpu: float,
                         kv_bytes_per_token: float, gpus_per_node: int, dram_bytes_per_node: float,
                         zipf_exponent: float, gpu_label: str = "GPU") -> pd.DataFrame:
    """Personas (after compression) three memory budgets hold — the fleet's HBM KV budget, the servers' host
    DRAM, and the KV cache a cache of the top ``popular_characters`` needs — with the hit ratio of a static
    and an LRU cache of that many personas under Zipf(``zipf_exponent``).

    Columns: budget, gb, capacity_personas, feasible (False when the weights alone fill the GPU),
    zipf_exponent, static_hit_ratio, lru_hit_ratio."""
    persona_bytes = x.persona_tokens_after * kv_bytes_per_token
    hbm = fleet_persona_capacity(fleet_gpus=fleet_gpus, kv_budget_bytes_per_gpu=kv_budget_bytes_per_gpu,
                                 kv_bytes_per_token=kv_bytes_per_token, persona_tokens=x.persona_tokens_after)
    dram = node_persona_capacity(fleet_gpus=fleet_gpus, gpus_per_node=gpus_per_node,
                                 dram_bytes_per_node=dram_bytes_per_node, kv_bytes_per_token=kv_bytes_per_token,
                                 persona_tokens=x.persona_tokens_after)
    rows = [
        {"budget": f"HBM of {fleet_gpus:,} {gpu_label}, all of its KV budget for personas",
         "gb": fleet_gpus * max(kv_budget_bytes_per_gpu, 0.0) / 1e9, "capacity_personas": hbm,
         "feasible": kv_budget_bytes_per_gpu > 0},
        {"budget": f"host DRAM, {dram_bytes_per_node / 1e9:,.0f} GB per {gpus_per_node}-GPU server",
         "gb": fleet_gpus / gpus_per_node * dram_bytes_per_node / 1e9, "capacity_personas": dram, "feasible": True},
        {"budget": f"a cache of the top {x.popular_characters:,}", "gb": x.popular_characters * persona_bytes / 1e9,
         "capacity_personas": int(x.popular_characters), "feasible": True},
    ]
    for r in rows:
        c = min(int(r["capacity_personas"]), int(x.characters))
        r["zipf_exponent"] = zipf_exponent
        r["static_hit_ratio"] = cache_hit_ratio(int(x.characters), c, zipf_exponent, "static")
        r["lru_hit_ratio"] = cache_hit_ratio(int(x.characters), c, zipf_exponent, "lru")
    return pd.DataFrame(rows)
