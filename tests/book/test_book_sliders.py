"""What-if charts: controls, the expression subset evaluated in Python, and the real Vega engine at the
default position against the model's own figures."""

import math

import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.book.sliders import (KV_CALCULATE, choice, controls, default_rows, evaluate, expected,
                                kv_sessions_chart, slider)
from model.hardware import load_gpu
from model.kv import kv_bytes_per_token, memory_budget, what_if_rows

MODELS = ["llama-2-70b", "llama-3-8b"]


def test_evaluate_arithmetic_and_functions():
    assert evaluate("2 * datum.a + b", {"a": 3}, {"b": 1}) == 7
    assert evaluate("max(0, floor((datum.u - datum.w) / x))", {"u": 10, "w": 3}, {"x": 2}) == 3
    assert evaluate("max(0, floor((datum.u - datum.w) / x))", {"u": 1, "w": 3}, {"x": 2}) == 0
    assert evaluate("datum.m == pick && !(x > 3) || false", {"m": "a"}, {"pick": "a", "x": 1}) is True
    assert evaluate("format(datum.n, ',') + ' sessions'", {"n": 12345.0}) == "12,345 sessions"
    assert_allclose(evaluate("sqrt(pow(3, 2) + 16)"), 5.0, rtol=0)


@pytest.mark.parametrize("expr", ["a ? 1 : 2", "datum.missing + 1", "unknown_name * 2", "__import__('os')",
                                  "[1, 2]"])
def test_evaluate_rejects_outside_subset(expr):
    with pytest.raises(ValueError):
        evaluate(expr, {"a": 1}, {"a": 1})


def test_slider_and_choice_specs():
    s = slider("ctx", 10_000, 1_000, 32_000, 1_000, label="tokens ")
    assert s.name == "ctx" and s.param.value == 10_000
    assert s.param.bind.to_dict() == {"input": "range", "min": 1000, "max": 32000, "step": 1000, "name": "tokens "}
    c = choice("fmt", 2, [2, 1], labels=["FP16", "FP8"], label="KV ")
    assert c.param.bind.to_dict()["options"] == [2, 1] and c.param.bind.to_dict()["labels"] == ["FP16", "FP8"]


@pytest.mark.parametrize("args", [("x", 5, 10, 20, 1), ("x", 15, 10, 20, 0), ("x", 15, 10, 20, 4), ("1x", 10, 10, 20, 1)])
def test_slider_rejects_bad_defaults(args):
    with pytest.raises(ValueError, match="x"):
        slider(*args)


def test_choice_rejects_unknown_default():
    with pytest.raises(ValueError, match="fp4"):
        choice("fmt", "fp4", ["fp16", "fp8"])
    with pytest.raises(ValueError, match="labels"):
        choice("fmt", "fp16", ["fp16", "fp8"], labels=["one"])


def _chart(model="llama-2-70b", gpu="a100-80gb", context=10_000, kv_dtype="fp16", weight_dtype="fp16"):
    archs = [load_architecture(m) for m in MODELS]
    acc = load_gpu(gpu)
    ns = [1, 2, 4, 8]
    rows = what_if_rows(archs, acc, n_gpus_options=ns, weight_dtype=weight_dtype)
    arch = load_architecture(model)
    want = [memory_budget(arch, acc, context_tokens=context, n_gpus=n, weight_dtype=weight_dtype,
                          kv_dtype=kv_dtype).sessions for n in ns]
    chart = kv_sessions_chart(rows, model=arch.display_name, models=[a.display_name for a in archs],
                              context=context, context_max=32_768, context_step=1_000, kv_dtype=kv_dtype,
                              kv_dtypes={"fp16": 2.0, "fp8": 1.0}, expected={"sessions": want}, title="t")
    return chart, arch, acc, want


def test_kv_chart_controls_and_defaults():
    chart, arch, _, want = _chart()
    ctl = {p["name"]: p for p in controls(chart)}
    assert set(ctl) == {"model_choice", "context", "kv_bytes_el"}
    assert ctl["context"]["bind"]["input"] == "range" and ctl["context"]["value"] == 10_000
    assert ctl["model_choice"]["value"] == arch.display_name
    assert expected(chart) == {"sessions": want}


@pytest.mark.parametrize("model,gpu,context,kv,wd", [("llama-2-70b", "a100-80gb", 10_000, "fp16", "fp16"),
                                                    ("llama-3-8b", "h100-80gb", 8_192, "fp8", "fp16"),
                                                    ("llama-2-70b", "h200-141gb", 4_096, "fp8", "int8")])
def test_kv_chart_default_equals_model(model, gpu, context, kv, wd):
    chart, arch, _, want = _chart(model, gpu, context, kv, wd)
    rows = default_rows(chart)
    assert [r["sessions"] for r in rows] == want
    # independent closed form: 2 · L · H_kv · d · b per token
    b = {"fp16": 2, "fp8": 1}[kv]
    per_token = 2 * arch.num_layers * arch.num_kv_heads * arch.head_dim * b
    assert_allclose([r["kv_bytes_per_token"] for r in rows], per_token, rtol=0)
    assert_allclose(per_token, kv_bytes_per_token(arch, kv), rtol=0)
    assert_allclose(rows[0]["kv_gb_per_session"], per_token * context / 1e9, rtol=1e-12)


def test_kv_chart_moving_a_control_changes_the_rows():
    chart, _, _, want = _chart()
    longer = [r["sessions"] for r in default_rows(chart, {"context": 20_000})]
    fp8 = [r["sessions"] for r in default_rows(chart, {"kv_bytes_el": 1.0})]
    assert longer != want and all(a <= b for a, b in zip(longer, want))
    assert fp8 != want and all(a >= b for a, b in zip(fp8, want))
    other = default_rows(chart, {"model_choice": "Llama 3 8B"})
    assert len(other) == 4 and all(r["model"] == "Llama 3 8B" for r in other)


def test_kv_calculate_is_in_the_subset():
    datum = {"layers": 80, "kv_heads": 8, "head_dim": 128, "usable_bytes": 72e9, "weight_bytes": 0.0, "n_gpus": 1,
             "grow_elements": 2 * 80 * 8 * 128, "window_elements": 0, "window": 0, "chunk_elements": 0, "chunk": 1,
             "state_bytes": 0}
    params = {"kv_bytes_el": 2, "context": 1000}
    for field, expr in KV_CALCULATE.items():
        datum[field] = evaluate(expr, datum, params)
    assert datum["kv_bytes_per_token"] == 327_680
    assert datum["sessions"] == math.floor(72e9 / 327_680_000)





@pytest.mark.parametrize("expr, value", [("!x", False), ("!(x > 5)", True), ("  x + 1", 3), ("!x || x > 1", True)])
def test_evaluate_an_expression_that_starts_with_a_not_or_a_space(expr, value):
    # "!x" becomes " not x" in Python, whose leading space ast.parse refused as an indent
    got = evaluate(expr, params={"x": 2})
    assert got == value and type(got) is type(value)
