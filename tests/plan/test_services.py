"""Services of data/services/plan_services.csv (model.plan.services)."""
import pytest

from model.checks import ParameterError
from model.plan.inputs import PlanInputs
from model.plan.services import (available_services, check_services, plan_services, service_inputs,
                                 services_table)

CHOSEN = dict(model="llama-2-70b", gpu="a100-80gb", gpu_provider="aws", gpu_pricing="on-demand",
              usd_per_gpu_hour=None)


def test_the_character_chat_is_the_planners_defaults():
    """The case study's service, row by row: 1M sessions of 200 turns in 30 minutes, 2,000 + 100 tokens,
    P95 TTFT 3.2 s and TPOT 0.1 s, personas of 1,000 + 1,000 tokens, 5M characters (case study T1, §1, §7, §8)."""
    assert service_inputs("character_chat") == PlanInputs()
    want = {"sessions": 1e6, "turns_per_session": 200, "session_minutes": 30, "prompt_tokens": 2000,
            "reply_tokens": 100, "ttft_p95_s": 3.2, "tpot_p95_s": 0.1, "shared_persona_tokens": 1000,
            "character_persona_tokens": 1000, "characters": 5_000_000}
    i = service_inputs("character_chat")
    assert {k: getattr(i, k) for k in want} == want


def test_every_value_has_a_source_and_a_unit():
    t = services_table()
    assert (t["source"].str.len() > 20).all() and (t["unit"].str.len() > 0).all()
    assert available_services() == ["character_chat", "coding_assistant", "support_bot"]
    # the coding assistant's turn is Splitwise's published medians of the Azure coding trace
    code = service_inputs("coding_assistant")
    assert (code.prompt_tokens, code.reply_tokens) == (1500, 13)


@pytest.mark.parametrize("bad", [[], "character_chat", ["character_chat", "character_chat"], ["chat"], None])
def test_bad_services_are_refused_naming_services(bad):
    with pytest.raises(ParameterError, match=r"^services=.*services must be"):
        check_services(bad)


def test_a_plan_refusal_names_the_chapter_parameter():
    """Llama 3.1 405B's FP16 weights (810 GB) fit on no 8 x A100 80GB node (8 x 72 GB usable), and a dense model's
    replicas stay in one node: refused as gpu; an unknown provider as gpu_provider."""
    with pytest.raises(ParameterError, match=r"^gpu='a100-80gb'"):
        plan_services(["coding_assistant"], **{**CHOSEN, "model": "llama-3.1-405b"})
    with pytest.raises(ParameterError, match=r"^gpu_provider="):
        plan_services(["coding_assistant"], **{**CHOSEN, "gpu_provider": "nobody"})
