"""model.plan.services by hand: the table's services and typed values (data/services/plan_services.csv), a table
that names an unknown input or lists one twice, the refusals of a list of services and of an unknown service, the
inputs of a service on the chosen model, GPU and price, and the parameter a plan's refusal is reported under."""
import pytest

import model.plan.compose as compose
import model.plan.services as services
from model.checks import ParameterError
from model.plan.inputs import PlanInputs
from model.plan.services import (CHOSEN_NAMES, INTEGER_INPUTS, available_services, check_services, hardware_inputs,
                                 plan_services, service_inputs, service_values, services_table)

KNOWN = "character_chat, coding_assistant, support_bot"
CHOSEN = dict(model="llama-3.1-8b", gpu="h100-80gb", gpu_provider="lambda", gpu_pricing="on-demand",
              usd_per_gpu_hour=None)


def test_the_services_and_their_typed_values():
    """The support bot's rows of data/services/plan_services.csv: token counts and counts as whole numbers, the
    rest as floats."""
    assert available_services() == ["character_chat", "coding_assistant", "support_bot"]
    assert INTEGER_INPUTS == ("prompt_tokens", "reply_tokens", "shared_persona_tokens", "character_persona_tokens",
                              "characters", "max_batch", "chunk_tokens", "node_gpus")
    v = service_values("support_bot")
    assert v == {"sessions": 200000.0, "turns_per_session": 8.0, "session_minutes": 6.0, "prompt_tokens": 2500,
                 "reply_tokens": 150, "ttft_p95_s": 2.0, "tpot_p95_s": 0.1, "shared_persona_tokens": 2000,
                 "character_persona_tokens": 500, "characters": 50, "zipf_exponent": 1.0}
    for k, x in v.items():
        assert type(x) is (int if k in INTEGER_INPUTS else float), k
    t = services_table()
    assert list(t.columns) == ["service", "input", "value", "unit", "source"]
    assert len(t) == 33 and (t["service"] == "coding_assistant").sum() == 11


def test_an_unknown_service_is_refused():
    with pytest.raises(ParameterError) as e:
        service_values("chat")
    assert str(e.value) == f"service='chat' is not allowed: service must be one of {KNOWN}"


def test_a_service_over_its_base():
    """What the service lists is set; the rest is the base's (the planner's defaults without one)."""
    i = service_inputs("coding_assistant", PlanInputs(gpu="h100-80gb", reply_tokens=7))
    assert (i.gpu, i.reply_tokens, i.prompt_tokens, i.ttft_p95_s, i.characters) == ("h100-80gb", 13, 1500, 1.0,
                                                                                    10000)
    assert service_inputs("support_bot").gpu == PlanInputs().gpu
    assert service_inputs("support_bot").sessions == 200000.0


@pytest.mark.parametrize("bad", [[], "character_chat", ["character_chat", "character_chat"], ["chat"], None,
                                 ("support_bot", "chat"), {"support_bot"}],
                         ids=["empty", "str", "twice", "unknown", "none", "one-unknown", "set"])
def test_a_list_of_services_is_refused(bad):
    with pytest.raises(ParameterError) as e:
        check_services(bad, name="services_shown")
    assert str(e.value) == (f"services_shown={bad!r} is not allowed: services_shown must be a non-empty list of "
                            f"distinct services of data/services/plan_services.csv: {KNOWN}")
    with pytest.raises(ParameterError, match=r"^services="):
        check_services(bad)


def test_a_list_of_services_is_kept_in_order():
    assert check_services(("support_bot", "character_chat")) == ["support_bot", "character_chat"]
    assert type(check_services(("support_bot",))) is list


@pytest.fixture
def table(tmp_path, monkeypatch):
    """A services table of one's own (the cached table forgotten before and after)."""
    path = tmp_path / "plan_services.csv"
    monkeypatch.setattr(services, "SERVICES_CSV", path)
    services_table.cache_clear()
    yield path
    services_table.cache_clear()


HEAD = "service,input,value,unit,source\n"


def test_a_table_naming_an_unknown_input_is_refused(table):
    table.write_text(HEAD + "a,sessions,1,sessions,x\na,sesions,2,sessions,x\na,gpus,3,count,x\n")
    with pytest.raises(ValueError) as e:
        services_table()
    assert str(e.value) == "plan_services.csv: unknown inputs ['gpus', 'sesions']"


def test_a_table_listing_an_input_twice_is_refused(table):
    table.write_text(HEAD + "a,sessions,1,sessions,x\nb,sessions,2,sessions,x\na,sessions,3,sessions,x\n")
    with pytest.raises(ValueError) as e:
        services_table()
    assert str(e.value) == "plan_services.csv: inputs listed twice [['a', 'sessions']]"


def test_a_table_of_ones_own(table):
    table.write_text(HEAD + "b,prompt_tokens,300,tokens,x\na,sessions,10,sessions,x\nb,sessions,20,sessions,x\n")
    assert available_services() == ["b", "a"]
    assert service_values("b") == {"prompt_tokens": 300, "sessions": 20.0}


def test_the_hardware_inputs():
    """The service on the chosen model, GPU and price, tensor-parallel replicas in a node only."""
    i = hardware_inputs("coding_assistant", model="llama-3.1-8b", gpu="h100-80gb", gpu_provider="lambda",
                        gpu_pricing="spot", usd_per_gpu_hour=2.5)
    assert (i.model, i.gpu, i.gpu_provider, i.gpu_pricing, i.gpu_usd_per_hour, i.max_nodes_per_replica) == (
        "llama-3.1-8b", "h100-80gb", "lambda", "spot", 2.5, 0)
    assert (i.prompt_tokens, i.reply_tokens) == (1500, 13)
    assert i.node_gpus == PlanInputs().node_gpus


class _Planner:
    """make_plan replaced: the inputs it was given, or a refusal raised for one service."""

    def __init__(self, refusal=None, on=None):
        self.refusal, self.on, self.calls = refusal, on, []

    def __call__(self, inputs):
        self.calls.append(inputs)
        if self.refusal is not None and (self.on is None or inputs.sessions == service_values(self.on)["sessions"]):
            raise self.refusal
        return {"sessions": inputs.sessions}


def test_plans_of_each_service_in_order(monkeypatch):
    planner = _Planner()
    monkeypatch.setattr(compose, "make_plan", planner)
    out = plan_services(["support_bot", "coding_assistant"], **CHOSEN)
    assert list(out) == ["support_bot", "coding_assistant"]
    assert out == {"support_bot": {"sessions": 200000.0}, "coding_assistant": {"sessions": 100000.0}}
    assert planner.calls == [hardware_inputs("support_bot", **CHOSEN), hardware_inputs("coding_assistant", **CHOSEN)]
    with pytest.raises(ParameterError, match=r"^services=\['chat'\]"):
        plan_services(["chat"], **CHOSEN)


@pytest.mark.parametrize("raised, reported", [
    ("gpu", "gpu"), ("--gpu", "gpu"), ("--gpu-provider", "gpu_provider"), ("provider", "gpu_provider"),
    ("--gpu-pricing", "gpu_pricing"), ("pricing", "gpu_pricing"), ("--gpu-usd-per-hour", "usd_per_gpu_hour"),
    ("usd_per_gpu_hour", "usd_per_gpu_hour"), ("gpu_usd_per_hour", "usd_per_gpu_hour"),
])
def test_a_refusal_of_the_hardware_or_the_price_is_reported_under_its_parameter(monkeypatch, raised, reported):
    """The parameter's own value and what the plan's refusal allows."""
    chosen = {**CHOSEN, "usd_per_gpu_hour": 0.5}
    monkeypatch.setattr(compose, "make_plan", _Planner(ParameterError(raised, "v", "one of x, y")))
    with pytest.raises(ParameterError) as e:
        plan_services(["coding_assistant"], **chosen)
    assert e.value.name == reported
    assert str(e.value) == f"{reported}={chosen[reported]!r} is not allowed: {reported} must be one of x, y"


@pytest.mark.parametrize("raised", ["model", "name", "ttft_p95_s", "prompt_tokens"])
def test_any_other_refusal_is_the_models(monkeypatch, raised):
    """A refusal of the model or of the service's own targets is reported under model, with the service (its
    underscores as spaces), the GPU and the plan's reason."""
    exc = ParameterError(raised, 1, "something")
    monkeypatch.setattr(compose, "make_plan", _Planner(exc, on="support_bot"))
    with pytest.raises(ParameterError) as e:
        plan_services(["coding_assistant", "support_bot"], **CHOSEN)
    assert str(e.value) == ("model='llama-3.1-8b' is not allowed: model must be a model that serves the support bot "
                            f"on h100-80gb ({exc})")
    assert e.value.name == "model"


def test_the_chosen_names():
    assert CHOSEN_NAMES == {"gpu": "gpu", "--gpu": "gpu", "model": "model", "name": "model",
                            "--gpu-provider": "gpu_provider", "provider": "gpu_provider",
                            "--gpu-pricing": "gpu_pricing", "pricing": "gpu_pricing",
                            "--gpu-usd-per-hour": "usd_per_gpu_hour", "usd_per_gpu_hour": "usd_per_gpu_hour",
                            "gpu_usd_per_hour": "usd_per_gpu_hour"}
