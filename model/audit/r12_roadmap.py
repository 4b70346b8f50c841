"""Audit of the case study's §12 roadmap: forecasts, not reproducible; planning horizons and the latency
target, chosen, hence given; where physics says something (Llama 3 70B's bandwidth-bound decode vs Llama 2
70B's; a published voice latency), the reason says it."""

from __future__ import annotations

import math

import pandas as pd

from model.architectures import load_architecture
from model.audit.claims import stated_value
from model.audit.verdicts import Computed
from model.parameters import default


def _nr(claim_id: str, unit: str, why: str, role: str = "forecast") -> Computed:
    return Computed(claim_id, math.nan, unit, why, role=role)


def computed() -> list[Computed]:
    """Every §12 figure."""
    llama2, llama3 = load_architecture("llama-2-70b"), load_architecture("llama-3-70b")
    ratio = llama2.parameters() / llama3.parameters()
    speed = (f"a forecast; at equal batch a bandwidth-bound decode reads {llama3.parameters() / 1e9:.1f}B vs "
             f"{llama2.parameters() / 1e9:.1f}B weights with the same KV per token: {100 * (ratio - 1):+.1f}% "
             "tokens/s, so +20% needs another cause (e.g. its tokenizer's fewer tokens per text)")
    latency = default("econ_gpt4o_audio_mean_latency_ms")
    return [
        Computed("r12.short_term.horizon", stated_value("r12.short_term.horizon"), "count", "a planning horizon, chosen",
                 role="interval"),
        Computed("r12.mid_term.horizon", stated_value("r12.mid_term.horizon"), "count", "a planning horizon, chosen",
                 role="interval"),
        Computed("r12.long_term.horizon", stated_value("r12.long_term.horizon"), "count", "a planning horizon, chosen",
                 role="interval"),
        _nr("r12.llama3.accuracy_change", "%", "a forecast; no benchmark or metric named"),
        _nr("r12.llama3.speed_change", "%", speed),
        _nr("r12.speculative_decoding.latency_change", "%",
            "a forecast; the gain depends on the draft model's acceptance rate, which is not given"),
        _nr("r12.flashattention3.gpu_memory_change", "%",
            "a forecast; FlashAttention-3 is written for Hopper (H100) GPUs, not the A100 fleet, and an attention "
            "kernel changes neither weight nor KV-cache bytes"),
        _nr("r12.edge_inference.cost_change", "%", "a forecast; no model, device or traffic share given"),
        _nr("r12.own_llm.cost_change", "%", "a forecast; no model size or training cost given"),
        Computed("r12.realtime_voice.latency_max", stated_value("r12.realtime_voice.latency_max"), "ms",
                 f"a target (an upper limit); OpenAI reports GPT-4o audio responses average {latency:g} ms, within it",
                 role="threshold"),
    ]


def table() -> pd.DataFrame:
    """The §12 audit table, judged with the rest of the case study (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
