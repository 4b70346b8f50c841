"""The book's front and back matter, computed: every chapter's audit collected into one table (with the
chapter that computed each figure), the verdict summary of the introduction, every chapter's parameters
and an inventory of the datasets with checksums.

The audit collection reads the ``<chapter>_audit.csv`` tables that the chapters wrote in the same build,
so the appendix runs after them (see :func:`model.book.build.notebooks`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from model.audit.verdicts import CHECKED_VERDICTS, GIVEN, VERDICTS, judged_against, load_claims
from model.io import DATA, sha256_of

#: Verdict given to a stated figure that no chapter of the build audited.
NOT_AUDITED = "not audited"
#: Columns of :func:`collect_audits`.
AUDIT_BOOK_COLUMNS = ["claim_id", "source", "table", "row", "column", "stated_value", "computed_value", "unit",
                      "relative_difference", "judged_against", "verdict", "reason", "chapter", "chapter_title",
                      "quote"]


def chapter_title(notebook: Path) -> str:
    """The first ``# `` heading of a notebook's first markdown cell (its page title)."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return Path(notebook).stem


def _chapters() -> list[Path]:
    from model.book.build import is_appendix, notebooks

    return [nb for nb in notebooks() if not is_appendix(nb)]


def _titles() -> dict[str, str]:
    return {nb.stem: chapter_title(nb) for nb in _chapters()}


def audit_tables(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The audit table of every current chapter found in ``tables_dir`` (``<chapter>_audit.csv``), by
    chapter name. Files of notebooks that no longer exist are ignored."""
    tables_dir = Path(tables_dir)
    out = {}
    for nb in _chapters():
        path = tables_dir / f"{nb.stem}_audit.csv"
        if path.exists():
            out[nb.stem] = pd.read_csv(path, keep_default_na=False,
                                       na_values={c: [""] for c in ("stated_value", "computed_value", "relative_difference",
                                                                       "difference", "tolerance", "low", "high")})
    return out


def collect_audits(tables_dir: str | Path) -> pd.DataFrame:
    """Every stated figure of ``data/claims/`` with the audit row of the chapter that computed it.

    A figure audited by several chapters keeps the first chapter's row (in execution order); one audited by
    none gets verdict :data:`NOT_AUDITED`. Columns: :data:`AUDIT_BOOK_COLUMNS`.
    """
    claims = load_claims()
    titles = _titles()
    frames = []
    for chapter, df in audit_tables(tables_dir).items():
        frames.append(df.assign(chapter=chapter, chapter_title=titles.get(chapter, chapter)))
    cols = ["claim_id", "computed_value", "relative_difference", "judged_against", "verdict", "reason", "chapter",
            "chapter_title"]
    if frames:
        audited = pd.concat(frames, ignore_index=True)
        audited["judged_against"] = audited.apply(judged_against, axis=1) if "kind" in audited else ""
        audited = audited[cols].drop_duplicates("claim_id")
    else:
        audited = pd.DataFrame(columns=cols)
    table = claims.merge(audited, on="claim_id", how="left")
    missing = table["verdict"].isna()
    table.loc[missing, "verdict"] = NOT_AUDITED
    table.loc[missing, "reason"] = "no chapter of this build computed it"
    table.loc[missing, "chapter"] = "-"
    table.loc[missing, "chapter_title"] = "not audited"
    table["judged_against"] = table["judged_against"].fillna("")
    return table[AUDIT_BOOK_COLUMNS].reset_index(drop=True)


def verdict_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Number of stated figures per verdict, by source document and in total (zeros included).

    Index: the checkable verdicts, then ``given`` (and :data:`NOT_AUDITED` if any); columns: one per source,
    ``total``, and ``share`` (of the checkable figures; empty for ``given``).
    """
    extra = [NOT_AUDITED] if (table["verdict"] == NOT_AUDITED).any() else []
    order = list(CHECKED_VERDICTS) + [GIVEN] + extra
    counts = table.pivot_table(index="verdict", columns="source", values="claim_id", aggfunc="count",
                               fill_value=0).reindex(order, fill_value=0)
    counts.columns.name = None
    counts["total"] = counts.sum(axis=1)
    checked = counts.loc[list(CHECKED_VERDICTS), "total"].sum()
    counts["share"] = [counts.loc[v, "total"] / checked if v in CHECKED_VERDICTS and checked else float("nan")
                       for v in counts.index]
    return counts


_SOURCE_NAMES = {"case_study": "case study", "kareto": "Kareto summary"}


def summary_markdown_text(table: pd.DataFrame) -> str:
    """The introduction's one-screen verdict summary, as Markdown (a sentence and a table): verdicts over the
    checkable figures, and the figures that are inputs, definitions or restatements (``given``) apart."""
    s = verdict_summary(table)
    n = int(s["total"].sum())
    n_given = int(s.loc[GIVEN, "total"])
    checked = [v for v in s.index if v in CHECKED_VERDICTS]
    n_checked = int(s.loc[checked, "total"].sum())
    sources = [c for c in s.columns if c not in ("total", "share")]
    parts = ", ".join(f"{int(s.loc[v, 'total'])} {v}" for v in checked)
    missing = n - n_checked - n_given
    lines = [f"Of the **{n} stated figures** of the two documents, {n_checked} can be checked: {parts}. "
             f"{'The other' if not missing else 'Another'} {n_given} are **given**: inputs, definitions or "
             "restatements of another stated figure." + (f" {missing} were not audited in this build." if missing else ""),
             "", "| verdict | " + " | ".join(_SOURCE_NAMES.get(c, c) for c in sources)
             + " | total | share of checkable |", "|---|" + "---:|" * (len(sources) + 2)]
    for v, row in s.iterrows():
        share = "" if pd.isna(row["share"]) else f"{row['share']:.0%}"
        lines.append(f"| {v} | " + " | ".join(str(int(row[c])) for c in sources) + f" | {int(row['total'])} | {share} |")
    chapters = (table[table["chapter"] != "-"].groupby("chapter_title")["verdict"]
                .agg(lambda v: (v == "inconsistent").sum() + (v == "impossible").sum()))
    lines += ["", "Figures found inconsistent or impossible, by chapter: "
              + "; ".join(f"{t} {int(c)}" for t, c in chapters.items()) + "."]
    lines += ["", "Every figure, with its arithmetic and the chapter that computes it: "
              "{doc}`/chapters/appendix_audit`.", ""]
    return "\n".join(lines)


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
