"""The KV cache of a plan: how much of each prompt a prefix cache serves, how much cache a node needs for it and
in which tier (HBM, DRAM, SSD), the routing that keeps the reuse on one node, and the TTL of each block group.

All of it comes from the stack-distance analysis of the service's own generated chat trace
(:func:`model.workload.chat.character_chat_trace` with the plan's session shape, a sample of
``plan_cache_trace_sessions`` concurrent sessions, as one session-routed node of the fleet-cache chapter sees
them):

- the ideal (infinite-cache) prefix hit ratio and the smallest LRU capacity that reaches ``cache_hit_share`` of
  it (:func:`model.tiering.stack_distance.capacity_for_hit_share`), and the share of prompt tokens that capacity
  serves (:func:`~model.tiering.stack_distance.lru_hit_ratio_curve`); that share of the plan's prompt is the
  cached prefix the serving pools skip, as the fleet chapter applies the fleet-cache replay's saving;
- capacity per node = the sample's capacity per session × the node's sessions, in the plan's prompt length
  (× plan prompt ÷ the trace's mean prompt: the reuse pattern is the trace's, the prompt is the plan's) and the
  model's KV bytes per token; it fills the HBM left after the running batch, then host DRAM up to
  ``plan_dram_max_gb_per_node``, then SSD;
- routing: ``session`` (a session's turns go to one node) when most reused tokens are the session's own history,
  else ``prefix`` (requests meet on the node of their shared prefix) (:data:`model.tiering.fleet.ROUTES`);
- TTL per group: :func:`model.ttl.tune_ttl` (analytic) with the price of the node's DRAM/SSD cache for storage
  (:func:`storage_usd_per_gb_month`) and the prefill GPU time for a recompute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.calendar import hours_per_month
from model.hardware import load_tier
from model.parameters import default

#: Tiers of data/hardware.csv the cache uses below HBM.
DRAM_TIER, SSD_TIER = "host-dram", "nvme-ssd"
#: Block group of the chat trace holding a session's own history (:data:`model.workload.chat.CHAT_GROUPS`).
HISTORY_GROUP = "history"
GB = 1e9


@dataclass(frozen=True)
class CacheProfile:
    """What the generated trace says about reuse (independent of the fleet's size)."""

    trace_sessions: float
    trace_requests: int
    trace_mean_prompt_tokens: float
    ideal_hit_ratio: float
    capacity_blocks: int
    hit_ratio: float
    token_hit_ratio: float
    block_tokens: int
    history_share_of_reuse: float
    routing: str
    trace: object

    def capacity_tokens_per_session(self, prompt_tokens: float) -> float:
        """Cache tokens per concurrent session, in the plan's prompt length."""
        return (self.capacity_blocks * self.block_tokens / self.trace_sessions
                * prompt_tokens / self.trace_mean_prompt_tokens)


@dataclass(frozen=True)
class SharedPrefix:
    """The shared prefix of the service's prompts: a persona shared by all, one per character, and how popular
    the characters are (the chat generator's :class:`~model.workload.CharacterChatParams` fields)."""

    shared_persona_tokens: int
    character_persona_tokens: int
    characters: int
    zipf_exponent: float


def trace_params(turns_per_session: float, session_minutes: float, prefix: SharedPrefix):
    """:class:`~model.workload.CharacterChatParams` of the sample: the chat generator's defaults (the case
    study's history window and turn), the plan's session shape and shared prefix, ``plan_cache_trace_sessions``
    sessions."""
    from model.workload import CharacterChatParams

    popular = min(int(default("chat_popular_characters")), prefix.characters)
    return CharacterChatParams(concurrent_sessions=default("plan_cache_trace_sessions"),
                               mean_turns=turns_per_session, session_minutes=session_minutes,
                               duration_s=session_minutes * 60.0, n_characters=prefix.characters,
                               zipf_exponent=prefix.zipf_exponent, popular_characters=popular,
                               shared_persona_tokens=prefix.shared_persona_tokens,
                               character_persona_tokens=prefix.character_persona_tokens)


@lru_cache(maxsize=8)
def cache_profile(turns_per_session: float, session_minutes: float, hit_share: float, prefix: SharedPrefix, *,
                  seed: int = 0) -> CacheProfile:
    """Generate the sample trace and analyse it (about a second on one core; remembered for the same inputs)."""
    from model.tiering.stack_distance import (capacity_for_hit_share, ideal_hit_ratio, lru_hit_ratio_curve,
                                              stack_distances)
    from model.ttl import TtlPrices, group_cost_curves, reuse_profile
    from model.workload.chat import character_chat_trace

    params = trace_params(turns_per_session, session_minutes, prefix)
    trace = character_chat_trace(params, seed=seed)
    d = stack_distances(trace)
    cap = capacity_for_hit_share(trace, hit_share, d)
    curve = lru_hit_ratio_curve(trace, [cap], distances=d).iloc[0]
    # reuse by group at no expiry (prices do not matter for the hit tokens)
    curves = group_cost_curves(reuse_profile(trace), TtlPrices(0.0, 0.0, 1.0), [math.inf])
    hits = curves.set_index("group")["hit_tokens"]
    history = float(hits.get(HISTORY_GROUP, 0.0) / hits.sum()) if hits.sum() > 0 else 0.0
    return CacheProfile(trace_sessions=params.concurrent_sessions, trace_requests=int(trace.n_requests),
                        trace_mean_prompt_tokens=float(np.mean(trace.input_tokens)),
                        ideal_hit_ratio=ideal_hit_ratio(trace), capacity_blocks=int(cap),
                        hit_ratio=float(curve["hit_ratio"]), token_hit_ratio=float(curve["token_hit_ratio"]),
                        block_tokens=params.block_tokens, history_share_of_reuse=history,
                        routing="session" if history >= 0.5 else "prefix", trace=trace)


@dataclass(frozen=True)
class NodeCache:
    """The cache of one node of the pool that holds it, by tier, GB."""

    sessions_per_node: float
    need_gb: float
    hbm_free_gb: float
    hbm_gb: float
    dram_gb: float
    ssd_gb: float
    load_s: float          # seconds to load one request's cached prefix from the slowest tier it uses

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def node_cache(profile: CacheProfile, *, sessions: float, cache_nodes: float, node_gpus: int, dep, batch: float,
               prompt_tokens: int, reply_tokens: int, cached_tokens: int, kv_bytes_per_token: float) -> NodeCache:
    """Split the cache of one node into HBM, DRAM and SSD (see the module docstring).

    ``dep`` is the replica of the pool holding the cache and ``batch`` its running decode batch (0 for a
    prefill replica, which holds one prompt at a time)."""
    per_node = sessions / cache_nodes if cache_nodes else 0.0
    need = profile.capacity_tokens_per_session(prompt_tokens) * per_node * kv_bytes_per_token / GB
    replicas_per_node = max(1, node_gpus // dep.n_gpus)
    running = (batch * (prompt_tokens + reply_tokens / 2.0) + prompt_tokens) * kv_bytes_per_token
    hbm_free = max(0.0, replicas_per_node * (dep.kv_budget_bytes - running) / GB)
    hbm = min(need, hbm_free)
    dram = min(need - hbm, default("plan_dram_max_gb_per_node"))
    ssd = max(0.0, need - hbm - dram)
    prefix_bytes = cached_tokens * kv_bytes_per_token
    if ssd > 0:
        bw = load_tier(SSD_TIER).bandwidth_bytes_per_s * default("kareto_ssd_drives") / replicas_per_node
    elif dram > 0:
        bw = load_tier(DRAM_TIER).bandwidth_bytes_per_s * dep.n_gpus
    else:
        bw = math.inf
    return NodeCache(per_node, need, hbm_free, hbm, dram, ssd, prefix_bytes / bw if bw else math.inf)


@dataclass(frozen=True)
class TtlPlan:
    """The TTL of each block group and the single best one."""

    ttl_s: float
    by_group: dict
    break_even_s: float


def storage_usd_per_gb_month(node: NodeCache, dram_usd_per_gb_month: float, ssd_usd_per_gb_month: float) -> float:
    """Price of the cache the TTL governs: the GB-weighted price of the node's DRAM and SSD parts, or DRAM's when
    the cache fits in HBM (the tier a block leaving HBM goes to)."""
    below = node.dram_gb + node.ssd_gb
    if below <= 0:
        return dram_usd_per_gb_month
    return (node.dram_gb * dram_usd_per_gb_month + node.ssd_gb * ssd_usd_per_gb_month) / below


def plan_ttl(profile: CacheProfile, *, recompute_usd_per_token: float, kv_bytes_per_token: float,
             storage_usd_per_gb_month: float) -> TtlPlan:
    """:func:`model.ttl.tune_ttl` on the sample trace (analytic), storage at ``storage_usd_per_gb_month``."""
    from model.ttl import TtlPrices, tune_ttl

    prices = TtlPrices(storage_usd_per_gb_hour=storage_usd_per_gb_month / hours_per_month(),
                       recompute_usd_per_token=recompute_usd_per_token, kv_bytes_per_token=kv_bytes_per_token)
    choice = tune_ttl(profile.trace, prices)
    uniform = next(iter(choice.policies["best uniform TTL"].values()))
    return TtlPlan(uniform, dict(choice.policies[choice.chosen]), prices.break_even_s)
