"""model.audit.t4_continuous_batching by hand, without the serving model: ``rates`` (cached, so never mutated,
and checked against the serving model in tests/audit/test_t4_continuous_batching.py) is replaced by a table of round
numbers, and every row of T4 and of the utilisation rows is worked out from it and from the stated figures.

Hand figures: §1's demand is 1M sessions × 200 turns / 30 min = 6,666,666.7 requests/min (one 30-minute session a
day: 30 / 1,440 = 1/48 of it). T4: 2,500 × 1,200 = 3.0M and 1,630 × 1,840 = 2.9992M requests/min; $875K / (2,500 −
1,630 = 870 GPUs) = $1,005.75 a GPU-month. T9's GPU-hour: $4.5M / 900 / 730 h = $6.849, $5,000 a month."""
import functools
import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t4_continuous_batching as t

DEMAND = 1e6 * 200 / 30
COLUMNS = ["n_gpus", "sequential_rpm_per_gpu", "continuous_rpm_per_gpu", "sequential_bound_rpm_per_gpu",
           "sequential_bound_int8_rpm_per_gpu", "compute_bound_rpm_per_gpu", "compute_bound_with_prompt_rpm_per_gpu"]
#: per reading of a turn's tokens: rows for copies of 4 and 8 GPUs
FAKE = {None: [(4, 2.0, 20.0, 3.0, 6.0, 100.0, 5.0), (8, 1.0, 25.0, 4.0, 7.0, 90.0, 4.0)],
        "s1_50": [(4, 4.0, 50.0, 6.0, 12.0, 200.0, 10.0), (8, 2.0, 40.0, 8.0, 14.0, 180.0, 8.0)],
        "s2_500": [(4, 0.5, 10.0, 0.6, 1.2, 20.0, 1.0), (8, 0.25, 5.0, 0.8, 1.4, 18.0, 0.8)]}


def fake_rates(tokens_per_turn=None):
    key = None if tokens_per_turn in (None, "s8_100") else tokens_per_turn
    return pd.DataFrame(FAKE[key], columns=COLUMNS)


@pytest.fixture
def rows(monkeypatch):
    monkeypatch.setattr(t, "rates", fake_rates)
    return {c.claim_id: c for c in t.computed()}


def test_constants():
    assert (t.PROVIDER, t.PRICING, t.INT8) == ("aws", "on-demand", "int8")
    assert t._BEFORE_60 == ("t4.heading.gpu_util_before", "t4.problem.gpu_util", "t1.gpu_util.initial",
                            "t12.gpu_util.initial", "s.success_cb.gpu_util_before")
    assert t._AFTER_92 == ("t4.heading.gpu_util_after", "t12.gpu_util.optimized", "s.success_cb.gpu_util_after",
                           "s.strength_gpu.gpu_util")
    assert t.DEMAND_CLAIMS == ("t1.sessions.optimized", "t1.s1_service.turns_per_session",
                               "t1.s1_service.avg_session_length")
    assert t.COPY_CHOICE == "the GPUs per model copy"
    assert t.T4_STAGE == ("T4's stage, before §5's INT8 (its 1,630 GPUs are those §5 then cuts with INT8): FP16 "
                          "weights, any split of the model over GPUs (a GPU's share of the work does not depend on "
                          "it), prompts free and the whole bandwidth or dense peak")


def test_stated_arithmetic():
    assert t.implied_demand_per_min() == (2500 * 1200, 1630 * 1840)
    assert_allclose(t.session_demand_per_min(), DEMAND, rtol=1e-12)
    assert_allclose(t.session_demand_per_min("mean_open"), DEMAND, rtol=1e-12)
    assert_allclose(t.session_demand_per_min("one_per_day"), DEMAND / 48, rtol=1e-12)
    assert_allclose(t.implied_gpu_usd_per_month(), 875_000 / 870, rtol=1e-12)
    ratios = t.implied_ratios()
    assert list(ratios) == ["throughput", "gpus", "utilisation"]
    assert_allclose(list(ratios.values()), [1840 / 1200, 2500 / 1630, 92 / 60], rtol=1e-12)
    assert t.gpu_usd_per_hour() == 3.4309          # data/prices: a100-80gb, aws on-demand, 2026-11-09


def test_span_gpus_and_both(monkeypatch):
    s = t._span([3, 1, 2, 10])
    assert (s.value, s.low, s.high) == (2.5, 1.0, 10.0) and all(type(x) is float for x in (s.value, s.low, s.high))
    monkeypatch.setattr(t, "rates", fake_rates)
    assert_allclose(t._gpus("sequential"), [DEMAND / 2, DEMAND / 1], rtol=1e-12)
    assert_allclose(t._gpus("continuous"), [DEMAND / 20, DEMAND / 25], rtol=1e-12)
    assert_allclose(t._gpus("continuous", "s1_50"), [DEMAND / 50, DEMAND / 40], rtol=1e-12)
    assert_allclose(t._gpus("sequential", None, "one_per_day"), [DEMAND / 48 / 2, DEMAND / 48], rtol=1e-12)
    main, under = t._both(lambda a, c: (a, c))
    assert main == (None, None)
    assert under == {("tokens_per_turn", "s1_50"): ("s1_50", None), ("tokens_per_turn", "s2_500"): ("s2_500", None),
                     ("concurrent_sessions", "one_per_day"): (None, "one_per_day"),
                     ("concurrent_sessions", "peak_open"): (None, "peak_open")}


def test_claims_in_order(rows):
    assert list(rows) == ["t4.baseline.gpu_util", *t._BEFORE_60, "t4.problem.wasted_share", "t4.cb.gpu_util",
                          "t1.gpu_util.optimized", *t._AFTER_92, "t1.gpu_util.scale_factor", "t12.gpu_util.improvement",
                          "t4.baseline.throughput", "t4.cb.throughput", "t4.baseline.gpus_for_1m", "t4.cb.gpus_for_1m",
                          "t4.cb.cost_change", "s.lesson_cb.cost_change", "t4.cb.monthly_saving"]


def test_utilisation_rows(rows):
    r = rows["t4.baseline.gpu_util"]
    assert math.isnan(r.value) and (r.unit, r.role) == ("%", "measurement")
    assert r.how == ("a busy fraction is set by the offered load, which the source does not state: "
                     "one-request-at-a-time serving is busy exactly the share of its capacity it is offered")
    for cid in t._BEFORE_60:
        r = rows[cid]
        assert (r.value, r.unit, r.role, r.restates) == (60, "%", "restatement", "t4.baseline.gpu_util")
        assert r.how == "restates t4.baseline.gpu_util (60%)"
    for cid in t._AFTER_92:
        r = rows[cid]
        assert (r.value, r.unit, r.role, r.restates) == (92, "%", "restatement", "t4.cb.gpu_util")
        assert r.how == "restates t4.cb.gpu_util (92%)"
    r = rows["t4.problem.wasted_share"]
    assert (r.value, r.unit, r.role) == (40, "%", "computed")
    assert r.how == ("100% - 60% busy = 40% idle (the arithmetic holds); idle time under a partial load is spare "
                     "capacity, not waste caused by one-at-a-time processing")
    r = rows["t4.cb.gpu_util"]
    assert_allclose(r.value, 60 * 2500 / 1630, rtol=1e-12)       # 92.0%
    assert r.unit == "%" and r.how == (
        "the source's own arithmetic: 60% x 2,500 / 1,630 GPUs: the same demand on fewer GPUs of a fixed capacity "
        "per busy second. Continuous batching instead multiplies the work done per busy second (see "
        "t4.cb.throughput), so the busy share it reaches follows the load, not the policy")
    r = rows["t1.gpu_util.optimized"]
    assert_allclose(r.value, 60 * 1840 / 1200, rtol=1e-12)       # 92.0%
    assert r.unit == "%" and r.how == ("the source's own arithmetic along the throughput row: 60% x 1,840 / 1,200 "
                                       "requests/min (T4)")
    r = rows["t1.gpu_util.scale_factor"]
    assert math.isnan(r.value) and (r.unit, r.role) == ("text", "qualitative")
    assert r.how == "qualitative ('Batch処理最適化', 'batch-processing optimisation'); see t4.cb.gpu_util"
    r = rows["t12.gpu_util.improvement"]
    assert_allclose(r.value, 100 * (92 / 60 - 1), rtol=1e-12)
    assert r.unit == "%"
    assert r.how == "the stated pair's arithmetic: 92 / 60 - 1"


def _under(r):
    return {k: v for k, v in dict(r.under).items()}


def test_throughput_bounds(rows):
    r = rows["t4.baseline.throughput"]
    assert (r.value, r.unit, r.kind, r.holds_under) == (3.0, "requests/min", "upper_bound", t.T4_STAGE)
    assert r.reads == ("l8.effect.tokens_after", "l8.naive.tokens_per_turn")
    # the smallest bound of the two copies: 3.0 (INT8 6.0); saturation 1.00-2.00; 6,666,666.7 = 6.67M req/min
    assert r.how == ("one request at a time reads all weights for every generated token: at most 3.0 req/min per GPU "
                     "for 100-token replies even with free prompts and full bandwidth (with INT8 weights 6.0; model "
                     "at saturation: 1.00-2.00, 4 or 8 GPUs per copy); read as the whole service's rate, 1,200 is far "
                     "below the 6.67M req/min of 1M sessions")
    u = _under(r)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"), ("t4_throughput_basis", "fleet")}
    assert (u[("tokens_per_turn", "s1_50")].value, u[("tokens_per_turn", "s2_500")].value) == (6.0, 0.6)
    fleet = u[("t4_throughput_basis", "fleet")]
    assert_allclose(fleet.value, DEMAND, rtol=1e-12)
    assert (fleet.kind, fleet.how) == ("estimate", "T4's rate read as the whole service's, against its demand")
    r = rows["t4.cb.throughput"]
    assert (r.value, r.unit, r.kind, r.holds_under) == (90.0, "requests/min", "upper_bound", t.T4_STAGE)
    assert r.reads == ("l8.effect.tokens_after", "l8.naive.tokens_per_turn")
    assert r.how == ("any batching needs >= 2 x parameters FLOPs per processed token: at most 90 req/min per GPU at "
                     "the dense FP16 peak counting only the 100 reply tokens (4 with the 2000-token prompts; model at "
                     "saturation: 20.0-25.0, 4 or 8 GPUs per copy)")
    u = _under(r)
    assert (u[("tokens_per_turn", "s1_50")].value, u[("tokens_per_turn", "s2_500")].value) == (180.0, 18.0)
    assert_allclose(u[("t4_throughput_basis", "fleet")].value, DEMAND, rtol=1e-12)


READS = ("l8.effect.tokens_after", "l8.naive.tokens_per_turn", "t1.sessions.optimized",
         "t1.s1_service.turns_per_session", "t1.s1_service.avg_session_length")


def test_gpu_rows(rows):
    # one at a time: 6,666,667 / 2 = 3,333,333 (4 GPUs a copy) and / 1 = 6,666,667 (8): median 5,000,000
    r = rows["t4.baseline.gpus_for_1m"]
    assert_allclose([r.value, r.low, r.high], [DEMAND * 0.75, DEMAND / 2, DEMAND], rtol=1e-12)
    assert (r.unit, r.kind, r.reads, r.depends_on) == ("count", "range", READS, "the GPUs per model copy")
    assert r.how == ("1M sessions x 200 turns / 30 min = 6.67M req/min (§1; T4's own 2,500 x 1,200 implies 3.00M) / "
                     "one-at-a-time saturation throughput per GPU (4 or 8 GPUs per copy): 3,333,333-6,666,667 GPUs")
    u = _under(r)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"),
                      ("concurrent_sessions", "one_per_day"), ("concurrent_sessions", "peak_open")}
    assert_allclose([u[("tokens_per_turn", "s1_50")].low, u[("tokens_per_turn", "s1_50")].high], [DEMAND / 4, DEMAND / 2])
    assert_allclose(u[("concurrent_sessions", "one_per_day")].high, DEMAND / 48, rtol=1e-12)
    # continuous: 6,666,667 / 20 = 333,333 and / 25 = 266,667: median 300,000
    r = rows["t4.cb.gpus_for_1m"]
    assert_allclose([r.value, r.low, r.high], [DEMAND * 0.045, DEMAND / 25, DEMAND / 20], rtol=1e-12)
    assert (r.unit, r.kind, r.reads, r.depends_on) == ("count", "range", READS, "the GPUs per model copy")
    assert r.how == ("the same 6.67M req/min / continuous-batching saturation throughput per GPU (4 or 8 GPUs per "
                     "copy): 266,667-333,333 GPUs")
    u = _under(r)
    assert_allclose([u[("tokens_per_turn", "s2_500")].low, u[("tokens_per_turn", "s2_500")].high],
                    [DEMAND / 10, DEMAND / 5], rtol=1e-12)
    # one 30-minute session a day: 1/48 of the demand, on the same GPUs per request
    day = u[("concurrent_sessions", "one_per_day")]
    assert_allclose([day.low, day.high], [DEMAND / 48 / 25, DEMAND / 48 / 20], rtol=1e-12)
    assert_allclose(u[("concurrent_sessions", "peak_open")].low, DEMAND / 25, rtol=1e-12)


def test_cost_change(rows):
    # 100 × (2 / 20 − 1) = −90% (4 GPUs), 100 × (1 / 25 − 1) = −96% (8 GPUs): median −93%
    r = rows["t4.cb.cost_change"]
    assert_allclose([r.value, r.low, r.high], [-93, -96, -90], rtol=1e-12)
    assert (r.unit, r.kind, r.reads, r.depends_on) == ("%", "range", READS[:2], "the GPUs per model copy")
    assert r.how == ("GPU cost follows the GPU count: continuous / one-at-a-time GPUs - 1 = -96.0% to -90.0% (4 or 8 "
                     "GPUs per copy, whatever the demand); the stated 1,630 / 2,500 - 1 = -34.8% is 60% / 92% - 1: "
                     "the source scales cost by the utilisation ratio")
    u = _under(r)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")}
    # s1_50: 4 / 50 − 1 = −92%, 2 / 40 − 1 = −95%
    assert_allclose([u[("tokens_per_turn", "s1_50")].low, u[("tokens_per_turn", "s1_50")].high], [-95, -92])
    r = rows["s.lesson_cb.cost_change"]
    assert (r.value, r.unit, r.role, r.restates) == (-35, "%", "restatement", "t4.cb.cost_change")
    assert r.how == "restates t4.cb.cost_change (-35%)"


def test_monthly_saving(rows):
    # (3,333,333 − 333,333) = 3.0M GPUs × $5,000 = $15,000M (4 GPUs); (6,666,667 − 266,667) = 6.4M × $5,000 =
    # $32,000M (8 GPUs); median $23,500M
    r = rows["t4.cb.monthly_saving"]
    assert_allclose([r.value, r.low, r.high], [23.5e9, 15e9, 32e9], rtol=1e-12)
    assert (r.unit, r.kind, r.reads, r.depends_on) == ("USD/month", "range", READS, "the GPUs per model copy")
    # $875K / 870 = $1,006 a GPU-month, / 730 h = $1.38/GPU-h
    assert r.how == ("(one-at-a-time - continuous GPUs) x $6.85/GPU-h (T9's $5,000 a GPU-month) x 730 h: "
                     "$15,000M-$32,000M (4 or 8 GPUs per copy); the source's $875K for 870 GPUs implies "
                     "$1006/GPU-month = $1.38/GPU-h")
    u = _under(r)
    assert set(u) == {("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500"),
                      ("concurrent_sessions", "one_per_day"), ("concurrent_sessions", "peak_open"),
                      ("gpu_price", "aws_on_demand")}
    # AWS: the same GPUs × $3.4309 × 730 h
    aws = u[("gpu_price", "aws_on_demand")]
    assert_allclose([aws.low, aws.high], [3e6 * 3.4309 * 730, 6.4e6 * 3.4309 * 730], rtol=1e-12)
    day = u[("concurrent_sessions", "one_per_day")]
    assert_allclose([day.low, day.high], [15e9 / 48, 32e9 / 48], rtol=1e-12)
    # s1_50: (DEMAND / 4 − DEMAND / 50) and (DEMAND / 2 − DEMAND / 40) GPUs × $5,000
    s1 = u[("tokens_per_turn", "s1_50")]
    assert_allclose([s1.low, s1.high], [DEMAND * (1 / 4 - 1 / 50) * 5000, DEMAND * (1 / 2 - 1 / 40) * 5000],
                    rtol=1e-12)


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t4_continuous_batching")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
