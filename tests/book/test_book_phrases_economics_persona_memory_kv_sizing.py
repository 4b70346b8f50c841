"""model.book.phrases: the sentences of the kv_sizing chapter, against hand-written text for each branch."""
from model.book.phrases import (ATTENTION_NAMES, fleet_finding, fleet_text, gqa_text, group_text, missing_lines_text,
                                native_context_text, one_gpu_finding, one_gpu_text)
from model.kv import MemoryBudget

GB = 1e9


def _budget(n_gpus, usable_gb, weights_gb, kv_gb_per_session):
    return MemoryBudget(n_gpus=n_gpus, total_bytes=80 * GB * n_gpus, usable_bytes=usable_gb * GB,
                        weight_bytes=weights_gb * GB, kv_bytes_per_session=kv_gb_per_session * GB)


FITS = _budget(1, 72, 14, 5)         # 58 GB left: 11 sessions of 5 GB
ONE = _budget(1, 72, 14, 40)         # 58 GB left: 1 session of 40 GB
TIGHT = _budget(1, 72, 70, 5)        # 2 GB left: none
OVER = _budget(1, 72, 140, 5)        # weights do not fit
GROUP = _budget(8, 576, 140, 3.2)    # 436 GB left: 136 sessions of 3.2 GB


def test_attention_names():
    assert ATTENTION_NAMES["GQA"] == "grouped-query attention"
    assert ATTENTION_NAMES["MQA"] == "multi-query attention"
    assert ATTENTION_NAMES["MHA"] == "multi-head attention"


def test_gqa_text():
    assert gqa_text(8) == "its 8 query heads per key/value head divide the cache by 8"
    assert gqa_text(1) == "every query head has its own key/value head"


def test_native_context_text():
    assert native_context_text(10_000, 4_096) == (
        "10,000 tokens exceed the model's native 4,096-token context, so such a session needs a context "
        "extension or a truncated history")
    assert native_context_text(8_192, 8_192) == "8,192 tokens fit within the model's native 8,192-token context"


def test_missing_lines_text():
    assert missing_lines_text([]) == "No line is missing: every GPU count holds at least one session at some context."
    assert missing_lines_text([1]) == ("The chart has no line for 1 GPU: not even one session fits there beside "
                                       "the weights.")
    assert missing_lines_text([1, 2]) == ("The chart has no line for 1, 2 GPUs: not even one session fits there "
                                          "beside the weights.")
    assert missing_lines_text([2]) == ("The chart has no line for 2 GPUs: not even one session fits there beside "
                                       "the weights.")


def test_one_gpu_text():
    assert one_gpu_text(FITS, 10_000) == ("they fit on one GPU and leave 58.0 GB of KV cache: 11 sessions of "
                                          "10,000 tokens")
    assert one_gpu_text(ONE, 10_000) == "they fit on one GPU and leave 58.0 GB of KV cache: 1 session of 10,000 tokens"
    assert one_gpu_text(TIGHT, 10_000) == "they fit on one GPU but leave too little for even one session"
    assert one_gpu_text(OVER, 10_000) == "they do not fit on one GPU at all, so no session does"


def test_one_gpu_finding():
    words = dict(gpu_name="a100-80gb", weight_dtype="fp16")
    assert one_gpu_finding(FITS, **words) == ("On one A100-80GB, FP16 weights take 14 GB of the 72 GB usable: "
                                              "11 such sessions fit beside them.")
    assert one_gpu_finding(ONE, **words) == ("On one A100-80GB, FP16 weights take 14 GB of the 72 GB usable: "
                                             "1 such session fit beside them.")
    assert one_gpu_finding(OVER, **words) == ("On one A100-80GB, FP16 weights take 140 GB of the 72 GB usable: "
                                              "no such session fits beside them.")


def test_group_text():
    assert group_text(GROUP) == "A group of 8 GPUs holds 136 such sessions (17.0 per GPU)"
    assert group_text(GROUP, finding=True) == "A group of 8 GPUs holds 136 sessions (17.0 per GPU)."
    none = _budget(2, 144, 140, 5)
    assert group_text(none) == "Even a group of 2 GPUs holds no such session"
    assert group_text(none, finding=True) == "Even a group of 2 GPUs holds no such session."


def test_fleet_text_and_finding():
    # 1,000,000 sessions of 3.2 GB: 3,200 TB; 7,353 groups of 8 (136 sessions each), 58,824 GPUs
    assert fleet_text(1_000_000, GROUP, 58_824) == ("Holding 1,000,000 of them at once takes 3,200.0 TB of KV "
                                                    "cache: 7,353 such groups, 58,824 GPUs.")
    assert fleet_finding(1_000_000, GROUP, 58_824) == ("1,000,000 concurrent sessions take 3,200.0 TB of KV cache: "
                                                       "58,824 GPUs (7,353 groups of 8) by memory alone.")
    assert fleet_text(1_000, GROUP, None) == "No number of 8-GPU groups holds 1,000 of them."
    assert fleet_finding(1_000, GROUP, None) == "No number of 8-GPU groups holds 1,000 sessions."


# --- the economics chapter -------------------------------------------------------------------------------

from model.book.phrases import (big_count, bill_position, measured_price_clause, measured_sentence,  # noqa: E402
                                usd_month_text)


def test_big_count():
    assert big_count(14_600_000) == "14.6M"
    assert big_count(1.46e12) == "1.46T"
    assert big_count(2.2e9) == "2.2B"
    assert big_count(45_300) == "45.3K"
    assert big_count(950) == "950"


def test_usd_month_text():
    assert usd_month_text(3.2e9) == "$3.2B"
    assert usd_month_text(45e6) == "$45M"
    assert usd_month_text(812_345) == "$812K"


def test_bill_position():
    assert bill_position(1, 2, 5) == "falls below every reading"
    assert bill_position(6, 2, 5) == "exceeds every reading"
    assert bill_position(2, 2, 5) == "lies inside the readings"


def test_measured_sentence():
    assert measured_sentence(None) == ("No measured throughput of this model, GPU and replica size is on record to "
                                       "set beside it.")
    assert measured_sentence(1234.4) == (
        "A measured figure for the same setting (LMDeploy, data/parameters), 1,234 tokens per second per GPU with "
        "short prompts, stands beside it as a cross-check; both flatter self-hosting at long contexts.")


def test_measured_price_clause():
    assert measured_price_clause(0.123, 0.456, measured=True) == " (the measured throughput $0.12–0.46)"
    assert measured_price_clause(float("nan"), float("nan"), measured=False) == ""
