"""The KV transfer between a prefill replica and a decode replica (disaggregated serving): the bytes a request's
prompt leaves in KV, the link they cross and the seconds it takes.

Under tensor parallelism each GPU holds its share of the KV heads (:func:`model.kv.size.kv_footprint`, per GPU),
and the GPU pairs of the two replicas send their shares in parallel: a transfer moves the per-GPU bytes of a
tensor-parallel group of min(TP_prefill, TP_decode) GPUs over each pair's link, so it takes

    t = latency + bytes per GPU ÷ link bandwidth per GPU (one direction).

Links (:data:`LINKS`): ``nic``, the NICs of ``data/hardware.csv``'s ``rdma-nic-400g`` row (``plan_nics_per_gpu``
per GPU), between nodes; ``nvlink``, the GPU's own scale-up link in one direction (``scaleup_gb_s_per_direction``),
when both replicas sit in one NVLink domain; ``free``, no transfer at all (infinite bandwidth, no latency: the
colocated limit, and the test of the simulator against the aggregated one). The fixed latency is
``kv_transfer_latency_s`` (``data/parameters/batching.csv``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from model.checks import ParameterError, check_choice, check_nonnegative
from model.hardware import Accelerator, load_tier
from model.kv.size import kv_footprint
from model.parameters import default

#: The links a KV transfer can cross.
LINKS = ("nic", "nvlink", "free")
#: The NIC row of ``data/hardware.csv``.
NIC_TIER = "rdma-nic-400g"


@dataclass(frozen=True)
class Link:
    """One GPU's link to its peer in the other pool.

    Attributes
    ----------
    name : str
        One of :data:`LINKS`.
    bandwidth_bytes_per_s : float
        Bandwidth per GPU in one direction, bytes/s (inf for ``free``).
    latency_s : float
        Fixed time of one transfer, s.
    """

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float = 0.0

    def __post_init__(self):
        check_choice("link", self.name, LINKS)
        if not self.bandwidth_bytes_per_s > 0:
            raise ParameterError("bandwidth_bytes_per_s", self.bandwidth_bytes_per_s, "a bandwidth > 0 bytes/s")
        check_nonnegative("latency_s", self.latency_s)

    def transfer_s(self, bytes_per_gpu: float) -> float:
        """Seconds to move ``bytes_per_gpu`` bytes over the link: latency + bytes ÷ bandwidth."""
        return self.latency_s + bytes_per_gpu / self.bandwidth_bytes_per_s


def load_link(name: str, gpu: Accelerator, *, latency_s: float | None = None) -> Link:
    """The link ``name`` of :data:`LINKS` for GPUs ``gpu``, its bandwidth from ``data/hardware.csv``.

    Parameters
    ----------
    name : str
        ``nic``, ``nvlink`` or ``free``.
    gpu : Accelerator
        The GPUs the link serves (their NVLink bandwidth for ``nvlink``).
    latency_s : float, optional
        Fixed time of one transfer, s (default ``kv_transfer_latency_s``; 0 for ``free``).

    Raises
    ------
    ParameterError
        for an unknown link, or ``nvlink`` on a GPU without one.
    """
    check_choice("link", name, LINKS)
    if name == "free":
        return Link("free", math.inf, 0.0 if latency_s is None else latency_s)
    lat = default("kv_transfer_latency_s") if latency_s is None else latency_s
    if name == "nic":
        return Link("nic", load_tier(NIC_TIER).bandwidth_bytes_per_s * default("plan_nics_per_gpu"), lat)
    bw = gpu.scaleup_bytes_per_s_per_direction
    if not bw > 0:
        raise ParameterError("link", name, f"nic or free: {gpu.name} has no NVLink in data/hardware.csv")
    return Link("nvlink", bw, lat)


def kv_transfer_bytes_per_gpu(arch, prompt_tokens: float, kv_dtype: str, prefill_tp: int, decode_tp: int) -> float:
    """KV bytes of a prompt of ``prompt_tokens`` tokens that each GPU pair moves: the per-GPU share of a
    tensor-parallel group of min(``prefill_tp``, ``decode_tp``) GPUs (:func:`model.kv.size.kv_footprint`)."""
    tp = min(prefill_tp, decode_tp)
    return kv_footprint(arch, prompt_tokens, kv_dtype, tp=tp).per_gpu_bytes_per_sequence
