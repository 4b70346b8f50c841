"""The tier-configuration chapter's runs (model.search.chapter_runs): parameter checks, one trace's grid and search."""
import numpy as np
import pandas as pd
import pytest

from model.checks import ParameterError
from model.search import pareto
from model.search.chapter_runs import check_kareto, run_trace
from model.search.pareto import Axis, SearchSpace

GOOD = dict(model_name="llama-3.1-70b", gpu="h100-80gb", n_gpus=8, slo_ttft_p95_s=5.0, gpu_usd_per_hour=None,
            chat_concurrent_sessions=100, chat_seed=0, threshold=None, beam=None, executor="process", workers=2)


class Analytic:
    """Saturating throughput, linear cost (picklable: module-level class)."""

    fingerprint = "chapter-runs-analytic-v1"

    def __call__(self, config):
        d, s = config["dram"], config["ssd"]
        hit = 1 - np.exp(-(d / 100 + s / 400))
        return {"cost_usd_per_hour": 5 + 0.01 * d + 0.002 * s, "throughput_at_slo_rps": 10 + 10 * hit,
                "ttft_p95_s": 2.0 - 1.0 * (1 - np.exp(-d / 100)) - 0.3 * hit}


def test_check_kareto_returns_the_price_and_names_the_bad_parameter():
    price = check_kareto(**GOOD)
    assert price.gpu == "h100-80gb" and not price.set_by_user
    assert check_kareto(**dict(GOOD, gpu_usd_per_hour=3.5)).usd_per_gpu_hour == 3.5
    for name, bad in [("model_name", "no-such-model"), ("gpu", "no-such-gpu"), ("n_gpus", 0),
                      ("slo_ttft_p95_s", 0.0), ("gpu_usd_per_hour", -1.0), ("chat_concurrent_sessions", 0),
                      ("chat_seed", -1), ("threshold", -0.1), ("beam", 0), ("executor", "threads"), ("workers", 0)]:
        with pytest.raises(ParameterError, match=name):
            check_kareto(**dict(GOOD, **{name: bad}))


def test_check_kareto_refuses_gpus_whose_hbm_the_weights_fill():
    """One H100 cannot hold Llama 3.1 70B's FP16 weights: refused as n_gpus, not as the search's 'axis hbm_gb'."""
    with pytest.raises(ParameterError) as e:
        check_kareto(**dict(GOOD, n_gpus=1))
    assert e.value.name == "n_gpus" and "GB" in str(e.value)
    check_kareto(**dict(GOOD, n_gpus=2))
    with pytest.raises(ParameterError) as e:          # 80 GPUs cannot split Qwen3-Next's 32 value heads
        check_kareto(**dict(GOOD, model_name="qwen3-next-80b-a3b", n_gpus=80))
    assert e.value.name == "n_gpus"


def test_chat_trace_names_the_sessions_when_none_starts():
    from model.search.chapter_runs import chat_trace
    from model.workload import CharacterChatParams, character_chat_trace

    assert chat_trace(1, 0).n_requests == character_chat_trace(CharacterChatParams(concurrent_sessions=1)).n_requests
    with pytest.raises(ParameterError) as e:          # with seed 1, the one session starts after the window
        chat_trace(1, 1)
    assert e.value.name == "chat_concurrent_sessions" and "chat_seed=1" in str(e.value)


def test_run_trace_evaluates_the_grid_the_search_and_the_baseline(tmp_path):
    space = SearchSpace((Axis("dram", tuple(range(0, 501, 50))), Axis("ssd", tuple(range(0, 2001, 250)))))
    out = run_trace(Analytic(), space, {"dram": 100, "ssd": 0}, name="toy", output_dir=tmp_path / "tables",
                    executor="serial", threshold=0.05, beam=2, objectives=pareto.DEFAULT_OBJECTIVES)
    assert len(out["exhaustive"]) == space.size
    assert (tmp_path / "tables" / "kareto_sweep_chapter-runs-analytic-v1.jsonl").exists()
    assert 0 < len(out["pruned"]) < space.size
    expected = Analytic()({"dram": 100, "ssd": 0})
    assert out["baseline"]["cost_usd_per_hour"] == pytest.approx(expected["cost_usd_per_hour"])
    # the grid's rows are the evaluator's values at each configuration
    row = out["exhaustive"].set_index(["dram", "ssd"]).loc[(250, 500)]
    assert row["throughput_at_slo_rps"] == pytest.approx(Analytic()({"dram": 250, "ssd": 500})["throughput_at_slo_rps"])
    assert isinstance(out["pruned"], pd.DataFrame)
