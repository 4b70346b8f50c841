"""model.book.phrases: the sentences of the kareto, quantization and validation chapters, against
hand-written text for each branch."""
import pandas as pd

from model.book.phrases import fail_where_text, metric_errors_text, not_predicted_text, refit_move_text


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


def test_plural():
    from model.book.phrases import plural

    assert plural(1, "sequence") == "1 sequence"
    assert plural(1200, "sequence") == "1,200 sequences"
    assert plural(0, "session") == "0 sessions"


def test_weights_fit_sentence_each_branch():
    from model.book.phrases import weights_fit_sentence

    assert weights_fit_sentence("A100-80GB", 1.25, 1, 10_000, 1) == (
        "fit on one A100-80GB and leave 1.2 GB for KV cache: 1 session of 10,000 tokens")
    assert weights_fit_sentence("A100-80GB", 2.0, 3, 10_000, 1).endswith(": 3 sessions of 10,000 tokens")
    assert weights_fit_sentence("A100-80GB", 0.5, 0, 10_000, 1) == (
        "fit on one A100-80GB but leave only 0.5 GB for KV cache, less than one session of 10,000 tokens")
    assert weights_fit_sentence("A100-80GB", -60.0, 0, 10_000, 2) == (
        "do not fit on one A100-80GB: they need 2 GPUs")


def test_batch_reason_text_each_branch():
    from model.book.phrases import batch_reason_text

    assert batch_reason_text(5, 8, "INT8", "A100-80GB") == "a batch set by hand"
    assert batch_reason_text(1, None, "INT8", "A100-80GB") == (
        "the 1 session that fits beside INT8 weights on one A100-80GB")
    assert batch_reason_text(4, None, "INT8", "A100-80GB") == (
        "the 4 sessions that fit beside INT8 weights on one A100-80GB")
    assert batch_reason_text(0, None, "INT4", "H100-80GB") == (
        "a single sequence, as no session fits beside INT4 weights on one H100-80GB")


def test_compute_note_text_and_price_label_text():
    from model.book.phrases import compute_note_text, price_label_text

    assert compute_note_text(True, "fp8", "FP8", "H100-80GB") == ""
    assert compute_note_text(False, "fp8", "FP8", "A100-80GB") == (
        "The A100-80GB has no FP8 tensor cores: FP8 weights must be converted before each multiply, so the "
        "bound is further from reach.")
    assert price_label_text(False, "ignored", "aws on-demand a100-80gb, 2026-11-09") == (
        "aws on-demand a100-80gb, 2026-11-09")
    assert price_label_text(True, "a quote", "row") == "a quote"
    assert price_label_text(True, None, "row") == "a price set by hand"


def test_refit_move_text_names_the_parameter_that_moved_most():
    params = pd.DataFrame({"meaning": ["dense matmuls", "host time per running sequence per step"],
                           "change": [-0.04, 0.655]})
    assert refit_move_text(params) == "moves them, most of all the host time per running sequence per step (+66%)"
    still = params.assign(change=[0.0, -0.004])
    assert refit_move_text(still) == "leaves every parameter within 1% of its stored value"
