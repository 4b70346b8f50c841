"""GPU memory budget: how the memory of N GPUs splits between weights and KV cache, and how many sessions
of a given length fit beside the weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.architectures import Architecture
from model.formats import weight_bytes
from model.hardware import Accelerator, usable_bytes_per_gpu
from model.kv.size import kv_bytes_per_session, kv_footprint
from model.checks import ParameterError, check_int, check_nonnegative


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

    ``kv_bytes_per_session`` is what the whole group holds for one session: for an architecture read from a
    ``config.json`` on several GPUs, the per-GPU bytes under tensor parallelism times ``n_gpus``
    (:func:`model.kv.size.kv_footprint`: an MLA latent is whole on every GPU, fewer KV heads than GPUs are
    replicated), so such a cache counts as many times as it is held; a curated Llama-family model splits its heads
    evenly, as it always has.
    """
    n = check_int("n_gpus", n_gpus, low=1)
    if check_nonnegative("context_tokens", context_tokens) > 0 and arch.layers and n > 1:
        # A published architecture on a tensor-parallel group: what the group holds per session, per layer kind
        # (an MLA latent whole on every GPU, fewer KV heads than GPUs replicated; model.kv.size.tp_share).
        per_session = kv_footprint(arch, context_tokens, kv_dtype, tp=n).tp_group_bytes_per_sequence
    elif context_tokens > 0:
        per_session = kv_bytes_per_session(arch, context_tokens, kv_dtype)
    else:
        per_session = 0.0
    return MemoryBudget(
        n_gpus=n,
        total_bytes=n * gpu.memory_bytes,
        usable_bytes=n * usable_bytes_per_gpu(gpu, memory_utilization),
        weight_bytes=weight_bytes(arch, weight_dtype),
        kv_bytes_per_session=per_session,
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


def gpus_for_sessions(sessions: int, budget: MemoryBudget) -> int | None:
    """GPUs needed to hold ``sessions`` concurrent sessions with replicas shaped like ``budget`` (each
    replica ``budget.n_gpus`` GPUs holding ``budget.sessions`` sessions); ``None`` if a replica holds none."""
    n = check_int("sessions", sessions, low=1)
    if budget.sessions <= 0:
        return None
    return math.ceil(n / budget.sessions) * budget.n_gpus


def what_if_rows(archs: list[Architecture], gpu: Accelerator, *, n_gpus_options: list[int],
                 weight_dtype: str = "fp16", memory_utilization: float | None = None) -> "pd.DataFrame":
    """The constants of the sessions-that-fit closed form, one row per architecture × GPU count, for a
    chart that recomputes it in the browser.

    Columns: model (display name), n_gpus, layers, kv_heads, head_dim, weight_bytes (bytes of the weights
    in ``weight_dtype``), usable_bytes (bytes weights + KV may use on ``n_gpus`` GPUs), and the per-layer form of
    the KV cache the group holds (:func:`kv_layer_terms`): grow_elements, window_elements, window, chunk_elements,
    chunk, state_bytes.
    """
    import pandas as pd

    rows = []
    for arch in archs:
        for n in n_gpus_options:
            b = memory_budget(arch, gpu, context_tokens=0, n_gpus=n, weight_dtype=weight_dtype,
                              memory_utilization=memory_utilization)
            rows.append({"model": arch.display_name, "n_gpus": n, "layers": arch.num_layers,
                         "kv_heads": arch.num_kv_heads, "head_dim": arch.head_dim,
                         "weight_bytes": b.weight_bytes, "usable_bytes": b.usable_bytes,
                         **kv_layer_terms(arch, n)})
    return pd.DataFrame(rows)


def kv_layer_terms(arch: Architecture, n_gpus: int = 1) -> dict:
    """The KV cache of one session on a group of ``n_gpus`` GPUs as a closed form a page can compute:
    bytes = (grow_elements × T + window_elements × min(T, window) + chunk_elements × (T − chunk·⌊(T − 1)/chunk⌋))
    × bytes per element + state_bytes, for a session of T tokens.

    grow_elements: elements per token of the layers holding every token (full attention, MLA); window_elements and
    window: of the sliding-window layers; chunk_elements and chunk: of the chunked layers (chunk 1 and window 0
    when there are none); state_bytes: the fixed states of linear-attention layers (BF16). Each counts what the
    whole group holds (:func:`model.kv.size.tp_share`: a replicated MLA latent once per GPU); a curated
    Llama-family model splits its heads evenly (grow_elements = 2 × layers × KV heads × head width).

    Raises
    ------
    ParameterError
        naming ``window`` if the sliding (or chunked) layers have more than one window: the closed form has one.
    """
    from model.formats import bytes_per_element
    from model.kv.size import DEFAULT_STATE_DTYPE, tp_share

    n = check_int("n_gpus", n_gpus, low=1)
    terms = {"grow_elements": 0.0, "window_elements": 0.0, "window": 0, "chunk_elements": 0.0, "chunk": 1,
             "state_bytes": 0.0}
    if not arch.layers:
        terms["grow_elements"] = 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim
        return terms
    sb = bytes_per_element(DEFAULT_STATE_DTYPE)
    for a in arch.attention_layers():
        copies = tp_share(a, n, arch.name)[0] * n
        if a.kind in ("full", "mla"):
            terms["grow_elements"] += copies * a.elements_per_token
        elif a.kind == "linear":
            terms["state_bytes"] += copies * a.state_elements * sb
        else:
            key, size = ("window", "window_elements") if a.kind == "sliding" else ("chunk", "chunk_elements")
            if terms[size] and terms[key] != a.window:
                raise ParameterError("window", a.window, f"the one window of {arch.name}'s {a.kind} layers")
            terms[key] = a.window
            terms[size] += copies * a.elements_per_token
    return terms
