"""model.serving.accuracy_readings: the validation chapter's tables against hand-made points, and its
parameter check naming the bad parameter."""
import math

import pandas as pd
import pytest

from model.checks import ParameterError
from model.serving import accuracy_readings as r
from model.serving.step_time_fit import FITTED


def _table():
    return pd.DataFrame({
        "point_id": ["a:1", "a:2", "b:1", "c:1", "d:1"],
        "role": ["validation", "validation", "validation", "calibration", "validation"],
        "metric": ["ttft_ms", "ttft_ms", "tpot_ms", "ttft_ms", "tpot_ms"],
        "regime": ["", "rate-limited", "", "", ""],
        "measured": [10.0, 20.0, 5.0, 8.0, 4.0],
        "predicted": [12.0, 10.0, 5.5, 8.0, math.nan],
        "predicted_before": [15.0, math.nan, 4.0, 8.0, 2.0]}).assign(
        error=lambda d: d.predicted / d.measured - 1, abs_error=lambda d: (d.predicted / d.measured - 1).abs(),
        error_before=lambda d: d.predicted_before / d.measured - 1)


def test_check_validation_names_the_bad_parameter():
    r.check_validation(0.35, 0)
    with pytest.raises(ParameterError, match="error_threshold"):
        r.check_validation(0.0, 40)
    with pytest.raises(ParameterError, match="refit_evals"):
        r.check_validation(0.35, -1)


def test_validation_rows_keep_the_predicted_validation_points():
    t = _table()
    assert list(r.validation_rows(t)["point_id"]) == ["a:1", "a:2", "b:1"]
    assert list(r.validation_rows(t, "predicted_before")["point_id"]) == ["a:1", "b:1", "d:1"]


def test_before_after_summary_medians_before_after_and_without_rate_limited_rows():
    s = r.before_after_summary(_table()).set_index("metric")
    assert list(s.index) == ["tpot_ms", "ttft_ms", "all"]
    assert s.loc["ttft_ms", "after_median"] == pytest.approx((0.2 + 0.5) / 2)
    assert s.loc["ttft_ms", "after_max"] == pytest.approx(0.5)
    assert s.loc["ttft_ms", "before_median"] == pytest.approx(0.5)  # only a:1 was predicted before
    assert s.loc["ttft_ms", "predicted_before"] == 1
    assert s.loc["ttft_ms", "median_not_rate_limited"] == pytest.approx(0.2)
    assert s.loc["tpot_ms", "before_max"] == pytest.approx(0.5)  # d:1, 2 against 4
    assert s.loc["all", "predicted"] == 3 and s.loc["all", "points"] == 4


def test_parameter_table_scales_seconds_to_microseconds_and_measures_the_change():
    stored = {k: 1.0 for k in FITTED} | {"layer_overhead_s": 2e-5}
    refit = dict(stored) | {"mfu": 1.1, "layer_overhead_s": 1e-5}
    p = r.parameter_table(stored, refit).set_index("parameter")
    assert list(p.index) == list(FITTED)
    assert p.loc["layer_overhead_s", "unit"] == "µs" and p.loc["mfu", "unit"] == "fraction"
    assert p.loc["layer_overhead_s", "stored"] == pytest.approx(20.0)
    assert p.loc["layer_overhead_s", "change"] == pytest.approx(-0.5)
    assert p.loc["mfu", "change"] == pytest.approx(0.1) and p.loc["overlap", "change"] == 0


def test_refit_parameters_without_evaluations_is_a_copy_of_the_stored():
    stored = r.stored_parameters()
    assert set(stored) == set(FITTED)
    out = r.refit_parameters(None, stored, 0)
    assert out == stored and out is not stored


def test_genz_prefill_ms_only_for_single_prompt_fp16_ttft_points():
    genz = pd.DataFrame({"phase": ["prefill", "prefill", "decode"], "dtype": ["bf16", "fp8", "bf16"],
                         "model": ["m"] * 3, "gpu": ["g"] * 3, "tp": [2, 2, 2], "tokens": [100, 100, 100],
                         "genz_ms": [7.0, 3.0, 1.0]})
    base = dict(model="m", gpu="g", tensor_parallel=2.0, input_tokens=100.0, metric="ttft_ms",
                batch_kind="fixed", weight_dtype="bf16", batch_used=1.0)
    table = pd.DataFrame([base, base | {"weight_dtype": "int8"}, base | {"batch_used": 4.0},
                          base | {"metric": "tpot_ms"}, base | {"tensor_parallel": math.nan},
                          base | {"input_tokens": 200.0}])
    out = r.genz_prefill_ms(table, genz)
    assert out.iloc[0] == 7.0 and out.iloc[1:].isna().all()


def test_errors_long_once_per_dimension_and_medians_by_group():
    val = pd.DataFrame({"phase": ["prefill", "decode"], "gpu": ["a100", "a100"], "weight_dtype": ["fp16", "fp8"],
                        "engine": ["vllm", "trt"], "error": [-0.2, 0.1], "metric": ["ttft_ms", "tpot_ms"],
                        "point_id": ["p", "q"]})
    long = r.errors_long(val)
    assert len(long) == 8 and list(long["dimension"].unique()) == ["phase", "GPU", "weight precision", "engine"]
    assert list(long["error_pct"][:2]) == pytest.approx([-20.0, 10.0])
    grp = r.median_abs_error_by_group(long)
    assert grp["engine"]["vllm"] == pytest.approx(20.0) and grp["GPU"]["a100"] == pytest.approx(15.0)


def test_failures_and_their_sources():
    val = r.validation_rows(_table())
    fails = r.failures(val, 0.15)
    assert list(fails["point_id"]) == ["a:2", "a:1"]
    src = r.failure_sources(fails)
    assert list(src.index) == ["a"] and src.loc["a", "size"] == 2 and src.loc["a", "max"] == pytest.approx(0.5)
    assert r.failure_sources(r.failures(val, 0.9)).empty


def _families():
    # one point per family and role; errors chosen so the medians can be read off by hand
    return pd.DataFrame({
        "point_id": ["d:1", "d:2", "m:1", "m:2", "l:1", "f:1", "c:1"],
        "model": ["llama-3.1-8b", "llama-3.3-70b", "qwen3-30b-a3b", "llama-4-scout", "deepseek-r1",
                  "llama-3.1-405b", "qwen3-30b-a3b"],
        "weight_dtype": ["fp8", "fp4", "fp4", "fp8", "fp4", "fp4", "fp8"],
        "role": ["validation"] * 6 + ["calibration"],
        "metric": ["output_tokens_per_s"] * 7,
        "measured": [100.0] * 7,
        "predicted": [110.0, 80.0, 150.0, 95.0, 130.0, 104.0, 500.0]}).assign(
        error=lambda d: d.predicted / d.measured - 1, abs_error=lambda d: (d.predicted / d.measured - 1).abs())


def test_family_table_by_hand():
    t = _families()
    before = pd.DataFrame({"point_id": ["d:1", "c:1"], "predicted_before": [1.0, 1.0]})
    f = r.family_table(t, before).set_index("family")
    # dense: d:1 (+10%), d:2 (-20%), f:1 (+4%; 405B is dense) -> median 10%, max 20%
    assert f.loc["dense", "predicted"] == 3
    assert f.loc["dense", "median_abs_error"] == pytest.approx(0.10)
    assert f.loc["dense", "max_abs_error"] == pytest.approx(0.20)
    # MoE: m:1 (+50%), m:2 (-5%) -> median 27.5%; the calibration point c:1 never counts
    assert f.loc["moe", "median_abs_error"] == pytest.approx(0.275)
    assert f.loc["moe", "max_abs_error"] == pytest.approx(0.50)
    # MLA: DeepSeek-R1 only (not also MoE)
    assert f.loc["mla", "predicted"] == 1 and f.loc["mla", "median_abs_error"] == pytest.approx(0.30)
    # FP4: d:2, m:1, l:1, f:1 -> |errors| 20, 50, 30, 4 -> median 25%, max 50%, signed median (−20, 4, 30, 50) 17%
    assert f.loc["fp4", "predicted"] == 4
    assert f.loc["fp4", "median_abs_error"] == pytest.approx(0.25)
    assert f.loc["fp4", "median_error"] == pytest.approx(0.17)
    # earlier = the points the frozen 'before' file holds (validation d:1 only); added = the other five
    assert f.loc["earlier", "predicted"] == 1 and f.loc["earlier", "median_abs_error"] == pytest.approx(0.10)
    assert f.loc["added", "predicted"] == 5 and f.loc["added", "median_abs_error"] == pytest.approx(0.20)


def test_goal_phrase():
    assert r.goal_phrase(0.10, 0.30) == "meets both goals"
    assert r.goal_phrase(0.10, 0.50).startswith("meets the goal on the median")
    assert r.goal_phrase(0.20, 0.30).startswith("meets the goal on the largest")
    assert r.goal_phrase(0.20, 0.50) == "misses both goals"


def test_unstated_kv_what_if_moves_only_the_unstated_points():
    import pytest as _pytest

    from model.checks import ParameterError
    from model.serving.accuracy_readings import unstated_kv_what_if
    from model.serving.step_time_accuracy import load_points

    pts = load_points()
    fp4 = pts[pts["weight_dtype"] == "fp4"]
    # the validation points it speaks of: FP4 weights, KV format empty, validation role (a stated one is untouched)
    n = int(((fp4["kv_dtype"].isna()) & (fp4["role"] == "validation")).sum())
    same = unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp16")
    assert same["points"] == n > 0
    # the format the model already takes for an unstated FP4 KV cache (16-bit): nothing moves
    assert same["median_error_if"] == same["median_error"]
    assert same["median_abs_error_if"] == same["median_abs_error"]
    # FP8 holds twice the tokens in the same memory and reads half the bytes a token: predictions rise
    fp8 = unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp8")
    assert fp8["median_error"] == same["median_error"]
    assert fp8["median_error_if"] > fp8["median_error"]
    with _pytest.raises(ParameterError, match="kv_dtype"):
        unstated_kv_what_if(pts, weight_dtype="fp4", kv_dtype="fp3")
