"""model.tiering.cli: the replay command against the LRU reference, its serving setup, and bad input."""
import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.io import DATA, ROOT
from model.tiering import main, parse_tiers
from tiering_refs import random_trace, reference_ideal, reference_lru, write_jsonl


def test_cli_replay_json(tmp_path, capsys):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    hits, n = reference_lru(t, 20)
    assert out["requests"] == t.n_requests and out["lookups"] == n
    assert out["hit_ratio"] == hits / n and out["hit_ratio_hbm"] == hits / n
    assert main(["replay", str(path), "--tiers", "hbm=5,dram=15", "--json"]) == 0
    out2 = json.loads(capsys.readouterr().out)
    assert_allclose(out2["hit_ratio"], hits / n)
    assert main(["replay", str(path), "--capacity-blocks", "20", "--ttl", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hit_ratio"] == 0.0
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_length": 600, "output_length": 1, "hash_ids": [1]}\n')
    assert main(["replay", str(bad), "--capacity-blocks", "2"]) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err


@pytest.fixture()
def trace_file(tmp_path):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    return t, path


def _aws_row(gpu):
    """The latest AWS on-demand row of ``gpu`` (the highest of that date), read from the CSV directly."""
    p = pd.read_csv(DATA / "prices" / "gpu_prices.csv", dtype={"date": str})
    rows = p[(p.gpu == gpu) & (p.provider == "aws") & (p.pricing == "on-demand")]
    return rows[rows.date == rows.date.max()].sort_values("usd_per_gpu_hour").iloc[-1]


def _price(gpu):
    """AWS on-demand price of ``gpu``, latest row, read from the CSV directly."""
    return float(_aws_row(gpu)["usd_per_gpu_hour"])


def test_cli_prints_the_serving_setup(trace_file, capsys):
    t, path = trace_file
    assert main(["replay", str(path), "--tiers", "hbm=5,dram=15", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)["setup"]
    assert (s["model"], s["gpu"], s["gpus_per_instance"], s["instances_per_node"], s["gpus"]) == \
        ("llama-2-70b", "a100-80gb", 4, 1, 4)
    assert_allclose(s["gpu_usd_per_hour"], _price("a100-80gb"))
    date = _aws_row("a100-80gb")["date"]
    assert s["gpu_price_source"] == f"data/prices/gpu_prices.csv: aws on-demand a100-80gb, {date}"
    assert s["tiers"]["hbm"]["capacity_blocks_per_node"] == 5 and s["tiers"]["dram"]["capacity_blocks_per_node"] == 15
    assert_allclose(s["tiers"]["dram"]["capacity_gb_per_node"], 15 * 512 * s["kv_bytes_per_token"] / 1e9)
    # text output says the same
    assert main(["replay", str(path), "--tiers", "hbm=5,dram=15"]) == 0
    text = capsys.readouterr().out
    assert "per node: llama-2-70b on 1 instance(s) x 4 a100-80gb = 4 GPUs; fleet: 1 node(s) = 4 GPUs" in text
    assert "tier dram: 15 blocks" in text
    assert (f"at ${_price('a100-80gb'):.4g}/GPU-hour (data/prices/gpu_prices.csv: aws on-demand a100-80gb, "
            f"{date})") in text


def test_cli_setup_flags(trace_file, capsys):
    t, path = trace_file
    args = ["replay", str(path), "--tiers", "hbm=20", "--json"]
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(args + ["--gpu", "h100-80gb", "--instances", "3", "--n-gpus", "2", "--model", "llama-3-8b"]) == 0
    out = json.loads(capsys.readouterr().out)
    s = out["setup"]
    assert (s["model"], s["gpu"], s["gpus_per_instance"], s["instances_per_node"], s["gpus"]) == \
        ("llama-3-8b", "h100-80gb", 2, 3, 6)
    assert_allclose(s["gpu_usd_per_hour"], _price("h100-80gb"))          # the price follows the GPU
    assert out["hit_ratio"] == one["hit_ratio"]                          # the cache replay does not depend on it
    assert out["ttft_p95_s"] < one["ttft_p95_s"]                         # a smaller model on more, faster GPUs
    assert main(args + ["--gpu-usd-per-hour", "1.5"]) == 0
    s = json.loads(capsys.readouterr().out)["setup"]
    assert s["gpu_usd_per_hour"] == 1.5 and s["gpu_price_source"] == "given"


def test_cli_instances_scale_cost_and_queueing(trace_file, capsys):
    t, path = trace_file
    costs, p95 = [], []
    for k in (1, 4):
        assert main(["replay", str(path), "--tiers", "hbm=20", "--instances", str(k), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        costs.append(out["cost_usd_per_hour"])
        p95.append(out["ttft_p95_s"])
    assert_allclose(costs[1], 4 * costs[0])              # HBM has no storage price: the GPUs are the cost
    assert p95[1] <= p95[0]


@pytest.mark.parametrize("flags, named", [
    (["--tiers", "hbm=abc"], "--tiers"),
    (["--tiers", "hbm=1.5"], "--tiers"),
    (["--tiers", "hbm=-3"], "--tiers"),
    (["--tiers", "hbm"], "--tiers"),
    (["--tiers", "hbm=5,hbm=6"], "--tiers"),
    (["--tiers", "=5"], "--tiers"),
    (["--capacity-blocks", "2.5"], "--capacity-blocks"),
    (["--tiers", "hbm=5", "--ttl", "-1"], "--ttl"),
    (["--tiers", "hbm=5", "--gpu", "tpu"], "--gpu"),
    (["--tiers", "hbm=5", "--model", "gpt-9"], "--model"),
    (["--tiers", "hbm=5", "--n-gpus", "1"], "--n-gpus"),        # 138 GB of weights on one A100 80GB
    (["--tiers", "hbm=5", "--instances", "0"], "--instances"),
    (["--tiers", "hbm=5", "--gpu-usd-per-hour", "-1"], "--gpu-usd-per-hour"),
    (["--tiers", "hbm=5", "--gpu-usd-per-hour", "0"], "--gpu-usd-per-hour"),   # a GPU-hour is never free
])
def test_cli_rejects_bad_input_naming_the_flag(trace_file, capsys, flags, named):
    t, path = trace_file
    assert main(["replay", str(path)] + flags) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {named}=") and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_without_a_price_row_asks_for_the_price(trace_file, capsys, monkeypatch):
    """The GPU's AWS on-demand row is required unless --gpu-usd-per-hour is given: without it, one line."""
    import model.economics.prices as prices

    table = prices.gpu_prices()
    monkeypatch.setattr(prices, "gpu_prices", lambda: table[(table.gpu != "a100-80gb") | (table.provider != "aws")])
    t, path = trace_file
    assert main(["replay", str(path), "--tiers", "hbm=5"]) == 2
    assert capsys.readouterr().err == ("error: --gpu-usd-per-hour=None is not allowed: --gpu-usd-per-hour must be "
                                       "set: data/prices/gpu_prices.csv has no aws/on-demand row of a100-80gb\n")
    assert main(["replay", str(path), "--tiers", "hbm=5", "--gpu-usd-per-hour", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["setup"]["gpu_usd_per_hour"] == 2.0


def test_cli_infinite_ttl_and_capacity_give_valid_json(trace_file, capsys):
    t, path = trace_file
    assert main(["replay", str(path), "--capacity-blocks", "inf", "--ttl", "inf", "--json"]) == 0
    out = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert out["ttl_s"] is None and out["tiers"]["hbm"] is None
    assert out["setup"]["tiers"]["hbm"]["capacity_gb_per_node"] is None
    assert_allclose(out["hit_ratio"], reference_ideal(t), rtol=0, atol=1e-12)


def test_parse_tiers():
    assert parse_tiers("hbm=100, dram=inf,ssd=0") == [("hbm", 100), ("dram", math.inf), ("ssd", 0)]


def test_python_dash_m(trace_file):
    t, path = trace_file
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "model.tiering", "replay", str(path), "--tiers", "hbm=20", "--json"],
                       capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stderr
    hits, n = reference_lru(t, 20)
    assert json.loads(r.stdout)["hit_ratio"] == hits / n
