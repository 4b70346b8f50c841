"""What-if charts in the static page: Altair parameters bound to sliders and drop-downs, the effect computed
in the browser (Vega expressions over inline rows) from a chapter's closed form. Nothing is downloaded.

A chart is built from

- controls: :func:`slider` (a number in a range) and :func:`choice` (one of a list) — each an Altair
  parameter with its HTML input;
- inline rows (a ``pandas.DataFrame`` of the constants the closed form needs, e.g. one row per model);
- ``calculate`` steps (``{"field": "vega expression"}``, in order) and an optional ``filter`` expression,
  written in the small subset of Vega's expression language that :func:`evaluate` also understands
  (numbers, strings, ``datum.field``, parameter names, ``+ - * /``, comparisons, ``&&``, ``||``, ``!``,
  ``floor``, ``ceil``, ``round``, ``min``, ``max``, ``abs``, ``pow``, ``log``, ``sqrt``, and ``format(v, ',')``
  for labels).

The chart's ``usermeta["what_if"]`` records the parameters' defaults and the values the executed notebook
computed at those defaults (``expected``), so that a test — or a browser check that moves the sliders — can
compare what the page computes at the default position with the notebook's own figure:
:func:`default_rows` evaluates the chart's transforms at the defaults in Python; :func:`rendered_texts`
renders the chart with the real Vega engine (vl-convert) and returns its text marks.

>>> model = choice("model", "Llama 2 70B", ["Llama 2 70B", "Llama 3 8B"], label="model ")
>>> ctx = slider("context", 10_000, 1_000, 32_000, 1_000, label="tokens per session ")
"""

from __future__ import annotations

import ast
import math
import re

import altair as alt
import pandas as pd

#: Functions of Vega's expression language that :func:`evaluate` knows, with their Python meaning.
FUNCTIONS = {"floor": math.floor, "ceil": math.ceil, "round": round, "min": min, "max": max, "abs": abs,
             "pow": pow, "log": math.log, "sqrt": math.sqrt, "exp": math.exp,
             "format": lambda v, spec: format(int(v) if float(v).is_integer() else v, spec)}


def slider(name: str, value: float, low: float, high: float, step: float, *, label: str | None = None) -> alt.Parameter:
    """A numeric parameter bound to a range input.

    Parameters
    ----------
    name : str
        Parameter name, used in expressions (a JavaScript identifier).
    value, low, high, step : float
        Default, range and step of the slider (``low <= value <= high``).
    label : str, optional
        Text shown before the slider (default: ``name``).

    Raises
    ------
    ValueError
        If the default lies outside the range or the step is not positive.
    """
    _check_name(name)
    if not (low <= value <= high):
        raise ValueError(f"slider {name!r}: default {value!r} outside [{low!r}, {high!r}]")
    if not step > 0:
        raise ValueError(f"slider {name!r}: step must be > 0, got {step!r}")
    if abs((value - low) / step - round((value - low) / step)) > 1e-9:
        raise ValueError(f"slider {name!r}: default {value!r} is not on the grid {low!r} + k × {step!r} "
                         "(a browser would snap the handle away from it)")
    return alt.param(name=name, value=value, bind=alt.binding_range(min=low, max=high, step=step,
                                                                    name=label if label is not None else name))


def choice(name: str, value, options: list, *, labels: list[str] | None = None,
           label: str | None = None) -> alt.Parameter:
    """A parameter bound to a drop-down of ``options`` (shown as ``labels`` if given).

    Raises
    ------
    ValueError
        If ``value`` is not one of ``options`` or ``labels`` does not match ``options`` in length.
    """
    _check_name(name)
    options = list(options)
    if value not in options:
        raise ValueError(f"choice {name!r}: default {value!r} is not one of {options!r}")
    if labels is not None and len(labels) != len(options):
        raise ValueError(f"choice {name!r}: {len(labels)} labels for {len(options)} options")
    bind = alt.binding_select(options=options, name=label if label is not None else name,
                              **({"labels": list(labels)} if labels is not None else {}))
    return alt.param(name=name, value=value, bind=bind)


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ValueError(f"parameter name {name!r} is not an identifier")


def what_if(chart: alt.Chart, controls: list[alt.Parameter], calculate: dict[str, str], *,
            filter: str | None = None, expected: dict | None = None) -> alt.TopLevelMixin:
    """``chart`` (its data set, marks and encodings) with ``controls`` added, the ``calculate`` steps and
    then ``filter`` applied to its rows, and ``usermeta["what_if"]`` recording the defaults and ``expected``
    (field → value the notebook computed at the defaults, for the rows that pass the filter; a scalar if
    every such row holds the same value, else a list in row order)."""
    for field, expr in calculate.items():
        chart = chart.transform_calculate(**{field: expr})
    if filter is not None:
        chart = chart.transform_filter(filter)
    chart = chart.add_params(*controls)
    meta = {"defaults": {p.name: p.param.value for p in controls}, "expected": dict(expected or {})}
    return chart.properties(usermeta={"what_if": meta})


# --- evaluating the spec in Python (for tests) -----------------------------------------------------------------
def _to_python(expr: str) -> str:
    out = re.sub(r"&&", " and ", expr)
    out = re.sub(r"\|\|", " or ", out)
    out = re.sub(r"!(?!=)", " not ", out)
    out = out.replace("===", "==").replace("!==", "!=")
    return out


def evaluate(expr: str, datum: dict | None = None, params: dict | None = None):
    """Evaluate a Vega expression of the subset this module uses (see the module docstring) in Python.

    Raises
    ------
    ValueError
        On syntax outside the subset, an unknown name or field.
    """
    datum, params = dict(datum or {}), dict(params or {})
    try:
        # stripped: "!x" becomes " not x", whose leading space ast.parse would take for an indent
        tree = ast.parse(_to_python(expr).strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"expression outside the supported subset: {expr!r}") from e

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "datum":
            if node.attr not in datum:
                raise ValueError(f"unknown field datum.{node.attr} in {expr!r}")
            return datum[node.attr]
        if isinstance(node, ast.Name):
            if node.id in params:
                return params[node.id]
            if node.id in ("true", "false"):
                return node.id == "true"
            raise ValueError(f"unknown name {node.id!r} in {expr!r}")
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                   ast.Div: lambda: a / b if b != 0 else (math.inf if a > 0 else -math.inf if a < 0 else math.nan),
                   ast.Mod: lambda: math.fmod(a, b)}
            if type(node.op) not in ops:
                raise ValueError(f"operator outside the supported subset in {expr!r}")
            return ops[type(node.op)]()
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return v
            if isinstance(node.op, ast.Not):
                return not v
        if isinstance(node, ast.BoolOp):
            vals = [ev(v) for v in node.values]
            return all(vals) if isinstance(node.op, ast.And) else any(vals)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            a, b = ev(node.left), ev(node.comparators[0])
            cmp = {ast.Eq: a == b, ast.NotEq: a != b, ast.Lt: None, ast.LtE: None, ast.Gt: None, ast.GtE: None}
            if isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
                return cmp[type(node.ops[0])]
            return {ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b}[type(node.ops[0])]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS \
                and not node.keywords:
            return FUNCTIONS[node.func.id](*[ev(a) for a in node.args])
        raise ValueError(f"expression outside the supported subset: {expr!r}")

    return ev(tree)


def _spec(chart) -> dict:
    return chart if isinstance(chart, dict) else chart.to_dict()


def controls(chart) -> list[dict]:
    """The bound parameters of a chart's spec: ``name``, ``value`` and ``bind`` (input, min/max/step or
    options) — what a browser check moves."""
    spec = _spec(chart)
    return [p for p in spec.get("params", []) if "bind" in p]


def default_rows(chart, params: dict | None = None) -> list[dict]:
    """The chart's inline rows after its ``calculate`` and ``filter`` transforms, evaluated in Python at
    the parameters' defaults (or at ``params``, which override them)."""
    spec = _spec(chart)
    values = {p["name"]: p.get("value") for p in spec.get("params", [])}
    values.update(params or {})
    data = spec.get("data", {})
    rows = [dict(r) for r in (spec["datasets"][data["name"]] if "name" in data else data.get("values", []))]
    for step in spec.get("transform", []):
        if "calculate" in step:
            for r in rows:
                r[step["as"]] = evaluate(step["calculate"], r, values)
        elif "filter" in step and isinstance(step["filter"], str):
            rows = [r for r in rows if evaluate(step["filter"], r, values)]
        else:
            raise ValueError(f"transform outside the supported subset: {step!r}")
    return rows


def expected(chart) -> dict:
    """The values the executed notebook recorded for the default position (``usermeta["what_if"]``)."""
    return _spec(chart).get("usermeta", {}).get("what_if", {}).get("expected", {})


def rendered_texts(chart) -> list[str]:  # pragma: no mutate block (vl-convert's engine does not run in a forked child)
    """The text marks of the chart rendered by the real Vega engine (vl-convert) at its defaults, in
    document order (axis labels and titles excluded)."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(_spec(chart))
    marks = re.findall(r'<g class="mark-text role-mark[^"]*"[^>]*>(.*?)</g>', svg, flags=re.S)
    out = []
    for block in marks:
        out += [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>(.*?)</text>", block, flags=re.S)]
    import html

    return [html.unescape(t) for t in out]


# --- the KV-sizing what-if ------------------------------------------------------------------------------------
#: Vega expressions of the KV-sizing closed form over rows of :func:`model.kv.what_if_rows`
#: (``kv_bytes_el`` and ``context`` are parameters), per layer kind (:func:`model.kv.budget.kv_layer_terms`): a
#: session holds (layers holding every token × T + sliding layers × min(T, window) + chunked layers × the current
#: chunk) × bytes per element + fixed linear states; sessions = max(0, floor((usable − weights) ÷ per session)).
#: For a Llama-family model this is 2·L·H_kv·d·b × T, as before.
KV_CALCULATE = {
    "kv_bytes_per_token": "(datum.grow_elements + datum.window_elements + datum.chunk_elements) * kv_bytes_el",
    "kv_bytes_per_session": "(datum.grow_elements * context + datum.window_elements * min(context, datum.window)"
                            " + datum.chunk_elements * (context - datum.chunk * floor((context - 1) / datum.chunk)))"
                            " * kv_bytes_el + datum.state_bytes",
    "kv_gb_per_session": "datum.kv_bytes_per_session / 1e9",
    "sessions": "max(0, floor((datum.usable_bytes - datum.weight_bytes) / datum.kv_bytes_per_session))",
    "sessions_per_gpu": "datum.sessions / datum.n_gpus",
    "label": "format(datum.sessions, ',') + ' sessions'",
}


def kv_sessions_chart(rows: pd.DataFrame, *, model: str, models: list[str], context: int, context_max: int,
                      context_step: int, kv_dtype: str, kv_dtypes: dict[str, float], expected: dict,
                      title: str, width: int = 560, height: int = 200) -> alt.TopLevelMixin:
    """Sessions that fit on 1, 2, 4, 8 … GPUs for the model, context and KV format chosen on the page.

    Parameters
    ----------
    rows : pandas.DataFrame
        :func:`model.kv.what_if_rows` (model × n_gpus with layers, kv_heads, head_dim, weight_bytes,
        usable_bytes).
    model, context, kv_dtype : default position of the drop-down, slider and drop-down.
    context_max, context_step : int
        Longest session the slider reaches and its step (tokens); the slider's grid passes through
        ``context``.
    models : list of str
        Display names offered (each must have rows).
    kv_dtypes : dict
        KV number format → bytes per element offered.
    expected : dict
        Values the notebook computed at the defaults (e.g. ``{"sessions": [...]}``).
    """
    if model not in models:
        raise ValueError(f"model {model!r} is not one of {models!r}")
    if kv_dtype not in kv_dtypes:
        raise ValueError(f"kv_dtype {kv_dtype!r} is not one of {list(kv_dtypes)!r}")
    low = (context - 1) % context_step + 1  # the smallest slider position >= 1 on a grid through the default
    ctl = [choice("model_choice", model, list(models), label="model "),
           slider("context", context, low, max(context_max, context), context_step, label="tokens per session "),
           choice("kv_bytes_el", kv_dtypes[kv_dtype], list(kv_dtypes.values()),
                  labels=[k.upper() for k in kv_dtypes], label="KV format ")]
    base = alt.Chart(rows).encode(
        y=alt.Y("n_gpus:O", title="GPUs (tensor-parallel group)"),
        x=alt.X("sessions:Q", title="sessions that fit (count)", scale=alt.Scale(domainMin=0)),
        tooltip=[alt.Tooltip("n_gpus:O", title="GPUs"), alt.Tooltip("sessions:Q", format=",", title="sessions"),
                 alt.Tooltip("kv_gb_per_session:Q", format=".2f", title="KV per session (GB)")])
    chart = alt.layer(base.mark_bar(), base.mark_text(align="left", dx=4).encode(text="label:N"))
    return what_if(chart.properties(width=width, height=height, title=title), ctl, KV_CALCULATE,
                   filter="datum.model == model_choice", expected=expected)


# --- checking an executed chapter ------------------------------------------------------------------------------
_EMBED = re.compile(r'window\.vegaEmbed\("#[^"]+", (\{.*?\}), \{"actions": false\}\)', re.S)


def what_if_specs(notebook) -> list[dict]:
    """The Vega-Lite specs of the what-if charts (those with ``usermeta["what_if"]``) in an executed notebook
    (a path or the parsed JSON), in page order."""
    import json
    from pathlib import Path

    nb = notebook if isinstance(notebook, dict) else json.loads(Path(notebook).read_text(encoding="utf-8"))
    out = []
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            html_text = o.get("data", {}).get("text/html", "")
            html_text = "".join(html_text) if isinstance(html_text, list) else html_text
            for m in _EMBED.finditer(html_text):
                spec = json.loads(m.group(1))
                if "what_if" in spec.get("usermeta", {}):
                    out.append(spec)
    return out


def default_mismatches(spec, *, rel_tol: float = 1e-9) -> list[str]:
    """Where the chart's transforms at the default position (:func:`default_rows`) disagree with the values
    the notebook recorded (``usermeta["what_if"]["expected"]``); empty when they agree."""
    rows = default_rows(spec)
    bad = []
    for field, want in expected(spec).items():
        got = [r.get(field) for r in rows]
        want_list = want if isinstance(want, list) else [want] * len(got)
        if len(got) != len(want_list):
            bad.append(f"{field}: {len(got)} rows at the default position, {len(want_list)} expected")
            continue
        for i, (g, w) in enumerate(zip(got, want_list)):
            same = (g == w) if isinstance(w, str) or isinstance(g, str) else \
                math.isclose(float(g), float(w), rel_tol=rel_tol, abs_tol=0.0)
            if not same:
                bad.append(f"{field}[{i}]: page computes {g!r}, notebook {w!r}")
    return bad
