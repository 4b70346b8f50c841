import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.audit.claims import Derived, Stated, claim_ids_of, is_read_back, stated_value
from model.audit.verdicts import (CLAIM_COLUMNS, Computed, audit, claim, convert, load_claims, verdict_counts,
                                  verdict_for)
from model.io import DATA
from model.checks import ParameterError

UNITS = {"USD", "USD/month", "USD/year", "USD/1M tokens", "USD/user/month", "%", "x", "tokens",
         "tokens/month", "tokens/s", "requests/min", "GB", "MB", "PB", "s", "ms", "h", "min", "count",
         "turns", "text"}
SOURCE_FILES = {"case_study": "000_bf9ef38e5023aa3a.txt", "kareto": "004_25ee08c4043f301f.txt"}


@pytest.fixture(scope="module")
def claims():
    return load_claims()


def test_schema_and_ids(claims):
    assert list(claims.columns) == CLAIM_COLUMNS
    assert claims["claim_id"].is_unique
    assert claims["claim_id"].str.fullmatch(r"[a-z0-9]+(\.[a-z0-9_]+)+").all()
    assert set(claims["unit"]) <= UNITS


def test_values_numeric_unless_text(claims):
    text = claims["unit"] == "text"
    assert claims.loc[text, "stated_value"].isna().all()
    assert claims.loc[~text, "stated_value"].map(np.isfinite).all()


def test_every_quote_is_verbatim_in_its_source(claims):
    """The data of record is checked against the shipped source documents, not against itself."""
    texts = {k: (DATA / "sources" / f).read_text(encoding="utf-8") for k, f in SOURCE_FILES.items()}
    missing = [r.claim_id for r in claims.itertuples() if r.quote not in texts[r.source]]
    assert not missing


def test_stated_number_appears_in_quote(claims):
    """Spot-check normalisation: a plain figure's digits occur in its quote (e.g. 57, 228, 1630, 92)."""
    for cid, digits in [("t3.hf.sessions_per_gpu", "57"), ("t3.vllm.sessions_per_gpu", "228"),
                        ("t5.effect.gpus_before", "1630"), ("t4.cb.gpu_util", "92")]:
        row = claim(cid)
        assert digits in row["quote"] and f"{row['stated_value']:g}" == digits


def test_every_table_of_the_readme_is_present(claims):
    expected = {"T1", "T2", "T3", "T4", "T5", "T6", "L7", "L8", "T9", "L10", "L11", "T12", "K"}
    assert expected <= set(claims["table"])


def test_convert():
    assert_allclose(convert(3.2768e9, "bytes", "GB"), 3.2768)
    assert_allclose(convert(350, "MB", "GB"), 0.35)
    assert_allclose(convert(2, "h", "s"), 7200)
    with pytest.raises(ParameterError, match="unit"):
        convert(1, "GB", "s")


def test_verdict_rules():
    assert verdict_for(100, 104) == "consistent"
    assert verdict_for(100, 106) == "inconsistent"
    assert verdict_for(100, 50, 0.6) == "consistent"
    assert verdict_for(100, math.nan) == "not reproducible"
    assert verdict_for(1.8, 2.0, kind="upper_bound") == "consistent"
    assert verdict_for(2.5, 2.0, kind="upper_bound") == "impossible"
    assert verdict_for(900, 853, kind="lower_bound") == "consistent"
    assert verdict_for(500, 853, kind="lower_bound") == "impossible"


def test_audit_converts_units_and_differences():
    table = audit([Computed("t3.arith.mem_per_session", 3.2768e9, "bytes", "2*80*8*128*2 B x 10K"),
                   Computed("t3.hf.sessions_per_gpu", 0, "count", "weights do not fit: no session", kind="upper_bound",
                            holds_under="every placement the source describes")])
    first = table.iloc[0]
    assert_allclose(first["computed_value"], 3.2768)  # GB, the claim's unit
    assert_allclose(first["difference"], 3.2768 - 1.4)
    assert_allclose(first["relative_difference"], (3.2768 - 1.4) / 1.4)
    assert first["verdict"] == "inconsistent"
    assert table.iloc[1]["verdict"] == "impossible"
    counts = verdict_counts(table)
    assert counts["inconsistent"] == 1 and counts["impossible"] == 1 and counts.sum() == 2


def test_audit_errors():
    with pytest.raises(ParameterError, match="claim_id"):
        audit([Computed("no.such.claim", 1, "x", "because")])
    with pytest.raises(ParameterError, match="verdict"):
        Computed("t3.hf.sessions_per_gpu", 1, "count", "x", verdict="plausible")
    with pytest.raises(ParameterError, match="computed"):
        audit([Computed("t3.hf.sessions_per_gpu", 1, "count", "a"), Computed("t3.hf.sessions_per_gpu", 1, "count", "b")])


def test_range_verdict():
    # inside the range (widened by the tolerance) -> consistent; outside the whole range -> inconsistent
    assert verdict_for(2.2, math.nan, 0.05, "range", low=1.85, high=2.52) == "consistent"
    assert verdict_for(2.6, math.nan, 0.05, "range", low=1.85, high=2.52) == "consistent"  # 2.52 x 1.05 = 2.646
    assert verdict_for(2.7, math.nan, 0.05, "range", low=1.85, high=2.52) == "inconsistent"
    assert verdict_for(1.70, math.nan, 0.05, "range", low=1.85, high=2.52) == "inconsistent"  # 1.85 x 0.95 = 1.7575
    assert verdict_for(2.2, math.nan, 0.05, "range", low=math.nan, high=2.52) == "not reproducible"
    with pytest.raises(ParameterError, match="low"):
        Computed("t3.vllm.p95_latency", 2.0, "s", "x", kind="range", low=3.0, high=2.0, depends_on="a load")
    with pytest.raises(ParameterError, match="low"):
        Computed("t3.vllm.p95_latency", 2.0, "s", "x", low=1.0)
    row = audit([Computed("t3.vllm.p95_latency", 2.1, "s", "simulated over 4-8 GPUs per copy", kind="range",
                          low=1.85, high=2.52, depends_on="the GPUs per copy")]).iloc[0]
    assert row["verdict"] == "consistent" and row["low"] == 1.85 and row["high"] == 2.52
    assert row["depends_on"] == "the GPUs per copy" and row["range_ratio"] == pytest.approx(2.52 / 1.85)


def test_impossible_cannot_be_typed():
    for typed in ("impossible", "consistent", "inconsistent", "consistent arithmetic, inconsistent inputs"):
        with pytest.raises(ParameterError, match="verdict"):
            Computed("t3.hf.sessions_per_gpu", 0, "count", "x", verdict=typed)


def test_stated_figures_are_tracked_through_arithmetic():
    a = stated_value("t5.effect.gpus_before")  # 1630
    b = stated_value("t4.cb.gpu_util")  # 92
    assert isinstance(a, Stated) and is_read_back(a) and float(a) == 1630
    c = a * 2 / b + 1
    assert isinstance(c, Derived) and not is_read_back(c)
    assert claim_ids_of(c) == {"t5.effect.gpus_before", "t4.cb.gpu_util"}
    assert_allclose(float(c), 1630 * 2 / 92 + 1, rtol=1e-15)
    assert claim_ids_of(3 - a) == {"t5.effect.gpus_before"} and float(3 - a) == -1627
    assert claim_ids_of(-a) == {"t5.effect.gpus_before"}


def test_a_figure_read_back_cannot_be_consistent():
    v = stated_value("t3.hf.sessions_per_gpu")
    with pytest.raises(ParameterError, match="read back"):
        audit([Computed("t3.hf.sessions_per_gpu", v, "count", "the stated figure")])
    row = audit([Computed("t3.hf.sessions_per_gpu", v, "count", "input of the source", role="input")]).iloc[0]
    assert row["verdict"] == "given" and bool(row["read_back"]) and row["reads"] == "t3.hf.sessions_per_gpu"
    # a restatement of another figure is read back too
    w = stated_value("t3.vllm.sessions_per_gpu")
    with pytest.raises(ParameterError, match="read back"):
        audit([Computed("t3.hf.sessions_per_gpu", w, "count", "same as vLLM's")])
    # one step of arithmetic is a computation, and its inputs are recorded
    row = audit([Computed("t3.hf.sessions_per_gpu", w / 4, "count", "228 / 4")]).iloc[0]
    assert row["verdict"] == "consistent" and not row["read_back"] and row["reads"] == "t3.vllm.sessions_per_gpu"
