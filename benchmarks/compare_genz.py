"""Run GenZ (PyPI ``genz-llm``, an analytical roofline tool) and this study's step-time model on the same grid
of configurations and write ``data/genz/comparison.csv``.

GenZ is not a dependency of the study: install it into a separate virtual environment and run this script
with that environment's Python, pointing ``PYTHONPATH`` at the repository::

    python3.11 -m venv /work/genz-venv && /work/genz-venv/bin/pip install genz-llm numpy pandas simpy
    PYTHONPATH=. /work/genz-venv/bin/python benchmarks/compare_genz.py

Without GenZ, ``python benchmarks/compare_genz.py --ours-only`` recomputes the study's column with today's
model and keeps GenZ's frozen figures.

Both tools run at efficiency 1 (GenZ ``system_eff=1``; ours ``mfu=mbu=1``) so that the comparison is of the
rooflines alone. GenZ's decode uses ``Bb=1`` (no beam search) and no output tokens beyond the context.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model.serving.step_time import ROOFLINE, deployment  # noqa: E402
from model.io import write_csv  # noqa: E402

warnings.filterwarnings("ignore")

#: (our model name, GenZ model name)
MODELS = [("llama-2-70b", "meta-llama/Llama-2-70B"), ("llama-2-13b", "meta-llama/Llama-2-13B"),
          ("llama-2-7b", "meta-llama/Llama-2-7B")]
#: (our GPU, GenZ system, GenZ bits, our weight/KV dtype)
SYSTEMS = [("a100-80gb", "A100_80GB_GPU", "bf16", "bf16"), ("a100-80gb", "A100_80GB_GPU", "int8", "int8"),
           ("h100-80gb", "H100_GPU", "bf16", "bf16")]
TP = {"llama-2-70b": [4, 8], "llama-2-13b": [1, 2], "llama-2-7b": [1]}
DECODE_BATCHES = [1, 8, 32, 128]
CONTEXTS = [512, 2048]
PREFILL_TOKENS = [128, 512, 2048]


def ours_ms(phase: str, model: str, gpu: str, dtype: str, tp: int, batch: int, tokens: int) -> float:
    """This study's step time of one row of the comparison, ms: the plain roofline at efficiency 1
    (:data:`model.serving.step_time.ROOFLINE`)."""
    dep = deployment(model, gpu, int(tp), weight_dtype=dtype, kv_dtype=dtype, **ROOFLINE)
    if phase == "decode":
        return 1e3 * float(dep.decode_time(int(batch), int(tokens)))
    return 1e3 * float(dep.prefill_time(int(tokens)))


def refresh_ours(path=ROOT / "data" / "genz" / "comparison.csv") -> pd.DataFrame:
    """Recompute the study's column (``ours_ms``, ``relative_difference``) of the comparison with today's
    model, keeping GenZ's frozen figures (GenZ itself is not needed)."""
    df = pd.read_csv(path)
    df["ours_ms"] = [ours_ms(r.phase, r.model, r.gpu, r.dtype, r.tp, r.batch, r.tokens) for r in df.itertuples()]
    df["relative_difference"] = df["ours_ms"] / df["genz_ms"] - 1
    write_csv(df, path)
    return df


def main() -> int:
    if "--ours-only" in sys.argv[1:]:
        df = refresh_ours()
        print(f"ours_ms recomputed for {len(df)} configurations (GenZ figures kept)")
        return 0
    from importlib.metadata import version

    from GenZ.LLM_inference.llm_decode import decode_moddeling
    from GenZ.LLM_inference.llm_prefill import prefill_moddeling

    genz_version = version("genz-llm")
    rows = []
    for ours, theirs in MODELS:
        for gpu, system, bits, dtype in SYSTEMS:
            for tp in TP[ours]:
                try:
                    dep = deployment(ours, gpu, tp, weight_dtype=dtype, kv_dtype=dtype, **ROOFLINE)
                except Exception as exc:  # weights do not fit: skip, both tools agree on that
                    print(f"skip {ours} {gpu} {dtype} TP{tp}: {exc}", file=sys.stderr)
                    continue
                for ctx in CONTEXTS:
                    for b in DECODE_BATCHES:
                        try:
                            g = decode_moddeling(model=theirs, batch_size=b, input_tokens=ctx, output_tokens=0,
                                                 Bb=1, system_name=system, system_eff=1, bits=bits,
                                                 tensor_parallel=tp)["Latency"]
                        except Exception as exc:
                            print(f"GenZ failed decode {ours} {system} TP{tp} b{b} ctx{ctx}: {exc}", file=sys.stderr)
                            continue
                        rows.append({"phase": "decode", "model": ours, "gpu": gpu, "dtype": dtype, "tp": tp,
                                     "batch": b, "tokens": ctx, "genz_ms": float(g),
                                     "ours_ms": 1e3 * float(dep.decode_time(b, ctx))})
                for n in PREFILL_TOKENS:
                    try:
                        g = prefill_moddeling(model=theirs, batch_size=1, input_tokens=n, system_name=system,
                                              system_eff=1, bits=bits, tensor_parallel=tp)["Latency"]
                    except Exception as exc:
                        print(f"GenZ failed prefill {ours} {system} TP{tp} n{n}: {exc}", file=sys.stderr)
                        continue
                    rows.append({"phase": "prefill", "model": ours, "gpu": gpu, "dtype": dtype, "tp": tp,
                                 "batch": 1, "tokens": n, "genz_ms": float(g),
                                 "ours_ms": 1e3 * float(dep.prefill_time(n))})
    df = pd.DataFrame(rows)
    df["relative_difference"] = df["ours_ms"] / df["genz_ms"] - 1
    df["genz_version"] = genz_version
    write_csv(df, ROOT / "data" / "genz" / "comparison.csv")
    err = df["relative_difference"].abs()
    print(f"GenZ {genz_version}: {len(df)} configurations; |relative difference| median {err.median():.1%}, "
          f"max {err.max():.1%}")
    print(df.groupby("phase")["relative_difference"].describe().to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
