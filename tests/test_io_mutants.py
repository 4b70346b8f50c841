"""model.io, hand-worked cases for its mutants: the sha256 of files larger than one read, the messages of a missing
or altered file, atomic writes (the temporary file beside the target, its name, its mode, nothing left behind when
the write fails, the old file kept), the exact bytes written and the CSV's float format."""
import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

from model.io import DATA, ROOT, ChecksumError, atomic_path, atomic_write_text, sha256_of, verify_sha256, write_csv


def test_root_and_data():
    assert (ROOT / "model" / "io.py").is_file() and DATA == ROOT / "data" and DATA.is_dir()


def test_sha256_of_a_file_of_several_reads(tmp_path):
    f = tmp_path / "big.bin"
    data = bytes(range(256)) * 12289                  # 3,145,984 bytes: three 1 MiB reads and a short one
    f.write_bytes(data)
    assert sha256_of(f) == hashlib.sha256(data).hexdigest()
    # the empty file: the published sha256 of no bytes
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_of(tmp_path / "empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_verify_sha256_messages(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("hello")
    good = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"   # sha256("hello")
    out = verify_sha256(str(f), good)
    assert out == f and isinstance(out, Path)
    with pytest.raises(ChecksumError) as e:
        verify_sha256(f, "0" * 64)
    assert str(e.value) == f"{f}: sha256 is {good}, expected {'0' * 64}; the file was altered"
    with pytest.raises(FileNotFoundError) as e:
        verify_sha256(tmp_path / "gone.txt", good)
    assert str(e.value) == f"data file {tmp_path / 'gone.txt'} is missing"


def test_atomic_path_names_a_temporary_file_beside_the_target(tmp_path):
    target = tmp_path / "new" / "deeper" / "table.csv"          # parents made
    with atomic_path(str(target)) as tmp:
        assert tmp.parent == target.parent and tmp.exists() and not target.exists()
        assert tmp.name.startswith(".table.") and tmp.name.endswith(".csv")
        tmp.write_text("a\n")
    assert target.read_text() == "a\n"
    assert oct(os.stat(target).st_mode & 0o777) == "0o644"
    assert os.listdir(target.parent) == ["table.csv"]
    with atomic_path(tmp_path / "new" / "deeper" / "plain") as tmp:     # the folder exists already; no suffix
        assert tmp.name.startswith(".plain.") and tmp.name.endswith(".tmp")
        tmp.write_text("b")
    assert (tmp_path / "new" / "deeper" / "plain").read_text() == "b"


def test_a_failed_block_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["t.txt"]
    # the block removed its temporary file itself before failing: its own error comes out
    with pytest.raises(ValueError, match="^mine$"):
        with atomic_path(target) as tmp:
            tmp.unlink()
            raise ValueError("mine")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["t.txt"]


def test_atomic_write_text_writes_the_exact_bytes(tmp_path):
    out = atomic_write_text(str(tmp_path / "t.txt"), "é\r\nx\n")
    assert out == tmp_path / "t.txt" and isinstance(out, Path)
    assert (tmp_path / "t.txt").read_bytes() == b"\xc3\xa9\r\nx\n"      # UTF-8, line ends as given


def test_write_csv_format(tmp_path):
    df = pd.DataFrame({"a": [2.0 / 3, 1234567.0], "b": ["x", "y"]}, index=[5, 6])
    out = write_csv(df, str(tmp_path / "d.csv"))
    assert out == tmp_path / "d.csv" and isinstance(out, Path)
    assert (tmp_path / "d.csv").read_bytes() == b"a,b\n0.666667,x\n1.23457e+06,y\n"
    write_csv(df, tmp_path / "e.csv", float_format="%.2f")
    assert (tmp_path / "e.csv").read_bytes() == b"a,b\n0.67,x\n1234567.00,y\n"


def test_write_csv_ends_lines_with_a_newline_whatever_the_platform(tmp_path, monkeypatch):
    # pandas ends CSV lines with os.linesep unless told: on Windows "\r\n"; the study's files end with "\n"
    monkeypatch.setattr(os, "linesep", "\r\n")
    write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "w.csv")
    assert (tmp_path / "w.csv").read_bytes() == b"a\n1\n2\n"
