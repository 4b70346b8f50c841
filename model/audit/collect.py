"""The audit of the whole book, collected: every chapter's audit table (``<chapter>_audit.csv``) joined to
every stated figure of ``data/claims/``, with the chapter that computed each figure, and the verdict summary
the introduction shows (checkable figures and ``given`` counted apart)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.audit.verdicts import (CHECKED_VERDICTS, GIVEN, INCONSISTENT_INPUTS, VERDICTS,  # noqa: F401
                                  judged_against, load_claims)

#: Verdict given to a stated figure that no chapter of the build audited.
NOT_AUDITED = "not audited"
#: Columns of :func:`collect_audits`.
AUDIT_BOOK_COLUMNS = ["claim_id", "source", "table", "row", "column", "stated_value", "computed_value", "unit",
                      "relative_difference", "kind", "low", "high", "range_ratio", "depends_on", "judged_against",
                      "verdict", "role", "restates", "readings", "verdict_by_reading", "verdict_depends_on_reading",
                      "changed_by_readings", "inputs_flagged", "holds_under", "reason", "chapter", "chapter_title",
                      "quote"]
#: Columns of a chapter's audit table carried into the book's, with their value where a table lacks them.
_CARRIED = {"kind": "estimate", "low": float("nan"), "high": float("nan"), "range_ratio": float("nan"),
            "depends_on": "", "role": "", "restates": "", "readings": "", "verdict_by_reading": "",
            "verdict_depends_on_reading": False, "changed_by_readings": "", "inputs_flagged": "", "holds_under": ""}
#: Numeric columns of a chapter's audit table (read as numbers, empty cells as NaN).
_NUMERIC = ("stated_value", "computed_value", "relative_difference", "difference", "tolerance", "low", "high",
            "range_ratio")


def audit_tables(tables_dir: str | Path, chapters) -> dict[str, pd.DataFrame]:
    """The audit table of every chapter of ``chapters`` (names, in execution order) found in ``tables_dir``
    (``<chapter>_audit.csv``), by chapter name. Files of other (e.g. removed) chapters are ignored."""
    tables_dir = Path(tables_dir)
    out = {}
    for name in chapters:
        path = tables_dir / f"{name}_audit.csv"
        if path.exists():
            out[name] = pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in _NUMERIC})
    return out


def collect_audits(tables_dir: str | Path, chapters: dict) -> pd.DataFrame:
    """Every stated figure of ``data/claims/`` with the audit row of the chapter that computed it;
    ``chapters`` maps each chapter's name to its title, in execution order.

    A figure audited by several chapters keeps the first chapter's row (in execution order); one audited by
    none gets verdict :data:`NOT_AUDITED`. Columns: :data:`AUDIT_BOOK_COLUMNS`.
    """
    claims = load_claims()
    frames = []
    for chapter, df in audit_tables(tables_dir, list(chapters)).items():
        frames.append(df.assign(chapter=chapter, chapter_title=chapters.get(chapter, chapter)))
    cols = ["claim_id", "computed_value", "relative_difference", *_CARRIED, "judged_against", "verdict", "reason",
            "chapter", "chapter_title"]
    if frames:
        audited = pd.concat(frames, ignore_index=True)
        for col, missing in _CARRIED.items():
            if col not in audited:
                audited[col] = missing
        audited["verdict_depends_on_reading"] = audited["verdict_depends_on_reading"].map(
            lambda v: str(v).lower() == "true")
        audited["judged_against"] = audited.apply(judged_against, axis=1) if len(audited) else ""
        audited = audited[cols].drop_duplicates("claim_id")
    else:
        audited = pd.DataFrame(columns=cols)
    table = claims.merge(audited, on="claim_id", how="left")
    missing = table["verdict"].isna()
    table.loc[missing, "verdict"] = NOT_AUDITED
    table.loc[missing, "reason"] = "no chapter of this build computed it"
    table.loc[missing, "chapter"] = "-"
    table.loc[missing, "chapter_title"] = "not audited"
    for col, missing in _CARRIED.items():
        if isinstance(missing, str):
            table[col] = table[col].fillna(missing)
    table["verdict_depends_on_reading"] = table["verdict_depends_on_reading"].map(lambda v: v is True or v == 1
                                                                                  or str(v).lower() == "true")
    table["judged_against"] = table["judged_against"].fillna("")
    return table[AUDIT_BOOK_COLUMNS].reset_index(drop=True)


def readings_use(table: pd.DataFrame) -> pd.DataFrame:
    """For every ambiguous quantity: how many figures depend on it (``figures``) and how many verdicts one of
    its other readings would change (``verdicts_changed``), from the columns ``readings`` and
    ``changed_by_readings`` of the collected audit."""
    from model.audit import readings as R

    def count(col, q, sep):
        return int(table[col].fillna("").map(lambda cell: q in [p.split("=")[0] for p in cell.split(sep) if p]).sum())

    return pd.DataFrame([{"quantity": q, "figures": count("readings", q, "; "),
                          "verdicts_changed": count("changed_by_readings", q, " ")} for q in R.quantities()])


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


#: How the summary sentence names each checkable verdict.
_VERDICT_PHRASES = {INCONSISTENT_INPUTS: "consistent only as arithmetic on inputs judged inconsistent"}


def summary_markdown_text(table: pd.DataFrame) -> str:
    """The introduction's one-screen verdict summary, as Markdown (a sentence and a table): verdicts over the
    checkable figures (the arithmetic on inconsistent inputs counted apart from the consistent), the figures
    that are inputs, thresholds, definitions, readings or restatements (``given``) apart, and how many
    verdicts another reading of an ambiguous figure would change."""
    s = verdict_summary(table)
    n = int(s["total"].sum())
    n_given = int(s.loc[GIVEN, "total"])
    checked = [v for v in s.index if v in CHECKED_VERDICTS]
    n_checked = int(s.loc[checked, "total"].sum())
    sources = [c for c in s.columns if c not in ("total", "share")]
    parts = "; ".join(f"{int(s.loc[v, 'total'])} {_VERDICT_PHRASES.get(v, v)}" for v in checked)
    missing = n - n_checked - n_given
    lines = [f"Of the **{n} stated figures** of the two documents, {n_checked} can be checked: {parts}. "
             f"{'The other' if not missing else 'Another'} {n_given} are **given**: inputs, design inputs, chosen "
             "thresholds and intervals, definitions, the audit's readings of ambiguous figures, or restatements of "
             "another stated figure." + (f" {missing} were not audited in this build." if missing else ""),
             "", "| verdict | " + " | ".join(_SOURCE_NAMES.get(c, c) for c in sources)
             + " | total | share of checkable |", "|---|" + "---:|" * (len(sources) + 2)]
    for v, row in s.iterrows():
        share = "" if pd.isna(row["share"]) else f"{row['share']:.0%}"
        lines.append(f"| {v} | " + " | ".join(str(int(row[c])) for c in sources) + f" | {int(row['total'])} | {share} |")
    audited = table[table["chapter"] != "-"]
    failed = audited.groupby("chapter_title")["verdict"].agg(lambda v: v.isin(["inconsistent", "impossible"]).sum())
    carried = audited.groupby("chapter_title")["verdict"].agg(lambda v: (v == INCONSISTENT_INPUTS).sum())
    lines += ["", "Figures found inconsistent or impossible, by chapter (then, apart, those whose arithmetic holds on "
              "inputs judged inconsistent): " + "; ".join(f"{t} {int(c)} ({int(carried[t])})" for t, c in failed.items())
              + "."]
    n_reading = int(table["verdict_depends_on_reading"].sum()) if "verdict_depends_on_reading" in table else 0
    n_named = int((table["readings"] != "").sum()) if "readings" in table else 0
    lines += ["", f"{n_named} figures depend on a quantity the sources leave ambiguous (what \"concurrent\" means, "
              "the tokens of a turn, the GPU price, …); each is judged under the one reading the audit uses "
              f"(`data/claims/readings.csv`), and another reading would change the verdict of {n_reading} of them, "
              "as their rows say."]
    lines += ["", "Every figure, with its arithmetic and the chapter that computes it: "
              "{doc}`/chapters/appendix_audit`.", ""]
    return "\n".join(lines)
