import json
import os
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
    big = json.loads(run(BASE + ["--batch", str(fit + 50), "--json"], capsys)[1])
    assert big["memory"]["fits"] is False


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
