"""``python -m model.kv size``: the KV cache of one sequence of any model, by name or from a ``config.json``.

    python -m model.kv size --model deepseek-v3 --context-tokens 10000 [--kv-dtype bf16] [--tp 8] [--json]
    python -m model.kv size --config path/to/config.json --context-tokens 32768 --kv-dtype fp8

Prints ``kv_bytes_per_token`` (the mean over the context), ``kv_bytes_per_sequence`` (windows, chunks and fixed
states counted), one line per layer kind, the bytes on each GPU under tensor parallelism, and the parameters (total
and active per token). Human output is rounded and labelled with units and scope; ``--json`` gives every figure
exactly. Errors are one line naming the flag (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import sys

from model.checks import ParameterError

#: KV number formats the command offers.
KV_DTYPES = ("bf16", "fp16", "fp8", "fp4")
#: Number formats of a linear-attention state.
STATE_DTYPES = ("bf16", "fp16", "fp32")

_FLAGS = {"tp": "--tp", "context_tokens": "--context-tokens", "kv_dtype": "--kv-dtype", "model": "--model",
          "config": "--config", "state_dtype": "--state-dtype"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.kv",
                                     description="KV-cache sizes of the study's models or of any config.json.")
    sub = parser.add_subparsers(dest="command")
    size = sub.add_parser("size", help="KV bytes of one sequence: per token, per sequence, per layer kind, per GPU",
                          description="KV bytes of one sequence of a model (windows, chunks, MLA latents and "
                                      "linear-attention states counted), whole model and per GPU under tensor "
                                      "parallelism, and its parameters.")
    which = size.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="a model of data/models (python -m model.architectures list)")
    which.add_argument("--config", help="path to a Hugging Face config.json")
    size.add_argument("--context-tokens", type=int, required=True, help="tokens in the sequence (>= 1)")
    size.add_argument("--kv-dtype", default="bf16", help="KV number format: " + ", ".join(KV_DTYPES) +
                      " (fp4 = NVFP4 with its block scales, 4.5 bits); default bf16")
    size.add_argument("--state-dtype", default="bf16",
                      help="number format of linear-attention states: " + ", ".join(STATE_DTYPES) + "; default bf16")
    size.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs (default 1)")
    size.add_argument("--json", action="store_true", help="print every figure exactly, as JSON")
    return parser


def size_report(args: argparse.Namespace) -> dict:
    """The figures of ``size`` for parsed arguments (raises :class:`ParameterError` naming the parameter)."""
    from model.architectures import load_architecture, load_config
    from model.checks import check_choice, check_int
    from model.kv.size import kv_footprint

    check_choice("kv_dtype", args.kv_dtype, KV_DTYPES)
    check_choice("state_dtype", args.state_dtype, STATE_DTYPES)
    check_int("context_tokens", args.context_tokens, low=1)
    check_int("tp", args.tp, low=1)
    arch = load_architecture(args.model) if args.model else load_config(args.config)
    fp = kv_footprint(arch, args.context_tokens, args.kv_dtype, tp=args.tp, state_dtype=args.state_dtype)
    out = fp.as_dict()
    out.update({"display_name": arch.display_name, "family": arch.family, "attention": arch.attention,
                "native_context_tokens": arch.max_context_tokens,
                "parameters_total": arch.parameters(),
                "parameters_active_per_token": arch.active_parameters(),
                "parameters_active_per_token_without_input_embedding": arch.active_parameters(False)})
    return out


def _human(r: dict) -> str:
    def gb(x):
        return f"{x / 1e9:,.3f} GB"

    lines = [f"{r['display_name']} ({r['model']}, {r['family']}, {r['attention']}), {r['context_tokens']:,} tokens, "
             f"KV in {r['kv_dtype']}, TP {r['tp']}"]
    if r["context_tokens"] > r["native_context_tokens"]:
        lines.append(f"  note: the context exceeds the model's native {r['native_context_tokens']:,} tokens")
    lines += [f"  kv_bytes_per_token (mean over the context, whole model): {r['kv_bytes_per_token']:,.1f} B",
              f"  kv_bytes_per_sequence (whole model): {r['kv_bytes_per_sequence']:,.0f} B = "
              f"{gb(r['kv_bytes_per_sequence'])}",
              "  by layer kind (whole model, one sequence):"]
    for k in r["by_layer_kind"]:
        win = f" window {k['window']:,}" if k["kind"] == "sliding" else (
            f" chunk {k['window']:,}" if k["kind"] == "chunked" else "")
        held = (f"fixed state {k['state_bytes'] / 1e6:,.2f} MB" if k["kind"] == "linear"
                else "no cache of their own (they read an earlier layer's KV)" if not k["elements_per_token"]
                else f"{k['tokens_held']:,.0f} tokens x {k['elements_per_token']:,} elements/token/layer")
        lines.append(f"    {k['layers']:>3} {k['kind']}{win} layers: {held}: {gb(k['bytes_per_sequence'])}; "
                     f"per GPU {gb(k['per_gpu_bytes_per_sequence'])} ({k['tp_rule']})")
    lines += [f"  per GPU under TP {r['tp']}: {gb(r['per_gpu_bytes_per_sequence'])} per sequence "
              f"(whole TP group: {gb(r['tp_group_bytes_per_sequence'])})",
              f"  parameters: {r['parameters_total'] / 1e9:,.2f} B total, "
              f"{r['parameters_active_per_token'] / 1e9:,.2f} B active per token "
              f"({r['parameters_active_per_token_without_input_embedding'] / 1e9:,.2f} B without the input embedding)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "size":
        parser.print_help()
        return 0
    try:
        report = size_report(args)
    except ParameterError as exc:
        flag = _FLAGS.get(exc.name)
        message = str(exc).replace(f"{exc.name}=", f"{flag}=", 1).replace(f"{exc.name} must", f"{flag} must", 1) \
            if flag else str(exc)
        print(f"error: {message}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2) if args.json else _human(report)
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:                      # `... --json | head`: the reader left; not an error of ours
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
