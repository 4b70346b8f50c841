"""model.book.tables by hand: every header word, suffix and unit, every kind of cell, the HTML a reader sees,
and the options of the interactive table, each expected value written out here from the rules of the module's
docstring (three significant digits, thousands separators, a true minus sign, no scientific notation)."""
import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from model.book.tables import (DATATABLES_FILES, KINDS, WIDE_COLUMN_EM, Col, Table, _strip_suffix, _words,
                               bundle_datatables, format_number, format_value, header, infer_column,
                               interactive_table, show_table, table_frame, transposed)


# --- words of a header ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("word, written", [
    ("kv", "KV"), ("gpu", "GPU"), ("gpus", "GPUs"), ("ttft", "TTFT"), ("tpot", "TPOT"), ("hbm", "HBM"),
    ("dram", "DRAM"), ("ssd", "SSD"), ("usd", "USD"), ("api", "API"), ("slo", "SLO"), ("ttl", "TTL"),
    ("p95", "P95"), ("p50", "P50"), ("p99", "P99"), ("rtt", "RTT"), ("e2e", "end-to-end"), ("mfu", "MFU"),
    ("mbu", "MBU"), ("tp", "TP"), ("rps", "requests/s"), ("lru", "LRU"), ("fifo", "FIFO"), ("fp16", "FP16"),
    ("int8", "INT8"), ("fp8", "FP8"), ("bf16", "BF16")])
def test_each_acronym_is_written_as_a_reader_knows_it(word, written):
    # second word: not capitalised by the sentence case, so the acronym shows as the table writes it
    assert _words(f"the_{word}") == f"The {written}"
    assert _words(f"the_{word.upper()}") == f"The {written}"  # looked up whatever the case of the name


def test_words_split_on_underscores_and_spaces_and_capitalise_the_first_letter_only():
    assert _words("hit_ratio") == "Hit ratio"
    assert _words("session__ID") == "Session id"  # the one acronym written in lower case
    assert _words("  mean  prompt_len ") == "Mean prompt len"
    assert _words("model") == "Model" and _words("ab") == "Ab" and _words("x") == "X"
    assert _words("") == "" and _words("__") == ""
    assert _words(7) == "7"


# --- suffixes and units ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, col", [
    ("cost_usd_per_million_tokens", Col("Cost", "USD/1M tokens", "usd")),
    ("bill_usd_per_month", Col("Bill", "USD/month", "usd")),
    ("rent_usd_per_hour", Col("Rent", "USD/h", "usd")),
    ("price_usd_per_gpu_hour", Col("Price", "USD/GPU-hour", "usd")),
    ("total_usd", Col("Total", "USD", "usd")),
    ("size_gb", Col("Size", "GB", "number")),
    ("size_gib", Col("Size", "GiB", "number")),
    ("size_tb", Col("Size", "TB", "number")),
    ("size_mb", Col("Size", "MB", "number")),
    ("block_kib", Col("Block", "KiB", "number")),
    ("weight_bytes", Col("Weight", "bytes", "integer")),
    ("step_ms", Col("Step", "ms", "number")),
    ("wait_s", Col("Wait", "s", "number")),
    ("session_min", Col("Session", "min", "number")),
    ("uptime_h", Col("Uptime", "h", "number")),
    ("rate_per_s", Col("Rate", "/s", "number")),
    ("rate_per_min", Col("Rate", "/min", "number")),
    ("prompt_tokens", Col("Prompt", "tokens", "integer")),
    ("serve_gpus", Col("Serve", "GPUs", "integer")),
    ("load_percent", Col("Load", "%", "number")),
    ("prefill_share", Col("Prefill", "", "percent")),
    ("busy_fraction", Col("Busy", "", "percent")),
    ("overlap_ratio", Col("Overlap", "", "percent")),
    ("speedup_x", Col("Speedup", "", "ratio")),
])
def test_each_suffix_gives_its_unit_and_kind(name, col):
    assert infer_column(name, pd.Series([1.0])) == col


def test_a_name_that_is_only_a_suffix_is_a_plain_column():
    # "_s" is no longer than the suffix it ends with: nothing is left to title, so the name is the title
    assert infer_column("_s", pd.Series([1.5])) == Col("S", "", "number")
    assert infer_column("_x", pd.Series(["a"])) == Col("X", "", "text")


def test_a_unit_inside_the_name_heads_the_column():
    # kv_gb_per_session: one unit word among the inner words, taken out of the title
    assert infer_column("kv_gb_per_session", pd.Series([1.0])) == Col("KV per session", "GB", "number")
    assert infer_column("weights_GiB_total", pd.Series([1.0])) == Col("Weights total", "GiB", "number")
    assert infer_column("hbm_tb_per_node", pd.Series([1.0])) == Col("HBM per node", "TB", "number")
    assert infer_column("cache_mb_free", pd.Series([1.0])) == Col("Cache free", "MB", "number")
    assert infer_column("page_kib_used", pd.Series([1.0])) == Col("Page used", "KiB", "number")
    assert infer_column("step_ms_p95", pd.Series([1.0])) == Col("Step P95", "ms", "number")
    # two inner units: neither is chosen, the suffix rule decides (no suffix here: a plain number)
    assert infer_column("a_gb_ms_b", pd.Series([1.0])) == Col("A gb ms b", "", "number")
    # a unit word first or last is not an inner one: "gb_total" has no unit inside
    assert infer_column("gb_total", pd.Series([1.0])) == Col("Gb total", "", "number")


def test_a_metric_takes_its_unit_from_the_metrics_table():
    # ttft_s: a metric in seconds; its title drops the _s the unit repeats
    assert infer_column("ttft_s", pd.Series([1.0])) == Col("TTFT", "s", "number")
    # a fraction is a percentage, without a unit
    assert infer_column("kv_utilization", pd.Series([0.5])) == Col("KV utilization", "", "percent")
    # kv_bytes_per_token is in bytes: a number (not the integer of the _bytes suffix), title whole
    assert infer_column("kv_bytes_per_token", pd.Series([1.0])) == Col("KV bytes per token", "bytes", "number")
    assert infer_column("throughput_tokens_per_s", pd.Series([1.0])) == Col("Throughput tokens", "tokens/s",
                                                                              "number")


def test_a_metric_priced_in_usd_is_a_usd_column():
    from model.metrics import METRICS

    usd = [n for n, m in METRICS.items() if m.unit.startswith("USD")]
    assert usd, "the metrics table prices something in USD"
    for name in usd:
        assert infer_column(name, pd.Series([1.0])).kind == "usd"
        assert infer_column(name, pd.Series([1.0])).unit == METRICS[name].unit


def test_without_a_suffix_the_dtype_decides():
    assert infer_column("ok", pd.Series([True, False])) == Col("Ok", "", "bool")
    assert infer_column("batch", pd.Series([1, 2])) == Col("Batch", "", "integer")
    assert infer_column("load", pd.Series([0.5])) == Col("Load", "", "number")
    assert infer_column("model", pd.Series(["a"])) == Col("Model", "", "text")


def test_strip_suffix_takes_off_only_a_suffix_with_a_unit():
    assert _strip_suffix("ttft_p95_s") == "ttft_p95"
    assert _strip_suffix("x_usd_per_hour") == "x"
    assert _strip_suffix("rate_per_s") == "rate"
    assert _strip_suffix("hit_share") == "hit_share"  # a percentage: no unit to take off
    assert _strip_suffix("_s") == "_s"  # nothing would be left
    assert _strip_suffix("model") == "model"


# --- numbers -------------------------------------------------------------------------------------------------------
def test_format_number_by_hand():
    assert format_number(None) == "—"
    assert format_number(0) == "0" and format_number(0.0) == "0"
    assert format_number(-math.inf) == "−∞"
    # 1,234.56 has magnitude 3: no decimal at 3 significant digits (it is not cut to 1,230 either)
    assert format_number(1234.56) == "1,235"
    assert format_number(1234.56, 6) == "1,234.56"
    # 0.012345: magnitude −2, 3 digits = 4 decimals
    assert format_number(0.012345) == "0.0123"
    assert format_number(0.012345, 2) == "0.012"
    assert format_number(1.5) == "1.5"  # "1.50" without its trailing zero
    assert format_number(10.0) == "10"  # "10.0": the zero, then the point go
    assert format_number(100) == "100"  # no point: the zeros of an integer stay
    assert format_number(-2.5) == "−2.5"
    assert format_number(9.996) == "10"


# --- cells ---------------------------------------------------------------------------------------------------------
def test_missing_cells_are_a_dash_in_every_kind():
    for kind in KINDS:
        for missing in (None, math.nan, pd.NA, np.float64("nan")):
            assert format_value(missing, Col("x", kind=kind)) == "—"


def test_text_and_bool_cells():
    assert format_value(3, Col("x", kind="text")) == "3"
    assert format_value(3.14159, Col("x", kind="text")) == "3.14159"  # as it is, not to 3 digits
    assert format_value("nan", Col("x", kind="text")) == "nan"  # a string is never missing
    assert format_value(0, Col("x", kind="bool")) == "no" and format_value(1, Col("x", kind="bool")) == "yes"
    assert format_value(False, Col("x", kind="bool")) == "no"
    # a string in a number column is written as it is
    for kind in ("number", "integer", "percent", "ratio", "usd", "availability"):
        assert format_value("n/a", Col("x", kind=kind)) == "n/a"


def test_integer_cells_are_rounded_and_small_ones_keep_their_digits():
    c = Col("x", kind="integer")
    assert format_value(212125.4, c) == "212,125"
    assert format_value(2.6, c) == "3" and format_value(-2.6, c) == "−3"
    # from one up, rounded: 1.4 is 1 and 1.5 is 2 (to even), not 1.4 and 1.5
    assert format_value(1.4, c) == "1" and format_value(1.5, c) == "2" and format_value(1.0, c) == "1"
    assert format_value(0.25, c) == "0.25"  # below one: not rounded to 0
    assert format_value(0.123456, Col("x", kind="integer", digits=2)) == "0.12"


def test_percent_ratio_and_number_cells():
    assert format_value(0.2637, Col("x", kind="percent")) == "26.4%"
    assert format_value(0.2637, Col("x", kind="percent", digits=2)) == "26%"
    assert format_value(12.345, Col("x", kind="ratio")) == "×12.3"
    assert format_value(12.345, Col("x", kind="ratio", digits=2)) == "×12"
    assert format_value(1234.5678, Col("x")) == "1,235"
    assert format_value(1234.5678, Col("x", digits=5)) == "1,234.6"


def test_usd_cells_keep_at_least_three_digits_and_put_the_minus_before_the_dollar():
    assert format_value(1.2345, Col("x", kind="usd")) == "$1.23"
    assert format_value(1.2345, Col("x", kind="usd", digits=2)) == "$1.23"  # three digits at least
    assert format_value(1.2345, Col("x", kind="usd", digits=4)) == "$1.234"  # 1.2345 is stored just below .5
    assert format_value(-0.5, Col("x", kind="usd")) == "−$0.5"
    assert format_value(-1234.5, Col("x", kind="usd")) == "−$1,234"  # tie to even at 0 decimals


def test_availability_cells_say_the_downtime_of_a_year():
    c = Col("x", kind="availability")
    # never up: 100% of 8,760 h down
    assert format_value(0.0, c) == "0% (8,760 h/year down)"
    # 99.79123% up, 5 digits: 99.791%; down 0.0020877 x 8,760 = 18.288 h: 18.3
    assert format_value(0.9979123, c) == "99.791% (18.3 h/year down)"


# --- headers -----------------------------------------------------------------------------------------------------
def test_the_unit_is_in_the_header_only_where_the_cells_do_not_carry_it():
    assert header(Col("T", "u", "number")) == "T (u)"
    assert header(Col("T", "u", "integer")) == "T (u)"
    assert header(Col("T", "", "number")) == "T"
    for kind in ("percent", "ratio", "bool", "text", "availability"):
        assert header(Col("T", "u", kind)) == "T"
    assert header(Col("T", "USD", "usd")) == "T"  # the $ says it
    assert header(Col("T", "USD/h", "usd")) == "T (USD/h)"
    assert header(Col("T", "", "usd")) == "T"


def test_table_frame_takes_a_title_and_keeps_the_inferred_unit_and_kind():
    df = pd.DataFrame({"size_gb": [1.23456], "hit_share": [0.5]}, index=[5])
    t = table_frame(df, {"size_gb": "Weights", "hit_share": "Hits"})
    assert list(t.columns) == ["Weights (GB)", "Hits"]
    assert t.iloc[0].tolist() == ["1.23", "50%"]
    assert list(t.index) == [0]
    assert table_frame(df).columns.tolist() == ["Size (GB)", "Hit"]


def test_table_frame_infers_a_column_from_its_values():
    # no suffix: a bool column says yes/no, an integer one gets separators, a float one 3 digits
    df = pd.DataFrame({"ok": [True, False], "batch": [12345, 2], "load": [0.123456, 2.0]})
    t = table_frame(df)
    assert t.columns.tolist() == ["Ok", "Batch", "Load"]
    assert t.values.tolist() == [["yes", "12,345", "0.123"], ["no", "2", "2"]]


# --- HTML and text ---------------------------------------------------------------------------------------------------
def test_the_html_of_a_table_by_hand():
    t = Table(pd.DataFrame({"A<b": ["x&y", "2"], "C": ["3", "4"]}), caption="Q<R")
    assert t._repr_html_() == (
        '<div class="study-table"><table><caption>Q&lt;R</caption><thead><tr><th>A&lt;b</th><th>C</th></tr>'
        "</thead><tbody><tr><td>x&amp;y</td><td>3</td></tr><tr><td>2</td><td>4</td></tr></tbody></table></div>")
    bare = Table(pd.DataFrame({"C": ["3"]}))
    assert bare._repr_html_() == ('<div class="study-table"><table><thead><tr><th>C</th></tr></thead>'
                                  "<tbody><tr><td>3</td></tr></tbody></table></div>")
    assert Table(pd.DataFrame({"C": ["3"]}), caption="")._repr_html_() == bare._repr_html_()


def test_the_text_of_a_table_has_no_index():
    assert repr(Table(pd.DataFrame({"A": ["x"], "B": ["yy"]}, index=[9]))) == "A  B\nx yy"


def test_show_table_passes_the_caption_and_turns_only_when_asked():
    df = pd.DataFrame({"name": ["a", "b"], "size_gb": [1.0, 2.0]})
    t = show_table(df, caption="Sizes")
    assert t.caption == "Sizes" and list(t.frame.columns) == ["Name", "Size (GB)"]
    assert show_table(df).caption is None
    turned = show_table(df, transpose=True)
    assert list(turned.frame.columns) == ["Name", "a", "b"]
    assert turned.frame.iloc[0].tolist() == ["Size (GB)", "1", "2"]


def test_transposed_by_hand():
    frame = pd.DataFrame({"k": ["r1", "r2"], "A": ["1", "2"], "B": ["3", "4"]})
    t = transposed(frame)
    assert t.columns.tolist() == ["k", "r1", "r2"]
    assert t.values.tolist() == [["A", "1", "2"], ["B", "3", "4"]]


# --- the interactive table ---------------------------------------------------------------------------------------------
def _options(text: str) -> dict:
    """The DataTables options itables wrote into the page (the object literal after ``let dt_args =``)."""
    m = re.search(r"let dt_args = (\{.*?\n\s*\});", text, re.S)
    assert m, "no options in the page"
    return json.loads(m.group(1))


def test_interactive_table_options_by_hand():
    df = pd.DataFrame({"claim": ["a<b", "c"], "link": ['<a href="x">x</a>', "y"], "size_gb": [1.5, 2.0]})
    text = interactive_table(df, filter_columns=("claim", "Size (GB)"), html_columns=("link",),
                             table_id="tt", page_length=7).html
    opts = _options(text)
    # two rows fit on one page: itables shows no search box, length menu, row count or pager
    assert opts["layout"] == {"bottomEnd": None, "bottomStart": None, "topEnd": None, "topStart": None}
    assert opts["pageLength"] == 7
    assert opts["scrollX"] is True
    assert opts["lengthMenu"] == [10, 25, 100, 2]  # the last choice shows every row
    assert opts["classes"] == ["display", "compact"]
    assert opts["ordering"] == {"indicators": False}
    # a filter on the columns named by source name (claim) or by header (Size (GB)): columns 0 and 2
    assert opts["columnDefs"] == [{"columnControl": ["order", ["searchList"]], "targets": [0, 2]},
                                  {"columnControl": ["order"], "targets": "_all"}]
    # cells escaped except in the HTML column; the link stays a link
    assert json.loads(opts["data_json"]) == [["a&lt;b", '<a href="x">x</a>', "1.5"], ["c", "y", "2"]]
    assert "<th>Claim</th>" in opts["table_html"] and "<th>Size (GB)</th>" in opts["table_html"]
    assert "<th>Link</th>" in opts["table_html"]
    # the script comes from the book's own static folder, not the network; ids are the fixed one
    assert text.startswith('<link href="../_static/dt_bundle.css" rel="stylesheet">'
                           '<script src="../_static/dt_bundle_loader.js"></script><!--')
    assert 'id="tt"' in text and not re.search(r"itables_[0-9a-f]{8}_", text)
    assert "study-wide" not in text
    # offline: DataTables comes from the loader of the static folder, not from a CDN
    assert "unpkg" not in text and "await window._itables_" in text
    assert "Loading ITables" not in text or "from the internet" not in text


def test_interactive_table_formats_with_the_columns_given():
    df = pd.DataFrame({"claim": ["a"], "n": [0.5]})
    opts = _options(interactive_table(df, {"claim": Col("The claim", kind="text"), "n": Col("Share", kind="percent")},
                                      filter_columns=("n",)).html)
    assert "<th>The claim</th>" in opts["table_html"] and "<th>Share</th>" in opts["table_html"]
    assert json.loads(opts["data_json"]) == [["a", "50%"]]
    assert opts["columnDefs"][0]["targets"] == [1]


def test_a_table_longer_than_a_page_keeps_its_controls_and_every_row():
    # 9,000 rows: more than a page of 10, and more than the 64 kB of cell pointers past which itables would
    # keep only 8,192 of them by default; every row stays, in order
    df = pd.DataFrame({"claim": [f"c{i}" for i in range(9000)]})
    opts = _options(interactive_table(df, page_length=10).html)
    assert opts["layout"] == {"topStart": "pageLength", "topEnd": "search", "bottomStart": "info",
                              "bottomEnd": "paging"}
    assert opts["lengthMenu"] == [10, 25, 100, 9000]
    assert json.loads(opts["data_json"]) == [[f"c{i}"] for i in range(9000)]


def test_interactive_table_defaults_and_the_static_prefix():
    df = pd.DataFrame({"claim": ["a"]})
    text = interactive_table(df, static_prefix="s").html
    opts = _options(text)
    assert opts["pageLength"] == 25
    assert opts["lengthMenu"] == [10, 25, 100, 1]
    assert opts["columnDefs"] == [{"columnControl": ["order", ["searchList"]], "targets": []},
                                  {"columnControl": ["order"], "targets": "_all"}]
    assert text.startswith('<link href="s/dt_bundle.css" rel="stylesheet"><script src="s/dt_bundle_loader.js">')
    assert 'id="study_table"' in text


def test_a_wide_column_is_styled_by_its_table_id():
    df = pd.DataFrame({"claim": ["a"], "reason": ["b"]})
    text = interactive_table(df, table_id="t9", wide_columns=("reason",)).html
    # the style comes after the stylesheet and the loader, which stay
    assert text.startswith('<link href="../_static/dt_bundle.css" rel="stylesheet">'
                           '<script src="../_static/dt_bundle_loader.js"></script><style>#t9 td.study-wide')
    assert (f"<style>#t9 td.study-wide, #t9 th.study-wide {{min-width: {36}em; white-space: normal}}</style>"
            in text) and WIDE_COLUMN_EM == 36
    assert _options(text)["columnDefs"][0] == {"className": "study-wide", "targets": [1]}


def test_bundle_datatables_writes_the_stylesheet_and_a_loader_of_the_module(tmp_path, monkeypatch):
    import io

    import itables

    # a machine whose locale is not UTF-8 (a stand-in: text files opened without an encoding are ASCII): the
    # bundle (81 non-ASCII bytes) is still read as UTF-8
    real = io.text_encoding
    monkeypatch.setattr(io, "text_encoding", lambda enc, stacklevel=2: "ascii" if enc is None else real(enc))

    from pathlib import Path

    out = tmp_path / "new" / "static"  # made if missing
    written = bundle_datatables(out)
    assert DATATABLES_FILES == ("dt_bundle.css", "dt_bundle_loader.js")
    assert written == [out / "dt_bundle.css", out / "dt_bundle_loader.js"]
    src = Path(itables.__file__).parent / "html"
    assert (out / "dt_bundle.css").read_bytes() == (src / "dt_bundle.css").read_bytes()
    loader = (out / "dt_bundle_loader.js").read_text(encoding="utf-8")
    v = itables.__version__
    key = "_itables_" + v.replace(".", "_")
    lines = loader.splitlines()
    assert lines[0] == (f"// DataTables (itables {v}) for the book's interactive tables: the module is kept as a "
                        "string and")
    assert lines[2] == "(function () {"
    assert lines[3] == f"  if (window['{key}']) return;"
    assert lines[4].startswith("  const src = ") and lines[4].endswith(";")
    assert json.loads(lines[4][len("  const src = "):-1]) == (src / "dt_bundle.js").read_text(encoding="utf-8")
    assert lines[5] == '  const url = URL.createObjectURL(new Blob([src], { type: "application/javascript" }));'
    assert lines[6] == f"  window['{key}'] = import(url);"
    assert lines[7] == f"  window['{key}'].then(() => window.dispatchEvent(new Event('itables-{v}-ready')));"
    assert lines[8] == "})();"
    # a second build writes into the folder the first one made
    assert bundle_datatables(out) == written
