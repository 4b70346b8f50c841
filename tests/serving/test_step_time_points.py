"""data/measurements/step_time_points.csv: schema, citations, the role rule, and numbers re-read from the sources."""

import hashlib
import importlib.util
import math
import re

import pandas as pd
import pytest

from model.io import DATA

MEAS = DATA / "measurements"
CSV = MEAS / "step_time_points.csv"
README = MEAS / "step_time_points.README.md"

COLUMNS = [
    "point_id", "model", "gpu", "n_gpus", "tensor_parallel", "expert_parallel", "attention_data_parallel",
    "weight_dtype", "kv_dtype", "engine",
    "engine_version", "batching", "batch", "batch_kind", "engine_max_batch", "offered_rate_per_s", "input_tokens",
    "output_tokens", "metric", "value", "unit", "scope", "source_url", "repo", "path", "commit", "date", "role",
    "caveats",
]
UNITS = {"tpot_ms": "ms", "ttft_ms": "ms", "output_tokens_per_s": "tokens/s",
         "output_tokens_per_s_per_gpu": "tokens/s/GPU", "total_tokens_per_s": "tokens/s",
         "requests_per_s": "requests/s", "batch_latency_ms": "ms"}
GPUS = {"a100-80gb", "h100-80gb", "h200-141gb", "b200-180gb", "gb200-186gb", "mi300x-192gb"}
MODELS = {"llama-2-70b", "llama-3-70b", "llama-3.1-70b", "llama-3.3-70b", "llama-3.1-8b", "llama-3.1-405b",
          "llama-4-scout", "qwen3-235b-a22b", "qwen3-30b-a3b", "deepseek-r1"}
DTYPES = {"", "fp16", "bf16", "fp8", "int8", "int4", "fp4"}
#: Sources of the MoE/MLA/FP4 rows, split among themselves by the same rule (README, role rule step 5).
NEW_SOURCES = {"trtllm-v1.0-fp4", "trtllm-v1.0-models", "rocm-vllm-mi300x-tput", "rocm-vllm-mi300x-latency",
               "trtllm-dsr1"}
PINNED = {"lmdeploy-a100-static:a100-80gb:tp4:bs1:128x128:tpot_ms",
          "trtllm-v0.5-ttft:a100-80gb:tp4:bs1:2048x1:ttft_ms"}


@pytest.fixture(scope="module")
def df():
    return pd.read_csv(CSV, dtype=str, keep_default_na=False)


def test_schema_and_size(df):
    assert list(df.columns) == COLUMNS
    assert len(df) >= 60
    assert df["point_id"].is_unique
    assert (df["point_id"].str.len() > 0).all()


def test_allowed_values(df):
    assert set(df["gpu"]) <= GPUS
    assert GPUS <= set(df["gpu"])  # at least one row per GPU
    assert set(df["model"]) <= MODELS
    for model in set(df["model"]) - {"llama-3.3-70b"}:  # 3.3 has 3.1's architecture and no file of its own
        assert (DATA / "models" / f"{model}.json").exists() or (DATA / "models" / model / "config.json").exists()
    hardware = pd.read_csv(DATA / "hardware.csv")
    assert set(df["gpu"]) <= set(hardware["name"])
    assert set(df["metric"]) <= set(UNITS)
    assert (df["unit"] == df["metric"].map(UNITS)).all()
    assert (df["scope"] == df["metric"].map(lambda m: "per_gpu" if m.endswith("_per_gpu") else "system")).all()
    assert set(df["batching"]) <= {"static", "in-flight", "unknown"}
    assert set(df["batch_kind"]) <= {"fixed", "max", "concurrency", "engine-chosen"}
    assert (df.loc[df["batch_kind"] == "engine-chosen", "batch"] == "").all()
    assert (df.loc[df["batch_kind"].isin(["fixed", "max", "concurrency"]), "batch"].str.fullmatch(r"\d+")).all()
    assert set(df["weight_dtype"]) <= DTYPES and set(df["kv_dtype"]) <= DTYPES
    assert set(df["role"]) == {"calibration", "validation"}
    assert set(df["attention_data_parallel"]) <= {"", "true"} and df["expert_parallel"].str.fullmatch(r"(\d+)?").all()
    ep = df.loc[df["expert_parallel"] != "", ["expert_parallel", "n_gpus"]].astype(int)
    assert (ep["n_gpus"] % ep["expert_parallel"] == 0).all()
    assert df["date"].str.fullmatch(r"(\d{4}-\d{2}(-\d{2})?)?").all()
    rate = df["offered_rate_per_s"]
    assert (rate[rate != ""].map(lambda r: r == "inf" or float(r) > 0)).all()


def test_numbers_are_positive_and_consistent(df):
    values = df["value"].astype(float)
    assert (values > 0).all() and values.map(math.isfinite).all()
    n = df["n_gpus"].astype(int)
    assert (n >= 1).all()
    tp = df.loc[df["tensor_parallel"] != "", "tensor_parallel"].astype(int)
    assert (tp <= n[tp.index]).all() and (n[tp.index] % tp == 0).all()
    for col in ("input_tokens", "output_tokens"):
        assert df[col].str.fullmatch(r"(\d+)?").all()
    assert (df.loc[df["weight_dtype"] == "fp8", "gpu"] != "a100-80gb").all()  # A100 has no FP8
    assert set(df.loc[df["weight_dtype"] == "fp4", "gpu"]) <= {"b200-180gb", "gb200-186gb"}  # only Blackwell has FP4


def test_every_row_is_cited(df):
    by_repo = (df["repo"] != "") & (df["path"] != "") & df["commit"].str.fullmatch(r"[0-9a-f]{40}")
    by_url = df["source_url"].str.match(r"https://\S+$")
    assert (by_repo | by_url).all()
    assert df["commit"].str.fullmatch(r"([0-9a-f]{40})?").all()
    with_commit = df[df["commit"] != ""]
    assert (with_commit["source_url"] == "https://github.com/" + with_commit["repo"] + "/blob/"
            + with_commit["commit"] + "/" + with_commit["path"]).all()
    assert (df["caveats"].str.len() > 40).all()


def test_readme_sha256_matches_the_file():
    digest = hashlib.sha256(CSV.read_bytes()).hexdigest()
    found = re.findall(r"sha256 of `step_time_points.csv`: `([0-9a-f]{64})`", README.read_text(encoding="utf-8"))
    assert found == [digest]


def test_roles_follow_the_stated_rule(df):
    # Recomputed here from the README's rule, independently of make_step_time_points.assign_roles: the earlier rows
    # and the MoE/MLA/FP4 rows are each split by it among themselves.
    new = df["point_id"].str.split(":").str[0].isin(NEW_SOURCES)
    assert new.sum() == 208
    for (_, _, _), group in df.assign(new=new).groupby(["new", "metric", "gpu"]):
        ids = list(group["point_id"])
        k = math.ceil(0.3 * len(ids))
        ranked = sorted(ids, key=lambda i: (i not in PINNED, hashlib.sha256(i.encode("utf-8")).hexdigest()))
        expected = {pid: ("calibration" if rank < k else "validation") for rank, pid in enumerate(ranked)}
        assert dict(zip(group["point_id"], group["role"])) == expected
    assert set(df.loc[df["point_id"].isin(PINNED), "role"]) == {"calibration"}
    assert len(PINNED & set(df["point_id"])) == 2


def test_roles_cover_every_group(df):
    groups = df.groupby(["metric", "gpu"])["role"].agg(set)
    assert groups.map(lambda roles: "calibration" in roles).all()
    per_metric = df.groupby("metric")["role"].agg(["size", lambda r: set(r)])
    for metric, (size, roles) in per_metric.iterrows():
        if size >= 3:
            assert roles == {"calibration", "validation"}, metric


def test_csv_is_what_the_script_builds():
    spec = importlib.util.spec_from_file_location("make_step_time_points", MEAS / "make_step_time_points.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.render(module.build()) == CSV.read_text(encoding="utf-8")


def _value(df, point_id):
    row = df[df["point_id"] == point_id]
    assert len(row) == 1, point_id
    return float(row["value"].iloc[0])


def test_spot_checks_against_the_sources(df):
    # Numbers typed from the sources when re-read, independently of step_time_sources/.
    # NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md @ 258c7540c03517def55d9a5aadfa9288af474e1b,
    # v0.17 throughput table, LLaMA v3.1 70B, TP 1, "128, 2048", column "H200 141GB HBM3" (FP8): 4165.68
    assert _value(df, "trtllm-v0.17-tput:h200-141gb:tp1:qpsinf:128x2048:output_tokens_per_s") == 4165.68
    # mlcommons/inference_results_v4.1 @ a2f5d66d17e8f75c02fd74dfe810ecca6a046696,
    # closed/NVIDIA/results/H200-SXM-141GBx8_TRT/llama2-70b-99/Server/performance/run_1/mlperf_log_summary.txt:
    # "Mean Time to Output Token (ns)                : 123263268"
    assert _value(df, "mlperf41_nv_h200:h200-141gb:tp1:99-server:bs896:qps101:tpot_ms") == 123263268 / 1e6
    # InternLM/lmdeploy docs/en/benchmark/a100_fp16.md @ 3e391df4673326f79363eebe030876861a9b7090, llama2-70b static
    # table, row "| 64 | 4 | 2048 | 2048 | 930.46 | ... | 50%(s) 0.055 |": 55 ms per token, 930.46 out tok/s
    assert _value(df, "lmdeploy-a100-static:a100-80gb:tp4:bs64:2048x2048:tpot_ms") == 55
    assert _value(df, "lmdeploy-a100-static:a100-80gb:tp4:bs64:2048x2048:output_tokens_per_s") == 930.46
    # NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md @ 258c7540..., Online Serving Measurements,
    # LLaMA 3.1 70B, H100 80GB HBM3, TP 4, 467 -> 256, QPS 2: Mean TTFT 62 ms, Mean ITL 21 ms
    assert _value(df, "trtllm-v0.14-online:h100-80gb:tp4:qps2:467x256:ttft_ms") == 62
    assert _value(df, "trtllm-v0.14-online:h100-80gb:tp4:qps2:467x256:tpot_ms") == 21
    # https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance.md, Llama-3.3-70b-instruct, 1.8.0,
    # 2 x H100 80G fp8 TP2, 5000/500, concurrency 1: TTFT 406.77 ms, ITL 18.58 ms
    assert _value(df, "nim_llama33_h100:h100-80gb:tp2:nim-1.8.0:bs1:5000x500:tpot_ms") == 18.58


def test_old_measurements_are_included_again(df):
    # Every row of decode_throughput.csv (read by model.serving.calibration) reappears in the new file under the new keys.
    old = pd.read_csv(MEAS / "decode_throughput.csv", dtype=str, keep_default_na=False)
    metric = {"ms_per_decode_step": "tpot_ms", "ms_first_token": "ttft_ms"}
    gpu = {"a100": "a100-80gb"}
    model = {"llama-2-70b-chat": "llama-2-70b"}
    for _, r in old.iterrows():
        match = df[(df["metric"] == metric.get(r["metric"], r["metric"]))
                   & (df["gpu"] == gpu.get(r["hardware"], r["hardware"]))
                   & (df["model"] == model.get(r["model"], r["model"]))
                   & (df["value"].astype(float) == float(r["value"]))]
        assert len(match) >= 1, (r["model"], r["hardware"], r["metric"], r["value"])


def test_online_table_is_internally_consistent(df):
    # A transcription guard: in the TensorRT-LLM online table (fixed lengths) total / output token throughput must
    # equal (input + output) / output tokens per request, to the table's rounding.
    online = df[df["point_id"].str.startswith("trtllm-v0.14-online:")].copy()
    online["config"] = online["point_id"].str.rsplit(":", n=1).str[0]
    wide = online.pivot(index="config", columns="metric", values="value").astype(float)
    lengths = online.groupby("config")[["input_tokens", "output_tokens"]].first().astype(int)
    expected = (lengths["input_tokens"] + lengths["output_tokens"]) / lengths["output_tokens"]
    ratio = (wide["total_tokens_per_s"] / wide["output_tokens_per_s"]) / expected
    assert len(ratio) == 36
    assert ((ratio - 1).abs() < 0.02).all()


def test_spot_checks_of_the_moe_mla_fp4_rows(df):
    # Typed from the sources when re-read, independently of step_time_sources/.
    # NVIDIA/TensorRT-LLM perf-overview.md @ 00f37686aa854010d68bcbd0f4ab000221541ca6, Qwen3-235B-A22B, 1000/2000,
    # "B200<br/>TP8 (FP4)": 34,105; Llama 4 Scout 2048/128 "H200<br/>TP4 (FP8)": 3,699; Llama 3.3 70B 20000/2000
    # "GB200<br/>TP1 (FP4)": 755
    assert _value(df, "trtllm-v1.0-models:b200-180gb:tp8:qwen3-235b-a22b:qpsinf:1000x2000:output_tokens_per_s") \
        == 34105
    assert _value(df, "trtllm-v1.0-models:h200-141gb:tp4:llama-4-scout:qpsinf:2048x128:output_tokens_per_s") == 3699
    assert _value(df, "trtllm-v1.0-fp4:gb200-186gb:tp1:qpsinf:20000x2000:output_tokens_per_s") == 755
    # ROCm/vllm docs/dev-docker/README.md @ b309ea79418c6fc9058a6b2dec312375d3c75753: Llama 3.1 405B, batch 128,
    # 2048 -> 2048: 162.503 s; Llama 3.1 70B 500 -> 2000 throughput 13089.0 tokens/s
    assert _value(df, "rocm-vllm-mi300x-latency:mi300x-192gb:tp8:llama-3.1-405b:bs128:2048x2048:batch_latency_ms") \
        == 162503
    assert _value(df, "rocm-vllm-mi300x-tput:mi300x-192gb:tp8:llama-3.1-70b:bs2000:qpsinf:500x2000:"
                      "total_tokens_per_s") == 13089.0
    # Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md @ f0c873f5...: B200 FP16-KV max throughput 36384.0838
    # (--max_batch_size 384 per rank, 8 ranks); R1-0528 with FP8 KV 43146.2042 (--max_batch_size 896, 8 ranks)
    row = df[df["point_id"].str.startswith("trtllm-dsr1:b200-180gb:tp8:b200-fp16kv")]
    assert list(row["value"].astype(float)) == [36384.0838] and list(row["model"]) == ["deepseek-r1"]
    assert list(row["engine_max_batch"]) == [str(8 * 384)]
    row = df[df["point_id"].str.startswith("trtllm-dsr1:b200-180gb:tp8:b200-0528-fp8kv")]
    assert list(row["value"].astype(float)) == [43146.2042] and list(row["kv_dtype"]) == ["fp8"]
    assert list(row["engine_max_batch"]) == [str(8 * 896)]
    # lengths read from the run's own figures: 43146.2042 / 21.0675 output and (65100.6376 - 43146.2042) / 21.0675
    # input tokens per request
    assert round(43146.2042 / 21.0675) == int(row["output_tokens"].iloc[0]) == 2048
    assert round((65100.6376 - 43146.2042) / 21.0675) == int(row["input_tokens"].iloc[0]) == 1042


def test_readme_states_the_row_count(df):
    text = README.read_text(encoding="utf-8")
    assert f"holds **{len(df)} measured points**" in text
