"""Transformer architectures read from ``data/models/*.json`` (HF ``config.json`` fields, each file citing
its source). Handles multi-head (MHA: key/value heads = attention heads) and grouped-query attention
(GQA: fewer key/value heads)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from model.io import DATA
from model.checks import ParameterError

MODELS_DIR = DATA / "models"


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer (Llama family layout: RMSNorm, SwiGLU MLP, untied or tied embeddings).

    Attributes
    ----------
    name : str
        Identifier, the JSON file's stem (e.g. ``"llama-2-70b"``).
    num_layers : int
        Decoder layers (``num_hidden_layers``).
    hidden_size : int
        Model width d (``hidden_size``).
    num_attention_heads : int
        Query heads.
    num_kv_heads : int
        Key/value heads (``num_key_value_heads``); equal to ``num_attention_heads`` for MHA.
    head_dim : int
        Width of one head.
    intermediate_size : int
        Width of the SwiGLU MLP.
    vocab_size : int
        Vocabulary size.
    max_context_tokens : int
        Native context window (``max_position_embeddings``), tokens.
    tie_word_embeddings : bool
        Whether the output projection shares the embedding matrix.
    published_parameters : int
        Parameter count published by the model's authors (checked against :meth:`parameters`).
    source : str
        Where the configuration comes from.
    """

    name: str
    display_name: str
    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    max_context_tokens: int
    tie_word_embeddings: bool
    published_parameters: int
    source: str

    def __post_init__(self):
        for field in ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim",
                      "intermediate_size", "vocab_size", "max_context_tokens"):
            value = getattr(self, field)
            if not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{self.name}.{field}", value, "a positive integer")
        if self.num_attention_heads % self.num_kv_heads:
            raise ParameterError(f"{self.name}.num_kv_heads", self.num_kv_heads,
                                 f"a divisor of num_attention_heads={self.num_attention_heads}")

    @property
    def attention(self) -> str:
        """``"MHA"`` or ``"GQA"`` (``"MQA"`` with one key/value head)."""
        if self.num_kv_heads == self.num_attention_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def gqa_group_size(self) -> int:
        """Query heads sharing one key/value head (1 for MHA)."""
        return self.num_attention_heads // self.num_kv_heads

    def parameters_per_layer(self) -> int:
        """Weights of one decoder layer: attention projections, SwiGLU MLP and two RMSNorm vectors."""
        d, h = self.hidden_size, self.head_dim
        q = d * self.num_attention_heads * h
        kv = 2 * d * self.num_kv_heads * h
        o = self.num_attention_heads * h * d
        mlp = 3 * d * self.intermediate_size
        norms = 2 * d
        return q + kv + o + mlp + norms

    def embedding_parameters(self) -> int:
        """Input embedding plus (if untied) the output projection."""
        n = self.vocab_size * self.hidden_size
        return n if self.tie_word_embeddings else 2 * n

    def parameters(self) -> int:
        """Total parameter count implied by the architecture (weights of all layers, embeddings, final norm)."""
        return self.num_layers * self.parameters_per_layer() + self.embedding_parameters() + self.hidden_size

    def matmul_parameters(self) -> int:
        """Parameters that take part in a matrix multiply per token (all but the input embedding lookup
        and norms): the figure behind "2 × parameters FLOPs per token"."""
        d = self.hidden_size
        per_layer = self.parameters_per_layer() - 2 * d
        return self.num_layers * per_layer + self.vocab_size * d


def available_models() -> list[str]:
    """Names of the architectures in ``data/models``."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.json"))


@lru_cache(maxsize=None)
def load_architecture(name: str) -> Architecture:
    """Read ``data/models/<name>.json``.

    Raises
    ------
    ParameterError
        if ``name`` is not one of :func:`available_models`.
    """
    path = Path(MODELS_DIR / f"{name}.json")
    if not isinstance(name, str) or not path.exists():
        raise ParameterError("model", name, "one of " + ", ".join(available_models()))
    cfg = json.loads(path.read_text(encoding="utf-8"))
    heads = int(cfg["num_attention_heads"])
    return Architecture(
        name=name,
        display_name=cfg.get("display_name", name),
        num_layers=int(cfg["num_hidden_layers"]),
        hidden_size=int(cfg["hidden_size"]),
        num_attention_heads=heads,
        num_kv_heads=int(cfg.get("num_key_value_heads", heads)),
        head_dim=int(cfg.get("head_dim", int(cfg["hidden_size"]) // heads)),
        intermediate_size=int(cfg["intermediate_size"]),
        vocab_size=int(cfg["vocab_size"]),
        max_context_tokens=int(cfg["max_position_embeddings"]),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        published_parameters=int(cfg["published_parameters"]),
        source=cfg["source"],
    )
