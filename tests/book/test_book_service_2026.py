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
