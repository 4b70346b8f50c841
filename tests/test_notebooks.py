"""Every chapter notebook: committed without outputs, one cell tagged ``parameters`` (first code cell,
with a ``quick`` switch), and executes end to end with papermill on its quick profile. The executed
notebooks land in ``.build/quick/`` where ``make test`` runs nbval (lax) over them."""
import json

import nbformat
import pandas as pd
import pytest

from model.book.build import TABLES_SUBDIR, execute, notebooks
from model.audit.verdicts import VERDICTS
from model.io import ROOT

QUICK_DIR = ROOT / ".build" / "quick"
NOTEBOOKS = notebooks()


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_source_notebook_is_clean(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "outputs committed"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert tagged[0] is code[0], "the parameters cell is the first code cell"
    assert "quick" in tagged[0].source and "output_dir" in tagged[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_quick_profile(path):
    out = execute(path, QUICK_DIR, {"quick": True}, progress=False)
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    tables = sorted((QUICK_DIR / TABLES_SUBDIR).glob(f"{path.stem}*.csv"))
    assert tables, f"{path.stem} wrote no table to {TABLES_SUBDIR}/"
    audit_csv = QUICK_DIR / TABLES_SUBDIR / f"{path.stem}_audit.csv"
    if audit_csv.exists():
        audit = pd.read_csv(audit_csv, keep_default_na=False)
        assert set(audit["verdict"]) <= set(VERDICTS)
        assert (audit["reason"].str.len() > 0).all()


def test_every_claim_is_audited_exactly_once():
    """Runs after the quick runs above (pytest keeps the order of this file): across the chapters'
    ``<chapter>_audit.csv`` every stated figure of ``data/claims/`` has exactly one audit row, with a verdict
    and a reason, and a computed value unless its verdict is "not reproducible" or the figure is qualitative
    (unit ``text``, judged by its reason)."""
    from model.book.audit_appendix import NOT_AUDITED, audit_tables, collect_audits
    from model.audit.verdicts import load_claims

    tables = audit_tables(QUICK_DIR / TABLES_SUBDIR)
    assert tables, "no chapter audit found: run the notebook tests first"
    rows = pd.concat([t.assign(chapter=c) for c, t in tables.items()], ignore_index=True)
    dup = rows[rows["claim_id"].duplicated(keep=False)].groupby("claim_id")["chapter"].apply(list)
    assert dup.empty, f"audited by more than one chapter: {dup.to_dict()}"
    unknown = set(rows["claim_id"]) - set(load_claims()["claim_id"])
    assert not unknown, f"audit rows for unknown claim ids: {sorted(unknown)}"
    book = collect_audits(QUICK_DIR / TABLES_SUBDIR)
    missing = book[book["verdict"] == NOT_AUDITED]
    by_table = missing.groupby("table")["claim_id"].apply(lambda s: ", ".join(s)).to_dict()
    assert missing.empty, f"{len(missing)} stated figures have no verdict, by table: {by_table}"
    assert set(book["verdict"]) <= set(VERDICTS)
    assert (book["reason"].str.len() > 0).all()
    no_value = book[book["computed_value"].isna() & (book["verdict"] != "not reproducible")
                    & (book["unit"] != "text")]
    assert no_value.empty, f"verdict without a computed value: {list(no_value['claim_id'])}"
