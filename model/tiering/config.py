"""The configuration of a KV-cache hierarchy: its tiers (capacity, bandwidth, price), the prefill pool, the
eviction policy, the TTL per group and the cost basis; and the default HBM → DRAM → SSD hierarchy of a model
on a GPU (``data/models``, ``data/hardware.csv``, ``data/prices``, ``data/parameters/tiering.csv``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from model.parameters import default
from model.tiering.engine import PrefillEngine
from model.checks import ParameterError, check_choice, check_int, check_nonnegative, check_positive

#: Eviction policies: ``lru`` (promotion to the top tier on every access) and ``fifo`` (a hit stays where
#: it is and keeps its age; only recomputed blocks enter the top tier).
EVICTION_POLICIES = ("lru", "fifo")
#: How storage is charged: on provisioned capacity, or on occupied GB-hours (time-average occupancy).
COST_BASES = ("provisioned", "occupied")
#: Timing models: the exact FIFO recursion (fast) or the same network in simpy.
TIMING_MODELS = ("recursion", "simpy")


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
                  links_per_tier: int = 1, ssd_drives: int | None = None) -> tuple:
    """HBM → host DRAM → NVMe SSD with the bandwidths and prices of ``data/hardware.csv``.

    HBM is read at ``hbm_read_bytes_per_s`` (the GPU's memory bandwidth) and priced 0 here, since its price
    is the GPU's (charged through the engine). Write bandwidths equal read ones (reported only). The
    bandwidths are per link; ``links_per_tier`` multiplies them (e.g. one PCIe link per GPU); the SSD's
    by ``ssd_drives`` drives read in parallel (default: one per link)."""
    from model.hardware import load_tier

    dram, ssd = load_tier(dram_tier), load_tier(ssd_tier)
    k = check_int("links_per_tier", links_per_tier, low=1)
    d = k if ssd_drives is None else check_int("ssd_drives", ssd_drives, low=1)
    return (
        Tier("hbm", hbm_blocks, hbm_read_bytes_per_s, hbm_read_bytes_per_s, 0.0),
        Tier("dram", dram_blocks, k * dram.bandwidth_bytes_per_s, k * dram.bandwidth_bytes_per_s,
             dram.usd_per_gb_month),
        Tier("ssd", ssd_blocks, d * ssd.bandwidth_bytes_per_s, d * ssd.bandwidth_bytes_per_s, ssd.usd_per_gb_month),
    )


def default_config(*, model: str = "llama-2-70b", gpu: str = "a100-80gb", gpus_per_instance: int | None = None,
                   n_instances: int = 1, hbm_blocks: float | None = None, dram_gb: float | None = None,
                   ssd_gb: float | None = None, block_tokens: int | None = None,
                   gpu_usd_per_hour: float | None = None, dram_tier: str = "host-dram",
                   ssd_tier: str = "nvme-ssd", ssd_drives: int | None = None, **kwargs) -> TierConfig:
    """A 3-tier configuration of ``model`` on ``gpu`` (the case study's Llama 2 70B on A100 80GB; Mooncake's
    experiments use a LLaMA2-70B-shaped model too).

    HBM capacity defaults to the KV budget of the pool (usable memory − weights per instance); DRAM and SSD
    to ``tiering_dram_gb_per_instance`` and ``tiering_ssd_gb_per_instance`` per instance. Each instance
    brings one PCIe link to DRAM and one SSD per GPU. The GPU-hour price is ``gpu``'s in ``data/prices``
    (:func:`model.economics.prices.gpu_price`: its AWS on-demand row) unless ``gpu_usd_per_hour`` is given.
    ``dram_tier``/``ssd_tier`` name the rows of ``data/hardware.csv`` (e.g. ``host-dram-pcie5`` behind an
    H100), ``ssd_drives`` the drives read in parallel per instance. Other keywords go to :class:`TierConfig`.
    """
    engine = PrefillEngine.from_names(model, gpu, gpus_per_instance=gpus_per_instance, n_instances=n_instances,
                                      gpu_usd_per_hour=gpu_usd_per_hour)
    from model.serving.step_time import deployment
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
                          links_per_tier=engine.gpus_per_instance, dram_tier=dram_tier, ssd_tier=ssd_tier,
                          ssd_drives=ssd_drives)
    return TierConfig(tiers=tiers, engine=engine, block_tokens=bt, **kwargs)


def blocks_for_gb(gb: float, config: TierConfig) -> int:
    """Whole KV blocks of ``config`` that fit in ``gb`` GB (1e9 bytes)."""
    check_nonnegative("gb", gb)
    return int(gb * 1e9 // config.block_bytes)
