"""Readings of the step-time model's accuracy: the validation points with the errors before the fit, the
error summary before and after, the errors by family (dense, MoE, MLA, FP4) and of the earlier points, the
fitted parameters stored against a refit, the points that pull one parameter, GenZ's prefill times beside the
points, the errors by group and the misses above a threshold."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.checks import check_fraction, check_int
from model.io import DATA
from model.parameters import default
from model.serving.step_time_accuracy import error_summary, family_summary, prediction_table
from model.serving.step_time_fit import FITTED, PARAMETER_NAME, fit_step_time

#: What each fitted step-time parameter is.
PARAMETER_MEANING = {
    "mfu": "dense matmuls, share of the tensor peak", "mbu": "weight reads, share of HBM bandwidth",
    "attention_mfu": "attention FLOPs, share of the FP16 peak", "attention_mbu": "KV-cache reads, share of HBM bandwidth",
    "mfu_half_tokens": "step tokens at which the matmuls reach half their MFU",
    "overlap": "share of the shorter of compute and memory time not hidden",
    "layer_overhead_s": "fixed time per layer per step", "allreduce_latency_s": "fixed time per all-reduce",
    "low_precision_mfu": "FP8/INT8 matmul efficiency relative to FP16",
    "low_precision_mbu": "FP8/INT8 weight-read efficiency relative to FP16",
    "fp4_mfu": "FP4 matmul efficiency (against the FP4 peak) relative to FP16",
    "fp4_mbu": "FP4 weight-read efficiency relative to FP16",
    "expert_mfu": "routed-expert matmul efficiency relative to the dense matmuls",
    "sequence_overhead_s": "host time per running sequence per step"}
#: Unit each parameter is shown in (the others are fractions).
PARAMETER_UNIT = {"mfu_half_tokens": "tokens", "layer_overhead_s": "µs", "allreduce_latency_s": "µs",
                  "sequence_overhead_s": "µs"}
#: Factor from a parameter's stored unit to the unit shown (seconds → µs).
PARAMETER_SCALE = {"layer_overhead_s": 1e6, "allreduce_latency_s": 1e6, "sequence_overhead_s": 1e6}

#: How the chapter names each row of :func:`family_table`.
FAMILY_LABELS = {"dense": "Dense (MHA/GQA)", "moe": "MoE (per-head attention)", "mla": "MLA (and MoE)",
                 "fp4": "FP4 weights (any architecture)", "earlier": "Earlier points (70B Llama, A100-H200)",
                 "added": "Added points (all four families)"}
#: Goals on the added validation points (median and largest |error|, fractions): issue 19, part 3.
ADDED_GOALS = (0.12, 0.40)

#: The groupings of the validation errors: dimension label → column of the points table.
ERROR_DIMENSIONS = (("phase", "phase"), ("GPU", "gpu"), ("weight precision", "weight_dtype"), ("engine", "engine"))


def check_validation(error_threshold, refit_evals) -> None:
    """Raise :class:`model.checks.ParameterError` unless ``error_threshold`` is a fraction in (0, 1] and
    ``refit_evals`` (Nelder-Mead evaluations of the refit) a whole number ≥ 0."""
    check_fraction("error_threshold", error_threshold, allow_zero=False)
    check_int("refit_evals", refit_evals, low=0)


def load_predictions_before() -> pd.DataFrame:
    """The step-time model's predictions before the fit, ``point_id, predicted_before`` (the point's unit),
    from ``data/measurements/step_time_predictions_before.csv``."""
    return pd.read_csv(DATA / "measurements" / "step_time_predictions_before.csv")


def validation_table(points: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Every point's prediction now and before the fit.

    Parameters
    ----------
    points : pandas.DataFrame
        :func:`model.serving.step_time_accuracy.load_points`.
    before : pandas.DataFrame
        ``point_id, predicted_before`` (:func:`load_predictions_before`).

    Returns
    -------
    pandas.DataFrame
        :func:`~model.serving.step_time_accuracy.prediction_table` with ``predicted_before`` (the point's
        unit) and ``error_before`` (predicted before ÷ measured − 1, fraction; NaN where not predicted).
    """
    table = prediction_table(points).merge(before, on="point_id", how="left")
    table["error_before"] = table["predicted_before"] / table["measured"] - 1
    return table


def validation_rows(table: pd.DataFrame, predicted: str = "predicted") -> pd.DataFrame:
    """The validation rows of ``table`` that column ``predicted`` predicts (not NaN)."""
    return table[(table["role"] == "validation") & table[predicted].notna()]


def before_after_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The error by metric after the fit, before it, and after it without the rate-limited rows.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`validation_table`.

    Returns
    -------
    pandas.DataFrame
        :func:`~model.serving.step_time_accuracy.error_summary`'s ``metric, points, predicted`` with
        ``after_median, after_max, after_signed`` (median |error|, max |error|, median error after the fit),
        ``predicted_before, before_median, before_max`` (before it) and ``predicted_not_rate_limited,
        median_not_rate_limited`` (rows where the offered rate sets the figure left out); errors are fractions.
    """
    after = error_summary(table).rename(columns={"median_abs_error": "after_median", "max_abs_error": "after_max",
                                                 "median_error": "after_signed"})
    bt = table.assign(predicted=table["predicted_before"], error=table["error_before"],
                      abs_error=table["error_before"].abs())
    bef = error_summary(bt)[["metric", "predicted", "median_abs_error", "max_abs_error"]].rename(
        columns={"predicted": "predicted_before", "median_abs_error": "before_median", "max_abs_error": "before_max"})
    summary = after.merge(bef, on="metric")
    core = table[table["regime"] != "rate-limited"]
    core_sum = error_summary(core)[["metric", "predicted", "median_abs_error"]].rename(
        columns={"predicted": "predicted_not_rate_limited", "median_abs_error": "median_not_rate_limited"})
    return summary.merge(core_sum, on="metric", how="left")


def stored_parameters() -> dict[str, float]:
    """The fitted step-time parameters as stored in ``data/parameters`` (their own units: fractions,
    tokens, seconds), by :data:`~model.serving.step_time_fit.FITTED` name."""
    return {k: float(default(PARAMETER_NAME[k])) for k in FITTED}


def refit_parameters(points: pd.DataFrame, stored: dict[str, float], max_evals: int) -> dict[str, float]:
    """The parameters refitted on ``points`` by ``max_evals`` Nelder-Mead evaluations from ``stored``;
    ``stored`` itself (a copy) when ``max_evals`` is 0."""
    if max_evals > 0:
        return fit_step_time(points, max_evals=max_evals, start=stored).params
    return dict(stored)


def parameter_table(stored: dict[str, float], refit: dict[str, float]) -> pd.DataFrame:
    """The fitted parameters, stored against refit.

    Returns
    -------
    pandas.DataFrame
        ``parameter, meaning, unit`` (text), ``stored, refit`` (in ``unit``: fractions, tokens or µs) and
        ``change`` (refit ÷ stored − 1, fraction), one row per fitted parameter.
    """
    params = pd.DataFrame([{"parameter": k, "meaning": PARAMETER_MEANING[k], "unit": PARAMETER_UNIT.get(k, "fraction"),
                            "stored": stored[k] * PARAMETER_SCALE.get(k, 1),
                            "refit": refit[k] * PARAMETER_SCALE.get(k, 1)} for k in FITTED])
    params["change"] = params["refit"] / params["stored"] - 1
    return params


def genz_prefill_ms(table: pd.DataFrame, genz: pd.DataFrame) -> pd.Series:
    """GenZ's BF16 prefill time (ms, at efficiency 1) of each single-prompt FP16/BF16 TTFT point of ``table``.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`validation_table`.
    genz : pandas.DataFrame
        ``data/genz/comparison.csv``: ``phase, dtype, model, gpu, tp, tokens, genz_ms``.

    Returns
    -------
    pandas.Series
        Aligned with ``table``: the GenZ time where ``table``'s point is a fixed-batch TTFT of one prompt with
        FP16/BF16 weights and a stated tensor parallelism that GenZ ran, else NaN.
    """
    g = genz[(genz["phase"] == "prefill") & (genz["dtype"] == "bf16")]
    key = {(r.model, r.gpu, int(r.tp), int(r.tokens)): r.genz_ms for r in g.itertuples()}

    def one(r):
        if r["weight_dtype"] not in ("fp16", "bf16") or not math.isfinite(r["tensor_parallel"]):
            return math.nan
        if r["metric"] == "ttft_ms" and r["batch_kind"] == "fixed" and r["input_tokens"] == r["input_tokens"]:
            if r.get("batch_used", 1) == 1:
                return key.get((r["model"], r["gpu"], int(r["tensor_parallel"]), int(r["input_tokens"])), math.nan)
        return math.nan

    return table.apply(one, axis=1)


def errors_long(val: pd.DataFrame) -> pd.DataFrame:
    """The validation errors once per grouping of :data:`ERROR_DIMENSIONS`.

    Returns
    -------
    pandas.DataFrame
        ``dimension, group`` (text), ``error_pct`` (predicted ÷ measured − 1, %), ``metric, point``.
    """
    return pd.concat([pd.DataFrame({"dimension": dim, "group": val[col].astype(str), "error_pct": 100 * val["error"],
                                    "metric": val["metric"], "point": val["point_id"]})
                      for dim, col in ERROR_DIMENSIONS], ignore_index=True)


def median_abs_error_by_group(long: pd.DataFrame) -> dict[str, pd.Series]:
    """Median |error| (%) of each group of :func:`errors_long`, by dimension."""
    return {dim: long[long["dimension"] == dim].groupby("group")["error_pct"].apply(lambda s: s.abs().median())
            for dim in long["dimension"].unique()}


def failures(val: pd.DataFrame, error_threshold: float) -> pd.DataFrame:
    """The validation rows whose |error| exceeds ``error_threshold`` (fraction), largest first."""
    return val[val["abs_error"] > error_threshold].sort_values("abs_error", ascending=False)


def failure_sources(fails: pd.DataFrame) -> pd.DataFrame:
    """The misses by source (the point id's text before the first ``:``), most misses first.

    Returns
    -------
    pandas.DataFrame
        Indexed by source: ``size`` (misses) and ``max`` (largest |error|, fraction).
    """
    return fails.assign(source=fails["point_id"].str.split(":").str[0]).groupby("source")["abs_error"].agg(
        ["size", "max"]).sort_values("size", ascending=False)


def family_table(table: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """The validation error by family (:func:`model.serving.step_time_accuracy.family_summary`), plus a row
    ``earlier`` for the points that predate the MoE, MLA and FP4 rows (those ``before`` holds a prediction row for:
    ``data/measurements/step_time_predictions_before.csv`` was frozen with them) and ``added`` for the others.

    Returns
    -------
    pandas.DataFrame
        ``family, points, predicted, median_abs_error, max_abs_error, median_error`` (fractions).
    """
    out = [family_summary(table)]
    earlier = table["point_id"].isin(before["point_id"])
    for name, sel in (("earlier", earlier), ("added", ~earlier)):
        s = error_summary(table[sel])
        out.append(s[s["metric"] == "all"].drop(columns="metric").assign(family=name))
    return pd.concat(out, ignore_index=True)[["family", "points", "predicted", "median_abs_error", "max_abs_error",
                                              "median_error"]]


def parameter_pull(points: pd.DataFrame, params: dict[str, float], name: str, factor: float) -> pd.DataFrame:
    """Which calibration points hold parameter ``name`` where it is: each calibration point's |log error| with
    ``params`` and with ``name`` multiplied by ``factor``, largest increase first.

    Returns
    -------
    pandas.DataFrame
        ``point_id, metric, input_tokens, output_tokens, weight_dtype, error`` (at ``params``, fraction),
        ``error_moved`` (with the parameter moved) and ``pull`` (increase of |log(predicted ÷ measured)|).
    """
    cal = points[points["role"] == "calibration"]
    at = prediction_table(cal, **params)
    moved = prediction_table(cal, **{**params, name: params[name] * factor})
    out = at[["point_id", "metric", "input_tokens", "output_tokens", "weight_dtype", "error"]].copy()
    out["error_moved"] = moved["error"].to_numpy()
    out["pull"] = (np.log1p(out["error_moved"]).abs() - np.log1p(out["error"]).abs())
    return out.dropna(subset=["pull"]).sort_values("pull", ascending=False, ignore_index=True)


def goal_phrase(median: float, largest: float, goals: tuple[float, float] = ADDED_GOALS) -> str:
    """Whether a median and a largest |error| (fractions) meet ``goals`` (median, largest), in words."""
    ok_median, ok_max = median <= goals[0], largest <= goals[1]
    if ok_median and ok_max:
        return "meets both goals"
    if ok_median:
        return "meets the goal on the median but not on the largest miss"
    if ok_max:
        return "meets the goal on the largest miss but not on the median"
    return "misses both goals"


def fit_by_set(points: pd.DataFrame, stored: dict[str, float], before: pd.DataFrame, name: str,
               max_evals: int = 60) -> dict[str, float]:
    """Parameter ``name`` fitted alone (the others held at ``stored``) on the calibration points of each set:
    ``earlier`` (those ``before`` holds, the 70B Llama points) and ``added`` (the others).

    Returns
    -------
    dict
        ``{"earlier": value, "added": value}`` in the parameter's stored unit.
    """
    earlier = points["point_id"].isin(before["point_id"])
    return {key: fit_step_time(points, start=stored, only=(name,), rows=mask, max_evals=max_evals).params[name]
            for key, mask in (("earlier", earlier), ("added", ~earlier))}


def unstated_kv_what_if(points: pd.DataFrame, *, weight_dtype: str, kv_dtype: str, params: dict | None = None,
                        role: str = "validation") -> dict[str, float]:
    """How much the unstated KV-cache format of the ``weight_dtype`` points moves their error: the points in
    ``weight_dtype`` whose ``kv_dtype`` column is empty, predicted as the model takes them (an unstated KV cache in
    the weights' format, 16-bit for FP4) and again with ``kv_dtype``, the fitted parameters ``params`` left as they
    are (no refit).

    Returns
    -------
    dict
        ``points`` (the ``role`` points concerned), ``median_abs_error``, ``median_error`` (signed) as taken and
        ``median_abs_error_if``, ``median_error_if`` with ``kv_dtype``; fractions.
    """
    from model.checks import check_choice
    from model.formats import DTYPES

    check_choice("weight_dtype", weight_dtype, DTYPES)
    check_choice("kv_dtype", kv_dtype, DTYPES)
    unstated = (points["weight_dtype"] == weight_dtype) & points["kv_dtype"].isna()
    sel = points[unstated]
    kw = params or {}
    taken = prediction_table(sel, **kw)
    changed = prediction_table(sel.assign(kv_dtype=kv_dtype), **kw)
    a = error_summary(taken, role=role).set_index("metric").loc["all"]
    b = error_summary(changed, role=role).set_index("metric").loc["all"]
    return {"points": int(a["predicted"]), "median_abs_error": float(a["median_abs_error"]),
            "median_error": float(a["median_error"]), "median_abs_error_if": float(b["median_abs_error"]),
            "median_error_if": float(b["median_error"])}
