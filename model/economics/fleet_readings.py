"""The fleet chapter's readings: the check of its parameters and the tables it builds from the fleet-sizing
sweeps (prefix reuse, the three counts of GPUs, the outage record). Numbers only; the sentences are built in
:mod:`model.book.phrases`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from model.architectures import available_models
from model.checks import (ParameterError, check_choice, check_fraction, check_int, check_nonnegative, check_number,
                          check_positive, check_shares)
from model.economics.availability import OutageClass, achieved_availability
from model.economics.fleet_sizing import LATENCY_METRICS, highest_rate_meeting
from model.economics.regions import GROUPS, rtt_table
from model.hardware import available_gpus


def check_fleet(*, fleet_gpus, gpu, spare_share, region_shares, user_shares, home_region, eu_region, asia_region,
                response_p95_s, availability_targets, sla_percent, planned_events_per_year, planned_hours,
                unplanned_events_per_year, unplanned_hours, gpu_availabilities, spare_counts, peak_gpus,
                trough_gpus, model, replica_gpus, prompt_tokens, reply_tokens, turns_per_session, sim_requests,
                sessions_per_node, session_minutes, session_context_tokens, session_counts,
                latency_metrics) -> None:
    """Raise :class:`~model.checks.ParameterError` naming the first bad parameter of the fleet chapter
    (GPU counts, shares as fractions, availabilities in percent, hours, tokens, minutes, seconds; every list
    non-empty; ``replica_gpus`` enough GPUs to hold the model's FP16 weights and split its KV heads)."""
    check_positive("fleet_gpus", fleet_gpus)
    check_choice("gpu", gpu, available_gpus())
    check_nonnegative("spare_share", spare_share)
    check_shares("region_shares", region_shares)
    check_shares("user_shares", user_shares)
    check_choice("len(user_shares)", len(user_shares), [len(GROUPS)])
    regions = sorted(rtt_table()["source_region"].unique())
    for name, v in [("home_region", home_region), ("eu_region", eu_region), ("asia_region", asia_region)]:
        check_choice(name, v, regions)
    check_positive("response_p95_s", response_p95_s)
    for name, values in [("availability_targets", availability_targets), ("gpu_availabilities", gpu_availabilities),
                         ("spare_counts", spare_counts), ("session_counts", session_counts),
                         ("latency_metrics", latency_metrics)]:
        if not values:
            raise ParameterError(name, values, "a non-empty list")
    for i, v in enumerate(availability_targets):
        check_number(f"availability_targets[{i}]", v, low=0.0, high=100.0)
    check_number("sla_percent", sla_percent, low=0.0, high=100.0)
    for name, v in [("planned_events_per_year", planned_events_per_year), ("planned_hours", planned_hours),
                    ("unplanned_events_per_year", unplanned_events_per_year), ("unplanned_hours", unplanned_hours)]:
        check_nonnegative(name, v)
    for i, v in enumerate(gpu_availabilities):
        check_fraction(f"gpu_availabilities[{i}]", v)
    for i, v in enumerate(spare_counts):
        check_int(f"spare_counts[{i}]", v, low=0)
    check_positive("peak_gpus", peak_gpus)
    check_number("trough_gpus", trough_gpus, low=0.0, high=peak_gpus)
    check_choice("model", model, available_models())
    check_int("replica_gpus", replica_gpus, low=1)
    from model.serving.load_sweep import checked_deployment

    checked_deployment(model, gpu, replica_gpus, name="replica_gpus")    # the replicas the chapter simulates
    for name, v in [("prompt_tokens", prompt_tokens), ("reply_tokens", reply_tokens),
                    ("turns_per_session", turns_per_session), ("sim_requests", sim_requests),
                    ("sessions_per_node", sessions_per_node)]:
        check_int(name, v, low=1)
    check_positive("session_minutes", session_minutes)
    check_positive("session_context_tokens", session_context_tokens)
    for i, v in enumerate(session_counts):
        check_positive(f"session_counts[{i}]", v)
    for i, v in enumerate(latency_metrics):
        check_choice(f"latency_metrics[{i}]", v, LATENCY_METRICS)


def prefix_reuse_table(sizing: pd.DataFrame, cached_sizing: pd.DataFrame, *, prompt_tokens: int,
                       cached_tokens: int, cached_share: float) -> pd.DataFrame:
    """The fleet sized with every prompt prefilled whole beside the fleet with part of it cached.

    Parameters
    ----------
    sizing, cached_sizing : pandas.DataFrame
        :func:`model.economics.fleet_sizing.fleet_sizing_table` without and with the cached prefix, from the
        same readings and session counts (rows align by position).
    prompt_tokens, cached_tokens : int
        Prompt per turn and the part of it already in KV, tokens.
    cached_share : float
        Share of prompt tokens served from cache (0–1).

    Returns
    -------
    pandas.DataFrame
        One row per reading and session count: demand (requests/s), ``feasible``, ``replica_requests_per_s``
        (requests/s) and ``gpus`` with suffixes ``_full`` and ``_cached``, and ``gpus_saved_share`` (0–1).
    """
    table = sizing[["latency_metric", "target_s", "concurrent_sessions", "demand_requests_per_s"]].copy()
    table["prompt_tokens"] = prompt_tokens
    table["cached_tokens"] = cached_tokens
    table["cached_share"] = cached_share
    for col in ("feasible", "replica_requests_per_s", "gpus"):
        table[f"{col}_full"] = sizing[col].to_numpy()
        table[f"{col}_cached"] = cached_sizing[col].to_numpy()
    table["gpus_saved_share"] = 1 - table["gpus_cached"] / table["gpus_full"]
    return table


def at_top_load(sweep: pd.DataFrame, metric: str, target_s: float, **names) -> bool:
    """Whether the highest load (requests/s) whose ``metric`` stays within ``target_s`` seconds is the heaviest
    simulated one (the GPU count is then an upper bound: a heavier load might still meet the target).
    ``names`` go to :func:`model.economics.fleet_sizing.highest_rate_meeting`."""
    rate = highest_rate_meeting(sweep, metric, target_s, **names)
    return rate == float(sweep["rate_per_s"].max())


def capped_rows(rows: pd.DataFrame, sweep: pd.DataFrame, cached_sweep: pd.DataFrame, target_s: float,
                **names) -> list[bool]:
    """For each row of :func:`prefix_reuse_table`, whether every feasible count (full prefill and cached) sits
    at the heaviest simulated load of its sweep (``False`` when neither is feasible); see :func:`at_top_load`."""
    capped = []
    for _, r in rows.iterrows():
        tops = [at_top_load(sw, r["latency_metric"], target_s, **names)
                for sw, ok in ((sweep, r["feasible_full"]), (cached_sweep, r["feasible_cached"])) if ok]
        capped.append(bool(tops) and all(tops))
    return capped


def one_answer_table(last: pd.DataFrame, *, sessions: int, replica_gpus: int, server_sessions: int,
                     mem_gpus: int | None, b_demand: float, b_gpus_per_replica: int, b_rate: float, b_gpus: float,
                     spare_share: float, reading_names: Mapping[str, str]) -> pd.DataFrame:
    """The three counts of GPUs for ``sessions`` concurrent sessions: KV memory (``server_sessions`` per
    ``replica_gpus``-GPU server, ``mem_gpus`` or ``None``), saturation (``b_demand`` requests/s on
    ``b_gpus_per_replica``-GPU replicas of ``b_rate`` requests/s, ``b_gpus``) and one row per latency reading of
    ``last`` (rows of :func:`~model.economics.fleet_sizing.fleet_sizing_table`, demand in requests/s,
    ``spare_share`` 0–1). ``reading_names`` names the readings (metric name when absent). ``feasible`` says
    whether a count exists (no GPU count, NaN, when a server holds no session or the latency target is out of
    reach)."""
    demand = float(last["demand_requests_per_s"].iloc[0])
    rows = [{"count": "KV memory", "demand": f"{sessions:,} sessions", "replica_gpus": replica_gpus,
             "per_replica": f"{server_sessions:,} sessions",
             "spares": 0.0, "feasible": mem_gpus is not None, "gpus": mem_gpus if mem_gpus is not None else np.nan},
            {"count": "saturation (batching)", "demand": f"{b_demand:,.0f} requests/s (T4)",
             "replica_gpus": b_gpus_per_replica, "per_replica": f"{b_rate:.2f} requests/s",
             "spares": 0.0, "feasible": True, "gpus": b_gpus}]
    for _, r in last.iterrows():
        rows.append({"count": f"P95 target, {reading_names.get(r['latency_metric'], r['latency_metric'])}",
                     "demand": f"{demand:,.0f} requests/s (Little's law)", "replica_gpus": replica_gpus,
                     "per_replica": (f"{r['replica_requests_per_s']:.2f} requests/s"
                                     if r["feasible"] else "target out of reach"),
                     "spares": spare_share, "feasible": bool(r["feasible"]), "gpus": r["gpus"]})
    return pd.DataFrame(rows)


def outage_record_table(record: Sequence[OutageClass]) -> pd.DataFrame:
    """Downtime (h/year) and availability (percent) of each outage class of ``record`` and of all together
    (last row, ``"both"``)."""
    table = pd.DataFrame([{"item": o.name, "downtime_h_per_year": o.hours_per_year,
                           "availability_percent": 100 * o.availability()} for o in record])
    table.loc[len(table)] = {"item": "both", "downtime_h_per_year": sum(o.hours_per_year for o in record),
                             "availability_percent": 100 * achieved_availability(record)}
    return table
