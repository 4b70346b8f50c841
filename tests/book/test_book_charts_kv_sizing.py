"""model.book.charts: the kv_sizing chapter's charts, checked on their Vega-Lite specs."""
import pandas as pd

from model.book.charts import kv_per_token_chart, sessions_by_context_chart

PER_MODEL = pd.DataFrame({"model": ["A", "B"], "attention": ["GQA", "MHA"], "layers": [80, 32], "kv_heads": [8, 32],
                          "head_dim": [128, 128], "kv_kib_per_token": [320.0, 512.0],
                          "kv_gb_per_session": [3.3, 5.2]})
BY_CONTEXT = pd.DataFrame({"context_tokens": [1024, 2048, 1024], "n_gpus": [1, 1, 2], "sessions": [40, 20, 150],
                           "sessions_per_gpu": [40.0, 20.0, 75.0]})


def test_kv_per_token_chart_names_format_and_session():
    spec = kv_per_token_chart(PER_MODEL, kv_dtype="fp8", context_tokens=10_000).to_dict()
    assert spec["mark"]["type"] == "bar"
    assert spec["encoding"]["x"]["title"] == "KV cache per token (KiB, FP8)"
    assert spec["encoding"]["tooltip"][-1]["title"] == "GB per 10,000-token session"
    assert (spec["width"], spec["height"], spec["title"]) == (520, 170, "KV cache per token")


def test_sessions_by_context_chart_log_axis_ticks():
    spec = sessions_by_context_chart(BY_CONTEXT, title="T").to_dict()
    y = spec["encoding"]["y"]
    assert y["scale"] == {"type": "log"}
    assert y["axis"]["values"] == [20.0, 50.0]       # the 1-2-5 marks between 20 and 75 sessions per GPU
    assert spec["encoding"]["color"]["field"] == "n_gpus"
    assert (spec["width"], spec["height"], spec["title"]) == (560, 300, "T")
