"""Number formats of weights and KV cache: bytes per stored element and the bytes of a model's weights.

The sizes are the definitions of the formats (IEEE 754 half precision, bfloat16, the OCP FP8 formats, two's
complement INT8/INT4); the scales and zero points of group-wise INT8/INT4 schemes are ignored (< 1% of the
weights at group size 128).
"""

from __future__ import annotations

from model.architectures import Architecture
from model.checks import check_choice

#: Storage bits per element of each number format.
BITS_PER_ELEMENT: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4}

#: Tensor-core type that a weight format computes in on the GPU (weight-only INT4 dequantizes to FP16).
COMPUTE_TYPE: dict[str, str] = {"fp32": "fp16", "fp16": "fp16", "bf16": "bf16", "fp8": "fp8",
                                "int8": "int8", "int4": "fp16"}

#: The number formats known to the model.
DTYPES = tuple(BITS_PER_ELEMENT)


def bytes_per_element(dtype: str, *, name: str = "dtype") -> float:
    """Bytes per stored element of ``dtype`` (one of :data:`DTYPES`); ``name`` is the parameter named in
    the error message."""
    check_choice(name, dtype, DTYPES)
    return BITS_PER_ELEMENT[dtype] / 8


def weight_bytes(arch: Architecture, weight_dtype: str = "fp16") -> float:
    """Bytes of all weights of ``arch`` stored as ``weight_dtype``: parameters × bytes per element."""
    return arch.parameters() * bytes_per_element(weight_dtype, name="weight_dtype")
