"""The audit judged as a whole: a row's verdict depends on the verdicts of the stated figures it reads (a sum
of figures judged inconsistent is not plainly consistent) and on the readings every other row uses, so the
rows of every section of one source are judged together, once per process, and each section's
``table()`` is its slice of that audit.

The sources are judged apart: no figure of one reads a figure of the other (checked).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

import pandas as pd

from model.audit.claims import claim
from model.audit.verdicts import audit
from model.checks import check_choice
from model.result_cache import cached

#: The audit's modules, by source document, in the order their rows are judged.
GROUPS = {
    "case_study": ("memory_arithmetic", "t3_throughput_latency", "t4_continuous_batching", "t5_quantization",
                   "t2_api_costs", "t9_costs", "t12_summary", "r12_roadmap", "t6_regions", "l10_availability",
                   "l11_fleet", "l7_persona", "l8_memory", "session_shape"),
    "kareto": ("kareto_paper",),
}
#: Every module, with its source.
MODULES = {m: g for g, ms in GROUPS.items() for m in ms}


def _short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


@lru_cache(maxsize=None)
def group_audit(group: str) -> tuple:
    """``(table, {module: claim ids in its order})``: the audit of every row of ``group``'s modules (kept
    between processes by :func:`model.result_cache.cached` when its folder is set)."""
    check_choice("group", group, list(GROUPS))
    return cached(group, lambda: _group_audit(group))


def _group_audit(group: str) -> tuple:
    rows, order = [], {}
    for name in GROUPS[group]:
        computed = import_module(f"model.audit.{name}").computed()
        order[name] = [c.claim_id for c in computed]
        rows += computed
    source = "kareto" if group == "kareto" else "case_study"
    for c in rows:
        for cid in c.claim_ids_read + ((c.restates,) if c.restates else ()):
            if claim(cid)["source"] != source:
                raise ValueError(f"{c.claim_id} reads {cid}, a figure of another source: judge them together")
    return audit(rows), order


def section(module: str) -> pd.DataFrame:
    """The rows of audit module ``module`` (``"t5_quantization"`` or ``"model.audit.t5_quantization"``), in
    the order of its ``computed()``, judged with the rest of its source."""
    name = _short(module)
    check_choice("module", name, list(MODULES))
    table, order = group_audit(MODULES[name])
    return table.set_index("claim_id").loc[order[name]].reset_index()[table.columns]


def whole_audit() -> pd.DataFrame:
    """Every audited figure of both sources, with the module that computes it (column ``module``)."""
    frames = []
    for group in GROUPS:
        table, order = group_audit(group)
        owner = {cid: m for m, ids in order.items() for cid in ids}
        frames.append(table.assign(module=table["claim_id"].map(owner)))
    return pd.concat(frames, ignore_index=True)
