"""model.serving.load_sweep by hand: the useful-FLOP utilisation of a two-request run worked out token by token,
a sweep's rows in order, the busy fraction at and past saturation, the GPU count renamed as the caller types it,
and the batching chapter's parameters: each edge accepted, each refusal named exactly."""
import io
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving.load_sweep import busy_fraction_at, check_load_study, checked_deployment, flops_utilization, sweep_load
from model.serving.simulation import POLICIES, Scheduler, simulate
from model.serving.step_time import deployment
from model.workload.requests import poisson_workload

# data/hardware.csv: A100 80GB dense FP16 312 TFLOPS; Llama 2 70B's matmul parameters (data/models/llama-2-70b.json):
# 80 layers of attention (2 × 8192² + 2 × 8192 × 1024) and MLP (3 × 8192 × 28672), and the 32,000 × 8192 head
A100_FP16 = 312e12
MATMUL = 80 * (2 * 8192 ** 2 + 2 * 8192 * 1024 + 3 * 8192 * 28672) + 32000 * 8192

GOOD = dict(model="llama-2-70b", gpu="a100-80gb", n_gpus=4, weight_dtype="fp16", kv_dtype="fp16", max_batch=256,
            static_batch=16, policies=["static", "continuous"], arrival_rates=[0.5, 1], n_requests=100,
            prompt_tokens=2000, reply_tokens=100, t3_load_fraction=0.7, baseline_busy=0.6, cb_fleet_shrink=1.5,
            demand_requests_per_min=1e6, latency_target_s_per_token=0.1, seed=0)


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


def run(**cols):
    # requests arriving at 1 s and 3 s, the run ending at 11 s: a span of 10 s
    frame = pd.DataFrame({"arrival_s": [1.0, 3.0], "prompt_tokens": [100, 50], "output_tokens": [10, 5], **cols})
    return SimpleNamespace(requests=frame, end_s=11.0)


def test_flops_utilization_by_hand(dep):
    # 100 + 10 + 50 + 5 = 165 tokens, 2 × matmul parameters FLOPs each, over 10 s × 4 GPUs × 312 TFLOP/s
    assert_allclose(flops_utilization(dep, run()), 2 * MATMUL * 165 / (10 * 4 * A100_FP16), rtol=1e-12)


def test_flops_utilization_leaves_out_cached_prompt_tokens(dep):
    # 30 cached tokens of the first prompt are loaded, not computed; of the second prompt's 50 all but its
    # last token (which the prefill computes to give the first output token): 165 − 30 − 49 = 86 tokens
    assert_allclose(flops_utilization(dep, run(cached_tokens=[30, 50])), 2 * MATMUL * 86 / (10 * 4 * A100_FP16),
                    rtol=1e-12)


def test_flops_utilization_at_the_weights_format_peak():
    # INT8 weights compute on the A100's INT8 tensor cores, 624 TOPS (data/hardware.csv)
    dep8 = deployment("llama-2-70b", "a100-80gb", 2, weight_dtype="int8")
    assert_allclose(flops_utilization(dep8, run()), 2 * MATMUL * 165 / (10 * 2 * 624e12), rtol=1e-12)


def test_sweep_rows_in_order(dep, capsys):
    runs = {"b": (dep, Scheduler("continuous", max_batch=4)), "a": (dep, Scheduler("static", max_batch=2))}

    def work(rate):
        return poisson_workload(6, rate, prompt_tokens=40, output_tokens=3, seed=2)

    out = sweep_load(runs, [0.5, 2.0], work, progress=False)
    assert capsys.readouterr().err == ""
    assert list(zip(out["run"], out["rate_per_s"])) == [("b", 0.5), ("b", 2.0), ("a", 0.5), ("a", 2.0)]
    for _, row in out.iterrows():
        d, sch = runs[row["run"]]
        res = simulate(d, work(row["rate_per_s"]), sch)
        assert row["model_flops_utilization"] == flops_utilization(d, res)
        for key, value in res.summary().items():
            assert row[key] == value or (np.isnan(row[key]) and np.isnan(value))


def test_sweep_shows_its_progress_when_asked(dep, capsys):
    runs = {"c": (dep, Scheduler("continuous", max_batch=4))}
    sweep_load(runs, [1.0], lambda r: poisson_workload(3, r, prompt_tokens=10, output_tokens=2, seed=0),
               progress=True)
    assert "load sweep: " in capsys.readouterr().err


class Terminal(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self):
        return True


def test_sweep_shows_its_progress_on_a_terminal_by_default(dep, monkeypatch):
    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    sweep_load({"c": (dep, Scheduler("continuous", max_batch=4))}, [1.0],
               lambda r: poisson_workload(3, r, prompt_tokens=10, output_tokens=2, seed=0))
    assert "load sweep: " in err.getvalue()


def test_busy_fraction_by_hand():
    r = SimpleNamespace(busy_s=40.0, requests=[None] * 100)    # 0.4 s of busy GPU time per request
    assert_allclose(busy_fraction_at(r, 1.0), 0.4, rtol=1e-12)
    assert busy_fraction_at(r, 2.5) == 1.0                      # 2.5 × 0.4: saturation exactly
    assert busy_fraction_at(r, 5.0) == 1.0
    with pytest.raises(ParameterError) as err:
        busy_fraction_at(r, -1.0)
    assert (err.value.name, err.value.value) == ("rate_per_s", -1.0)


def test_checked_deployment_passes_the_formats_on():
    # INT4 weights of Llama 2 70B (34.5 GB) fit one A100 80GB; FP16 (138 GB) would not
    d = checked_deployment("llama-2-70b", "a100-80gb", 1, weight_dtype="int4")
    assert (d.n_gpus, d.weight_dtype) == (1, "int4")


def test_checked_deployment_renames_only_the_gpu_count():
    # FP16 weights (138 GB) do not fit one A100 80GB: refused under the default name n_gpus, with the count
    with pytest.raises(ParameterError) as err:
        checked_deployment("llama-2-70b", "a100-80gb", 1)
    assert (err.value.name, err.value.value) == ("n_gpus", 1)
    # 40 GPUs cannot split Qwen3-Next's 32 linear-attention value heads (the KV split names it tp): renamed as
    # the caller's
    with pytest.raises(ParameterError) as err:
        checked_deployment("qwen3-next-80b-a3b", "a100-80gb", 40, name="gpus_per_replica")
    assert (err.value.name, err.value.value) == ("gpus_per_replica", 40)
    assert err.value.allowed == "a divisor of the 32 linear-attention value heads of qwen3-next-80b-a3b"
    # any other bad parameter keeps its own name
    with pytest.raises(ParameterError) as err:
        checked_deployment("llama-2-70b", "a100-80gb", 4, name="gpus_per_replica", weight_dtype="fp7")
    assert err.value.name == "weight_dtype"


def test_check_load_study_edges_are_accepted():
    edges = dict(max_batch=1, static_batch=1, n_requests=1, prompt_tokens=1, reply_tokens=2, seed=0,
                 policies=list(POLICIES), arrival_rates=[1e-9])
    assert check_load_study(**(GOOD | edges)) is None
    # INT4 weights on one GPU: the formats reach the replica's check
    assert check_load_study(**(GOOD | {"weight_dtype": "int4", "n_gpus": 1})) is None
    # an FP16 KV cache is not a weight format the GPU must compute in: FP8 KV passes on an A100
    assert check_load_study(**(GOOD | {"kv_dtype": "fp8"})) is None


@pytest.mark.parametrize("name, value", [
    ("model", "no-such-model"), ("gpu", "no-such-gpu"), ("n_gpus", 0), ("weight_dtype", "fp7"),
    ("kv_dtype", "fp7"), ("max_batch", 0), ("static_batch", 0), ("policies", ["greedy"]), ("arrival_rates", [1, 0]),
    ("n_requests", 0), ("prompt_tokens", 0), ("reply_tokens", 1), ("t3_load_fraction", 0.0),
    ("t3_load_fraction", 1.0), ("baseline_busy", 1.0), ("baseline_busy", 0.0), ("cb_fleet_shrink", 0.0),
    ("demand_requests_per_min", 0.0), ("latency_target_s_per_token", 0.0), ("seed", -1)])
def test_check_load_study_names_each_bad_parameter_exactly(name, value):
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {name: value}))
    assert err.value.name == name


def test_a_gpu_count_of_zero_is_named_before_the_batch():
    # the GPU count is checked first, as an integer of at least 1, before any later parameter
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {"n_gpus": 0, "max_batch": 0}))
    assert (err.value.name, err.value.value, err.value.allowed) == ("n_gpus", 0, "an integer in [1, inf]")


def test_check_load_study_messages():
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {"weight_dtype": "fp8"}))
    # the A100 computes in FP16, BF16 and INT8 (data/hardware.csv has no FP8 peak for it); FP32 and INT4 weights
    # compute in FP16
    assert (err.value.name, err.value.value) == ("weight_dtype", "fp8")
    assert err.value.allowed == ("a format a100-80gb computes in (fp8 weights need fp8 tensor cores): "
                                 "one of fp32, fp16, bf16, int8, int4")
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {"policies": []}))
    assert (err.value.name, err.value.value) == ("policies", [])
    assert err.value.allowed == "a non-empty list of static, continuous, chunked_prefill"
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {"arrival_rates": []}))
    assert (err.value.name, err.value.value, err.value.allowed) == ("arrival_rates", [], "a non-empty list of rates > 0")
    with pytest.raises(ParameterError) as err:
        check_load_study(**(GOOD | {"model": "qwen3-next-80b-a3b", "n_gpus": 40}))
    assert (err.value.name, err.value.value) == ("n_gpus", 40)
