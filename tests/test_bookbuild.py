import altair as alt
import pandas as pd
import pytest

from model.book.build import _parse_params, check_offline
from model.book.charts import show


def test_parse_params_as_yaml():
    assert _parse_params(["-p", "model", "llama-3-70b", "-p", "context_tokens", "8192", "-p", "quick", "true"]) == {
        "model": "llama-3-70b", "context_tokens": 8192, "quick": True}
    with pytest.raises(SystemExit):
        _parse_params(["-p", "model"])
    with pytest.raises(SystemExit):
        _parse_params(["--model", "x", "y"])


def test_check_offline_flags_remote_assets(tmp_path):
    (tmp_path / "ok.html").write_text('<script src="_static/vega-bundle.js"></script>'
                                      '<a href="https://example.org">a link is fine</a>')
    (tmp_path / "bad.html").write_text('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
                                       '<link rel="stylesheet" href="//fonts.example/x.css">')
    problems = check_offline(tmp_path)
    assert len(problems) == 2 and all(p.startswith("bad.html") for p in problems)


def test_chart_html_is_offline_and_deterministic(tmp_path):
    chart = alt.Chart(pd.DataFrame({"x": [1, 2], "y": [3, 4]})).mark_line().encode(x="x:Q", y="y:Q")
    a, b = show(chart), show(chart)
    html = a._repr_html_()
    assert a.div_id == b.div_id and html == b._repr_html_()
    assert "<svg" in html and "vegaEmbed" in html and "http" not in html.split("<svg")[0]
    page = tmp_path / "page.html"
    page.write_text(html)
    assert check_offline(tmp_path) == []
    page.write_text(html.replace("<svg", "<span", 1))
    assert check_offline(tmp_path)
