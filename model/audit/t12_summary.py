"""Audit of the case study's summary figures: T1 (the summary table and §1's requirements), T12 (final
results) and the SWOT / lessons rows that are money, scale, availability or latency figures, at the
source's own setting (T9's lines, the API's prices, §10's outage record) and the audit's readings
(:mod:`model.audit.readings`)."""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit.l10_availability import achieved_availability_percent
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.t2_api_costs import across_volume, api_cost, naive_api_cost_row
from model.audit.t9_costs import cost_lines
from model.audit.verdicts import Computed
from model.economics.availability import percent_rounding_tolerance as tol
from model.parameters import default
from model.economics.token_cost import MILLION


def _nr(claim_id: str, unit: str, why: str, role: str = "measurement") -> Computed:
    return Computed(claim_id, math.nan, unit, why, role=role)


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def _given(claim_id: str, unit: str, how: str, role: str) -> Computed:
    return Computed(claim_id, stated_value(claim_id), unit, how, role=role)


def _restates(claim_id: str, of: str, unit: str, how: str) -> Computed:
    return Computed(claim_id, stated_value(claim_id), unit, f"restates {of}: {how}", role="restatement", restates=of)


def total_cost_per_session() -> tuple[float, float]:
    """(initial, optimized) total monthly cost per concurrent session from T1's inference + infra lines."""
    initial = (stated_value("t1.inference_cost.initial") + stated_value("t1.infra_cost.initial")) / stated_value(
        "t1.sessions.initial")
    final = (stated_value("t1.inference_cost.optimized") + stated_value("t1.infra_cost.optimized")) / stated_value(
        "t1.sessions.optimized")
    return initial, final


def computed() -> list[Computed]:
    """Every T1 / T12 / SWOT money, scale, availability and latency figure, at the source's setting."""
    s0, s1 = stated_value("t1.sessions.initial"), stated_value("t1.sessions.optimized")
    per0, per1 = total_cost_per_session()
    inf0, inf1 = stated_value("t1.inference_cost.initial"), stated_value("t1.inference_cost.optimized")
    infra0, infra1 = stated_value("t1.infra_cost.initial"), stated_value("t1.infra_cost.optimized")
    t9 = cost_lines()
    t9_total = sum(t9.values())
    inference_t9 = t9["gpu"] + t9["llm_inference"]
    infra_t9 = t9["storage"] + t9["network"] + t9["multiregion"] + t9["other"]
    a = achieved_availability_percent()
    sla = float(stated_value("l10.sla.availability"))
    cost_10k = stated_value("t2.arith.tokens_per_month") / MILLION * stated_value("t2.openai.price")
    api_10k, api_10k_under = across_volume(lambda **kw: Alt(api_cost(s0, **kw)))
    lat0, lat1 = stated_value("t1.p95_latency.initial"), stated_value("t1.p95_latency.optimized")
    mau = stated_value("t9.unit.mau")
    eff = per0 / per1
    avail_how = (f"§10's record: 12 × 1 h maintenance + 3 × 2 h outages = 18 h/year → {a:.2f}% ({sla:g}% allows "
                 f"{stated_value('l10.sla.downtime_per_year'):g} h)")
    purchase = default("econ_a100_purchase_usd_per_gpu")
    gpus = stated_value("t9.gpu.gpu_count")
    capex, capex_under = R.across("fleet_900", lambda a: Alt(R.fleet_gpus(a)[1] * purchase))
    peak_gpus = R.fleet_gpus()[1]
    sessions = "the 10K → 1M concurrent sessions of T1/§1 (scenario inputs, the same in every section)"
    return [
        _restates("t1.title.concurrent_sessions", "t1.sessions.optimized", "count", sessions),
        _given("t1.sessions.initial", "count", "input: " + sessions, "input"),
        _given("t1.sessions.optimized", "count", "input: " + sessions, "input"),
        Computed("t1.sessions.scale_factor", s1 / s0, "x", "1M / 10K"),
        Computed("t1.inference_cost.initial", api_10k.value, "USD/month",
                 f"the API's bill for the initial 10K sessions at the audit's readings: ${api_10k.value / 1e3:,.0f}K a "
                 f"month; §2 prices the same inference at 60B × $0.5/1M = ${cost_10k / 1e3:,.0f}K", under=api_10k_under),
        Computed("t1.inference_cost.optimized", inference_t9, "USD/month",
                 f"T9's GPU ($4.5M) + LLM inference ($2.4M) = ${inference_t9 / 1e6:.1f}M; only GPU + LLM + network + "
                 "engineering make $8.0M (T1's 8.0 + 2.5 = T9's 10.5)"),
        Computed("t1.inference_cost.scale_factor", inf1 / inf0, "x", f"$8M / $120K = {inf1 / inf0:.1f}"),
        Computed("t1.inference_cost.efficiency_factor", (s1 / s0) / (inf1 / inf0), "x",
                 f"100× sessions for {inf1 / inf0:.1f}× cost = {(s1 / s0) / (inf1 / inf0):.2f}× per session "
                 f"(${inf0 / s0:.0f} → ${inf1 / s1:.0f} per session-month)"),
        _nr("t1.p95_latency.initial", "s", "a measurement of the initial (OpenAI) route, without a latency model of "
            "it; §2 states 1.8 s for it and T3 3.5 s P95 for HF Transformers, neither 2.8 s"),
        _nr("t1.p95_latency.optimized", "s", "a measurement; 3.2 s exceeds §1's 2-s requirement and 3-s goal"),
        Computed("t1.p95_latency.change", _pct_change(lat1, lat0), "%", "3.2 / 2.8 − 1 = +14.3%"),
        _nr("t1.infra_cost.initial", "USD/month", "a reported cost without a breakdown of the 10K-session setup"),
        Computed("t1.infra_cost.optimized", infra_t9, "USD/month",
                 f"T9's storage + network + multi-region + other = ${infra_t9 / 1e6:.1f}M (engineering $0.5M apart)"),
        Computed("t1.infra_cost.scale_factor", infra1 / infra0, "x", "$2.5M / $50K = 50"),
        Computed("t1.infra_cost.efficiency_factor", (s1 / s0) / (infra1 / infra0), "x",
                 "100× sessions / 50× cost = 2"),
        _nr("t1.availability.initial", "%", "a measurement without the outage record of the initial setup (98.5% = "
            "131 h/year down)"),
        Computed("t1.availability.optimized", a, "%", avail_how, tolerance=tol(sla)),
        Computed("t1.availability.change", stated_value("t1.availability.optimized") - stated_value(
            "t1.availability.initial"), "%", "99.95 − 98.5 = 1.45 percentage points (arithmetic of the stated figures)"),
        _given("t1.s1_service.response_time_limit", "s",
               f"a requirement; the achieved P95 of T1 ({lat1:g} s) misses it by "
               f"{lat1 / stated_value('t1.s1_service.response_time_limit') - 1:.0%}; §1's goal says 3 s", "threshold"),
        _restates("t1.s1_challenge.sessions_initial", "t1.sessions.initial", "count", sessions),
        _restates("t1.s1_challenge.sessions_target", "t1.sessions.optimized", "count", sessions),
        Computed("t1.s1_challenge.scale_factor", s1 / s0, "x", "1M / 10K"),
        naive_api_cost_row("t1.s1_challenge.naive_monthly_cost"),
        _restates("t1.s1_goal.concurrent_sessions", "t1.sessions.optimized", "count", sessions),
        _given("t1.s1_goal.response_time_limit", "s",
               f"a goal; the achieved P95 (T1) is {lat1:g} s, above it", "threshold"),
        _given("t1.s1_goal.monthly_cost_cap", "USD/month",
               f"a cap; T9's achieved total ${t9_total / 1e6:g}M exceeds it", "threshold"),
        Computed("t1.s1_goal.price_per_user", stated_value("t1.s1_goal.monthly_cost_cap") / mau, "USD/user/month",
                 f"$10M cap / 20M MAU (T9) = $0.50 per user; achieved ${t9_total / 1e6:g}M / 20M = "
                 f"${t9_total / mau:.3f}; revenue per MAU ${stated_value('t9.unit.monthly_revenue') / mau:.2f}"),
        # T12
        _restates("t12.sessions.initial", "t1.sessions.initial", "count", sessions),
        _restates("t12.sessions.optimized", "t1.sessions.optimized", "count", sessions),
        Computed("t12.sessions.improvement", s1 / s0, "x", "1M / 10K"),
        Computed("t12.cost_efficiency.initial", math.nan, "text",
                 "the baseline ('標準', 'standard') the 2.5x is relative to", role="definition"),
        Computed("t12.cost_efficiency.optimized", eff, "x",
                 f"T1 total cost per session: (120K + 50K) / 10K = ${per0:.1f} → (8M + 2.5M) / 1M = ${per1:.1f}: "
                 f"{eff:.2f}× (inference only 1.5×, infrastructure 2×)"),
        _restates("t12.availability.initial", "t1.availability.initial", "%", "98.5%, a measurement"),
        Computed("t12.availability.optimized", a, "%", avail_how, tolerance=tol(sla)),
        Computed("t12.availability.improvement", stated_value("t12.availability.optimized") - stated_value(
            "t12.availability.initial"), "%", "99.95 − 98.5 = 1.45 percentage points"),
        _restates("t12.p95_latency.initial", "t1.p95_latency.initial", "s", "2.8 s, a measurement"),
        _restates("t12.p95_latency.optimized", "t1.p95_latency.optimized", "s", "3.2 s, a measurement"),
        Computed("t12.p95_latency.improvement", _pct_change(lat1, lat0), "%",
                 "3.2 / 2.8 − 1 = +14.3% (a slowdown listed as an improvement)"),
        _nr("t12.gross_margin.initial", "%", "a reported margin; no revenue of the initial setup is given"),
        Computed("t12.gross_margin.optimized", 100 * (stated_value("t9.unit.monthly_revenue") - t9_total) / stated_value(
            "t9.unit.monthly_revenue"), "%", f"T9: ($20M − ${t9_total / 1e6:g}M) / $20M = 47.5%"),
        Computed("t12.gross_margin.improvement", _pct_change(stated_value("t12.gross_margin.optimized"),
                                                             stated_value("t12.gross_margin.initial")), "%",
                 "48 / 30 − 1 = +60% (relative change)"),
        # SWOT / lessons
        Computed("s.strength_scaling.factor", s1 / s0, "x", "1M / 10K"),
        _restates("s.strength_scaling.sessions_initial", "t1.sessions.initial", "count", sessions),
        _restates("s.strength_scaling.sessions_final", "t1.sessions.optimized", "count", sessions),
        Computed("s.strength_cost.efficiency_gain", eff, "x", f"as T12: ${per0:.1f} → ${per1:.1f} per session"),
        Computed("s.strength_cost.cost_vs_naive", 1 / eff, "x",
                 f"1 / {eff:.2f} = {1 / eff:.2f} of the naive (100× initial) cost; against §1's $300M naive "
                 f"figure it would be 10.5 / 300 = {t9_total / stated_value('t1.s1_challenge.naive_monthly_cost'):.3f}"),
        Computed("s.strength_availability.availability", a, "%", avail_how, tolerance=tol(sla)),
        Computed("s.weakness_latency.change", _pct_change(lat1, lat0), "%", "3.2 / 2.8 − 1 = +14.3%"),
        _restates("s.weakness_latency.initial", "t1.p95_latency.initial", "s", "2.8 s, a measurement"),
        _restates("s.weakness_latency.final", "t1.p95_latency.optimized", "s", "3.2 s, a measurement"),
        _restates("s.weakness_ops.gpu_count", "t5.effect.gpus_after", "count",
                  "the 900 GPUs of §5/T9 (the month's mean; §11 runs 1,200 at peak)"),
        _restates("s.weakness_ops.regions", "t6.multiregion.regions", "count",
                  "T6's three inference regions (US-East, EU-West, AP-Northeast)"),
        Computed("s.weakness_capex.initial_investment", capex.value, "USD",
                 f"the GPUs to buy are the fleet's peak: read as the month's mean (the audit's reading), T9's "
                 f"{gpus:,.0f} GPUs peak at {peak_gpus:,.0f} (§11) × ${purchase:,.0f} (DGX A100 launch price / 8, "
                 f"data/parameters) = ${capex.value / 1e6:.1f}M ({gpus:,.0f} GPUs alone: ${gpus * purchase / 1e6:.1f}M); "
                 "but T9 also pays $4.5M/month for the same GPUs, as if rented", under=capex_under),
        _restates("s.opportunity_specdec.latency_change", "r12.speculative_decoding.latency_change", "%",
                  "the roadmap's −30%, a forecast"),
        _restates("s.lesson_openai.sessions", "t1.sessions.optimized", "count", sessions),
        naive_api_cost_row("s.lesson_openai.monthly_cost"),
    ]


def table() -> pd.DataFrame:
    """The T1 / T12 / SWOT audit table, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
