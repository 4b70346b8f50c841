"""model.audit.collect by hand, on a book of five stated figures (three of the case study, two of the Kareto summary)
and two chapters' audit tables written here: which chapter's row each figure keeps, the defaults of the columns a
table lacks, the verdict counts and shares, the readings' use and the summary's Markdown, every line of it."""

import math

import numpy as np
import pandas as pd
import pytest

from model.audit import collect as K
from model.audit.claims import CLAIM_COLUMNS
from model.audit.verdicts import INCONSISTENT_INPUTS

CLAIMS = pd.DataFrame(
    [["a1", "case_study", "T1", "r", "c", 10.0, "GB", "q1"], ["a2", "case_study", "T1", "r", "c", 20.0, "GB", "q2"],
     ["a3", "case_study", "T2", "r", "c", 1.5, "x", "q3"], ["a4", "case_study", "T2", "r", "c", 4.0, "h", "q4"],
     ["k1", "kareto", "K", "r", "c", 9.3, "%", "q5"], ["k2", "kareto", "K", "r", "c", 58.3, "%", "q6"]],
    columns=CLAIM_COLUMNS)
CH1 = ("claim_id,computed_value,relative_difference,tolerance,kind,low,high,range_ratio,role,readings,"
       "changed_by_readings,verdict_depends_on_reading,verdict,reason\n"
       "a1,10.2,0.02,0.05,estimate,,,,computed,tokens_per_turn=s8_100; gpu_price=t9,tokens_per_turn=s1_50,True,"
       "consistent,NA\n"
       "a2,20,,,estimate,,,,input,,,False,given,an input\n"
       "k1,,,,estimate,,,,unpublished,,,False,not reproducible,unpublished\n")
CH2 = ("claim_id,computed_value,relative_difference,tolerance,kind,low,high,range_ratio,role,readings,"
       "changed_by_readings,verdict_depends_on_reading,verdict,reason\n"
       "a1,99,8.9,0.05,estimate,,,,computed,,,false,inconsistent,the second chapter's row\n"
       "a3,1.5,,0.05,range,1,2,2,computed,gpu_price=t9,,false,not reproducible,too wide\n"
       "a4,3,-0.25,0.05,upper_bound,,,,computed,,,False,inconsistent,over the bound\n"
       "a2,20,,,estimate,,,,input,,,False,given,again\n")
CHAPTERS = {"ch1": "One", "ch2": "Two", "ch3": "Three"}


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "load_claims", lambda: CLAIMS.copy())
    (tmp_path / "ch1_audit.csv").write_text(CH1, encoding="utf-8")
    (tmp_path / "ch2_audit.csv").write_text(CH2, encoding="utf-8")
    (tmp_path / "gone_audit.csv").write_text(CH1.replace("consistent,NA", "impossible,NA"), encoding="utf-8")
    return tmp_path


def test_constants():
    assert K.NOT_AUDITED == "not audited"
    assert K.AUDIT_BOOK_COLUMNS == [
        "claim_id", "source", "table", "row", "column", "stated_value", "computed_value", "unit", "relative_difference",
        "kind", "low", "high", "range_ratio", "depends_on", "judged_against", "verdict", "role", "restates",
        "readings", "verdict_by_reading", "verdict_depends_on_reading", "changed_by_readings", "inputs_flagged",
        "holds_under", "reason", "chapter", "chapter_title", "quote"]
    assert K._NUMERIC == ("stated_value", "computed_value", "relative_difference", "difference", "tolerance", "low",
                          "high", "range_ratio")


def test_audit_tables(book):
    t = K.audit_tables(book, ["ch2", "ch3", "ch1"])
    assert list(t) == ["ch2", "ch1"]
    ch1 = t["ch1"]
    # an empty numeric cell is NaN, an empty text cell "", and the text "NA" stays text
    assert math.isnan(ch1.loc[1, "relative_difference"]) and ch1.loc[1, "readings"] == ""
    assert ch1.loc[0, "reason"] == "NA" and ch1.loc[0, "tolerance"] == 0.05
    assert K.audit_tables(str(book), ["ch1"])["ch1"].shape == (3, 14)


def test_collect_audits(book):
    t = K.collect_audits(book, CHAPTERS)
    assert list(t.columns) == K.AUDIT_BOOK_COLUMNS and list(t.index) == list(range(6))
    assert list(t["claim_id"]) == ["a1", "a2", "a3", "a4", "k1", "k2"]
    r = t.set_index("claim_id")
    # a1 keeps the first chapter's row (in the chapters' order), a2 too
    assert (r.loc["a1", "verdict"], r.loc["a1", "chapter"], r.loc["a1", "chapter_title"]) == ("consistent", "ch1", "One")
    assert r.loc["a1", "computed_value"] == 10.2 and r.loc["a1", "reason"] == "NA"
    assert (r.loc["a2", "chapter"], r.loc["a2", "reason"]) == ("ch1", "an input")
    assert (r.loc["a3", "chapter"], r.loc["a3", "chapter_title"]) == ("ch2", "Two")
    # judged against: ± 5% for an estimate, the range with its width (2 ÷ 1 > 1.5), the bound; nothing for a row
    # whose role fixes its verdict
    assert list(r["judged_against"]) == ["± 5%", "", "range 1 to 2 ± 5% (high ÷ low 2 > 1.5)",
                                         "at most the bound + 5%", "", ""]
    assert list(r["verdict_depends_on_reading"]) == [True, False, False, False, False, False]
    assert r["verdict_depends_on_reading"].dtype == bool
    assert r.loc["a1", "readings"] == "tokens_per_turn=s8_100; gpu_price=t9"
    # k2: no chapter computed it
    k2 = r.loc["k2"]
    assert (k2["verdict"], k2["reason"], k2["chapter"], k2["chapter_title"]) == (
        "not audited", "no chapter of this build computed it", "-", "not audited")
    assert (k2["stated_value"], k2["quote"], k2["source"]) == (58.3, "q6", "kareto")
    # columns no table has, and cells of figures no chapter computed: their defaults
    for col in ("depends_on", "restates", "verdict_by_reading", "inputs_flagged", "holds_under"):
        assert (r[col] == "").all(), col
    assert (r.loc[["k2"], ["readings", "changed_by_readings", "role", "judged_against"]] == "").all().all()
    assert k2["kind"] == "estimate" and math.isnan(k2["low"]) and math.isnan(k2["range_ratio"])
    assert (r.loc["a3", "low"], r.loc["a3", "high"], r.loc["a3", "range_ratio"]) == (1, 2, 2)


def test_tables_lacking_columns_get_their_defaults(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "load_claims", lambda: CLAIMS.copy())
    (tmp_path / "ch1_audit.csv").write_text("claim_id,computed_value,relative_difference,verdict,reason\n"
                                            "a4,4,0,consistent,by hand\n", encoding="utf-8")
    r = K.collect_audits(tmp_path, {"ch1": "One"}).set_index("claim_id")
    a4 = r.loc["a4"]
    assert (a4["kind"], a4["role"], a4["judged_against"], a4["verdict_depends_on_reading"]) == (
        "estimate", "", "", False)
    assert math.isnan(a4["low"]) and math.isnan(a4["high"]) and math.isnan(a4["range_ratio"])
    assert (a4["verdict"], a4["chapter"], a4["chapter_title"]) == ("consistent", "ch1", "One")
    assert (r["verdict"] == "not audited").sum() == 5
    assert r["verdict_depends_on_reading"].dtype == bool and not r["verdict_depends_on_reading"].any()
    # a chapter's title defaults to its name when the mapping lacks it: only the chapters listed are read
    none = K.collect_audits(tmp_path / "nothing", {"ch1": "One"})
    assert (none["verdict"] == "not audited").all() and (none["chapter"] == "-").all()
    assert list(none.columns) == K.AUDIT_BOOK_COLUMNS and len(none) == 6
    assert (none["kind"] == "estimate").all() and (none["judged_against"] == "").all()
    assert not none["verdict_depends_on_reading"].any()


def test_a_reading_changes_a_verdict_only_where_the_cell_reads_true(tmp_path, monkeypatch):
    """The column is read as text: 'true' in any case is true, anything else (here 1) is not."""
    monkeypatch.setattr(K, "load_claims", lambda: CLAIMS.copy())
    head = "claim_id,computed_value,relative_difference,verdict_depends_on_reading,verdict,reason\n"
    (tmp_path / "ch1_audit.csv").write_text(head + "a1,1,0,1,consistent,x\na2,1,0,0,consistent,y\n", encoding="utf-8")
    r = K.collect_audits(tmp_path, {"ch1": "One"}).set_index("claim_id")
    assert r["verdict_depends_on_reading"].tolist() == [False] * 6
    (tmp_path / "ch1_audit.csv").write_text(head + "a3,1,0,TRUE,consistent,x\na4,1,0,tRuE,consistent,y\n",
                                            encoding="utf-8")
    r = K.collect_audits(tmp_path, {"ch1": "One"}).set_index("claim_id")
    assert r["verdict_depends_on_reading"].tolist() == [False, False, True, True, False, False]


def test_a_chapter_table_with_no_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "load_claims", lambda: CLAIMS.copy())
    (tmp_path / "ch1_audit.csv").write_text(CH1.splitlines()[0] + "\n", encoding="utf-8")
    t = K.collect_audits(tmp_path, {"ch1": "One"})
    assert (t["verdict"] == "not audited").all() and (t["judged_against"] == "").all() and len(t) == 6


def test_chapter_title_defaults_to_the_name(tmp_path, monkeypatch):
    monkeypatch.setattr(K, "load_claims", lambda: CLAIMS.copy())
    (tmp_path / "ch1_audit.csv").write_text(CH1, encoding="utf-8")

    class Titles(dict):
        """Lists ch1 as a chapter but has no title for it."""

        def __iter__(self):
            return iter(["ch1"])

        def get(self, key, default=None):
            return default

    r = K.collect_audits(tmp_path, Titles()).set_index("claim_id")
    assert r.loc["a1", "chapter_title"] == "ch1"


def test_verdict_summary(book):
    s = K.verdict_summary(K.collect_audits(book, CHAPTERS))
    assert list(s.index) == ["consistent", INCONSISTENT_INPUTS, "inconsistent", "impossible", "not reproducible",
                             "given", "not audited"]
    assert list(s.columns) == ["case_study", "kareto", "total", "share"] and s.columns.name is None
    # checkable: a1 consistent, a4 inconsistent, a3 and k1 not reproducible: 4; a2 given, k2 not audited
    assert s["case_study"].tolist() == [1, 0, 1, 0, 1, 1, 0]
    assert s["kareto"].tolist() == [0, 0, 0, 0, 1, 0, 1]
    assert s["total"].tolist() == [1, 0, 1, 0, 2, 1, 1]
    assert s["share"].tolist()[:5] == [0.25, 0.0, 0.25, 0.0, 0.5]
    assert np.isnan(s["share"].tolist()[5:]).all()
    # everything audited: no line for the figures not audited; nothing checkable: no shares
    t = K.collect_audits(book, CHAPTERS)
    assert "not audited" not in K.verdict_summary(t[t["verdict"] != "not audited"]).index
    given = K.verdict_summary(t[t["verdict"] == "given"])
    assert given["total"].tolist() == [0, 0, 0, 0, 0, 1] and given["share"].isna().all()


def test_readings_use(book):
    t = K.collect_audits(book, CHAPTERS)
    use = K.readings_use(t)
    assert list(use.columns) == ["quantity", "figures", "verdicts_changed"]
    assert list(use["quantity"]) == ["concurrent_sessions", "tokens_per_turn", "tokens_billed", "fleet_900",
                                     "gpu_price", "latency", "t4_throughput_basis"]
    # a1 reads tokens_per_turn and gpu_price, a3 gpu_price; a1's verdict changes under tokens_per_turn
    assert use["figures"].tolist() == [0, 1, 0, 0, 2, 0, 0]
    assert use["verdicts_changed"].tolist() == [0, 1, 0, 0, 0, 0, 0]
    # several readings in one cell: each counted once per figure; NaN cells count nothing
    t2 = pd.DataFrame({"readings": ["gpu_price=t9; gpu_price=aws_on_demand; latency=e2e", None],
                       "changed_by_readings": ["latency=ttft gpu_price=aws_on_demand", None]})
    use2 = K.readings_use(t2).set_index("quantity")
    assert use2.loc["gpu_price", "figures"] == 1 and use2.loc["latency", "figures"] == 1
    assert use2.loc["gpu_price", "verdicts_changed"] == 1 and use2.loc["latency", "verdicts_changed"] == 1
    assert type(use2.loc["gpu_price", "figures"]) is np.int64 or isinstance(use2.loc["gpu_price", "figures"], int)
    # the cells' format: readings "q=a" joined by "; ", changed readings joined by one space; anything else is
    # not read as a quantity (here "latency = e2e", and a tab)
    t3 = pd.DataFrame({"readings": ["latency = e2e", "gpu_price=t9;latency=e2e"],
                       "changed_by_readings": ["latency=ttft\tgpu_price=aws_on_demand", ""]})
    use3 = K.readings_use(t3).set_index("quantity")
    assert use3.loc["latency", "figures"] == 0 and use3.loc["gpu_price", "figures"] == 1
    assert use3.loc["latency", "verdicts_changed"] == 1 and use3.loc["gpu_price", "verdicts_changed"] == 0


def test_summary_markdown_text(book):
    t = K.collect_audits(book, CHAPTERS)
    text = K.summary_markdown_text(t)
    assert text == "\n".join([
        "Of the **6 stated figures** of the two documents, 4 can be checked: 1 consistent; 0 consistent only as "
        "arithmetic on inputs judged inconsistent; 1 inconsistent; 0 impossible; 2 not reproducible. Another 1 are "
        "**given**: inputs, design inputs, chosen thresholds and intervals, definitions, the audit's readings of "
        "ambiguous figures, or restatements of another stated figure. 1 were not audited in this build.",
        "",
        "| verdict | case study | Kareto summary | total | share of checkable |",
        "|---|---:|---:|---:|---:|",
        "| consistent | 1 | 0 | 1 | 25% |",
        f"| {INCONSISTENT_INPUTS} | 0 | 0 | 0 | 0% |",
        "| inconsistent | 1 | 0 | 1 | 25% |",
        "| impossible | 0 | 0 | 0 | 0% |",
        "| not reproducible | 1 | 1 | 2 | 50% |",
        "| given | 1 | 0 | 1 |  |",
        "| not audited | 0 | 1 | 1 |  |",
        "",
        "Figures found inconsistent or impossible, by chapter (then, apart, those whose arithmetic holds on inputs "
        "judged inconsistent): One 0 (0); Two 1 (0).",
        "",
        "2 figures depend on a quantity the sources leave ambiguous (what \"concurrent\" means, the tokens of a turn, "
        "the GPU price, …); each is judged under the one reading the audit uses (`data/claims/readings.csv`), and "
        "another reading would change the verdict of 1 of them, as their rows say.",
        "",
        "Every figure, with its arithmetic and the chapter that computes it: {doc}`/chapters/appendix_audit`.",
        ""])


def test_summary_names_a_source_it_has_no_name_for(book):
    t = K.collect_audits(book, CHAPTERS)
    t.loc[t["claim_id"] == "k2", "source"] = "memo"
    assert "\n| verdict | case study | Kareto summary | memo | total | share of checkable |\n|---|---:|---:|---:|---:|---:|\n" \
        in K.summary_markdown_text(t)


def test_summary_of_a_whole_audit_with_carried_inputs(book):
    t = K.collect_audits(book, CHAPTERS)
    t = t[t["verdict"] != "not audited"].copy()
    t.loc[t["claim_id"] == "a1", "verdict"] = INCONSISTENT_INPUTS
    t.loc[t["claim_id"] == "a3", "verdict"] = "impossible"
    text = K.summary_markdown_text(t)
    assert text.startswith(
        "Of the **5 stated figures** of the two documents, 4 can be checked: 0 consistent; 1 consistent only as "
        "arithmetic on inputs judged inconsistent; 1 inconsistent; 1 impossible; 1 not reproducible. The other 1 are "
        "**given**: inputs, design inputs, chosen thresholds and intervals, definitions, the audit's readings of "
        "ambiguous figures, or restatements of another stated figure.\n\n| verdict |")
    assert "| not audited |" not in text
    assert "judged inconsistent): One 0 (1); Two 2 (0).\n" in text
    # a table without the reading columns: none depends on a reading
    bare = t.drop(columns=["verdict_depends_on_reading", "readings"])
    assert "\n0 figures depend on a quantity" in K.summary_markdown_text(bare)
    assert "would change the verdict of 0 of them" in K.summary_markdown_text(bare)
