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
    the cache alone: which tier serves each block lookup (prefix semantics), tokens per tier and recomputed.
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
``model.batching``). :func:`simulate` with ``timing="simpy"`` runs the same network as a simpy process
model (slower; the tests check that both agree).

Prefill time: :meth:`PrefillEngine.prefill_time_s` is ``model.batching``'s step-time model (roofline of
compute and HBM traffic with calibrated MFU/MBU, plus the tensor-parallel all-reduce) for one sequence of
new tokens after reused ones, reduced to scalar coefficients.
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import sys
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from model.parameters import default
from model.validation import (ParameterError, check_choice, check_fraction, check_int, check_nonnegative,
                              check_number, check_positive)
from model.workload import Trace

#: Eviction policies: ``lru`` (promotion to the top tier on every access) and ``fifo`` (a hit stays where
#: it is and keeps its age; only recomputed blocks enter the top tier).
EVICTION_POLICIES = ("lru", "fifo")
#: How storage is charged: on provisioned capacity, or on occupied GB-hours (time-average occupancy).
COST_BASES = ("provisioned", "occupied")
#: Timing models: the exact FIFO recursion (fast) or the same network in simpy.
TIMING_MODELS = ("recursion", "simpy")


# ---------------------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tier:
    """One level of the KV-cache hierarchy.

    Attributes
    ----------
    name : str
        ``"hbm"``, ``"dram"``, ``"ssd"``...
    capacity_blocks : float
        Blocks the tier holds (an integer, or ``math.inf`` for an unbounded tier); 0 disables the tier.
    read_bytes_per_s : float
        Bandwidth of loading KV from this tier into GPU memory, bytes/s.
    write_bytes_per_s : float
        Bandwidth of writing KV into this tier, bytes/s (reported; writes are asynchronous and not on the
        TTFT path).
    usd_per_gb_month : float
        Price of the tier's capacity, US dollars per GB (1e9 bytes) per month; 0 for HBM, whose price is
        part of the GPU's.
    """

    name: str
    capacity_blocks: float
    read_bytes_per_s: float
    write_bytes_per_s: float
    usd_per_gb_month: float

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ParameterError("name", self.name, "a non-empty string")
        c = self.capacity_blocks
        if not (c == math.inf or (isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c >= 0)
                or (isinstance(c, float) and c.is_integer() and c >= 0)):
            raise ParameterError(f"{self.name}.capacity_blocks", c, "an integer >= 0 or math.inf")
        check_positive(f"{self.name}.read_bytes_per_s", self.read_bytes_per_s)
        check_positive(f"{self.name}.write_bytes_per_s", self.write_bytes_per_s)
        check_nonnegative(f"{self.name}.usd_per_gb_month", self.usd_per_gb_month)


@dataclass(frozen=True)
class PrefillEngine:
    """The prefill pool: ``n_instances`` replicas of ``gpus_per_instance`` GPUs, each computing one request's
    missed tokens at a time, with the step-time model of :mod:`model.batching` reduced to scalars.

    A prefill of n new tokens after p reused ones takes (``model.batching.Deployment.prefill_time``)::

        max(s_token·n + s_pair·(n·p + n(n+1)/2) + s_sequence,  m_fixed + m_token·(p + n)) + s_allreduce·n

    (compute vs. HBM traffic, plus the tensor-parallel all-reduce). Build it with :meth:`from_deployment`
    or :meth:`from_names`; the fields are plain floats so that a configuration stays hashable.

    Attributes
    ----------
    name : str
        Label, e.g. ``"llama-2-70b on 4 x a100-80gb"``.
    s_token, s_pair, s_sequence : float
        Compute seconds per new token (weights), per (query, context) token pair (attention) and per
        sequence (the output projection of the last position).
    m_fixed, m_token : float
        HBM seconds of reading the weights once, and per KV token read or written.
    s_allreduce : float
        Tensor-parallel all-reduce seconds per new token.
    kv_bytes_per_token : float
        KV cache of one token, bytes (what a tier stores and a link moves).
    gpus_per_instance : int
        GPUs of one replica.
    n_instances : int
        Replicas (parallel servers of the prefill queue).
    gpu_usd_per_hour : float
        Price of one GPU-hour, US dollars.
    """

    name: str
    s_token: float
    s_pair: float
    s_sequence: float
    m_fixed: float
    m_token: float
    s_allreduce: float
    kv_bytes_per_token: float
    gpus_per_instance: int
    n_instances: int
    gpu_usd_per_hour: float

    def __post_init__(self):
        for attr in ("s_token", "s_pair", "s_sequence", "m_fixed", "m_token", "s_allreduce"):
            check_nonnegative(attr, getattr(self, attr))
        check_positive("kv_bytes_per_token", self.kv_bytes_per_token)
        check_int("gpus_per_instance", self.gpus_per_instance, low=1)
        check_int("n_instances", self.n_instances, low=1)
        check_nonnegative("gpu_usd_per_hour", self.gpu_usd_per_hour)

    @property
    def n_gpus(self) -> int:
        """GPUs of the whole pool."""
        return self.gpus_per_instance * self.n_instances

    def prefill_time_s(self, new_tokens, cached_tokens=0) -> np.ndarray:
        """Seconds to prefill ``new_tokens`` after ``cached_tokens`` reused ones on one replica (arrays
        broadcast). At least one token is computed: a fully cached prompt still runs its last position to
        emit the first output token."""
        n = np.maximum(np.asarray(new_tokens, dtype=np.float64), 1.0)
        p = np.asarray(cached_tokens, dtype=np.float64)
        compute = self.s_token * n + self.s_pair * (n * p + n * (n + 1) / 2) + self.s_sequence
        memory = self.m_fixed + self.m_token * (p + n)
        return np.maximum(compute, memory) + self.s_allreduce * n

    @classmethod
    def from_deployment(cls, dep, *, n_instances: int = 1, gpu_usd_per_hour: float | None = None
                        ) -> "PrefillEngine":
        """The engine of a :class:`model.batching.Deployment` (its MFU, MBU, sharding and number formats)."""
        a = dep.arch
        lm_head = a.vocab_size * a.hidden_size
        body = a.matmul_parameters() - lm_head
        flops = dep.flops_per_s
        price = gpu_price_usd_per_hour(dep.gpu.name) if gpu_usd_per_hour is None else gpu_usd_per_hour
        return cls(
            name=f"{a.name} on {dep.n_gpus} x {dep.gpu.name}",
            s_token=2.0 * body / flops,
            s_pair=4.0 * a.num_layers * a.num_attention_heads * a.head_dim / flops,
            s_sequence=2.0 * lm_head / flops,
            m_fixed=dep.weight_bytes / dep.bytes_per_s,
            m_token=dep.kv_bytes_per_token / dep.bytes_per_s,
            s_allreduce=float(dep.allreduce_time(1.0)),
            kv_bytes_per_token=dep.kv_bytes_per_token,
            gpus_per_instance=dep.n_gpus, n_instances=n_instances, gpu_usd_per_hour=price)

    @classmethod
    def from_names(cls, model: str = "llama-2-70b", gpu: str = "a100-80gb", *, gpus_per_instance: int | None = None,
                   n_instances: int = 1, gpu_usd_per_hour: float | None = None, **deployment_kwargs
                   ) -> "PrefillEngine":
        """Engine of ``model`` on ``gpus_per_instance`` (default ``tiering_gpus_per_instance``) × ``gpu``
        (``data/models``, ``data/hardware.csv``); other keywords go to :class:`model.batching.Deployment`."""
        from model.batching import deployment

        g = int(default("tiering_gpus_per_instance")) if gpus_per_instance is None else gpus_per_instance
        return cls.from_deployment(deployment(model, gpu, g, **deployment_kwargs), n_instances=n_instances,
                                   gpu_usd_per_hour=gpu_usd_per_hour)


def gpu_price_usd_per_hour(gpu: str, *, provider: str = "aws", pricing: str = "on-demand") -> float:
    """Latest dated price of one GPU-hour of ``gpu`` in ``data/prices/gpu_prices.csv`` (default: AWS
    on-demand), US dollars: :func:`model.economics.gpu_price`."""
    from model.economics import gpu_price

    return gpu_price(gpu, provider, pricing).usd_per_gpu_hour


@dataclass(frozen=True)
class TierConfig:
    """A point of the configuration space: the hierarchy, the prefill pool and the cache policy.

    Attributes
    ----------
    tiers : tuple of Tier
        Top (fastest) first.
    engine : PrefillEngine
        Prefill pool that recomputes missed tokens (and whose GPU price is charged).
    block_tokens : int
        Tokens per KV block; must equal the trace's ``block_tokens``.
    eviction : {"lru", "fifo"}
        Eviction policy (see :data:`EVICTION_POLICIES`).
    default_ttl_s : float
        TTL of blocks of groups not in ``ttl_by_group``, s (``math.inf``: never expire).
    ttl_by_group : tuple of (str, float)
        TTL per group name, s; build with :meth:`with_ttl`.
    cost_basis : {"provisioned", "occupied"}
        Charge storage on capacity, or on time-averaged occupied GB.
    """

    tiers: tuple
    engine: PrefillEngine
    block_tokens: int = 512
    eviction: str = "lru"
    default_ttl_s: float = math.inf
    ttl_by_group: tuple = ()
    cost_basis: str = "provisioned"

    def __post_init__(self):
        tiers = tuple(self.tiers)
        object.__setattr__(self, "tiers", tiers)
        if not tiers or not all(isinstance(t, Tier) for t in tiers):
            raise ParameterError("tiers", self.tiers, "a non-empty sequence of Tier")
        names = [t.name for t in tiers]
        if len(set(names)) != len(names):
            raise ParameterError("tiers", names, "tiers with distinct names")
        check_int("block_tokens", self.block_tokens, low=1)
        check_choice("eviction", self.eviction, EVICTION_POLICIES)
        check_choice("cost_basis", self.cost_basis, COST_BASES)
        _check_ttl("default_ttl_s", self.default_ttl_s)
        pairs = tuple(sorted((str(g), float(v)) for g, v in (self.ttl_by_group.items()
                                                            if isinstance(self.ttl_by_group, Mapping)
                                                            else self.ttl_by_group)))
        for g, v in pairs:
            _check_ttl(f"ttl_by_group[{g!r}]", v)
        object.__setattr__(self, "ttl_by_group", pairs)

    # --- derived --------------------------------------------------------------------------------------
    @property
    def tier_names(self) -> tuple:
        return tuple(t.name for t in self.tiers)

    @property
    def block_bytes(self) -> float:
        """Bytes of one KV block: block_tokens × kv_bytes_per_token."""
        return self.block_tokens * self.engine.kv_bytes_per_token

    @property
    def capacities(self) -> tuple:
        """Capacity of each tier, blocks."""
        return tuple(t.capacity_blocks for t in self.tiers)

    def capacity_gb(self) -> np.ndarray:
        """Capacity of each tier, GB (1e9 bytes)."""
        return np.array([t.capacity_blocks for t in self.tiers], dtype=float) * self.block_bytes / 1e9

    def ttl_for(self, group: str) -> float:
        """TTL of blocks of ``group``, s."""
        return dict(self.ttl_by_group).get(group, self.default_ttl_s)

    def has_ttl(self) -> bool:
        """Whether any TTL is finite."""
        return math.isfinite(self.default_ttl_s) or any(math.isfinite(v) for _, v in self.ttl_by_group)

    # --- variations (a search moves through these) ---------------------------------------------------
    def with_capacities(self, **capacity_blocks: float) -> "TierConfig":
        """Same configuration with some tiers resized, e.g. ``cfg.with_capacities(dram=4096, ssd=0)``."""
        unknown = set(capacity_blocks) - set(self.tier_names)
        if unknown:
            raise ParameterError("tier", sorted(unknown), "one of " + ", ".join(self.tier_names))
        return replace(self, tiers=tuple(replace(t, capacity_blocks=capacity_blocks.get(t.name, t.capacity_blocks))
                                         for t in self.tiers))

    def with_ttl(self, default_ttl_s: float | None = None, by_group: Mapping[str, float] | None = None
                 ) -> "TierConfig":
        """Same configuration with another default TTL and/or TTL per group (replacing the old per-group
        TTLs when ``by_group`` is given)."""
        return replace(self, default_ttl_s=self.default_ttl_s if default_ttl_s is None else default_ttl_s,
                       ttl_by_group=self.ttl_by_group if by_group is None else tuple(by_group.items()))

    def with_instances(self, n_instances: int) -> "TierConfig":
        """Same configuration with another number of prefill instances."""
        return replace(self, engine=replace(self.engine, n_instances=n_instances))


def _check_ttl(name: str, value: float):
    if value != math.inf:
        check_nonnegative(name, value)


def default_tiers(*, hbm_blocks: float, dram_blocks: float = 0, ssd_blocks: float = 0,
                  hbm_read_bytes_per_s: float, dram_tier: str = "host-dram", ssd_tier: str = "nvme-ssd",
                  links_per_tier: int = 1) -> tuple:
    """HBM → host DRAM → NVMe SSD with the bandwidths and prices of ``data/hardware.csv``.

    HBM is read at ``hbm_read_bytes_per_s`` (the GPU's memory bandwidth) and priced 0 here, since its price
    is the GPU's (charged through the engine). Write bandwidths equal read ones (reported only). The
    bandwidths are per link; ``links_per_tier`` multiplies them (e.g. one PCIe link per GPU)."""
    from model.hardware import load_tier

    dram, ssd = load_tier(dram_tier), load_tier(ssd_tier)
    k = check_int("links_per_tier", links_per_tier, low=1)
    return (
        Tier("hbm", hbm_blocks, hbm_read_bytes_per_s, hbm_read_bytes_per_s, 0.0),
        Tier("dram", dram_blocks, k * dram.bandwidth_bytes_per_s, k * dram.bandwidth_bytes_per_s,
             dram.usd_per_gb_month),
        Tier("ssd", ssd_blocks, k * ssd.bandwidth_bytes_per_s, k * ssd.bandwidth_bytes_per_s, ssd.usd_per_gb_month),
    )


def default_config(*, model: str = "llama-2-70b", gpu: str = "a100-80gb", gpus_per_instance: int | None = None,
                   n_instances: int = 1, hbm_blocks: float | None = None, dram_gb: float | None = None,
                   ssd_gb: float | None = None, block_tokens: int | None = None, **kwargs) -> TierConfig:
    """A 3-tier configuration of ``model`` on ``gpu`` (the case study's Llama 2 70B on A100 80GB; Mooncake's
    experiments use a LLaMA2-70B-shaped model too).

    HBM capacity defaults to the KV budget of the pool (usable memory − weights per instance); DRAM and SSD
    to ``tiering_dram_gb_per_instance`` and ``tiering_ssd_gb_per_instance`` per instance. Each instance
    brings one PCIe link to DRAM and one SSD per GPU. Other keywords go to :class:`TierConfig`.
    """
    engine = PrefillEngine.from_names(model, gpu, gpus_per_instance=gpus_per_instance, n_instances=n_instances)
    from model.batching import deployment
    from model.hardware import load_gpu

    dep = deployment(model, gpu, engine.gpus_per_instance)
    bt = int(default("mooncake_block_tokens")) if block_tokens is None else block_tokens
    block_bytes = bt * engine.kv_bytes_per_token
    if hbm_blocks is None:
        hbm_blocks = n_instances * max(0, int(dep.kv_budget_bytes // block_bytes))
    dram_gb = default("tiering_dram_gb_per_instance") * n_instances if dram_gb is None else dram_gb
    ssd_gb = default("tiering_ssd_gb_per_instance") * n_instances if ssd_gb is None else ssd_gb
    acc = load_gpu(gpu)
    tiers = default_tiers(hbm_blocks=hbm_blocks, dram_blocks=int(dram_gb * 1e9 // block_bytes),
                          ssd_blocks=int(ssd_gb * 1e9 // block_bytes),
                          hbm_read_bytes_per_s=acc.bandwidth_bytes_per_s * engine.gpus_per_instance,
                          links_per_tier=engine.gpus_per_instance)
    return TierConfig(tiers=tiers, engine=engine, block_tokens=bt, **kwargs)


def blocks_for_gb(gb: float, config: TierConfig) -> int:
    """Whole KV blocks of ``config`` that fit in ``gb`` GB (1e9 bytes)."""
    check_nonnegative("gb", gb)
    return int(gb * 1e9 // config.block_bytes)


# ---------------------------------------------------------------------------------------------------------
# Cache replay
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ReplayResult:
    """What the cache did with a trace.

    Attributes
    ----------
    tier_names : tuple of str
    served_tier : numpy.ndarray
        Per block lookup: index of the tier that served it, or -1 if recomputed (int8).
    tokens_by_tier : numpy.ndarray
        Per request and tier: prompt tokens served from that tier (int64, shape requests × tiers).
    recomputed_tokens : numpy.ndarray
        Per request: prompt tokens recomputed by prefill (int64).
    occupied_block_seconds : numpy.ndarray
        Per tier: time integral of resident blocks from the first to the last arrival, block·s.
    span_s : float
        First to last arrival, s.
    demotions : numpy.ndarray
        Per tier: blocks that left the tier for the next one (or were dropped from the last).
    expirations : int
        Blocks freed by TTL.
    """

    tier_names: tuple
    served_tier: np.ndarray
    tokens_by_tier: np.ndarray
    recomputed_tokens: np.ndarray
    occupied_block_seconds: np.ndarray
    span_s: float
    demotions: np.ndarray
    expirations: int

    @property
    def n_blocks(self) -> int:
        return len(self.served_tier)

    def hit_ratio(self) -> float:
        """Share of block lookups served from any tier."""
        return float(np.mean(self.served_tier >= 0)) if self.n_blocks else math.nan

    def hit_ratio_by_tier(self) -> np.ndarray:
        """Share of block lookups served from each tier."""
        n = max(self.n_blocks, 1)
        return np.bincount(self.served_tier[self.served_tier >= 0], minlength=len(self.tier_names)) / n

    def mean_occupied_blocks(self) -> np.ndarray:
        """Time-averaged resident blocks per tier (NaN for a zero-length trace)."""
        return self.occupied_block_seconds / self.span_s if self.span_s > 0 else np.full(
            len(self.tier_names), np.nan)


def _check_trace(trace: Trace, config: TierConfig):
    if trace.block_tokens != config.block_tokens:
        raise ParameterError("config.block_tokens", config.block_tokens,
                             f"equal to the trace's block_tokens ({trace.block_tokens})")
    if trace.n_requests == 0:
        raise ParameterError("trace", trace.name, "a trace with at least one request")


def _dense_ids(trace: Trace) -> tuple[np.ndarray, int]:
    uniq, inverse = np.unique(trace.block_ids, return_inverse=True)
    return inverse.astype(np.int64), len(uniq)


def replay(trace: Trace, config: TierConfig, *, progress: bool = False) -> ReplayResult:
    """Replay ``trace`` through the hierarchy of ``config`` (cache only, no timing).

    Parameters
    ----------
    trace : Trace
        Requests in arrival order with their prefix blocks and block groups.
    config : TierConfig
        Tiers, eviction policy and TTLs (engine and prices are not used here).
    progress : bool
        Show a tqdm bar over requests.

    Returns
    -------
    ReplayResult
        Per block lookup the serving tier (−1 = recomputed); per request tokens per tier and recomputed
        tokens (hit + recomputed = input tokens, exactly).
    """
    _check_trace(trace, config)
    dense, n_unique = _dense_ids(trace)
    n_tiers = len(config.tiers)
    caps = [c if c != math.inf else math.inf for c in config.capacities]
    ttls = np.array([config.ttl_for(g) for g in trace.group_names], dtype=float)
    use_ttl = bool(np.isfinite(ttls).any())
    lru = config.eviction == "lru"

    ids = dense.tolist()
    offsets = trace.block_offsets.tolist()
    arrival = trace.arrival_s.tolist()
    groups = trace.block_group.tolist()
    ttl_list = ttls.tolist()
    served = np.full(trace.n_blocks, -1, dtype=np.int8)
    served_list = [-1] * trace.n_blocks

    tier_of = [-1] * n_unique
    tiers = [OrderedDict() for _ in range(n_tiers)]
    top = tiers[0]
    demotions = [0] * n_tiers
    occupied = [0.0] * n_tiers
    expirations = 0
    # TTL bookkeeping: per group, blocks in order of last access (front = oldest) with their expiry time
    group_of = [-1] * n_unique
    gqueues = [OrderedDict() for _ in trace.group_names]
    finite_groups = [g for g, v in enumerate(ttl_list) if math.isfinite(v)]

    iterator = range(trace.n_requests)
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(iterator, desc="replay", unit="req")
    t_prev = arrival[0]
    for i in iterator:
        t = arrival[i]
        dt = t - t_prev
        if dt > 0:
            for k in range(n_tiers):
                occupied[k] += len(tiers[k]) * dt
        t_prev = t
        if use_ttl:
            for g in finite_groups:
                q = gqueues[g]
                while q:
                    b, expiry = next(iter(q.items()))
                    if expiry > t:
                        break
                    del q[b]
                    del tiers[tier_of[b]][b]
                    tier_of[b] = -1
                    group_of[b] = -1
                    expirations += 1
        s, e = offsets[i], offsets[i + 1]
        # 1. lookup: longest cached prefix
        for pos in range(s, e):
            k = tier_of[ids[pos]]
            if k < 0:
                break
            served_list[pos] = k
        # 2. access every block in order
        for pos in range(s, e):
            b = ids[pos]
            k = tier_of[b]
            if k == 0:
                if lru:
                    top.move_to_end(b)
            elif k > 0 and not lru:
                pass
            else:
                if k > 0:
                    del tiers[k][b]
                top[b] = None
                tier_of[b] = 0
                j = 0
                while len(tiers[j]) > caps[j]:
                    v, _ = tiers[j].popitem(last=False)
                    demotions[j] += 1
                    if j + 1 < n_tiers:
                        tiers[j + 1][v] = None
                        tier_of[v] = j + 1
                        j += 1
                    else:
                        tier_of[v] = -1
                        if use_ttl and group_of[v] >= 0:
                            del gqueues[group_of[v]][v]
                            group_of[v] = -1
                        break
            if use_ttl and tier_of[b] >= 0:
                g = groups[pos]
                old = group_of[b]
                if old >= 0:
                    del gqueues[old][b]
                ttl = ttl_list[g]
                if ttl <= 0:
                    # expires at once: free the slot now (a TTL of 0 allows no reuse)
                    del tiers[tier_of[b]][b]
                    tier_of[b] = -1
                    group_of[b] = -1
                    expirations += 1
                elif ttl < math.inf:
                    gqueues[g][b] = t + ttl
                    group_of[b] = g
                else:
                    group_of[b] = -1
    served[:] = served_list
    tokens_by_tier, recomputed = _tokens_from_served(trace, served, n_tiers)
    return ReplayResult(tier_names=config.tier_names, served_tier=served, tokens_by_tier=tokens_by_tier,
                        recomputed_tokens=recomputed, occupied_block_seconds=np.array(occupied),
                        span_s=float(arrival[-1] - arrival[0]), demotions=np.array(demotions),
                        expirations=expirations)


def _tokens_from_served(trace: Trace, served: np.ndarray, n_tiers: int) -> tuple[np.ndarray, np.ndarray]:
    """Tokens per request and tier, and recomputed tokens, from the serving tier of each block lookup."""
    req = trace.request_of_block()
    tok = trace.block_token_counts()
    hit = served >= 0
    flat = np.bincount(req[hit] * n_tiers + served[hit].astype(np.int64), weights=tok[hit],
                       minlength=trace.n_requests * n_tiers)
    tokens_by_tier = np.rint(flat).astype(np.int64).reshape(trace.n_requests, n_tiers)
    recomputed = trace.input_tokens - tokens_by_tier.sum(axis=1)
    return tokens_by_tier, recomputed


# ---------------------------------------------------------------------------------------------------------
# Stack distances: every LRU capacity in one pass
# ---------------------------------------------------------------------------------------------------------
#: Stack distance of a first access (a cold miss at every capacity).
INFINITE_DISTANCE = np.iinfo(np.int64).max


def stack_distances(trace: Trace, *, at: str = "lookup") -> np.ndarray:
    """LRU stack distance of every block lookup (Mattson et al., IBM Syst. J. 1970, vectorised).

    Parameters
    ----------
    at : {"lookup", "access"}
        ``"lookup"`` (default): the block's depth in the LRU stack when its request is looked up, i.e. the
        number of distinct other blocks accessed between the block's previous access and the start of the
        request; the request's prefix lookup happens before its own accesses, so this decides where the
        block is found (tier k holds depths [C0+…+C(k−1), C0+…+Ck)). ``"access"``: the classic distance at
        the access itself (counting the request's own earlier blocks).

    Returns
    -------
    numpy.ndarray
        int64 per lookup; :data:`INFINITE_DISTANCE` for a first access (a cold miss at every capacity).

    Notes
    -----
    With p the previous access of the block and e the end of the window (the request's start, or the
    access itself), distance = (e − p − 1) − #{q < e : prev(q) > p}: the window's accesses minus its
    repeats. The count is done for all lookups at once on the binary decomposition of [0, e) (a merge-sort
    tree: one sort and one ``searchsorted`` per level), O(n log² n) in NumPy.
    """
    check_choice("at", at, ("lookup", "access"))
    dense, _ = _dense_ids(trace)
    if at == "access":
        end = np.arange(len(dense), dtype=np.int64)
    else:
        end = np.repeat(trace.block_offsets[:-1], trace.blocks_per_request())
    return _window_distinct(dense, end)


def _window_distinct(seq: np.ndarray, end: np.ndarray) -> np.ndarray:
    """For each position t: distinct values in positions (prev(t), end[t]) (prev = previous occurrence of
    seq[t]); INFINITE_DISTANCE where seq[t] has no previous occurrence. Requires prev(t) < end[t] <= t."""
    n = len(seq)
    pos = np.arange(n, dtype=np.int64)
    order = np.lexsort((pos, seq))                 # by value, then time
    prev = np.full(n, -1, dtype=np.int64)
    same = seq[order[1:]] == seq[order[:-1]]
    prev[order[1:][same]] = order[:-1][same]
    dist = np.full(n, INFINITE_DISTANCE, dtype=np.int64)
    query = np.flatnonzero(prev >= 0)
    if len(query) == 0:
        return dist
    e, p = end[query], prev[query]
    count = np.zeros(len(query), dtype=np.int64)
    width = n + 1
    for level in range(max(1, int(n).bit_length())):
        has = (e >> level) & 1 == 1
        if not has.any():
            continue
        block = (e[has] >> level) - 1              # canonical block [block·2^level, (block+1)·2^level) of [0, e)
        keys = np.sort((pos >> level) * width + (prev + 1))
        lo = np.searchsorted(keys, block * width + (p[has] + 1), side="right")
        hi = np.searchsorted(keys, block * width + width, side="left")
        count[has] += hi - lo
    dist[query] = (e - p - 1) - count
    return dist


def prefix_distances(trace: Trace, distances: np.ndarray | None = None) -> np.ndarray:
    """Running maximum of the lookup stack distances within each request: under prefix semantics the
    lookup at position j of a request is served by an LRU hierarchy of C blocks in total iff this value
    is < C (every block up to j must be cached)."""
    d = stack_distances(trace) if distances is None else distances
    counts = trace.blocks_per_request()
    out = d.copy()
    pos_in = trace.position_of_block()
    step = 1
    max_len = int(counts.max()) if len(counts) else 0
    while step < max_len:                          # Hillis-Steele scan, restricted to each request
        idx = np.flatnonzero(pos_in >= step)
        out[idx] = np.maximum(out[idx], out[idx - step])
        step <<= 1
    return out


def lru_hit_ratio_curve(trace: Trace, capacities: Sequence[float], *, tier_split: Sequence[float] | None = None,
                        distances: np.ndarray | None = None) -> pd.DataFrame:
    """Hit ratio under prefix semantics of a single LRU cache for every capacity in ``capacities`` (blocks),
    from one stack-distance pass (no TTL).

    Returns
    -------
    pandas.DataFrame
        ``capacity_blocks, hit_ratio, token_hit_ratio`` (token_hit_ratio: share of prompt tokens reused).
    """
    d = stack_distances(trace) if distances is None else distances
    m = prefix_distances(trace, d)
    tok = trace.block_token_counts()
    caps = np.asarray(capacities, dtype=float)
    if np.any(caps < 0) or np.any(np.isnan(caps)):
        raise ParameterError("capacities", capacities, "capacities >= 0 (blocks)")
    order = np.argsort(m, kind="stable")
    m_sorted = m[order].astype(float)
    m_sorted[m[order] == INFINITE_DISTANCE] = np.inf
    cum_tok = np.concatenate([[0], np.cumsum(tok[order])])
    k = np.searchsorted(m_sorted, caps, side="left")       # lookups with distance < C
    return pd.DataFrame({"capacity_blocks": caps, "hit_ratio": k / max(len(m), 1),
                         "token_hit_ratio": cum_tok[k] / max(int(trace.input_tokens.sum()), 1)})


def ideal_hit_ratio(trace: Trace) -> float:
    """Hit ratio of an infinite cache under prefix semantics: share of block lookups whose whole prefix up
    to and including the block was seen before (an upper bound for every capacity and policy)."""
    m = prefix_distances(trace)
    return float(np.mean(m != INFINITE_DISTANCE)) if len(m) else math.nan


def replay_from_stack(trace: Trace, config: TierConfig, distances: np.ndarray | None = None) -> ReplayResult:
    """The :func:`replay` of an LRU hierarchy without TTL computed from stack distances (fast for sweeps):
    the tiers then hold consecutive slices of one LRU stack, so a lookup in the cached prefix is served by
    the tier whose slice contains its stack depth at lookup (:func:`stack_distances`). Occupancy is
    min(distinct blocks seen, capacity) filled top-down.

    ``distances`` are lookup stack distances (``stack_distances(trace)``), to reuse across configurations."""
    _check_trace(trace, config)
    if config.eviction != "lru" or config.has_ttl():
        raise ParameterError("config", "eviction/TTL", "eviction='lru' and no finite TTL for replay_from_stack")
    d = stack_distances(trace) if distances is None else distances
    m = prefix_distances(trace, d)
    caps = np.array(config.capacities, dtype=float)
    bounds = np.cumsum(caps)
    total = bounds[-1]
    mf = np.where(m == INFINITE_DISTANCE, np.inf, m.astype(float))
    df = np.where(d == INFINITE_DISTANCE, np.inf, d.astype(float))
    hit = mf < total
    served = np.where(hit, np.searchsorted(bounds, df, side="right"), -1).astype(np.int8)
    tokens_by_tier, recomputed = _tokens_from_served(trace, served, len(caps))
    # occupancy: distinct blocks seen before each request, filled top-down
    first = d == INFINITE_DISTANCE
    new_per_req = np.bincount(trace.request_of_block()[first], minlength=trace.n_requests)
    seen_after = np.cumsum(new_per_req)
    lower = np.concatenate([[0.0], bounds[:-1]])
    occ = np.clip(seen_after[:, None] - lower[None, :], 0, caps[None, :])   # resident after request i
    dt = np.diff(trace.arrival_s)
    occupied = (occ[:-1] * dt[:, None]).sum(axis=0) if len(dt) else np.zeros(len(caps))
    demotions = np.full(len(caps), -1)  # not tracked by the stack method
    return ReplayResult(tier_names=config.tier_names, served_tier=served, tokens_by_tier=tokens_by_tier,
                        recomputed_tokens=recomputed, occupied_block_seconds=occupied,
                        span_s=trace.duration_s, demotions=demotions, expirations=0)


# ---------------------------------------------------------------------------------------------------------
# Timing: links and prefill instances
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Timing:
    """Per-request times, s: ``load_s`` (longest tier load), ``prefill_s`` (compute), ``start_s`` (prefill
    start), ``done_s`` (first token), ``ttft_s`` = done − arrival."""

    arrival_s: np.ndarray
    load_s: np.ndarray
    prefill_s: np.ndarray
    ready_s: np.ndarray
    done_s: np.ndarray

    @property
    def ttft_s(self) -> np.ndarray:
        return self.done_s - self.arrival_s


def service_times(trace: Trace, rep: ReplayResult, config: TierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per request: load time from each tier (requests × tiers, s) and prefill time of the recomputed tokens
    after the reused ones (s)."""
    bw = np.array([t.read_bytes_per_s for t in config.tiers])
    load = rep.tokens_by_tier * config.engine.kv_bytes_per_token / bw[None, :]
    cached = rep.tokens_by_tier.sum(axis=1)
    prefill = config.engine.prefill_time_s(rep.recomputed_tokens, cached)
    return load, prefill


def _fifo_multi(arrival: np.ndarray, service: np.ndarray, servers: int) -> np.ndarray:
    """Completion times of a FIFO queue with ``servers`` identical servers, jobs taken in the given order
    (arrival non-decreasing)."""
    done = np.empty(len(arrival))
    if servers == 1:
        free = -math.inf
        a, s = arrival.tolist(), service.tolist()
        out = [0.0] * len(a)
        for i in range(len(a)):
            start = a[i] if a[i] > free else free
            free = start + s[i]
            out[i] = free
        done[:] = out
        return done
    heap = [-math.inf] * servers
    a, s = arrival.tolist(), service.tolist()
    out = [0.0] * len(a)
    for i in range(len(a)):
        free = heap[0]
        start = a[i] if a[i] > free else free
        out[i] = start + s[i]
        heapq.heapreplace(heap, out[i])
    done[:] = out
    return done


def time_requests(trace: Trace, rep: ReplayResult, config: TierConfig, *, timing: str = "recursion") -> Timing:
    """TTFT of every request: parallel loads over each tier's FIFO links, then FIFO prefill on
    ``n_instances`` instances in order of readiness (see the module docstring)."""
    check_choice("timing", timing, TIMING_MODELS)
    load, prefill = service_times(trace, rep, config)
    n = config.engine.n_instances
    if timing == "simpy":
        return _time_requests_simpy(trace.arrival_s, load, prefill, n)
    arrival = trace.arrival_s
    ready = arrival.copy()
    for k in range(load.shape[1]):
        moving = load[:, k] > 0
        if moving.any():
            ready[moving] = np.maximum(ready[moving], _fifo_multi(arrival[moving], load[moving, k], n))
    order = np.lexsort((np.arange(len(ready)), ready))
    done = np.empty(len(ready))
    done[order] = _fifo_multi(ready[order], prefill[order], n)
    return Timing(arrival_s=arrival, load_s=load.max(axis=1) if load.size else np.zeros(len(arrival)),
                  prefill_s=prefill, ready_s=ready, done_s=done)


def _time_requests_simpy(arrival: np.ndarray, load: np.ndarray, prefill: np.ndarray, servers: int) -> Timing:
    import simpy

    env = simpy.Environment()
    links = [simpy.Resource(env, capacity=servers) for _ in range(load.shape[1])]
    gpus = simpy.Resource(env, capacity=servers)
    ready = np.zeros(len(arrival))
    done = np.zeros(len(arrival))

    def transfer(link, seconds):
        with link.request() as req:
            yield req
            yield env.timeout(seconds)

    def request(i):
        yield env.timeout(arrival[i] - env.now) if arrival[i] > env.now else env.timeout(0)
        loads = [env.process(transfer(links[k], load[i, k])) for k in range(load.shape[1]) if load[i, k] > 0]
        if loads:
            yield env.all_of(loads)
        ready[i] = env.now
        with gpus.request() as req:
            yield req
            yield env.timeout(prefill[i])
        done[i] = env.now

    def source():
        for i in range(len(arrival)):
            if arrival[i] > env.now:
                yield env.timeout(arrival[i] - env.now)
            env.process(request(i))

    env.process(source())
    env.run()
    return Timing(arrival_s=arrival, load_s=load.max(axis=1), prefill_s=prefill, ready_s=ready, done_s=done)


# ---------------------------------------------------------------------------------------------------------
# The whole simulation
# ---------------------------------------------------------------------------------------------------------
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


def storage_cost_per_hour(config: TierConfig, rep: ReplayResult | None = None) -> dict:
    """Storage cost of each tier, $/h: GB × $/GB-month ÷ hours per month, on provisioned capacity or (with
    ``cost_basis="occupied"``) on the time-averaged occupied blocks of ``rep``."""
    if config.cost_basis == "occupied":
        if rep is None:
            raise ParameterError("rep", None, "a ReplayResult when cost_basis='occupied'")
        blocks = rep.mean_occupied_blocks()
    else:
        blocks = np.array(config.capacities, dtype=float)
    out = {}
    for t, b in zip(config.tiers, blocks):
        if t.usd_per_gb_month == 0:
            out[t.name] = 0.0
        else:
            out[t.name] = float(b * config.block_bytes / 1e9 * t.usd_per_gb_month / default("hours_per_month"))
    return out


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
        tqdm bar over requests during the replay.
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
        usd_per_million_tokens=cost / (thr_tok * 3600) * 1e6 if thr_tok > 0 else math.inf,
        replay=rep, timing=tm)


@dataclass(frozen=True, eq=False)
class SloThroughput:
    """Result of :func:`throughput_at_slo`.

    Attributes
    ----------
    requests_per_s : float
        Highest offered request rate meeting the target (0 if even the slowest tried rate misses it).
    time_scale : float
        Factor applied to the trace's arrival times at that rate (< 1: compressed).
    p95_ttft_target_s : float
    result : TieringResult or None
        The simulation at that rate.
    """

    requests_per_s: float
    time_scale: float
    p95_ttft_target_s: float
    result: TieringResult | None


def zero_load_ttft_s(trace: Trace, config: TierConfig, rep: ReplayResult | None = None) -> np.ndarray:
    """TTFT of every request with no queueing (slowest tier load + prefill), s: the floor any request rate
    has to live with."""
    rep = replay(trace, config) if rep is None else rep
    load, prefill = service_times(trace, rep, config)
    return (load.max(axis=1) if load.size else 0.0) + prefill


def throughput_at_slo(trace: Trace, config: TierConfig, p95_ttft_target_s: float, *,
                      rel_tol: float | None = None, max_speedup: float | None = None,
                      timing: str = "recursion") -> SloThroughput:
    """The highest request rate that keeps P95 TTFT ≤ ``p95_ttft_target_s`` (the metric an optimiser compares
    across configurations): the trace's arrival times are multiplied by a factor f found by bisection on
    log f; the offered rate is requests / (f × trace duration).

    With a finite TTL the cache replay depends on f and is redone at each step; without, it is done once.
    P95 TTFT is taken as non-increasing in f (more time between arrivals, less queueing), which holds for the
    FIFO network without TTL.

    Parameters
    ----------
    trace, config
        As :func:`simulate`.
    p95_ttft_target_s : float
        Target, s (the case study's 2 s: ``tiering_ttft_slo_s``).
    rel_tol : float, optional
        Relative precision of the rate (default ``tiering_slo_rel_tol``).
    max_speedup : float, optional
        Factors tried lie in [1 / max_speedup, max_speedup] (default ``tiering_slo_max_speedup``).

    Returns
    -------
    SloThroughput
        ``requests_per_s`` = 0 and ``result`` = None when even the zero-load P95 TTFT (no queueing, see
        :func:`zero_load_ttft_s`) or the slowest rate tried misses the target.
    """
    check_positive("p95_ttft_target_s", p95_ttft_target_s)
    tol = default("tiering_slo_rel_tol") if rel_tol is None else check_positive("rel_tol", rel_tol)
    top = default("tiering_slo_max_speedup") if max_speedup is None else check_number(
        "max_speedup", max_speedup, low=1.0)
    if trace.duration_s <= 0:
        raise ParameterError("trace", trace.name, "a trace with arrivals spread over time")
    fixed = None if config.has_ttl() else replay(trace, config)
    if fixed is not None and np.percentile(zero_load_ttft_s(trace, config, fixed), 95) > p95_ttft_target_s:
        return SloThroughput(0.0, math.inf, p95_ttft_target_s, None)

    def run(scale: float) -> TieringResult:
        return simulate(trace.time_scaled(scale), config, timing=timing, replay_result=fixed)

    def rate(scale: float) -> float:
        return trace.n_requests / (scale * trace.duration_s)

    fast, slow = 1.0 / top, top
    r = run(fast)
    if r.ttft_p95_s <= p95_ttft_target_s:
        return SloThroughput(rate(fast), fast, p95_ttft_target_s, r)
    r = run(slow)
    if r.ttft_p95_s > p95_ttft_target_s:
        return SloThroughput(0.0, math.inf, p95_ttft_target_s, None)
    best = r
    while slow / fast > 1.0 + tol:                 # invariant: fast misses the target, slow meets it
        mid = math.sqrt(slow * fast)
        r = run(mid)
        if r.ttft_p95_s <= p95_ttft_target_s:
            slow, best = mid, r
        else:
            fast = mid
    return SloThroughput(rate(slow), slow, p95_ttft_target_s, best)


# ---------------------------------------------------------------------------------------------------------
# Sweeps used by the chapters (and by searches)
# ---------------------------------------------------------------------------------------------------------
def sweep_capacity(trace: Trace, config: TierConfig, tier: str, capacities: Sequence[float], *,
                   distances: np.ndarray | None = None, progress: bool = False) -> pd.DataFrame:
    """:func:`simulate` for each capacity (blocks) of ``tier``, the other tiers as in ``config``; LRU without
    TTL uses one stack-distance pass for all points. One row per capacity (:meth:`TieringResult.as_row`)
    plus ``capacity_gb`` of the swept tier and ``ttft_mean_s``."""
    fast = config.eviction == "lru" and not config.has_ttl()
    d = (stack_distances(trace) if distances is None else distances) if fast else None
    rows = []
    caps = list(capacities)
    iterator = caps
    if progress:
        from tqdm.auto import tqdm
        iterator = tqdm(caps, desc=f"sweep {tier}", unit="config")
    for c in iterator:
        cfg = config.with_capacities(**{tier: c})
        rep = replay_from_stack(trace, cfg, d) if fast else replay(trace, cfg)
        res = simulate(trace, cfg, replay_result=rep)
        row = res.as_row()
        row["tier"] = tier
        row["capacity_gb"] = float(c) * cfg.block_bytes / 1e9
        row["ttft_mean_s"] = res.ttft_mean_s
        rows.append(row)
    return pd.DataFrame(rows)


def knee(capacity: Sequence[float], value: Sequence[float], *, share: float | None = None) -> float:
    """Capacity of diminishing returns: the smallest capacity that achieves ``share`` (default
    ``tiering_knee_share``) of the whole gain value(max capacity) − value(min capacity) of a non-decreasing
    curve (NaN if the curve gains nothing)."""
    q = default("tiering_knee_share") if share is None else check_fraction("share", share, allow_zero=False)
    c = np.asarray(capacity, dtype=float)
    v = np.asarray(value, dtype=float)
    order = np.argsort(c)
    c, v = c[order], v[order]
    gain = v[-1] - v[0]
    if not gain > 0:
        return math.nan
    return float(c[np.argmax(v - v[0] >= q * gain)])


def ttl_table(trace: Trace, config: TierConfig, settings: Mapping[str, tuple]) -> pd.DataFrame:
    """Replay ``trace`` under several TTL settings and compare them (cost charged on occupied GB-hours).

    Parameters
    ----------
    settings : mapping
        Label → (default TTL s, {group: TTL s}) as accepted by :meth:`TierConfig.with_ttl`.

    Returns
    -------
    pandas.DataFrame
        ``setting, hit_ratio, hit_ratio_<tier>..., mean_occupied_gb, storage_usd_per_hour,
        recomputed_tokens, ttft_p95_s, usd_per_million_tokens, cost_usd_per_hour, expirations``.
    """
    rows = []
    for label, (default_ttl, by_group) in settings.items():
        cfg = replace(config.with_ttl(default_ttl, by_group or {}), cost_basis="occupied")
        res = simulate(trace, cfg)
        row = {"setting": label, "hit_ratio": res.hit_ratio}
        row.update({f"hit_ratio_{k}": v for k, v in res.hit_ratio_by_tier.items()})
        row.update({
            "mean_occupied_gb": float(res.replay.mean_occupied_blocks().sum() * cfg.block_bytes / 1e9),
            "storage_usd_per_hour": sum(res.storage_usd_per_hour.values()),
            "recomputed_tokens": res.recomputed_tokens, "ttft_p95_s": res.ttft_p95_s,
            "cost_usd_per_hour": res.cost_usd_per_hour, "usd_per_million_tokens": res.usd_per_million_tokens,
            "expirations": res.replay.expirations})
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# Command line: replay any Mooncake-format trace
# ---------------------------------------------------------------------------------------------------------
def _parse_tiers(spec: str) -> list[tuple[str, float]]:
    out = []
    for part in spec.split(","):
        if "=" not in part:
            raise ParameterError("--tiers", spec, "NAME=BLOCKS pairs separated by commas, e.g. hbm=100,dram=1000")
        name, value = part.split("=", 1)
        v = math.inf if value.strip().lower() in ("inf", "infinite") else float(value)
        out.append((name.strip(), v if v == math.inf else int(v)))
    return out


def cli_config(capacity_blocks: float | None, tiers: str | None, ttl: float | None,
               block_tokens: int) -> TierConfig:
    """The configuration the command line builds: :func:`default_config`'s engine and tier bandwidths and
    prices, with the tier capacities given (a tier named other than hbm/dram/ssd takes DRAM's figures)."""
    if tiers:
        pairs = _parse_tiers(tiers)
    elif capacity_blocks is not None:
        pairs = [("hbm", capacity_blocks)]
    else:
        raise ParameterError("--capacity-blocks", None, "given (or --tiers)")
    base = default_config(block_tokens=block_tokens)
    by_name = {t.name: t for t in base.tiers}
    tier_objs = tuple(replace(by_name.get(name, by_name["dram"]), name=name, capacity_blocks=cap)
                      for name, cap in pairs)
    return replace(base, tiers=tier_objs, default_ttl_s=math.inf if ttl is None else ttl)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model.tiering replay TRACE.jsonl --capacity-blocks N [--tiers hbm=N1,dram=N2,ssd=N3]
    [--ttl SECONDS] [--json]``."""
    from model.workload import TraceFormatError, load_mooncake_trace

    parser = argparse.ArgumentParser(prog="python -m model.tiering",
                                     description="Replay a Mooncake-format trace through a KV-cache hierarchy.")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay a trace and print hit ratios (and timing)")
    rp.add_argument("trace", help="Mooncake-format JSONL (timestamp ms, input_length, output_length, hash_ids)")
    rp.add_argument("--capacity-blocks", type=float, default=None, help="one tier (hbm) of N blocks")
    rp.add_argument("--tiers", default=None, help="NAME=BLOCKS,... top tier first, e.g. hbm=100,dram=1000,ssd=10000")
    rp.add_argument("--ttl", type=float, default=None, help="TTL of every block, seconds (default: none)")
    rp.add_argument("--block-tokens", type=int, default=None, help="tokens per hash block (default 512)")
    rp.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    try:
        bt = int(default("mooncake_block_tokens")) if args.block_tokens is None else args.block_tokens
        trace = load_mooncake_trace(args.trace, block_tokens=bt)
        cap = args.capacity_blocks
        if cap is not None and cap != math.inf:
            if cap < 0 or not float(cap).is_integer():
                raise ParameterError("--capacity-blocks", cap, "an integer >= 0")
            cap = int(cap)
        config = cli_config(cap, args.tiers, args.ttl, bt)
        result = simulate(trace, config)
    except (ParameterError, TraceFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {
        "trace": args.trace, "requests": result.requests, "blocks": result.blocks,
        "hit_ratio": result.hit_ratio,
        "hit_ratio_by_tier": result.hit_ratio_by_tier,
        "tiers": {t.name: (None if t.capacity_blocks == math.inf else int(t.capacity_blocks))
                  for t in config.tiers},
        "ttl_s": args.ttl,
        "tokens_by_tier": result.tokens_by_tier, "recomputed_tokens": result.recomputed_tokens,
        "input_tokens": result.input_tokens,
        "ttft_p50_s": result.ttft_p50_s, "ttft_p95_s": result.ttft_p95_s,
        "throughput_requests_per_s": result.throughput_requests_per_s,
        "cost_usd_per_hour": result.cost_usd_per_hour, "usd_per_million_tokens": result.usd_per_million_tokens,
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
