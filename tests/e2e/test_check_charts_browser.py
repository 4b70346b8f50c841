"""The chart check in a real headless Chromium on small pages built here (skipped without a Chromium): a
chart with a slider that changes its bars passes, a slider that changes nothing and a chart that draws no
bars fail."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import check_charts  # noqa: E402

pytestmark = pytest.mark.skipif(check_charts.find_browser() is None, reason="no Chromium on this machine")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from model.book.charts import write_bundle

    root = tmp_path_factory.mktemp("site")
    write_bundle(str(root / "vega-bundle.js"))
    return root


def _page(root: Path, name: str, chart) -> Path:
    from model.book.charts import show

    page = root / f"{name}.html"
    page.write_text('<!doctype html><html><head><meta charset="utf-8"><script src="vega-bundle.js"></script></head>'
                    f"<body>{show(chart)._repr_html_()}</body></html>", encoding="utf-8")
    return page


def _bars(scale_with_param: bool, heights=(3, 5, 2)):
    import altair as alt
    import pandas as pd

    k = alt.param(name="k", value=2, bind=alt.binding_range(min=1, max=5, step=1, name="factor "))
    df = pd.DataFrame({"x": ["a", "b", "c"], "y": list(heights)})
    expr = "datum.y * k" if scale_with_param else "datum.y"
    return (alt.Chart(df).mark_bar().encode(x="x:N", y=alt.Y("v:Q", scale=alt.Scale(domain=[0, 30])))
            .transform_calculate(v=expr).add_params(k).properties(width=200, height=150))


def test_slider_that_moves_the_bars_passes_and_one_that_does_not_fails(site):
    with check_charts.Browser(check_charts.find_browser()) as browser:
        n, moved, problems = check_charts.check_page(browser, _page(site, "good", _bars(True)))
        assert (n, moved, problems) == (1, 1, [])
        n, moved, problems = check_charts.check_page(browser, _page(site, "inert", _bars(False)))
        assert moved == 1 and len(problems) == 1 and "changes no mark" in problems[0]
        n, moved, problems = check_charts.check_page(browser, _page(site, "empty", _bars(False, (0, 0, 0))))
        assert any("draws no marks" in p for p in problems)


def _labels_chart(names, width):
    import altair as alt
    import pandas as pd

    df = pd.DataFrame({"x": names, "y": [1] * len(names)})
    return (alt.Chart(df).mark_bar().encode(x=alt.X("x:N", axis=alt.Axis(labelAngle=0)), y="y:Q")
            .properties(width=width, height=100))


def _dense_axis():
    import altair as alt
    import pandas as pd

    # 0 .. 34,000 every 2,000 on 560 px: 18 labels of about 30 px, 33 px apart (the kv_sizing chart)
    df = pd.DataFrame({"x": [0, 34000], "y": [1, 2]})
    return (alt.Chart(df).mark_line().encode(x=alt.X("x:Q", axis=alt.Axis(values=list(range(0, 34001, 2000)))),
                                             y="y:Q").properties(width=560, height=100))


def test_labels_are_judged_where_the_browser_draws_them(site):
    """Nominal labels (which Vega never drops) that run into each other fail in the browser's own layout;
    a dense continuous axis passes, because the book's label separation makes Vega drop every other label
    that would come closer than 4 px."""
    with check_charts.Browser(check_charts.find_browser()) as browser:
        _, _, problems = check_charts.check_page(
            browser, _page(site, "crowded", _labels_chart(["a long label", "another label", "a third one"], 60)))
        assert any("labels overlap: 'a long label' and 'another label'" in p for p in problems)
        _, _, problems = check_charts.check_page(
            browser, _page(site, "roomy", _labels_chart(["a long label", "another label", "a third one"], 600)))
        assert problems == []
        _, _, problems = check_charts.check_page(browser, _page(site, "dense", _dense_axis()))
        assert problems == []
        labels = _measured(browser, _page(site, "dense2", _dense_axis()))
        x_labels = [t for t, *_ in labels if t.endswith(",000") or t == "0"]
        assert x_labels[0] == "0" and 1 < len(x_labels) < 18  # some of the 18 x labels dropped
        assert "2,000" not in x_labels or "4,000" not in x_labels


def _measured(browser, page):
    import json

    target, session = browser.open(page.resolve().as_uri())
    try:
        browser.evaluate(session, check_charts.WAIT_JS % {"timeout": check_charts.RENDER_TIMEOUT_MS},
                         timeout_ms=check_charts.RENDER_TIMEOUT_MS + 10000)
        return next(iter(json.loads(browser.evaluate(session, check_charts.LABELS_JS)).values()))
    finally:
        browser.close_tab(target)
