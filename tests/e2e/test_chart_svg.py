"""The chart check's SVG reading (tests/e2e/chart_svg.py) on small crafted charts in Vega's SVG layout, and on
a real chart rendered by vl-convert: marks that draw, marks that draw nothing, labels that overlap."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from chart_svg import (Box, label_overlaps, mark_problems, marks_signature, parse_svg, parse_transform,  # noqa: E402
                       path_points, svg_problems)


def _svg(body: str, width=300, height=200) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="marks" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><g transform="translate(40,10)">{body}</g></svg>')


def _bars(heights) -> str:
    paths = "".join(f'<path d="M{30 * i},{150 - h}h20v{h}h-20Z" fill="#4c78a8"/>' for i, h in enumerate(heights))
    return f'<g class="mark-rect role-mark marks">{paths}</g>'


def _labels(*items) -> str:
    texts = "".join(f'<text text-anchor="{a}" transform="translate({x},{y})" font-size="10px">{t}</text>'
                    for t, x, y, a in items)
    return f'<g class="mark-text role-axis-label">{texts}</g>'


def test_bars_with_height_draw_and_zero_height_bars_do_not():
    n, problems = mark_problems(parse_svg(_svg(_bars([50, 80, 20]))))
    assert n == 3 and problems == []
    n, problems = mark_problems(parse_svg(_svg(_bars([0, 0, 0]))))
    assert n == 0 and problems == ["draws no marks"]


def test_a_layer_of_empty_bars_beside_labels_is_reported():
    """The log-axis bar chart that draws its labels but no bars (bars from zero on a log scale)."""
    labels = '<g class="mark-text role-mark layer_1_marks"><text transform="translate(10,10)" font-size="10px">$4.8M</text></g>'
    n, problems = mark_problems(parse_svg(_svg(_bars([0, 0]) + labels)))
    assert n == 1
    assert problems == ["a layer of 2 rect marks draws nothing (marks)"]


def test_nan_and_off_canvas_marks_do_not_count():
    nan = '<g class="mark-rect role-mark marks"><path d="M0,NaNh20vNaNh-20Z"/></g>'
    off = '<g class="mark-rect role-mark marks"><path transform="translate(900,900)" d="M0,0h20v20h-20Z"/></g>'
    assert mark_problems(parse_svg(_svg(nan)))[0] == 0
    assert mark_problems(parse_svg(_svg(off)))[0] == 0


def test_a_horizontal_line_and_a_rule_draw_a_circle_symbol_draws():
    line = '<g class="mark-line role-mark marks"><path d="M0,50L100,50L200,50"/></g>'
    rule = '<g class="mark-rule role-mark marks"><line transform="translate(0,20)" x2="150" y2="0"/></g>'
    dot = ('<g class="mark-symbol role-mark marks"><path transform="translate(50,50)" '
           'd="M2.7,0A2.7,2.7,0,1,1,-2.7,0A2.7,2.7,0,1,1,2.7,0"/></g>')
    n, problems = mark_problems(parse_svg(_svg(line + rule + dot)))
    assert n == 3 and problems == []


def test_axis_gridlines_and_backgrounds_are_not_marks():
    axis = ('<g class="mark-rule role-axis-grid"><line x2="0" y2="150"/></g>'
            '<path class="background" d="M0,0h200v150h-200Z"/>')
    assert mark_problems(parse_svg(_svg(axis)))[0] == 0


def test_two_overlapping_labels_are_found_and_spaced_labels_are_not():
    # "$4.80M" and "$234M" both anchored near x = 0: the economics/persona bars' labels at the left edge
    overlapping = _labels(("$4.80M", 0, 20, "start"), ("$234M", 4, 22, "start"))
    assert label_overlaps(parse_svg(_svg(overlapping))) == [("$4.80M", "$234M")]
    spaced = _labels(("0", 0, 160, "middle"), ("50", 50, 160, "middle"), ("100", 100, 160, "middle"))
    assert label_overlaps(parse_svg(_svg(spaced))) == []
    # same place, other anchor: "end" at 60 covers about 60 - 25 .. 60; "start" at 40 covers about 40 .. 60
    assert label_overlaps(parse_svg(_svg(_labels(("right", 60, 20, "end"), ("left", 40, 20, "start")))))


def test_labels_that_touch_read_as_one():
    """The log axis whose "1,000" and "2,000" print as "1,0002,000": no overlap, but no gap either."""
    # "1,000" at 10 px is 4 × 6.36 + 3.2 = 28.6 px wide: centred at 137.4 it ends at 151.7; "2,000" centred
    # at 166.4 starts at 152.1, a gap of 0.4 px
    touching = _labels(("1,000", 137.4, 160, "middle"), ("2,000", 166.4, 160, "middle"))
    assert label_overlaps(parse_svg(_svg(touching))) == [("1,000", "2,000")]
    apart = _labels(("1,000", 137.4, 160, "middle"), ("2,000", 172, 160, "middle"))
    assert label_overlaps(parse_svg(_svg(apart))) == []
    # one above the other (a y-axis): no collision however close horizontally
    stacked = _labels(("0.2", 0, 100, "end"), ("0.4", 0, 80, "end"))
    assert label_overlaps(parse_svg(_svg(stacked))) == []


def test_measured_boxes_replace_the_approximate_ones():
    """The browser's boxes decide: labels the approximate metrics find touching pass when the browser drew
    them 2 px apart, and labels it drew on top of each other fail whatever the SVG's approximation says."""
    touching = _svg(_bars([50]) + _labels(("1,000", 137.4, 160, "middle"), ("2,000", 166.4, 160, "middle")))
    assert svg_problems(touching)[1] == ["labels overlap: '1,000' and '2,000'"]
    apart = [("1,000", Box(125.0, 152.0, 150.0, 162.0)), ("2,000", Box(152.0, 152.0, 177.0, 162.0))]
    assert svg_problems(touching, apart)[1] == []
    on_top = [("1,000", Box(125.0, 152.0, 150.0, 162.0)), ("2,000", Box(149.5, 152.0, 174.5, 162.0))]
    assert svg_problems(touching, on_top)[1] == ["labels overlap: '1,000' and '2,000'"]
    # 0.5 px apart is closer than LABEL_GAP_PX; one row above the other never collides
    close = [("a", Box(0.0, 0.0, 10.0, 10.0)), ("b", Box(10.5, 0.0, 20.0, 10.0))]
    assert svg_problems(touching, close)[1] == ["labels overlap: 'a' and 'b'"]
    rows = [("a", Box(0.0, 0.0, 10.0, 10.0)), ("b", Box(0.0, 8.0, 10.0, 18.0))]
    assert svg_problems(touching, rows)[1] == []


def test_hidden_labels_do_not_overlap():
    hidden = ('<g class="mark-text role-axis-label"><text transform="translate(0,20)" font-size="10px">a long label</text>'
              '<text transform="translate(2,20)" font-size="10px" opacity="0">another label</text></g>')
    assert label_overlaps(parse_svg(_svg(hidden))) == []


def test_transforms_compose_in_order():
    m = parse_transform("translate(10,20) rotate(-90) translate(0,-2)")
    # (0, 0) -> translate(0,-2) -> (0,-2) -> rotate(-90): (x, y) -> (y, -x) = (-2, 0) -> + (10, 20)
    assert m[4] == pytest.approx(8) and m[5] == pytest.approx(20)
    assert m[0] == pytest.approx(0, abs=1e-12) and m[1] == pytest.approx(-1)


def test_path_points_relative_and_absolute():
    pts = path_points("M10,10h20v5h-20Z")
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    assert (min(xs), max(xs), min(ys), max(ys)) == (10, 30, 10, 15)
    assert path_points("M0,NaNL1,1") == []
    arc = path_points("M3,0A3,3,0,1,1,-3,0")
    assert max(p[1] for p in arc) == pytest.approx(3) and min(p[1] for p in arc) == pytest.approx(-3)


def test_signature_changes_with_the_marks():
    assert marks_signature(_svg(_bars([50, 80]))) != marks_signature(_svg(_bars([50, 60])))
    assert marks_signature(_svg(_bars([50, 80]))) == marks_signature(_svg(_bars([50, 80])))


def test_real_vl_convert_charts():
    """A bar chart rendered by vl-convert draws its bars; the same bars from zero on a log axis do not."""
    alt = pytest.importorskip("altair")
    vlc = pytest.importorskip("vl_convert")
    import pandas as pd

    df = pd.DataFrame({"what": ["a", "b", "c"], "usd": [4.8e6, 2.3e8, 9.6e5]})
    linear = alt.Chart(df).mark_bar().encode(x="usd:Q", y="what:N")
    n, problems = svg_problems(vlc.vegalite_to_svg(linear.to_dict()))
    assert n == 3 and problems == []
    log = alt.Chart(df).mark_bar().encode(x=alt.X("usd:Q", scale=alt.Scale(type="log")), y="what:N")
    n, problems = svg_problems(vlc.vegalite_to_svg(log.to_dict()))
    assert n == 0 and "draws no marks" in problems
