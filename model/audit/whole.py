"""The audit judged as a whole: a row's verdict depends on the verdicts of the stated figures it reads (a sum
of figures judged inconsistent is not plainly consistent) and on the readings every other row uses, so the
rows of every section of one source are judged together, once per process, and each section's
``table()`` is its slice of that audit.

The sources are judged apart: no figure of one reads a figure of the other (checked).
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from importlib import import_module
from pathlib import Path

import pandas as pd

from model.audit.claims import claim
from model.audit.verdicts import audit
from model.checks import check_choice

#: The audit's modules, by source document, in the order their rows are judged.
GROUPS = {
    "case_study": ("memory_arithmetic", "t3_throughput_latency", "t4_continuous_batching", "t5_quantization",
                   "t2_api_costs", "t9_costs", "t12_summary", "r12_roadmap", "t6_regions", "l10_availability",
                   "l11_fleet", "l7_persona", "l8_memory", "session_shape"),
    "kareto": ("kareto_paper",),
}
#: Every module, with its source.
MODULES = {m: g for g, ms in GROUPS.items() for m in ms}


#: Environment variable naming a folder where :func:`group_audit` keeps each group's audit between processes
#: (the book's chapters each judge the same audit; ``model.book.build`` sets it to ``.build/audit-cache``).
#: Unset (the default), nothing is read or written.
CACHE_ENV = "STUDY_AUDIT_CACHE"
_ROOT = Path(__file__).resolve().parents[2]


def code_and_data_fingerprint() -> str:
    """SHA-256 of every Python file of ``model/`` and every file of ``data/`` (paths and bytes): what an audit
    may read, so that a cached audit is used only by the code and data that made it."""
    h = hashlib.sha256()
    files = sorted(p for d, pattern in (("model", "*.py"), ("data", "*")) for p in (_ROOT / d).rglob(pattern)
                   if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        h.update(str(path.relative_to(_ROOT)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def _cached(group: str, compute):
    """``compute()``, kept in ``$STUDY_AUDIT_CACHE/<group>-<fingerprint>.pkl`` when that variable is set."""
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return compute()
    path = Path(folder) / f"{group}-{code_and_data_fingerprint()[:20]}.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        pickle.dump(result, fh)
    os.replace(tmp, path)          # whole or not at all: a parallel chapter reads a finished file
    for old in path.parent.glob(f"{group}-*.pkl"):
        if old != path:
            old.unlink(missing_ok=True)          # made by code or data that have since changed
    return result


def _short(module: str) -> str:
    return module.rsplit(".", 1)[-1]


@lru_cache(maxsize=None)
def group_audit(group: str) -> tuple:
    """``(table, {module: claim ids in its order})``: the audit of every row of ``group``'s modules (kept
    between processes in the folder :data:`CACHE_ENV` names, when it names one)."""
    check_choice("group", group, list(GROUPS))
    return _cached(group, lambda: _group_audit(group))


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
