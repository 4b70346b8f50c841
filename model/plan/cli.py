"""``python -m model.plan``: one chat service's plan — GPUs (aggregated or disaggregated prefill/decode), the KV
cache per node, routing, TTL, cost and energy — from the service's shape, model, GPU and latency targets.

    python -m model.plan --sessions 1000000 --json
    python -m model.plan --sessions 50000 --model deepseek-v3 --gpu h200-141gb --weight-dtype fp8 --kv-dtype fp8
    python -m model.plan --input service.yaml          # the same names as the flags (sessions, gpu, ttft_p95_s ...)
    python -m model.plan --sessions 100000 --e2e-p95-s 12 --peak-to-mean 1.33 --regions 3 --html plan.html

Every input has a cited default (``data/parameters``; the case study's service). ``--json`` prints one JSON
object whose top level holds :data:`model.plan.compose.CONTRACT`; without it a Markdown report, rounded, with
units and scopes; ``--html FILE`` also writes that report with its charts (one page, inline SVG, written
atomically). ``--e2e-p95-s`` replaces the TTFT and TPOT targets by one for the whole reply; ``--peak-to-mean``,
``--spare-fraction`` and ``--regions``/``--region-shares`` lay the fleet out around the pools
(:mod:`model.plan.fleet`). Errors are one line naming the flag and what it accepts (exit status 2); a latency
target below the zero-load floor says so and gives the floor. Closed forms; ``--simulate`` also runs one replica of each pool
through the discrete-event simulator at the plan's rate and replays the cache's sample trace with the TTLs (not
the fleet or the router).
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

from model.checks import ParameterError
from model.cli import ArgumentParser, entry

#: Input names (``PlanInputs`` fields) and the flags that set them; a ParameterError naming the one is reported
#: with the other.
FLAGS = {"sessions": "--sessions", "turns_per_session": "--turns-per-session",
         "session_minutes": "--session-minutes", "prompt_tokens": "--prompt-tokens",
         "reply_tokens": "--reply-tokens", "model": "--model", "config": "--config", "gpu": "--gpu",
         "weight_dtype": "--weight-dtype", "kv_dtype": "--kv-dtype", "ttft_p95_s": "--ttft-p95-s",
         "tpot_p95_s": "--tpot-p95-s", "latency_quantile": "--latency-quantile",
         "gpu_provider": "--gpu-provider", "gpu_pricing": "--gpu-pricing",
         "gpu_usd_per_hour": "--gpu-usd-per-hour", "api_model": "--api-model", "max_batch": "--max-batch",
         "chunk_tokens": "--chunk-tokens", "node_gpus": "--node-gpus",
         "max_nodes_per_replica": "--max-nodes-per-replica", "cache_hit_share": "--cache-hit-share",
         "disaggregation": "--disaggregation", "grid_g_co2_per_kwh": "--grid-g-co2-per-kwh",
         "node_other_w_per_gpu": "--node-other-w-per-gpu", "name": "--model", "cache": "--no-cache",
         "shared_persona_tokens": "--shared-persona-tokens", "character_persona_tokens": "--character-persona-tokens",
         "characters": "--characters", "zipf_exponent": "--zipf-exponent",
         "dram_usd_per_gb_month": "--dram-usd-per-gb-month", "ssd_usd_per_gb_month": "--ssd-usd-per-gb-month",
         "requests_per_s": "--requests-per-s", "input": "--input", "n_characters": "--characters",
         "popular_characters": "--characters", "history_window_tokens": "--shared-persona-tokens",
         "e2e_p95_s": "--e2e-p95-s", "peak_to_mean": "--peak-to-mean", "spare_fraction": "--spare-fraction",
         "spare_share": "--spare-fraction", "regions": "--regions", "region_shares": "--region-shares",
         "html": "--html"}


def _parser() -> ArgumentParser:
    from model.plan.inputs import PlanInputs

    d = PlanInputs.__dataclass_fields__
    dflt = {f.name: (f.default_factory() if callable(f.default_factory) else f.default) for f in d.values()}
    p = ArgumentParser(prog="python -m model.plan",
                       description="Plan a chat service: GPUs (aggregated or disaggregated prefill/decode), KV "
                                   "cache per node, routing, TTL, cost and energy, in closed form. Defaults: the "
                                   "case study's service (data/parameters).")
    p.add_argument("--input", help="a YAML or JSON file of inputs named as the flags (sessions, ttft_p95_s, ...); "
                                   "flags given as well win")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--sessions", type=float, help=f"concurrent sessions (> 0; default {dflt['sessions']:,.0f})")
    rate.add_argument("--requests-per-s", type=float,
                      help="a turn rate instead of --sessions, requests/s (> 0; the sessions follow by Little's law)")
    p.add_argument("--turns-per-session", type=float,
                   help=f"turns per session (> 0; default {dflt['turns_per_session']:g})")
    p.add_argument("--session-minutes", type=float,
                   help=f"session length, minutes (> 0; default {dflt['session_minutes']:g})")
    p.add_argument("--prompt-tokens", type=int,
                   help=f"prompt tokens per turn as the model receives them (>= 1; default {dflt['prompt_tokens']})")
    p.add_argument("--reply-tokens", type=int, help=f"reply tokens per turn (>= 1; default {dflt['reply_tokens']})")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--model", help=f"a model of data/models (python -m model list; default {dflt['model']})")
    which.add_argument("--config", help="path to a Hugging Face config.json")
    p.add_argument("--gpu", help=f"a GPU of data/hardware.csv (python -m model list; default {dflt['gpu']})")
    p.add_argument("--weight-dtype", help=f"weight number format (default {dflt['weight_dtype']})")
    p.add_argument("--kv-dtype", help=f"KV number format (default {dflt['kv_dtype']})")
    p.add_argument("--ttft-p95-s", type=float,
                   help=f"P95 time to first token, s (> 0 and above the zero-load floor; default "
                        f"{dflt['ttft_p95_s']:g})")
    p.add_argument("--tpot-p95-s", type=float,
                   help=f"P95 time per output token, s (> 0 and above the zero-load floor; default "
                        f"{dflt['tpot_p95_s']:g})")
    p.add_argument("--e2e-p95-s", type=float,
                   help="P95 time of the whole reply, s, instead of --ttft-p95-s and --tpot-p95-s (> the zero-load "
                        "floor; the plan splits it between the first token and the rest and keeps the cheapest)")
    p.add_argument("--latency-quantile", type=float,
                   help=f"quantile of the two targets, in (0, 1) (default {dflt['latency_quantile']:g})")
    p.add_argument("--gpu-provider", help=f"data/prices/gpu_prices.csv provider (default {dflt['gpu_provider']})")
    p.add_argument("--gpu-pricing", help=f"on-demand, spot, ... (default {dflt['gpu_pricing']})")
    p.add_argument("--gpu-usd-per-hour", type=float, help="a GPU-hour price of your own (> 0)")
    p.add_argument("--api-model",
                   help=f"data/prices/api_prices.csv model to compare with (default {dflt['api_model']})")
    p.add_argument("--max-batch", type=int,
                   help=f"most running sequences per replica (>= 1; default {dflt['max_batch']})")
    p.add_argument("--chunk-tokens", type=int,
                   help=f"tokens per step of chunked prefill (> --max-batch; default {dflt['chunk_tokens']})")
    p.add_argument("--node-gpus", type=int, help=f"GPUs per server (>= 1; default {dflt['node_gpus']})")
    p.add_argument("--max-nodes-per-replica", type=int,
                   help="most nodes one expert-parallel prefill or decode replica of an MoE model spans (>= 0, 0 = "
                        f"tensor-parallel replicas in a node only; default {dflt['max_nodes_per_replica']}, "
                        "DeepSeek's decode unit)")
    p.add_argument("--cache-hit-share", type=float,
                   help=f"share of the ideal prefix hit ratio the cache is sized for, in (0, 1] "
                        f"(default {dflt['cache_hit_share']:g})")
    p.add_argument("--no-cache", action="store_true", help="plan without a prefix cache")
    p.add_argument("--shared-persona-tokens", type=int,
                   help=f"system prompt every session shares, tokens (>= 0; default {dflt['shared_persona_tokens']})")
    p.add_argument("--character-persona-tokens", type=int,
                   help=f"prompt of each character (persona), tokens (>= 0; default "
                        f"{dflt['character_persona_tokens']})")
    p.add_argument("--characters", type=int,
                   help=f"distinct characters (personas) (>= 1; default {dflt['characters']:,})")
    p.add_argument("--zipf-exponent", type=float,
                   help=f"Zipf exponent of the characters' popularity (>= 0; default {dflt['zipf_exponent']:g})")
    p.add_argument("--dram-usd-per-gb-month", type=float,
                   help="price of the cache's host DRAM, USD/GB-month (>= 0; default data/hardware.csv host-dram)")
    p.add_argument("--ssd-usd-per-gb-month", type=float,
                   help="price of the cache's SSD, USD/GB-month (>= 0; default data/hardware.csv nvme-ssd)")
    p.add_argument("--disaggregation", choices=("auto", "aggregated", "disaggregated"),
                   help="auto (the cheaper at the SLO, default), aggregated or disaggregated")
    p.add_argument("--grid-g-co2-per-kwh", type=float,
                   help=f"grid carbon intensity, gCO2/kWh (>= 0; default {dflt['grid_g_co2_per_kwh']:g})")
    p.add_argument("--node-other-w-per-gpu", type=float,
                   help=f"power of a node's CPUs, memory, NICs, fans per GPU, W (>= 0; default "
                        f"{dflt['node_other_w_per_gpu']:g})")
    p.add_argument("--peak-to-mean", type=float,
                   help=f"demand the pools are sized for, x the sessions' mean (>= 1; default "
                        f"{dflt['peak_to_mean']:g})")
    p.add_argument("--spare-fraction", type=float,
                   help=f"hot spares per region, as a share of its serving GPUs (>= 0; default "
                        f"{dflt['spare_fraction']:g})")
    p.add_argument("--regions", type=int,
                   help=f"regions the fleet is split over, equal shares unless --region-shares (>= 1; default "
                        f"{dflt['regions']})")
    p.add_argument("--region-shares",
                   help="comma-separated share of the demand per region, summing to 1 (e.g. 0.45,0.25,0.3)")
    p.add_argument("--compare-gpus",
                   help="comma-separated GPUs of data/hardware.csv to plan the same service on, side by side "
                        "(each at its own price row)")
    p.add_argument("--simulate", action="store_true",
                   help="also run one replica of each pool through the discrete-event simulator at the plan's "
                        "rate and show how far its P95 TTFT and TPOT are from the plan's (about a second more)")
    p.add_argument("--json", action="store_true", help="print the plan exactly, as one JSON object")
    p.add_argument("--html", metavar="FILE",
                   help="also write the report with its charts to FILE (one HTML page that needs no network)")
    return p


def _read_input(path: str) -> dict:
    """Inputs from a YAML or JSON file (keys as the flags, dashes or underscores)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ParameterError("input", path, f"a readable file ({exc.strerror})") from None
    try:
        import yaml

        data = yaml.safe_load(text)
    except Exception:  # noqa: BLE001 - any parse failure is the file's
        raise ParameterError("input", path, "a YAML or JSON mapping of input names to values") from None
    if not isinstance(data, dict):
        raise ParameterError("input", path, "a YAML or JSON mapping of input names to values")
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def inputs_from_args(args):
    """:class:`~model.plan.inputs.PlanInputs` from parsed arguments (file first, flags over it)."""
    from model.plan.inputs import PlanInputs

    names = {f.name for f in fields(PlanInputs)}
    given = _read_input(args.input) if args.input else {}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ParameterError("input", unknown[0], "one of " + ", ".join(sorted(names)))
    if args.region_shares is not None:
        try:
            args.region_shares = tuple(float(x) for x in args.region_shares.split(","))
        except ValueError:
            raise ParameterError("--region-shares", args.region_shares,
                                 "comma-separated numbers summing to 1 (e.g. 0.45,0.25,0.3)") from None
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            given[name] = value
    if given.get("e2e_p95_s") is not None and ({"ttft_p95_s", "tpot_p95_s"} & set(given)):
        raise ParameterError("--e2e-p95-s", given["e2e_p95_s"], "given without --ttft-p95-s and --tpot-p95-s (it "
                                                                "replaces both; in an --input file as well)")
    if args.no_cache:
        given["cache"] = False
    if args.model:                               # a flag wins over the file
        given.pop("config", None)
    elif given.get("config"):
        given.pop("model", None)
    return PlanInputs(**given)


def _flag_message(exc: ParameterError) -> str:
    base = str(exc.name).split("[")[0]
    if base != exc.name and base in FLAGS:       # region_shares[1] → --region-shares
        return str(exc).replace(f"{exc.name}=", f"{FLAGS[base]}=", 1).replace(f"{exc.name} must",
                                                                              f"{FLAGS[base]} must", 1)
    flag = FLAGS.get(exc.name, exc.name if str(exc.name).startswith("-") else None)
    message = str(exc)
    if flag and not str(exc.name).startswith("-"):
        message = message.replace(f"{exc.name}=", f"{flag}=", 1).replace(f"{exc.name} must", f"{flag} must", 1)
    return message


@entry
def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from model.plan.compose import make_plan
    from model.plan.report import markdown

    args = _parser().parse_args(argv)
    try:
        inputs = inputs_from_args(args)
        plan = make_plan(inputs, simulate=args.simulate)
        if args.compare_gpus:
            from model.hardware import available_gpus
            from model.plan.compose import compare_gpus

            names = [g.strip() for g in args.compare_gpus.split(",") if g.strip()]
            bad = [g for g in names if g not in available_gpus()]
            if bad or not names:
                raise ParameterError("--compare-gpus", args.compare_gpus,
                                     "a comma-separated list of " + ", ".join(available_gpus()))
            plan["compare_gpus"] = compare_gpus(inputs, names)
    except (ParameterError, FileNotFoundError) as exc:
        text = _flag_message(exc) if isinstance(exc, ParameterError) else \
            f"--config={args.config!r} is not allowed: --config must be a readable config.json ({exc.strerror})"
        print(f"error: {text}", file=sys.stderr)
        return 2
    if args.html:
        from model.plan.report import write_html

        try:
            write_html(plan, args.html)
        except OSError as exc:
            print(f"error: --html={args.html!r} is not allowed: --html must be a file that can be written "
                  f"({exc.strerror})", file=sys.stderr)
            return 2
    print(json.dumps(plan, indent=2) if args.json else markdown(plan))
    return 0
