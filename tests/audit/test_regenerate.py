import math

import pandas as pd

from model.audit.regenerate import cell_text, source_table


def _row(table, row, column, stated, computed, unit, verdict):
    return {"table": table, "row": row, "column": column, "stated_value": stated, "computed_value": computed,
            "unit": unit, "verdict": verdict}


def test_source_table_keeps_the_source_layout_and_marks():
    audit = pd.DataFrame([
        _row("T5", "FP16", "model size", 140.0, 137.95, "GB", "consistent"),
        _row("T5", "INT8", "model size", 70.0, 68.98, "GB", "consistent"),
        _row("T5", "INT8", "inference speed (vs FP16)", 1.8, 1.91, "x", "consistent"),
        _row("T5", "§5 effect of INT8", "GPUs before", 1630.0, math.nan, "count", "given"),
        _row("T3", "HF", "sessions per GPU", 57.0, 0.0, "count", "impossible"),
    ])
    t = source_table(audit, "T5")
    assert list(t.columns) == ["T5", "model size", "inference speed (vs FP16)"]
    assert t["T5"].tolist() == ["FP16", "INT8"]
    assert t.iloc[0, 1] == "140 → 137.9 GB ✓" and t.iloc[1, 2] == "1.8 → 1.91 ✓" and t.iloc[0, 2] == ""
    assert cell_text(_row("T1", "Availability", "optimized", 99.95, 99.79, "%", "inconsistent")) == "99.95% → 99.79% ✗"
    ranged = {**_row("T3", "vLLM", "P95", 2.2, 2.9, "s", "consistent"), "kind": "range", "low": 1.95, "high": 4.41}
    assert cell_text(ranged) == "2.2 in 1.95–4.41 s ✓"
    text = source_table(audit, "T5", text_rows=True)
    assert text.iloc[0].tolist() == ["§5 effect of INT8", "GPUs before", "1,630 ="]
    assert cell_text(audit.iloc[4]) == "57 → 0 ⊘"
