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
