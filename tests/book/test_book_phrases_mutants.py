"""model.book.phrases by hand: the small words (ratios, counts, capacities, points) at and around each threshold,
and the sentences of the tier-configuration search, on inputs chosen here; every expected string written out
here, the arithmetic behind it in a comment. The architecture lookup is replaced by a stand-in (no data read)."""
import math
from types import SimpleNamespace

import pandas as pd
import pytest

from model.architectures import load_architecture
from model.book import phrases


# --- small words ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio, text", [
    (math.inf, "grows without bound"), (math.nan, "grows without bound"),
    (2.0, "doubles"), (1.81, "doubles"), (2.19, "doubles"),          # within 10% of 2: 1.8 to 2.2
    (1.6, "rises by 60%"), (2.25, "rises by 125%"),
    (2.75, "triples"), (3.29, "triples"), (3.35, "rises by 235%"),  # within 0.3 of 3
    (3.65, "quadruples"), (4.39, "quadruples"), (4.5, "rises by 350%"),
    (1.01, "barely changes"), (0.985, "barely changes"), (1.0, "barely changes"),
    (1.03, "rises by 3%"), (0.97, "falls by 3%"), (1.5, "rises by 50%"), (12.0, "rises by 1,100%"),
    (0.25, "falls by 75%"), (0.0, "falls by 100%"),
])
def test_ratio_verb(ratio, text):
    assert phrases.ratio_verb(ratio) == text


def test_join_and():
    assert phrases.join_and(["a"]) == "a"
    assert phrases.join_and([1, 2]) == "1 and 2"
    assert phrases.join_and(("a", "b", "c")) == "a, b and c"
    assert phrases.join_and(x for x in "wxyz") == "w, x, y and z"


@pytest.mark.parametrize("ratio, text", [
    (math.inf, "unboundedly more requests"),
    (1.5, "1.5 times as many requests"), (12.345, "12 times as many requests"), (2.0, "2 times as many requests"),
    (1.04, "about as many requests"), (0.96, "about as many requests"), (1.0, "about as many requests"),
    (1.33, "about a third more requests"), (1.36, "about a third more requests"),   # 0.36 − 1/3 = 0.027
    (1.47, "about half more requests"), (1.4999, "about half more requests"),
    (1.25, "about a quarter more requests"), (1.27, "about a quarter more requests"),  # 0.27 − 0.25 = 0.02
    (1.30, "30% more requests"),   # 1/3 − 0.30 = 0.033, 0.30 − 0.25 = 0.05: neither within 0.03
    (1.1, "10% more requests"), (1.06, "6% more requests"), (1.2, "20% more requests"),
    (0.8, "20% fewer requests"), (0.5, "50% fewer requests"), (0.7, "30% fewer requests"),
])
def test_as_many(ratio, text):
    assert phrases.as_many(ratio) == text


def test_as_many_with_another_noun():
    assert phrases.as_many(0.5, "GPUs") == "50% fewer GPUs"
    assert phrases.as_many(3.0, "GPUs") == "3 times as many GPUs"
    assert phrases.as_many(math.inf, "GPUs") == "unboundedly more GPUs"
    assert phrases.as_many(1.0, "GPUs") == "about as many GPUs"
    assert phrases.as_many(1.33, "GPUs") == "about a third more GPUs"
    assert phrases.as_many(1.1, "GPUs") == "10% more GPUs"


@pytest.mark.parametrize("gb, text", [
    (math.inf, "unbounded"), (256.0, "256 GB"), (0.5, "0.5 GB"), (990.0, "990 GB"), (996.0, "0.996 TB"),
    (1000.0, "1 TB"), (7680.0, "7.68 TB"), (12345.0, "12.3 TB"), (990_000.0, "990 TB"),
    (996_000.0, "0.996 PB"), (3.3e6, "3.3 PB"), (12_345_678.0, "12.3 PB"),
])
def test_capacity_text(gb, text):
    assert phrases.capacity_text(gb) == text


@pytest.mark.parametrize("difference, text", [
    (0.0, "under one point"), (0.0099, "under one point"), (-0.0099, "under one point"),
    (0.015, "1.5 points"), (-0.015, "1.5 points"), (0.123, "12 points"), (0.02, "2 points"),
])
def test_points(difference, text):
    assert phrases.points(difference) == text


# --- the tier-configuration search ------------------------------------------------------------------------------

@pytest.mark.parametrize("percent, text", [
    (math.nan, "cannot be compared"), (math.inf, "cannot be compared"), (0.0, "is unchanged"),
    (0.49, "is unchanged"), (-0.49, "is unchanged"), (30.4, "rises 30%"), (-12.6, "falls 13%"), (1.0, "rises 1%"),
    (-1.0, "falls 1%"),
    # 0.5 formats as "0" (round half to even), so it is unchanged, not "rises 0%"; 1.5 and 0.51 round up
    (0.5, "is unchanged"), (-0.5, "is unchanged"), (0.51, "rises 1%"), (1.5, "rises 2%"), (-2.5, "falls 2%"),
])
def test_change_phrase(percent, text):
    assert phrases.change_phrase(percent, better="rises", worse="falls") == text


def test_feasibility_sentence_per_branch():
    assert phrases.feasibility_sentence("conversation", 1200, 1200, True, 2.0) == (
        "On the conversation trace all 1,200 configurations meet the 2 s P95 TTFT target.")
    assert phrases.feasibility_sentence("conversation", 1200, 1200, False, 2.0) == (
        "On the conversation trace all 1,200 configurations meet the 2 s P95 TTFT target, but the baseline does "
        "not, so improvements over it cannot be computed.")
    assert phrases.feasibility_sentence("tool", 0, 10, True, 0.5) == (
        "On the tool trace none of the 10 configurations meets the 0.5 s P95 TTFT target, even on an idle "
        "replica: each has throughput 0 at the SLO, an infinite cost per token and feasible = False, so there is "
        "no frontier and no improvement to report.")
    # 1,200 − 300 = 900 left out
    assert phrases.feasibility_sentence("conversation", 300, 1200, False, 1.5) == (
        "On the conversation trace 300 of the 1,200 configurations meet the 1.5 s P95 TTFT target; the other 900 "
        "(feasible = False) are left out of the frontier, but the baseline does not, so improvements over it "
        "cannot be computed.")
    assert phrases.feasibility_sentence("t", 1, 3, True, 10.0) == (
        "On the t trace 1 of the 3 configurations meet the 10 s P95 TTFT target; the other 2 (feasible = False) "
        "are left out of the frontier.")


def _evaluations(ratio):
    return pd.DataFrame({"search": ["diminishing returns", "exhaustive grid"], "evaluations": [150.0, 1200.0],
                         "evaluation_reduction": [8.0, 1.0], "hypervolume_ratio": [ratio, 1.0]})


def test_search_sentence():
    # 1,200 ÷ 150 = 8.0 times fewer; 0.9876 of the hypervolume is 98.8%
    assert phrases.search_sentence(_evaluations(0.9876)) == (
        "evaluates 150 of the 1,200 configurations (8.0× fewer) and recovers 98.8% of the exhaustive frontier's "
        "hypervolume")
    assert phrases.search_sentence(_evaluations(math.nan)) == (
        "evaluates 150 of the 1,200 configurations (8.0× fewer); with no feasible configuration there is no "
        "frontier to recover")


@pytest.mark.parametrize("row, text", [
    ({"hbm_gb": 59, "dram_gb": 1024, "ssd_gb": 12000}, "59 GB of HBM, 1,024 GB of DRAM, 12 TB of SSD"),
    ({"hbm_gb": 80, "dram_gb": 0, "ssd_gb": 7680}, "80 GB of HBM, no DRAM, 7,680 GB of SSD"),
    ({"hbm_gb": 2000.0, "dram_gb": 1500, "ssd_gb": 0.0}, "2 TB of HBM, 1,500 GB of DRAM, no SSD"),
    ({"hbm_gb": 0, "dram_gb": 1000, "ssd_gb": 999.6}, "no HBM, 1 TB of DRAM, 1,000 GB of SSD"),
    ({"hbm_gb": math.nan, "dram_gb": 1, "ssd_gb": 1}, "none (no configuration meets the SLO)"),
    ({"hbm_gb": 1, "dram_gb": 1, "ssd_gb": math.nan}, "none (no configuration meets the SLO)"),
    ({"hbm_gb": 1, "dram_gb": math.inf, "ssd_gb": 1}, "none (no configuration meets the SLO)"),
])
def test_config_phrase(row, text):
    assert phrases.config_phrase(pd.Series(row)) == text


def _setup(set_by_user):
    price = SimpleNamespace(set_by_user=set_by_user, provider="aws", pricing="on-demand", date="2024-05-01")
    return SimpleNamespace(model="m-1", price=price, gpu="h100", n_gpus=4, gpu_usd_per_hour=2.5,
                           slo_ttft_p95_s=2.0)


def test_setting_sentence(monkeypatch):
    monkeypatch.setattr(phrases, "load_architecture", lambda name: SimpleNamespace(display_name=f"Model {name}"))
    assert phrases.setting_sentence(_setup(True)) == (
        "The search below runs Model m-1 on 4× h100 at $2.50 per GPU-hour (as set in the parameters), with a P95 "
        "TTFT target of 2 s.")
    assert phrases.setting_sentence(_setup(False)) == (
        "The search below runs Model m-1 on 4× h100 at $2.50 per GPU-hour (the h100 row of "
        "data/prices/gpu_prices.csv: aws on-demand, 2024-05-01), with a P95 TTFT target of 2 s.")


def test_reference_load_phrase(monkeypatch):
    ev = SimpleNamespace(reference_rps=12.345)
    # kareto_reference_load is 0.8 in data/parameters/kareto.csv
    assert phrases.reference_load_phrase(ev, True) == "12.3 requests/s, 80% of the baseline's throughput at the SLO"
    assert phrases.reference_load_phrase(ev, False) == (
        "12.3 requests/s, the trace's own rate, as the baseline meets the SLO at no rate")
    monkeypatch.setattr(phrases, "default", lambda name: {"kareto_reference_load": 0.655}[name])
    assert phrases.reference_load_phrase(ev, True) == "12.3 requests/s, 66% of the baseline's throughput at the SLO"


def test_frontier_sentence():
    assert phrases.frontier_sentence(1, 5) == "1 of the 5 feasible configurations is on the frontier."
    assert phrases.frontier_sentence(12, 1500) == "12 of the 1,500 feasible configurations are on the frontier."
    assert phrases.frontier_sentence(0, 3) == "0 of the 3 feasible configurations are on the frontier."
    assert phrases.frontier_sentence(0, 0) == (
        "No configuration meets the SLO on this trace, so the chart is empty: there is no frontier.")


def test_ttl_sentence():
    group, single = SimpleNamespace(chosen="TTL per group"), SimpleNamespace(chosen="single TTL")
    assert phrases.ttl_sentence(group, {"best_uniform_ttl_s": 600.0, "saving_percent": 0.04}) == (
        "a TTL per group costs the same as the best single TTL (600 s): grouping saves nothing")
    assert phrases.ttl_sentence(single, {"best_uniform_ttl_s": math.inf, "saving_percent": -0.049}) == (
        "a TTL per group costs the same as the best single TTL (no expiry): grouping saves nothing")
    assert phrases.ttl_sentence(single, {"best_uniform_ttl_s": 600.0, "saving_percent": 0.05}) == (
        "the tuner keeps 'single TTL' (best single TTL: 600 s)")
    assert phrases.ttl_sentence(group, {"best_uniform_ttl_s": math.inf, "saving_percent": 12.34}) == (
        "a TTL per group costs 12.3% less than the best single TTL (no expiry)")


# --- more small words, at their thresholds ------------------------------------------------------------------------

def test_small_words_at_their_thresholds():
    assert phrases.points(0.01) == "1 points"            # 100 × 0.01 = 1.0 exactly: not under one point
    assert phrases.points(0.099) == "9.9 points"
    assert phrases.capacity_text(995.0) == "0.995 TB"      # 1e3 × 0.995 = 995.0 exactly
    assert phrases.capacity_text(995_000.0) == "0.995 PB"
    assert phrases.as_many(1.443) == "44% more requests"   # 0.443 from every share by more than 0.03
    assert phrases.as_many(0.557) == "44% fewer requests"
    assert phrases.seconds_text(1000.0) == "1,000" and phrases.seconds_text(1000.4) == "1,000"
    assert phrases.seconds_text(999.0) == "999" and phrases.seconds_text(3594.0) == "3,590"
    assert phrases.seconds_text(-2000.0) == "-2,000" and phrases.seconds_text(15.2) == "15.2"
    assert phrases.seconds_text(math.inf) == "unbounded"
    assert phrases._percent_text(115.4) == "115%" and phrases._percent_text(1025.0) == "1,025%"
    assert phrases._percent_text(1000.0) == "1,000%" and phrases._percent_text(1000.5) == "1,000%"


@pytest.mark.parametrize("x, text", [
    (1e12, "1T"), (1.46e12, "1.46T"), (1e9, "1B"), (-2.5e9, "-2.5B"), (1e6, "1M"), (14.6e6, "14.6M"), (1e3, "1K"),
    (950.0, "950"), (999.0, "999"),
])
def test_big_count(x, text):
    assert phrases.big_count(x) == text


def test_dollar_amounts():
    assert [phrases.usd_month_text(x) for x in (1e9, 3.2e9, 1e6, 45e6, 812e3, 999.0)] == [
        "$1B", "$3.2B", "$1M", "$45M", "$812K", "$0.999K"]
    assert [phrases.usd_short(x) for x in (1e6, -2.5e6, 812_345.0, -999.0)] == ["$1M", "$-2.5M", "$812K", "$-0.999K"]
    assert [phrases.usd_text(x) for x in (1e6, -1.5e6, 12_345.4, -999_999.0)] == [
        "$1.00M", "$-1.50M", "$12,345", "$-999,999"]
    assert phrases.price_for_saving(100.0, 1.0) == "$100.00" and phrases.price_for_saving(5.0, 0.5) == "$10.00"
    assert phrases.price_for_saving(5.0, 0.0) == "an unbounded price (no GPU-hour is saved)"
    assert phrases.net_saving_verb(0.5) == "saves" and phrases.net_saving_verb(0.0) == "costs more than it saves:"


def test_places_and_sides():
    assert phrases.latency_place("eu_west", 50, 40, 60) == "eu west 50 ms is inside (40–60 ms)"
    assert phrases.latency_place("a", 40, 40, 60) == "a 40 ms is inside (40–60 ms)"
    assert phrases.latency_place("a", 60, 40, 60) == "a 60 ms is inside (40–60 ms)"
    assert phrases.latency_place("a", 60.5, 40.4, 60.4) == "a 60.5 ms is above every region (40–60 ms)"
    assert phrases.latency_place("a", 30, 40, 60) == "a 30 ms is below every region (40–60 ms)"
    assert phrases.bill_position(5, 5, 9) == "lies inside the readings"
    assert phrases.bill_position(9, 5, 9) == "lies inside the readings"
    assert phrases.bill_position(9.5, 5, 9) == "exceeds every reading"
    assert phrases.bill_position(4, 5, 9) == "falls below every reading"
    assert phrases.side_of(pd.Series([1.0, 2.0]), 2.0) == "on both sides of"
    assert phrases.side_of(pd.Series([2.0, 3.0]), 2.0) == "on both sides of"
    assert phrases.side_of(pd.Series([2.5, math.nan]), 2.0) == "above"
    assert phrases.side_of(pd.Series([1.5]), 2.0) == "below"
    assert phrases.side_of(pd.Series([math.nan]), 2.0) == "not comparable with"
    assert phrases.times_range(pd.Series([3.0, 2.0])) == "×2 to ×3"
    assert phrases.times_range(pd.Series([2.5])) == "×2.5" and phrases.times_range(pd.Series([], dtype=float)) == "n/a"


def test_tiers_and_heads():
    assert phrases.beyond_hbm_text(0.25, 0.2, 80) == "all within the 80 GB of HBM left for KV"
    assert phrases.beyond_hbm_text(0.5, 0.0, 80) == "0 GB of it DRAM and 0 GB SSD beyond HBM"   # 0.5 GB: beyond
    assert phrases.beyond_hbm_text(1.0, 0.0, 80) == "1 GB of it DRAM and 0 GB SSD beyond HBM"
    assert phrases.beyond_hbm_text(1024.0, 7680.0, 80) == "1,024 GB of it DRAM and 7,680 GB SSD beyond HBM"
    assert phrases.gqa_text(2) == "its 2 query heads per key/value head divide the cache by 2"
    assert phrases.gqa_text(1) == "every query head has its own key/value head"
    assert phrases.replica_text(2, "a100") == "2 × a100 (tensor parallel)"
    assert phrases.dram_heading(0.01, 0.0) == "DRAM is the tier that pays."        # one point exactly is a gain
    assert phrases.dram_heading(0.05, 0.05) == "SSD adds more than DRAM here."
    assert phrases.dram_heading(0.0099, 0.0) == "DRAM adds little here."
    assert phrases.ssd_reason(0.01, 1000.0) == "the trace reuses more than 1 TB of DRAM per instance holds"
    assert phrases.ssd_reason(0.0099, 512.0) == "512 GB of DRAM per instance already holds almost everything this " \
                                                "trace reuses"


def test_refit_move_text():
    params = pd.DataFrame({"meaning": ["weight read", "overhead"], "change": [0.01, -0.005]})
    assert phrases.refit_move_text(params) == "moves them, most of all the weight read (+1%)"   # 1% exactly moves
    params = pd.DataFrame({"meaning": ["a", "b"], "change": [0.2, -0.66]})
    assert phrases.refit_move_text(params) == "moves them, most of all the b (-66%)"
    assert phrases.refit_move_text(params, threshold=0.7) == "leaves every parameter within 70% of its stored value"


def test_search_sentence_with_the_grid_first():
    frame = _evaluations(0.5).iloc[::-1].reset_index(drop=True)
    assert phrases.search_sentence(frame) == (
        "evaluates 150 of the 1,200 configurations (8.0× fewer) and recovers 50.0% of the exhaustive frontier's "
        "hypervolume")


# --- the architectures' sentences -----------------------------------------------------------------------------------

def _layer(kind, elements, window=None):
    return SimpleNamespace(kind=kind, elements_per_token=elements, window=window)


def _stub(layers, kinds, *, attention="GQA", kv_heads=2, head_dim=4, num_layers=7, **more):
    return SimpleNamespace(layers=[1] if layers else [], attention=attention, num_kv_heads=kv_heads, head_dim=head_dim,
                           num_layers=num_layers, attention_layers=lambda: layers, layer_kinds=lambda: dict(kinds),
                           **more)


MIXED = [_layer("full", 16), _layer("sliding", 16, 4096), _layer("sliding", 24, 1024), _layer("chunked", 17, 8192),
         _layer("linear", 0)]
MIXED_KINDS = {"full": 1, "sliding": 2, "chunked": 1, "linear": 3}


def test_kv_formula_by_hand():
    # 2 KV heads of width 4: 16 elements is 2 × 2 × 4 (keys and values); 24 = 4 × 6 and 17 = 4 × 4 + 1 are not
    arch = _stub(MIXED, MIXED_KINDS)
    assert phrases.kv_formula_text(arch, 1.5) == (
        "(2 × 2 × 2 × 4 + 1 × 24 + 1 × 17) × 1.5, counting the 4 attention layers only (the 3 linear-attention "
        "layers keep a fixed state instead)")
    assert phrases.kv_formula_text(_stub([_layer("full", 16)] * 3, {"full": 3}), 2) == "2 × 3 × 2 × 4 × 2"
    assert phrases.kv_formula_text(_stub([], {"full": 7}), 0.5) == "2 × 7 × 2 × 4 × 0.5"
    mla = _stub([_layer("mla", 576)] * 3, {"mla": 3}, attention="MLA")
    assert phrases.kv_formula_text(mla, 2) == ("3 × 576 × 2, since an MLA layer caches one 576-element latent in place "
                                               "of its heads' keys and values")
    two = _stub([_layer("mla", 576)] * 3 + [_layer("full", 16)], {"mla": 3, "full": 1}, attention="MLA")
    assert phrases.kv_formula_text(two, 2) == "(3 × 576 + 2 × 1 × 2 × 4) × 2"


def test_layer_kinds_and_rules_by_hand():
    arch = _stub(MIXED, MIXED_KINDS)
    assert phrases.layer_kinds_text(arch) == ("1 full-attention, 2 sliding-window (1,024, 4,096 tokens), "
                                              "1 chunked-attention (8,192 tokens) and 3 linear-attention layers")
    rule = ("its 2 sliding-window layers hold at most their last 1,024/4,096 tokens, its 1 chunked-attention layers "
            "hold only the current 8,192-token chunk and its 3 linear-attention layers hold no token but a fixed "
            "state per session")
    assert phrases.session_rule_text(arch) == rule + ", so a session does not hold its tokens × that figure"
    assert phrases.session_rule_text(arch, lead="; ", consequence=False) == "; " + rule
    assert phrases.session_rule_text(_stub([_layer("full", 16)], {"full": 1}), lead="; ") == ""


def test_gpt_oss_sentences():
    oss = load_architecture("gpt-oss-120b")    # 18 full and 18 sliding (128 tokens) layers, 64 query and 8 KV heads
    rule = "its 18 sliding-window layers hold at most their last 128 tokens"
    assert phrases.session_size_text(oss) == f"A session of T tokens does not hold T times as much: {rule}."
    assert phrases.kv_structure_text(oss) == (f"its 8 query heads per key/value head divide the cache by 8; {rule}, so a "
                                              "session does not hold its tokens × that figure")
    assert phrases.model_layout_text(oss) == ("36 layers, 64 query heads and 8 key/value heads of width 64 (grouped-query "
                                              "attention): 18 full-attention and 18 sliding-window (128 tokens) layers")
    # 0.3734 GB over 10,000 tokens: 37,340 bytes, 36.5 KiB per token
    assert phrases.kv_finding(oss, kib_per_token=72, kv_dtype="bf16", context_tokens=10_000,
                              gb_per_session=0.3734) == (
        f"gpt-oss-120b keeps 72 KiB of KV cache per token in BF16 while every layer holds it, but {rule}: a "
        "10,000-token session holds 0.37 GB, a mean of 36.5 KiB per token.")
    assert phrases.fit_rule_text(oss) == FIT_RULE


FIT_RULE = ("Here T × KV bytes per token stands for one session's KV cache on the group: what each layer holds at T "
            "tokens (windows, chunks, fixed states), with any copies the group keeps of it.")


def test_mla_sentences():
    ds = load_architecture("deepseek-v3")      # 61 MLA layers, a 576-element latent, 128 query heads
    assert phrases.session_size_text(ds) == "A session of T tokens holds T times as much."
    assert phrases.kv_structure_text(ds) == ("one 576-element latent per layer, shared by its 128 query heads, "
                                             "replaces their keys and values")
    assert phrases.fit_rule_text(ds) == FIT_RULE    # every layer grows, but the group keeps copies
    assert phrases.fit_rule_text(load_architecture("llama-2-70b")) == (
        "Here T × KV bytes per token is one session's KV cache.")


def test_kv_copies_by_hand():
    ds = load_architecture("deepseek-v3")
    # the latent whole on each GPU: 8 (or 2) copies of 61 × 576 × 2 bytes × 10,000 tokens = 0.70272 GB
    assert phrases.kv_copies_text(ds, 8, 10_000, "bf16") == (
        " (an MLA latent is held whole on every GPU, so the group holds 8 times each session's KV cache, 5.62 GB, "
        "and the figures below count it)")
    assert phrases.kv_copies_text(ds, 2, 10_000, "bf16") == (
        " (an MLA latent is held whole on every GPU, so the group holds 2 times each session's KV cache, 1.41 GB, "
        "and the figures below count it)")
    # one byte an element: 8 × 61 × 576 × 10,000 = 2.81 GB
    assert "2.81 GB" in phrases.kv_copies_text(ds, 8, 10_000, "fp8")
    assert phrases.kv_copies_text(ds, 1, 10_000, "bf16") == ""
    # 2 KV heads on 8 GPUs: the 12 full layers' 245,760,000 bytes 4 times, the 39,518,208 bytes of states once
    nxt = load_architecture("qwen3-next-80b-a3b")
    assert phrases.kv_copies_text(nxt, 8, 10_000, "bf16") == (
        " (its KV heads, fewer than the GPUs, are each held on several, so the group holds 3.58 times each session's "
        "KV cache, 1.02 GB, and the figures below count it)")
    # Llama 2 70B has no per-layer list: no copies said, even for more GPUs than its 8 KV heads
    assert phrases.kv_copies_text(load_architecture("llama-2-70b"), 16, 10_000, "fp16") == ""


def _ffn(moe, k=0, e=0):
    return SimpleNamespace(feed_forward=SimpleNamespace(is_moe=moe, experts_per_token=k, routed_experts=e))


def test_serving_architecture_text_by_hand(monkeypatch):
    dense = SimpleNamespace(display_name="D", is_moe=False, attention="GQA", layer_kinds=lambda: {"full": 4},
                            name="llama-2-70b")
    assert phrases.serving_architecture_text(dense) == (
        "D is dense: every step reads all its weights; every layer keeps every token's keys and values.")
    for name in ("llama-3-70b", "llama-3.1-70b"):
        assert phrases.serving_architecture_text(SimpleNamespace(**{**vars(dense), "name": name})).endswith(
            "keys and values.")
    moe = SimpleNamespace(display_name="M", is_moe=True, attention="MLA", layer_kinds=lambda: {"mla": 3},
                          name="m", layers=[_ffn(False), _ffn(True, 2, 16), _ffn(True, 8, 64)], num_layers=3,
                          parameters=lambda: 1234.56e9, matmul_parameters=lambda: 12.34e9)
    # the first MoE layer's experts; 2 of the 3 layers are MoE
    assert phrases.serving_architecture_text(moe) == (
        "M is a mixture of experts (2 of 16 routed experts per token in 2 of its 3 layers): its memory holds all "
        "1,234.6 B parameters, its FLOPs follow the 12.3 B a token multiplies, and a decode step reads the dense "
        "weights plus the experts its batch touches (E·(1 − (1 − k/E)^B) per layer for a batch of B under uniform "
        "routing); its KV cache is one latent per layer and token, held whole on every GPU of the group. The step "
        "time was fitted and validated on measurements of Llama 70B models only, so for this model it is an "
        "extrapolation.")
    calls = []
    monkeypatch.setattr(phrases, "session_rule_text", lambda arch, lead="", consequence=True:
                        calls.append((lead, consequence)) or f"{lead}RULE")
    mixed = SimpleNamespace(**{**vars(dense), "layer_kinds": lambda: {"full": 2, "sliding": 2}})
    assert phrases.serving_architecture_text(mixed) == (
        "D is dense: every step reads all its weights; RULE: a single decode or prefill step reads only that, but the "
        "simulation's KV pool and its step-time coefficients count every token in every layer, an upper bound on "
        "memory and on the KV read.")
    assert calls == [("; ", False)]


# --- the DistServe section ------------------------------------------------------------------------------------------

def _comparison(sim, pub):
    return pd.DataFrame([{"quantity": q, "simulated": sim[q], "published": pub.get(q, math.nan),
                          "simulated_over_published": sim[q] / pub[q] if q in pub else math.nan} for q in sim])


PUB = {"prefill_only_rate": 2.0, "decode_only_rate": 4.0, "colocated_tpot_rate": 2.0, "goodput_gain": 2.0}
BY_DECODE = ("by its decode GPU, as in the source, so the gain is about a decode GPU's rate over three colocated "
             "ones")
BY_PREFILL = ("by its two prefill GPUs (the source's by its decode GPU), so the gain is about two prefill GPUs' rate "
              "over three colocated ones")
MAY = ("The two single-phase factors differ as much as the colocated shares, so the step times may explain that; "
       "so may")


def test_distserve_texts_decode_bound_by_hand():
    sim = {"colocated_goodput_per_gpu": 1.234, "disaggregated_goodput_per_gpu": 1.851, "goodput_gain": 1.5,
           "prefill_only_rate": 4.2, "decode_only_rate": 8.0, "colocated_tpot_rate": 2.0}
    # factors 4.2 / 2 = 2.1 and 8 / 4 = 2: 5% apart; shares 2 / 8 = 25% and 2 / 4 = 50%, twice apart
    assert phrases.distserve_texts(_comparison(sim, PUB), prefill_s=0.0954, decode_s=0.0231) == {
        "ds_coloc": "1.2", "ds_disagg": "1.9", "ds_gain": "×1.5", "ds_gain_cmp": "less than",
        "ds_single_lo": "×2", "ds_single_hi": "×2.1", "ds_prefill_ms": "95", "ds_decode_ms": "23",
        "ds_share_sim": "25", "ds_share_pub": "50", "ds_bound": BY_DECODE,
        "ds_gain_lead": "The gain differs because of the colocated GPU",
        "ds_factor": "The two single-phase factors lie within 5% of each other, less than the colocated shares "
                     "differ, so the step times do not explain that: it lies in",
        "ds_share_cmp": "more"}


def test_distserve_texts_prefill_bound_by_hand():
    sim = {"colocated_goodput_per_gpu": 1.0, "disaggregated_goodput_per_gpu": 2.0, "goodput_gain": 2.0,
           "prefill_only_rate": 2.0, "decode_only_rate": 8.0, "colocated_tpot_rate": 4.0}
    # factors 1 and 2 (twice apart) against shares of 50% both: 2 × 2 < 8, prefill-bound
    assert phrases.distserve_texts(_comparison(sim, PUB), prefill_s=0.1, decode_s=0.02) == {
        "ds_coloc": "1.0", "ds_disagg": "2.0", "ds_gain": "×2", "ds_gain_cmp": "close to",
        "ds_single_lo": "+0%", "ds_single_hi": "×2", "ds_prefill_ms": "100", "ds_decode_ms": "20",
        "ds_share_sim": "50", "ds_share_pub": "50", "ds_bound": BY_PREFILL,
        "ds_gain_lead": "The gains agree; what sets them is the colocated GPU", "ds_factor": MAY,
        "ds_share_cmp": "as much"}


def test_distserve_texts_at_the_edges():
    # 2 × 4 = 8: the prefill GPUs just keep up, decode-bound; factors 2 and 2 and shares 50% and 50%: no spread
    # either way (0 against 0), so the step times may explain it; a gain of 2.05 is within 5% of 2
    sim = {"colocated_goodput_per_gpu": 1.25, "disaggregated_goodput_per_gpu": 2.5, "goodput_gain": 2.05,
           "prefill_only_rate": 4.0, "decode_only_rate": 8.0, "colocated_tpot_rate": 4.0}
    t = phrases.distserve_texts(_comparison(sim, PUB), prefill_s=0.0125, decode_s=0.0015)
    assert (t["ds_bound"], t["ds_factor"], t["ds_gain_cmp"]) == (BY_DECODE, MAY, "close to")
    assert (t["ds_prefill_ms"], t["ds_decode_ms"], t["ds_single_lo"], t["ds_single_hi"]) == ("12", "2", "×2", "×2")


# --- the DRAM sweep's cost sentence -------------------------------------------------------------------------------

def _sweep(caps, costs, served, ttft=12.0):
    n = len(caps)
    dram = pd.DataFrame({"tier": ["dram"] * n, "capacity_gb_per_instance": caps, "usd_per_million_tokens": costs,
                         "throughput_requests_per_s": served, "ttft_p95_s": [ttft] * n})
    ssd = pd.DataFrame({"tier": ["ssd"], "capacity_gb_per_instance": [0.5], "usd_per_million_tokens": [0.01],
                        "throughput_requests_per_s": [99.0], "ttft_p95_s": [0.1]})
    return pd.concat([ssd, dram.iloc[::-1]], ignore_index=True)   # unsorted, another tier first


KEEPS = ("— the GPUs are paid either way and rented DRAM costs about $3 per GB-month — so a saving has to come from "
         "serving more requests with the same GPUs (next section).")


def test_dram_cost_sentence_behind_from_a_first_capacity():
    # 256, 512, 1,024 GB: cheapest at 512 ($1.5 against $2); HBM plus 256 GB serves 3 of 10 requests/s
    text = phrases.dram_cost_sentence(_sweep([256.0, 512.0, 1024.0], [2.0, 1.5, 1.8], [3.0, 4.0, 4.2]),
                                      arrival_rps=10.0, n_instances=1, dram_price="$3 per GB-month")
    assert text == (
        "The 1 instance falls behind the trace: it brings 10 requests/s and at 256 GB per instance serves 3, so "
        "requests queue for the rest of the trace (hence a P95 TTFT of 12 s). Every hit frees prefill time: the "
        "sweep's largest DRAM, 1.02 TB per instance, serves 4.2 requests/s, and the cost per million tokens is "
        "lowest at 512 GB per instance ($1.5 against $2 at 256 GB per instance); beyond it, DRAM's rent (about $3 "
        "per GB-month) outgrows the requests it adds. More instances, or the lower request rates of the next "
        "section, take the queue away.")


def test_dram_cost_sentence_keeping_pace_at_the_share_exactly():
    # 0.95 × 20 = 19.0 exactly: HBM alone keeps pace; equal costs only rise (they never fall)
    text = phrases.dram_cost_sentence(_sweep([0.0, 512.0], [2.0, 2.0], [19.0, 5.0]), arrival_rps=20.0,
                                      n_instances=4, dram_price="$3 per GB-month")
    assert text == f"At the trace's fixed request rate the cost per million tokens only rises with capacity {KEEPS}"
