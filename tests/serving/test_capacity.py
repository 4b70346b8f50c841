"""model.serving.capacity: the one GPU count of a fleet (Little's law), by hand."""
import math

import pytest

from model.checks import ParameterError
from model.serving.capacity import busy_gpus


def test_rate_and_seconds_forms_agree_by_hand():
    # 10 requests/s at 2.5 per replica of 4 GPUs: 4 replicas busy, 16 GPUs (fractional, no rounding)
    assert busy_gpus(10.0, replica_rate_per_s=2.5, gpus_per_replica=4) == 16.0
    # the same replica spends 1/2.5 = 0.4 s per request: 10 × 0.4 × 4 = 16
    assert busy_gpus(10.0, seconds_per_request=0.4, gpus_per_replica=4) == pytest.approx(16.0, rel=1e-15)
    assert busy_gpus(3.0, replica_rate_per_s=2.0) == 1.5
    assert busy_gpus(3_000_000, replica_rate_per_s=40.0) == 75_000.0        # per minute: 3M at 40 per GPU
    # per minute works the same: 6,666,667 requests/min at 400 per minute per GPU
    assert busy_gpus(6_666_667, replica_rate_per_s=400.0) == pytest.approx(16_666.6675, rel=1e-12)


def test_zero_demand_and_free_requests_cost_no_gpu():
    assert busy_gpus(0.0, replica_rate_per_s=2.0) == 0.0
    assert busy_gpus(50.0, seconds_per_request=0.0, gpus_per_replica=8) == 0.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(demand_requests_per_s=-1.0, replica_rate_per_s=2.0), "demand_requests_per_s"),
    (dict(demand_requests_per_s=1.0, replica_rate_per_s=0.0), "replica_rate_per_s"),
    (dict(demand_requests_per_s=1.0, seconds_per_request=-0.1), "seconds_per_request"),
    (dict(demand_requests_per_s=1.0, replica_rate_per_s=1.0, gpus_per_replica=0), "gpus_per_replica"),
    (dict(demand_requests_per_s=1.0), "replica_rate_per_s"),
    (dict(demand_requests_per_s=1.0, replica_rate_per_s=1.0, seconds_per_request=1.0), "replica_rate_per_s"),
    (dict(demand_requests_per_s=math.nan, replica_rate_per_s=1.0), "demand_requests_per_s"),
])
def test_bad_values_name_the_parameter(kwargs, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        busy_gpus(**kwargs)


def test_neither_or_both_forms_is_one_full_message():
    for kwargs, value in ((dict(), "None"), (dict(replica_rate_per_s=2.0, seconds_per_request=0.5), "2.0")):
        with pytest.raises(ParameterError) as err:
            busy_gpus(1.0, **kwargs)
        assert str(err.value) == (f"replica_rate_per_s={value} is not allowed: replica_rate_per_s must be exactly one "
                                  "of replica_rate_per_s or seconds_per_request")
