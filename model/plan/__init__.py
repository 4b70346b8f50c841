"""One chat service's plan, composed from the model's parts: serving (aggregated or disaggregated prefill and
decode pools), the KV cache per node (HBM, DRAM, SSD), routing, TTL, cost and energy.

:func:`model.plan.compose.make_plan` is the entry point; ``python -m model.plan`` its command line.
"""

from model.plan.inputs import PlanInputs

__all__ = ["PlanInputs"]
