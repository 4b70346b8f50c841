"""Number formats of weights and KV cache: memory footprint, GPUs needed to hold a model, and the
memory-bandwidth bound on the decode speed-up that smaller weights can give."""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.architectures import Architecture
from model.hardware import Accelerator
from model.parameters import default
from model.validation import ParameterError, check_choice, check_fraction, check_int, check_nonnegative

#: Storage bits per element of each number format (definitions of the formats; scales and zero points of
#: group-wise INT4/INT8 schemes are ignored, < 1% of the weights at group size 128).
BITS_PER_ELEMENT: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}

#: Tensor-core type that a weight format computes in on the GPU (weight-only INT4 dequantizes to FP16).
COMPUTE_TYPE: dict[str, str] = {"fp32": "fp16", "fp16": "fp16", "bf16": "bf16", "fp8": "fp8",
                                "int8": "int8", "int4": "fp16"}

DTYPES = tuple(BITS_PER_ELEMENT)


def bytes_per_element(dtype: str) -> float:
    """Bytes per stored element of ``dtype`` (one of :data:`DTYPES`)."""
    check_choice("dtype", dtype, DTYPES)
    return BITS_PER_ELEMENT[dtype] / 8


def weight_bytes(arch: Architecture, weight_dtype: str = "fp16") -> float:
    """Bytes of all weights of ``arch`` stored as ``weight_dtype``."""
    check_choice("weight_dtype", weight_dtype, DTYPES)
    return arch.parameters() * bytes_per_element(weight_dtype)


def usable_bytes_per_gpu(gpu: Accelerator, memory_utilization: float | None = None) -> float:
    """Bytes of one GPU that weights and KV cache may use: capacity × ``memory_utilization``
    (default: vLLM's ``gpu_memory_utilization``, see ``data/parameters``)."""
    u = default("gpu_memory_utilization") if memory_utilization is None else memory_utilization
    check_fraction("memory_utilization", u, allow_zero=False)
    return gpu.memory_bytes * u


def min_gpus_for_weights(arch: Architecture, gpu: Accelerator, weight_dtype: str = "fp16",
                         memory_utilization: float | None = None, power_of_two: bool = True) -> int:
    """Smallest number of GPUs whose usable memory holds the weights (tensor parallelism splits them
    evenly). With ``power_of_two`` the count is rounded up to 1, 2, 4, 8, ... as tensor-parallel degrees are.
    """
    need = weight_bytes(arch, weight_dtype) / usable_bytes_per_gpu(gpu, memory_utilization)
    n = max(1, math.ceil(need))
    if power_of_two:
        n = 1 << (n - 1).bit_length()
    return n


def fits_on(arch: Architecture, gpu: Accelerator, n_gpus: int = 1, weight_dtype: str = "fp16",
            memory_utilization: float | None = None) -> bool:
    """Whether the weights alone fit in the usable memory of ``n_gpus`` GPUs."""
    check_int("n_gpus", n_gpus, low=1)
    return weight_bytes(arch, weight_dtype) <= n_gpus * usable_bytes_per_gpu(gpu, memory_utilization)


@dataclass(frozen=True)
class DecodeBytes:
    """Bytes read from HBM in one decode step of a batch (weights once, KV of every sequence)."""

    weights: float
    kv_cache: float

    @property
    def total(self) -> float:
        return self.weights + self.kv_cache


def decode_bytes(arch: Architecture, weight_dtype: str, kv_dtype: str, batch: int, context_tokens: float
                 ) -> DecodeBytes:
    """Bytes one decode step must read: all weights plus the KV cache of ``batch`` sequences of
    ``context_tokens`` each."""
    from model.kv import kv_bytes_per_token  # local import: kv depends on this module's dtypes

    check_int("batch", batch, low=1)
    check_nonnegative("context_tokens", context_tokens)
    return DecodeBytes(weights=weight_bytes(arch, weight_dtype),
                       kv_cache=batch * context_tokens * kv_bytes_per_token(arch, kv_dtype))


def decode_speedup_bound(arch: Architecture, *, baseline_dtype: str = "fp16", quantized_dtype: str = "int8",
                         kv_dtype: str = "fp16", batch: int = 1, context_tokens: float = 0.0) -> float:
    """Upper bound on the decode speed-up from quantizing weights, when decode is limited by memory
    bandwidth: bytes per step at ``baseline_dtype`` ÷ bytes per step at ``quantized_dtype`` (the KV cache,
    kept in ``kv_dtype``, does not shrink). Tends to 16/8 = 2 for INT8 at batch 1 and short context."""
    base = decode_bytes(arch, baseline_dtype, kv_dtype, batch, context_tokens).total
    quant = decode_bytes(arch, quantized_dtype, kv_dtype, batch, context_tokens).total
    if quant <= 0:
        raise ParameterError("quantized_dtype", quantized_dtype, "a format with a positive size")
    return base / quant




def _quant_data(name: str):
    import pandas as pd

    from model.io import DATA

    return pd.read_csv(DATA / "quantization" / name)


def published_accuracy():
    """Published accuracy of quantized models (``data/quantization/accuracy.csv``, each row cited)."""
    return _quant_data("accuracy.csv")


def published_speedups():
    """Published measured speed-ups of quantized inference (``data/quantization/speedups.csv``)."""
    return _quant_data("speedups.csv")


def speedup_bounds(arch: Architecture, *, batches: list[int], context_tokens: float, kv_dtype: str = "fp16",
                   formats: tuple[str, ...] = ("int8", "fp8", "int4")):
    """Memory-bandwidth bound on the decode speed-up over FP16 for several weight formats and batch sizes.

    Columns: weight_dtype, batch, context_tokens, speedup_bound.
    """
    import pandas as pd

    rows = [{"weight_dtype": f, "batch": b, "context_tokens": context_tokens,
             "speedup_bound": decode_speedup_bound(arch, quantized_dtype=f, kv_dtype=kv_dtype, batch=b,
                                                   context_tokens=context_tokens)}
            for f in formats for b in batches]
    return pd.DataFrame(rows)


def footprint_table(arch: Architecture, gpu: Accelerator, formats: tuple[str, ...] = ("fp16", "fp8", "int8", "int4"),
                    memory_utilization: float | None = None):
    """Weights in each format and the GPUs needed to hold them.

    Columns: weight_dtype, weight_gb, min_gpus, fits_one_gpu.
    """
    import pandas as pd

    return pd.DataFrame([{
        "weight_dtype": f, "weight_gb": weight_bytes(arch, f) / 1e9,
        "min_gpus": min_gpus_for_weights(arch, gpu, f, memory_utilization),
        "fits_one_gpu": fits_on(arch, gpu, 1, f, memory_utilization),
    } for f in formats])


def audit_case_study(arch: Architecture, gpu: Accelerator, *, context_tokens: float, gpu_usd_per_hour: float,
                     price_label: str, decode_batch: int | None = None,
                     memory_utilization: float | None = None) -> list:
    """The case study's FP16 vs INT8 figures (T5, success factor "INT8でGPU数-45%") recomputed.

    Parameters
    ----------
    arch, gpu : model and GPU (case study: Llama 2 70B, A100 80GB).
    context_tokens : history per session, tokens (10K).
    gpu_usd_per_hour : price of one GPU-hour, USD (a dated row of ``data/prices/gpu_prices.csv``).
    price_label : where that price comes from (shown in the reasons).
    decode_batch : sequences per decode step at which the speed-up bound is taken (default: cited default
        ``quantization_decode_batch``).
    """
    from model.audit.verdicts import Computed, stated_value
    from model.kv import memory_budget
    from model.parameters import default
    from model.validation import check_positive

    check_positive("gpu_usd_per_hour", gpu_usd_per_hour)
    batch = int(default("quantization_decode_batch")) if decode_batch is None else check_int(
        "decode_batch", decode_batch, low=1)
    w16, w8 = weight_bytes(arch, "fp16"), weight_bytes(arch, "int8")
    usable = usable_bytes_per_gpu(gpu, memory_utilization)
    int8_one = memory_budget(arch, gpu, context_tokens=context_tokens, n_gpus=1, weight_dtype="int8",
                             memory_utilization=memory_utilization)
    bound = decode_speedup_bound(arch, batch=batch, context_tokens=context_tokens)
    before = stated_value("t5.effect.gpus_before")
    after = stated_value("t5.effect.gpus_after")
    stated_speed = stated_value("t5.int8.inference_speed")
    hours = default("hours_per_month")
    saved_gpus = before - after
    saving = saved_gpus * hours * gpu_usd_per_hour
    implied_price = stated_value("t5.effect.monthly_saving") / (saved_gpus * hours)
    change = (after - before) / before * 100
    acc = published_accuracy()
    same = acc[(acc["model"] == arch.name) & (acc["weight_bits"] == 8)]
    task = same[same["metric"].str.contains("accuracy")]
    int8 = task[task["method"].str.contains("INT8")]
    if len(int8):
        row = int8.iloc[0]
        acc_value = float(row["relative_change_pct"])
        acc_how = (f"the source names no benchmark; published: {row['method']} changes {row['metric']} by "
                   f"{acc_value:+.2f}% (8-bit results for this model: {same['relative_change_pct'].min():+.2f}% "
                   f"to {same['relative_change_pct'].max():+.2f}%, perplexity rises counted positive)")
    else:
        acc_value, acc_how = math.nan, f"no published 8-bit accuracy for {arch.name} in data/quantization"
    return [
        Computed("t5.fp16.model_size", w16, "bytes", f"{arch.parameters():,} parameters x 2 B"),
        Computed("t5.int8.model_size", w8, "bytes", f"{arch.parameters():,} parameters x 1 B"),
        Computed("t5.fp16.gpu_memory", w16, "bytes",
                 "weights only; the KV cache and activations come on top"),
        Computed("t5.int8.gpu_memory", w8, "bytes", "weights only; the KV cache and activations come on top"),
        Computed("t5.int8.fits_one_a100", math.nan, "text",
                 f"INT8 weights {w8 / 1e9:.0f} GB < {usable / 1e9:.0f} GB usable on one {gpu.name}: they fit, "
                 f"leaving {int8_one.kv_budget_bytes / 1e9:.1f} GB = {int8_one.sessions} sessions of "
                 f"{context_tokens:,.0f} tokens", verdict="consistent" if int8_one.weights_fit else "impossible"),
        Computed("t5.fp16.inference_speed", math.nan, "text", "FP16 is the reference ('標準')",
                 verdict="not reproducible"),
        Computed("t5.int8.inference_speed", bound, "x",
                 f"decode reads weights + KV each step: at batch {batch} x {context_tokens:,.0f} tokens the bytes "
                 f"shrink {bound:.2f}x (2x at most); measured INT8 gains are lower (see table)", kind="upper_bound"),
        Computed("t5.fp16.accuracy_loss", math.nan, "text", "FP16 is the reference ('なし')",
                 verdict="not reproducible"),
        Computed("t5.int8.accuracy_loss", acc_value, "%", acc_how, verdict="not reproducible"),
        Computed("t5.effect.gpus_before", stated_value("t4.cb.gpus_for_1m"), "count",
                 "restates §4's GPUs after continuous batching (1630)"),
        Computed("t5.effect.gpus_after", before / bound, "count",
                 f"{before:,.0f} GPUs / at most {bound:.2f}x faster = at least {before / bound:,.0f} GPUs "
                 f"(1630 / stated {stated_speed:g}x = {before / stated_speed:,.0f})", kind="lower_bound"),
        Computed("t5.effect.gpu_change", change, "%", f"({after:,.0f} - {before:,.0f}) / {before:,.0f}"),
        Computed("s.success_int8.gpu_change", change, "%", f"({after:,.0f} - {before:,.0f}) / {before:,.0f}"),
        Computed("t5.effect.monthly_saving", saving, "USD/month",
                 f"{saved_gpus:,.0f} GPUs x {hours:g} h x ${gpu_usd_per_hour:.2f}/GPU-h ({price_label}); the "
                 f"stated $1.6M implies ${implied_price:.2f}/GPU-h"),
    ]
