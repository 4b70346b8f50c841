"""model.economics.persona_readings: the persona and memory chapter's parameters checked in one call."""
import pytest

from model.checks import ParameterError
from model.economics.persona_readings import check_persona_memory

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", gpu_usd_per_hour=None, fleet_gpus=900, weight_dtype="int8",
            kv_dtype="fp16", dram_gb_per_node=1024, gpus_per_node=8, characters=5_000_000,
            popular_characters=100_000, target_hit_rate=0.85, persona_tokens_before=10_000,
            persona_tokens_after=2_000, concurrent_sessions=1_000_000, session_minutes=30, turns_per_session=200,
            sessions_per_slot_month=30, usd_per_million=0.08, api_usd_per_million=0.5,
            tokens_per_turn=[50, 100, 500], short_turns=10, mid_last_turn=50, mid_summary_tokens=500,
            long_rag_tokens=500, zipf_exponents=[0.6, 0.8, 1.0, 1.2])


def test_defaults_pass_and_return_the_gpus_price_row():
    price = check_persona_memory(**GOOD)
    assert price.gpu == "a100-80gb" and not price.set_by_user and price.usd_per_gpu_hour > 0


def test_a_price_set_by_hand_is_returned():
    price = check_persona_memory(**{**GOOD, "gpu_usd_per_hour": 2.5})
    assert price.set_by_user and price.usd_per_gpu_hour == 2.5


@pytest.mark.parametrize("name, value", [
    ("model", "no-such-model"), ("gpu", "no-such-gpu"), ("weight_dtype", "int3"), ("kv_dtype", "int3"),
    ("gpu_usd_per_hour", -1.0), ("fleet_gpus", 0), ("gpus_per_node", 0), ("dram_gb_per_node", 0),
    ("characters", 1), ("popular_characters", 5_000_000), ("target_hit_rate", 0.01), ("target_hit_rate", 1.0),
    ("persona_tokens_before", 0), ("persona_tokens_after", 0), ("concurrent_sessions", 0),
    ("session_minutes", 0), ("turns_per_session", 0), ("sessions_per_slot_month", 0), ("usd_per_million", 0),
    ("api_usd_per_million", 0), ("tokens_per_turn", []), ("tokens_per_turn", [100, 0]), ("short_turns", 201),
    ("mid_last_turn", 9), ("mid_summary_tokens", -1), ("long_rag_tokens", -1), ("zipf_exponents", []),
    ("zipf_exponents", [0.8, -0.1]),
])
def test_a_bad_parameter_is_named(name, value):
    with pytest.raises(ParameterError, match=name):
        check_persona_memory(**{**GOOD, name: value})
