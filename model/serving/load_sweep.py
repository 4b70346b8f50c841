"""Load sweeps over simulated replicas and the readings of a run used by the chapters: useful-FLOP
utilisation, expected busy fraction at a load. (The highest swept rate within a latency limit is read by
:func:`model.rate_search.highest_rate_within`.) Deterministic under the workloads' seeds."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from model.architectures import available_models
from model.hardware import available_gpus, load_gpu
from model.quantization.weights import COMPUTE_TYPE, DTYPES
from model.serving.simulation import POLICIES, SimResult, simulate
from model.serving.step_time import Deployment, deployment
from model.checks import ParameterError, check_choice, check_fraction, check_int, check_positive


def flops_utilization(dep: Deployment, result: SimResult) -> float:
    """Useful model FLOPs (2 × matmul parameters per computed prompt and output token; cached prompt tokens
    are loaded, not computed) ÷ (elapsed time × GPUs × peak): the "MFU" reading of a utilisation figure."""
    r = result.requests
    tokens = float((r["prompt_tokens"] + r["output_tokens"]).sum())
    if "cached_tokens" in r:
        tokens -= float(np.minimum(r["cached_tokens"], r["prompt_tokens"] - 1).sum())
    span = result.end_s - float(r["arrival_s"].min())
    peak = dep.n_gpus * dep.gpu.flops(COMPUTE_TYPE[dep.weight_dtype])
    return 2.0 * dep.arch.matmul_parameters() * tokens / (span * peak)


def sweep_load(runs: dict, rates: list[float], make_workload, *, progress: bool | None = None) -> pd.DataFrame:
    """Simulate every named ``(deployment, scheduler)`` of ``runs`` at every arrival rate (requests/s);
    ``make_workload(rate)`` builds the (seeded) workload. One row per run and rate: the :meth:`SimResult.summary`
    metrics plus ``run`` and ``rate_per_s``. A progress bar is shown when ``progress`` is true; by default
    (``None``) only on an interactive terminal, never in an executed notebook or a log."""
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    rows = []
    jobs = [(name, rate) for name in runs for rate in rates]
    for name, rate in tqdm(jobs, desc="load sweep", disable=not show):
        dep, sch = runs[name]
        res = simulate(dep, make_workload(rate), sch)
        rows.append({"run": name, "rate_per_s": rate, **res.summary(),
                     "model_flops_utilization": flops_utilization(dep, res)})
    return pd.DataFrame(rows)


def busy_fraction_at(result: SimResult, rate_per_s: float) -> float:
    """Expected busy fraction of the replica at an offered load of ``rate_per_s``: rate × busy GPU time per
    request of the run (ρ = λ·E[S]), at most 1 (an offered load past saturation keeps the replica always busy
    and its queue grows); unlike busy time ÷ elapsed time it carries no noise from the random arrival count of
    a finite run."""
    return min(1.0, check_positive("rate_per_s", rate_per_s) * result.busy_s / len(result.requests))


def checked_deployment(model: str, gpu: str, n_gpus: int, *, name: str = "n_gpus", **kwargs) -> Deployment:
    """:func:`model.serving.step_time.deployment` of ``model`` on ``n_gpus`` × ``gpu`` (``kwargs``: number formats,
    sharding...), once its weights fit and every layer's KV heads split over its tensor-parallel GPUs as the
    engines split them (:func:`model.kv.size.tp_share`).

    Raises
    ------
    ParameterError
        naming ``name`` (the caller's GPU count) when either does not hold: the replica itself names it
        ``n_gpus``, the KV split ``tp``.
    """
    try:
        dep = deployment(model, gpu, n_gpus, **kwargs)
        dep.kv_bytes_per_token          # the KV heads of every layer split over the tensor-parallel GPUs
    except ParameterError as exc:
        if exc.name not in ("n_gpus", "tp"):
            raise
        raise ParameterError(name, n_gpus, exc.allowed) from None
    return dep


def check_load_study(*, model: str, gpu: str, n_gpus: int, weight_dtype: str, kv_dtype: str, max_batch: int,
                     static_batch: int, policies, arrival_rates, n_requests: int, prompt_tokens: int,
                     reply_tokens: int, t3_load_fraction: float, baseline_busy: float, cb_fleet_shrink: float,
                     demand_requests_per_min: float, latency_target_s_per_token: float, seed: int) -> None:
    """Raise :class:`~model.checks.ParameterError` naming the first bad parameter of the batching chapter's
    runs (:func:`sweep_load` over ``policies`` and ``arrival_rates``, and the what-ifs at one turn's
    ``prompt_tokens`` + ``reply_tokens``).

    Parameters
    ----------
    model, gpu : str
        Names in ``data/models`` and ``data/hardware.csv``.
    n_gpus, max_batch, static_batch, n_requests, prompt_tokens, reply_tokens : int
        GPUs per replica, sequences per batch, requests per run, tokens per turn; all >= 1, and
        ``reply_tokens`` >= 2 (the chapter reads a time per output token, which takes two).
    weight_dtype, kv_dtype : str
        Number formats (:data:`model.quantization.weights.DTYPES`); ``gpu`` must compute in the weights' format
        (no FP8 weights on an A100), and ``n_gpus`` hold the weights and split the KV heads
        (:func:`checked_deployment`).
    policies : list of str
        Non-empty, each in :data:`model.serving.POLICIES`.
    arrival_rates : list of float
        Non-empty, requests/s > 0.
    t3_load_fraction, baseline_busy : float
        Fractions strictly between 0 and 1.
    cb_fleet_shrink, demand_requests_per_min, latency_target_s_per_token : float
        > 0 (ratio, requests/min, s per token).
    seed : int
        >= 0.
    """
    check_choice("model", model, available_models())
    check_choice("gpu", gpu, available_gpus())
    check_int("n_gpus", n_gpus, low=1)
    check_choice("weight_dtype", weight_dtype, DTYPES)
    computed = [d for d in DTYPES if load_gpu(gpu).supports(COMPUTE_TYPE[d])]
    if weight_dtype not in computed:
        raise ParameterError("weight_dtype", weight_dtype,
                             f"a format {gpu} computes in ({COMPUTE_TYPE[weight_dtype]} weights need "
                             f"{COMPUTE_TYPE[weight_dtype]} tensor cores): one of {', '.join(computed)}")
    check_choice("kv_dtype", kv_dtype, DTYPES)
    check_int("max_batch", max_batch, low=1)
    check_int("static_batch", static_batch, low=1)
    if not policies:
        raise ParameterError("policies", policies, "a non-empty list of " + ", ".join(POLICIES))
    for p in policies:
        check_choice("policies", p, POLICIES)
    if not arrival_rates:
        raise ParameterError("arrival_rates", arrival_rates, "a non-empty list of rates > 0")
    for r in arrival_rates:
        check_positive("arrival_rates", r)
    check_int("n_requests", n_requests, low=1)
    check_int("prompt_tokens", prompt_tokens, low=1)
    check_int("reply_tokens", reply_tokens, low=2)
    check_fraction("t3_load_fraction", t3_load_fraction, allow_zero=False, allow_one=False)
    check_fraction("baseline_busy", baseline_busy, allow_zero=False, allow_one=False)
    check_positive("cb_fleet_shrink", cb_fleet_shrink)
    check_positive("demand_requests_per_min", demand_requests_per_min)
    check_positive("latency_target_s_per_token", latency_target_s_per_token)
    check_int("seed", seed, low=0)
    checked_deployment(model, gpu, n_gpus, weight_dtype=weight_dtype, kv_dtype=kv_dtype)
