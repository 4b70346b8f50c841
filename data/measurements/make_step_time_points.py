"""Build ``step_time_points.csv`` from the hand-copied source excerpts in ``step_time_sources/``.

Every number in the output is a published measurement copied verbatim into ``step_time_sources/`` (Markdown
table rows exactly as the source prints them, or ``manual_points.csv`` for values scattered over log files and
prose). This script only parses those files, attaches the source metadata below, converts units where the source
uses seconds or nanoseconds (exact decimal arithmetic), and assigns each point its role.

Role rule (fixed before any comparison with a model; ``assign_roles`` is the implementation):

* Points are grouped by ``(metric, gpu)``.
* In a group of ``n`` points, ``k = ceil(0.3 * n)`` are ``calibration`` and the rest ``validation``.
* Points already used to calibrate the step-time model (``PINNED_CALIBRATION``: the two measurements behind
  ``data/parameters/batching.csv``) are calibration first; the remaining calibration places go to the points with
  the smallest ``sha256(point_id)`` (hex digest, UTF-8), so the split is deterministic and independent of row order.
* Hence every ``(metric, gpu)`` group has at least one calibration point, and every group with two or more points
  has at least one validation point.
* The rows added for the MoE, MLA and FP4 families (``NEW_SOURCES``) are split by the same rule among themselves,
  so that adding them leaves the role of every earlier row as it was.

Run from the repository root:  ``python data/measurements/make_step_time_points.py`` (writes the CSV and the
sha256 line of ``step_time_points.README.md``); ``--check`` only verifies that the CSV on disk is what the script
would write; ``--counts`` prints the model x GPU x metric x role table of the README.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import sys
from decimal import Decimal
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "step_time_sources"
OUT = HERE / "step_time_points.csv"

COLUMNS = [
    "point_id", "model", "gpu", "n_gpus", "tensor_parallel", "expert_parallel", "attention_data_parallel",
    "weight_dtype", "kv_dtype", "engine",
    "engine_version", "batching", "batch", "batch_kind", "engine_max_batch", "offered_rate_per_s", "input_tokens",
    "output_tokens", "metric", "value", "unit", "scope", "source_url", "repo", "path", "commit", "date", "role",
    "caveats",
]
METRIC_UNITS = {
    "tpot_ms": "ms",
    "ttft_ms": "ms",
    "output_tokens_per_s": "tokens/s",
    "output_tokens_per_s_per_gpu": "tokens/s/GPU",
    "total_tokens_per_s": "tokens/s",
    "requests_per_s": "requests/s",
    "batch_latency_ms": "ms",
}
CALIBRATION_SHARE = 0.3
# Already used to calibrate data/parameters/batching.csv (batching_decode_mbu, batching_prefill_mfu).
PINNED_CALIBRATION = frozenset({
    "lmdeploy-a100-static:a100-80gb:tp4:bs1:128x128:tpot_ms",
    "trtllm-v0.5-ttft:a100-80gb:tp4:bs1:2048x1:ttft_ms",
})

GPU_NAMES = {"H200": "h200-141gb", "H100": "h100-80gb", "A100": "a100-80gb", "B200": "b200-180gb",
             "GB200": "gb200-186gb"}
#: Model names of the TensorRT-LLM and ROCm tables -> data/models names.
MODEL_NAMES = {"Llama 4 Scout": "llama-4-scout", "Qwen3-235B-A22B": "qwen3-235b-a22b", "Qwen3-30B-A3B": "qwen3-30b-a3b",
               "Llama 3.1 405B": "llama-3.1-405b", "Llama 3.1 8B": "llama-3.1-8b", "Llama 3.1 70B": "llama-3.1-70b",
               "Llama 3.3 70B": "llama-3.3-70b"}
#: Sources of the rows added for the MoE, MLA and FP4 families (2026). Their roles are assigned by the same rule
#: among themselves (:func:`build`), so adding them leaves the split of the earlier rows unchanged.
NEW_SOURCES = frozenset({"trtllm-v1.0-fp4", "trtllm-v1.0-models", "rocm-vllm-mi300x-tput", "rocm-vllm-mi300x-latency",
                         "trtllm-dsr1"})


def gh(repo: str, path: str, commit: str) -> dict:
    return {"repo": repo, "path": path, "commit": commit,
            "source_url": f"https://github.com/{repo}/blob/{commit}/{path}"}


TRT = "NVIDIA/TensorRT-LLM"
LLAMA2_NOTE = ("The table says 'LLaMA 70B'; the same file's methodology names the Llama2-70b benchmark, so this is "
               "Llama 2 70B.")
LLAMA33_NOTE = ("Llama 3.3 70B: same architecture as Llama 3.1 70B (data/models/llama-3.1-70b.json); there is no "
                "llama-3.3-70b.json.")
STATIC_TRT_NOTE = ("Static batching (gptSessionBenchmark: the whole batch enters together, fixed input/output "
                   "lengths, every sequence runs to the full output length).")
A100_VARIANT_NOTE = ("The source says 'A100 GPUs' without the memory size; 80GB is read from the batch/TP: the Llama 2 "
                     "70B FP16 weights (~138 GB) plus this batch's KV cache do not fit 40GB parts at this TP.")
TRT017_REQUESTS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (2048, 128): 3000, (2048, 2048): 1500,
                   (5000, 500): 1500, (1000, 1000): 3000, (500, 2000): 3000, (20000, 2000): 1000}
TRT10_REQUESTS = {**TRT017_REQUESTS, (1000, 2000): 1500}

SOURCES = {
    "trtllm-v0.17-tput": dict(
        gh(TRT, "docs/source/performance/perf-overview.md", "258c7540c03517def55d9a5aadfa9288af474e1b"),
        file="trtllm_perf_overview_v0.17_throughput.md", model="llama-3.1-70b", engine="tensorrt-llm",
        engine_version="0.17", batching="in-flight", date="",
        note=("TensorRT-LLM perf overview 'Throughput Measurements' (data generated with v0.17): trtllm-bench "
              "throughput, requests fed at an infinite rate, synthetic prompts with fixed lengths (stdev 0); engines "
              "built by 'trtllm-bench build' with batch size and token limits chosen from the dataset statistics; "
              "FP8 engines use an FP8 KV cache ('If you specify FP8 quantization, the KV cache will automatically be "
              "set to FP8 as well'). 'Token throughput in tokens/second' counts output tokens (the page's own example "
              "output: 182.86 req/s x 128 output tokens = 23,405.9 tokens/s). n_gpus = TP (no pipeline parallelism "
              "in the table).")),
    "trtllm-v0.14-online": dict(
        gh(TRT, "docs/source/performance/perf-overview.md", "258c7540c03517def55d9a5aadfa9288af474e1b"),
        file="trtllm_perf_overview_v0.14_online.md", model="llama-3.1-70b", engine="tensorrt-llm (triton backend)",
        engine_version="0.14.0", batching="in-flight", date="",
        note=("TensorRT-LLM perf overview 'Online Serving Measurements' (v0.14.0, 500 requests, BF16, TensorRT-LLM "
              "Triton backend): offered_rate_per_s is the table's QPS column (INF = all requests at once); the "
              "running batch is engine-chosen. Mean TTFT and mean ITL (inter-token latency, used as tpot_ms) include "
              "queueing under that load. The source labels the H200 'H200 131GB HBM3'.")),
    "trtllm-v1.0-tput": dict(
        gh(TRT, "docs/source/performance/perf-overview.md", "00f37686aa854010d68bcbd0f4ab000221541ca6"),
        file="trtllm_perf_overview_v1.0_llama33.md", model="llama-3.3-70b", engine="tensorrt-llm (pytorch backend)",
        engine_version=">=1.0", batching="in-flight", date="",
        note=("TensorRT-LLM perf overview 'Throughput Measurements' ('Total Output Throughput (tokens/sec)'), "
              "trtllm-bench throughput with the PyTorch backend, infinite request rate, fixed synthetic lengths, "
              "model nvidia/Llama-3.3-70B-Instruct-FP8; DGX H100 / DGX H200. The page announces '(NEW for v1.0)' "
              "data, so the version is v1.0 or later. KV-cache dtype is not stated. " + LLAMA33_NOTE)),
    "trtllm-v1.0-fp4": dict(
        gh(TRT, "docs/source/performance/perf-overview.md", "00f37686aa854010d68bcbd0f4ab000221541ca6"),
        file="trtllm_perf_overview_v1.0_llama33.md", model="llama-3.3-70b", engine="tensorrt-llm (pytorch backend)",
        engine_version=">=1.0", batching="in-flight", date="",
        note=("TensorRT-LLM perf overview 'Throughput Measurements' ('Total Output Throughput (tokens/sec)'), "
              "trtllm-bench throughput with the PyTorch backend, infinite request rate, fixed synthetic lengths, "
              "model nvidia/Llama-3.3-70B-Instruct-FP4 on B200 180GB (DGX B200) and GB200 (NVL72); FP4 = NVFP4 "
              "weights (ModelOpt). KV-cache dtype is not stated. " + LLAMA33_NOTE)),
    "trtllm-v1.0-models": dict(
        gh(TRT, "docs/source/performance/perf-overview.md", "00f37686aa854010d68bcbd0f4ab000221541ca6"),
        file="trtllm_perf_overview_v1.0_models.md", model="", engine="tensorrt-llm (pytorch backend)",
        engine_version=">=1.0", batching="in-flight", date="",
        note=("TensorRT-LLM perf overview 'Throughput Measurements' ('Total Output Throughput (tokens/sec)'), "
              "trtllm-bench throughput with the PyTorch backend, infinite request rate, fixed synthetic lengths "
              "(stdev 0), ModelOpt FP4 (NVFP4) or FP8 checkpoints. KV-cache dtype is not stated. MoE models run with "
              "'--ep $ep_size' (size not printed, so expert_parallel is left empty) and an llm_options file whose "
              "'enable_attention_dp: true' is written inside 'cuda_graph_config', not at the top level where the "
              "LLM API reads it; whether the runs used attention data parallelism is therefore not stated, and "
              "attention_data_parallel is left empty.")),
    "rocm-vllm-mi300x-tput": dict(
        gh("ROCm/vllm", "docs/dev-docker/README.md", "b309ea79418c6fc9058a6b2dec312375d3c75753"),
        file="rocm_vllm_mi300x.md", model="", engine="vllm (rocm)", engine_version="0.7.3", batching="in-flight",
        date="",
        note=("AMD's ROCm vLLM dev-docker page, 'Throughput Measurements' on MI300X (ROCm 6.3.1, vLLM 0.7.3): "
              "benchmark_throughput.py, all prompts at once, FP8 weights and FP8 KV cache (amd/*-FP8-KV "
              "checkpoints, --kv-cache-dtype fp8), --num-scheduler-steps 10, chunked prefill off, --max-num-seqs = "
              "the prompts. 'Throughput (tokens/s)' is read as vLLM's benchmark_throughput 'tokens_per_second', "
              "which counts prompt and output tokens (total_num_tokens / elapsed_time), so the metric is "
              "total_tokens_per_s.")),
    "rocm-vllm-mi300x-latency": dict(
        gh("ROCm/vllm", "docs/dev-docker/README.md", "b309ea79418c6fc9058a6b2dec312375d3c75753"),
        file=None, model="", engine="vllm (rocm)", engine_version="0.7.3", batching="static", date="",
        note=("AMD's ROCm vLLM dev-docker page, 'Latency Measurements' on MI300X (ROCm 6.3.1, vLLM 0.7.3): "
              "benchmark_latency.py, 'end-to-end latency for a specified model, input/output length, and batch "
              "size': one batch of equal requests sent together and run to the full output length (a static batch), "
              "FP8 weights and FP8 KV cache. batch_latency_ms is the whole batch's time, prefill included.")),
    "trtllm-dsr1": dict(
        gh(TRT, "docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md",
           "f0c873f5ffdd170c9f5b70c844c02ecca9860b8f"),
        file=None, model="deepseek-r1", engine="tensorrt-llm (pytorch backend)", engine_version="", batching="in-flight",
        date="", expert_parallel=8, attention_data_parallel="true",
        note=("TensorRT-LLM 'How to get best performance on DeepSeek-R1', max-throughput runs without MTP "
              "(trtllm-bench throughput, synthetic dataset with fixed lengths, ISL 1024 and OSL 2048 from the "
              "prepare_dataset command), '--tp 8 --ep 8' with 'enable_attention_dp: true' (each GPU runs attention "
              "for its own requests; experts spread over the 8 GPUs), client concurrency = batch. 'Expected Result "
              "Format' output copied. The min-latency runs use MTP speculative decoding and are not copied. Weights: "
              "fp4 for nvidia/DeepSeek-R1-FP4 on B200 (the checkpoint's format; which layers stay at higher "
              "precision is not stated on the page), fp8 for deepseek-ai/DeepSeek-R1 on H200. KV cache: the B200 "
              "section is titled 'with FP16 KV cache' (recorded as the 16-bit bf16), the H200 run sets no "
              "kv_cache_dtype, so the checkpoint's 16-bit default is assumed. engine_max_batch = trtllm-bench's "
              "--max_batch_size, which with attention data parallelism is per rank, times the 8 ranks (= the "
              "client concurrency in every run).")),
    "trtllm-v0.9.0-static": dict(
        repo=TRT, path="docs/source/performance.md", commit="",
        source_url="https://github.com/NVIDIA/TensorRT-LLM/blob/v0.9.0/docs/source/performance.md",
        file="trtllm_performance_v0.9.0.md", model="llama-2-70b", engine="tensorrt-llm", engine_version="0.9.0",
        batching="static", date="",
        note=("TensorRT-LLM 'Performance of TensorRT-LLM', Peak Throughput tables ('All data was generated using "
              "version 0.9.0'), throughput published per GPU (out tok/s/GPU; multiply by n_gpus for the system). "
              + STATIC_TRT_NOTE + " " + LLAMA2_NOTE + " Text read from an archived copy of this file whose commit was "
              "not recorded; source_url is the v0.9.0 release tag, not opened here.")),
    "trtllm-v0.9.0-ttft": dict(
        repo=TRT, path="docs/source/performance.md", commit="",
        source_url="https://github.com/NVIDIA/TensorRT-LLM/blob/v0.9.0/docs/source/performance.md",
        file=None, model="llama-2-70b", engine="tensorrt-llm", engine_version="0.9.0", batching="static", date="",
        note=("TensorRT-LLM 'Performance of TensorRT-LLM', Low Latency tables (v0.9.0): first-token latency at batch "
              "1, measured by running gptSessionBenchmark with a single output token (output_tokens = 1). "
              + LLAMA2_NOTE + " Text read from an archived copy of this file whose commit was not "
              "recorded; source_url is the v0.9.0 release tag, not opened here.")),
    "trtllm-v0.6.1-static": dict(
        gh(TRT, "docs/source/performance.md", "77d24b5fa178f11ed7fafdd9833b7245e075f721"),
        file="trtllm_performance_v0.6.1.md", model="llama-2-70b", engine="tensorrt-llm", engine_version="0.6.1",
        batching="static", date="",
        note=("TensorRT-LLM 'Performance of TensorRT-LLM', Peak Throughput tables (data for v0.6.1), throughput "
              "published per GPU (out tok/s/GPU). An earlier revision (commit 138f96d45f90) heads the A100 column "
              "'out tok/s' with the same numbers; the later per-GPU header is used. " + STATIC_TRT_NOTE + " "
              + LLAMA2_NOTE)),
    "trtllm-v0.5-ttft": dict(
        gh(TRT, "docs/source/performance.md", "77d24b5fa178f11ed7fafdd9833b7245e075f721"),
        file=None, model="llama-2-70b", engine="tensorrt-llm", engine_version="0.5", batching="static", date="",
        note=("TensorRT-LLM 'Performance of TensorRT-LLM', Low Latency tables ('The following data is from "
              "TensorRT-LLM v0.5'): first-token latency at batch 1, measured with a single output token "
              "(output_tokens = 1). " + LLAMA2_NOTE)),
    "lmdeploy-a100-static": dict(
        gh("InternLM/lmdeploy", "docs/en/benchmark/a100_fp16.md", "3e391df4673326f79363eebe030876861a9b7090"),
        file="lmdeploy_a100_fp16.md", model="llama-2-70b", engine="lmdeploy (turbomind)", engine_version="0.1.0a1",
        batching="static", date="",
        note=("LMDeploy 'Benchmark on A100 (FP16)', Static Inference Benchmark, llama2-70b, x8 A100-80G, CUDA 11.8: "
              "'batch' concurrent requests with the stated prompt/output lengths start together (a static batch of "
              "fixed size; TurboMind itself batches persistently). tpot_ms = the '50%(s)' column (median per-token "
              "latency); ttft_ms = 'FTL(ave)(s)' (average first-token latency, which at batch > 1 includes waiting "
              "behind the other prompts of the batch: see FTL(min)/FTL(max) in the source).")),
    "lmdeploy-a100-request": dict(
        gh("InternLM/lmdeploy", "docs/en/benchmark/a100_fp16.md", "3e391df4673326f79363eebe030876861a9b7090"),
        file=None, model="llama-2-70b", engine="lmdeploy (turbomind)", engine_version="0.1.0a1",
        batching="in-flight", date="",
        note=("LMDeploy 'Benchmark on A100 (FP16)', Request Throughput Benchmark, llama2-70b: 3000 prompts from a "
              "conversation dataset (lengths vary and are not printed), 'batch' = the engine's maximum batch. "
              "requests_per_s = the 'PRS' column (PRM = 60 x PRS per minute); ttft_ms = 'FTL(ave)(s)'.")),
    "mlperf41_nv_h100": dict(
        gh("mlcommons/inference_results_v4.1",
           "closed/NVIDIA/results/DGX-H100_H100-SXM-80GBx8_TRT/llama2-70b-99.9/{scenario}/performance/run_1/"
           "mlperf_log_summary.txt", "a2f5d66d17e8f75c02fd74dfe810ecca6a046696"),
        file=None, model="llama-2-70b", engine="tensorrt-llm (nvidia mlperf harness)", engine_version="mlperf-v4.1",
        batching="unknown", date="2024-08",
        note=("MLPerf Inference v4.1 closed, NVIDIA DGX-H100 (8x H100-SXM-80GB), llama2-70b-99.9 "
              "(Llama-2-70b-chat, OpenOrca; prompt and output lengths vary per sample), mlperf_log_summary.txt. "
              "TP, batch and precision from closed/NVIDIA/configs/llama2-70b/{scenario}/__init__.py at the same "
              "commit (class H100_SXM_80GB_TP2x4: tensor_parallelism 2 x 4 replicas, use_fp8 = True, gpu_batch_size "
              "= the engine's maximum batch). Server: offered_rate_per_s = target_qps of the run, with TTFT <= 2 s "
              "and TPOT <= 200 ms constraints; latencies converted from ns. 'Tokens per second' counts generated "
              "tokens. Round published August 2024 (MLPerf results pages).")),
    "mlperf41_nv_h200": dict(
        gh("mlcommons/inference_results_v4.1",
           "closed/NVIDIA/results/H200-SXM-141GBx8_TRT/llama2-70b-99/{scenario}/performance/run_1/"
           "mlperf_log_summary.txt", "a2f5d66d17e8f75c02fd74dfe810ecca6a046696"),
        file=None, model="llama-2-70b", engine="tensorrt-llm (nvidia mlperf harness)", engine_version="mlperf-v4.1",
        batching="unknown", date="2024-08",
        note=("MLPerf Inference v4.1 closed, NVIDIA H200-SXM-141GB x8, llama2-70b-99 (Llama-2-70b-chat, OpenOrca; "
              "lengths vary per sample), mlperf_log_summary.txt. TP, batch and precision from "
              "closed/NVIDIA/configs/llama2-70b/{scenario}/__init__.py at the same commit (class H200_SXM_141GBx8: "
              "tensor_parallelism 1, i.e. 8 single-GPU replicas, use_fp8 = True, gpu_batch_size = the engine's "
              "maximum batch; the config file's server_target_qps 102.5 differs from the run's target_qps 101, so "
              "the config may have changed after the run). Server: TTFT <= 2 s and TPOT <= 200 ms constraints; "
              "latencies converted from ns. Round published August 2024 (MLPerf results pages).")),
    "mlperf41_hpe_h100": dict(
        gh("mlcommons/inference_results_v4.1", "closed/HPE/results/HPE_Cray_XD670_H100_SXM_80GBx8_TRT/README.md",
           "00e5e3944351479e8f4929678e2bda8730803a90"),
        file=None, model="llama-2-70b", engine="tensorrt (hpe mlperf submission)", engine_version="TensorRT 10.2.0",
        batching="unknown", date="2024-08",
        note=("MLPerf Inference v4.1 closed, HPE Cray XD670 (8x H100-SXM-80GB, TensorRT 10.2.0, CUDA 12.4), results "
              "table (page dated 'August 2024'), llama2-70b (Llama-2-70b-chat, OpenOrca; lengths vary per sample). "
              "Parallelism, batch and precision are not given on the results page; the Server target rate was not "
              "read.")),
    "trtllm_tune_fp16": dict(
        gh(TRT, "docs/source/performance/tuning-max-batch-size-and-max-num-tokens.md",
           "16d2467ea8e3b45d7d9555010c2ad018d006d5c1"),
        file=None, model="llama-3.3-70b", engine="tensorrt-llm", engine_version="", batching="in-flight", date="",
        note=("TensorRT-LLM performance tuning guide case study, 'Llama-3.3-70B on 4 H100s' (TP4), FP16 engine with "
              "multiple profiles, gemm plugin, paged context attention and reduce fusion; batch = max batch size, "
              "the label's mnt = max num tokens. 'Token Throughput' counts output tokens (about 2048 output tokens "
              "per request from its ratio to request throughput); the dataset's lengths are defined on another page "
              "of the guide and were not read. 'Disclaimer: While performance numbers shown here are real, they are "
              "only for demonstration purposes.' " + LLAMA33_NOTE)),
    "trtllm_tune_fp8": dict(
        gh(TRT, "docs/source/performance/fp8-quantization.md", "8cc5c0b2a5bebb625622252a55c6fcd2d6c4a395"),
        file=None, model="llama-3.3-70b", engine="tensorrt-llm", engine_version="", batching="in-flight", date="",
        note=("TensorRT-LLM performance tuning guide, 'FP8 Quantization', tuned FP8 model on 4x H100-sxm-80GB (TP4): "
              "FP8 weights, FP8 KV cache, reduce fusion + user buffers, GEMM+SwiGLU fusion, low-latency GEMM plugin, "
              "max num tokens 16384, max batch size 512. Same workload as the FP16 case study. " + LLAMA33_NOTE)),
    "nim_llama33_h100": dict(
        repo="", path="", commit="", source_url="https://docs.nvidia.com/nim/benchmarking/llm/1.0.0/performance.md",
        file=None, model="llama-3.3-70b", engine="nvidia nim", engine_version="1.8.0", batching="unknown", date="",
        note=("NVIDIA NIM benchmarking docs (LLM, docs version 1.0.0), 'Performance', Llama-3.3-70b-instruct Results, "
              "NIM 'Version: 1.8.0', '2 x H100 80G', 'fp8 TP2', '5000 Input Tokens / 500 Output Tokens', measured "
              "with AIPerf at a fixed client concurrency (batch = concurrency; the running batch the engine forms is "
              "not reported). 'Throughput(Tokens/s)' is read as output tokens/s of the deployment: at concurrency 1, "
              "TTFT + 499 x ITL = 9.68 s per 500-token reply, i.e. about 51.7 tokens/s, as printed. The engine "
              "backend (TensorRT-LLM or vLLM profile) and the KV-cache dtype are not stated in the excerpt read. "
              "Copied from an archived text of the page. " + LLAMA33_NOTE)),
    "sglang060_h100": dict(
        gh("sgl-project/sglang", "benchmark/benchmark_vllm_060/README.md", "120affb9613cc3f5bcd055ec09c7621d3ced0ebc"),
        file=None, model="llama-3.1-70b", engine="", engine_version="", batching="in-flight", date="",
        note=("SGLang 'How to reproduce the benchmark results for SGLang v0.3.0 compared to vLLM v0.6.0', "
              "'Llama 3.1 70B Instruct 4 x H100 80G' (TP 4), ShareGPT prompts via sglang.bench_serving (lengths vary; "
              "not printed), offered_rate_per_s = the RPS column (inf = offline run), running batch engine-chosen "
              "(continuous batching in both engines). vLLM ran with --num-scheduler-steps 10 and max_model_len 4096; "
              "SGLang with --disable-radix-cache. tpot_ms = 'Median TPOT' and ttft_ms = 'Median TTFT' (medians, not "
              "means); 'Median ITL' is not used because vLLM's multi-step scheduling streams 10 tokens at once. "
              "weight_dtype bf16 is read from the launch commands (no dtype or quantization flag, so the "
              "checkpoint's BF16).")),
    "qserve_a100": dict(
        gh("mit-han-lab/qserve", "README.md", "172741fe00661a3d5b817f67311b1eeae2d97b5d"),
        file=None, model="llama-2-70b", engine="", engine_version="", batching="static", date="",
        note=("QServe README 'Efficiency Benchmarks', A100 (80G) table (paper: Lin et al. 2024, arXiv:2405.04532): "
              "'the criterion is maximum achieveable throughput', 'input context length is 1024 tokens, output "
              "generation length is 512 tokens', 'In-flight batching is turned off', 'All experiments were "
              "conducted under the same device memory budget'. TRT-LLM-FP16 is OOM for Llama-2-70B, so the budget "
              "is read as one 80 GB GPU (not stated as a GPU count). QServe's batch is from 'Max throughput batch "
              "sizes used by QServe' (A100, Llama-2-70B: 96); the TensorRT-LLM baselines' batches are not given.")),
}


# ----------------------------------------------------------------------------------------------------------------
def clean(cell: str) -> str:
    return cell.strip().replace("*", "").replace(",", "").strip()


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip()[1:].split("|")][:-1] if line.strip().startswith("|") else []


def scaled(published: str, unit: str) -> str:
    """The published number in the output unit, by exact decimal arithmetic (no rounding)."""
    factor = {"ns": Decimal(1) / Decimal(10**6), "s": Decimal(1000)}.get(unit, Decimal(1))
    d = Decimal(published) * factor
    text = format(d.normalize(), "f")
    return text


def point(source: str, **kw) -> dict:
    meta = SOURCES[source]
    row = {c: "" for c in COLUMNS}
    for key in ("model", "engine", "engine_version", "batching", "date", "repo", "path", "commit", "source_url",
                "expert_parallel", "attention_data_parallel"):
        row[key] = str(meta.get(key, ""))
    row.update({k: ("" if v is None else str(v)) for k, v in kw.items() if k not in ("extra", "label")})
    row["unit"] = METRIC_UNITS[row["metric"]]
    row["scope"] = "per_gpu" if row["metric"].endswith("_per_gpu") else "system"
    notes = [meta["note"].replace("{scenario}", kw.get("scenario", "Server/Offline"))]
    if kw.get("extra"):
        notes.append(kw["extra"])
    row["caveats"] = " ".join(notes)
    for key in ("path", "source_url"):
        row[key] = row[key].replace("{scenario}", kw.get("scenario", ""))
    parts = [source, row["gpu"], f"tp{row['tensor_parallel']}" if row["tensor_parallel"] else "tpNA"]
    if kw.get("label"):
        parts.append(kw["label"])
    if row["batch"]:
        parts.append(f"bs{row['batch']}")
    if row["offered_rate_per_s"]:
        parts.append(f"qps{row['offered_rate_per_s']}")
    if row["input_tokens"] or row["output_tokens"]:
        parts.append(f"{row['input_tokens']}x{row['output_tokens']}")
    parts.append(row["metric"])
    row["point_id"] = ":".join(parts)
    row.pop("scenario", None)
    return {c: row[c] for c in COLUMNS}


def read_lines(name: str) -> list[str]:
    return (SRC / name).read_text(encoding="utf-8").splitlines()


# ----------------------------------------------------------------------------------------------------------------
def trt_v017() -> list[dict]:
    out, tp = [], None
    gpu_cols = {3: ("h200-141gb", "fp8", "fp8"), 4: ("h100-80gb", "fp8", "fp8"), 7: ("a100-80gb", "fp16", "")}
    for line in read_lines(SOURCES["trtllm-v0.17-tput"]["file"]):
        c = cells(line)
        if len(c) != 8 or "," not in c[2]:
            continue
        if c[1]:
            tp = int(c[1])
        isl, osl = (int(x) for x in c[2].split(","))
        for col, (gpu, wd, kv) in gpu_cols.items():
            if not clean(c[col]):
                continue
            out.append(point("trtllm-v0.17-tput", gpu=gpu, n_gpus=tp, tensor_parallel=tp, weight_dtype=wd,
                             kv_dtype=kv, batch_kind="engine-chosen", offered_rate_per_s="inf", input_tokens=isl,
                             output_tokens=osl, metric="output_tokens_per_s", value=clean(c[col]),
                             extra=f"{TRT017_REQUESTS[(isl, osl)]} requests in the dataset for this ISL/OSL."))
    return out


def trt_online() -> list[dict]:
    out, gpu, tp, isl, osl = [], None, None, None, None
    metrics = [(7, "ttft_ms"), (8, "tpot_ms"), (6, "requests_per_s"), (9, "total_tokens_per_s"),
               (10, "output_tokens_per_s")]
    for line in read_lines(SOURCES["trtllm-v0.14-online"]["file"]):
        c = [x.strip() for x in line.strip()[1:].split("|")] if line.startswith("|") else []
        if len(c) < 11 or not clean(c[6]).replace(".", "").isdigit():
            continue
        if c[1]:
            gpu = GPU_NAMES[c[1].split()[0]]
        if c[2]:
            tp = int(c[2])
        if c[3]:
            isl, osl = int(c[3]), int(c[4])
        rate = "inf" if c[5] == "INF" else c[5]
        for col, metric in metrics:
            out.append(point("trtllm-v0.14-online", gpu=gpu, n_gpus=tp, tensor_parallel=tp, weight_dtype="bf16",
                             batch_kind="engine-chosen", offered_rate_per_s=rate, input_tokens=isl,
                             output_tokens=osl, metric=metric, value=clean(c[col])))
    return out


def trt_v10() -> list[dict]:
    out = []
    for line in read_lines(SOURCES["trtllm-v1.0-tput"]["file"]):
        c = cells(line)
        if len(c) != 5 or "/" not in c[0] or not c[0][0].isdigit():
            continue
        isl, osl = (int(x) for x in c[0].split("/"))
        for col, gpu, tp in ((3, "h200-141gb", 1), (4, "h100-80gb", 2)):
            out.append(point("trtllm-v1.0-tput", gpu=gpu, n_gpus=tp, tensor_parallel=tp, weight_dtype="fp8",
                             batch_kind="engine-chosen", offered_rate_per_s="inf", input_tokens=isl,
                             output_tokens=osl, metric="output_tokens_per_s", value=clean(c[col]),
                             extra=f"{TRT10_REQUESTS[(isl, osl)]} requests in the dataset for this ISL/OSL."))
    return out


def header_columns(line: str) -> dict[int, tuple[str, int, str]]:
    """{column: (gpu, tensor parallel, weight dtype)} of a perf-overview header row ('B200<br/>TP1 (FP4)')."""
    out = {}
    for i, c in enumerate(cells(line)):
        m = re.fullmatch(r"(\w+)<br/>TP(\d+) \((FP\d)\)", c)
        if m and m.group(1) in GPU_NAMES:
            out[i] = (GPU_NAMES[m.group(1)], int(m.group(2)), m.group(3).lower())
    return out


def trt_v10_tables(file: str, source: str, gpus: tuple[str, ...] | None = None) -> list[dict]:
    """Rows of the perf-overview tables of ``file`` (one '#### <model>' heading each), every GPU column or those
    of ``gpus``; the model of a file without headings is its source's."""
    out, model, cols = [], SOURCES[source]["model"], {}
    for line in read_lines(file):
        if line.startswith("#### "):
            model, cols = MODEL_NAMES[line[5:].strip()], {}
            continue
        if line.startswith("| Sequence Length"):
            cols = header_columns(line)
            continue
        c = cells(line)
        if not cols or len(c) < 2 or "/" not in c[0] or not c[0][0].isdigit():
            continue
        isl, osl = (int(x) for x in c[0].split("/"))
        for col, (gpu, tp, wd) in cols.items():
            if (gpus is not None and gpu not in gpus) or not clean(c[col]):
                continue
            out.append(point(source, model=model, label=model if not SOURCES[source]["model"] else None, gpu=gpu,
                             n_gpus=tp, tensor_parallel=tp, weight_dtype=wd, batch_kind="engine-chosen",
                             offered_rate_per_s="inf", input_tokens=isl, output_tokens=osl,
                             metric="output_tokens_per_s", value=clean(c[col]),
                             extra=f"{TRT10_REQUESTS[(isl, osl)]} requests in the dataset for this ISL/OSL."))
    return out


def rocm_mi300x() -> list[dict]:
    """The two tables of the ROCm vLLM MI300X page: throughput (total tokens/s) and static-batch latency."""
    out, section, model = [], None, None
    for line in read_lines(SOURCES["rocm-vllm-mi300x-tput"]["file"]):
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        c = cells(line)
        if len(c) < 7 or not clean(c[-1]).replace(".", "").isdigit():
            continue
        if c[0]:
            model = MODEL_NAMES[c[0].split(" (")[0]]
        common = dict(model=model, label=model, gpu="mi300x-192gb", n_gpus=8, tensor_parallel=8, weight_dtype="fp8",
                      kv_dtype="fp8")
        if section == "Throughput Measurements":
            isl, osl, prompts, seqs = (int(x) for x in c[3:7])
            out.append(point("rocm-vllm-mi300x-tput", batch=seqs, batch_kind="max", offered_rate_per_s="inf",
                             input_tokens=isl, output_tokens=osl, metric="total_tokens_per_s", value=clean(c[7]),
                             extra=f"{prompts} requests in the run; max-num-seqs {seqs}.", **common))
        else:
            batch, isl, osl = (int(x) for x in c[3:6])
            out.append(point("rocm-vllm-mi300x-latency", batch=batch, batch_kind="fixed", input_tokens=isl,
                             output_tokens=osl, metric="batch_latency_ms", value=scaled(clean(c[6]), "s"),
                             extra=f"Published as {clean(c[6])} s.", **common))
    return out


def trt_static(file: str, tput_source: str, ttft_source: str) -> list[dict]:
    out, gpu = [], None
    for line in read_lines(file):
        if line.startswith("### "):
            gpu = GPU_NAMES[line.split()[1]]
            continue
        c = cells(line)
        if not c or c[0] != "LLaMA 70B":
            continue
        wd, kv = ("fp16", "") if gpu == "a100-80gb" else ("fp8", "fp8")
        extra = A100_VARIANT_NOTE if gpu == "a100-80gb" else (
            "FP8 weights/activations with FP8 KV cache (the file's build commands: 'quant_algo: FP8, "
            "kv_cache_quant_algo: FP8' in v0.9.0, '--enable_fp8 --fp8_kv_cache' in v0.5/v0.6.1).")
        batch, tp = int(c[1]), int(c[2])
        if len(c) == 6:
            out.append(point(tput_source, gpu=gpu, n_gpus=tp, tensor_parallel=tp, weight_dtype=wd, kv_dtype=kv,
                             batch=batch, batch_kind="fixed", input_tokens=int(c[3]), output_tokens=int(c[4]),
                             metric="output_tokens_per_s_per_gpu", value=clean(c[5]), extra=extra))
        else:
            out.append(point(ttft_source, gpu=gpu, n_gpus=tp, tensor_parallel=tp, weight_dtype=wd, kv_dtype=kv,
                             batch=batch, batch_kind="fixed", input_tokens=int(c[3]), output_tokens=1,
                             metric="ttft_ms", value=clean(c[4]), extra=extra))
    return out


def lmdeploy() -> list[dict]:
    out, section = [], None
    for line in read_lines(SOURCES["lmdeploy-a100-static"]["file"]):
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        c = cells(line)
        if not c or not clean(c[1]).isdigit():
            continue
        if section == "Static Inference Benchmark":
            batch, tp, isl, osl = (int(x) for x in c[:4])
            common = dict(gpu="a100-80gb", n_gpus=tp, tensor_parallel=tp, weight_dtype="fp16", batch=batch,
                          batch_kind="fixed", input_tokens=isl, output_tokens=osl)
            out.append(point("lmdeploy-a100-static", metric="output_tokens_per_s", value=clean(c[4]), **common))
            out.append(point("lmdeploy-a100-static", metric="ttft_ms", value=scaled(clean(c[6]), "s"),
                             extra=f"Published as FTL(ave) {clean(c[6])} s.", **common))
            out.append(point("lmdeploy-a100-static", metric="tpot_ms", value=scaled(clean(c[9]), "s"),
                             extra=f"Published as 50% {clean(c[9])} s.", **common))
        else:
            batch, tp = int(c[1]), int(c[2])
            common = dict(gpu="a100-80gb", n_gpus=tp, tensor_parallel=tp, weight_dtype="fp16", batch=batch,
                          batch_kind="max")
            out.append(point("lmdeploy-a100-request", metric="requests_per_s", value=clean(c[4]), **common))
            out.append(point("lmdeploy-a100-request", metric="ttft_ms", value=scaled(clean(c[6]), "s"),
                             extra=f"Published as FTL(ave) {clean(c[6])} s.", **common))
            out.append(point("lmdeploy-a100-request", metric="output_tokens_per_s", value=clean(c[9]), **common))
            out.append(point("lmdeploy-a100-request", metric="total_tokens_per_s", value=clean(c[10]), **common))
    return out


#: What each DeepSeek-R1 max-throughput run of the TensorRT-LLM blog states beyond the source note.
DSR1_RUNS = {
    "b200-fp16kv": ("Section 'B200 max-throughput for R1 with FP16 KV cache': nvidia/DeepSeek-R1-FP4, 'Batch = 3072, "
                    "ISL = 1K, OSL = 2K, num_requests = 49152 from synthetic dataset', --max_batch_size 384 (per "
                    "rank: 8 x 384 = 3072), --max_num_tokens 1536, --kv_cache_free_gpu_mem_fraction 0.85."),
    "h200": ("Section 'H200 max-throughput': deepseek-ai/DeepSeek-R1 (FP8), 'Batch = 1024, ISL = 1K, OSL = 2K', "
             "synthetic dataset of 5120 requests (prepare_dataset, stdev 0), --max_batch_size 128 (per rank: 8 x 128 = "
             "1024), --max_num_tokens 1151, --kv_cache_free_gpu_mem_fraction 0.8."),
    "b200-0528-fp8kv": ("Section 'B200 max-throughput for R1-0528 with FP8 KV cache': nvidia/DeepSeek-R1-0528-FP4 (the "
                        "DeepSeek-R1 architecture; 'had enabled FP8 KV cache by-default', and the options set "
                        "kv_cache_dtype: fp8), --tp 8 --ep 8, enable_attention_dp: true, --max_batch_size 896 (per rank: "
                        "8 x 896 = 7168), --max_num_tokens 2048, --kv_cache_free_gpu_mem_fraction 0.93, --concurrency "
                        "7168, --num_requests 114688. The section does not print its dataset: the lengths are read "
                        "from its own figures, output = Total Output Throughput / Request Throughput = 43146.2042 / "
                        "21.0675 = 2048.0 tokens per request, input = (Total Token Throughput - Total Output "
                        "Throughput) / Request Throughput = (65100.6376 - 43146.2042) / 21.0675 = 1042.1, recorded as "
                        "1042 (the other two runs give exactly 1024 by the same arithmetic)."),
}


def manual() -> list[dict]:
    out = []
    with open(SRC / "manual_points.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            scenario = "Server" if r["label"].endswith("server") else "Offline"
            kw = {k: r[k] for k in ("gpu", "n_gpus", "tensor_parallel", "weight_dtype", "kv_dtype", "batch",
                                    "batch_kind", "engine_max_batch", "offered_rate_per_s", "input_tokens",
                                    "output_tokens", "metric")}
            extra = f"Published as '{r['published_as']}' = {r['published_value']} {r['published_unit']}."
            if r["source_key"] == "trtllm-dsr1":
                extra += " " + DSR1_RUNS[r["label"]]
            if r["source_key"] in SOURCES and SOURCES[r["source_key"]]["model"] == "":
                raise SystemExit(f"manual point {r['label']}: its source names no model")
            row = point(r["source_key"], label=r["label"], scenario=scenario,
                        value=scaled(r["published_value"], r["published_unit"]), extra=extra, **kw)
            if r["source_key"] == "qserve_a100":
                row["engine"] = "tensorrt-llm" if r["label"].startswith("trtllm") else "qserve"
            if r["source_key"] == "sglang060_h100":
                row["engine"], row["engine_version"] = r["label"].split("-")[:2]
            out.append(row)
    return out


def assign_roles(rows: list[dict], share: float = CALIBRATION_SHARE,
                 pinned: frozenset = PINNED_CALIBRATION) -> dict[str, str]:
    """The role rule of the module docstring: {point_id: 'calibration' | 'validation'}."""
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        groups.setdefault((r["metric"], r["gpu"]), []).append(r["point_id"])
    roles = {}
    for ids in groups.values():
        k = math.ceil(share * len(ids))
        order = sorted(ids, key=lambda i: (i not in pinned, hashlib.sha256(i.encode("utf-8")).hexdigest()))
        for rank, pid in enumerate(order):
            roles[pid] = "calibration" if rank < k else "validation"
    return roles


def build() -> list[dict]:
    rows = (trt_v017() + trt_online() + trt_v10()
            + trt_static(SOURCES["trtllm-v0.9.0-static"]["file"], "trtllm-v0.9.0-static", "trtllm-v0.9.0-ttft")
            + trt_static(SOURCES["trtllm-v0.6.1-static"]["file"], "trtllm-v0.6.1-static", "trtllm-v0.5-ttft")
            + lmdeploy() + manual()
            + trt_v10_tables(SOURCES["trtllm-v1.0-fp4"]["file"], "trtllm-v1.0-fp4", ("b200-180gb", "gb200-186gb"))
            + trt_v10_tables(SOURCES["trtllm-v1.0-models"]["file"], "trtllm-v1.0-models") + rocm_mi300x())
    ids = [r["point_id"] for r in rows]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SystemExit(f"duplicate point_id: {dupes}")
    missing = PINNED_CALIBRATION - set(ids)
    if missing:
        raise SystemExit(f"pinned calibration points not found: {sorted(missing)}")
    new = [r for r in rows if r["point_id"].split(":", 1)[0] in NEW_SOURCES]
    roles = assign_roles([r for r in rows if r["point_id"].split(":", 1)[0] not in NEW_SOURCES]) | assign_roles(new)
    for r in rows:
        r["role"] = roles[r["point_id"]]
    return rows


def render(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


README = HERE / "step_time_points.README.md"
SHA_LINE = re.compile(r"^sha256 of `step_time_points.csv`: `[0-9a-f]{64}`$", re.M)


def counts_table(rows: list[dict]) -> str:
    """Markdown table of the row counts by model x GPU x metric x role (pasted into the README)."""
    tally: dict[tuple, dict[str, int]] = {}
    for r in rows:
        key = (r["model"], r["gpu"], r["metric"])
        tally.setdefault(key, {"calibration": 0, "validation": 0})[r["role"]] += 1
    lines = ["| model | gpu | metric | calibration | validation |", "|---|---|---|---:|---:|"]
    for (model, gpu, metric), n in sorted(tally.items()):
        lines.append(f"| {model} | {gpu} | {metric} | {n['calibration']} | {n['validation']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    rows = build()
    text = render(rows)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if "--counts" in argv:
        print(counts_table(rows))
        return 0
    if "--check" in argv:
        same = OUT.exists() and OUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUT.name} differs from what the script writes")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    if README.exists():
        readme = README.read_text(encoding="utf-8")
        README.write_text(SHA_LINE.sub(f"sha256 of `step_time_points.csv`: `{digest}`", readme), encoding="utf-8")
    print(f"wrote {OUT} ({len(rows)} rows), sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
