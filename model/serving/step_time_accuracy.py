"""The step-time model against every published measurement of ``data/measurements/step_time_points.csv``:
one prediction per point, its error, and the error summary by metric on the validation rows.

How a point is predicted
------------------------
One replica is a :class:`model.serving.step_time.Deployment` of the row's model on ``tensor_parallel`` GPUs
(``n_gpus`` when the TP is not stated), with the row's ``expert_parallel`` degree (1 when not stated) and attention
data parallelism where the row says so; a row measured on ``n_gpus`` runs ``n_gpus ÷ TP`` replicas and its
system throughputs are that many replicas' (``scope = per_gpu`` divides by ``n_gpus``). Llama 3.3 70B has
Llama 3.1 70B's architecture; an unstated KV format is the weights' (FP16/BF16/FP8), else FP16.

Running batch ``B``:

- ``fixed``, ``concurrency``, ``max``: the row's batch (``max`` and ``concurrency`` capped at what the KV
  memory holds);
- ``engine-chosen`` at an infinite rate: the largest batch the KV memory holds at the mean footprint of a
  running sequence (input + output/2 tokens), capped at ``batching_engine_batch_cap``;
- every running batch is capped by the engine's maximum batch where the row states it (``engine_max_batch``, e.g.
  TensorRT-LLM's ``--max_batch_size`` per attention-DP rank times the ranks), else by
  ``batching_engine_batch_cap``, and by the requests of the run;
- ``engine-chosen`` at a finite rate ``λ``: Little's law, ``B = λ ÷ replicas × request life(B)``, solved by
  fixed-point iteration; above capacity the batch is the cap above and throughput is capacity.

A batch of ``B`` requests of ``I`` input and ``O`` output tokens lives
``T(B) = prefill(B × I tokens in one step) + Σ decode steps``. Static rows: the decode steps run at the
batch's growing context, TTFT is the batch's prefill step, TPOT the mean decode step. In-flight rows (and
``unknown``): the decode steps run at the mean context ``I + O/2``, TTFT is one prompt's prefill plus half a
decode step (a new request waits for the running step), TPOT is ``(T(B) − prefill(I)) ÷ (O − 1)`` (other
requests' prefills stall the decode). Throughput = ``B × O ÷ T(B)`` per replica, never above the offered rate.

Static batch latency (``batch_latency_ms``, AMD's MI300X latency table): the whole life of one static batch,
``T(B)``, prefill included.

Client concurrency ``C`` (closed loop): ``B = min(C, what the KV memory holds)``; requests beyond ``B`` wait
``(C − B)/B`` request lives for a slot (Little's law), added to TTFT.

Not predicted (``predicted`` NaN, ``reason`` says why): rows whose prompt or output lengths are not stated
(MLPerf's OpenOrca, LMDeploy's request benchmark, the tuning guide, ShareGPT runs), and latencies (TTFT,
TPOT) with every request sent at once (``offered_rate_per_s = inf`` on an in-flight engine) or at a rate
the measured throughput fell more than 10% short of (:func:`measured_overload`): those figures are queue time, which grows with the length of the run and
which a step-time model does not hold.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from model.io import DATA
from model.parameters import default
from model.serving.step_time import Deployment, deployment

POINTS_CSV = DATA / "measurements" / "step_time_points.csv"
#: Architectures of the point's model names (Llama 3.3 70B is Llama 3.1 70B retrained: same shapes); every other
#: name is its own ``data/models`` entry.
ARCHITECTURE_OF = {"llama-3.3-70b": "llama-3.1-70b"}
METRICS = ("tpot_ms", "ttft_ms", "output_tokens_per_s", "output_tokens_per_s_per_gpu", "total_tokens_per_s",
           "requests_per_s", "batch_latency_ms")
#: Phase of each metric (decode, prefill, or the whole request).
PHASE = {"tpot_ms": "decode", "ttft_ms": "prefill", "output_tokens_per_s": "throughput",
         "output_tokens_per_s_per_gpu": "throughput", "total_tokens_per_s": "throughput",
         "requests_per_s": "throughput", "batch_latency_ms": "throughput"}


@lru_cache(maxsize=1)
def _engine_cap() -> float:
    return default("batching_engine_batch_cap")


def load_points() -> pd.DataFrame:
    """The measured points (``data/measurements/step_time_points.csv``)."""
    return pd.read_csv(POINTS_CSV)


@dataclass(frozen=True)
class Prediction:
    """Model figures of one setting (one replica unless said otherwise).

    Attributes
    ----------
    batch : float
        Running batch used.
    ttft_s, tpot_s : float
        Time to first token and mean time per output token, seconds.
    replica_output_tokens_per_s : float
        Output tokens/s of one replica.
    regime : str
        ``"static"``, ``"in-flight"``, ``"rate-limited"`` (the offered rate, not the GPU, sets throughput),
        ``"overloaded"`` (the offered rate exceeds capacity: latencies are queue time).
    """

    batch: float
    ttft_s: float
    tpot_s: float
    replica_output_tokens_per_s: float
    regime: str


def _kv_dtype(weight_dtype: str, kv_dtype) -> str:
    if isinstance(kv_dtype, str) and kv_dtype:
        return kv_dtype
    return weight_dtype if weight_dtype in ("fp16", "bf16", "fp8") else "fp16"


def max_batch(dep: Deployment, input_tokens: float, output_tokens: float, *, static: bool,
              cap: float | None = None) -> int:
    """Largest batch the KV memory holds: sequences of ``input + output`` tokens (static: every sequence
    keeps its whole KV to the end) or ``input + output/2`` (in-flight: the mean footprint), at most ``cap``."""
    footprint = input_tokens + (output_tokens if static else output_tokens / 2)
    b = int(dep.kv_capacity_tokens // max(footprint, 1.0))
    if cap is not None:
        b = min(b, int(cap))
    return max(b, 0)


def batch_life_s(dep: Deployment, batch: float, input_tokens: float, output_tokens: float, *,
                 static: bool) -> tuple[float, float]:
    """(prefill step of the batch, sum of its decode steps), seconds, for ``batch`` requests of
    ``input_tokens`` → ``output_tokens`` (see the module docstring)."""
    b, i, o = float(batch), float(input_tokens), float(output_tokens)
    pre = float(dep.step_time(b * i, b * i * (i + 1) / 2, b, 0.0, b * i))
    if o <= 1:
        return pre, 0.0
    if static:
        dec = float(np.sum(dep.decode_time(b, i + np.arange(0, o - 1, dtype=float))))
    else:
        dec = (o - 1) * float(dep.decode_time(b, i + o / 2))
    return pre, dec


def predict_setting(dep: Deployment, *, input_tokens: float, output_tokens: float, batching: str,
                    batch: float | None = None, rate_per_s: float | None = None,
                    batch_cap: float | None = None, concurrency: float | None = None) -> Prediction:
    """Model figures of one replica at a batch (``batch``), an offered request rate (``rate_per_s``
    per replica, ``inf`` = always full) or a client concurrency (``concurrency``: closed loop; above the
    batch the KV memory holds, requests wait ``(C − B)/B`` request lives for a slot, added to TTFT); see
    the module docstring."""
    static = batching == "static"
    i, o = float(input_tokens), float(output_tokens)
    cap = batch_cap if batch_cap is not None else _engine_cap()
    bmax = max(max_batch(dep, i, o, static=static, cap=cap), 1)
    regime = "static" if static else "in-flight"
    saturated = True
    if concurrency is not None:
        b = float(min(concurrency, bmax))
    elif batch is None:
        if rate_per_s is None or not math.isfinite(rate_per_s):
            b = float(bmax)
        else:
            b = 1.0
            for _ in range(200):
                pre, dec = batch_life_s(dep, b, i, o, static=False)
                life = float(dep.prefill_time(i)) + dec
                nb = min(rate_per_s * life, float(bmax))
                if abs(nb - b) < 1e-6:
                    break
                b = max(nb, 1e-3)
            b = max(b, 1e-3)
            saturated = b >= bmax - 1e-9
    else:
        b = float(min(batch, bmax)) if not static else float(batch)
    pre, dec = batch_life_s(dep, b, i, o, static=static)
    one = float(dep.prefill_time(i))
    if static:
        ttft = pre
        tpot = dec / (o - 1) if o > 1 else math.nan
    else:
        step = float(dep.decode_time(b, i + o / 2))
        ttft = one + 0.5 * step
        tpot = (pre + dec - one) / (o - 1) if o > 1 else math.nan
    if concurrency is not None and concurrency > b:
        ttft += (concurrency - b) / b * (pre + dec)
    tput = b * o / (pre + dec)
    if rate_per_s is not None and math.isfinite(rate_per_s):
        if not saturated or rate_per_s * o <= tput * (1 + 1e-9):
            tput = rate_per_s * o
            regime = "rate-limited"
        else:
            regime = "overloaded"
    return Prediction(batch=b, ttft_s=ttft, tpot_s=tpot, replica_output_tokens_per_s=tput, regime=regime)


@lru_cache(maxsize=None)
def _base_deployment(model: str, gpu: str, tp: int, weight_dtype: str, kv_dtype: str, ep: int = 1,
                     attention_dp: bool = False) -> Deployment:
    return deployment(ARCHITECTURE_OF.get(model, model), gpu, tp, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                      expert_parallel=ep, attention_data_parallel=attention_dp)


def _stated(row, column: str):
    """The row's value of an optional column (None when the column is absent or the cell empty)."""
    v = row.get(column, None) if hasattr(row, "get") else None
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return None
    return v


def point_deployment(row, **dep_kwargs) -> Deployment:
    """The replica of one measured point (see the module docstring); ``dep_kwargs`` override the
    :class:`Deployment` defaults (MFU, MBU, overheads, ...)."""
    tp = row["tensor_parallel"]
    tp = int(row["n_gpus"]) if not (isinstance(tp, (int, float)) and math.isfinite(tp)) else int(tp)
    wd = str(row["weight_dtype"])
    ep = _stated(row, "expert_parallel")
    adp = _stated(row, "attention_data_parallel")
    base = _base_deployment(str(row["model"]), str(row["gpu"]), tp, wd, _kv_dtype(wd, row["kv_dtype"]),
                            1 if ep is None else int(ep), adp is not None and str(adp).lower() == "true")
    return replace(base, **dep_kwargs) if dep_kwargs else base


_RUN = re.compile(r"(\d[\d,]*) requests")


def requests_in_run(caveats) -> float:
    """Requests of the measured run when the row's caveats state them ("500 requests", "3000 requests in
    the dataset"), else infinity: the running batch can never exceed them."""
    m = _RUN.search(caveats) if isinstance(caveats, str) else None
    return float(m.group(1).replace(",", "")) if m else math.inf


def measured_overload(points: pd.DataFrame) -> pd.Series:
    """Per point: True when the same run (same point_id but the metric) measured a request or output-token
    rate below 90% of the offered rate, i.e. the measured system was overloaded and its latencies are queue
    time. Decided from the measurements alone, not from the model."""
    run = points["point_id"].str.rsplit(":", n=1).str[0]
    rate = points["offered_rate_per_s"]
    achieved = pd.Series(np.nan, index=points.index)
    rps = points["metric"] == "requests_per_s"
    achieved[rps] = points["value"][rps]
    ots = points["metric"] == "output_tokens_per_s"
    achieved[ots] = points["value"][ots] / points["output_tokens"][ots]
    by_run = achieved.groupby(run).min()
    got = run.map(by_run)
    return (got < 0.9 * rate) & np.isfinite(rate)


def predict_point(row, overloaded: bool = False, **dep_kwargs) -> tuple[float, str, str, float]:
    """(predicted value in the row's unit and scope, regime, reason if not predicted, batch used);
    ``overloaded``: the run measured less than the offered rate (:func:`measured_overload`)."""
    i, o = row["input_tokens"], row["output_tokens"]
    if not (math.isfinite(i) and math.isfinite(o)):
        return math.nan, "", "lengths not stated", math.nan
    if not isinstance(row["weight_dtype"], str):
        return math.nan, "", "precision not stated", math.nan
    rate = row["offered_rate_per_s"]
    rate = None if not isinstance(rate, (int, float)) or math.isnan(rate) else float(rate)
    latency = row["metric"] in ("ttft_ms", "tpot_ms")
    if latency and row["batching"] != "static" and rate is not None and math.isinf(rate):
        return math.nan, "", "all requests sent at once: queue time", math.nan
    try:
        dep = point_deployment(row, **dep_kwargs)
    except Exception as err:  # weights that do not fit, a GPU without the format's tensor cores
        return math.nan, "", f"no deployment: {err}", math.nan
    tp = dep.n_gpus
    replicas = max(int(row["n_gpus"]) // tp, 1)
    batching = "static" if row["batching"] == "static" else "in-flight"
    b = row["batch"]
    batch = None if row["batch_kind"] == "engine-chosen" or not math.isfinite(b) else float(b)
    conc = None
    if batch is not None and row["batch_kind"] == "concurrency":
        conc, batch = batch / replicas, None
    per_replica_rate = None if rate is None else rate / replicas
    stated_cap = _stated(row, "engine_max_batch")
    engine_cap = _engine_cap() if stated_cap is None else float(stated_cap) / replicas
    cap = min(engine_cap, requests_in_run(row["caveats"]) / replicas)
    p = predict_setting(dep, input_tokens=i, output_tokens=o, batching=batching, batch=batch,
                        rate_per_s=per_replica_rate, concurrency=conc, batch_cap=cap)
    if latency and overloaded:
        return math.nan, p.regime, "measured throughput below the offered rate: queue time", p.batch
    system = p.replica_output_tokens_per_s * replicas
    metric = row["metric"]
    value = {"tpot_ms": 1e3 * p.tpot_s, "ttft_ms": 1e3 * p.ttft_s, "output_tokens_per_s": system,
             "output_tokens_per_s_per_gpu": system / float(row["n_gpus"]),
             "total_tokens_per_s": system * (i + o) / o, "requests_per_s": system / o,
             "batch_latency_ms": 1e3 * p.batch * o / p.replica_output_tokens_per_s}[metric]
    return float(value), p.regime, "", p.batch


def prediction_table(points: pd.DataFrame | None = None, **dep_kwargs) -> pd.DataFrame:
    """Every measured point beside the model's prediction.

    Columns: point_id, model, gpu, n_gpus, tensor_parallel, weight_dtype, engine, batching, batch_kind,
    input_tokens, output_tokens, metric, phase, role, measured, predicted, error (predicted ÷ measured − 1),
    abs_error, regime, batch_used, reason.
    """
    pts = load_points() if points is None else points
    over = measured_overload(pts)
    rows = []
    for k, r in pts.iterrows():
        pred, regime, reason, b = predict_point(r, bool(over[k]), **dep_kwargs)
        rows.append({"point_id": r["point_id"], "model": r["model"], "gpu": r["gpu"], "n_gpus": int(r["n_gpus"]),
                     "tensor_parallel": r["tensor_parallel"], "weight_dtype": r["weight_dtype"],
                     "engine": r["engine"], "batching": r["batching"], "batch_kind": r["batch_kind"],
                     "input_tokens": r["input_tokens"], "output_tokens": r["output_tokens"],
                     "metric": r["metric"], "phase": PHASE[r["metric"]], "role": r["role"],
                     "measured": float(r["value"]), "predicted": pred, "regime": regime, "batch_used": b,
                     "reason": reason})
    out = pd.DataFrame(rows)
    out["error"] = out["predicted"] / out["measured"] - 1
    out["abs_error"] = out["error"].abs()
    return out


def error_summary(table: pd.DataFrame, role: str = "validation", by: str = "metric") -> pd.DataFrame:
    """Median and max |error| of the predicted rows of ``role`` grouped by ``by`` (plus an ``all`` row).

    Columns: ``by``, points, predicted, median_abs_error, max_abs_error, median_error (signed).
    """
    sel = table[table["role"] == role]
    out = []
    for key, g in list(sel.groupby(by)) + [("all", sel)]:
        ok = g.dropna(subset=["predicted"])
        out.append({by: key, "points": len(g), "predicted": len(ok),
                    "median_abs_error": float(ok["abs_error"].median()) if len(ok) else math.nan,
                    "max_abs_error": float(ok["abs_error"].max()) if len(ok) else math.nan,
                    "median_error": float(ok["error"].median()) if len(ok) else math.nan})
    return pd.DataFrame(out)


#: Families of the validation by family: a dense model, an MoE model with per-head attention, an MLA model
#: (DeepSeek-V2/V3/R1, Kimi K2; MoE as well), and FP4 weights (any architecture). A point of an MoE model in FP4
#: counts in both ``moe`` and ``fp4``.
FAMILIES = ("dense", "moe", "mla", "fp4")


@lru_cache(maxsize=None)
def _shape(model: str) -> tuple[bool, bool]:
    from model.architectures import load_architecture

    arch = load_architecture(ARCHITECTURE_OF.get(model, model))
    return arch.is_moe, arch.attention == "MLA"


def family_mask(table: pd.DataFrame, family: str) -> pd.Series:
    """Rows of ``table`` (columns ``model``, ``weight_dtype``) in ``family`` (:data:`FAMILIES`)."""
    if family not in FAMILIES:
        from model.checks import ParameterError

        raise ParameterError("family", family, "one of " + ", ".join(FAMILIES))
    if family == "fp4":
        return table["weight_dtype"] == "fp4"
    shape = table["model"].map(_shape)
    moe, mla = shape.str[0].astype(bool), shape.str[1].astype(bool)
    return {"dense": ~moe & ~mla, "moe": moe & ~mla, "mla": mla}[family]


def family_summary(table: pd.DataFrame, role: str = "validation") -> pd.DataFrame:
    """Median and max |error| of the predicted ``role`` rows of ``table`` (:func:`prediction_table`) by family
    (:data:`FAMILIES`; a row may count in two).

    Columns: family, points, predicted, median_abs_error, max_abs_error, median_error (signed); fractions.
    """
    sel = table[table["role"] == role]
    out = []
    for fam in FAMILIES:
        g = sel[family_mask(sel, fam)]
        ok = g.dropna(subset=["predicted"])
        out.append({"family": fam, "points": len(g), "predicted": len(ok),
                    "median_abs_error": float(ok["abs_error"].median()) if len(ok) else math.nan,
                    "max_abs_error": float(ok["abs_error"].max()) if len(ok) else math.nan,
                    "median_error": float(ok["error"].median()) if len(ok) else math.nan})
    return pd.DataFrame(out)
