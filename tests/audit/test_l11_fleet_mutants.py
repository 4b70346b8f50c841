"""model.audit.l11_fleet row by row, against figures worked by hand from the stated values of data/claims: a 1-min
monitoring interval, scale-out at 95% (T1's fleet at 92%), a $400K daily cost alert against T9's $10.5M a month,
§11's 1,200/600-GPU day saving $1.2M a month, T9's 900 GPUs at $4.5M a month ($5,000 a GPU-month), §10's +10% spares;
a month of 730 h.

Fast: the claims are looked up in a dict (the same rows as data/claims), the sinusoidal day of
model.economics.autoscaling (mutated and tested on its own) is replaced by a recorder with a chosen mean fleet, and
the audit table's section by a recorder; the whole audit is left to tests/audit/test_l11_fleet.py."""

import pytest
from numpy.testing import assert_allclose

from model.audit import claims as C
from model.audit import l11_fleet as L11
from model.audit import readings as R
from model.audit.claims import claim_ids_of, is_read_back
from claim_rows import ROWS as _ROWS, claim as _claim

#: the stand-in's mean fleet over the day (the model's sinusoid gives about 900)
MEAN = 900.25
#: T9's price: $4.5M ÷ 900 GPUs ÷ 730 h = $6.849… a GPU-hour ($5,000 a GPU-month)
T9_HOUR = 4.5e6 / 900 / 730


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    calls = []

    def saving(**kw):
        calls.append(kw)
        return {"mean_gpus": MEAN, "saving_usd_per_month": (1200 - MEAN) * kw["usd_per_gpu_hour"] * 730}

    monkeypatch.setattr(C, "claim", _claim)
    monkeypatch.setattr(L11, "autoscaling_saving", saving)
    return calls


def test_constants_and_pct_change():
    assert L11.T9_LINES == ("gpu", "llm_inference", "storage", "network", "multiregion", "other", "engineering")
    assert L11._pct_change(3.0, 2.0) == 50.0 and L11._pct_change(600.0, 1200.0) == -50.0


def test_saving_calls_the_day_at_each_price(fast):
    aws = float(R.gpu_usd_per_hour("aws_on_demand"))
    for reading, price in ((None, T9_HOUR), ("t9", T9_HOUR), ("aws_on_demand", aws)):
        fast.clear()
        s = L11.saving(reading)
        assert_allclose(s["saving_usd_per_month"], (1200 - MEAN) * price * 730, rtol=1e-12)
        assert len(fast) == 1 and set(fast[0]) == {"peak_gpus", "trough_gpus", "usd_per_gpu_hour"}
        assert fast[0]["peak_gpus"] == 1200 and fast[0]["trough_gpus"] == 600
        assert_allclose(fast[0]["usd_per_gpu_hour"], price, rtol=1e-12)


def test_rows_by_hand():
    """Every row of computed() from one call."""
    r = {c.claim_id: c for c in L11.computed()}
    assert list(r) == ["l11.monitoring.interval", "l11.monitoring.scale_out_threshold",
                       "l11.monitoring.daily_cost_alert", "l11.autoscaling.peak_gpus", "l11.autoscaling.offpeak_gpus",
                       "l11.autoscaling.offpeak_change", "l11.autoscaling.monthly_saving"]
    given = {"l11.monitoring.interval": (1, "min", "interval", "a monitoring interval the operator chooses"),
             # 95 − 92 = 3 points
             "l11.monitoring.scale_out_threshold": (
                 95, "%", "threshold",
                 "a threshold the operator chooses; the fleet's stated mean utilisation (92%) leaves 3 points below "
                 "it"),
             # T9: 4.5 + 2.4 + 0.8 + 0.6 + 0.8 + 0.9 + 0.5 = $10.5M a month ÷ (730 ÷ 24) days = $345,205 a day;
             # 400,000 ÷ 345,205 − 1 = 15.9%
             "l11.monitoring.daily_cost_alert": (
                 400_000, "USD", "threshold",
                 "a threshold the operator chooses; T9's $10.5M/month is $345K per day, so the alert sits 16% above "
                 "an average day")}
    for cid, (value, unit, role, how) in given.items():
        c = r[cid]
        assert c.value == value and is_read_back(c.value) and c.value.claim_id == cid
        assert (c.unit, c.role, c.verdict, c.how, c.under) == (unit, role, "given", how, ()), cid

    # the month's mean fleet of 900 with a 600 trough peaks at 2 × 900 − 600 = 1,200; as the peak need, 900 × 1.1 = 990
    p = r["l11.autoscaling.peak_gpus"]
    assert p.value == 1200 and (p.unit, p.role, p.verdict) == ("count", "computed", None)
    assert p.how == ("§11's day is symmetric about its mean (1,200 and 600 about 900); read as the month's mean fleet "
                     "(the audit's reading), T9's 900 GPUs peak at 2 × 900 − 600 = 1,200; read as the peak need, 900 "
                     "+ 10% hot spares = 990")
    assert set(p.under_map) == {("fleet_900", "peak")}
    assert_allclose(p.under_map[("fleet_900", "peak")].value, 990, rtol=1e-12)
    assert claim_ids_of(p.value) == {"t9.gpu.gpu_count", "l11.autoscaling.offpeak_gpus"}
    assert R.tags_of(p.value) == {("fleet_900", "mean")}

    # 1,200 × (1 − 50%) = 600; 600 ÷ 1,200 − 1 = −50%
    o = r["l11.autoscaling.offpeak_gpus"]
    assert o.value == 600 and (o.unit, o.how) == ("count", "1,200 × (1 − 50%) (arithmetic of the stated figures)")
    assert claim_ids_of(o.value) == {"l11.autoscaling.peak_gpus", "l11.autoscaling.offpeak_change"}
    ch = r["l11.autoscaling.offpeak_change"]
    assert ch.value == -50 and (ch.unit, ch.how) == ("%", "600 / 1,200 − 1")
    assert claim_ids_of(ch.value) == {"l11.autoscaling.peak_gpus", "l11.autoscaling.offpeak_gpus"}

    # (1,200 − 900.25) × $5,000 = $1,498,750; at the market price p: 299.75 × p × 730; the stated $1.2M at T9's
    # price is 1.2M ÷ (600 GPUs × $5,000) × 24 h = 9.6 h a day of 600 GPUs off
    s = r["l11.autoscaling.monthly_saving"]
    aws = float(R.gpu_usd_per_hour("aws_on_demand"))
    assert_allclose(s.value, 299.75 * 5000, rtol=1e-12)
    market = 299.75 * aws * 730
    assert s.how == (f"sinusoidal day 1,200 ↔ 600 GPUs: mean 900 GPUs, 300 GPU-months saved × $5,000 (T9's $5,000 a "
                     f"GPU-month) = $1.50M; at {R.gpu_price_label('aws_on_demand')} ${market / 1e6:.2f}M; $1.2M at "
                     "T9's price means 600 GPUs off 9.6 h a day")
    assert R.gpu_price_label() == "T9's $5,000 a GPU-month"
    assert set(s.under_map) == {("gpu_price", "aws_on_demand")}
    assert_allclose(s.under_map[("gpu_price", "aws_on_demand")].value, market, rtol=1e-12)
    assert (s.unit, s.role, s.kind) == ("USD/month", "computed", "estimate")
    for cid in ("l11.autoscaling.offpeak_gpus", "l11.autoscaling.offpeak_change", "l11.autoscaling.monthly_saving"):
        assert r[cid].role == "computed" and r[cid].verdict is None and r[cid].kind == "estimate"


def test_figures_printed_at_their_rounding_edges(monkeypatch):
    """T9's GPUs at $4,450,005 a month: T9 totals $10,450,005 ($10.5M, just above 10.45) a month, $343,562 a day
    (× 24 ÷ 730: 343.56 → $344K), the alert 400,000 ÷ 343,562 − 1 = 16.4% above; a GPU-month $4,944.45; savings
    stated just above half a cent of $1M ($1.235001M → $1.24M, $2.345001M → $2.35M); $1.2M ÷ (600 × $4,944.45) × 24
    = 9.7 h a day."""
    rows = dict(_ROWS)
    rows["t9.gpu.monthly_cost"] = {**rows["t9.gpu.monthly_cost"], "stated_value": 4_450_005.0}
    monkeypatch.setattr(C, "claim", rows.__getitem__)
    t9_hour = 4_450_005 / 900 / 730
    monkeypatch.setattr(L11, "autoscaling_saving", lambda **kw: {
        "mean_gpus": MEAN,
        "saving_usd_per_month": 1_235_001.0 if abs(kw["usd_per_gpu_hour"] / t9_hour - 1) < 1e-12 else 2_345_001.0})
    how = {c.claim_id: c.how for c in L11.computed()}
    assert how["l11.monitoring.daily_cost_alert"] == (
        "a threshold the operator chooses; T9's $10.5M/month is $344K per day, so the alert sits 16% above an average "
        "day")
    assert how["l11.autoscaling.monthly_saving"] == (
        f"sinusoidal day 1,200 ↔ 600 GPUs: mean 900 GPUs, 300 GPU-months saved × $4,944 (T9's $5,000 a GPU-month) = "
        f"$1.24M; at {R.gpu_price_label('aws_on_demand')} $2.35M; $1.2M at T9's price means 600 GPUs off 9.7 h a day")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert L11.table() == ("section", "model.audit.l11_fleet")
