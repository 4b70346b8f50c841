"""The character-chat fleet at several scales, as tables: hit ratios by routing policy, the cache a node needs
and what it saves, what the caches serve of personas and history, §8's prompt layout, and the check of
sampled against full fleets.

One call of :func:`chat_fleet_tables` runs every fleet the fleet-cache chapter shows (minutes at a million
sessions), so its result at the chapter's default parameters is recorded as data of record
(:mod:`model.records`, ``data/records/chat_fleet/``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.calendar import hours_per_month
from model.tiering.config import default_config
from model.tiering.cost import storage_cost_per_hour
from model.tiering.fleet import ROUTES
from model.tiering.replay import replay
from model.tiering.streamed_fleet import prefill_gpus, prefill_gpus_saved, simulate_chat_fleets
from model.tiering.stack_distance import capacity_for_hit_share, ideal_hit_ratio
from model.checks import ParameterError, check_choice, check_fraction, check_int, check_positive
from model.workload.chat import CharacterChatParams

#: Kinds of block whose share served from cache :func:`chat_fleet_tables` reports, by the generator's groups.
BLOCK_KINDS = {"persona_popular": ["persona_popular"], "persona_tail": ["persona_tail"],
               "persona_all": ["shared_persona", "persona_popular", "persona_tail"], "history": ["history"]}


def fleet_nodes(sessions: int, sessions_per_node: int, pool_nodes: int) -> tuple[int, int]:
    """Nodes of a fleet of ``sessions`` (one per ``sessions_per_node``, at least one) and the nodes of a
    global pool (``pool_nodes`` when it divides the fleet, else the whole fleet)."""
    n_nodes = max(1, math.ceil(sessions / sessions_per_node))
    return n_nodes, (pool_nodes if n_nodes % pool_nodes == 0 else n_nodes)


def check_chat_fleet(*, sessions_scales, full_scales, sessions_per_node, sample_nodes, pool_nodes, prefix_blocks,
                     hit_share_target, routes, l8_history_tokens, l8_memory_tokens) -> None:
    """Raise :class:`~model.checks.ParameterError` naming the first bad parameter of
    :func:`chat_fleet_tables`: ``routes`` a non-empty list of :data:`~model.tiering.fleet.ROUTES`,
    ``hit_share_target`` in (0, 1], and §8's layout one the generator can build (``l8_history_tokens`` at least
    a turn, the prompt under its block limit)."""
    if not routes:
        raise ParameterError("routes", routes, "a non-empty list of " + ", ".join(ROUTES))
    for r in routes:
        check_choice("routes", r, ROUTES)
    if not sessions_scales:
        raise ParameterError("sessions_scales", sessions_scales, "a non-empty list of session counts")
    for s in sessions_scales:
        check_positive("sessions_scales", s)
    for s in full_scales:
        if s not in sessions_scales:
            raise ParameterError("full_scales", s, "scales listed in sessions_scales")
    check_int("sessions_per_node", sessions_per_node, low=1)
    check_int("sample_nodes", sample_nodes, low=2)
    check_int("pool_nodes", pool_nodes, low=1)
    check_int("prefix_blocks", prefix_blocks, low=1)
    check_fraction("hit_share_target", hit_share_target, allow_zero=False)
    check_int("l8_history_tokens", l8_history_tokens, low=1)
    check_int("l8_memory_tokens", l8_memory_tokens, low=0)
    names = {"history_window_tokens": "l8_history_tokens", "memory_tokens": "l8_memory_tokens"}
    try:
        CharacterChatParams(history_window_tokens=l8_history_tokens, memory_tokens=l8_memory_tokens)
    except ParameterError as exc:
        if exc.name not in names:
            raise
        raise ParameterError(names[exc.name], exc.value, exc.allowed) from None


def chat_fleet_tables(*, sessions_scales: Sequence[int], full_scales: Sequence[int], sessions_per_node: int,
                      sample_nodes: int, pool_nodes: int, prefix_blocks: int, hit_share_target: float,
                      routes: Sequence[str], model: str, gpu: str, seed: int, l8_history_tokens: int,
                      l8_memory_tokens: int, workers: int = 1, scheduler: str | None = None) -> dict:
    """Every fleet of the fleet-cache chapter, as tables.

    Parameters
    ----------
    sessions_scales : list of int
        Concurrent sessions of each fleet (one node per ``sessions_per_node``).
    full_scales : list of int
        Scales also simulated on every node (the others: ``sample_nodes`` evenly spaced nodes).
    sessions_per_node, sample_nodes, pool_nodes, prefix_blocks : int
        See :func:`model.tiering.streamed_fleet.simulate_chat_fleets`; ``pool_nodes`` applies when it divides the fleet.
    hit_share_target : float
        Share of a node's ideal hit ratio its cache is sized for (table ``need``).
    routes : list of str
        Routing policies (:data:`model.tiering.fleet.ROUTES`).
    model, gpu : str
        One node: ``default_config(model=..., gpu=..., n_instances=1)``.
    seed : int
        Seed of the session stream.
    l8_history_tokens, l8_memory_tokens : int
        §8's layout, tokens: the history kept in the prompt, and the summary and memories new at every turn
        (table ``l8``, at the first scale).
    workers, scheduler
        Local processes or a Dask scheduler address (the result does not depend on them).

    Returns
    -------
    dict of pandas.DataFrame
        ``chat`` (hit ratio and its 95% interval by scale and routing, by tier, prefill tokens and GPUs
        saved), ``need`` (ideal hit ratio of one node, the cache for the target share, by tier beyond HBM, GPUs
        saved and the net USD/month), ``persona`` (share of each kind of block served from cache on one node),
        ``l8`` (history window against §8's layout), ``check`` (sampled against full fleets, at the full
        scales) and ``analysed`` (whether the node analysed for ``need`` kept every request it received).
    """
    check_chat_fleet(sessions_scales=sessions_scales, full_scales=full_scales, sessions_per_node=sessions_per_node,
                     sample_nodes=sample_nodes, pool_nodes=pool_nodes, prefix_blocks=prefix_blocks,
                     hit_share_target=hit_share_target, routes=routes, l8_history_tokens=l8_history_tokens,
                     l8_memory_tokens=l8_memory_tokens)
    cfg = default_config(model=model, gpu=gpu, n_instances=1)
    common = dict(seed=seed, workers=workers, scheduler=scheduler, prefix_blocks=prefix_blocks)
    runs = {}
    for sessions in sessions_scales:
        params = CharacterChatParams(concurrent_sessions=sessions)
        n_nodes, pool = fleet_nodes(sessions, sessions_per_node, pool_nodes)
        sampled = simulate_chat_fleets(params, cfg, n_nodes, routes, sample_nodes=sample_nodes, pool_nodes=pool,
                                       keep_units=1, **common)
        full = simulate_chat_fleets(params, cfg, n_nodes, routes, **common) if sessions in full_scales else None
        runs[sessions] = (params, n_nodes, pool, sampled, full)
    return {"chat": _chat_table(runs, routes, cfg), **_need_tables(runs, routes, cfg, hit_share_target),
            "l8": _l8_table(sessions_scales[0], cfg, routes, sessions_per_node, pool_nodes, sample_nodes,
                            l8_history_tokens, l8_memory_tokens, common),
            "check": _check_table(runs, routes)}


def _chat_table(runs, routes, cfg) -> pd.DataFrame:
    rows = []
    for sessions, (params, n_nodes, pool, sampled, full) in runs.items():
        for r in routes:
            s = (full or sampled)[r].summary()
            rows.append({"sessions": sessions, "nodes": n_nodes, "route": r,
                         "simulated": "all" if full else (f"{s['simulated_units']} of {n_nodes // pool:,} pools"
                                                          if r == "global" else
                                                          f"{s['simulated_nodes']} of {n_nodes:,} nodes"),
                         "hit_ratio": s["hit_ratio"], "hit_ratio_low": s["hit_ratio_low"],
                         "hit_ratio_high": s["hit_ratio_high"], "hbm": s["hit_ratio_hbm"],
                         "dram": s["hit_ratio_dram"], "ssd": s["hit_ratio_ssd"],
                         "saved": s["prefill_tokens_saved_share"], "request_imbalance": s["request_imbalance"],
                         "prefill_gpus_saved": prefill_gpus_saved(s, params, cfg)})
    return pd.DataFrame(rows)


def _need_tables(runs, routes, cfg, hit_share_target) -> dict:
    hbm_blocks, dram_blocks = cfg.capacities[0], cfg.capacities[1]
    gb = cfg.block_bytes / 1e9
    usd_h_storage = sum(storage_cost_per_hour(cfg).values())
    need_rows, persona_rows, analysed = [], [], []
    for sessions, (params, n_nodes, pool, sampled, full) in runs.items():
        for r in routes:
            res = sampled[r]
            if not res.traces:          # the node kept received no request
                continue
            unit, trace = next(iter(sorted(res.traces.items())))
            analysed.append({"sessions": sessions, "route": r, "truncated": bool(res.traces_truncated)})
            g = pool if r == "global" else 1
            unit_cfg = cfg.with_capacities(**{t.name: t.capacity_blocks * g for t in cfg.tiers})
            need = capacity_for_hit_share(trace, hit_share_target) / g
            beyond = max(0.0, need - hbm_blocks)
            dram_need = min(beyond, dram_blocks)
            s = (full or sampled)[r].summary()
            gpus = prefill_gpus_saved(s, params, cfg)
            gpu_usd = gpus * cfg.engine.gpu_usd_per_hour * hours_per_month()
            storage_usd = usd_h_storage * n_nodes * hours_per_month()
            need_rows.append({"sessions": sessions, "route": r, "ideal": ideal_hit_ratio(trace),
                              "need_gb": need * gb, "dram_gb": dram_need * gb, "ssd_gb": (beyond - dram_need) * gb,
                              "gpus_saved": gpus, "gpu_usd_month": gpu_usd, "storage_usd_month": storage_usd,
                              "net_usd_month": gpu_usd - storage_usd})
            served = replay(trace, unit_cfg).served_tier
            group = trace.block_group
            row = {"sessions": sessions, "route": r}
            for name, groups in BLOCK_KINDS.items():
                sel = np.isin(group, [trace.group_names.index(x) for x in groups])
                row[name] = float(np.mean(served[sel] >= 0)) if sel.any() else math.nan
            persona_rows.append(row)
    return {"need": pd.DataFrame(need_rows), "persona": pd.DataFrame(persona_rows),
            "analysed": pd.DataFrame(analysed, columns=["sessions", "route", "truncated"])}


def _l8_table(sessions, cfg, routes, sessions_per_node, pool_nodes, sample_nodes, history_tokens, memory_tokens,
              common) -> pd.DataFrame:
    rows = []
    for label, extra in (("history window", {}),
                         ("§8 tiered memory", {"history_window_tokens": history_tokens,
                                               "memory_tokens": memory_tokens})):
        params = CharacterChatParams(concurrent_sessions=sessions, **extra)
        n_nodes, pool = fleet_nodes(sessions, sessions_per_node, pool_nodes)
        res = simulate_chat_fleets(params, cfg, n_nodes, routes, sample_nodes=sample_nodes, pool_nodes=pool,
                                   **common)
        for r in routes:
            s = res[r].summary()
            rows.append({"layout": label, "route": r, "input": s["input_tokens_per_request"],
                         "computed": s["recomputed_tokens_per_request"], "hit_ratio": s["hit_ratio"],
                         "prefill_gpus": prefill_gpus(s, params, cfg)})
    return pd.DataFrame(rows)


def _check_table(runs, routes) -> pd.DataFrame:
    rows = []
    for sessions, (params, n_nodes, pool, sampled, full) in runs.items():
        if full is None:
            continue
        for r in routes:
            f, s = full[r].summary(), sampled[r].summary()
            rows.append({"sessions": sessions, "route": r,
                         "units": f"{s['simulated_units']} pools of {pool}" if r == "global"
                         else f"{s['simulated_nodes']} nodes",
                         "full": f["hit_ratio"], "sampled": s["hit_ratio"], "low": s["hit_ratio_low"],
                         "high": s["hit_ratio_high"], "diff_points": 100 * (s["hit_ratio"] - f["hit_ratio"]),
                         "covered": bool(s["hit_ratio_low"] - 1e-12 <= f["hit_ratio"] <= s["hit_ratio_high"] + 1e-12)})
    return pd.DataFrame(rows, columns=["sessions", "route", "units", "full", "sampled", "low", "high", "diff_points",
                                       "covered"])


def scale_check_table(*, sessions: int, sessions_per_node: int, sample_nodes: int, pool_nodes: int,
                      prefix_blocks: int, routes: Sequence[str], model: str, gpu: str, seed: int,
                      workers: int = 1, scheduler: str | None = None) -> dict:
    """Sampled against full fleets at one scale, per routing policy: the fleet-wide hit ratio of every node
    simulated, beside the estimate from ``sample_nodes`` nodes (under ``global``: pools of ``pool_nodes``
    nodes, while the full fleet is one pool) and its 95% interval.

    Returns
    -------
    dict of pandas.DataFrame
        ``check``: ``sessions``, ``nodes``, ``route``, ``full_hit_ratio``, ``sampled_hit_ratio``,
        ``sampled_low``, ``sampled_high`` (fractions of block lookups), ``covered`` (the interval holds the full
        value) and ``sampled_units`` (nodes, or pools under ``global``).
    """
    for r in routes:
        check_choice("routes", r, ROUTES)
    cfg = default_config(model=model, gpu=gpu, n_instances=1)
    n, pool = fleet_nodes(sessions, sessions_per_node, pool_nodes)
    params = CharacterChatParams(concurrent_sessions=sessions)
    common = dict(seed=seed, workers=workers, scheduler=scheduler, prefix_blocks=prefix_blocks)
    rows = []
    for r in routes:
        f = simulate_chat_fleets(params, cfg, n, [r], **common)[r].summary()
        s = simulate_chat_fleets(params, cfg, n, [r], sample_nodes=sample_nodes,
                                 pool_nodes=pool if r == "global" else None, **common)[r].summary()
        rows.append({"sessions": sessions, "nodes": n, "route": r, "full_hit_ratio": f["hit_ratio"],
                     "sampled_hit_ratio": s["hit_ratio"], "sampled_low": s["hit_ratio_low"],
                     "sampled_high": s["hit_ratio_high"],
                     "covered": bool(s["hit_ratio_low"] <= f["hit_ratio"] <= s["hit_ratio_high"]),
                     "sampled_units": s["simulated_units"]})
    return {"check": pd.DataFrame(rows)}
