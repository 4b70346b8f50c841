"""The fleet at the case study's scale: the character-chat workload
(:func:`model.workload.chat.iter_character_chat_windows`, memory bounded by the sessions in progress) streamed
window by window, every request routed to a node, every node replayed by
:class:`model.tiering.stream.StreamReplay` (memory bounded by its caches) and timed by a streamed queue.

One pass over the stream serves any subset of the nodes, so the nodes are split among workers (a local process
pool, or an existing Dask cluster given its scheduler address, :func:`model.tiering.fleet.map_jobs`); each worker
generates the same stream (same seed) and replays its nodes, so the results do not depend on how the nodes are
split. Simulating k of the N nodes (``sample_nodes``) gives the fleet-wide hit ratio as a ratio estimate
(Σ hits ÷ Σ lookups over the sampled nodes) with a 95% confidence interval (normal approximation with the
finite-population correction, :func:`ratio_interval`).

Approximations, stated: TTFT is streamed per node with one prefill instance and one link per tier (the
Lindley recursion carried from chunk to chunk; within a chunk requests enter prefill in order of readiness);
its percentiles come from a log-spaced histogram (:data:`TTFT_BINS_S`, 1% wide bins). Under ``global`` the pool
is one replay of N × each tier, and the remote share of its hits is the expected (N − 1)/N of blocks spread
evenly over the owners (:func:`model.tiering.fleet.block_owner` spreads them so, as its test checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.tiering.config import TierConfig
from model.tiering.fleet import ROUTES, block_owner, map_jobs
from model.tiering.stream import StreamReplay
from model.tiering.timing import request_service_s
from model.validation import ParameterError, check_choice, check_int
from model.parameters import default
from model.workload.trace import _take, concat_traces

#: Bin edges of the streamed TTFT histogram, s: log-spaced, 1% wide, 0.1 ms to 10⁷ s (an overloaded node queues for long).
TTFT_BINS_S = np.geomspace(1e-4, 1e7, int(round(math.log(1e11) / math.log(1.01))) + 1)


def _lindley_carry(arrival: np.ndarray, service: np.ndarray, free: float) -> np.ndarray:
    s = np.cumsum(service)
    return s + np.maximum(np.maximum.accumulate(arrival - (s - service)), free)


@dataclass
class _Node:
    replay: StreamReplay
    link_free: np.ndarray
    gpu_free: float
    hist: np.ndarray
    requests: int = 0
    input_tokens: int = 0
    recomputed_tokens: int = 0
    prefill_busy_s: float = 0.0
    ttft_sum_s: float = 0.0
    last_done_s: float = -math.inf


def _route(chunk, n_nodes: int, route: str, first_index: int) -> np.ndarray:
    if route in ("round-robin", "global"):
        return ((np.arange(chunk.n_requests, dtype=np.int64) + first_index) % n_nodes).astype(np.int32)
    if route == "session":
        return (np.asarray(chunk.session, dtype=np.int64) % n_nodes).astype(np.int32)
    return block_owner(chunk.block_ids[chunk.block_offsets[:-1]], n_nodes)


def _batches(chunks, min_lookups: int):
    """Consecutive windows of the stream joined until they hold at least ``min_lookups`` block lookups (the
    per-node work per step then outweighs the Python overhead of a step; arrival order is kept)."""
    buf, n = [], 0
    for chunk in chunks:
        if chunk.n_requests == 0:
            continue
        buf.append(chunk)
        n += chunk.n_blocks
        if n >= min_lookups:
            yield buf[0] if len(buf) == 1 else concat_traces(buf)
            buf, n = [], 0
    if buf:
        yield buf[0] if len(buf) == 1 else concat_traces(buf)


def _pool_of(chunk, n_pools: int) -> np.ndarray:
    """Pool of every request under ``global`` split into ``n_pools`` pools: a session stays in one pool."""
    return (np.asarray(chunk.session, dtype=np.int64) % n_pools).astype(np.int32)


def stream_nodes(job) -> list[dict]:
    """One worker's pass: ``job = (params, seed, config, n_nodes, route, nodes, window_s, max_sessions,
    pool_nodes)``; returns one dict of counters per node of ``nodes`` (a module-level function, so that it
    pickles). Under ``global`` the fleet is ``n_nodes // pool_nodes`` pools of ``pool_nodes`` nodes each (one
    pool of all nodes by default); ``nodes`` then lists whole pools' nodes."""
    from model.hardware import load_tier
    from model.tiering.fleet import NIC_TIER
    from model.workload.chat import iter_character_chat_windows

    params, seed, config, n_nodes, route, nodes, window_s, max_sessions, pool_nodes = job
    glob = route == "global"
    g = pool_nodes if glob else 1
    n_pools = n_nodes // g if glob else n_nodes
    pool_cfg = config.with_capacities(**{t.name: t.capacity_blocks * g for t in config.tiers}) if glob else config
    nic_bytes_per_s = load_tier(NIC_TIER).bandwidth_bytes_per_s
    pools = sorted({k // g for k in nodes}) if glob else []
    replays: dict[int, StreamReplay] = {}
    sent = {p: 0 for p in pools}            # requests a pool has placed on its nodes so far (round-robin)
    state: dict[int, _Node] = {}
    seen = 0
    n_tiers = len(config.tiers)
    chunks = iter_character_chat_windows(params, seed=seed, window_s=window_s, max_sessions=max_sessions)
    for batch in _batches(chunks, int(default("fleet_batch_lookups"))):
        if glob:
            pool_of = _pool_of(batch, n_pools)
            node_of = np.empty(batch.n_requests, np.int32)
            tok_all = np.zeros((batch.n_requests, n_tiers), np.int64)
            for p in pools:
                idx = np.flatnonzero(pool_of == p)
                if len(idx) == 0:
                    continue
                if p not in replays:
                    replays[p] = StreamReplay(pool_cfg, batch.group_names)
                tok_all[idx] = replays[p].feed(_take(batch, idx))
                node_of[idx] = p * g + (np.arange(len(idx), dtype=np.int64) + sent[p]) % g
                sent[p] += len(idx)
        else:
            node_of = _route(batch, n_nodes, route, seen)
        seen += batch.n_requests
        order = np.argsort(node_of, kind="stable")
        bounds = np.searchsorted(node_of[order], np.arange(n_nodes + 1)) if len(nodes) * 8 > n_nodes else None
        for k in nodes:
            idx = order[bounds[k]:bounds[k + 1]] if bounds is not None else np.flatnonzero(node_of == k)
            if k not in state:
                state[k] = _Node(None if glob else StreamReplay(config, batch.group_names),
                                 np.full(n_tiers + 1, -math.inf), -math.inf, np.zeros(len(TTFT_BINS_S) + 1, np.int64))
            if len(idx) == 0:
                continue
            node = state[k]
            sub = _take(batch, idx)
            tok = tok_all[idx] if glob else node.replay.feed(sub)
            recomputed = sub.input_tokens - tok.sum(axis=1)
            load, prefill = request_service_s(tok, recomputed, config)
            if glob:   # a hit on another node of the pool also crosses the NIC
                remote = tok.sum(axis=1) * (g - 1) / g
                net = remote * config.engine.kv_bytes_per_token / nic_bytes_per_s
            else:
                net = np.zeros(len(idx))
            load = np.column_stack([load, net])
            arrival = sub.arrival_s
            ready = arrival.copy()
            for j in range(load.shape[1]):
                moving = load[:, j] > 0
                if moving.any():
                    done_j = _lindley_carry(arrival[moving], load[moving, j], node.link_free[j])
                    node.link_free[j] = done_j[-1]
                    ready[moving] = np.maximum(ready[moving], done_j)
            order_k = np.lexsort((np.arange(len(ready)), ready))
            done = np.empty(len(ready))
            done[order_k] = _lindley_carry(ready[order_k], prefill[order_k], node.gpu_free)
            node.gpu_free = float(done[order_k[-1]])
            ttft = done - arrival
            node.hist += np.bincount(np.searchsorted(TTFT_BINS_S, ttft), minlength=len(TTFT_BINS_S) + 1)
            node.requests += len(idx)
            node.input_tokens += int(sub.input_tokens.sum())
            node.recomputed_tokens += int(recomputed.sum())
            node.prefill_busy_s += float(prefill.sum())
            node.ttft_sum_s += float(ttft.sum())
            node.last_done_s = max(node.last_done_s, float(done.max()))
    out = []
    for k in nodes:
        node = state.get(k)
        rep = replays.get(k // g) if glob else (node.replay if node else None)
        if node is None or rep is None or node.requests == 0:
            out.append({"node": k, "unit": k // g, "requests": 0, "lookups": 0, "hits": 0, "input_tokens": 0,
                        "recomputed_tokens": 0, "prefill_busy_s": 0.0, "hits_by_tier": np.zeros(n_tiers)})
            continue
        share = 1.0 / g
        row = {"node": k, "unit": k // g, "requests": node.requests, "input_tokens": node.input_tokens,
               "recomputed_tokens": node.recomputed_tokens, "prefill_busy_s": node.prefill_busy_s,
               "ttft_mean_s": node.ttft_sum_s / max(node.requests, 1), "ttft_hist": node.hist,
               "last_done_s": node.last_done_s}
        if glob:   # the pool's counters, shared by its nodes: this node's share
            row.update({"lookups": rep.lookups * share, "hits": rep.hits_by_tier.sum() * share,
                        "hits_by_tier": rep.hits_by_tier * share})
        else:
            row.update({"lookups": rep.lookups, "hits": int(rep.hits_by_tier.sum()), "hits_by_tier": rep.hits_by_tier})
        row["gb_used"] = rep.mean_occupied_blocks() * config.block_bytes / 1e9 * share
        row["state_bytes"] = rep.state_bytes()
        out.append(row)
    return out


def hist_percentile(hist: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0–100) of a histogram on :data:`TTFT_BINS_S` (upper edge of the bin), s."""
    total = hist.sum()
    if total == 0:
        return math.nan
    k = int(np.searchsorted(np.cumsum(hist), q / 100.0 * total, side="left"))
    return float(TTFT_BINS_S[min(k, len(TTFT_BINS_S) - 1)])


def ratio_interval(hits: np.ndarray, lookups: np.ndarray, n_total: int, z: float = 1.96) -> tuple[float, float, float]:
    """Ratio estimate Σ hits ÷ Σ lookups from k sampled nodes of ``n_total``, and its 95% interval (normal
    approximation of the ratio estimator, finite-population correction 1 − k/N): (estimate, low, high)."""
    hits, lookups = np.asarray(hits, float), np.asarray(lookups, float)
    k = len(hits)
    r = hits.sum() / lookups.sum()
    if k < 2 or k >= n_total:
        return float(r), float(r), float(r)
    resid = hits - r * lookups
    se = math.sqrt((1 - k / n_total) * resid.var(ddof=1) / k) / lookups.mean()
    return float(r), float(r - z * se), float(r + z * se)


@dataclass(frozen=True, eq=False)
class ScaleResult:
    """Outcome of :func:`simulate_chat_fleet`: per simulated node, and fleet-wide (:meth:`summary`)."""

    route: str
    n_nodes: int
    sessions: float
    config: TierConfig
    nodes: tuple
    n_units: int = 0       # sampling units of the fleet: nodes, or pools under ``global``

    def node_table(self) -> pd.DataFrame:
        rows = []
        for r in self.nodes:
            rows.append({"node": r["node"], "requests": r["requests"], "lookups": r.get("lookups", 0),
                         "hit_ratio": r["hits"] / r["lookups"] if r.get("lookups") else math.nan,
                         "ttft_p95_s": hist_percentile(r["ttft_hist"], 95) if r["requests"] else math.nan,
                         "prefill_busy_s": r.get("prefill_busy_s", 0.0)})
        return pd.DataFrame(rows)

    def summary(self) -> dict:
        live = [r for r in self.nodes if r["requests"]]
        units = sorted({r["unit"] for r in live})
        hits = np.array([sum(r["hits"] for r in live if r["unit"] == u) for u in units], float)
        lookups = np.array([sum(r["lookups"] for r in live if r["unit"] == u) for u in units], float)
        est, lo, hi = ratio_interval(hits, lookups, self.n_units or self.n_nodes)
        hist = np.sum([r["ttft_hist"] for r in live], axis=0)
        busy = np.array([r.get("prefill_busy_s", 0.0) for r in self.nodes])     # idle nodes count as 0
        by_tier = np.sum([r["hits_by_tier"] for r in live], axis=0) / lookups.sum()
        gb = np.array([r["gb_used"] for r in live])
        out = {"route": self.route, "nodes": self.n_nodes, "simulated_nodes": len(self.nodes),
               "pools": (self.n_units if self.route == "global" else math.nan),
               "sessions": self.sessions, "requests": int(sum(r["requests"] for r in live)),
               "lookups": float(lookups.sum()), "hit_ratio": est, "hit_ratio_low": lo, "hit_ratio_high": hi,
               "prefill_tokens_saved_share": 1 - sum(r["recomputed_tokens"] for r in live) / sum(
                   r["input_tokens"] for r in live),
               "ttft_p95_s": hist_percentile(hist, 95), "ttft_p50_s": hist_percentile(hist, 50),
               "load_imbalance": float(busy.max() / busy.mean()) if busy.mean() > 0 else math.nan,   # of simulated nodes
               "state_mb_per_node": max(r["state_bytes"] for r in live) / 1e6}
        for j, name in enumerate(self.config.tier_names):
            out[f"hit_ratio_{name}"] = float(by_tier[j])
            out[f"{name}_gb_used_mean"] = float(gb[:, j].mean())
        return out


def simulate_chat_fleet(params, config: TierConfig, n_nodes: int, route: str, *, seed: int = 0,
                        sample_nodes: int | None = None, workers: int = 1, scheduler: str | None = None,
                        window_s: float | None = None, max_sessions: int | None = None,
                        pool_nodes: int | None = None) -> ScaleResult:
    """The character-chat workload of ``params`` on ``n_nodes`` nodes of ``config`` under ``route``, streamed.

    Parameters
    ----------
    params : model.workload.CharacterChatParams
    config : TierConfig
        One node: finite tier capacities, LRU, one prefill instance.
    n_nodes : int
    route : {"round-robin", "session", "prefix", "global"}
    seed : int
        Seed of the stream (every worker generates the same one).
    sample_nodes : int, optional
        Simulate only this many nodes (under ``global``: pools), evenly spaced (0, N/k, 2N/k, …); all by
        default.
    workers : int
        Local processes; the nodes (pools) are split among them (each generates the stream).
    scheduler : str, optional
        Address of an existing Dask scheduler to run the workers' passes on instead.
    window_s : float, optional
        Seconds of arrivals per step of the stream (default: the generator's, an eighth of the think time).
    max_sessions : int, optional
        Start at most this many sessions.
    pool_nodes : int, optional
        Under ``global``: nodes per shared pool; the fleet is ``n_nodes / pool_nodes`` pools, a session's
        requests all go to one pool (session id mod pools), and each pool shares ``pool_nodes`` × each tier.
        Default: one pool of every node. Smaller pools bound the memory of a pool's replay (a pool of P nodes
        holds P nodes' cache state) and lose only the sharing of blocks between pools (persona prompts).
    """
    n = check_int("nodes", n_nodes, low=1)
    check_choice("route", route, ROUTES)
    if config.engine.n_instances != 1:
        raise ParameterError("n_instances", config.engine.n_instances, "1 per node in the streamed fleet")
    g = 1
    if route == "global":
        g = n if pool_nodes is None else check_int("pool_nodes", pool_nodes, low=1)
        if n % g:
            raise ParameterError("pool_nodes", pool_nodes, f"a divisor of the fleet's {n} nodes")
    units = n // g
    if sample_nodes is None or sample_nodes >= units:
        chosen = list(range(units))
    else:
        k = check_int("sample_nodes", sample_nodes, low=1)
        chosen = sorted(set(int(i * units // k) for i in range(k)))
    w = max(1, min(workers, len(chosen)))
    parts = [[u * g + j for u in chosen[i::w] for j in range(g)] for i in range(w)]
    jobs = [(params, seed, config, n, route, part, window_s, max_sessions, g) for part in parts]
    results = map_jobs(stream_nodes, jobs, workers=len(jobs) if scheduler is None else 1, scheduler=scheduler)
    rows = sorted((r for part in results for r in part), key=lambda r: r["node"])
    return ScaleResult(route=route, n_nodes=n, sessions=params.concurrent_sessions, config=config, nodes=tuple(rows),
                       n_units=units)
