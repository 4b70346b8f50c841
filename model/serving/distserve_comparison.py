"""The disaggregated simulator beside a published result: DistServe's motivating experiment (a 13B model on one
A100 80GB, Poisson arrivals of 512-token prompts and 64-token replies, P90 TTFT ≤ 0.4 s and P90 TPOT ≤ 0.04 s),
whose figures and setting are in ``data/measurements/distserve_goodput.csv`` (with repository, path and commit).

Each published quantity is computed the way the source computes it, with the study's simulators at the table's
setting (the table's ``model`` is the study's architecture of the same shape as the source's 13B model):

- ``colocated_ttft_rate`` / ``colocated_tpot_rate``: the highest rate at which one aggregated replica
  (:func:`model.serving.simulate`, ``continuous`` policy: vLLM's scheduler, prefill steps of their own) keeps its
  P90 TTFT (resp. P90 TPOT) within the target; ``colocated_goodput_per_gpu`` = the smaller of the two;
- ``prefill_only_rate``: the highest rate at which one prefill replica keeps P90 TTFT within the target
  (replies of one token: nothing to decode);
- ``decode_only_rate``: the highest rate at which one decode replica keeps P90 TPOT within the target (the prompts
  arrive with all but one token cached, so the prefill replica only runs one-token steps and never limits it);
- ``disaggregated_goodput_per_gpu``: the highest rate at which 2 prefill + 1 decode replicas keep both P90s within
  the targets, ÷ 3 GPUs; ``goodput_gain`` = that ÷ ``colocated_goodput_per_gpu``.

The KV crosses NVLink (``nvlink`` of :mod:`model.serving.kv_transfer`: the source's 2P1D shares one node).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from model.checks import check_int
from model.io import DATA
from model.parameters import default
from model.serving.disaggregated import Pools, simulate_disaggregated
from model.serving.goodput import highest_rate, latencies, quantile_within
from model.serving.kv_transfer import load_link
from model.serving.simulation import Scheduler, simulate
from model.serving.step_time import deployment
from model.workload.requests import poisson_workload

#: The published figures and their setting.
TABLE = DATA / "measurements" / "distserve_goodput.csv"
#: First bracket of the rate searches, requests/s: doubled until the target fails, so it only sets where the
#: search starts (any positive pair gives the same answer within the tolerance).
_FIRST_BRACKET = (0.25, 1.0)
#: The link of the 2P1D deployment.
LINK = "nvlink"


def published() -> pd.DataFrame:
    """The published rows (quantity, label, value, unit, gpus, configuration, setting, source, locator, quote)."""
    return pd.read_csv(TABLE)


def _setting(table: pd.DataFrame) -> dict:
    first = table.iloc[0]
    cols = ("model", "gpu", "prompt_tokens", "output_tokens", "ttft_slo_s", "tpot_slo_s", "latency_quantile")
    for c in cols:   # one setting for every row
        if table[c].nunique() != 1:
            raise ValueError(f"{TABLE.name}: column {c} differs between rows")
    return {c: first[c] for c in cols}


def compare(requests: int | None = None, seed: int | None = None) -> pd.DataFrame:
    """Published and simulated figures side by side.

    Parameters
    ----------
    requests : int, optional
        Requests per simulated run (default ``distserve_check_requests``).
    seed : int, optional
        Seed of the Poisson arrivals (default ``distserve_check_seed``).

    Returns
    -------
    pandas.DataFrame
        quantity, label, unit, configuration, published, simulated, simulated_over_published.
    """
    n = int(default("distserve_check_requests")) if requests is None else check_int("requests", requests, low=1)
    seed = int(default("distserve_check_seed")) if seed is None else check_int("seed", seed, low=0)
    return _compare(n, seed).copy()


@lru_cache(maxsize=4)
def _compare(n: int, seed: int) -> pd.DataFrame:
    """:func:`compare` for ``n`` requests per run and ``seed`` (kept: a chapter rerun with other parameters asks
    for the same runs)."""
    table = published()
    s = _setting(table)
    dep = deployment(s["model"], s["gpu"], 1)
    p, o, q = int(s["prompt_tokens"]), int(s["output_tokens"]), float(s["latency_quantile"])
    ttft_ok = lambda r: quantile_within(latencies(r)["ttft_s"], q, s["ttft_slo_s"])  # noqa: E731
    tpot_ok = lambda r: quantile_within(latencies(r)["tpot_s"], q, s["tpot_slo_s"])  # noqa: E731
    tol = default("tiering_slo_rel_tol")
    link = load_link(LINK, dep.gpu)

    def wl(rate, output=o, cached=0):
        w = poisson_workload(n, rate, prompt_tokens=p, output_tokens=output, seed=seed)
        if cached:
            w = type(w)(w.arrival_s, w.prompt_tokens, w.output_tokens, w.name, np.full(n, cached))
        return w

    def search(run, ok):
        return highest_rate(run, ok, low=_FIRST_BRACKET[0], high=_FIRST_BRACKET[1], rel_tol=tol)

    colocated = lambda rate: simulate(dep, wl(rate), Scheduler("continuous")).requests  # noqa: E731
    one_each = lambda pr, dr: Pools(dep, dep, pr, dr, link)  # noqa: E731
    sim = {}
    sim["colocated_ttft_rate"] = search(colocated, ttft_ok)
    sim["colocated_tpot_rate"] = search(colocated, tpot_ok)
    sim["colocated_goodput_per_gpu"] = min(sim["colocated_ttft_rate"], sim["colocated_tpot_rate"])
    sim["prefill_only_rate"] = search(lambda r: simulate_disaggregated(one_each(1, 1), wl(r, output=1)).requests,
                                      ttft_ok)
    sim["decode_only_rate"] = search(lambda r: simulate_disaggregated(one_each(1, 1), wl(r, cached=p - 1)).requests,
                                     tpot_ok)
    pools = one_each(2, 1)
    both = search(lambda r: simulate_disaggregated(pools, wl(r)).requests, lambda r: ttft_ok(r) and tpot_ok(r))
    sim["disaggregated_goodput_per_gpu"] = both / pools.gpus
    sim["goodput_gain"] = sim["disaggregated_goodput_per_gpu"] / sim["colocated_goodput_per_gpu"]
    out = table[["quantity", "label", "unit", "configuration", "value"]].rename(columns={"value": "published"})
    out["simulated"] = out["quantity"].map(sim)
    out["simulated_over_published"] = out["simulated"] / out["published"]
    return out.reset_index(drop=True)
