"""model.audit.t6_regions by hand, without the whole audit: T6's shares, latencies (Azure's published P95 RTTs of
data/regions) and the multi-region design's cost at the source's setting and under the other readings.

Hand figures: T6's users are 40% North America, 25% Europe, 30% Asia, 5% other; US-East serves North America and
the other 5%, so the three inference regions carry 45%, 25%, 30%. The month's mean fleet is T9's 900 GPUs (§11's
peak reading: 900 × ((1,200 + 600) / 2) / 1,200 = 675); §10's +10% spares: one region holds 900 × 1.1 = 990 GPUs;
split by share, ceil(445.5) + ceil(247.5) + 297 = 991 (1 more); so that any one of three regions may fail, the other
two must carry the load: 3/2 × 900 = 1,350 GPUs (360 more). T9's GPU-month: $4.5M / 900 = $5,000; AWS on-demand
$3.4309/GPU-h × 730 h = $2,504.557."""
import functools
import math

import pytest
from numpy.testing import assert_allclose

import model.audit.claims as _claims
from model.audit import t6_regions as t
from model.economics.regions import GROUPS

AWS_MONTH = 3.4309 * 730


@pytest.fixture
def rows():
    return {c.claim_id: c for c in t.computed()}


def test_setting():
    assert (t.HOME_REGION, t.ASIA_REGION) == ("East US", "Japan East")
    assert_allclose(t.user_shares(), [0.40, 0.25, 0.30, 0.05], rtol=1e-12)
    assert_allclose(t.inference_region_shares(), [0.45, 0.25, 0.30], rtol=1e-12)
    assert (t.fleet_gpus(), t.fleet_gpus("mean")) == (900, 900)
    assert_allclose(t.fleet_gpus("peak"), 675, rtol=1e-12)
    assert_allclose([t.usd_per_gpu_month(), t.usd_per_gpu_month("t9")], [5000, 5000], rtol=1e-12)
    assert_allclose(t.usd_per_gpu_month("aws_on_demand"), AWS_MONTH, rtol=1e-12)
    assert_allclose(t.spare_share(), 0.10, rtol=1e-12)


def test_designs():
    d = t.multiregion_designs()
    assert list(d["design"]) == ["one region (+spares)", "split by user share (+spares)",
                                 "split, survives one region down"]
    assert list(d["regions"]) == [1, 3, 3]
    assert_allclose(d["gpus"], [990, 991, 1350])
    assert_allclose(d["extra_gpus"], [0, 1, 360])
    assert_allclose(d["extra_usd_per_month"], [0, 5000, 1.8e6], rtol=1e-12)
    # the peak reading: 675 × 1.1 = 742.5 → 743 in one region; 3/2 × 675 = 1,012.5 → 1,013, 270 more
    p = t.multiregion_designs(fleet_900="peak")
    assert_allclose(p["gpus"].iloc[[0, 2]], [743, 1013])
    a = t.multiregion_designs(gpu_price="aws_on_demand")
    assert_allclose(a["extra_usd_per_month"].iloc[-1], 360 * AWS_MONTH, rtol=1e-12)


def test_extra_under_every_reading():
    assert_allclose(t.multiregion_extra().value, 1.8e6, rtol=1e-12)
    assert_allclose(t.multiregion_extra(fleet_900="peak").value, 270 * 5000, rtol=1e-12)
    assert_allclose(t.multiregion_extra(gpu_price="aws_on_demand").value, 360 * AWS_MONTH, rtol=1e-12)
    main, under = t.multiregion_cost_readings()
    assert_allclose(main.value, 1.8e6, rtol=1e-12)
    assert list(under) == [("fleet_900", "peak"), ("gpu_price", "aws_on_demand")]
    assert_allclose([under[("fleet_900", "peak")].value, under[("gpu_price", "aws_on_demand")].value],
                    [1.35e6, 360 * AWS_MONTH], rtol=1e-12)


def test_claims_in_order(rows):
    ids = [f"t6.{g}.{k}" for g in GROUPS for k in ("user_share", "latency_from_us_east", "mitigation")]
    assert list(rows) == ids + ["t6.multiregion.asia_latency_before", "t6.multiregion.asia_latency_after",
                                "t6.multiregion.regions", "t6.multiregion.cost_increase"]


def test_shares_and_mitigations(rows):
    for g, v in zip(GROUPS, (40, 25, 30, 5)):
        r = rows[f"t6.{g}.user_share"]
        assert (r.value, r.unit, r.role) == (v, "%", "input")
        assert r.how == "input (the service's traffic split); the four shares sum to 100%"
        r = rows[f"t6.{g}.mitigation"]
        assert math.isnan(r.value) and (r.unit, r.role) == ("text", "qualitative")
        assert r.how == "qualitative (where the users are served)"


# data/regions: Azure's P95 RTTs from the source region to the group's other regions (count, min, q1, median, q3,
# max, ms), read from the table's percentiles
RTT = {("East US", "north_america"): (11, 11, 26, 44, 66, 75),
       ("East US", "europe"): (19, 74, 90, 96, 101, 110),
       ("East US", "asia"): (11, 165, 190, 214, 231, 244),
       ("East US", "other"): (12, 119, 188, 201.5, 210, 226),
       ("Japan East", "asia"): (10, 14, 39, 75.5, 102, 151)}


def _latency(r, source, group, median_text=None):
    n, lo, q1, med, q3, hi = RTT[(source, group)]
    assert (r.value, r.unit, r.kind, r.low, r.high, r.role) == (med, "ms", "range", lo, hi, "computed")
    name = group.replace("_", " ")
    assert r.depends_on == f"which of the {name} regions stands for the group"
    assert r.how == (f"Azure P95 RTT {source} → {n} {name} regions: median {median_text or med} ms, quartiles "
                     f"{q1}–{q3} ms, range {lo}–{hi} ms (the region standing for the group is the source's open "
                     "choice)")


def test_latencies(rows):
    _latency(rows["t6.north_america.latency_from_us_east"], "East US", "north_america")
    _latency(rows["t6.europe.latency_from_us_east"], "East US", "europe")
    _latency(rows["t6.asia.latency_from_us_east"], "East US", "asia")
    _latency(rows["t6.other.latency_from_us_east"], "East US", "other", "202")
    _latency(rows["t6.multiregion.asia_latency_after"], "Japan East", "asia", "76")
    r = rows["t6.multiregion.asia_latency_before"]
    assert (r.value, r.unit, r.role, r.restates) == (200, "ms", "restatement", "t6.asia.latency_from_us_east")
    assert r.how == "restates T6's Asia row (200 ms from US-East), audited there (Azure median 214 ms)"


def test_design_rows(rows):
    r = rows["t6.multiregion.regions"]
    assert (r.value, r.unit, r.role) == (3, "count", "design input")
    assert r.how == ("input: the design names three inference regions (US-East, EU-West, AP-Northeast; other users "
                     "via CDN)")
    r = rows["t6.multiregion.cost_increase"]
    assert_allclose(r.value, 1.8e6, rtol=1e-12)
    assert (r.unit, r.kind, r.role) == ("USD/month", "estimate", "computed")
    assert r.reads == ("t6.north_america.user_share", "t6.europe.user_share", "t6.asia.user_share",
                       "t6.other.user_share", "l10.design.spare_gpu_share")
    under = dict(r.under)
    assert_allclose([under[("fleet_900", "peak")].value, under[("gpu_price", "aws_on_demand")].value],
                    [1.35e6, 360 * AWS_MONTH], rtol=1e-12)
    # $800K / $5,000 = 160 GPUs
    assert r.how == ("§10 asks that one region's loss be covered: 1350 GPUs vs 990 in one region for the month's "
                     "mean fleet of 900, +360 × $5,000/GPU-month (T9's $5,000 a GPU-month); a plain split adds 1 "
                     "GPUs; $800K buys 160 GPUs")


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole

    monkeypatch.setattr(model.audit.whole, "section", lambda name: ("section", name))
    assert t.table() == ("section", "model.audit.t6_regions")


def test_the_share_rows_report_the_shares_sum(monkeypatch):
    """Shares that do not sum to 1 (0.2 + 0.25 + 0.3 + 0.05 = 0.8) are reported as they sum: 80%."""
    monkeypatch.setattr(t, "user_shares", lambda: [0.2, 0.25, 0.3, 0.05])
    monkeypatch.setattr(t, "inference_region_shares", lambda: [0.45, 0.25, 0.30])
    r = {c.claim_id: c for c in t.computed()}["t6.europe.user_share"]
    assert r.how == "input (the service's traffic split); the four shares sum to 80%"


_CLAIM = functools.lru_cache(maxsize=None)(_claims.claim)


@pytest.fixture(autouse=True)
def _claims_looked_up_once(monkeypatch):
    """Each stated figure of data/claims looked up once (a pure lookup of a fixed table, a pandas filter per call
    otherwise): the rows are computed several times faster, which keeps a run of the module's mutants short."""
    monkeypatch.setattr(_claims, "claim", _CLAIM)
