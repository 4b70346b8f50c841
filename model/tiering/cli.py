"""Command line: replay any Mooncake-format trace through a KV-cache hierarchy, timed and priced on a serving
setup it prints (model, GPU, GPUs per instance, instances, GPU-hour price)::

    python -m model.tiering replay TRACE.jsonl --tiers hbm=8000,dram=50000,ssd=400000 --ttl 600 \\
        [--model llama-2-70b] [--gpu a100-80gb] [--n-gpus 4] [--instances 8] [--gpu-usd-per-hour P] [--json]

and on a fleet of N nodes, each with those tiers and instances (``global``: one pool of N × each tier)::

    python -m model.tiering replay TRACE.jsonl --nodes 8 --route round-robin|session|prefix|global \
        --capacity-blocks C [--workers 2] [--scheduler tcp://HOST:8786] --json

With ``--nodes 1`` every route prints exactly what the single-cache replay prints, plus a ``fleet`` section.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from model.parameters import default
from model.economics.prices import GpuPrice
from model.tiering.config import TierConfig, default_config
from model.tiering.setup import check_setup, describe_setup, renamed
from model.tiering.simulate import simulate
from model.tiering.slo import zero_load_ttft_s
from model.checks import ParameterError
from model.cli import ArgumentParser, entry, human, seconds

#: Names of the fleet replay's parameters on the command line.
FLEET_CLI_NAMES = {"route": "--route", "nodes": "--nodes", "prefix_blocks": "--prefix-blocks",
                   "workers": "--workers"}
#: Names of the setup's fields on the command line.
CLI_NAMES = {"model": "--model", "gpu": "--gpu", "gpus_per_instance": "--n-gpus", "n_instances": "--instances",
             "gpu_usd_per_hour": "--gpu-usd-per-hour"}
_TIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
#: Tiers the command line knows, fastest first (:func:`model.tiering.config.default_tiers`).
CLI_TIERS = ("hbm", "dram", "ssd")
_TIERS_FORMAT = "NAME=BLOCKS pairs separated by commas, top tier first, e.g. hbm=100,dram=1000,ssd=10000"


def parse_tiers(spec: str) -> list[tuple[str, float]]:
    """``"hbm=100,dram=1000,ssd=inf"`` → ``[("hbm", 100), ("dram", 1000), ("ssd", inf)]``.

    Raises
    ------
    ParameterError
        naming ``--tiers`` for a pair without ``=``, a bad, unknown (not in :data:`CLI_TIERS`), repeated or
        out-of-order tier name, or a capacity that is not a whole number of blocks >= 0 (or ``inf``).
    """
    out, seen = [], set()
    for part in spec.split(","):
        if "=" not in part:
            raise ParameterError("--tiers", spec, _TIERS_FORMAT)
        name, value = (x.strip() for x in part.split("=", 1))
        if not _TIER_NAME.match(name):
            raise ParameterError("--tiers", part, "tier names of letters, digits, - or _ (e.g. hbm, dram, ssd)")
        if name in seen:
            raise ParameterError("--tiers", spec, f"each tier once ({name} repeated)")
        if name not in CLI_TIERS:
            raise ParameterError("--tiers", part, "tiers named " + ", ".join(CLI_TIERS) + " (bandwidths and prices "
                                 "of data/hardware.csv)")
        if seen and CLI_TIERS.index(name) < max(CLI_TIERS.index(x) for x in seen):
            raise ParameterError("--tiers", spec, "tiers from the fastest down, in the order " + ", ".join(CLI_TIERS))
        seen.add(name)
        if value.lower() in ("inf", "infinite"):
            out.append((name, math.inf))
            continue
        if not re.fullmatch(r"\d+", value):
            raise ParameterError("--tiers", part, "a whole number of blocks >= 0 (or inf) for every tier")
        out.append((name, int(value)))
    return out


def cli_config(capacity_blocks: float | None, tiers: str | None, ttl: float | None, block_tokens: int, *,
               model: str = "llama-2-70b", gpu: str = "a100-80gb", gpus_per_instance: int | None = None,
               n_instances: int = 1, gpu_usd_per_hour: float | None = None) -> TierConfig:
    """The configuration the command line builds for one node: :func:`default_config`'s engine (``model`` on
    ``gpus_per_instance`` × ``gpu``, ``n_instances`` instances, the GPU's price unless given) and tier
    bandwidths and prices, with the tier capacities given (blocks per node).

    Raises
    ------
    ParameterError
        naming ``--tiers`` for a tier other than :data:`CLI_TIERS` or out of their order, and ``--tiers`` or
        ``--capacity-blocks`` for more HBM than the node's KV budget (its instances' GPU memory left after the
        weights), with the limit; ``inf`` (an unbounded cache: the ideal hit ratio) is allowed.
    """
    if tiers and capacity_blocks is not None:
        raise ParameterError("--capacity-blocks", capacity_blocks, "either --capacity-blocks (one HBM tier) or "
                             "--tiers, not both")
    if tiers:
        pairs, flag = parse_tiers(tiers), "--tiers"
    elif capacity_blocks is not None:
        pairs, flag = [("hbm", capacity_blocks)], "--capacity-blocks"
    else:
        raise ParameterError("--capacity-blocks", None, "given (or --tiers)")
    base = default_config(model=model, gpu=gpu, gpus_per_instance=gpus_per_instance, n_instances=n_instances,
                          block_tokens=block_tokens, gpu_usd_per_hour=gpu_usd_per_hour)
    by_name = {t.name: t for t in base.tiers}
    budget = by_name["hbm"].capacity_blocks
    for name, cap in pairs:
        if name == "hbm" and budget < cap < math.inf:          # inf: the unbounded cache of the ideal hit ratio
            e = base.engine
            raise ParameterError(flag, tiers or capacity_blocks,
                                 f"at most {budget:,} blocks of HBM per node ({budget * base.block_bytes / 1e9:,.0f}"
                                 f" GB: the KV budget of {e.n_instances} instance(s) x {e.gpus_per_instance} {gpu}"
                                 f" after the weights of {model}); add --instances or --n-gpus, or put the rest in "
                                 "dram/ssd")
    tier_objs = tuple(replace(by_name[name], capacity_blocks=cap) for name, cap in pairs)
    return replace(base, tiers=tier_objs, default_ttl_s=math.inf if ttl is None else ttl)


def _parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="python -m model.tiering",
                                     description="Replay a Mooncake-format trace through a KV-cache hierarchy.")
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="replay a trace and print hit ratios, TTFT and cost")
    rp.add_argument("trace", help="Mooncake-format JSONL (timestamp ms, input_length, output_length, hash_ids; "
                    "session_id optional, needed by --route session)")
    rp.add_argument("--capacity-blocks", type=float, default=None, help="one tier (hbm) of N blocks per node, at most "
                    "the node's KV budget (inf: unbounded, the ideal hit ratio)")
    rp.add_argument("--tiers", default=None, help=_TIERS_FORMAT + " (blocks per node)")
    rp.add_argument("--ttl", type=float, default=None, help="TTL of every block, seconds (default: none)")
    rp.add_argument("--block-tokens", type=int, default=None, help="tokens per hash block (default 512)")
    rp.add_argument("--model", default="llama-2-70b", help="architecture in data/models (default llama-2-70b)")
    rp.add_argument("--gpu", default="a100-80gb", help="GPU in data/hardware.csv (default a100-80gb)")
    rp.add_argument("--n-gpus", type=int, default=None,
                    help="tensor-parallel GPUs per prefill instance (default tiering_gpus_per_instance, 4)")
    rp.add_argument("--instances", type=int, default=1, help="prefill instances per node (default 1)")
    rp.add_argument("--gpu-usd-per-hour", type=float, default=None,
                    help="price of one GPU-hour, USD (default: the GPU's AWS on-demand row of data/prices)")
    rp.add_argument("--nodes", type=int, default=None, help="nodes of the fleet, each with these tiers (default: one "
                    "cache, no fleet section)")
    rp.add_argument("--route", default=None, help="routing of requests to nodes: round-robin, session, prefix or "
                    "global (one pool of nodes x each tier; default round-robin)")
    rp.add_argument("--prefix-blocks", type=int, default=None, help="with --route prefix: route by the prompt's "
                    "Nth block (default 1, the first; the Mooncake trace's prompts all start with the same block)")
    rp.add_argument("--workers", type=int, default=1, help="local processes replaying nodes in parallel (default 1)")
    rp.add_argument("--scheduler", default=None, help="address of a Dask scheduler to replay the nodes on")
    rp.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _check_args(args) -> tuple[int, int | None, int, GpuPrice]:
    bt = int(default("mooncake_block_tokens")) if args.block_tokens is None else args.block_tokens
    if bt < 1:
        raise ParameterError("--block-tokens", bt, "an integer >= 1")
    cap = args.capacity_blocks
    if cap is not None and cap != math.inf:
        if not math.isfinite(cap) or cap < 0 or not float(cap).is_integer():
            raise ParameterError("--capacity-blocks", cap, "a whole number of blocks >= 0 (or inf)")
        cap = int(cap)
    if args.ttl is not None and not (args.ttl >= 0):
        raise ParameterError("--ttl", args.ttl, "a number of seconds >= 0 (or inf)")
    if args.tiers:
        parse_tiers(args.tiers)
    if args.nodes is not None and args.nodes < 1:
        raise ParameterError("--nodes", args.nodes, "an integer >= 1")
    if args.route is not None:
        from model.tiering.fleet import ROUTES
        if args.route not in ROUTES:
            raise ParameterError("--route", args.route, "one of " + ", ".join(ROUTES))
    if args.prefix_blocks is not None:
        if args.route != "prefix":
            raise ParameterError("--prefix-blocks", args.prefix_blocks, "only with --route prefix")
        if args.prefix_blocks < 1:
            raise ParameterError("--prefix-blocks", args.prefix_blocks, "an integer >= 1")
    if args.workers < 1:
        raise ParameterError("--workers", args.workers, "an integer >= 1")
    g = int(default("tiering_gpus_per_instance")) if args.n_gpus is None else args.n_gpus
    price = check_setup(args.model, args.gpu, g, args.instances, args.gpu_usd_per_hour, names=CLI_NAMES)
    return bt, cap, g, price


@entry
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m model.tiering replay TRACE.jsonl (--capacity-blocks N | --tiers hbm=N1,dram=N2,ssd=N3)
    [--ttl SECONDS] [--model M] [--gpu G] [--n-gpus K] [--instances I] [--gpu-usd-per-hour P] [--json]``;
    returns the exit status (2 and a one-line message on bad input)."""
    from model.workload import TraceFormatError, load_mooncake_trace

    args = _parser().parse_args(argv)
    try:
        bt, cap, g, price = _check_args(args)
        trace = load_mooncake_trace(args.trace, block_tokens=bt)
        config = cli_config(cap, args.tiers, args.ttl, bt, model=args.model, gpu=args.gpu, gpus_per_instance=g,
                            n_instances=args.instances, gpu_usd_per_hour=price.usd_per_gpu_hour)
        fleet = None
        nodes = args.nodes or 1
        if args.nodes is not None or args.route is not None:
            from model.tiering.fleet import simulate_fleet
            if args.route == "session" and trace.session is None:
                raise ParameterError("--route", "session", "one of round-robin, prefix, global for this trace "
                                     "('session' needs session_id on every record; this trace has none)")
            try:
                fleet = simulate_fleet(trace, config, nodes, args.route or "round-robin", workers=args.workers,
                                       scheduler=args.scheduler, prefix_blocks=args.prefix_blocks or 1)
            except ParameterError as exc:
                raise renamed(exc, FLEET_CLI_NAMES) from None
        else:
            result = simulate(trace, config)
    except (ParameterError, TraceFormatError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup = describe_setup(config, model=args.model, gpu=args.gpu, price=price, nodes=nodes)
    tiers = {t.name: (None if t.capacity_blocks == math.inf else int(t.capacity_blocks)) for t in config.tiers}
    ttl_s = args.ttl if args.ttl is not None and math.isfinite(args.ttl) else None      # None: no TTL
    if fleet is not None:
        out = _fleet_out(args.trace, fleet, setup, tiers, ttl_s)
        if fleet.route == "prefix":
            from model.tiering.fleet import prefix_route_concentration
            block, share = prefix_route_concentration(trace, args.prefix_blocks or 1)
            out["fleet"]["prefix_route_block"] = {"block": args.prefix_blocks or 1, "most_common_id": block,
                                                   "share_of_requests": share}
    else:
        floor = float(np.percentile(zero_load_ttft_s(trace, config, result.replay), 95))
        out = {"trace": args.trace, "requests": result.requests, "lookups": result.blocks, "setup": setup,
               "hit_ratio": result.hit_ratio, "tiers": tiers, "ttl_s": ttl_s}
        for name in config.tier_names:
            out[f"hit_ratio_{name}"] = result.hit_ratio_by_tier[name]
        for name in config.tier_names:
            out[f"prefill_tokens_saved_{name}"] = result.tokens_by_tier[name]
        out.update({
            "recomputed_tokens": result.recomputed_tokens, "input_tokens": result.input_tokens,
            "ttft_p50_s": result.ttft_p50_s, "ttft_p95_s": result.ttft_p95_s,
            "zero_load_ttft_p95_s": floor, "gpu_busy_fraction": result.gpu_busy_fraction,
            "throughput_requests_per_s": result.throughput_requests_per_s,
            "cost_usd_per_hour": result.cost_usd_per_hour, "usd_per_million_tokens": result.usd_per_million_tokens,
        })
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(_text(out))
    return 0


#: Keys of the single-cache output after the tiers' (``hit_ratio_<tier>``, ``prefill_tokens_saved_<tier>``), in
#: its order; the fleet output repeats them, fleet-wide.
SINGLE_KEYS = ("recomputed_tokens", "input_tokens", "ttft_p50_s", "ttft_p95_s", "zero_load_ttft_p95_s",
               "gpu_busy_fraction", "throughput_requests_per_s", "cost_usd_per_hour", "usd_per_million_tokens")


def _fleet_out(path: str, fleet, setup: dict, tiers: dict, ttl_s) -> dict:
    s = fleet.summary()
    names = fleet.config.tier_names
    out = {"trace": path, "requests": s["requests"], "lookups": s["lookups"], "setup": setup,
           "hit_ratio": s["hit_ratio"], "tiers": tiers, "ttl_s": ttl_s}
    out.update({f"hit_ratio_{t}": s[f"hit_ratio_{t}"] for t in names})
    out.update({f"prefill_tokens_saved_{t}": s[f"prefill_tokens_saved_{t}"] for t in names})
    out.update({k: s[k] for k in SINGLE_KEYS})
    out["fleet"] = {k: v for k, v in s.items() if k not in out}
    out["fleet"]["per_node"] = fleet.node_table().to_dict(orient="records")
    return out


def _text(out: dict) -> str:
    s = out["setup"]
    lines = [f"trace: {out['trace']} ({out['requests']:,} requests, {out['lookups']:,} block lookups)",
             f"serving setup per node: {s['model']} on {s['instances_per_node']} instance(s) x "
             f"{s['gpus_per_instance']} {s['gpu']} = {s['gpus_per_node']} GPUs; fleet: {s['nodes']} node(s) = "
             f"{s['gpus']} GPUs at ${s['gpu_usd_per_hour']:.4g}/GPU-hour ({s['gpu_price_source']})"]
    for name, t in s["tiers"].items():
        cap = ("unbounded" if t["capacity_blocks_per_node"] is None else
               f"{t['capacity_blocks_per_node']:,} blocks = {t['capacity_gb_per_node']:,.1f} GB per node")
        lines.append(f"  tier {name}: {cap}, {t['read_gb_per_s_per_instance']:,.4g} GB/s per instance, "
                     f"${t['usd_per_gb_month']:.4g}/GB-month")
    lines += _result_lines(out)
    if out["gpu_busy_fraction"] > 0.95:
        lines.append(f"note: the {s['gpus']} GPUs are busy {100 * out['gpu_busy_fraction']:.0f}% of the time: "
                     "TTFT is mostly queueing; add --instances")
    return "\n".join(lines)


def _result_lines(out: dict) -> list[str]:
    """The results for people: rounded, with units, and over what each is counted (the whole trace, each request,
    all instances or the whole fleet, each node); ``--json`` has the exact values."""
    fleet = out.get("fleet")
    where = (f"the whole fleet of {fleet['nodes']} nodes" if fleet else
             f"all {out['setup']['instances_per_node']} instance(s)")
    pct = lambda v: human(v, kind="percent")      # noqa: E731
    tiers = list(out["tiers"])
    by_tier = ", ".join(f"{k} {pct(out[f'hit_ratio_{k}'])}" for k in tiers)
    from_cache = ", ".join(f"{k} {human(out[f'prefill_tokens_saved_{k}'])}" for k in tiers)
    ttl = "none (blocks stay until evicted)" if out["ttl_s"] is None else f"{human(out['ttl_s'])} s on every block"
    lines = [f"TTL: {ttl}",
             f"hit ratio: {pct(out['hit_ratio'])} of the trace's {human(out['lookups'])} block lookups ({by_tier})",
             f"prompt tokens of the trace: {human(out['input_tokens'])}; from cache: {from_cache}; recomputed: "
             f"{human(out['recomputed_tokens'])}",
             f"TTFT per request: P50 {seconds(out['ttft_p50_s'])}, P95 {seconds(out['ttft_p95_s'])} (P95 at zero "
             f"load: {seconds(out['zero_load_ttft_p95_s'])})",
             f"GPUs busy: {pct(out['gpu_busy_fraction'])} of the time (mean over {where})",
             f"throughput: {human(out['throughput_requests_per_s'], 'requests/s')} ({where})",
             f"cost: {human(out['cost_usd_per_hour'], kind='usd')}/h for {where} (GPUs and tier storage); "
             f"{human(out['usd_per_million_tokens'], kind='usd')} per 1M tokens (input + output)"]
    if fleet:
        rest = {k: v for k, v in fleet.items() if k not in ("route", "nodes", "gpus", "per_node", "prefix_route_block")}
        lines.append(f"fleet: {fleet['nodes']} nodes ({fleet['gpus']} GPUs), route {fleet['route']}")
        if "prefill_tokens_saved" in rest:
            lines.append(f"  prompt tokens served from cache, whole fleet: {human(rest.pop('prefill_tokens_saved'))}"
                         + (f", {human(rest.pop('remote_tokens'))} of them from another node's memory"
                            if "remote_tokens" in rest else ""))
        if "load_imbalance" in rest:
            lines.append(f"  busiest node / mean node: {human(rest.pop('load_imbalance'), kind='ratio')} prefill "
                         f"time" + (f", {human(rest.pop('request_imbalance'), kind='ratio')} requests"
                                    if "request_imbalance" in rest else ""))
        for name in [k[: -len("_gb_used_mean")] for k in list(rest) if k.endswith("_gb_used_mean")]:
            mean, top = rest.pop(f"{name}_gb_used_mean"), rest.pop(f"{name}_gb_used_max", None)
            lines.append(f"  {name} used per node: {human(mean, 'GB')} on average"
                         + ("" if top is None else f", {human(top, 'GB')} on the fullest node"))
        for k, v in rest.items():
            lines.append(f"  {k.replace('_', ' ')}: {_plain(v)}")
        p = fleet.get("prefix_route_block")
        if p:
            lines.append(f"note: prefix routing by each prompt's block {p['block']}: block id {p['most_common_id']} "
                         f"routes {100 * p['share_of_requests']:.1f}% of the requests, all to one node"
                         + (f" (try --prefix-blocks {p['block'] + 1})" if p["share_of_requests"] > 1 / fleet["nodes"]
                            else ""))
    return lines


def _plain(value) -> str:
    """Any other figure of the output, for people: numbers rounded, mappings as ``key value`` pairs."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_plain(v)}" for k, v in value.items())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return human(value)
    return str(value)
