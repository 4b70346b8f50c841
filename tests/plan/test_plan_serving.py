"""The planner's replica options that span nodes (model/plan/serving.py): expert parallelism over whole nodes with
attention data parallelism, checked by hand against DeepSeek-V3's published config.json and data/hardware.csv."""

import math

import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.checks import ParameterError
from model.hardware import load_gpu
from model.plan.serving import (deployments, expert_parallel_deployments, kv_transfer_s, prefill_pool,
                                prefill_service_s, wait_quantile)

H800_USABLE = 85_520_809_984 * 0.9          # data/hardware.csv memory_bytes x vLLM's 0.9 memory utilisation


@pytest.fixture(scope="module")
def ds():
    return load_architecture("deepseek-v3"), load_gpu("h800-80gb")


def test_deepseek_v3_fp8_fits_no_h800_node_but_spans_nodes_with_expert_parallelism(ds):
    arch, gpu = ds
    # 671B FP8 weights (README_WEIGHTS) against 8 x 77 GB usable: no tensor-parallel option inside a node
    assert 671e9 > 8 * H800_USABLE
    assert deployments(arch, gpu, 8, "fp8", "bf16") == []
    eps = expert_parallel_deployments(arch, gpu, 8, 18, "fp8", "bf16")
    assert [d.nodes for d in eps] == list(range(2, 19))              # 2 nodes hold it: 671 GB + copies < 16 x 77
    assert all(d.expert_parallel == d.n_gpus == 8 * d.nodes and d.attention_data_parallel for d in eps)
    assert expert_parallel_deployments(arch, gpu, 8, 1, "fp8", "bf16") == []
    assert expert_parallel_deployments(load_architecture("llama-2-70b"), gpu, 8, 18, "fp16", "fp16") == []


def test_an_expert_parallel_prefill_replica_runs_one_prompt_per_gpu_and_its_kv_goes_from_one_gpu(ds):
    arch, gpu = ds
    d = next(x for x in expert_parallel_deployments(arch, gpu, 8, 4, "fp8", "bf16") if x.nodes == 4)
    p, c = 4000, 2000
    s = prefill_service_s(d, p, c)
    new = p - c                                   # 32 prompts' new tokens in one step, each attending causally
    pairs = 32 * (new * c + new * (new + 1) / 2)
    assert_allclose(s, float(d.step_time(32 * new, pairs, 32, 32 * c, 32 * new)), rtol=1e-12)
    pool = prefill_pool(d, 1000.0, prompt_tokens=p, cached_tokens=c, transfer_s=0.01, ttft_s=3.0, q=0.95, cv2=0.0)
    rho = pool.busy_at_rate
    assert_allclose(pool.replica_requests_per_s, rho * 32 / s, rtol=1e-12)   # 32 prompts per step at utilisation ρ
    assert_allclose(pool.ttft_p95_s, s + 0.01 + wait_quantile(s, rho, 0.95, 0.0), rtol=1e-12)
    assert pool.ep == 32 and pool.nodes == 4 and pool.gpus == pool.replicas * 32
    # MLA: one 576-element BF16 latent a layer and token, held whole by the one GPU that ran the prompt,
    # over that GPU's 400 Gb/s NIC (50 GB/s a way)
    assert_allclose(kv_transfer_s(arch, p, "bf16", d, d), p * 61 * 576 * 2 / 50e9, rtol=1e-12)


def test_the_planner_spans_h800_nodes_for_deepseek_v3_and_the_bound_is_a_flag():
    from model.plan.compose import make_plan
    from model.plan.inputs import PlanInputs

    i = PlanInputs(model="deepseek-v3", gpu="h800-80gb", weight_dtype="fp8", kv_dtype="bf16", requests_per_s=100.0,
                   prompt_tokens=2000, reply_tokens=500, ttft_p95_s=3.0, tpot_p95_s=0.05, gpu_usd_per_hour=2.0,
                   cache=False)
    plan = make_plan(i)
    assert plan["disaggregated"] and plan["aggregated_gpus"] is None
    for role in ("prefill", "decode"):
        pool = plan["serving"][role]
        assert pool["nodes"] >= 2 and pool["ep"] == pool["tp"] == 8 * pool["nodes"]
        serving = pool["replicas"] * pool["tp"]
        assert pool["gpus"] == serving + math.ceil(0.1 * serving)            # + the 10% hot spares
    assert plan["serving"]["decode"]["tpot_p95_s"] <= 0.05 and plan["serving"]["prefill"]["ttft_p95_s"] <= 3.0
    with pytest.raises(ParameterError, match="max-nodes-per-replica"):
        make_plan(PlanInputs(**{**i.__dict__, "max_nodes_per_replica": 1}))
    with pytest.raises(ParameterError, match=r"^gpu=.*fits on at most 8 GPUs"):   # 0: tensor-parallel replicas only
        make_plan(PlanInputs(**{**i.__dict__, "max_nodes_per_replica": 0}))
    with pytest.raises(ParameterError, match="max_nodes_per_replica"):
        PlanInputs(max_nodes_per_replica=-1)


def test_the_cli_flag_bounds_the_replica(capsys):
    from model.plan.cli import main

    code = main(["--model", "deepseek-v3", "--gpu", "h800-80gb", "--weight-dtype", "fp8", "--kv-dtype", "bf16",
                 "--max-nodes-per-replica", "-1", "--json"])
    assert code == 2 and "--max-nodes-per-replica" in capsys.readouterr().err
