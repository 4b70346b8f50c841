"""model.listing by hand (``python -m model list``), fast and in-process: the rows read off the data files
(published figures of data/hardware.csv, data/models), the chapters' parameters on stand-in chapters whose checks
are written here, the tables and lines printed for people (laid out by hand), and ``main``'s errors and JSON."""
import json
import math

import pandas as pd
import pytest

from model import listing
from model.book.tables import Col
from model.checks import ParameterError


# --- rows read off the data files ---------------------------------------------------------------------------------
def test_a_published_model_row():
    rows = {r["name"]: r for r in listing.models()}
    r = rows["llama-2-70b"]
    # Llama 2 70B's config.json: 80 layers, 64 query heads, 8 KV heads (GQA), 4,096 positions; 68,976,648,192 weights
    assert {k: r[k] for k in ("name", "layers", "attention", "layer_kinds", "query_heads", "kv_heads",
                              "context_tokens", "parameters", "active_parameters")} == {
        "name": "llama-2-70b", "layers": 80, "attention": "GQA", "layer_kinds": "full 80", "query_heads": 64,
        "kv_heads": 8, "context_tokens": 4096, "parameters": 68_976_648_192, "active_parameters": 68_976_648_192}
    assert r["display_name"] == "Llama 2 70B"
    # gpt-oss-120b: 36 layers alternating full and sliding-window attention; a mixture of experts
    g = rows["gpt-oss-120b"]
    assert g["layer_kinds"] == "full 18, sliding 18" and g["active_parameters"] < g["parameters"] / 10


def test_a_model_that_does_not_load_keeps_its_name_and_reason(monkeypatch, tmp_path):
    import model.architectures as A

    (tmp_path / "broken.json").write_text('{"name": "broken"}')
    (tmp_path / "also.json").write_text('{"name": "also"}')
    monkeypatch.setattr(A, "MODELS_DIR", tmp_path)
    A.load_architecture.cache_clear()
    try:
        rows = listing.models()
    finally:
        A.load_architecture.cache_clear()
    assert [r["name"] for r in rows] == ["also", "broken"]
    assert all(set(r) == {"name", "error"} for r in rows)
    # a config without its heads: load_architecture's KeyError, named with its key
    assert rows[1]["error"] == "does not load: KeyError: 'num_attention_heads'"


def test_gpu_rows_are_the_datasheet_figures_in_their_units():
    rows = {r["name"]: r for r in listing.gpus()}
    h = rows["h100-80gb"]
    # H100 SXM: 80 GB, 3,350 GB/s, dense BF16 989.4 TFLOP/s, FP8 and INT8 1,978.9, NVLink 900 GB/s
    assert (h["memory_gb"], h["memory_bytes"], h["bandwidth_gb_s"]) == (80.0, 85_520_809_984, 3350.0)
    assert (h["bf16_tflops"], h["fp8_tflops"], h["int8_tops"], h["interconnect_gb_s"]) == \
        pytest.approx((989.4, 1978.9, 1978.9, 900.0), rel=1e-12)
    assert h["weight_dtypes"] == ["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
    a = rows["a100-40gb"]
    assert a["fp8_tflops"] is None and a["int8_tops"] == pytest.approx(624.0) and a["bf16_tflops"] == 312.0
    assert "fp8" not in a["weight_dtypes"] and "int8" in a["weight_dtypes"]
    assert list(rows)[0] == "a100-40gb"


def test_gpu_without_a_link_has_no_interconnect(monkeypatch):
    import model.hardware as H

    real = H.load_gpu("a100-40gb")
    fake = type(real)(**{**real.__dict__, "interconnect_bytes_per_s": math.inf})
    monkeypatch.setattr(H, "available_gpus", lambda: ["x"])
    monkeypatch.setattr(H, "load_gpu", lambda name: fake)
    (row,) = listing.gpus()
    assert row["interconnect_gb_s"] is None and row["name"] == "x" and row["bandwidth_gb_s"] == 1555.0


def test_tier_rows():
    rows = {r["name"]: r for r in listing.tiers()}
    # HBM has no link to itself (no bandwidth); host DRAM over PCIe Gen4 x16: 32 GB/s, $3.093 per GB-month
    assert rows["hbm"] == {"name": "hbm", "bandwidth_gb_s": None, "usd_per_gb_month": 31.31}
    assert rows["host-dram"] == {"name": "host-dram", "bandwidth_gb_s": 32.0, "usd_per_gb_month": 3.093}


def test_a_tier_without_a_price(monkeypatch):
    import model.hardware as H

    real = H.load_tier("host-dram")
    fake = type(real)(**{**real.__dict__, "usd_per_gb_month": math.nan})
    monkeypatch.setattr(H, "available_tiers", lambda: ["t"])
    monkeypatch.setattr(H, "load_tier", lambda name: fake)
    assert listing.tiers() == [{"name": "t", "bandwidth_gb_s": 32.0, "usd_per_gb_month": None}]


def test_dtype_rows():
    rows = {r["dtype"]: r for r in listing.dtypes()}
    assert list(rows) == ["fp32", "fp16", "bf16", "fp8", "int8", "int4", "fp4"]
    assert rows["int4"]["bits"] == 4 and rows["int4"]["bytes_per_element"] == 0.5
    assert rows["fp16"]["bytes_per_element"] == 2.0 and rows["fp8"]["weights_compute_in"] == "fp8"
    assert rows["fp8"]["weights_on"][:2] == ["h100-80gb", "h200-141gb"] and "a100-80gb" not in rows["fp8"]["weights_on"]
    assert all(r["kv_cache"] is True for r in rows.values())


def test_price_rows_in_the_file_order():
    rows = listing.prices()
    assert list(rows[0]) == ["provider", "gpu", "pricing", "usd_per_gpu_hour", "date", "source"]
    # AWS p4de.24xlarge $27.44705/h for 8 A100 80GB: $3.4309 per GPU-hour, retrieved 2026-11-09
    assert rows[0]["provider"] == "aws" and rows[0]["gpu"] == "a100-80gb" and rows[0]["pricing"] == "on-demand"
    assert rows[0]["usd_per_gpu_hour"] == pytest.approx(27.44705 / 8, abs=1e-4) and rows[0]["date"] == "2026-11-09"
    assert rows[0]["source"].startswith("AWS EC2 p4de.24xlarge")


def test_listing_dispatches_each_kind(monkeypatch):
    for kind in ("models", "gpus", "tiers", "dtypes", "prices"):
        monkeypatch.setattr(listing, kind, lambda kind=kind: [{"kind": kind}])
    monkeypatch.setattr(listing, "parameters", lambda chapter=None: [{"kind": "parameters", "chapter": chapter}])
    for kind in ("models", "gpus", "tiers", "dtypes", "prices"):
        assert listing.listing(kind) == [{"kind": kind}]
    assert listing.listing("parameters", "ch") == [{"kind": "parameters", "chapter": "ch"}]
    assert listing.listing("parameters") == [{"kind": "parameters", "chapter": None}]
    assert listing.KINDS == ("models", "gpus", "tiers", "dtypes", "prices", "parameters")


# --- the chapters' parameters ---------------------------------------------------------------------------------
def test_the_chapters_are_the_notebooks_without_appendices(monkeypatch, tmp_path):
    import model.book.build as B

    monkeypatch.setattr(B, "notebooks", lambda: [tmp_path / "b.ipynb", tmp_path / "appendix_x.ipynb",
                                                 tmp_path / "a.ipynb"])
    assert listing.chapters() == ["b", "a"]


class Checks:
    """A stand-in for a chapter's own checks: ``refuse[name]`` is (error name, allowed, values refused)."""

    def __init__(self, refuse: dict):
        self.refuse, self.seen = refuse, []

    def __call__(self, chapter, values):
        self.seen.append((chapter, dict(values)))
        for name, (err_name, allowed, bad) in self.refuse.items():
            if name not in values:
                continue
            v = values[name]
            if any(v is b or (isinstance(v, float) and isinstance(b, float) and math.isnan(v) and math.isnan(b))
                   or (not isinstance(v, float) and v == b) for b in bad):
                return ParameterError(err_name, v, allowed)
        return None


def test_allowed_reads_the_checks_message(monkeypatch):
    nan = float("nan")
    checks = Checks({"rate": ("rate", "a finite number in (0, inf]", [nan])})
    monkeypatch.setattr(listing, "_first_error", checks)
    assert listing._allowed("ch", "rate", {"rate": 2.0, "other": 1}) == "a finite number in (0, inf]"
    (chapter, values), = checks.seen
    assert chapter == "ch" and math.isnan(values["rate"]) and values["other"] == 1


def test_allowed_tries_the_second_scalar_probe(monkeypatch):
    checks = Checks({"gpu": ("gpu", "one of 'a', 'b'", [listing._ODD])})
    monkeypatch.setattr(listing, "_first_error", checks)
    assert listing._allowed("ch", "gpu", {"gpu": "a"}) == "one of 'a', 'b'"
    assert len(checks.seen) == 2 and math.isnan(checks.seen[0][1]["gpu"])
    assert isinstance(checks.seen[1][1]["gpu"], str) and checks.seen[1][1]["gpu"] not in ("a", "b")


def test_allowed_of_a_parameter_that_may_be_none(monkeypatch):
    monkeypatch.setattr(listing, "_first_error", Checks({"p": ("p", "a finite number in (0, 1]", [float("nan")])}))
    assert listing._allowed("ch", "p", {"p": None}) == "None or a finite number in (0, 1]"


def test_allowed_of_a_flag_is_true_or_false_without_asking(monkeypatch):
    checks = Checks({"quick": ("quick", "nothing", [float("nan"), listing._ODD])})
    monkeypatch.setattr(listing, "_first_error", checks)
    assert listing._allowed("ch", "quick", {"quick": False}) == "True or False"
    assert checks.seen == []


def test_allowed_of_a_list_tries_the_list_probes_in_turn(monkeypatch):
    seen = []

    def first_error(chapter, values):
        seen.append(values["ttls"])
        return ParameterError("ttls", values["ttls"], "a non-empty list") if values["ttls"] == [] else None

    monkeypatch.setattr(listing, "_first_error", first_error)
    assert listing._allowed("ch", "ttls", {"ttls": [1.0, 2.0]}) == "a non-empty list"
    assert len(seen) == 4 and seen[-1] == [] and all(isinstance(s, list) and len(s) == 1 for s in seen[:3])
    assert math.isnan(seen[0][0]) and isinstance(seen[1][0], str) and isinstance(seen[2][0], dict)
    seen.clear()
    monkeypatch.setattr(listing, "_first_error", lambda chapter, values: seen.append(1))
    assert listing._allowed("ch", "ttls", {"ttls": ("x",)}) == "not checked" and len(seen) == 4


@pytest.mark.parametrize("err_name, want", [
    ("ttls[0]", "a list; each item: a finite number in [0, inf]"),
    ("ttls[12]", "a list; each item: a finite number in [0, inf]"),
    ("ttls[1]['ttl_s']", "a list; each item's['ttl_s']: a finite number in [0, inf]"),
    ("ttls weight", "a list; each item's weight: a finite number in [0, inf]"),
])
def test_allowed_of_a_list_item(monkeypatch, err_name, want):
    monkeypatch.setattr(listing, "_first_error",
                        lambda chapter, values: ParameterError(err_name, 0, "a finite number in [0, inf]"))
    assert listing._allowed("ch", "ttls", {"ttls": [1.0]}) == want
    assert listing._allowed("ch", "ttls", {"ttls": None}) == "None or " + want


@pytest.mark.parametrize("err_name", ["other", "ttlsx", "ttls_s", "xttls[0]"])
def test_allowed_ignores_another_parameters_error(monkeypatch, err_name):
    monkeypatch.setattr(listing, "_first_error", lambda chapter, values: ParameterError(err_name, 0, "x"))
    assert listing._allowed("ch", "ttls", {"ttls": 1.0}) == "not checked"
    assert listing._allowed("ch", "ttls", {"ttls": [1.0]}) == "not checked"


def test_allowed_keeps_trying_after_another_parameters_error(monkeypatch):
    def first_error(chapter, values):
        if isinstance(values["n"], float):
            return ParameterError("m", 1, "x")      # the NaN trips another check first
        return ParameterError("n", values["n"], "an integer in [1, inf]")

    monkeypatch.setattr(listing, "_first_error", first_error)
    assert listing._allowed("ch", "n", {"n": 3, "m": 1}) == "an integer in [1, inf]"


@pytest.mark.parametrize("name, value, want", [
    ("warmup_minutes", 5, "min"), ("window_hours", 2.0, "h"), ("growth_per_year", 0.1, "per year"),
    ("turns_per_min", 3, "per min"), ("arrivals_per_s", 1.5, "per s"), ("decode_s_per_token", 0.02, "s per token"),
    ("sessions_per_month", [1, 2], "per month"),
    ("hit_share", 0.5, "fraction"), ("dram_gb", 40, "GB"), ("ttl_s", [1.0, None], "s"), ("empty_s", [], "s"),
    ("context_tokens", 10_000, "tokens"),
])
def test_unit_from_the_name(name, value, want):
    assert listing._unit(name, value, "") == want


@pytest.mark.parametrize("value", ["llama", True, [1, "x"], [True], {"a": 1}])
def test_no_unit_for_what_is_not_a_number(value):
    assert listing._unit("window_hours", value, "tokens") == ""


@pytest.mark.parametrize("comment, want", [
    ("tokens", "tokens"), ("prompt (tokens)", "tokens"), ("length, tokens; from the trace", "tokens"),
    ("wait; s", "s"), ("memory (GB) per node", "GB"), ("minutes", "minutes"), ("hours", "hours"),
    ("percent", "percent"), ("price (USD per GPU-hour)", "USD per GPU-hour"), ("(USD per 1M tokens)", "USD per 1M tokens"),
    ("offered load (requests/s)", "requests/s"),
    ("tokens per turn", ""), ("several tokens", ""), ("as", ""),
])
def test_unit_from_the_comment(monkeypatch, comment, want):
    import model.parameters as P

    monkeypatch.setattr(P, "defaults_table", lambda: pd.DataFrame({"name": ["zz"], "unit": ["zunit"]}))
    assert listing._unit("budget", 3, comment) == want


def test_unit_from_a_cited_default(monkeypatch):
    import model.parameters as P

    table = pd.DataFrame({"name": ["batching_mfu", "kv_watermark", "cap"], "unit": ["fraction", float("nan"), "count"]})
    monkeypatch.setattr(P, "defaults_table", lambda: table)
    assert listing._unit("budget", 3, "data/parameters: kv_watermark then batching_mfu") == "fraction"
    assert listing._unit("budget", 3, "see Cap and cap") == "count"
    assert listing._unit("budget", 3, "kv_watermark only") == ""
    assert listing._unit("budget", 3, "nothing cited") == ""


def _stand_in_chapters(monkeypatch, checks):
    import model.book.appendix as A
    import model.book.build as B

    defaults = {"alpha": {"output_dir": "out", "n": 4, "label": "x", "mode_s": "auto"}, "beta": {"ttl_s": 1.5}}
    paths = []

    def parameter_defaults(path):
        paths.append(path)
        return dict(defaults[path.stem])

    monkeypatch.setattr(listing, "chapters", lambda: ["alpha", "beta"])
    monkeypatch.setattr(B, "parameter_defaults", parameter_defaults)
    monkeypatch.setattr(A, "chapter_parameters", lambda: pd.DataFrame(
        {"notebook": ["alpha", "beta", "gamma"], "name": ["n", "ttl_s", "n"],
         "comment": ["sessions at once", "idle time to keep", "elsewhere"]}))
    monkeypatch.setattr(listing, "_first_error", checks)
    return paths


def test_parameters_of_every_chapter(monkeypatch):
    import model.book.build as B

    checks = Checks({"n": ("n", "an integer in [1, inf]", [float("nan")]),
                     "ttl_s": ("ttl_s", "a finite number in [0, inf]", [float("nan")])})
    paths = _stand_in_chapters(monkeypatch, checks)
    rows = listing.parameters()
    assert rows == [
        {"chapter": "alpha", "name": "n", "default": 4, "unit": "", "allowed": "an integer in [1, inf]",
         "comment": "sessions at once"},
        {"chapter": "alpha", "name": "label", "default": "x", "unit": "", "allowed": "not checked", "comment": ""},
        {"chapter": "alpha", "name": "mode_s", "default": "auto", "unit": "", "allowed": "not checked", "comment": ""},
        {"chapter": "beta", "name": "ttl_s", "default": 1.5, "unit": "s", "allowed": "a finite number in [0, inf]",
         "comment": "idle time to keep"}]
    assert paths == [B.NOTEBOOK_DIR / "alpha.ipynb", B.NOTEBOOK_DIR / "beta.ipynb"]
    assert {chapter for chapter, _ in checks.seen} == {"alpha", "beta"}
    assert listing.BUILD_PARAMETERS == ("output_dir",)


def test_parameters_of_one_chapter_and_an_unknown_one(monkeypatch):
    _stand_in_chapters(monkeypatch, Checks({}))
    assert [r["name"] for r in listing.parameters("beta")] == ["ttl_s"]
    with pytest.raises(ParameterError) as err:
        listing.parameters("gamma")
    assert str(err.value) == "CHAPTER='gamma' is not allowed: CHAPTER must be one of alpha, beta"


# --- text for people ------------------------------------------------------------------------------------------------
def test_table_layout():
    rows = [{"a": "x", "n": 5, "l": ["p", "q"]}, {"a": "long", "n": 12345, "l": None}, {"a": "z"}]
    cols = {"a": Col("A", kind="text"), "n": Col("N", "GB"), "l": Col("L", kind="text")}
    assert listing._table(rows, cols).split("\n") == [
        "A     N (GB)  L",
        "x          5  p, q",
        "long  12,345",
        "z          —"]


@pytest.mark.parametrize("source, want", [
    ("AWS price (https://example.com/a/b).", "example.com/a/b"),
    ("see http://x.org/p;", "x.org/p"), ("quoted 'https://x.org/q'", "x.org/q"), ('"https://x.org/r",', "x.org/r"),
    ("no address", "no address"), ("https://x.org/ABX", "x.org/ABX"), ("a" * 60, "a" * 60), ("a" * 61, "a" * 59 + "…"),
])
def test_short_source(source, want):
    assert listing._short_source(source) == want


def test_a_table_of_no_rows_is_its_header():
    assert listing._table([], {"a": Col("A", kind="text"), "n": Col("N", "GB")}) == "A  N (GB)"


def test_short_source_width():
    assert listing._short_source("abcdef", 4) == "abc…" and listing._short_source("abcd", 4) == "abcd"


@pytest.mark.parametrize("value, want", [
    (10_000, "10,000"), (True, "True"), (0.35, "0.35"), (1e-5, "1e-05"), ([1, 2.5], "[1, 2.5]"),
    ("é", '"é"'), ({"a": None}, '{"a": null}'), (None, "None"), ((1, 2), "(1, 2)"),
])
def test_default_text(value, want):
    assert listing._default_text(value) == want


def row(*cells) -> str:
    """A table line written by hand: (text, width, "<" left or ">" right), two spaces apart, no trailing blanks."""
    return "  ".join(f"{t:{a}{w}}" for t, w, a in cells).rstrip()


def test_models_text():
    # 1.375e9 and 3.375e9 parameters: 1.38 and 3.38 billion (the halves round up only if divided by exactly 1e9);
    # counts given as fractions (2.6 layers, 64.4 tokens) are written as whole numbers
    rows = [{"name": "m", "display_name": "Model M", "layers": 2.6, "attention": "GQA", "layer_kinds": "full 2",
             "query_heads": 4.4, "kv_heads": 1.6, "context_tokens": 64.4, "parameters": 3_375_000_000,
             "active_parameters": 1_375_000_000},
            {"name": "bad", "error": "does not load: KeyError: 'x'"},
            {"name": "longer", "display_name": "L", "layers": 80, "attention": "MQA", "layer_kinds": "full 13, sliding 67",
             "query_heads": 64, "kv_heads": 1, "context_tokens": 131072, "parameters": 7e10, "active_parameters": 7e10}]
    assert listing.text("models", rows).split("\n") == [
        row(("name", 6, "<"), ("display name", 12, "<"), ("layers", 6, ">"), ("attention", 9, "<"),
            ("layer kinds", 19, "<"), ("query heads", 11, ">"), ("KV heads", 8, ">"), ("context (tokens)", 16, ">"),
            ("parameters (billion)", 20, ">"), ("active per token (billion)", 26, ">")),
        row(("m", 6, "<"), ("Model M", 12, "<"), ("3", 6, ">"), ("GQA", 9, "<"), ("full 2", 19, "<"),
            ("4", 11, ">"), ("2", 8, ">"), ("64", 16, ">"), ("3.38", 20, ">"), ("1.38", 26, ">")),
        row(("longer", 6, "<"), ("L", 12, "<"), ("80", 6, ">"), ("MQA", 9, "<"), ("full 13, sliding 67", 19, "<"),
            ("64", 11, ">"), ("1", 8, ">"), ("131,072", 16, ">"), ("70", 20, ">"), ("70", 26, ">")),
        "bad: does not load: KeyError: 'x'"]


def test_gpus_text():
    # TFLOP/s to 4 significant digits: 989.46 -> 989.5, 1978.94 -> 1,979
    rows = [{"name": "g", "memory_gb": 80.0, "bandwidth_gb_s": 3350.0, "bf16_tflops": 989.46, "fp8_tflops": 989.46,
             "int8_tops": 1978.94, "interconnect_gb_s": 900.0, "weight_dtypes": ["fp16", "int8"]},
            {"name": "gpu-2", "memory_gb": 141.0, "bandwidth_gb_s": 4800.0, "bf16_tflops": 1978.94, "fp8_tflops": None,
             "int8_tops": 989.46, "interconnect_gb_s": None, "weight_dtypes": ["fp8"]},
            {"name": "g3", "memory_gb": 40.0, "bandwidth_gb_s": 1555.0, "bf16_tflops": 312.0, "fp8_tflops": 1978.94,
             "int8_tops": 624.0, "interconnect_gb_s": 600.0, "weight_dtypes": []}]
    widths = [("name", 5, "<"), ("memory (GB)", 11, ">"), ("HBM (GB/s)", 10, ">"), ("BF16 dense (TFLOP/s)", 20, ">"),
              ("FP8 dense (TFLOP/s)", 19, ">"), ("INT8 dense (TOP/s)", 18, ">"), ("NVLink (GB/s)", 13, ">"),
              ("weights in", 10, "<")]

    def line(*texts):
        return row(*[(t, w, a) for t, (_, w, a) in zip(texts, widths)])

    assert listing.text("gpus", rows).split("\n") == [
        line(*[h for h, _, _ in widths]),
        line("g", "80", "3,350", "989.5", "989.5", "1,979", "900", "fp16, int8"),
        line("gpu-2", "141", "4,800", "1,979", "—", "989.5", "—", "fp8"),
        line("g3", "40", "1,555", "312", "1,979", "624", "600", "")]


def test_tiers_text():
    rows = [{"name": "dram", "bandwidth_gb_s": 32.0, "usd_per_gb_month": 3.09349},
            {"name": "hbm", "bandwidth_gb_s": None, "usd_per_gb_month": 31.31}]
    assert listing.text("tiers", rows).split("\n") == [
        "name  to the GPU (GB/s)  price (USD/GB-month)",
        "dram                 32                $3.093",
        "hbm                   —                $31.31"]


def test_dtypes_text():
    rows = [{"dtype": "int4", "bits": 4, "bytes_per_element": 0.5, "weights_compute_in": "int8",
             "weights_on": ["a", "b"], "kv_cache": True},
            {"dtype": "zz", "bits": 16, "bytes_per_element": 2.0, "weights_compute_in": "fp16", "weights_on": [],
             "kv_cache": False}]
    assert listing.text("dtypes", rows).split("\n") == [
        "dtype  bits  bytes per element  weights compute in  weights on  KV cache",
        "int4      4                0.5  int8                a, b        yes (stored only)",
        "zz       16                  2  fp16                            no"]


def test_prices_text():
    rows = [{"provider": "aws", "gpu": "a100-80gb", "pricing": "on-demand", "usd_per_gpu_hour": 3.430912,
             "date": "2026-11-09", "source": "AWS (https://example.com/x)"},
            {"provider": "lambda", "gpu": "h100", "pricing": "spot", "usd_per_gpu_hour": 12.5, "date": "2025",
             "source": "a"}]
    assert listing.text("prices", rows).split("\n") == [
        "provider  GPU        pricing    price (USD/GPU-hour)  date        source",
        "aws       a100-80gb  on-demand               $3.4309  2026-11-09  example.com/x",
        "lambda    h100       spot                      $12.5  2025        a"]


def test_parameters_text():
    rows = [{"chapter": "a", "name": "n", "default": 10_000, "unit": "tokens", "allowed": "an integer in [1, inf]",
             "comment": "context"},
            {"chapter": "a", "name": "q", "default": False, "unit": "", "allowed": "True or False", "comment": ""},
            {"chapter": "b", "name": "g", "default": "x", "unit": "", "allowed": "one of 'x'", "comment": "GPU"}]
    assert listing.text("parameters", rows).split("\n") == [
        'a  (make chapter NB=a ARGS="-p NAME VALUE ...")',
        "  n = 10,000  [tokens]    allowed: an integer in [1, inf]",
        "      context",
        "  q = False    allowed: True or False",
        "",
        'b  (make chapter NB=b ARGS="-p NAME VALUE ...")',
        '  g = "x"    allowed: one of \'x\'',
        "      GPU"]
    assert listing.text("parameters", []) == ""


# --- the command line ---------------------------------------------------------------------------------------------
@pytest.fixture
def stand_in(monkeypatch):
    """Every listing replaced by a tiny one: (kind, chapter) -> rows."""
    calls = []

    def fake(kind, chapter=None):
        calls.append((kind, chapter))
        return [{"kind": kind, "path": _Odd()}]

    monkeypatch.setattr(listing, "listing", fake)
    monkeypatch.setattr(listing, "text", lambda kind, rows: f"<{kind} {len(rows)}>")
    return calls


class _Odd:
    """Not JSON: printed by its str()."""

    def __str__(self):
        return "odd"


def test_main_one_kind_as_text(stand_in, capsys):
    assert listing.main(["list", "tiers"]) == 0
    assert capsys.readouterr() == ("<tiers 1>\n", "")
    assert stand_in == [("tiers", None)]


def test_main_everything_as_text(stand_in, capsys):
    assert listing.main(["list"]) == 0
    assert capsys.readouterr().out == ("== models\n<models 1>\n\n== gpus\n<gpus 1>\n\n== tiers\n<tiers 1>\n\n"
                                       "== dtypes\n<dtypes 1>\n\n== prices\n<prices 1>\n\n== parameters\n"
                                       "<parameters 1>\n")


def test_main_json(stand_in, capsys):
    assert listing.main(["list", "parameters", "kv", "--json"]) == 0
    assert capsys.readouterr().out == '[\n  {\n    "kind": "parameters",\n    "path": "odd"\n  }\n]\n'
    assert stand_in == [("parameters", "kv")]
    assert listing.main(["list", "--json"]) == 0
    every = json.loads(capsys.readouterr().out)
    assert list(every) == list(listing.KINDS) and every["gpus"] == [{"kind": "gpus", "path": "odd"}]


def test_main_refuses_a_chapter_after_another_kind(stand_in, capsys):
    assert listing.main(["list", "models", "kv_sizing"]) == 2
    assert capsys.readouterr() == ("", "error: CHAPTER='kv_sizing' is not allowed: CHAPTER comes only after "
                                       "parameters\n")
    assert stand_in == []


def test_main_reports_a_bad_chapter_in_one_line(monkeypatch, capsys):
    def refuse(kind, chapter=None):
        raise ParameterError("CHAPTER", chapter, "one of a, b")

    monkeypatch.setattr(listing, "listing", refuse)
    assert listing.main(["list", "parameters", "c"]) == 2
    assert capsys.readouterr() == ("", "error: CHAPTER='c' is not allowed: CHAPTER must be one of a, b\n")


def test_main_refuses_an_unknown_kind(capsys):
    with pytest.raises(SystemExit) as e:
        listing.main(["list", "modls"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err == ("error: KIND='modls' is not allowed: KIND must be one of models, gpus, tiers, dtypes, prices, "
                   "parameters; did you mean models?\n")


def test_help_names_the_kinds_and_flags(capsys):
    with pytest.raises(SystemExit) as e:
        listing.main(["--help"])
    out = " ".join(capsys.readouterr().out.split()) + " "
    assert e.value.code == 0 and out.startswith("usage: python -m model ")
    assert "The study's command line: what there is to choose from (models, GPUs, formats, prices, parameters)." in out
    assert " list list models, gpus, tiers, dtypes, prices or a chapter's parameters " in out
    with pytest.raises(SystemExit):
        listing.main(["list", "--help"])
    out = " " + " ".join(capsys.readouterr().out.split()) + " "
    assert " List what there is: models, gpus, tiers, dtypes, prices, parameters (all when no KIND is given). " in out
    assert "KIND one of models, gpus, tiers, dtypes, prices, parameters" in out
    assert "CHAPTER with parameters: one chapter (default: all) " in out
    assert "--json print JSON (exact values) " in out
    with pytest.raises(SystemExit) as e:
        listing.main([])
    assert e.value.code == 2 and capsys.readouterr().err.startswith("error: missing command")


def test_fp4_is_listed_with_its_four_and_a_half_bits():
    # NVFP4: 4 bits per value + one 8-bit scale per 16 values = 4.5 bits, 0.5625 bytes (printed to 3 digits)
    lines = listing.text("dtypes", listing.dtypes()).split("\n")
    fp4 = next(ln for ln in lines if ln.startswith("fp4 "))
    assert fp4.split()[:3] == ["fp4", "4.5", "0.562"]
    assert next(ln for ln in lines if ln.startswith("fp16 ")).split()[:3] == ["fp16", "16", "2"]
