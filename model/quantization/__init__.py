"""Quantization: number formats of weights and KV cache, and what smaller weights buy."""
