"""A small, pure model of LLM chat serving: KV-cache sizing, batching, quantization,
KV tiering, TTL choice and economics. Every constant is read from ``data/`` with its source."""

__all__ = ["ParameterError"]

from model.checks import ParameterError
