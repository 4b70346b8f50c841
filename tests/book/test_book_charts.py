"""Axis helpers of model.book.charts, checked against values written out by hand."""
import math

import pytest

from model.book.charts import log_ticks, range_note


def test_log_ticks_one_two_five_over_decades():
    assert log_ticks(50, 5000) == [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0]


def test_log_ticks_below_one_and_exact_values():
    ticks = log_ticks(0.1, 1)
    assert ticks == [0.1, 0.2, 0.5, 1.0]
    assert 0.2 in ticks  # exact decimal, not 2 * 10**-1 with rounding error


def test_log_ticks_stay_within_the_range():
    # 1-2-5 marks from 0.125 to 180: 0.1 and 200 lie outside, so they are not marks of this axis
    assert log_ticks(0.125, 180) == [0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
    assert log_ticks(1, 10) == [1.0, 2.0, 5.0, 10.0]
    assert log_ticks(0.999, 10.001) == [1.0, 2.0, 5.0, 10.0]      # ends within rounding of a mark keep it
    assert log_ticks(1.0000000000001, 9.9999999999999) == [1.0, 2.0, 5.0, 10.0]
    assert log_ticks(1.01, 9.9) == [2.0, 5.0]
    assert log_ticks(3, 4.9) == []                                 # no 1-2-5 mark between 3 and 4.9


def test_log_ticks_of_the_chapters_ranges():
    # kv_sizing: sessions per GPU from 0.5 to 44.75
    assert log_ticks(0.5, 44.75) == [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
    # persona_memory: persona cost from $960,000 to $2,183,520,000 a month, marks 1 and 3 per decade
    assert log_ticks(960_000, 2_183_520_000, steps=(1, 3)) == [1e6, 3e6, 1e7, 3e7, 1e8, 3e8, 1e9]
    # persona_memory: personas cached from 100 to 5,000,000, one mark per decade
    assert log_ticks(100, 5_000_000, steps=(1,)) == [100.0, 1000.0, 10000.0, 100000.0, 1000000.0]
    # steps are taken in increasing order whatever order they are given in
    assert log_ticks(1, 100, steps=(5, 2, 1)) == [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]


def test_log_ticks_custom_steps_and_single_value():
    assert log_ticks(1, 100, steps=(1,)) == [1.0, 10.0, 100.0]
    assert log_ticks(3, 3) == []
    assert log_ticks(2, 2) == [2.0]


@pytest.mark.parametrize("low,high", [(0, 10), (-1, 10), (10, 1), (1, math.inf)])
def test_log_ticks_rejects_bad_range(low, high):
    with pytest.raises(ValueError, match="low and high"):
        log_ticks(low, high)


def test_log_ticks_rejects_bad_steps():
    with pytest.raises(ValueError, match="steps"):
        log_ticks(1, 10, steps=(0.5,))


def test_range_note():
    assert range_note([0.5, 0.512, 0.497], ".3f") == "from 0.497 to 0.512 (spread 0.015)"
    assert range_note([49.7, 51.2, math.nan], ".1f", "%") == "from 49.7 to 51.2% (spread 1.5%)"
    assert range_note([20, 950], ",.0f", "GB") == "from 20 to 950 GB (spread 930 GB)"
    assert range_note([math.nan]) == "no finite value"


def test_compact_audit_six_columns_units_and_no_scientific_notation():
    import pandas as pd

    from model.book.charts import compact_audit

    table = pd.DataFrame([
        {"claim_id": "a", "row": "§1 service", "column": "characters", "stated_value": 5e6, "computed_value": 5e6,
         "unit": "count", "relative_difference": 0.0, "verdict": "given", "reason": "an input", "tolerance": None},
        {"claim_id": "b", "row": "§1 service", "column": "session length", "stated_value": 30.0,
         "computed_value": 7.33333, "unit": "min", "relative_difference": -0.755556, "verdict": "inconsistent",
         "reason": "200 turns x 2.2 s", "tolerance": 0.05, "kind": "estimate", "low": None, "high": None},
        {"claim_id": "c", "row": "K", "column": "configurations", "stated_value": math.nan, "computed_value": 540.0,
         "unit": "text", "relative_difference": math.nan, "verdict": "not reproducible", "reason": "qualitative",
         "tolerance": None},
    ])
    out = compact_audit(table, ["", "at least the bound − 5%", None])
    assert list(out.columns) == ["figure", "stated", "computed", "difference", "verdict", "judged against, and why"]
    assert out.loc[0, "stated"] == "5,000,000" and out.loc[0, "figure"] == "characters (§1 service)"
    assert out.loc[1, "computed"] == "7.333 min" and out.loc[1, "difference"] == "−75.6%"
    assert out.loc[1, "judged against, and why"] == "at least the bound − 5%: 200 turns x 2.2 s"
    assert out.loc[2, "stated"] == "—" and out.loc[2, "difference"] == "—"
    assert out.loc[0, "judged against, and why"] == "an input"
    pct = table.iloc[[1]].assign(unit="%", stated_value=58.3, computed_value=26.64)
    assert compact_audit(pct).loc[0, "stated"] == "58.3%"
    with pytest.raises(ValueError, match="judged"):
        compact_audit(table, ["one"])


def test_sweep_panel_a_line_per_tier_and_a_dashed_rule_at_zero():
    import pandas as pd

    from model.book.charts import sweep_panel

    panel = pd.DataFrame({"capacity_gb_per_instance": [0, 100, 1000, 0, 500], "hit_ratio": [0.1, 0.2, 0.3, 0.3, 0.31],
                          "swept": ["DRAM", "DRAM", "DRAM", "SSD", "SSD"]})
    spec = sweep_panel(panel, "hit_ratio", "hit ratio", ".0%", order=["SSD", "DRAM"]).to_dict()
    zero, line = spec["layer"]
    assert zero["mark"] == {"type": "rule", "strokeDash": [4, 3]} and line["mark"] == {"type": "line", "point": True}
    assert spec["width"] == 600 and spec["height"] == 150
    x = line["encoding"]["x"]
    assert x["scale"] == {"type": "log", "domain": [100 / 1.3, 1000 * 1.3]} and x["axis"]["values"] == [100, 200, 500, 1000]
    assert "title" in x and x["title"] is None
    assert line["encoding"]["color"]["sort"] == ["SSD", "DRAM"]
    assert sweep_panel(panel, "hit_ratio", "h", ".0%", order=["DRAM"], x_title="GB").to_dict()[
        "layer"][1]["encoding"]["x"]["title"] == "GB"


def test_error_strips_a_row_per_dimension_clipped_at_100_percent():
    import pandas as pd

    from model.book.charts import error_strips

    long = pd.DataFrame({"dimension": ["phase", "engine"], "group": ["prefill", "vllm"], "error_pct": [-150.0, 12.0],
                         "metric": ["ttft_ms", "ttft_ms"], "point": ["p", "p"]})
    spec = error_strips(long).to_dict()
    assert spec["facet"]["row"]["field"] == "dimension" and spec["resolve"] == {"scale": {"y": "independent"}}
    x = spec["spec"]["encoding"]["x"]
    assert x["scale"] == {"domain": [-100, 100], "clamp": True} and x["field"] == "error_pct"
    assert spec["spec"]["width"] == 760 and spec["spec"]["height"] == {"step": 18}


def test_speedup_chart_a_rule_at_one_bound_lines_and_measured_points():
    import pandas as pd

    from model.book.charts import speedup_chart

    lines = pd.DataFrame({"weights": ["8-bit (INT8, FP8)"], "batch": [1], "speedup_bound": [2.0]})
    points = pd.DataFrame({"weights": ["4-bit (INT4)"], "batch": [4], "speedup": [1.5], "gpu": ["A100"],
                           "model": ["m"], "method": ["awq"]})
    spec = speedup_chart(lines, points, [1, 2, 4], "t").to_dict()
    rule, line, pts = spec["layer"]
    assert rule["mark"]["type"] == "rule" and line["mark"] == {"type": "line", "point": True}
    assert pts["mark"]["type"] == "point" and pts["encoding"]["shape"]["field"] == "gpu"
    assert line["encoding"]["x"]["axis"]["values"] == [1, 2, 4] and line["encoding"]["x"]["scale"]["base"] == 2
    assert spec["width"] == 600 and spec["height"] == 320 and spec["title"] == "t"
