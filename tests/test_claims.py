import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.claims import (CLAIM_COLUMNS, Computed, audit, claim, convert, load_claims, verdict_counts,
                          verdict_for)
from model.io import DATA
from model.validation import ParameterError

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
                   Computed("t3.hf.sessions_per_gpu", 0, "count", "weights do not fit", verdict="impossible")])
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
