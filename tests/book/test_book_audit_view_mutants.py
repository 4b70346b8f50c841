"""model.book.audit_view by hand: the audit's rows and source blocks shown through the one table formatter, every
column as text under its name with a capital first letter (a source block's first column keeps its name), a
stand-in for IPython's display recording what is shown."""
import pandas as pd
import pytest

import model.book.audit_view as audit_view
from model.book.audit_view import _cap, show_audit, show_source


def test_cap_capitalises_the_first_letter_only():
    assert _cap("claim") == "Claim" and _cap("p95 ttft") == "P95 ttft" and _cap("x") == "X" and _cap("") == ""
    assert _cap("tTFT") == "TTFT"


def test_show_audit_keeps_every_row_as_text_under_capitalised_headers():
    rows = pd.DataFrame({"claim": ["a", "b"], "value": [0.123456, 12345.0], "ok_share": [0.5, 1.0]})
    t = show_audit(rows)
    # text columns: numbers as written, not rounded, no percent from the _share suffix
    assert list(t.frame.columns) == ["Claim", "Value", "Ok_share"]
    assert t.frame.values.tolist() == [["a", "0.123456", "0.5"], ["b", "12345.0", "1.0"]]
    assert t.caption is None


@pytest.fixture
def shown(monkeypatch):
    out = []
    monkeypatch.setattr(audit_view, "display", out.append)
    return out


def test_show_source_displays_each_block_with_its_caption(shown):
    a = pd.DataFrame({"source_gb": ["x"], "value_s": [1.23456]})
    b = pd.DataFrame({"field": ["y", "z"], "note": [True, False]})
    assert show_source([(a, "Block A"), (b, "Block B")]) is None
    assert [t.caption for t in shown] == ["Block A", "Block B"]
    # the first column keeps its name as it is; the others get a capital; every cell as text
    assert list(shown[0].frame.columns) == ["source_gb", "Value_s"]
    assert shown[0].frame.values.tolist() == [["x", "1.23456"]]
    assert list(shown[1].frame.columns) == ["field", "Note"]
    assert shown[1].frame.values.tolist() == [["y", "True"], ["z", "False"]]
