"""KV-cache size: bytes per token and per session of an architecture, in a number format, per layer kind and per
GPU under tensor parallelism.

Each layer kind holds (:meth:`model.architectures.AttentionLayer.tokens_held`): full attention and MLA every past
token; a sliding-window layer at most its window; a chunked layer the tokens of the current chunk; a linear-attention
layer no token but a fixed state per sequence. Under tensor parallelism (TP) of ``tp`` GPUs:

- full, sliding and chunked layers split their KV heads across ranks; with fewer KV heads than ranks each rank holds
  one head, replicated ``tp / kv_heads`` times (vLLM ``LlamaAttention``: ``num_kv_heads = max(1, total_num_kv_heads
  // tp_size)``, asserting that one divides the other; vllm-project/vllm ``vllm/model_executor/models/llama.py``
  at 0035bdf2b1ac243ef6f31eef27411b022461df8e; the same code in ``qwen3_next.py`` at
  002d6073aa034d4f5545d45021b0e56d1f3c3593);
- an MLA latent is one "head" shared by all query heads, so every rank holds the whole latent (SGLang
  ``DeepseekV2AttentionMLA``: ``RadixAttention(num_local_heads, kv_lora_rank + qk_rope_head_dim, ...,
  num_kv_heads=1)``, sgl-project/sglang ``python/sglang/srt/models/deepseek_v2.py`` at
  3e4a39ee73308590c5c753108bdcb8d333f7f1c6; vLLM's ``deepseek_v2.py`` builds its MLA attention with one KV head
  likewise; SGLang's data-parallel attention, which avoids the replication, is not modelled);
- a linear-attention state is split by value heads (vLLM ``MambaStateShapeCalculator.gated_delta_net_state_shape``
  divides ``num_v_heads`` and the convolution width by the TP size; ``vllm/model_executor/layers/mamba/mamba_utils.py``
  at 2afe1e8573cf51b73569ae1d35f59078a2032a91).
"""

from __future__ import annotations

from dataclasses import dataclass

from model.architectures import Architecture, AttentionLayer
from model.checks import ParameterError, check_int, check_positive
from model.formats import bytes_per_element

#: Number format of a linear-attention layer's fixed state when none is given: the model's BF16 (vLLM keeps the
#: Gated DeltaNet convolution state in the model dtype and the recurrent state in ``mamba_ssm_cache_dtype``,
#: "auto" = the model dtype, unless a checkpoint asks for FP32; ``mamba_utils.py`` above).
DEFAULT_STATE_DTYPE = "bf16"


def kv_bytes_per_token(arch: Architecture, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache one token occupies while every layer holds it: 2 (key and value) × layers × key/value
    heads × head width × bytes per element (an MLA layer: ``kv_lora_rank + qk_rope_head_dim`` elements; a
    linear-attention layer: none). Windows, chunks and fixed states are counted by :func:`kv_bytes_per_session`.

    For Llama 2 70B (80 layers, 8 KV heads of 128, FP16) this is 2·80·8·128·2 = 327,680 bytes (320 KiB).
    """
    b = bytes_per_element(kv_dtype, name="kv_dtype")
    if not arch.layers:
        return 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * b
    return sum(a.elements_per_token for a in arch.attention_layers()) * b


def kv_grows_with_context(arch: Architecture) -> bool:
    """Whether every layer of ``arch`` holds every token (full attention or MLA): then a sequence of n tokens holds
    n × :func:`kv_bytes_per_token`; otherwise windows, chunks or fixed states make it :func:`kv_bytes_per_session`."""
    return all(a.kind in ("full", "mla") for a in arch.attention_layers())


_grows_with_context = kv_grows_with_context


def kv_bytes_per_session(arch: Architecture, context_tokens: float, kv_dtype: str = "fp16") -> float:
    """Bytes of KV cache of one session holding ``context_tokens`` tokens (> 0: a session holds at least
    one token): ``context_tokens`` × :func:`kv_bytes_per_token` when every layer holds every token; otherwise the
    sum over layers of the tokens each holds (windows, chunks) plus the fixed states of linear-attention layers
    (in :data:`DEFAULT_STATE_DTYPE`), as :func:`kv_footprint`.

    Raises
    ------
    ParameterError
        naming ``context_tokens`` if it is not a finite number > 0.
    """
    check_positive("context_tokens", context_tokens)
    if _grows_with_context(arch):
        return context_tokens * kv_bytes_per_token(arch, kv_dtype)
    return kv_footprint(arch, context_tokens, kv_dtype).kv_bytes_per_sequence


def _held(layer: AttentionLayer, n):
    """Tokens ``layer`` holds at contexts ``n`` (numpy array, ≥ 1): :meth:`AttentionLayer.tokens_held`, vectorised."""
    import numpy as np

    if layer.kind == "linear":
        return np.zeros_like(n)
    if layer.kind == "sliding":
        return np.minimum(n, float(layer.window))
    if layer.kind == "chunked":
        return n - layer.window * np.floor((n - 1) / layer.window)
    return n


def kv_group_bytes_held(arch: Architecture, context_tokens, kv_dtype: str = "bf16", *, tp: int = 1,
                        state_dtype: str = DEFAULT_STATE_DTYPE):
    """KV bytes a tensor-parallel group of ``tp`` GPUs holds for one sequence at each of ``context_tokens``
    (numpy arrays broadcast, each ≥ 1): per layer, the tokens it holds × its elements × bytes (and a linear layer's
    fixed state), × the share each GPU holds (:func:`tp_share`) × ``tp``. Equal to
    ``kv_footprint(arch, n, kv_dtype, tp=tp).tp_group_bytes_per_sequence`` for each n."""
    import numpy as np

    n = np.asarray(context_tokens, float)
    b = bytes_per_element(kv_dtype, name="kv_dtype")
    sb = bytes_per_element(state_dtype, name="state_dtype")
    total = np.zeros_like(n)
    for a in arch.attention_layers():
        share, _ = tp_share(a, tp, arch.name)
        total = total + share * tp * (_held(a, n) * a.elements_per_token * b + a.state_elements * sb)
    return total


def attention_tokens_per_layer(arch: Architecture, context_tokens):
    """Mean over the decoder layers of the tokens each attends to at ``context_tokens`` (arrays broadcast): the
    context itself when every layer holds every token, less with windows and chunks, none for a linear layer (its
    fixed-state update is not counted as attention)."""
    import numpy as np

    n = np.asarray(context_tokens, float)
    layers = arch.attention_layers()
    return sum(_held(a, n) for a in layers) / len(layers)


def _pairs_upto(layer: AttentionLayer, m):
    """Σ over positions j = 1..m of the tokens ``layer`` attends to at position j (numpy arrays)."""
    import numpy as np

    if layer.kind == "linear":
        return np.zeros_like(m)
    if layer.kind == "sliding":
        w = float(layer.window)
        return np.where(m <= w, m * (m + 1) / 2, w * (w + 1) / 2 + (m - w) * w)
    if layer.kind == "chunked":
        c = float(layer.window)
        q = np.floor(m / c)
        r = m - q * c
        return q * c * (c + 1) / 2 + r * (r + 1) / 2
    return m * (m + 1) / 2


def prefill_pairs_per_layer(arch: Architecture, new_tokens, past_tokens=0):
    """Mean over the decoder layers of the (query, key) pairs of a prefill of ``new_tokens`` after
    ``past_tokens`` cached ones, causal: Σ over the new positions j = p+1..p+n of the tokens each layer attends to
    (j for full attention and MLA, min(j, W) in a sliding window, the current chunk in a chunked layer, none in a
    linear layer). For full attention n·p + n(n+1)/2. Arrays broadcast."""
    import numpy as np

    n = np.asarray(new_tokens, float)
    p = np.asarray(past_tokens, float)
    layers = arch.attention_layers()
    return sum(_pairs_upto(a, p + n) - _pairs_upto(a, p) for a in layers) / len(layers)


def kv_group_bytes_per_token(arch: Architecture, kv_dtype: str = "bf16", *, tp: int = 1) -> float:
    """Bytes a tensor-parallel group of ``tp`` GPUs holds for one token while every layer holds it: Σ over layers
    of its elements × bytes × the share each GPU holds × ``tp`` (an MLA latent counts ``tp`` times; linear layers
    none). For one GPU, :func:`kv_bytes_per_token`."""
    b = bytes_per_element(kv_dtype, name="kv_dtype")
    return sum(tp_share(a, tp, arch.name)[0] * tp * a.elements_per_token * b for a in arch.attention_layers())


@dataclass(frozen=True)
class KindBytes:
    """KV bytes of the layers of one attention kind (and window) for one sequence.

    Attributes
    ----------
    kind : str
        Layer kind (:data:`model.architectures.LAYER_KINDS`).
    window : int or None
        Window or chunk, tokens.
    layers : int
        Decoder layers of this kind.
    elements_per_token : int
        Elements one layer caches per token.
    tokens_held : float
        Tokens one layer holds at the context.
    state_bytes : float
        Fixed state of all these layers, bytes per sequence (linear attention).
    bytes_per_sequence : float
        KV (and state) bytes of all these layers for one sequence, whole model.
    per_gpu_bytes_per_sequence : float
        The same on one GPU of the tensor-parallel group, bytes.
    tp_rule : str
        ``"split"`` (heads divided across ranks), ``"replicated"`` (every rank holds the whole cache: MLA) or
        ``"split, replicated xR"`` (fewer KV heads than ranks: one head per rank, each held R times).
    """

    kind: str
    window: int | None
    layers: int
    elements_per_token: int
    tokens_held: float
    state_bytes: float
    bytes_per_sequence: float
    per_gpu_bytes_per_sequence: float
    tp_rule: str


@dataclass(frozen=True)
class KVFootprint:
    """KV cache of one sequence of an architecture at a context, whole model and per GPU.

    Attributes
    ----------
    model : str
        Architecture name.
    context_tokens : float
        Tokens of the sequence.
    kv_dtype, state_dtype : str
        Number formats of the KV cache and of linear-attention states.
    tp : int
        Tensor-parallel GPUs.
    kinds : tuple of KindBytes
        One row per layer kind and window.
    """

    model: str
    context_tokens: float
    kv_dtype: str
    state_dtype: str
    tp: int
    kinds: tuple

    @property
    def kv_bytes_per_sequence(self) -> float:
        """Bytes of one sequence, whole model (windows, chunks and fixed states counted)."""
        return sum(k.bytes_per_sequence for k in self.kinds)

    @property
    def kv_bytes_per_token(self) -> float:
        """Mean bytes per token over the context: :attr:`kv_bytes_per_sequence` / ``context_tokens``."""
        return self.kv_bytes_per_sequence / self.context_tokens

    @property
    def per_gpu_bytes_per_sequence(self) -> float:
        """Bytes of one sequence on each GPU of the tensor-parallel group."""
        return sum(k.per_gpu_bytes_per_sequence for k in self.kinds)

    @property
    def tp_group_bytes_per_sequence(self) -> float:
        """Bytes of one sequence over the whole group (``tp`` × per GPU; more than the model's when a cache is
        replicated)."""
        return self.tp * self.per_gpu_bytes_per_sequence

    def as_dict(self) -> dict:
        """Plain dict of every figure (for ``--json``)."""
        return {"model": self.model, "context_tokens": self.context_tokens, "kv_dtype": self.kv_dtype,
                "state_dtype": self.state_dtype, "tp": self.tp,
                "kv_bytes_per_token": self.kv_bytes_per_token,
                "kv_bytes_per_sequence": self.kv_bytes_per_sequence,
                "per_gpu_bytes_per_sequence": self.per_gpu_bytes_per_sequence,
                "tp_group_bytes_per_sequence": self.tp_group_bytes_per_sequence,
                "by_layer_kind": [k.__dict__.copy() for k in self.kinds]}


def tp_share(layer: AttentionLayer, tp: int, model: str = "model") -> tuple[float, str]:
    """Share of one layer's cache held by each of ``tp`` tensor-parallel GPUs, and the rule applied.

    Raises
    ------
    ParameterError
        naming ``tp`` if it does not divide the heads (or, with fewer KV heads than GPUs, is not a multiple of
        them): the engines cited in this module refuse such a split.
    """
    tp = check_int("tp", tp, low=1)
    if layer.kind == "mla":
        return 1.0, "replicated"
    heads = layer.kv_heads
    if layer.kind == "linear":
        if heads % tp:
            raise ParameterError("tp", tp, f"a divisor of the {heads} linear-attention value heads of {model}")
        return 1.0 / tp, "split"
    if heads >= tp:
        if heads % tp:
            raise ParameterError("tp", tp, f"a divisor or a multiple of the {heads} KV heads of {model}")
        return 1.0 / tp, "split"
    if tp % heads:
        raise ParameterError("tp", tp, f"a divisor or a multiple of the {heads} KV heads of {model}")
    return 1.0 / heads, f"split, replicated x{tp // heads}"


def kv_footprint(arch: Architecture, context_tokens: float, kv_dtype: str = "bf16", *, tp: int = 1,
                 state_dtype: str = DEFAULT_STATE_DTYPE) -> KVFootprint:
    """KV cache of one sequence of ``context_tokens`` tokens, per layer kind, whole model and per GPU.

    Parameters
    ----------
    arch : Architecture
        The model.
    context_tokens : float
        Tokens of the sequence (> 0).
    kv_dtype : str
        Number format of the cache (``bf16``, ``fp16``, ``fp8``, ``fp4`` = NVFP4 with its block scales...).
    tp : int
        Tensor-parallel GPUs (see :func:`tp_share`).
    state_dtype : str
        Number format of the fixed state of linear-attention layers.

    Returns
    -------
    KVFootprint
    """
    check_positive("context_tokens", context_tokens)
    b = bytes_per_element(kv_dtype, name="kv_dtype")
    sb = bytes_per_element(state_dtype, name="state_dtype")
    groups: dict[tuple, list[AttentionLayer]] = {}
    for a in arch.attention_layers():
        groups.setdefault((a.kind, a.window, a.elements_per_token, a.kv_heads, a.state_elements), []).append(a)
    rows = []
    for (kind, window, elements, _heads, state), members in groups.items():
        share, rule = tp_share(members[0], tp, arch.name)
        held = members[0].tokens_held(context_tokens)
        state_bytes = len(members) * state * sb
        total = len(members) * held * elements * b + state_bytes
        rows.append(KindBytes(kind=kind, window=window, layers=len(members), elements_per_token=elements,
                              tokens_held=held, state_bytes=state_bytes, bytes_per_sequence=total,
                              per_gpu_bytes_per_sequence=total * share, tp_rule=rule))
    order = {k: i for i, k in enumerate(("full", "mla", "sliding", "chunked", "linear"))}
    rows.sort(key=lambda r: (order[r.kind], r.window or 0))
    return KVFootprint(model=arch.name, context_tokens=context_tokens, kv_dtype=kv_dtype, state_dtype=state_dtype,
                       tp=tp, kinds=tuple(rows))


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
