"""model.result_cache, hand-worked cases for its mutants: the fingerprint's bytes spelled out (every path, a NUL,
the file's bytes, a NUL, in sorted order), the kept file's name and contents, and a result that cannot be kept
leaving the folder as it was."""
import hashlib
import os
import pickle

import pytest

from model import result_cache
from model.result_cache import CACHE_ENV, cached, code_and_data_fingerprint


def test_the_fingerprint_by_hand(tmp_path, monkeypatch):
    (tmp_path / "model" / "sub").mkdir(parents=True)
    (tmp_path / "data").mkdir()
    (tmp_path / "model" / "sub" / "b.py").write_bytes(b"B")
    (tmp_path / "model" / "a.py").write_bytes(b"A")
    (tmp_path / "data" / "t.csv").write_bytes(b"1,2\n")
    (tmp_path / "data" / "dir.py").mkdir()                      # a folder is not a file
    (tmp_path / "other.py").write_bytes(b"not under model/")
    (tmp_path / "data" / "__pycache__").mkdir()                  # compiled files are not code or data
    (tmp_path / "data" / "__pycache__" / "t.cpython-311.pyc").write_bytes(b"\x00")
    (tmp_path / "model" / "__pycache__").mkdir()
    (tmp_path / "model" / "__pycache__" / "stray.py").write_bytes(b"x")
    monkeypatch.setattr(result_cache, "_ROOT", tmp_path)
    # sorted paths: data/t.csv, model/a.py, model/sub/b.py
    expected = hashlib.sha256(b"data/t.csv\x001,2\n\x00" b"model/a.py\x00A\x00" b"model/sub/b.py\x00B\x00")
    assert code_and_data_fingerprint() == expected.hexdigest()


def test_the_kept_file(tmp_path, monkeypatch):
    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "0123456789abcdefghijklmnop")
    folder = tmp_path / "not" / "yet"                              # made when first needed
    monkeypatch.setenv(CACHE_ENV, str(folder))
    assert cached("r", lambda: {"x": [1, 2]}) == {"x": [1, 2]}
    assert os.listdir(folder) == ["r-0123456789abcdefghij.pkl"]
    with open(folder / "r-0123456789abcdefghij.pkl", "rb") as fh:
        assert pickle.load(fh) == {"x": [1, 2]}
    # a name that only begins like another is another result: kept
    cached("r-2", lambda: 3)
    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "z" * 64)
    cached("r", lambda: 4)
    assert sorted(os.listdir(folder)) == ["r-2-0123456789abcdefghij.pkl", "r-" + "z" * 20 + ".pkl"]
    monkeypatch.setenv(CACHE_ENV, "")                              # empty: nothing kept
    assert cached("r", lambda: 5) == 5


def test_a_result_that_cannot_be_kept_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "a" * 64)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    cached("old", lambda: 1)
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        cached("new", lambda: (lambda: 0))                        # a lambda cannot be pickled
    assert os.listdir(tmp_path) == ["old-" + "a" * 20 + ".pkl"]


class _Spy:
    """A result that, while it is pickled, notes the files of the folder it is kept in."""

    def __init__(self, folder, seen):
        self.folder, self.seen = folder, seen

    def __reduce__(self):
        self.seen.append(sorted(os.listdir(self.folder)))
        return (int, (5,))


def test_the_result_is_written_to_a_temporary_file_in_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "c" * 64)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    seen = []
    cached("s", lambda: _Spy(tmp_path, seen))
    # while written: one file, mkstemp's "tmp" and random letters, ".tmp" at the end; then only the kept file
    assert len(seen) == 1 and len(seen[0]) == 1
    assert seen[0][0].startswith("tmp") and seen[0][0].endswith(".tmp")
    assert os.listdir(tmp_path) == ["s-" + "c" * 20 + ".pkl"]
    assert cached("s", lambda: 0) == 5


def test_an_old_file_removed_meanwhile_by_another_kernel_is_no_error(tmp_path, monkeypatch):
    import pathlib

    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "d" * 64)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    gone = tmp_path / ("g-" + "e" * 20 + ".pkl")                   # listed, then removed before this kernel could
    monkeypatch.setattr(pathlib.Path, "glob", lambda self, pattern: iter([gone, self / ("g-" + "d" * 20 + ".pkl")]))
    assert cached("g", lambda: 1) == 1
    assert os.listdir(tmp_path) == ["g-" + "d" * 20 + ".pkl"]
