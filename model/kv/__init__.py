"""KV cache: its size per token and per session (:mod:`model.kv.size`: per layer kind, per GPU under tensor
parallelism), the GPU memory budget that holds it beside the weights (:mod:`model.kv.budget`), and the reservation
policies that waste or save it (:mod:`model.kv.paging`). Every public name is importable from ``model.kv``; the
number formats (``bytes_per_element``, ``weight_bytes``) and ``usable_bytes_per_gpu`` are re-exported for older
imports. ``python -m model.kv size --help``: the KV bytes of any model or config.json."""

from model.formats import bytes_per_element, weight_bytes
from model.hardware import usable_bytes_per_gpu
from model.kv.budget import (MemoryBudget, budget_table, gpus_for_sessions, memory_budget, sessions_by_context,
                             sessions_that_fit, what_if_rows)
from model.kv.paging import (PUBLISHED_KV_USE, RESERVATION_POLICIES, lifetime_reservation_gain, paged_session_bytes,
                             paged_waste_bound, published_reservation_gains, reservation_efficiency, reserved_tokens,
                             session_lengths_over_life)
from model.kv.size import (KindBytes, KVFootprint, kv_bytes_per_session, kv_bytes_per_token, kv_footprint, kv_table,
                           tp_share)

__all__ = ["KVFootprint", "KindBytes", "MemoryBudget", "PUBLISHED_KV_USE", "RESERVATION_POLICIES", "budget_table",
           "bytes_per_element", "gpus_for_sessions", "kv_bytes_per_session", "kv_bytes_per_token", "kv_footprint",
           "kv_table", "lifetime_reservation_gain", "memory_budget", "paged_session_bytes", "paged_waste_bound",
           "published_reservation_gains", "reservation_efficiency", "reserved_tokens", "session_lengths_over_life",
           "sessions_by_context", "sessions_that_fit", "tp_share", "usable_bytes_per_gpu", "weight_bytes",
           "what_if_rows"]
