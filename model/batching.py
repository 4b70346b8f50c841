"""Batching of one serving replica: the names of the chapter "Paged attention and continuous batching",
gathered from the modules that hold one concept each (kept so that ``from model.batching import ...``
keeps working).

:mod:`model.step_time`
    :class:`Deployment` (a model on some GPUs) and its roofline step times.
:mod:`model.request_stream`
    :class:`Workload` (arrivals with prompt and output lengths) and its seeded generators.
:mod:`model.saturation`
    analytic saturation throughput of static and continuous batching.
:mod:`model.rate_bounds`
    physical upper bounds on serving rates (bytes and FLOPs alone).
:mod:`model.calibration`
    single-point MBU/MFU calibration and the older cross-checks against published measurements.
:mod:`model.step_time_validation`, :mod:`model.step_time_fit`
    every published point of ``data/measurements/step_time_points.csv`` predicted, and the fit of the
    step-time parameters on its calibration rows.
:mod:`model.batching_cli`
    ``python -m model.batching predict ...`` (one static-batch prediction from the command line).

The discrete-event simulation lives in :mod:`model.serving`; the audit of the case study's batching
figures in :mod:`model.audit.t3_throughput_latency` and :mod:`model.audit.t4_continuous_batching`.
"""

from model.calibration import calibrated_mbu, calibrated_mfu, hf_vs_vllm_check, measured_crosscheck
from model.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu, session_rate_bound
from model.request_stream import (Workload, azure_conversation_lengths, azure_workload, poisson_workload,
                                  session_workload)
from model.saturation import (Saturation, continuous_batch_limit, continuous_saturation, static_batch_limit,
                              static_saturation)
from model.step_time import ACTIVATION_BYTES, SHARDINGS, Deployment, deployment, fixed_batch_time

__all__ = ["ACTIVATION_BYTES", "SHARDINGS", "Deployment", "Saturation", "Workload", "azure_conversation_lengths",
           "azure_workload", "calibrated_mbu", "calibrated_mfu", "compute_rate_bound_per_gpu",
           "continuous_batch_limit", "continuous_saturation", "deployment", "fixed_batch_time", "hf_vs_vllm_check",
           "measured_crosscheck", "poisson_workload", "sequential_rate_bound_per_gpu", "session_rate_bound",
           "session_workload", "static_batch_limit", "static_saturation"]


if __name__ == "__main__":  # python -m model.batching predict ...
    from model.batching_cli import main

    raise SystemExit(main())
