"""``python -m model.serving predict``: one static-batch prediction of the step-time model from the command
line.

``python -m model.serving predict --model M --gpu G --n-gpus N --weight-dtype D [--kv-dtype D]
--input-tokens I --output-tokens O (--batch B | --max-batch [--batch-cap K]) [--json]`` prints, for B equal
requests served as one static batch (:func:`model.serving.step_time.fixed_batch_time`):

- ``ttft_s``: the batch's prefill step (B × I tokens; the first output token comes out of it);
- ``tpot_s``: the mean of its O − 1 decode steps;
- ``output_tokens_per_s``: B × O ÷ the batch's whole time, prefill included, for the whole replica;
- the memory check: weights, the KV cache the batch needs (B × (I + O) tokens) and what the GPUs leave for it.

``--max-batch`` uses the largest batch whose KV cache fits (at most ``--batch-cap``). Bad input prints one
line naming the flag and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from model.architectures import available_models, load_architecture
from model.formats import COMPUTE_TYPE, DTYPES
from model.hardware import available_gpus, load_gpu, usable_bytes_per_gpu
from model.quantization.weights import min_gpus_for_weights
from model.serving.step_time import Deployment, deployment
from model.checks import ParameterError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.serving",
                                     description="Step-time model predictions for one replica.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="TTFT, TPOT and throughput of one static batch of equal requests")
    p.add_argument("--model", required=True, help="architecture in data/models (e.g. llama-2-70b)")
    p.add_argument("--gpu", required=True, help="GPU in data/hardware.csv (e.g. a100-80gb)")
    p.add_argument("--n-gpus", type=int, required=True, help="tensor-parallel GPUs of the replica")
    p.add_argument("--weight-dtype", required=True, help="number format of the weights: " + ", ".join(DTYPES))
    p.add_argument("--kv-dtype", default=None, help="number format of the KV cache (default: fp16, or the "
                                                    "weights' format when it is fp16/bf16/fp8)")
    p.add_argument("--input-tokens", type=int, required=True, help="prompt tokens per request")
    p.add_argument("--output-tokens", type=int, required=True, help="output tokens per request")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--batch", type=int, help="requests in the static batch")
    g.add_argument("--max-batch", action="store_true", help="the largest batch whose KV cache fits")
    p.add_argument("--batch-cap", type=int, default=None, help="at most this batch with --max-batch")
    p.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _check(args) -> Deployment:
    if args.model not in available_models():
        raise ParameterError("--model", args.model, "one of " + ", ".join(available_models()))
    if args.gpu not in available_gpus():
        raise ParameterError("--gpu", args.gpu, "one of " + ", ".join(available_gpus()))
    if args.n_gpus < 1:
        raise ParameterError("--n-gpus", args.n_gpus, "an integer >= 1")
    for flag, value in (("--weight-dtype", args.weight_dtype), ("--kv-dtype", args.kv_dtype)):
        if value is not None and value not in DTYPES:
            raise ParameterError(flag, value, "one of " + ", ".join(DTYPES))
    for flag, value in (("--input-tokens", args.input_tokens), ("--output-tokens", args.output_tokens)):
        if value < 1:
            raise ParameterError(flag, value, "an integer >= 1")
    if args.batch is not None and args.batch < 1:
        raise ParameterError("--batch", args.batch, "an integer >= 1")
    if args.batch_cap is not None:
        if not args.max_batch:
            raise ParameterError("--batch-cap", args.batch_cap, "given only with --max-batch")
        if args.batch_cap < 1:
            raise ParameterError("--batch-cap", args.batch_cap, "an integer >= 1")
    kv = args.kv_dtype or (args.weight_dtype if args.weight_dtype in ("fp16", "bf16", "fp8") else "fp16")
    arch, gpu = load_architecture(args.model), load_gpu(args.gpu)
    if not gpu.supports(COMPUTE_TYPE[args.weight_dtype]):
        raise ParameterError("--weight-dtype", args.weight_dtype, f"a format {args.gpu} has tensor cores for")
    need = min_gpus_for_weights(arch, gpu, args.weight_dtype)
    if args.n_gpus < need:
        raise ParameterError("--n-gpus", args.n_gpus,
                             f">= {need}: {args.model} weights in {args.weight_dtype} do not fit on "
                             f"{args.n_gpus} x {args.gpu}")
    try:
        return deployment(args.model, args.gpu, args.n_gpus, weight_dtype=args.weight_dtype, kv_dtype=kv)
    except ParameterError as err:
        if err.name == "n_gpus":
            raise ParameterError("--n-gpus", args.n_gpus, err.allowed) from None
        raise


def predict(dep: Deployment, input_tokens: int, output_tokens: int, batch: int | None = None,
            batch_cap: int | None = None) -> dict:
    """The CLI's figures for ``batch`` equal requests (``None``: the largest batch whose KV fits, at most
    ``batch_cap``): ttft_s, tpot_s, output_tokens_per_s (replica-wide, prefill included) and the memory check."""
    i, o = int(input_tokens), int(output_tokens)
    fit = int(dep.kv_capacity_tokens // (i + o))
    if batch is None:
        if fit < 1:
            raise ParameterError("--input-tokens", i, f"with --output-tokens at most {dep.kv_capacity_tokens:,} "
                                                      "tokens in all (one request's KV cache must fit)")
        b = min(fit, batch_cap) if batch_cap is not None else fit
    else:
        b = int(batch)
    ttft = float(dep.step_time(b * i, b * i * (i + 1) / 2, b, 0, b * i))
    dec = dep.decode_time(b, i + np.arange(0, o - 1, dtype=float)) if o > 1 else np.zeros(0)
    total = ttft + float(np.sum(dec))
    kv_needed = b * (i + o) * dep.kv_bytes_per_token
    return {
        "batch": b, "ttft_s": ttft, "tpot_s": float(np.mean(dec)) if o > 1 else None,
        "output_tokens_per_s": b * o / total, "batch_time_s": total,
        "memory": {"weights_gb": dep.weight_bytes / 1e9,
                   "usable_gb": dep.n_gpus * usable_bytes_per_gpu(dep.gpu, dep.memory_utilization) / 1e9,
                   "kv_budget_gb": dep.kv_budget_bytes / 1e9, "kv_needed_gb": kv_needed / 1e9,
                   "kv_capacity_tokens": dep.kv_capacity_tokens, "max_batch_that_fits": fit,
                   "fits": bool(kv_needed <= dep.kv_budget_bytes)},
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m model.serving``; returns the exit status (2 and one line on bad input)."""
    args = _parser().parse_args(argv)
    try:
        dep = _check(args)
        out = predict(dep, args.input_tokens, args.output_tokens, args.batch, args.batch_cap)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {"model": args.model, "gpu": args.gpu, "n_gpus": args.n_gpus, "weight_dtype": dep.weight_dtype,
           "kv_dtype": dep.kv_dtype, "input_tokens": args.input_tokens, "output_tokens": args.output_tokens, **out}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        m = out["memory"]
        tpot = "n/a" if out["tpot_s"] is None else f"{1e3 * out['tpot_s']:.2f} ms"
        print(f"{args.model} on {args.n_gpus} x {args.gpu} ({dep.weight_dtype} weights, {dep.kv_dtype} KV), "
              f"batch {out['batch']} of {args.input_tokens} -> {args.output_tokens} tokens\n"
              f"ttft: {1e3 * out['ttft_s']:.1f} ms   tpot: {tpot}   "
              f"output: {out['output_tokens_per_s']:,.0f} tokens/s\n"
              f"memory: weights {m['weights_gb']:.1f} GB, KV needed {m['kv_needed_gb']:.1f} GB of "
              f"{m['kv_budget_gb']:.1f} GB free ({'fits' if m['fits'] else 'does NOT fit'}; "
              f"largest batch that fits: {m['max_batch_that_fits']})")
    return 0
