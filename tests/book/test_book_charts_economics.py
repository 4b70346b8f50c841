"""model.book.charts: the economics chapter's charts, checked on their Vega-Lite specs."""
import pandas as pd

from model.book.charts import api_bill_chart, price_per_token_chart

SCEN = pd.DataFrame({"scenario": ["new tokens only", "new tokens only"], "tokens_per_turn": [50, 500],
                     "usd_per_month": [2.5e7, 3.0e8]})
STATED = pd.DataFrame({"usd_per_month": [3e6, 3e8], "label": ["§2 (stated)", "§1 (stated)"]})


def test_api_bill_chart_log_axis_from_the_decade_below():
    spec = api_bill_chart(SCEN, STATED, concurrent_sessions=1_000_000, api_model="gpt").to_dict()
    bars = spec["layer"][0]
    # smallest bill $3M → axis from $1M; largest $300M → to $1B; bars start at the axis' low end
    assert bars["encoding"]["x"]["scale"]["domain"] == [1e6, 1e9]
    assert bars["encoding"]["x2"] == {"datum": 1e6}
    assert bars["encoding"]["x"]["title"] == "API bill at 1,000,000 concurrent sessions (USD/month, log)"
    assert spec["title"] == "gpt prices: monthly bill by reading of a turn"
    assert len(spec["layer"]) == 3


def test_price_per_token_chart_layers():
    curves = pd.DataFrame({"usd_per_gpu_hour": [1.0], "throughput": ["1 tok/s/GPU (modelled)"],
                           "usd_per_million_tokens": [2.0]})
    refs = pd.DataFrame({"usd_per_million_tokens": [0.08], "label": ["target $0.08"]})
    pts = pd.DataFrame({"usd_per_gpu_hour": [1.0], "usd_per_million_tokens": [2.0], "label": ["aws on-demand"],
                        "gpu": ["a100-80gb"], "date": ["2024-01-01"]})
    spec = price_per_token_chart(curves, refs, pts, gpu="a100-80gb").to_dict()
    assert [layer["mark"]["type"] for layer in spec["layer"]] == ["line", "rule", "text", "point"]
    assert spec["layer"][0]["encoding"]["y"]["scale"] == {"type": "log"}
    assert spec["title"] == "Price per token vs. GPU price (dots: dated a100-80gb price rows)"
