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
    Metric("kv_bytes_per_token", "bytes", "KV cache of one token: 2 × layers × key/value heads × head width × "
           "bytes per element."),
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
    # --- configuration search (model.pareto, model.kareto) -------------------------------------------------
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
    # --- economics, regions and availability (model.economics, model.regions, model.availability) ---------
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
