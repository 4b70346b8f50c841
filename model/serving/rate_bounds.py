"""Physical upper bounds on serving rates, from bytes and FLOPs alone (full bandwidth, dense peak, no
overheads): what no scheduler can beat."""

from __future__ import annotations

from model.hardware import Accelerator
from model.quantization.weights import COMPUTE_TYPE
from model.serving.step_time import Deployment
from model.checks import check_positive


def sequential_rate_bound_per_gpu(dep: Deployment, output_tokens: float) -> float:
    """Most requests per second per GPU that one-request-at-a-time serving can complete: every generated
    token needs one decode step that reads all weights at full bandwidth (MBU = 1, prompt processing free)."""
    per_token = dep.weight_bytes / (dep.n_gpus * dep.gpu.bandwidth_bytes_per_s)
    return 1.0 / (check_positive("output_tokens", output_tokens) * per_token) / dep.n_gpus


def compute_rate_bound_per_gpu(dep: Deployment, tokens_per_request: float) -> float:
    """Most requests per second per GPU any batching can complete: each processed token costs at least
    2 × matmul parameters FLOPs, at the GPU's dense peak (MFU = 1)."""
    flops = 2.0 * dep.arch.matmul_parameters() * check_positive("tokens_per_request", tokens_per_request)
    return dep.gpu.flops(COMPUTE_TYPE[dep.weight_dtype]) / flops


def session_rate_bound(kv_bytes_per_session: float, sessions_per_gpu: float, gpu: Accelerator) -> float:
    """Upper bound on each session's decode rate (tokens/s) when ``sessions_per_gpu`` sessions holding
    ``kv_bytes_per_session`` of KV share one GPU: every step reads all their KV once at full bandwidth
    (weights not even counted)."""
    return gpu.bandwidth_bytes_per_s / (sessions_per_gpu * kv_bytes_per_session)
