"""model.plan.inputs by hand: the defaults of a plan as data/parameters states them, every input's refusal (named
as an --input file's key, with what it allows) at and beside its bound, and the demand, sessions, shared prefix,
fleet shape and model the inputs make."""
import math
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.plan.inputs import DEFAULT_API_MODEL, DEFAULT_API_PROVIDER, DEFAULT_GPU, DEFAULT_MODEL, PlanInputs

CONFIG = Path(__file__).resolve().parents[2] / "data" / "models" / "llama-3.1-8b" / "config.json"

#: The defaults, each as its row of data/parameters states it (the file and row name beside it).
DEFAULTS = {
    "sessions": 1_000_000,                 # defaults.csv case_study_sessions_target (case study T1)
    "turns_per_session": 200,              # workload.csv chat_turns_per_session (case study §1)
    "session_minutes": 30,                 # workload.csv chat_session_minutes (case study §1)
    "prompt_tokens": 2000,                 # plan.csv plan_prompt_tokens (case study §8)
    "reply_tokens": 100,                   # plan.csv plan_reply_tokens (case study §8)
    "ttft_p95_s": 3.2,                     # plan.csv plan_ttft_p95_s (case study T1)
    "tpot_p95_s": 0.1,                     # plan.csv plan_tpot_p95_s
    "latency_quantile": 0.95,              # plan.csv plan_latency_quantile
    "max_batch": 256,                      # batching.csv batching_max_num_seqs (vLLM --max-num-seqs)
    "chunk_tokens": 512,                   # batching.csv batching_chunk_tokens (vLLM chunked prefill)
    "node_gpus": 8,                        # plan.csv plan_node_gpus
    "max_nodes_per_replica": 18,           # plan.csv plan_max_nodes_per_replica (DeepSeek's decode unit)
    "cache_hit_share": 0.9,                # plan.csv plan_cache_hit_share
    "grid_g_co2_per_kwh": 367,             # plan.csv plan_grid_g_co2_per_kwh (EIA 2023)
    "node_other_w_per_gpu": 412.5,         # plan.csv plan_node_other_w_per_gpu ((6,500 − 8 × 400) / 8)
    "shared_persona_tokens": 1000,         # workload.csv chat_shared_persona_tokens (case study §7)
    "character_persona_tokens": 1000,      # workload.csv chat_character_persona_tokens (case study §7)
    "characters": 5_000_000,               # workload.csv chat_characters (case study §1)
    "zipf_exponent": 1.0723,               # workload.csv chat_zipf_exponent (solved from case study §7)
    "chunked_service_cv2": 0.0,            # plan.csv plan_service_cv2 (identical prompts: deterministic work)
    "prefill_service_cv2": 0.0,            # plan.csv plan_prefill_service_cv2
    "peak_to_mean": 1.0,                   # plan.csv plan_peak_to_mean
    "spare_fraction": 0.1,                 # plan.csv plan_spare_fraction (case study §10)
    "regions": 1,                          # plan.csv plan_regions
}
INTEGERS = ("prompt_tokens", "reply_tokens", "max_batch", "chunk_tokens", "node_gpus", "max_nodes_per_replica",
            "shared_persona_tokens", "character_persona_tokens", "characters", "regions")


def test_the_defaults_are_the_case_studys_service():
    i = PlanInputs()
    assert {k: getattr(i, k) for k in DEFAULTS} == DEFAULTS
    for k in DEFAULTS:
        assert type(getattr(i, k)) is (int if k in INTEGERS else float), k
    assert (i.model, i.config, i.gpu, i.weight_dtype, i.kv_dtype) == ("llama-2-70b", None, "a100-80gb", "fp16", "fp16")
    assert (DEFAULT_MODEL, DEFAULT_GPU, DEFAULT_API_MODEL, DEFAULT_API_PROVIDER) == (
        "llama-2-70b", "a100-80gb", "gpt-3.5-turbo-0125", "openai")
    assert (i.gpu_provider, i.gpu_pricing, i.gpu_usd_per_hour, i.api_model) == ("aws", "on-demand", None,
                                                                                 "gpt-3.5-turbo-0125")
    assert (i.cache, i.disaggregation, i.dram_usd_per_gb_month, i.ssd_usd_per_gb_month, i.requests_per_s,
            i.e2e_p95_s, i.region_shares) == (True, "auto", None, None, None, None, None)


POSITIVE = "a finite number in (0, inf]"
NONNEGATIVE = "a finite number in [0, inf]"
DTYPES = "one of 'fp32', 'fp16', 'bf16', 'fp8', 'int8', 'int4', 'fp4'"

#: (input, a value refused, what it allows, a value at the bound that is accepted)
REFUSED = [
    ("sessions", 0.0, POSITIVE, 1e-9),
    ("turns_per_session", 0.0, POSITIVE, 1e-9),
    ("session_minutes", -1.0, POSITIVE, 1e-9),
    ("prompt_tokens", 0, "an integer in [1, inf]", 1),
    ("reply_tokens", 0, "an integer in [1, inf]", 1),
    ("weight_dtype", "fp12", DTYPES, "fp4"),
    ("kv_dtype", "int3", DTYPES, "int8"),
    ("ttft_p95_s", 0.0, POSITIVE, 1e-9),
    ("tpot_p95_s", 0.0, POSITIVE, 1e-9),
    ("latency_quantile", 1.0, "a finite number in (0, 1)", 0.999),
    ("latency_quantile", 0.0, "a finite number in (0, 1)", 0.001),
    ("gpu_usd_per_hour", 0.0, POSITIVE, 0.01),
    ("max_batch", 0, "an integer in [1, inf]", 1),
    ("chunk_tokens", 1, "an integer in [2, inf]", 257),
    ("node_gpus", 0, "an integer in [1, inf]", 1),
    ("max_nodes_per_replica", -1, "an integer in [0, inf]", 0),
    ("cache_hit_share", 0.0, "a finite number in (0, 1]", 1.0),
    ("cache_hit_share", 1.5, "a finite number in (0, 1]", 1e-9),
    ("disaggregation", "both", "one of 'auto', 'aggregated', 'disaggregated'", "disaggregated"),
    ("grid_g_co2_per_kwh", -1.0, NONNEGATIVE, 0.0),
    ("node_other_w_per_gpu", -1.0, NONNEGATIVE, 0.0),
    ("shared_persona_tokens", -1, "an integer in [0, inf]", 0),
    ("character_persona_tokens", -1, "an integer in [0, inf]", 0),
    ("characters", 0, "an integer in [1, inf]", 1),
    ("zipf_exponent", -0.5, NONNEGATIVE, 0.0),
    ("dram_usd_per_gb_month", -1.0, NONNEGATIVE, 0.0),
    ("ssd_usd_per_gb_month", -1.0, NONNEGATIVE, 0.0),
    ("requests_per_s", 0.0, POSITIVE, 1e-9),
    ("chunked_service_cv2", -1.0, NONNEGATIVE, 0.0),
    ("prefill_service_cv2", -1.0, NONNEGATIVE, 0.0),
    ("e2e_p95_s", 0.0, POSITIVE, 1e-9),
    ("regions", 0, "an integer in [1, inf]", 1),
    ("peak_to_mean", 0.5, "a finite number in [1, inf]", 1.0),
    ("spare_fraction", -0.1, NONNEGATIVE, 0.0),
]


@pytest.mark.parametrize("name, bad, allowed, ok", REFUSED, ids=[f"{r[0]}={r[1]}" for r in REFUSED])
def test_each_input_is_refused_under_its_name(name, bad, allowed, ok):
    with pytest.raises(ParameterError) as e:
        PlanInputs(**{name: bad})
    assert str(e.value) == f"{name}={bad!r} is not allowed: {name} must be {allowed}"
    assert e.value.name == name
    assert getattr(PlanInputs(**{name: ok}), name) == ok


@pytest.mark.parametrize("name", [r[0] for r in REFUSED if r[2] in (POSITIVE, NONNEGATIVE)])
def test_a_value_that_is_no_number_is_refused(name):
    with pytest.raises(ParameterError, match=rf"^{name}=nan is not allowed"):
        PlanInputs(**{name: math.nan})


def test_whole_numbers_given_as_floats():
    """A whole float is taken for an integer input (the check's rule); a fraction of a token is refused."""
    with pytest.raises(ParameterError, match=r"^prompt_tokens=1\.5 is not allowed: prompt_tokens must be an integer"):
        PlanInputs(prompt_tokens=1.5)
    with pytest.raises(ParameterError, match=r"^characters=True is not allowed"):
        PlanInputs(characters=True)


def test_a_chunk_must_hold_a_full_decode_batch():
    """A step of chunked prefill carries the whole decode batch and a prompt chunk: chunk_tokens > max_batch."""
    with pytest.raises(ParameterError) as e:
        PlanInputs(chunk_tokens=256, max_batch=256)
    assert str(e.value) == ("chunk_tokens=256 is not allowed: chunk_tokens must be > max_batch (256): a step must "
                            "hold a full decode batch and a prefill chunk")
    assert PlanInputs(chunk_tokens=257, max_batch=256).chunk_tokens == 257
    assert PlanInputs(chunk_tokens=2, max_batch=1).chunk_tokens == 2


@pytest.mark.parametrize("bad", ["0.5,0.5", b"0.5,0.5", 1.0, (s for s in (0.5, 0.5))],
                         ids=["str", "bytes", "number", "generator"])
def test_region_shares_must_be_a_list(bad):
    with pytest.raises(ParameterError) as e:
        PlanInputs(regions=2, region_shares=bad)
    assert str(e.value) == f"region_shares={bad!r} is not allowed: region_shares must be a list of shares summing to 1"


def test_region_shares_are_kept_as_a_tuple_and_checked():
    i = PlanInputs(regions=3, region_shares=[0.45, 0.25, 0.3])
    assert i.region_shares == (0.45, 0.25, 0.3) and type(i.region_shares) is tuple
    assert i.fleet_shape.region_shares == (0.45, 0.25, 0.3)
    with pytest.raises(ParameterError, match=r"^region_shares=\[0\.5, 0\.25\] is not allowed: region_shares must "
                                             r"be shares summing to 1"):
        PlanInputs(regions=2, region_shares=[0.5, 0.25])
    with pytest.raises(ParameterError, match=r"^region_shares=\[0\.5, 0\.5\] is not allowed: region_shares must "
                                             r"be 3 shares, one per region"):
        PlanInputs(regions=3, region_shares=[0.5, 0.5])


def test_regions_are_checked_before_their_shares():
    """No region refused as such, even with shares given (not as a count of shares that does not match)."""
    with pytest.raises(ParameterError) as e:
        PlanInputs(regions=0, region_shares=[1.0])
    assert str(e.value) == "regions=0 is not allowed: regions must be an integer in [1, inf]"


def test_a_default_is_read_from_data_parameters_when_a_plan_is_made():
    """Each default is read, and cast, when an input is made (data/parameters/plan.csv plan_prompt_tokens 2000,
    plan_ttft_p95_s 3.2)."""
    from model.plan.inputs import _d

    f = _d("plan_prompt_tokens", int)
    assert f.default_factory() == 2000 and type(f.default_factory()) is int
    g = _d("plan_ttft_p95_s")
    assert g.default_factory() == 3.2 and type(g.default_factory()) is float


def test_the_demand_of_the_sessions_and_of_a_rate():
    """Little's law: 1M sessions of 200 turns in 30 minutes make 1e6 × 200 / 1,800 s = 111,111 turns/s; a rate of
    100 turns/s is held by 100 × 1,800 / 200 = 900 sessions in progress."""
    i = PlanInputs()
    assert_allclose(i.demand_requests_per_s, 1e6 * 200 / 1800, rtol=1e-12)
    assert i.sessions_in_progress == 1e6
    r = PlanInputs(requests_per_s=100.0, session_minutes=30, turns_per_session=200)
    assert r.demand_requests_per_s == 100.0
    assert_allclose(r.sessions_in_progress, 900.0, rtol=1e-12)
    assert_allclose(PlanInputs(sessions=10, turns_per_session=4, session_minutes=2).demand_requests_per_s,
                    10 * 4 / 120, rtol=1e-12)


def test_the_shared_prefix_and_the_fleet_shape():
    from model.plan.cache import SharedPrefix
    from model.plan.fleet import FleetShape

    i = PlanInputs(shared_persona_tokens=10, character_persona_tokens=20, characters=30, zipf_exponent=0.5)
    assert i.shared_prefix == SharedPrefix(10, 20, 30, 0.5)
    f = PlanInputs(peak_to_mean=1.5, spare_fraction=0.2, regions=4).fleet_shape
    assert f == FleetShape(1.5, 0.2, (0.25, 0.25, 0.25, 0.25))


def test_the_model_by_name_or_from_a_config():
    """A config.json wins over the model's name: Llama 3.1 8B's 32 layers in place of Llama 2 70B's 80."""
    assert PlanInputs().architecture().num_layers == 80
    assert PlanInputs(model="llama-3.1-8b").architecture().num_layers == 32
    a = PlanInputs(model="llama-2-70b", config=str(CONFIG)).architecture()
    assert a.num_layers == 32 and a.num_kv_heads == 8
