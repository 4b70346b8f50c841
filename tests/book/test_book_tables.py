import math

import pandas as pd

from model.book.tables import Col, format_number, format_value, show_table, table_frame


def test_numbers_are_never_scientific_and_have_separators():
    assert format_number(6.0e9) == "6,000,000,000"
    assert format_number(212125) == "212,125"
    assert format_number(137.953296) == "138"
    assert format_number(0.986855) == "0.987"
    assert format_number(2.56e2) == "256"
    assert format_number(-0.0004567, 2) == "−0.00046"
    assert format_number(float("nan")) == "—" and format_number(math.inf) == "∞"


def test_kinds():
    assert format_value(0.2637, Col("x", kind="percent")) == "26.4%"
    assert format_value(1634.997, Col("x", kind="ratio", digits=4)) == "×1,635"
    assert format_value(0.48, Col("x", kind="usd")) == "$0.48"
    assert format_value(True, Col("x", kind="bool")) == "yes"
    # 99.79% available = 0.0021 x 8,760 h = 18.4 h a year down
    assert format_value(0.9979, Col("x", kind="availability")) == "99.79% (18.4 h/year down)"


def test_headers_units_and_no_index():
    df = pd.DataFrame({"kv_gb_per_session": [3.2768], "ttft_p95_s": [4.4], "hit_ratio": [0.366],
                       "gpus": [212125], "model": ["llama-2-70b"]}, index=[7])
    t = table_frame(df, {"gpus": Col("GPUs for 1M sessions", kind="integer")})
    assert list(t.columns) == ["KV per session (GB)", "TTFT P95 (s)", "Hit ratio", "GPUs for 1M sessions", "Model"]
    assert t.iloc[0].tolist() == ["3.28", "4.4", "36.6%", "212,125", "llama-2-70b"]
    html = show_table(df)._repr_html_()
    assert "<th>7</th>" not in html and ">7<" not in html and 'class="study-table"' in html


def test_wide_columns_get_their_width_and_others_do_not():
    import pandas as pd
    from model.book.tables import WIDE_COLUMN_EM, Col, interactive_table

    df = pd.DataFrame({"claim": ["a"], "reason": ["x " * 400]})
    html = interactive_table(df, {"claim": Col("Claim", kind="text"), "reason": Col("Reason", kind="text")},
                             table_id="t1", wide_columns=("reason",)).html
    assert f"#t1 td.study-wide, #t1 th.study-wide {{min-width: {WIDE_COLUMN_EM}em" in html
    assert '"className": "study-wide"' in html and '"targets": [1]' in html
    plain = interactive_table(df, {"claim": Col("Claim", kind="text"), "reason": Col("Reason", kind="text")},
                              table_id="t1").html
    assert "study-wide" not in plain


def test_a_transposed_table_has_one_column_per_row_and_its_units_on_the_row_labels():
    df = pd.DataFrame({"service": ["chat", "code"], "gpus": [153319, 1021], "usd": [0.626, 0.19]})
    t = show_table(df, {"service": Col("Service", kind="text"), "gpus": Col("GPUs", kind="integer"),
                        "usd": Col("Cost", "USD/M tokens", "usd")}, transpose=True)
    assert list(t.frame.columns) == ["Service", "chat", "code"]
    assert list(t.frame["Service"]) == ["GPUs", "Cost (USD/M tokens)"]
    assert list(t.frame["chat"])[0] == "153,319" and list(t.frame["code"])[0] == "1,021"
    html = t._repr_html_()
    assert "<th>chat</th>" in html and "<td>Cost (USD/M tokens)</td>" in html


def test_a_rate_per_second_or_minute_is_headed_as_a_rate_not_a_duration():
    # rate_per_s ends with _s too: it was headed "Rate per (s)", a duration, in the batching chapter's sweep table
    from model.book.tables import infer_column

    assert infer_column("rate_per_s", pd.Series([2.0])) == Col("Rate", "/s", "number")
    assert infer_column("demand_requests_per_min", pd.Series([2.0])) == Col("Demand requests", "/min", "number")
    assert infer_column("duration_s", pd.Series([2.0])) == Col("Duration", "s", "number")
    assert list(table_frame(pd.DataFrame({"rate_per_s": [0.5], "wait_min": [3.0]})).columns) == [
        "Rate (/s)", "Wait (min)"]


def test_the_loading_message_of_an_interactive_table_names_no_notebook_cell():
    # itables 2.9 writes "Loading ITables v2.9.1 from the <code>init_notebook_mode</code> cell..." when not
    # connected; the book has no such cell: the reader sees a plain message until the table is drawn
    from model.book.tables import interactive_table

    html = interactive_table(pd.DataFrame({"claim": ["a"]})).html
    assert "init_notebook_mode" not in html and "from the internet" not in html
    assert html.count("Loading the interactive table…") == 1
    assert "\n        Loading the interactive table…\n        (need" in html
