"""KV-cache size: bytes per token and per session of an architecture, in a number format."""

from __future__ import annotations

from model.architectures import Architecture
from model.formats import bytes_per_element
from model.checks import check_positive


def kv_bytes_per_token(arch: Architecture, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache one token occupies: 2 (key and value) × layers × key/value heads × head width ×
    bytes per element.

    For Llama 2 70B (80 layers, 8 KV heads of 128, FP16) this is 2·80·8·128·2 = 327,680 bytes (320 KiB).
    """
    return 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * bytes_per_element(kv_dtype, name="kv_dtype")


def kv_bytes_per_session(arch: Architecture, context_tokens: float, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache of one session holding ``context_tokens`` tokens (> 0: a session holds at least
    one token).

    Raises
    ------
    ParameterError
        naming ``context_tokens`` if it is not a finite number > 0.
    """
    check_positive("context_tokens", context_tokens)
    return context_tokens * kv_bytes_per_token(arch, kv_dtype)


def kv_table(models: list[str], *, context_tokens: float, kv_dtype: str = "fp16") -> "pd.DataFrame":
    """KV-cache size per token and per session of ``context_tokens`` for several architectures.

    Columns: model, attention, layers, kv_heads, head_dim, parameters_b (billions),
    kv_kib_per_token (KiB), kv_gb_per_session (GB of 1e9 bytes), native_context (tokens),
    context_exceeds_native (bool).
    """
    import pandas as pd

    from model.architectures import load_architecture

    check_positive("context_tokens", context_tokens)
    rows = []
    for name in models:
        a = load_architecture(name)
        rows.append({
            "model": a.display_name, "attention": a.attention, "layers": a.num_layers,
            "kv_heads": a.num_kv_heads, "head_dim": a.head_dim, "parameters_b": a.parameters() / 1e9,
            "kv_kib_per_token": kv_bytes_per_token(a, kv_dtype) / 1024,
            "kv_gb_per_session": kv_bytes_per_session(a, context_tokens, kv_dtype) / 1e9,
            "native_context": a.max_context_tokens,
            "context_exceeds_native": context_tokens > a.max_context_tokens,
        })
    return pd.DataFrame(rows)
