"""Weight quantization: GPUs needed to hold a model in each number format, and the memory-bandwidth bound
on the decode speed-up that smaller weights can give; published accuracy and speed-ups of quantized models.

The number formats themselves live in :mod:`model.formats` (re-exported here: ``BITS_PER_ELEMENT``,
``COMPUTE_TYPE``, ``DTYPES``, ``bytes_per_element``, ``weight_bytes``), the usable share of a GPU in
:mod:`model.hardware` (``usable_bytes_per_gpu``, re-exported)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.architectures import Architecture
from model.formats import BITS_PER_ELEMENT, COMPUTE_TYPE, DTYPES, bytes_per_element, weight_bytes  # noqa: F401
from model.hardware import Accelerator, usable_bytes_per_gpu  # noqa: F401
from model.kv import kv_bytes_per_session, kv_bytes_per_token, memory_budget
from model.kv.size import kv_grows_with_context
from model.parameters import default
from model.checks import ParameterError, check_int, check_nonnegative, check_positive


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
    ``context_tokens`` each. An MoE model reads its dense weights and only the routed experts the batch's tokens
    touch (:meth:`model.architectures.Architecture.parameters_read`); a model whose layers do not all hold every
    token reads what each layer holds (:func:`model.kv.kv_bytes_per_session`: windows, chunks, fixed states)."""
    check_int("batch", batch, low=1)
    check_nonnegative("context_tokens", context_tokens)
    weights = weight_bytes(arch, weight_dtype)
    if arch.is_moe:  # the dense weights and the experts the batch's tokens touch (uniform routing)
        weights = arch.parameters_read(batch) * bytes_per_element(weight_dtype, name="weight_dtype")
    if context_tokens > 0 and not kv_grows_with_context(arch):  # windows, chunks and fixed states per layer
        kv = batch * kv_bytes_per_session(arch, context_tokens, kv_dtype)
    else:
        kv = batch * context_tokens * kv_bytes_per_token(arch, kv_dtype)
    return DecodeBytes(weights=weights, kv_cache=kv)


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


def sessions_beside_weights(arch: Architecture, gpu: Accelerator, *, context_tokens: float, weight_dtype: str,
                            kv_dtype: str = "fp16", n_gpus: int = 1, memory_utilization: float | None = None) -> int:
    """Sessions of ``context_tokens`` whose KV cache fits beside ``weight_dtype`` weights on ``n_gpus`` GPUs
    (0 if the weights alone do not fit): the largest decode batch that deployment can hold."""
    return memory_budget(arch, gpu, context_tokens=context_tokens, n_gpus=n_gpus, weight_dtype=weight_dtype,
                         kv_dtype=kv_dtype, memory_utilization=memory_utilization).sessions


def monthly_gpu_saving(gpus_before: float, gpus_after: float, usd_per_gpu_hour: float,
                       hours_per_month: float | None = None) -> float:
    """USD a month saved by running ``gpus_after`` instead of ``gpus_before`` GPUs at ``usd_per_gpu_hour``
    (``hours_per_month`` default: the cited ``hours_per_month``)."""
    check_positive("usd_per_gpu_hour", usd_per_gpu_hour)
    hours = default("hours_per_month") if hours_per_month is None else check_positive("hours_per_month",
                                                                                      hours_per_month)
    return (gpus_before - gpus_after) * hours * usd_per_gpu_hour


#: Methods of :func:`published_accuracy` that quantize weights to 8-bit *integers* (FP8 is a float format).
_INTEGER_8BIT = ("INT8", "SmoothQuant", "LLM.int8")


def published_quality_changes(model: str, weight_bits: int = 8, *, integer_only: bool = True):
    """Published changes of quality of ``model`` quantized to ``weight_bits``-bit weights, in % of the FP16
    figure, with one sign for every metric: a loss is negative (a perplexity rise of +1.2% counts as −1.2%).

    Returns
    -------
    pandas.DataFrame
        Rows of :func:`published_accuracy` for that model and width (integer formats only unless
        ``integer_only=False``), with a column ``quality_change_pct``.
    """
    acc = published_accuracy()
    rows = acc[(acc["model"] == model) & (acc["weight_bits"] == weight_bits)].copy()
    if integer_only:
        rows = rows[rows["method"].str.contains("|".join(_INTEGER_8BIT), regex=True)
                    & ~rows["method"].str.contains("FP8")]
    lower_is_better = rows["metric"].str.contains("perplexity")
    rows["quality_change_pct"] = rows["relative_change_pct"].where(~lower_is_better, -rows["relative_change_pct"])
    return rows.reset_index(drop=True)


def gpus_after_speedup(gpus: int, speedup: float) -> int:
    """Whole GPUs doing the work of ``gpus`` GPUs once each runs ``speedup`` times faster."""
    check_int("gpus", gpus, low=1)
    check_positive("speedup", speedup)
    return math.ceil(gpus / speedup)


def published_8bit_speedups():
    """Rows of :func:`published_speedups` measuring 8-bit weights (INT8 or FP8) against FP16/BF16."""
    s = published_speedups()
    return s[s["method"].str.contains("INT8|FP8|int8", regex=True)].reset_index(drop=True)


def published_speedup_points():
    """Rows of :func:`published_speedups` that can be set against the bandwidth bound: the weight bits of
    each (4 for an INT4/W4 method, else 8) and a numeric batch (rows without one are dropped).

    Columns: model, hardware, method, metric, weight_bits, batch (sequences per step), speedup (× over
    FP16/BF16; below 1 a slow-down).
    """
    import pandas as pd

    s = published_speedups()
    batch = pd.to_numeric(s["batch"], errors="coerce")
    bits = s["method"].str.contains(r"INT4|W4A|int4", regex=True).map({True: 4, False: 8})
    out = s.assign(weight_bits=bits, batch=batch)[batch.notna()]
    return out[["model", "hardware", "method", "metric", "weight_bits", "batch", "speedup"]].reset_index(drop=True)
