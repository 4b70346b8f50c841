"""``--simulate``: one replica of each pool of a plan, run through the discrete-event simulator
(:func:`model.serving.simulate`) at the plan's per-replica rate (Poisson arrivals, ``plan_simulate_requests``
requests), its P95 TTFT and TPOT set beside the closed forms'.

- aggregated replica: the simulator's ``chunked_prefill`` scheduler with the plan's chunk and batch;
- prefill replica: the ``continuous`` scheduler on requests of one output token (it only prefills); the KV
  transfer (closed form) is added to its TTFT;
- decode replica: requests whose prompt's KV arrives with them (all but one token cached), decoding the reply
  under ``chunked_prefill`` so that the one computed token rides in a decode step, as a handed-off request
  joins the running batch.

The simulator models one replica: the fleet (many replicas behind a router) is not simulated, and the
disaggregated pools run separately (their handoff is the closed-form transfer).

The cache: :func:`replay_cache` replays the plan's sample trace through its HBM → DRAM → SSD hierarchy (the
node's capacity in the sample's units, split as the node's) with the plan's TTL per group
(:func:`model.tiering.replay.replay`), and sets the replayed token hit ratio beside the stack-distance one the
plan used (equal without TTL; lower when a TTL expires blocks the capacity would have kept).
"""

from __future__ import annotations

import math

import numpy as np

from model.parameters import default


def _p95_window(result, warmup: float) -> dict:
    """P95 TTFT and TPOT over the requests between the first and last ``warmup`` share of arrivals."""
    r = result.requests.dropna(subset=["finish_s"]).sort_values("arrival_s")
    lo, hi = int(len(r) * warmup), int(len(r) * (1 - warmup))
    r = r.iloc[lo:hi]
    ttft = r["first_token_s"] - r["arrival_s"]
    tpot = (r["finish_s"] - r["first_token_s"]) / np.maximum(r["output_tokens"] - 1, 1)
    return {"ttft_p95_s": float(np.percentile(ttft, 95)), "tpot_p95_s": float(np.percentile(tpot, 95)),
            "requests": int(len(r))}


def _rel(sim, plan):
    return (sim - plan) / plan if plan and math.isfinite(plan) and math.isfinite(sim) else None


def simulate_plan(serving, deps, *, prompt_tokens: int, cached_tokens: int, reply_tokens: int, chunk_tokens: int,
                  max_batch: int, seed: int = 0) -> dict:
    """Simulated P95 TTFT/TPOT of one replica of each pool of ``serving`` beside the plan's (relative difference
    = simulated ÷ plan − 1)."""
    from model.serving import Scheduler, simulate
    from model.workload.requests import poisson_workload

    n = int(default("plan_simulate_requests"))
    warm = default("plan_simulate_warmup_share")
    by_tp = {d.n_gpus: d for d in deps}
    out = {}
    hit = min(cached_tokens, prompt_tokens - 1)
    runs = []
    if serving.aggregated:
        runs.append(("aggregated", serving.aggregated, Scheduler("chunked_prefill", max_batch=max_batch,
                                                                 max_batched_tokens=chunk_tokens),
                     dict(prompt_tokens=prompt_tokens, output_tokens=reply_tokens, cached_tokens=hit), 0.0))
    if serving.prefill and serving.decode:
        runs.append(("prefill", serving.prefill, Scheduler("continuous", max_batch=max_batch),
                     dict(prompt_tokens=prompt_tokens, output_tokens=1, cached_tokens=hit),
                     serving.transfer_s))
        runs.append(("decode", serving.decode, Scheduler("chunked_prefill", max_batch=max_batch,
                                                         max_batched_tokens=chunk_tokens),
                     dict(prompt_tokens=prompt_tokens, output_tokens=reply_tokens, cached_tokens=prompt_tokens - 1),
                     0.0))
    for role, pool, scheduler, shape, extra in runs:
        rate = pool.replica_requests_per_s
        if not math.isfinite(rate) or rate <= 0:
            continue
        res = simulate(by_tp[pool.tp], poisson_workload(n, rate, seed=seed, **shape), scheduler)
        sim = _p95_window(res, warm)
        sim["ttft_p95_s"] += extra
        row = {"rate_per_s": rate, "simulated": sim,
               "plan": {"ttft_p95_s": pool.ttft_p95_s, "tpot_p95_s": pool.tpot_p95_s}}
        row["relative_difference"] = {k: _rel(sim[k], pool.ttft_p95_s if k == "ttft_p95_s" else pool.tpot_p95_s)
                                      for k in ("ttft_p95_s", "tpot_p95_s")}
        out[role] = row
    return out


def replay_cache(profile, node, ttl_by_group: dict, dep, *, usd_per_gpu_hour: float) -> dict:
    """Replayed token hit ratio of the plan's sample trace through its tiers and TTLs, beside the plan's."""
    from model.tiering.config import TierConfig, default_tiers
    from model.tiering.engine import PrefillEngine
    from model.tiering.replay import replay

    total = profile.capacity_blocks
    need = node.need_gb or 1.0
    hbm = int(round(total * node.hbm_gb / need))
    dram = int(round(total * node.dram_gb / need))
    ssd = max(0, total - hbm - dram)
    tiers = default_tiers(hbm_blocks=hbm, dram_blocks=dram, ssd_blocks=ssd,
                          hbm_read_bytes_per_s=dep.gpu.bandwidth_bytes_per_s * dep.n_gpus, links_per_tier=dep.n_gpus)
    config = TierConfig(tiers=tiers, engine=PrefillEngine.from_deployment(dep, gpu_usd_per_hour=usd_per_gpu_hour),
                        block_tokens=profile.block_tokens)
    ttls = {g: (t if t is not None else math.inf) for g, t in ttl_by_group.items()}
    result = replay(profile.trace, config.with_ttl(by_group=ttls))
    replayed = float(result.tokens_by_tier.sum() / profile.trace.input_tokens.sum())
    return {"capacity_blocks": {"hbm": hbm, "dram": dram, "ssd": ssd}, "ttl_s_by_group": ttl_by_group,
            "token_hit_ratio_replayed": replayed, "token_hit_ratio_plan": profile.token_hit_ratio,
            "relative_difference": replayed / profile.token_hit_ratio - 1 if profile.token_hit_ratio else None,
            "expirations": int(result.expirations)}
