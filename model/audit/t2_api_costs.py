"""Audit of the case study's §2 (T2): API vs. self-hosted, the 60B tokens/month arithmetic, $30K → $3M
on the API, the $0.08 self-hosted price per 1M tokens and the $25.2K saving, at the source's own setting:
GPT-3.5 Turbo at its dated price, Llama 2 70B on AWS A100 80GB (on-demand), 10K concurrent 30-minute
sessions of 200 turns, T1's 92% GPU utilisation, §8's 2K-token prompts and 100-token replies.
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit.verdicts import Computed, audit
from model.calendar import hours_per_month
from model.parameters import default
from model.economics.prices import api_price, gpu_price
from model.economics.token_cost import (MILLION, api_monthly_cost, modelled_tokens_per_s_per_gpu,
                              self_hosted_usd_per_million_tokens, throughput_for_price)
from model.economics.token_volume import ChatWorkload, monthly_tokens, stated_product

#: The API the source starts on (§2: GPT-3.5 Turbo, $0.5/1M input): its dated row in data/prices.
API_MODEL = "gpt-3.5-turbo-0125"
#: The source's GPU and cloud (§2: AWS + NVIDIA A100; 80GB, the A100 that holds Llama 2 70B on 4 GPUs).
GPU = ("a100-80gb", "aws", "on-demand")
#: The source's model (§2: Llama 2 70B).
MODEL = "llama-2-70b"


def _nr(claim_id: str, unit: str, why: str) -> Computed:
    return Computed(claim_id, math.nan, unit, why, verdict="not reproducible")


def _pct_change(new: float, old: float) -> float:
    return 100.0 * (new / old - 1.0)


def utilization() -> float:
    """T1's GPU utilisation after continuous batching, as a fraction (92%)."""
    return stated_value("t1.gpu_util.optimized") / 100


def tokens_per_s_per_gpu() -> dict:
    """Saturation throughput per GPU at the source's setting: the serving model (continuous batching,
    Llama 2 70B on 4 × A100 80GB, §8's 2K-token prompts and 100-token replies) and a cited measurement
    (LMDeploy, Llama-2-70B on 4 × A100-80G, data/parameters)."""
    prompt, reply = int(stated_value("l8.effect.tokens_after")), int(stated_value("l8.naive.tokens_per_turn"))
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
    """Tokens per conversation turn as each section states or implies it.

    Columns: section, statement, tokens_per_turn.
    """
    return pd.DataFrame([
        ("§1", "200 turns of history = 10K tokens → 10,000 / 200",
         stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns")),
        ("§8", "200 turns × 100 tokens = 20K tokens", stated_value("l8.naive.tokens_per_turn")),
        ("§8", "recent 10 turns = 1K tokens → 1,000 / 10",
         stated_value("l8.short_term.tokens_sent") / stated_value("l8.short_term.turns")),
        ("§2", "… × 200 turns × 500 tokens = 60B tokens", stated_value("t2.arith.tokens_per_turn")),
    ], columns=["section", "statement", "tokens_per_turn"]).assign(tokens_per_turn=lambda t: t["tokens_per_turn"].astype(float))


def naive_api_cost_1m() -> dict:
    """API cost per month at 1M sessions, USD, under each reading: ``"own"`` (§2's $30K scaled by 100),
    and the model at §1's 50 tokens per turn with ``"new"`` tokens only, the kept 10K-token ``"history"``
    re-sent every turn, or the history and the 10K persona (``"both"``)."""
    api = api_price(API_MODEL)
    cost_10k = stated_value("t2.arith.tokens_per_month") / MILLION * stated_value("t2.openai.price")
    scale = stated_value("t2.arith.sessions_1m") / stated_value("t2.arith.concurrent_sessions")
    tpt = stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns")
    n = stated_value("t1.s1_challenge.sessions_target")
    cap = stated_value("t1.s1_challenge.history_tokens")
    persona = stated_value("l7.compression.tokens_before")
    new = monthly_tokens(workload(n, tpt))
    hist = monthly_tokens(workload(n, tpt, resend_history=True, history_cap_tokens=cap))
    both = monthly_tokens(workload(n, tpt, resend_history=True, history_cap_tokens=cap, persona_tokens=persona))
    return {"own": cost_10k * scale, "new": api_monthly_cost(new, api), "history": api_monthly_cost(hist, api),
            "both": api_monthly_cost(both, api)}


def naive_api_cost_row(claim_id: str) -> Computed:
    """The "naive" API cost at 1M sessions (§1, lessons) over the readings of what each turn sends."""
    c = naive_api_cost_1m()
    return Computed(claim_id, c["history"], "USD/month",
                    f"the stateless API at 1M sessions, §1's 50 tokens/turn: new tokens only ${c['new'] / 1e6:,.0f}M, "
                    f"history re-sent (10K kept) ${c['history'] / 1e6:,.0f}M, plus the 10K persona "
                    f"${c['both'] / 1e9:.1f}B (what each turn sends is left open); §2's own arithmetic gives "
                    f"${c['own'] / 1e6:.0f}M from its undercounted 60B",
                    kind="range", low=c["new"], high=c["both"])


def computed() -> list[Computed]:
    """Every T2 figure, computed at the source's setting."""
    api = api_price(API_MODEL)
    gpu = gpu_price(*GPU)
    util = utilization()
    tps = tokens_per_s_per_gpu()
    sessions, minutes = stated_value("t2.arith.concurrent_sessions"), stated_value("t2.arith.session_length")
    turns, tpt = stated_value("t2.arith.turns_per_session"), stated_value("t2.arith.tokens_per_turn")
    stated_tokens = stated_value("t2.arith.tokens_per_month")
    literal = stated_product(sessions, minutes, turns, tpt)
    w = workload(sessions, tpt)
    volume = monthly_tokens(w)
    tokens_how = (f"{sessions / 1e3:,.0f}K concurrent × ({hours_per_month():g} h × 60 / {minutes:g} min) = "
                  f"{w.sessions_per_month() / 1e6:.1f}M sessions/month × {turns:g} turns × {tpt:g} tokens = "
                  f"{volume.total_tokens / 1e12:.2f}T (new tokens only, no re-sent context); the stated factors "
                  f"multiply to {literal / 1e9:.0f}B, not 60B")
    openai = stated_value("t2.openai.price")
    self_price = stated_value("t2.self_hosted.price")
    cost_10k = stated_tokens / MILLION * openai
    sessions_1m = stated_value("t2.arith.sessions_1m")
    prices = {k: self_hosted_usd_per_million_tokens(gpu.usd_per_gpu_hour, v, util) for k, v in tps.items()}
    need = throughput_for_price(self_price, gpu.usd_per_gpu_hour, util)
    diff = openai - self_price
    saving = stated_tokens / MILLION * diff
    return [
        Computed("t2.arith.openai_price", api.usd_per_1m_input, "USD/1M tokens",
                 f"{api.model} input price ({api.date}, data/prices); output tokens cost ${api.usd_per_1m_output:g}/1M"),
        Computed("t2.openai.price", api.usd_per_1m_input, "USD/1M tokens",
                 f"{api.model} input price ({api.date}, data/prices); output ${api.usd_per_1m_output:g}/1M"),
        Computed("t2.arith.concurrent_sessions", sessions, "count",
                 "restates the initial 10K concurrent sessions of T1/§1 (a scenario input)", verdict="given"),
        Computed("t2.arith.session_length", minutes, "min", "restates §1's 30-minute average session (an input)",
                 verdict="given"),
        Computed("t2.arith.turns_per_session", turns, "turns", "restates §1's 200 turns per session (an input)",
                 verdict="given"),
        Computed("t2.arith.tokens_per_turn",
                 stated_value("t1.s1_challenge.history_tokens") / stated_value("t1.s1_challenge.history_turns"), "tokens",
                 "§1 keeps 200 turns in 10K tokens = 50 tokens/turn; §8 says 100 tokens/turn; §2 uses 500"),
        Computed("t2.arith.tokens_per_month", volume.total_tokens, "tokens/month", tokens_how),
        Computed("t2.selection.tokens_per_month", volume.total_tokens, "tokens/month",
                 "same volume as §2's initial setup: " + tokens_how),
        Computed("t2.arith.monthly_cost_10k", cost_10k, "USD/month",
                 f"stated 60B × ${openai:g}/1M = ${cost_10k / 1e3:,.0f}K (from the model's "
                 f"{volume.total_tokens / 1e12:.2f}T tokens: ${volume.total_tokens / MILLION * openai / 1e3:,.0f}K)"),
        Computed("t2.arith.sessions_1m", sessions_1m, "count", "restates T1's 1M target (a scenario input)",
                 verdict="given"),
        Computed("t2.arith.monthly_cost_1m", cost_10k * sessions_1m / sessions, "USD/month",
                 f"$30K × (1M / 10K) = ${cost_10k * sessions_1m / sessions / 1e6:.1f}M; §1 and the lessons say $300M "
                 "for the same API route (100× more)"),
        Computed("t2.self_hosted.price", math.sqrt(prices["modelled"] * prices["measured"]), "USD/1M tokens",
                 f"${gpu.usd_per_gpu_hour:.2f}/GPU-h ({gpu.label}) / (throughput × 3600 × {util:.0%}) × 1e6 over the "
                 f"throughput the source leaves open: modelled {tps['modelled']:,.0f} tok/s/GPU → "
                 f"${prices['modelled']:.2f}, measured {tps['measured']:,.0f} → ${prices['measured']:.2f} (central: "
                 f"geometric mean); $0.08 needs {need:,.0f} tok/s per GPU",
                 kind="range", low=min(prices.values()), high=max(prices.values())),
        Computed("t2.self_hosted.price_change", _pct_change(self_price, openai), "%",
                 f"0.08 / 0.5 − 1 = {_pct_change(self_price, openai):.0f}% (arithmetic of the stated prices)"),
        _nr("t2.openai.latency", "s", "a measurement of the API; no model of OpenAI's serving to recompute it"),
        _nr("t2.self_hosted.latency", "s",
            "a measurement; equals T3's vLLM P95 (2.2 s), whose reproduction is the batching chapter's"),
        Computed("t2.self_hosted.latency_change", _pct_change(stated_value("t2.self_hosted.latency"),
                                                              stated_value("t2.openai.latency")), "%",
                 "2.2 / 1.8 − 1 = +22.2% (arithmetic of the stated latencies)"),
        _nr("t2.openai.model", "text", "qualitative (a model name)"),
        _nr("t2.self_hosted.model", "text", "qualitative (a model name)"),
        _nr("t2.openai.hosting", "text", "qualitative (a hosting choice)"),
        _nr("t2.self_hosted.hosting", "text", "qualitative (a hosting choice)"),
        _nr("t2.openai.customisability", "text", "qualitative"),
        _nr("t2.self_hosted.customisability", "text", "qualitative"),
        Computed("t2.selection.price_difference", diff, "USD/1M tokens", "0.5 − 0.08 = 0.42"),
        Computed("t2.selection.monthly_saving", saving, "USD/month",
                 f"60B × $0.42/1M = ${saving:,.0f} (arithmetic of the stated figures; at the model's volume: "
                 f"${volume.total_tokens / MILLION * diff / 1e3:,.0f}K)"),
        Computed("t2.selection.annual_saving", 12 * saving, "USD/year", f"12 × ${saving:,.0f} = ${12 * saving:,.0f}"),
    ]


def table() -> pd.DataFrame:
    """The T2 audit table."""
    return audit(computed())
