"""Trace-driven simulator of a KV-cache hierarchy (GPU HBM → host DRAM → SSD) with LRU eviction, demotion,
promotion on hit and a TTL per block group, timed by a queueing model of the transfer links and the
prefill GPUs, and priced per hour and per million tokens.

The API in one place
--------------------
:class:`Tier`
    one level of the hierarchy: capacity in blocks, read/write bandwidth to the GPU, $/GB-month.
:class:`PrefillEngine`
    the prefill pool that recomputes missed tokens: roofline step time of an architecture on a GPU.
:class:`TierConfig`
    tiers + engine + eviction policy + TTL per group + cost basis (frozen, hashable: a point of a search).
:func:`replay`
    the cache alone: which tier serves each block lookup (prefix semantics), tokens per tier and recomputed
    (compiled kernel, ``kernel``); :func:`replay_reference` is the plain-Python loop it is tested against.
:func:`simulate`
    replay + TTFT (queueing on links and GPUs) + throughput + cost → :class:`TieringResult`.
:func:`throughput_at_slo`
    the highest request rate (arrival times scaled) whose P95 TTFT meets a target → :class:`SloThroughput`.
:func:`stack_distances`, :func:`lru_hit_ratio_curve`, :func:`ideal_hit_ratio`, :func:`replay_from_stack`
    LRU hit ratios of every capacity in one pass (Mattson's stack algorithm, vectorised); the per-tier
    replay of an LRU hierarchy without TTL from the same pass.
:func:`default_config`
    HBM → DRAM → SSD for a model on a GPU (``data/models``, ``data/hardware.csv``, ``data/prices``).
:func:`sweep_capacity`, :func:`knee`, :func:`ttl_table`
    capacity sweeps, the capacity of diminishing returns, TTL settings compared.
:func:`simulate_fleet`
    N nodes with their own hierarchies, or one pool shared over the network, under a routing policy
    (``round-robin``, ``session``, ``prefix``, ``global``) → :class:`FleetResult` (``fleet``).
:func:`main`
    the command line, ``python -m model.tiering replay TRACE ...``.

Modules
-------
``config`` (:class:`Tier`, :class:`TierConfig`, :func:`default_config`), ``engine`` (:class:`PrefillEngine`),
``replay``, ``kernel`` (the compiled replay loop), ``stack_distance``, ``reuse`` (ideal hit ratios), ``timing``, ``cost``, ``simulate`` (:class:`TieringResult`), ``slo``,
``sweeps``, ``setup`` (the serving setup, checked and described), ``cli``; ``fleet``, ``streamed_fleet`` and
``chat_fleet`` (fleets of nodes); the public names of the single-cache modules are re-exported here.

Semantics
---------
Prefix semantics: a request reuses the longest run of its leading blocks that are cached in some tier and
not expired, stopping at the first miss; every later block is recomputed, even if it is cached. After the
lookup every block of the request is accessed in order: with ``eviction="lru"`` each becomes the most
recently used block of the top tier (a hit in a lower tier is promoted); when a tier overflows its least
recently used block is demoted to the next tier, and dropped from the last one. With one tier of N blocks
and no TTL this is exactly an LRU cache of N blocks over the sequence of block accesses, so
:func:`lru_hit_ratio_curve` (stack distances) and :func:`replay` agree.

TTL: a block expires ``ttl`` seconds after its last access (``ttl`` of the group of the request that last
accessed it); an expired block frees its slot at once. TTL = 0 means no reuse at all.

Timing (a network of FIFO queues, computed exactly by recursion): each request first loads its cached tokens
from every tier in parallel over that tier's link (``n_instances`` parallel FIFO links per tier, bytes /
read bandwidth), then waits for one of ``n_instances`` prefill instances (FIFO in order of readiness) that
computes its missed tokens. TTFT = end of prefill − arrival. The cache state is updated at arrival (the
scheduler knows a request's prefix when it admits it). Mooncake disaggregates prefill from decode, so TTFT is
a property of the prefill pool alone (Qin et al., FAST'25, §3); decode is not modelled here (see
``model.serving.step_time`` and ``model.serving``). :func:`simulate` with ``timing="simpy"`` runs the same network as a
simpy process model (slower; the tests check that both agree).

Prefill time: :meth:`PrefillEngine.prefill_time_s` is ``model.serving.step_time``'s step-time model (roofline of
compute and HBM traffic with calibrated MFU/MBU, plus the tensor-parallel all-reduce) for one sequence of
new tokens after reused ones, reduced to scalar coefficients.
"""

from model.tiering.config import (COST_BASES, EVICTION_POLICIES, TIMING_MODELS, Tier, TierConfig, blocks_for_gb,
                                  default_config, default_tiers)
from model.tiering.engine import PrefillEngine
from model.tiering.replay import ReplayResult, dense_ids, replay, replay_reference
from model.tiering.stack_distance import (INFINITE_DISTANCE, capacity_for_hit_share, ideal_hit_ratio, lru_hit_ratio_curve,
                                          prefix_distances,
                                          replay_from_stack, stack_distances)
from model.tiering.timing import (Timing, lindley_done_s, network_done_s, request_service_s, service_times,
                                  time_requests, usd_per_million_tokens)
from model.tiering.cost import storage_cost_per_hour
from model.tiering.simulate import TieringResult, simulate
from model.tiering.slo import SloThroughput, slo_table, throughput_at_slo, zero_load_ttft_s
from model.tiering.sweeps import (capacity_reaching, knee, knee_table, lru_curves, shortest_ttl_within, sweep_capacity,
                                  ttl_findings, ttl_settings, ttl_table)
from model.tiering.reuse import ideal_reuse_measures, session_node_reuse, turns_past_window_share, workload_summary
from model.tiering.fleet import ROUTES, FleetResult, NodeResult, route_requests, simulate_fleet
from model.tiering.cli import cli_config, main, parse_tiers
from model.tiering.setup import check_capacity_grid, check_setup, describe_setup, renamed

__all__ = ["COST_BASES", "EVICTION_POLICIES", "INFINITE_DISTANCE", "TIMING_MODELS", "PrefillEngine", "ReplayResult",
           "SloThroughput", "Tier", "TierConfig", "TieringResult", "Timing", "blocks_for_gb", "check_capacity_grid", "check_setup", "cli_config",
           "default_config", "describe_setup", "parse_tiers", "default_tiers", "ideal_hit_ratio", "knee",
           "lru_hit_ratio_curve", "capacity_for_hit_share", "main", "prefix_distances", "replay", "replay_from_stack", "replay_reference", "service_times",
           "simulate", "slo_table", "stack_distances", "storage_cost_per_hour", "sweep_capacity", "throughput_at_slo",
           "time_requests", "ttl_findings", "ttl_settings", "ttl_table", "turns_past_window_share", "workload_summary",
           "zero_load_ttft_s", "ideal_reuse_measures", "lindley_done_s", "network_done_s", "request_service_s",
           "usd_per_million_tokens", "dense_ids", "ROUTES", "FleetResult", "NodeResult", "route_requests", "simulate_fleet", "knee_table", "renamed", "lru_curves", "capacity_reaching",
           "shortest_ttl_within", "session_node_reuse"]
