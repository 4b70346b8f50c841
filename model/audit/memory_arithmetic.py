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
from model.audit.verdicts import Computed
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
                    role="restatement", restates=of)


def _unit(claim_id: str) -> str:
    from model.audit.claims import claim

    return str(claim(claim_id)["unit"])


def vllm_sessions_per_gpu(n_gpus: int) -> float:
    """Sessions of the stated 350 MB that fit on each GPU of a copy of ``n_gpus`` A100 80GB beside its share
    of the FP16 weights (usable memory as :func:`model.kv.memory_budget` counts it)."""
    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    group = memory_budget(arch, gpu, context_tokens=0, n_gpus=n_gpus, weight_dtype=DTYPE, kv_dtype=DTYPE)
    return group.kv_budget_bytes / n_gpus / (stated_value("t3.vllm.mem_per_session") * 1e6)


def computed() -> list[Computed]:
    """Every memory figure of §1/§3 (and its restatements in T1, T12 and the success factors), computed
    at the source's stated setting."""
    from model.audit.t3_throughput_latency import copy_sizes

    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    tokens = stated_value("t3.arith.tokens_per_session")
    sessions = stated_value("t3.arith.sessions")
    n_tokens = int(tokens)
    kv_tok = kv_bytes_per_token(arch, DTYPE)
    per_session = kv_bytes_per_session(arch, tokens, DTYPE)
    lengths = session_lengths_over_life(n_tokens)
    mean_len = float(lengths.mean())
    source_formula = tokens * stated_value("t3.arith.model_params") * 2
    kv_desc = (f"2 x {arch.num_layers} layers x {arch.num_kv_heads} KV heads x {arch.head_dim} x "
               f"{bytes_per_element(DTYPE):g} B = {kv_tok:,.0f} B/token")
    reduction = stated_value("t3.pagedattention.reduction_factor")

    model_gain = lifetime_reservation_gain(n_tokens)
    published = published_reservation_gains()
    gains = [model_gain, *published.values()]
    gain_how = (f"depends on the contiguous baseline, which the source leaves open: a reservation of the full "
                f"{n_tokens:,}-token history over a session's life gives {model_gain:.2f}x; the vLLM paper's "
                "measured baselines (Fig. 2) give " + ", ".join(f"{k} {v:.2f}x" for k, v in published.items()))

    # HF Transformers keeps each session's KV on the GPU (T3: GPU memory per session); a session holds on
    # average the KV of its mean length over its life
    hf_session = kv_tok * mean_len
    hf_bound = gpu.memory_bytes / hf_session
    copies = copy_sizes()
    fit = [vllm_sessions_per_gpu(n) for n in copies]
    tp = min_gpus_for_weights(arch, gpu, DTYPE)
    return [
        Computed("t3.arith.tokens_per_session", tokens, "tokens",
                 "input: §1 keeps 200 turns as 10K tokens of history per session", role="input"),
        Computed("t3.arith.model_params", arch.parameters(), "count",
                 f"{arch.display_name} architecture (data/models): {arch.parameters():,} parameters "
                 f"(published {arch.published_parameters:,})"),
        Computed("t3.arith.bytes_per_param", bytes_per_element(DTYPE) / 1e9, "GB",
                 "FP16 stores 2 bytes per value (definition of the format)", role="definition"),
        Computed("t3.arith.mem_per_session", per_session, "bytes",
                 f"the stated formula multiplies tokens by parameters: {source_formula:.1e} B = "
                 f"{source_formula / 1e15:g} PB, not 1.4 GB; the KV cache is {kv_desc} x {n_tokens:,} tokens "
                 f"= {per_session / 1e9:.2f} GB"),
        _restates("t3.arith.sessions", "t1.sessions.optimized", "the 1M concurrent sessions of the target"),
        Computed("t3.arith.total_memory_1m", sessions * per_session, "bytes",
                 f"{sessions:,.0f} x {per_session / 1e9:.2f} GB; 1.4 PB only follows from the wrong 1.4 GB"),
        _restates("t3.pagedattention.mem_before", "t3.arith.mem_per_session", "1.4 GB per session"),
        Computed("t3.pagedattention.mem_after", per_session / reduction, "bytes",
                 f"350 MB is 1.4 GB / {reduction:g}, the stated reduction applied to the wrong 1.4 GB; applied to "
                 f"the KV cache of a {n_tokens:,}-token session ({per_session / 1e9:.2f} GB) it gives "
                 f"{per_session / reduction / 1e6:,.0f} MB. Offloading unused pages to CPU memory (§3) keeps only "
                 "part of a session's KV on the GPU, so no physical floor applies"),
        Computed("t3.pagedattention.reduction_factor", model_gain, "x", gain_how, kind="range",
                 low=min(gains), high=max(gains),
                 depends_on="the contiguous baseline the gain is measured against (a reservation of the whole "
                            "history, or one of the systems the vLLM paper measured)"),
        _restates("t3.hf.mem_per_session", "t3.arith.mem_per_session", "1.4 GB per session"),
        _restates("t3.vllm.mem_per_session", "t3.pagedattention.mem_after", "350 MB per session"),
        Computed("t3.a100.gpu_memory", gpu.memory_gb, "GB",
                 f"names the GPU (A100 80GB); its datasheet (data/hardware.csv) gives {gpu.memory_gb:g} GB",
                 role="input"),
        Computed("t3.hf.sessions_per_gpu", hf_bound, "count",
                 f"57 = 80 GB / 1.4 GB ignores the weights and the wrong 1.4 GB: a session holds on average "
                 f"{mean_len:,.0f} tokens of KV over its life ({hf_session / 1e9:.2f} GB), so even the whole "
                 f"{gpu.memory_bytes / 1e9:.1f} GB of one GPU with no weights on it holds at most "
                 f"{hf_bound:.1f}", kind="upper_bound",
                 holds_under="any placement of the weights (none counted), the GPU's whole memory (no runtime "
                             "reserve) and sessions at their mean length, as HF Transformers keeps each session's "
                             "KV on the GPU (T3: GPU memory per session; the source describes offloading only for "
                             "vLLM)"),
        Computed("t3.vllm.sessions_per_gpu", min(fit), "count",
                 f"228 = 80 GB / 350 MB ignores the weights: beside the {DTYPE.upper()} weights split over a copy "
                 f"of {copies[0]} or {copies[1]} GPUs (at least {tp} to hold them), sessions of the stated 350 MB fit "
                 f"{min(fit):.0f}-{max(fit):.0f} per GPU (at the {hf_session / 1e9:.2f} GB a session holds over its "
                 "life, far fewer; offloading idle pages to CPU (§3) moves sessions off the GPU, it does not fit "
                 "more beside the weights)", kind="range", low=min(fit), high=max(fit),
                 depends_on="the GPUs per model copy", reads=("t3.vllm.mem_per_session",)),
        _restates("t3.heading.memory_efficiency_gain", "t3.pagedattention.reduction_factor", "4x"),
        _restates("t1.memory_efficiency.optimized", "t3.pagedattention.reduction_factor", "4x"),
        _restates("t12.gpu_memory_efficiency.optimized", "t3.pagedattention.reduction_factor", "4x"),
        _restates("s.success_vllm.memory_efficiency_gain", "t3.pagedattention.reduction_factor", "4x"),
        Computed("t1.memory_efficiency.initial", math.nan, "text",
                 "the baseline ('標準', 'standard') the 4x is relative to", role="definition"),
        Computed("t1.memory_efficiency.scale_factor", math.nan, "text",
                 "qualitative ('KV Cache最適化', 'KV-cache optimisation', names the technique): no figure to compute",
                 role="qualitative"),
        Computed("t12.gpu_memory_efficiency.initial", math.nan, "text",
                 "the baseline ('標準', 'standard') the 4x is relative to", role="definition"),
    ]


def figures() -> dict:
    """The model's figures at the source's setting that the chapter's audit prose quotes (plain floats):
    ``context_tokens``, ``kv_gb_per_session``, ``total_pb`` (1M sessions), ``source_formula_pb`` (tokens ×
    parameters × 2 bytes), ``paged_gb`` (mean over a session's life), ``mem_after_mb`` (the KV of a session ÷
    the stated 4×), ``weights_gb``, ``usable_gb`` (one GPU), ``sessions_one_gpu``, ``hf_sessions_bound``
    (whole GPU, no weights), ``hf_session_gb`` (a session's KV at its mean length), ``vllm_sessions_low``/``_high`` (350 MB sessions beside the weights),
    ``gain_full_history``, ``gain_low``, ``gain_high``."""
    rows = {c.claim_id: c for c in computed()}
    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    tokens = float(stated_value("t3.arith.tokens_per_session"))
    one = memory_budget(arch, gpu, context_tokens=tokens, n_gpus=1, weight_dtype=DTYPE, kv_dtype=DTYPE)
    gain = rows["t3.pagedattention.reduction_factor"]
    vllm = rows["t3.vllm.sessions_per_gpu"]
    return {
        "context_tokens": tokens,
        "kv_gb_per_session": float(rows["t3.arith.mem_per_session"].value) / 1e9,
        "total_pb": float(rows["t3.arith.total_memory_1m"].value) / 1e15,
        "source_formula_pb": float(tokens * stated_value("t3.arith.model_params") * 2) / 1e15,
        "paged_gb": paged_session_bytes(arch, int(tokens), DTYPE) / 1e9,
        "mem_after_mb": float(rows["t3.pagedattention.mem_after"].value) / 1e6,
        "weights_gb": one.weight_bytes / 1e9, "usable_gb": one.usable_bytes / 1e9,
        "sessions_one_gpu": float(one.sessions),
        "hf_sessions_bound": float(rows["t3.hf.sessions_per_gpu"].value),
        "hf_session_gb": kv_bytes_per_token(arch, DTYPE) * float(session_lengths_over_life(int(tokens)).mean()) / 1e9,
        "vllm_sessions_low": float(vllm.low), "vllm_sessions_high": float(vllm.high),
        "gain_full_history": float(gain.value), "gain_low": float(gain.low), "gain_high": float(gain.high),
    }


def table() -> pd.DataFrame:
    """The audit table of :func:`computed`, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
