"""model.audit.t12_summary by hand, without the whole audit: every row of T1, T12 and the SWOT / lessons figures
(value, unit, role, what it restates, words) at the source's setting.

Hand figures (the source's stated ones): 10K → 1M sessions (100×); T1's inference $120K → $8M (66.7×) and
infrastructure $50K → $2.5M (50×): per session-month $17.0 → $10.5 (1.62×); T9's lines $4.5M GPU + $2.4M LLM =
$6.9M, storage 0.8 + network 0.6 + multi-region 0.8 + other 0.9 = $3.1M, $10.5M in all; §10's 18 h down a year of
8,760 h: 100 × (1 − 18/8,760) = 99.7945%; 99.95% allows 0.05% × 8,760 = 4.38 h. P95 2.8 → 3.2 s: +14.3%."""
import functools
import math

import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t12_summary as t

SESSIONS = "the 10K → 1M concurrent sessions of T1/§1 (scenario inputs, the same in every section)"
AVAIL = 100 * (1 - 18 / 8760)
AVAIL_HOW = "§10's record: 12 × 1 h maintenance + 3 × 2 h outages = 18 h/year → 99.79% (99.95% allows 4.38 h)"
NAIVE_HOW = ("the API's bill for 1M sessions: 1M x 1,460 sessions a month x 200 turns x 100 new tokens at "
             "gpt-3.5-turbo-0125's input and output prices = $29.2M; re-sending the conversation $1,482M, and the 10K "
             "persona too $2.9B; §2's own arithmetic gives $3M")
NAN = math.nan
R, C, M, I, T = "restatement", "computed", "measurement", "input", "threshold"

# claim id: (value, unit, how, role, restates)
EXPECTED = {
    "t1.title.concurrent_sessions": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                                     "t1.sessions.optimized"),
    "t1.sessions.initial": (1e4, "count", "input: " + SESSIONS, I, None),
    "t1.sessions.optimized": (1e6, "count", "input: " + SESSIONS, I, None),
    "t1.sessions.scale_factor": (100, "x", "1M / 10K", C, None),
    # 10K sessions: 1e4 × 1,460 × 200 turns × (50 in × $0.5 + 50 out × $1.5) / 1e6 = $292,000
    "t1.inference_cost.initial": (292_000, "USD/month",
                                  "the API's bill for the initial 10K sessions at the audit's readings: $292K a month; "
                                  "§2 prices the same inference at 60B × $0.5/1M = $30K", C, None),
    "t1.inference_cost.optimized": (6.9e6, "USD/month",
                                    "T9's GPU ($4.5M) + LLM inference ($2.4M) = $6.9M; only GPU + LLM + network + "
                                    "engineering make $8.0M (T1's 8.0 + 2.5 = T9's 10.5)", C, None),
    "t1.inference_cost.scale_factor": (8e6 / 120e3, "x", "$8M / $120K = 66.7", C, None),
    # 100 / 66.67 = 1.5; $120K / 10K = $12, $8M / 1M = $8
    "t1.inference_cost.efficiency_factor": (1.5, "x", "100× sessions for 66.7× cost = 1.50× per session ($12 → $8 per "
                                            "session-month)", C, None),
    "t1.p95_latency.initial": (NAN, "s", "a measurement of the initial (OpenAI) route, without a latency model of it; "
                               "§2 states 1.8 s for it and T3 3.5 s P95 for HF Transformers, neither 2.8 s", M, None),
    "t1.p95_latency.optimized": (NAN, "s", "a measurement; 3.2 s exceeds §1's 2-s requirement and 3-s goal", M, None),
    "t1.p95_latency.change": (100 * (3.2 / 2.8 - 1), "%", "3.2 / 2.8 − 1 = +14.3%", C, None),
    "t1.infra_cost.initial": (NAN, "USD/month", "a reported cost without a breakdown of the 10K-session setup", M, None),
    "t1.infra_cost.optimized": (3.1e6, "USD/month", "T9's storage + network + multi-region + other = $3.1M "
                                "(engineering $0.5M apart)", C, None),
    "t1.infra_cost.scale_factor": (50, "x", "$2.5M / $50K = 50", C, None),
    "t1.infra_cost.efficiency_factor": (2, "x", "100× sessions / 50× cost = 2", C, None),
    "t1.availability.initial": (NAN, "%", "a measurement without the outage record of the initial setup (98.5% = "
                                "131 h/year down)", M, None),
    "t1.availability.optimized": (AVAIL, "%", AVAIL_HOW, C, None),
    "t1.availability.change": (1.45, "%", "99.95 − 98.5 = 1.45 percentage points (arithmetic of the stated figures)",
                               C, None),
    # 3.2 / 2 − 1 = 60%
    "t1.s1_service.response_time_limit": (2, "s", "a requirement; the achieved P95 of T1 (3.2 s) misses it by 60%; "
                                          "§1's goal says 3 s", T, None),
    "t1.s1_challenge.sessions_initial": (1e4, "count", "restates t1.sessions.initial: " + SESSIONS, R,
                                         "t1.sessions.initial"),
    "t1.s1_challenge.sessions_target": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                                        "t1.sessions.optimized"),
    "t1.s1_challenge.scale_factor": (100, "x", "1M / 10K", C, None),
    "t1.s1_challenge.naive_monthly_cost": (29.2e6, "USD/month", NAIVE_HOW, C, None),
    "t1.s1_goal.concurrent_sessions": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                                       "t1.sessions.optimized"),
    "t1.s1_goal.response_time_limit": (3, "s", "a goal; the achieved P95 (T1) is 3.2 s, above it", T, None),
    "t1.s1_goal.monthly_cost_cap": (10e6, "USD/month", "a cap; T9's achieved total $10.5M exceeds it", T, None),
    # $10M / 20M = $0.50; $10.5M / 20M = $0.525; $19.98M / 20M = $0.999
    "t1.s1_goal.price_per_user": (0.5, "USD/user/month", "$10M cap / 20M MAU (T9) = $0.50 per user; achieved $10.5M / "
                                  "20M = $0.525; revenue per MAU $1.00", C, None),
    "t12.sessions.initial": (1e4, "count", "restates t1.sessions.initial: " + SESSIONS, R, "t1.sessions.initial"),
    "t12.sessions.optimized": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                               "t1.sessions.optimized"),
    "t12.sessions.improvement": (100, "x", "1M / 10K", C, None),
    "t12.cost_efficiency.initial": (NAN, "text", "the baseline ('標準', 'standard') the 2.5x is relative to",
                                    "definition", None),
    "t12.cost_efficiency.optimized": (17 / 10.5, "x", "T1 total cost per session: (120K + 50K) / 10K = $17.0 → (8M + "
                                      "2.5M) / 1M = $10.5: 1.62× (inference only 1.5×, infrastructure 2×)", C, None),
    "t12.availability.initial": (98.5, "%", "restates t1.availability.initial: 98.5%, a measurement", R,
                                 "t1.availability.initial"),
    "t12.availability.optimized": (AVAIL, "%", AVAIL_HOW, C, None),
    "t12.availability.improvement": (1.45, "%", "99.95 − 98.5 = 1.45 percentage points", C, None),
    "t12.p95_latency.initial": (2.8, "s", "restates t1.p95_latency.initial: 2.8 s, a measurement", R,
                                "t1.p95_latency.initial"),
    "t12.p95_latency.optimized": (3.2, "s", "restates t1.p95_latency.optimized: 3.2 s, a measurement", R,
                                  "t1.p95_latency.optimized"),
    "t12.p95_latency.improvement": (100 * (3.2 / 2.8 - 1), "%",
                                    "3.2 / 2.8 − 1 = +14.3% (a slowdown listed as an improvement)", C, None),
    "t12.gross_margin.initial": (NAN, "%", "a reported margin; no revenue of the initial setup is given", M, None),
    # T9's stated revenue $20M: (20 − 10.5) / 20 = 47.5%
    "t12.gross_margin.optimized": (47.5, "%", "T9: ($20M − $10.5M) / $20M = 47.5%", C, None),
    "t12.gross_margin.improvement": (60, "%", "48 / 30 − 1 = +60% (relative change)", C, None),
    "s.strength_scaling.factor": (100, "x", "1M / 10K", C, None),
    "s.strength_scaling.sessions_initial": (1e4, "count", "restates t1.sessions.initial: " + SESSIONS, R,
                                            "t1.sessions.initial"),
    "s.strength_scaling.sessions_final": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                                          "t1.sessions.optimized"),
    "s.strength_cost.efficiency_gain": (17 / 10.5, "x", "as T12: $17.0 → $10.5 per session", C, None),
    # 10.5 / 17 = 0.6176; $10.5M / $300M = 0.035
    "s.strength_cost.cost_vs_naive": (10.5 / 17, "x", "1 / 1.62 = 0.62 of the naive (100× initial) cost; against "
                                      "§1's $300M naive figure it would be 10.5 / 300 = 0.035", C, None),
    "s.strength_availability.availability": (AVAIL, "%", AVAIL_HOW, C, None),
    "s.weakness_latency.change": (100 * (3.2 / 2.8 - 1), "%", "3.2 / 2.8 − 1 = +14.3%", C, None),
    "s.weakness_latency.initial": (2.8, "s", "restates t1.p95_latency.initial: 2.8 s, a measurement", R,
                                   "t1.p95_latency.initial"),
    "s.weakness_latency.final": (3.2, "s", "restates t1.p95_latency.optimized: 3.2 s, a measurement", R,
                                 "t1.p95_latency.optimized"),
    "s.weakness_ops.gpu_count": (900, "count", "restates t5.effect.gpus_after: the 900 GPUs of §5/T9 (the month's "
                                 "mean; §11 runs 1,200 at peak)", R, "t5.effect.gpus_after"),
    "s.weakness_ops.regions": (3, "count", "restates t6.multiregion.regions: T6's three inference regions (US-East, "
                               "EU-West, AP-Northeast)", R, "t6.multiregion.regions"),
    # 1,200 × $24,875 = $29.85M; 900 × $24,875 = $22.39M
    "s.weakness_capex.initial_investment": (1200 * 24_875, "USD",
                                            "the GPUs to buy are the fleet's peak: read as the month's mean (the "
                                            "audit's reading), T9's 900 GPUs peak at 1,200 (§11) × $24,875 (DGX A100 "
                                            "launch price / 8, data/parameters) = $29.9M (900 GPUs alone: $22.4M); "
                                            "but T9 also pays $4.5M/month for the same GPUs, as if rented", C, None),
    "s.opportunity_specdec.latency_change": (-30, "%", "restates r12.speculative_decoding.latency_change: the "
                                             "roadmap's −30%, a forecast", R,
                                             "r12.speculative_decoding.latency_change"),
    "s.lesson_openai.sessions": (1e6, "count", "restates t1.sessions.optimized: " + SESSIONS, R,
                                 "t1.sessions.optimized"),
    "s.lesson_openai.monthly_cost": (29.2e6, "USD/month", NAIVE_HOW, C, None),
}


@pytest.fixture
def rows():
    return {c.claim_id: c for c in t.computed()}


def test_helpers():
    assert t.total_cost_per_session() == pytest.approx((17.0, 10.5), rel=1e-12)
    assert t._pct_change(3.0, 2.0) == pytest.approx(50.0, rel=1e-12)
    r = t._nr("a.b", "s", "why")
    assert math.isnan(r.value) and (r.claim_id, r.unit, r.how, r.role) == ("a.b", "s", "why", "measurement")
    assert t._nr("a.b", "s", "why", "qualitative").role == "qualitative"
    r = t._given("t1.sessions.initial", "count", "how", "input")
    assert (r.claim_id, r.value, r.unit, r.how, r.role) == ("t1.sessions.initial", 1e4, "count", "how", "input")
    r = t._restates("t12.sessions.initial", "t1.sessions.initial", "count", "how")
    assert (r.claim_id, r.value, r.unit, r.how, r.role, r.restates) == (
        "t12.sessions.initial", 1e4, "count", "restates t1.sessions.initial: how", "restatement", "t1.sessions.initial")


def test_claims_in_order(rows):
    assert list(rows) == list(EXPECTED)


@pytest.mark.parametrize("part", range(4))
def test_rows(rows, part):
    ids = list(EXPECTED)[part::4]
    for cid in ids:
        value, unit, how, role, restates = EXPECTED[cid]
        r = rows[cid]
        if math.isnan(value):
            assert math.isnan(r.value), cid
        else:
            assert_allclose(r.value, value, rtol=1e-12, err_msg=cid)
        assert (r.unit, r.how, r.role, r.restates, r.kind) == (unit, how, role, restates, "estimate"), cid


def test_availability_tolerance(rows):
    # the stated 99.95% is rounded to 0.01 points: ± 0.005 / 99.95
    for cid in ("t1.availability.optimized", "t12.availability.optimized", "s.strength_availability.availability"):
        assert_allclose(rows[cid].tolerance, 0.005 / 99.95, rtol=1e-12)
    assert all(r.tolerance is None for cid, r in rows.items() if not cid.endswith(("availability.optimized",
                                                                                      "availability.availability")))


def test_under(rows):
    # 10K sessions: the bill under each other reading (t2's arithmetic): one session a day 730 / 24 / 1,460 of it,
    # at the peak 0.75 of it, history 1.46e7 × (2,000,000 × 0.5 + 10,000 × 1.5) / 1e6, with the persona
    # 1.46e7 × (4,000,000 × 0.5 + 10,000 × 1.5) / 1e6, 50 and 500 tokens a turn ½ and 5×
    under = dict(rows["t1.inference_cost.initial"].under)
    expected = {("concurrent_sessions", "one_per_day"): 292_000 / 1460 * 730 / 24,
                ("concurrent_sessions", "peak_open"): 219_000, ("tokens_billed", "history"): 14.819e6,
                ("tokens_billed", "history_persona"): 29.419e6, ("tokens_per_turn", "s1_50"): 146_000,
                ("tokens_per_turn", "s2_500"): 1.46e6}
    assert set(under) == set(expected)
    for k, v in expected.items():
        assert_allclose(under[k].value, v, rtol=1e-12, err_msg=str(k))
    for cid in ("t1.s1_challenge.naive_monthly_cost", "s.lesson_openai.monthly_cost"):
        u = dict(rows[cid].under)
        assert_allclose(u[("tokens_billed", "history")].value, 1481.9e6, rtol=1e-12)
    # §10's peak reading: 900 GPUs + 10% spares = 990 at the peak × $24,875
    capex = dict(rows["s.weakness_capex.initial_investment"].under)
    assert list(capex) == [("fleet_900", "peak")]
    assert_allclose(capex[("fleet_900", "peak")].value, 990 * 24_875, rtol=1e-12)
    assert all(not r.under for cid, r in rows.items() if cid not in (
        "t1.inference_cost.initial", "t1.s1_challenge.naive_monthly_cost", "s.lesson_openai.monthly_cost",
        "s.weakness_capex.initial_investment"))


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t12_summary")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
