import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.workload.requests import azure_workload
from model.serving.saturation import continuous_saturation, static_saturation
from model.serving.step_time import deployment


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-70b", "a100-80gb", 4)


def test_static_saturation_closed_form_fixed_lengths(dep):
    p, o, b = 100, 50, 8
    sat = static_saturation(dep, [p], [o], batch=b, n_batches=3)
    t_batch = dep.batch_prefill_time(np.full(b, p)) + sum(float(dep.decode_time(b, p + j - 1)) for j in range(1, o))
    assert_allclose(sat.requests_per_s, b / t_batch, rtol=1e-9)


def test_continuous_saturation_batch1_equals_sequential(dep):
    p, o = 200, 30
    sat = continuous_saturation(dep, [p], [o], max_batch=1)
    t = float(dep.prefill_time(p)) + sum(float(dep.decode_time(1, p + k - 1)) for k in range(1, o))
    assert_allclose(1 / sat.requests_per_s, t, rtol=1e-9)


def test_continuous_batching_beats_static_and_sequential(dep):
    w = azure_workload(2000, math.inf, seed=3, max_total_tokens=4096)
    seq = continuous_saturation(dep, w.prompt_tokens, w.output_tokens, max_batch=1)
    stat = static_saturation(dep, w.prompt_tokens, w.output_tokens, batch=32, n_batches=200)
    cont = continuous_saturation(dep, w.prompt_tokens, w.output_tokens, max_batch=32)
    assert seq.requests_per_s < stat.requests_per_s < cont.requests_per_s
