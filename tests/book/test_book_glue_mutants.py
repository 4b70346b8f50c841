"""model.book.glue by hand: the text glued for a value, the words comparing two numbers, a ratio and a count as
a reader says them, and the clause naming where a chapter's tables came from; every expected string written out
here. MyST-NB's ``glue`` is replaced by a stand-in that records its calls (no notebook runs)."""
import math
import sys
import types
from types import SimpleNamespace

import pytest

from model.book.glue import compare, count_phrase, glue, glue_all, glued_text, record_provenance, times


@pytest.fixture
def glued(monkeypatch):
    calls = []
    fake = types.ModuleType("myst_nb")
    fake.glue = lambda name, value, display=True: calls.append((name, value, display))
    monkeypatch.setitem(sys.modules, "myst_nb", fake)
    return calls


def test_glue_passes_the_finished_text_and_displays_nothing(glued):
    assert glue("a", 0.012345) is None
    glue("b", 2.5, ".2f")
    glue("c", "as written")
    assert glued == [("a", "0.0123", False), ("b", "2.50", False), ("c", "as written", False)]
    assert all(d is False for _, _, d in glued)


def test_glue_all_glues_every_value_with_the_one_format(glued):
    glue_all({"x": 1.0, "y": "s", "z": 12345.678}, ",.1f")
    assert glued == [("x", "1.0", False), ("y", "s", False), ("z", "12,345.7", False)]
    glued.clear()
    glue_all({"w": 0.5})
    assert glued == [("w", "0.5", False)]


def test_glued_text():
    assert glued_text("x") == "x"
    assert glued_text(0.012345) == "0.0123"  # three significant digits by default
    assert glued_text(2.0) == "2"
    assert glued_text(1234.56, ",.0f") == "1,235"
    assert glued_text(0.5, None) == "0.5"
    # the default ",.3g" writes 12,345 in exponent form, with a lower-case e: pass a format for large numbers
    assert glued_text(12345.0) == "1.23e+04"


def test_compare_words():
    assert compare(3.0, 2.0) == "more than"
    assert compare(1.0, 2.0) == "less than"
    # within 5% of b: 2.05 against 2 differs by 0.05 <= 0.1
    assert compare(2.05, 2.0) == "about the same as"
    assert compare(1.95, 2.0) == "about the same as"
    # the tolerance is of |b|: −2.05 against −2 is within 5% too
    assert compare(-2.05, -2.0) == "about the same as"
    assert compare(-3.0, -2.0) == "less than"
    # at the tolerance exactly (|3 − 2| = 0.5 x 2): the same
    assert compare(3.0, 2.0, rel_tol=0.5) == "about the same as"
    assert compare(3.0, 2.0, rel_tol=0.25) == "more than"
    assert compare(3.0, 2.0, more="above", less="below", same="at") == "above"
    assert compare(1.0, 2.0, more="above", less="below", same="at") == "below"
    assert compare(2.0, 2.0, more="above", less="below", same="at") == "at"
    for a, b in ((math.nan, 1.0), (1.0, math.nan), (math.inf, 1.0), (1.0, -math.inf)):
        assert compare(a, b) == "not comparable with"


@pytest.mark.parametrize("ratio, text", [
    (math.nan, "n/a"), (math.inf, "n/a"),
    (2.345, "×2.35"), (1.5, "×1.5"), (99.5, "×99.5"), (1234.4, "×1,234"), (250.0, "×250"),
    (1.33, "+33%"), (1.404, "+40%"), (1.0, "+0%"), (0.8, "−20%"), (0.5, "−50%"),
    (0.25, "×1/4"), (0.3, "×1/3.33"), (1 / 2500, "×1/2,500"), (0.0, "×0"), (-1.0, "×0"),
])
def test_times_by_hand(ratio, text):
    assert times(ratio) == text


@pytest.mark.parametrize("n, text", [
    (math.nan, "n/a"), (math.inf, "n/a"), (0.0, "none"), (0.99, "none"), (-3.0, "none"),
    (1.0, "one"), (1.9, "one"),
    (2.0, "2 (a handful)"), (9.0, "9 (a handful)"),
    (10.0, "10 (about a dozen)"), (19.0, "19 (about a dozen)"),
    (20.0, "20 (a few dozen)"), (99.0, "99 (a few dozen)"),
    (100.0, "100 (hundreds)"), (143.0, "143 (hundreds)"), (999.0, "999 (hundreds)"),
    (1000.0, "1,000 (thousands)"), (9999.0, "9,999 (thousands)"),
    (10000.0, "10,000 (tens of thousands or more)"), (2.5e6, "2,500,000 (tens of thousands or more)"),
])
def test_count_phrase_by_hand(n, text):
    assert count_phrase(n) == text


def test_record_provenance_names_the_record_or_the_run():
    rec = SimpleNamespace(name="chat_fleet", recorded="2026-12-01", command="make record")
    current = SimpleNamespace(from_record=True, record=rec, reason="fingerprint matches")
    assert record_provenance(current) == (
        "read from the record data/records/chat_fleet, made on 2026-12-01 (the fingerprint of the code and data it "
        "depends on is current; make record recomputes it)")
    stale = SimpleNamespace(from_record=True, record=rec, reason="stale: model/ttl.py changed")
    assert record_provenance(stale) == ("read from the record data/records/chat_fleet, which is out of date "
                                        "(stale: model/ttl.py changed)")
    run = SimpleNamespace(from_record=False, record=None, reason="no record")
    assert record_provenance(run) == "computed in this run (no record)"
