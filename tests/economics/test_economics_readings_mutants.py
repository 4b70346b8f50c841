"""model.economics.readings, hand-worked cases for its mutants: every parameter of the economics chapter's check
named in full with its allowed range (the message of model.checks.ParameterError), the ends of each range, and
the tables' rows read by hand."""
import math

import pytest

from model.checks import ParameterError
from model.economics.prices import SET_BY_USER, GpuPrice
from model.economics.readings import check_economics, price_curves, price_sensitivity_table, token_volume_table

GOOD = dict(gpu="a100-80gb", model="llama-2-70b", n_gpus=4, prompt_tokens=2000, reply_tokens=100, max_batch=256,
            turns_per_session=200, utilization=0.92, reply_share=0.5, session_minutes=30, tokens_per_turn=500,
            target_usd_per_million_tokens=0.08, fleet_gpus=900, persona_tokens=10_000, history_cap_tokens=10_000,
            session_counts=[10_000, 1_000_000], tokens_per_turn_readings=[50, 100, 500])

INT1 = "an integer in [1, inf]"
POS = "a finite number in (0, inf]"
NONNEG = "a finite number in [0, inf]"


@pytest.mark.parametrize("name, value, allowed", [
    ("n_gpus", 0, INT1), ("prompt_tokens", 0, INT1), ("reply_tokens", 0, INT1), ("max_batch", 0, INT1),
    ("turns_per_session", 0, INT1),
    ("utilization", 0.0, "a finite number in (0, 1]"), ("utilization", 1.5, "a finite number in (0, 1]"),
    ("reply_share", -0.1, "a finite number in [0, 1]"),
    ("session_minutes", 0, POS), ("tokens_per_turn", 0, POS), ("target_usd_per_million_tokens", 0, POS),
    ("fleet_gpus", -1, POS),
    ("persona_tokens", -1, NONNEG), ("history_cap_tokens", -1, NONNEG),
    ("session_counts", [], "one of 'a non-empty list of concurrent sessions'"),
    ("tokens_per_turn_readings", [], "one of 'a non-empty list of tokens per turn'"),
])
def test_each_parameter_is_named_with_its_range(name, value, allowed):
    with pytest.raises(ParameterError) as err:
        check_economics(**{**GOOD, name: value})
    assert str(err.value) == f"{name}={value!r} is not allowed: {name} must be {allowed}"


@pytest.mark.parametrize("name, values, bad", [("session_counts", [1, 2, 0], 2),
                                               ("tokens_per_turn_readings", [5, -1], 1)])
def test_each_list_item_is_named_by_its_index(name, values, bad):
    with pytest.raises(ParameterError) as err:
        check_economics(**{**GOOD, name: values})
    assert str(err.value) == (f"{name}[{bad}]={values[bad]!r} is not allowed: {name}[{bad}] must be "
                               f"{POS}")


def test_the_ends_of_each_range_pass():
    # reply_share 0 and 1, utilization 1, persona and history 0: all allowed
    for kw in ({"reply_share": 0.0}, {"reply_share": 1.0}, {"utilization": 1.0}, {"persona_tokens": 0},
               {"history_cap_tokens": 0}, {"turns_per_session": 1}, {"prompt_tokens": 1}, {"reply_tokens": 1},
               {"max_batch": 1}):
        assert check_economics(**{**GOOD, **kw}) is None


def test_the_gpu_and_model_are_named():
    with pytest.raises(ParameterError, match=r"^gpu='nope' is not allowed: gpu must be one of "):
        check_economics(**{**GOOD, "gpu": "nope"})
    with pytest.raises(ParameterError, match=r"^model='nope' is not allowed: model must be one of "):
        check_economics(**{**GOOD, "model": "nope"})


def test_token_volume_rows_by_hand():
    # two counts: four rows, the stated product first; 20 sessions of 60 min, 10 turns of 100 tokens
    # product: 20 × 60 × 10 × 100 = 1.2e6; Little's law: 20 × 730 h × 60 / 60 min = 14,600 sessions a month
    # × 10 turns × 100 tokens = 14.6e6 tokens (history not re-sent)
    t = token_volume_table([20, 40], session_minutes=60, turns_per_session=10, tokens_per_turn=100, reply_share=0.25)
    assert list(t["concurrent_sessions"]) == [20, 20, 40, 40]
    assert list(t["reading"]) == ["product of the four factors (concurrent × minutes × turns × tokens)",
                                  "sessions per month × turns × new tokens (Little's law)"] * 2
    assert t["tokens_per_month"].iloc[0] == 1.2e6 and t["tokens_per_month"].iloc[2] == 2.4e6
    assert t["sessions_per_month"].iloc[1] == pytest.approx(14_600)
    assert t["tokens_per_month"].iloc[1] == pytest.approx(14.6e6)
    assert t["tokens_per_month"].iloc[3] == pytest.approx(29.2e6)
    assert math.isnan(t["sessions_per_month"].iloc[2])


def test_a_user_price_row_carries_its_provider_pricing_and_date():
    price = GpuPrice(gpu="a100-80gb", provider="me", pricing="own", usd_per_gpu_hour=0.001, date="2030-01-01",
                     source=SET_BY_USER)
    t = price_sensitivity_table("a100-80gb", price, tokens_per_s_modelled=1000, tokens_per_s_measured=500,
                                utilization=0.5, fleet_gpus=2)
    assert list(t.columns) == ["gpu", "provider", "pricing", "date", "usd_per_gpu_hour", "usd_per_million_tokens",
                               "usd_per_million_tokens_measured", "fleet_usd_per_month"]
    first = t.iloc[0]
    assert (first["gpu"], first["provider"], first["pricing"], first["date"]) == ("a100-80gb", "me", "own",
                                                                                  "2030-01-01")
    # $0.001/h ÷ (500 tok/s × 3600 s × 0.5 = 900,000 tokens/h) × 1e6 = $0.00111 per 1M tokens (measured)
    assert first["usd_per_million_tokens_measured"] == pytest.approx(0.001 / 900_000 * 1e6)
    # modelled: 1000 tok/s → 1.8e6 tokens/h → $0.000556 per 1M; 2 GPUs × $0.001 × 730 h = $1.46 a month
    assert first["usd_per_million_tokens"] == pytest.approx(0.001 / 1.8e6 * 1e6)
    assert first["fleet_usd_per_month"] == pytest.approx(1.46)
    assert list(t.index) == list(range(len(t)))
    # a dated price is not added again
    dated = price_sensitivity_table("a100-80gb", GpuPrice(gpu="a100-80gb", provider="me", pricing="own",
                                                          usd_per_gpu_hour=0.001, date="2030-01-01",
                                                          source="a dated quote"),
                                    tokens_per_s_modelled=1000, tokens_per_s_measured=None, utilization=0.5,
                                    fleet_gpus=2)
    assert len(dated) == len(t) - 1 and "me" not in set(dated["provider"])


def test_price_curves_use_the_utilization():
    # $3/h ÷ (1000 tok/s × 3600 × 0.25 = 900,000 tokens/h) × 1e6 = $3.333 per 1M tokens
    c = price_curves([3.0], [(1000, "m")], 0.25)
    assert c["usd_per_million_tokens"].iloc[0] == pytest.approx(3.0 / 900_000 * 1e6)


def test_the_gpu_count_is_checked_before_the_token_counts():
    # both bad: the first in the check's order is named (the replica's own check would come after the others)
    with pytest.raises(ParameterError) as err:
        check_economics(**{**GOOD, "n_gpus": 0, "prompt_tokens": 0})
    assert err.value.name == "n_gpus"
