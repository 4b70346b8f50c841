"""Step time of a serving replica from first principles (roofline): a model on some GPUs (:class:`Deployment`)
and the seconds of its prefill and decode steps.

The discrete-event simulation that uses these step times lives in :mod:`model.serving`; the analytic
saturation throughput in :mod:`model.serving.saturation`.

Roofline of one step
--------------------
A step processes ``tokens`` new tokens (one per decoding sequence, a whole prompt per prefilling one).

- FLOPs = 2 × (matmul parameters without the output projection) × tokens
  + 2 × (vocabulary × width) × sequences that emit a token (logits only for the last position)
  + attention FLOPs per pair × attention pairs: 4 × query heads × head width per layer (QKᵀ and AV, one
  multiply-add each); for an MLA layer (DeepSeek-V2/V3/R1, Kimi K2) in **decode**, with the key and value
  up-projections absorbed into the query and output projections (DeepSeek-V2, arXiv:2405.04434, on MLA: the
  key up-projection "can be absorbed" into the query's and the value's into the output's during inference), each head scores the cached latent of kv_lora_rank + qk_rope_head_dim
  elements and sums kv_lora_rank of it: 2 × heads × (2 × kv_lora_rank + qk_rope_head_dim); in **prefill**
  (keys and values expanded per head) 2 × heads × (qk_nope_head_dim + qk_rope_head_dim + v_head_dim);
  :meth:`Deployment.attention_flops_per_pair`;
- bytes = all weights once + KV cache read (tokens attended) × bytes per token + KV written;
- compute C = dense FLOPs / (GPUs × peak × MFU(tokens)) + attention FLOPs / (GPUs × FP16 peak × attention MFU),
  where the routed experts of an MoE layer run at ``expert_mfu`` × MFU(tokens × k ÷ E) (grouped matmuls over E
  small experts, each seeing only tokens × k ÷ E of the step's rows, run well below one dense matmul of the same
  FLOPs; the ramp MFU × r ÷ (r + half-tokens) is taken at each expert's r rows, i.e. half-tokens × E ÷ k in step
  tokens);
  with MFU(tokens) = MFU × tokens / (tokens + half-tokens) (a matmul of few rows runs far below peak); where the
  vendor publishes a maximum achievable matmul rate (AMD's "max-achievable FLOPs" of the MI300X and MI325X: about
  half the datasheet peak, because the chip's clock falls under dense matmul load) that rate stands in for the
  peak (``achievable_*_tflops`` of data/hardware.csv); NVIDIA publishes none, so its parts keep the datasheet peak
  and the fitted MFU absorbs their gap;
- memory M = weight bytes / (GPUs × bandwidth × MBU) + KV bytes / (GPUs × bandwidth × attention MBU);
- time = max(C, M) + overlap × min(C, M) + step overhead + layers × layer overhead + sequences × sequence
  overhead (host work per running request per step: scheduling, sampling) + all-reduce, where
  ``overlap`` is the share of the shorter of the two not hidden behind the longer (0 = the plain roofline);
- MFU and MBU of 8-bit weights (FP8, INT8) are multiplied by their own kernel efficiencies, and those of FP4
  weights (NVFP4/MXFP4, at the GPU's FP4 tensor peak) by theirs (``fp4_mfu``, ``fp4_mbu``);
- all-reduce: two per layer, each a fixed latency plus a ring moving 2 (N − 1)/N of the tokens × width
  activations over each GPU's link **per direction** (the datasheet's NVLink figure, 600 GB/s on A100 and
  900 GB/s on H100, counts both directions together: :data:`LINK_DIRECTIONS`);
- expert parallelism (``expert_parallel`` = EP > 1: each GPU holds 1/EP of the routed experts): the all-reduce of
  an MoE layer's output is replaced by an all-to-all that sends each token's activations to its top-k experts
  and back (dispatch and combine): per MoE layer and GPU, 2 × (tokens ÷ EP) × k × width × 2 bytes × (EP − 1)/EP
  over the GPU's scale-up link per direction (``scaleup_gb_s_per_direction`` of data/hardware.csv), plus one
  collective latency each way (:meth:`Deployment.all_to_all_time`); a replica that spans nodes (``node_gpus``
  GPUs each, fewer than ``n_gpus``: DeepSeek's prefill units of 4 nodes with EP32 and decode units of 18 nodes
  with EP144) sends the share of those bytes bound for other nodes, (EP − G)/EP of a token's experts with G of
  the EP group's GPUs in a node, over its NIC (data/hardware.csv ``rdma-nic-400g`` × ``plan_nics_per_gpu``,
  :func:`model.serving.kv_transfer.load_link`) while the share for its own node, (G − 1)/EP, crosses the
  scale-up link at the same time: each way takes the longer of the two;
- attention data parallelism (``attention_data_parallel``, TensorRT-LLM's ``enable_attention_dp``, SGLang's
  ``--enable-dp-attention``): each GPU runs attention for its own sequences with the whole attention weights,
  so the KV cache holds one copy of each token (no replicated heads or latent), the attention weights are held
  and read once per GPU, and the attention all-reduce is gone.

MFU (model FLOPs utilisation), MBU (model bandwidth utilisation) and the other efficiencies and overheads
are parameters fitted on the calibration rows of ``data/measurements/step_time_points.csv`` by
:func:`model.serving.step_time_fit.fit_step_time` and stored with their fit in ``data/parameters/batching.csv``. With ``sharding="pipeline"`` (Hugging Face ``device_map="auto"``) the
layers are split across GPUs that run one after another, so only one GPU's peak and bandwidth serve a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from model.architectures import Architecture, load_architecture
from model.hardware import Accelerator, load_gpu
from model.formats import bytes_per_element
from model.kv import kv_bytes_per_token
from model.kv.size import (attention_tokens_per_layer, kv_group_bytes_held, kv_group_bytes_per_token,
                           kv_grows_with_context, prefill_pairs_per_layer)
from model.parameters import default
from model.quantization.weights import COMPUTE_TYPE, DTYPES, usable_bytes_per_gpu, weight_bytes
from model.checks import ParameterError, check_choice, check_fraction, check_int, check_nonnegative

SHARDINGS = ("tensor", "pipeline")
#: Bytes of one activation element exchanged by the tensor-parallel all-reduce (FP16/BF16 activations).
ACTIVATION_BYTES = 2
#: Directions counted in a datasheet NVLink bandwidth: NVIDIA quotes NVLink 3 (A100) as 600 GB/s and NVLink 4
#: (H100/H200) as 900 GB/s "total", i.e. both directions together (A100 datasheet; H100 datasheet; NVLink 4
#: = 18 links x 25 GB/s per direction x 2 directions), so a ring step moves data at half of it each way.
LINK_DIRECTIONS = 2
#: Number formats whose weights run on 8-bit kernels (their MFU and MBU carry their own efficiency).
LOW_PRECISION = ("fp8", "int8")


#: Keyword arguments that turn a :class:`Deployment` into the plain roofline at full efficiency (no overheads,
#: no overlap term, every efficiency 1): the form compared with other rooflines (``benchmarks/compare_genz.py``).
ROOFLINE = {"mfu": 1.0, "mbu": 1.0, "attention_mfu": 1.0, "attention_mbu": 1.0, "mfu_half_tokens": 0.0,
            "overlap": 0.0, "step_overhead_s": 0.0, "layer_overhead_s": 0.0, "allreduce_latency_s": 0.0,
            "low_precision_mfu": 1.0, "low_precision_mbu": 1.0, "fp4_mfu": 1.0, "fp4_mbu": 1.0, "expert_mfu": 1.0,
            "sequence_overhead_s": 0.0}

_DEFAULTS: dict[str, float] = {}


def _cited(name: str) -> float:
    if name not in _DEFAULTS:
        _DEFAULTS[name] = default(name)
    return _DEFAULTS[name]


def _p(name):
    return field(default_factory=lambda: _cited(name))


@dataclass(frozen=True)
class Deployment:
    """One serving replica: a model on ``n_gpus`` GPUs.

    Attributes
    ----------
    arch, gpu : Architecture, Accelerator
    n_gpus : int
        GPUs of the replica (tensor-parallel degree with ``sharding="tensor"``).
    weight_dtype, kv_dtype : str
        Number formats of weights and KV cache (:data:`model.quantization.weights.DTYPES`).
    mfu : float
        Share of the dense tensor peak a compute-bound step achieves, in (0, 1].
    mbu : float
        Share of HBM bandwidth a memory-bound step achieves on the weights, in (0, 1].
    attention_mfu, attention_mbu : float
        Shares of the FP16 tensor peak and of HBM bandwidth the attention kernels achieve on attention
        FLOPs and on KV-cache bytes, in (0, 1].
    mfu_half_tokens : float
        Tokens of a step at which the dense matmuls reach half of ``mfu`` (MFU(t) = mfu × t / (t + this)).
    overlap : float
        Share of the shorter of compute and memory time not hidden behind the longer, in [0, 1].
    step_overhead_s, layer_overhead_s : float
        Fixed seconds per step and per layer per step (kernel launches, scheduling).
    allreduce_latency_s : float
        Fixed seconds of one tensor-parallel all-reduce (two per layer).
    low_precision_mfu, low_precision_mbu : float
        Efficiency of the 8-bit (FP8/INT8) kernels relative to the FP16 ones, multiplying ``mfu``/``mbu``.
    fp4_mfu, fp4_mbu : float
        Efficiency of the FP4 kernels (against the GPU's FP4 peak) relative to the FP16 ones, multiplying
        ``mfu``/``mbu``.
    expert_parallel : int
        GPUs the routed experts are spread over (a divisor of ``n_gpus``); 1 = experts split by tensor parallelism
        like the dense weights.
    attention_data_parallel : bool
        Whether each GPU runs attention for its own sequences (see the module docstring).
    node_gpus : int
        GPUs per node (per scale-up domain) when the replica spans nodes; 0 (default) = the replica sits in one
        scale-up domain whatever its size. Only the expert-parallel all-to-all uses it.
    expert_mfu : float
        Efficiency of the routed-expert matmuls relative to the dense ones (multiplies ``mfu``), in (0, 1]; their
        MFU ramp is taken at each expert's rows, tokens × k ÷ E. Unused by a dense model.
    sequence_overhead_s : float
        Seconds of host work per running sequence per step (scheduling, sampling), added to every step.
    sharding : str
        ``"tensor"`` (Megatron tensor parallelism: all GPUs work on every layer) or ``"pipeline"`` (layers
        split across GPUs that run in turn, as Hugging Face ``device_map="auto"`` does).
    memory_utilization : float or None
        Share of GPU memory weights + KV may use (default vLLM's 0.9).
    kv_context_tokens : float or None
        Context of the sequences the KV cache holds, tokens, for an architecture whose layers do not all hold
        every token (windows, chunks, linear states): :attr:`kv_bytes_per_token` is then their mean per token at
        that context. None: the bytes of a token every layer holds (an upper bound for such models). Ignored by
        the curated Llama-family models and by models whose every layer holds every token.

    Architectures read from a ``config.json`` (``arch.layers``) follow their layers: KV bytes per token of the
    whole tensor-parallel group (an MLA latent, or fewer KV heads than GPUs, held on every GPU:
    :func:`model.kv.size.tp_share`), decode steps that read each layer's window, chunk or fixed state at the
    sequence's context (:meth:`decode_time`), and MoE weights read as the dense ones plus the experts the step's
    tokens touch (:meth:`weight_bytes_read`). The curated models keep the formulas above unchanged.
    """

    arch: Architecture
    gpu: Accelerator
    n_gpus: int = 1
    weight_dtype: str = "fp16"
    kv_dtype: str = "fp16"
    mfu: float = _p("batching_prefill_mfu")
    mbu: float = _p("batching_decode_mbu")
    sharding: str = "tensor"
    memory_utilization: float | None = None
    attention_mfu: float = _p("step_attention_mfu")
    attention_mbu: float = _p("step_attention_mbu")
    mfu_half_tokens: float = _p("step_mfu_half_tokens")
    overlap: float = _p("step_overlap")
    step_overhead_s: float = _p("step_overhead_s")
    layer_overhead_s: float = _p("step_layer_overhead_s")
    allreduce_latency_s: float = _p("step_allreduce_latency_s")
    low_precision_mfu: float = _p("step_low_precision_mfu")
    low_precision_mbu: float = _p("step_low_precision_mbu")
    kv_context_tokens: float | None = None
    fp4_mfu: float = _p("step_fp4_mfu")
    fp4_mbu: float = _p("step_fp4_mbu")
    expert_parallel: int = 1
    attention_data_parallel: bool = False
    node_gpus: int = 0
    expert_mfu: float = _p("step_expert_mfu")
    sequence_overhead_s: float = _p("step_sequence_overhead_s")

    def __post_init__(self):
        check_int("n_gpus", self.n_gpus, low=1)
        check_choice("weight_dtype", self.weight_dtype, DTYPES)
        check_choice("kv_dtype", self.kv_dtype, DTYPES)
        check_fraction("mfu", self.mfu, allow_zero=False)
        check_fraction("mbu", self.mbu, allow_zero=False)
        check_choice("sharding", self.sharding, SHARDINGS)
        for name in ("attention_mfu", "attention_mbu", "low_precision_mfu", "low_precision_mbu", "fp4_mfu",
                     "fp4_mbu", "expert_mfu"):
            check_fraction(name, getattr(self, name), allow_zero=False)
        check_fraction("overlap", self.overlap)
        check_int("expert_parallel", self.expert_parallel, low=1)
        if self.n_gpus % self.expert_parallel or (self.expert_parallel > 1 and self.sharding != "tensor"):
            raise ParameterError("expert_parallel", self.expert_parallel,
                                 f"a divisor of n_gpus={self.n_gpus} with tensor sharding")
        if self.attention_data_parallel not in (True, False) or (self.attention_data_parallel
                                                                 and self.sharding != "tensor"):
            raise ParameterError("attention_data_parallel", self.attention_data_parallel,
                                 "True or False (True only with tensor sharding)")
        check_int("node_gpus", self.node_gpus, low=0)
        if self.node_gpus and self.n_gpus > self.node_gpus and self.n_gpus % self.node_gpus:
            raise ParameterError("n_gpus", self.n_gpus, f"at most node_gpus={self.node_gpus} or a multiple of it "
                                                        f"(whole nodes)")
        for name in ("mfu_half_tokens", "step_overhead_s", "layer_overhead_s", "allreduce_latency_s",
                     "sequence_overhead_s"):
            check_nonnegative(name, getattr(self, name))
        self.gpu.flops(COMPUTE_TYPE[self.weight_dtype])  # raises if the GPU lacks that compute type
        if self.kv_budget_bytes <= 0:
            need = math.ceil(self.weight_bytes / usable_bytes_per_gpu(self.gpu, self.memory_utilization))
            raise ParameterError("n_gpus", self.n_gpus,
                                 f">= {need}: {self.arch.name} weights in {self.weight_dtype} take "
                                 f"{self.weight_bytes / 1e9:.1f} GB but {self.n_gpus} x {self.gpu.name} offer "
                                 f"{self.n_gpus * usable_bytes_per_gpu(self.gpu, self.memory_utilization) / 1e9:.1f}"
                                 f" GB usable")

    # --- memory ---------------------------------------------------------------------------------------
    @property
    def weight_bytes(self) -> float:
        """Bytes of all weights on the replica (with attention data parallelism, the attention weights once per
        GPU)."""
        return weight_bytes(self.arch, self.weight_dtype) + self._replicated_bytes

    @cached_property
    def _replicated_bytes(self) -> float:
        """Bytes of the extra copies of the attention weights under attention data parallelism (n_gpus − 1 of
        them), else 0."""
        if not self.attention_data_parallel or self.n_gpus == 1:
            return 0.0
        a = self.arch
        if a.layers:
            attn = sum(layer.attention_parameters for layer in a.layers)
        else:  # Llama-family layout: Q and O of heads x head width, K and V of KV heads x head width
            attn = a.num_layers * 2 * a.hidden_size * a.head_dim * (a.num_attention_heads + a.num_kv_heads)
        return (self.n_gpus - 1) * attn * bytes_per_element(self.weight_dtype, name="weight_dtype")

    def weight_bytes_read(self, tokens):
        """Bytes of weights a step over ``tokens`` tokens reads: all of them for a dense model; for an MoE model
        the dense weights plus the routed experts the tokens touch under uniform routing
        (:meth:`model.architectures.Architecture.parameters_read`); plus the attention weights' extra copies
        under attention data parallelism. Arrays broadcast."""
        if not self.arch.is_moe:
            return self.weight_bytes
        return self.arch.parameters_read(tokens) * bytes_per_element(self.weight_dtype, name="weight_dtype") \
            + self._replicated_bytes

    @property
    def _tp(self) -> int:
        """GPUs that split one sequence's KV cache (1 under attention data parallelism)."""
        return self.n_gpus if self.sharding == "tensor" and not self.attention_data_parallel else 1

    @cached_property
    def _kv_grows(self) -> bool:
        return not self.arch.layers or kv_grows_with_context(self.arch)

    @cached_property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes of one token on the whole replica. A curated model: :func:`model.kv.kv_bytes_per_token`.
        A model read from ``config.json``: what the tensor-parallel group holds (a replicated MLA latent counts
        once per GPU), while every layer holds the token, or, with :attr:`kv_context_tokens`, the mean per token
        of a sequence of that context (windows, chunks, fixed states)."""
        a = self.arch
        if not a.layers:
            return kv_bytes_per_token(a, self.kv_dtype)
        if self._kv_grows or self.kv_context_tokens is None:
            return kv_group_bytes_per_token(a, self.kv_dtype, tp=self._tp)
        ctx = float(self.kv_context_tokens)
        return float(kv_group_bytes_held(a, ctx, self.kv_dtype, tp=self._tp)) / ctx

    @property
    def kv_bytes_per_token_stored(self) -> float:
        """KV bytes of one token as a cache tier outside the GPUs stores it: one copy of every layer's cache
        (:func:`model.kv.kv_bytes_per_token`), whatever copies the tensor-parallel GPUs hold. For a curated model
        equal to :attr:`kv_bytes_per_token`; for windowed or linear layers, the bytes of a token every layer holds."""
        return kv_bytes_per_token(self.arch, self.kv_dtype)

    def kv_tokens_held(self, context_tokens):
        """KV of one sequence at ``context_tokens`` in tokens of :attr:`kv_bytes_per_token`: the context itself
        when every layer holds every token, else the per-layer bytes (windows, chunks, fixed states) ÷ that
        figure. Arrays broadcast."""
        n = np.asarray(context_tokens, float)
        if self._kv_grows:
            return n
        return kv_group_bytes_held(self.arch, np.maximum(n, 1.0), self.kv_dtype, tp=self._tp) \
            / self.kv_bytes_per_token

    @cached_property
    def kv_budget_bytes(self) -> float:
        """Usable memory of the replica left for KV cache after the weights, bytes."""
        return self.n_gpus * usable_bytes_per_gpu(self.gpu, self.memory_utilization) - self.weight_bytes

    @property
    def kv_capacity_tokens(self) -> int:
        """Tokens of KV cache that fit in :attr:`kv_budget_bytes`."""
        return int(self.kv_budget_bytes // self.kv_bytes_per_token)

    # --- rates ----------------------------------------------------------------------------------------
    @property
    def _parallel(self) -> int:
        return self.n_gpus if self.sharding == "tensor" else 1

    @property
    def _low(self) -> bool:
        return self.weight_dtype in LOW_PRECISION

    @property
    def flops_per_s(self) -> float:
        """Sustained FLOP/s of the replica's dense matmuls on a large step (GPUs working at once × rate of the
        weights' compute type — the datasheet peak, or the vendor's published achievable rate where there is one
        (:meth:`model.hardware.Accelerator.sustained_flops`) — × MFU, × the 8-bit kernels' efficiency for FP8/INT8 weights or the FP4 kernels' for
        FP4)."""
        f = self.low_precision_mfu if self._low else self.fp4_mfu if self.weight_dtype == "fp4" else 1.0
        return self._parallel * self.gpu.sustained_flops(COMPUTE_TYPE[self.weight_dtype]) * self.mfu * f

    @property
    def attention_flops_per_s(self) -> float:
        """Sustained FLOP/s of the attention kernels (FP16 tensor rate × attention MFU; the rate is the vendor's
        published achievable one where there is one, :meth:`model.hardware.Accelerator.sustained_flops`)."""
        return self._parallel * self.gpu.sustained_flops("fp16") * self.attention_mfu

    @property
    def bytes_per_s(self) -> float:
        """Sustained HBM bytes/s of the replica reading weights (× MBU, × the 8-bit or FP4 kernels' efficiency)."""
        f = self.low_precision_mbu if self._low else self.fp4_mbu if self.weight_dtype == "fp4" else 1.0
        return self._parallel * self.gpu.bandwidth_bytes_per_s * self.mbu * f

    @property
    def kv_bytes_per_s(self) -> float:
        """Sustained HBM bytes/s of the attention kernels on the KV cache (× attention MBU)."""
        return self._parallel * self.gpu.bandwidth_bytes_per_s * self.attention_mbu

    @property
    def link_bytes_per_s(self) -> float:
        """GPU-to-GPU bandwidth per direction: the datasheet's NVLink figure ÷ :data:`LINK_DIRECTIONS`."""
        return self.gpu.interconnect_bytes_per_s / LINK_DIRECTIONS

    @property
    def scaleup_bytes_per_s(self) -> float:
        """A GPU's scale-up bandwidth in one direction (data/hardware.csv ``scaleup_gb_s_per_direction``; the
        NVLink figure ÷ :data:`LINK_DIRECTIONS` where that column is empty)."""
        v = self.gpu.scaleup_bytes_per_s_per_direction
        return v if math.isfinite(v) and v > 0 else self.link_bytes_per_s

    @property
    def nodes(self) -> int:
        """Nodes the replica spans (1 when ``node_gpus`` is 0 or at least ``n_gpus``)."""
        return -(-self.n_gpus // self.node_gpus) if self.node_gpus else 1

    @property
    def attention_ranks(self) -> int:
        """Attention groups running apart: ``n_gpus`` under attention data parallelism, else 1."""
        return self.n_gpus if self.attention_data_parallel else 1

    @property
    def kv_tensor_parallel(self) -> int:
        """GPUs that split one sequence's KV cache (1 under attention data parallelism or pipeline sharding)."""
        return self._tp

    @property
    def weight_bytes_per_gpu(self) -> float:
        """Bytes of weights one GPU holds: :attr:`weight_bytes` ÷ ``n_gpus`` (under expert parallelism each GPU
        holds 1/EP of the routed experts and its share of the rest; with attention data parallelism a whole copy
        of the attention weights)."""
        return self.weight_bytes / self.n_gpus

    @cached_property
    def scaleout_bytes_per_s(self) -> float:
        """A GPU's bandwidth to other nodes in one direction: its NICs (:func:`model.serving.kv_transfer.load_link`
        ``nic``)."""
        from model.serving.kv_transfer import load_link

        return load_link("nic", self.gpu).bandwidth_bytes_per_s

    @property
    def fixed_overhead_s(self) -> float:
        """Fixed seconds of every step: step overhead + layers × layer overhead + collective latencies."""
        return self.step_overhead_s + self.arch.num_layers * self.layer_overhead_s + float(self.allreduce_time(0.0))

    @property
    def _tp_comm(self) -> bool:
        return self.n_gpus > 1 and self.sharding == "tensor"

    @cached_property
    def _moe_layers(self) -> tuple[int, int]:
        """(MoE layers, experts per token) of the architecture; (0, 0) for a dense model."""
        moe = [layer.feed_forward for layer in self.arch.layers if layer.feed_forward.is_moe]
        return (len(moe), moe[0].experts_per_token) if moe else (0, 0)

    @cached_property
    def allreduces_per_step(self) -> int:
        """Tensor-parallel all-reduces of one step: one after each layer's attention (none under attention data
        parallelism) and one after its feed-forward block (none after an MoE block whose experts are spread by
        expert parallelism: :meth:`all_to_all_time`); 0 without tensor-parallel communication."""
        if not self._tp_comm:
            return 0
        a = self.arch
        moe, _ = self._moe_layers
        attn = 0 if self.attention_data_parallel else a.num_layers
        ffn = a.num_layers - (moe if self.expert_parallel > 1 else 0)
        return attn + ffn

    def attention_flops_per_pair(self, decode: bool = False) -> float:
        """Attention FLOPs of one query token against one cached token, summed over the layers (module
        docstring): 4 × heads × head width per layer; an MLA layer in decode 2 × heads × (2 × kv_lora_rank +
        qk_rope_head_dim) (projections absorbed), in prefill 2 × heads × (qk head width + v_head_dim)."""
        return self._attention_flops[1 if decode else 0]

    @cached_property
    def _attention_flops(self) -> tuple[float, float]:
        return self._attention_flops_of(False), self._attention_flops_of(True)

    @cached_property
    def _matmul_body(self) -> tuple[float, float]:
        """(matmul parameters without the output projection, output projection parameters)."""
        a = self.arch
        lm_head = a.vocab_size * a.hidden_size
        return float(a.matmul_parameters() - lm_head), float(lm_head)

    @cached_property
    def routed_matmul(self) -> tuple[float, float]:
        """(routed-expert parameters one token uses, summed over the MoE layers; tokens ÷ rows each expert's matmul
        gets, E ÷ k). (0, 1) for a dense model."""
        routed, ratio = 0.0, 1.0
        for layer in self.arch.layers:
            ffn = layer.feed_forward
            if ffn.is_moe:
                routed += ffn.experts_per_token * ffn.expert_parameters
                ratio = ffn.routed_experts / ffn.experts_per_token
        return routed, ratio

    def _attention_flops_of(self, decode: bool) -> float:
        a = self.arch
        h = a.num_attention_heads
        if not a.layers:
            return 4.0 * a.num_layers * h * a.head_dim
        total = 0.0
        for layer in a.layers:
            at = layer.attention
            if at.kind != "mla":
                total += 4.0 * h * a.head_dim
            elif decode:
                rank = at.elements_per_token - at.rope_elements
                total += 2.0 * h * (2 * rank + at.rope_elements)
            else:
                total += 2.0 * h * (a.head_dim + at.value_head_dim)
        return total

    # --- work of one step -------------------------------------------------------------------------------
    def step_flops(self, tokens, attention_pairs, sequences, *, decode: bool = False):
        """FLOPs of a step (see module docstring); arguments broadcast as numpy arrays."""
        a = self.arch
        lm_head = a.vocab_size * a.hidden_size
        body = a.matmul_parameters() - lm_head
        attn = self.attention_flops_per_pair(decode)
        return 2.0 * body * np.asarray(tokens, float) + 2.0 * lm_head * np.asarray(sequences, float) \
            + attn * np.asarray(attention_pairs, float)

    def step_bytes(self, kv_tokens_read, kv_tokens_written):
        """HBM bytes of a step: weights once, KV read and written."""
        return self.weight_bytes + self.kv_bytes_per_token * (np.asarray(kv_tokens_read, float)
                                                              + np.asarray(kv_tokens_written, float))

    def compute_time(self, tokens, attention_pairs, sequences, *, decode: bool = False):
        """Compute seconds of a step: dense matmuls at MFU(tokens), routed experts at ``expert_mfu`` × MFU at each
        expert's rows (tokens × k ÷ E), logits, attention at attention MFU (``decode``: the attention FLOPs of a
        decode step, :meth:`attention_flops_per_pair`)."""
        body, lm_head = self._matmul_body
        routed, per_expert = self.routed_matmul
        attn = self.attention_flops_per_pair(decode)
        t = np.asarray(tokens, float)
        dense = 2.0 * (body - routed) * (t + self.mfu_half_tokens) + 2.0 * lm_head * np.asarray(sequences, float)
        experts = 2.0 * routed * (t + self.mfu_half_tokens * per_expert) / self.expert_mfu if routed else 0.0
        return (dense + experts) / self.flops_per_s \
            + attn * np.asarray(attention_pairs, float) / self.attention_flops_per_s

    def memory_time(self, kv_tokens_read, kv_tokens_written, tokens=None):
        """Memory seconds of a step: weights at MBU, KV read and written at attention MBU. With ``tokens`` (the
        step's new tokens) an MoE model reads only the experts they touch (:meth:`weight_bytes_read`)."""
        kv = self.kv_bytes_per_token * (np.asarray(kv_tokens_read, float) + np.asarray(kv_tokens_written, float))
        weights = self.weight_bytes if tokens is None else self.weight_bytes_read(tokens)
        return weights / self.bytes_per_s + kv / self.kv_bytes_per_s

    def allreduce_time(self, tokens):
        """Communication time of a step: :attr:`allreduces_per_step` all-reduces (two per layer without expert or
        attention data parallelism) of tokens × width activations, each a ring moving 2 (N − 1)/N of the data
        over each GPU's link per direction (:attr:`link_bytes_per_s`), plus ``allreduce_latency_s`` each; plus
        the all-to-all of expert parallelism (:meth:`all_to_all_time`). Zero for one GPU or pipeline sharding;
        bandwidth terms zero when the interconnect is unknown."""
        n = self.n_gpus
        t = np.asarray(tokens, float)
        if not self._tp_comm:
            return np.zeros_like(t)
        count = self.allreduces_per_step
        lat = count * self.allreduce_latency_s
        bw = self.link_bytes_per_s
        if not math.isfinite(bw) or bw <= 0:
            return np.zeros_like(t) + lat + self.all_to_all_time(t)
        data = count * t * self.arch.hidden_size * ACTIVATION_BYTES
        return data * 2 * (n - 1) / n / bw + lat + self.all_to_all_time(t)

    def all_to_all_time(self, tokens):
        """Expert-parallel all-to-all seconds of a step over ``tokens`` tokens (module docstring): per MoE layer a
        dispatch and a combine, each sending every GPU's tokens ÷ EP × top-k × width × 2 bytes × (EP − 1)/EP over
        its scale-up link per direction (:attr:`scaleup_bytes_per_s`), plus ``allreduce_latency_s`` each. When the
        EP group spans nodes (:attr:`node_gpus` G < EP), (EP − G)/EP of a token's experts sit on other nodes and
        go over the NIC (:attr:`scaleout_bytes_per_s`) while (G − 1)/EP go over the scale-up link at the same
        time: each way lasts the longer. Zero without expert parallelism. Arrays broadcast."""
        t = np.asarray(tokens, float)
        ep = self.expert_parallel
        moe, k = self._moe_layers
        if ep == 1 or moe == 0:
            return np.zeros_like(t)
        per_token = t / ep * k * self.arch.hidden_size * ACTIVATION_BYTES
        g = min(self.node_gpus, ep) if self.node_gpus else ep
        bw = self.scaleup_bytes_per_s
        local = per_token * (g - 1) / ep / bw if math.isfinite(bw) and bw > 0 else 0.0 * t
        remote = per_token * (ep - g) / ep / self.scaleout_bytes_per_s if ep > g else 0.0 * t
        return 2 * moe * np.maximum(local, remote) + 2 * moe * self.allreduce_latency_s

    def step_time(self, tokens, attention_pairs, sequences, kv_tokens_read, kv_tokens_written, *,
                  decode: bool = False):
        """Seconds of one step: max(C, M) + overlap × min(C, M) + fixed overheads + ``sequence_overhead_s`` ×
        sequences + communication (numpy broadcasting); ``decode``: a decode step's attention FLOPs (:meth:`attention_flops_per_pair`)."""
        compute = self.compute_time(tokens, attention_pairs, sequences, decode=decode)
        memory = self.memory_time(kv_tokens_read, kv_tokens_written, tokens if self.arch.is_moe else None)
        over = self.step_overhead_s + self.arch.num_layers * self.layer_overhead_s \
            + self.sequence_overhead_s * np.asarray(sequences, float)
        return np.maximum(compute, memory) + self.overlap * np.minimum(compute, memory) + over \
            + self.allreduce_time(tokens)

    def prefill_time(self, prompt_tokens, past_tokens=0):
        """Seconds to prefill one sequence of ``prompt_tokens`` new tokens after ``past_tokens`` cached ones
        (causal attention: token i attends to past + i + 1 positions)."""
        n = np.asarray(prompt_tokens, float)
        p = np.asarray(past_tokens, float)
        if not self._kv_grows:  # windows, chunks, linear layers: each layer attends to and reads what it holds
            pairs = prefill_pairs_per_layer(self.arch, n, p)
            read = np.where(p > 0, self.kv_tokens_held(p), 0.0)
            return self.step_time(n, pairs, 1.0, read, n)
        pairs = n * p + n * (n + 1) / 2
        return self.step_time(n, pairs, 1.0, p, n)

    def batch_prefill_time(self, prompt_tokens):
        """Seconds of one prefill step over several sequences together (weights read once)."""
        n = np.asarray(prompt_tokens, float)
        if not self._kv_grows:
            return float(self.step_time(n.sum(), prefill_pairs_per_layer(self.arch, n).sum(), n.size, 0.0, n.sum()))
        return float(self.step_time(n.sum(), (n * (n + 1) / 2).sum(), n.size, 0.0, n.sum()))

    def decode_time(self, batch, context_tokens):
        """Seconds of one decode step of ``batch`` sequences holding ``context_tokens`` tokens each before
        the step (each reads its context plus the new token and writes one token)."""
        b = np.asarray(batch, float)
        ctx = np.asarray(context_tokens, float)
        pairs = b * (ctx + 1)
        if self._kv_grows:
            return self.step_time(b, pairs, b, pairs, b, decode=True)
        # windows, chunks and fixed states: each layer reads what it holds at the sequence's context
        attended = b * attention_tokens_per_layer(self.arch, ctx + 1)
        return self.step_time(b, attended, b, b * self.kv_tokens_held(ctx + 1), b, decode=True)

    def decode_coefficients(self, batch: int) -> tuple[float, float, float, float]:
        """Step time of a decode step of ``batch`` sequences as ``max(c0 + c1·S, m0 + m1·S)`` where S is the
        sum over the batch of (context + 1): returns (c0, c1, m0, m1) in seconds, seconds per token, with the
        overheads and the all-reduce in both intercepts. Exact: with C = cA + cB·S and M = mA + mB·S,
        max(C, M) + overlap·min(C, M) = max(C + overlap·M, M + overlap·C). Used by the simulation to update
        the step time with scalars. For a model whose layers do not all hold every token the KV terms are those
        of a token every layer holds (or the mean at :attr:`kv_context_tokens`), as the simulation's token
        accounting is; :meth:`decode_time` reads each layer's window exactly."""
        a = self.arch
        fixed = float(self.allreduce_time(batch)) + self.step_overhead_s + a.num_layers * self.layer_overhead_s \
            + self.sequence_overhead_s * batch
        ca = float(self.compute_time(batch, 0.0, batch))
        cb = self.attention_flops_per_pair(decode=True) / self.attention_flops_per_s
        ma = float(self.memory_time(0.0, batch, batch if self.arch.is_moe else None))
        mb = self.kv_bytes_per_token / self.kv_bytes_per_s
        k = self.overlap
        return ca + k * ma + fixed, cb + k * mb, ma + k * ca + fixed, mb + k * cb


def gpus_to_hold(model: str, gpu: str, start: int, *, weight_dtype: str = "fp16",
                 memory_utilization: float | None = None) -> int:
    """``start`` GPUs, doubled until ``model``'s weights in ``weight_dtype`` fit in their usable memory with room
    for KV cache (a replica size the chapters' fixed defaults grow to for large models: DeepSeek-V3 in FP16 on
    H200 from 4 to 16). ``start`` itself when the weights fit."""
    g = check_int("start", start, low=1)
    need = weight_bytes(load_architecture(model), weight_dtype)
    per_gpu = usable_bytes_per_gpu(load_gpu(gpu), memory_utilization)
    while g < 1024 and g * per_gpu <= need:
        g *= 2
    return g


def deployment(model: str = "llama-2-70b", gpu: str = "a100-80gb", n_gpus: int = 4, **kwargs) -> Deployment:
    """A :class:`Deployment` by names (``data/models``, ``data/hardware.csv``)."""
    return Deployment(arch=load_architecture(model), gpu=load_gpu(gpu), n_gpus=n_gpus, **kwargs)


def fixed_batch_time(dep: Deployment, batch: int, input_tokens: int, output_tokens: int) -> float:
    """Seconds to serve one batch of equal requests start to finish: one prefill step of batch × input tokens
    (first output token included) and output − 1 decode steps."""
    b = check_int("batch", batch, low=1)
    p = check_int("input_tokens", input_tokens, low=1)
    o = check_int("output_tokens", output_tokens, low=1)
    pre = float(dep.step_time(b * p, b * p * (p + 1) / 2, b, 0, b * p))
    return pre + float(np.sum(dep.decode_time(b, p + np.arange(0, o - 1, dtype=float))))

