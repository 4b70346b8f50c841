"""Every chapter notebook: committed without outputs, one cell tagged ``parameters`` (first code cell,
with a ``quick`` switch), and executes end to end with papermill on its quick profile, once per test run
(``BOOK_JOBS`` at a time, default the number of cores). The executed notebooks land in ``.build/quick/``, where
``make test-all`` also runs nbval (lax) over them."""
import json
import os

import nbformat
import pandas as pd
import pytest

from model.audit.verdicts import VERDICTS
from model.book.build import TABLES_SUBDIR, ChapterError, execute_all, is_appendix, notebooks
from model.audit.prose import stated_values_of_audit, unexplained
from model.io import ROOT

QUICK_DIR = ROOT / ".build" / "quick"
NOTEBOOKS = notebooks()
CHAPTERS = [nb for nb in NOTEBOOKS if not is_appendix(nb)]
JOBS = int(os.environ.get("BOOK_JOBS", os.cpu_count() or 1))


def _what_ifs(path):
    return json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("what_if", [])


#: What-if reruns: (chapter, index of its parameter set). The first set of every chapter runs in `make test`,
#: the others (marked slow) in `make test-all`.
WHAT_IFS = [pytest.param(path, i, id=f"{path.stem}-{i}", marks=[pytest.mark.slow] if i else [])
            for path in CHAPTERS for i in range(max(2, len(_what_ifs(path))))]


@pytest.fixture(scope="module")
def quick_runs(request):
    """Every notebook executed once on its quick profile into ``.build/quick/`` (chapters, then appendices), and
    the what-if reruns this session selected, each into ``.build/quick/what_if/<chapter>-<i>/``, ``BOOK_JOBS`` at
    a time (:func:`execute_all` with the reruns as its extra runs): the chapters first, the reruns queued behind
    them, so that no core waits while another finishes a long chapter; the appendices (which read the chapters'
    tables) start once every chapter is done. Notebook stem → executed notebook or error, and (chapter's path, i)
    → the same for its i-th rerun."""
    chosen = [item.callspec.params for item in request.session.items
              if getattr(item, "originalname", "") == "test_what_if_reruns_leave_the_audit_unchanged"]
    reruns = [(c["path"], c["i"]) for c in chosen if c["i"] < len(_what_ifs(c["path"]))]
    extra = {(path, i): (path, QUICK_DIR / "what_if" / f"{path.stem}-{i}", {**_what_ifs(path)[i], "quick": True})
             for path, i in reruns}
    return execute_all(NOTEBOOKS, QUICK_DIR, {"quick": True}, jobs=JOBS, extra=extra)


@pytest.fixture(scope="module")
def what_if_runs(quick_runs):
    """The what-if reruns this session selected (run beside the quick runs, :func:`quick_runs`): (chapter, i) →
    (parameters, executed notebook in its own folder, or error)."""
    return {(path.stem, i): (_what_ifs(path)[i], run)
            for (path, i), run in ((k, v) for k, v in quick_runs.items() if isinstance(k, tuple))}


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
def test_notebook_runs_on_quick_profile(path, quick_runs):
    out = quick_runs[path.stem]
    if isinstance(out, ChapterError):
        pytest.fail(str(out))
    nb = json.loads(out.read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    # a reader never sees progress bars, warnings, kernel messages or local paths
    noise = ["".join(o.get("text", ""))[:200] for c in nb["cells"] for o in c.get("outputs", [])
             if o.get("name") == "stderr"]
    assert not noise, f"{path.stem} prints to stderr: {noise[:3]}"
    local = [c["source"][:80] for c in nb["cells"] for o in c.get("outputs", [])
             if str(ROOT) in json.dumps(o)]
    assert not local, f"{path.stem} shows a local path ({ROOT}) in an output"
    # a what-if slider chart shows, at its default position, the value the notebook computed
    from model.book.sliders import default_mismatches, what_if_specs

    for spec in what_if_specs(out):
        assert default_mismatches(spec) == [], f"{path.stem}: a slider chart's default differs from the run"
    tables = sorted((QUICK_DIR / TABLES_SUBDIR).glob(f"{path.stem}*.csv"))
    assert tables, f"{path.stem} wrote no table to {TABLES_SUBDIR}/"
    audit_csv = QUICK_DIR / TABLES_SUBDIR / f"{path.stem}_audit.csv"
    if audit_csv.exists():
        audit = pd.read_csv(audit_csv, keep_default_na=False)
        assert set(audit["verdict"]) <= set(VERDICTS)
        assert (audit["reason"].str.len() > 0).all()


def test_every_claim_is_audited_exactly_once(quick_runs):
    """Runs after the quick runs above (pytest keeps the order of this file): across the chapters'
    ``<chapter>_audit.csv`` every stated figure of ``data/claims/`` has exactly one audit row, with a verdict
    and a reason, and a computed value unless its verdict is "not reproducible" or the figure is qualitative
    (unit ``text``, judged by its reason)."""
    from model.audit.collect import NOT_AUDITED, audit_tables, collect_audits
    from model.book.appendix import chapter_titles
    from model.audit.verdicts import load_claims

    tables = audit_tables(QUICK_DIR / TABLES_SUBDIR, list(chapter_titles()))
    assert tables, "no chapter audit found: run the notebook tests first"
    rows = pd.concat([t.assign(chapter=c) for c, t in tables.items()], ignore_index=True)
    dup = rows[rows["claim_id"].duplicated(keep=False)].groupby("claim_id")["chapter"].apply(list)
    assert dup.empty, f"audited by more than one chapter: {dup.to_dict()}"
    unknown = set(rows["claim_id"]) - set(load_claims()["claim_id"])
    assert not unknown, f"audit rows for unknown claim ids: {sorted(unknown)}"
    book = collect_audits(QUICK_DIR / TABLES_SUBDIR, chapter_titles())
    missing = book[book["verdict"] == NOT_AUDITED]
    by_table = missing.groupby("table")["claim_id"].apply(lambda s: ", ".join(s)).to_dict()
    assert missing.empty, f"{len(missing)} stated figures have no verdict, by table: {by_table}"
    assert set(book["verdict"]) <= set(VERDICTS)
    assert (book["reason"].str.len() > 0).all()
    no_value = book[book["computed_value"].isna() & (book["verdict"] != "not reproducible")
                    & (book["unit"] != "text")]
    assert no_value.empty, f"verdict without a computed value: {list(no_value['claim_id'])}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_prose_types_only_stated_figures(path, quick_runs):
    """Every number typed in a chapter's markdown is a stated figure of a claim the chapter audits or is in
    the notebook's own allow-list (``metadata.prose_numbers``, each with a reason); everything the model
    computes is glued from the run. Runs after the quick runs (it reads the chapter's audit table)."""
    audit_csv = QUICK_DIR / TABLES_SUBDIR / f"{path.stem}_audit.csv"
    stated = stated_values_of_audit(audit_csv)
    bad = unexplained(path, stated)
    assert not bad, f"{len(bad)} typed numbers to glue or justify:\n" + "\n".join(
        f"  cell {t.cell}: {t.text!r} … {t.context} …" for t in bad)


@pytest.mark.parametrize("path, i", WHAT_IFS)
def test_what_if_reruns_leave_the_audit_unchanged(path, i, what_if_runs):
    """The chapter reruns with its i-th what-if parameter set (``metadata.what_if``, at least two per chapter)
    on the quick profile, and its audit table and the whole audit appendix are byte-identical to the default
    run's (the audit is pinned to the sources, not to the chapter's parameters). The appendix is a function of
    the chapters' audit tables (``collect_audits``, what ``appendix_audit`` writes), computed here in-process
    over the default tables with this chapter's rerun audit in place."""
    from model.audit.collect import collect_audits
    from model.book.appendix import chapter_titles

    sets = _what_ifs(path)
    assert len(sets) >= 2 and i < len(sets), f"{path.stem}: metadata.what_if must hold two non-default parameter sets"
    default_tables = QUICK_DIR / TABLES_SUBDIR
    name = f"{path.stem}_audit.csv"
    params, out = what_if_runs[(path.stem, i)]
    if isinstance(out, ChapterError):
        pytest.fail(f"{params}: {out}")
    run_dir = out.parent
    rerun = run_dir / TABLES_SUBDIR / name
    if (default_tables / name).exists():
        assert rerun.read_bytes() == (default_tables / name).read_bytes(), f"{params} moved {name}"
    for other in default_tables.glob("*_audit.csv"):
        if other.name != name:
            (run_dir / TABLES_SUBDIR / other.name).write_bytes(other.read_bytes())
    default_appendix = collect_audits(default_tables, chapter_titles()).drop(columns=["quote"])
    appendix = collect_audits(run_dir / TABLES_SUBDIR, chapter_titles()).drop(columns=["quote"])
    pd.testing.assert_frame_equal(appendix, default_appendix, obj=f"{params}: the audit appendix")
