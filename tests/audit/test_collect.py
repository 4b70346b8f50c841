import importlib.util


from model.audit.collect import NOT_AUDITED, collect_audits, readings_use, summary_markdown_text, verdict_summary
from model.book.appendix import chapter_parameters, chapter_titles, dataset_inventory
from model.book.build import is_appendix, notebooks
from model.audit.claims import stated_value
from model.audit.verdicts import INCONSISTENT_INPUTS, Computed, audit, load_claims
from model.io import ROOT, write_csv


def test_appendices_run_last():
    order = notebooks()
    flags = [is_appendix(p) for p in order]
    assert flags == sorted(flags), "every appendix_* notebook comes after every chapter"
    assert any(flags) and not all(flags)


def test_collect_audits_marks_missing_and_keeps_every_claim(tmp_path):
    chapter = next(p.stem for p in notebooks() if not is_appendix(p))
    rows = audit([Computed("t9.unit.paid_users", 2e6, "count", "20M x 10%"),
                  Computed("t2.openai.model", float("nan"), "text", "qualitative", role="qualitative"),
                  Computed("t1.sessions.initial", 1e4, "count", "input of the source", role="input")])
    write_csv(rows, tmp_path / f"{chapter}_audit.csv")
    write_csv(rows, tmp_path / "no_such_chapter_audit.csv")  # stale file of a removed notebook: ignored
    book = collect_audits(tmp_path, chapter_titles())
    assert len(book) == len(load_claims()) and book["claim_id"].is_unique
    got = book.set_index("claim_id")
    assert got.loc["t9.unit.paid_users", "verdict"] == "consistent"
    assert got.loc["t9.unit.paid_users", "chapter"] == chapter
    assert (book["verdict"] == NOT_AUDITED).sum() == len(book) - 3
    s = verdict_summary(book)
    assert s["total"].sum() == len(book)
    assert s.loc["consistent", "total"] == 1 and s.loc[NOT_AUDITED, "total"] == len(book) - 3
    # shares are of the checkable figures (consistent + not reproducible here), given counted apart
    assert s.loc["consistent", "share"] == 0.5 and s.loc["not reproducible", "share"] == 0.5
    assert s.loc["given", "total"] == 1 and s["share"].isna()["given"]
    assert got.loc["t9.unit.paid_users", "judged_against"] == "± 5%" and got.loc["t1.sessions.initial", "judged_against"] == ""
    text = summary_markdown_text(book)
    assert f"**{len(book)} stated figures**" in text and "{doc}`/chapters/appendix_audit`" in text
    assert ("2 can be checked: 1 consistent; 0 consistent only as arithmetic on inputs judged inconsistent; "
            "0 inconsistent; 0 impossible; 1 not reproducible") in text
    assert "Another 1 are **given**" in text and f"{len(book) - 3} were not audited in this build" in text
    assert got.loc["t2.openai.model", "role"] == "qualitative" and got.loc["t1.sessions.initial", "role"] == "input"


def test_summary_counts_arithmetic_on_inconsistent_inputs_apart(tmp_path):
    """A sum of an inconsistent input is its own line of the summary, not part of the consistent figures."""
    chapter = next(p.stem for p in notebooks() if not is_appendix(p))
    tokens = Computed("t2.arith.tokens_per_month", 2.92e11, "tokens/month", "model volume")  # stated 60B
    cost = Computed("t2.arith.monthly_cost_10k", stated_value("t2.arith.tokens_per_month") / 1e6
                    * stated_value("t2.openai.price"), "USD/month", "60B x $0.5/1M")
    write_csv(audit([tokens, cost]), tmp_path / f"{chapter}_audit.csv")
    book = collect_audits(tmp_path, chapter_titles())
    s = verdict_summary(book)
    assert s.loc["consistent", "total"] == 0 and s.loc[INCONSISTENT_INPUTS, "total"] == 1
    assert s.loc[INCONSISTENT_INPUTS, "share"] == 0.5 and s.loc["inconsistent", "total"] == 1
    got = book.set_index("claim_id")
    assert got.loc["t2.arith.monthly_cost_10k", "inputs_flagged"] == "t2.arith.tokens_per_month"
    text = summary_markdown_text(book)
    assert "0 consistent; 1 consistent only as arithmetic on inputs judged inconsistent; 1 inconsistent" in text


def test_chapter_parameters_parse_every_parameters_cell():
    p = chapter_parameters()
    assert set(p["notebook"]) == {nb.stem for nb in notebooks()}
    assert ((p["name"] == "quick") & (p["value"] == "False")).sum() == len(notebooks())


def test_dataset_inventory_checksums_match_readmes():
    inv = dataset_inventory(with_checksums=True)
    assert (inv["sha256"].str.len() == 64).all()
    row = inv[inv["path"] == "data/regions/azure_rtt_p95_ms.csv"].iloc[0]
    assert row["in_readme"] and row["readme"] == "data/regions/README.md"


def _check_charts():
    spec = importlib.util.spec_from_file_location("check_charts", ROOT / "tests" / "e2e" / "check_charts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_chart_check_tells_live_from_static():
    cc = _check_charts()
    source = '<div id="vega-0123456789ab" class="offline-vega"><svg class="marks"></svg></div>'
    live = ('<div id="vega-0123456789ab" class="offline-vega vega-embed" role="graphics-document">'
            '<svg class="marks" width="1"></svg></div>')
    assert cc.chart_problems(source, live) == (1, [])
    n, problems = cc.chart_problems(source, source)
    assert n == 1 and "did not render" in problems[0]
    n, problems = cc.chart_problems(source, "<html></html>")
    assert "missing" in problems[0]


def test_readings_use_counts_figures_and_changed_verdicts(tmp_path):
    from model.audit import readings as R
    from model.audit.readings import Alt

    chapter = next(p.stem for p in notebooks() if not is_appendix(p))
    under = {("tokens_per_turn", a): Alt(200 * R.tokens_per_turn(a)) for a in R.other_readings("tokens_per_turn")}
    rows = audit([Computed("l8.naive.context_tokens", 200 * R.tokens_per_turn(), "tokens", "200 turns", under=under),
                  Computed("l8.effect.tokens_before", 200 * R.tokens_per_turn(), "tokens", "200 turns",
                           under={k: Alt(2e4) for k in under})])
    write_csv(rows, tmp_path / f"{chapter}_audit.csv")
    use = readings_use(collect_audits(tmp_path, chapter_titles())).set_index("quantity")
    assert use.loc["tokens_per_turn", "figures"] == 2 and use.loc["tokens_per_turn", "verdicts_changed"] == 1
    assert use.loc["gpu_price", "figures"] == 0
    text = summary_markdown_text(collect_audits(tmp_path, chapter_titles()))
    assert "2 figures depend on a quantity the sources leave ambiguous" in text
    assert "would change the verdict of 1 of them" in text
