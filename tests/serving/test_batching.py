"""The batching concepts, imported from the modules that hold them (``model.serving`` is only the command
line entry ``python -m model.serving``): bad parameters fail with the user's names. (The step-time,
saturation, request-stream and calibration tests mirror their modules.)"""
import pytest

from model.workload.requests import poisson_workload
from model.serving.saturation import static_batch_limit
from model.serving.step_time import deployment
from model.checks import ParameterError


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
