"""A plan in one call: :func:`make_plan` composes the cache analysis (:mod:`model.plan.cache`), the serving pools
(:mod:`model.plan.serving`), the cost (:mod:`model.plan.cost`) and the energy (:mod:`model.plan.energy`) for
:class:`~model.plan.inputs.PlanInputs`, and returns one JSON-ready dict whose top level is the command's contract
(:data:`CONTRACT`) and whose other keys hold the detail, the assumptions and the scopes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from model.calendar import hours_per_month
from model.hardware import load_gpu
from model.kv.size import kv_footprint
from model.plan.cache import cache_profile, node_cache, plan_ttl, storage_usd_per_gb_month
from model.plan.cost import SECONDS_PER_HOUR, plan_cost, tier_prices
from model.plan.energy import plan_energy
from model.plan.inputs import PlanInputs
from model.plan.fleet import fleet_serving, gpus_by_region, nodes_of
from model.plan.serving import (deployments, e2e_splits, expert_parallel_deployments, pool_deployment,
                                prefill_service_s, size_serving, zero_load_floors)
from model.checks import ParameterError
from model.parameters import default
from model.quantization.weights import COMPUTE_TYPE

#: Keys the top level of every plan holds (issue 20's contract for scripts).
CONTRACT = ("gpus", "prefill_gpus", "decode_gpus", "disaggregated", "hbm_gb_per_node", "dram_gb_per_node",
            "ssd_gb_per_node", "routing", "ttl_s", "usd_per_month", "usd_per_million_tokens", "kw",
            "kwh_per_million_tokens")

#: What every figure rests on, in the plan's words (the report prints them).
ASSUMPTIONS = (
    "Step times are the study's roofline fitted on measured vLLM/TensorRT-LLM steps (model.serving.step_time); "
    "the validation chapter gives its error.",
    "Latency quantiles come from closed forms: on a prefill replica a FIFO prompt queue with the M/D/1 "
    "waiting-time tail; on a chunked-prefill replica a queue that serves its prompts first come, first served (a "
    "prompt waits for the work ahead of it, Erlang's exact M/D/1 waiting time at the decode batch of a queueing "
    "period, and for the rest of a running step, then takes its own chunk steps); "
    "and the decode steps' mean and spread; --simulate runs an aggregated replica, and the prefill "
    "and decode replicas together with their KV transfer, through the simulators at the plan's rate.",
    "Aggregated replicas run chunked prefill (chunk_tokens per step shared by the decode batch and one prompt's "
    "chunk); disaggregated prefill replicas run one prompt at a time and hand its KV to a decode replica over "
    "the NICs (data/hardware.csv rdma-nic-400g, plan_nics_per_gpu per GPU).",
    "The prefix cache's share of each prompt and its capacity per session come from a generated chat trace of "
    "plan_cache_trace_sessions sessions (the chat generator's characters, personas and history; the plan's turns "
    "and session length), scaled linearly to a node's sessions and to the plan's prompt length.",
    "The cache is sized for cache_hit_share of the ideal hit ratio; the TTL of each block group is chosen apart, "
    "weighing storage at the price of the node's DRAM/SSD cache against recomputing (model.ttl, analytic, no "
    "capacity limit): a group whose TTL comes out shorter than its reuse intervals is not worth keeping at that "
    "price, and the capacity then is an upper bound (--simulate replays the trace with the TTLs and shows the hits "
    "they keep).",
    "The pools are sized for peak_to_mean x the mean demand of the concurrent sessions, split over the regions by "
    "their shares, each region with spare_fraction hot spares rounded up apart (the fleet chapter's split_fleet); "
    "cost and energy per token are at the mean demand. Under --e2e-p95-s the reply's P95 is taken as the P95 TTFT "
    "plus (reply - 1) x the P95 TPOT (exact when a busy replica delays both alike, above it otherwise).",
    "Energy is IT power (GPUs at TDP x utilisation, the node's other parts at their maximum); no PUE.",
)


def _num(x):
    """JSON-safe float: None for NaN and infinities (JSON has neither)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return obj
    try:
        f = float(obj)
    except (TypeError, ValueError):
        return str(obj)
    if f.is_integer() and abs(f) < 2 ** 53 and type(obj).__name__.startswith("int"):
        return int(f)
    return _num(f)


@lru_cache(maxsize=1)
def validated_errors() -> dict:
    """Median absolute relative error of the step-time model by metric on the validation rows of the published
    measurements (:func:`model.serving.step_time_accuracy.error_summary`): TTFT, TPOT and throughput."""
    from model.serving.step_time_accuracy import error_summary, prediction_table

    table = error_summary(prediction_table()).set_index("metric")["median_abs_error"]
    wanted = {"ttft": "ttft_ms", "tpot": "tpot_ms", "throughput": "output_tokens_per_s", "all": "all"}
    return {k: float(table[m]) for k, m in wanted.items() if m in table.index}


#: Figures of each GPU's plan that :func:`compare_gpus` sets side by side.
COMPARED = ("gpus", "prefill_gpus", "decode_gpus", "disaggregated", "nodes", "usd_per_month", "usd_per_million_tokens",
            "kw", "kwh_per_million_tokens", "hbm_gb_per_node", "dram_gb_per_node", "ssd_gb_per_node")


def compare_gpus(inputs: PlanInputs, gpus: list[str]) -> list[dict]:
    """The plan's headline figures for each of ``gpus`` (the other inputs unchanged; the GPU's own price row,
    so a set ``gpu_usd_per_hour`` is not carried over); a GPU that cannot serve the model at the targets, or has no
    price, gets its one-line reason under ``error``."""
    rows = []
    for g in gpus:
        try:
            p = make_plan(replace(inputs, gpu=g, gpu_usd_per_hour=None))
        except ParameterError as exc:
            rows.append({"gpu": g, "error": str(exc)})
            continue
        rows.append({"gpu": g, **{k: p[k] for k in COMPARED}, "tp": p["tp"],
                     "usd_per_gpu_hour": p["cost"]["usd_per_gpu_hour"]})
    return rows


@dataclass(frozen=True)
class ServingSetup:
    """What the serving pools of a plan are sized from: the model, the GPU, the tensor-parallel options that hold
    the weights (``deps``, inside a node), the expert-parallel replicas of whole nodes of an MoE model
    (``ep_deps``), the cache analysis (None without a cache) and the prompt tokens it serves from cache."""

    arch: object
    gpu: object
    deps: list
    profile: object
    cached_tokens: int
    ep_deps: tuple = ()

    @property
    def all_deps(self) -> list:
        """Every replica option: the tensor-parallel ones, then the expert-parallel ones."""
        return list(self.deps) + list(self.ep_deps)


def serving_setup(i: PlanInputs) -> ServingSetup:
    """The model, GPU, TP options and cached prefix of ``i`` (see :func:`make_plan` for the errors)."""
    arch = i.architecture()
    gpu = load_gpu(i.gpu)
    if i.prompt_tokens + i.reply_tokens > arch.max_context_tokens:
        raise ParameterError("prompt_tokens", i.prompt_tokens,
                             f"<= {arch.max_context_tokens - i.reply_tokens:,} ({arch.name}'s context of "
                             f"{arch.max_context_tokens:,} tokens less the {i.reply_tokens:,}-token reply)")
    try:
        gpu.flops(COMPUTE_TYPE[i.weight_dtype])
    except ParameterError:
        raise ParameterError("gpu", i.gpu, f"a GPU with tensor cores for {i.weight_dtype} weights (or another "
                                           f"--weight-dtype)") from None
    deps = deployments(arch, gpu, min(i.node_gpus, int(default("plan_tp_options_max"))), i.weight_dtype, i.kv_dtype)
    ep_deps = tuple(expert_parallel_deployments(arch, gpu, i.node_gpus, i.max_nodes_per_replica, i.weight_dtype,
                                                i.kv_dtype))
    if not deps and not ep_deps:
        where = (f"on at most {i.max_nodes_per_replica} nodes of {i.node_gpus} GPUs with expert parallelism"
                 if arch.is_moe and i.max_nodes_per_replica else f"on at most {i.node_gpus} GPUs")
        raise ParameterError("gpu", i.gpu, f"a GPU on which {arch.name} in {i.weight_dtype} fits {where} (try a "
                                           f"larger GPU or --weight-dtype fp8"
                                           + (", or a larger --max-nodes-per-replica)" if arch.is_moe else ")"))
    profile = cache_profile(i.turns_per_session, i.session_minutes, i.cache_hit_share, i.shared_prefix) \
        if i.cache else None
    cached = int(round(profile.token_hit_ratio * i.prompt_tokens)) if profile else 0
    return ServingSetup(arch, gpu, deps, profile, min(cached, i.prompt_tokens - 1), ep_deps)


def _sized(i: PlanInputs, setup: ServingSetup, demand: float, shape):
    """The serving pools at the targets (or, under ``e2e_p95_s``, at the cheapest split of it), resized for the
    fleet's peak, spares and regions; and the split chosen (None without ``e2e_p95_s``)."""
    kw = dict(prompt_tokens=i.prompt_tokens, cached_tokens=setup.cached_tokens, reply_tokens=i.reply_tokens,
              chunk_tokens=i.chunk_tokens, max_batch=i.max_batch, q=i.latency_quantile,
              cv2=i.chunked_service_cv2, prefill_cv2=i.prefill_service_cv2, mode=i.disaggregation)

    def sized(ttft, tpot):                   # TP options compared at the peak the pools are sized for
        return fleet_serving(size_serving(setup.all_deps, demand * shape.peak_to_mean, ttft_s=ttft, tpot_s=tpot, **kw),
                             demand, shape, mode=i.disaggregation)

    if i.e2e_p95_s is None:
        return sized(i.ttft_p95_s, i.tpot_p95_s), None
    floors = zero_load_floors(setup.all_deps, prompt_tokens=i.prompt_tokens, cached_tokens=setup.cached_tokens,
                              reply_tokens=i.reply_tokens, chunk_tokens=i.chunk_tokens, max_batch=i.max_batch,
                              q=i.latency_quantile, kv_dtype=i.kv_dtype)
    splits = e2e_splits(i.e2e_p95_s, ttft_floor_s=floors["ttft_p95_s"], tpot_floor_s=floors["tpot_p95_s"],
                        reply_tokens=i.reply_tokens, points=int(default("plan_e2e_split_points")))
    best = None
    for ttft, tpot in splits:
        try:
            s = sized(ttft, tpot)
        except ParameterError:
            continue
        if best is None or s.gpus < best[0].gpus:
            best = (s, ttft, tpot)
    if best is None:
        raise ParameterError("e2e_p95_s", i.e2e_p95_s,
                             f"a target some split between the first token and the rest meets (floors: TTFT "
                             f"{floors['ttft_p95_s']:.3g} s, TPOT {floors['tpot_p95_s']:.3g} s)")
    s, ttft, tpot = best
    return s, {"e2e_p95_s": i.e2e_p95_s, "ttft_p95_s": ttft, "tpot_p95_s": tpot,
               "splits_tried": len(splits), "zero_load_floor_s": floors["ttft_p95_s"]
               + (i.reply_tokens - 1) * floors["tpot_p95_s"]}


def make_plan(inputs: PlanInputs | None = None, *, simulate: bool = False) -> dict:
    """The plan for ``inputs`` (default: the case study's service); with ``simulate`` one replica of each pool is
    also run through the discrete-event simulator at the plan's rate (:func:`model.plan.simulate.simulate_plan`).

    Raises
    ------
    ParameterError
        naming the input at fault (an unknown model or GPU, weights that fit no node, an SLO below the
        zero-load floor, a missing price row).
    """
    i = inputs or PlanInputs()
    setup = serving_setup(i)
    arch, gpu, deps, profile, cached = setup.arch, setup.gpu, setup.all_deps, setup.profile, setup.cached_tokens
    demand = i.demand_requests_per_s
    q = i.latency_quantile
    kv_per_token = kv_footprint(arch, i.prompt_tokens, i.kv_dtype).kv_bytes_per_token
    shape = i.fleet_shape
    serving, split = _sized(i, setup, demand, shape)
    cache_pool = serving.prefill if serving.disaggregated else serving.aggregated
    dep = pool_deployment(cache_pool, deps)
    by_region = {p.role: gpus_by_region(p, demand, shape) for p in serving.pools}
    nodes = sum(nodes_of(g, i.node_gpus) for g in by_region.values())
    cache_nodes = nodes_of(by_region[cache_pool.role], i.node_gpus)

    price_probe = plan_cost(i, gpus=serving.gpus, dram_gb=0.0, ssd_gb=0.0)
    if profile:
        nc = node_cache(profile, sessions=i.sessions_in_progress, cache_nodes=cache_nodes, node_gpus=i.node_gpus,
                        dep=dep,
                        batch=cache_pool.batch, prompt_tokens=i.prompt_tokens, reply_tokens=i.reply_tokens,
                        cached_tokens=cached, kv_bytes_per_token=kv_per_token)
        recompute = (price_probe.usd_per_gpu_hour / SECONDS_PER_HOUR * dep.n_gpus
                     * prefill_service_s(dep, i.prompt_tokens, 0) / (dep.attention_ranks * i.prompt_tokens))
        ttl = plan_ttl(profile, recompute_usd_per_token=recompute, kv_bytes_per_token=kv_per_token,
                       storage_usd_per_gb_month=storage_usd_per_gb_month(nc, *tier_prices(i)))
        routing = profile.routing
    else:
        nc, ttl, routing = None, None, "round-robin"
    cost = plan_cost(i, gpus=serving.gpus, dram_gb=(nc.dram_gb * cache_nodes if nc else 0.0),
                     ssd_gb=(nc.ssd_gb * cache_nodes if nc else 0.0), regions=shape.regions)
    energy = plan_energy(serving.pools, tdp_watts=gpu.tdp_watts, other_w_per_gpu=i.node_other_w_per_gpu,
                         tokens_per_hour=cost.tokens_per_month / hours_per_month(),
                         grid_g_co2_per_kwh=i.grid_g_co2_per_kwh)

    dis = serving.disaggregated
    plan = {
        "gpus": serving.gpus,
        "prefill_gpus": serving.prefill.gpus if dis else 0,
        "decode_gpus": serving.decode.gpus if dis else 0,
        "disaggregated": dis,
        "hbm_gb_per_node": nc.hbm_gb if nc else 0.0,
        "dram_gb_per_node": nc.dram_gb if nc else 0.0,
        "ssd_gb_per_node": nc.ssd_gb if nc else 0.0,
        "routing": routing,
        "ttl_s": ttl.ttl_s if ttl else None,
        "usd_per_month": cost.usd_per_month,
        "usd_per_million_tokens": cost.usd_per_million_tokens,
        "kw": energy.kw,
        "kwh_per_million_tokens": energy.kwh_per_million_tokens,
        "g_co2_per_million_tokens": energy.g_co2_per_million_tokens,
        "nodes": nodes,
        "aggregated_gpus": serving.aggregated.gpus if serving.aggregated else None,
        "tp": {p.role: p.tp for p in serving.pools},
        "replica_nodes": {p.role: p.nodes for p in serving.pools},
        "expert_parallel": {p.role: p.ep for p in serving.pools},
        "inputs": {"sessions": i.sessions_in_progress, "demand_requests_per_s": demand, "model": arch.name,
                   "model_display_name": arch.display_name, "config": i.config, "gpu": i.gpu,
                   "weight_dtype": i.weight_dtype, "kv_dtype": i.kv_dtype, "turns_per_session": i.turns_per_session,
                   "session_minutes": i.session_minutes, "prompt_tokens": i.prompt_tokens,
                   "reply_tokens": i.reply_tokens,
                   "ttft_p95_s": split["ttft_p95_s"] if split else i.ttft_p95_s,
                   "tpot_p95_s": split["tpot_p95_s"] if split else i.tpot_p95_s,
                   "latency_quantile": q, "max_batch": i.max_batch, "chunk_tokens": i.chunk_tokens,
                   "node_gpus": i.node_gpus, "max_nodes_per_replica": i.max_nodes_per_replica, "cache": i.cache, "cache_hit_share": i.cache_hit_share,
                   "disaggregation": i.disaggregation, "grid_g_co2_per_kwh": i.grid_g_co2_per_kwh,
                   "shared_persona_tokens": i.shared_persona_tokens,
                   "character_persona_tokens": i.character_persona_tokens, "characters": i.characters,
                   "zipf_exponent": i.zipf_exponent, "chunked_service_cv2": i.chunked_service_cv2,
                   "prefill_service_cv2": i.prefill_service_cv2, "e2e_p95_s": i.e2e_p95_s,
                   "peak_to_mean": i.peak_to_mean, "spare_fraction": i.spare_fraction, "regions": shape.regions,
                   "region_shares": list(shape.region_shares)},
        "fleet": {"peak_to_mean": shape.peak_to_mean, "spare_fraction": shape.spare_fraction,
                  "regions": shape.regions, "region_shares": list(shape.region_shares),
                  "serving_gpus": sum(p.replicas * p.tp for p in serving.pools),
                  "spare_gpus": serving.gpus - sum(p.replicas * p.tp for p in serving.pools),
                  "gpus_by_region": {role: g for role, g in by_region.items()},
                  "scope": "serving GPUs sized at peak_to_mean x the mean demand, split over the regions, each "
                           "with spare_fraction hot spares rounded up apart (model.economics.regions.split_fleet)"},
        "serving": {
            "chosen": "disaggregated" if dis else "aggregated",
            "aggregated": serving.aggregated.as_dict() if serving.aggregated else None,
            "prefill": serving.prefill.as_dict() if serving.prefill else None,
            "decode": serving.decode.as_dict() if serving.decode else None,
            "aggregated_gpus": serving.aggregated_gpus, "disaggregated_gpus": serving.disaggregated_gpus,
            "prefill_to_decode_gpus": (serving.prefill.gpus / serving.decode.gpus
                                       if serving.prefill and serving.decode and serving.decode.gpus else None),
            "kv_transfer_bytes_per_request": serving.transfer_bytes,
            "kv_transfer_s": serving.transfer_s,
            "kv_transfer_gb_per_s": serving.transfer_bytes * demand / 1e9 if dis else 0.0,
            "zero_load_floor": serving.floors,
            "cached_prompt_tokens": cached,
            "e2e_split": split,
        },
        "cache": {
            "scope": "per node of the pool holding the prefix cache (prefill when disaggregated)",
            "cache_nodes": cache_nodes,
            "kv_bytes_per_token": kv_per_token,
            **({"node": nc.as_dict(),
                "trace": {"sessions": profile.trace_sessions, "requests": profile.trace_requests,
                          "mean_prompt_tokens": profile.trace_mean_prompt_tokens},
                "ideal_hit_ratio": profile.ideal_hit_ratio, "hit_ratio": profile.hit_ratio,
                "token_hit_ratio": profile.token_hit_ratio, "capacity_blocks_in_trace": profile.capacity_blocks,
                "history_share_of_reuse": profile.history_share_of_reuse,
                "ttl_s_by_group": ttl.by_group, "ttl_break_even_s": ttl.break_even_s} if nc else {}),
        },
        "cost": cost.as_dict(serving.gpus),
        "energy": {**energy.as_dict(), "tdp_w": gpu.tdp_watts, "node_other_w_per_gpu": i.node_other_w_per_gpu,
                   "scope": "IT power of the GPUs' nodes (no PUE)"},
        "validated_error": validated_errors(),
        "simulated": simulate,
        "assumptions": list(ASSUMPTIONS),
    }
    if simulate:
        from model.plan.simulate import simulate_plan

        plan["simulation"] = simulate_plan(serving, deps, prompt_tokens=i.prompt_tokens, cached_tokens=cached,
                                           reply_tokens=i.reply_tokens, chunk_tokens=i.chunk_tokens,
                                           max_batch=i.max_batch, q=q, prefill_cv2=i.prefill_service_cv2,
                                           routing=routing, validated_error=plan["validated_error"])
        if profile:
            from model.plan.simulate import replay_cache

            plan["cache_replay"] = replay_cache(profile, nc, ttl.by_group, dep,
                                                usd_per_gpu_hour=price_probe.usd_per_gpu_hour)
    return _clean(plan)
