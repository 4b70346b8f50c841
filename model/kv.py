"""KV-cache sizing: bytes per token, per session, sessions that fit on N GPUs, and the memory wasted by
contiguous max-length reservation compared with paged blocks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.architectures import Architecture
from model.formats import bytes_per_element, weight_bytes
from model.hardware import Accelerator, usable_bytes_per_gpu
from model.parameters import default
from model.validation import ParameterError, check_choice, check_int, check_nonnegative, check_positive

#: Reservation policies compared in :func:`reservation_efficiency` (names follow the vLLM paper, §6.1).
RESERVATION_POLICIES = ("max", "pow2", "oracle", "paged")


def kv_bytes_per_token(arch: Architecture, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache one token occupies: 2 (key and value) × layers × key/value heads × head width ×
    bytes per element.

    For Llama 2 70B (80 layers, 8 KV heads of 128, FP16) this is 2·80·8·128·2 = 327,680 bytes (320 KiB).
    """
    return 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * bytes_per_element(kv_dtype, name="kv_dtype")


def kv_bytes_per_session(arch: Architecture, context_tokens: float, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache of one session holding ``context_tokens`` tokens (> 0: a session holds at least
    one token).

    Raises
    ------
    ParameterError
        naming ``context_tokens`` if it is not a finite number > 0.
    """
    check_positive("context_tokens", context_tokens)
    return context_tokens * kv_bytes_per_token(arch, kv_dtype)


@dataclass(frozen=True)
class MemoryBudget:
    """How the memory of ``n_gpus`` GPUs splits between weights and KV cache (bytes)."""

    n_gpus: int
    total_bytes: float
    usable_bytes: float
    weight_bytes: float
    kv_bytes_per_session: float

    @property
    def kv_budget_bytes(self) -> float:
        """Usable bytes left for KV cache after the weights (negative if the weights do not fit)."""
        return self.usable_bytes - self.weight_bytes

    @property
    def weights_fit(self) -> bool:
        return self.kv_budget_bytes >= 0

    @property
    def sessions(self) -> int:
        """Whole sessions whose KV cache fits (0 if the weights alone do not fit)."""
        if not self.weights_fit or self.kv_bytes_per_session <= 0:
            return 0
        return int(self.kv_budget_bytes // self.kv_bytes_per_session)


def memory_budget(arch: Architecture, gpu: Accelerator, *, context_tokens: float, n_gpus: int = 1,
                  weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                  memory_utilization: float | None = None) -> MemoryBudget:
    """Split the memory of ``n_gpus`` GPUs into weights and KV cache for sessions of ``context_tokens``
    (``0``: the budget alone, no session size; then ``sessions`` is 0).

    ``memory_utilization`` is the share of each GPU weights + KV may use (default: vLLM's
    ``gpu_memory_utilization`` = 0.9, see ``data/parameters``); the rest is the activation reserve.
    """
    n = check_int("n_gpus", n_gpus, low=1)
    return MemoryBudget(
        n_gpus=n,
        total_bytes=n * gpu.memory_bytes,
        usable_bytes=n * usable_bytes_per_gpu(gpu, memory_utilization),
        weight_bytes=weight_bytes(arch, weight_dtype),
        kv_bytes_per_session=(kv_bytes_per_session(arch, context_tokens, kv_dtype)
                              if check_nonnegative("context_tokens", context_tokens) > 0 else 0.0),
    )


def sessions_that_fit(arch: Architecture, gpu: Accelerator, *, context_tokens: float, n_gpus: int = 1,
                      weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                      memory_utilization: float | None = None) -> int:
    """Concurrent sessions whose KV cache fits beside the weights on ``n_gpus`` GPUs.

    Raises
    ------
    ParameterError
        naming ``n_gpus`` if the weights alone do not fit.
    """
    budget = memory_budget(arch, gpu, context_tokens=context_tokens, n_gpus=n_gpus, weight_dtype=weight_dtype,
                           kv_dtype=kv_dtype, memory_utilization=memory_utilization)
    if not budget.weights_fit:
        need = math.ceil(budget.weight_bytes / (budget.usable_bytes / budget.n_gpus))
        raise ParameterError("n_gpus", n_gpus,
                             f">= {need}: {arch.name} weights in {weight_dtype} take "
                             f"{budget.weight_bytes / 1e9:.1f} GB but {n_gpus} x {gpu.name} offer "
                             f"{budget.usable_bytes / 1e9:.1f} GB usable")
    return budget.sessions


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


def kv_table(models: list[str], *, context_tokens: float, kv_dtype: str = "fp16") -> "pd.DataFrame":
    """KV-cache size per token and per session of ``context_tokens`` for several architectures.

    Columns: model, attention, layers, kv_heads, head_dim, parameters_b (billions),
    kv_kib_per_token (KiB), kv_gb_per_session (GB of 1e9 bytes), native_context (tokens),
    context_exceeds_native (bool).
    """
    import pandas as pd

    from model.architectures import load_architecture

    check_positive("context_tokens", context_tokens)
    rows = []
    for name in models:
        a = load_architecture(name)
        rows.append({
            "model": a.display_name, "attention": a.attention, "layers": a.num_layers,
            "kv_heads": a.num_kv_heads, "head_dim": a.head_dim, "parameters_b": a.parameters() / 1e9,
            "kv_kib_per_token": kv_bytes_per_token(a, kv_dtype) / 1024,
            "kv_gb_per_session": kv_bytes_per_session(a, context_tokens, kv_dtype) / 1e9,
            "native_context": a.max_context_tokens,
            "context_exceeds_native": context_tokens > a.max_context_tokens,
        })
    return pd.DataFrame(rows)


def sessions_by_context(arch: Architecture, gpu: Accelerator, contexts: list[float], *,
                        n_gpus_options: list[int], weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                        memory_utilization: float | None = None) -> "pd.DataFrame":
    """Sessions that fit vs. context length, for several GPU counts (0 where the weights do not fit).

    Columns: context_tokens, n_gpus, sessions, sessions_per_gpu, weights_fit, feasible (at least one
    session fits).
    """
    import pandas as pd

    rows = []
    for n in n_gpus_options:
        for c in contexts:
            b = memory_budget(arch, gpu, context_tokens=c, n_gpus=n, weight_dtype=weight_dtype,
                              kv_dtype=kv_dtype, memory_utilization=memory_utilization)
            rows.append({"context_tokens": c, "n_gpus": n, "sessions": b.sessions,
                         "sessions_per_gpu": b.sessions / n, "weights_fit": b.weights_fit,
                         "feasible": b.sessions > 0})
    return pd.DataFrame(rows)


def budget_table(arch: Architecture, gpu: Accelerator, *, context_tokens: float, n_gpus_options: list[int],
                 weight_dtype: str = "fp16", kv_dtype: str = "fp16",
                 memory_utilization: float | None = None) -> "pd.DataFrame":
    """How the memory of 1, 2, ... GPUs splits between weights and sessions of ``context_tokens``.

    Columns: n_gpus, memory_gb, usable_gb, weights_gb, kv_budget_gb (negative: the weights do not fit),
    kv_gb_per_session, sessions, feasible (at least one session fits). GB of 1e9 bytes.
    """
    import pandas as pd

    rows = []
    for n in n_gpus_options:
        b = memory_budget(arch, gpu, context_tokens=context_tokens, n_gpus=n, weight_dtype=weight_dtype,
                          kv_dtype=kv_dtype, memory_utilization=memory_utilization)
        rows.append({"n_gpus": n, "memory_gb": b.total_bytes / 1e9, "usable_gb": b.usable_bytes / 1e9,
                     "weights_gb": b.weight_bytes / 1e9, "kv_budget_gb": b.kv_budget_bytes / 1e9,
                     "kv_gb_per_session": b.kv_bytes_per_session / 1e9, "sessions": b.sessions,
                     "feasible": b.sessions > 0})
    return pd.DataFrame(rows)


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


def gpus_for_sessions(sessions: int, budget: MemoryBudget) -> int | None:
    """GPUs needed to hold ``sessions`` concurrent sessions with replicas shaped like ``budget`` (each
    replica ``budget.n_gpus`` GPUs holding ``budget.sessions`` sessions); ``None`` if a replica holds none."""
    n = check_int("sessions", sessions, low=1)
    if budget.sessions <= 0:
        return None
    return math.ceil(n / budget.sessions) * budget.n_gpus
