"""model.serving.accuracy_readings, hand-worked cases for its mutants. The step-time model's own predictions and
fit (prediction_table, fit_step_time) are replaced by tiny stand-ins whose errors are worked by hand, so that only
this module's logic is exercised: which rows it hands them, with which parameters, and how it reads their results."""
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from model.checks import ParameterError
from model.serving import accuracy_readings as r


def test_check_validation_messages():
    with pytest.raises(ParameterError) as e:
        r.check_validation(0.0, 0)
    assert str(e.value) == ("error_threshold=0.0 is not allowed: error_threshold must be a finite number in (0, 1]")
    with pytest.raises(ParameterError) as e:
        r.check_validation(0.5, -1)
    assert str(e.value) == "refit_evals=-1 is not allowed: refit_evals must be an integer in [0, inf]"
    r.check_validation(1.0, 0)


def test_load_predictions_before_reads_the_frozen_file():
    before = r.load_predictions_before()
    assert list(before.columns[:2]) == ["point_id", "predicted_before"]
    # data/measurements/step_time_predictions_before.csv: 475 rows under its header, the first a TRT-LLM H200 point
    assert len(before) == 475
    assert before["point_id"].iloc[0] == "trtllm-v0.17-tput:h200-141gb:tp1:qpsinf:128x128:output_tokens_per_s"
    assert before["predicted_before"].iloc[0] == 4525.14


def _points():
    return pd.DataFrame({"point_id": ["p", "q", "s"], "measured": [10.0, 20.0, 4.0], "predicted": [11.0, 18.0, 5.0]})


def test_validation_table_merges_the_predictions_before(monkeypatch):
    seen = []

    def fake(points, **kw):
        seen.append((points, kw))
        return points.copy()

    monkeypatch.setattr(r, "prediction_table", fake)
    pts = _points()
    before = pd.DataFrame({"point_id": ["s", "p", "x"], "predicted_before": [3.0, 15.0, 1.0]})
    t = r.validation_table(pts, before)
    assert seen[0][0] is pts and seen[0][1] == {}
    # left merge on point_id: p, q, s kept in order; q has no prediction before; x (not a point) dropped
    assert list(t["point_id"]) == ["p", "q", "s"]
    # p: 15 ÷ 10 − 1 = 0.5; s: 3 ÷ 4 − 1 = −0.25
    assert t["error_before"].iloc[0] == pytest.approx(0.5)
    assert math.isnan(t["error_before"].iloc[1])
    assert t["error_before"].iloc[2] == pytest.approx(-0.25)


def _table():
    # validation: two ttft (one rate-limited), one tpot; a metric (requests_per_s) only in a rate-limited row
    t = pd.DataFrame({
        "point_id": ["a", "b", "c", "d"], "role": ["validation"] * 4,
        "metric": ["ttft_ms", "ttft_ms", "tpot_ms", "requests_per_s"],
        "regime": ["", "rate-limited", "", "rate-limited"],
        "measured": [10.0, 10.0, 10.0, 10.0], "predicted": [12.0, 7.0, 9.0, 11.0],
        "predicted_before": [13.0, 15.0, 12.0, 10.0]})
    t["error"] = t["predicted"] / t["measured"] - 1
    t["abs_error"] = t["error"].abs()
    t["error_before"] = t["predicted_before"] / t["measured"] - 1
    return t


def test_before_after_summary_signed_median_and_the_left_join():
    s = r.before_after_summary(_table()).set_index("metric")
    # ttft errors +0.2, −0.3: signed median −0.05; all four: +0.2, −0.3, −0.1, +0.1: median 0.0
    assert s.loc["ttft_ms", "after_signed"] == pytest.approx(-0.05)
    assert s.loc["tpot_ms", "after_signed"] == pytest.approx(-0.1)
    # without the rate-limited rows: ttft a (+0.2) only, tpot c; requests_per_s has none: kept, NaN
    assert s.loc["ttft_ms", "predicted_not_rate_limited"] == 1
    assert s.loc["all", "predicted_not_rate_limited"] == 2
    assert "requests_per_s" in s.index and math.isnan(s.loc["requests_per_s", "median_not_rate_limited"])
    # before: ttft |+0.3|, |+0.5| → median 0.4, max 0.5
    assert s.loc["ttft_ms", "before_median"] == pytest.approx(0.4)
    assert s.loc["ttft_ms", "before_max"] == pytest.approx(0.5)
    assert list(s.columns) == ["points", "predicted", "after_median", "after_max", "after_signed", "predicted_before",
                               "before_median", "before_max", "predicted_not_rate_limited", "median_not_rate_limited"]


def test_errors_long_columns_and_index():
    val = pd.DataFrame({"phase": ["prefill"], "gpu": ["a100"], "weight_dtype": ["fp16"], "engine": ["vllm"],
                        "error": [0.25], "metric": ["ttft_ms"], "point_id": ["p"]}, index=[7])
    long = r.errors_long(val)
    assert list(long.columns) == ["dimension", "group", "error_pct", "metric", "point"]
    assert list(long.index) == [0, 1, 2, 3]
    assert list(long["metric"]) == ["ttft_ms"] * 4 and list(long["point"]) == ["p"] * 4
    assert list(long["group"]) == ["prefill", "a100", "fp16", "vllm"] and list(long["error_pct"]) == [25.0] * 4


def test_failures_exclude_the_threshold_and_sources_come_most_first():
    val = pd.DataFrame({"point_id": ["x:1", "y:1", "y:2", "z:1"], "abs_error": [0.25, 0.5, 0.3, 0.75]})
    f = r.failures(val, 0.25)             # 0.25 itself is not a miss
    assert list(f["point_id"]) == ["z:1", "y:1", "y:2"]
    src = r.failure_sources(f)
    assert list(src.index) == ["y", "z"] and list(src["size"]) == [2, 1] and list(src["max"]) == [0.5, 0.75]


def test_family_table_earlier_and_added_read_the_all_row_and_number_the_rows():
    t = pd.DataFrame({"point_id": ["d:1", "d:2", "d:3"], "model": ["llama-3.1-8b"] * 3, "weight_dtype": ["fp8"] * 3,
                      "role": ["validation"] * 3, "metric": ["ttft_ms", "tpot_ms", "tpot_ms"],
                      "measured": [100.0] * 3, "predicted": [110.0, 70.0, 90.0]})
    t["error"] = t["predicted"] / t["measured"] - 1
    t["abs_error"] = t["error"].abs()
    before = pd.DataFrame({"point_id": ["d:1", "d:2", "d:3"]})
    f = r.family_table(t, before)
    assert list(f.index) == list(range(len(f)))
    e = f.set_index("family").loc["earlier"]
    # all three: |errors| 0.1, 0.3, 0.1 → median 0.1, max 0.3, signed (+0.1, −0.3, −0.1) median −0.1
    assert e["predicted"] == 3 and e["median_abs_error"] == pytest.approx(0.1)
    assert e["max_abs_error"] == pytest.approx(0.3) and e["median_error"] == pytest.approx(-0.1)


def test_genz_takes_fp16_points_and_a_missing_batch_as_one_and_nan_when_not_run():
    genz = pd.DataFrame({"phase": ["prefill"], "dtype": ["bf16"], "model": ["m"], "gpu": ["g"], "tp": [2],
                         "tokens": [100], "genz_ms": [7.0]})
    base = dict(model="m", gpu="g", tensor_parallel=2.0, input_tokens=100.0, metric="ttft_ms", batch_kind="fixed",
                weight_dtype="fp16")
    out = r.genz_prefill_ms(pd.DataFrame([base]), genz)      # no batch_used column: one prompt
    assert list(out) == [7.0]
    missing = r.genz_prefill_ms(pd.DataFrame([base | {"input_tokens": 300.0}]), genz)
    assert missing.dtype == np.float64 and math.isnan(missing.iloc[0])


def test_goal_phrase_at_the_goals_meets_them():
    assert r.goal_phrase(0.12, 0.40) == "meets both goals"
    assert r.goal_phrase(0.5, 0.5, goals=(0.5, 0.5)) == "meets both goals"


def test_parameter_table_meaning():
    from model.serving.step_time_fit import FITTED
    stored = {k: 1.0 for k in FITTED}
    p = r.parameter_table(stored, stored).set_index("parameter")
    assert p.loc["mfu", "meaning"] == "dense matmuls, share of the tensor peak"
    assert p.loc["overlap", "meaning"] == "share of the shorter of compute and memory time not hidden"


def _fake_fit(calls):
    def fit(points=None, *, max_evals=600, start=None, only=None, rows=None):
        calls.append(dict(points=points, max_evals=max_evals, start=start, only=only, rows=rows))
        name = only[0] if only else "mfu"
        n = len(points) if rows is None else int(rows.sum())
        return SimpleNamespace(params={**start, name: 10.0 * n + max_evals})
    return fit


def test_refit_parameters_hands_the_points_evaluations_and_start_to_the_fit(monkeypatch):
    calls = []
    monkeypatch.setattr(r, "fit_step_time", _fake_fit(calls))
    pts = _points()
    stored = {"mfu": 0.5, "overlap": 0.2}
    out = r.refit_parameters(pts, stored, 1)                 # one evaluation already refits
    assert len(calls) == 1
    assert calls[0]["points"] is pts and calls[0]["max_evals"] == 1 and calls[0]["start"] is stored
    assert out == {"mfu": 31.0, "overlap": 0.2}               # stand-in: 10 × 3 points + 1 evaluation


def test_fit_by_set_fits_the_parameter_alone_on_each_set(monkeypatch):
    calls = []
    monkeypatch.setattr(r, "fit_step_time", _fake_fit(calls))
    pts = pd.DataFrame({"point_id": ["a", "b", "c", "d"], "role": ["calibration"] * 4})
    before = pd.DataFrame({"point_id": ["c", "z"]})
    stored = {"mfu": 0.5, "overlap": 0.2}
    out = r.fit_by_set(pts, stored, before, "overlap")
    # earlier: c only (10 × 1 + 60 evaluations); added: a, b, d (10 × 3 + 60)
    assert out == {"earlier": 70.0, "added": 90.0}
    assert [list(c["rows"]) for c in calls] == [[False, False, True, False], [True, True, False, True]]
    for c in calls:
        assert c["points"] is pts and c["start"] is stored and c["only"] == ("overlap",) and c["max_evals"] == 60
    assert r.fit_by_set(pts, stored, before, "overlap", max_evals=5) == {"earlier": 15.0, "added": 35.0}


def _fake_prediction(calls):
    def pt(points, **kw):
        calls.append(kw)
        out = points.copy()
        mfu = kw.get("mfu", 1.0)
        kv = np.where(out["kv_dtype"].isna(), 0.1, np.where(out["kv_dtype"] == "fp8", 0.3, 0.2))
        out["error"] = out["scale"] * mfu * kv
        out["predicted"] = out["measured"] * (1 + out["error"])
        out["abs_error"] = out["error"].abs()
        return out
    return pt


def test_parameter_pull_by_hand(monkeypatch):
    calls = []
    monkeypatch.setattr(r, "prediction_table", _fake_prediction(calls))
    pts = pd.DataFrame({
        "point_id": ["c1", "c2", "c3", "c4", "v1"], "role": ["calibration"] * 4 + ["validation"],
        "metric": ["ttft_ms"] * 5, "input_tokens": [1, 2, 3, 4, 5], "output_tokens": [6, 7, 8, 9, 10],
        "weight_dtype": ["fp16"] * 5, "kv_dtype": [None] * 5, "measured": [1.0] * 5,
        "scale": [1.0, -1.0, math.nan, 0.0, 5.0]})
    out = r.parameter_pull(pts, {"mfu": 1.5, "overlap": 0.5}, "mfu", 2.0)
    assert calls == [{"mfu": 1.5, "overlap": 0.5}, {"mfu": 3.0, "overlap": 0.5}]
    assert list(out.columns) == ["point_id", "metric", "input_tokens", "output_tokens", "weight_dtype", "error",
                                 "error_moved", "pull"]
    # errors = scale × mfu × 0.1. c2: −0.15 → −0.3, |ln 0.85| = 0.16252, |ln 0.7| = 0.35667, pull 0.19416;
    # c1: +0.15 → +0.3, pull ln 1.3 − ln 1.15 = 0.12260; c4: 0 → 0, pull 0; c3 (NaN) dropped; v1 not calibration
    assert list(out["point_id"]) == ["c2", "c1", "c4"]
    assert list(out.index) == [0, 1, 2]
    assert out["error"].tolist() == pytest.approx([-0.15, 0.15, 0.0])
    assert out["error_moved"].tolist() == pytest.approx([-0.3, 0.3, 0.0])
    assert out["pull"].tolist() == pytest.approx([0.19416, 0.12260, 0.0], abs=1e-5)
    assert list(out["input_tokens"]) == [2, 1, 4] and list(out["output_tokens"]) == [7, 6, 9]
    assert list(out["metric"]) == ["ttft_ms"] * 3 and list(out["weight_dtype"]) == ["fp16"] * 3


def test_parameter_pull_keeps_a_point_with_an_unstated_length(monkeypatch):
    """Only a point without a pull is dropped: a point whose output length is not stated (NaN) still pulls."""
    monkeypatch.setattr(r, "prediction_table", _fake_prediction([]))
    pts = pd.DataFrame({"point_id": ["c1"], "role": ["calibration"], "metric": ["requests_per_s"],
                        "input_tokens": [100.0], "output_tokens": [math.nan], "weight_dtype": ["fp16"],
                        "kv_dtype": [None], "measured": [1.0], "scale": [1.0]})
    out = r.parameter_pull(pts, {"mfu": 1.0}, "mfu", 3.0)
    # error 0.1 → 0.3: pull ln 1.3 − ln 1.1 = 0.16705
    assert list(out["point_id"]) == ["c1"] and out["pull"].iloc[0] == pytest.approx(0.16705, abs=1e-5)


def test_unstated_kv_what_if_by_hand(monkeypatch):
    calls = []
    monkeypatch.setattr(r, "prediction_table", _fake_prediction(calls))
    pts = pd.DataFrame({
        "point_id": ["v1", "v2", "c1", "s1", "o1"],
        "role": ["validation", "validation", "calibration", "calibration", "calibration"],
        "metric": ["ttft_ms"] * 5, "weight_dtype": ["fp4", "fp4", "fp4", "fp4", "fp8"],
        "kv_dtype": [None, None, None, "fp16", None], "measured": [1.0] * 5, "scale": [3.0, 3.0, 1.0, 7.0, 9.0]})
    out = r.unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp8", params={"mfu": 2.0}, role="calibration")
    # the one unstated FP4 calibration point c1: taken 1 × 2 × 0.1 = 0.2; with an FP8 KV cache 1 × 2 × 0.3 = 0.6
    assert out == pytest.approx({"points": 1, "median_abs_error": 0.2, "median_error": 0.2,
                                 "median_abs_error_if": 0.6, "median_error_if": 0.6})
    assert calls == [{"mfu": 2.0}, {"mfu": 2.0}]
    # by default the validation points: v1, v2 (3 × 1 × 0.1 = 0.3, then 3 × 0.3 = 0.9)
    out = r.unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp8")
    assert out == pytest.approx({"points": 2, "median_abs_error": 0.3, "median_error": 0.3,
                                 "median_abs_error_if": 0.9, "median_error_if": 0.9})
    with pytest.raises(ParameterError, match=r"^weight_dtype='fp3' is not allowed: weight_dtype must be one of "):
        r.unstated_kv_what_if(pts, weight_dtype="fp3", kv_dtype="fp8")
    with pytest.raises(ParameterError, match=r"^kv_dtype='fp3' is not allowed: kv_dtype must be one of "):
        r.unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp3")
