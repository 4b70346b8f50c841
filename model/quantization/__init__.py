"""Quantization: what smaller weights and KV cache buy (GPUs to hold a model, decode speed-up, quality); the number formats themselves are :mod:`model.formats`."""
