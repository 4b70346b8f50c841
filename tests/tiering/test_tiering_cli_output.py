"""model.tiering.cli's text output: rounded, with units, and over what each figure is counted (the whole trace,
each request, all instances or the whole fleet, each node); --json keeps the exact values."""
import json
import re

import pandas as pd
import pytest

from model.io import DATA
from model.tiering import main
from tiering_refs import random_trace, reference_lru, write_jsonl


@pytest.fixture()
def trace_file(tmp_path):
    t = random_trace(6)
    path = tmp_path / "t.jsonl"
    write_jsonl(t, path)
    return t, path


def _aws_price(gpu: str) -> float:
    """The latest AWS on-demand price of ``gpu``, read from the CSV directly."""
    p = pd.read_csv(DATA / "prices" / "gpu_prices.csv", dtype={"date": str})
    rows = p[(p.gpu == gpu) & (p.provider == "aws") & (p.pricing == "on-demand")]
    return float(rows[rows.date == rows.date.max()]["usd_per_gpu_hour"].max())


def _sig3(x: float) -> str:
    """Three significant digits, written as plainly as a person would (12.0 -> 12, 0.5 -> 0.5)."""
    return f"{float(f'{x:.3g}'):,g}"


def _raw(text: str) -> list[str]:
    """What a person should not see: floats past three decimals, Python dict or None reprs, snake_case keys."""
    return re.findall(r"\d\.\d{4,}|\{'|: None\b|\b[a-z]+_[a-z_]+: ", text)


def test_single_cache_text_is_rounded_with_units_and_scopes(trace_file, capsys):
    t, path = trace_file
    assert main(["replay", str(path), "--tiers", "hbm=20", "--ttl", "600"]) == 0
    text = capsys.readouterr().out
    hits, n = reference_lru(t, 20)            # no block is idle 600 s in this trace: the TTL changes nothing
    assert f"hit ratio: {_sig3(100 * hits / n)}% of the trace's {n:,} block lookups (hbm {_sig3(100 * hits / n)}%)" \
        in text
    assert "TTL: 600 s on every block" in text
    # 1 instance of 4 GPUs at the AWS price; HBM has no storage price
    assert f"cost: ${_sig3(4 * _aws_price('a100-80gb'))}/h for all 1 instance(s) (GPUs and tier storage)" in text
    assert re.search(r"TTFT per request: P50 [\d.,]+ m?s, P95 [\d.,]+ m?s \(P95 at zero load: [\d.,]+ m?s\)", text)
    assert not _raw(text), _raw(text)
    # --json: the same run, exact
    assert main(["replay", str(path), "--tiers", "hbm=20", "--ttl", "600", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hit_ratio"] == hits / n


def test_fleet_text_says_what_is_fleet_wide_and_what_is_per_node(trace_file, capsys):
    t, path = trace_file
    assert main(["replay", str(path), "--nodes", "2", "--route", "round-robin", "--capacity-blocks", "10"]) == 0
    text = capsys.readouterr().out
    assert "fleet: 2 nodes (8 GPUs), route round-robin" in text
    # two nodes of one 4-GPU instance each, at the AWS price
    assert f"cost: ${_sig3(2 * 4 * _aws_price('a100-80gb'))}/h for the whole fleet of 2 nodes" in text
    assert "throughput: " in text and "(the whole fleet of 2 nodes)" in text
    assert re.search(r"  hbm used per node: [\d.,]+ GB on average, [\d.,]+ GB on the fullest node", text)
    assert re.search(r"  busiest node / mean node: ×[\d.]+ prefill time, ×[\d.]+ requests", text)
    assert not _raw(text), _raw(text)
