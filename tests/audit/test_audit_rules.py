"""The rules a verdict must follow, each on rows built to break it: one reading per ambiguous quantity (and the
row says when another reading changes its verdict), ranges that decide, inputs carried through, impossible
only against a bound that holds under every mechanism the source describes, one label per kind of row."""

import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.audit import readings as R
from model.audit.claims import stated_value, with_reading
from model.audit.readings import Alt
from model.audit.verdicts import (INCONSISTENT_INPUTS, RANGE_DECISIVE_RATIO, Computed, audit, range_ratio,
                                  verdict_for)
from model.checks import ParameterError
from model.io import DATA


# ---- 1. readings ----------------------------------------------------------------------------------------------

def _tokens_row(alternative=None, **kw):
    """§8's 20K-token history computed from a turn's tokens under ``alternative``."""
    return Computed("l8.naive.context_tokens", 200 * R.tokens_per_turn(alternative), "tokens", "200 turns", **kw)


def test_a_figure_under_another_reading_must_say_so():
    with pytest.raises(ParameterError, match="tokens_per_turn=s1_50"):
        audit([_tokens_row("s1_50")])
    # reading the stated figure that sets another reading is the same mistake, tag or no tag
    with pytest.raises(ParameterError, match="tokens_per_turn=s2_500"):
        audit([Computed("l8.effect.tokens_before", 200 * stated_value("t2.arith.tokens_per_turn"), "tokens",
                        "200 turns x §2's 500")])
    # and a value tagged by hand with another alternative
    with pytest.raises(ParameterError, match="concurrent_sessions=one_per_day"):
        audit([Computed("t2.arith.tokens_per_month", with_reading(6e10, "concurrent_sessions", "one_per_day"),
                        "tokens/month", "one session a day")])


def test_two_rows_with_two_readings_of_one_quantity_are_rejected():
    """The audit's reading in one row and another in a second row: the second must put it under ``under``."""
    under = {("tokens_per_turn", a): Alt(200 * R.tokens_per_turn(a)) for a in R.other_readings("tokens_per_turn")}
    first = _tokens_row(under=under)
    second = Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn("s1_50"), "tokens", "200 x 50")
    with pytest.raises(ParameterError, match="computed under tokens_per_turn=s1_50"):
        audit([first, second])
    ok = audit([first, Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn(), "tokens", "200 x 100",
                                under=under)])
    assert set(ok["readings"]) == {"tokens_per_turn=s8_100"}


def test_a_row_depending_on_a_reading_gives_its_figure_under_every_other():
    with pytest.raises(ParameterError, match="no figure under tokens_per_turn=s1_50"):
        audit([_tokens_row()])
    with pytest.raises(ParameterError, match="other than the audit's"):
        Computed("l8.naive.context_tokens", 2e4, "tokens", "x", under={("tokens_per_turn", "s8_100"): Alt(2e4)})
    with pytest.raises(ParameterError, match="computed under s1_50, not .*s2_500"):
        Computed("l8.naive.context_tokens", 2e4, "tokens", "x",
                 under={("tokens_per_turn", "s1_50"): Alt(200 * R.tokens_per_turn("s2_500"))})


def test_where_a_reading_changes_the_verdict_the_row_says_so():
    under = {("tokens_per_turn", a): Alt(200 * R.tokens_per_turn(a)) for a in R.other_readings("tokens_per_turn")}
    row = audit([_tokens_row(under=under)]).iloc[0]
    assert row["verdict"] == "consistent" and bool(row["verdict_depends_on_reading"])
    assert row["changed_by_readings"] == "tokens_per_turn" and row["readings"] == "tokens_per_turn=s8_100"
    assert ("Readings: consistent under tokens_per_turn=s8_100" in row["reason"]
            and "inconsistent under s1_50" in row["reason"] and "inconsistent under s2_500" in row["reason"])
    assert "s1_50: inconsistent, 10,000" in row["verdict_by_reading"]
    # a reading that changes nothing adds no sentence
    same = {k: Alt(2e4) for k in under}
    quiet = audit([_tokens_row(under=same)]).iloc[0]
    assert "Readings:" not in quiet["reason"] and not quiet["verdict_depends_on_reading"]
    assert quiet["changed_by_readings"] == ""


def test_the_figure_that_sets_the_audits_reading_is_a_reading():
    under = {("tokens_per_turn", a): Alt(R.tokens_per_turn(a)) for a in R.other_readings("tokens_per_turn")}
    with pytest.raises(ParameterError, match="'reading'"):
        audit([Computed("l8.naive.tokens_per_turn", R.tokens_per_turn(), "tokens", "§8", under=under)])
    row = audit([Computed("l8.naive.tokens_per_turn", R.tokens_per_turn(), "tokens", "§8", role="reading",
                          under=under)]).iloc[0]
    assert row["verdict"] == "given" and "s1_50: inconsistent, 50" in row["verdict_by_reading"]
    # the figure that sets another alternative is given under it
    other = audit([Computed("t2.arith.tokens_per_turn", R.tokens_per_turn(), "tokens", "§8's 100",
                            under={("tokens_per_turn", "s1_50"): Alt(R.tokens_per_turn("s1_50"))})]).iloc[0]
    assert other["verdict"] == "inconsistent" and "s2_500: given" in other["verdict_by_reading"]


def test_register_one_audit_reading_each_and_every_alternative_computable():
    reg = pd.read_csv(DATA / "claims" / "readings.csv", keep_default_na=False)
    chosen = reg[reg["audit"] == "yes"].groupby("quantity").size()
    assert set(chosen.index) == set(reg["quantity"]) and (chosen == 1).all()
    assert not R.check_register()
    assert {"concurrent_sessions", "tokens_per_turn", "gpu_price", "fleet_900", "latency"} <= set(reg["quantity"])
    assert_allclose(float(R.sessions_per_slot_month("mean_open")), 730 * 60 / 30)    # Little's law
    assert_allclose(float(R.sessions_per_slot_month("one_per_day")), 730 / 24)
    assert_allclose(float(R.gpu_usd_per_month("t9")), 4.5e6 / 900)
    assert [float(g) for g in R.fleet_gpus("mean")] == [900, 1200]


def test_register_cites_source_lines_that_hold_its_figures():
    """Each alternative cites lines of the case study; the quote of every stated figure that sets it is on one
    of them."""
    lines = (DATA / "sources" / "000_bf9ef38e5023aa3a.txt").read_text(encoding="utf-8").splitlines()
    claims = pd.read_csv(DATA / "claims" / "case_study.csv").set_index("claim_id")
    for r in pd.read_csv(DATA / "claims" / "readings.csv", keep_default_na=False).itertuples():
        cited = set()
        for part in r.source_lines.removeprefix("000:").split(","):
            a, _, b = part.partition("-")
            cited |= set(range(int(a), int(b or a) + 1))
        assert cited and max(cited) <= len(lines), r.alternative
        text = "\n".join(lines[i - 1] for i in sorted(cited))
        for cid in r.defined_by.split():
            assert claims.loc[cid, "quote"] in text, (r.alternative, cid)


# ---- 2. ranges that decide ------------------------------------------------------------------------------------

def test_the_rule_is_the_studys_and_read_from_data():
    rules = pd.read_csv(DATA / "claims" / "rules.csv").set_index("name")
    assert RANGE_DECISIVE_RATIO == rules.loc["range_decisive_ratio", "value"] == 1.5
    assert "Study rule" in rules.loc["range_decisive_ratio", "source"]


def test_a_wide_range_does_not_pass():
    # 4.8 touches the bottom of 4.87-234 (48x wide): it depends on the choice, it is not consistent
    assert verdict_for(4.8, math.nan, 0.05, "range", low=4.87, high=234) == "not reproducible"
    assert verdict_for(85, math.nan, 0.05, "range", low=9.3, high=94.9) == "not reproducible"
    # the same figure inside a narrow range is consistent; outside any range, however wide, inconsistent
    assert verdict_for(4.8, math.nan, 0.05, "range", low=4.5, high=5.5) == "consistent"
    assert verdict_for(300, math.nan, 0.05, "range", low=4.87, high=234) == "inconsistent"
    # a range across zero never decides; the rule is a parameter
    assert range_ratio(-1, 2) == math.inf and verdict_for(0.5, math.nan, 0.05, "range", low=-1, high=2) == "not reproducible"
    assert verdict_for(4.8, math.nan, 0.05, "range", low=4.87, high=234, max_ratio=100) == "consistent"
    assert range_ratio(-90, -81.8) == pytest.approx(90 / 81.8)


def test_a_wide_range_row_names_its_choice():
    with pytest.raises(ParameterError, match="depends_on"):
        Computed("l7.effect.cache_hit_rate", 60, "%", "Zipf", kind="range", low=9.3, high=94.9)
    row = audit([Computed("l7.effect.cache_hit_rate", 60, "%", "Zipf", kind="range", low=9.3, high=94.9,
                          depends_on="the popularity law")]).iloc[0]
    assert row["verdict"] == "not reproducible" and row["depends_on"] == "the popularity law"
    assert row["range_ratio"] == pytest.approx(94.9 / 9.3)
    assert "Not reproducible: depends on the popularity law" in row["reason"]


# ---- 3. inputs carried through --------------------------------------------------------------------------------

def _volume():
    return Computed("t2.arith.tokens_per_month", 2.92e11, "tokens/month", "the model's volume")   # stated 60B


def _cost_10k():
    return Computed("t2.arith.monthly_cost_10k", stated_value("t2.arith.tokens_per_month") / 1e6
                    * stated_value("t2.openai.price"), "USD/month", "60B x $0.5/1M")


def test_a_sum_of_an_inconsistent_input_is_not_plainly_consistent():
    t = audit([_volume(), _cost_10k()]).set_index("claim_id")
    assert t.loc["t2.arith.tokens_per_month", "verdict"] == "inconsistent"
    row = t.loc["t2.arith.monthly_cost_10k"]
    assert row["verdict"] == INCONSISTENT_INPUTS and row["inputs_flagged"] == "t2.arith.tokens_per_month"
    assert "rests on t2.arith.tokens_per_month (inconsistent)" in row["reason"]
    # alone, with no verdict for its input, the arithmetic is consistent; told the input failed, it is not
    assert audit([_cost_10k()]).iloc[0]["verdict"] == "consistent"
    assert audit([_cost_10k()], inputs={"t2.arith.tokens_per_month": "inconsistent"}).iloc[0]["verdict"] == \
        INCONSISTENT_INPUTS


def test_failing_inputs_carry_through_restatements_and_arithmetic():
    rows = [Computed("t4.cb.gpus_for_1m", 2e5, "count", "the model's fleet"),              # stated 1,630
            Computed("t5.effect.gpus_before", stated_value("t4.cb.gpus_for_1m"), "count", "restates",
                     role="restatement", restates="t4.cb.gpus_for_1m"),
            Computed("t5.effect.gpu_change", 100 * (stated_value("t5.effect.gpus_after")
                                                    / stated_value("t5.effect.gpus_before") - 1), "%", "900/1630-1"),
            Computed("s.success_int8.gpu_change", stated_value("s.success_int8.gpu_change"), "%", "restates",
                     role="restatement", restates="t5.effect.gpu_change"),
            Computed("t12.gross_margin.improvement", 0 * stated_value("s.success_int8.gpu_change") + 60, "%", "x")]
    t = audit(rows).set_index("claim_id")["verdict"]
    assert t["t5.effect.gpu_change"] == INCONSISTENT_INPUTS
    assert t["t12.gross_margin.improvement"] == INCONSISTENT_INPUTS   # through a restatement of a carried figure


def test_contradictory_stated_figures_cannot_both_be_consistent():
    three_m = Computed("t2.arith.monthly_cost_1m", stated_value("t2.arith.monthly_cost_1m") * 1.0, "USD/month", "x")
    three_hundred_m = Computed("t1.s1_challenge.naive_monthly_cost",
                               stated_value("t1.s1_challenge.naive_monthly_cost") * 1.0, "USD/month", "y")
    with pytest.raises(ParameterError, match="both consistent"):
        audit([three_m, three_hundred_m])
    one_fails = Computed("t1.s1_challenge.naive_monthly_cost", 2.9e7, "USD/month", "the API's bill")
    assert list(audit([three_m, one_fails])["verdict"]) == ["consistent", "inconsistent"]


# ---- 4. impossible only against a bound that holds under every mechanism ------------------------------------

def test_a_bound_says_why_it_holds():
    with pytest.raises(ParameterError, match="holds_under"):
        Computed("t4.cb.throughput", 1362, "requests/min", "compute bound", kind="upper_bound")
    row = audit([Computed("t4.cb.throughput", 1362, "requests/min", "compute bound", kind="upper_bound",
                          holds_under="FP16, any batch")]).iloc[0]
    assert row["verdict"] == "impossible" and "The bound holds under FP16, any batch." in row["reason"]


# ---- 5. one label per kind of row -----------------------------------------------------------------------------

def test_the_kind_of_row_fixes_its_label():
    assert audit([Computed("l11.monitoring.interval", stated_value("l11.monitoring.interval"), "min", "chosen",
                           role="interval")]).iloc[0]["verdict"] == "given"
    with pytest.raises(ParameterError, match="role"):
        Computed("l11.monitoring.interval", math.nan, "min", "an operating choice", verdict="not reproducible")
    with pytest.raises(ParameterError, match="role"):
        Computed("l11.monitoring.interval", 1, "min", "chosen", verdict="given")
    with pytest.raises(ParameterError, match="role"):
        Computed("l11.monitoring.interval", 1, "min", "chosen", role="guess")
    with pytest.raises(ParameterError, match="restates"):
        Computed("t9.gpu.gpu_count", 900, "count", "restates", role="restatement")
