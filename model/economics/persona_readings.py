"""Readings of the persona and memory chapter: its parameters checked in one call, and the GPU price its
prefill basis is read at."""

from __future__ import annotations

from collections.abc import Sequence

from model.architectures import available_models
from model.checks import ParameterError, check_choice, check_int, check_number, check_positive
from model.economics.prices import GpuPrice, gpu_price
from model.formats import DTYPES
from model.hardware import available_gpus


def check_persona_memory(*, model: str, gpu: str, gpu_usd_per_hour: float | None, fleet_gpus: int,
                         weight_dtype: str, kv_dtype: str, dram_gb_per_node: float, gpus_per_node: int,
                         characters: int, popular_characters: int, target_hit_rate: float,
                         persona_tokens_before: int, persona_tokens_after: int, concurrent_sessions: float,
                         session_minutes: float, turns_per_session: int, sessions_per_slot_month: float,
                         usd_per_million: float, api_usd_per_million: float, tokens_per_turn: Sequence[float],
                         short_turns: int, mid_last_turn: int, mid_summary_tokens: int, long_rag_tokens: int,
                         zipf_exponents: Sequence[float]) -> GpuPrice:
    """Check the persona and memory chapter's parameters and return the GPU price of its prefill basis.

    Raises :class:`~model.checks.ParameterError` naming the first bad parameter.

    Parameters
    ----------
    model, gpu : str
        Architecture (``data/models``) and GPU (``data/hardware.csv``) names.
    gpu_usd_per_hour : float or None
        Price of a GPU-hour, USD; None reads the GPU's row of ``data/prices/gpu_prices.csv``.
    fleet_gpus, gpus_per_node : int
        GPUs of the fleet and of a server; each at least 1.
    weight_dtype, kv_dtype : str
        Weight and KV cache formats (:data:`model.formats.DTYPES`).
    dram_gb_per_node : float
        Host DRAM per server given to persona KV, GB; positive.
    characters, popular_characters : int
        Characters in the catalogue (at least 2) and personas the cache holds (1 to ``characters - 1``).
    target_hit_rate : float
        Persona hit rate to solve the Zipf exponent for, in (``popular_characters / characters``, 1).
    persona_tokens_before, persona_tokens_after : int
        Persona prompt before and after compression, tokens; each at least 1.
    concurrent_sessions, session_minutes, sessions_per_slot_month : float
        Session slots, minutes per session, sessions a slot serves a month; each positive.
    turns_per_session : int
        Turns per session, at least 1.
    usd_per_million, api_usd_per_million : float
        Self-hosted and API prompt prices, USD per 1M tokens; each positive.
    tokens_per_turn : list of float
        History tokens a turn adds, tokens; a non-empty list of positive numbers.
    short_turns, mid_last_turn : int
        Turns sent raw (0 to ``turns_per_session``) and last summarised turn (``short_turns`` to
        ``turns_per_session``).
    mid_summary_tokens, long_rag_tokens : int
        Tokens of the mid-term summary and of the long-term retrieval; each at least 0.
    zipf_exponents : list of float
        Popularity laws to compare; a non-empty list of numbers at least 0.

    Returns
    -------
    GpuPrice
        The price of a GPU-hour (USD) the prefill basis is read at: the GPU's AWS on-demand row, or the
        one set by ``gpu_usd_per_hour``.
    """
    check_choice("model", model, available_models())
    check_choice("gpu", gpu, available_gpus())
    check_choice("weight_dtype", weight_dtype, DTYPES)
    check_choice("kv_dtype", kv_dtype, DTYPES)
    price = gpu_price(gpu, usd_per_gpu_hour=gpu_usd_per_hour,
                      names={"usd_per_gpu_hour": "gpu_usd_per_hour", "provider": None, "pricing": None})
    check_int("fleet_gpus", fleet_gpus, low=1)
    check_int("gpus_per_node", gpus_per_node, low=1)
    check_positive("dram_gb_per_node", dram_gb_per_node)
    check_int("characters", characters, low=2)
    check_int("popular_characters", popular_characters, low=1, high=characters - 1)
    check_number("target_hit_rate", target_hit_rate, low=popular_characters / characters, high=1.0,
                 low_inclusive=False, high_inclusive=False)
    check_int("persona_tokens_before", persona_tokens_before, low=1)
    check_int("persona_tokens_after", persona_tokens_after, low=1)
    check_positive("concurrent_sessions", concurrent_sessions)
    check_positive("session_minutes", session_minutes)
    check_int("turns_per_session", turns_per_session, low=1)
    check_positive("sessions_per_slot_month", sessions_per_slot_month)
    check_positive("usd_per_million", usd_per_million)
    check_positive("api_usd_per_million", api_usd_per_million)
    if not len(tokens_per_turn):
        raise ParameterError("tokens_per_turn", tokens_per_turn, "a list of at least one tokens-per-turn figure")
    for t in tokens_per_turn:
        check_positive("tokens_per_turn", t)
    check_int("short_turns", short_turns, low=0, high=turns_per_session)
    check_int("mid_last_turn", mid_last_turn, low=short_turns, high=turns_per_session)
    check_int("mid_summary_tokens", mid_summary_tokens, low=0)
    check_int("long_rag_tokens", long_rag_tokens, low=0)
    if not len(zipf_exponents):
        raise ParameterError("zipf_exponents", zipf_exponents, "a list of at least one exponent")
    for s in zipf_exponents:
        check_number("zipf_exponents", s, low=0.0)
    return price
