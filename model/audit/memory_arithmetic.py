"""Audit of the case study's KV-cache memory figures (§1 session length, §3 arithmetic and PagedAttention,
the T3 memory rows, T1/T12 "memory efficiency" and the vLLM success factor), at the source's setting:
Llama 2 70B in FP16 (2 bytes) on A100 80GB, sessions of 10K tokens, 1M concurrent sessions.

Audited by the ``kv_sizing`` chapter. Nothing here reads a chapter's parameters.
"""

from __future__ import annotations

import math

import pandas as pd

from model.architectures import load_architecture
from model.audit.claims import stated_value
from model.audit.verdicts import Computed, audit
from model.formats import bytes_per_element
from model.hardware import load_gpu
from model.kv import (kv_bytes_per_session, kv_bytes_per_token, lifetime_reservation_gain, memory_budget,
                      paged_session_bytes, published_reservation_gains, session_lengths_over_life)
from model.quantization.weights import min_gpus_for_weights

#: The source's model (§2: Llama 2 70B), GPU (§3: A100 80GB) and number format (§3: "2 bytes" = FP16).
MODEL = "llama-2-70b"
GPU = "a100-80gb"
DTYPE = "fp16"


def _restates(claim_id: str, of: str, what: str) -> Computed:
    return Computed(claim_id, stated_value(of), _unit(of), f"restates {of} ({what}), judged there",
                    verdict="given")


def _unit(claim_id: str) -> str:
    from model.audit.claims import claim

    return str(claim(claim_id)["unit"])


def computed() -> list[Computed]:
    """Every memory figure of §1/§3 (and its restatements in T1, T12 and the success factors), computed
    at the source's stated setting."""
    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    tokens = stated_value("t3.arith.tokens_per_session")
    sessions = stated_value("t3.arith.sessions")
    n_tokens = int(tokens)
    kv_tok = kv_bytes_per_token(arch, DTYPE)
    per_session = kv_bytes_per_session(arch, tokens, DTYPE)
    paged = paged_session_bytes(arch, n_tokens, DTYPE)
    mean_len = float(session_lengths_over_life(n_tokens).mean())
    one = memory_budget(arch, gpu, context_tokens=tokens, n_gpus=1, weight_dtype=DTYPE, kv_dtype=DTYPE)
    tp = min_gpus_for_weights(arch, gpu, DTYPE)
    group = memory_budget(arch, gpu, context_tokens=tokens, n_gpus=tp, weight_dtype=DTYPE, kv_dtype=DTYPE)
    source_formula = tokens * stated_value("t3.arith.model_params") * 2
    kv_desc = (f"2 x {arch.num_layers} layers x {arch.num_kv_heads} KV heads x {arch.head_dim} x "
               f"{bytes_per_element(DTYPE):g} B = {kv_tok:,.0f} B/token")

    model_gain = lifetime_reservation_gain(n_tokens)
    published = published_reservation_gains()
    gains = [model_gain, *published.values()]
    gain_how = (f"depends on the contiguous baseline, which the source leaves open: a reservation of the full "
                f"{n_tokens:,}-token history over a session's life gives {model_gain:.2f}x; the vLLM paper's "
                "measured baselines (Fig. 2) give " + ", ".join(f"{k} {v:.2f}x" for k, v in published.items()))

    no_fit = (f"{arch.display_name} {DTYPE} weights ({one.weight_bytes / 1e9:.0f} GB) exceed one {gpu.name}'s "
              f"usable {one.usable_bytes / 1e9:.0f} GB, so "
              + ("no session fits" if one.sessions == 0 else f"at most {one.sessions} sessions fit") + "; "
              f"{{why}}. On {tp} GPUs: {group.sessions} sessions ({group.sessions / tp:.1f}/GPU)")
    return [
        Computed("t3.arith.tokens_per_session", tokens, "tokens",
                 "input: §1 keeps 200 turns as 10K tokens of history per session", verdict="given"),
        Computed("t3.arith.model_params", arch.parameters(), "count",
                 f"{arch.display_name} architecture (data/models): {arch.parameters():,} parameters "
                 f"(published {arch.published_parameters:,})"),
        Computed("t3.arith.bytes_per_param", bytes_per_element(DTYPE) / 1e9, "GB",
                 "input: FP16 stores 2 bytes per value (definition of the format)", verdict="given"),
        Computed("t3.arith.mem_per_session", per_session, "bytes",
                 f"the stated formula multiplies tokens by parameters: {source_formula:.1e} B = "
                 f"{source_formula / 1e15:g} PB, not 1.4 GB; the KV cache is {kv_desc} x {n_tokens:,} tokens "
                 f"= {per_session / 1e9:.2f} GB"),
        Computed("t3.arith.sessions", sessions, "count", "input: the 1M concurrent sessions of the target (T1)",
                 verdict="given"),
        Computed("t3.arith.total_memory_1m", sessions * per_session, "bytes",
                 f"{sessions:,.0f} x {per_session / 1e9:.2f} GB; 1.4 PB only follows from the wrong 1.4 GB"),
        _restates("t3.pagedattention.mem_before", "t3.arith.mem_per_session", "1.4 GB per session"),
        Computed("t3.pagedattention.mem_after", paged, "bytes",
                 f"paging frees unused slots, not the bytes of held tokens: a session growing to {n_tokens:,} "
                 f"tokens holds on average {mean_len:,.0f} tokens = at least {paged / 1e9:.2f} GB; "
                 f"350 MB holds only {350e6 / kv_tok:,.0f} tokens", kind="lower_bound"),
        Computed("t3.pagedattention.reduction_factor", model_gain, "x", gain_how, kind="range",
                 low=min(gains), high=max(gains)),
        _restates("t3.hf.mem_per_session", "t3.arith.mem_per_session", "1.4 GB per session"),
        _restates("t3.vllm.mem_per_session", "t3.pagedattention.mem_after", "350 MB per session"),
        Computed("t3.a100.gpu_memory", gpu.memory_gb, "GB",
                 f"names the GPU (A100 80GB); its datasheet (data/hardware.csv) gives {gpu.memory_gb:g} GB",
                 verdict="given"),
        Computed("t3.hf.sessions_per_gpu", float(one.sessions), "count",
                 no_fit.format(why="57 = 80 GB / 1.4 GB ignores the weights"), kind="upper_bound"),
        Computed("t3.vllm.sessions_per_gpu", float(one.sessions), "count",
                 no_fit.format(why="228 = 80 GB / 350 MB ignores the weights"), kind="upper_bound"),
        _restates("t3.heading.memory_efficiency_gain", "t3.pagedattention.reduction_factor", "4x"),
        _restates("t1.memory_efficiency.optimized", "t3.pagedattention.reduction_factor", "4x"),
        _restates("t12.gpu_memory_efficiency.optimized", "t3.pagedattention.reduction_factor", "4x"),
        _restates("s.success_vllm.memory_efficiency_gain", "t3.pagedattention.reduction_factor", "4x"),
        Computed("t1.memory_efficiency.initial", math.nan, "text",
                 "definition: the baseline ('標準', 'standard') the 4x is relative to", verdict="given"),
        Computed("t1.memory_efficiency.scale_factor", math.nan, "text",
                 "qualitative ('KV Cache最適化', 'KV-cache optimisation', names the technique): no figure to compute",
                 verdict="not reproducible"),
        Computed("t12.gpu_memory_efficiency.initial", math.nan, "text",
                 "definition: the baseline ('標準', 'standard') the 4x is relative to", verdict="given"),
    ]


def figures() -> dict:
    """The model's figures at the source's setting that the chapter's audit prose quotes (plain floats):
    ``context_tokens``, ``kv_gb_per_session``, ``total_pb`` (1M sessions), ``source_formula_pb`` (tokens ×
    parameters × 2 bytes), ``paged_gb`` (mean over a session's life), ``weights_gb``, ``usable_gb`` (one
    GPU), ``sessions_one_gpu``, ``gain_full_history``, ``gain_low``, ``gain_high``."""
    rows = {c.claim_id: c for c in computed()}
    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    tokens = float(stated_value("t3.arith.tokens_per_session"))
    one = memory_budget(arch, gpu, context_tokens=tokens, n_gpus=1, weight_dtype=DTYPE, kv_dtype=DTYPE)
    gain = rows["t3.pagedattention.reduction_factor"]
    return {
        "context_tokens": tokens,
        "kv_gb_per_session": float(rows["t3.arith.mem_per_session"].value) / 1e9,
        "total_pb": float(rows["t3.arith.total_memory_1m"].value) / 1e15,
        "source_formula_pb": float(tokens * stated_value("t3.arith.model_params") * 2) / 1e15,
        "paged_gb": float(rows["t3.pagedattention.mem_after"].value) / 1e9,
        "weights_gb": one.weight_bytes / 1e9, "usable_gb": one.usable_bytes / 1e9,
        "sessions_one_gpu": float(one.sessions),
        "gain_full_history": float(gain.value), "gain_low": float(gain.low), "gain_high": float(gain.high),
    }


def table() -> pd.DataFrame:
    """The audit table of :func:`computed` (:func:`model.audit.verdicts.audit`)."""
    return audit(computed())
