"""Command line: replay any Mooncake-format trace through a KV-cache hierarchy."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import replace

from model.parameters import default
from model.tiering.config import TierConfig, default_config
from model.tiering.simulate import simulate
from model.validation import ParameterError


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
