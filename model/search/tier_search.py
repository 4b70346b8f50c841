"""Kareto's method (arXiv 2603.08739) on our traces: the evaluation function the configuration search
calls and the baseline "HBM + a fixed amount of DRAM". (The audit of the Kareto summary's figures is
:mod:`model.audit.kareto_paper`.)

The evaluation function (:class:`TierEvaluator`) replays a trace through an exclusive HBM → DRAM → SSD
LRU hierarchy (demotion of evicted blocks to the next tier, promotion on hit). Such a hierarchy keeps all
its blocks in one global LRU order, so a lookup whose LRU stack distance is d (distinct blocks touched
between the block's previous access and the start of its request, :func:`model.tiering.stack_distances`)
is served from HBM if d < C_hbm, from DRAM if d < C_hbm + C_dram, from SSD if d < C_hbm + C_dram + C_ssd,
and is recomputed otherwise. One pass over
the trace computes every lookup's stack distance; each configuration is then a few vectorised NumPy
operations. A request reuses the longest cached prefix of its blocks (stop at the first miss).

Timing: the one model of :mod:`model.tiering` (:func:`model.tiering.request_service_s`,
:func:`model.tiering.network_done_s`), on the tiers of :func:`model.tiering.default_config` for the same
model, GPU, DRAM row and SSD drives (:meth:`ServingSetup.tier_config`): a request loads its cached prefix
from each tier over that tier's FIFO link (bytes ÷ bandwidth), then waits for the prefill replica (FIFO in
order of readiness) that computes the rest (the roofline step time of :class:`model.tiering.PrefillEngine`);
each queue is the Lindley recursion, vectorised as a running maximum, so TTFT includes queueing. Throughput at the SLO is the highest request rate (the trace's arrival times compressed) whose
P95 TTFT stays under the target, found by bisection (P95 TTFT grows with the rate; :mod:`model.rate_search`).

Cost: GPUs by the hour (by default the chosen GPU's price row of ``data/prices/gpu_prices.csv``), DRAM
and SSD capacity as provisioned ($/GB-hour from ``data/hardware.csv``), and the HBM given to the prefix
cache at its opportunity cost (the GPU's price per GB of HBM). Every capacity is in decimal GB (10⁹ bytes),
HBM included: its size is ``memory_bytes`` of ``data/hardware.csv`` (nvidia-smi's total), not the marketed
"80 GB" of ``memory_gb`` (on an H100, 85.5 × 10⁹ bytes, about 80 GiB).

Infeasible configurations: a configuration whose P95 TTFT exceeds the SLO even on an idle replica serves
nothing within the SLO; it has throughput 0, an infinite cost per token and ``feasible`` False, and the
search's Pareto tools (:mod:`model.search.pareto`) leave it out.

The fingerprint of an evaluator (the key of its sweep results file) hashes every array and number its
evaluation reads (the trace's stack distances, tokens and arrival times; prefill coefficients,
bandwidths, prices, SLO and the precision of its search, reference load) and the source of this module and of
the timing, engine and rate-search modules it calls: whatever changes a result — a data
file, a parameter, a default, an upstream model function — changes one of those inputs or this code, hence
the key.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from model.architectures import load_architecture
from model.hardware import load_gpu, load_tier
from model.kv import kv_bytes_per_token
from model.parameters import default
from model.search.pareto import Axis, Objective, SearchSpace
from model.economics.prices import GpuPrice, gpu_price
from model.quantization.weights import usable_bytes_per_gpu, weight_bytes
from model.rate_search import bisect_boundary
from model.checks import ParameterError, check_int, check_nonnegative, check_positive

GB = 1e9
#: Objectives of the chapter's search: cost per 1M prompt tokens, throughput at the SLO, P95 TTFT.
OBJECTIVES = (
    Objective("usd_per_million_tokens", "min"),
    Objective("throughput_at_slo_rps", "max"),
    Objective("ttft_p95_s", "min"),
)


@dataclass(frozen=True)
class ServingSetup:
    """The prefill deployment and prices a configuration is evaluated on.

    Attributes
    ----------
    model : str
        Architecture name (``data/models/``).
    gpu : str
        GPU name (``data/hardware.csv``).
    n_gpus : int
        GPUs of the prefill replica (tensor parallel).
    price : GpuPrice or None
        Price of one GPU-hour of ``gpu`` (:func:`model.economics.prices.gpu_price`: a price row or one set by the
        user); ``None``: the GPU's AWS on-demand row of ``data/prices/gpu_prices.csv`` (the p5/p4de instances
        whose 8-GPU shape the replica follows). Its USD per GPU-hour is :attr:`gpu_usd_per_hour`.
    dram_tier, ssd_tier : str
        Tier rows of ``data/hardware.csv``.
    ssd_drives : int
        NVMe drives read in parallel (aggregate SSD bandwidth = drives × one drive's).
    slo_ttft_p95_s : float
        P95 TTFT target, s.
    kv_dtype : str
    """

    model: str = "llama-3.1-70b"
    gpu: str = "h100-80gb"
    n_gpus: int = field(default_factory=lambda: int(default("kareto_prefill_gpus")))
    price: GpuPrice | None = None
    dram_tier: str = "host-dram-pcie5"
    ssd_tier: str = "nvme-ssd"
    ssd_drives: int = field(default_factory=lambda: int(default("kareto_ssd_drives")))
    slo_ttft_p95_s: float = field(default_factory=lambda: default("kareto_slo_ttft_p95_s"))
    kv_dtype: str = "fp16"

    def __post_init__(self):
        check_int("n_gpus", self.n_gpus, low=1)
        if self.price is None:
            object.__setattr__(self, "price", gpu_price(self.gpu, names={"provider": None, "pricing": None,
                                                                         "usd_per_gpu_hour": "price"}))
        elif self.price.gpu != self.gpu:
            raise ParameterError("price", self.price.label, f"a price of {self.gpu}")
        check_int("ssd_drives", self.ssd_drives, low=1)
        check_positive("slo_ttft_p95_s", self.slo_ttft_p95_s)

    # --- derived ------------------------------------------------------------------------------------
    @property
    def gpu_usd_per_hour(self) -> float:
        """USD per GPU-hour of :attr:`price`."""
        return self.price.usd_per_gpu_hour

    def kv_bytes_per_token(self) -> float:
        return kv_bytes_per_token(load_architecture(self.model), self.kv_dtype)

    def free_hbm_gb(self) -> float:
        """HBM left for KV cache on the replica after the weights, GB."""
        arch, gpu = load_architecture(self.model), load_gpu(self.gpu)
        return (self.n_gpus * usable_bytes_per_gpu(gpu) - weight_bytes(arch)) / GB

    def hbm_usd_per_gb_hour(self) -> float:
        """Opportunity cost of one GB (10⁹ bytes) of HBM: the GPU's hourly price ÷ its HBM in GB, the same
        ``memory_bytes`` (``data/hardware.csv``, nvidia-smi's total) that :meth:`free_hbm_gb` counts."""
        return self.gpu_usd_per_hour / (load_gpu(self.gpu).memory_bytes / GB)

    def tier_usd_per_gb_hour(self, tier: str) -> float:
        return load_tier(tier).usd_per_gb_month / default("hours_per_month")

    def tier_config(self, **options):
        """The :class:`model.tiering.TierConfig` this setup is timed with: one replica of ``n_gpus`` × ``gpu``
        at ``gpu_usd_per_hour``, tiers HBM → ``dram_tier`` → ``ssd_tier`` (``ssd_drives`` drives), capacities
        set per configuration (:meth:`TierEvaluator.served_tokens`)."""
        from model import tiering
        return tiering.default_config(model=self.model, gpu=self.gpu, gpus_per_instance=self.n_gpus,
                                      gpu_usd_per_hour=self.gpu_usd_per_hour, dram_tier=self.dram_tier,
                                      ssd_tier=self.ssd_tier, ssd_drives=self.ssd_drives, **options)

    def prefill_coefficients(self) -> tuple[float, float]:
        """(seconds per new token, seconds per (new token, context token) pair) of prefill on the replica:
        the compute terms of :mod:`model.serving.step_time`'s step-time model (its cited MFU), reduced to scalars by
        :class:`model.tiering.PrefillEngine`."""
        from model.tiering import PrefillEngine

        engine = PrefillEngine.from_names(self.model, self.gpu, gpus_per_instance=self.n_gpus)
        return engine.s_token, engine.s_pair


@dataclass(frozen=True, eq=False)
class TierEvaluator:
    """Evaluation function of a tier configuration on one trace (picklable; see the module docstring).

    Build it with :func:`build_evaluator`. Calling it with ``{"hbm_gb", "dram_gb", "ssd_gb"}`` returns the
    objectives (:data:`OBJECTIVES`) plus ``feasible`` (the P95-TTFT SLO can be met at some request rate),
    ``cost_usd_per_hour``, ``hit_ratio`` and the per-tier hit ratios. ``reference_rps`` is the request
    rate at which every configuration's P95 TTFT is measured.
    """

    trace_name: str
    distances: np.ndarray        # per lookup
    tokens: np.ndarray           # per lookup
    offsets: np.ndarray          # CSR per request
    arrival_s: np.ndarray
    input_tokens: np.ndarray
    output_tokens: np.ndarray
    block_bytes_per_token: float
    block_tokens: int
    tier_config: object          # model.tiering.TierConfig: engine and link bandwidths of the timing
    fixed_usd_per_hour: float
    hbm_usd_per_gb_hour: float
    dram_usd_per_gb_hour: float
    ssd_usd_per_gb_hour: float
    slo_s: float
    slo_rel_tol: float           # stopping rule of the search for the throughput at the SLO
    reference_scale: float
    reference_rps: float
    fingerprint: str

    # --- pieces -------------------------------------------------------------------------------------
    def blocks(self, gb: float) -> float:
        """Whole blocks that fit in ``gb`` GB."""
        return math.floor(gb * GB / (self.block_bytes_per_token * self.block_tokens))

    def served_tokens(self, hbm_gb: float, dram_gb: float, ssd_gb: float) -> np.ndarray:
        """Tokens of each request served from HBM, DRAM and SSD (array (requests, 3)) under prefix
        semantics."""
        edges = np.cumsum([self.blocks(hbm_gb), self.blocks(dram_gb), self.blocks(ssd_gb)])
        tier = np.searchsorted(edges, self.distances, side="right")       # 0, 1, 2 hit; 3 miss
        miss = tier >= 3
        starts = self.offsets[:-1]
        cum_miss = np.cumsum(miss)
        before = np.concatenate([[0], cum_miss])[starts]
        served = (cum_miss - np.repeat(before, np.diff(self.offsets))) == 0
        out = np.zeros((len(self.arrival_s), 3))
        req = np.repeat(np.arange(len(self.arrival_s)), np.diff(self.offsets))
        for t in range(3):
            sel = served & (tier == t)
            out[:, t] = np.bincount(req[sel], weights=self.tokens[sel], minlength=len(self.arrival_s))
        return out

    def service_times(self, served: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(load s per request × tier, prefill s per request): :func:`model.tiering.request_service_s`, the
        service model :func:`model.tiering.simulate` uses."""
        from model.tiering import request_service_s
        return request_service_s(served, np.maximum(self.input_tokens - served.sum(axis=1), 0), self.tier_config)

    def ttft_s(self, service: tuple, scale: float) -> np.ndarray:
        """TTFT of every request with arrival times divided by ``scale``: the queueing network of
        :func:`model.tiering.network_done_s` on one replica."""
        from model.tiering import network_done_s
        load, prefill = service
        arrival = self.arrival_s / scale
        return network_done_s(arrival, load, prefill, 1)[1] - arrival

    def ttft_p95(self, service: tuple, scale: float) -> float:
        """P95 TTFT with arrival times divided by ``scale``, s."""
        return float(np.percentile(self.ttft_s(service, scale), 95))

    def throughput_at_slo(self, service: tuple) -> float:
        """Highest request rate (requests/s) whose P95 TTFT ≤ the SLO; 0 if even an idle replica misses it.

        The factor on the arrival rate is bracketed by doubling from 1 (then halved until it meets the SLO),
        then bisected (:func:`model.rate_search.bisect_boundary`, ``spacing="linear"``) to a relative width of
        :attr:`slo_rel_tol` (``kareto_slo_rel_tol``)."""
        load, prefill = service
        idle = load.max(axis=1) + prefill if load.size else prefill
        if np.percentile(idle, 95) > self.slo_s or self.ttft_p95(service, 1e-6) > self.slo_s:
            return 0.0
        span = float(self.arrival_s[-1] - self.arrival_s[0]) or 1.0
        lo, hi = 0.0, 1.0
        while self.ttft_p95(service, hi) <= self.slo_s:
            lo, hi = hi, hi * 2.0
            if hi > 1e9:
                break
        lo = lo if lo > 0 else hi / 1024.0
        while self.ttft_p95(service, lo) > self.slo_s and lo > 1e-9:
            lo /= 2.0
        lo = bisect_boundary(lambda scale: self.ttft_p95(service, scale) <= self.slo_s, lo, hi,
                             rel_tol=self.slo_rel_tol, spacing="linear")
        return len(self.arrival_s) * lo / span

    def unbounded_hit_ratio(self) -> float:
        """Share of prompt tokens served from cache with unbounded capacity (every block seen before, up to
        the request's first never-seen block): the ceiling of any configuration's ``hit_ratio``."""
        gb = (len(self.distances) + 1) * self.block_bytes_per_token * self.block_tokens / GB
        return float(self.served_tokens(gb, 0.0, 0.0).sum() / self.input_tokens.sum())

    def distinct_kv_gb(self) -> float:
        """GB of KV cache of every distinct block the trace looks up (never-seen lookups, full blocks)."""
        from model.tiering import INFINITE_DISTANCE
        return float((self.distances == INFINITE_DISTANCE).sum() * self.block_tokens
                     * self.block_bytes_per_token / GB)

    def cost_usd_per_hour(self, hbm_gb: float, dram_gb: float, ssd_gb: float) -> float:
        return (self.fixed_usd_per_hour + hbm_gb * self.hbm_usd_per_gb_hour
                + dram_gb * self.dram_usd_per_gb_hour + ssd_gb * self.ssd_usd_per_gb_hour)

    def __call__(self, config: dict) -> dict:
        hbm, dram, ssd = (check_nonnegative(k, config[k]) for k in ("hbm_gb", "dram_gb", "ssd_gb"))
        served = self.served_tokens(hbm, dram, ssd)
        service = self.service_times(served)
        throughput = self.throughput_at_slo(service)
        cost_h = self.cost_usd_per_hour(hbm, dram, ssd)
        from model.tiering import usd_per_million_tokens
        tokens_per_s = throughput * float(self.input_tokens.mean() + self.output_tokens.mean())
        total_in = float(self.input_tokens.sum())
        return {
            "usd_per_million_tokens": usd_per_million_tokens(cost_h, tokens_per_s),
            "throughput_at_slo_rps": throughput,
            "feasible": bool(throughput > 0),
            "ttft_p95_s": self.ttft_p95(service, self.reference_scale),
            "cost_usd_per_hour": cost_h,
            "hit_ratio": float(served.sum() / total_in),
            "hbm_hit_ratio": float(served[:, 0].sum() / total_in),
            "dram_hit_ratio": float(served[:, 1].sum() / total_in),
            "ssd_hit_ratio": float(served[:, 2].sum() / total_in),
        }


def spread_ties(arrival_s: np.ndarray) -> np.ndarray:
    """Arrival times with requests that share a timestamp spread evenly until the next distinct one.

    The Mooncake trace's timestamps are quantised (steps of about 3 s, several requests per step); taken
    literally every step is a burst that queues whatever the request rate. Request k of the m sharing
    timestamp T (next distinct timestamp T') arrives at T + k (T' − T) / m; the last step keeps the mean
    gap of the trace. Order and mean rate are unchanged; continuous timestamps are returned as they are.
    """
    t = np.asarray(arrival_s, dtype=float)
    if len(t) < 2:
        return t.copy()
    values, first, counts = np.unique(t, return_index=True, return_counts=True)
    if len(values) == len(t):
        return t.copy()
    gaps = np.diff(values)
    mean_gap = (values[-1] - values[0]) / max(len(values) - 1, 1)
    step = np.append(gaps, mean_gap if mean_gap > 0 else 1.0)
    k = np.arange(len(t)) - np.repeat(first, counts)
    return np.repeat(values, counts) + k * np.repeat(step / counts, counts)


def build_evaluator(trace, setup: ServingSetup | None = None, *,
                    reference: dict | None = None) -> TierEvaluator:
    """The evaluation function of tier configurations on ``trace`` (a :class:`model.workload.Trace`).

    P95 TTFT (the latency objective) is measured at a fixed reference load: ``kareto_reference_load`` ×
    the throughput at the SLO of the ``reference`` configuration (default: the baseline, see
    :func:`baseline_config`), so that every configuration faces the same request rate. If the reference
    configuration is infeasible (meets the SLO at no rate), the trace's own arrival rate is used.
    """
    setup = setup or ServingSetup()
    order = np.argsort(np.asarray(trace.arrival_s), kind="stable")
    if not np.array_equal(order, np.arange(len(order))):
        raise ParameterError("trace", "arrival times out of order", "requests sorted by arrival time")
    tier_config = setup.tier_config()
    kvb = tier_config.engine.kv_bytes_per_token
    tokens = np.asarray(trace.block_token_counts(), dtype=float)
    from model.tiering import stack_distances

    distances = stack_distances(trace)    # LRU depth of each block when its request is looked up
    evaluator = TierEvaluator(
        trace_name=trace.name, distances=distances, tokens=tokens,
        offsets=np.asarray(trace.block_offsets, dtype=np.int64),
        arrival_s=spread_ties(np.asarray(trace.arrival_s, dtype=float) - float(trace.arrival_s[0])),
        input_tokens=np.asarray(trace.input_tokens, dtype=float),
        output_tokens=np.asarray(trace.output_tokens, dtype=float),
        block_bytes_per_token=kvb, block_tokens=int(trace.block_tokens), tier_config=tier_config,
        fixed_usd_per_hour=setup.n_gpus * setup.gpu_usd_per_hour,
        hbm_usd_per_gb_hour=setup.hbm_usd_per_gb_hour(),
        dram_usd_per_gb_hour=setup.tier_usd_per_gb_hour(setup.dram_tier),
        ssd_usd_per_gb_hour=setup.tier_usd_per_gb_hour(setup.ssd_tier),
        slo_s=setup.slo_ttft_p95_s, slo_rel_tol=default("kareto_slo_rel_tol"), reference_scale=1.0,
        reference_rps=math.nan, fingerprint="")
    ref = reference or baseline_config(setup)
    r = evaluator.throughput_at_slo(evaluator.service_times(evaluator.served_tokens(
        ref["hbm_gb"], ref["dram_gb"], ref["ssd_gb"])))
    span = float(evaluator.arrival_s[-1]) or 1.0
    scale = default("kareto_reference_load") * r * span / len(evaluator.arrival_s) if r > 0 else 1.0
    object.__setattr__(evaluator, "reference_scale", scale)
    object.__setattr__(evaluator, "reference_rps", len(evaluator.arrival_s) * scale / span)
    object.__setattr__(evaluator, "fingerprint", evaluator_fingerprint(evaluator))
    return evaluator


def evaluator_fingerprint(evaluator: TierEvaluator) -> str:
    """16 hex digits of SHA-256 over every field of ``evaluator`` the evaluation reads (arrays by dtype,
    shape and bytes; numbers and names by ``repr``) and over the source of this module and of
    :mod:`model.tiering.timing`, :mod:`model.tiering.engine` and :mod:`model.rate_search` (the evaluation's
    code). Two evaluators with the same fingerprint give the same results."""
    from model import rate_search as _rate_search
    from model.tiering import engine as _engine, timing as _timing
    h = hashlib.sha256(Path(__file__).read_bytes())
    for module in (_timing, _engine, _rate_search):
        h.update(Path(module.__file__).read_bytes())
    for f in fields(evaluator):
        if f.name == "fingerprint":
            continue
        v = getattr(evaluator, f.name)
        h.update(f.name.encode() + b"=")
        if isinstance(v, np.ndarray):
            h.update(f"{v.dtype.str}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr(v).encode())
        h.update(b";")
    return h.hexdigest()[:16]


def baseline_config(setup: ServingSetup | None = None, *, dram_gb: float | None = None) -> dict:
    """The fixed setup the search is compared with: the HBM prefix cache at ``kareto_baseline_hbm_share``
    of the free HBM, ``dram_gb`` of DRAM (default ``kareto_paper_baseline_dram_gb``, the paper's fixed
    setup), no SSD."""
    setup = setup or ServingSetup()
    dram = default("kareto_paper_baseline_dram_gb") if dram_gb is None else check_nonnegative("dram_gb", dram_gb)
    return {"hbm_gb": round(default("kareto_baseline_hbm_share") * setup.free_hbm_gb()),
            "dram_gb": float(dram), "ssd_gb": 0.0}


#: Grid of the chapter (study choice): shares of the free HBM given to the prefix cache, DRAM GB (around the
#: paper's 1024 GB baseline, up to 6 TB) and SSD GB (up to the 8 × 3.84 TB of a p5.48xlarge): 5 × 12 × 9 = 540.
GRID_HBM_SHARES = (0.125, 0.25, 0.5, 0.75, 1.0)
GRID_DRAM_GB = (0, 128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144)
GRID_SSD_GB = (0, 1000, 2000, 4000, 8000, 12000, 16000, 24000, 30000)
#: The smaller grid of the quick profile (3 × 4 × 3 = 36).
QUICK_HBM_SHARES = (0.25, 0.5, 1.0)
QUICK_DRAM_GB = (0, 512, 1024, 4096)
QUICK_SSD_GB = (0, 8000, 30000)
#: The rest of the chapter's quick (test) profile, a study choice to run in seconds: the first requests of
#: the Mooncake trace, the first character-chat sessions, and fewer TTL candidates (s).
QUICK_MOONCAKE_REQUESTS = 3000
QUICK_CHAT_SESSIONS = 20
QUICK_TTL_CANDIDATES_S = (0.0, 60.0, 300.0, 900.0, 1800.0, math.inf)


def quick_grid() -> dict:
    """Keyword arguments of :func:`search_space` for the quick profile's grid."""
    return {"hbm_shares": QUICK_HBM_SHARES, "dram_gb": QUICK_DRAM_GB, "ssd_gb": QUICK_SSD_GB}


def search_space(setup: ServingSetup | None = None, *, hbm_shares: Sequence[float] = GRID_HBM_SHARES,
                 dram_gb: Sequence[float] = GRID_DRAM_GB, ssd_gb: Sequence[float] = GRID_SSD_GB) -> SearchSpace:
    """The grid of tier capacities: HBM cache (shares of the free HBM, rounded to GB), DRAM GB and SSD GB."""
    setup = setup or ServingSetup()
    free = setup.free_hbm_gb()
    shares, dram, ssd = hbm_shares, dram_gb, ssd_gb
    return SearchSpace((Axis("hbm_gb", tuple(float(round(s * free)) for s in shares)),
                        Axis("dram_gb", tuple(float(d) for d in dram)),
                        Axis("ssd_gb", tuple(float(s) for s in ssd))))


# --------------------------------------------------------------------------------------------------------
# TTL per group, verified with model.tiering
# --------------------------------------------------------------------------------------------------------

def ttl_prices(setup: ServingSetup | None = None) -> "TtlPrices":
    """Prices of the TTL trade-off on ``setup``: DRAM $/GB-hour, and the GPU cost of prefilling one token
    (the replica's hourly price × seconds per token of the weights' FLOPs)."""
    from model.ttl import TtlPrices
    setup = setup or ServingSetup()
    per_token, _ = setup.prefill_coefficients()
    return TtlPrices(storage_usd_per_gb_hour=setup.tier_usd_per_gb_hour(setup.dram_tier),
                     recompute_usd_per_token=setup.n_gpus * setup.gpu_usd_per_hour / 3600.0 * per_token,
                     kv_bytes_per_token=setup.kv_bytes_per_token())


def tiering_config(config: dict, setup: ServingSetup | None = None, **options):
    """A :class:`model.tiering.TierConfig` with the capacities (GB) of a search configuration."""
    from model import tiering
    setup = setup or ServingSetup()
    base = setup.tier_config(**options)
    return base.with_capacities(hbm=tiering.blocks_for_gb(config["hbm_gb"], base),
                                dram=tiering.blocks_for_gb(config["dram_gb"], base),
                                ssd=tiering.blocks_for_gb(config["ssd_gb"], base))


def ttl_simulator(trace, tier_config, prices: "TtlPrices"):
    """``simulate(ttl_by_group) -> dict`` for :func:`model.ttl.tune_ttl`: replays ``trace`` through
    ``tier_config`` with those TTLs (:func:`model.tiering.simulate`) and prices its outputs as the analytic
    model does: occupied storage USD/h + recomputed tokens × recompute price per hour of trace."""
    from model import tiering
    hours = max(float(trace.duration_s), 1.0) / 3600.0

    def simulate(ttl_by_group: dict) -> dict:
        result = tiering.simulate(trace, tier_config.with_ttl(by_group=ttl_by_group))
        storage = float(sum(result.storage_usd_per_hour.values()))
        recompute = prices.recompute_usd_per_token * result.recomputed_tokens / hours
        return {"cost_usd_per_hour": storage + recompute, "storage_usd_per_hour": storage,
                "recompute_usd_per_hour": recompute, "hit_ratio": result.hit_ratio}

    return simulate


def ttl_summary(trace, choice) -> dict:
    """Figures the audit quotes from a :class:`model.ttl.TtlChoice`: the best uniform TTL, the saving of
    the chosen policy against it (%), and the share of block reuses more than 1 h apart."""
    from model.ttl import reuse_profile
    table = choice.table.set_index("policy")
    col = "simulated_cost_usd_per_hour" if "simulated_cost_usd_per_hour" in table else "analytic_cost_usd_per_hour"
    uniform = float(table.loc["best uniform TTL", col])
    chosen = float(table.loc[choice.chosen, col])
    intervals = reuse_profile(trace).interval_s
    finite = intervals[np.isfinite(intervals)]
    return {"best_uniform_ttl_s": float(next(iter(choice.policies["best uniform TTL"].values()))),
            "saving_percent": 100.0 * (uniform - chosen) / uniform if uniform > 0 else 0.0,
            "share_reuse_after_1h": float((finite > 3600.0).mean()) if len(finite) else 0.0}
