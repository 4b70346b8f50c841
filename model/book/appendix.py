"""The book's back matter, computed: every chapter's title and parameters, and an inventory of the datasets
with checksums. (The collected audit is :mod:`model.audit.collect`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from model.io import DATA, sha256_of


def chapter_title(notebook: Path) -> str:
    """The first ``# `` heading of a notebook's first markdown cell (its page title)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook).stem


def chapter_titles() -> dict:
    """Every chapter (not appendix) by name, in execution order, with its title."""
    from model.book.build import is_appendix, notebooks

    return {nb.stem: chapter_title(nb) for nb in notebooks() if not is_appendix(nb)}


# --- parameters and data -------------------------------------------------------------------------------------

_ASSIGN = re.compile(r"^(?P<name>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*(?:#\s*(?P<comment>.*))?$")


def chapter_parameters() -> pd.DataFrame:
    """Every notebook's parameters cell, one row per parameter: notebook, name, value (as written),
    comment (unit and source)."""
    from model.book.build import notebooks

    rows = []
    for nb in notebooks():
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        params = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        for cell in params[:1]:
            for line in "".join(cell["source"]).splitlines():
                m = _ASSIGN.match(line.strip())
                if m:
                    rows.append({"notebook": nb.stem, "name": m["name"], "value": m["value"],
                                 "comment": m["comment"] or ""})
    return pd.DataFrame(rows, columns=["notebook", "name", "value", "comment"])


def _readme_for(path: Path) -> Path | None:
    """The README documenting a data file: ``<stem>.README.md`` beside it, else the nearest README.md
    up to ``data/``."""
    side = path.with_name(f"{path.stem}.README.md")
    if side.exists():
        return side
    for folder in [path.parent, *path.parent.parents]:
        if (folder / "README.md").exists():
            return folder / "README.md"
        if folder == DATA:
            break
    return None


def dataset_inventory(*, with_checksums: bool = True) -> pd.DataFrame:
    """Every file under ``data/`` except READMEs: dataset (first folder, or the file's stem at top level),
    path, bytes, sha256, its README, the README's title and whether the README records this sha256."""
    rows = []
    for path in sorted(p for p in DATA.rglob("*") if p.is_file()):
        if path.name.endswith("README.md") or "__pycache__" in path.parts or path.name.startswith("."):
            continue
        rel = path.relative_to(DATA)
        readme = _readme_for(path)
        text = readme.read_text(encoding="utf-8") if readme else ""
        title = next((ln.lstrip("# ").strip() for ln in text.splitlines() if ln.startswith("#")), "")
        digest = sha256_of(path) if with_checksums else ""
        rows.append({"dataset": rel.parts[0] if len(rel.parts) > 1 else path.stem, "path": f"data/{rel}",
                     "bytes": path.stat().st_size, "sha256": digest,
                     "readme": f"data/{readme.relative_to(DATA)}" if readme else "",
                     "readme_title": title, "in_readme": bool(digest) and digest in text})
    return pd.DataFrame(rows)
