"""Single-point calibration of the plain roofline (MBU from one measured decode step, MFU from one measured
prefill) and the older cross-checks against ``data/measurements/decode_throughput.csv`` and
``hf_vs_vllm.csv``. The defaults of :class:`model.serving.step_time.Deployment` are no longer single-point
calibrations: they are fitted on the calibration rows of ``step_time_points.csv`` by
:func:`model.serving.step_time_fit.fit_step_time` and validated by :mod:`model.serving.step_time_accuracy`."""

from __future__ import annotations

import pandas as pd

from model.io import DATA
from model.serving.step_time import Deployment, deployment, fixed_batch_time
from model.checks import ParameterError, check_int, check_positive


def calibrated_mbu(dep_at_mbu_one: Deployment, batch: int, context_tokens: float, measured_step_s: float) -> float:
    """MBU that makes a memory-bound decode step of ``batch`` sequences at ``context_tokens`` take
    ``measured_step_s``: memory time at full bandwidth ÷ (measured time − all-reduce time). The deployment
    must be built with ``mbu=1``."""
    if dep_at_mbu_one.mbu != 1.0:
        raise ParameterError("mbu", dep_at_mbu_one.mbu, "1 for calibration")
    b = check_int("batch", batch, low=1)
    read = b * (float(context_tokens) + 1)
    memory = float(dep_at_mbu_one.step_bytes(read, b)) / dep_at_mbu_one.bytes_per_s
    return memory / (check_positive("measured_step_s", measured_step_s) - float(dep_at_mbu_one.allreduce_time(b)))


def calibrated_mfu(dep_at_mfu_one: Deployment, prompt_tokens: int, measured_s: float) -> float:
    """MFU that makes a compute-bound prefill of ``prompt_tokens`` take ``measured_s``: compute time at peak ÷
    (measured time − all-reduce time). The deployment must be built with ``mfu=1``."""
    if dep_at_mfu_one.mfu != 1.0:
        raise ParameterError("mfu", dep_at_mfu_one.mfu, "1 for calibration")
    n = float(check_int("prompt_tokens", prompt_tokens, low=1))
    compute = float(dep_at_mfu_one.step_flops(n, n * (n + 1) / 2, 1)) / dep_at_mfu_one.flops_per_s
    return compute / (check_positive("measured_s", measured_s) - float(dep_at_mfu_one.allreduce_time(n)))


def measured_crosscheck(dep_kwargs: dict | None = None) -> pd.DataFrame:
    """The step-time model against the measured Llama-2-70B rows of ``data/measurements/decode_throughput.csv``
    that state batch, lengths, GPUs and dtype (decode step time and time to first token).

    Columns: source_row, hardware, n_gpus, dtype, batch, input_tokens, output_tokens, metric, measured_ms,
    model_ms, relative_error, used_for_calibration.
    """
    table = pd.read_csv(DATA / "measurements" / "decode_throughput.csv")
    rows = []
    gpu_names = {"a100": "a100-80gb", "a100-80gb": "a100-80gb", "h100-80gb": "h100-80gb"}
    kw = dep_kwargs or {}
    for i, r in table.iterrows():
        if r["model"] != "llama-2-70b" or r["metric"] not in ("ms_per_decode_step", "ms_first_token"):
            continue
        if r["dtype"] not in ("fp16", "fp8") or r["hardware"] not in gpu_names:
            continue
        dtype = str(r["dtype"])
        dep = deployment("llama-2-70b", gpu_names[r["hardware"]], int(r["num_gpus"]), weight_dtype=dtype,
                         kv_dtype=dtype, **kw)
        b, inp, out = int(r["batch_size"]), int(r["input_tokens"]), int(r["output_tokens"])
        if r["metric"] == "ms_first_token":
            model_s = float(dep.step_time(b * inp, b * inp * (inp + 1) / 2, b, 0, b * inp))
        else:
            model_s = float(dep.decode_time(b, inp + out / 2))  # mean context over the generation
        calib = (r["metric"] == "ms_first_token" and b == 1 and inp == 2048 and r["hardware"] == "a100") or \
                (r["metric"] == "ms_per_decode_step" and b == 1 and inp == 128 and r["hardware"] == "a100-80gb")
        rows.append({"source_row": i + 2, "hardware": r["hardware"], "n_gpus": int(r["num_gpus"]), "dtype": dtype,
                     "batch": b, "input_tokens": inp, "output_tokens": out, "metric": r["metric"],
                     "measured_ms": float(r["value"]), "model_ms": 1e3 * model_s,
                     "relative_error": 1e3 * model_s / float(r["value"]) - 1, "used_for_calibration": calib})
    return pd.DataFrame(rows)


def hf_vs_vllm_check() -> pd.DataFrame:
    """The measured HF Transformers vs vLLM wall times (``data/measurements/hf_vs_vllm.csv``) beside the model:
    HF = layers split across the GPUs (``sharding="pipeline"``), vLLM = tensor parallelism, same MBU/MFU.

    Columns: batch, input_tokens, output_tokens, engine, measured_s, model_s, relative_error, plus the
    measured and modelled HF/vLLM ratio per batch (``measured_ratio``, ``model_ratio``)."""
    table = pd.read_csv(DATA / "measurements" / "hf_vs_vllm.csv")
    rows = []
    for _, r in table.iterrows():
        sharding = "pipeline" if r["engine"] == "huggingface-transformers" else "tensor"
        dep = deployment(r["model"], r["hardware"], int(r["num_gpus"]), weight_dtype=r["dtype"], kv_dtype=r["dtype"],
                         sharding=sharding)
        t = fixed_batch_time(dep, int(r["batch_size"]), int(r["input_tokens"]), int(r["output_tokens"]))
        rows.append({"batch": int(r["batch_size"]), "input_tokens": int(r["input_tokens"]),
                     "output_tokens": int(r["output_tokens"]), "engine": r["engine"], "measured_s": float(r["value"]),
                     "model_s": t, "relative_error": t / float(r["value"]) - 1})
    out = pd.DataFrame(rows)
    key = ["batch", "input_tokens", "output_tokens"]
    piv = out.pivot_table(index=key, columns="engine", values=["measured_s", "model_s"])
    ratios = pd.DataFrame({"measured_ratio": piv[("measured_s", "huggingface-transformers")] / piv[("measured_s", "vllm")],
                           "model_ratio": piv[("model_s", "huggingface-transformers")] / piv[("model_s", "vllm")]})
    return out.merge(ratios.reset_index(), on=key)
