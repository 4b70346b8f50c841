"""Number formats of weights and KV cache: bytes per stored element and the bytes of a model's weights.

The sizes are the definitions of the formats (IEEE 754 half precision, bfloat16, the OCP FP8 formats, two's
complement INT8/INT4); the scales and zero points of group-wise INT8/INT4 schemes are ignored (< 1% of the
weights at group size 128).

FP4 is NVIDIA's NVFP4 and counts its block scales, which are not negligible at 4 bits: 4-bit E2M1 values with one
FP8 (E4M3) scale per block of 16 values, 4 + 8/16 = 4.5 bits per element (plus one FP32 scale per tensor, left
out). Source: NVIDIA, "Introducing NVFP4 for Efficient and Accurate Low-Precision Inference", NVIDIA Technical
Blog, 24 June 2025 (https://developer.nvidia.com/blog/introducing-nvfp4-for-efficient-and-accurate-low-precision-inference/).
The OCP microscaling MXFP4 (OCP Microscaling Formats (MX) Specification v1.0, September 2023: blocks of 32 E2M1
values sharing one E8M0 scale) would be 4 + 8/32 = 4.25 bits; :data:`FP4_BLOCK_FORMATS` gives both.
"""

from __future__ import annotations

from model.architectures import Architecture
from model.checks import check_choice

#: 4-bit block formats: (value bits, block size, scale bits) → bits per element = value + scale / block.
FP4_BLOCK_FORMATS: dict[str, tuple[int, int, int]] = {"nvfp4": (4, 16, 8), "mxfp4": (4, 32, 8)}

#: Storage bits per element of each number format (``fp4`` = NVFP4 with its block scales: 4 + 8/16 = 4.5).
BITS_PER_ELEMENT: dict[str, float] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8": 8, "int8": 8, "int4": 4,
                                      "fp4": 4 + 8 / 16}

#: Tensor-core type that a weight format computes in on the GPU (weight-only INT4 dequantizes to FP16; FP4
#: needs an FP4 tensor-core path, which only Blackwell GPUs have).
COMPUTE_TYPE: dict[str, str] = {"fp32": "fp16", "fp16": "fp16", "bf16": "bf16", "fp8": "fp8",
                                "int8": "int8", "int4": "fp16", "fp4": "fp4"}

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
