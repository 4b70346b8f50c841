"""Readings of the quantization chapter: its parameter check, the decode batch the speed-up bound is read
at, and the bound lines and published points of its chart, grouped by weight width."""

from __future__ import annotations

import pandas as pd

from model.architectures import available_models
from model.checks import ParameterError, check_choice, check_int
from model.hardware import available_gpus

#: Weight formats the chapter compares with FP16.
QUANTIZED_DTYPES = ("int8", "fp8", "int4", "fp4")
#: The legend group of each weight width (bits) and of each quantized format.
WIDTH_LABEL = {8: "8-bit (INT8, FP8)", 4: "4-bit (INT4)"}
DTYPE_LABEL = {"int8": WIDTH_LABEL[8], "fp8": WIDTH_LABEL[8], "int4": WIDTH_LABEL[4],
               "fp4": "4.5-bit (NVFP4 with its block scales)"}
#: Weight formats of the chapter's bound lines and footprint table (the chosen format is added when missing).
BOUND_FORMATS = ("int8", "fp8", "int4")
FOOTPRINT_FORMATS = ("fp16", "fp8", "int8", "int4")


def with_format(formats: tuple[str, ...], dtype: str) -> tuple[str, ...]:
    """``formats`` with ``dtype`` appended if it is not among them (FP4 beside the default comparison)."""
    return formats if dtype in formats else (*formats, dtype)


def check_quantization(*, model, gpu, context_tokens, quantized_dtype, decode_batch, price_label, fleet_gpus,
                       batches, quick_batches) -> None:
    """Raise :class:`model.checks.ParameterError` naming the first bad parameter of the quantization
    chapter (the GPU price is checked by :func:`model.economics.prices.gpu_price`).

    ``context_tokens`` (tokens), ``decode_batch`` (sequences, or None), ``fleet_gpus``, each of ``batches``
    and ``quick_batches`` must be whole numbers ≥ 1 (``batches`` not empty); ``model`` and ``gpu`` known names; ``quantized_dtype``
    one of :data:`QUANTIZED_DTYPES`; ``price_label`` None or a text.
    """
    check_choice("model", model, available_models())
    check_choice("gpu", gpu, available_gpus())
    check_int("context_tokens", context_tokens, low=1)
    check_choice("quantized_dtype", quantized_dtype, list(QUANTIZED_DTYPES))
    if decode_batch is not None:
        check_int("decode_batch", decode_batch, low=1)
    if price_label is not None and not isinstance(price_label, str):
        raise ParameterError("price_label", price_label, "None or a text")
    check_int("fleet_gpus", fleet_gpus, low=1)
    if not batches:
        raise ParameterError("batches", batches, "a non-empty list of batch sizes, each a whole number ≥ 1")
    for b in batches:
        check_int("batches", b, low=1)
    check_int("quick_batches", quick_batches, low=1)


def decode_batch_used(fit: int, decode_batch: int | None) -> int:
    """Sequences per decode step the bound is read at: ``decode_batch`` when set, else the ``fit`` sessions
    that fit beside the quantized weights (at least one)."""
    return max(fit, 1) if decode_batch is None else decode_batch


def bound_lines(bounds: pd.DataFrame) -> pd.DataFrame:
    """:func:`model.quantization.weights.speedup_bounds` with ``weights`` (the width's legend group), one row
    per group and batch (INT8 stands for the 8-bit group; its bound equals FP8's)."""
    lines = bounds.assign(weights=bounds["weight_dtype"].map(DTYPE_LABEL))
    return lines.drop_duplicates(["weights", "batch"])


def measured_points(points: pd.DataFrame) -> pd.DataFrame:
    """:func:`model.quantization.weights.published_speedup_points` with ``weights`` (legend group of
    ``weight_bits``) and ``gpu`` (the hardware in capitals)."""
    points = points.copy()
    points["weights"] = points["weight_bits"].map(WIDTH_LABEL)
    points["gpu"] = points["hardware"].str.upper()
    return points


def points_above_bound(points: pd.DataFrame, lines: pd.DataFrame) -> int:
    """Published speed-ups above the largest bound of their width's group (:func:`measured_points`,
    :func:`bound_lines`)."""
    top = lines.groupby("weights")["speedup_bound"].max()
    return int((points["speedup"] > points["weights"].map(top)).sum())


def batch_ticks(points: pd.DataFrame, batches: list[int]) -> list[int]:
    """Powers of two 1, 2, 4, ... below twice the largest batch of ``points`` and ``batches`` (log axis ticks)."""
    return [2 ** k for k in range(int(max(points["batch"].max(), max(batches))).bit_length())]
