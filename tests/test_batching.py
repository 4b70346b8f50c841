"""``model.batching`` keeps re-exporting the names other chapters import; bad parameters fail with the user's
names. (The step-time, saturation, request-stream and calibration tests mirror their modules.)"""
import pytest

import model.batching as batching
from model.batching import deployment, poisson_workload, static_batch_limit
from model.validation import ParameterError


def test_reexports_every_public_name():
    for name in batching.__all__:
        assert getattr(batching, name) is not None
    from model import calibration, rate_bounds, request_stream, saturation, step_time
    assert batching.Deployment is step_time.Deployment and batching.Workload is request_stream.Workload
    assert batching.continuous_saturation is saturation.continuous_saturation
    assert batching.measured_crosscheck is calibration.measured_crosscheck
    assert batching.session_rate_bound is rate_bounds.session_rate_bound


def test_bad_parameters_raise():
    with pytest.raises(ParameterError, match="n_gpus"):
        deployment("llama-2-70b", "a100-80gb", 0)
    with pytest.raises(ParameterError, match="n_gpus=1"):
        deployment("llama-2-70b", "a100-80gb", 1)  # 138 GB of weights on one 80 GB GPU
    with pytest.raises(ParameterError, match="rate_per_s"):
        poisson_workload(10, -1.0, prompt_tokens=10, output_tokens=10)
    with pytest.raises(ParameterError, match="mbu"):
        deployment("llama-2-70b", "a100-80gb", 4, mbu=1.5)
    with pytest.raises(ParameterError, match="compute_dtype"):
        deployment("llama-2-70b", "a100-80gb", 4, weight_dtype="fp8")
    with pytest.raises(ParameterError, match="reserved_tokens"):
        static_batch_limit(deployment("llama-2-70b", "a100-80gb", 2), 10_000_000, 8)
