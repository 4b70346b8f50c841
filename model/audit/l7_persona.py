"""Audit of the case study's §7 (persona prompts: compression, layering, cost, persona cache) and of the §1
persona figures, computed at the source's stated setting (Llama 2 70B with INT8 weights on the 900 A100s of
§5, 5M characters, 1M concurrent 30-minute sessions of 200 turns, $0.08 per million tokens). It reads no
chapter parameter: the persona chapter's audit table is the same whatever that chapter is run with.
"""

from __future__ import annotations

import math

import pandas as pd

from model.architectures import load_architecture
from model.audit.claims import stated_value
from model.audit.verdicts import Computed, audit
from model.hardware import load_gpu
from model.kv import kv_bytes_per_token, memory_budget
from model.parameters import default
from model.workload import (PersonaInputs, cache_hit_ratio, fleet_persona_capacity, monthly_prompt_cost,
                            zipf_exponent_for_top_share, zipf_top_share)

#: The source's serving setting, as names of the study's data rows:
#: model — case study §2 "Llama 2 70B（ファインチューニング）" (claim t2.self_hosted.model; data/models);
#: GPU — §2 "AWS + NVIDIA A100" (t2.self_hosted.hosting) in its 80GB form (§4 T4 "A100 80GB"; data/hardware.csv);
#: weights — §5 INT8, "A100 1台で収まる" (t5.int8.fits_one_a100);
#: KV cache — §3's "× 2 bytes" per element (t3.arith.bytes_per_param).
SOURCE_MODEL = "llama-2-70b"
SOURCE_GPU = "a100-80gb"
SOURCE_WEIGHT_DTYPE = "int8"
SOURCE_KV_DTYPE = "fp16"


def source_inputs() -> PersonaInputs:
    """The persona and memory figures the case study states (§1, §2, §7, §8), as tracked stated values.

    The light reading of "1M concurrent sessions" has each slot serve one session a day (days per month =
    ``hours_per_month`` / 24); the heavy reading (slots always busy) follows from the session length."""
    c = stated_value
    return PersonaInputs(
        characters=c("t1.s1_service.characters"),
        popular_characters=c("l7.effect.cached_top_characters"),
        persona_tokens_before=c("l7.compression.tokens_before"),
        persona_tokens_after=c("l7.compression.tokens_after"),
        concurrent_sessions=c("t2.arith.sessions_1m"),
        session_minutes=c("t1.s1_service.avg_session_length"),
        turns_per_session=c("t1.s1_service.turns_per_session"),
        sessions_per_slot_month=default("hours_per_month") / 24,
        self_hosted_usd_per_million=c("t2.self_hosted.price"),
        api_usd_per_million=c("t2.openai.price"),
        short_turns=c("l8.short_term.turns"),
        mid_last_turn=c("l8.mid_term.last_turn"),
        mid_summary_tokens=c("l8.mid_term.tokens_sent"),
        long_rag_tokens=c("l8.long_term.tokens_sent"),
    )


def fleet_capacity() -> tuple[int, str]:
    """Personas (2K-token, after compression) whose KV cache fits in the HBM of the source's fleet after INT8
    (§5: 900 A100), all of the KV budget given to personas; and how, in one line."""
    x = source_inputs()
    arch, gpu = load_architecture(SOURCE_MODEL), load_gpu(SOURCE_GPU)
    gpus = stated_value("t5.effect.gpus_after")
    kv_token = kv_bytes_per_token(arch, SOURCE_KV_DTYPE)
    budget = memory_budget(arch, gpu, context_tokens=0, n_gpus=1, weight_dtype=SOURCE_WEIGHT_DTYPE,
                           kv_dtype=SOURCE_KV_DTYPE)
    n = fleet_persona_capacity(fleet_gpus=int(gpus), kv_budget_bytes_per_gpu=budget.kv_budget_bytes,
                               kv_bytes_per_token=kv_token, persona_tokens=int(x.persona_tokens_after))
    how = (f"{gpus:.0f} A100 80GB (§5, after INT8) × {budget.kv_budget_bytes / 1e9:.1f} GB KV budget each "
           f"(Llama 2 70B INT8 weights, FP16 KV) ÷ {x.persona_tokens_after * kv_token / 1e9:.2f} GB per "
           f"{x.persona_tokens_after:,.0f}-token persona = {n:,} personas")
    return n, how


def popularity_range() -> tuple[float, float]:
    """The plausible Zipf exponents of a catalogue's popularity (``data/parameters/workload.csv``)."""
    return default("popularity_zipf_exponent_low"), default("popularity_zipf_exponent_high")


def computed() -> list[Computed]:
    """Every §7 figure and the §1 persona figures, computed at the source's setting."""
    c = stated_value
    x = source_inputs()
    out = [
        Computed("t1.s1_challenge.characters", c("t1.s1_service.characters"), "count",
                 "given: restates §1's service figure of 5M characters (t1.s1_service.characters)", verdict="given"),
        Computed("t1.s1_challenge.persona_prompt_tokens", c("l7.compression.tokens_before"), "tokens",
                 "given: the persona size before compression, the same 10K as §7 (l7.compression.tokens_before)",
                 verdict="given"),
        Computed("l7.problem.characters", c("t1.s1_service.characters"), "count",
                 "given: restates §1's 5M characters (t1.s1_service.characters)", verdict="given"),
        Computed("l7.problem.persona_prompt_tokens", c("t1.s1_challenge.persona_prompt_tokens"), "tokens",
                 "given: restates §1's 10K-token system prompt (t1.s1_challenge.persona_prompt_tokens)",
                 verdict="given"),
        Computed("l7.naive.tokens_per_request", c("l7.problem.persona_prompt_tokens"), "tokens",
                 "given: the naive design sends the whole 10K persona with every request (definition; history "
                 "comes on top)", verdict="given"),
        Computed("l7.compression.tokens_before", c("l7.problem.persona_prompt_tokens"), "tokens",
                 "given: the compression's input is §7's 10K persona (l7.problem.persona_prompt_tokens)",
                 verdict="given"),
    ]
    general, traits = c("l7.layering.general_persona_tokens"), c("l7.layering.individual_traits_tokens")
    out += [
        Computed("l7.compression.tokens_after", general + traits, "tokens",
                 f"the layered persona: {general:,.0f} general + {traits:,.0f} traits tokens (§7 layering); "
                 "a 5:1 LLM summary (GIST tokens proper need fine-tuning)"),
        Computed("l7.layering.general_persona_tokens", general, "tokens",
                 "given: a design input of the layering (the shared general persona)", verdict="given"),
        Computed("l7.layering.individual_traits_tokens", traits, "tokens",
                 "given: a design input of the layering (the character's own traits)", verdict="given"),
        Computed("l7.layering.total_tokens", general + traits, "tokens",
                 f"{general:,.0f} + {traits:,.0f} tokens"),
        Computed("l7.effect.tokens_before", c("l7.compression.tokens_before"), "tokens",
                 "given: restates the compression's 10K input (l7.compression.tokens_before)", verdict="given"),
        Computed("l7.effect.tokens_after", c("l7.layering.total_tokens"), "tokens",
                 "given: restates the layering total of 2K (l7.layering.total_tokens)", verdict="given"),
    ]
    change = 100 * (x.persona_tokens_after / x.persona_tokens_before - 1)
    out.append(Computed("l7.effect.token_change", change, "%",
                        f"{x.persona_tokens_after:,.0f} / {x.persona_tokens_before:,.0f} tokens − 1 = {change:.0f}%"))

    # --- dollars: the monthly volume of "1M concurrent sessions" is left open -----------------------------
    price = x.self_hosted_usd_per_million
    low_req, high_req = x.slot_requests_per_month, x.requests_per_month
    per_slot_low, per_slot_high = x.sessions_per_slot_month, x.little_sessions_per_slot_month
    for claim_id, tokens in (("l7.effect.cost_before", x.persona_tokens_before),
                             ("l7.effect.cost_after", x.persona_tokens_after)):
        implied = c(claim_id) / monthly_prompt_cost(x.concurrent_sessions * x.turns_per_session, tokens, price)
        low = monthly_prompt_cost(low_req, tokens, price)
        high = monthly_prompt_cost(high_req, tokens, price)
        out.append(Computed(
            claim_id, math.sqrt(low * high), "USD/month",
            f"1M concurrent slots × {per_slot_low:.1f} (one a day) to {per_slot_high:,.0f} (always busy, Little's "
            f"law) sessions per slot a month × 200 turns × {tokens:,.0f} tokens × ${price:g}/1M (§2) = "
            f"${low / 1e6:,.2f}M to ${high / 1e6:,.0f}M (central: geometric mean); the stated figure is "
            f"{implied:.0f} sessions per slot a month: each 'concurrent' slot holding one session a day",
            kind="range", low=low, high=high))
    before = monthly_prompt_cost(high_req, x.persona_tokens_before, price)
    after = monthly_prompt_cost(high_req, x.persona_tokens_after, price)
    out.append(Computed("l7.effect.cost_change", 100 * (after / before - 1), "%",
                        "cost ∝ prompt tokens on any volume and $/token basis; caching the persona (the 85% hits) "
                        "would cut prefill further, which the figure ignores"))

    # --- the persona cache: popularity law and cache policy are left open -------------------------------
    n, k = int(x.characters), int(x.popular_characters)
    s_low, s_high = popularity_range()
    s_mid = (s_low + s_high) / 2
    lo = cache_hit_ratio(n, k, s_low, "lru")
    hi = cache_hit_ratio(n, k, s_high, "static")
    mid = zipf_top_share(n, k, s_mid)
    s_needed = zipf_exponent_for_top_share(n, k, float(c("l7.effect.cache_hit_rate")) / 100)
    out.append(Computed(
        "l7.effect.cache_hit_rate", 100 * mid, "%",
        f"top {k:,} of {n:,} characters under Zipf popularity, s = {s_low:g} to {s_high:g} (web to video "
        f"catalogues, data/parameters), LRU (Che's approximation) to a static top-{k:,} cache: "
        f"{100 * lo:.1f}% to {100 * hi:.1f}% (central: static at s = {s_mid:g}); 85% needs s ≥ {s_needed:.3f} "
        "with a static cache; the popularity is not published",
        kind="range", low=100 * lo, high=100 * hi,
        reads=("t1.s1_service.characters", "l7.effect.cached_top_characters")))
    fleet, fleet_how = fleet_capacity()
    out.append(Computed(
        "l7.effect.cached_top_characters", fleet, "count",
        f"'GPU上にキャッシュ' bounded by the fleet's HBM: {fleet_how}",
        kind="upper_bound", reads=("t5.effect.gpus_after", "l7.compression.tokens_after")))
    return out


def table() -> pd.DataFrame:
    """The audit table of :func:`computed` (:func:`model.audit.verdicts.audit`)."""
    return audit(computed())
