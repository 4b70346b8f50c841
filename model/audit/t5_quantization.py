"""Audit of the case study's §5 (T5: FP16 vs INT8 weights) and the success factor "INT8でGPU数-45%", at
the source's setting: Llama 2 70B, A100 80GB, sessions of 10K tokens (§1), the 1,630 GPUs §4 ends with, and
the audit's reading of the GPU price (the source's own, T9: $4.5M a month for 900 A100s; the other
readings are computed too, :mod:`model.audit.readings`).

Audited by the ``quantization`` chapter. Nothing here reads a chapter's parameters.
"""

from __future__ import annotations

import math

import pandas as pd

from model.architectures import load_architecture
from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.hardware import load_gpu, usable_bytes_per_gpu
from model.parameters import default
from model.quantization.weights import (decode_speedup_bound, monthly_gpu_saving, published_quality_changes,
                                sessions_beside_weights, weight_bytes)

#: The source's model (§2), GPU (§5: "A100 1台") and the two weight formats T5 compares.
MODEL = "llama-2-70b"
GPU = "a100-80gb"
BASELINE, QUANTIZED = "fp16", "int8"


def source_gpu_price(gpu_price: str | None = None):
    """USD per GPU-hour under the reading ``gpu_price`` (default: the audit's, T9's GPU line, $4.5M a month
    for 900 A100s over ``hours_per_month``; a tracked value)."""
    return R.gpu_usd_per_hour(gpu_price)


def computed() -> list[Computed]:
    """Every figure of T5 and of the INT8 success factor, computed at the source's stated setting."""
    arch, gpu = load_architecture(MODEL), load_gpu(GPU)
    tokens = stated_value("t3.arith.tokens_per_session")
    w16, w8 = weight_bytes(arch, BASELINE), weight_bytes(arch, QUANTIZED)
    usable = usable_bytes_per_gpu(gpu)
    fit8 = sessions_beside_weights(arch, gpu, context_tokens=tokens, weight_dtype=QUANTIZED)
    bound = decode_speedup_bound(arch, baseline_dtype=BASELINE, quantized_dtype=QUANTIZED, batch=1,
                                 context_tokens=tokens)
    full = (decode_speedup_bound(arch, baseline_dtype=BASELINE, quantized_dtype=QUANTIZED, batch=fit8,
                                 context_tokens=tokens) if fit8 else math.nan)
    before = stated_value("t5.effect.gpus_before")
    after = stated_value("t5.effect.gpus_after")
    stated_speed = stated_value("t5.int8.inference_speed")
    change = (after - before) / before * 100
    price = source_gpu_price()
    saving = monthly_gpu_saving(before, after, price)
    implied = stated_value("t5.effect.monthly_saving") / ((before - after) * default("hours_per_month"))
    quality = published_quality_changes(MODEL, 8)
    q = quality["quality_change_pct"]
    quality_how = ("the source names no benchmark or INT8 scheme: published INT8 results for this model range "
                   + ", ".join(f"{r.quality_change_pct:+.2f}% ({r.method}, {r.metric})"
                               for r in quality.itertuples()) + "; a perplexity rise counts as a loss")
    weights_only = "GPU memory holds at least the weights; the KV cache and activations come on top"
    weights_held = ("any placement of the KV cache: the weights are read at every step, so they sit in GPU memory "
                    "(the source offloads only KV pages)")

    def saving_at(price: str | None) -> Alt:
        return Alt(monthly_gpu_saving(before, after, source_gpu_price(price)))

    main_saving, under_saving = R.across("gpu_price", saving_at)
    return [
        Computed("t5.fp16.model_size", w16, "bytes", f"{arch.parameters():,} parameters x 2 B"),
        Computed("t5.int8.model_size", w8, "bytes", f"{arch.parameters():,} parameters x 1 B"),
        Computed("t5.fp16.gpu_memory", w16, "bytes", f"{weights_only}: {w16 / 1e9:.1f} GB", kind="lower_bound",
                 holds_under=weights_held),
        Computed("t5.int8.gpu_memory", w8, "bytes", f"{weights_only}: {w8 / 1e9:.1f} GB", kind="lower_bound",
                 holds_under=weights_held),
        Computed("t5.int8.fits_one_a100", math.nan, "text",
                 f"restates 70 GB < the A100's 80 GB; the model agrees: INT8 weights {w8 / 1e9:.1f} GB < "
                 f"{usable / 1e9:.1f} GB usable on one {gpu.name}, leaving room for {fit8} sessions of "
                 f"{tokens:,.0f} tokens", role="restatement", restates="t5.int8.gpu_memory"),
        Computed("t5.fp16.inference_speed", math.nan, "text", "FP16 is the reference speed ('標準', 'standard')",
                 role="definition"),
        Computed("t5.int8.inference_speed", bound, "x",
                 f"decode reads all weights + the KV cache each step: one {tokens:,.0f}-token sequence reads "
                 f"{bound:.2f}x fewer bytes with INT8 weights (2x at most, {full:.2f}x at the {fit8} sessions "
                 "that fit on one A100); published measured INT8 gains are lower (data/quantization/speedups.csv)",
                 kind="upper_bound",
                 holds_under="decode, which a chat turn's reply is, at any batch: INT8 halves the bytes of the "
                             "weights, not of the FP16 KV cache (prefill, compute-bound, could gain up to 2x "
                             "with INT8 arithmetic)"),
        Computed("t5.fp16.accuracy_loss", math.nan, "text", "FP16 is the reference ('なし', 'none')",
                 role="definition"),
        Computed("t5.int8.accuracy_loss", float(q.median()), "%", quality_how, kind="range",
                 low=float(q.min()), high=float(q.max()),
                 depends_on="the INT8 scheme and the benchmark, which the source does not name"),
        Computed("t5.effect.gpus_before", stated_value("t4.cb.gpus_for_1m"), "count",
                 "restates t4.cb.gpus_for_1m (1630 GPUs after continuous batching), judged there",
                 role="restatement", restates="t4.cb.gpus_for_1m"),
        Computed("t5.effect.gpus_after", before / bound, "count",
                 f"{before:,.0f} GPUs / at most {bound:.2f}x faster = at least {before / bound:,.0f} GPUs "
                 f"(at the stated {stated_speed:g}x: {before / stated_speed:,.0f})", kind="lower_bound",
                 holds_under="the same demand on GPUs each at most the decode bound faster (t5.int8.inference_speed)"),
        Computed("t5.effect.gpu_change", change, "%", f"({after:,.0f} - {before:,.0f}) / {before:,.0f}"),
        Computed("s.success_int8.gpu_change", stated_value("t5.effect.gpu_change"), "%",
                 "restates t5.effect.gpu_change (-45%), judged there", role="restatement",
                 restates="t5.effect.gpu_change"),
        Computed("t5.effect.monthly_saving", main_saving.value, "USD/month",
                 f"{before - after:,.0f} fewer GPUs x {default('hours_per_month'):g} h x ${price:.2f}/GPU-h "
                 f"({R.gpu_price_label()}); the stated $1.6M implies ${implied:.2f}/GPU-h",
                 under=under_saving),
    ]


def figures() -> dict:
    """The model's figures at the source's setting that the chapter's audit prose quotes (plain floats):
    ``context_tokens``, ``speedup_bound`` (one sequence), ``min_gpus_after``, ``quality_low``/``_high``
    (% change), ``price_source`` and ``price_implied`` (USD/GPU-hour), ``saving_at_source_price`` and
    ``t9_gpu_monthly_cost`` (USD/month)."""
    rows = {c.claim_id: c for c in computed()}
    acc = rows["t5.int8.accuracy_loss"]
    before = stated_value("t5.effect.gpus_before")
    after = stated_value("t5.effect.gpus_after")
    return {
        "context_tokens": float(stated_value("t3.arith.tokens_per_session")),
        "speedup_bound": float(rows["t5.int8.inference_speed"].value),
        "min_gpus_after": float(rows["t5.effect.gpus_after"].value),
        "quality_low": float(acc.low), "quality_high": float(acc.high),
        "price_source": float(source_gpu_price()),
        "price_implied": float(stated_value("t5.effect.monthly_saving")
                               / ((before - after) * default("hours_per_month"))),
        "saving_at_source_price": float(rows["t5.effect.monthly_saving"].value),
        "t9_gpu_monthly_cost": float(stated_value("t9.gpu.monthly_cost")),
    }


def table() -> pd.DataFrame:
    """The audit table of :func:`computed`, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
