"""Tests of model.result_cache: a result kept between processes only for the code and data that made it, and the
audit of the sources kept through it."""

import pandas as pd

from model import result_cache
from model.result_cache import CACHE_ENV, cached, code_and_data_fingerprint


def test_a_result_is_kept_in_the_folder_and_read_back(tmp_path, monkeypatch):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"claim_id": ["x"], "verdict": ["consistent"]}), {"m": ["x"]}

    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "a" * 64)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    first = cached("kareto", compute)
    assert len(calls) == 1 and [p.name for p in tmp_path.iterdir()] == ["kareto-" + "a" * 20 + ".pkl"]
    second = cached("kareto", compute)                  # another process: read from the folder, not computed
    assert len(calls) == 1
    assert second[0].equals(first[0]) and second[1] == first[1]
    # other code or data: computed anew, and the file of the old fingerprint removed; other names kept
    cached("case_study", compute)
    monkeypatch.setattr(result_cache, "code_and_data_fingerprint", lambda: "b" * 64)
    cached("kareto", compute)
    assert len(calls) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case_study-" + "a" * 20 + ".pkl",
                                                          "kareto-" + "b" * 20 + ".pkl"]
    # no folder named: nothing kept, computed every time
    monkeypatch.delenv(CACHE_ENV)
    cached("kareto", compute)
    cached("kareto", compute)
    assert len(calls) == 5


def test_the_fingerprint_follows_every_model_and_data_file(tmp_path, monkeypatch):
    (tmp_path / "model" / "__pycache__").mkdir(parents=True)
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "model" / "a.py").write_text("x = 1\n")
    (tmp_path / "data" / "sub" / "t.csv").write_text("a,b\n1,2\n")
    monkeypatch.setattr(result_cache, "_ROOT", tmp_path)
    base = code_and_data_fingerprint()
    (tmp_path / "model" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
    (tmp_path / "model" / "notes.txt").write_text("not code")
    assert code_and_data_fingerprint() == base            # compiled files and non-Python files are not the code
    (tmp_path / "data" / "sub" / "t.csv").write_text("a,b\n1,3\n")
    changed = code_and_data_fingerprint()
    assert changed != base
    (tmp_path / "model" / "a.py").rename(tmp_path / "model" / "b.py")
    assert code_and_data_fingerprint() not in (base, changed)   # a renamed module moves it too


def test_the_audit_of_a_source_goes_through_the_cache(tmp_path, monkeypatch):
    from model.audit import whole

    seen = []
    monkeypatch.setattr(whole, "cached", lambda name, compute: seen.append(name) or ("table", {}))
    whole.group_audit.cache_clear()
    try:
        assert whole.group_audit("kareto") == ("table", {})
        assert seen == ["kareto"]
    finally:
        whole.group_audit.cache_clear()
