"""Readings of a serving deployment and of its simulated runs, as tables: what a replica holds, how two
policies compare on one workload, and what a fleet of each needs for a demand."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from model.economics.fleet_sizing import fleet_monthly_cost
from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu
from model.serving.saturation import Saturation
from model.serving.step_time import Deployment


def deployment_table(dep: Deployment) -> pd.DataFrame:
    """What one replica holds and how fast its steps are, with where each number comes from.

    Parameters
    ----------
    dep : Deployment
        :func:`model.serving.step_time.deployment`.

    Returns
    -------
    pandas.DataFrame
        ``quantity, value, source`` (text): weights and KV budget (GB, 1e9 bytes), KV capacity (tokens), MFU
        and MBU (fractions), fixed overhead per step (ms).
    """
    return pd.DataFrame({
        "quantity": ["weights", "KV budget", "KV capacity", "MFU (dense matmuls)", "MBU (weight reads)",
                     "fixed overhead per step"],
        "value": [f"{dep.weight_bytes / 1e9:,.1f} GB", f"{dep.kv_budget_bytes / 1e9:,.1f} GB",
                  f"{dep.kv_capacity_tokens:,} tokens", f"{dep.mfu:.3f}", f"{dep.mbu:.3f}",
                  f"{1e3 * dep.fixed_overhead_s:.2f} ms"],
        "source": ["data/models", "0.9 × memory − weights", "KV budget ÷ KV bytes per token",
                   "fitted on calibration points (model.serving.step_time_fit)",
                   "fitted on calibration points (model.serving.step_time_fit)",
                   "layers × layer overhead + 2 all-reduce latencies per layer (fitted)"],
    })


def policy_table(summaries: Mapping[str, dict]) -> pd.DataFrame:
    """Runs of the same workload side by side, one column per run.

    Parameters
    ----------
    summaries : mapping
        Column label → :meth:`SimResult.summary` of a run.

    Returns
    -------
    pandas.DataFrame
        ``metric`` and one column per run: tokens/s per session (1 / mean TPOT), P95 and P50 end-to-end
        latency (s), P95 time to first token (s), sessions held (mean), KV memory holding tokens (fraction),
        replica output tokens/s, GPU busy fraction.
    """
    table = {"metric": ["tokens/s per session (1/TPOT)", "P95 end-to-end latency (s)", "P50 end-to-end latency (s)",
                        "P95 time to first token (s)", "sessions held (mean)", "KV memory holding tokens",
                        "replica output tokens/s", "GPU busy fraction"]}
    for label, s in summaries.items():
        table[label] = [1 / s["tpot_s_mean"], s["e2e_latency_s_p95"], s["e2e_latency_s_p50"], s["ttft_s_p95"],
                        s["sessions_held"], s["kv_utilization"], s["throughput_tokens_per_s"], s["gpu_busy_fraction"]]
    return pd.DataFrame(table)


def fleet_table(dep: Deployment, one: Saturation, batched: Saturation, *, gpus_one: float, gpus_batched: float,
                n_gpus: int, prompt_tokens: int, reply_tokens: int, usd_per_gpu_hour: float) -> pd.DataFrame:
    """One request at a time against continuous batching: saturation rate, its bounds, and the fleet for a
    demand.

    Parameters
    ----------
    dep : Deployment
        The replica.
    one, batched : Saturation
        :func:`model.serving.saturation.continuous_saturation` with a batch of 1 and with batching.
    gpus_one, gpus_batched : float
        GPUs each needs for the demand (:func:`model.serving.capacity.busy_gpus`).
    n_gpus : int
        GPUs per replica.
    prompt_tokens, reply_tokens : int
        Tokens of one turn.
    usd_per_gpu_hour : float
        GPU price, USD per GPU-hour.

    Returns
    -------
    pandas.DataFrame
        ``metric, one at a time (model), continuous (model)``: requests/min per GPU at saturation and its
        bounds (NaN where a bound does not apply), GPUs, GPU cost per month (USD), share of time in prefill.
    """
    return pd.DataFrame({
        "metric": ["requests/min per GPU (saturation)", "bound: one at a time, free prompts, full bandwidth",
                   "bound: any batching, reply tokens only, peak FLOP/s", "bound: any batching, prompt + reply, peak FLOP/s",
                   "GPUs for the demand", "GPU cost per month (USD)", "share of time in prefill"],
        "one at a time (model)": [one.requests_per_min / n_gpus, 60 * sequential_rate_bound_per_gpu(dep, reply_tokens),
                                  np.nan, np.nan, gpus_one, fleet_monthly_cost(gpus_one, usd_per_gpu_hour),
                                  one.prefill_share],
        "continuous (model)": [batched.requests_per_min / n_gpus, np.nan,
                               60 * compute_rate_bound_per_gpu(dep, reply_tokens),
                               60 * compute_rate_bound_per_gpu(dep, prompt_tokens + reply_tokens),
                               gpus_batched, fleet_monthly_cost(gpus_batched, usd_per_gpu_hour),
                               batched.prefill_share],
    })
