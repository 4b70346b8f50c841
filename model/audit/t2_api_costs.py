"""Audit of the case study's §2 (T2): API vs. self-hosted, the 60B tokens/month arithmetic, $30K → $3M
on the API, the $0.08 self-hosted price per 1M tokens and the $25.2K saving, at the source's own setting:
GPT-3.5 Turbo at its dated price, Llama 2 70B on A100 80GB at the audit's reading of the GPU price (T9's
own), 10K concurrent 30-minute sessions of 200 turns, T1's 92% GPU utilisation, §8's 2K-token prompts, and
the audit's readings of "concurrent", of a turn's tokens and of what a turn is billed for
(:mod:`model.audit.readings`; every other reading is computed too).
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.calendar import hours_per_month
from model.parameters import default
from model.economics.prices import api_price
from model.economics.token_cost import (MILLION, api_monthly_cost, modelled_tokens_per_s_per_gpu,
                              self_hosted_usd_per_million_tokens, throughput_for_price)
from model.economics.token_volume import ChatWorkload, TokenVolume, monthly_tokens, stated_product

#: The API the source starts on (§2: GPT-3.5 Turbo, $0.5/1M input): its dated row in data/prices.
API_MODEL = "gpt-3.5-turbo-0125"
#: The source's GPU and cloud (§2: AWS + NVIDIA A100; 80GB, the A100 that holds Llama 2 70B on 4 GPUs).
GPU = ("a100-80gb", "aws", "on-demand")
#: The source's model (§2: Llama 2 70B).
MODEL = "llama-2-70b"


def _nr(claim_id: str, unit: str, why: str, role: str) -> Computed:
    return Computed(claim_id, math.nan, unit, why, role=role)


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def utilization() -> float:
    """T1's GPU utilisation after continuous batching, as a fraction (92%)."""
    return stated_value("t1.gpu_util.optimized") / 100


def tokens_per_s_per_gpu(tokens_per_turn: str | None = None) -> dict:
    """Saturation throughput per GPU at the source's setting: the serving model (continuous batching,
    Llama 2 70B on 4 × A100 80GB, §8's 2K-token prompts and a reply of one turn's tokens under the reading
    ``tokens_per_turn``) and a cited measurement (LMDeploy, Llama-2-70B on 4 × A100-80G, data/parameters)."""
    prompt, reply = int(stated_value("l8.effect.tokens_after")), int(R.tokens_per_turn(tokens_per_turn))
    modelled = modelled_tokens_per_s_per_gpu(MODEL, GPU[0], int(default("batching_tp_degree_70b_a100")),
                                             prompt_tokens=prompt, reply_tokens=reply,
                                             max_batch=int(default("batching_max_num_seqs")))
    return {"modelled": modelled, "measured": default("econ_self_hosted_tokens_per_s_per_gpu")}


def workload(concurrent_sessions: float, tokens_per_turn: float, *, resend_history: bool = False,
             **kw) -> ChatWorkload:
    """The source's sessions (§1/§2: 30 min, 200 turns) at ``concurrent_sessions`` and ``tokens_per_turn``
    (new tokens only unless ``resend_history``)."""
    return ChatWorkload(resend_history=resend_history, concurrent_sessions=concurrent_sessions, session_minutes=stated_value("t2.arith.session_length"),
                        turns_per_session=int(stated_value("t2.arith.turns_per_session")),
                        tokens_per_turn=tokens_per_turn, reply_share=default("econ_reply_share"), **kw)


def tokens_per_turn_statements() -> pd.DataFrame:
    """Tokens per conversation turn as each section states or implies it (the alternatives of the reading
    ``tokens_per_turn``, data/claims/readings.csv).

    Columns: section, statement, tokens_per_turn.
    """
    return pd.DataFrame([
        ("§1", "200 turns of history = 10K tokens → 10,000 / 200", R.tokens_per_turn("s1_50")),
        ("§8", "200 turns × 100 tokens = 20K tokens", R.tokens_per_turn("s8_100")),
        ("§8", "recent 10 turns = 1K tokens → 1,000 / 10",
         stated_value("l8.short_term.tokens_sent") / stated_value("l8.short_term.turns")),
        ("§2", "… × 200 turns × 500 tokens = 60B tokens", R.tokens_per_turn("s2_500")),
    ], columns=["section", "statement", "tokens_per_turn"]).assign(tokens_per_turn=lambda t: t["tokens_per_turn"].astype(float))


def monthly_volume(concurrent_sessions: float, *, tokens_per_turn: str | None = None,
                   tokens_billed: str | None = None, concurrency: str | None = None) -> TokenVolume:
    """Tokens a month of ``concurrent_sessions`` "concurrent" sessions under the readings of a turn's tokens,
    of what a turn is billed for and of "concurrent" (defaults: the audit's, :mod:`model.audit.readings`)."""
    w = workload(concurrent_sessions, float(R.tokens_per_turn(tokens_per_turn)), **R.billed_context(tokens_billed))
    v = monthly_tokens(w)
    scale = float(concurrent_sessions * R.sessions_per_slot_month(concurrency)) / w.sessions_per_month()
    return TokenVolume(v.input_tokens * scale, v.cached_input_tokens * scale, v.output_tokens * scale,
                       v.turns * scale)


def api_cost(concurrent_sessions: float, **readings) -> float:
    """USD a month of ``concurrent_sessions`` on the API (input and output prices of data/prices) under the
    readings ``readings`` (keywords of :func:`monthly_volume`)."""
    return api_monthly_cost(monthly_volume(concurrent_sessions, **readings), api_price(API_MODEL))


#: The keyword of :func:`monthly_volume` for each quantity it reads.
VOLUME_READINGS = {"tokens_per_turn": "tokens_per_turn", "tokens_billed": "tokens_billed",
                   "concurrent_sessions": "concurrency"}


def across_volume(figure) -> tuple:
    """``figure(**readings) -> Alt`` at the audit's readings of the volume's quantities, and ``under`` every
    other reading of each (the others at the audit's)."""
    main = figure()
    under = {}
    for q, kw in VOLUME_READINGS.items():
        for a in R.other_readings(q):
            under[(q, a)] = figure(**{kw: a})
    return main, under


def naive_api_cost_row(claim_id: str) -> Computed:
    """The "naive" API cost at 1M sessions (§1, lessons): the API's bill for 1M concurrent sessions under the
    audit's readings, and under every other reading of a turn's tokens, what it is billed for and
    "concurrent"."""
    n = stated_value("t1.s1_challenge.sessions_target")
    main, under = across_volume(lambda **kw: Alt(api_cost(n, **kw)))
    cost_10k = stated_value("t2.arith.tokens_per_month") / MILLION * stated_value("t2.openai.price")
    own = cost_10k * stated_value("t2.arith.sessions_1m") / stated_value("t2.arith.concurrent_sessions")
    hist = under[("tokens_billed", "history")].value
    both = under[("tokens_billed", "history_persona")].value
    return Computed(claim_id, main.value, "USD/month",
                    f"the API's bill for 1M sessions: 1M x {R.sessions_per_slot_month():,.0f} sessions a month x "
                    f"200 turns x {R.tokens_per_turn():.0f} new tokens at {api_price(API_MODEL).model}'s input and "
                    f"output prices = ${main.value / 1e6:,.1f}M; re-sending the conversation ${hist / 1e6:,.0f}M, "
                    f"and the 10K persona too ${both / 1e9:.1f}B; §2's own arithmetic gives ${own / 1e6:.0f}M",
                    under=under)


def computed() -> list[Computed]:
    """Every T2 figure, computed at the source's setting and the audit's readings."""
    api = api_price(API_MODEL)
    util = utilization()
    sessions, minutes = stated_value("t2.arith.concurrent_sessions"), stated_value("t2.arith.session_length")
    turns, tpt = stated_value("t2.arith.turns_per_session"), stated_value("t2.arith.tokens_per_turn")
    stated_tokens = stated_value("t2.arith.tokens_per_month")
    literal = stated_product(sessions, minutes, turns, tpt)
    main_tokens, under_tokens = across_volume(lambda **kw: Alt(monthly_volume(sessions, **kw).total_tokens))
    per_slot = R.sessions_per_slot_month()
    tokens_how = (f"{sessions / 1e3:,.0f}K concurrent × {per_slot:,.0f} sessions a month each (Little's law: "
                  f"{hours_per_month():g} h × 60 / {minutes:g} min) × {turns:g} turns × {R.tokens_per_turn():g} "
                  f"new tokens = {main_tokens.value / 1e9:,.0f}B; the stated factors multiply to "
                  f"{literal / 1e9:.0f}B, not 60B")
    openai = stated_value("t2.openai.price")
    self_price = stated_value("t2.self_hosted.price")
    cost_10k = stated_tokens / MILLION * openai
    sessions_1m = stated_value("t2.arith.sessions_1m")

    def price_range(tokens_per_turn: str | None = None, gpu_price: str | None = None) -> Alt:
        usd_h = R.gpu_usd_per_hour(gpu_price)
        prices = [self_hosted_usd_per_million_tokens(usd_h, v, util)
                  for v in tokens_per_s_per_gpu(tokens_per_turn).values()]
        return Alt(math.sqrt(prices[0] * prices[1]), min(prices), max(prices))

    price, under_price = R.across("tokens_per_turn", lambda a: price_range(tokens_per_turn=a))
    under_price.update(R.across("gpu_price", lambda a: price_range(gpu_price=a))[1])
    tps = tokens_per_s_per_gpu()
    usd_h = R.gpu_usd_per_hour()
    need = throughput_for_price(self_price, usd_h, util)
    diff = openai - self_price
    saving = stated_tokens / MILLION * diff
    tpt_main, tpt_under = R.across("tokens_per_turn", lambda a: Alt(R.tokens_per_turn(a)))
    del tpt_under[("tokens_per_turn", "s2_500")]  # this figure sets that reading
    return [
        Computed("t2.arith.openai_price", api.usd_per_1m_input, "USD/1M tokens",
                 f"{api.model} input price ({api.date}, data/prices); output tokens cost ${api.usd_per_1m_output:g}/1M"),
        Computed("t2.openai.price", api.usd_per_1m_input, "USD/1M tokens",
                 f"{api.model} input price ({api.date}, data/prices); output ${api.usd_per_1m_output:g}/1M"),
        Computed("t2.arith.concurrent_sessions", sessions, "count",
                 "restates the initial 10K concurrent sessions of T1/§1 (a scenario input)", role="restatement",
                 restates="t1.sessions.initial"),
        Computed("t2.arith.session_length", minutes, "min", "restates §1's 30-minute average session (an input)",
                 role="restatement", restates="t1.s1_service.avg_session_length"),
        Computed("t2.arith.turns_per_session", turns, "turns", "restates §1's 200 turns per session (an input)",
                 role="restatement", restates="t1.s1_service.turns_per_session"),
        Computed("t2.arith.tokens_per_turn", tpt_main.value, "tokens",
                 "§8 states 100 tokens a turn (the audit's reading), §1's 10K over 200 turns gives 50, §2 uses 500",
                 under=tpt_under),
        Computed("t2.arith.tokens_per_month", main_tokens.value, "tokens/month", tokens_how, under=under_tokens),
        Computed("t2.selection.tokens_per_month", main_tokens.value, "tokens/month",
                 "same volume as §2's initial setup: " + tokens_how, under=under_tokens),
        Computed("t2.arith.monthly_cost_10k", cost_10k, "USD/month",
                 f"stated 60B × ${openai:g}/1M = ${cost_10k / 1e3:,.0f}K (the API's bill for the model's "
                 f"{main_tokens.value / 1e9:,.0f}B tokens: ${api_cost(sessions) / 1e3:,.0f}K, see t1.inference_cost.initial)"),
        Computed("t2.arith.sessions_1m", sessions_1m, "count", "restates T1's 1M target (a scenario input)",
                 role="restatement", restates="t1.sessions.optimized"),
        Computed("t2.arith.monthly_cost_1m", cost_10k * sessions_1m / sessions, "USD/month",
                 f"$30K × (1M / 10K) = ${cost_10k * sessions_1m / sessions / 1e6:.1f}M; §1 and the lessons say $300M "
                 "for the same API route (100× more)"),
        Computed("t2.self_hosted.price", price.value, "USD/1M tokens",
                 f"${usd_h:.2f}/GPU-h ({R.gpu_price_label()}) / (throughput × 3600 × {util:.0%}) × 1e6 over the "
                 f"throughput the source leaves open: modelled {tps['modelled']:,.0f} tok/s/GPU, measured "
                 f"{tps['measured']:,.0f}: ${price.low:.2f} to ${price.high:.2f} (central: geometric mean); $0.08 "
                 f"needs {need:,.0f} tok/s per GPU",
                 kind="range", low=price.low, high=price.high, under=under_price,
                 depends_on="the tokens per second a GPU sustains (the serving model's or a published measurement)"),
        Computed("t2.self_hosted.price_change", _pct_change(self_price, openai), "%",
                 f"0.08 / 0.5 − 1 = {_pct_change(self_price, openai):.0f}% (arithmetic of the stated prices)"),
        _nr("t2.openai.latency", "s", "a measurement of the API; no model of OpenAI's serving to recompute it",
            "measurement"),
        _nr("t2.self_hosted.latency", "s",
            "a measurement; equals T3's vLLM P95 (2.2 s), whose reproduction is the batching chapter's", "measurement"),
        Computed("t2.self_hosted.latency_change", _pct_change(stated_value("t2.self_hosted.latency"),
                                                              stated_value("t2.openai.latency")), "%",
                 "2.2 / 1.8 − 1 = +22.2% (arithmetic of the stated latencies)"),
        _nr("t2.openai.model", "text", "qualitative (a model name)", "qualitative"),
        _nr("t2.self_hosted.model", "text", "qualitative (a model name)", "qualitative"),
        _nr("t2.openai.hosting", "text", "qualitative (a hosting choice)", "qualitative"),
        _nr("t2.self_hosted.hosting", "text", "qualitative (a hosting choice)", "qualitative"),
        _nr("t2.openai.customisability", "text", "qualitative", "qualitative"),
        _nr("t2.self_hosted.customisability", "text", "qualitative", "qualitative"),
        Computed("t2.selection.price_difference", diff, "USD/1M tokens", "0.5 − 0.08 = 0.42"),
        Computed("t2.selection.monthly_saving", saving, "USD/month",
                 f"60B × $0.42/1M = ${saving:,.0f} (arithmetic of the stated figures)"),
        Computed("t2.selection.annual_saving", 12 * saving, "USD/year", f"12 × ${saving:,.0f} = ${12 * saving:,.0f}"),
    ]


def table() -> pd.DataFrame:
    """The T2 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
