import numpy as np
from numpy.testing import assert_allclose

from model.workload.requests import azure_workload, session_workload


def test_workloads_deterministic_and_valid():
    a = azure_workload(500, 2.0, seed=11)
    b = azure_workload(500, 2.0, seed=11)
    assert np.array_equal(a.arrival_s, b.arrival_s) and np.array_equal(a.prompt_tokens, b.prompt_tokens)
    assert_allclose(np.diff(a.arrival_s).mean(), 0.5, rtol=0.15)
    trace = azure_workload(100)
    assert trace.arrival_s[0] == 0 and np.all(np.diff(trace.arrival_s) >= 0)
    s = session_workload(3, 4, session_rate_per_s=1.0, think_time_s=5.0, user_tokens=20, reply_tokens=30,
                         system_tokens=100, seed=1)
    assert len(s) == 12 and sorted(set(s.prompt_tokens)) == [120, 170, 220, 270]
