"""model.book.phrases: the sentences of the tiering chapter, against hand-written text for each branch."""
import math

import pandas as pd

from model.book.phrases import slo_finding, slo_sentence, ssd_reason, ttl_keep_text, ttl_match_text, ttl_saving_text

CONFIGS = ["HBM only", "HBM + 1 TB DRAM per instance", "HBM + 1 TB DRAM + 7.68 TB SSD per instance"]


def _slo(feasible, rps, usd, floor, p95):
    return pd.DataFrame({"configuration": CONFIGS, "feasible": feasible, "throughput_at_slo_rps": rps,
                         "usd_per_million_tokens": usd, "floor_p95_ttft_s": floor, "ttft_p95_s": p95})


ALL = _slo([True] * 3, [1.0, 2.0, 2.02], [0.8, 0.5, 0.6], [2.0, 1.0, 1.0], [9.0, 9.5, 9.5])
NONE = _slo([False] * 3, [0.0] * 3, [math.nan] * 3, [12.0, 11.5, 11.0], [13.0, 12.5, 12.25])
SOME = _slo([False, True, True], [0.0, 3.0, 3.5], [math.nan, 0.4, 0.41], [11.0, 4.0, 3.9], [12.0, 9.0, 9.0])
WORDS = dict(dram_label="1 TB", n_gpus=32, n_instances=8, gpus_per_instance=4, gpu="a100-80gb", target_s=10.0)


def test_slo_sentence_every_configuration_meets_the_target():
    assert slo_sentence(ALL, **WORDS) == (
        "Cached prefixes turn into throughput: with 1 TB of DRAM per instance the same 32 GPUs sustain 2 times "
        "as many requests (1 → 2 requests/s) at a P95 TTFT of 10 s, and the cost of a million tokens falls "
        "($0.8 → $0.5) with the DRAM paid for. SSD buys no more throughput on this trace and only adds its "
        "price: past the knee, capacity is cost without return.")
    more_ssd = ALL.assign(throughput_at_slo_rps=[1.0, 2.0, 3.0])
    assert slo_sentence(more_ssd, **WORDS).endswith(
        "with the DRAM paid for. SSD on top sustains 1.5 times as many requests again.")


def test_slo_sentence_no_configuration_meets_the_target():
    assert slo_sentence(NONE, **WORDS) == (
        "No configuration meets a P95 TTFT of 10 s: on 8 instances of 4 × a100-80gb the P95 of the zero-load "
        "TTFT alone is 11–12 s (the prefill of the trace's longest prompts), so no request rate is fast enough "
        "and the throughput is 0. The best P95 the configurations reach, at the slowest rate tried, is 12.2 s "
        "(with no sustainable rate there is no cost per million tokens either). A target above the floor, "
        "faster GPUs or more GPUs per instance would have an answer.")


def test_slo_sentence_some_configurations_meet_the_target():
    assert slo_sentence(SOME, **WORDS) == (
        "Only HBM + 1 TB DRAM per instance and HBM + 1 TB DRAM + 7.68 TB SSD per instance meet a P95 TTFT of "
        "10 s (3 and 3.5 requests/s); for HBM only the zero-load P95 TTFT alone (11 s) is above the target, so "
        "no request rate meets it (and no cost per million tokens is given): here cached prefixes make the "
        "difference between an answer and none.")
    one = SOME.assign(feasible=[False, False, True])
    assert slo_sentence(one, **WORDS).startswith(
        "Only HBM + 1 TB DRAM + 7.68 TB SSD per instance meets a P95 TTFT of 10 s (3.5 requests/s); for HBM "
        "only and HBM + 1 TB DRAM per instance the zero-load P95 TTFT alone (11 s and 4 s) is above")


def test_slo_finding_three_branches():
    words = dict(dram_label="1 TB", n_gpus=32)
    assert slo_finding(ALL, **words) == ("with 1 TB of DRAM per instance the same 32 GPUs sustain 2 times as many "
                                         "requests (1 → 2 requests/s), and a million tokens cost $0.8 → $0.5.")
    assert slo_finding(NONE, **words) == "no configuration meets it: the zero-load P95 alone is 11–12 s on this setup."
    assert slo_finding(SOME, **words) == ("only HBM + 1 TB DRAM per instance and HBM + 1 TB DRAM + 7.68 TB SSD per "
                                          "instance meet it: cached prefixes make the difference between an answer "
                                          "and none.")
    assert slo_finding(SOME.assign(feasible=[False, False, True]), **words).startswith(
        "only HBM + 1 TB DRAM + 7.68 TB SSD per instance meets it:")


def test_ssd_reason_below_and_above_one_point():
    assert ssd_reason(0.004, 1024) == "1.02 TB of DRAM per instance already holds almost everything this trace reuses"
    assert ssd_reason(0.02, 256) == "the trace reuses more than 256 GB of DRAM per instance holds"


def test_ttl_keep_text():
    assert ttl_keep_text(120.0, 0.5123) == ("every uniform TTL of 120 s or more keeps within one point of the no-TTL "
                                            "hit ratio (51.2%)")
    assert ttl_keep_text(math.nan, 0.5123) == ("no uniform TTL tried keeps within one point of the no-TTL hit ratio "
                                               "(51.2%)")


def test_ttl_match_text():
    found = {"matching": "uniform 600 s", "matching_memory_gb": 2500.0, "memory_saved": 0.4}
    assert ttl_match_text(found) == ("40% less memory than the shortest uniform TTL that keeps as many hits "
                                     "(uniform 600 s, 2.5 TB)")
    assert ttl_match_text(found | {"memory_saved": -0.25}) == (
        "25% more memory than the shortest uniform TTL that keeps as many hits (uniform 600 s, 2.5 TB)")
    assert ttl_match_text({"matching": None, "matching_memory_gb": math.nan, "memory_saved": math.nan}) == (
        "no uniform TTL tried keeping as many hits")


def test_sweep_peaks_text_pairs_and_single_policy():
    from model.book.phrases import sweep_peaks_text

    peak = pd.Series({"static": 400.0, "continuous": 1200.0, "chunked_prefill": 1250.0})
    assert sweep_peaks_text(peak) == ("continuous batching reaches 1,200 output tokens/s against static batching's "
                                      "400 (×3); chunked prefill reaches 1,250, about the same as continuous batching")
    assert sweep_peaks_text(peak[["static", "continuous"]]) == (
        "continuous batching reaches 1,200 output tokens/s against static batching's 400 (×3)")
    assert sweep_peaks_text(peak[["continuous", "chunked_prefill"]] * [1, 2]) == (
        "chunked prefill reaches 2,500, more than continuous batching")
    assert sweep_peaks_text(peak[["static"]]) == ("only static was run (parameter policies), so there is nothing "
                                                  "to compare")


def test_held_phrase_three_shares_and_not_run():
    from model.book.phrases import held_phrase

    held = {"static": 0.3, "mid": 0.7, "continuous": 0.96}
    assert held_phrase(held, "static", "static reservation") == (
        "static reservation holds real tokens in 30% of the memory it reserves (most of its reserved memory empty)")
    assert held_phrase(held, "mid", "x") == "x holds real tokens in 70% of the memory it reserves (some of its reserved memory empty)"
    assert held_phrase(held, "continuous", "paged allocation") == (
        "paged allocation holds real tokens in 96% of the memory it reserves (little of it empty: only each "
        "sequence’s last block is partly filled)")
    assert held_phrase(held, "chunked_prefill", "chunks") == "chunks was not run (parameter policies)"


def test_hf_why_text_slower_or_not():
    from model.book.phrases import hf_why_text

    assert hf_why_text(16, 4, 12.345, 30.0, 10.0) == (
        "The HF-style replica is slower because it prefills each padded batch of 16 prompts on one GPU at a time "
        "and returns a batch only when its longest request ends (its P95 time to first token alone is 12.35 s).")
    assert hf_why_text(8, 1, 0.5, 10.4, 10.0) == (
        "Here the HF-style replica is not slower at the tail: with 8 prompts per padded batch its P95 time to "
        "first token is 0.50 s.")


def test_ttl_saving_text_says_less_or_more_without_a_minus_sign():
    assert ttl_saving_text({"matching": "uniform 120 s", "memory_saved": 0.434}) == \
        "43% less than the shortest uniform TTL that keeps as many hits"
    assert ttl_saving_text({"matching": "uniform 120 s", "memory_saved": -0.25}) == \
        "25% more than the shortest uniform TTL that keeps as many hits"
    assert ttl_saving_text({"matching": None, "memory_saved": 0.1}) == "no uniform TTL tried keeps as many hits"
