"""model.audit.verdicts, rule by rule, on figures worked out by hand: every branch of the verdict rule at and
beside its edges (ranges of either sign widened outward by the tolerance), unit conversions, range widths, the
display of numbers, the checks of a row (each error message in full), and the audit's columns, reasons and
carried inputs on rows built from the stated figures of data/claims."""

import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.audit import readings as R
from model.audit import verdicts as V
from model.audit.claims import stated_value
from model.audit.readings import Alt
from model.audit.verdicts import (GIVEN, INCONSISTENT_INPUTS, Computed, audit, convert, format_audit,
                                  judged_against, range_ratio, relative_difference, role_verdict, verdict_counts,
                                  verdict_for, verdict_glossary)
from model.checks import ParameterError


def _message(call):
    with pytest.raises(ParameterError) as e:
        call()
    return str(e.value)


# --- the verdict rule -------------------------------------------------------------------------------------------
def test_estimate_at_and_beside_the_tolerance():
    """|computed − stated| ÷ |stated| ≤ tolerance: 105 and 95 against 100 at 5% are in, 105.01 and 94.99 out."""
    assert verdict_for(100, 105, 0.05) == "consistent" and verdict_for(100, 95, 0.05) == "consistent"
    assert verdict_for(100, 105.01, 0.05) == "inconsistent" and verdict_for(100, 94.99, 0.05) == "inconsistent"
    assert verdict_for(-100, -104, 0.05) == "consistent" and verdict_for(-100, -106, 0.05) == "inconsistent"
    assert verdict_for(100, 104) == "consistent" and verdict_for(100, 106) == "inconsistent"   # default 5%
    # a stated 0: the computed figure itself must be within the tolerance of 0
    assert verdict_for(0, 0.05, 0.05) == "consistent" and verdict_for(0, -0.05, 0.05) == "consistent"
    assert verdict_for(0, 0.06, 0.05) == "inconsistent"
    assert verdict_for(1, 1.04, 0.05) == "consistent" and verdict_for(1, 0.5, 0.05) == "inconsistent"
    for missing in (math.nan, math.inf, None):
        assert verdict_for(100, missing) == "not reproducible"
        assert verdict_for(missing, 100) == "not reproducible"
        assert verdict_for(100, missing, kind="upper_bound") == "not reproducible"


def test_bounds_at_and_beside_the_tolerance():
    """Upper bound 200 at 5%: up to 210 consistent; lower bound 200: down to 190. Negative bounds widen by |b|."""
    assert verdict_for(210, 200, 0.05, "upper_bound") == "consistent"
    assert verdict_for(210.01, 200, 0.05, "upper_bound") == "impossible"
    assert verdict_for(-1e9, 200, 0.05, "upper_bound") == "consistent"
    assert verdict_for(-95, -100, 0.05, "upper_bound") == "consistent"      # −100 + 5
    assert verdict_for(-94.9, -100, 0.05, "upper_bound") == "impossible"
    assert verdict_for(190, 200, 0.05, "lower_bound") == "consistent"
    assert verdict_for(189.99, 200, 0.05, "lower_bound") == "impossible"
    assert verdict_for(1e9, 200, 0.05, "lower_bound") == "consistent"
    assert verdict_for(-105, -100, 0.05, "lower_bound") == "consistent"     # −100 − 5
    assert verdict_for(-105.1, -100, 0.05, "lower_bound") == "impossible"


def test_range_of_positive_ends():
    """1.85 to 2.52 at 5%: accepted from 1.85 × 0.95 = 1.7575 to 2.52 × 1.05 = 2.646 (ratio 1.36, decides)."""
    for s, want in ((1.7575, "consistent"), (1.757, "inconsistent"), (2.646, "consistent"), (2.647, "inconsistent"),
                    (2.2, "consistent")):
        assert verdict_for(s, math.nan, 0.05, "range", low=1.85, high=2.52) == want, s
    # the computed central figure plays no part; missing ends or a missing stated figure decide nothing
    assert verdict_for(2.2, 1e9, 0.05, "range", low=1.85, high=2.52) == "consistent"
    assert verdict_for(2.2, math.nan, 0.05, "range", low=1.85, high=None) == "not reproducible"
    assert verdict_for(2.2, math.nan, 0.05, "range", low=None, high=2.52) == "not reproducible"
    assert verdict_for(math.nan, math.nan, 0.05, "range", low=1.85, high=2.52) == "not reproducible"


def test_range_with_negative_ends_is_widened_outward():
    """−100 to −90 at 5%: accepted from −100 − 5 = −105 to −90 + 4.5 = −85.5 (a range widened inward, to −95 …
    −94.5, would reject −104 and −87); across 0, −10 to 20: from −10.5 to 21, never decisive."""
    for s, want in ((-104, "consistent"), (-105, "consistent"), (-105.01, "inconsistent"), (-87, "consistent"),
                    (-85.5, "consistent"), (-85.49, "inconsistent"), (-95, "consistent")):
        assert verdict_for(s, math.nan, 0.05, "range", low=-100, high=-90) == want, s
    assert verdict_for(-10.5, math.nan, 0.05, "range", low=-10, high=20) == "not reproducible"
    assert verdict_for(-10.6, math.nan, 0.05, "range", low=-10, high=20) == "inconsistent"
    assert verdict_for(21, math.nan, 0.05, "range", low=-10, high=20) == "not reproducible"
    assert verdict_for(21.1, math.nan, 0.05, "range", low=-10, high=20) == "inconsistent"


def test_range_width_decides_at_the_rule():
    """A range is decisive up to high ÷ low = 1.5 (data/claims/rules.csv) inclusive, or up to max_ratio."""
    assert V.RANGE_DECISIVE_RATIO == 1.5
    assert verdict_for(2.5, math.nan, 0.05, "range", low=2.0, high=3.0) == "consistent"            # 1.5
    assert verdict_for(2.5, math.nan, 0.05, "range", low=2.0, high=3.0001) == "not reproducible"
    assert verdict_for(2.5, math.nan, 0.05, "range", low=2.0, high=3.0, max_ratio=1.49) == "not reproducible"
    assert verdict_for(2.5, math.nan, 0.05, "range", low=2.0, high=4.0, max_ratio=2.0) == "consistent"
    assert verdict_for(-2.5, math.nan, 0.05, "range", low=-3.0, high=-2.0) == "consistent"
    assert _message(lambda: verdict_for(1, 1, kind="between")) == (
        "kind='between' is not allowed: kind must be one of 'estimate', 'upper_bound', 'lower_bound', 'range'")


def test_range_ratio_by_hand():
    assert range_ratio(2.0, 3.0) == 1.5 and range_ratio(3.0, 2.0) == 1.5
    assert range_ratio(-3.0, -2.0) == 1.5 and range_ratio(-2.0, -3.0) == 1.5
    assert range_ratio(4.0, 4.0) == 1.0
    assert range_ratio(1.0, 2.0) == 2.0 and range_ratio(0.5, 1.0) == 2.0          # ends at 1 are not 0
    assert range_ratio(0.5, 2.0) == 4.0 and range_ratio(2.0, 0.5) == 4.0
    for lo, hi in ((0.0, 2.0), (-2.0, 0.0), (0.0, 0.0), (-1.0, 2.0), (1.0, -2.0)):
        assert range_ratio(lo, hi) == math.inf, (lo, hi)
    for lo, hi in ((math.nan, 2.0), (None, 2.0), (1.0, None), (None, None), (1.0, math.inf), (math.inf, 1.0)):
        assert math.isnan(range_ratio(lo, hi)), (lo, hi)


def test_relative_difference_by_hand():
    assert relative_difference(100, 105) == 0.05 and relative_difference(-100, -105) == -0.05
    assert relative_difference(-100, -95) == 0.05 and relative_difference(4, 3) == -0.25
    assert relative_difference(1, 2) == 1.0 and relative_difference(1, 1) == 0.0
    for s, c in ((0, 1), (None, 1), (1, None), (math.nan, 1), (1, math.inf), (math.inf, 1)):
        assert math.isnan(relative_difference(s, c)), (s, c)


def test_convert_every_unit_by_hand():
    assert convert(7, "bytes", "bytes") == 7 and convert(7, "GB", "GB") == 7
    assert convert(7, "nonsense", "nonsense") == 7
    for unit, bytes_ in (("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("PB", 1e15), ("KiB", 1024.0),
                         ("GiB", 1073741824.0)):
        assert_allclose(convert(3, unit, "bytes"), 3 * bytes_, rtol=1e-15)
        assert_allclose(convert(3 * bytes_, "bytes", unit), 3, rtol=1e-15)
    assert_allclose(convert(1, "GiB", "GB"), 1.073741824, rtol=1e-15)
    assert_allclose(convert(2, "TB", "GB"), 2000, rtol=1e-15)
    for unit, s in (("ms", 1e-3), ("min", 60.0), ("h", 3600.0)):
        assert_allclose(convert(5, unit, "s"), 5 * s, rtol=1e-15)
    assert_allclose(convert(90, "min", "h"), 1.5, rtol=1e-15)
    assert_allclose(convert(250, "ms", "min"), 250e-3 / 60, rtol=1e-15)
    allowed = "unit must be a pair of units of one family"
    assert _message(lambda: convert(1, "GB", "s")) == f"unit='GB -> s' is not allowed: {allowed}"
    assert _message(lambda: convert(1, "GB", "parsec")) == f"unit='GB -> parsec' is not allowed: {allowed}"
    assert _message(lambda: convert(1, "USD", "GB")) == f"unit='USD -> GB' is not allowed: {allowed}"


def test_role_verdict_for_every_role():
    for role in V.GIVEN_ROLES:
        assert role_verdict(role) == GIVEN
    for role in V.NOT_REPRODUCIBLE_ROLES:
        assert role_verdict(role) == "not reproducible"
    assert role_verdict("computed") is None
    assert _message(lambda: role_verdict("guess")).startswith(
        "role='guess' is not allowed: role must be one of 'computed', 'input', 'design input', 'threshold'")


def test_numbers_for_display():
    """Four significant digits, thousands separated, no trailing zeros, never an exponent."""
    cases = {0: "0", 0.0: "0", 1: "1", 1234.5: "1,234", 12345.6: "12,346", 1.5: "1.5", 0.012344: "0.01234",
             -2.25: "-2.25", 2.0: "2", 100: "100", 123456789: "123,456,789", 1e-5: "0.00001", 9.99996: "10",
             0.5: "0.5", 10.0: "10", 1000.0: "1,000"}
    for v, text in cases.items():
        assert V._num(v) == text, v
    for missing in (None, math.nan, math.inf, -math.inf):
        assert V._num(missing) == ""


# --- a row's checks ---------------------------------------------------------------------------------------------
CID = "t3.vllm.p95_latency"            # stated 2.2 s


@pytest.mark.parametrize("kwargs, message", [
    (dict(kind="between"),
     "kind='between' is not allowed: kind must be one of 'estimate', 'upper_bound', 'lower_bound', 'range'"),
    (dict(verdict="consistent"),
     "verdict='consistent' is not allowed: verdict must be one of 'given', 'not reproducible'"),
    (dict(verdict="given"),
     "role='computed' is not allowed: role must be the kind of figure that is 'given': one of ['definition', "
     "'design input', 'input', 'interval', 'reading', 'restatement', 'threshold']"),
    (dict(verdict="not reproducible", role="input"),
     "role='input' is not allowed: role must be the kind of figure that is 'not reproducible': one of "
     "['forecast', 'measurement', 'qualitative', 'unpublished']"),
    (dict(role="restatement"),
     "restates=None is not allowed: restates must be the claim restated, for role='restatement' only"),
    (dict(restates="t3.hf.p95_latency"),
     "restates='t3.hf.p95_latency' is not allowed: restates must be the claim restated, for role='restatement' only"),
    (dict(tolerance=0.0), "tolerance=0.0 is not allowed: tolerance must be a finite number in (0, inf]"),
    (dict(how=""), "how='' is not allowed: how must be a non-empty one-line reason"),
    (dict(kind="range", low=3.0, high=2.0, depends_on="x"),
     "low, high=(3.0, 2.0) is not allowed: low, high must be two numbers with low <= high for kind='range'"),
    (dict(kind="range", low=None, high=2.0, depends_on="x"),
     "low, high=(None, 2.0) is not allowed: low, high must be two numbers with low <= high for kind='range'"),
    (dict(kind="range", low=1.0, high=None, depends_on="x"),
     "low, high=(1.0, None) is not allowed: low, high must be two numbers with low <= high for kind='range'"),
    (dict(kind="range", low=math.nan, high=2.0, depends_on="x"),
     "low, high=(nan, 2.0) is not allowed: low, high must be two numbers with low <= high for kind='range'"),
    (dict(kind="range", low=1.0, high=2.0),
     "depends_on='' is not allowed: depends_on must be the open choice the range spans, for kind='range'"),
    (dict(low=1.0), "low, high=(1.0, None) is not allowed: low, high must be None unless kind='range'"),
    (dict(high=1.0), "low, high=(None, 1.0) is not allowed: low, high must be None unless kind='range'"),
    (dict(kind="upper_bound"),
     "holds_under='' is not allowed: holds_under must be why the bound holds under every mechanism the source describes"),
    (dict(kind="lower_bound"),
     "holds_under='' is not allowed: holds_under must be why the bound holds under every mechanism the source describes"),
    (dict(readings=("nonsense",)), None),
    (dict(under={"ab": Alt(1.0)}), "under='ab' is not allowed: under must be (quantity, alternative) keys"),
    (dict(under={"tokens_per_turn": Alt(1.0)}),
     "under='tokens_per_turn' is not allowed: under must be (quantity, alternative) keys"),
    (dict(under={("tokens_per_turn", "s1_50", "x"): Alt(1.0)}),
     "under=('tokens_per_turn', 's1_50', 'x') is not allowed: under must be (quantity, alternative) keys"),
    (dict(under={("nonsense", "s1_50"): Alt(1.0)}), None),
    (dict(under={("tokens_per_turn", "s8_100"): Alt(1.0)}),
     "under=('tokens_per_turn', 's8_100') is not allowed: under must be an alternative of tokens_per_turn other "
     "than the audit's (['s1_50', 's2_500'])"),
    (dict(under={("tokens_per_turn", "s1_50"): 1.0}),
     "under=('tokens_per_turn', 's1_50') is not allowed: under must be an Alt (the figure under that reading)"),
    (dict(under={("tokens_per_turn", "s1_50"): Alt(1.0, kind="between")}),
     "under kind='between' is not allowed: under kind must be one of 'estimate', 'upper_bound', 'lower_bound', "
     "'range'"),
    (dict(under={("tokens_per_turn", "s1_50"): Alt(1.0, low=1.0, high=2.0)}),
     "under=('tokens_per_turn', 's1_50') is not allowed: under must be low and high exactly when the figure is a "
     "range"),
    (dict(under={("tokens_per_turn", "s1_50"): Alt(1.0, low=1.0, kind="range")}),
     "under=('tokens_per_turn', 's1_50') is not allowed: under must be low and high exactly when the figure is a "
     "range"),
    (dict(under={("tokens_per_turn", "s1_50"): Alt(1.0, high=1.0, kind="range")}),
     "under=('tokens_per_turn', 's1_50') is not allowed: under must be low and high exactly when the figure is a "
     "range"),
])
def test_a_row_is_checked_with_one_line_naming_the_field(kwargs, message):
    kw = dict(kwargs)                 # the parameters are shared by every run of the test: not popped in place
    how = kw.pop("how", "x")
    got = _message(lambda: Computed(CID, 2.0, "s", how, **kw))
    if message is None:       # an unknown quantity: the register's quantities listed
        name = "readings" if "readings" in kwargs else "under quantity"
        assert got.startswith(f"{name}='nonsense' is not allowed: {name} must be one of ")
        assert all(repr(q) in got for q in R.quantities())
    else:
        assert got == message


def test_a_row_whose_alt_is_tagged_with_another_alternative():
    wrong = Alt(2 * R.tokens_per_turn("s2_500"))
    assert _message(lambda: Computed(CID, 2.0, "s", "x", under={("tokens_per_turn", "s1_50"): wrong})) == (
        "under=('tokens_per_turn', 's1_50') is not allowed: under must be a figure computed under s1_50, not "
        "[('tokens_per_turn', 's2_500')]")
    for low, high in ((wrong.value, 1e9), (1.0, wrong.value)):     # the ends of a range are checked too
        alt = Alt(math.nan, low=low, high=high, kind="range")
        assert "computed under s1_50, not [('tokens_per_turn', 's2_500')]" in _message(
            lambda: Computed(CID, 2.0, "s", "x", under={("tokens_per_turn", "s1_50"): alt}))
    # tagged with its own alternative (or another quantity's): accepted
    ok = Computed(CID, 2.0, "s", "x", under={("tokens_per_turn", "s1_50"): Alt(2 * R.tokens_per_turn("s1_50"))})
    assert ok.under_map[("tokens_per_turn", "s1_50")].value == 2 * R.tokens_per_turn("s1_50")


def test_a_valid_row_keeps_its_fields():
    rng = Computed(CID, 2.0, "s", "x", kind="range", low=2.0, high=2.0, depends_on="d")
    assert (rng.low, rng.high, rng.verdict) == (2.0, 2.0, None)
    alt_range = Computed(CID, 2.0, "s", "x", kind="range", low=1.0, high=3.0, depends_on="d",
                         under={("tokens_per_turn", "s1_50"): Alt(math.nan, low=1.0, high=2.0)})
    assert alt_range.under == ((("tokens_per_turn", "s1_50"), Alt(math.nan, low=1.0, high=2.0)),)
    # an Alt of another kind than the row's: an estimate under a range row, a range under an estimate row
    Computed(CID, 2.0, "s", "x", kind="range", low=1.0, high=3.0, depends_on="d",
             under={("tokens_per_turn", "s1_50"): Alt(1.0, kind="estimate")})
    Computed(CID, 2.0, "s", "x", under={("tokens_per_turn", "s1_50"): Alt(1.0, low=1.0, high=2.0, kind="range")})
    given = Computed(CID, 2.0, "s", "x", role="input", verdict="given")
    assert given.verdict == GIVEN
    assert Computed(CID, 2.0, "s", "x", role="measurement").verdict == "not reproducible"
    assert Computed(CID, 2.0, "s", "x").verdict is None
    # under given as a tuple of pairs is the same as the mapping, sorted
    pairs = ((("tokens_per_turn", "s2_500"), Alt(3.0)), (("tokens_per_turn", "s1_50"), Alt(4.0)))
    c = Computed(CID, 2.0, "s", "x", under=pairs)
    assert [k for k, _ in c.under] == [("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")]
    assert c.under_map == dict(pairs)
    # the claims read: declared, tracked in the value, and in the ends of a range
    r = Computed(CID, stated_value("t3.hf.p95_latency") * 1.0, "s", "x", kind="range",
                 low=stated_value("t3.vllm.sessions_per_gpu") * 0 + 1, high=stated_value("t4.cb.throughput") * 0 + 3,
                 depends_on="d", reads=("t2.openai.price",))
    assert r.claim_ids_read == ("t2.openai.price", "t3.hf.p95_latency", "t3.vllm.sessions_per_gpu",
                                "t4.cb.throughput")
    assert r.reading_tags == frozenset()
    tagged = Computed(CID, 2 * R.tokens_per_turn(), "s", "x")
    assert tagged.reading_tags == frozenset({("tokens_per_turn", "s8_100")})


# --- what a row was judged against, for display ------------------------------------------------------------------
@pytest.mark.parametrize("row, text", [
    (dict(tolerance=0.05, kind="estimate", verdict="consistent"), "± 5%"),
    (dict(tolerance=0.125, kind="estimate", verdict="inconsistent", role="reading"), "± 12%"),
    (dict(tolerance=0.05, kind="upper_bound", verdict="impossible"), "at most the bound + 5%"),
    (dict(tolerance=0.05, kind="lower_bound", verdict="consistent"), "at least the bound − 5%"),
    (dict(tolerance=0.05, kind="range", verdict="consistent", low=2.0, high=3.0, range_ratio=1.5),
     "range 2 to 3 ± 5% (high ÷ low 1.5 ≤ 1.5)"),
    (dict(tolerance=0.05, kind="range", verdict="not reproducible", low=1.0, high=1234.5, range_ratio=1234.5),
     "range 1 to 1,234 ± 5% (high ÷ low 1.23e+03 > 1.5)"),
    (dict(tolerance=0.05, kind="range", verdict="consistent", low=2.0, high=2.5),
     "range 2 to 2.5 ± 5% (high ÷ low 1.25 ≤ 1.5)"),
    (dict(tolerance=0.05, kind="range", verdict="not reproducible", low=-1.0, high=1.0, range_ratio=math.nan),
     "range -1 to 1 ± 5%"),
    (dict(tolerance=0.05, kind="estimate", verdict=GIVEN, role="computed"), ""),
    (dict(tolerance=0.05, kind="estimate", verdict=GIVEN, role="input"), ""),
    (dict(tolerance=0.05, kind="estimate", verdict="not reproducible", role="measurement"), ""),
    (dict(tolerance=0.05, kind="estimate", verdict="consistent", role="computed"), "± 5%"),
    (dict(tolerance=math.nan, kind="estimate", verdict="consistent"), ""),
    (dict(kind="estimate", verdict="consistent"), ""),
])
def test_judged_against(row, text):
    assert judged_against(pd.Series(row)) == text


# --- the audit ---------------------------------------------------------------------------------------------------
def test_audit_columns_of_one_row_by_hand():
    """T3's vLLM P95 of 2.2 s against a computed 2,300 ms (2.3 s): difference 0.1 s, +4.5%, consistent at 5%."""
    row = audit([Computed(CID, 2300, "ms", "a model call.", tolerance=0.05)]).iloc[0]
    assert list(row.index) == V.AUDIT_COLUMNS
    expect = {"claim_id": CID, "table": "T3", "row": "vLLM", "column": "latency (P95)", "stated_value": 2.2,
              "unit": "s", "kind": "estimate", "verdict": "consistent", "role": "computed", "restates": "",
              "readings": "", "verdict_by_reading": "", "changed_by_readings": "", "inputs_flagged": "",
              "holds_under": "", "reason": "a model call.", "reads": "", "depends_on": ""}
    for k, v in expect.items():
        assert row[k] == v, k
    assert_allclose([row["computed_value"], row["difference"], row["relative_difference"], row["tolerance"]],
                    [2.3, 0.1, 0.1 / 2.2, 0.05], rtol=1e-12)
    assert math.isnan(row["low"]) and math.isnan(row["high"]) and math.isnan(row["range_ratio"])
    assert not row["read_back"] and not row["verdict_depends_on_reading"]
    assert row["quote"] == "| **レイテンシ（P95）** | 3.5秒 | **2.2秒** |"
    # the default tolerance is the study's 5%; a row's own tolerance replaces it
    assert audit([Computed(CID, 2.3, "s", "x")]).iloc[0]["tolerance"] == 0.05
    assert audit([Computed(CID, 2.5, "s", "x", tolerance=0.2)]).iloc[0]["verdict"] == "consistent"
    assert audit([Computed(CID, 2.5, "s", "x")]).iloc[0]["verdict"] == "inconsistent"


def test_audit_of_a_range_in_another_unit():
    """A range of 1,850 to 2,520 ms judged in the claim's seconds; the central figure may be missing."""
    row = audit([Computed(CID, math.nan, "ms", "simulated", kind="range", low=1850, high=2520,
                          depends_on="the GPUs per copy")]).iloc[0]
    assert row["verdict"] == "consistent" and row["low"] == 1.85 and row["high"] == 2.52
    assert_allclose(row["range_ratio"], 2.52 / 1.85, rtol=1e-12)
    assert math.isnan(row["computed_value"]) and math.isnan(row["difference"])
    assert math.isnan(row["relative_difference"])
    assert row["reason"] == "simulated." and row["depends_on"] == "the GPUs per copy"
    wide = audit([Computed(CID, 2.0, "s", "simulated.", kind="range", low=1.0, high=3.0,
                           depends_on="the GPUs per copy")]).iloc[0]
    assert wide["verdict"] == "not reproducible"
    assert wide["reason"] == ("simulated. Not reproducible: depends on the GPUs per copy (the model's range 1 to 3, "
                              "high ÷ low = 3 > 1.5).")
    assert_allclose(wide["difference"], -0.2, rtol=1e-12)
    # a range row of a given role names no choice in its reason
    given = audit([Computed(CID, 2.0, "s", "x", kind="range", low=1.0, high=3.0, depends_on="d", role="input")])
    assert given.iloc[0]["reason"] == "x." and given.iloc[0]["verdict"] == GIVEN
    assert math.isnan(given.iloc[0]["tolerance"])


def test_audit_of_bounds_and_given_rows():
    row = audit([Computed("t4.cb.throughput", 2000, "requests/min", "compute bound.", kind="upper_bound",
                          holds_under="FP16, any batch.")]).iloc[0]
    assert row["verdict"] == "consistent" and row["holds_under"] == "FP16, any batch."
    assert row["reason"] == "compute bound. The bound holds under FP16, any batch."
    low = audit([Computed("t4.cb.throughput", 1.9e3, "requests/min", "floor", kind="lower_bound",
                          holds_under="any batch")]).iloc[0]
    assert low["verdict"] == "consistent" and low["reason"] == "floor. The bound holds under any batch."
    meas = audit([Computed(CID, math.nan, "s", "measured", role="measurement")]).iloc[0]
    assert meas["verdict"] == "not reproducible" and math.isnan(meas["tolerance"])
    assert math.isnan(meas["computed_value"]) and math.isnan(meas["difference"])
    rd = audit([Computed(CID, None, "s", "no figure", role="qualitative")]).iloc[0]
    assert math.isnan(rd["computed_value"]) and rd["verdict"] == "not reproducible"


def test_audit_counts_and_display():
    t = audit([Computed(CID, 2.3, "s", "a"), Computed("t4.cb.throughput", 1000, "requests/min", "b"),
               Computed("t3.hf.sessions_per_gpu", 57, "count", "c", role="input")])
    counts = verdict_counts(t)
    assert list(counts.index) == list(V.VERDICTS)
    assert list(counts) == [1, 0, 1, 0, 0, 1]
    shown = format_audit(t)
    assert list(shown.columns) == ["claim", "row", "column", "stated", "computed", "unit", "difference",
                                   "judged against", "verdict", "reason"]
    assert list(shown["claim"]) == [CID, "t4.cb.throughput", "t3.hf.sessions_per_gpu"]
    assert list(shown["stated"]) == ["2.2", "1,840", "57"]
    assert list(shown["computed"]) == ["2.3", "1,000", "57"]
    assert list(shown["difference"]) == ["+4.5%", "-45.7%", "+0.0%"]
    assert list(shown["judged against"]) == ["± 5%", "± 5%", ""]
    assert list(shown["row"]) == ["vLLM", "Continuous Batching", "HuggingFace Transformers"]
    assert list(shown["unit"]) == ["s", "requests/min", "count"]
    nan = audit([Computed(CID, math.nan, "s", "m", role="measurement")])
    assert list(format_audit(nan)["difference"]) == [""]
    empty = format_audit(t.iloc[:0])
    assert len(empty) == 0 and list(empty.columns) == list(shown.columns)


def test_verdict_glossary_table():
    g = verdict_glossary()
    assert list(g.columns) == ["term", "kind", "meaning"]
    assert list(g["term"]) == list(V.VERDICTS) + list(V.ROLES)
    assert list(g["kind"]) == ["verdict"] * len(V.VERDICTS) + ["kind of row"] * len(V.ROLES)
    by = g.set_index("term")["meaning"]
    assert by["consistent"] == V.VERDICT_GLOSSARY["consistent"]
    assert by["computed"] == "Computed by the model or the arithmetic: the numbers decide; its verdict follows from " \
                             "the numbers."
    assert by["input"] == ("A figure of the scenario or the service the source takes as given (sessions, users, "
                           "shares, prices); always given.")
    assert by["forecast"] == "A forecast of the roadmap; always not reproducible."


# --- the audit's checks, each message in full ----------------------------------------------------------------------
def test_audit_of_no_rows_has_the_columns():
    t = audit([])
    assert list(t.columns) == V.AUDIT_COLUMNS and len(t) == 0


def test_audit_errors_in_full():
    hf = "t3.hf.sessions_per_gpu"
    assert _message(lambda: audit([Computed(hf, 1, "count", "a"), Computed(hf, 2, "count", "b")])) == (
        "computed='t3.hf.sessions_per_gpu' is not allowed: computed must be each claim_id once")
    assert _message(lambda: audit([Computed(hf, stated_value(hf), "count", "the stated figure")])) == (
        "Computed('t3.hf.sessions_per_gpu').value='stated figure t3.hf.sessions_per_gpu read back' is not allowed: "
        "Computed('t3.hf.sessions_per_gpu').value must be a value reached by a model call or arithmetic, or a given "
        "role")
    assert _message(lambda: audit([Computed(CID, 2.2, "s", "x", role="reading")])) == (
        "Computed('t3.vllm.p95_latency').role='reading' is not allowed: Computed('t3.vllm.p95_latency').role must be "
        "a reading set by this figure")
    sets = "l8.naive.tokens_per_turn"
    assert _message(lambda: audit([Computed(sets, R.tokens_per_turn(), "tokens", "§8", under=_under_turns(1))])) == (
        "Computed('l8.naive.tokens_per_turn').role='computed' is not allowed: Computed('l8.naive.tokens_per_turn')."
        "role must be 'reading': it sets the audit's reading [('tokens_per_turn', 's8_100')]")
    ctx = "l8.naive.context_tokens"
    assert _message(lambda: audit([Computed(ctx, 200 * R.tokens_per_turn(), "tokens", "x")])) == (
        "Computed('l8.naive.context_tokens').under='no figure under tokens_per_turn=s1_50' is not allowed: "
        "Computed('l8.naive.context_tokens').under must be the figure under every alternative of tokens_per_turn "
        "(['s1_50', 's2_500'])")
    assert _message(lambda: audit([Computed(ctx, 200 * R.tokens_per_turn("s1_50"), "tokens", "x")])) == (
        "Computed('l8.naive.context_tokens').value='computed under tokens_per_turn=s1_50' is not allowed: "
        "Computed('l8.naive.context_tokens').value must be the audit's reading tokens_per_turn=s8_100 (give the "
        "figure under s1_50 in `under`, where the audit names it)")
    # a quantity named only in `readings`, or the figure that sets another alternative, needs the others too
    assert "no figure under tokens_per_turn=s1_50" in _message(
        lambda: audit([Computed(ctx, 2e4, "tokens", "x", readings=("tokens_per_turn",))]))
    assert "no figure under tokens_per_turn=s1_50" in _message(
        lambda: audit([Computed("t2.arith.tokens_per_turn", 500.0, "tokens", "x")]))


# --- readings ----------------------------------------------------------------------------------------------------
def _under_turns(scale=200):
    """A figure of ``scale`` × tokens a turn under §1's 50 (an estimate) and, under §2's 500, a range of 15,000 to
    21,000 (high ÷ low 1.4: decisive) with no central figure."""
    return {("tokens_per_turn", "s1_50"): Alt(scale * R.tokens_per_turn("s1_50")),
            ("tokens_per_turn", "s2_500"): Alt(math.nan, low=15000.0, high=21000.0, kind="range")}


def test_a_row_under_each_reading_by_hand():
    """§8's 20,000 tokens: 200 × 100 (the audit's reading, consistent); 200 × 50 = 10,000 under s1_50
    (inconsistent); inside 15,000–21,000 under s2_500 (consistent). Latency's other reading changes nothing."""
    rows = [Computed("l8.naive.context_tokens", 200 * R.tokens_per_turn(), "tokens", "200 turns × 100 tokens",
                     readings=("latency",), under={**_under_turns(), ("latency", "ttft"): Alt(20000.0)}),
            Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn(), "tokens", "the same, for model X.",
                     readings=("latency",), under={**_under_turns(), ("latency", "ttft"): Alt(30000.0)})]
    t = audit(rows).set_index("claim_id")
    a, b = t.loc["l8.naive.context_tokens"], t.loc["l8.effect.tokens_before"]
    assert a["verdict"] == b["verdict"] == "consistent"
    assert a["readings"] == "latency=e2e; tokens_per_turn=s8_100"
    assert a["verdict_by_reading"] == (
        "latency — e2e (the audit's): consistent, 20,000; ttft: consistent, 20,000 | tokens_per_turn — s8_100 (the "
        "audit's): consistent, 20,000; s1_50: inconsistent, 10,000; s2_500: consistent (15,000 to 21,000)")
    assert a["changed_by_readings"] == "tokens_per_turn" and bool(a["verdict_depends_on_reading"])
    turns = ("consistent under tokens_per_turn=s8_100 (§8's 100 tokens a turn; the audit's), inconsistent under "
             "s1_50 (§1's 10K tokens over 200 turns): 10,000, consistent under s2_500 (§2's 500 tokens a turn) "
             "(15,000 to 21,000)")
    assert a["reason"] == f"200 turns × 100 tokens. Readings: {turns}."
    assert b["changed_by_readings"] == "latency tokens_per_turn"
    assert b["reason"] == ("the same, for model X. Readings: consistent under latency=e2e (request to last token; the "
                           "audit's), inconsistent under ttft (request to first token): 30,000; " + turns + ".")


def test_a_given_row_keeps_its_label_under_every_reading():
    row = audit([Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn(), "tokens", "x", role="input",
                          under=_under_turns())]).iloc[0]
    assert row["verdict"] == GIVEN and row["changed_by_readings"] == "" and not row["verdict_depends_on_reading"]
    assert row["verdict_by_reading"] == ("tokens_per_turn — s8_100 (the audit's): given, 20,000; s1_50: given, "
                                         "10,000; s2_500: given (15,000 to 21,000)")
    assert row["reason"] == "x." and math.isnan(row["tolerance"])


def test_the_reading_row_is_judged_under_the_others():
    under = {("tokens_per_turn", a): Alt(R.tokens_per_turn(a)) for a in R.other_readings("tokens_per_turn")}
    row = audit([Computed("l8.naive.tokens_per_turn", R.tokens_per_turn(), "tokens", "§8", role="reading",
                          under=under)]).iloc[0]
    assert row["verdict"] == GIVEN and row["tolerance"] == 0.05
    assert row["verdict_by_reading"] == ("tokens_per_turn — s8_100 (the audit's): given, 100; s1_50: "
                                         "inconsistent, 50; s2_500: inconsistent, 500")
    # §1's 10K tokens (with its 200 turns) set s1_50: given under it, judged under s2_500
    first = audit([Computed("t1.s1_challenge.history_tokens", 200 * R.tokens_per_turn(), "tokens", "200 × 100",
                            under={("tokens_per_turn", "s2_500"): Alt(10000.0)})]).iloc[0]
    assert first["verdict"] == "inconsistent"
    assert first["verdict_by_reading"] == ("tokens_per_turn — s8_100 (the audit's): inconsistent, 20,000; s1_50: "
                                           "given; s2_500: consistent, 10,000")


def test_an_alternative_in_another_unit():
    """2,200 ms against T3's 2.2 s; under TTFT a range of 1,000–1,400 ms (1 to 1.4 s), outside 2.2 s even widened."""
    row = audit([Computed(CID, 2200.0, "ms", "x", readings=("latency",),
                          under={("latency", "ttft"): Alt(math.nan, low=1000.0, high=1400.0, kind="range")})]).iloc[0]
    assert row["verdict"] == "consistent"
    assert row["verdict_by_reading"] == ("latency — e2e (the audit's): consistent, 2.2; ttft: inconsistent "
                                         "(1 to 1.4)")
    inside = audit([Computed(CID, 2200.0, "ms", "x", readings=("latency",),
                             under={("latency", "ttft"): Alt(math.nan, low=2000.0, high=2400.0, kind="range")})])
    assert inside.iloc[0]["verdict_by_reading"].endswith("ttft: consistent (2 to 2.4)")


# --- inputs carried through ----------------------------------------------------------------------------------------
def test_failing_inputs_named_with_their_readings():
    """A row that reads two figures failing in their own rows (given as inputs): its consistent arithmetic and its
    consistent alternatives become "consistent arithmetic, inconsistent inputs"."""
    failing = {"t2.arith.tokens_per_month": "inconsistent", "t2.openai.price": "impossible"}
    row = audit([Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn(), "tokens", "x",
                          reads=tuple(failing), under=_under_turns())], inputs=failing).iloc[0]
    assert row["verdict"] == INCONSISTENT_INPUTS
    assert row["inputs_flagged"] == "t2.arith.tokens_per_month t2.openai.price"
    assert row["verdict_by_reading"] == (
        f"tokens_per_turn — s8_100 (the audit's): {INCONSISTENT_INPUTS}, 20,000; s1_50: inconsistent, 10,000; "
        f"s2_500: {INCONSISTENT_INPUTS} (15,000 to 21,000)")
    assert row["reason"] == (
        "x. The arithmetic holds but rests on t2.arith.tokens_per_month (inconsistent), t2.openai.price "
        f"(impossible). Readings: {INCONSISTENT_INPUTS} under tokens_per_turn=s8_100 (§8's 100 tokens a turn; the "
        "audit's), inconsistent under s1_50 (§1's 10K tokens over 200 turns): 10,000, "
        f"{INCONSISTENT_INPUTS} under s2_500 (§2's 500 tokens a turn) (15,000 to 21,000).")
    # a row that fails by itself is not said to rest on its inputs, though they are listed
    own = audit([Computed(CID, 9.0, "s", "x", reads=("t2.openai.price",))], inputs=failing).iloc[0]
    assert own["verdict"] == "inconsistent" and own["inputs_flagged"] == "t2.openai.price" and own["reason"] == "x."


@pytest.mark.parametrize("verdict", ["consistent", GIVEN, "not reproducible", "unknown"])
def test_inputs_that_do_not_fail(verdict):
    row = audit([Computed(CID, 2.2 * 1.0, "s", "x", reads=("t2.openai.price",))],
                inputs={"t2.openai.price": verdict}).iloc[0]
    assert row["verdict"] == "consistent" and row["inputs_flagged"] == ""


def test_failure_carried_through_restatements_and_a_second_pass():
    """t4.cb.gpus_for_1m fails (200,000 against 1,630); t5.effect.gpus_before restates it and
    t4.problem.wasted_share restates that; t5.effect.gpu_change reads the second restatement, and
    t12.gross_margin.improvement, listed first, reads t5.effect.gpu_change: it fails only in a second pass."""
    rows = [Computed("t12.gross_margin.improvement", stated_value("t12.gross_margin.improvement") * 1.0, "%", "y",
                     reads=("t5.effect.gpu_change",)),
            Computed("t4.cb.gpus_for_1m", 2e5, "count", "the model's fleet"),
            Computed("t5.effect.gpus_before", stated_value("t4.cb.gpus_for_1m"), "count", "restates",
                     role="restatement", restates="t4.cb.gpus_for_1m"),
            Computed("t4.problem.wasted_share", stated_value("t5.effect.gpus_before"), "%", "restates",
                     role="restatement", restates="t5.effect.gpus_before"),
            Computed("t5.effect.gpu_change", stated_value("t5.effect.gpu_change") * 1.0, "%", "x",
                     reads=("t4.problem.wasted_share",))]
    t = audit(rows).set_index("claim_id")
    assert list(t["verdict"]) == [INCONSISTENT_INPUTS, "inconsistent", GIVEN, GIVEN, INCONSISTENT_INPUTS]
    assert t.loc["t4.problem.wasted_share", "restates"] == "t5.effect.gpus_before"
    assert t.loc["t5.effect.gpu_change", "reason"] == (
        "x. The arithmetic holds but rests on t4.problem.wasted_share (restating t5.effect.gpus_before (restating "
        "t4.cb.gpus_for_1m (inconsistent))).")
    assert t.loc["t12.gross_margin.improvement", "reason"] == (
        f"y. The arithmetic holds but rests on t5.effect.gpu_change ({INCONSISTENT_INPUTS}).")


def test_restatements_in_a_cycle_are_unchecked():
    """Two figures restating each other fail nowhere: a row reading them stays consistent (and the walk ends)."""
    rows = [Computed("t4.problem.wasted_share", stated_value("t6.north_america.user_share"), "%", "r",
                     role="restatement", restates="t6.north_america.user_share"),
            Computed("t6.north_america.user_share", stated_value("t4.problem.wasted_share"), "%", "r",
                     role="restatement", restates="t4.problem.wasted_share"),
            Computed(CID, 2.2 * 1.0, "s", "x", reads=("t4.problem.wasted_share",))]
    assert list(audit(rows)["verdict"]) == [GIVEN, GIVEN, "consistent"]


# --- figures of one quantity ----------------------------------------------------------------------------------------
@pytest.fixture
def fake_claims(monkeypatch):
    """Three stated figures of one quantity, 10,000, 20,000 and 20,000 widgets, and a pair at 100 and 105."""
    stated = {"x.a": 10000.0, "x.b": 20000.0, "x.c": 20000.0, "y.a": 100.0, "y.b": 105.0}
    monkeypatch.setattr(V, "claim", lambda cid: {"table": "X", "row": "r", "column": "c", "unit": "count",
                                                 "stated_value": stated[cid], "quote": "q"})
    groups = pd.DataFrame({"group": ["gx", "gy"], "claim_ids": ["x.a x.b x.c", "y.a y.b"],
                           "quantity": ["widgets", "gadgets"], "note": ["", ""]})
    monkeypatch.setattr(V, "same_quantity_groups", lambda: groups)
    return stated


def test_two_consistent_figures_of_one_quantity_that_differ(fake_claims):
    rows = [Computed(c, v, "count", "x") for c, v in fake_claims.items() if c.startswith("x.")]
    assert _message(lambda: audit(rows)) == (
        "verdict='x.a and x.b both consistent' is not allowed: verdict must be at most one consistent figure of "
        "widgets (10000 vs 20000, group gx of data/claims/same_quantity.csv)")
    # 5% apart (105 against 100) is within the tolerance: both may be consistent
    both = audit([Computed("y.a", 100.0, "count", "x"), Computed("y.b", 105.0, "count", "x")])
    assert list(both["verdict"]) == ["consistent", "consistent"]
    assert list(audit(rows[1:])["verdict"]) == ["consistent", "consistent"]


def test_missing_figures_under_readings():
    """A range open at one end (NaN) decides nothing and shows no ends; a row with no figure of its own is not
    reproducible and shows no number under the audit's reading."""
    half = {("tokens_per_turn", "s1_50"): Alt(math.nan, low=1e4, high=math.nan, kind="range"),
            ("tokens_per_turn", "s2_500"): Alt(math.nan, low=math.nan, high=2e4, kind="range")}
    t = audit([Computed("l8.naive.context_tokens", 200 * R.tokens_per_turn(), "tokens", "x", under=half),
               Computed("l8.effect.tokens_before", math.nan, "tokens", "y", readings=("tokens_per_turn",),
                        under=half)]).set_index("claim_id")
    a, b = t.loc["l8.naive.context_tokens"], t.loc["l8.effect.tokens_before"]
    assert a["verdict_by_reading"] == ("tokens_per_turn — s8_100 (the audit's): consistent, 20,000; s1_50: not "
                                       "reproducible; s2_500: not reproducible")
    assert a["reason"] == ("x. Readings: consistent under tokens_per_turn=s8_100 (§8's 100 tokens a turn; the "
                           "audit's), not reproducible under s1_50 (§1's 10K tokens over 200 turns), not reproducible "
                           "under s2_500 (§2's 500 tokens a turn).")
    assert b["verdict"] == "not reproducible" and b["reason"] == "y."
    assert b["verdict_by_reading"] == ("tokens_per_turn — s8_100 (the audit's): not reproducible; s1_50: not "
                                       "reproducible; s2_500: not reproducible")


def test_a_bound_reason_keeps_its_last_word():
    row = audit([Computed("t4.cb.throughput", 2000, "requests/min", "bound on GPU X.", kind="upper_bound",
                          holds_under="every GPU X.")]).iloc[0]
    assert row["reason"] == "bound on GPU X. The bound holds under every GPU X."


def test_failure_carried_down_a_chain_of_three_restatements():
    """t4.cb.gpus_for_1m fails; three figures restate it in turn; a fifth row reads the last: five rows, a chain
    three deep, within the walk's limit (one step per row known)."""
    rows = [Computed("t4.cb.gpus_for_1m", 2e5, "count", "the model's fleet"),
            Computed("t5.effect.gpus_before", stated_value("t4.cb.gpus_for_1m"), "count", "r",
                     role="restatement", restates="t4.cb.gpus_for_1m"),
            Computed("t4.problem.wasted_share", stated_value("t5.effect.gpus_before"), "%", "r",
                     role="restatement", restates="t5.effect.gpus_before"),
            Computed("t6.north_america.user_share", stated_value("t4.problem.wasted_share"), "%", "r",
                     role="restatement", restates="t4.problem.wasted_share"),
            Computed("t5.effect.gpu_change", stated_value("t5.effect.gpu_change") * 1.0, "%", "x",
                     reads=("t6.north_america.user_share",))]
    t = audit(rows).set_index("claim_id")
    assert t.loc["t5.effect.gpu_change", "verdict"] == INCONSISTENT_INPUTS
    assert t.loc["t5.effect.gpu_change", "reason"] == (
        "x. The arithmetic holds but rests on t6.north_america.user_share (restating t4.problem.wasted_share "
        "(restating t5.effect.gpus_before (restating t4.cb.gpus_for_1m (inconsistent)))).")
