"""model.audit.t9_costs by hand, without the whole audit: T9's lines, shares and unit economics, the self-hosted
tokens' cost under every reading, and the GPU price each section's dollar figures imply.

Hand figures: T9's lines are $4.5M + 2.4 + 0.8 + 0.6 + 0.8 + 0.9 + 0.5 = $10.5M a month; the stated rounded shares
43 + 23 + 8 + 6 + 8 + 9 + 5 = 102%. 1M concurrent sessions of half an hour fill 730 h × 2 = 1,460 sessions a month
each; 200 turns × 100 tokens = 20,000 tokens a session: 1e6 × 1,460 × 20,000 = 2.92e13 tokens at §2's $0.08 per
million = $2.336M. 20M MAU × 10% = 2M paid × $9.99 = $19.98M; − $10.5M = $9.48M, 9.48 / 19.98 = 47.4%."""
import functools
import math

import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t9_costs as t
from model.audit.t2_api_costs import monthly_volume

LINES = {"gpu": 4.5e6, "llm_inference": 2.4e6, "storage": 0.8e6, "network": 0.6e6, "multiregion": 0.8e6,
         "other": 0.9e6, "engineering": 0.5e6}
TOTAL = 10.5e6
AWS_HOUR = 3.4309                  # data/prices/gpu_prices.csv: a100-80gb aws on-demand
LLM = 1e6 * 1460 * 20_000 / 1e6 * 0.08


@pytest.fixture
def rows():
    return {c.claim_id: c for c in t.computed()}


def test_lines_and_breakdown():
    assert t.T9_LINES == tuple(LINES)
    assert t.cost_lines() == LINES
    b = t.breakdown()
    assert list(b["item"]) == [*LINES, "total"]
    assert_allclose(b["usd_per_month"], [*LINES.values(), TOTAL])
    assert_allclose(b["share"], [v / TOTAL for v in LINES.values()] + [1.0], rtol=1e-12)
    assert_allclose(b["stated_share"], [0.43, 0.23, 0.08, 0.06, 0.08, 0.09, 0.05, 1.0], rtol=1e-12)


def test_unit_economics():
    ue = t.unit_economics()
    assert (ue.mau, ue.arpu, ue.monthly_cost) == (20e6, 9.99, TOTAL)
    assert_allclose(ue.conversion_rate, 0.10, rtol=1e-12)


def test_implied_gpu_costs():
    d = t.implied_gpu_costs()
    assert list(d.columns) == ["section", "statement", "usd_per_month", "gpus", "usd_per_gpu_month",
                               "usd_per_gpu_hour"]
    assert list(d["section"]) == ["§4 (T4)", "§5", "§9 (T9)", "§11", "§11"]
    assert list(d["statement"]) == [
        "-35% ($875K/month) for 2,500 → 1,630 GPUs", "$1.6M/month for 1,630 → 900 GPUs",
        "GPU (A100 × 900) $4.5M/month",
        "$1.2M/month saved, 1,200 → 600 GPUs off-peak (sinusoidal day: mean 300 GPUs saved)",
        "$1.2M/month saved if 600 GPUs were off all month (upper bound on GPUs saved)"]
    # 2,500 − 1,630 = 870; 1,630 − 900 = 730; 900; (1,200 − 600) / 2 = 300; 1,200 − 600 = 600
    assert_allclose(d["gpus"], [870, 730, 900, 300, 600])
    assert_allclose(d["usd_per_month"], [875e3, 1.6e6, 4.5e6, 1.2e6, 1.2e6])
    per_month = [875e3 / 870, 1.6e6 / 730, 5000, 4000, 2000]
    assert_allclose(d["usd_per_gpu_month"], per_month, rtol=1e-12)
    assert_allclose(d["usd_per_gpu_hour"], [v / 730 for v in per_month], rtol=1e-12)
    assert d["usd_per_month"].dtype == float and d["gpus"].dtype == float


def test_claims_in_order(rows):
    assert list(rows) == [
        "t9.gpu.gpu_count", "t9.gpu.monthly_cost", "t9.llm_inference.monthly_cost", "t9.storage.monthly_cost",
        "t9.network.monthly_cost", "t9.multiregion.monthly_cost", "t9.other.monthly_cost",
        "t9.engineering.monthly_cost", "t9.total.monthly_cost", "t9.total.share",
        *[f"t9.{k}.share" for k in LINES],
        "t9.unit.mau", "t9.unit.paid_users", "t9.unit.conversion_rate", "t9.unit.arpu", "t9.unit.monthly_revenue",
        "t9.unit.gross_profit_revenue", "t9.unit.gross_profit_cost", "t9.unit.gross_profit", "t9.unit.gross_margin"]


def test_gpu_rows(rows):
    r = rows["t9.gpu.gpu_count"]
    assert (r.value, r.unit, r.role, r.restates) == (900, "count", "restatement", "t5.effect.gpus_after")
    assert r.how == "restates the 900 GPUs of §5 after INT8 (also the mean of §11's 1,200/600 day)"
    # $4.5M / 900 / 730 h = $6.849/GPU-h; AWS: 900 × 730 × $3.4309 = $2,254,101.30
    r = rows["t9.gpu.monthly_cost"]
    assert_allclose(r.value, 4.5e6, rtol=1e-12)
    assert (r.unit, r.role) == ("USD/month", "reading")
    under = dict(r.under)
    assert list(under) == [("gpu_price", "aws_on_demand")]
    assert_allclose(under[("gpu_price", "aws_on_demand")].value, 900 * 730 * AWS_HOUR, rtol=1e-12)
    assert r.how == ("the audit's reading of the GPU price: $4.5M for 900 GPUs is $6.85/GPU-h ($5,000 a GPU-month); "
                     "at aws on-demand a100-80gb, 2026-11-09 ($3.43/GPU-h) 900 GPUs cost $2.25M")


def test_llm_inference(rows):
    r = rows["t9.llm_inference.monthly_cost"]
    assert_allclose(r.value, LLM, rtol=1e-12)
    assert (r.unit, r.kind, r.role) == ("USD/month", "estimate", "computed")
    assert r.how == ("the self-hosted tokens of 1M sessions: 1M x 1,460 sessions a month x 200 turns x 100 tokens = "
                     "29.2T tokens x $0.08/1M (§2) = $2.34M; the GPUs serving Llama 2 are already the $4.5M line")
    under = dict(r.under)
    assert list(under) == [("concurrent_sessions", "one_per_day"), ("concurrent_sessions", "peak_open"),
                           ("tokens_billed", "history"), ("tokens_billed", "history_persona"),
                           ("tokens_per_turn", "s1_50"), ("tokens_per_turn", "s2_500")]
    # one session a day: 365 / 12 sessions a month instead of 1,460; 50 and 500 tokens a turn: ×1/2 and ×5
    assert_allclose(under[("concurrent_sessions", "one_per_day")].value, LLM / 1460 * 365 / 12, rtol=1e-12)
    assert_allclose(under[("tokens_per_turn", "s1_50")].value, LLM / 2, rtol=1e-12)
    assert_allclose(under[("tokens_per_turn", "s2_500")].value, LLM * 5, rtol=1e-12)
    for a in ("history", "history_persona"):
        assert_allclose(under[("tokens_billed", a)].value,
                        monthly_volume(1e6, tokens_billed=a).total_tokens / 1e6 * 0.08, rtol=1e-12)
    assert under[("tokens_billed", "history_persona")].value > under[("tokens_billed", "history")].value > 20 * LLM


def test_not_reproducible_lines(rows):
    for k, why in (("storage", "no stored volume, retention or $/GB given"),
                   ("network", "no traffic volume or $/GB given"),
                   ("other", "monitoring and logs: no volumes or prices given"),
                   ("engineering", "no headcount or salaries given")):
        r = rows[f"t9.{k}.monthly_cost"]
        assert math.isnan(r.value) and (r.unit, r.how, r.role) == ("USD/month", why, "measurement")


def test_multiregion(rows):
    r = rows["t9.multiregion.monthly_cost"]
    assert_allclose(r.value, 360 * 5000, rtol=1e-12)           # T6: 1,350 − 990 GPUs × $5,000
    assert (r.unit, r.kind, r.role) == ("USD/month", "estimate", "computed")
    assert r.how == ("the multi-region design of §6/§10 (T6 audit): 360 GPUs more so that one region may fail, at "
                     "T9's $5,000 a GPU-month")
    assert r.reads == ("t6.north_america.user_share", "t6.europe.user_share", "t6.asia.user_share",
                       "t6.other.user_share", "l10.design.spare_gpu_share")
    under = dict(r.under)
    assert_allclose([under[("fleet_900", "peak")].value, under[("gpu_price", "aws_on_demand")].value],
                    [270 * 5000, 360 * 730 * AWS_HOUR], rtol=1e-12)


def test_totals_and_shares(rows):
    r = rows["t9.total.monthly_cost"]
    assert (r.value, r.unit) == (TOTAL, "USD/month")
    assert r.how == "sum of the seven stated lines: 4.5 + 2.4 + 0.8 + 0.6 + 0.8 + 0.9 + 0.5 = $10.5M"
    r = rows["t9.total.share"]
    assert_allclose(r.value, 100, rtol=1e-12)
    assert r.unit == "%"
    assert r.how == "exact shares sum to 100%; the stated (rounded) line shares sum to 102%"
    text = {"gpu": "$4.5M / $10.5M = 42.9%", "llm_inference": "$2.4M / $10.5M = 22.9%",
            "storage": "$0.8M / $10.5M = 7.6%", "network": "$0.6M / $10.5M = 5.7%",
            "multiregion": "$0.8M / $10.5M = 7.6%", "other": "$0.9M / $10.5M = 8.6%",
            "engineering": "$0.5M / $10.5M = 4.8%"}
    for k, v in LINES.items():
        r = rows[f"t9.{k}.share"]
        assert_allclose(r.value, 100 * v / TOTAL, rtol=1e-12)
        assert (r.unit, r.how) == ("%", text[k])


def test_unit_rows(rows):
    expected = {
        "t9.unit.mau": (20e6, "count", "input (the service's user count)", "input"),
        "t9.unit.paid_users": (2e6, "count", "20M MAU × 10% = 2M", "computed"),
        "t9.unit.conversion_rate": (10, "%", "2M paid / 20M MAU", "computed"),
        "t9.unit.arpu": (9.99, "USD/user/month", "input (subscription price)", "input"),
        "t9.unit.monthly_revenue": (19.98e6, "USD/month", "2M × $9.99 = $19.98M", "computed"),
        "t9.unit.gross_profit_revenue": (19.98e6, "USD/month", "revenue 2M × $9.99 = $19.98M", "computed"),
        "t9.unit.gross_profit_cost": (TOTAL, "USD/month", "T9 total $10.5M (sum of the lines)", "computed"),
        "t9.unit.gross_profit": (9.48e6, "USD/month", "$19.98M − $10.5M = $9.48M", "computed"),
        "t9.unit.gross_margin": (100 * 9.48 / 19.98, "%", "$9.48M / $19.98M = 47.4%", "computed"),
    }
    for cid, (v, unit, how, role) in expected.items():
        r = rows[cid]
        assert_allclose(r.value, v, rtol=1e-12, err_msg=cid)
        assert (r.unit, r.how, r.role) == (unit, how, role), cid


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t9_costs")


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
