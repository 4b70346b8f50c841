"""``python -m model list`` (model.listing): models, GPUs, tiers, number formats, prices and every chapter's
parameters, each checked against the data files read here directly; the allowed values it prints are the ones the
chapters enforce."""
import csv
import json
import math
import os
import re
import subprocess
import sys

import pytest

from model import listing
from model.io import DATA, ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def cli(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *argv], capture_output=True, text=True, env=ENV, cwd=ROOT,
                          timeout=300, check=False)


def _model_files() -> dict:
    """Curated ``<name>.json`` files and published ``<name>/config.json`` files (Llama 4 nests its text model)."""
    files = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((DATA / "models").glob("*.json"))}
    for p in sorted((DATA / "models").glob("*/config.json")):
        cfg = json.loads(p.read_text(encoding="utf-8"))
        files[p.parent.name] = cfg.get("text_config", cfg)
    return files


def test_models_are_every_config_with_its_attention_kind():
    rows = {r["name"]: r for r in listing.models()}
    files = _model_files()
    assert set(rows) == set(files)
    for name, cfg in files.items():
        heads = cfg["num_attention_heads"]
        kv = cfg.get("num_key_value_heads", heads)
        kind = ("MLA" if cfg.get("kv_lora_rank") else "MHA" if kv == heads else "MQA" if kv == 1 else "GQA")
        r = rows[name]
        assert (r["layers"], r["query_heads"], r["kv_heads"], r["attention"]) == \
            (cfg["num_hidden_layers"], heads, kv, kind), name
        if "max_position_embeddings" in cfg:        # else transformers' default for the family (data/models/README)
            assert r["context_tokens"] == cfg["max_position_embeddings"], name
    assert rows["llama-2-70b"]["attention"] == "GQA" and rows["llama-2-13b"]["attention"] == "MHA"
    assert rows["deepseek-v3"]["attention"] == "MLA" and rows["llama-2-70b"]["layer_kinds"] == "full 80"
    # gpt-oss alternates sliding-window and full layers, 18 of each (config.json's layer_types)
    assert rows["gpt-oss-120b"]["layer_kinds"] == "full 18, sliding 18"


def test_models_text_and_json(tmp_path):
    r = cli("list", "models")
    assert r.returncode == 0 and r.stderr == ""
    header, *lines = r.stdout.splitlines()
    assert header.split()[:4] == ["name", "display", "name", "layers"] and "KV heads" in header \
        and "context (tokens)" in header
    row = next(ln for ln in lines if ln.startswith("llama-3.1-70b "))
    assert re.search(r"Llama 3\.1 70B\s+80\s+GQA\s+full 80\s+64\s+8\s+131,072\s+70\.6\s+70\.6$", row), row
    exact = json.loads(cli("list", "models", "--json").stdout)
    assert {m["name"]: m["parameters"] for m in exact}["llama-2-70b"] == 68_976_648_192   # the published count


def test_a_model_file_that_does_not_load_is_listed_with_the_reason(monkeypatch, tmp_path):
    import model.architectures as A

    bad = tmp_path / "models"
    bad.mkdir()
    (bad / "broken.json").write_text('{"name": "broken"}')
    monkeypatch.setattr(A, "MODELS_DIR", bad)
    A.load_architecture.cache_clear()
    try:
        rows = listing.models()
    finally:
        A.load_architecture.cache_clear()
    assert rows[0]["name"] == "broken" and rows[0]["error"].startswith("does not load: ")


def _csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_gpus_and_tiers_are_the_hardware_rows():
    hw = _csv(DATA / "hardware.csv")
    gpus = {r["name"]: r for r in listing.gpus()}
    assert list(gpus) == [r["name"] for r in hw if r["kind"] == "gpu"]
    for row in hw:
        if row["kind"] == "gpu":
            g = gpus[row["name"]]
            assert g["memory_gb"] == float(row["memory_gb"]) and g["bandwidth_gb_s"] == float(row["bandwidth_gb_s"])
            assert ("fp8" in g["weight_dtypes"]) == bool(row["fp8_tflops"])      # FP8 weights need FP8 tensor cores
    assert [t["name"] for t in listing.tiers()] == [r["name"] for r in hw if r["kind"] == "tier"]


def test_dtypes_state_bytes_and_where_weights_compute():
    rows = {r["dtype"]: r for r in listing.dtypes()}
    assert {k: r["bytes_per_element"] for k, r in rows.items()} == \
        {"fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1, "int4": 0.5,
         "fp4": (4 + 8 / 16) / 8}          # NVFP4: 4 bits + one 8-bit scale per 16 elements
    assert "a100-80gb" not in rows["fp8"]["weights_on"] and "h100-80gb" in rows["fp8"]["weights_on"]
    assert all(r["kv_cache"] for r in rows.values())


def test_prices_are_every_row_of_the_price_table():
    want = _csv(DATA / "prices" / "gpu_prices.csv")
    got = listing.prices()
    assert [(r["provider"], r["gpu"], r["pricing"], r["usd_per_gpu_hour"], r["date"], r["source"]) for r in got] == \
        [(r["provider"], r["gpu"], r["pricing"], float(r["usd_per_gpu_hour"]), r["date"], r["source"]) for r in want]
    text = cli("list", "prices").stdout
    assert re.search(r"^aws\s+a100-80gb\s+on-demand\s+\$3\.4309\s+2026-11-09\s+raw\.githubusercontent\.com/", text,
                     re.M), text[:500]


def _parameters_cell(chapter: str) -> list[str]:
    cells = json.loads((ROOT / "notebooks" / f"{chapter}.ipynb").read_text(encoding="utf-8"))["cells"]
    src = "".join(next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))["source"])
    return [m[1] for m in re.finditer(r"^([A-Za-z_]\w*)\s*=", src, re.M)]


@pytest.fixture(scope="module")
def every_parameter():
    return listing.parameters()


def test_every_chapter_parameter_is_listed_with_default_unit_and_range(every_parameter):
    chapters = [p.stem for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if not p.stem.startswith("appendix_")]
    assert listing.chapters() == chapters
    for ch in chapters:
        assert [r["name"] for r in every_parameter if r["chapter"] == ch] == \
            [n for n in _parameters_cell(ch) if n != "output_dir"], ch
    kv = {r["name"]: r for r in every_parameter if r["chapter"] == "kv_sizing"}
    assert (kv["context_tokens"]["default"], kv["context_tokens"]["unit"], kv["context_tokens"]["allowed"]) == \
        (10_000, "tokens", "an integer in [1, inf]")
    assert kv["model"]["allowed"] == "one of " + ", ".join(repr(m) for m in sorted(_model_files()))
    tiering = {r["name"]: r for r in every_parameter if r["chapter"] == "tiering"}
    assert tiering["gpu_usd_per_hour"]["allowed"].startswith("None or a finite number in (0, ")
    assert tiering["uniform_ttls_s"]["allowed"] == "a list; each item: a finite number in [0, inf]"
    assert tiering["p95_ttft_target_s"]["unit"] == "s" and tiering["dram_gb_per_instance"]["unit"] == "GB"
    checked = [r for r in every_parameter if r["allowed"] != "not checked"]
    assert len(checked) >= 0.95 * len(every_parameter)


_RANGE = re.compile(r"^(?:None or )?(?P<kind>an integer|a finite number) in (?P<lo>[\[(])(?P<a>[-\d.e+]+|-inf), ")


def test_the_listed_ranges_are_what_the_chapters_enforce(every_parameter):
    """For every scalar with a numeric range, a value just below it is refused by the chapter's checks, naming
    the parameter, and the default is accepted (the listed range is read off those checks, so it cannot drift)."""
    from model.book.build import NOTEBOOK_DIR, parameter_defaults

    tried = 0
    for r in every_parameter:
        m = _RANGE.match(r["allowed"])
        if not m or isinstance(r["default"], (list, tuple)) or m["a"] == "-inf":
            continue
        defaults = parameter_defaults(NOTEBOOK_DIR / f"{r['chapter']}.ipynb")
        low = float(m["a"])
        below = (int(low) - 1 if m["kind"] == "an integer" else low - 1.0) if m["lo"] == "[" else low
        err = listing._first_error(r["chapter"], {**defaults, r["name"]: below})
        assert err is not None and err.name == r["name"], (r["chapter"], r["name"], below, err)
        assert listing._first_error(r["chapter"], defaults) is None
        tried += 1
    assert tried > 100


def test_parameters_of_one_chapter_and_errors(capsys):
    r = cli("list", "parameters", "validation")
    assert r.returncode == 0
    assert r.stdout.splitlines()[:3] == [
        'validation  (make chapter NB=validation ARGS="-p NAME VALUE ...")',
        "  error_threshold = 0.35    allowed: a finite number in (0, 1]",
        "      |error| above which a validation point is listed as a miss (issue goal: max 35%)"]
    bad = cli("list", "parameters", "kv_sizng")
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.startswith(
        "error: CHAPTER='kv_sizng' is not allowed: CHAPTER must be one of batching, ") and \
        len(bad.stderr.splitlines()) == 1
    bad = cli("list", "modls")
    assert bad.returncode == 2 and bad.stderr.startswith("error: KIND='modls' is not allowed") and \
        "did you mean models?" in bad.stderr


def test_make_list_runs_the_listing():
    r = subprocess.run(["make", "--no-print-directory", "-n", "list", "WHAT=parameters kv_sizing"], capture_output=True, text=True, cwd=ROOT,
                       check=False)
    assert r.returncode == 0 and r.stdout.strip().endswith("-m model list parameters kv_sizing")


def test_everything_at_once_as_json():
    every = json.loads(cli("list", "--json").stdout)
    assert list(every) == list(listing.KINDS) and all(every[k] for k in every)
    assert not any(isinstance(v, float) and not math.isfinite(v) for r in every["gpus"] for v in r.values())
