"""Audit of the case study's §8 (tiered conversation memory), the §1 history figures and the tiered-memory
success factor, computed at the source's stated setting (200-turn sessions, the 1/10/50/200 turn partition,
its 500-token summary and retrieval budgets, 1M concurrent 30-minute sessions, $0.08 per million tokens) and
the audit's readings of a turn's tokens and of "concurrent" (:mod:`model.audit.readings`).
It reads no chapter parameter: the persona chapter's audit table is the same whatever that chapter is run
with.
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit import readings as R
from model.audit.claims import stated_value
from model.audit.l7_persona import requests_per_month, source_inputs
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.workload import memory_tiers, monthly_prompt_cost


def _restates(claim_id: str, of: str, what: str) -> Computed:
    return Computed(claim_id, stated_value(claim_id), "turns", f"restates {what} ({of})", role="restatement",
                    restates=of)


def _tiers(tokens_per_turn: str | None = None):
    """§8's memory tiers at the reading ``tokens_per_turn`` (default: the audit's, §8's 100)."""
    return memory_tiers(source_inputs(), R.tokens_per_turn(tokens_per_turn))


def _across_tokens(figure, skip: str | None = None) -> tuple:
    """``figure(tiers) -> value`` under the audit's reading of a turn's tokens, and ``under`` the others
    (less ``skip``, the reading the row's own figure sets)."""
    main, under = R.across("tokens_per_turn", lambda a: Alt(figure(_tiers(a))))
    under.pop(("tokens_per_turn", skip), None)
    return main, under


def monthly_saving(tokens_per_turn: str | None = None, concurrent_sessions: str | None = None) -> float:
    """USD a month the tiered memory saves on the source's 1M sessions at §2's $0.08 per 1M tokens: the history
    tokens no longer sent, under the readings of a turn's tokens and of "concurrent" (defaults: the audit's)."""
    t = _tiers(tokens_per_turn)
    return monthly_prompt_cost(requests_per_month(concurrent_sessions), t.full_history_tokens - t.tokens_sent,
                               source_inputs().self_hosted_usd_per_million)


def computed() -> list[Computed]:
    """Every §8 figure, the §1 history figures and the tiered-memory success factor."""
    c = stated_value
    x = source_inputs()
    tpt = R.tokens_per_turn()
    m = _tiers()
    history, history_under = _across_tokens(lambda t: t.full_history_tokens, skip="s1_50")
    tpt_main, tpt_under = R.across("tokens_per_turn", lambda a: Alt(R.tokens_per_turn(a)))

    def row(claim_id: str, figure, how: str) -> Computed:
        main, under = _across_tokens(figure)
        return Computed(claim_id, main.value, "tokens", how, under=under)

    out = [
        _restates("t1.s1_challenge.history_turns", "t1.s1_service.turns_per_session", "§1's 200 turns per session"),
        Computed("t1.s1_challenge.history_tokens", history.value, "tokens",
                 f"200 turns × {tpt:.0f} tokens/turn (§8's figure, the audit's reading) = {history.value:,.0f}; §1's "
                 f"10K implies {R.tokens_per_turn('s1_50'):.0f} tokens/turn and §2 prices "
                 f"{R.tokens_per_turn('s2_500'):.0f}: the source contradicts itself", under=history_under),
        _restates("l8.problem.turns", "t1.s1_service.turns_per_session", "§1's 200 turns"),
        _restates("l8.naive.turns", "t1.s1_service.turns_per_session", "§1's 200 turns"),
        Computed("l8.naive.tokens_per_turn", tpt_main.value, "tokens",
                 f"the audit's reading of a turn's tokens (data/claims/readings.csv); §1's 10K over 200 turns gives "
                 f"{R.tokens_per_turn('s1_50'):.0f}, §2 uses {R.tokens_per_turn('s2_500'):.0f}", role="reading",
                 under=tpt_under),
        row("l8.naive.context_tokens", lambda t: t.full_history_tokens,
            f"200 turns × {tpt:.0f} tokens (§8's own arithmetic); §1 says 10K for the same 200 turns"),
        Computed("l8.short_term.turns", c("l8.short_term.turns"), "turns",
                 "a design input (the recent turns sent raw)", role="design input"),
        row("l8.short_term.tokens_sent", lambda t: t.short_raw_tokens, f"{x.short_turns:.0f} turns × {tpt:.0f} tokens"),
        Computed("l8.mid_term.first_turn", x.short_turns + 1, "turns",
                 f"the turn after the {x.short_turns:.0f} short-term turns"),
        Computed("l8.mid_term.last_turn", c("l8.mid_term.last_turn"), "turns",
                 "a design input (where the summarised turns end)", role="design input"),
        row("l8.mid_term.raw_tokens", lambda t: t.mid_raw_tokens,
            f"({x.mid_last_turn:.0f} − {x.short_turns:.0f}) turns × {tpt:.0f} tokens"),
        Computed("l8.mid_term.tokens_sent", c("l8.mid_term.tokens_sent"), "tokens",
                 "a design input (an 8:1 summary budget); its quality is not measured", role="design input"),
        Computed("l8.long_term.first_turn", x.mid_last_turn + 1, "turns",
                 f"the turn after turn {x.mid_last_turn:.0f}"),
        _restates("l8.long_term.last_turn", "t1.s1_service.turns_per_session", "the session's last turn, §1's 200"),
        row("l8.long_term.raw_tokens", lambda t: t.long_raw_tokens,
            f"({x.turns_per_session:.0f} − {x.mid_last_turn:.0f}) turns × {tpt:.0f} tokens"),
        Computed("l8.long_term.tokens_sent", c("l8.long_term.tokens_sent"), "tokens",
                 "a design input (the retrieval budget, RAG top-k); retrieval quality is not measured",
                 role="design input"),
        row("l8.effect.tokens_before", lambda t: t.full_history_tokens,
            f"200 turns × {tpt:.0f} tokens (model.workload.memory_tiers)"),
        row("l8.effect.tokens_after", lambda t: t.tokens_sent,
            f"{m.short_raw_tokens:,.0f} raw + {x.mid_summary_tokens:,.0f} summary + {x.long_rag_tokens:,.0f} retrieved "
            "tokens (model.workload.memory_tiers)"),
    ]
    change, change_under = _across_tokens(lambda t: 100 * t.change)
    out.append(Computed("l8.effect.token_change", change.value, "%",
                        f"{m.tokens_sent:,.0f} / {m.full_history_tokens:,.0f} tokens − 1", under=change_under))
    price = x.self_hosted_usd_per_million

    main, under = R.across("tokens_per_turn", lambda a: Alt(monthly_saving(tokens_per_turn=a)))
    under.update(R.across("concurrent_sessions", lambda a: Alt(monthly_saving(concurrent_sessions=a)))[1])
    saved = m.full_history_tokens - m.tokens_sent
    out.append(Computed(
        "l8.effect.monthly_saving", main.value, "USD/month",
        f"{saved:,.0f} tokens saved per request × 1M concurrent sessions × {R.sessions_per_slot_month():,.0f} "
        f"sessions a month each (open at once) × 200 turns × ${price:g}/1M = ${main.value / 1e6:,.0f}M",
        under=under))
    out.append(Computed("l8.effect.quality_change", math.nan, "%", "the user-rating study is not published",
                        role="unpublished"))

    def cost_change(tokens_per_turn: str | None = None) -> Alt:
        t = _tiers(tokens_per_turn)
        whole = 100 * ((x.persona_tokens_after + t.tokens_sent) / (x.persona_tokens_after + t.full_history_tokens) - 1)
        history = 100 * t.change
        return Alt(whole, min(history, whole), max(history, whole))

    main, under = R.across("tokens_per_turn", cost_change)
    prompt_before = x.persona_tokens_after + m.full_history_tokens
    prompt_after = x.persona_tokens_after + m.tokens_sent
    out.append(Computed(
        "s.success_tiered_memory.cost_change", main.value, "%",
        f"what the cost covers is open: the history alone {100 * m.change:.0f}%, the whole prompt with the "
        f"{x.persona_tokens_after:,.0f}-token persona ({prompt_after:,.0f} / {prompt_before:,.0f} tokens − 1) "
        f"{main.value:.1f}%; summary and retrieval calls not counted",
        kind="range", low=main.low, high=main.high, under=under,
        depends_on="what the cost covers (the history alone, or the whole prompt with the persona)"))
    return out


def table() -> pd.DataFrame:
    """The audit table of :func:`computed`, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
