"""model.book.charts by hand: every chart's Vega-Lite spec (marks, encodings, titles, sizes, the rows of each
layer) on small frames made here, its axis domains and ticks worked out in the comments; the offline HTML of a
chart with the SVG renderer replaced by a stand-in (no rendering), the bundle writer, the range note, the
padded domain and the compact audit table, each against values written out here."""
import hashlib
import json
import math

import altair as alt
import numpy as np
import pandas as pd
import pytest

from model.book import charts
from model.book.charts import (OfflineChart, api_bill_chart, compact_audit, error_strips, kareto_frontier_chart,
                               kv_per_token_chart, latency_sweep_chart, log_ticks, padded_domain, persona_cost_chart,
                               price_per_token_chart, range_note, round_trip_chart, sessions_by_context_chart, show,
                               speedup_chart, sweep_panel, write_bundle)


def _q(field, **more):
    return {"field": field, "type": "quantitative", **more}


def _n(field, **more):
    return {"field": field, "type": "nominal", **more}


def _o(field, **more):
    return {"field": field, "type": "ordinal", **more}


def _split(chart):
    """The spec without its data, and the rows of each data set named in it (in the order met)."""
    spec = chart.to_dict()
    datasets = spec.pop("datasets", {})
    for key in ("$schema", "config"):
        spec.pop(key, None)
    rows = []

    def strip(node):
        if isinstance(node, dict):
            data = node.pop("data", None)
            if isinstance(data, dict) and "name" in data:
                rows.append(datasets[data["name"]])
            for v in node.values():
                strip(v)
        elif isinstance(node, list):
            for v in node:
                strip(v)
    strip(spec)
    return spec, rows


# --- offline display --------------------------------------------------------------------------------------------

@pytest.fixture
def no_render(monkeypatch):
    calls = []

    class Stub:
        @staticmethod
        def vegalite_to_svg(spec):
            calls.append(spec)
            return "<svg>stub</svg>"

        @staticmethod
        def javascript_bundle():
            return "var vegaEmbed = 1;"
    monkeypatch.setattr(charts, "vlc", Stub)
    return calls


def _tiny():
    return alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x:Q", y="y:Q")


def test_offline_chart_id_payload_and_html(no_render):
    chart = _tiny()
    off = show(chart)
    # the spec is Altair's with 4 px between axis labels added to its config
    spec = chart.to_dict()
    spec["config"] = {**spec.get("config", {}), "axis": {"labelSeparation": 4}}
    assert isinstance(off, OfflineChart) and off.chart is chart and off.spec == spec
    payload = json.dumps(spec, sort_keys=True, separators=(",", ":"))
    div = "vega-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    assert off.div_id == div
    assert off.svg() == "<svg>stub</svg>" and no_render == [spec]
    assert off._repr_html_() == (
        f'<div id="{div}" class="offline-vega"><svg>stub</svg></div>\n'
        f'<script>(function() {{ if (window.vegaEmbed) {{ window.vegaEmbed("#{div}", {payload}, '
        f'{{"actions": false}}).catch(function(e) {{ console.error(e); }}); }} }})();</script>')
    bundle = off._repr_mimebundle_()
    assert bundle == {"text/html": off._repr_html_(), "text/plain": f"<chart {div}>"}
    assert off._repr_mimebundle_(include=["text/html"], exclude=[]) == bundle


def test_a_chart_keeps_its_own_axis_config(no_render):
    """A chart that sets its axes' label separation (or other axis config) keeps it; only the missing
    separation is added."""
    own = show(_tiny().configure_axis(labelSeparation=9, labelFontSize=12)).spec["config"]["axis"]
    assert own == {"labelSeparation": 9, "labelFontSize": 12}
    other = show(_tiny().configure_axis(labelFontSize=12)).spec["config"]["axis"]
    assert other == {"labelFontSize": 12, "labelSeparation": 4}


def test_a_spec_without_config_gets_one(no_render):
    """A spec with no config at all (Altair's theme turned off) gets one holding the axis separation."""
    class Bare:
        def to_dict(self):
            return {"mark": "point"}
    assert show(Bare()).spec == {"mark": "point", "config": {"axis": {"labelSeparation": 4}}}


def test_charts_with_other_data_have_other_ids(no_render):
    other = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 5]})).mark_line().encode(x="x:Q", y="y:Q")
    assert show(_tiny()).div_id == show(_tiny()).div_id != show(other).div_id


def test_write_bundle_wraps_the_script_in_a_function(tmp_path, no_render):
    path = tmp_path / "vega-bundle.js"
    write_bundle(str(path))
    assert path.read_text(encoding="utf-8") == "(function(){\nvar vegaEmbed = 1;\n})();\n"


# --- small helpers ----------------------------------------------------------------------------------------------

def test_range_note_by_hand():
    assert range_note([2.0, None, 4.5, math.inf, -math.inf]) == "from 2 to 4.5 (spread 2.5)"
    assert range_note([1234.5, 1000.0]) == "from 1e+03 to 1.23e+03 (spread 234)"   # the default ".3g"
    assert range_note([0.25, 0.5], ".2f", "") == "from 0.25 to 0.50 (spread 0.25)"
    assert range_note([10, 30], ".0f", "%") == "from 10 to 30% (spread 20%)"
    assert range_note([10, 30], ".0f", "ms") == "from 10 to 30 ms (spread 20 ms)"
    assert range_note([]) == "no finite value" and range_note([None, math.nan]) == "no finite value"
    assert range_note(["3", "1"], ".0f") == "from 1 to 3 (spread 2)"   # numbers written as text count too


def test_log_ticks_at_the_exact_ends_of_the_widened_range():
    # 2.000000000002 × (1 − 1e-12) is 2.0 exactly and 4.9999999999949996 × (1 + 1e-12) is 5.0 exactly (checked
    # here): a mark on either end of the widened range is kept
    low, high = 2.000000000002, 4.9999999999949996
    assert low * (1 - 1e-12) == 2.0 and high * (1 + 1e-12) == 5.0
    assert log_ticks(low, high) == [2.0, 5.0]


def test_log_ticks_refuse_a_step_of_ten():
    with pytest.raises(ValueError) as err:
        log_ticks(1, 100, steps=(10,))
    assert str(err.value) == "log_ticks: steps must be mantissas in [1, 10), got [10]"


def test_padded_domain_by_hand():
    # 2 to 6: range 4, 8% of it is 0.32
    assert padded_domain([6.0, 2.0, 4.0]) == pytest.approx([1.68, 6.32], rel=1e-12)
    # all equal at −5: 8% of max(|−5|, 1) = 0.4
    assert padded_domain([-5.0, -5.0]) == pytest.approx([-5.4, -4.6], rel=1e-12)
    # all equal at 0.5: 8% of max(0.5, 1) = 0.08
    assert padded_domain([0.5]) == pytest.approx([0.42, 0.58], rel=1e-12)
    # share 0.25 of the range 10 to 30 (20): 5
    assert padded_domain(np.array([10.0, np.nan, 30.0]), share=0.25) == pytest.approx([5.0, 35.0], rel=1e-12)
    out = padded_domain([1, 3])
    assert all(type(v) is float for v in out)


def _audit_row(**over):
    row = {"column": "GPUs", "row": "§2", "stated_value": 1234.5, "computed_value": 1000.0, "unit": "count",
           "relative_difference": -0.19, "verdict": "inconsistent", "reason": "a reason"}
    row.update(over)
    return row


def test_compact_audit_figures_by_unit():
    table = pd.DataFrame([
        _audit_row(),
        _audit_row(unit="text", stated_value=None, computed_value=math.inf, relative_difference=math.inf),
        _audit_row(unit="", stated_value=2.0, computed_value=2.5, relative_difference=0.25),
        _audit_row(unit="%", stated_value=12.5, computed_value=12.5, relative_difference=0.0),
        _audit_row(unit="GB", stated_value=80.0, computed_value=-math.inf, relative_difference=math.nan),
        _audit_row(unit="USD", stated_value=1e7, computed_value=0.000123456, relative_difference=0.0004),
    ])
    out = compact_audit(table)
    assert out.values.tolist() == [
        ["GPUs (§2)", "1,234", "1,000", "−19.0%", "inconsistent", "a reason"],
        ["GPUs (§2)", "—", "—", "—", "inconsistent", "a reason"],
        ["GPUs (§2)", "2", "2.5", "+25.0%", "inconsistent", "a reason"],
        ["GPUs (§2)", "12.5%", "12.5%", "+0.0%", "inconsistent", "a reason"],
        ["GPUs (§2)", "80 GB", "—", "—", "inconsistent", "a reason"],
        ["GPUs (§2)", "10,000,000 USD", "0.0001235 USD", "+0.0%", "inconsistent", "a reason"]]


def test_compact_audit_judged_column():
    table = pd.DataFrame([_audit_row(), _audit_row(reason="r2"), _audit_row(reason="r3")])
    out = compact_audit(table, ["the bound", None, ""])
    assert list(out["judged against, and why"]) == ["the bound: a reason", "r2", "r3"]
    with pytest.raises(ValueError) as err:
        compact_audit(table, ["a", "b"])
    assert str(err.value) == "compact_audit: judged has 2 entries for 3 audit rows"
    empty = compact_audit(table.iloc[:0])
    assert empty.empty and list(empty.columns) == ["figure", "stated", "computed", "difference", "verdict",
                                                   "judged against, and why"]


# --- the charts' specs ------------------------------------------------------------------------------------------

def test_sweep_panel_spec():
    panel = pd.DataFrame({"capacity_gb_per_instance": [0, 0.5, 20, 400, 0, 130],
                          "hr": [0.1, 0.15, 0.2, 0.3, 0.4, 0.5], "swept": ["DRAM", "DRAM", "DRAM", "DRAM", "SSD", "SSD"]})
    spec, rows = _split(sweep_panel(panel, "hr", "hit ratio", ".1%", order=("SSD", "DRAM"), x_title="GB"))
    colour = _n("swept", title=None, sort=["SSD", "DRAM"],
                legend={"orient": "top", "direction": "vertical", "labelLimit": 500})
    # positive capacities 0.5 to 400: domain [0.5 / 1.3, 400 × 1.3]; 1-2-5 ticks 0.5 to 200
    assert spec == {"layer": [
        {"mark": {"type": "rule", "strokeDash": [4, 3]},
         "encoding": {"y": _q("hr"), "color": colour,
                      "tooltip": [_n("swept"), _q("hr", title="hit ratio at 0 GB", format=".1%")]}},
        {"mark": {"type": "line", "point": True},
         "encoding": {"x": _q("capacity_gb_per_instance", title="GB",
                              scale={"type": "log", "domain": [0.5 / 1.3, 400 * 1.3]},
                              axis={"values": [0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0], "format": ",~g",
                                    "labelOverlap": True}),
                      "y": _q("hr", title="hit ratio", axis={"format": ".1%"}, scale={"zero": True}),
                      "color": colour,
                      "tooltip": [_n("swept"), _q("capacity_gb_per_instance", title="GB per instance", format=",.0f"),
                                  _q("hr", title="hit ratio", format=".1%")]}}],
        "width": 600, "height": 150}
    zero, pos = rows
    assert [r["swept"] for r in zero] == ["DRAM", "SSD"] and [r["capacity_gb_per_instance"] for r in zero] == [0, 0]
    assert [r["capacity_gb_per_instance"] for r in pos] == [0.5, 20, 400, 130]


def test_kv_per_token_chart_spec():
    frame = pd.DataFrame({"model": ["A"], "attention": ["GQA"], "layers": [2], "kv_heads": [1], "head_dim": [4],
                          "kv_kib_per_token": [1.0], "kv_gb_per_session": [0.5]})
    spec, rows = _split(kv_per_token_chart(frame, kv_dtype="int8", context_tokens=1234))
    assert spec == {
        "mark": {"type": "bar"},
        "encoding": {"x": _q("kv_kib_per_token", title="KV cache per token (KiB, INT8)"),
                     "y": _n("model", sort="-x", title=None), "color": _n("attention", title="attention"),
                     "tooltip": [_n("model"), _n("attention"), _q("layers"), _q("kv_heads"), _q("head_dim"),
                                 _q("kv_kib_per_token", format=".0f"),
                                 _q("kv_gb_per_session", format=".2f", title="GB per 1,234-token session")]},
        "width": 520, "height": 170, "title": "KV cache per token"}
    assert len(rows[0]) == 1


def test_sessions_by_context_chart_spec():
    frame = pd.DataFrame({"context_tokens": [1000, 2000], "n_gpus": [1, 2], "sessions": [3, 400],
                          "sessions_per_gpu": [3.0, 200.0]})
    spec, rows = _split(sessions_by_context_chart(frame, title="T"))
    assert rows == [frame.to_dict("records")]
    enc = {"x": _q("context_tokens", title="tokens per session"),
           # 3 to 200 sessions per GPU: the 1-2-5 marks 5, 10, 20, 50, 100, 200
           "y": _q("sessions_per_gpu", title="sessions per GPU (count, log scale)", scale={"type": "log"},
                   axis={"values": [5.0, 10.0, 20.0, 50.0, 100.0, 200.0], "format": "~g"}),
           "color": _o("n_gpus", title="GPUs (tensor parallel)"),
           "tooltip": [_q("context_tokens", format=",", title="tokens per session"), _o("n_gpus", title="GPUs"),
                       _q("sessions", format=",", title="sessions"),
                       _q("sessions_per_gpu", format=".1f", title="sessions per GPU")]}
    assert spec == {"mark": {"type": "line", "point": True}, "encoding": enc, "width": 560, "height": 300,
                    "title": "T"}
    empty, _ = _split(sessions_by_context_chart(frame.iloc[:0], title="E"))
    assert empty["encoding"]["y"]["axis"] == {"format": "~g"}   # no GPU count holds a session: no ticks


def test_api_bill_chart_spec():
    scen = pd.DataFrame({"scenario": ["a", "b"], "tokens_per_turn": [10, 20], "usd_per_month": [4.5e3, 2.0e5]})
    stated = pd.DataFrame({"usd_per_month": [3.0e4], "label": ["stated"]})
    spec, rows = _split(api_bill_chart(scen, stated, concurrent_sessions=2500, api_model="M"))
    # smallest 4,500 → 10^3; largest 200,000 → 10^6
    scale = {"type": "log", "domain": [1e3, 1e6]}
    assert spec == {"layer": [
        {"mark": {"type": "bar"},
         "encoding": {"x": _q("usd_per_month", scale=scale,
                              title="API bill at 2,500 concurrent sessions (USD/month, log)",
                              axis={"labelExpr": "replace(format(datum.value, '$~s'), 'G', 'B')"}),
                      "x2": {"datum": 1e3},
                      "y": _n("scenario", title="what each turn sends", sort=None, axis={"labelLimit": 260}),
                      "color": _o("tokens_per_turn", title="new tokens per turn", legend={"orient": "bottom"}),
                      "yOffset": _o("tokens_per_turn"),
                      "tooltip": [_n("scenario"), _q("tokens_per_turn"), _q("usd_per_month", format="$,.3s")]}},
        {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "black"},
         "encoding": {"x": _q("usd_per_month", scale=scale)}},
        {"mark": {"type": "text", "align": "left", "dx": 4, "baseline": "top", "y": 2},
         "encoding": {"x": _q("usd_per_month", scale=scale), "text": _n("label")}}],
        "width": 440, "height": 260, "title": "M prices: monthly bill by reading of a turn"}
    assert [len(r) for r in rows] == [2, 1, 1]
    # a stated bill outside the scenarios widens the axis: 50 → 10, 2e5 → 1e6; exact powers stay
    wide, _ = _split(api_bill_chart(scen, stated.assign(usd_per_month=[50.0]), concurrent_sessions=1, api_model="M"))
    assert wide["layer"][0]["encoding"]["x"]["scale"]["domain"] == [10.0, 1e6]
    exact, _ = _split(api_bill_chart(scen.assign(usd_per_month=[1e3, 1e5]), stated, concurrent_sessions=1,
                                     api_model="M"))
    assert exact["layer"][0]["encoding"]["x"]["scale"]["domain"] == [1e3, 1e5]


def test_price_per_token_chart_spec():
    curves = pd.DataFrame({"usd_per_gpu_hour": [1.0], "throughput": ["t"], "usd_per_million_tokens": [2.0]})
    refs = pd.DataFrame({"usd_per_million_tokens": [0.1], "label": ["ref"]})
    pts = pd.DataFrame({"usd_per_gpu_hour": [1.5], "usd_per_million_tokens": [3.0], "label": ["p"], "gpu": ["g"],
                        "date": ["2024"]})
    spec, rows = _split(price_per_token_chart(curves, refs, pts, gpu="H100"))
    assert spec == {"layer": [
        {"mark": {"type": "line"},
         "encoding": {"x": _q("usd_per_gpu_hour", title="GPU price (USD per GPU-hour)"),
                      "y": _q("usd_per_million_tokens", scale={"type": "log"},
                              title="self-hosted USD per 1M tokens processed (log)"),
                      "color": _n("throughput", title=None,
                                  legend={"orient": "bottom", "columns": 1, "labelLimit": 520})}},
        {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "black"},
         "encoding": {"y": _q("usd_per_million_tokens")}},
        {"mark": {"type": "text", "align": "left", "x": 5, "dy": -6},
         "encoding": {"y": _q("usd_per_million_tokens"), "text": _n("label")}},
        {"mark": {"type": "point", "filled": True, "color": "black"},
         "encoding": {"x": _q("usd_per_gpu_hour"), "y": _q("usd_per_million_tokens"),
                      "tooltip": [_n("label"), _n("gpu"), _n("date"), _q("usd_per_gpu_hour", format="$.2f")]}}],
        "width": 500, "height": 300, "title": "Price per token vs. GPU price (dots: dated H100 price rows)"}
    assert [r[0] for r in rows] == [curves.iloc[0].to_dict(), refs.iloc[0].to_dict(), refs.iloc[0].to_dict(),
                                    pts.iloc[0].to_dict()]


def test_error_strips_spec():
    long = pd.DataFrame({"dimension": ["phase"], "group": ["prefill"], "error_pct": [5.0], "metric": ["ttft"],
                         "point": ["p1"]})
    spec, rows = _split(error_strips(long))
    assert spec == {
        "facet": {"row": _n("dimension", title=None, header={"labelAngle": 0, "labelAlign": "left"})},
        "spec": {"mark": {"type": "circle", "size": 28, "opacity": 0.55},
                 "encoding": {"x": _q("error_pct", title="error of the model, % (predicted ÷ measured − 1; "
                                                         "clipped at ±100%)",
                                      scale={"domain": [-100, 100], "clamp": True}),
                              "y": _n("group", title=None), "color": _n("metric", title="metric"),
                              "tooltip": [_n("point"), _q("error_pct", format=".1f")]},
                 "width": 760, "height": {"step": 18}},
        "resolve": {"scale": {"y": "independent"}},
        "title": "Validation points: error by phase, GPU, precision and engine"}
    assert len(rows[0]) == 1


def test_speedup_chart_spec():
    lines = pd.DataFrame({"weights": ["4-bit (INT4)", "FP4", "FP4", "8-bit (INT8, FP8)"], "batch": [1, 1, 2, 1],
                          "speedup_bound": [3.0, 3.5, 3.2, 1.9]})
    points = pd.DataFrame({"weights": ["FP4"], "batch": [4], "speedup": [1.5], "gpu": ["B200"], "model": ["m"],
                           "method": ["x"]})
    spec, rows = _split(speedup_chart(lines, points, [1, 4], "T"))
    # the two fixed widths first, then the others in the order of the lines
    colour = _n("weights", title="weights", scale={"domain": ["8-bit (INT8, FP8)", "4-bit (INT4)", "FP4"]})
    x = _q("batch", scale={"type": "log", "base": 2}, axis={"values": [1, 4], "format": "~g"},
           title="sequences per decode step (batch, log scale)")
    assert spec == {"layer": [
        {"mark": {"type": "rule", "strokeDash": [4, 4], "color": "gray"}, "encoding": {"y": _q("y")}},
        {"mark": {"type": "line", "point": True},
         "encoding": {"x": x, "y": _q("speedup_bound", title="decode speed-up over FP16 (×)"), "color": colour,
                      "tooltip": [_n("weights"), _q("batch"), _q("speedup_bound", format=".2f", title="bound (×)")]}},
        {"mark": {"type": "point", "size": 70, "filled": False, "strokeWidth": 1.5},
         "encoding": {"x": x, "y": _q("speedup"), "color": colour, "shape": _n("gpu", title="measured on"),
                      "tooltip": [_n("model"), _n("gpu"), _n("method"), _q("batch"),
                                  _q("speedup", format=".2f", title="measured (×)")]}}],
        "width": 600, "height": 320, "title": "T"}
    assert rows[0] == [{"y": 1.0}]


def test_persona_cost_chart_spec():
    # another column of the cost table (e.g. a count) is not a persona
    costs = pd.DataFrame({"basis": ["API", "GPU"], "volume": ["light", "busy"], "usd_per_month_before": [500.0, 2e4],
                          "usd_per_month_after": [100.0, 4e3], "sessions": [1.0, 2.0]})
    spec, rows = _split(persona_cost_chart(costs, tokens_before=12000, tokens_after=3000))
    # 100 to 20,000 USD with marks 1 and 3 per decade: 100, 300, 1,000, 3,000, 10,000
    assert spec == {
        "mark": {"type": "point", "size": 90, "filled": True},
        "encoding": {"x": _q("usd_per_month", scale={"type": "log"},
                             axis={"values": [100.0, 300.0, 1000.0, 3000.0, 10000.0], "format": "$,.2~s"},
                             title="persona cost (USD per month, log scale)"),
                     "y": _n("basis", title=None, axis={"labelLimit": 260}),
                     "color": _n("volume", title="volume", legend={"orient": "bottom", "columns": 1,
                                                                  "labelLimit": 400}),
                     "shape": _n("persona", title="persona", legend={"orient": "bottom", "columns": 1}),
                     "yOffset": _n("volume"),
                     "tooltip": [_n("basis"), _n("volume"), _n("persona"),
                                 _q("usd_per_month", format="$,.3s", title="USD per month")]},
        "width": 460, "height": 220,
        "title": "Persona cost a month, 12,000 and 3,000 tokens with every request"}
    assert [(r["basis"], r["volume"], r["persona"], r["usd_per_month"]) for r in rows[0]] == [
        ("API", "light", "12,000 tokens (before)", 500.0), ("GPU", "busy", "12,000 tokens (before)", 2e4),
        ("API", "light", "3,000 tokens (after)", 100.0), ("GPU", "busy", "3,000 tokens (after)", 4e3)]


def test_latency_sweep_chart_spec():
    sweep = pd.DataFrame({"rate_per_s": [1.0, 2.0], "ttft": [0.5, 0.7], "e2e": [2.0, 3.0], "other": [9.0, 9.0]})
    spec, rows = _split(latency_sweep_chart(sweep, ["ttft", "e2e", "ttft"], {"ttft": "TTFT"}, target_s=1.5,
                                            replica_gpus=4, model="M", gpu="G", prompt_tokens=100,
                                            reply_tokens=20))
    assert spec == {"layer": [
        {"mark": {"type": "line", "point": True},
         "encoding": {"x": _q("rate_per_s", title="load offered to one 4-GPU replica (requests/s)"),
                      "y": _q("seconds", scale={"type": "log"}, title="P95 latency (s, log)"),
                      "color": _n("latency", title=None, legend={"orient": "bottom"})}},
        {"mark": {"type": "rule", "strokeDash": [4, 3], "color": "black"}, "encoding": {"y": _q("y")}}],
        "width": 500, "height": 260, "title": "M on 4 x G: 100-token prompts, 20-token replies"}
    # each metric once, renamed where a name is given
    assert rows[0] == [{"rate_per_s": 1.0, "latency": "TTFT", "seconds": 0.5},
                       {"rate_per_s": 2.0, "latency": "TTFT", "seconds": 0.7},
                       {"rate_per_s": 1.0, "latency": "e2e", "seconds": 2.0},
                       {"rate_per_s": 2.0, "latency": "e2e", "seconds": 3.0}]
    assert rows[1] == [{"y": 1.5}]


def test_round_trip_chart_spec():
    rtt = pd.DataFrame({"rtt_p95_ms": [10.0], "destination_group": ["EU"], "destination_region": ["r"]})
    stated = pd.DataFrame({"stated_ms": [20.0], "destination_group": ["EU"]})
    spec, rows = _split(round_trip_chart(rtt, stated, ("US", "EU"), "westus"))
    assert rows == [rtt.to_dict("records"), stated.to_dict("records")]
    assert spec == {"layer": [
        {"mark": {"type": "tick", "thickness": 2, "size": 18},
         "encoding": {"x": _q("rtt_p95_ms", title="P95 round-trip time from westus (ms)"),
                      "y": _n("destination_group", title=None, sort=["US", "EU"]),
                      "tooltip": [_n("destination_region"), _q("rtt_p95_ms")]}},
        {"mark": {"type": "point", "shape": "diamond", "size": 140, "filled": True, "color": "#e15759"},
         "encoding": {"x": _q("stated_ms"), "y": _n("destination_group", sort=["US", "EU"]),
                      "tooltip": [_q("stated_ms", title="stated (T6)")]}}],
        "width": 480, "height": 200, "title": "Azure regions (ticks) vs. the case study's figure (diamond)"}


def test_kareto_frontier_chart_spec():
    mc = pd.DataFrame({"dram_gb": [0, 512, 64], "ssd_gb": [1, 2, 3], "throughput_at_slo_rps": [1.0, 6.0, 2.0],
                       "usd_per_million_tokens": [2.0, 4.0, 3.0], "ttft_p95_s": [1.0, 0.5, 0.7],
                       "hit_ratio": [0.1, 0.5, 0.3], "on_frontier": [True, False, True]})
    base = pd.DataFrame([{"dram_gb": 1024, "ssd_gb": 0, "throughput_at_slo_rps": 2.0, "usd_per_million_tokens": 3.0,
                          "feasible": True},
                         {"dram_gb": 8, "ssd_gb": 0, "throughput_at_slo_rps": 9.0, "usd_per_million_tokens": 9.0,
                          "feasible": False}])
    spec, rows = _split(kareto_frontier_chart(mc, base, ["dram_gb", "ssd_gb"]))
    # x 1 to 6: padded by 0.08 × 5 = 0.4; y 2 to 4: by 0.16
    x_dom, y_dom = spec["layer"][0]["encoding"]["x"]["scale"].pop("domain"), \
        spec["layer"][0]["encoding"]["y"]["scale"].pop("domain")
    assert x_dom == pytest.approx([0.6, 6.4], rel=1e-12) and y_dom == pytest.approx([1.84, 4.16], rel=1e-12)
    xy = {"x": _q("throughput_at_slo_rps"), "y": _q("usd_per_million_tokens")}
    assert spec == {"layer": [
        {"mark": {"type": "point", "filled": True, "size": 50, "opacity": 0.75},
         "encoding": {"x": _q("throughput_at_slo_rps", title="throughput at the P95 TTFT target (requests/s)",
                              scale={"zero": False, "nice": False}),
                      "y": _q("usd_per_million_tokens", title="cost (USD per 1M prompt tokens)",
                              axis={"format": "$,.2f"}, scale={"zero": False, "nice": False}),
                      "color": _q("ttft_p95_s", title="P95 TTFT (s)", scale={"scheme": "viridis", "reverse": True}),
                      "tooltip": [_q("dram_gb", title="dram_gb (GB)", format=","),
                                  _q("ssd_gb", title="ssd_gb (GB)", format=","),
                                  _q("usd_per_million_tokens", title="USD per 1M prompt tokens", format="$.3f"),
                                  _q("throughput_at_slo_rps", title="throughput (requests/s)", format=".3g"),
                                  _q("ttft_p95_s", title="P95 TTFT (s)", format=".3g"),
                                  _q("hit_ratio", title="hit ratio", format=".1%")]}},
        {"mark": {"type": "point", "size": 120, "color": "black"}, "encoding": xy},
        {"mark": {"type": "point", "shape": "cross", "size": 300, "color": "red", "filled": True},
         "encoding": {**xy, "tooltip": [_q("dram_gb"), _q("ssd_gb")]}}],
        "width": 600, "height": 360,
        "title": {"text": "Mooncake conversation trace: every feasible configuration",
                  "subtitle": "black ring: on the frontier; red cross: the baseline (axes fitted to the data, "
                              "not from zero)"}}
    points, ring, cross = rows
    assert len(points) == 3 and [r["dram_gb"] for r in ring] == [0, 64] and [r["dram_gb"] for r in cross] == [1024]


def test_kareto_frontier_chart_with_no_feasible_configuration():
    cols = ["dram_gb", "throughput_at_slo_rps", "usd_per_million_tokens", "ttft_p95_s", "hit_ratio", "on_frontier"]
    mc = pd.DataFrame({c: pd.Series([], dtype=bool if c == "on_frontier" else float) for c in cols})
    base = pd.DataFrame([{"dram_gb": 1, "throughput_at_slo_rps": 2.0, "usd_per_million_tokens": 3.0,
                          "feasible": False}])
    spec, rows = _split(kareto_frontier_chart(mc, base, ["dram_gb"]))
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["scale"]["domain"] == [0, 1] and enc["y"]["scale"]["domain"] == [0, 1]
    assert [len(r) for r in rows] == [0, 0, 0]
