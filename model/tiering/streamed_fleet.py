"""The fleet at the case study's scale: the character-chat workload
(:func:`model.workload.chat.iter_character_chat_windows`, memory bounded by the sessions in progress) streamed
window by window, every request routed to a node, every node replayed by
:class:`model.tiering.stream.StreamReplay` (memory bounded by its caches) and timed by a streamed queue.

One pass over the stream serves any subset of the nodes, so the nodes are split among workers (a local process
pool, or an existing Dask cluster given its scheduler address, :func:`model.parallel.map_jobs`); each worker
generates the same stream (same seed) and replays its nodes, so the results do not depend on how the nodes are
split. Simulating k of the N nodes (``sample_nodes``) gives the fleet-wide hit ratio as a ratio estimate
(Σ hits ÷ Σ lookups over the sampled nodes) with a 95% confidence interval (Student's t with k − 1 degrees of
freedom and the finite-population correction, :func:`ratio_interval`).

Approximations, stated: TTFT is streamed per node with one prefill instance and one link per tier (the
Lindley recursion of :func:`model.tiering.lindley_done_s`, its ``free`` time carried from chunk to chunk; within
a chunk requests enter prefill in order of readiness); its percentiles come from a log-spaced histogram
(:data:`TTFT_BINS_S`, 1% wide bins). Under ``global`` the pool is one replay of N × each tier, and the remote
share of its hits is the expected (N − 1)/N of blocks spread evenly over the owners
(:func:`model.tiering.fleet.block_owner` spreads them so, as its test checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.parallel import map_jobs
from model.serving.capacity import busy_gpus
from model.tiering.config import TierConfig
from model.tiering.fleet import ROUTES, fleet_gpus, route_requests
from model.tiering.stream import StreamReplay
from model.tiering.timing import lindley_done_s, request_service_s
from model.checks import ParameterError, check_choice, check_int
from model.parameters import default
from model.workload.trace import _take, concat_traces

#: Bin edges of the streamed TTFT histogram, s: log-spaced, 1% wide, 0.1 ms to 10⁷ s (an overloaded node queues for long).
TTFT_BINS_S = np.geomspace(1e-4, 1e7, int(round(math.log(1e11) / math.log(1.01))) + 1)


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
    prefill_full_s: float = 0.0           # prefill seconds had every prompt token been recomputed
    ttft_sum_s: float = 0.0
    last_done_s: float = -math.inf


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


@dataclass(frozen=True)
class FleetSpec:
    """One fleet replayed in a pass over the stream: ``route`` on ``n_nodes`` nodes, of which ``nodes`` are
    simulated; under ``global`` the fleet is pools of ``pool_nodes`` nodes (``nodes`` lists whole pools);
    ``prefix_blocks``: under ``prefix``, the block whose id routes a request (1: the first);
    ``keep``: units (nodes; pools under ``global``) whose requests are also returned, as traces."""

    route: str
    n_nodes: int
    nodes: tuple
    pool_nodes: int = 1
    prefix_blocks: int = 1
    keep: tuple = ()


class _Fleet:
    """State of one :class:`FleetSpec` during a pass: replays, queues and counters of its simulated nodes."""

    def __init__(self, spec: FleetSpec, config: TierConfig):
        from model.hardware import load_tier
        from model.tiering.fleet import NIC_TIER

        self.spec, self.config = spec, config
        self.glob = spec.route == "global"
        self.g = spec.pool_nodes if self.glob else 1
        self.n_pools = spec.n_nodes // self.g
        self.pool_cfg = config.with_capacities(**{t.name: t.capacity_blocks * self.g for t in config.tiers}) \
            if self.glob else config
        self.nic_bytes_per_s = load_tier(NIC_TIER).bandwidth_bytes_per_s
        self.pools = sorted({k // self.g for k in spec.nodes}) if self.glob else []
        self.replays: dict[int, StreamReplay] = {}
        self.sent = {p: 0 for p in self.pools}      # requests a pool has placed on its nodes (round-robin)
        self.state: dict[int, _Node] = {}
        self.kept: dict[int, list] = {}
        self.kept_lookups: dict[int, int] = {}
        self.keep_max = int(default("fleet_keep_max_lookups"))
        self.truncated: set = set()             # units whose kept requests stop at keep_max lookups
        self.seen = 0
        self.n_tiers = len(config.tiers)
        self.load = np.zeros(spec.n_nodes, np.int64)   # requests routed to every node of the fleet

    def _keep(self, unit, sub):
        """Keep ``sub`` for ``unit`` while its kept requests hold fewer than ``keep_max`` lookups (a node that
        receives most of the stream, e.g. under prefix routing on a shared first block, would not fit)."""
        if unit not in self.spec.keep or unit in self.truncated:
            return
        room = self.keep_max - self.kept_lookups.get(unit, 0)
        if sub.n_blocks > room:
            n = int(np.searchsorted(sub.block_offsets[1:], room, side="right"))
            self.truncated.add(unit)
            if n == 0:
                return
            sub = _take(sub, np.arange(n))
        self.kept.setdefault(unit, []).append(sub)
        self.kept_lookups[unit] = self.kept_lookups.get(unit, 0) + sub.n_blocks

    def step(self, batch) -> None:
        spec, g, n_tiers = self.spec, self.g, self.n_tiers
        if self.glob:
            pool_of = (np.asarray(batch.session, dtype=np.int64) % self.n_pools).astype(np.int32)
            node_of = np.full(batch.n_requests, -1, np.int32)
            tok_all = np.zeros((batch.n_requests, n_tiers), np.int64)
            for p in self.pools:
                idx = np.flatnonzero(pool_of == p)
                if len(idx) == 0:
                    continue
                if p not in self.replays:
                    self.replays[p] = StreamReplay(self.pool_cfg, batch.group_names)
                sub = _take(batch, idx)
                self._keep(p, sub)
                tok_all[idx] = self.replays[p].feed(sub)
                node_of[idx] = p * g + (np.arange(len(idx), dtype=np.int64) + self.sent[p]) % g
                self.sent[p] += len(idx)
        else:
            node_of = route_requests(batch, spec.n_nodes, spec.route, prefix_blocks=spec.prefix_blocks,
                                     first_index=self.seen)
        self.seen += batch.n_requests
        self.load += np.bincount(node_of[node_of >= 0], minlength=spec.n_nodes)
        dense = len(spec.nodes) * 8 > spec.n_nodes
        if dense:
            order = np.argsort(node_of, kind="stable")
            bounds = np.searchsorted(node_of[order], np.arange(-1, spec.n_nodes + 1))[1:]
        for k in spec.nodes:
            idx = order[bounds[k]:bounds[k + 1]] if dense else np.flatnonzero(node_of == k)
            if k not in self.state:
                self.state[k] = _Node(None if self.glob else StreamReplay(self.config, batch.group_names),
                                      np.full(n_tiers + 1, -math.inf), -math.inf,
                                      np.zeros(len(TTFT_BINS_S) + 1, np.int64))
            if len(idx) == 0:
                continue
            sub = _take(batch, idx)
            if not self.glob:
                self._keep(k, sub)
            self._time(self.state[k], sub, tok_all[idx] if self.glob else None)

    def _time(self, node: _Node, sub, tok) -> None:
        config, g = self.config, self.g
        if tok is None:
            tok = node.replay.feed(sub)
        recomputed = sub.input_tokens - tok.sum(axis=1)
        load, prefill = request_service_s(tok, recomputed, config)
        node.prefill_full_s += float(request_service_s(np.zeros_like(tok), sub.input_tokens, config)[1].sum())
        # under global, a hit on another node of the pool also crosses the NIC
        net = (tok.sum(axis=1) * (g - 1) / g * config.engine.kv_bytes_per_token / self.nic_bytes_per_s
               if self.glob else np.zeros(sub.n_requests))
        load = np.column_stack([load, net])
        arrival = sub.arrival_s
        ready = arrival.copy()
        for j in range(load.shape[1]):
            moving = load[:, j] > 0
            if moving.any():
                done_j = lindley_done_s(arrival[moving], load[moving, j], free=node.link_free[j])
                node.link_free[j] = done_j[-1]
                ready[moving] = np.maximum(ready[moving], done_j)
        order = np.lexsort((np.arange(len(ready)), ready))
        done = np.empty(len(ready))
        done[order] = lindley_done_s(ready[order], prefill[order], free=node.gpu_free)
        node.gpu_free = float(done[order[-1]])
        ttft = done - arrival
        node.hist += np.bincount(np.searchsorted(TTFT_BINS_S, ttft), minlength=len(TTFT_BINS_S) + 1)
        node.requests += sub.n_requests
        node.input_tokens += int(sub.input_tokens.sum())
        node.recomputed_tokens += int(recomputed.sum())
        node.prefill_busy_s += float(prefill.sum())
        node.ttft_sum_s += float(ttft.sum())
        node.last_done_s = max(node.last_done_s, float(done.max()))

    def rows(self) -> list[dict]:
        out, g = [], self.g
        for k in self.spec.nodes:
            node = self.state.get(k)
            rep = self.replays.get(k // g) if self.glob else (node.replay if node else None)
            if node is None or rep is None or node.requests == 0:
                out.append({"node": k, "unit": k // g, "requests": 0, "lookups": 0, "hits": 0, "input_tokens": 0,
                            "recomputed_tokens": 0, "prefill_busy_s": 0.0, "prefill_full_s": 0.0, "hits_by_tier": np.zeros(self.n_tiers)})
                continue
            share = 1.0 / g
            row = {"node": k, "unit": k // g, "requests": node.requests, "input_tokens": node.input_tokens,
                   "recomputed_tokens": node.recomputed_tokens, "prefill_busy_s": node.prefill_busy_s,
                   "prefill_full_s": node.prefill_full_s, "ttft_mean_s": node.ttft_sum_s / max(node.requests, 1), "ttft_hist": node.hist,
                   "last_done_s": node.last_done_s}
            if self.glob:   # the pool's counters, shared by its nodes: this node's share
                row.update({"lookups": rep.lookups * share, "hits": rep.hits_by_tier.sum() * share,
                            "hits_by_tier": rep.hits_by_tier * share})
            else:
                row.update({"lookups": rep.lookups, "hits": int(rep.hits_by_tier.sum()),
                            "hits_by_tier": rep.hits_by_tier})
            row["gb_used"] = rep.mean_occupied_blocks() * self.config.block_bytes / 1e9 * share
            row["state_bytes"] = rep.state_bytes()
            out.append(row)
        return out

    def traces(self) -> dict:
        return {u: concat_traces(parts) for u, parts in self.kept.items()}


def stream_fleets(job) -> list[tuple[list[dict], dict]]:
    """One worker's pass over the stream: ``job = (params, seed, config, specs, window_s, max_sessions)``
    with ``specs`` a sequence of :class:`FleetSpec`; returns, per spec, its node rows and (if
    ``keep``) the traces of the units it keeps (a module-level function, so that it pickles)."""
    from model.workload.chat import iter_character_chat_windows

    params, seed, config, specs, window_s, max_sessions = job
    fleets = [_Fleet(spec, config) for spec in specs]
    chunks = iter_character_chat_windows(params, seed=seed, window_s=window_s, max_sessions=max_sessions)
    for batch in _batches(chunks, int(default("fleet_batch_lookups"))):
        for f in fleets:
            f.step(batch)
    return [(f.rows(), (f.traces(), f.truncated), f.load) for f in fleets]


def hist_percentile(hist: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0–100) of a histogram on :data:`TTFT_BINS_S` (upper edge of the bin), s."""
    total = hist.sum()
    if total == 0:
        return math.nan
    k = int(np.searchsorted(np.cumsum(hist), q / 100.0 * total, side="left"))
    return float(TTFT_BINS_S[min(k, len(TTFT_BINS_S) - 1)])


def t_quantile_975(df: int) -> float:
    """97.5% quantile of Student's t with ``df`` degrees of freedom: the Cornish–Fisher expansion of
    Abramowitz & Stegun 26.7.5 about the normal quantile z = 1.959964 (error 0.004 at df 3, < 0.001 from df 4; exact
    values for df 1 and 2, 12.706 and 4.303, from the closed forms)."""
    df = check_int("df", df, low=1)
    if df == 1:
        return math.tan(math.pi * (0.975 - 0.5))
    if df == 2:
        return 2 * (0.975 - 0.5) / math.sqrt(2 * 0.975 * (1 - 0.975))
    z = 1.959963984540054
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)
            + (79 * z ** 9 + 776 * z ** 7 + 1482 * z ** 5 - 1920 * z ** 3 - 945 * z) / (92160 * df ** 4))


def ratio_interval(hits: np.ndarray, lookups: np.ndarray, n_total: int) -> tuple[float, float, float]:
    """Ratio estimate Σ hits ÷ Σ lookups from k sampled nodes of ``n_total``, and its 95% interval: the
    ratio estimator's linearised standard error with the finite-population correction 1 − k/N, times
    Student's t quantile with k − 1 degrees of freedom (:func:`t_quantile_975`; few nodes are sampled, so
    the normal 1.96 would be too narrow): (estimate, low, high)."""
    hits, lookups = np.asarray(hits, float), np.asarray(lookups, float)
    k = len(hits)
    r = hits.sum() / lookups.sum()
    if k < 2 or k >= n_total:
        return float(r), float(r), float(r)
    resid = hits - r * lookups
    se = math.sqrt((1 - k / n_total) * resid.var(ddof=1) / k) / lookups.mean()
    t = t_quantile_975(k - 1)
    return float(r), float(r - t * se), float(r + t * se)


@dataclass(frozen=True, eq=False)
class ScaleResult:
    """Outcome of :func:`simulate_chat_fleet`: per simulated node, and fleet-wide (:meth:`summary`)."""

    route: str
    n_nodes: int
    sessions: float
    config: TierConfig
    nodes: tuple
    n_units: int = 0       # sampling units of the fleet: nodes, or pools under ``global``
    traces: dict = field(default_factory=dict)   # unit -> Trace of its requests (keep_units)
    traces_truncated: frozenset = frozenset()    # units whose kept trace stops at fleet_keep_max_lookups
    requests_per_node: np.ndarray | None = None  # requests routed to each of the N nodes (global: simulated pools')

    def node_table(self) -> pd.DataFrame:
        rows = []
        for r in self.nodes:
            rows.append({"node": r["node"], "requests": r["requests"], "lookups": r.get("lookups", 0),
                         "hit_ratio": r["hits"] / r["lookups"] if r.get("lookups") else math.nan,
                         "ttft_p95_s": hist_percentile(r["ttft_hist"], 95) if r["requests"] else math.nan,
                         "prefill_busy_s": r.get("prefill_busy_s", 0.0)})
        return pd.DataFrame(rows)

    def _request_imbalance(self) -> float:
        """Busiest node's requests ÷ the mean, over every node of the fleet (under ``global``: of the
        simulated pools' nodes), whether or not its cache was simulated."""
        load = self.requests_per_node
        if load is None:
            return math.nan
        if self.route == "global":
            load = np.array([r["requests"] for r in self.nodes], float)
        return float(load.max() / load.mean()) if load.sum() else math.nan

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
        per_req = max(sum(r["requests"] for r in live), 1)
        out = {"route": self.route, "nodes": self.n_nodes, "gpus": fleet_gpus(self.n_nodes, self.config),
               "simulated_nodes": len(self.nodes),
               "pools": (self.n_units if self.route == "global" else math.nan),
               "simulated_units": len({r["unit"] for r in self.nodes}),
               "sessions": self.sessions, "requests": int(sum(r["requests"] for r in live)),
               "lookups": float(lookups.sum()), "hit_ratio": est, "hit_ratio_low": lo, "hit_ratio_high": hi,
               "prefill_tokens_saved_share": 1 - sum(r["recomputed_tokens"] for r in live) / sum(
                   r["input_tokens"] for r in live),
               "prefill_saved_s_per_request": sum(r["prefill_full_s"] - r["prefill_busy_s"] for r in live) / per_req,
               "prefill_s_per_request": sum(r["prefill_busy_s"] for r in live) / per_req,
               "input_tokens_per_request": sum(r["input_tokens"] for r in live) / per_req,
               "recomputed_tokens_per_request": sum(r["recomputed_tokens"] for r in live) / per_req,
               "ttft_p95_s": hist_percentile(hist, 95), "ttft_p50_s": hist_percentile(hist, 50),
               "load_imbalance": float(busy.max() / busy.mean()) if busy.mean() > 0 else math.nan,   # of simulated nodes
               "request_imbalance": self._request_imbalance(),
               "state_mb_per_node": max(r["state_bytes"] for r in live) / 1e6}
        for j, name in enumerate(self.config.tier_names):
            out[f"hit_ratio_{name}"] = float(by_tier[j])
            out[f"{name}_gb_used_mean"] = float(gb[:, j].mean())
        return out


def _units(n: int, route: str, sample_nodes, pool_nodes) -> tuple[int, list[int]]:
    g = 1
    if route == "global":
        g = n if pool_nodes is None else check_int("pool_nodes", pool_nodes, low=1)
        if n % g:
            raise ParameterError("pool_nodes", pool_nodes, f"a divisor of the fleet's {n} nodes")
    units = n // g
    if sample_nodes is None or sample_nodes >= units:
        return g, list(range(units))
    k = check_int("sample_nodes", sample_nodes, low=1)
    return g, sorted(set(int(i * units // k) for i in range(k)))


def simulate_chat_fleets(params, config: TierConfig, n_nodes: int, routes, *, seed: int = 0,
                         sample_nodes: int | None = None, workers: int = 1, scheduler: str | None = None,
                         window_s: float | None = None, max_sessions: int | None = None,
                         pool_nodes: int | None = None, prefix_blocks: int = 1,
                         keep_units: int = 0) -> dict:
    """The character-chat workload of ``params`` on ``n_nodes`` nodes of ``config`` under each routing policy
    of ``routes``, streamed: one pass over the stream per worker serves every policy.

    Parameters
    ----------
    params : model.workload.CharacterChatParams
    config : TierConfig
        One node: finite tier capacities, LRU, one prefill instance.
    n_nodes : int
    routes : sequence of {"round-robin", "session", "prefix", "global"}
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
        Seconds of arrivals per window of the stream (default: the generator's, an eighth of the think time).
    max_sessions : int, optional
        Start at most this many sessions.
    pool_nodes : int, optional
        Under ``global``: nodes per shared pool; the fleet is ``n_nodes / pool_nodes`` pools, a session's
        requests all go to one pool (session id mod pools), and each pool shares ``pool_nodes`` × each tier.
        Default: one pool of every node. Smaller pools bound the memory of a pool's replay (a pool of P nodes
        holds P nodes' cache state) and lose only the sharing of blocks between pools (persona prompts).
    prefix_blocks : int
        Under ``prefix``: the request goes to the node of its ``prefix_blocks``-th block's id (the id names the
        prefix up to that block); 1, the default, routes by the first block.
    keep_units : int
        Also keep the requests the first ``keep_units`` simulated nodes (pools under ``global``) received, as
        :attr:`ScaleResult.traces`, each up to ``fleet_keep_max_lookups`` block lookups (whole requests, in
        arrival order; the units cut there are :attr:`ScaleResult.traces_truncated`).

    Returns
    -------
    dict
        route → :class:`ScaleResult`.
    """
    n = check_int("nodes", n_nodes, low=1)
    routes = list(routes)
    for r in routes:
        check_choice("route", r, ROUTES)
    check_int("prefix_blocks", prefix_blocks, low=1)
    if config.engine.n_instances != 1:
        raise ParameterError("n_instances", config.engine.n_instances, "1 per node in the streamed fleet")
    plan = {r: _units(n, r, sample_nodes, pool_nodes) for r in routes}
    w = max(1, min(workers, max(len(chosen) for _, chosen in plan.values())))
    jobs = []
    for i in range(w):
        specs = tuple(FleetSpec(r, n, tuple(u * g + j for u in chosen[i::w] for j in range(g)), g, prefix_blocks,
                                tuple(u for u in chosen[i::w] if u in chosen[:keep_units]))
                      for r, (g, chosen) in plan.items())
        jobs.append((params, seed, config, specs, window_s, max_sessions))
    results = map_jobs(stream_fleets, jobs, workers=len(jobs) if scheduler is None else 1, scheduler=scheduler)
    out = {}
    for j, r in enumerate(routes):
        rows = sorted((row for part in results for row in part[j][0]), key=lambda row: row["node"])
        traces = {u: t for part in results for u, t in part[j][1][0].items()}
        truncated = frozenset(u for part in results for u in part[j][1][1])
        load = results[0][j][2] if r != "global" else np.sum([part[j][2] for part in results], axis=0)
        g, chosen = plan[r]
        out[r] = ScaleResult(route=r, n_nodes=n, sessions=params.concurrent_sessions, config=config,
                             nodes=tuple(rows), n_units=n // g, traces=traces, requests_per_node=load,
                             traces_truncated=truncated)
    return out


def _steady_gpus(seconds_per_request: float, params, config: TierConfig) -> float:
    """Prefill seconds per request × requests per second in steady state (Little's law:
    ``concurrent_sessions`` ÷ the mean think time between a session's turns) × GPUs per prefill instance."""
    rate = params.concurrent_sessions / params.think_time_s
    return busy_gpus(rate, seconds_per_request=seconds_per_request, gpus_per_replica=config.engine.gpus_per_instance)


def prefill_gpus(summary: dict, params, config: TierConfig) -> float:
    """GPUs of prefill the whole fleet needs in steady state with its cache (busy time only: no queueing
    headroom), from ``summary["prefill_s_per_request"]`` of :meth:`ScaleResult.summary`."""
    return _steady_gpus(summary["prefill_s_per_request"], params, config)


def prefill_gpus_saved(summary: dict, params, config: TierConfig) -> float:
    """GPUs of prefill the cache saves the whole fleet in steady state, from
    ``summary["prefill_saved_s_per_request"]`` of :meth:`ScaleResult.summary`."""
    return _steady_gpus(summary["prefill_saved_s_per_request"], params, config)


def simulate_chat_fleet(params, config: TierConfig, n_nodes: int, route: str, **kwargs) -> ScaleResult:
    """:func:`simulate_chat_fleets` for one routing policy (same parameters)."""
    check_choice("route", route, ROUTES)
    return simulate_chat_fleets(params, config, n_nodes, [route], **kwargs)[route]
