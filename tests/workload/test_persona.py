"""Tests of model.workload.persona: persona cost, capacities and memory tiers against arithmetic written out."""

import math

import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.workload import (PersonaInputs, fleet_persona_capacity, memory_tiers, memory_tiers_table,
                            monthly_prompt_cost, node_persona_capacity, persona_budget_table, persona_cost_table,
                            persona_hit_table, prefill_usd_per_million, static_hit_ratio, zipf_pmf)

BASE = dict(characters=5_000_000, popular_characters=100_000, persona_tokens_before=10_000,
            persona_tokens_after=2_000, concurrent_sessions=1e6, session_minutes=30, turns_per_session=200,
            sessions_per_slot_month=30, self_hosted_usd_per_million=0.08, api_usd_per_million=0.5,
            short_turns=10, mid_last_turn=50, mid_summary_tokens=500, long_rag_tokens=500, hours_per_month=730)


def test_volumes_by_littles_law():
    x = PersonaInputs(**BASE)
    assert_allclose(x.little_sessions_per_slot_month, 730 * 60 / 30)           # 1,460 back-to-back sessions
    assert_allclose(x.requests_per_month, 1e6 * 1460 * 200)
    assert_allclose(x.slot_requests_per_month, 1e6 * 30 * 200)


def test_persona_cost_by_hand():
    x = PersonaInputs(**BASE)
    # the case study's $4.8M: 1M × 30 × 200 turns × 10K tokens × $0.08/1M, written out
    assert_allclose(monthly_prompt_cost(x.slot_requests_per_month, 10_000, 0.08), 1e6 * 30 * 200 * 1e4 * 0.08 / 1e6)
    assert_allclose(monthly_prompt_cost(x.slot_requests_per_month, 10_000, 0.08), 4.8e6)
    t = persona_cost_table(x, gpu_prefill_usd_per_million=0.3)
    assert len(t) == 6 and set(t["usd_per_million_tokens"]) == {0.08, 0.5, 0.3}
    assert_allclose(t["change"], 2_000 / 10_000 - 1)
    busy = t[(t["basis"] == "API price") & t["volume"].str.contains("always busy")].iloc[0]
    assert_allclose(busy["usd_per_month_before"], 1e6 * 1460 * 200 * 1e4 * 0.5 / 1e6)


def test_prefill_price_by_hand():
    # 4 GPUs at $3.43/h busy 2 s for a 10K-token prompt: 4 × 3.43 / 3600 × 2 / 10,000 × 1e6 $/1M tokens
    assert_allclose(prefill_usd_per_million(prefill_s=2.0, prompt_tokens=10_000, gpus=4, usd_per_gpu_hour=3.43),
                    4 * 3.43 / 3600 * 2 / 1e4 * 1e6)


def test_memory_tiers_under_three_readings():
    x = PersonaInputs(**BASE)
    m = memory_tiers(x, 100)
    assert (m.full_history_tokens, m.short_raw_tokens, m.mid_raw_tokens, m.long_raw_tokens, m.tokens_sent) == \
        (20_000, 1_000, 4_000, 15_000, 2_000)
    assert_allclose(m.change, -0.9)
    table = memory_tiers_table(x, [50, 100, 500]).set_index("tokens_per_turn")
    assert table.loc[50, "full_history_tokens"] == 10_000 and table.loc[50, "tokens_sent"] == 500 + 500 + 500
    assert table.loc[500, "full_history_tokens"] == 100_000 and table.loc[500, "tokens_sent"] == 5_000 + 1_000
    assert_allclose(table.loc[100, "prompt_change"], (2_000 + 2_000) / (2_000 + 20_000) - 1)
    with pytest.raises(ParameterError, match="tokens_per_turn"):
        memory_tiers_table(x, [])


def test_capacities_by_hand():
    # Llama 2 70B FP16 KV: 2·80·8·128·2 = 327,680 bytes a token; a 2K persona is 655,360,000 bytes
    per_persona = 2_000 * 327_680
    assert fleet_persona_capacity(fleet_gpus=900, kv_budget_bytes_per_gpu=8.3e9, kv_bytes_per_token=327_680,
                                  persona_tokens=2_000) == math.floor(900 * 8.3e9 / per_persona)
    assert fleet_persona_capacity(fleet_gpus=900, kv_budget_bytes_per_gpu=-1e9, kv_bytes_per_token=327_680,
                                  persona_tokens=2_000) == 0     # the weights alone fill the GPU
    assert node_persona_capacity(fleet_gpus=900, gpus_per_node=8, dram_bytes_per_node=1024e9,
                                 kv_bytes_per_token=327_680, persona_tokens=2_000) == \
        math.floor(900 / 8 * 1024e9 / per_persona)


def test_hit_table_and_static_ratio():
    pmf = zipf_pmf(1000, 1.0)
    assert_allclose(static_hit_ratio(pmf, 10), sum(1 / k for k in range(1, 11)) / sum(1 / k for k in range(1, 1001)))
    assert static_hit_ratio(pmf, 0) == 0.0 and static_hit_ratio(pmf, 5000) == pytest.approx(1.0)
    t = persona_hit_table(1000, [0.8, 1.2], [10, 100])
    assert len(t) == 4 and (t["lru_hit_ratio"] <= t["static_top_hit_ratio"]).all()


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ParameterError, match="popular_characters"):
        PersonaInputs(**{**BASE, "popular_characters": 5_000_000})
    with pytest.raises(ParameterError, match="mid_last_turn"):
        PersonaInputs(**{**BASE, "mid_last_turn": 5})
    with pytest.raises(ParameterError, match="sessions_per_slot_month"):
        PersonaInputs(**{**BASE, "sessions_per_slot_month": 0})


def test_budget_table_by_hand():
    x = PersonaInputs(**{**BASE, "characters": 3_000, "popular_characters": 1_000})
    t = persona_budget_table(x, fleet_gpus=16, kv_budget_bytes_per_gpu=8e9, kv_bytes_per_token=327_680,
                             gpus_per_node=8, dram_bytes_per_node=1e12, zipf_exponent=1.0)
    per_persona = 2_000 * 327_680
    assert t["capacity_personas"].tolist() == [math.floor(16 * 8e9 / per_persona),
                                               math.floor(2 * 1e12 / per_persona), 1_000]
    assert t["feasible"].tolist() == [True, True, True]
    h = lambda n: math.fsum(1 / k for k in range(1, n + 1))  # noqa: E731
    assert_allclose(t["static_hit_ratio"].iloc[2], h(1_000) / h(3_000), rtol=1e-10)
    assert t["static_hit_ratio"].iloc[1] == 1.0      # DRAM holds 3,051 personas: the whole catalogue
    assert (t["lru_hit_ratio"] <= t["static_hit_ratio"] + 1e-12).all()
    none = persona_budget_table(x, fleet_gpus=16, kv_budget_bytes_per_gpu=-5e9, kv_bytes_per_token=327_680,
                                gpus_per_node=8, dram_bytes_per_node=1e12, zipf_exponent=1.0)
    assert none["capacity_personas"].iloc[0] == 0 and not none["feasible"].iloc[0] and none["gb"].iloc[0] == 0
