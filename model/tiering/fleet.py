"""The KV cache of a fleet: N nodes, each with its own HBM → DRAM → SSD hierarchy (the semantics of
:func:`model.tiering.replay`: LRU, demotion, promotion, TTL per group) and its own prefill pool, and a
routing policy that decides which node serves each request.

Routing policies (:data:`ROUTES`)
--------------------------------
``round-robin``
    request i → node i mod N (no affinity: a conversation's turns land on different nodes).
``session``
    a session sticks to one node: node = session id mod N (needs a trace with sessions, e.g. the
    character-chat generator's).
``prefix``
    node = hash of the id of the prompt's k-th block (``prefix_blocks``, default the first) mod N
    (:func:`block_owner`'s hash, so that structured ids do not pile onto one node): requests sharing their
    prefix up to that block (a persona prompt, a system prompt) meet on one node, so popular prefixes stay
    hot there. When every prompt starts with the same block (one system prompt, as in the Mooncake trace),
    k = 1 sends every request to one node (:func:`prefix_route_concentration` measures it).
``global``
    one pool of the summed capacity (N × each tier), shared by every node over the network (Mooncake's
    design, Qin et al., FAST'25): requests are computed round-robin; a block lives on its owner node (a hash
    of its id mod N, so blocks spread evenly), and a hit on another node's memory also crosses the network at
    the NIC bandwidth of ``data/hardware.csv`` (row :data:`NIC_TIER`), a load in parallel with the tier's own
    link (:func:`model.tiering.network_done_s`).

Every node is timed by the one queueing network of :mod:`model.tiering.timing` on its own requests, so TTFT
includes queueing at that node. With one node every policy is exactly :func:`model.tiering.simulate`.

Node replays are independent (except under ``global``), so they run in parallel: the study's one runner,
:func:`model.parallel.map_jobs`, uses a local process pool, or an existing Dask cluster when a scheduler address
is given; the results are the same either way (each node's replay is deterministic).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.parallel import map_jobs
from model.tiering.config import TierConfig
from model.tiering.cost import storage_cost_per_hour
from model.tiering.replay import replay
from model.tiering.simulate import simulate
from model.tiering.timing import network_done_s, request_service_s, usd_per_million_tokens
from model.checks import ParameterError, check_choice, check_int
from model.workload import Trace
from model.workload.trace import _take

#: Routing policies, in the order the chapter shows them.
ROUTES = ("round-robin", "session", "prefix", "global")
#: Row of ``data/hardware.csv`` whose bandwidth a remote hit of the global pool crosses.
NIC_TIER = "rdma-nic-400g"


def route_requests(trace: Trace, n_nodes: int, route: str, *, prefix_blocks: int = 1,
                   first_index: int = 0) -> np.ndarray:
    """Node of every request of ``trace`` (a trace, or a window of a stream whose first request is the
    stream's ``first_index``-th) under ``route`` (int32 array, values 0 … n_nodes − 1); ``global`` places the
    computation round-robin (its cache is the shared pool). Under ``prefix`` the node is the owner
    (:func:`block_owner`) of the request's ``prefix_blocks``-th block id (or its last block's, if shorter):
    a block's id names the prefix up to it, so the requests sharing that prefix meet on one node."""
    n = check_int("nodes", n_nodes, low=1)
    check_choice("route", route, ROUTES)
    k = check_int("prefix_blocks", prefix_blocks, low=1)
    if route in ("round-robin", "global"):
        return ((np.arange(trace.n_requests, dtype=np.int64) + first_index) % n).astype(np.int32)
    if route == "session":
        if trace.session is None:
            raise ParameterError("route", route, "a trace with session ids for 'session' (this one has none); "
                                 "one of " + ", ".join(r for r in ROUTES if r != "session"))
        return (np.asarray(trace.session, dtype=np.int64) % n).astype(np.int32)
    last = np.minimum(trace.block_offsets[:-1] + k - 1, trace.block_offsets[1:] - 1)
    return block_owner(trace.block_ids[last], n)


def prefix_route_concentration(trace: Trace, prefix_blocks: int = 1) -> tuple[int, float]:
    """The block id most requests of ``trace`` are routed by under ``prefix`` routing on their
    ``prefix_blocks``-th block, and the share of requests it carries (all of them go to one node)."""
    k = check_int("prefix_blocks", prefix_blocks, low=1)
    last = np.minimum(trace.block_offsets[:-1] + k - 1, trace.block_offsets[1:] - 1)
    ids, counts = np.unique(trace.block_ids[last], return_counts=True)
    i = int(np.argmax(counts))
    return int(ids[i]), float(counts[i] / trace.n_requests)


def block_owner(block_ids: np.ndarray, n_nodes: int) -> np.ndarray:
    """Owner node of each block in the global pool: a 64-bit multiplicative hash of its id (Fibonacci
    hashing) mod N, so consecutive ids spread over the nodes."""
    mixed = (np.asarray(block_ids).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)
    return (mixed % np.uint64(n_nodes)).astype(np.int32)


#: Keys every fleet summary has, with one meaning (:meth:`FleetResult.summary`, the replayed fleet, and
#: :meth:`model.tiering.streamed_fleet.ScaleResult.summary`, the streamed one): routing policy; nodes; GPUs of
#: the fleet (:func:`fleet_gpus`); requests; block lookups; hit ratio (share of lookups served from cache);
#: median and P95 TTFT, s; load imbalance (busiest node's prefill seconds ÷ the mean) and request imbalance
#: (busiest node's requests ÷ the mean). Per tier, :func:`fleet_summary_keys` adds ``hit_ratio_<tier>`` and
#: ``<tier>_gb_used_mean`` (mean GB a node holds in the tier).
FLEET_SUMMARY_KEYS = ("route", "nodes", "gpus", "requests", "lookups", "hit_ratio", "ttft_p50_s", "ttft_p95_s",
                      "load_imbalance", "request_imbalance")
#: Columns every fleet's table per node has (:meth:`FleetResult.node_table`, ``ScaleResult.node_table``).
FLEET_NODE_COLUMNS = ("node", "requests", "lookups", "hit_ratio", "ttft_p95_s", "prefill_busy_s")


def fleet_summary_keys(tier_names) -> tuple:
    """:data:`FLEET_SUMMARY_KEYS` and, per tier of ``tier_names``, ``hit_ratio_<tier>`` and ``<tier>_gb_used_mean``."""
    return FLEET_SUMMARY_KEYS + tuple(k for t in tier_names for k in (f"hit_ratio_{t}", f"{t}_gb_used_mean"))


def fleet_gpus(n_nodes: int, config: TierConfig) -> int:
    """GPUs of a fleet of ``n_nodes`` nodes of ``config``: nodes × prefill instances per node × GPUs per
    instance (what the fleet rents, busy or not; :func:`model.serving.capacity.busy_gpus` counts the GPUs a
    demand keeps busy)."""
    return check_int("nodes", n_nodes, low=1) * config.engine.n_gpus


@dataclass(frozen=True, eq=False)
class NodeResult:
    """What one node did (small: no per-lookup arrays, so it travels cheaply from a worker).

    Attributes
    ----------
    node : int
    requests, lookups : int
        Requests routed to the node and their block lookups.
    hits_by_tier : numpy.ndarray
        Block lookups served from each tier.
    tokens_by_tier : numpy.ndarray
        Prompt tokens served from each tier (prefill tokens saved, by tier).
    recomputed_tokens, input_tokens, output_tokens, remote_tokens : int
        Tokens recomputed, of the prompts, generated, and (``global``) served from another node's memory.
    ttft_s, zero_load_ttft_s : numpy.ndarray
        Per request TTFT with queueing at this node, and without queueing, s.
    prefill_busy_s : float
        Seconds of prefill computed (the node's load).
    first_arrival_s, last_done_s : float
    mean_occupied_gb : numpy.ndarray
        Time-averaged GB resident in each tier (``global``: the pool's ÷ N).
    storage_usd_per_hour : float
        Storage cost of the node's tiers, $/h (on the configuration's cost basis).
    """

    node: int
    requests: int
    lookups: int
    hits_by_tier: np.ndarray
    tokens_by_tier: np.ndarray
    recomputed_tokens: int
    input_tokens: int
    output_tokens: int
    remote_tokens: int
    ttft_s: np.ndarray = field(repr=False)
    zero_load_ttft_s: np.ndarray = field(repr=False)
    prefill_busy_s: float
    first_arrival_s: float
    last_done_s: float
    mean_occupied_gb: np.ndarray
    storage_usd_per_hour: float


def _empty_node(node: int, config: TierConfig) -> NodeResult:
    k = len(config.tiers)
    return NodeResult(node, 0, 0, np.zeros(k, np.int64), np.zeros(k, np.int64), 0, 0, 0, 0, np.zeros(0), np.zeros(0),
                      0.0, math.inf, -math.inf, np.zeros(k), float(sum(storage_cost_per_hour(config).values()))
                      if config.cost_basis == "provisioned" else 0.0)


def simulate_node(trace: Trace, config: TierConfig, node: int = 0) -> NodeResult:
    """One node's replay and timing (:func:`model.tiering.simulate`) of the requests routed to it."""
    if trace.n_requests == 0:
        return _empty_node(node, config)
    res = simulate(trace, config)
    rep, tm = res.replay, res.timing
    load, prefill = request_service_s(rep.tokens_by_tier, rep.recomputed_tokens, config)
    served = rep.served_tier
    return NodeResult(
        node=node, requests=trace.n_requests, lookups=trace.n_blocks,
        hits_by_tier=np.bincount(served[served >= 0], minlength=len(config.tiers)).astype(np.int64),
        tokens_by_tier=rep.tokens_by_tier.sum(axis=0), recomputed_tokens=int(rep.recomputed_tokens.sum()),
        input_tokens=res.input_tokens, output_tokens=res.output_tokens, remote_tokens=0,
        ttft_s=tm.ttft_s, zero_load_ttft_s=(load.max(axis=1) if load.size else 0.0) + prefill,
        prefill_busy_s=float(tm.prefill_s.sum()), first_arrival_s=float(trace.arrival_s[0]),
        last_done_s=float(tm.done_s.max()), mean_occupied_gb=rep.mean_occupied_blocks() * config.block_bytes / 1e9,
        storage_usd_per_hour=float(sum(res.storage_usd_per_hour.values())))


def _simulate_node_job(job) -> NodeResult:
    trace, config, node = job
    return simulate_node(trace, config, node)


def simulate_global(trace: Trace, config: TierConfig, n_nodes: int, *,
                    nic_bytes_per_s: float | None = None) -> list[NodeResult]:
    """The ``global`` policy: one replay of the whole trace through a pool of N × each tier's capacity, then
    each node's requests timed at that node, remote hits paying the network (module docstring)."""
    from model.hardware import load_tier

    n = check_int("nodes", n_nodes, low=1)
    nic = load_tier(NIC_TIER).bandwidth_bytes_per_s if nic_bytes_per_s is None else nic_bytes_per_s
    pool = config.with_capacities(**{t.name: t.capacity_blocks * n for t in config.tiers})
    rep = replay(trace, pool)
    node_of_req = route_requests(trace, n, "global")
    req = trace.request_of_block()
    remote_lookup = (rep.served_tier >= 0) & (block_owner(trace.block_ids, n) != node_of_req[req])
    tok = trace.block_token_counts()
    remote = np.rint(np.bincount(req[remote_lookup], weights=tok[remote_lookup],
                                 minlength=trace.n_requests)).astype(np.int64)
    load, prefill = request_service_s(rep.tokens_by_tier, rep.recomputed_tokens, config)
    net = remote * config.engine.kv_bytes_per_token / nic
    load = np.column_stack([load, net])
    occupied_gb = rep.mean_occupied_blocks() * config.block_bytes / 1e9 / n
    storage = float(sum(storage_cost_per_hour(pool, rep).values())) / n
    out = []
    for k in range(n):
        idx = np.flatnonzero(node_of_req == k)
        if len(idx) == 0:
            out.append(_empty_node(k, config))
            continue
        arrival = trace.arrival_s[idx]
        _, done = network_done_s(arrival, load[idx], prefill[idx], config.engine.n_instances)
        sel = np.isin(req, idx)
        served = rep.served_tier[sel]
        out.append(NodeResult(
            node=k, requests=len(idx), lookups=int(sel.sum()),
            hits_by_tier=np.bincount(served[served >= 0], minlength=len(config.tiers)).astype(np.int64),
            tokens_by_tier=rep.tokens_by_tier[idx].sum(axis=0),
            recomputed_tokens=int(rep.recomputed_tokens[idx].sum()),
            input_tokens=int(trace.input_tokens[idx].sum()), output_tokens=int(trace.output_tokens[idx].sum()),
            remote_tokens=int(remote[idx].sum()), ttft_s=done - arrival,
            zero_load_ttft_s=load[idx].max(axis=1) + prefill[idx], prefill_busy_s=float(prefill[idx].sum()),
            first_arrival_s=float(arrival[0]), last_done_s=float(done.max()), mean_occupied_gb=occupied_gb,
            storage_usd_per_hour=storage))
    return out


@dataclass(frozen=True, eq=False)
class FleetResult:
    """Outcome of :func:`simulate_fleet`: the per-node results and the fleet-wide figures
    (:meth:`summary`, :meth:`node_table`)."""

    route: str
    n_nodes: int
    config: TierConfig
    nodes: tuple

    def summary(self) -> dict:
        """Fleet-wide: the keys of :func:`fleet_summary_keys` (shared with the streamed fleet's summary), and
        prefill tokens saved overall and by tier (``prefill_tokens_saved_<tier>``), recomputed, remote and
        input tokens, the zero-load P95 TTFT, GPU busy fraction, throughput, the largest GB used per tier on
        a node, cost (the fleet's GPUs and storage) and $ per million tokens."""
        nodes = [r for r in self.nodes]
        names = self.config.tier_names
        lookups = sum(r.lookups for r in nodes)
        hits = np.sum([r.hits_by_tier for r in nodes], axis=0)
        tokens = np.sum([r.tokens_by_tier for r in nodes], axis=0)
        ttft = np.concatenate([r.ttft_s for r in nodes])
        zero = np.concatenate([np.broadcast_to(r.zero_load_ttft_s, (r.requests,)) for r in nodes])
        busy = np.array([r.prefill_busy_s for r in nodes])
        reqs = np.array([r.requests for r in nodes], dtype=float)
        first = min(r.first_arrival_s for r in nodes)
        span = max(r.last_done_s for r in nodes) - first
        in_tok, out_tok = sum(r.input_tokens for r in nodes), sum(r.output_tokens for r in nodes)
        n_req = int(reqs.sum())
        thr_tok = (in_tok + out_tok) / span if span > 0 else math.inf
        cost = fleet_gpus(self.n_nodes, self.config) * self.config.engine.gpu_usd_per_hour + sum(
            r.storage_usd_per_hour for r in nodes)
        occ = np.array([r.mean_occupied_gb for r in nodes])
        out = {"route": self.route, "nodes": self.n_nodes, "gpus": fleet_gpus(self.n_nodes, self.config),
               "requests": n_req, "lookups": int(lookups),
               "hit_ratio": float(hits.sum() / lookups) if lookups else math.nan,
               "prefill_tokens_saved": int(tokens.sum()),
               "recomputed_tokens": int(sum(r.recomputed_tokens for r in nodes)),
               "remote_tokens": int(sum(r.remote_tokens for r in nodes)),
               "input_tokens": int(in_tok),
               "ttft_p50_s": float(np.percentile(ttft, 50)), "ttft_p95_s": float(np.percentile(ttft, 95)),
               "zero_load_ttft_p95_s": float(np.percentile(zero, 95)),
               "gpu_busy_fraction": float(busy.sum() / (self.config.engine.n_instances * self.n_nodes * span))
               if span > 0 else math.nan,
               "throughput_requests_per_s": n_req / span if span > 0 else math.inf,
               "load_imbalance": float(busy.max() / busy.mean()) if busy.mean() > 0 else math.nan,
               "request_imbalance": float(reqs.max() / reqs.mean()) if reqs.mean() > 0 else math.nan,
               "cost_usd_per_hour": float(cost), "usd_per_million_tokens": usd_per_million_tokens(cost, thr_tok)}
        for j, name in enumerate(names):
            out[f"hit_ratio_{name}"] = float(hits[j] / lookups) if lookups else math.nan
            out[f"prefill_tokens_saved_{name}"] = int(tokens[j])
            out[f"{name}_gb_used_mean"] = float(occ[:, j].mean())
            out[f"{name}_gb_used_max"] = float(occ[:, j].max())
        return out

    def node_table(self) -> pd.DataFrame:
        """One row per node: requests, hit ratio (overall and by tier), prefill tokens saved, remote tokens,
        P95 TTFT, prefill seconds, GB used per tier."""
        rows = []
        for r in self.nodes:
            row = {"node": r.node, "requests": r.requests, "lookups": r.lookups,
                   "hit_ratio": float(r.hits_by_tier.sum() / r.lookups) if r.lookups else math.nan}
            for j, name in enumerate(self.config.tier_names):
                row[f"hit_ratio_{name}"] = float(r.hits_by_tier[j] / r.lookups) if r.lookups else math.nan
            row.update({"prefill_tokens_saved": int(r.tokens_by_tier.sum()), "remote_tokens": r.remote_tokens,
                        "ttft_p95_s": float(np.percentile(r.ttft_s, 95)) if r.requests else math.nan,
                        "prefill_busy_s": r.prefill_busy_s})
            for j, name in enumerate(self.config.tier_names):
                row[f"{name}_gb_used"] = float(r.mean_occupied_gb[j])
            rows.append(row)
        return pd.DataFrame(rows)


def shard(trace: Trace, n_nodes: int, route: str, *, prefix_blocks: int = 1) -> list[Trace]:
    """The sub-trace of every node under a local routing policy (requests in arrival order)."""
    node = route_requests(trace, n_nodes, route, prefix_blocks=prefix_blocks)
    return [_take(trace, np.flatnonzero(node == k)) for k in range(n_nodes)]


def simulate_fleet(trace: Trace, config: TierConfig, n_nodes: int, route: str, *, workers: int = 1,
                   scheduler: str | None = None, nodes: Sequence[int] | None = None,
                   prefix_blocks: int = 1) -> FleetResult:
    """Replay and time ``trace`` on ``n_nodes`` nodes of ``config`` (each node: ``config``'s tiers and prefill
    pool) under ``route``.

    Parameters
    ----------
    trace : Trace
    config : TierConfig
        One node's hierarchy and prefill pool.
    n_nodes : int
        Nodes of the fleet (``global``: the pool holds ``n_nodes`` × each tier).
    route : {"round-robin", "session", "prefix", "global"}
    workers : int
        Local processes replaying nodes in parallel (local policies only).
    scheduler : str, optional
        Address of an existing Dask scheduler to replay the nodes on instead.
    nodes : sequence of int, optional
        Simulate only these nodes (sampling k of N; local policies only).
    prefix_blocks : int
        Under ``prefix``: route by the prompt's ``prefix_blocks``-th block (:func:`route_requests`).

    Returns
    -------
    FleetResult
    """
    n = check_int("nodes", n_nodes, low=1)
    check_choice("route", route, ROUTES)
    if route == "global":
        if nodes is not None:
            raise ParameterError("nodes", list(nodes), "all nodes under route 'global' (one shared pool)")
        results = simulate_global(trace, config, n)
    else:
        parts = shard(trace, n, route, prefix_blocks=prefix_blocks)
        chosen = range(n) if nodes is None else sorted(set(int(k) for k in nodes))
        for k in chosen:
            if not 0 <= k < n:
                raise ParameterError("nodes", k, f"node indices 0 … {n - 1}")
        results = map_jobs(_simulate_node_job, [(parts[k], config, k) for k in chosen], workers=workers,
                           scheduler=scheduler)
    return FleetResult(route=route, n_nodes=n, config=config, nodes=tuple(results))
