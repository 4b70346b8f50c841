"""--simulate on a disaggregated plan (model/plan/simulate.py): the disaggregated simulator, prefill and decode replicas
joined by the KV transfer, against the plan's closed forms at a light load, where queueing is small and both must
come down to the step-time model's prefill, transfer and decode steps."""

import pytest

from model.architectures import load_architecture
from model.hardware import load_gpu
from model.plan.serving import deployments, size_serving
from model.plan.simulate import replica_counts, simulate_disaggregated_plan

#: Agreement the closed forms must reach with the simulator at a light load: the decode batch's tail and the
#: prefill queue's are then small corrections, so 10% leaves room only for the simulator's discreteness
#: (whole steps, Poisson batches of a few sequences).
LIGHT_LOAD_TOLERANCE = 0.10
#: Requests of the light-load runs: queues there are short, so a few thousand settle the P95s (and a run of 5% load
#: decodes each reply nearly alone, step by step, which makes many requests slow to simulate).
LIGHT_LOAD_REQUESTS = 2000

def test_replica_counts_keep_the_plans_proportion():
    assert replica_counts(3.7, 22.0) == (6, 1)          # 22.0 / 3.7 = 5.9: six prefill replicas feed one decode
    assert replica_counts(10.0, 4.0) == (1, 2)          # 10 / 4 = 2.5 rounds to 2 decode replicas
    assert replica_counts(5.0, 5.0) == (1, 1)
    assert replica_counts(100.0, 1.0) == (1, 100)


@pytest.fixture(scope="module")
def serving():
    arch, gpu = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    deps = deployments(arch, gpu, 8, "fp16", "fp16")
    s = size_serving(deps, 50.0, prompt_tokens=2000, cached_tokens=885, reply_tokens=100, ttft_s=3.2, tpot_s=0.1,
                     chunk_tokens=512, max_batch=256, q=0.95, cv2=0.5, prefill_cv2=0.0, mode="disaggregated")
    return s, deps


def test_closed_form_and_simulator_agree_at_a_light_load(serving):
    """At 5% of the group's plan rate each prefill replica is busy less than 1 − q of the time, so the closed form's
    wait is zero and its P95 TTFT is the prefill step plus the transfer, as every simulated request sees it; the
    decode replica's P95 TPOT is the step at its Poisson batch's 95th percentile."""
    s, deps = serving
    out = simulate_disaggregated_plan(s, deps, prompt_tokens=2000, cached_tokens=885, reply_tokens=100,
                                      max_batch=256, q=0.95, prefill_cv2=0.0, rate_share=0.05,
                                      requests=LIGHT_LOAD_REQUESTS)
    assert out["rate_per_s"] == pytest.approx(0.05 * min(out["prefill_replicas"] * s.prefill.replica_requests_per_s,
                                                         out["decode_replicas"] * s.decode.replica_requests_per_s))
    assert abs(out["relative_difference"]["ttft_p95_s"]) <= 0.01, out
    assert out["steady_state"] is True                # 1,600 requests counted against a batch of a few sequences
    assert abs(out["relative_difference"]["tpot_p95_s"]) <= LIGHT_LOAD_TOLERANCE, out
    # the transfer the simulator charges is the plan's: 2,000 tokens x 80 layers x 8 KV heads x 128 x 2 x 2 bytes,
    # each GPU pair moving its share over one 50 GB/s NIC
    tp = min(s.prefill.tp, s.decode.tp)
    assert out["kv_transfer_s"] == pytest.approx(2000 * 80 * 8 * 128 * 2 * 2 / tp / 50e9, rel=1e-12)


def test_the_prefill_queue_is_conservative_beyond_a_light_load(serving):
    """At 30% of the plan rate the closed form queues each prefill replica apart (M/D/1), while the simulator sends
    each prompt to the least-loaded replica, which pools their queues: the closed form's P95 TTFT is above the
    simulated one, never below, and the decode tail still agrees."""
    s, deps = serving
    out = simulate_disaggregated_plan(s, deps, prompt_tokens=2000, cached_tokens=885, reply_tokens=100,
                                      max_batch=256, q=0.95, prefill_cv2=0.0, rate_share=0.3,
                                      requests=LIGHT_LOAD_REQUESTS)
    assert out["prefill_replicas"] > 1
    assert out["relative_difference"]["ttft_p95_s"] < 0, out
    assert abs(out["relative_difference"]["tpot_p95_s"]) <= LIGHT_LOAD_TOLERANCE, out


def test_session_routing_agrees_within_the_validated_error_at_the_plans_load(serving):
    """At the plan's own rate (prefill replicas about 80% busy), with prompts dispatched as session routing sends
    them (each replica its own Poisson share), the simulated P95 TTFT of the prefill pool and P95 TPOT of the decode
    pool agree with the closed forms within the step-time model's validated error. The run's default
    ``plan_simulate_requests`` per replica (42,000 requests here): at this load a replica's queue relaxes over ~100
    services, and with a third of them the simulated P95 TTFT spread by ±20% between seeds."""
    from model.plan.compose import validated_errors

    s, deps = serving
    err = validated_errors()
    out = simulate_disaggregated_plan(s, deps, prompt_tokens=2000, cached_tokens=885, reply_tokens=100,
                                      max_batch=256, q=0.95, prefill_cv2=0.0, routing="session",
                                      validated_error=err)
    assert out["dispatch"] == "random"
    assert (out["prefill_replicas"], out["decode_replicas"]) == (6, 1)
    assert out["prefill_busy"] > 0.75, out            # the plan's load, not a light one
    agree = out["agreement"]
    for name, metric in (("prefill_ttft", "ttft"), ("decode_tpot", "tpot")):
        a = agree[name]
        assert a["validated_error"] == err[metric]
        assert abs(a["simulated_s"] / a["closed_form_s"] - 1) <= err[metric], out
        assert a["within"] is True


def test_routing_names_its_dispatch():
    from model.checks import ParameterError
    from model.plan.simulate import dispatch_for

    assert dispatch_for("session") == dispatch_for("prefix") == "random"
    assert dispatch_for("round-robin") == "least_loaded"
    with pytest.raises(ParameterError, match="routing"):
        dispatch_for("sticky-ish")
