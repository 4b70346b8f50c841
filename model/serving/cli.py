"""``python -m model.serving predict``: one static-batch prediction of the step-time model from the command
line.

``python -m model.serving predict (--model M | --config PATH/config.json) --gpu G --n-gpus N --weight-dtype D [--kv-dtype D]
--input-tokens I --output-tokens O (--batch B | --max-batch [--batch-cap K]) [--json]`` prints, for B equal
requests served as one static batch (:func:`model.serving.step_time.fixed_batch_time`):

- ``ttft_s``: the batch's prefill step (B × I tokens; the first output token comes out of it);
- ``tpot_s``: the mean of its O − 1 decode steps;
- ``output_tokens_per_s``: B × O ÷ the batch's whole time, prefill included, for the whole replica;
- the memory check: weights, the KV cache the batch needs (B × (I + O) tokens) and what the GPUs leave for it.

``--config`` reads any published Hugging Face ``config.json`` (:func:`model.architectures.load_config`) in place of
a model of ``data/models``. ``--weight-dtype fp4`` runs the matmuls at the GPU's FP4 peak (``data/hardware.csv``);
a GPU without one (A100, H100, H200, MI300X, MI325X) refuses it with the formats it has tensor cores for.

``--max-batch`` uses the largest batch whose KV cache fits (at most ``--batch-cap``). Bad input prints one
line naming the flag as typed and the values it accepts, and exits with status 2. What cannot run is refused,
not flagged: ``--n-gpus`` must divide a curated model's KV heads (tensor parallelism splits them evenly), or, for
a model read from ``config.json``, divide its query heads and divide or be a multiple of its KV heads (replicated
KV heads and an MLA latent held on every GPU are counted: :func:`tensor_parallel_degrees`), and leave room for the
weights; ``--input-tokens`` + ``--output-tokens`` must fit the model's context
(``max_position_embeddings``); ``--batch`` must be a batch whose KV cache fits beside the weights.

The text output is rounded and says what each figure is for (per request, per replica, per GPU); ``--json``
prints the exact values.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence

import numpy as np

from model.architectures import Architecture, available_models, load_architecture, load_config
from model.cli import ArgumentParser, entry, human, seconds
from model.formats import COMPUTE_TYPE, DTYPES, weight_bytes
from model.kv.size import tp_share
from model.hardware import Accelerator, available_gpus, load_gpu, usable_bytes_per_gpu
from model.serving.step_time import Deployment
from model.checks import ParameterError


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m model.serving", description="Step-time model predictions for one replica.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="TTFT, TPOT and throughput of one static batch of equal requests")
    m = p.add_mutually_exclusive_group(required=True)
    m.add_argument("--model", help="architecture in data/models, e.g. llama-2-70b (python -m model list models)")
    m.add_argument("--config", help="path to a published Hugging Face config.json (in place of --model)")
    p.add_argument("--gpu", required=True, help="GPU in data/hardware.csv, e.g. a100-80gb (python -m model list gpus)")
    p.add_argument("--n-gpus", type=int, required=True,
                   help="tensor-parallel GPUs of the replica: a divisor of the model's KV heads that holds its weights")
    p.add_argument("--weight-dtype", required=True, help="number format of the weights: " + ", ".join(DTYPES))
    p.add_argument("--kv-dtype", default=None, help="number format of the KV cache (default: fp16, or the "
                                                    "weights' format when it is fp16/bf16/fp8)")
    p.add_argument("--input-tokens", type=int, required=True,
                   help="prompt tokens per request (with --output-tokens, at most the model's context)")
    p.add_argument("--output-tokens", type=int, required=True, help="output tokens per request")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--batch", type=int, help="requests in the static batch (at most the largest whose KV cache fits)")
    g.add_argument("--max-batch", action="store_true", help="the largest batch whose KV cache fits")
    p.add_argument("--batch-cap", type=int, default=None, help="at most this batch with --max-batch")
    p.add_argument("--json", action="store_true", help="print JSON (exact values)")
    return parser


def gpus_for_weights(arch: Architecture, gpu: Accelerator, weight_dtype: str) -> int:
    """The fewest GPUs whose usable memory holds the weights of ``arch`` in ``weight_dtype``."""
    return math.ceil(weight_bytes(arch, weight_dtype) / usable_bytes_per_gpu(gpu))


def tensor_parallel_degrees(arch: Architecture, gpu: Accelerator, weight_dtype: str) -> list[int]:
    """GPU counts a tensor-parallel replica of ``arch`` on ``gpu`` can have, among those whose usable memory holds
    the weights in ``weight_dtype``. A curated model: divisors of its KV heads (each GPU holds whole KV heads).
    A model read from ``config.json`` (``arch.layers``): divisors of its query heads that every layer's KV cache
    accepts (:func:`model.kv.size.tp_share`: a divisor or a multiple of the KV heads, which are then replicated,
    as vLLM and TensorRT-LLM do; an MLA latent on every GPU), counted by the step-time model."""
    need = gpus_for_weights(arch, gpu, weight_dtype)
    if not arch.layers:
        return [n for n in range(1, arch.num_kv_heads + 1) if arch.num_kv_heads % n == 0 and n >= need]
    heads = arch.num_attention_heads

    def accepted(n: int) -> bool:
        try:
            for layer in arch.attention_layers():
                tp_share(layer, n)
        except ParameterError:
            return False
        return True

    return [n for n in range(need, heads + 1) if heads % n == 0 and accepted(n)]


def _architecture(args) -> Architecture:
    """The architecture of ``--model`` or ``--config`` (a config file's problem named as ``--config``)."""
    if args.config is None:
        return load_architecture(args.model)
    try:
        return load_config(args.config)
    except ParameterError as err:
        if err.name == "config":
            raise ParameterError("--config", args.config, err.allowed) from None
        raise


def _check(args) -> Deployment:
    """The deployment the flags describe, or a :class:`ParameterError` naming the first bad flag as typed."""
    if args.config is None and args.model not in available_models():
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
    arch, gpu = _architecture(args), load_gpu(args.gpu)
    if not gpu.supports(COMPUTE_TYPE[args.weight_dtype]):
        formats = [d for d in DTYPES if gpu.supports(COMPUTE_TYPE[d])]
        raise ParameterError("--weight-dtype", args.weight_dtype,
                             f"one of {', '.join(formats)} ({args.gpu} has no tensor-core peak for "
                             f"{args.weight_dtype} in data/hardware.csv)")
    name = arch.name
    context = arch.max_context_tokens
    limit = f"{name}'s context is {context:,} tokens (max_position_embeddings)"
    if args.output_tokens >= context:
        raise ParameterError("--output-tokens", args.output_tokens, f"an integer in [1, {context - 1}]: {limit}")
    if args.input_tokens + args.output_tokens > context:
        raise ParameterError("--input-tokens", args.input_tokens,
                             f"an integer in [1, {context - args.output_tokens}] with --output-tokens "
                             f"{args.output_tokens}: {limit}")
    degrees = tensor_parallel_degrees(arch, gpu, args.weight_dtype)
    split = "a divisor or a multiple of" if arch.layers else "a divisor of"
    heads = f"{arch.num_kv_heads} KV heads"
    if arch.attention == "MLA":
        split, heads = "a divisor of", f"{arch.num_attention_heads} query heads (its MLA latent is on every GPU)"
    if args.n_gpus not in degrees:
        need = gpus_for_weights(arch, gpu, args.weight_dtype)
        if not degrees:
            raise ParameterError("--n-gpus", args.n_gpus,
                                 f"{split} {name}'s {heads}, but its "
                                 f"{args.weight_dtype} weights need >= {need} x {args.gpu}: use a smaller "
                                 "--weight-dtype or a larger --gpu")
        raise ParameterError("--n-gpus", args.n_gpus,
                             f"one of {', '.join(map(str, degrees))} ({split} {name}'s {heads}, "
                             f">= {need} x {args.gpu} for its {args.weight_dtype} weights)")
    try:
        return Deployment(arch=arch, gpu=gpu, n_gpus=args.n_gpus, weight_dtype=args.weight_dtype, kv_dtype=kv)
    except ParameterError as err:
        if err.name == "n_gpus":
            raise ParameterError("--n-gpus", args.n_gpus, err.allowed) from None
        raise


def predict(dep: Deployment, input_tokens: int, output_tokens: int, batch: int | None = None,
            batch_cap: int | None = None) -> dict:
    """The CLI's figures for ``batch`` equal requests (``None``: the largest batch whose KV fits, at most
    ``batch_cap``): ttft_s, tpot_s, output_tokens_per_s (replica-wide, prefill included) and the memory check.

    Raises
    ------
    ParameterError
        naming ``--input-tokens`` when not even one request's KV cache fits, and ``--batch`` (with the largest
        batch that fits) when the batch's does not."""
    i, o = int(input_tokens), int(output_tokens)
    fit = int(dep.kv_capacity_tokens // (i + o))
    if fit < 1:
        raise ParameterError("--input-tokens", i, f"with --output-tokens at most {dep.kv_capacity_tokens:,} "
                                                  "tokens in all (one request's KV cache must fit)")
    if batch is None:
        b = min(fit, batch_cap) if batch_cap is not None else fit
    else:
        b = int(batch)
        if b > fit:
            raise ParameterError("--batch", b, f"an integer in [1, {fit}]: the KV cache of {fit} requests of "
                                               f"{i + o:,} tokens fills the {human(dep.kv_budget_bytes / 1e9)} GB "
                                               f"the weights leave on {dep.n_gpus} x {dep.gpu.name}")
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


def text(out: dict, display_name: str) -> str:
    """The human output of one prediction (``out`` as :func:`main` prints it with ``--json``): rounded, with
    units and what each figure is for."""
    m, n = out["memory"], out["n_gpus"]
    tpot = "n/a (one output token)" if out["tpot_s"] is None else \
        f"{seconds(out['tpot_s'])} per output token of a request (the mean decode step)"
    tps = out["output_tokens_per_s"]
    return "\n".join([
        f"{out['model']} ({display_name}) on one replica of {n} x {out['gpu']}, tensor parallel; "
        f"{out['weight_dtype']} weights, {out['kv_dtype']} KV cache",
        f"static batch of {human(out['batch'])} request{'s' if out['batch'] > 1 else ''}, each "
        f"{human(out['input_tokens'])} prompt -> {human(out['output_tokens'])} output tokens",
        f"TTFT: {seconds(out['ttft_s'])} per request (the batch's prefill step)",
        f"TPOT: {tpot}",
        f"throughput: {human(tps, 'output tokens/s')} per replica, {human(tps / n)} per GPU "
        f"(the batch takes {seconds(out['batch_time_s'])})",
        f"memory per replica ({n} GPUs): weights {human(m['weights_gb'], 'GB')}, KV cache "
        f"{human(m['kv_needed_gb'], 'GB')} of the {human(m['kv_budget_gb'], 'GB')} left for it "
        f"({human(m['usable_gb'], 'GB')} usable); largest batch that fits: {human(m['max_batch_that_fits'])}",
    ])


@entry
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m model.serving``; returns the exit status (2 and one line on bad input)."""
    args = _parser().parse_args(argv)
    try:
        dep = _check(args)
        out = predict(dep, args.input_tokens, args.output_tokens, args.batch, args.batch_cap)
    except ParameterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {"model": dep.arch.name, "gpu": args.gpu, "n_gpus": args.n_gpus, "weight_dtype": dep.weight_dtype,
           "kv_dtype": dep.kv_dtype, "input_tokens": args.input_tokens, "output_tokens": args.output_tokens, **out}
    print(json.dumps(out, indent=2) if args.json else text(out, dep.arch.display_name))
    return 0
