"""GPUs a fleet needs for a demand: the one count every fleet uses (the batching and fleet chapters' replicas,
the streamed fleet's prefill pool).

Little's law: in steady state the replicas busy at once = arrival rate × seconds each request holds a replica
= arrival rate ÷ the rate one replica completes. Fractional, no spares, no rounding to whole replicas.
Units: requests per second (or any one time unit for both rates), seconds, GPUs.
"""

from __future__ import annotations

from model.checks import ParameterError, check_int, check_nonnegative, check_positive


def busy_gpus(demand_requests_per_s: float, *, replica_rate_per_s: float | None = None,
              seconds_per_request: float | None = None, gpus_per_replica: int = 1) -> float:
    """GPUs kept busy by ``demand_requests_per_s``, each replica of ``gpus_per_replica`` GPUs completing
    ``replica_rate_per_s`` requests per second — or, equivalently, spending ``seconds_per_request`` on each
    (give exactly one of the two).

    Parameters
    ----------
    demand_requests_per_s : float
        Arrival rate, requests per second (or per minute, with ``replica_rate_per_s`` per minute too).
    replica_rate_per_s : float, optional
        Requests one replica completes per second at the load it is run at (> 0).
    seconds_per_request : float, optional
        Replica-seconds each request takes (>= 0; 0: the demand costs no GPU time).
    gpus_per_replica : int
        GPUs of one replica (tensor-parallel degree × pipeline stages).

    Returns
    -------
    float
        demand ÷ rate × GPUs per replica, or demand × seconds × GPUs per replica.
    """
    demand = check_nonnegative("demand_requests_per_s", demand_requests_per_s)
    g = check_int("gpus_per_replica", gpus_per_replica, low=1)
    if (replica_rate_per_s is None) == (seconds_per_request is None):
        raise ParameterError("replica_rate_per_s", replica_rate_per_s,
                             "exactly one of replica_rate_per_s or seconds_per_request")
    if replica_rate_per_s is not None:
        return demand / check_positive("replica_rate_per_s", replica_rate_per_s) * g
    return demand * check_nonnegative("seconds_per_request", seconds_per_request) * g
