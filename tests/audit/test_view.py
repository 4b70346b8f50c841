import math

from model.audit.view import diff_text, figure_text


def test_difference_as_percent_near_one_and_times_beyond_two():
    assert diff_text(-0.2) == "−20.0%" and diff_text(0.05) == "+5.0%"
    assert diff_text(1.5) == "×2.5" and diff_text(-0.9) == "×1/10"
    assert diff_text(math.nan) == ""


def test_figure_text_marks_the_verdict():
    assert figure_text("1,630", "900", "count", "inconsistent") == "1,630 → 900 ✗"
    assert figure_text("99.95", "99.79", "%", "inconsistent") == "99.95% → 99.79% ✗"
    assert figure_text("200", "", "turns", "given") == "200 turns ="
