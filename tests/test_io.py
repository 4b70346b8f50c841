import os

import pandas as pd
import pytest

from model.io import ChecksumError, DATA, atomic_write_text, sha256_of, verify_sha256, write_csv

TRACES = {
    "traces/mooncake/conversation_trace.jsonl": "b8cbb061a85206d729d91cdc2981f43c9e0d99209dce588d3af5f7934408b9df",
    "traces/azure/AzureLLMInferenceTrace_conv.csv": "2f1e5b666d4e3055fdbba98598ce2ec307767b9064e03e2fa46676dbcc7d0bf8",
}


@pytest.mark.parametrize("rel", sorted(TRACES))
def test_shipped_traces_have_recorded_checksums(rel):
    assert verify_sha256(DATA / rel, TRACES[rel]).exists()
    assert TRACES[rel] in (DATA / "traces" / "README.md").read_text()


def test_checksum_mismatch(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("hello")
    with pytest.raises(ChecksumError, match="altered"):
        verify_sha256(f, "0" * 64)
    # sha256("hello"), independent reference value
    assert sha256_of(f) == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_atomic_write_leaves_nothing_half_written(tmp_path):
    target = tmp_path / "t.csv"
    atomic_write_text(target, "old\n")

    with pytest.raises(TypeError):
        atomic_write_text(target, 12345)  # not text: fails mid-write
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


def test_write_csv_is_deterministic(tmp_path):
    df = pd.DataFrame({"a": [1.0 / 3, 2.0], "b": ["x", "y"]})
    write_csv(df, tmp_path / "1.csv")
    write_csv(df, tmp_path / "2.csv")
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    assert (tmp_path / "1.csv").read_text().splitlines()[1] == "0.333333,x"
    assert oct(os.stat(tmp_path / "1.csv").st_mode & 0o777) == "0o644"
