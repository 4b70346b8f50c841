"""Fit of the step-time model's efficiencies and overheads on the **calibration** rows of
``data/measurements/step_time_points.csv`` (the validation rows are never seen by the fit).

The fitted parameters (:data:`FITTED`) are those of :class:`model.serving.step_time.Deployment`: MFU and MBU of the
dense matmuls and weight reads, the attention kernels' own MFU and MBU, the tokens at which the matmuls reach
half their MFU, the compute/memory overlap, the fixed overhead per layer, the latency of one all-reduce and the
8-bit kernels' efficiencies. The loss is a soft-L1 (pseudo-Huber) on log(predicted ÷ measured) with scale
:data:`LOSS_SCALE`, so that a few points the model cannot represent (queueing, engine quirks) do not drag the
others; the minimiser is a seeded-free, deterministic Nelder–Mead on transformed parameters (logit for
fractions, log for non-negative seconds and tokens). Same points, same start → same result.

The values stored in ``data/parameters/batching.csv`` are outputs of :func:`fit_step_time` (rounded to three
significant figures): the parameters every point uses were fitted on the 152 calibration rows of the 70B-class
Llama points (the CSV at sha256 ``2d907ed9...``); the FP4 kernels' efficiencies (``fp4_mfu``, ``fp4_mbu``), which
only FP4 points use, the routed experts' efficiency (``expert_mfu``), which only MoE points use, and the host
overhead per running sequence (``sequence_overhead_s``) were then fitted together on all the calibration rows with
the others held at their stored values (``only=("expert_mfu", "sequence_overhead_s", "fp4_mfu", "fp4_mbu")``).
The earlier 70B Llama points use none of these but the sequence overhead, which moved their validation median
from 7.70% to 7.35%. ``tests/serving/test_step_time_fit.py`` and the validation chapter rerun
the fit and compare.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.serving.step_time_accuracy import load_points, prediction_table

#: Parameter -> (Deployment field, kind): kind "fraction" (0, 1), "fraction0" [0, 1), "positive" (≥ 0).
FITTED = {
    "mfu": "fraction", "mbu": "fraction", "attention_mfu": "fraction", "attention_mbu": "fraction",
    "mfu_half_tokens": "positive", "overlap": "fraction", "layer_overhead_s": "positive",
    "allreduce_latency_s": "positive", "low_precision_mfu": "fraction", "low_precision_mbu": "fraction",
    "fp4_mfu": "fraction", "fp4_mbu": "fraction", "expert_mfu": "fraction", "sequence_overhead_s": "positive",
}
#: Rows of data/parameters/batching.csv holding each fitted field.
PARAMETER_NAME = {
    "mfu": "batching_prefill_mfu", "mbu": "batching_decode_mbu", "attention_mfu": "step_attention_mfu",
    "attention_mbu": "step_attention_mbu", "mfu_half_tokens": "step_mfu_half_tokens",
    "overlap": "step_overlap", "layer_overhead_s": "step_layer_overhead_s",
    "allreduce_latency_s": "step_allreduce_latency_s", "low_precision_mfu": "step_low_precision_mfu",
    "low_precision_mbu": "step_low_precision_mbu", "fp4_mfu": "step_fp4_mfu", "fp4_mbu": "step_fp4_mbu",
    "expert_mfu": "step_expert_mfu", "sequence_overhead_s": "step_sequence_overhead_s",
}
#: Scale of the soft-L1 loss on log errors (errors well below it count quadratically, above it linearly).
LOSS_SCALE = 0.1
#: Start of the search: plain roofline at the old single-point calibration (MFU 0.63, MBU 0.584).
START = {"mfu": 0.63, "mbu": 0.584, "attention_mfu": 0.5, "attention_mbu": 0.5, "mfu_half_tokens": 64.0,
         "overlap": 0.2, "layer_overhead_s": 20e-6, "allreduce_latency_s": 10e-6, "low_precision_mfu": 0.7,
         "low_precision_mbu": 0.9, "fp4_mfu": 0.7, "fp4_mbu": 0.9,
         "expert_mfu": 0.5, "sequence_overhead_s": 5e-6}
_FLOOR = {"mfu_half_tokens": 1.0, "layer_overhead_s": 1e-7, "allreduce_latency_s": 1e-7, "sequence_overhead_s": 1e-9}


def _to_x(params: dict, names=tuple(FITTED)) -> np.ndarray:
    x = []
    for name in names:
        kind = FITTED[name]
        v = float(params[name])
        if kind == "fraction":
            v = min(max(v, 1e-6), 1 - 1e-6)
            x.append(math.log(v / (1 - v)))
        else:
            x.append(math.log(max(v, _FLOOR[name])))
    return np.array(x)


def _from_x(x: np.ndarray, names=tuple(FITTED)) -> dict:
    out = {}
    for name, v in zip(names, x):
        out[name] = 1 / (1 + math.exp(-v)) if FITTED[name] == "fraction" else math.exp(v)
    return out


def loss(table: pd.DataFrame) -> float:
    """Mean soft-L1 loss of log(predicted ÷ measured) over the predicted rows of ``table``."""
    ok = table.dropna(subset=["predicted"])
    ok = ok[ok["predicted"] > 0]
    r = np.log(ok["predicted"].to_numpy() / ok["measured"].to_numpy()) / LOSS_SCALE
    return float(np.mean(2 * (np.sqrt(1 + r * r) - 1)))


def nelder_mead(f, x0: np.ndarray, *, step: float = 0.5, max_evals: int = 600, tol: float = 1e-5):
    """Deterministic Nelder–Mead minimiser (standard coefficients 1, 2, 0.5, 0.5). Returns (x, f(x), evals)."""
    n = len(x0)
    pts = [np.array(x0, float)] + [np.array(x0, float) + step * np.eye(n)[i] for i in range(n)]
    vals = [f(p) for p in pts]
    evals = n + 1
    while evals < max_evals:
        order = np.argsort(vals)
        pts = [pts[i] for i in order]
        vals = [vals[i] for i in order]
        if abs(vals[-1] - vals[0]) <= tol * (abs(vals[0]) + tol):
            break
        centre = np.mean(pts[:-1], axis=0)
        xr = centre + (centre - pts[-1])
        fr = f(xr)
        evals += 1
        if fr < vals[0]:
            xe = centre + 2 * (centre - pts[-1])
            fe = f(xe)
            evals += 1
            pts[-1], vals[-1] = (xe, fe) if fe < fr else (xr, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = xr, fr
        else:
            xc = centre + 0.5 * (pts[-1] - centre) if fr >= vals[-1] else centre + 0.5 * (xr - centre)
            fc = f(xc)
            evals += 1
            if fc < min(fr, vals[-1]):
                pts[-1], vals[-1] = xc, fc
            else:
                for i in range(1, n + 1):
                    pts[i] = pts[0] + 0.5 * (pts[i] - pts[0])
                    vals[i] = f(pts[i])
                evals += n
    i = int(np.argmin(vals))
    return pts[i], vals[i], evals


@dataclass(frozen=True)
class StepTimeFit:
    """Result of :func:`fit_step_time`.

    Attributes
    ----------
    params : dict
        Fitted :class:`model.serving.step_time.Deployment` fields (unrounded).
    loss : float
        Loss at the fit (calibration rows).
    evaluations : int
        Loss evaluations spent.
    calibration_rows : int
        Calibration rows the model predicts (the fit's data).
    """

    params: dict
    loss: float
    evaluations: int
    calibration_rows: int

    def rounded(self, digits: int = 3) -> dict:
        """Parameters rounded to ``digits`` significant figures (as stored in ``data/parameters``)."""
        return {k: float(f"{v:.{digits}g}") for k, v in self.params.items()}


def fit_step_time(points: pd.DataFrame | None = None, *, max_evals: int = 600,
                  start: dict | None = None, only: tuple[str, ...] | None = None,
                  rows: pd.Series | None = None) -> StepTimeFit:
    """Fit :data:`FITTED` on the calibration rows of ``points`` (default: the measured points).

    ``only`` fits those parameters alone, the others held at ``start``; ``rows`` (a boolean mask over ``points``)
    restricts the fit to those calibration rows. The result's ``params`` holds every parameter."""
    pts = load_points() if points is None else points
    cal = pts[(pts["role"] == "calibration") & (True if rows is None else rows)]
    if len(cal) == 0:
        raise ValueError("points: no calibration rows")
    names = tuple(FITTED) if only is None else tuple(only)
    base = dict(start or START)

    def params(x):
        return {**base, **_from_x(x, names)}

    def f(x):
        try:
            return loss(prediction_table(cal, **params(x)))
        except Exception:  # a parameter set the model rejects
            return math.inf

    x, fx, evals = nelder_mead(f, _to_x(base, names), max_evals=max_evals)
    table = prediction_table(cal, **params(x))
    return StepTimeFit(params(x), fx, evals, int(table["predicted"].notna().sum()))
