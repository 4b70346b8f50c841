"""Step time of a serving replica from first principles (roofline): a model on some GPUs (:class:`Deployment`)
and the seconds of its prefill and decode steps.

The discrete-event simulation that uses these step times lives in :mod:`model.serving`; the analytic
saturation throughput in :mod:`model.saturation`.

Roofline of one step
--------------------
A step processes ``tokens`` new tokens (one per decoding sequence, a whole prompt per prefilling one).

- FLOPs = 2 × (matmul parameters without the output projection) × tokens
  + 2 × (vocabulary × width) × sequences that emit a token (logits only for the last position)
  + 4 × layers × query heads × head width × attention pairs (QKᵀ and AV, one multiply-add each);
- bytes = all weights once + KV cache read (tokens attended) × bytes per token + KV written;
- time = max(FLOPs / (GPUs × peak × MFU), bytes / (GPUs × bandwidth × MBU)) + tensor-parallel all-reduce.

MFU (model FLOPs utilisation) and MBU (model bandwidth utilisation) are parameters with cited defaults
(``data/parameters/batching.csv``). With ``sharding="pipeline"`` (Hugging Face ``device_map="auto"``) the
layers are split across GPUs that run one after another, so only one GPU's peak and bandwidth serve a step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from model.architectures import Architecture, load_architecture
from model.hardware import Accelerator, load_gpu
from model.kv import kv_bytes_per_token
from model.parameters import default
from model.quantization import COMPUTE_TYPE, DTYPES, usable_bytes_per_gpu, weight_bytes
from model.validation import ParameterError, check_choice, check_fraction, check_int

SHARDINGS = ("tensor", "pipeline")
#: Bytes of one activation element exchanged by the tensor-parallel all-reduce (FP16/BF16 activations).
ACTIVATION_BYTES = 2


@dataclass(frozen=True)
class Deployment:
    """One serving replica: a model on ``n_gpus`` GPUs.

    Attributes
    ----------
    arch, gpu : Architecture, Accelerator
    n_gpus : int
        GPUs of the replica (tensor-parallel degree with ``sharding="tensor"``).
    weight_dtype, kv_dtype : str
        Number formats of weights and KV cache (:data:`model.quantization.DTYPES`).
    mfu : float
        Share of the dense tensor peak a compute-bound step achieves, in (0, 1].
    mbu : float
        Share of HBM bandwidth a memory-bound step achieves, in (0, 1].
    sharding : str
        ``"tensor"`` (Megatron tensor parallelism: all GPUs work on every layer) or ``"pipeline"`` (layers
        split across GPUs that run in turn, as Hugging Face ``device_map="auto"`` does).
    memory_utilization : float or None
        Share of GPU memory weights + KV may use (default vLLM's 0.9).
    """

    arch: Architecture
    gpu: Accelerator
    n_gpus: int = 1
    weight_dtype: str = "fp16"
    kv_dtype: str = "fp16"
    mfu: float = field(default_factory=lambda: default("batching_prefill_mfu"))
    mbu: float = field(default_factory=lambda: default("batching_decode_mbu"))
    sharding: str = "tensor"
    memory_utilization: float | None = None

    def __post_init__(self):
        check_int("n_gpus", self.n_gpus, low=1)
        check_choice("weight_dtype", self.weight_dtype, DTYPES)
        check_choice("kv_dtype", self.kv_dtype, DTYPES)
        check_fraction("mfu", self.mfu, allow_zero=False)
        check_fraction("mbu", self.mbu, allow_zero=False)
        check_choice("sharding", self.sharding, SHARDINGS)
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
        """Bytes of all weights."""
        return weight_bytes(self.arch, self.weight_dtype)

    @property
    def kv_bytes_per_token(self) -> float:
        """KV-cache bytes of one token."""
        return kv_bytes_per_token(self.arch, self.kv_dtype)

    @property
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
    def flops_per_s(self) -> float:
        """Sustained FLOP/s of the replica on a compute-bound step (GPUs working at once × peak × MFU)."""
        return self._parallel * self.gpu.flops(COMPUTE_TYPE[self.weight_dtype]) * self.mfu

    @property
    def bytes_per_s(self) -> float:
        """Sustained HBM bytes/s of the replica on a memory-bound step (× MBU)."""
        return self._parallel * self.gpu.bandwidth_bytes_per_s * self.mbu

    # --- work of one step -------------------------------------------------------------------------------
    def step_flops(self, tokens, attention_pairs, sequences):
        """FLOPs of a step (see module docstring); arguments broadcast as numpy arrays."""
        a = self.arch
        lm_head = a.vocab_size * a.hidden_size
        body = a.matmul_parameters() - lm_head
        attn = 4 * a.num_layers * a.num_attention_heads * a.head_dim
        return 2.0 * body * np.asarray(tokens, float) + 2.0 * lm_head * np.asarray(sequences, float) \
            + attn * np.asarray(attention_pairs, float)

    def step_bytes(self, kv_tokens_read, kv_tokens_written):
        """HBM bytes of a step: weights once, KV read and written."""
        return self.weight_bytes + self.kv_bytes_per_token * (np.asarray(kv_tokens_read, float)
                                                              + np.asarray(kv_tokens_written, float))

    def allreduce_time(self, tokens):
        """Tensor-parallel all-reduce time of a step: two all-reduces per layer of tokens × width activations,
        ring algorithm moving 2 (N − 1)/N of the data over each GPU's interconnect (bandwidth term only;
        zero for one GPU or pipeline sharding; zero when the interconnect is unknown)."""
        n = self.n_gpus
        bw = self.gpu.interconnect_bytes_per_s
        if n == 1 or self.sharding != "tensor" or not math.isfinite(bw) or bw <= 0:
            return np.zeros_like(np.asarray(tokens, float))
        data = 2 * self.arch.num_layers * np.asarray(tokens, float) * self.arch.hidden_size * ACTIVATION_BYTES
        return data * 2 * (n - 1) / n / bw

    def step_time(self, tokens, attention_pairs, sequences, kv_tokens_read, kv_tokens_written):
        """Seconds of one step: max(compute time, memory time) + all-reduce (numpy broadcasting)."""
        compute = self.step_flops(tokens, attention_pairs, sequences) / self.flops_per_s
        memory = self.step_bytes(kv_tokens_read, kv_tokens_written) / self.bytes_per_s
        return np.maximum(compute, memory) + self.allreduce_time(tokens)

    def prefill_time(self, prompt_tokens, past_tokens=0):
        """Seconds to prefill one sequence of ``prompt_tokens`` new tokens after ``past_tokens`` cached ones
        (causal attention: token i attends to past + i + 1 positions)."""
        n = np.asarray(prompt_tokens, float)
        p = np.asarray(past_tokens, float)
        pairs = n * p + n * (n + 1) / 2
        return self.step_time(n, pairs, 1.0, p, n)

    def batch_prefill_time(self, prompt_tokens):
        """Seconds of one prefill step over several sequences together (weights read once)."""
        n = np.asarray(prompt_tokens, float)
        return float(self.step_time(n.sum(), (n * (n + 1) / 2).sum(), n.size, 0.0, n.sum()))

    def decode_time(self, batch, context_tokens):
        """Seconds of one decode step of ``batch`` sequences holding ``context_tokens`` tokens each before
        the step (each reads its context plus the new token and writes one token)."""
        b = np.asarray(batch, float)
        ctx = np.asarray(context_tokens, float)
        pairs = b * (ctx + 1)
        return self.step_time(b, pairs, b, pairs, b)

    def decode_coefficients(self, batch: int) -> tuple[float, float, float, float]:
        """Step time of a decode step of ``batch`` sequences as ``max(c0 + c1·S, m0 + m1·S) + comm`` where S is
        the sum over the batch of (context + 1): returns (c0, c1, m0 + comm, m1) in seconds, seconds per
        token. Used by the simulation to update the step time with scalars."""
        a = self.arch
        comm = float(self.allreduce_time(batch))
        c0 = float(self.step_flops(batch, 0.0, batch)) / self.flops_per_s
        c1 = 4 * a.num_layers * a.num_attention_heads * a.head_dim / self.flops_per_s
        m0 = (self.weight_bytes + self.kv_bytes_per_token * batch) / self.bytes_per_s
        m1 = self.kv_bytes_per_token / self.bytes_per_s
        return c0 + comm, c1, m0 + comm, m1


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

