import math

import pytest
from numpy.testing import assert_allclose

from model import economics as E
from model.audit.verdicts import audit, load_claims
from model.validation import ParameterError


def test_sessions_and_tokens_little_law():
    w = E.ChatWorkload(concurrent_sessions=10_000, session_minutes=30, turns_per_session=200, tokens_per_turn=500,
                       reply_share=0.5, resend_history=False)
    # 730 h x 60 min / 30 min = 1,460 sessions per slot-month
    assert_allclose(w.sessions_per_month(), 10_000 * 1460)
    v = E.monthly_tokens(w)
    assert_allclose(v.total_tokens, 10_000 * 1460 * 200 * 500)
    assert_allclose(v.output_tokens, v.input_tokens)


def test_resent_history_is_an_arithmetic_series():
    n, t = 200, 50
    w = E.ChatWorkload(1, 30, n, t, 0.5, persona_tokens=100, resend_history=True)
    per_session = w.input_tokens_by_turn().sum()
    # sum_k (100 + k*t + t/2) for k = 0..n-1
    assert_allclose(per_session, n * 100 + t * n * (n - 1) / 2 + n * t / 2)
    capped = E.ChatWorkload(1, 30, n, t, 0.5, resend_history=True, history_cap_tokens=1000)
    assert capped.input_tokens_by_turn().max() == 1000 + t / 2


def test_api_cost_and_caching():
    price = E.ApiPrice("m", "p", 0.5, 1.5, "2024")
    v = E.TokenVolume(input_tokens=2e6, cached_input_tokens=1e6, output_tokens=1e6, turns=1)
    assert_allclose(E.api_monthly_cost(v, price), 2 * 0.5 + 1.5)
    assert_allclose(E.api_monthly_cost(v, price, cached_discount=0.5), 1 * 0.5 + 0.25 + 1.5)


def test_self_hosted_price_inverse():
    p = E.self_hosted_usd_per_million_tokens(3.6, 1000, 1.0)
    assert_allclose(p, 1.0)  # $3.6/h for 3.6M tokens/h
    assert_allclose(E.throughput_for_price(p, 3.6, 1.0), 1000)
    # halving utilisation doubles the price
    assert_allclose(E.self_hosted_usd_per_million_tokens(3.6, 1000, 0.5), 2.0)


def test_autoscaling_sine_mean_is_midpoint():
    s = E.autoscaling_saving(peak_gpus=1200, trough_gpus=600, usd_per_gpu_hour=1.0, steps_per_day=96)
    assert_allclose(s["mean_gpus"], 900, rtol=2e-3)
    assert_allclose(s["saving_usd_per_month"], 300 * 730, rtol=5e-3)
    flat = E.autoscaling_saving(peak_gpus=1000, trough_gpus=1000, usd_per_gpu_hour=1.0)
    assert flat["saving_usd_per_month"] == 0


def test_unit_economics_of_t9():
    ue = E.UnitEconomics(20e6, 0.10, 9.99, 10.5e6)
    assert_allclose(ue.paid_users, 2e6)
    assert_allclose(ue.revenue, 19.98e6)
    assert_allclose(ue.gross_margin, (19.98 - 10.5) / 19.98)


def test_cost_breakdown_shares_sum_to_one():
    t = E.cost_breakdown({"a": 1.0, "b": 3.0})
    assert_allclose(t["share"].iloc[:-1].sum(), 1.0)
    assert t["usd_per_month"].iloc[-1] == 4.0


@pytest.mark.parametrize("kwargs, name", [
    (dict(concurrent_sessions=-1), "concurrent_sessions"),
    (dict(reply_share=1.5), "reply_share"),
    (dict(turns_per_session=0), "turns_per_session"),
])
def test_bad_workload(kwargs, name):
    base = dict(concurrent_sessions=1, session_minutes=30, turns_per_session=10, tokens_per_turn=5, reply_share=0.5)
    with pytest.raises(ParameterError, match=name):
        E.ChatWorkload(**{**base, **kwargs})


def test_bad_inputs_elsewhere():
    with pytest.raises(ParameterError, match="conversion_rate"):
        E.UnitEconomics(1e6, 1.2, 10, 1)
    with pytest.raises(ParameterError, match="mau"):
        E.UnitEconomics(-5, 0.1, 10, 1)
    with pytest.raises(ParameterError, match="sum to"):
        E.region_shares({"na": 0.5, "eu": 0.6})
    with pytest.raises(ParameterError, match="provider"):
        E.gpu_price("a100-80gb", "nobody", "on-demand")


def test_prices_are_dated_and_cited():
    g = E.gpu_prices()
    assert (g["usd_per_gpu_hour"] > 0).all() and (g["source"].str.len() > 10).all()
    p = E.gpu_price("a100-80gb", "aws", "on-demand")
    assert p.usd_per_gpu_hour > 0 and p.date
    assert E.api_price("gpt-3.5-turbo-0125").usd_per_1m_input == 0.5


def test_implied_gpu_costs_cross_sections():
    t = E.implied_gpu_costs().set_index("section")
    assert_allclose(t.loc["§9 (T9)", "usd_per_gpu_month"], 4.5e6 / 900)
    assert_allclose(t.loc["§4 (T4)", "usd_per_gpu_month"], 875e3 / 870)
    assert_allclose(t.loc["§5", "usd_per_gpu_month"], 1.6e6 / 730)
    # the sections disagree by more than 4x
    assert t["usd_per_gpu_month"].max() / t["usd_per_gpu_month"].min() > 4


def _inputs():
    return E.EconomicsInputs(gpu=E.gpu_price("a100-80gb", "aws", "on-demand"), api=E.api_price("gpt-3.5-turbo-0125"),
                             self_hosted_tokens_per_s_per_gpu=790.5, utilization=0.92, persona_tokens=10_000,
                             history_cap_tokens=10_000, multiregion_extra_usd=1.8e6)


def test_audits_cover_their_tables_once():
    x = _inputs()
    rows = E.audit_t2(x) + E.audit_t9(x) + E.audit_summary(x, achieved_availability_percent=99.79) + E.audit_r12()
    a = audit(rows)  # raises on duplicates
    ids = set(a["claim_id"])
    claims = load_claims(source="case_study")
    for prefix in ("t2.", "t9.", "r12."):
        assert {c for c in claims["claim_id"] if c.startswith(prefix)} <= ids
    v = a.set_index("claim_id")["verdict"]
    assert v["t2.arith.tokens_per_month"] == "inconsistent"      # 10K x 1,460 x 200 x 500 = 1.46T, not 60B
    assert v["t2.selection.monthly_saving"] == "consistent"      # 60B x 0.42 = 25.2K
    assert v["t9.unit.gross_margin"] == "consistent"
    assert v["t1.s1_goal.monthly_cost_cap"] == "inconsistent"    # 10.5M > 10M cap
    assert v["s.lesson_openai.monthly_cost"] == "inconsistent"   # $3M by §2's arithmetic


def test_naive_api_cost_brackets():
    own, hist, both = E.naive_api_cost_1m(_inputs())
    assert_allclose(own, 3e6)
    assert own < hist < both
    assert not (own <= 3e8 <= own * 1.05) and hist > 3e8


def test_modelled_throughput_below_the_compute_bound():
    """Every processed token costs >= 2 x matmul parameters FLOPs: tokens/s per GPU <= peak / (2 N)."""
    from model.architectures import load_architecture
    from model.economics import modelled_tokens_per_s_per_gpu
    from model.hardware import load_gpu

    arch = load_architecture("llama-2-70b")
    for gpu in ("a100-80gb", "h100-80gb"):
        bound = load_gpu(gpu).flops("fp16") / (2 * arch.matmul_parameters())
        x = modelled_tokens_per_s_per_gpu("llama-2-70b", gpu, 4, prompt_tokens=2000, reply_tokens=100)
        assert 0.3 * bound < x < bound
    # the faster GPU processes more tokens per GPU
    assert (modelled_tokens_per_s_per_gpu("llama-2-70b", "h100-80gb", 4, prompt_tokens=2000, reply_tokens=100)
            > modelled_tokens_per_s_per_gpu("llama-2-70b", "a100-80gb", 4, prompt_tokens=2000, reply_tokens=100))


def test_turn_rate_littles_law_by_hand():
    from model.economics import fleet_for_sessions, turn_rate_per_s

    # 1M sessions in progress, 200 turns over 30 minutes each: 1e6 x 200 / 1800 s
    assert_allclose(turn_rate_per_s(1e6, turns_per_session=200, session_minutes=30), 1e6 * 200 / 1800)
    replicas, gpus = fleet_for_sessions(1e6, replica_rate_per_s=1.0, replica_gpus=8, turns_per_session=200,
                                        session_minutes=30, spare_share=0.1)
    assert replicas == 111_112 and gpus == math.ceil(111_112 * 8 * 1.1)


def test_replica_rate_at_latency_target():
    from model.economics import replica_rate_at_latency
    from model.validation import ParameterError

    kw = dict(prompt_tokens=2000, reply_tokens=100, latency_metric="e2e_latency_s_p95", n_requests=300,
              load_fractions=(0.1, 0.3, 0.5, 0.7, 0.9))
    tight, sat, sweep = replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=4.0, **kw)
    loose, _, _ = replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=60.0, **kw)
    assert 0 < tight <= loose <= sat
    assert (sweep["e2e_latency_s_p95"].diff().dropna() > 0).all()  # latency grows with load
    with pytest.raises(ParameterError, match="latency_target_s"):
        replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=0.5, **kw)
    with pytest.raises(ParameterError, match="latency_metric"):
        replica_rate_at_latency("llama-2-70b", "a100-80gb", 8, latency_target_s=4.0,
                                **{**kw, "latency_metric": "speed"})
