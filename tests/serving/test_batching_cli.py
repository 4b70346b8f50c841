import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.serving.cli import main
from model.serving.step_time import deployment, fixed_batch_time

ROOT = Path(__file__).resolve().parents[2]
BASE = ["predict", "--model", "llama-2-70b", "--gpu", "a100-80gb", "--n-gpus", "4", "--weight-dtype", "fp16",
        "--input-tokens", "2048", "--output-tokens", "128"]


def run(argv, capsys):
    status = main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


def test_predict_json_matches_the_step_time_model(capsys):
    status, out, err = run(BASE + ["--batch", "16", "--json"], capsys)
    assert status == 0 and err == ""
    got = json.loads(out)
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    b, i, o = 16, 2048, 128
    ttft = float(dep.step_time(b * i, b * i * (i + 1) / 2, b, 0, b * i))
    tpot = float(np.mean(dep.decode_time(b, i + np.arange(o - 1, dtype=float))))
    assert_allclose(got["ttft_s"], ttft, rtol=1e-12)
    assert_allclose(got["tpot_s"], tpot, rtol=1e-12)
    # system-wide: B x O over the batch's whole time, prefill included
    assert_allclose(got["output_tokens_per_s"], b * o / fixed_batch_time(dep, b, i, o), rtol=1e-9)
    assert_allclose(got["output_tokens_per_s"], b * o / (ttft + (o - 1) * tpot), rtol=1e-9)
    m = got["memory"]
    assert_allclose(m["kv_needed_gb"], b * (i + o) * 2 * 80 * 8 * 128 * 2 / 1e9, rtol=1e-12)
    assert m["fits"] is True and m["max_batch_that_fits"] == dep.kv_capacity_tokens // (i + o)


def test_max_batch_is_the_largest_that_fits_and_obeys_the_cap(capsys):
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    fit = dep.kv_capacity_tokens // (2048 + 128)
    _, out, _ = run(BASE + ["--max-batch", "--json"], capsys)
    assert json.loads(out)["batch"] == fit
    _, out, _ = run(BASE + ["--max-batch", "--batch-cap", "32", "--json"], capsys)
    assert json.loads(out)["batch"] == 32


@pytest.mark.parametrize("change, flag", [
    (["--model", "llama-9"], "--model"), (["--gpu", "tpu"], "--gpu"), (["--weight-dtype", "fp9"], "--weight-dtype"),
    (["--input-tokens", "0"], "--input-tokens"), (["--output-tokens", "-3"], "--output-tokens"),
    (["--n-gpus", "0"], "--n-gpus")])
def test_bad_input_names_the_flag(capsys, change, flag):
    argv = list(BASE)
    i = argv.index(change[0])
    argv[i + 1] = change[1]
    status, out, err = run(argv + ["--batch", "1"], capsys)
    assert status == 2 and out == ""
    assert err.startswith(f"error: {flag}=") and len(err.strip().splitlines()) == 1


def test_weights_that_do_not_fit_say_how_many_gpus_are_needed(capsys):
    argv = list(BASE)
    argv[argv.index("--n-gpus") + 1] = "1"
    status, _, err = run(argv + ["--batch", "1"], capsys)
    assert status == 2 and "--n-gpus=1" in err and ">= 2" in err


def test_batch_cap_needs_max_batch_and_fp8_needs_tensor_cores(capsys):
    assert run(BASE + ["--batch", "2", "--batch-cap", "4"], capsys)[2].startswith("error: --batch-cap=")
    argv = list(BASE)
    argv[argv.index("--weight-dtype") + 1] = "fp8"
    assert run(argv + ["--batch", "1"], capsys)[2].startswith("error: --weight-dtype='fp8'")


def test_python_dash_m_model_batching_runs():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "model.serving", *BASE, "--batch", "4", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["batch"] == 4


# --- what cannot run is refused: one line naming the flag as typed and what it accepts, exit status 2 ------------
# Figures typed here from data/models/llama-2-70b.json and llama-3-8b.json and data/hardware.csv, not from the model:
# Llama 2 70B has 68,976,648,192 parameters (published), 80 layers, 8 KV heads of 128, a 4,096-token context;
# an A100 80GB has 85,899,345,920 bytes of which vLLM's 0.9 may be used.
A100_80_BYTES, L70_PARAMS, L70_KV_PER_TOKEN = 85_899_345_920, 68_976_648_192, 2 * 80 * 8 * 128 * 2


def refused(argv, capsys):
    status, out, err = run(argv, capsys)
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, (status, out, err)
    return err.strip()


def test_a_batch_whose_kv_cache_does_not_fit_is_refused_with_the_largest_that_fits(capsys):
    free = 4 * A100_80_BYTES * 9 // 10 - 2 * L70_PARAMS          # 4 GPUs' usable bytes minus FP16 weights
    largest = free // L70_KV_PER_TOKEN // (2048 + 128)           # requests of 2,048 + 128 tokens: 240
    assert largest == 240
    err = refused(BASE + ["--batch", "5000"], capsys)
    assert err.startswith("error: --batch=5000 is not allowed: --batch must be an integer in [1, 240]")
    assert refused(BASE + ["--batch", str(largest + 1)], capsys).startswith(f"error: --batch={largest + 1} ")
    status, out, _ = run(BASE + ["--batch", str(largest), "--json"], capsys)
    assert status == 0 and json.loads(out)["memory"]["fits"] is True


@pytest.mark.parametrize("n", ["3", "5", "6", "16"])
def test_the_tensor_parallel_degree_must_divide_the_kv_heads(capsys, n):
    """Llama 2 70B's 8 KV heads split over 2, 4 or 8 GPUs (1 cannot hold its 138 GB of FP16 weights: 77.3 GB
    usable); 3 would split them unevenly, 16 would replicate them."""
    argv = list(BASE)
    argv[argv.index("--n-gpus") + 1] = n
    err = refused(argv + ["--batch", "1"], capsys)
    assert err.startswith(f"error: --n-gpus={n} is not allowed: --n-gpus must be one of 2, 4, 8 ")
    assert "8 KV heads" in err


def test_a_degree_that_divides_the_kv_heads_need_not_be_a_power_of_two(capsys):
    """Llama 2 13B has 40 KV heads (multi-head attention): 5 GPUs hold 8 each."""
    argv = ["predict", "--model", "llama-2-13b", "--gpu", "a100-80gb", "--n-gpus", "5", "--weight-dtype", "fp16",
            "--input-tokens", "128", "--output-tokens", "128", "--batch", "1", "--json"]
    status, out, err = run(argv, capsys)
    assert status == 0 and err == "" and json.loads(out)["n_gpus"] == 5
    argv[argv.index("--n-gpus") + 1] = "3"
    assert refused(argv[:-1], capsys).startswith("error: --n-gpus=3 is not allowed: --n-gpus must be one of "
                                                 "1, 2, 4, 5, 8, 10, 20, 40 ")


def test_a_context_longer_than_the_model_s_is_refused_with_its_limit(capsys):
    """Llama 3 8B's max_position_embeddings is 8,192: 100,000 prompt tokens are refused, 8,064 + 128 are not."""
    argv = ["predict", "--model", "llama-3-8b", "--gpu", "a100-80gb", "--n-gpus", "1", "--weight-dtype", "fp16",
            "--input-tokens", "100000", "--output-tokens", "128", "--batch", "1"]
    err = refused(argv, capsys)
    assert err.startswith("error: --input-tokens=100000 is not allowed: --input-tokens must be an integer in "
                          "[1, 8064] with --output-tokens 128") and "8,192 tokens" in err
    argv[argv.index("--input-tokens") + 1] = "8064"
    assert run(argv + ["--json"], capsys)[0] == 0
    argv[argv.index("--output-tokens") + 1] = "8192"
    assert refused(argv, capsys).startswith("error: --output-tokens=8192 is not allowed: --output-tokens must be "
                                            "an integer in [1, 8191]")


@pytest.mark.parametrize("extra, start", [
    (["--batch", "abc"], "error: --batch='abc' is not allowed: --batch must be an integer"),
    (["--batch", "2", "--max-batch"], "error: --max-batch is not allowed with --batch"),
    (["--batch", "2", "--jsn"], "error: unknown argument --jsn; did you mean --json?"),
])
def test_argument_errors_are_one_line_too(capsys, extra, start):
    with pytest.raises(SystemExit) as exc:
        main(BASE + extra)
    out = capsys.readouterr()
    assert exc.value.code == 2 and out.out == ""
    assert out.err.startswith(start) and len(out.err.strip().splitlines()) == 1, out.err


def test_text_output_is_rounded_and_says_what_each_figure_is_for(capsys):
    status, out, _ = run(BASE + ["--batch", "16"], capsys)
    assert status == 0
    got = json.loads(run(BASE + ["--batch", "16", "--json"], capsys)[1])
    # memory, from the figures above: weights 137.95 GB, KV 16 x 2,176 x 327,680 B = 11.41 GB, 171.28 GB left of
    # 309.24 GB usable, 240 requests fit
    assert ("memory per replica (4 GPUs): weights 138 GB, KV cache 11.4 GB of the 171 GB left for it "
            "(309 GB usable); largest batch that fits: 240") in out
    # throughput per replica and per GPU, three significant digits
    tps = got["output_tokens_per_s"]
    sig3 = lambda x: f"{float(f'{x:.3g}'):,g}"       # noqa: E731 - three significant digits
    assert f"throughput: {sig3(tps)} output tokens/s per replica, {sig3(tps / 4)} per GPU" in out
    assert "per request (the batch's prefill step)" in out and "static batch of 16 requests" in out
    assert not re.search(r"\d\.\d{4,}", out), out        # nothing printed to more than 3 decimals


# --- any published config.json, the 2026 GPUs and FP4 weights ---------------------------------------------------
def test_config_path_predicts_as_the_shipped_model_of_that_config(capsys):
    argv = ["predict", "--gpu", "h200-141gb", "--n-gpus", "8", "--weight-dtype", "fp8", "--input-tokens", "1000",
            "--output-tokens", "100", "--batch", "8", "--json"]
    _, by_name, _ = run(argv[:1] + ["--model", "qwen3-235b-a22b"] + argv[1:], capsys)
    path = ROOT / "data" / "models" / "qwen3-235b-a22b" / "config.json"
    status, by_path, err = run(argv[:1] + ["--config", str(path)] + argv[1:], capsys)
    assert status == 0 and err == ""
    a, b = json.loads(by_name), json.loads(by_path)
    assert b["model"] == "qwen3-235b-a22b"
    for key in ("ttft_s", "tpot_s", "output_tokens_per_s"):
        assert_allclose(b[key], a[key], rtol=1e-12)


def test_model_and_config_are_one_or_the_other_and_a_bad_config_names_the_flag(capsys, tmp_path):
    base = ["predict", "--gpu", "b200-180gb", "--n-gpus", "1", "--weight-dtype", "fp8", "--input-tokens", "10",
            "--output-tokens", "10", "--batch", "1"]
    with pytest.raises(SystemExit) as exc:
        main(base + ["--model", "llama-3-8b", "--config", "x.json"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.startswith("error: --config is not allowed with --model")
    assert refused(base + ["--config", str(tmp_path / "none.json")], capsys).startswith("error: --config=")
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 4096}))
    err = refused(base + ["--config", str(bad)], capsys)
    assert "llama" in err and "num_hidden_layers" in err


def test_a_config_model_may_replicate_kv_heads_over_more_gpus(capsys):
    # Qwen3-235B-A22B: 64 query heads, 4 KV heads (its config.json); TensorRT-LLM serves it at TP8, each KV head on
    # two GPUs. Degrees: divisors of 64 that divide or are multiples of 4, holding the FP8 weights (>= 2 x H200).
    status, _, err = run(["predict", "--model", "qwen3-235b-a22b", "--gpu", "h200-141gb", "--n-gpus", "3",
                          "--weight-dtype", "fp8", "--input-tokens", "10", "--output-tokens", "10", "--batch", "1"],
                         capsys)
    assert status == 2 and "one of 2, 4, 8, 16, 32, 64 (a divisor or a multiple of" in err


def test_fp4_runs_at_the_fp4_peak_on_blackwell_and_is_refused_without_one(capsys):
    # FP4 weights: 4.5 bits per weight (NVFP4, 16-element blocks with an 8-bit scale), half of the FP8 dense peak's
    # time on the same GPU (B200: 9,000 vs 4,500 TFLOPS dense, data/hardware.csv): a long prefill is compute-bound,
    # so its FP4 step is shorter than FP8's, while FP4 weights hold 4.5/8 of FP8's bytes.
    base = ["predict", "--model", "llama-3.1-70b", "--gpu", "b200-180gb", "--n-gpus", "1", "--input-tokens", "8000",
            "--output-tokens", "2", "--batch", "4", "--json"]
    got = {d: json.loads(run(base + ["--weight-dtype", d], capsys)[1]) for d in ("fp8", "fp4")}
    assert_allclose(got["fp4"]["memory"]["weights_gb"] / got["fp8"]["memory"]["weights_gb"], 4.5 / 8, rtol=1e-12)
    assert got["fp4"]["ttft_s"] < got["fp8"]["ttft_s"]
    for gpu in ("h100-80gb", "h200-141gb", "mi300x-192gb", "mi325x-256gb"):
        argv = [gpu if a == "b200-180gb" else a for a in base] + ["--weight-dtype", "fp4"]
        err = refused(argv, capsys)
        assert err.startswith("error: --weight-dtype='fp4'") and "fp8" in err and "fp4," not in err


@pytest.mark.parametrize("gpu", ["b200-180gb", "gb200-186gb", "mi300x-192gb", "mi325x-256gb"])
def test_the_2026_gpus_predict(capsys, gpu):
    status, out, err = run(["predict", "--model", "deepseek-v3", "--gpu", gpu, "--n-gpus", "8", "--weight-dtype",
                            "fp8", "--input-tokens", "1000", "--output-tokens", "100", "--batch", "16", "--json"],
                           capsys)
    assert status == 0, err
    got = json.loads(out)
    assert got["gpu"] == gpu and 0 < got["tpot_s"] < got["ttft_s"] * 100 and got["memory"]["fits"]
