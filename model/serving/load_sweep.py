"""Load sweeps over simulated replicas and the readings of a run used by the chapters: useful-FLOP
utilisation, expected busy fraction at a load. (The highest swept rate within a latency limit is read by
:func:`model.rate_search.highest_rate_within`.) Deterministic under the workloads' seeds."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from model.quantization.weights import COMPUTE_TYPE
from model.serving.simulation import SimResult, simulate
from model.serving.step_time import Deployment
from model.checks import check_positive


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
    request of the run (ρ = λ·E[S]); unlike busy time ÷ elapsed time it carries no noise from the random
    arrival count of a finite run."""
    return check_positive("rate_per_s", rate_per_s) * result.busy_s / len(result.requests)
