"""``--simulate``: a plan's pools run through the discrete-event simulators at the plan's per-replica rate
(Poisson arrivals), their P95 TTFT and TPOT set beside the closed forms'.

- aggregated replica: the simulator's ``chunked_prefill`` scheduler (:func:`model.serving.simulate`) with the
  plan's chunk and batch, at the replica's rate, ``plan_simulate_aggregated_requests`` requests (planned near
  90% busy, a shorter run's P95 moves by tens of percent between seeds);
- disaggregated pools: the disaggregated simulator (:func:`model.serving.disaggregated.simulate_disaggregated`),
  ``plan_simulate_requests`` requests per replica, prefill and decode replicas joined by the KV transfer over the NICs
  (:func:`model.serving.kv_transfer.load_link`, the formula the plan uses), each prefill step carrying one prompt
  per attention group as the closed form has it. The replicas come in the plan's proportion, reduced to one of
  the smaller side and the rounded ratio of the other (:func:`replica_counts`), and the offered rate is the
  lower of the two pools' plan rates, so neither runs above its own; the closed forms are evaluated at the rate
  each pool's replicas then see (:func:`model.plan.serving.prefill_ttft_at`,
  :func:`model.plan.serving.decode_tpot_at`), and at the plan's own rate beside them. Requests are dispatched as
  the plan routes them (:data:`ROUTING_DISPATCH`): under session or prefix routing a request's replica does not
  depend on the load, so each prefill replica queues its own Poisson share, the M/D/1 queue the closed form
  takes; under round-robin routing, to the least-loaded replica, which pools the queues and waits less.
  ``agreement`` sets each pool's metric (prefill: P95 TTFT; decode: P95 TPOT) against the step-time model's
  validated error. At a pool about 80% busy the simulated P95 TTFT is itself a noisy estimate: the queue relaxes
  over ~100 services, so a run of a few thousand requests per replica moves it by several percent between seeds.

The fleet (many replicas behind a router) is not simulated. A decode replica whose running batch holds more
sequences than the run has requests (large expert-parallel replicas) never reaches its steady state: the output's
``steady_state`` is False when the requests counted are fewer than :data:`STEADY_STATE_BATCHES` × the sequences the
decode replicas hold at the closed form's batch, and its P95s are then those of a filling replica.

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


#: Requests counted per sequence the decode replicas hold at the closed form's batch for a run to reach their steady
#: state (implementation choice: the batch fills and drains at least twice over the counted window).
STEADY_STATE_BATCHES = 2

#: The simulator's dispatch for each routing a plan can choose (:func:`dispatch_for`): a session- or prefix-routed
#: request's replica does not depend on the load, and with many sessions hashed over the replicas each replica sees
#: its own Poisson share (drawn per request here); round-robin and least-loaded routing spread the load, pooled.
ROUTING_DISPATCH = {"session": "random", "prefix": "random", "round-robin": "least_loaded",
                    "least-loaded": "least_loaded"}


def replica_counts(prefill_rate: float, decode_rate: float) -> tuple[int, int]:
    """(prefill, decode) replicas of a simulated disaggregated group: one of the pool whose replica carries more,
    and the rounded ratio (at least one) of the other."""
    if prefill_rate >= decode_rate:
        return 1, max(1, round(prefill_rate / decode_rate))
    return max(1, round(decode_rate / prefill_rate)), 1


def simulate_disaggregated_plan(serving, deps, *, prompt_tokens: int, cached_tokens: int, reply_tokens: int,
                                max_batch: int, q: float, prefill_cv2: float, seed: int = 0,
                                rate_share: float = 1.0, routing: str = "round-robin",
                                requests: int | None = None, validated_error: dict | None = None) -> dict:
    """The disaggregated pools of ``serving`` through the disaggregated simulator (module docstring) at
    ``rate_share`` × the group's plan rate: simulated P95 TTFT and TPOT, the closed forms at the rate each replica
    sees, and the relative differences (simulated ÷ closed form − 1).

    ``routing`` is the plan's (:data:`ROUTING_DISPATCH` gives the simulator's dispatch); ``requests`` (default:
    ``plan_simulate_requests`` per replica of the group) the Poisson requests offered, ``seed`` their draw and the
    dispatch's. ``validated_error`` (relative, by metric ``ttft`` and ``tpot``) adds ``agreement``: per pool, the
    metric it sets (:func:`agreement`)."""
    from model.serving import Scheduler
    from model.serving.disaggregated import Pools, simulate_disaggregated
    from model.serving.kv_transfer import load_link
    from model.workload.requests import poisson_workload
    from model.plan.serving import decode_tpot_at, kv_transfer_s, pool_deployment, prefill_ttft_at

    pre, dec = serving.prefill, serving.decode
    dp, dd = pool_deployment(pre, deps), pool_deployment(dec, deps)
    n_p, n_d = replica_counts(pre.replica_requests_per_s, dec.replica_requests_per_s)
    rate = rate_share * min(n_p * pre.replica_requests_per_s, n_d * dec.replica_requests_per_s)
    hit = min(cached_tokens, prompt_tokens - 1)
    ranks = dp.attention_ranks
    pools = Pools(dp, dd, n_p, n_d, load_link("nic", dp.gpu),
                  prefill_scheduler=Scheduler("continuous", max_batch=ranks,
                                              max_batched_tokens=ranks * (prompt_tokens - hit)),
                  decode_scheduler=Scheduler("continuous", max_batch=max_batch * dd.attention_ranks))
    n = int(default("plan_simulate_requests")) * (n_p + n_d) if requests is None else requests
    work = poisson_workload(n, rate, seed=seed, prompt_tokens=prompt_tokens, output_tokens=reply_tokens,
                            cached_tokens=hit)
    res = simulate_disaggregated(pools, work, dispatch=dispatch_for(routing), seed=seed)
    sim = _p95_window(res, default("plan_simulate_warmup_share"))
    t_x = kv_transfer_s(dp.arch, prompt_tokens, dp.kv_dtype, dp, dd)
    batch, tpot = decode_tpot_at(dd, rate / n_d, prompt_tokens=prompt_tokens, reply_tokens=reply_tokens,
                                 max_batch=max_batch, q=q)
    closed = {"ttft_p95_s": prefill_ttft_at(dp, rate / n_p, prompt_tokens=prompt_tokens, cached_tokens=hit,
                                            transfer_s=t_x, q=q, cv2=prefill_cv2),
              "tpot_p95_s": tpot}
    return {"rate_per_s": rate, "prefill_replicas": n_p, "decode_replicas": n_d, "simulated": sim,
            "closed_form": closed,
            "plan": {"ttft_p95_s": pre.ttft_p95_s, "tpot_p95_s": dec.tpot_p95_s,
                     "prefill_rate_per_s": pre.replica_requests_per_s,
                     "decode_rate_per_s": dec.replica_requests_per_s, "decode_batch": dec.batch},
            "relative_difference": {k: _rel(sim[k], closed[k]) for k in ("ttft_p95_s", "tpot_p95_s")},
            "kv_transfer_s": t_x, "prefill_busy": res.utilisation("prefill"), "decode_busy": res.utilisation("decode"),
            "steady_state": bool(sim["requests"] >= STEADY_STATE_BATCHES * n_d * batch),
            "dispatch": dispatch_for(routing),
            "agreement": agreement(sim, closed, validated_error or {})}


def simulate_plan(serving, deps, *, prompt_tokens: int, cached_tokens: int, reply_tokens: int, chunk_tokens: int,
                  max_batch: int, q: float, prefill_cv2: float, seed: int = 0, routing: str = "round-robin",
                  validated_error: dict | None = None) -> dict:
    """Simulated P95 TTFT/TPOT of the plan's pools beside the closed forms' (module docstring): ``aggregated``
    (one replica at its rate; relative difference = simulated ÷ plan − 1) and ``disaggregated``
    (:func:`simulate_disaggregated_plan`, dispatched as the plan's ``routing``); each with ``agreement``, its
    pools' differences set against ``validated_error``."""
    from model.serving import Scheduler, simulate
    from model.workload.requests import poisson_workload
    from model.plan.serving import pool_deployment

    n = int(default("plan_simulate_aggregated_requests"))
    warm = default("plan_simulate_warmup_share")
    out = {}
    hit = min(cached_tokens, prompt_tokens - 1)
    agg = serving.aggregated
    if agg and math.isfinite(agg.replica_requests_per_s) and agg.replica_requests_per_s > 0:
        rate = agg.replica_requests_per_s
        res = simulate(pool_deployment(agg, deps),
                       poisson_workload(n, rate, seed=seed, prompt_tokens=prompt_tokens, output_tokens=reply_tokens,
                                        cached_tokens=hit),
                       Scheduler("chunked_prefill", max_batch=max_batch, max_batched_tokens=chunk_tokens))
        sim = _p95_window(res, warm)
        out["aggregated"] = {"rate_per_s": rate, "simulated": sim,
                             "plan": {"ttft_p95_s": agg.ttft_p95_s, "tpot_p95_s": agg.tpot_p95_s},
                             "relative_difference": {"ttft_p95_s": _rel(sim["ttft_p95_s"], agg.ttft_p95_s),
                                                     "tpot_p95_s": _rel(sim["tpot_p95_s"], agg.tpot_p95_s)},
                             "agreement": agreement(sim, {"ttft_p95_s": agg.ttft_p95_s, "tpot_p95_s": agg.tpot_p95_s},
                                                    validated_error or {}, pools={"aggregated": ("ttft", "tpot")})}
    if serving.prefill and serving.decode and math.isfinite(serving.decode.replica_requests_per_s):
        out["disaggregated"] = simulate_disaggregated_plan(serving, deps, prompt_tokens=prompt_tokens,
                                                           cached_tokens=cached_tokens, reply_tokens=reply_tokens,
                                                           max_batch=max_batch, q=q, prefill_cv2=prefill_cv2,
                                                           seed=seed, routing=routing,
                                                           validated_error=validated_error)
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


#: The metric each pool of a disaggregated plan sets: the prefill pool its P95 TTFT, the decode pool its P95 TPOT.
POOL_METRICS = {"prefill": ("ttft",), "decode": ("tpot",)}


def agreement(simulated: dict, closed_form: dict, validated_error: dict, pools: dict = POOL_METRICS) -> dict:
    """Per pool and metric (``ttft``, ``tpot``): the closed form's and the simulated P95 (s), the relative
    difference (simulated ÷ closed form − 1), the step-time model's validated error for that metric (relative) and
    whether the difference is within it (None without a validated error or a finite closed form)."""
    out = {}
    for pool, metrics in pools.items():
        for m in metrics:
            key = f"{m}_p95_s"
            rel = _rel(simulated[key], closed_form[key])
            err = validated_error.get(m)
            out[f"{pool}_{m}"] = {"closed_form_s": closed_form[key], "simulated_s": simulated[key],
                                  "relative_difference": rel, "validated_error": err,
                                  "within": None if rel is None or err is None else bool(abs(rel) <= err)}
    return out


def dispatch_for(routing: str) -> str:
    """The simulator's dispatch (:func:`model.serving.disaggregated.simulate_disaggregated`) that matches a plan's
    routing: ``session`` or ``prefix`` (a request's replica fixed by its session or prefix, whatever the load) →
    ``random``; ``round-robin`` or ``least-loaded`` → ``least_loaded``."""
    from model.checks import check_choice

    check_choice("routing", routing, ROUTING_DISPATCH)
    return ROUTING_DISPATCH[routing]
