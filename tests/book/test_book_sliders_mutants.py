"""model.book.sliders by hand: the controls' specs and their errors, the expression subset evaluated on values
chosen here (each result worked out in a comment), the KV-sizing chart's controls, encodings and rows on a
three-row frame made here, and the check of an executed notebook's what-if charts on notebooks written here.
No architecture or GPU is loaded and no chart is rendered."""
import json
import math

import altair as alt
import pandas as pd
import pytest

from model.book.sliders import (FUNCTIONS, choice, controls, default_mismatches, default_rows, evaluate, expected,
                                kv_sessions_chart, slider, what_if, what_if_specs)


# --- controls ---------------------------------------------------------------------------------------------------

def test_slider_label_defaults_to_the_name():
    s = slider("n", 3, 1, 9, 2)
    assert s.param.bind.to_dict() == {"input": "range", "min": 1, "max": 9, "step": 2, "name": "n"}
    assert slider("n", 3, 1, 9, 2, label="").param.bind.to_dict()["name"] == ""  # an empty label is a label
    # the ends of the range are allowed defaults
    assert slider("n", 1, 1, 9, 2).param.value == 1 and slider("n", 9, 1, 9, 2).param.value == 9


@pytest.mark.parametrize("args, message", [
    (("x", 0.5, 1, 9, 2), "slider 'x': default 0.5 outside [1, 9]"),
    (("x", 9.5, 1, 9, 2), "slider 'x': default 9.5 outside [1, 9]"),
    (("x", 3, 1, 9, 0), "slider 'x': step must be > 0, got 0"),
    (("x", 3, 1, 9, -2), "slider 'x': step must be > 0, got -2"),
    (("x", 4, 1, 9, 2), "slider 'x': default 4 is not on the grid 1 + k × 2 (a browser would snap the handle "
                         "away from it)"),
])
def test_slider_errors_word_for_word(args, message):
    with pytest.raises(ValueError) as err:
        slider(*args)
    assert str(err.value) == message


def test_slider_grid_tolerance():
    # (3 + 1e-8 − 1) / 2 = 1 + 5e-9: more than 1e-9 off the grid
    with pytest.raises(ValueError, match="not on the grid"):
        slider("x", 3 + 1e-8, 1, 9, 2)
    # off the grid by exactly 1e-9 (1e-9 / 1 − round(1e-9) is 1e-9 in floats): the tolerance's edge, accepted
    assert slider("x", 1e-9, 0, 1, 1).param.value == 1e-9
    # 1 + 5e-11 off by 5e-11: within 1e-9, accepted (rounding of a decimal step)
    assert slider("x", 3 + 1e-10, 1, 9, 2).param.value == 3 + 1e-10
    # a default below the grid's step: (1.5 − 1) / 2 = 0.25, off by 0.25
    with pytest.raises(ValueError, match="not on the grid"):
        slider("x", 1.5, 1, 9, 2)
    # k = 3: (7.6 − 1) / 2.2 = 3, a float grid
    assert slider("x", 7.6, 1, 9, 2.2).param.value == 7.6


def test_choice_specs_and_errors():
    c = choice("fmt", "b", ("a", "b"))
    assert c.name == "fmt" and c.param.value == "b"
    assert c.param.bind.to_dict() == {"input": "select", "options": ["a", "b"], "name": "fmt"}
    assert choice("fmt", "a", ["a"], label="format ").param.bind.to_dict()["name"] == "format "
    assert choice("fmt", "a", ["a", "b"], labels=("A", "B")).param.bind.to_dict()["labels"] == ["A", "B"]
    with pytest.raises(ValueError) as err:
        choice("fmt", "c", ["a", "b"])
    assert str(err.value) == "choice 'fmt': default 'c' is not one of ['a', 'b']"
    with pytest.raises(ValueError) as err:
        choice("fmt", "a", ["a", "b"], labels=["A", "B", "C"])
    assert str(err.value) == "choice 'fmt': 3 labels for 2 options"


@pytest.mark.parametrize("name", ["_", "a", "Z9_", "_x1"])
def test_identifiers_accepted(name):
    assert slider(name, 1, 1, 2, 1).name == name


@pytest.mark.parametrize("name", ["", None, "9a", "a-b", "a b", "é", "a\n"])
def test_non_identifiers_rejected(name):
    with pytest.raises(ValueError) as err:
        choice(name, 1, [1])
    assert str(err.value) == f"parameter name {name!r} is not an identifier"


def test_what_if_steps_filter_and_meta():
    frame = pd.DataFrame({"a": [1, 2, 3]})
    c = slider("k", 2, 0, 4, 1)
    chart = what_if(alt.Chart(frame).mark_point(), [c], {"b": "datum.a * k", "c": "datum.b + 1"},
                    filter="datum.c > 4", expected={"c": [5, 7]})
    spec = chart.to_dict()
    assert spec["transform"] == [{"calculate": "datum.a * k", "as": "b"}, {"calculate": "datum.b + 1", "as": "c"},
                                 {"filter": "datum.c > 4"}]
    assert spec["usermeta"] == {"what_if": {"defaults": {"k": 2}, "expected": {"c": [5, 7]}}}
    # rows 1, 2, 3 at k = 2: b = 2, 4, 6; c = 3, 5, 7; the filter keeps c = 5 and 7
    assert [r["c"] for r in default_rows(chart)] == [5, 7]
    bare = what_if(alt.Chart(frame).mark_point(), [], {}).to_dict()
    assert "transform" not in bare and bare["usermeta"] == {"what_if": {"defaults": {}, "expected": {}}}


# --- the expression subset --------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, value", [
    ("7 - 2 - 1", 4), ("2 * 3 + 1", 7), ("7 / 2", 3.5), ("-7 % 3", -1.0), ("7 % -3", 1.0),
    ("-x", -2), ("+x", 2), ("true && !x", False), ("true && !(x > 5)", True),
    ("x == 2", True), ("x != 2", False), ("x === 2", True), ("x !== 2", False), ("x != 3", True),
    ("x < 2", False), ("x <= 2", True), ("x > 2", False), ("x >= 2", True), ("1 < x", True), ("3 > x", True),
    ("x > 1 && x < 3", True), ("x > 1 && x > 3", False), ("x > 3 || x < 3", True), ("x > 3 || x > 4", False),
    ("true", True), ("false", False), ("'a' + \"b\"", "ab"), ("1.5", 1.5),
    ("floor(2.7)", 2), ("ceil(2.1)", 3), ("round(2.5)", 2), ("min(3, 1, 2)", 1), ("max(3, 1, 2)", 3),
    ("abs(-4)", 4), ("pow(2, 10)", 1024), ("log(1)", 0.0), ("sqrt(16)", 4.0), ("exp(0)", 1.0),
    ("format(1234567, ',')", "1,234,567"), ("format(2.0, ',')", "2"), ("format(2.5, '.2f')", "2.50"),
    ("format(1e6, ',')", "1,000,000"),
])
def test_evaluate_by_hand(expr, value):
    got = evaluate(expr, {}, {"x": 2})
    assert got == value and type(got) is type(value)


def test_division_by_zero_as_vega_does_it():
    assert evaluate("1 / 0") == math.inf
    assert evaluate("-1 / 0") == -math.inf
    assert math.isnan(evaluate("0 / 0"))
    assert evaluate("3 / 4") == 0.75


def test_datum_and_params_and_their_defaults():
    assert evaluate("datum.a + p", {"a": 1}, {"p": 2}) == 3
    assert evaluate("3") == 3                           # no datum, no params
    # a parameter named like a literal wins over it
    assert evaluate("true", None, {"true": 5}) == 5
    # evaluate does not change the dicts it is given
    d, p = {"a": 1}, {"p": 2}
    evaluate("datum.a + p", d, p)
    assert d == {"a": 1} and p == {"p": 2}


@pytest.mark.parametrize("expr, message", [
    ("datum.b", "unknown field datum.b in 'datum.b'"),
    ("q + 1", "unknown name 'q' in 'q + 1'"),
    ("2 ** 3", "operator outside the supported subset in '2 ** 3'"),
    ("7 // 2", "operator outside the supported subset in '7 // 2'"),
    ("a ? 1 : 2", "expression outside the supported subset: 'a ? 1 : 2'"),
    ("None", "expression outside the supported subset: 'None'"),
    ("b'x'", "expression outside the supported subset: \"b'x'\""),
    ("other.a", "expression outside the supported subset: 'other.a'"),
    ("~1", "expression outside the supported subset: '~1'"),
    ("1 < 2 < 3", "expression outside the supported subset: '1 < 2 < 3'"),
    ("max(1, key=2)", "expression outside the supported subset: 'max(1, key=2)'"),
    ("len(1)", "expression outside the supported subset: 'len(1)'"),
    ("datum.f(1)", "expression outside the supported subset: 'datum.f(1)'"),
    ("[1]", "expression outside the supported subset: '[1]'"),
])
def test_outside_the_subset_word_for_word(expr, message):
    with pytest.raises(ValueError) as err:
        evaluate(expr, {"a": 1})
    assert str(err.value) == message


def test_a_syntax_error_is_chained():
    with pytest.raises(ValueError) as err:
        evaluate("1 +")
    assert isinstance(err.value.__cause__, SyntaxError)


def test_functions_table():
    assert set(FUNCTIONS) == {"floor", "ceil", "round", "min", "max", "abs", "pow", "log", "sqrt", "exp", "format"}


# --- reading a spec ---------------------------------------------------------------------------------------------

def _spec(**over):
    spec = {"params": [{"name": "k", "value": 2, "bind": {"input": "range"}}, {"name": "sel", "value": 1},
                       {"name": "m", "bind": {"input": "select"}}],
            "data": {"values": [{"a": 1}, {"a": 2}, {"a": 3}]},
            "transform": [{"calculate": "datum.a * k", "as": "b"}, {"filter": "datum.b >= 4"}],
            "usermeta": {"what_if": {"defaults": {"k": 2}, "expected": {"b": [4, 6]}}}}
    spec.update(over)
    return spec


def test_controls_are_the_bound_parameters():
    assert [p["name"] for p in controls(_spec())] == ["k", "m"]
    assert controls({}) == []


def test_default_rows_inline_named_and_overridden():
    # rows a = 1, 2, 3 at k = 2: b = 2, 4, 6; the filter keeps 4 and 6
    assert default_rows(_spec()) == [{"a": 2, "b": 4}, {"a": 3, "b": 6}]
    # k = 1: b = 1, 2, 3; none reaches 4
    assert default_rows(_spec(), {"k": 1}) == []
    named = _spec(data={"name": "d1"}, datasets={"d1": [{"a": 5}]})
    assert default_rows(named) == [{"a": 5, "b": 10}]
    assert default_rows({"transform": []}) == []                     # no data at all
    assert default_rows({"data": {"values": [{"a": 1}]}}) == [{"a": 1}]  # no transform
    # a parameter without a value is None until overridden
    assert default_rows({"params": [{"name": "m"}], "data": {"values": [{"a": 1}]},
                         "transform": [{"calculate": "datum.a + m", "as": "c"}]}, {"m": 4}) == [{"a": 1, "c": 5}]


def test_default_rows_reject_other_transforms():
    with pytest.raises(ValueError, match="transform outside the supported subset"):
        default_rows(_spec(transform=[{"aggregate": []}]))
    with pytest.raises(ValueError, match="transform outside the supported subset"):
        default_rows(_spec(transform=[{"filter": {"param": "k"}}]))


def test_expected_and_its_absence():
    assert expected(_spec()) == {"b": [4, 6]}
    assert expected({}) == {} and expected({"usermeta": {}}) == {} and expected({"usermeta": {"what_if": {}}}) == {}


def test_default_mismatches_by_hand():
    assert default_mismatches(_spec()) == []
    spec = _spec(usermeta={"what_if": {"expected": {"b": [4, 7]}}})
    assert default_mismatches(spec) == ["b[1]: page computes 6, notebook 7"]
    spec = _spec(usermeta={"what_if": {"expected": {"b": [4]}}})
    assert default_mismatches(spec) == ["b: 2 rows at the default position, 1 expected"]
    # a scalar is expected of every row: 4 and 6 against 4
    spec = _spec(usermeta={"what_if": {"expected": {"b": 4}}})
    assert default_mismatches(spec) == ["b[1]: page computes 6, notebook 4"]
    # within rel_tol: 6 against 6 × (1 + 1e-10) agrees at the default 1e-9, not at 1e-11
    spec = _spec(usermeta={"what_if": {"expected": {"b": [4, 6 * (1 + 1e-10)]}}})
    assert default_mismatches(spec) == []
    assert len(default_mismatches(spec, rel_tol=1e-11)) == 1
    # 0 against 1e-300: no absolute tolerance
    zero = {"data": {"values": [{"z": 0.0}]}, "usermeta": {"what_if": {"expected": {"z": 1e-300}}}}
    assert default_mismatches(zero) == ["z[0]: page computes 0.0, notebook 1e-300"]
    # every field is checked: a wrong row count in the first does not hide a wrong value in the next
    two = {"data": {"values": [{"a": 1, "b": 2}]},
           "usermeta": {"what_if": {"expected": {"a": [1, 1], "b": [3]}}}}
    assert default_mismatches(two) == ["a: 1 rows at the default position, 2 expected",
                                       "b[0]: page computes 2, notebook 3"]
    # strings are compared as strings, either side
    text = {"data": {"values": [{"s": "1"}]}, "usermeta": {"what_if": {"expected": {"s": "1"}}}}
    assert default_mismatches(text) == []
    text["usermeta"]["what_if"]["expected"]["s"] = 1
    assert default_mismatches(text) == ["s[0]: page computes '1', notebook 1"]


# --- the KV-sizing chart ----------------------------------------------------------------------------------------

def _rows():
    # model A: 10 elements per token on 1 and 2 GPUs of 100 and 200 bytes usable (no weights); model B: 20
    return pd.DataFrame({"model": ["A", "A", "B"], "n_gpus": [1, 2, 1], "grow_elements": [10, 10, 20],
                         "window_elements": [0, 0, 0], "window": [0, 0, 0], "chunk_elements": [0, 0, 0],
                         "chunk": [1, 1, 1], "state_bytes": [0, 0, 0], "usable_bytes": [100, 200, 100],
                         "weight_bytes": [0, 0, 0]})


def _kv(**over):
    args = dict(model="A", models=["A", "B"], context=5, context_max=9, context_step=2, kv_dtype="fp16",
                kv_dtypes={"fp16": 2.0, "fp8": 1.0}, expected={"sessions": [1, 2]}, title="T")
    args.update(over)
    return kv_sessions_chart(_rows(), **args)


def test_kv_chart_controls():
    ctl = {p["name"]: p for p in controls(_kv())}
    assert ctl["model_choice"] == {"name": "model_choice", "value": "A",
                                   "bind": {"input": "select", "options": ["A", "B"], "name": "model "}}
    # the grid through 5 with step 2 starts at (5 − 1) mod 2 + 1 = 1 and reaches max(9, 5) = 9
    assert ctl["context"] == {"name": "context", "value": 5,
                              "bind": {"input": "range", "min": 1, "max": 9, "step": 2, "name": "tokens per session "}}
    assert ctl["kv_bytes_el"] == {"name": "kv_bytes_el", "value": 2.0,
                                  "bind": {"input": "select", "options": [2.0, 1.0], "labels": ["FP16", "FP8"],
                                           "name": "KV format "}}
    # a default past context_max stretches the slider; 12 on a grid of 5: starts at (12 − 1) mod 5 + 1 = 2
    ctl = {p["name"]: p for p in controls(_kv(context=12, context_step=5, kv_dtype="fp8"))}
    assert ctl["context"]["bind"]["min"] == 2 and ctl["context"]["bind"]["max"] == 12
    assert ctl["kv_bytes_el"]["value"] == 1.0


def test_kv_chart_rows_at_the_defaults_and_moved():
    chart = _kv()
    # model A, 5 tokens, 2 bytes: 10 × 5 × 2 = 100 bytes a session; 100 ÷ 100 = 1 and 200 ÷ 100 = 2 sessions
    rows = default_rows(chart)
    assert [(r["n_gpus"], r["kv_bytes_per_token"], r["kv_bytes_per_session"], r["sessions"], r["sessions_per_gpu"],
             r["label"]) for r in rows] == [(1, 20.0, 100.0, 1, 1.0, "1 sessions"), (2, 20.0, 100.0, 2, 1.0,
                                                                                     "2 sessions")]
    assert rows[0]["kv_gb_per_session"] == pytest.approx(100 / 1e9, rel=1e-12)
    assert default_mismatches(chart.to_dict()) == []
    # model B with FP8 at 3 tokens: 20 × 3 × 1 = 60 bytes; 100 ÷ 60 → 1 session
    b = default_rows(chart, {"model_choice": "B", "kv_bytes_el": 1.0, "context": 3})
    assert [(r["model"], r["sessions"]) for r in b] == [("B", 1)]


def test_kv_chart_encodings_and_size():
    spec = _kv().to_dict()
    assert (spec["width"], spec["height"], spec["title"]) == (560, 200, "T")
    spec = _kv(width=300, height=100).to_dict()
    assert (spec["width"], spec["height"]) == (300, 100)
    bar, text = spec["layer"]
    assert bar["mark"] == {"type": "bar"}
    assert text["mark"] == {"type": "text", "align": "left", "dx": 4}
    assert text["encoding"]["text"] == {"field": "label", "type": "nominal"}
    enc = bar["encoding"]
    assert enc["y"] == {"field": "n_gpus", "type": "ordinal", "title": "GPUs (tensor-parallel group)"}
    assert enc["x"] == {"field": "sessions", "type": "quantitative", "title": "sessions that fit (count)",
                        "scale": {"domainMin": 0}}
    assert enc["tooltip"] == [
        {"field": "n_gpus", "type": "ordinal", "title": "GPUs"},
        {"field": "sessions", "type": "quantitative", "format": ",", "title": "sessions"},
        {"field": "kv_gb_per_session", "type": "quantitative", "format": ".2f", "title": "KV per session (GB)"}]
    assert spec["transform"][-1] == {"filter": "datum.model == model_choice"}
    assert spec["usermeta"]["what_if"]["expected"] == {"sessions": [1, 2]}


def test_kv_chart_rejects_unknown_defaults():
    with pytest.raises(ValueError) as err:
        _kv(model="C")
    assert str(err.value) == "model 'C' is not one of ['A', 'B']"
    with pytest.raises(ValueError) as err:
        _kv(kv_dtype="fp4")
    assert str(err.value) == "kv_dtype 'fp4' is not one of ['fp16', 'fp8']"


# --- an executed notebook's what-if charts ---------------------------------------------------------------------

def _embed(spec: dict) -> str:
    return (f'<div id="vega-1">svg</div>\n<script>window.vegaEmbed("#vega-1", {json.dumps(spec)}, '
            '{"actions": false}).catch(function(e) {});</script>')


def test_what_if_specs_in_page_order(tmp_path):
    first = _spec()
    plain = {"data": {"values": []}, "usermeta": {"other": 1}}
    bare = {"data": {"values": []}}  # a chart with no usermeta at all
    second = _spec(usermeta={"what_if": {"expected": {}}})
    nb = {"cells": [
        {"cell_type": "markdown"},
        {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "x"},
                                          {"data": {"text/html": _embed(bare)}},
                                          {"data": {"text/html": _embed(first)}}]},
        {"cell_type": "code", "outputs": [{"data": {"text/html": list(_embed(plain) + "\n" + _embed(second))}}]},
        {"cell_type": "code", "outputs": [{"data": {"text/plain": _embed(first)}}]}]}
    assert what_if_specs(nb) == [first, second]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    assert what_if_specs(path) == [first, second] and what_if_specs(str(path)) == [first, second]
    assert what_if_specs({}) == []
