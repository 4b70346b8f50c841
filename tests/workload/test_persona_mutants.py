"""model.workload.persona by hand: a ten-character service written out here (personas of 1,000 → 400 tokens,
100 session slots of 30-minute, 10-turn sessions, 30 sessions a slot a month, $0.50 and $2 per million prompt
tokens, memory of 2 raw turns, a 200-token summary up to turn 6 and 100 retrieved tokens), its monthly costs,
memory tiers and persona budgets worked out in the comments; Zipf hit ratios from sums and Che's fixed point
solved here by bisection."""
import math
from fractions import Fraction
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.workload.persona import (MemoryTiers, PersonaInputs, fleet_persona_capacity, memory_tiers,
                                    memory_tiers_table, monthly_prompt_cost, node_persona_capacity,
                                    persona_budget_table, persona_cost_table, persona_hit_table,
                                    prefill_usd_per_million, static_hit_ratio)

BASE = dict(characters=10, popular_characters=3, persona_tokens_before=1000, persona_tokens_after=400,
            concurrent_sessions=100, session_minutes=30, turns_per_session=10, sessions_per_slot_month=30,
            self_hosted_usd_per_million=0.5, api_usd_per_million=2.0, short_turns=2, mid_last_turn=6,
            mid_summary_tokens=200, long_rag_tokens=100, hours_per_month=730)


def inputs(**kw):
    return PersonaInputs(**{**BASE, **kw})


def refused(fn, *args, **kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        fn(*args, **kw)
    return err.value


def zipf(n, s):
    w = np.arange(1, n + 1, dtype=float) ** -s
    return w / w.sum()


def che(p, c):
    """Che's LRU hit ratio: T with Σ (1 − e^(−p T)) = c by bisection, then Σ p (1 − e^(−p T))."""
    if c >= len(p):
        return 1.0
    f = lambda t: np.sum(1 - np.exp(-p * t)) - c  # noqa: E731
    lo, hi = 0.0, 1.0
    while f(hi) < 0:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if f(mid) < 0 else (lo, mid)
    return float(np.sum(p * (1 - np.exp(-p * lo))))


def test_volumes_by_hand():
    x = inputs()
    # 730 h × 60 ÷ 30 min = 1,460 back-to-back sessions a slot a month
    assert_allclose(x.little_sessions_per_slot_month, 1460.0, rtol=1e-12)
    assert_allclose(x.requests_per_month, 100 * 1460 * 10, rtol=1e-12)
    assert_allclose(x.slot_requests_per_month, 100 * 30 * 10, rtol=1e-12)
    assert PersonaInputs(**{k: v for k, v in BASE.items() if k != "hours_per_month"}).hours_per_month == 730


@pytest.mark.parametrize("name, bad, allowed", [
    ("characters", 1, "an integer in [2, inf]"),
    ("popular_characters", 10, "an integer in [1, 9]"),
    ("popular_characters", 0, "an integer in [1, 9]"),
    ("persona_tokens_before", 0, "an integer in [1, inf]"),
    ("persona_tokens_after", 0, "an integer in [1, inf]"),
    ("concurrent_sessions", 0.0, "a finite number in (0, inf]"),
    ("session_minutes", 0.0, "a finite number in (0, inf]"),
    ("turns_per_session", 0, "an integer in [1, inf]"),
    ("sessions_per_slot_month", 0.0, "a finite number in (0, inf]"),
    ("self_hosted_usd_per_million", 0.0, "a finite number in (0, inf]"),
    ("api_usd_per_million", 0.0, "a finite number in (0, inf]"),
    ("short_turns", 11, "an integer in [0, 10]"),
    ("short_turns", -1, "an integer in [0, 10]"),
    ("mid_last_turn", 1, "an integer in [2, 10]"),
    ("mid_last_turn", 11, "an integer in [2, 10]"),
    ("mid_summary_tokens", -1, "an integer in [0, inf]"),
    ("long_rag_tokens", -1, "an integer in [0, inf]"),
    ("hours_per_month", 0.0, "a finite number in (0, inf]"),
])
def test_inputs_refused(name, bad, allowed):
    e = refused(inputs, **{name: bad})
    assert (e.name, e.value, e.allowed) == (name, bad, allowed)


def test_inputs_at_the_ends_accepted():
    for kw in (dict(characters=2, popular_characters=1), dict(popular_characters=9), dict(short_turns=0),
               dict(short_turns=10, mid_last_turn=10), dict(mid_last_turn=2), dict(mid_summary_tokens=0),
               dict(long_rag_tokens=0), dict(turns_per_session=1, short_turns=1, mid_last_turn=1)):
        assert inputs(**kw).characters >= 2


def test_monthly_prompt_cost():
    # 1e6 requests × 500 tokens × $2 per million = $1,000
    assert_allclose(monthly_prompt_cost(1e6, 500, 2.0), 1000.0, rtol=1e-12)
    assert monthly_prompt_cost(0, 500, 2.0) == 0.0
    for i, name in enumerate(("requests_per_month", "tokens_per_request", "usd_per_million")):
        args = [1.0, 1.0, 1.0]
        args[i] = -1.0
        e = refused(monthly_prompt_cost, *args)
        assert (e.name, e.allowed) == (name, "a finite number in [0, inf]")


def test_persona_cost_table_by_hand():
    t = persona_cost_table(inputs(), gpu_prefill_usd_per_million=0.1)
    assert list(t.columns) == ["basis", "usd_per_million_tokens", "volume", "sessions_per_slot_month",
                               "requests_per_month", "usd_per_month_before", "usd_per_month_after", "change"]
    assert list(t["basis"]) == ["self-hosted price"] * 2 + ["API price"] * 2 + [
        "prefill on rented GPUs (roofline)"] * 2
    assert list(t["volume"]) == ["30 sessions per slot a month", "slots always busy (Little's law)"] * 3
    assert_allclose(t["usd_per_million_tokens"], [0.5, 0.5, 2.0, 2.0, 0.1, 0.1], rtol=0)
    assert_allclose(t["sessions_per_slot_month"], [30, 1460] * 3, rtol=1e-12)
    assert_allclose(t["requests_per_month"], [30_000, 1_460_000] * 3, rtol=1e-12)
    # 30,000 requests × 1,000 tokens × $0.5 / 1e6 = $15; × 400 tokens = $6; 1.46M requests: $730 and $292
    assert_allclose(t["usd_per_month_before"], [15, 730, 60, 2920, 3, 146], rtol=1e-12)
    assert_allclose(t["usd_per_month_after"], [6, 292, 24, 1168, 1.2, 58.4], rtol=1e-12)
    assert_allclose(t["change"], [400 / 1000 - 1] * 6, rtol=1e-12)
    # thousands are written with a comma, four significant figures
    t2 = persona_cost_table(inputs(sessions_per_slot_month=2500), gpu_prefill_usd_per_million=0.1)
    assert t2["volume"].iloc[0] == "2,500 sessions per slot a month"


def test_static_hit_ratio():
    pmf = np.array([0.5, 0.3, 0.2])
    assert static_hit_ratio(pmf, 0) == 0.0
    assert_allclose([static_hit_ratio(pmf, 1), static_hit_ratio(pmf, 2), static_hit_ratio(pmf, 5)],
                    [0.5, 0.8, 1.0], rtol=1e-12)
    e = refused(static_hit_ratio, pmf, -1)
    assert (e.name, e.allowed) == ("capacity", "an integer in [0, inf]")


def test_persona_hit_table():
    t = persona_hit_table(4, [0.0, 1.0], [1, 2.0])
    assert list(t.columns) == ["zipf_exponent", "capacity_personas", "static_top_hit_ratio", "lru_hit_ratio"]
    assert list(t["zipf_exponent"]) == [0.0, 0.0, 1.0, 1.0] and list(t["capacity_personas"]) == [1, 2, 1, 2]
    assert all(type(c) is int for c in t["capacity_personas"].tolist())
    # uniform: c ÷ 4 either way; Zipf(1) over 4: probabilities 12, 6, 4, 3 ÷ 25
    assert_allclose(t["static_top_hit_ratio"], [0.25, 0.5, 12 / 25, 18 / 25], rtol=1e-12)
    p = np.array([12, 6, 4, 3]) / 25
    assert_allclose(t["lru_hit_ratio"], [0.25, 0.5, che(p, 1), che(p, 2)], rtol=1e-6)
    # 10,000 characters are binned (1,000 ranks one by one, the rest in rank bins with their counts): the LRU hit
    # ratio of 100 stays within 0.1% of Che's on all 10,000 probabilities
    big = persona_hit_table(10_000, [1.0], [100])
    assert_allclose(big["lru_hit_ratio"], [che(zipf(10_000, 1.0), 100)], rtol=1e-3)
    assert_allclose(big["static_top_hit_ratio"], [zipf(10_000, 1.0)[:100].sum()], rtol=1e-12)


def test_memory_tiers_by_hand():
    m = memory_tiers(inputs(), 50)
    # 10 turns × 50 = 500 tokens of history; 2 raw turns = 100; turns 3–6 (4) summarised; turns 7–10 (4) retrieved
    assert m == MemoryTiers(tokens_per_turn=50, full_history_tokens=500, short_raw_tokens=100, mid_raw_tokens=200,
                            long_raw_tokens=200, tokens_sent=100 + 200 + 100)
    assert_allclose(m.change, 400 / 500 - 1, rtol=1e-12)
    e = refused(memory_tiers, inputs(), 0)
    assert (e.name, e.allowed) == ("tokens_per_turn", "a finite number in (0, inf]")


def test_memory_tiers_table_by_hand():
    t = memory_tiers_table(inputs(), [50, 100])
    assert list(t.columns) == ["tokens_per_turn", "full_history_tokens", "short_raw_tokens", "mid_raw_tokens",
                               "long_raw_tokens", "tokens_sent", "change", "prompt_tokens_before",
                               "prompt_tokens_after", "prompt_change"]
    expected = pd.DataFrame({"tokens_per_turn": [50, 100], "full_history_tokens": [500, 1000],
                             "short_raw_tokens": [100, 200], "mid_raw_tokens": [200, 400],
                             "long_raw_tokens": [200, 400], "tokens_sent": [400, 500],
                             "change": [400 / 500 - 1, 500 / 1000 - 1],
                             # the compressed persona (400 tokens) + the history, in full and tiered
                             "prompt_tokens_before": [900, 1400], "prompt_tokens_after": [800, 900],
                             "prompt_change": [800 / 900 - 1, 900 / 1400 - 1]})
    assert_allclose(t.to_numpy(float), expected.to_numpy(float), rtol=1e-12)
    for empty in ([], np.array([])):
        e = refused(memory_tiers_table, inputs(), empty)
        assert (e.name, e.value, e.allowed) == ("tokens_per_turn", [], "at least one tokens-per-turn figure")


def test_fleet_and_node_persona_capacity():
    # 4 GPUs × 1.0999 GB = 4.3996e9 bytes ÷ (400 tokens × 1,000 bytes) = 10,999.0 personas
    assert fleet_persona_capacity(fleet_gpus=4, kv_budget_bytes_per_gpu=1.0999e9, kv_bytes_per_token=1000,
                                  persona_tokens=400) == 10999
    assert fleet_persona_capacity(fleet_gpus=4, kv_budget_bytes_per_gpu=-5e9, kv_bytes_per_token=1000,
                                  persona_tokens=400) == 0
    # 4 × 1,000,000 bytes ÷ 3 × 1,000 = 1,333.3 → 1,333
    assert fleet_persona_capacity(fleet_gpus=4, kv_budget_bytes_per_gpu=1e6, kv_bytes_per_token=1000,
                                  persona_tokens=3) == 1333
    ok = dict(fleet_gpus=1, kv_budget_bytes_per_gpu=1.0, kv_bytes_per_token=1.0, persona_tokens=1)
    assert fleet_persona_capacity(**ok) == 1
    assert fleet_persona_capacity(**{**ok, "kv_budget_bytes_per_gpu": -1.0}) == 0     # not 1 byte: none
    # personas of 0.1 byte as a double (0.1000000000000000055...): ten are more than 1 byte, 1 byte holds 9
    n = fleet_persona_capacity(**{**ok, "kv_bytes_per_token": 0.1})
    assert Fraction(n) * Fraction(0.1) <= 1 < Fraction(n + 1) * Fraction(0.1) and n == 9
    for name, bad, allowed in [("fleet_gpus", 0, "an integer in [1, inf]"),
                               ("kv_bytes_per_token", 0.0, "a finite number in (0, inf]"),
                               ("persona_tokens", 0, "an integer in [1, inf]")]:
        e = refused(fleet_persona_capacity, **{**ok, name: bad})
        assert (e.name, e.allowed) == (name, allowed)
    # 12 GPUs ÷ 8 a server = 1.5 servers × 1e12 bytes ÷ 400,000 bytes a persona = 3,750,000
    assert node_persona_capacity(fleet_gpus=12, gpus_per_node=8, dram_bytes_per_node=1e12, kv_bytes_per_token=1000,
                                 persona_tokens=400) == 3_750_000
    # 1e6 bytes ÷ 3,000 = 333.3 → 333
    assert node_persona_capacity(fleet_gpus=1, gpus_per_node=1, dram_bytes_per_node=1e6, kv_bytes_per_token=1000,
                                 persona_tokens=3) == 333
    ok = dict(fleet_gpus=1, gpus_per_node=1, dram_bytes_per_node=1.0, kv_bytes_per_token=1.0, persona_tokens=1)
    assert node_persona_capacity(**ok) == 1 and node_persona_capacity(**{**ok, "dram_bytes_per_node": 0.0}) == 0
    n = node_persona_capacity(**{**ok, "kv_bytes_per_token": 0.1})
    assert Fraction(n) * Fraction(0.1) <= 1 < Fraction(n + 1) * Fraction(0.1) and n == 9
    for name, bad, allowed in [("fleet_gpus", 0, "an integer in [1, inf]"),
                               ("gpus_per_node", 0, "an integer in [1, inf]"),
                               ("dram_bytes_per_node", -1.0, "a finite number in [0, inf]"),
                               ("kv_bytes_per_token", 0.0, "a finite number in (0, inf]"),
                               ("persona_tokens", 0, "an integer in [1, inf]")]:
        e = refused(node_persona_capacity, **{**ok, name: bad})
        assert (e.name, e.allowed) == (name, allowed)


def test_prefill_usd_per_million():
    # 4 GPUs × $3.60 an hour = $0.004 a second; × 2 s ÷ 4,000 tokens × 1e6 = $2 per million
    assert_allclose(prefill_usd_per_million(prefill_s=2, prompt_tokens=4000, gpus=4, usd_per_gpu_hour=3.6), 2.0,
                    rtol=1e-12)
    ok = dict(prefill_s=1.0, prompt_tokens=1.0, gpus=1, usd_per_gpu_hour=0.0)
    assert prefill_usd_per_million(**ok) == 0.0
    for name, bad, allowed in [("prefill_s", 0.0, "a finite number in (0, inf]"),
                               ("prompt_tokens", 0.0, "a finite number in (0, inf]"),
                               ("gpus", 0, "an integer in [1, inf]"),
                               ("usd_per_gpu_hour", -1.0, "a finite number in [0, inf]")]:
        e = refused(prefill_usd_per_million, **{**ok, name: bad})
        assert (e.name, e.allowed) == (name, allowed)


def test_persona_budget_table_by_hand():
    x = inputs(characters=2000, popular_characters=1500)
    t = persona_budget_table(x, fleet_gpus=1000, kv_budget_bytes_per_gpu=1e9, kv_bytes_per_token=1000,
                             gpus_per_node=8, dram_bytes_per_node=1e12, zipf_exponent=1.0, gpu_label="A100")
    assert list(t.columns) == ["budget", "gb", "capacity_personas", "feasible", "zipf_exponent", "static_hit_ratio",
                               "lru_hit_ratio"]
    assert list(t["budget"]) == ["HBM of 1,000 A100, all of its KV budget for personas",
                                 "host DRAM, 1,000 GB per 8-GPU server", "a cache of the top 1,500"]
    # HBM: 1,000 × 1 GB ÷ 400,000 bytes = 2,500,000 personas; DRAM: 125 servers × 1 TB = 125,000 GB → 312,500,000;
    # the top 1,500: 1,500 × 400,000 bytes = 0.6 GB
    assert_allclose(t["gb"], [1000.0, 125_000.0, 0.6], rtol=1e-12)
    assert list(t["capacity_personas"]) == [2_500_000, 312_500_000, 1500]
    assert list(t["feasible"]) == [True, True, True] and list(t["zipf_exponent"]) == [1.0] * 3
    # the first two hold all 2,000 characters: hit 1; the top 1,500 of Zipf(1): H(1500) ÷ H(2000)
    p = zipf(2000, 1.0)
    assert_allclose(t["static_hit_ratio"], [1.0, 1.0, p[:1500].sum()], rtol=1e-9)
    assert_allclose(t["lru_hit_ratio"], [1.0, 1.0, che(p, 1500)], rtol=1e-6)
    # a negative KV budget (the weights fill the GPU): no personas in HBM, 0 GB, not feasible; default label "GPU"
    n = persona_budget_table(x, fleet_gpus=1000, kv_budget_bytes_per_gpu=-1e9, kv_bytes_per_token=1000,
                             gpus_per_node=8, dram_bytes_per_node=1e9, zipf_exponent=1.0)
    assert n["budget"].iloc[0] == "HBM of 1,000 GPU, all of its KV budget for personas"
    assert n["budget"].iloc[1] == "host DRAM, 1 GB per 8-GPU server"
    assert (n["gb"].iloc[0], n["capacity_personas"].iloc[0], n["feasible"].iloc[0]) == (0.0, 0, False)
    assert (n["static_hit_ratio"].iloc[0], n["lru_hit_ratio"].iloc[0]) == (0.0, 0.0)
    # DRAM: 125 GB ÷ 400,000 bytes = 312,500 personas, more than the 2,000 characters
    assert n["capacity_personas"].iloc[1] == 312_500
    assert_allclose(n["static_hit_ratio"].iloc[1], 1.0, rtol=1e-12)
    assert not math.isnan(n["lru_hit_ratio"].iloc[2])
    # 1.5 GB of DRAM a server is written "2 GB" (rounded half to even); half a byte of KV budget is still feasible
    h = persona_budget_table(x, fleet_gpus=8, kv_budget_bytes_per_gpu=0.5, kv_bytes_per_token=1000,
                             gpus_per_node=8, dram_bytes_per_node=1.5e9, zipf_exponent=1.0)
    assert h["budget"].iloc[1] == "host DRAM, 2 GB per 8-GPU server" and h["feasible"].iloc[0]
    # a budget of exactly 0 bytes is not feasible either
    assert not persona_budget_table(x, fleet_gpus=1, kv_budget_bytes_per_gpu=0.0, kv_bytes_per_token=1000,
                                    gpus_per_node=1, dram_bytes_per_node=1e9, zipf_exponent=1.0)["feasible"].iloc[0]


def test_replace_keeps_the_checks():
    with pytest.raises(ParameterError):
        replace(inputs(), popular_characters=10)
