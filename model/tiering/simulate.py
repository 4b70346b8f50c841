"""The whole simulation: replay + timing + throughput + cost of a trace through a configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from model.tiering.config import TierConfig
from model.tiering.cost import storage_cost_per_hour
from model.tiering.replay import ReplayResult, replay
from model.tiering.stack_distance import replay_from_stack
from model.tiering.timing import Timing, time_requests, usd_per_million_tokens
from model.checks import check_choice
from model.workload import Trace


@dataclass(frozen=True, eq=False)
class TieringResult:
    """Outcome of :func:`simulate` (all rates per second of simulated time).

    Attributes
    ----------
    config : TierConfig
    trace_name : str
    requests, blocks : int
        Requests and block lookups replayed.
    hit_ratio : float
        Share of block lookups served from any tier (prefix semantics).
    hit_ratio_by_tier : dict
        Tier name → share of block lookups served from it.
    tokens_by_tier : dict
        Tier name → prompt tokens served from it.
    recomputed_tokens : int
        Prompt tokens recomputed by prefill.
    input_tokens, output_tokens : int
        Totals of the trace.
    ttft_p50_s, ttft_p95_s, ttft_mean_s : float
        TTFT percentiles and mean, s.
    throughput_requests_per_s, throughput_tokens_per_s : float
        Completed requests (prompt + output tokens) per second from the first arrival to the last first
        token.
    gpu_busy_fraction : float
        Prefill busy time ÷ (instances × that span).
    cost_usd_per_hour : float
        GPUs of the prefill pool + storage of every tier (on the config's cost basis), $/h.
    storage_usd_per_hour : dict
        Tier name → storage cost, $/h.
    usd_per_million_tokens : float
        cost per hour ÷ (prompt + output tokens per hour) × 1e6.
    replay : ReplayResult
    timing : Timing
    """

    config: TierConfig
    trace_name: str
    requests: int
    blocks: int
    hit_ratio: float
    hit_ratio_by_tier: dict
    tokens_by_tier: dict
    recomputed_tokens: int
    input_tokens: int
    output_tokens: int
    ttft_p50_s: float
    ttft_p95_s: float
    ttft_mean_s: float
    throughput_requests_per_s: float
    throughput_tokens_per_s: float
    gpu_busy_fraction: float
    cost_usd_per_hour: float
    storage_usd_per_hour: dict
    usd_per_million_tokens: float
    replay: ReplayResult = field(repr=False)
    timing: Timing = field(repr=False)

    def as_row(self) -> dict:
        """Flat dict for a table (metric names of ``model.metrics``; per-tier columns suffixed by tier)."""
        row = {"trace": self.trace_name, "requests": self.requests, "blocks": self.blocks,
               "hit_ratio": self.hit_ratio}
        for name in self.config.tier_names:
            row[f"hit_ratio_{name}"] = self.hit_ratio_by_tier[name]
        for name, cap in zip(self.config.tier_names, self.config.capacities):
            row[f"capacity_blocks_{name}"] = cap
        for name in self.config.tier_names:
            row[f"tokens_{name}"] = self.tokens_by_tier[name]
        row.update({
            "recomputed_tokens": self.recomputed_tokens, "ttft_p50_s": self.ttft_p50_s,
            "ttft_p95_s": self.ttft_p95_s, "throughput_requests_per_s": self.throughput_requests_per_s,
            "throughput_tokens_per_s": self.throughput_tokens_per_s, "gpu_busy_fraction": self.gpu_busy_fraction,
            "cost_usd_per_hour": self.cost_usd_per_hour, "usd_per_million_tokens": self.usd_per_million_tokens,
        })
        return row


def simulate(trace: Trace, config: TierConfig, *, timing: str = "recursion", method: str = "auto",
             progress: bool = False, replay_result: ReplayResult | None = None) -> TieringResult:
    """Replay ``trace`` through ``config`` and time it.

    Parameters
    ----------
    trace : Trace
        Requests with prefix blocks (``trace.block_tokens`` must equal ``config.block_tokens``).
    config : TierConfig
        Tiers, engine, policy, TTLs, cost basis.
    timing : {"recursion", "simpy"}
        Exact FIFO recursion (fast) or the simpy model of the same network.
    method : {"auto", "replay", "stack"}
        Cache replay by the block-level simulator, or from stack distances (LRU without TTL only);
        ``"auto"`` uses the simulator.
    progress : bool
        tqdm bar over requests during the replay (on an interactive terminal only).
    replay_result : ReplayResult, optional
        Reuse a replay of the same trace and cache configuration (e.g. when only the engine changes).

    Returns
    -------
    TieringResult
    """
    check_choice("method", method, ("auto", "replay", "stack"))
    if replay_result is not None:
        rep = replay_result
    elif method == "stack":
        rep = replay_from_stack(trace, config)
    else:
        rep = replay(trace, config, progress=progress)
    tm = time_requests(trace, rep, config, timing=timing)
    ttft = tm.ttft_s
    span = float(tm.done_s.max() - trace.arrival_s[0])
    in_tok, out_tok = int(trace.input_tokens.sum()), int(trace.output_tokens.sum())
    thr_req = trace.n_requests / span if span > 0 else math.inf
    thr_tok = (in_tok + out_tok) / span if span > 0 else math.inf
    storage = storage_cost_per_hour(config, rep)
    cost = config.engine.n_gpus * config.engine.gpu_usd_per_hour + sum(storage.values())
    names = config.tier_names
    by_tier = rep.hit_ratio_by_tier()
    return TieringResult(
        config=config, trace_name=trace.name, requests=trace.n_requests, blocks=trace.n_blocks,
        hit_ratio=rep.hit_ratio(), hit_ratio_by_tier=dict(zip(names, by_tier.tolist())),
        tokens_by_tier=dict(zip(names, rep.tokens_by_tier.sum(axis=0).tolist())),
        recomputed_tokens=int(rep.recomputed_tokens.sum()), input_tokens=in_tok, output_tokens=out_tok,
        ttft_p50_s=float(np.percentile(ttft, 50)), ttft_p95_s=float(np.percentile(ttft, 95)),
        ttft_mean_s=float(ttft.mean()), throughput_requests_per_s=thr_req, throughput_tokens_per_s=thr_tok,
        gpu_busy_fraction=float(tm.prefill_s.sum() / (config.engine.n_instances * span)) if span > 0 else math.nan,
        cost_usd_per_hour=cost, storage_usd_per_hour=storage,
        usd_per_million_tokens=usd_per_million_tokens(cost, thr_tok),
        replay=rep, timing=tm)
