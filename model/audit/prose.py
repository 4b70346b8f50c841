"""Typed numbers in the chapters' prose: every number written into a notebook's markdown cells that is
not glued from the run.

A chapter's text may type only the sources' stated figures (of the claims the chapter audits), section and
table numbers, names that contain digits (models, GPUs, number formats) and the few constants its notebook
metadata allows with a reason (``metadata["prose_numbers"] = {"4,096": "reason"}``). Everything the model
computes is glued (:mod:`model.book.glue`).

``python -m model.audit.prose [NOTEBOOK ...]`` prints every typed number with its context and the total;
``python -m model.audit.prose NOTEBOOK --audit TABLES/<chapter>_audit.csv`` prints only those the test rejects
(not a stated figure of a claim in that audit table, not in the notebook's allow-list).
"""

from __future__ import annotations

import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.io import DATA, ROOT

_SUFFIX = {"": 1.0, "K": 1e3, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
#: A number as prose writes it: optional $ or sign, digits with thousands separators, decimals, an optional
#: K/M/B suffix; not part of a word (A100, FP16, L7, p95) and not followed by a letter other than the suffix.
NUMBER = re.compile(r"(?<![\w.\-/#§])[$]?[−+-]?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?([KkMBT])?(?![\w])")
#: Spans removed before numbers are looked for.
_STRIP = [
    re.compile(r"\{glue(?::\w+)?\}`[^`]*`"),  # glued values
    re.compile(r"\{(?:doc|ref|numref|eq|cite)\}`[^`]*`"),  # cross-references
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.S),  # display maths
    re.compile(r"(?<![\w$])\$[^$\n]+?\$(?!\d)"),  # inline maths $...$ (not a price like $4.5M)
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>]+>"),  # html tags
    re.compile(r"§\s?\d+(?:\.\d+)*(?:[-–]\d+)?"),  # section numbers
    re.compile(r"\b(?:T|L|R|K|S)\d+\b"),  # source table ids (T1, L7, ...)
    re.compile(r"\bLlama[ -]?\d(?:\.\d)?(?: \d+B)?", re.I),  # model family names
    re.compile(r"\b\d+B\b(?= (?:model|class|params|parameters|Llama))"),
    re.compile(r"\b(?:19|20)\d\d-\d\d(?:-\d\d)?\b"),  # ISO dates
    re.compile(r"^\s*(?:\d+\.|[-*])\s", re.M),  # list markers
    re.compile(r"^#+\s*\d+(?:\.\d+)*\.?\s", re.M),  # numbered headings
]


@dataclass(frozen=True)
class TypedNumber:
    """A number typed in a chapter's markdown."""

    notebook: str
    cell: int
    text: str
    value: float
    context: str


def _names_with_digits() -> list[str]:
    names = set()
    for p in (DATA / "models").glob("*.json"):
        d = json.loads(p.read_text(encoding="utf-8"))
        names |= {d.get("display_name", ""), d.get("name", "")}
    hw = pd.read_csv(DATA / "hardware.csv")
    names |= set(hw["name"])
    return sorted((n for n in names if n and re.search(r"\d", n)), key=len, reverse=True)


def parse_number(text: str) -> float:
    """The value of a prose number (``"$4.5M"`` → 4.5e6, ``"1,630"`` → 1630, ``"10K"`` → 1e4)."""
    m = NUMBER.fullmatch(text.strip())
    if not m:
        raise ValueError(f"not a prose number: {text!r}")
    body = text.strip().lstrip("$").replace("−", "-").replace(",", "")
    suffix = body[-1] if body[-1] in _SUFFIX and not body[-1].isdigit() else ""
    if suffix:
        body = body[:-1]
    return float(body) * _SUFFIX[suffix]


def typed_numbers(notebook: Path) -> list[TypedNumber]:
    """Every number in ``notebook``'s markdown cells outside glue roles, code, maths, links, section and table
    ids and names with digits."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    names = _names_with_digits()
    out = []
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        for pat in _STRIP:
            text = pat.sub(" ", text)
        for name in names:
            text = re.sub(re.escape(name), " ", text, flags=re.I)
        for m in NUMBER.finditer(text):
            s = m.group(0)
            ctx = text[max(0, m.start() - 40): m.end() + 40].replace("\n", " ")
            out.append(TypedNumber(Path(notebook).stem, i, s, parse_number(s), ctx.strip()))
    return out


def allowed_numbers(notebook: Path) -> dict:
    """The notebook's own allow-list: ``metadata["prose_numbers"]`` (number as typed → reason)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    return dict(nb.get("metadata", {}).get("prose_numbers", {}))


def _matches(value: float, text: str, stated: float) -> bool:
    """Whether a prose number is the stated figure, rounded as typed, at some power-of-ten scale (the same
    figure in GB or MB, as a share or a percentage, in K or M)."""
    if not math.isfinite(stated):
        return False
    digits = text.lstrip("$+-−").replace(",", "").rstrip("KkMBT")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scale = _SUFFIX.get(text.strip()[-1], 1.0) if not text.strip()[-1].isdigit() else 1.0
    half_ulp = 0.5 * 10 ** (-decimals) * scale
    for k in (-12, -9, -6, -3, -2, 0, 2, 3, 6, 9, 12):
        if abs(abs(value) - abs(stated) * 10.0 ** k) <= half_ulp * (1 + 1e-9):
            return True
    return False


def unexplained(notebook: Path, stated_values: list[float]) -> list[TypedNumber]:
    """Typed numbers of ``notebook`` that are neither one of ``stated_values`` (the stated figures of the
    claims it audits) nor in its allow-list."""
    allowed = allowed_numbers(notebook)
    return [t for t in typed_numbers(notebook)
            if t.text not in allowed and not any(_matches(t.value, t.text, s) for s in stated_values)]


def stated_values_of_audit(audit_csv: Path) -> list[float]:
    """The stated figures of the claims an audit table (``<chapter>_audit.csv``) holds."""
    from model.audit.claims import load_claims

    ids = set(pd.read_csv(audit_csv, keep_default_na=False)["claim_id"]) if Path(audit_csv).exists() else set()
    claims = load_claims()
    return [float(v) for v in claims.loc[claims["claim_id"].isin(ids), "stated_value"]]


def main(argv: list[str]) -> int:
    audit_csv = None
    if "--audit" in argv:
        i = argv.index("--audit")
        audit_csv = Path(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    paths = [Path(a) for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0
    for p in paths:
        found = typed_numbers(p) if audit_csv is None else unexplained(p, stated_values_of_audit(audit_csv))
        total += len(found)
        for t in found:
            print(f"{t.notebook}[{t.cell}]: {t.text!r:>10}  … {t.context} …")
    what = "typed numbers" if audit_csv is None else "typed numbers neither stated nor allowed"
    print(f"{total} {what} in {len(paths)} notebooks", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
