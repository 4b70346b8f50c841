"""Audit of the case study's §7 (persona prompts: compression, layering, cost, persona cache) and of the §1
persona figures, computed at the source's stated setting (Llama 2 70B with INT8 weights on the A100 fleet of
§5 and §11, 5M characters, 1M concurrent 30-minute sessions of 200 turns, $0.08 per million tokens) and the
audit's reading of "concurrent" (:mod:`model.audit.readings`). It reads no chapter parameter: the persona
chapter's audit table is the same whatever that chapter is run with.
"""

from __future__ import annotations

import pandas as pd

from model.architectures import load_architecture
from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
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

    ``sessions_per_slot_month`` is that of the one-session-a-day reading of "concurrent"; the audit computes
    every volume under its own reading (:func:`model.audit.readings.sessions_per_slot_month`)."""
    c = stated_value
    return PersonaInputs(
        characters=c("t1.s1_service.characters"),
        popular_characters=c("l7.effect.cached_top_characters"),
        persona_tokens_before=c("l7.compression.tokens_before"),
        persona_tokens_after=c("l7.compression.tokens_after"),
        concurrent_sessions=c("t2.arith.sessions_1m"),
        session_minutes=c("t1.s1_service.avg_session_length"),
        turns_per_session=c("t1.s1_service.turns_per_session"),
        sessions_per_slot_month=R.sessions_per_slot_month("one_per_day"),
        self_hosted_usd_per_million=c("t2.self_hosted.price"),
        api_usd_per_million=c("t2.openai.price"),
        short_turns=c("l8.short_term.turns"),
        mid_last_turn=c("l8.mid_term.last_turn"),
        mid_summary_tokens=c("l8.mid_term.tokens_sent"),
        long_rag_tokens=c("l8.long_term.tokens_sent"),
    )


def requests_per_month(concurrent_sessions: str | None = None):
    """Turns a month of the source's 1M concurrent sessions under the reading ``concurrent_sessions`` of
    "concurrent" (default: the audit's; :mod:`model.audit.readings`)."""
    x = source_inputs()
    return x.concurrent_sessions * R.sessions_per_slot_month(concurrent_sessions) * x.turns_per_session


def persona_cost(tokens: float, concurrent_sessions: str | None = None) -> float:
    """USD a month of sending a ``tokens``-token persona with every turn of the source's 1M sessions at §2's
    $0.08 per 1M tokens, under the reading ``concurrent_sessions`` (default: the audit's)."""
    return monthly_prompt_cost(requests_per_month(concurrent_sessions), tokens,
                               source_inputs().self_hosted_usd_per_million)


def fleet_capacity() -> tuple[int, str]:
    """Characters whose own persona KV cache fits in the HBM of the largest fleet the source runs (§11: 1,200
    A100 at the peak) with §5's INT8 weights, all of the KV budget given to personas, each character holding
    only its own 1K-token traits (§7's layering: the 1K general persona is shared, held once); and how, in
    one line."""
    arch, gpu = load_architecture(SOURCE_MODEL), load_gpu(SOURCE_GPU)
    gpus = stated_value("l11.autoscaling.peak_gpus")
    traits = stated_value("l7.layering.individual_traits_tokens")
    kv_token = kv_bytes_per_token(arch, SOURCE_KV_DTYPE)
    budget = memory_budget(arch, gpu, context_tokens=0, n_gpus=1, weight_dtype=SOURCE_WEIGHT_DTYPE,
                           kv_dtype=SOURCE_KV_DTYPE)
    n = fleet_persona_capacity(fleet_gpus=int(gpus), kv_budget_bytes_per_gpu=budget.kv_budget_bytes,
                               kv_bytes_per_token=kv_token, persona_tokens=int(traits))
    how = (f"{gpus:,.0f} A100 80GB (§11's peak fleet, the largest the source runs) × "
           f"{budget.kv_budget_bytes / 1e9:.1f} GB KV budget each (Llama 2 70B INT8 weights, FP16 KV) ÷ "
           f"{traits * kv_token / 1e9:.2f} GB per character's own {traits:,.0f} tokens = {n:,} characters")
    return n, how


def popularity_range() -> tuple[float, float]:
    """The plausible Zipf exponents of a catalogue's popularity (``data/parameters/workload.csv``)."""
    return default("popularity_zipf_exponent_low"), default("popularity_zipf_exponent_high")


def _restates(claim_id: str, of: str, unit: str, what: str) -> Computed:
    return Computed(claim_id, stated_value(claim_id), unit, f"restates {what} ({of})", role="restatement",
                    restates=of)


def computed() -> list[Computed]:
    """Every §7 figure and the §1 persona figures, computed at the source's setting."""
    c = stated_value
    x = source_inputs()
    out = [
        _restates("t1.s1_challenge.characters", "t1.s1_service.characters", "count", "§1's service figure of 5M characters"),
        Computed("t1.s1_challenge.persona_prompt_tokens", c("t1.s1_challenge.persona_prompt_tokens"), "tokens",
                 "input: the persona (system prompt) of each character, 10K tokens before compression",
                 role="input"),
        _restates("l7.problem.characters", "t1.s1_service.characters", "count", "§1's 5M characters"),
        _restates("l7.problem.persona_prompt_tokens", "t1.s1_challenge.persona_prompt_tokens", "tokens",
                  "§1's 10K-token system prompt"),
        Computed("l7.naive.tokens_per_request", c("l7.naive.tokens_per_request"), "tokens",
                 "the naive design sends the whole 10K persona with every request (its definition; history "
                 "comes on top)", role="definition"),
        _restates("l7.compression.tokens_before", "l7.problem.persona_prompt_tokens", "tokens",
                  "§7's 10K persona, the compression's input"),
    ]
    general, traits = c("l7.layering.general_persona_tokens"), c("l7.layering.individual_traits_tokens")
    out += [
        Computed("l7.compression.tokens_after", general + traits, "tokens",
                 f"the layered persona: {general:,.0f} general + {traits:,.0f} traits tokens (§7 layering); "
                 "a 5:1 LLM summary (GIST tokens proper need fine-tuning)"),
        Computed("l7.layering.general_persona_tokens", general, "tokens",
                 "a design input of the layering (the shared general persona)", role="design input"),
        Computed("l7.layering.individual_traits_tokens", traits, "tokens",
                 "a design input of the layering (the character's own traits)", role="design input"),
        Computed("l7.layering.total_tokens", general + traits, "tokens",
                 f"{general:,.0f} + {traits:,.0f} tokens"),
        _restates("l7.effect.tokens_before", "l7.compression.tokens_before", "tokens", "the compression's 10K input"),
        _restates("l7.effect.tokens_after", "l7.layering.total_tokens", "tokens", "the layering total of 2K"),
    ]
    change = 100 * (x.persona_tokens_after / x.persona_tokens_before - 1)
    out.append(Computed("l7.effect.token_change", change, "%",
                        f"{x.persona_tokens_after:,.0f} / {x.persona_tokens_before:,.0f} tokens − 1 = {change:.0f}%"))

    # --- dollars: the monthly volume of "1M concurrent sessions", at the audit's reading ------------------
    price = x.self_hosted_usd_per_million
    for claim_id, tokens in (("l7.effect.cost_before", x.persona_tokens_before),
                             ("l7.effect.cost_after", x.persona_tokens_after)):
        implied = c(claim_id) / monthly_prompt_cost(x.concurrent_sessions * x.turns_per_session, tokens, price)
        main, under = R.across("concurrent_sessions", lambda a, t=tokens: Alt(persona_cost(t, a)))
        out.append(Computed(
            claim_id, main.value, "USD/month",
            f"1M concurrent sessions × {R.sessions_per_slot_month():,.0f} sessions a month each (open at once, "
            f"Little's law) × 200 turns × {tokens:,.0f} tokens × ${price:g}/1M (§2) = ${main.value / 1e6:,.1f}M; "
            f"the stated figure is {implied:.0f} sessions per slot a month, one a day",
            under=under))
    out.append(Computed("l7.effect.cost_change", change, "%",
                        "cost ∝ prompt tokens on any volume and $/token basis: "
                        f"{x.persona_tokens_after:,.0f} / {x.persona_tokens_before:,.0f} − 1; caching the persona "
                        "(the 85% hits) would cut prefill further, which the figure ignores"))

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
        reads=("t1.s1_service.characters", "l7.effect.cached_top_characters"),
        depends_on="the characters' popularity law (its Zipf exponent) and the cache policy"))
    fleet, fleet_how = fleet_capacity()
    out.append(Computed(
        "l7.effect.cached_top_characters", fleet, "count",
        f"'GPU上にキャッシュ' bounded by the fleet's HBM: {fleet_how}",
        kind="upper_bound", reads=("l11.autoscaling.peak_gpus", "l7.layering.individual_traits_tokens"),
        holds_under="any of the fleets the source runs (the largest counted), §5's INT8 weights, every byte of KV "
                    "memory given to personas and each character's own traits alone (the shared general persona "
                    "held once): the source caches them on the GPU (GPU上にキャッシュ), not in CPU memory"))
    return out


def table() -> pd.DataFrame:
    """The audit table of :func:`computed`, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
