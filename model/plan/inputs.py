"""The inputs of a plan: the service (sessions, turn shape, SLOs), the model, the GPU and the prices, each with a
unit and a cited default (``data/parameters``; the case study's service unless the caller says otherwise).

Units: sessions, turns, minutes, tokens, seconds, USD, watts, grams of CO2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from model.checks import ParameterError, check_choice, check_fraction, check_int, check_nonnegative, check_positive
from model.parameters import default
from model.quantization.weights import DTYPES

#: The case study's model and GPU (case study §2: Llama 2 70B on AWS A100; the fleet and economics chapters'
#: ``model`` and ``gpu``).
DEFAULT_MODEL = "llama-2-70b"
DEFAULT_GPU = "a100-80gb"
#: The API the plan is priced against (the economics chapter's ``api_model``; case study §2: GPT-3.5 Turbo).
DEFAULT_API_MODEL = "gpt-3.5-turbo-0125"
DEFAULT_API_PROVIDER = "openai"


def _d(name: str, cast=float):
    return field(default_factory=lambda: cast(default(name)))


@dataclass(frozen=True)
class PlanInputs:
    """What a plan is asked for.

    Attributes
    ----------
    sessions : float
        Concurrent sessions in progress (case study T1: 1M).
    turns_per_session, session_minutes : float
        Mean turns of a session and its length, minutes (case study §1: 200 turns in 30 minutes).
    prompt_tokens, reply_tokens : int
        Tokens of one turn's prompt as the model receives it, and of its reply (case study §8: 2K and 100).
    model, config : str or None
        A model of ``data/models`` by name, or the path of a Hugging Face ``config.json`` (then ``model`` is
        ignored).
    gpu : str
        A GPU of ``data/hardware.csv``.
    weight_dtype, kv_dtype : str
        Number formats of weights and KV cache.
    ttft_p95_s, tpot_p95_s : float
        Targets of the latency quantile (``latency_quantile``) of time to first token, s, and time per output
        token, s/token.
    gpu_usd_per_hour : float or None
        A GPU-hour price of one's own; None: the GPU's ``gpu_provider``/``gpu_pricing`` row of
        ``data/prices/gpu_prices.csv``.
    max_batch, chunk_tokens : int
        Most sequences in a step (vLLM ``--max-num-seqs``; per attention group of an expert-parallel replica) and
        tokens per step of chunked prefill.
    node_gpus : int
        GPUs per node (one NVLink domain).
    max_nodes_per_replica : int
        Most whole nodes an expert-parallel prefill or decode replica of an MoE model spans; 0: tensor-parallel
        replicas inside a node only.
    cache_hit_share : float
        Share of the ideal prefix hit ratio the cache of a node is sized for.
    cache : bool
        False: plan without a prefix cache (every prompt prefilled whole, no DRAM or SSD).
    disaggregation : str
        ``"auto"`` (the cheaper of the two at the SLO), ``"aggregated"`` or ``"disaggregated"``.
    grid_g_co2_per_kwh : float
        Grid carbon intensity.
    shared_persona_tokens, character_persona_tokens, characters, zipf_exponent
        The shared prefix of the generated trace the cache is sized on: a persona every prompt shares, one per
        character, the number of characters and the Zipf exponent of their popularity (case study §1, §7).
    dram_usd_per_gb_month, ssd_usd_per_gb_month : float or None
        Prices of the cache's DRAM and SSD; None: ``data/hardware.csv`` (host-dram, nvme-ssd).
    requests_per_s : float or None
        A request (turn) rate instead of the sessions' (then the sessions in progress follow by Little's law).
    node_other_w_per_gpu : float
        Power of a node's parts other than the GPUs, per GPU, W.
    chunked_service_cv2, prefill_service_cv2 : float
        Squared coefficient of variation of prompt service in the waiting-time tail of an aggregated
        (chunked-prefill) replica's queue and of a prefill replica's.
    e2e_p95_s : float or None
        A target of the latency quantile of the whole reply (first token + the rest), s, instead of
        ``ttft_p95_s`` and ``tpot_p95_s``: the plan splits it between the two (:func:`model.plan.serving.e2e_splits`)
        and keeps the cheapest split.
    peak_to_mean : float
        Demand the pools are sized for, as a multiple of the sessions' mean (>= 1).
    spare_fraction : float
        Hot spares per region, as a share of its serving GPUs (>= 0).
    regions : int
        Regions the fleet is split over.
    region_shares : tuple of float or None
        Share of the demand each region serves (sums to 1; one per region); None: equal shares.
    """

    sessions: float = _d("case_study_sessions_target")
    turns_per_session: float = _d("chat_turns_per_session")
    session_minutes: float = _d("chat_session_minutes")
    prompt_tokens: int = _d("plan_prompt_tokens", int)
    reply_tokens: int = _d("plan_reply_tokens", int)
    model: str = DEFAULT_MODEL
    config: str | None = None
    gpu: str = DEFAULT_GPU
    weight_dtype: str = "fp16"
    kv_dtype: str = "fp16"
    ttft_p95_s: float = _d("plan_ttft_p95_s")
    tpot_p95_s: float = _d("plan_tpot_p95_s")
    latency_quantile: float = _d("plan_latency_quantile")
    gpu_provider: str = "aws"
    gpu_pricing: str = "on-demand"
    gpu_usd_per_hour: float | None = None
    api_model: str = DEFAULT_API_MODEL
    max_batch: int = _d("batching_max_num_seqs", int)
    chunk_tokens: int = _d("batching_chunk_tokens", int)
    node_gpus: int = _d("plan_node_gpus", int)
    max_nodes_per_replica: int = _d("plan_max_nodes_per_replica", int)
    cache_hit_share: float = _d("plan_cache_hit_share")
    cache: bool = True
    disaggregation: str = "auto"
    grid_g_co2_per_kwh: float = _d("plan_grid_g_co2_per_kwh")
    node_other_w_per_gpu: float = _d("plan_node_other_w_per_gpu")
    shared_persona_tokens: int = _d("chat_shared_persona_tokens", int)
    character_persona_tokens: int = _d("chat_character_persona_tokens", int)
    characters: int = _d("chat_characters", int)
    zipf_exponent: float = _d("chat_zipf_exponent")
    dram_usd_per_gb_month: float | None = None
    ssd_usd_per_gb_month: float | None = None
    requests_per_s: float | None = None
    chunked_service_cv2: float = _d("plan_service_cv2")
    prefill_service_cv2: float = _d("plan_prefill_service_cv2")
    e2e_p95_s: float | None = None
    peak_to_mean: float = _d("plan_peak_to_mean")
    spare_fraction: float = _d("plan_spare_fraction")
    regions: int = _d("plan_regions", int)
    region_shares: tuple | None = None

    def __post_init__(self):
        check_positive("sessions", self.sessions)
        check_positive("turns_per_session", self.turns_per_session)
        check_positive("session_minutes", self.session_minutes)
        check_int("prompt_tokens", self.prompt_tokens, low=1)
        check_int("reply_tokens", self.reply_tokens, low=1)
        check_choice("weight_dtype", self.weight_dtype, DTYPES)
        check_choice("kv_dtype", self.kv_dtype, DTYPES)
        check_positive("ttft_p95_s", self.ttft_p95_s)
        check_positive("tpot_p95_s", self.tpot_p95_s)
        check_fraction("latency_quantile", self.latency_quantile, allow_zero=False, allow_one=False)
        if self.gpu_usd_per_hour is not None:
            check_positive("gpu_usd_per_hour", self.gpu_usd_per_hour)
        check_int("max_batch", self.max_batch, low=1)
        check_int("chunk_tokens", self.chunk_tokens, low=2)
        check_int("node_gpus", self.node_gpus, low=1)
        check_int("max_nodes_per_replica", self.max_nodes_per_replica, low=0)
        check_fraction("cache_hit_share", self.cache_hit_share, allow_zero=False)
        check_choice("disaggregation", self.disaggregation, ("auto", "aggregated", "disaggregated"))
        check_nonnegative("grid_g_co2_per_kwh", self.grid_g_co2_per_kwh)
        check_nonnegative("node_other_w_per_gpu", self.node_other_w_per_gpu)
        check_int("shared_persona_tokens", self.shared_persona_tokens, low=0)
        check_int("character_persona_tokens", self.character_persona_tokens, low=0)
        check_int("characters", self.characters, low=1)
        check_nonnegative("zipf_exponent", self.zipf_exponent)
        for name in ("dram_usd_per_gb_month", "ssd_usd_per_gb_month"):
            if getattr(self, name) is not None:
                check_nonnegative(name, getattr(self, name))
        if self.requests_per_s is not None:
            check_positive("requests_per_s", self.requests_per_s)
        check_nonnegative("chunked_service_cv2", self.chunked_service_cv2)
        check_nonnegative("prefill_service_cv2", self.prefill_service_cv2)
        if self.e2e_p95_s is not None:
            check_positive("e2e_p95_s", self.e2e_p95_s)
        from model.plan.fleet import FleetShape, region_shares_from

        check_int("regions", self.regions, low=1)
        if self.region_shares is not None:
            if isinstance(self.region_shares, (str, bytes)) or not hasattr(self.region_shares, "__len__"):
                raise ParameterError("region_shares", self.region_shares, "a list of shares summing to 1")
            object.__setattr__(self, "region_shares", tuple(self.region_shares))
        FleetShape(self.peak_to_mean, self.spare_fraction, region_shares_from(self.regions, self.region_shares))
        if self.chunk_tokens <= self.max_batch:
            raise ParameterError("chunk_tokens", self.chunk_tokens,
                                 f"> max_batch ({self.max_batch}): a step must hold a full decode batch and a "
                                 f"prefill chunk")

    @property
    def demand_requests_per_s(self) -> float:
        """``requests_per_s`` if set, else the turns per second of the sessions (Little's law,
        :func:`model.economics.fleet_sizing.turn_rate_per_s`)."""
        from model.economics.fleet_sizing import turn_rate_per_s

        if self.requests_per_s is not None:
            return self.requests_per_s
        return turn_rate_per_s(self.sessions, turns_per_session=self.turns_per_session,
                               session_minutes=self.session_minutes)

    @property
    def sessions_in_progress(self) -> float:
        """``sessions``, or with ``requests_per_s`` set the sessions that make that rate (Little's law)."""
        if self.requests_per_s is None:
            return self.sessions
        return self.requests_per_s * self.session_minutes * 60.0 / self.turns_per_session

    @property
    def shared_prefix(self):
        """The trace's shared prefix (:class:`model.plan.cache.SharedPrefix`)."""
        from model.plan.cache import SharedPrefix

        return SharedPrefix(self.shared_persona_tokens, self.character_persona_tokens, self.characters,
                            self.zipf_exponent)

    @property
    def fleet_shape(self):
        """The peak, spares and regions (:class:`model.plan.fleet.FleetShape`)."""
        from model.plan.fleet import FleetShape, region_shares_from

        return FleetShape(self.peak_to_mean, self.spare_fraction, region_shares_from(self.regions, self.region_shares))

    def architecture(self):
        """The model's :class:`~model.architectures.Architecture` (by name, or read from ``config``)."""
        from model.architectures import load_architecture, load_config

        return load_config(self.config) if self.config else load_architecture(self.model)
