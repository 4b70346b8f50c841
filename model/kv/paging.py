"""KV reservation policies: the memory wasted by contiguous max-length reservation compared with paged
blocks (the vLLM paper's comparison), over a request or over a growing session's life."""

from __future__ import annotations

import numpy as np

from model.architectures import Architecture
from model.kv.size import kv_bytes_per_token
from model.parameters import default
from model.checks import ParameterError, check_choice, check_int


#: Reservation policies compared in :func:`reservation_efficiency` (names follow the vLLM paper, §6.1).
RESERVATION_POLICIES = ("max", "pow2", "oracle", "paged")


def reserved_tokens(lengths: np.ndarray, policy: str, *, max_tokens: int | None = None,
                    block_tokens: int | None = None) -> np.ndarray:
    """Token slots reserved for each request of final length ``lengths`` under a reservation policy.

    Policies (vLLM paper §6.1 / Fig. 2):

    - ``"max"``: contiguous, the maximum sequence length ``max_tokens`` for every request (Orca-Max,
      HF Transformers with a static cache);
    - ``"pow2"``: contiguous, the next power of two at or above the length, capped at ``max_tokens``
      (Orca-Pow2);
    - ``"oracle"``: contiguous, exactly the final length (Orca-Oracle: knows the output length);
    - ``"paged"``: blocks of ``block_tokens`` allocated on demand (vLLM), only the last block partly empty.
    """
    check_choice("policy", policy, RESERVATION_POLICIES)
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0 or lengths.min() < 1:
        raise ParameterError("lengths", "array with min < 1 or empty", "a non-empty array of lengths >= 1")
    cap = int(default("orca_max_reserved_tokens")) if max_tokens is None else check_int("max_tokens", max_tokens,
                                                                                        low=1)
    if policy in ("max", "pow2") and lengths.max() > cap:
        raise ParameterError("max_tokens", cap, f">= the longest sequence ({lengths.max()} tokens)")
    if policy == "max":
        return np.full_like(lengths, cap)
    if policy == "pow2":
        return np.minimum(2 ** np.ceil(np.log2(lengths)).astype(np.int64), cap)
    if policy == "oracle":
        return lengths.copy()
    block = int(default("kv_block_tokens")) if block_tokens is None else check_int("block_tokens", block_tokens,
                                                                                  low=1)
    return -(-lengths // block) * block


def reservation_efficiency(lengths: np.ndarray, policy: str, **kwargs) -> float:
    """Share of reserved KV slots that hold real token states (the vLLM paper's Fig. 2 measure):
    sum of lengths ÷ sum of reserved slots, in (0, 1]."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return float(lengths.sum() / reserved_tokens(lengths, policy, **kwargs).sum())


def paged_waste_bound(mean_length: float, block_tokens: int) -> float:
    """Upper bound on the paged policy's wasted share: at most ``block_tokens - 1`` empty slots per sequence,
    i.e. waste ≤ (block − 1) / (mean length + block − 1)."""
    check_int("block_tokens", block_tokens, low=1)
    if mean_length <= 0:
        raise ParameterError("mean_length", mean_length, "> 0")
    return (block_tokens - 1) / (mean_length + block_tokens - 1)


def session_lengths_over_life(context_tokens: int) -> np.ndarray:
    """Lengths a session's KV cache passes through as its history grows one token at a time from 1 to
    ``context_tokens``: observing a session at a uniformly random moment of its life gives each length with
    equal probability (the case study's sessions accumulate their history over 200 turns)."""
    n = check_int("context_tokens", context_tokens, low=1)
    return np.arange(1, n + 1, dtype=np.int64)


def paged_session_bytes(arch: Architecture, context_tokens: int, kv_dtype: str = "fp16",
                        block_tokens: int | None = None) -> float:
    """Mean bytes a paged session holds over its life (:func:`session_lengths_over_life`): its length at
    each moment rounded up to whole blocks of ``block_tokens`` (default: vLLM's block size), averaged.
    About half of :func:`kv_bytes_per_session` at the final length: paging frees unused slots, not the
    bytes of the tokens held."""
    lengths = session_lengths_over_life(context_tokens)
    block = int(default("kv_block_tokens")) if block_tokens is None else block_tokens
    return float(reserved_tokens(lengths, "paged", block_tokens=block).mean()) * kv_bytes_per_token(arch, kv_dtype)


def lifetime_reservation_gain(context_tokens: int, block_tokens: int | None = None) -> float:
    """How many times more sessions paged blocks hold than a contiguous reservation of the full
    ``context_tokens`` per session, over a session's life (:func:`session_lengths_over_life`): the
    ratio of their :func:`reservation_efficiency`. Tends to 2 for long sessions (a growing session uses on
    average half of a reservation of its final length)."""
    n = check_int("context_tokens", context_tokens, low=1)
    lengths = session_lengths_over_life(n)
    block = int(default("kv_block_tokens")) if block_tokens is None else block_tokens
    return (reservation_efficiency(lengths, "paged", block_tokens=block)
            / reservation_efficiency(lengths, "max", max_tokens=n))


#: The vLLM paper's measured shares of KV memory that hold token states (Fig. 2), by system: names of
#: their ``data/parameters`` rows.
PUBLISHED_KV_USE = {"orca-max": "vllm_paper_kv_token_share_orca_max",
                    "orca-pow2": "vllm_paper_kv_token_share_orca_pow2",
                    "orca-oracle": "vllm_paper_kv_token_share_orca_oracle",
                    "vllm": "vllm_paper_kv_token_share_vllm"}


def published_reservation_gains() -> dict:
    """The gain of paged blocks over each contiguous reserving system the vLLM paper measured: share of
    KV memory holding token states under vLLM ÷ that under the system (Kwon et al. 2023, Fig. 2;
    ``data/parameters``). Keys ``orca-max``, ``orca-pow2``, ``orca-oracle``."""
    paged = default(PUBLISHED_KV_USE["vllm"])
    return {k: paged / default(v) for k, v in PUBLISHED_KV_USE.items() if k != "vllm"}
