"""model.audit.l8_memory row by row, against figures worked by hand from the stated values of data/claims: 200-turn
sessions split 10 raw / turns 11-50 as a 500-token summary / turns 51-200 as 500 retrieved tokens, a turn of 100
tokens (§8, the audit's reading), 50 (§1's 10K ÷ 200) or 500 (§2), the 2,000-token persona after compression, 1M
concurrent sessions of 30 minutes at $0.08 per 1M tokens.

Fast: the claims are looked up in a dict (the same rows as data/claims) and the audit table's section is replaced
by a recorder; the whole audit is left to tests/audit/test_l8_memory.py."""

import math

import pytest
from numpy.testing import assert_allclose

from model.audit import claims as C
from model.audit import l8_memory as L8
from model.audit import readings as R
from model.audit.claims import claim_ids_of, is_read_back
from claim_rows import ROWS as _ROWS, claim as _claim

S1, S2 = ("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")
DAY, PEAK = ("concurrent_sessions", "one_per_day"), ("concurrent_sessions", "peak_open")
#: full history, short raw, mid raw, long raw, sent: 200 × t, 10 × t, (50 − 10) × t, (200 − 50) × t, 10 × t + 500 + 500
TIERS = {100: (20_000, 1_000, 4_000, 15_000, 2_000), 50: (10_000, 500, 2_000, 7_500, 1_500),
         500: (100_000, 5_000, 20_000, 75_000, 6_000)}


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(C, "claim", _claim)


def test_tiers_under_each_reading():
    for reading, tpt in ((None, 100), ("s8_100", 100), ("s1_50", 50), ("s2_500", 500)):
        t = L8._tiers(reading)
        assert (t.tokens_per_turn, t.full_history_tokens, t.short_raw_tokens, t.mid_raw_tokens, t.long_raw_tokens,
                t.tokens_sent) == (tpt,) + TIERS[tpt], reading


def test_across_tokens_skips_only_the_reading_named():
    main, under = L8._across_tokens(lambda t: t.full_history_tokens)
    assert main.value == 20_000 and {k: a.value for k, a in under.items()} == {S1: 10_000, S2: 100_000}
    main, under = L8._across_tokens(lambda t: t.tokens_sent, skip="s1_50")
    assert main.value == 2_000 and {k: a.value for k, a in under.items()} == {S2: 6_000}


def test_monthly_saving_by_hand():
    # (full − sent) tokens × 1M sessions × sessions per slot-month × 200 turns × $0.08 / 1M; sessions per slot-month:
    # 730 h × 60 ÷ 30 min = 1,460 (mean_open, the audit's), × 900 ÷ 1,200 = 1,095 (peak_open), 730 ÷ 24 (one a day)
    per_request = 1e6 * 200 * 0.08 / 1e6
    assert_allclose(L8.monthly_saving(), 18_000 * 1460 * per_request, rtol=1e-12)           # $420.48M
    assert_allclose(L8.monthly_saving(concurrent_sessions="peak_open"), 18_000 * 1095 * per_request, rtol=1e-12)
    assert_allclose(L8.monthly_saving(concurrent_sessions="one_per_day"), 18_000 * 730 / 24 * per_request,
                    rtol=1e-12)                                                               # $8.76M
    assert_allclose(L8.monthly_saving("s1_50"), 8_500 * 1460 * per_request, rtol=1e-12)
    assert_allclose(L8.monthly_saving("s2_500", "one_per_day"), 94_000 * 730 / 24 * per_request, rtol=1e-12)


def _check(c, value, unit, how, *, role="computed", restates=None, ids=None, under=None):
    if math.isnan(value):
        assert math.isnan(c.value), c.claim_id
    else:
        assert_allclose(float(c.value), value, rtol=1e-12, err_msg=c.claim_id)
    verdict = {"computed": None, "unpublished": "not reproducible"}.get(role, "given")
    assert (c.unit, c.how, c.role, c.verdict, c.restates) == (unit, how, role, verdict, restates), c.claim_id
    if ids is not None:
        assert claim_ids_of(c.value) == frozenset(ids), c.claim_id
    got = {k: a.value for k, a in c.under_map.items()}
    assert got.keys() == (under or {}).keys(), c.claim_id
    for k, v in (under or {}).items():
        assert_allclose(got[k], v, rtol=1e-12, err_msg=f"{c.claim_id} {k}")
    for a in c.under_map.values():
        assert a.low is None and a.high is None and a.kind is None and a.how == ""


def test_rows_by_hand():
    """Every row of computed() from one call."""
    r = {c.claim_id: c for c in L8.computed()}
    assert list(r) == [
        "t1.s1_challenge.history_turns", "t1.s1_challenge.history_tokens", "l8.problem.turns", "l8.naive.turns",
        "l8.naive.tokens_per_turn", "l8.naive.context_tokens", "l8.short_term.turns", "l8.short_term.tokens_sent",
        "l8.mid_term.first_turn", "l8.mid_term.last_turn", "l8.mid_term.raw_tokens", "l8.mid_term.tokens_sent",
        "l8.long_term.first_turn", "l8.long_term.last_turn", "l8.long_term.raw_tokens", "l8.long_term.tokens_sent",
        "l8.effect.tokens_before", "l8.effect.tokens_after", "l8.effect.token_change", "l8.effect.monthly_saving",
        "l8.effect.quality_change", "s.success_tiered_memory.cost_change"]
    turns = "t1.s1_service.turns_per_session"
    for cid, what in (("t1.s1_challenge.history_turns", "§1's 200 turns per session"),
                      ("l8.problem.turns", "§1's 200 turns"), ("l8.naive.turns", "§1's 200 turns"),
                      ("l8.long_term.last_turn", "the session's last turn, §1's 200")):
        _check(r[cid], 200, "turns", f"restates {what} ({turns})", role="restatement", restates=turns, ids={cid})
        assert is_read_back(r[cid].value)
    for cid, value, unit, how in (
            ("l8.short_term.turns", 10, "turns", "a design input (the recent turns sent raw)"),
            ("l8.mid_term.last_turn", 50, "turns", "a design input (where the summarised turns end)"),
            ("l8.mid_term.tokens_sent", 500, "tokens",
             "a design input (an 8:1 summary budget); its quality is not measured"),
            ("l8.long_term.tokens_sent", 500, "tokens",
             "a design input (the retrieval budget, RAG top-k); retrieval quality is not measured")):
        _check(r[cid], value, unit, how, role="design input", ids={cid})

    # 200 turns × 100 tokens = 20,000; under §2's 500 tokens 100,000 (§1's 50, which sets §1's 10K, is left out)
    _check(r["t1.s1_challenge.history_tokens"], 20_000, "tokens",
           "200 turns × 100 tokens/turn (§8's figure, the audit's reading) = 20,000; §1's 10K implies 50 "
           "tokens/turn and §2 prices 500: the source contradicts itself", under={S2: 100_000})
    assert R.tags_of(r["t1.s1_challenge.history_tokens"].value) == {("tokens_per_turn", "s8_100")}
    _check(r["l8.naive.tokens_per_turn"], 100, "tokens",
           "the audit's reading of a turn's tokens (data/claims/readings.csv); §1's 10K over 200 turns gives 50, §2 "
           "uses 500", role="reading", under={S1: 50, S2: 500})
    tier_rows = {"l8.naive.context_tokens": (0, "200 turns × 100 tokens (§8's own arithmetic); §1 says 10K for the "
                                                "same 200 turns"),
                 "l8.short_term.tokens_sent": (1, "10 turns × 100 tokens"),
                 "l8.mid_term.raw_tokens": (2, "(50 − 10) turns × 100 tokens"),
                 "l8.long_term.raw_tokens": (3, "(200 − 50) turns × 100 tokens"),
                 "l8.effect.tokens_before": (0, "200 turns × 100 tokens (model.workload.memory_tiers)"),
                 "l8.effect.tokens_after": (4, "1,000 raw + 500 summary + 500 retrieved tokens "
                                               "(model.workload.memory_tiers)")}
    for cid, (i, how) in tier_rows.items():
        _check(r[cid], TIERS[100][i], "tokens", how, under={S1: TIERS[50][i], S2: TIERS[500][i]})
        assert R.tags_of(r[cid].value) == {("tokens_per_turn", "s8_100")}, cid
    _check(r["l8.mid_term.first_turn"], 11, "turns", "the turn after the 10 short-term turns",
           ids={"l8.short_term.turns"})
    _check(r["l8.long_term.first_turn"], 51, "turns", "the turn after turn 50", ids={"l8.mid_term.last_turn"})
    # 2,000 ÷ 20,000 − 1 = −90%; 1,500 ÷ 10,000 − 1 = −85%; 6,000 ÷ 100,000 − 1 = −94%
    _check(r["l8.effect.token_change"], -90, "%", "2,000 / 20,000 tokens − 1", under={S1: -85, S2: -94})
    # 18,000 tokens × 1M × 1,460 × 200 × $0.08 / 1M = $420.48M; one a day $8.76M; peak_open 1,095: $315.36M;
    # §1's 50 tokens: 8,500 saved, $198.56M; §2's 500: 94,000 saved, $2,195.84M
    _check(r["l8.effect.monthly_saving"], 420_480_000, "USD/month",
           "18,000 tokens saved per request × 1M concurrent sessions × 1,460 sessions a month each (open at once) × "
           "200 turns × $0.08/1M = $420M",
           under={DAY: 8_760_000, PEAK: 315_360_000, S1: 198_560_000, S2: 2_195_840_000})
    assert R.tags_of(r["l8.effect.monthly_saving"].value) == {("tokens_per_turn", "s8_100"),
                                                              ("concurrent_sessions", "mean_open")}
    _check(r["l8.effect.quality_change"], math.nan, "%", "the user-rating study is not published", role="unpublished")

    # the whole prompt with the 2,000-token persona: (2,000 + 2,000) ÷ (2,000 + 20,000) − 1 = −81.82%, the history
    # alone −90%; §1's 50: 3,500 ÷ 12,000 − 1 = −70.83% and −85%; §2's 500: 8,000 ÷ 102,000 − 1 = −92.16% and −94%
    s = r["s.success_tiered_memory.cost_change"]
    assert s.kind == "range" and s.role == "computed" and s.unit == "%"
    assert_allclose([s.value, s.low, s.high], [100 * (4_000 / 22_000 - 1), -90, 100 * (4_000 / 22_000 - 1)],
                    rtol=1e-12)
    assert s.how == ("what the cost covers is open: the history alone -90%, the whole prompt with the 2,000-token "
                     "persona (4,000 / 22,000 tokens − 1) -81.8%; summary and retrieval calls not counted")
    assert s.depends_on == "what the cost covers (the history alone, or the whole prompt with the persona)"
    u = s.under_map
    assert set(u) == {S1, S2}
    assert_allclose([u[S1].value, u[S1].low, u[S1].high], [100 * (3_500 / 12_000 - 1), -85, 100 * (3_500 / 12_000 - 1)],
                    rtol=1e-12)
    assert_allclose([u[S2].value, u[S2].low, u[S2].high],
                    [100 * (8_000 / 102_000 - 1), -94, 100 * (8_000 / 102_000 - 1)], rtol=1e-12)


def test_saving_printed_at_its_rounding_edge(monkeypatch):
    """$0.08 a 1M tokens raised so that the saving is $420,500,001 a month, just above $420.5M: printed $421M
    (18,000 tokens × 1M × 1,460 × 200 turns ÷ 1M = 5.256e9 tokens-millions; price = 420,500,001 ÷ 5.256e9)."""
    rows = dict(_ROWS)
    rows["t2.self_hosted.price"] = {**rows["t2.self_hosted.price"], "stated_value": 420_500_001 / 5.256e9}
    monkeypatch.setattr(C, "claim", rows.__getitem__)
    how = {c.claim_id: c.how for c in L8.computed()}["l8.effect.monthly_saving"]
    assert how.endswith("× 200 turns × $0.0800038/1M = $421M")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert L8.table() == ("section", "model.audit.l8_memory")
