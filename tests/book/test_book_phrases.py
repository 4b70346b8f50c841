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
    little = slo_sentence(ALL.assign(throughput_at_slo_rps=[7.54, 7.85, 7.9]), **WORDS)
    assert little.startswith("Here cached prefixes buy little throughput: with 1 TB of DRAM per instance the same "
                             "32 GPUs sustain about as many requests (7.54 → 7.85 requests/s)")
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
        "only the zero-load P95 TTFT alone (11 s) is above the target; for HBM + 1 TB DRAM per instance even at "
        "the slowest rate tried (the trace's arrival times stretched 1,000-fold) requests that arrive together "
        "queue to a P95 of 9 s, so no request rate meets it")


# A configuration can miss the target with its zero-load floor under it: the slowest rate tried still queues
# (the Mooncake trace's requests arrive in groups at one timestamp). The text must not call such a floor
# "above the target" (it did, on 1 or 3 instances of the tiering chapter).
QUEUED = _slo([False] * 3, [0.0] * 3, [math.nan] * 3, [8.8, 7.1, 6.5], [36.3, 30.0, 29.5])


def test_slo_sentence_when_even_the_slowest_rate_queues():
    assert slo_sentence(QUEUED, **{**WORDS, "n_instances": 1}) == (
        "No configuration meets a P95 TTFT of 10 s at any rate tried, though the P95 of the zero-load TTFT is "
        "6.5–8.8 s: on 1 instance of 4 × a100-80gb, at the slowest rate tried (the trace's arrival times "
        "stretched 1,000-fold), the best P95 the configurations reach is 29.5 s, because requests that arrive "
        "together still queue behind one another. The throughput is 0 (and there is no cost per million "
        "tokens); more instances or faster GPUs would have an answer.")
    assert "above the target" not in slo_sentence(QUEUED.assign(feasible=[False, False, True]), **WORDS)
    assert slo_finding(QUEUED, dram_label="1 TB", n_gpus=4, target_s=10.0) == (
        "no configuration meets it: even at the slowest rate tried (the trace's arrival times stretched "
        "1,000-fold) requests that arrive together queue to a P95 of 29.5 s on this setup.")
    # the floor above the target keeps its own reason, and one instance is not "1 instances"
    assert "on 1 instance of 4 × a100-80gb the P95 of the zero-load TTFT alone is 11–12 s" in slo_sentence(
        NONE, **{**WORDS, "n_instances": 1})


def test_slo_finding_three_branches():
    words = dict(dram_label="1 TB", n_gpus=32, target_s=10.0)
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


# --- the DRAM sweep's cost sentence (tiering chapter) -------------------------------------------------------

from model.book.phrases import dram_cost_sentence, seconds_text  # noqa: E402


def _sweeps(costs, served, ttft0=15.2):
    """The chapter's capacity sweeps: DRAM rows (0 to 4 TB per instance) then SSD rows, which have their own
    capacities and must not be read."""
    caps = [0, 256, 1024, 4096][:len(costs)]
    dram = pd.DataFrame({"tier": "dram", "capacity_gb_per_instance": caps, "usd_per_million_tokens": costs,
                         "throughput_requests_per_s": served, "ttft_p95_s": [ttft0] + [1.0] * (len(costs) - 1)})
    ssd = pd.DataFrame({"tier": "ssd", "capacity_gb_per_instance": [0, 8000], "usd_per_million_tokens": [0.01, 0.02],
                        "throughput_requests_per_s": [3.4, 3.4], "ttft_p95_s": [1.0, 1.0]})
    return pd.concat([dram, ssd], ignore_index=True)


DRAM_WORDS = dict(arrival_rps=3.4, n_instances=8, dram_price="$3.09 per GB-month")


def test_dram_cost_sentence_at_the_traces_rate():
    assert dram_cost_sentence(_sweeps([0.73, 0.75, 0.76, 0.85], [3.37] * 4), **DRAM_WORDS) == (
        "At the trace's fixed request rate the cost per million tokens only rises with capacity — the GPUs are "
        "paid either way and rented DRAM costs about $3.09 per GB-month — so a saving has to come from serving "
        "more requests with the same GPUs (next section).")
    assert dram_cost_sentence(_sweeps([0.73, 0.72, 0.76, 0.85], [3.37] * 4), **DRAM_WORDS).startswith(
        "At the trace's fixed request rate the cost per million tokens is lowest at 256 GB per instance ($0.72 "
        "against $0.73 with no DRAM) — the GPUs are paid either way")


def test_dram_cost_sentence_when_the_instances_fall_behind():
    """With 4 or 6 Mooncake instances the cost is lowest at some DRAM: the branch that crashed the chapter
    (it read the per-instance capacity from the DRAM sweep, which lacks it)."""
    words = {**DRAM_WORDS, "n_instances": 4}
    behind = _sweeps([0.75, 0.73, 0.70, 0.74], [1.64, 1.72, 1.90, 2.35], ttft0=3594.3)
    assert dram_cost_sentence(behind, **words) == (
        "The 4 instances fall behind the trace: it brings 3.4 requests/s and HBM alone serves 1.64, so requests "
        "queue for the rest of the trace (hence a P95 TTFT of 3,590 s). Every hit frees prefill time: the "
        "sweep's largest DRAM, 4.1 TB per instance, serves 2.35 requests/s, and the cost per million tokens is "
        "lowest at 1.02 TB per instance ($0.7 against $0.75 with no DRAM); beyond it, DRAM's rent (about $3.09 "
        "per GB-month) outgrows the requests it adds. More instances, or the lower request rates of the next "
        "section, take the queue away.")
    one = dram_cost_sentence(_sweeps([0.78, 0.80, 0.90, 1.28], [0.39, 0.40, 0.45, 0.54]), **{**words, "n_instances": 1})
    assert one.startswith("The 1 instance falls behind the trace:")
    assert ("the cost per million tokens only rises with capacity: the requests DRAM adds do not pay its rent "
            "(about $3.09 per GB-month).") in one
    dip = dram_cost_sentence(_sweeps([0.775, 0.784, 0.781, 0.81], [0.79, 0.80, 0.91, 1.16]), **words)
    assert "is lowest with no DRAM: the requests DRAM adds do not pay its rent" in dip
    falls = dram_cost_sentence(_sweeps([0.9, 0.8, 0.7, 0.6], [1.0, 1.5, 2.0, 3.0]), **words)
    assert ("falls all the way to the sweep's largest capacity, 4.1 TB per instance ($0.6 against $0.9 with no "
            "DRAM): the requests DRAM adds pay more than its rent.") in falls


def test_seconds_text_has_no_exponent():
    assert [seconds_text(x) for x in (8.255, 15.19, 71.0, 999.4, 3594.3, 25750.8)] == [
        "8.26", "15.2", "71", "999", "3,590", "25,800"]
    assert seconds_text(math.inf) == "unbounded"


def test_one_gpu_is_not_plural():
    one = dict(WORDS, n_gpus=1)
    assert "the same 1 GPU sustains 2 times as many requests" in slo_sentence(ALL, **one)
    assert "the same 1 GPU sustains 2 times" in slo_finding(ALL, dram_label="1 TB", n_gpus=1, target_s=10.0)


def test_dram_heading_claims_only_what_the_gains_show():
    from model.book.phrases import dram_heading
    assert dram_heading(0.234, 0.045) == "DRAM is the tier that pays."       # the defaults: 8.7% -> 32.1%, SSD +4.5
    assert dram_heading(0.004, 0.0) == "DRAM adds little here."              # under one point
    assert dram_heading(0.05, 0.08) == "SSD adds more than DRAM here."
