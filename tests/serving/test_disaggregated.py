"""Disaggregated prefill/decode simulator (model/serving/disaggregated.py) and its KV transfer
(model/serving/kv_transfer.py): against closed forms worked by hand (the transfer time, the pools' utilisation, one
request alone) and against the aggregated simulator (model/serving/simulation.py) when the transfer is free and each
pool is one replica."""

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.serving import Scheduler, simulate
from model.serving.disaggregated import Pools, simulate_disaggregated
from model.serving.goodput import latencies
from model.serving.kv_transfer import Link, load_link
from model.serving.step_time import deployment
from model.workload.requests import Workload, poisson_workload

# Llama 2 13B, config.json (data/models/llama-2-13b.json): 40 layers, 40 KV heads of 128 (MHA), FP16 KV:
# 2 (K and V) × 40 × 40 × 128 × 2 bytes = 819,200 bytes per token.
KV_BYTES_PER_TOKEN_13B = 2 * 40 * 40 * 128 * 2
NIC_BYTES_PER_S = 50e9        # data/hardware.csv rdma-nic-400g: 400 Gb/s = 50 GB/s, one NIC per GPU (plan.csv)
A100_NVLINK_PER_DIRECTION = 300e9   # data/hardware.csv a100-80gb: 600 GB/s both directions


@pytest.fixture(scope="module")
def dep():
    return deployment("llama-2-13b", "a100-80gb", 1)


def spaced(n, gap_s, prompt, output):
    """n requests, one every gap_s seconds (no two ever in the system together when gap_s is long)."""
    return Workload(np.arange(n) * gap_s, np.full(n, prompt), np.full(n, output))


def test_transfer_time_is_bytes_over_bandwidth_plus_latency(dep):
    nic = load_link("nic", dep.gpu, latency_s=20e-6)
    pools = Pools(dep, dep, 1, 1, nic)
    res = simulate_disaggregated(pools, spaced(3, 10.0, 512, 4))
    hand = 20e-6 + 512 * KV_BYTES_PER_TOKEN_13B / NIC_BYTES_PER_S       # 8.4 ms
    assert_allclose(res.requests["transfer_s"], hand, rtol=1e-12)
    # the transfer is inside TTFT: first token = end of prefill + transfer
    assert_allclose(res.requests["first_token_s"] - res.requests["prefill_end_s"], hand, rtol=1e-9)
    nvlink = load_link("nvlink", dep.gpu, latency_s=0.0)
    assert_allclose(nvlink.transfer_s(1e9), 1e9 / A100_NVLINK_PER_DIRECTION, rtol=1e-12)


def test_transfers_from_one_prefill_replica_queue_on_its_link(dep):
    """Two prompts prefilled in one step leave one after the other over the replica's NIC: the second's first
    token comes one transfer later than the first's."""
    link = load_link("nic", dep.gpu, latency_s=0.0)
    res = simulate_disaggregated(Pools(dep, dep, 1, 2, link), Workload(np.zeros(2), np.full(2, 512), np.full(2, 4)))
    t = 512 * KV_BYTES_PER_TOKEN_13B / NIC_BYTES_PER_S
    r = res.requests
    assert r["prefill_end_s"].nunique() == 1
    assert_allclose(r["first_token_s"] - r["prefill_end_s"], [t, 2 * t], rtol=1e-9)
    assert_allclose(res.link_busy_s, [2 * t], rtol=1e-12)


def test_transfer_under_tensor_parallelism_moves_each_gpus_share():
    # Llama 2 70B: 80 layers, 8 KV heads of 128 (GQA); TP 8 prefill, TP 4 decode: 4 GPU pairs each move 1/4
    p = deployment("llama-2-70b", "a100-80gb", 8)
    d = deployment("llama-2-70b", "a100-80gb", 4)
    link = Link("nic", NIC_BYTES_PER_S, 0.0)
    res = simulate_disaggregated(Pools(p, d, 1, 1, link), spaced(2, 20.0, 1000, 2))
    per_gpu = 2 * 80 * 8 * 128 * 2 * 1000 / 4
    assert_allclose(res.requests["transfer_s"], per_gpu / NIC_BYTES_PER_S, rtol=1e-12)


def test_one_request_alone_ttft_tpot_and_e2e_worked_by_hand(dep):
    prompt, output = 512, 64
    link = load_link("nic", dep.gpu, latency_s=0.0)
    res = simulate_disaggregated(Pools(dep, dep, 1, 1, link), spaced(1, 1.0, prompt, output))
    r = res.requests.iloc[0]
    prefill = float(dep.prefill_time(prompt))
    transfer = prompt * KV_BYTES_PER_TOKEN_13B / NIC_BYTES_PER_S
    # o − 1 decode steps of one sequence holding prompt, prompt + 1, ... tokens before each step
    decode = sum(float(dep.decode_time(1, prompt + k)) for k in range(output - 1))
    assert_allclose(r["first_token_s"] - r["arrival_s"], prefill + transfer, rtol=1e-9)
    assert_allclose((r["finish_s"] - r["first_token_s"]) / (output - 1), decode / (output - 1), rtol=1e-9)
    assert_allclose(r["finish_s"] - r["arrival_s"], prefill + transfer + decode, rtol=1e-9)


def test_a_cached_prefix_is_not_recomputed_but_still_sent(dep):
    """A prompt whose first 500 of 512 tokens are cached prefills the last 12 after them; its whole KV is sent."""
    link = load_link("nic", dep.gpu, latency_s=0.0)
    w = Workload(np.array([0.0]), np.array([512]), np.array([2]), cached_tokens=np.array([500]))
    r = simulate_disaggregated(Pools(dep, dep, 1, 1, link), w).requests.iloc[0]
    assert_allclose(r["prefill_end_s"], float(dep.prefill_time(12, 500)), rtol=1e-9)
    assert_allclose(r["transfer_s"], 512 * KV_BYTES_PER_TOKEN_13B / NIC_BYTES_PER_S, rtol=1e-12)


@pytest.mark.parametrize("replicas", [1, 3])
def test_pool_utilisation_is_rate_times_service_over_replicas(dep, replicas):
    """Requests far apart: each is served alone, so a pool is busy λ × service ÷ replicas of the span, with
    λ = requests ÷ span."""
    n, prompt, output = 20, 256, 16
    link = load_link("free", dep.gpu)
    res = simulate_disaggregated(Pools(dep, dep, replicas, replicas, link), spaced(n, 5.0, prompt, output))
    lam = n / res.span_s
    s_prefill = float(dep.prefill_time(prompt))
    s_decode = sum(float(dep.decode_time(1, prompt + k)) for k in range(output - 1))
    assert_allclose(res.utilisation("prefill"), lam * s_prefill / replicas, rtol=1e-9)
    assert_allclose(res.utilisation("decode"), lam * s_decode / replicas, rtol=1e-9)


def test_prefill_utilisation_under_poisson_load(dep):
    """Two prefill replicas, one prompt per step (token budget = the prompt): busy share = λ s / P within the
    Poisson sampling error of λ over 2,000 arrivals (about 2%; 5% allowed)."""
    prompt, rate = 512, 12.0
    one = Scheduler("continuous", max_batched_tokens=prompt)
    pools = Pools(dep, dep, 2, 2, load_link("nvlink", dep.gpu), prefill_scheduler=one)
    res = simulate_disaggregated(pools, poisson_workload(2000, rate, prompt_tokens=prompt, output_tokens=8, seed=3))
    s = float(dep.prefill_time(prompt))
    assert res.prefill_steps == 2000
    assert_allclose(res.utilisation("prefill"), rate * s / 2, rtol=0.05)
    assert_allclose(res.prefill_busy_s.sum(), 2000 * s, rtol=1e-9)


def test_prefill_pool_equals_the_aggregated_continuous_replica_on_one_token_replies(dep):
    """With replies of one token the aggregated `continuous` replica only prefills, batching waiting prompts up to
    its token budget; one prefill replica with a free link does the same steps, so the first tokens coincide."""
    w = poisson_workload(600, 9.0, prompt_tokens=(300, 700), output_tokens=1, seed=11)
    agg = simulate(dep, w, Scheduler("continuous"))
    dis = simulate_disaggregated(Pools(dep, dep, 1, 1, load_link("free", dep.gpu)), w)
    assert_allclose(dis.requests["first_token_s"], agg.requests["first_token_s"], rtol=1e-9)


def test_free_transfer_and_one_replica_each_match_the_aggregated_simulator(dep):
    """Requests far apart (never two in the system): disaggregated = aggregated exactly (1e-9), the same
    prefill step then the same one-sequence decode steps. Under a light Poisson load (0.2 requests/s, about 0.3
    requests in the system) the means agree within 3%: they differ only when a request arrives while another
    decodes, where the aggregated replica stalls that decode for the new prompt's prefill step and the new
    prompt waits for the decode step in flight, while separate pools do neither."""
    free = load_link("free", dep.gpu)
    pools = Pools(dep, dep, 1, 1, free)
    w = spaced(10, 5.0, 512, 64)
    agg, dis = simulate(dep, w, Scheduler("continuous")), simulate_disaggregated(pools, w)
    for col in ("first_token_s", "finish_s"):
        assert_allclose(dis.requests[col], agg.requests[col], rtol=1e-9)
    w = poisson_workload(400, 0.2, prompt_tokens=512, output_tokens=64, seed=2)
    a = simulate(dep, w, Scheduler("continuous")).summary()
    d = latencies(simulate_disaggregated(pools, w).requests)
    assert_allclose(d["ttft_s"].mean(), a["ttft_s_mean"], rtol=0.03)
    assert_allclose(d["tpot_s"].mean(), a["tpot_s_mean"], rtol=0.03)


def test_separate_pools_keep_decode_free_of_prefill_stalls(dep):
    """Invariant under load: with the transfer free, a decode replica never runs a prefill step, so its P90 TPOT
    is below the aggregated replica's at the same arrivals (which interleaves prefill steps)."""
    w = poisson_workload(800, 6.0, prompt_tokens=512, output_tokens=64, seed=4)
    agg = simulate(dep, w, Scheduler("continuous")).summary()
    dis = simulate_disaggregated(Pools(dep, dep, 1, 1, load_link("free", dep.gpu)), w).summary(1.0, 1.0)
    assert dis["tpot_s_p90"] < agg["tpot_s_p95"]
    assert dis["tpot_s_p50"] < agg["tpot_s_p50"]


def test_same_inputs_same_tables(dep):
    w = poisson_workload(300, 10.0, prompt_tokens=(100, 900), output_tokens=(2, 80), seed=7)
    pools = Pools(dep, dep, 2, 3, load_link("nic", dep.gpu))
    a, b = simulate_disaggregated(pools, w), simulate_disaggregated(pools, w)
    pd.testing.assert_frame_equal(a.requests, b.requests)
    assert a.requests["finish_s"].notna().all()


def test_every_request_is_decoded_once_and_kv_never_overflows(dep):
    """Small decode batch limit and many requests: all finish, each reply gets o − 1 decode steps after its
    first token, so finish − first token ≥ (o − 1) × the one-sequence step at its prompt."""
    w = poisson_workload(300, 40.0, prompt_tokens=512, output_tokens=32, seed=5)
    pools = Pools(dep, dep, 2, 1, load_link("nvlink", dep.gpu), decode_scheduler=Scheduler("continuous", max_batch=8))
    r = simulate_disaggregated(pools, w).requests
    assert r["finish_s"].notna().all()
    floor = 31 * float(dep.decode_time(1, 512))
    assert ((r["finish_s"] - r["first_token_s"]) >= floor * (1 - 1e-9)).all()


def test_decode_batch_holds_no_more_kv_than_the_replica_has(dep):
    """Long requests (3,000 + 1,000 tokens) arriving together: a decode replica admits only as many as its KV
    blocks hold for whole sequences, the rest wait; at no instant do more run."""
    w = Workload(np.zeros(40), np.full(40, 3000), np.full(40, 1000))
    sch = Scheduler("continuous")
    r = simulate_disaggregated(Pools(dep, dep, 4, 1, load_link("free", dep.gpu)), w).requests
    fit = (dep.kv_capacity_tokens // sch.block) // -(-4000 // sch.block)
    assert 1 <= fit < 40
    starts, ends = r["decode_start_s"].to_numpy(), r["finish_s"].to_numpy()
    running = [int(((starts <= t) & (ends > t)).sum()) for t in starts]
    assert max(running) == fit


def test_bad_input_names_the_parameter(dep):
    with pytest.raises(ParameterError, match="prefill_replicas"):
        Pools(dep, dep, 0, 1, load_link("free", dep.gpu))
    with pytest.raises(ParameterError, match="link"):
        load_link("pcie", dep.gpu)
    with pytest.raises(ParameterError, match="latency_s"):
        Link("nic", 1e9, -1.0)
    other = deployment("llama-2-7b", "a100-80gb", 1)
    with pytest.raises(ParameterError, match="decode"):
        Pools(dep, other, 1, 1, load_link("free", dep.gpu))
    too_long = Workload(np.array([0.0]), np.array([4000]), np.array([10 ** 6]))
    with pytest.raises(ParameterError, match="workload"):
        simulate_disaggregated(Pools(dep, dep, 1, 1, load_link("free", dep.gpu)), too_long)
