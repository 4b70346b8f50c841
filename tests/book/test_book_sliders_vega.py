"""What-if charts through the real Vega engine (vl-convert): the KV chart's text marks at the default
position, and the what-if spec read back from a chart's HTML. Kept apart from ``test_book_sliders.py``
because vl-convert's engine does not run in a forked child, so ``make mutation`` leaves this file out of
``model/book/sliders.py``'s run (its mutants would each wait for the wall-clock net)."""

from model.book.sliders import rendered_texts

from test_book_sliders import _chart


def test_kv_chart_vega_engine_agrees():
    chart, _, _, want = _chart()
    assert rendered_texts(chart) == [f"{n:,} sessions" for n in want]


def test_what_if_specs_found_in_an_executed_notebook_and_checked():
    from model.book.charts import OfflineChart
    from model.book.sliders import default_mismatches, what_if_specs

    chart, _, _, want = _chart()
    html_text = OfflineChart(chart)._repr_html_()
    nb = {"cells": [{"cell_type": "code", "outputs": [{"output_type": "display_data",
                                                      "data": {"text/html": html_text}}]}]}
    specs = what_if_specs(nb)
    assert len(specs) == 1 and default_mismatches(specs[0]) == []
    specs[0]["usermeta"]["what_if"]["expected"]["sessions"] = [w + 1 for w in want]
    assert len(default_mismatches(specs[0])) == 4
