"""Names of the study's metrics, defined once. Every table column that reports a metric uses one of these
names; the book's glossary page is generated from :data:`GLOSSARY`."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Metric:
    """A metric: its column name, unit and definition."""

    name: str
    unit: str
    definition: str


_METRICS = [
    # --- memory -------------------------------------------------------------------------------------------
    Metric("kv_bytes_per_token", "bytes", "KV cache of one token while every layer holds it: 2 × layers × "
           "key/value heads × head width × bytes per element (an MLA layer caches one latent instead, a "
           "linear-attention layer nothing; windows, chunks and fixed states are counted per session)."),
    Metric("kv_utilization", "fraction", "Share of reserved KV slots holding real token states (vLLM paper "
           "Fig. 2); 1 − kv_utilization is the waste."),
    Metric("kv_occupancy", "fraction", "Share of the KV budget (GPU memory left after weights) in use at a "
           "given time."),
    Metric("sessions_held", "count", "Concurrent sequences whose KV cache is resident on the GPUs."),
    # --- serving ------------------------------------------------------------------------------------------
    Metric("ttft_s", "s", "Time to first token: arrival of a request to the end of the step that emits its "
           "first output token (includes queueing and prefill)."),
    Metric("tpot_s", "s", "Time per output token: (end-to-end latency − TTFT) / (output tokens − 1)."),
    Metric("e2e_latency_s", "s", "End-to-end latency: arrival to the last output token."),
    Metric("throughput_tokens_per_s", "tokens/s", "Output tokens generated per second of simulated time, "
           "whole replica."),
    Metric("throughput_requests_per_min", "requests/min", "Requests completed per minute of simulated time."),
    Metric("gpu_busy_fraction", "fraction", "Share of simulated time the GPU executes a step."),
    Metric("batch_slot_utilization", "fraction", "Mean running batch ÷ maximum batch: the share of "
           "the GPU's batch slots doing useful work (one reading of a 'GPU utilisation' figure)."),
    # --- serving simulator (model/serving.py, chapter "Paged attention and continuous batching") -------------
    Metric("normalized_latency_s_per_token", "s/token", "Mean over requests of end-to-end latency ÷ output "
           "tokens (the vLLM paper's 'normalized latency')."),
    Metric("model_flops_utilization", "fraction", "Useful model FLOPs (2 × matmul parameters per prompt and "
           "output token) ÷ (elapsed time × GPUs × dense peak): the 'MFU' reading of a utilisation figure."),
    Metric("preemptions", "count", "Times running sequences were evicted from the KV cache for lack of free "
           "blocks and later recomputed."),
    # --- caching / tiering --------------------------------------------------------------------------------
    Metric("hit_ratio", "fraction", "Share of looked-up prefix blocks served from cache (any tier) under "
           "prefix semantics: a request reuses its longest cached prefix, stopping at the first miss."),
    Metric("recomputed_tokens", "tokens", "Input tokens whose KV had to be computed by prefill."),
    # --- economics ----------------------------------------------------------------------------------------
    Metric("usd_per_million_tokens", "USD/1M tokens", "Cost of serving one million tokens."),
    Metric("availability", "fraction", "Uptime ÷ (uptime + downtime) over a period."),
    # --- configuration search (model.search.pareto, model.search.tier_search) -------------------------------------------------
    Metric("throughput_at_slo_rps", "requests/s", "Highest request rate (the trace's arrival times "
           "compressed) whose P95 TTFT stays under the SLO."),
    Metric("ttft_p95_s", "s", "95th percentile of TTFT over the requests of a run."),
    Metric("cost_usd_per_hour", "USD/h", "Cost of a configuration per hour: GPUs plus provisioned cache "
           "capacity."),
    Metric("hypervolume_ratio", "fraction", "Hypervolume of a search's Pareto frontier ÷ that of the "
           "exhaustive grid's, with a common reference point (1 = the whole frontier recovered)."),
    # --- KV tiering simulator and workloads (model.tiering, model.workload) -------------------------------
    Metric("ttft_p50_s", "s", "Median TTFT over the requests of a run."),
    Metric("throughput_requests_per_s", "requests/s", "Requests completed per second from the first arrival "
           "to the last first token."),
    Metric("token_hit_ratio", "fraction", "Share of prompt tokens whose KV was reused from cache (prefix "
           "semantics); hit_ratio counts blocks instead."),
    Metric("ideal_hit_ratio", "fraction", "hit_ratio of an unbounded cache without expiry: the share of block "
           "lookups whose whole prefix was seen before (upper bound for every capacity and policy)."),
    Metric("capacity_blocks", "blocks", "Capacity of a cache tier in KV blocks (512 tokens each for the "
           "Mooncake trace); columns capacity_blocks_<tier> and hit_ratio_<tier> give it per tier."),
    Metric("persona_hit_ratio", "fraction", "Share of requests whose character's persona prompt is found in "
           "the persona cache."),
    # --- economics, regions and availability (model.economics.prices, model.economics.regions, model.economics.availability) ---------
    Metric("usd_per_month", "USD/month", "Cost (or saving) per month; a month is hours_per_month = 730 h."),
    Metric("usd_per_gpu_hour", "USD/GPU-hour", "Rental price of one GPU for one hour (instance price ÷ GPUs)."),
    Metric("usd_per_gpu_month", "USD/GPU-month", "usd_per_gpu_hour × 730 h: one GPU rented for a month."),
    Metric("tokens_per_month", "tokens/month", "Tokens processed per month: sessions per month (concurrent "
           "sessions × month ÷ session length) × turns × tokens per turn, input and output."),
    Metric("rtt_p95_ms", "ms", "Monthly 95th-percentile round-trip time between two cloud regions."),
    Metric("user_weighted_rtt_ms", "ms", "Σ user share × round-trip time to the region serving those users."),
    Metric("downtime_h_per_year", "h/year", "Hours a year a service is down: (1 − availability) × 8,760 h."),
    Metric("gross_margin", "fraction", "(Revenue − cost) ÷ revenue over a month."),
    Metric("demand_requests_per_s", "requests/s", "Turns offered by sessions in progress: concurrent sessions × "
           "turns per session ÷ session length (Little's law)."),
    Metric("replica_requests_per_s", "requests/s", "Highest simulated arrival rate at which one replica keeps a "
           "latency percentile (e.g. e2e_latency_s P95) under its target."),
    # --- disaggregated serving (model.serving.disaggregated, model.serving.goodput) ------------------------
    Metric("slo_attainment", "fraction", "Share of a run's requests whose TTFT and TPOT are both within their "
           "targets (DistServe's SLO attainment)."),
    Metric("goodput_requests_per_s", "requests/s", "Requests meeting both the TTFT and the TPOT target per "
           "second of a run, from the first arrival to the last finish."),
    Metric("goodput_requests_per_s_per_gpu", "requests/s per GPU", "DistServe's goodput of a configuration: the "
           "highest Poisson arrival rate at which slo_attainment (or each latency percentile named beside it) "
           "stays within target, ÷ the configuration's GPUs."),
    Metric("kv_transfer_s", "s", "Time to move one request's prompt KV from its prefill replica to its decode "
           "replica: link latency + KV bytes per GPU ÷ link bandwidth per GPU (waiting for the link excluded)."),
    Metric("prefill_gpu_busy_fraction", "fraction", "Share of a run's span the prefill replicas execute a step, "
           "averaged over the pool: λ × prefill step time ÷ replicas when prompts run one per step."),
    Metric("decode_gpu_busy_fraction", "fraction", "Share of a run's span the decode replicas execute a step, "
           "averaged over the pool."),
    Metric("sessions_per_gpu", "count", "Concurrent sessions carried per GPU of a fleet sized for them "
           "(sessions ÷ GPUs, spares included)."),
]

#: Metric name -> definition. Extend by adding a ``Metric`` to the list above (names must stay unique).
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
assert len(METRICS) == len(_METRICS), "duplicated metric name"


def glossary() -> pd.DataFrame:
    """The glossary as a table: metric, unit, definition (sorted by name)."""
    return pd.DataFrame([m.__dict__ for m in _METRICS]).rename(columns={"name": "metric"}).sort_values(
        "metric").reset_index(drop=True)


# --- concepts ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Concept:
    """A concept the chapters use: its term, a one-line definition and where it is defined."""

    term: str
    definition: str
    source: str


_CONCEPTS = [
    Concept("KV cache", "The keys and values of every attention layer kept for each token of a sequence, so that "
            "each new token attends to the past without recomputing it.",
            "Pope et al. 2022, Efficiently Scaling Transformer Inference, arXiv:2211.05102"),
    Concept("GQA (grouped-query attention)", "Attention in which groups of query heads share one key/value head; "
            "the KV cache shrinks by the group size (multi-query attention: one key/value head for all).",
            "Ainslie et al. 2023, GQA, arXiv:2305.13245"),
    Concept("Tensor parallelism", "One model split across GPUs by cutting each weight matrix into slices, one per "
            "GPU, with an all-reduce after each layer; the GPUs of a replica hold the weights once between them.",
            "Shoeybi et al. 2019, Megatron-LM, arXiv:1909.08053"),
    Concept("MFU (model FLOPs utilisation)", "Useful model FLOPs achieved per second ÷ the hardware's peak FLOPs "
            "per second.", "Chowdhery et al. 2022, PaLM, arXiv:2204.02311, appendix B"),
    Concept("MBU (model bandwidth utilisation)", "Bytes that must be read per decode step (weights and KV cache) "
            "÷ step time ÷ the memory's peak bandwidth: the utilisation measure of memory-bound decoding.",
            "Databricks 2023, LLM Inference Performance Engineering: Best Practices (databricks.com blog)"),
    Concept("Prefill and decode", "Prefill processes the whole prompt in one pass (compute-bound) and writes its "
            "KV cache; decode then generates one token per step for each sequence (memory-bandwidth-bound).",
            "Patel et al. 2024, Splitwise, arXiv:2311.18677"),
    Concept("TTFT and TPOT", "Time to first token (arrival to the first output token, queueing and prefill "
            "included) and time per output token after the first (the decode pace).",
            "Zhong et al. 2024, DistServe, arXiv:2401.09670"),
    Concept("Disaggregated prefill and decode", "Prompts are prefilled on one pool of GPUs and their KV cache is "
            "sent to another pool that decodes, so neither phase waits behind the other; goodput counts the "
            "requests that meet both the TTFT and the TPOT target.",
            "Zhong et al. 2024, DistServe, OSDI '24 (arXiv:2401.09670)"),
    Concept("Roofline", "A kernel's time is the larger of its FLOPs ÷ peak FLOP rate and its bytes moved ÷ peak "
            "bandwidth; which term wins says whether it is compute- or memory-bound.",
            "Williams, Waterman and Patterson 2009, Roofline, Communications of the ACM 52(4)"),
    Concept("Continuous batching", "Scheduling at the granularity of one decode step: finished sequences leave "
            "the batch and waiting ones join at every step instead of when the whole batch ends.",
            "Yu et al. 2022, Orca, OSDI '22"),
    Concept("PagedAttention", "The KV cache stored in fixed-size blocks mapped like virtual-memory pages, so a "
            "sequence reserves memory block by block instead of for its maximum length.",
            "Kwon et al. 2023, vLLM, arXiv:2309.06180"),
    Concept("Little's law", "Items in a stable system = arrival rate × mean time in the system (sessions in "
            "progress = session arrival rate × session length).", "Little 1961, Operations Research 9(3)"),
    Concept("INT8 / FP8 quantisation", "Weights (and optionally activations or the KV cache) stored in one byte "
            "per number instead of two, halving the bytes read per decode step.",
            "Dettmers et al. 2022, LLM.int8(), arXiv:2208.07339"),
    Concept("Prefix caching", "Reuse of the KV cache of a prompt's leading tokens already computed for an "
            "earlier request, so that only the new suffix is prefilled.",
            "Qin et al. 2024, Mooncake, arXiv:2407.00079"),
    Concept("TTL (time to live)", "How long an entry stays in a cache after its last use (or insertion) before "
            "it expires, whatever the free capacity.",
            "Jung, Berger and Balakrishnan 2003, Modeling TTL-based Internet Caches, IEEE INFOCOM"),
    Concept("Che approximation", "An LRU cache of C items behaves like a TTL cache with one characteristic time "
            "T_C, fixed by requiring the expected number of items younger than T_C to equal C.",
            "Che, Tung and Wang 2002, IEEE Journal on Selected Areas in Communications 20(7)"),
    Concept("LRU stack distance", "For each reference, the number of distinct items used since the previous "
            "reference to the same item; an LRU cache of capacity C hits exactly the references with distance "
            "below C, so one pass gives the hit ratio of every capacity.",
            "Mattson, Gecsei, Slutz and Traiger 1970, IBM Systems Journal 9(2)"),
    Concept("Zipf popularity", "The k-th most popular item is requested with probability proportional to "
            "1 ÷ kˢ; a few items draw most requests when s is near or above 1.",
            "Breslau et al. 1999, Web Caching and Zipf-like Distributions, IEEE INFOCOM"),
    Concept("Pareto front", "The configurations that no other configuration beats on every objective at once "
            "(here throughput, latency and cost).",
            "Deb 2001, Multi-Objective Optimization Using Evolutionary Algorithms, Wiley"),
    Concept("Hypervolume", "The volume of objective space dominated by a front and bounded by a reference point; "
            "a larger hypervolume means a front closer to the ideal.",
            "Zitzler and Thiele 1999, IEEE Transactions on Evolutionary Computation 3(4)"),
    Concept("GB and GiB", "A gigabyte is 10⁹ bytes, a gibibyte 2³⁰ bytes (7.4% more); GPU makers quote memory "
            "in binary units under decimal names (an 80 GB GPU holds 80 GiB).",
            "IEC 80000-13:2008, Quantities and units: information science and technology"),
    Concept("Availability ('nines')", "Share of a period a service is up; 99.95% allows 4.38 hours of downtime "
            "a year, 99.9% 8.76 hours.", "Definition; downtime = (1 − availability) × 8,760 h a year"),
]

#: Concept term -> :class:`Concept`.
CONCEPTS: dict[str, Concept] = {c.term: c for c in _CONCEPTS}
assert len(CONCEPTS) == len(_CONCEPTS), "duplicated concept"


def concepts() -> pd.DataFrame:
    """The glossary's concepts as a table: term, definition, source (sorted by term, case-insensitively)."""
    df = pd.DataFrame([c.__dict__ for c in _CONCEPTS])
    return df.sort_values("term", key=lambda s: s.str.lower()).reset_index(drop=True)
