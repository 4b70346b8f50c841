"""Request streams with prefix identity and the character-chat workload, one concept per module:

``trace``
    :class:`Trace`, the column-wise request stream with prefix-block ids (and :func:`concat_traces`).
``traces``
    the real traces (Mooncake, Azure): checksum-verified loaders, record validation, the JSONL writer.
``grouping``
    :func:`group_blocks`: groups for traces that carry none (what a per-group TTL acts on).
``popularity``
    Zipf popularity (:func:`zipf_top_share`, :func:`zipf_exponent_for_top_share`, :class:`ZipfSampler`) and
    the LRU hit ratio by Che's approximation (:func:`che_lru_hit_ratio`).
``chat``
    the streamed synthetic character-chat generator (:func:`iter_character_chat`).
``persona``
    persona-prompt and conversation-memory economics (:class:`PersonaInputs`, :func:`memory_tiers`).

Every public name is re-exported here, so ``from model.workload import X`` keeps working.
"""


from model.workload.chat import CHAT_GROUPS, CharacterChatParams, character_chat_trace, iter_character_chat
from model.workload.grouping import GROUPINGS, group_blocks
from model.workload.persona import (MemoryTiers, PersonaInputs, fleet_persona_capacity, memory_tiers,
                                    memory_tiers_table, monthly_prompt_cost, node_persona_capacity,
                                    persona_budget_table, persona_cost_table, persona_hit_table,
                                    prefill_usd_per_million, static_hit_ratio)
from model.workload.popularity import (CACHE_POLICIES, ZipfSampler, binned_zipf, cache_hit_ratio,
                                       che_lru_hit_ratio, zipf_exponent_for_top_share, zipf_pmf, zipf_top_share)
from model.workload.trace import UNGROUPED, Trace, concat_traces
from model.workload.public_traces import (AZURE_CONVERSATION, AZURE_CONVERSATION_SHA256, MOONCAKE_CONVERSATION,
                                   MOONCAKE_CONVERSATION_SHA256, TRACES_DIR, TraceFormatError, load_azure_trace,
                                   load_mooncake_trace, parse_mooncake_lines, trace_to_jsonl_lines, write_jsonl)

__all__ = ["AZURE_CONVERSATION", "AZURE_CONVERSATION_SHA256", "CACHE_POLICIES", "CHAT_GROUPS",
           "CharacterChatParams", "GROUPINGS", "MOONCAKE_CONVERSATION", "MOONCAKE_CONVERSATION_SHA256",
           "MemoryTiers", "PersonaInputs", "TRACES_DIR", "Trace", "TraceFormatError", "UNGROUPED",
           "ZipfSampler", "binned_zipf", "cache_hit_ratio", "character_chat_trace", "che_lru_hit_ratio",
           "concat_traces", "fleet_persona_capacity", "group_blocks", "iter_character_chat",
           "load_azure_trace", "load_mooncake_trace", "memory_tiers", "memory_tiers_table",
           "monthly_prompt_cost", "node_persona_capacity", "parse_mooncake_lines", "persona_budget_table",
           "persona_cost_table", "persona_hit_table", "prefill_usd_per_million", "static_hit_ratio",
           "trace_to_jsonl_lines", "write_jsonl", "zipf_exponent_for_top_share", "zipf_pmf", "zipf_top_share"]
