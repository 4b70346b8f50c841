"""The prefill pool that recomputes missed tokens: the roofline step time of an architecture on a GPU
(:mod:`model.serving.step_time`) reduced to scalar coefficients, and the GPU-hour price it is charged at."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.parameters import default
from model.economics.prices import gpu_price
from model.checks import check_int, check_nonnegative, check_positive

#: How the engine's price parameter is named in errors; the price row is the GPU's default one (not a choice).
PRICE_NAMES = {"usd_per_gpu_hour": "gpu_usd_per_hour", "provider": None, "pricing": None}


@dataclass(frozen=True)
class PrefillEngine:
    """The prefill pool: ``n_instances`` replicas of ``gpus_per_instance`` GPUs, each computing one request's
    missed tokens at a time, with the step-time model of :mod:`model.serving.step_time` reduced to scalars.

    A prefill of n new tokens after p reused ones takes (``model.serving.step_time.Deployment.prefill_time``)::

        C = s_token·n + s_pair·(n·p + n(n+1)/2) + s_sequence + s_compute_fixed,  M = m_fixed + m_token·(p + n)
        max(C, M) + overlap·min(C, M) + s_fixed + s_allreduce·n

    (compute vs. HBM traffic, their overlap, fixed overheads, plus the tensor-parallel all-reduce). Build it with :meth:`from_deployment`
    or :meth:`from_names`; the fields are plain floats so that a configuration stays hashable.

    Attributes
    ----------
    name : str
        Label, e.g. ``"llama-2-70b on 4 x a100-80gb"``.
    s_token, s_pair, s_sequence : float
        Compute seconds per new token (weights), per (query, context) token pair (attention) and per
        sequence (the output projection of the last position).
    m_fixed, m_token : float
        HBM seconds of reading the weights once, and per KV token read or written.
    s_allreduce : float
        Tensor-parallel all-reduce seconds per new token.
    kv_bytes_per_token : float
        KV cache of one token, bytes (what a tier stores and a link moves): one copy of the model's cache
        (:attr:`model.serving.step_time.Deployment.kv_bytes_per_token_stored`; an MLA latent that every GPU of
        the group holds is stored once).
    gpus_per_instance : int
        GPUs of one replica.
    n_instances : int
        Replicas (parallel servers of the prefill queue).
    gpu_usd_per_hour : float
        Price of one GPU-hour, US dollars.
    s_compute_fixed : float
        Compute seconds every step pays whatever its tokens (the matmuls' low efficiency on few tokens).
    overlap : float
        Share of the shorter of compute and memory time not hidden behind the longer.
    s_fixed : float
        Fixed seconds per step (per-layer overheads, all-reduce latencies and the host overhead of its one
        sequence).
    """

    name: str
    s_token: float
    s_pair: float
    s_sequence: float
    m_fixed: float
    m_token: float
    s_allreduce: float
    kv_bytes_per_token: float
    gpus_per_instance: int
    n_instances: int
    gpu_usd_per_hour: float
    s_compute_fixed: float = 0.0
    overlap: float = 0.0
    s_fixed: float = 0.0

    def __post_init__(self):
        for attr in ("s_token", "s_pair", "s_sequence", "m_fixed", "m_token", "s_allreduce", "s_compute_fixed",
                     "overlap", "s_fixed"):
            check_nonnegative(attr, getattr(self, attr))
        check_positive("kv_bytes_per_token", self.kv_bytes_per_token)
        check_int("gpus_per_instance", self.gpus_per_instance, low=1)
        check_int("n_instances", self.n_instances, low=1)
        check_nonnegative("gpu_usd_per_hour", self.gpu_usd_per_hour)

    @property
    def n_gpus(self) -> int:
        """GPUs of the whole pool."""
        return self.gpus_per_instance * self.n_instances

    def prefill_time_s(self, new_tokens, cached_tokens=0) -> np.ndarray:
        """Seconds to prefill ``new_tokens`` after ``cached_tokens`` reused ones on one replica (arrays
        broadcast). At least one token is computed: a fully cached prompt still runs its last position to
        emit the first output token."""
        n = np.maximum(np.asarray(new_tokens, dtype=np.float64), 1.0)
        p = np.asarray(cached_tokens, dtype=np.float64)
        compute = self.s_token * n + self.s_pair * (n * p + n * (n + 1) / 2) + self.s_sequence \
            + self.s_compute_fixed
        memory = self.m_fixed + self.m_token * (p + n)
        return np.maximum(compute, memory) + self.overlap * np.minimum(compute, memory) + self.s_fixed \
            + self.s_allreduce * n

    @classmethod
    def from_deployment(cls, dep, *, n_instances: int = 1, gpu_usd_per_hour: float | None = None
                        ) -> "PrefillEngine":
        """The engine of a :class:`model.serving.step_time.Deployment` (its MFU, MBU, sharding and number formats),
        charged ``gpu_usd_per_hour`` per GPU-hour (``None``: the GPU's price row, :func:`model.economics.prices.gpu_price`)."""
        a = dep.arch
        lm_head = a.vocab_size * a.hidden_size
        routed, per_expert = dep.routed_matmul  # routed experts at their own efficiency (Deployment.compute_time)
        body = a.matmul_parameters() - lm_head - routed
        flops = dep.flops_per_s
        price = gpu_price(dep.gpu.name, usd_per_gpu_hour=gpu_usd_per_hour, names=PRICE_NAMES).usd_per_gpu_hour
        return cls(
            name=f"{a.name} on {dep.n_gpus} x {dep.gpu.name}",
            s_token=2.0 * (body + routed / dep.expert_mfu) / flops,
            s_pair=dep.attention_flops_per_pair() / dep.attention_flops_per_s,
            s_sequence=2.0 * lm_head / flops,
            m_fixed=dep.weight_bytes / dep.bytes_per_s,
            m_token=dep.kv_bytes_per_token / dep.kv_bytes_per_s,
            s_allreduce=float(dep.allreduce_time(1.0)) - float(dep.allreduce_time(0.0)),
            s_compute_fixed=2.0 * (body + routed * per_expert / dep.expert_mfu) * dep.mfu_half_tokens / flops,
            overlap=dep.overlap,
            s_fixed=dep.step_overhead_s + a.num_layers * dep.layer_overhead_s + float(dep.allreduce_time(0.0))
            + dep.sequence_overhead_s,
            kv_bytes_per_token=dep.kv_bytes_per_token_stored,
            gpus_per_instance=dep.n_gpus, n_instances=n_instances, gpu_usd_per_hour=price)

    @classmethod
    def from_names(cls, model: str = "llama-2-70b", gpu: str = "a100-80gb", *, gpus_per_instance: int | None = None,
                   n_instances: int = 1, gpu_usd_per_hour: float | None = None, **deployment_kwargs
                   ) -> "PrefillEngine":
        """Engine of ``model`` on ``gpus_per_instance`` × ``gpu`` (``data/models``, ``data/hardware.csv``); other
        keywords go to :class:`model.serving.step_time.Deployment`. ``gpus_per_instance`` None:
        ``tiering_gpus_per_instance`` (4), doubled until the weights fit (DeepSeek-V3 in FP16 on H200: 16), so that
        the chapters without a GPU-count parameter run every model."""
        from model.serving.step_time import deployment, gpus_to_hold

        g = gpus_per_instance
        if g is None:
            g = gpus_to_hold(model, gpu, int(default("tiering_gpus_per_instance")),
                             weight_dtype=deployment_kwargs.get("weight_dtype", "fp16"),
                             memory_utilization=deployment_kwargs.get("memory_utilization"))
        return cls.from_deployment(deployment(model, gpu, g, **deployment_kwargs), n_instances=n_instances,
                                   gpu_usd_per_hour=gpu_usd_per_hour)
