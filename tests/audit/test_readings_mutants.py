"""model.audit.readings by hand: the register's lookups, and the value of every alternative of every ambiguous
quantity from the stated figures (30-minute sessions, a month of 730 h, §11's 1,200/600-GPU day, §8's 100 tokens a
turn, §1's 10K tokens over 200 turns, §2's 500, T9's 900 GPUs at $4.5M a month, §10's +10% spares, the 10K persona),
each error message in full, and the register's own check on broken registers."""

import math

import pytest
from numpy.testing import assert_allclose

from model.audit import readings as R
from model.audit.claims import claim_ids_of, stated_value
from model.audit.readings import Alt
from model.checks import ParameterError

QUANTITIES = ["concurrent_sessions", "tokens_per_turn", "tokens_billed", "fleet_900", "gpu_price", "latency",
              "t4_throughput_basis"]
ALTERNATIVES = {"concurrent_sessions": ["mean_open", "peak_open", "one_per_day"],
                "tokens_per_turn": ["s8_100", "s1_50", "s2_500"],
                "tokens_billed": ["new_only", "history", "history_persona"], "fleet_900": ["mean", "peak"],
                "gpu_price": ["t9", "aws_on_demand"], "latency": ["e2e", "ttft"],
                "t4_throughput_basis": ["per_gpu", "fleet"]}


def _message(call):
    with pytest.raises(ParameterError) as e:
        call()
    return str(e.value)


def _aws_hour():
    """AWS on-demand A100 80GB, a GPU-hour (data/prices/gpu_prices.csv)."""
    from model.economics.prices import gpu_price

    return gpu_price("a100-80gb", "aws", "on-demand").usd_per_gpu_hour


def test_constants():
    assert R.HOURS_PER_DAY == 24.0 and R.MARKET_GPU == ("a100-80gb", "aws", "on-demand")
    assert R.READING_COLUMNS == ["quantity", "alternative", "audit", "label", "meaning", "defined_by", "source_lines",
                                 "why"]
    assert R.READINGS_FILE.name == "readings.csv"
    assert R.LATENCY_METRICS == {"e2e": "e2e_latency_s_p95", "ttft": "ttft_s_p95"}


def test_register_lookups():
    assert R.quantities() == QUANTITIES
    for q, alts in ALTERNATIVES.items():
        assert R.alternatives(q) == alts and R.audit_reading(q) == alts[0] and R.other_readings(q) == alts[1:]
    allowed = ", ".join(repr(q) for q in QUANTITIES)
    assert _message(lambda: R.alternatives("tokens")) == \
        f"quantity='tokens' is not allowed: quantity must be one of {allowed}"
    assert _message(lambda: R.label("latency", "tpot")) == \
        "alternative='tpot' is not allowed: alternative must be one of 'e2e', 'ttft'"
    assert R.label("tokens_per_turn", "s1_50") == "§1's 10K tokens over 200 turns"
    assert R.label("gpu_price", "t9") == "T9's $5,000 a GPU-month"
    assert R.defined_by("tokens_per_turn", "s1_50") == {"t1.s1_challenge.history_tokens",
                                                        "t1.s1_challenge.history_turns"}
    assert R.defined_by("latency", "e2e") == frozenset() and type(R.defined_by("latency", "e2e")) is frozenset
    # the first claim named sets the alternative
    assert R.setter("tokens_per_turn", "s1_50") == "t1.s1_challenge.history_tokens"
    assert R.setter("gpu_price", "t9") == "t9.gpu.monthly_cost" and R.setter("latency", "ttft") is None


def test_across_and_tags():
    seen = []
    main, under = R.across("latency", lambda a: seen.append(a) or Alt(len(a)))
    assert main == Alt(3) and under == {("latency", "ttft"): Alt(4)} and seen == ["e2e", "ttft"]
    a, b = R.tokens_per_turn("s1_50"), R.sessions_per_slot_month("peak_open")
    assert R.tags_of(a, None, b, 3.0) == {("tokens_per_turn", "s1_50"), ("concurrent_sessions", "peak_open")}
    assert R.tags_of() == frozenset() and R.tags_of(None) == frozenset()


def test_sessions_and_open_share():
    # 730 h × 60 ÷ 30 min = 1,460 sessions a slot-month open at once; at the peak × (1,200 + 600) ÷ 2 ÷ 1,200 = 1,095;
    # one a day: 730 ÷ 24
    for alt, want in ((None, 1460), ("mean_open", 1460), ("peak_open", 1095), ("one_per_day", 730 / 24)):
        v = R.sessions_per_slot_month(alt)
        assert_allclose(v, want, rtol=1e-12, err_msg=str(alt))
        assert R.tags_of(v) == {("concurrent_sessions", alt or "mean_open")}
    assert claim_ids_of(R.sessions_per_slot_month("peak_open")) == {
        "t1.s1_service.avg_session_length", "l11.autoscaling.peak_gpus", "l11.autoscaling.offpeak_gpus"}
    # a 30-minute session a day is open 30 ÷ 1,440 of the time
    assert_allclose(R.open_share("one_per_day"), 30 / 1440, rtol=1e-12)
    for alt in (None, "mean_open", "peak_open"):
        assert R.open_share(alt) == 1.0 and R.tags_of(R.open_share(alt)) == {("concurrent_sessions",
                                                                              alt or "mean_open")}
    assert R.tags_of(R.open_share("one_per_day")) == {("concurrent_sessions", "one_per_day")}
    assert _message(lambda: R.sessions_per_slot_month("always")) == (
        "concurrent_sessions='always' is not allowed: concurrent_sessions must be one of 'mean_open', 'peak_open', "
        "'one_per_day'")
    assert _message(lambda: R.open_share("always")).startswith("concurrent_sessions='always' is not allowed")


def test_tokens_and_billing():
    # §8's 100; §1's 10,000 ÷ 200 = 50; §2's 500
    for alt, want, ids in ((None, 100, {"l8.naive.tokens_per_turn"}), ("s8_100", 100, {"l8.naive.tokens_per_turn"}),
                           ("s1_50", 50, {"t1.s1_challenge.history_tokens", "t1.s1_challenge.history_turns"}),
                           ("s2_500", 500, {"t2.arith.tokens_per_turn"})):
        v = R.tokens_per_turn(alt)
        assert v == want and claim_ids_of(v) == ids and R.tags_of(v) == {("tokens_per_turn", alt or "s8_100")}
    assert R.billed_context() == R.billed_context("new_only") == {"resend_history": False, "persona_tokens": 0.0}
    assert R.billed_context("history") == {"resend_history": True, "persona_tokens": 0.0}
    persona = R.billed_context("history_persona")
    assert persona == {"resend_history": True, "persona_tokens": 10_000.0} and type(persona["persona_tokens"]) is float
    assert _message(lambda: R.billed_context("all")).startswith("tokens_billed='all' is not allowed")


def test_fleet_and_prices():
    # the month's mean of 900 peaks at 2 × 900 − 600 = 1,200; as the peak need: 900 + 10% = 990 at the peak and
    # 900 × (1,200 + 600) ÷ 2 ÷ 1,200 = 675 on average
    for alt, mean, peak in ((None, 900, 1200), ("mean", 900, 1200), ("peak", 675, 990)):
        m, p = R.fleet_gpus(alt)
        assert_allclose([m, p], [mean, peak], rtol=1e-12)
        assert R.tags_of(m) == R.tags_of(p) == {("fleet_900", alt or "mean")}
    assert claim_ids_of(R.fleet_gpus("peak")[1]) == {"t9.gpu.gpu_count", "l10.design.spare_gpu_share"}
    # T9: $4.5M ÷ 900 GPUs ÷ 730 h = $6.849 a GPU-hour, $5,000 a GPU-month
    aws = _aws_hour()
    for alt, hour in ((None, 4.5e6 / 900 / 730), ("t9", 4.5e6 / 900 / 730), ("aws_on_demand", aws)):
        h = R.gpu_usd_per_hour(alt)
        assert_allclose(h, hour, rtol=1e-12)
        assert R.tags_of(h) == {("gpu_price", alt or "t9")}
        assert_allclose(R.gpu_usd_per_month(alt), hour * 730, rtol=1e-12)
        assert R.tags_of(R.gpu_usd_per_month(alt)) == {("gpu_price", alt or "t9")}
    assert_allclose(R.gpu_usd_per_month(), 5000, rtol=1e-12)
    assert R.gpu_price_label() == R.gpu_price_label("t9") == "T9's $5,000 a GPU-month"
    assert R.gpu_price_label("aws_on_demand").startswith("aws on-demand a100-80gb, ")
    assert _message(lambda: R.gpu_price_label("azure")).startswith("gpu_price='azure' is not allowed")
    assert R.latency_metric() == R.latency_metric("e2e") == "e2e_latency_s_p95"
    assert R.latency_metric("ttft") == "ttft_s_p95"


def test_resolve_every_quantity():
    assert_allclose(R.resolve("concurrent_sessions", "peak_open"), 1095, rtol=1e-12)
    assert R.resolve("tokens_per_turn", "s2_500") == 500
    assert R.resolve("tokens_billed", "history") == {"resend_history": True, "persona_tokens": 0.0}
    assert_allclose(R.resolve("fleet_900", "peak"), (675, 990), rtol=1e-12)
    assert_allclose(R.resolve("gpu_price", "aws_on_demand"), _aws_hour(), rtol=1e-12)
    assert R.resolve("latency", "ttft") == "ttft_s_p95"
    assert R.resolve("t4_throughput_basis", "fleet") == "fleet"
    assert _message(lambda: R.resolve("t4_throughput_basis", "rack")).startswith(
        "t4_throughput_basis='rack' is not allowed")
    assert _message(lambda: R.resolve("price", "t9")) == (
        "quantity='price' is not allowed: quantity must be one of ['concurrent_sessions', 'fleet_900', 'gpu_price', "
        "'latency', 't4_throughput_basis', 'tokens_billed', 'tokens_per_turn']")


def test_check_register(monkeypatch):
    assert R.check_register() == []
    monkeypatch.setattr(R, "definitions", lambda: {("latency", "e2e"): frozenset({"no.such.claim"}),
                                                   ("gpu_price", "t9"): frozenset({"t9.gpu.gpu_count"})})
    values = {("latency", "e2e"): math.nan, ("latency", "ttft"): "ttft_s_p95", ("gpu_price", "t9"): math.inf,
              ("gpu_price", "aws_on_demand"): 1.5}

    def resolve(q, a):
        if (q, a) not in values:
            raise ParameterError("quantity", q, "known")
        return values[(q, a)]

    monkeypatch.setattr(R, "resolve", resolve)
    monkeypatch.setattr(R, "quantities", lambda: ["latency", "gpu_price", "fleet_900"])
    assert R.check_register() == [
        "latency=e2e: defined_by names unknown claim no.such.claim",
        "latency=e2e: no finite value",
        "gpu_price=t9: no finite value",
        "fleet_900=mean: quantity='fleet_900' is not allowed: quantity must be known",
        "fleet_900=peak: quantity='fleet_900' is not allowed: quantity must be known"]
    assert stated_value("t9.gpu.gpu_count") == 900
