"""model.economics.persona_readings, hand-worked cases for its mutants: each parameter of the persona and memory
chapter named in full with its allowed range (model.checks.ParameterError's message), the ends of the ranges, the
order of the checks and the price returned."""
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

POS = "a finite number in (0, inf]"
INT1 = "an integer in [1, inf]"


@pytest.mark.parametrize("name, value, shown, allowed", [
    ("gpu_usd_per_hour", -1.0, -1.0, POS),
    ("fleet_gpus", 0, 0, INT1), ("gpus_per_node", 0, 0, INT1), ("dram_gb_per_node", 0, 0, POS),
    ("characters", 1, 1, "an integer in [2, inf]"),
    # 5,000,000 characters: at most 4,999,999 popular ones
    ("popular_characters", 5_000_000, 5_000_000, "an integer in [1, 4999999]"),
    ("popular_characters", 0, 0, "an integer in [1, 4999999]"),
    # 100,000 ÷ 5,000,000 = 0.02: the hit rate of a uniform popularity, the lower end (excluded)
    ("target_hit_rate", 0.02, 0.02, "a finite number in (0.02, 1)"),
    ("target_hit_rate", 1.0, 1.0, "a finite number in (0.02, 1)"),
    ("persona_tokens_before", 0, 0, INT1), ("persona_tokens_after", 0, 0, INT1),
    ("concurrent_sessions", 0, 0, POS), ("session_minutes", 0, 0, POS), ("turns_per_session", 0, 0, INT1),
    ("sessions_per_slot_month", 0, 0, POS), ("usd_per_million", 0, 0, POS), ("api_usd_per_million", 0, 0, POS),
    ("tokens_per_turn", [], [], "a list of at least one tokens-per-turn figure"),
    ("tokens_per_turn", [100, 0], 0, POS),
    ("short_turns", 201, 201, "an integer in [0, 200]"), ("short_turns", -1, -1, "an integer in [0, 200]"),
    ("mid_last_turn", 9, 9, "an integer in [10, 200]"), ("mid_last_turn", 201, 201, "an integer in [10, 200]"),
    ("mid_summary_tokens", -1, -1, "an integer in [0, inf]"), ("long_rag_tokens", -1, -1, "an integer in [0, inf]"),
    ("zipf_exponents", [], [], "a list of at least one exponent"),
    ("zipf_exponents", [0.8, -0.1], -0.1, "a finite number in [0, inf]"),
])
def test_each_parameter_is_named_with_its_range(name, value, shown, allowed):
    with pytest.raises(ParameterError) as err:
        check_persona_memory(**{**GOOD, name: value})
    assert str(err.value) == f"{name}={shown!r} is not allowed: {name} must be {allowed}"


@pytest.mark.parametrize("name", ["model", "gpu", "weight_dtype", "kv_dtype"])
def test_each_choice_is_named(name):
    with pytest.raises(ParameterError) as err:
        check_persona_memory(**{**GOOD, name: "nope"})
    assert str(err.value).startswith(f"{name}='nope' is not allowed: {name} must be one of ")


def test_the_ends_of_the_ranges_pass():
    for kw in ({"characters": 2, "popular_characters": 1, "target_hit_rate": 0.75},
               {"popular_characters": 4_999_999, "target_hit_rate": 0.99999999},
               {"popular_characters": 1, "target_hit_rate": 0.0000003},
               {"short_turns": 0, "mid_last_turn": 0}, {"short_turns": 200, "mid_last_turn": 200},
               {"mid_last_turn": 10}, {"mid_summary_tokens": 0, "long_rag_tokens": 0}, {"zipf_exponents": [0.0]},
               {"fleet_gpus": 1, "gpus_per_node": 1, "persona_tokens_before": 1, "persona_tokens_after": 1,
                "turns_per_session": 1, "short_turns": 1, "mid_last_turn": 1}):
        check_persona_memory(**{**GOOD, **kw})


def test_the_checks_come_in_their_order():
    cases = [({"model": "nope", "gpu": "nope"}, "model"), ({"gpu": "nope", "weight_dtype": "nope"}, "gpu"),
             ({"weight_dtype": "nope", "kv_dtype": "nope"}, "weight_dtype"),
             ({"kv_dtype": "nope", "gpu_usd_per_hour": -1.0}, "kv_dtype"),
             ({"gpu_usd_per_hour": -1.0, "fleet_gpus": 0}, "gpu_usd_per_hour"),
             ({"characters": 1, "popular_characters": 0}, "characters"),
             ({"tokens_per_turn": [0], "short_turns": -1}, "tokens_per_turn"),
             ({"mid_summary_tokens": -1, "long_rag_tokens": -1}, "mid_summary_tokens")]
    for kw, named in cases:
        with pytest.raises(ParameterError) as err:
            check_persona_memory(**{**GOOD, **kw})
        assert err.value.name == named, kw


def test_the_price_of_the_prefill_basis():
    # data/prices/gpu_prices.csv: AWS p4de.24xlarge on demand, $27.44705/h for 8 A100s = $3.4309 per GPU-hour
    p = check_persona_memory(**GOOD)
    assert (p.gpu, p.provider, p.pricing) == ("a100-80gb", "aws", "on-demand")
    assert p.usd_per_gpu_hour == pytest.approx(27.44705 / 8, abs=1e-4)
    h = check_persona_memory(**{**GOOD, "gpu": "h100-80gb", "gpu_usd_per_hour": 2.5})
    assert (h.gpu, h.usd_per_gpu_hour, h.set_by_user) == ("h100-80gb", 2.5, True)


def test_a_gpu_without_the_default_row_asks_for_a_price():
    # data/prices/gpu_prices.csv has no AWS row of the B200: the user cannot choose the row, so a price is asked for
    with pytest.raises(ParameterError) as err:
        check_persona_memory(**{**GOOD, "gpu": "b200-180gb"})
    assert str(err.value) == ("gpu_usd_per_hour=None is not allowed: gpu_usd_per_hour must be set: "
                              "data/prices/gpu_prices.csv has no aws/on-demand row of b200-180gb")


def test_a_gpu_with_aws_rows_but_no_on_demand_one_asks_for_a_price(monkeypatch):
    import pandas as pd

    from model.economics import prices

    table = pd.DataFrame({"gpu": ["a100-80gb"], "provider": ["aws"], "pricing": ["spot"], "usd_per_gpu_hour": [1.0],
                          "date": ["2026-01-01"], "source": ["a quote"]})
    monkeypatch.setattr(prices, "gpu_prices", lambda: table)
    with pytest.raises(ParameterError) as err:
        check_persona_memory(**GOOD)
    assert str(err.value) == ("gpu_usd_per_hour=None is not allowed: gpu_usd_per_hour must be set: "
                              "data/prices/gpu_prices.csv has no aws/on-demand row of a100-80gb")
