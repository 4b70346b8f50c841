"""Transformer architectures: the study's curated Llama-family files (``data/models/<name>.json``) and Hugging Face
``config.json`` files as published (``data/models/<name>/config.json``, or any path), read without weights or network.

Every decoder layer is described by its attention as the KV cache sees it (:class:`AttentionLayer`: full
attention with MHA/GQA/MQA heads, a sliding window, a chunk, an MLA latent, or linear attention with a fixed state)
and by its feed-forward block (:class:`FeedForward`: a dense MLP, or routed plus shared experts). From these follow the
KV-cache bytes (:mod:`model.kv.size`) and the parameters, total and active per token.

Families read from ``config.json`` (``model_type``): Llama 1-3.x (``llama``), Mistral/Mixtral (``mistral``,
``mixtral``), Qwen2/2.5/3 dense and MoE (``qwen2``, ``qwen2_moe``, ``qwen3``, ``qwen3_moe``), Qwen3-Next
(``qwen3_next``), DeepSeek-V2/V3/R1 and Kimi K2 (``deepseek_v2``, ``deepseek_v3``, ``kimi_k2``), gpt-oss
(``gpt_oss``), Gemma 2/3 (``gemma2``, ``gemma3``, ``gemma3_text``) and Llama 4 (``llama4``, ``llama4_text``).
``data/models/README.md`` gives the formula of each family with the source code it follows.

Run ``python -m model.architectures --help`` for the command line (list the models, show one, read a file).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

from model.checks import ParameterError
from model.io import DATA

MODELS_DIR = DATA / "models"

#: Attention kinds of a decoder layer, as the KV cache sees them.
LAYER_KINDS = ("full", "sliding", "chunked", "mla", "linear")


class ConfigFieldError(ParameterError):
    """A ``config.json`` lacks a field its family needs (one line naming the family and the field)."""

    def __init__(self, family: str, name: str, detail: str = ""):
        self.family = family
        self.field = name
        ParameterError.__init__(self, f"{family}.{name}", None, "present in config.json")
        self.args = (f"config.json of family '{family}' has no field '{name}'{detail}",)

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class AttentionLayer:
    """The attention of one decoder layer as its KV cache sees it.

    Attributes
    ----------
    kind : str
        One of :data:`LAYER_KINDS`: ``"full"`` (every past token), ``"sliding"`` (the last ``window`` tokens),
        ``"chunked"`` (the tokens of the current ``window``-token chunk), ``"mla"`` (one latent per token shared by
        all heads) or ``"linear"`` (no per-token cache: a fixed state per sequence).
    kv_heads : int
        Key/value heads stored (full, sliding, chunked); 1 for an MLA latent; value heads of a linear layer's state.
        Under tensor parallelism these heads are what is split across ranks.
    elements_per_token : int
        Elements cached per token in this layer: 2 × ``kv_heads`` × head width (K and V), or
        ``kv_lora_rank + qk_rope_head_dim`` for MLA; 0 for linear attention.
    window : int or None
        Tokens of the sliding window or of the chunk; None for the other kinds.
    state_elements : int
        Elements of the fixed per-sequence state of a linear layer (recurrent state plus convolution state); 0
        otherwise.
    reads_kv_of : int or None
        Cross-layer KV sharing: the index of the earlier layer whose KV cache this layer attends to (Brandon et
        al., "Reducing Transformer Key-Value Cache Size with Cross-Layer Attention", arXiv 2405.12981). Such a
        layer caches nothing of its own (``elements_per_token`` 0) but attends to the tokens its kind holds, so its
        attention FLOPs count and its KV bytes do not. None: the layer holds its own cache.
    rope_elements, value_head_dim : int
        MLA only (0 otherwise): the part of the latent that carries the rotary key (``qk_rope_head_dim``; the rest,
        ``kv_lora_rank``, is the compressed key/value) and the width of one value head (``v_head_dim``), which set
        the attention FLOPs of a query against one cached token (:mod:`model.serving.step_time`).
    """

    kind: str
    kv_heads: int
    elements_per_token: int
    window: int | None = None
    state_elements: int = 0
    reads_kv_of: int | None = None
    rope_elements: int = 0
    value_head_dim: int = 0

    def __post_init__(self):
        if self.kind not in LAYER_KINDS:
            raise ParameterError("layer kind", self.kind, "one of " + ", ".join(LAYER_KINDS))
        for name in ("kv_heads", "elements_per_token", "state_elements", "rope_elements", "value_head_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ParameterError(name, value, "an integer >= 0")
        if self.kind in ("sliding", "chunked") and (not isinstance(self.window, int) or self.window <= 0):
            raise ParameterError("window", self.window, f"a positive integer for a {self.kind} layer")
        if self.reads_kv_of is not None and (not isinstance(self.reads_kv_of, int) or self.reads_kv_of < 0
                                             or self.elements_per_token or self.state_elements):
            raise ParameterError("reads_kv_of", self.reads_kv_of,
                                 "a layer index >= 0, on a layer that caches no elements of its own")

    def tokens_held(self, context_tokens: float) -> float:
        """Tokens this layer caches for a sequence of ``context_tokens`` tokens: all of them (full, MLA), at most
        the window (sliding), the tokens of the current chunk (chunked: ``n - W·floor((n-1)/W)``), none (linear)."""
        n = float(context_tokens)
        if self.kind == "linear":
            return 0.0
        if self.kind == "sliding":
            return min(n, float(self.window))
        if self.kind == "chunked":
            return n - self.window * math.floor((n - 1) / self.window) if n > 0 else 0.0
        return n


@dataclass(frozen=True)
class FeedForward:
    """The feed-forward block of one decoder layer.

    Attributes
    ----------
    always_active_parameters : int
        Weights every token uses: a dense MLP; for an MoE layer the router, the shared experts and their gate.
    routed_experts : int
        Routed experts (0 for a dense MLP).
    experts_per_token : int
        Routed experts each token uses (top-k).
    expert_parameters : int
        Weights of one routed expert.
    """

    always_active_parameters: int
    routed_experts: int = 0
    experts_per_token: int = 0
    expert_parameters: int = 0

    @property
    def is_moe(self) -> bool:
        """Whether the block routes tokens to experts."""
        return self.routed_experts > 0

    @property
    def parameters(self) -> int:
        """All weights of the block."""
        return self.always_active_parameters + self.routed_experts * self.expert_parameters

    @property
    def active_parameters(self) -> int:
        """Weights one token uses: the always-active ones plus its top-k experts."""
        return self.always_active_parameters + self.experts_per_token * self.expert_parameters


@dataclass(frozen=True)
class Layer:
    """One decoder layer: its attention (KV view and weights), feed-forward block and norm weights.

    Attributes
    ----------
    attention : AttentionLayer
        The attention as the cache sees it.
    attention_parameters : int
        Weights of the attention block (projections, biases, per-head norms, sinks).
    feed_forward : FeedForward
        The MLP or MoE block.
    norm_parameters : int
        Weights of the layer's normalisation vectors.
    """

    attention: AttentionLayer
    attention_parameters: int
    feed_forward: FeedForward
    norm_parameters: int

    @property
    def parameters(self) -> int:
        """All weights of the layer."""
        return self.attention_parameters + self.feed_forward.parameters + self.norm_parameters

    @property
    def active_parameters(self) -> int:
        """Weights of the layer one token uses."""
        return self.attention_parameters + self.feed_forward.active_parameters + self.norm_parameters


@dataclass(frozen=True)
class Architecture:
    """A decoder-only transformer.

    The first fields describe the Llama-family layout the study was built on (RMSNorm, SwiGLU MLP, untied or tied
    embeddings, every layer full attention); an architecture read from ``config.json`` also carries ``layers``, one
    :class:`Layer` per decoder layer, and then its KV bytes and parameters follow the layers. Without ``layers``
    (the curated files) every formula is the Llama-family one, unchanged.

    Attributes
    ----------
    name : str
        Identifier: the JSON file's stem or the ``data/models`` folder name (e.g. ``"llama-2-70b"``).
    display_name : str
        Name as the chapters print it.
    num_layers : int
        Decoder layers (``num_hidden_layers``).
    hidden_size : int
        Model width d (``hidden_size``).
    num_attention_heads : int
        Query heads.
    num_kv_heads : int
        Key/value heads (``num_key_value_heads``) of the attention layers; equal to ``num_attention_heads`` for MHA.
    head_dim : int
        Width of one query/key head (``head_dim`` from the config where given; ``qk_nope_head_dim +
        qk_rope_head_dim`` for MLA).
    intermediate_size : int
        Width of the dense MLP (of one expert when every layer is MoE).
    vocab_size : int
        Vocabulary size.
    max_context_tokens : int
        Native context window (``max_position_embeddings``), tokens.
    tie_word_embeddings : bool
        Whether the output projection shares the embedding matrix.
    source : str
        Where the configuration comes from.
    published_parameters : int or None
        Parameter count published by the model's authors, where a file records it (optional; tests compare the
        model cards' counts with :meth:`parameters`).
    family : str
        ``model_type`` of the configuration (``"llama"`` for the curated files).
    layers : tuple of Layer
        One entry per decoder layer (empty: every layer is the Llama-family full-attention layer).
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
    source: str
    published_parameters: int | None = None
    family: str = "llama"
    layers: tuple = field(default=(), repr=False)

    def __post_init__(self):
        for name in ("num_layers", "hidden_size", "num_attention_heads", "num_kv_heads", "head_dim",
                     "intermediate_size", "vocab_size", "max_context_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ParameterError(f"{self.name}.{name}", value, "a positive integer")
        if self.num_attention_heads % self.num_kv_heads:
            raise ParameterError(f"{self.name}.num_kv_heads", self.num_kv_heads,
                                 f"a divisor of num_attention_heads={self.num_attention_heads}")
        if self.layers and len(self.layers) != self.num_layers:
            raise ParameterError(f"{self.name}.layers", len(self.layers),
                                 f"one layer per decoder layer ({self.num_layers})")

    # --- attention -------------------------------------------------------------------------------------
    @property
    def attention(self) -> str:
        """``"MHA"``, ``"GQA"``, ``"MQA"`` (one key/value head) or ``"MLA"`` (a latent shared by all heads)."""
        if any(layer.attention.kind == "mla" for layer in self.layers):
            return "MLA"
        if self.num_kv_heads == self.num_attention_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    @property
    def gqa_group_size(self) -> int:
        """Query heads sharing one key/value head (1 for MHA)."""
        return self.num_attention_heads // self.num_kv_heads

    def attention_layers(self) -> tuple[AttentionLayer, ...]:
        """The attention of every decoder layer (for the curated files: ``num_layers`` full-attention layers of
        ``num_kv_heads`` heads of ``head_dim``)."""
        if self.layers:
            return tuple(layer.attention for layer in self.layers)
        full = AttentionLayer("full", self.num_kv_heads, 2 * self.num_kv_heads * self.head_dim)
        return (full,) * self.num_layers

    def layer_kinds(self) -> dict[str, int]:
        """Decoder layers of each attention kind, in :data:`LAYER_KINDS` order (kinds with no layer left out)."""
        kinds = [a.kind for a in self.attention_layers()]
        return {k: kinds.count(k) for k in LAYER_KINDS if k in kinds}

    @property
    def is_moe(self) -> bool:
        """Whether any layer routes tokens to experts."""
        return any(layer.feed_forward.is_moe for layer in self.layers)

    # --- parameters ------------------------------------------------------------------------------------
    def parameters_per_layer(self) -> int:
        """Weights of one decoder layer of the Llama-family layout: attention projections, SwiGLU MLP and two
        RMSNorm vectors (for an architecture read with ``layers``: their mean, rounded down)."""
        if self.layers:
            return sum(layer.parameters for layer in self.layers) // self.num_layers
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
        """Total parameter count implied by the architecture (weights of all layers, all experts, embeddings,
        final norm). Multi-token-prediction modules and vision encoders are not part of it."""
        if self.layers:
            return sum(layer.parameters for layer in self.layers) + self.embedding_parameters() + self.hidden_size
        return self.num_layers * self.parameters_per_layer() + self.embedding_parameters() + self.hidden_size

    def active_parameters(self, include_input_embedding: bool = True) -> int:
        """Parameters one token uses: all but the routed experts it is not sent to (equal to :meth:`parameters`
        for a dense model).

        Parameters
        ----------
        include_input_embedding : bool
            Whether the input embedding matrix counts (Qwen and Mistral count it in their "activated" figures;
            DeepSeek and OpenAI do not: a token reads one row of it).
        """
        if self.layers:
            total = sum(layer.active_parameters for layer in self.layers) + self.embedding_parameters()
            total += self.hidden_size
        else:
            total = self.parameters()
        if not include_input_embedding:
            total -= self.vocab_size * self.hidden_size
        return total

    def parameters_read(self, tokens):
        """Weights a step over ``tokens`` tokens reads once: every weight but the routed experts no token is sent
        to. With uniform routing each MoE layer's tokens touch on average E·(1 − (1 − k/E)^B) of its E experts
        (top-k, B tokens): :func:`experts_touched`. A dense model reads all of :meth:`parameters` (an int,
        unchanged); numpy arrays of ``tokens`` broadcast."""
        if not self.is_moe:
            return self.parameters()
        total, groups = self._moe_read_groups
        unread = 0.0
        for (experts, top_k, expert_parameters), layers in groups:
            missed = experts - experts_touched(experts, top_k, tokens)
            unread = unread + layers * missed * expert_parameters
        return total - unread

    @cached_property
    def _moe_read_groups(self) -> tuple[int, tuple]:
        """(:meth:`parameters`, ((experts, top-k, parameters of one expert), MoE layers of that shape) ...): the
        sums :meth:`parameters_read` needs, computed once (it is called per simulated step)."""
        groups: dict[tuple[int, int, int], int] = {}
        for layer in self.layers:
            ffn = layer.feed_forward
            if ffn.is_moe:
                key = (ffn.routed_experts, ffn.experts_per_token, ffn.expert_parameters)
                groups[key] = groups.get(key, 0) + 1
        return self.parameters(), tuple(groups.items())

    def matmul_parameters(self) -> int:
        """Parameters that take part in a matrix multiply per token (all but the input embedding lookup
        and norms; for MoE, the experts a token uses): the figure behind "2 × parameters FLOPs per token"."""
        d = self.hidden_size
        if self.layers:
            per_token = sum(layer.attention_parameters + layer.feed_forward.active_parameters for layer in self.layers)
            return per_token + self.vocab_size * d
        per_layer = self.parameters_per_layer() - 2 * d
        return self.num_layers * per_layer + self.vocab_size * d


def experts_touched(experts: int, top_k: int, tokens):
    """Distinct experts of one MoE layer a batch of ``tokens`` tokens uses, expected under uniform routing (each
    token picks ``top_k`` of ``experts`` at random): E·(1 − (1 − k/E)^B). One token touches k; many touch all E.
    Published routing statistics are not uniform (DeepSeek-V3's auxiliary-loss-free balancing keeps loads close to
    even over a batch, but popular experts exist), so this is the balanced case. Arrays broadcast."""
    import numpy as np

    b = np.maximum(np.asarray(tokens, float), 0.0)
    touched = experts * (1.0 - (1.0 - top_k / experts) ** b)
    return float(touched) if touched.ndim == 0 else touched


# --- names and files -----------------------------------------------------------------------------------

def _curated() -> dict[str, Path]:
    return {p.stem: p for p in MODELS_DIR.glob("*.json")}


def _published() -> dict[str, Path]:
    return {p.parent.name: p for p in MODELS_DIR.glob("*/config.json")}


def available_models() -> list[str]:
    """Names of the architectures in ``data/models``: the curated ``<name>.json`` files and the folders holding a
    published ``config.json``."""
    return sorted(set(_curated()) | set(_published()))


def provenance(name: str) -> dict:
    """The provenance record of a shipped ``config.json`` (``data/models/<name>/provenance.json``: repository,
    commit or date, licence...); an empty dict for a curated file."""
    path = MODELS_DIR / name / "provenance.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


@lru_cache(maxsize=None)
def load_architecture(name: str) -> Architecture:
    """The architecture called ``name``: ``data/models/<name>.json`` (curated; it wins where both exist) or
    ``data/models/<name>/config.json`` (as published).

    Raises
    ------
    ParameterError
        if ``name`` is not one of :func:`available_models`.
    """
    if not isinstance(name, str) or name not in available_models():
        raise ParameterError("model", name, "one of " + ", ".join(available_models()))
    curated = _curated()
    if name in curated:
        return _load_curated(name, curated[name])
    path = _published()[name]
    prov = provenance(name)
    return read_config(json.loads(path.read_text(encoding="utf-8")), name=name,
                       display_name=prov.get("display_name", name),
                       source=prov.get("repository", str(path)))


def _load_curated(name: str, path: Path) -> Architecture:
    cfg = json.loads(path.read_text(encoding="utf-8"))
    heads = int(cfg["num_attention_heads"])
    published = cfg.get("published_parameters")
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
        published_parameters=None if published is None else int(published),
        source=cfg["source"],
    )


def load_config(path: str | Path, *, name: str | None = None) -> Architecture:
    """Read a Hugging Face ``config.json`` at ``path`` (see :func:`read_config`).

    Raises
    ------
    ParameterError
        naming ``config`` if the file does not exist or is not JSON; see :func:`read_config` for its fields.
    """
    p = Path(path)
    if not p.is_file():
        raise ParameterError("config", str(path), "a path to an existing config.json file")
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParameterError("config", str(path), f"a JSON file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(cfg, dict):
        raise ParameterError("config", str(path), "a JSON object (a Hugging Face config.json)")
    stem = p.parent.name if p.name == "config.json" else p.stem
    return read_config(cfg, name=name or stem, source=str(p))


# --- config.json readers -------------------------------------------------------------------------------

class _Fields:
    """Fields of one config dict, read with the family named in every error."""

    def __init__(self, cfg: dict, family: str):
        self.cfg, self.family = cfg, family

    def has(self, key: str) -> bool:
        return self.cfg.get(key) is not None

    def req(self, key: str) -> int:
        value = self.cfg.get(key)
        if value is None:
            raise ConfigFieldError(self.family, key)
        return self._int(key, value)

    def opt(self, key: str, default):
        value = self.cfg.get(key)
        if value is None:
            return default
        return self._int(key, value) if isinstance(default, int) and not isinstance(default, bool) else value

    def _int(self, key, value) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
            raise ParameterError(f"{self.family}.{key}", value, "a non-negative integer")
        return int(value)


def _gqa(f: _Fields, d: int) -> tuple[int, int, int]:
    heads = f.req("num_attention_heads")
    kv = f.opt("num_key_value_heads", heads)
    head_dim = f.opt("head_dim", 0) or d // heads
    return heads, kv, head_dim


def _attn_params(d: int, heads: int, kv: int, h: int, *, qkv_bias=False, o_bias=False, qk_norm=False,
                 q_gate=False) -> int:
    """Weights of a multi/grouped-query attention block: q (doubled with an output gate), k, v, o projections,
    their biases and per-head q/k norms."""
    q = d * heads * h * (2 if q_gate else 1)
    kv_w = 2 * d * kv * h
    o = heads * h * d
    bias = (heads * h + 2 * kv * h) * qkv_bias + d * o_bias
    return q + kv_w + o + bias + (2 * h if qk_norm else 0)


def _swiglu(d: int, inter: int) -> int:
    return 3 * d * inter


def _kv_full(kind: str, kv: int, h: int, window: int | None = None) -> AttentionLayer:
    return AttentionLayer(kind, kv, 2 * kv * h, window if kind in ("sliding", "chunked") else None)


def _layers_for(kinds, attn_for, ffn_for, norms: int) -> tuple[Layer, ...]:
    layers = []
    for i, kind in enumerate(kinds):
        attention, attention_params = attn_for(i, kind)
        layers.append(Layer(attention, attention_params, ffn_for(i), norms))
    return tuple(layers)


def _read_llama_like(cfg: dict, family: str) -> dict:
    """llama, mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe (transformers ``modeling_<family>.py``)."""
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    qwen = family.startswith("qwen")
    qkv_bias = family in ("qwen2", "qwen2_moe") or bool(cfg.get("attention_bias", False))
    o_bias = family in ("llama",) and bool(cfg.get("attention_bias", False))
    qk_norm = family in ("qwen3", "qwen3_moe")
    # sliding window: Mistral applies cfg["sliding_window"] (transformers' MistralConfig default 4096) to every
    # layer; Qwen only when use_sliding_window is true, to the layers from max_window_layers on.
    window = None
    if family == "mistral":
        window = (f.opt("sliding_window", 0) or None) if "sliding_window" in cfg else 4096
    elif family == "mixtral":
        window = f.opt("sliding_window", 0) or None
    kinds = []
    for i in range(n_layers):
        if window and family in ("mistral", "mixtral"):
            kinds.append("sliding")
        elif qwen and cfg.get("use_sliding_window") and cfg.get("sliding_window") is not None \
                and i >= f.opt("max_window_layers", 0):
            kinds.append("sliding")
        else:
            kinds.append("full")
    if qwen and cfg.get("use_sliding_window"):
        window = f.req("sliding_window")
    attn_params = _attn_params(d, heads, kv, h, qkv_bias=qkv_bias, o_bias=o_bias, qk_norm=qk_norm)
    mlp_bias = bool(cfg.get("mlp_bias", False))

    def ffn(i):
        if family == "mixtral":
            experts, k = f.req("num_local_experts"), f.req("num_experts_per_tok")
            return FeedForward(d * experts, experts, k, _swiglu(d, f.req("intermediate_size")))
        if family in ("qwen2_moe", "qwen3_moe"):
            experts = f.req("num_experts")
            sparse = (i not in (cfg.get("mlp_only_layers") or [])) and experts > 0 \
                and (i + 1) % f.opt("decoder_sparse_step", 1) == 0
            if sparse:
                shared = f.opt("shared_expert_intermediate_size", 0) if family == "qwen2_moe" else 0
                always = d * experts + (_swiglu(d, shared) + d if shared else 0)
                return FeedForward(always, experts, f.req("num_experts_per_tok"),
                                   _swiglu(d, f.req("moe_intermediate_size")))
        inter = f.req("intermediate_size")
        return FeedForward(_swiglu(d, inter) + (2 * inter + d) * mlp_bias)

    layers = _layers_for(kinds, lambda i, kind: (_kv_full(kind, kv, h, window), attn_params), ffn, 2 * d)
    inter = f.opt("intermediate_size", 0) or f.req("moe_intermediate_size")
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=inter, vocab_size=vocab, max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


def _read_qwen3_next(cfg: dict, family: str) -> dict:
    """Qwen3-Next: gated full attention every ``full_attention_interval`` layers, Gated DeltaNet linear attention
    in the others (transformers ``modeling_qwen3_next.py``; vLLM ``qwen3_next.py``), MoE with a gated shared
    expert."""
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    interval = f.opt("full_attention_interval", 4)
    types = cfg.get("layer_types") or ["linear_attention" if (i + 1) % interval else "full_attention"
                                       for i in range(n_layers)]
    k_heads, v_heads = f.req("linear_num_key_heads"), f.req("linear_num_value_heads")
    k_dim, v_dim, kernel = f.req("linear_key_head_dim"), f.req("linear_value_head_dim"), f.req("linear_conv_kernel_dim")
    key_dim, value_dim = k_heads * k_dim, v_heads * v_dim
    conv_dim = 2 * key_dim + value_dim
    linear_params = (d * (2 * key_dim + 2 * value_dim)      # in_proj_qkvz
                     + d * 2 * v_heads                        # in_proj_ba
                     + conv_dim * kernel                      # depthwise conv1d, no bias
                     + 2 * v_heads                            # dt_bias, A_log
                     + v_dim                                  # gated RMSNorm over one value head
                     + value_dim * d)                         # out_proj
    # vLLM MambaStateShapeCalculator.gated_delta_net_state_shape: conv state (kernel - 1) x conv_dim and
    # recurrent state v_heads x k_dim x v_dim per sequence and layer.
    state = (kernel - 1) * conv_dim + v_heads * k_dim * v_dim
    full_params = _attn_params(d, heads, kv, h, qk_norm=True, q_gate=True)
    experts = f.req("num_experts")

    def attn(i, kind):
        if kind == "linear_attention":
            return AttentionLayer("linear", v_heads, 0, None, state), linear_params
        if kind != "full_attention":
            raise ParameterError(f"{family}.layer_types[{i}]", kind, "'linear_attention' or 'full_attention'")
        return _kv_full("full", kv, h), full_params

    def ffn(i):
        sparse = (i not in (cfg.get("mlp_only_layers") or [])) and experts > 0 \
            and (i + 1) % f.opt("decoder_sparse_step", 1) == 0
        if not sparse:
            return FeedForward(_swiglu(d, f.req("intermediate_size")))
        shared = f.opt("shared_expert_intermediate_size", 0)
        always = d * experts + (_swiglu(d, shared) + d if shared else 0)
        return FeedForward(always, experts, f.req("num_experts_per_tok"), _swiglu(d, f.req("moe_intermediate_size")))

    layers = _layers_for(types, attn, ffn, 2 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=f.opt("intermediate_size", 0) or f.req("moe_intermediate_size"), vocab_size=vocab,
                max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


def _read_deepseek(cfg: dict, family: str) -> dict:
    """DeepSeek-V2/V3/R1 and Kimi K2: multi-head latent attention (MLA) and MoE with shared experts after
    ``first_k_dense_replace`` dense layers (DeepSeek's ``modeling_deepseek.py``; transformers
    ``modeling_deepseek_v3.py``). Multi-token-prediction layers (``num_nextn_predict_layers``) are not counted."""
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads = f.req("num_attention_heads")
    kv_rank, rope, nope, v = (f.req("kv_lora_rank"), f.req("qk_rope_head_dim"), f.req("qk_nope_head_dim"),
                              f.req("v_head_dim"))
    q_rank = f.opt("q_lora_rank", 0)
    qk = nope + rope
    q = (d * q_rank + q_rank + q_rank * heads * qk) if q_rank else d * heads * qk
    attn_params = (q + d * (kv_rank + rope) + kv_rank          # kv_a_proj_with_mqa, kv_a_layernorm
                   + kv_rank * heads * (nope + v) + heads * v * d)  # kv_b_proj, o_proj
    latent = AttentionLayer("mla", 1, kv_rank + rope, rope_elements=rope, value_head_dim=v)
    experts = f.opt("n_routed_experts", 0)
    first_dense, freq = f.opt("first_k_dense_replace", 0), f.opt("moe_layer_freq", 1)
    noaux = cfg.get("topk_method") == "noaux_tc"

    def ffn(i):
        if experts and i >= first_dense and i % freq == 0:
            moe_inter = f.req("moe_intermediate_size")
            shared = f.opt("n_shared_experts", 0) * moe_inter
            always = experts * d + experts * noaux + (_swiglu(d, shared) if shared else 0)
            return FeedForward(always, experts, f.req("num_experts_per_tok"), _swiglu(d, moe_inter))
        return FeedForward(_swiglu(d, f.req("intermediate_size")))

    layers = _layers_for(["mla"] * n_layers, lambda i, kind: (latent, attn_params), ffn, 2 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads,
                num_kv_heads=f.opt("num_key_value_heads", heads), head_dim=qk,
                intermediate_size=f.req("intermediate_size"), vocab_size=vocab,
                max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


def _read_gpt_oss(cfg: dict, family: str) -> dict:
    """gpt-oss: alternating sliding-window (``sliding_window`` tokens) and full attention with biases and
    per-head sinks; MoE with biased experts and router (transformers ``modeling_gpt_oss.py``)."""
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    window = f.req("sliding_window")
    types = cfg.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention"
                                       for i in range(n_layers)]
    bias = bool(cfg.get("attention_bias", True))
    attn_params = _attn_params(d, heads, kv, h, qkv_bias=bias, o_bias=bias) + heads  # + sinks
    experts, inter = f.req("num_local_experts"), f.req("intermediate_size")
    top_k = f.opt("num_experts_per_tok", 0) or f.req("experts_per_token")
    expert = d * 2 * inter + 2 * inter + inter * d + d       # gate_up and down projections with biases
    ffn = FeedForward(d * experts + experts, experts, top_k, expert)

    def attn(i, kind):
        return _kv_full(_kind_of(family, i, kind), kv, h, window), attn_params

    layers = _layers_for(types, attn, lambda i: ffn, 2 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=inter, vocab_size=vocab, max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


def _kind_of(family: str, i: int, layer_type: str) -> str:
    kinds = {"full_attention": "full", "sliding_attention": "sliding", "chunked_attention": "chunked"}
    if layer_type not in kinds:
        raise ParameterError(f"{family}.layer_types[{i}]", layer_type, "one of " + ", ".join(kinds))
    return kinds[layer_type]


#: transformers' defaults for the fields the published Gemma 3 ``text_config`` leaves out
#: (``Gemma3TextConfig.__init__``, transformers ``configuration_gemma3.py``).
GEMMA3_TEXT_DEFAULTS = {"vocab_size": 262_208, "max_position_embeddings": 131_072, "sliding_window_pattern": 6,
                        "tie_word_embeddings": True}


def _read_gemma(cfg: dict, family: str) -> dict:
    """Gemma 2 (local/global alternating) and Gemma 3 (5 local : 1 global): sliding-window layers of
    ``sliding_window`` tokens, q/k norms (Gemma 3), four RMSNorms per layer, GeGLU MLP, tied embeddings
    (transformers ``modeling_gemma2.py``, ``modeling_gemma3.py``)."""
    if family == "gemma3":
        text = cfg.get("text_config")
        if not isinstance(text, dict):
            raise ConfigFieldError(family, "text_config")
        cfg = {**GEMMA3_TEXT_DEFAULTS, **text}
        family = "gemma3_text"
    elif family == "gemma3_text":
        cfg = {**GEMMA3_TEXT_DEFAULTS, **cfg}
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    window = f.req("sliding_window")
    pattern = 2 if family == "gemma2" else f.opt("sliding_window_pattern", 6)
    types = cfg.get("layer_types") or ["sliding_attention" if (i + 1) % pattern else "full_attention"
                                       for i in range(n_layers)]
    attn_params = _attn_params(d, heads, kv, h, qkv_bias=bool(cfg.get("attention_bias", False)),
                               o_bias=bool(cfg.get("attention_bias", False)), qk_norm=family == "gemma3_text")
    ffn = FeedForward(_swiglu(d, f.req("intermediate_size")))
    layers = _layers_for(types, lambda i, kind: (_kv_full(_kind_of(family, i, kind), kv, h, window), attn_params),
                         lambda i: ffn, 4 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=f.req("intermediate_size"), vocab_size=vocab,
                max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", True)), layers=layers)


def _read_llama4(cfg: dict, family: str) -> dict:
    """Llama 4: chunked attention (``attention_chunk_size``) on the RoPE layers, full attention on the NoPE layers
    (every ``no_rope_layer_interval``-th, default 4), MoE with one shared expert on every
    ``interleave_moe_layer_step``-th layer, dense MLP (``intermediate_size_mlp``) elsewhere (transformers
    ``configuration_llama4.py``, ``modeling_llama4.py``). The vision encoder is not counted."""
    if family == "llama4":
        text = cfg.get("text_config")
        if not isinstance(text, dict):
            raise ConfigFieldError(family, "text_config")
        cfg, family = text, "llama4_text"
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    chunk = f.opt("attention_chunk_size", 0) or None
    nope_interval = f.opt("no_rope_layer_interval", 4)
    rope_layers = cfg.get("no_rope_layers") or [int((i + 1) % nope_interval != 0) for i in range(n_layers)]
    kinds = ["chunked" if rope_layers[i] and chunk else "full" for i in range(n_layers)]
    attn_params = _attn_params(d, heads, kv, h, qkv_bias=bool(cfg.get("attention_bias", False)),
                               o_bias=bool(cfg.get("attention_bias", False)))
    step = f.opt("interleave_moe_layer_step", 1)
    moe_layers = cfg.get("moe_layers") or (list(range(step - 1, n_layers, step)) if step else [])
    experts, inter = f.req("num_local_experts"), f.req("intermediate_size")

    def ffn(i):
        if i in moe_layers:
            return FeedForward(d * experts + _swiglu(d, inter), experts, f.req("num_experts_per_tok"),
                               _swiglu(d, inter))
        return FeedForward(_swiglu(d, f.req("intermediate_size_mlp")))

    layers = _layers_for(kinds, lambda i, kind: (_kv_full(kind, kv, h, chunk), attn_params), ffn, 2 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=inter, vocab_size=vocab, max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


def _read_shared_kv(cfg: dict, family: str) -> dict:
    """A dense decoder with local (sliding-window) and global attention layers and cross-layer KV sharing: the
    Llama layout (SwiGLU MLP, two RMSNorms per layer, no biases) with ``layer_types`` (``"sliding_attention"`` or
    ``"full_attention"`` per layer, as transformers' Gemma 3 and gpt-oss configurations), ``sliding_window`` and
    ``kv_source_layer``: per layer, the index of the layer whose KV cache it reads (itself when it holds its own;
    an earlier layer of the same kind otherwise). Not a published model family: the format of configurations the
    study writes itself (``data/models/<name>/provenance.json`` says which figures are published and which
    assumed)."""
    f = _Fields(cfg, family)
    d, n_layers, vocab = f.req("hidden_size"), f.req("num_hidden_layers"), f.req("vocab_size")
    heads, kv, h = _gqa(f, d)
    window = f.req("sliding_window")
    for key in ("layer_types", "kv_source_layer"):
        if not isinstance(cfg.get(key), list):
            raise ConfigFieldError(family, key)
    types, source = cfg["layer_types"], cfg["kv_source_layer"]
    unknown = sorted({t for t in types if t not in ("sliding_attention", "full_attention")})
    if unknown:
        raise ParameterError(f"{family}.layer_types", unknown[0], "'sliding_attention' or 'full_attention'")
    for key, values in (("layer_types", types), ("kv_source_layer", source)):
        if len(values) != n_layers:
            raise ParameterError(f"{family}.{key}", f"{len(values)} entries",
                                 f"one entry per layer (num_hidden_layers = {n_layers})")
    for i, j in enumerate(source):
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j <= i or types[j] != types[i] \
                or source[j] != j:
            raise ParameterError(f"{family}.kv_source_layer[{i}]", j,
                                 f"the index of layer {i} itself or of an earlier layer of the same kind that holds "
                                 f"its own cache")
    attn_params = _attn_params(d, heads, kv, h)
    ffn = FeedForward(_swiglu(d, f.req("intermediate_size")))

    def attn(i, kind):
        own = _kv_full("sliding" if kind == "sliding_attention" else "full", kv, h, window)
        if source[i] == i:
            return own, attn_params
        return AttentionLayer(own.kind, kv, 0, own.window, reads_kv_of=source[i]), attn_params

    layers = _layers_for(types, attn, lambda i: ffn, 2 * d)
    return dict(num_layers=n_layers, hidden_size=d, num_attention_heads=heads, num_kv_heads=kv, head_dim=h,
                intermediate_size=f.req("intermediate_size"), vocab_size=vocab,
                max_context_tokens=f.req("max_position_embeddings"),
                tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)), layers=layers)


#: ``model_type`` → reader.
READERS = {
    "llama": _read_llama_like, "mistral": _read_llama_like, "mixtral": _read_llama_like,
    "qwen2": _read_llama_like, "qwen2_moe": _read_llama_like, "qwen3": _read_llama_like,
    "qwen3_moe": _read_llama_like, "qwen3_next": _read_qwen3_next,
    "deepseek_v2": _read_deepseek, "deepseek_v3": _read_deepseek, "kimi_k2": _read_deepseek,
    "gpt_oss": _read_gpt_oss, "gemma2": _read_gemma, "gemma3": _read_gemma, "gemma3_text": _read_gemma,
    "llama4": _read_llama4, "llama4_text": _read_llama4, "hybrid_shared_kv": _read_shared_kv,
}


def read_config(cfg: dict, *, name: str = "config", display_name: str | None = None,
                source: str = "config.json") -> Architecture:
    """The :class:`Architecture` of a Hugging Face ``config.json`` (as a dict), for the families of
    :data:`READERS`.

    Raises
    ------
    ParameterError
        naming ``model_type`` (with the families read) if it is missing or unknown; :class:`ConfigFieldError` (one
        line naming the family and the field) if a field the family needs is missing.
    """
    family = cfg.get("model_type")
    if family not in READERS:
        raise ParameterError("model_type", family, "one of " + ", ".join(sorted(READERS)))
    fields = READERS[family](cfg, family)
    return Architecture(name=name, display_name=display_name or name, source=source, family=family, **fields)


# --- command line --------------------------------------------------------------------------------------

def _describe(arch: Architecture) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in arch.layer_kinds().items())
    windows = sorted({a.window for a in arch.attention_layers() if a.window})
    win = f" (window/chunk {', '.join(str(w) for w in windows)} tokens)" if windows else ""
    moe = ""
    if arch.is_moe:
        ffn = next(layer.feed_forward for layer in arch.layers if layer.feed_forward.is_moe)
        moe = f", MoE {ffn.experts_per_token} of {ffn.routed_experts} experts"
    return (f"{arch.name}: {arch.display_name} [{arch.family}] {arch.attention}, {arch.num_layers} layers: "
            f"{kinds}{win}{moe}; parameters {arch.parameters() / 1e9:.2f} B total, "
            f"{arch.active_parameters() / 1e9:.2f} B active per token; native context {arch.max_context_tokens:,}")


def main(argv: list[str] | None = None) -> int:
    """``python -m model.architectures [list | show NAME | read PATH]``: the architectures the study knows."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m model.architectures",
        description="Model architectures read from data/models (curated files and published config.json files). "
                    "KV-cache sizes: python -m model.kv size --help.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="one line per model: attention kind, layer kinds, parameters")
    show = sub.add_parser("show", help="one model's layers and parameters")
    show.add_argument("name", help="model name (see 'list')")
    read = sub.add_parser("read", help="read any Hugging Face config.json")
    read.add_argument("path", help="path to a config.json")
    args = parser.parse_args(argv)
    try:
        if args.command == "show":
            print(_describe(load_architecture(args.name)))
        elif args.command == "read":
            print(_describe(load_config(args.path)))
        elif args.command == "list":
            for name in available_models():
                print(_describe(load_architecture(name)))
        else:
            parser.print_help()
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
