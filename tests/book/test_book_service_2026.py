"""model.book.service_2026: the chapter's sentences say what the numbers say."""
import math

import pandas as pd

from model.book.service_2026 import cost_chart, gap_text, hit_rate_text, priceless_text, versus_2023_text


def test_sentences():
    assert versus_2023_text(1.0, 5.0) == "5.0 times less than"
    assert versus_2023_text(3.0, 1.5) == "2.0 times more than"
    assert versus_2023_text(1.01, 1.0) == "about the same as"
    assert versus_2023_text(math.nan, 1.0) == "not comparable with"
    assert hit_rate_text(0.477, 0.95).startswith("does not reach 95% with any memory") and "47.7%" in \
        hit_rate_text(0.477, 0.95)
    assert hit_rate_text(0.97, 0.95).startswith("reaches 95%")
    assert gap_text(1.05, 0.09) == "within" and gap_text(4.6, 0.09) == "beyond"
    assert gap_text(math.nan, 0.09) == "not planned separately"
    assert priceless_text([]) == "Every GPU compared has a published price."
    assert priceless_text(["gb200-186gb"]).startswith("GB200-186GB has no published price")


def test_cost_chart_spans_the_bars_and_the_rule():
    t = pd.DataFrame({"model_name": ["A", "B"], "gpu": ["h200-141gb", "b200-180gb"], "weight_dtype": ["fp8", "fp4"],
                      "usd_per_million_tokens": [0.05, 0.02], "serve_gpus": [10, 5]})
    spec = cost_chart(t, baseline_usd_per_million=0.3, baseline_label="2023", sessions=1000).to_dict()
    domain = spec["layer"][0]["encoding"]["x"]["scale"]["domain"]
    assert domain[0] < 0.02 and domain[1] > 0.3
    assert spec["title"] == "Cost per million tokens of the same 1,000-session service"


def test_findings_with_one_case_and_with_none_priced():
    from model.book.service_2026 import cost_finding, kv_finding

    base = pd.Series({"model_name": "Llama 2 70B", "gpu": "a100-80gb", "kv_dtype": "fp16", "kv_gb_per_session": 3.2768,
                      "usd_per_million_tokens": 0.3})
    one = pd.DataFrame({"model_name": ["Gemma 3 27B"], "gpu": ["b200-180gb"], "weight_dtype": ["fp4"],
                        "kv_gb_per_session": [0.353], "serve_gpus": [2178], "usd_per_month": [11e6],
                        "usd_per_million_tokens": [0.018]})
    text = kv_finding(one, base, context_tokens=10_000, kv_dtype="fp4")
    assert text.startswith("A 10,000-token session holds 353 MB of KV cache with Gemma 3 27B (FP4), against 3.28 GB")
    cost = cost_finding(one, base)
    assert cost.startswith("Gemma 3 27B on B200-180GB (FP4 weights) serves") and "dearest" not in cost
    assert "16.7 times less than the $0.300" in cost
    assert cost_finding(one.iloc[:0], base).startswith("No GPU compared has a published price")


def test_replica_shape_says_nodes_and_expert_parallelism_or_the_tensor_parallel_group():
    from model.book.service_2026 import replica_shape

    assert replica_shape({"ep": 16, "nodes": 2, "tp": 1}) == "2 nodes (EP 16)"
    assert replica_shape({"ep": 8, "nodes": 1, "tp": 1}) == "1 node (EP 8)"
    assert replica_shape({"ep": 1, "nodes": 1, "tp": 4}) == "tensor-parallel groups of 4 GPUs"


def test_memory_sentence_names_what_sets_each_fleet():
    from model.book.service_2026 import memory_sentence

    t = pd.DataFrame({"model_name": ["A", "B", "B"], "serve_gpus": [10, 5, 7], "hold_gpus": [4, 9, 8]})
    assert memory_sentence(t.iloc[:1]).startswith("In every case the planner needs more GPUs to serve")
    assert memory_sentence(t.iloc[1:]).startswith("In every case holding every session's KV cache in HBM")
    # two of three cases hold more than they serve; the model named once
    assert memory_sentence(t).startswith("In 2 of 3 cases (the models among them: B) holding")


def _plan(gpus, prefill, decode, usd_month, sessions, ideal=0.477):
    return {"gpus": gpus, "prefill_gpus": prefill, "decode_gpus": decode, "usd_per_month": usd_month,
            "inputs": {"sessions": sessions},
            "cache": {"ideal_hit_ratio": ideal, "node": {"hbm_gb": 12.34, "dram_gb": 0.0, "ssd_gb": 0.0}}}


def test_characterai_texts_by_hand():
    from model.book.service_2026 import characterai_texts

    cai = {"kv_gb_per_session": 0.025, "serve_gpus": 1000, "sessions_per_gpu": 2000.0, "usd_per_million_tokens": 0.0123}
    dense = {"kv_gb_per_session": 1.65, "serve_gpus": 2500, "sessions_per_gpu": 30.25}
    qps_plan = _plan(4000, 1000, 3000, 7.2e6, 2.0e6)
    t = characterai_texts(cai, dense, _plan(1000, 0, 0, 1.0, 1e6), qps_plan, context_tokens=10_000,
                          sessions=1_000_000, dtype="int8", gpu="h100-80gb", qps=20_000, usd_per_gpu_hour=2.5,
                          target=0.95, cache_hit_share=0.9, history_window_tokens=8_192, prompt_tokens=2_000,
                          reply_tokens=100, turns_per_session=10, session_minutes=15, hours_per_month=720)
    # 1.65 / 0.025 = 66 times less; the fleet 2500 / 1000 = 2.50-fold
    assert "holds 25.0 MB per 10,000-token session in INT8, 66 times less" in t["find_cai"]
    assert "on 1,000 H100-80GB GPUs, and its published 20,000 queries per second on 4,000." in t["find_cai"]
    assert "the fleet only 2.50-fold" in t["cai_plan_sentence"] and "($0.012 per million tokens)" in \
        t["cai_plan_sentence"]
    assert "so one H100-80GB holds 2,000 sessions beside the weights against 30.2." in t["cai_kv_sentence"]
    # $7.2M a month over 2M sessions x 720 h = $0.005 per hour of conversation
    assert "$7.2M a month at $2.50 per GPU-hour; that is $0.005 per hour" in t["cai_qps_sentence"]
    assert "(1,000 prefill, 3,000 decode)" in t["cai_qps_sentence"]
    assert t["find_hit"].startswith("The study's chat workload does not reach 95% with any memory")
    assert t["cai_hit_memory"].startswith("sized for 90% of that ideal, a node's cache is 12.3 GB of HBM")
    assert "8,192-token history" in t["cai_hit_memory"]


def _day(**kw):
    from types import SimpleNamespace

    d = dict(node_gpus=8, cache_hit_share=0.5625, kv_tokens_per_output_token=4989, mean_nodes=226.75,
             peak_nodes=278, usd_per_gpu_hour=2.0, prompt_tokens=3_000, reply_tokens=800, requests_per_s=2_400.4,
             tpot_s=0.05)
    d.update(kw)
    return SimpleNamespace(**d)


def _gaps(**kw):
    g = dict(prefill_node_tokens_per_s=26_700.0, published_prefill_node_tokens_per_s=32_200.0, spares_x=1.1,
             prefill_busy=0.62, work_x=1.4, decode_node_tokens_per_s=5_000.0,
             published_decode_node_tokens_per_s=14_800.0, decode_batch_per_gpu=60.4, published_batch_per_gpu=92.5,
             decode_mean_step_s=0.0421, decode_tpot_p95_s=0.0489, decode_communication_share=0.5,
             decode_node_tokens_per_s_hidden=10_000.0)
    g.update(kw)
    return g


def test_deepseek_texts_by_hand():
    from model.book.service_2026 import deepseek_texts

    comparison = pd.DataFrame({"item": ["prefill nodes", "decode nodes", "nodes", "GPU cost, USD/day"],
                               "published": [100.0, 126.75, 226.75, 87_072.0], "plan": [105.0, 487.0, 592.0, 1.0],
                               "plan_over_published_x": [1.05, 487 / 126.75, 592 / 226.75, 2.6108]})
    plan = {"serving": {"prefill": {"ep": 32, "nodes": 4, "tp": 32}, "decode": {"ep": 144, "nodes": 18, "tp": 144},
                        "cached_prompt_tokens": 1_200},
            "hbm_gb_per_node": 10.0, "dram_gb_per_node": 20.0, "ssd_gb_per_node": 0.0}
    t = deepseek_texts(_day(), plan, comparison, _gaps(), gpu="h800-80gb", error=0.103)
    assert t["ds_hit"] == "56.3%" and t["ds_nodes"] == "226.75" and t["ds_rate"] == "2,400"
    assert t["ds_prefill_gap"] == "within" and t["ds_decode_gap"] == "beyond"   # 1.05 and 3.84 against 10.3%
    assert t["ds_pre_speed_gap"] == "beyond"                                     # 26.7 / 32.2 = 0.83
    assert t["find_deepseek"].startswith("Fed DeepSeek's published day on H800-80GB, the planner buys 592 nodes "
                                         "against DeepSeek's 226.75 (2.61×)")
    assert "the all-to-all between nodes" in t["find_deepseek"] and t["ds_err"] == "10%"
    assert t["ds_pre_shape"] == "4 nodes (EP 32)" and t["ds_spares"] == "10%"
    assert t["ds_cached"] == "40%" and t["ds_cache_gb"] == "30.0" and t["ds_disk"] == "none of it on disk"
    assert t["ds_hidden_verdict"] == "narrows the gap without closing it"         # 10.0K < 14.8K
    one_node = {**plan, "ssd_gb_per_node": 5.0,
                "serving": {**plan["serving"], "decode": {"ep": 8, "nodes": 1, "tp": 8}}}
    t = deepseek_texts(_day(), one_node, comparison, _gaps(decode_node_tokens_per_s_hidden=15_000.0),
                       gpu="h800-80gb", error=0.103)
    assert "the collectives between GPUs" in t["find_deepseek"]
    assert t["ds_disk"] == "5.0 GB of it on SSD" and t["ds_hidden_verdict"] == "more than closes the gap"


def test_setting_texts_by_hand():
    from types import SimpleNamespace

    from model.book.service_2026 import setting_texts

    service = SimpleNamespace(prompt_tokens=2_000, reply_tokens=100, ttft_p95_s=3.2, tpot_p95_s=0.1,
                              cache_hit_share=0.9)
    t = setting_texts(service, sessions=1_000_000, context_tokens=10_000, weight_dtype="auto", kv_dtype="fp8",
                      priceless=[])
    assert t["sessions_n"] == "1,000,000" and t["context_n"] == "10,000" and t["prompt_n"] == "2,000"
    assert t["ttft"] == "3.2" and t["tpot"] == "0.1" and t["kv_dtype"] == "FP8" and t["hit_share"] == "90%"
    assert t["weight_rule"].startswith("in FP4 where the GPU has FP4 tensor cores")
    assert t["priceless"] == "Every GPU compared has a published price."
    t = setting_texts(service, sessions=5, context_tokens=1, weight_dtype="int8", kv_dtype="int8",
                      priceless=["gb200-186gb"])
    assert t["weight_rule"] == "in INT8" and t["priceless"].startswith("GB200-186GB has no published price")
