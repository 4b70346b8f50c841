"""model.book.phrases: the sentences of the kareto, quantization and validation chapters, against
hand-written text for each branch."""
import pandas as pd

from model.book.phrases import fail_where_text, metric_errors_text, not_predicted_text


def test_not_predicted_text_counts_each_reason_in_order():
    reasons = pd.Series({"lengths not stated": 12, "queue time": 3})
    assert not_predicted_text(reasons) == "12 lengths not stated; 3 queue time"
    assert not_predicted_text(pd.Series(dtype=int)) == ""


def test_metric_errors_text_one_clause_per_metric():
    by_metric = pd.DataFrame({"metric": ["tpot_ms", "requests_per_s"], "after_median": [0.123, 0.05],
                              "after_max": [0.456, 0.5]})
    assert metric_errors_text(by_metric) == (
        "time per output token 12% median (at most 46%); requests/s 5% median (at most 50%)")


def test_fail_where_text_by_source_or_none():
    sources = pd.DataFrame({"size": [3, 1], "max": [0.8, 0.404]}, index=pd.Index(["mlperf", "vllm"], name="source"))
    assert fail_where_text(sources) == "3 from mlperf (up to 80%); 1 from vllm (up to 40%)"
    assert fail_where_text(sources.iloc[:0]) == "none"

