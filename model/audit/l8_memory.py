"""Audit of the case study's §8 (tiered conversation memory), the §1 history figures and the tiered-memory
success factor, computed at the source's stated setting (200-turn sessions, the 1/10/50/200 turn partition,
its 500-token summary and retrieval budgets, 1M concurrent 30-minute sessions, $0.08 per million tokens).
It reads no chapter parameter: the persona chapter's audit table is the same whatever that chapter is run
with.
"""

from __future__ import annotations

import math

import pandas as pd

from model.audit.claims import stated_value
from model.audit.l7_persona import source_inputs
from model.audit.verdicts import Computed, audit
from model.workload import memory_tiers, monthly_prompt_cost


def computed() -> list[Computed]:
    """Every §8 figure, the §1 history figures and the tiered-memory success factor."""
    c = stated_value
    x = source_inputs()
    tpt_s8 = c("l8.naive.tokens_per_turn")
    tpt_s1 = c("t1.s1_challenge.history_tokens") / c("t1.s1_challenge.history_turns")
    tpt_s2 = c("t2.arith.tokens_per_turn")
    m = memory_tiers(x, tpt_s8)
    out = [
        Computed("t1.s1_challenge.history_turns", c("t1.s1_service.turns_per_session"), "turns",
                 "given: restates §1's 200 turns per session (t1.s1_service.turns_per_session)", verdict="given"),
        Computed("t1.s1_challenge.history_tokens", m.full_history_tokens, "tokens",
                 f"200 turns × {tpt_s8:.0f} tokens/turn (§8's own figure) = {m.full_history_tokens:,.0f}; §1's 10K "
                 f"implies {tpt_s1:.0f} tokens/turn and §2 prices {tpt_s2:.0f}: the source contradicts itself"),
        Computed("l8.problem.turns", c("t1.s1_service.turns_per_session"), "turns",
                 "given: restates §1's 200 turns (t1.s1_service.turns_per_session)", verdict="given"),
        Computed("l8.naive.turns", c("t1.s1_service.turns_per_session"), "turns",
                 "given: restates §1's 200 turns (t1.s1_service.turns_per_session)", verdict="given"),
        Computed("l8.naive.tokens_per_turn", tpt_s1, "tokens",
                 f"§1: 10K tokens / 200 turns = {tpt_s1:.0f} tokens per turn; §2 uses {tpt_s2:.0f}: three "
                 "readings in one document"),
        Computed("l8.naive.context_tokens", m.full_history_tokens, "tokens",
                 f"200 turns × {tpt_s8:.0f} tokens (§8's own arithmetic); §1 says 10K for the same 200 turns"),
        Computed("l8.short_term.turns", c("l8.short_term.turns"), "turns",
                 "given: a design input (the recent turns sent raw)", verdict="given"),
        Computed("l8.short_term.tokens_sent", m.short_raw_tokens, "tokens",
                 f"{x.short_turns:.0f} turns × {tpt_s8:.0f} tokens"),
        Computed("l8.mid_term.first_turn", x.short_turns + 1, "turns",
                 f"the turn after the {x.short_turns:.0f} short-term turns"),
        Computed("l8.mid_term.last_turn", c("l8.mid_term.last_turn"), "turns",
                 "given: a design input (where the summarised turns end)", verdict="given"),
        Computed("l8.mid_term.raw_tokens", m.mid_raw_tokens, "tokens",
                 f"({x.mid_last_turn:.0f} − {x.short_turns:.0f}) turns × {tpt_s8:.0f} tokens"),
        Computed("l8.mid_term.tokens_sent", c("l8.mid_term.tokens_sent"), "tokens",
                 "given: a design input (an 8:1 summary budget); its quality is not measured", verdict="given"),
        Computed("l8.long_term.first_turn", x.mid_last_turn + 1, "turns",
                 f"the turn after turn {x.mid_last_turn:.0f}"),
        Computed("l8.long_term.last_turn", c("t1.s1_service.turns_per_session"), "turns",
                 "given: the session's last turn, §1's 200 (t1.s1_service.turns_per_session)", verdict="given"),
        Computed("l8.long_term.raw_tokens", m.long_raw_tokens, "tokens",
                 f"({x.turns_per_session:.0f} − {x.mid_last_turn:.0f}) turns × {tpt_s8:.0f} tokens"),
        Computed("l8.long_term.tokens_sent", c("l8.long_term.tokens_sent"), "tokens",
                 "given: a design input (the retrieval budget, RAG top-k); retrieval quality is not measured",
                 verdict="given"),
        Computed("l8.effect.tokens_before", m.full_history_tokens, "tokens",
                 f"200 turns × {tpt_s8:.0f} tokens (model.workload.memory_tiers)"),
        Computed("l8.effect.tokens_after", m.tokens_sent, "tokens",
                 f"{m.short_raw_tokens:,.0f} raw + {x.mid_summary_tokens:,.0f} summary + "
                 f"{x.long_rag_tokens:,.0f} retrieved tokens (model.workload.memory_tiers)"),
        Computed("l8.effect.token_change", 100 * m.change, "%",
                 f"{m.tokens_sent:,.0f} / {m.full_history_tokens:,.0f} tokens − 1"),
    ]
    saved = m.full_history_tokens - m.tokens_sent
    price = x.self_hosted_usd_per_million
    low = monthly_prompt_cost(x.slot_requests_per_month, saved, price)
    high = monthly_prompt_cost(x.requests_per_month, saved, price)
    out.append(Computed(
        "l8.effect.monthly_saving", math.sqrt(low * high), "USD/month",
        f"{saved:,.0f} tokens saved per request × 1M concurrent slots × {x.sessions_per_slot_month:.1f} (one a "
        f"day, the reading behind §7's $4.8M) to {x.little_sessions_per_slot_month:,.0f} (always busy) sessions "
        f"a month × 200 turns × ${price:g}/1M = ${low / 1e6:.2f}M to ${high / 1e6:,.0f}M (central: geometric "
        "mean)", kind="range", low=low, high=high))
    out.append(Computed("l8.effect.quality_change", math.nan, "%", "the user-rating study is not published",
                        verdict="not reproducible"))
    prompt_before = x.persona_tokens_after + m.full_history_tokens
    prompt_after = x.persona_tokens_after + m.tokens_sent
    whole = 100 * (prompt_after / prompt_before - 1)
    history = 100 * m.change
    out.append(Computed(
        "s.success_tiered_memory.cost_change", whole, "%",
        f"what the cost covers is open: the history alone {history:.0f}%, the whole prompt with the "
        f"{x.persona_tokens_after:,.0f}-token persona ({prompt_after:,.0f} / {prompt_before:,.0f} tokens − 1) "
        f"{whole:.1f}%; summary and retrieval calls not counted",
        kind="range", low=min(history, whole), high=max(history, whole)))
    return out


def table() -> pd.DataFrame:
    """The audit table of :func:`computed` (:func:`model.audit.verdicts.audit`)."""
    return audit(computed())
