"""model.records, hand-worked cases for its mutants, fast: a tiny package ``model`` of three modules and a tiny
``data/`` written in a temporary folder put in place of the repository, so that the closure of a module, the
fingerprint (its lines spelled out) and the making, reading and use of a record are worked by hand."""
import ast
import hashlib
import json
import os
import platform

import numpy as np
import pandas as pd
import pytest

import model.records as records
from model.records import RecordError

M_SRC = '"""Module m."""\nimport model.n\nfrom model.pkg import g\nKNOB = "alpha_knob"\n\n\ndef tables(*, n, scale):\n    """Doc."""\n    return n\n'
N_SRC = "import json\nfrom model import p\nY = 'beta_knob'\n"
P_SRC = "Z = 1\n"
PKG_SRC = '"""A package."""\nfrom model.pkg.inner import g\nOWN = 2\n'
INNER_SRC = "def g():\n    return 3\n"


def _digest(src_without_docstrings: str) -> str:
    # the digest of a module: SHA-256 of the dump of its syntax tree, docstrings removed
    return hashlib.sha256(ast.dump(ast.parse(src_without_docstrings), include_attributes=False).encode()).hexdigest()


@pytest.fixture()
def world(tmp_path, monkeypatch):
    (tmp_path / "model" / "pkg").mkdir(parents=True)
    (tmp_path / "model" / "__init__.py").write_text("")
    (tmp_path / "model" / "m.py").write_text(M_SRC)
    (tmp_path / "model" / "n.py").write_text(N_SRC)
    (tmp_path / "model" / "p.py").write_text(P_SRC)
    (tmp_path / "model" / "pkg" / "__init__.py").write_text(PKG_SRC)
    (tmp_path / "model" / "pkg" / "inner.py").write_text(INNER_SRC)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_bytes(b"x\n1\n")
    (data / "sub" / "b.csv").write_bytes(b"y\n2\n")
    monkeypatch.setattr(records, "ROOT", tmp_path)
    monkeypatch.setattr(records, "DATA", data)
    monkeypatch.setattr(records, "RECORDS_DIR", data / "records")
    table = pd.DataFrame({"name": ["alpha_knob", "beta_knob", "gamma_knob"], "value": [0.5, 2, 3.0],
                          "unit": ["s", "tokens", "GB"]})
    monkeypatch.setattr("model.parameters.defaults_table", lambda: table)
    return tmp_path


CLOSURE = {"model.m": _digest('import model.n\nfrom model.pkg import g\nKNOB = "alpha_knob"\n\n\ndef tables(*, n, scale):\n    return n\n'),
           "model.n": _digest(N_SRC), "model.p": _digest(P_SRC), "model.pkg.inner": _digest(INNER_SRC)}


def test_module_files(world):
    assert records._module_file("model.m") == world / "model" / "m.py"
    assert records._module_file("model.pkg") == world / "model" / "pkg" / "__init__.py"
    assert records._module_file("model.nothing") is None
    assert records._module_file("json") is None                      # not under the root
    assert records._module_file("no_such_module_anywhere") is None
    assert records._module_file(".relative") is None                 # find_spec refuses a relative name (ImportError)
    assert records._ours("model.m") and not records._ours("model.nothing") and not records._ours("json")
    assert records._is_package("model.pkg") and not records._is_package("model.m")
    assert not records._is_package("model.nothing")


def test_imports_and_re_exports(world):
    # `from model.pkg import g`: the package re-exports g from model.pkg.inner; `from model import p`: a module
    assert records._imports("model.m", ast.parse(M_SRC)) == {"model.n", "model.pkg.inner"}
    assert records._imports("model.n", ast.parse(N_SRC)) == {"model.p"}
    assert records._reexport_source("model.pkg", "g") == "model.pkg.inner"
    assert records._reexport_source("model.pkg", "OWN") == "model.pkg"          # defined by the package itself
    assert records._reexport_source("model.pkg", "g", depth=11) == "model.pkg"  # too deep: stop at the package
    # a name imported from a plain module counts as that module; the module itself is left out
    assert records._imports("model.x", ast.parse("from model.p import Z\nimport model.x\n")) == {"model.p"}
    # a package re-exporting from another package: followed to the module that defines the name
    (world / "model" / "outer").mkdir()
    (world / "model" / "outer" / "__init__.py").write_text("from model.pkg import g\n")
    assert records._reexport_source("model.outer", "g") == "model.pkg.inner"
    (world / "model" / "outer2").mkdir()
    (world / "model" / "outer2" / "__init__.py").write_text("from model.p import Z\n")
    assert records._reexport_source("model.outer2", "Z") == "model.p"


def test_code_digest_drops_docstrings_of_modules_functions_and_classes():
    src = '"""M."""\nclass C:\n    """C."""\n    def f(self):\n        """F."""\n        return 1\nasync def h():\n    """H."""\n    return 2\ndef e():\n    """Only a docstring."""\n'
    bare = "class C:\n    def f(self):\n        return 1\nasync def h():\n    return 2\ndef e():\n    pass\n"
    assert records._code_digest(ast.parse(src)) == _digest(bare)
    assert records._code_digest(ast.parse("x = 1\n'not a docstring'\n")) == _digest("x = 1\n'not a docstring'\n")
    assert records._code_digest(ast.parse("def f():\n    return 'text'\n")) == _digest("def f():\n    return 'text'\n")


def test_module_closure(world):
    assert records.module_closure("model.m") == CLOSURE
    assert list(records.module_closure("model.m")) == sorted(CLOSURE)
    with pytest.raises(RecordError) as e:
        records.module_closure("model.nothing")
    assert str(e.value) == f"no Python source for module 'model.nothing' in {world}"


def test_named_parameters(world):
    # the closure of model.m names alpha_knob (m) and beta_knob (n), not gamma_knob
    assert records.named_parameters("model.m") == [("alpha_knob", "0.5", "s"), ("beta_knob", "2.0", "tokens")]
    assert records.named_parameters("model.p") == []


def test_data_files(world):
    d = world / "data"
    assert records.data_files(["*.csv", "sub/*.csv", "a.csv"]) == [d / "a.csv", d / "sub" / "b.csv"]
    assert records.data_files(["**/*.csv"]) == [d / "a.csv", d / "sub" / "b.csv"]     # recursive
    with pytest.raises(RecordError) as e:
        records.data_files(["*.csv", "sub"])                       # a folder is not a file
    assert str(e.value) == f"data pattern 'sub' matches no file under {d}"


def test_canonical():
    assert records.canonical({"b": [1, 2], "a": {"z": 1, "y": "é"}}) == '{"a":{"y":"\\u00e9","z":1},"b":[1,2]}'


def test_fingerprint_spelled_out(world):
    lines = ['model.m:tables\n{"n":3,"scale":1.5}\n']
    lines += [f"code {k} {v}\n" for k, v in sorted(CLOSURE.items())]
    lines += ["data a.csv " + hashlib.sha256(b"x\n1\n").hexdigest() + "\n",
              "data sub/b.csv " + hashlib.sha256(b"y\n2\n").hexdigest() + "\n"]
    lines += ["parameter alpha_knob 0.5 s\n", "parameter beta_knob 2.0 tokens\n"]
    lines += [f"python {platform.python_version_tuple()[:2]} numpy {np.__version__}\n"]
    expected = hashlib.sha256("".join(lines).encode()).hexdigest()
    data = ["sub/*.csv", records.NAMED_PARAMETERS, "a.csv"]
    assert records.fingerprint("model.m:tables", {"scale": 1.5, "n": 3}, data) == expected
    without = [l for l in lines if not l.startswith("parameter")]
    assert records.fingerprint("model.m:tables", {"scale": 1.5, "n": 3}, ["sub/*.csv", "a.csv"]) == \
        hashlib.sha256("".join(without).encode()).hexdigest()


def tables(*, n, scale, workers=1):
    """The recorded function of these cases: floats, ints, text and booleans (``workers`` changes nothing)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    return {"t": pd.DataFrame({"i": range(n), "x": [scale / (i + 3) for i in range(n)],
                               "label": [f"row {i}" for i in range(n)], "even": [i % 2 == 0 for i in range(n)]}),
            "u": pd.DataFrame({"y": [0.1 + 0.2, 1e-300]})}


tables.__module__ = "model.m"
tables.__qualname__ = "tables"


def test_dtype_names():
    df = pd.DataFrame({"b": [True], "i": [1], "f": [1.5], "s": ["x"]})
    assert [records._dtype_name(df[c]) for c in df] == ["bool", "int64", "float64", "str"]


def test_make_record_writes_its_files(world, monkeypatch):
    calls = []

    def run(**kw):
        calls.append(kw)
        return tables(**kw)

    run.__module__, run.__qualname__ = "model.m", "tables"
    rec = records.make_record("r1", run, {"scale": 2.0, "n": 2}, ["a.csv"], note="a note",
                              run_kwargs={"workers": 4})
    assert calls == [{"n": 2, "scale": 2.0, "workers": 4}]
    folder = world / "data" / "records" / "r1"
    assert sorted(os.listdir(folder)) == ["record.json", "t.csv", "u.csv"]
    assert sorted(os.listdir(folder.parent)) == ["r1"]
    meta = json.loads((folder / "record.json").read_text(encoding="utf-8"))
    assert meta["function"] == "model.m:tables" and meta["kwargs"] == {"n": 2, "scale": 2.0}
    assert meta["data"] == ["a.csv"] and meta["note"] == "a note" and meta["command"] == "make record NAME=r1"
    assert meta["fingerprint"] == records.fingerprint("model.m:tables", {"n": 2, "scale": 2.0}, ["a.csv"])
    assert meta["tables"] == {"t": {"i": "int64", "x": "float64", "label": "str", "even": "bool"},
                              "u": {"y": "float64"}}
    assert len(meta["recorded"]) == 10 and isinstance(meta["wall_s"], float)
    assert (folder / "record.json").read_text(encoding="utf-8").startswith('{\n "function": "model.m:tables"')
    assert (folder / "t.csv").read_bytes() == (b"i,x,label,even\n0,0.6666666666666666,row 0,True\n"
                                               b"1,0.5,row 1,False\n")
    assert (folder / "u.csv").read_bytes() == b"y\n0.30000000000000004\n1e-300\n"
    assert (rec.name, rec.function, rec.note, rec.data) == ("r1", "model.m:tables", "a note", ["a.csv"])
    assert rec.folder == folder and rec.command == "make record NAME=r1" and rec.is_current()
    got = rec.read_tables()
    pd.testing.assert_frame_equal(got["t"], tables(n=2, scale=2.0)["t"], check_exact=True)
    pd.testing.assert_frame_equal(got["u"], tables(n=2, scale=2.0)["u"], check_exact=True)
    # by its dotted name, with a README carried over
    (folder / "README.md").write_text("# r1\n")
    monkeypatch.setattr(records, "resolve_function", lambda dotted: tables if dotted == "model.m:tables" else None)
    rec2 = records.make_record("r1", "model.m:tables", {"n": 1, "scale": 1.0}, ["a.csv"])
    assert sorted(os.listdir(folder)) == ["README.md", "record.json", "t.csv", "u.csv"]
    assert (folder / "README.md").read_text() == "# r1\n" and rec2.kwargs == {"n": 1, "scale": 1.0}
    assert rec2.note == "" and sorted(os.listdir(folder.parent)) == ["r1"]


def test_a_failed_record_leaves_the_old_one(world):
    records.make_record("r", tables, {"n": 1, "scale": 1.0}, ["a.csv"])
    folder = world / "data" / "records" / "r"
    before = {p: p.read_bytes() for p in folder.iterdir()}

    def broken(**kw):
        return {"t": pd.DataFrame({"a": [1]}), "u": "not a table"}

    broken.__module__, broken.__qualname__ = "model.m", "tables"
    with pytest.raises(AttributeError):
        records.make_record("r", broken, {"n": 1, "scale": 1.0}, ["a.csv"])
    assert {p: p.read_bytes() for p in folder.iterdir()} == before
    assert os.listdir(folder.parent) == ["r"]


def test_load_record_and_available_records(world):
    with pytest.raises(RecordError) as e:
        records.load_record("x")
    assert str(e.value) == "no record 'x' (records: none)"
    records.make_record("b", tables, {"n": 1, "scale": 1.0}, ["a.csv"])
    records.make_record("a", tables, {"n": 1, "scale": 1.0}, ["a.csv"])
    (world / "data" / "records" / "c").mkdir()                         # a folder without record.json
    assert records.available_records() == ["a", "b"]
    with pytest.raises(RecordError) as e:
        records.load_record("x")
    assert str(e.value) == "no record 'x' (records: a, b)"
    meta_path = world / "data" / "records" / "a" / "record.json"
    meta = json.loads(meta_path.read_text())
    for k in ("recorded", "wall_s", "note"):
        del meta[k]
    meta_path.write_text(json.dumps(meta))
    rec = records.load_record("a")
    assert rec.recorded == "" and np.isnan(rec.wall_s) and rec.note == ""
    meta["wall_s"], meta["recorded"], meta["note"] = 12.5, "2026-01-02", "n"
    meta_path.write_text(json.dumps(meta))
    rec = records.load_record("a")
    assert (rec.wall_s, rec.recorded, rec.note, rec.tables["u"]) == (12.5, "2026-01-02", "n", {"y": "float64"})
    assert records.stale_records() == []
    meta["fingerprint"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    assert records.stale_records() == ["a"]


def test_read_tables_keeps_text_that_looks_missing(world):
    records.make_record("r", tables, {"n": 1, "scale": 1.0}, ["a.csv"])
    folder = world / "data" / "records" / "r"
    (folder / "t.csv").write_text("i,x,label,even\n7,,NA,False\n")
    t = records.load_record("r").read_tables()["t"]
    assert t["label"].tolist() == ["NA"] and np.isnan(t["x"].iloc[0]) and t["i"].tolist() == [7]
    assert t["even"].tolist() == [False] and t["even"].dtype == bool and t["i"].dtype == np.int64


def test_recorded_reasons(world, monkeypatch):
    records.make_record("r", tables, {"n": 2, "scale": 1.0}, ["a.csv"])
    got = records.recorded("r", tables, {"scale": 1.0, "n": 2})
    assert got.from_record and got.reason == f"recorded on {got.record.recorded}" and got.record.name == "r"
    calls = []

    def other(**kw):
        calls.append(kw)
        return {"k": kw}

    other.__module__, other.__qualname__ = "model.m", "other"
    got = records.recorded("r", other, {"n": 2, "scale": 1.0}, run_kwargs={"workers": 3})
    assert not got.from_record and got.reason == "the record is of another function"
    assert got.tables == {"k": {"n": 2, "scale": 1.0, "workers": 3}} and got.record.name == "r"
    got = records.recorded("r", tables, {"n": 3, "scale": 2.0})
    assert got.reason == "the parameters differ from the record's (n, scale)" and not got.from_record
    assert len(got.tables["t"]) == 3
    got = records.recorded("none", tables, {"n": 1, "scale": 1.0})
    assert (got.reason, got.from_record, got.record) == ("no record", False, None)
    # a stale record: computed unless allowed
    (world / "data" / "a.csv").write_bytes(b"x\n9\n")
    got = records.recorded("r", tables, {"n": 2, "scale": 1.0})
    assert not got.from_record and got.reason == ("the record is stale (its code or data changed; "
                                                  "make record NAME=r)")
    got = records.recorded("r", tables, {"n": 2, "scale": 1.0}, allow_stale=True)
    assert got.from_record and got.reason.startswith("the record is stale") and len(got.tables["t"]) == 2
    # record_tables: at the record's own arguments, the function resolved from its name
    monkeypatch.setattr(records, "resolve_function", lambda dotted: {"model.m:tables": tables}[dotted])
    got = records.record_tables("r", allow_stale=True)
    assert got.from_record
    got = records.record_tables("r", run_kwargs={"workers": 2})
    assert not got.from_record and len(got.tables["t"]) == 2


def test_resolve_function_and_qualified_name():
    assert records.resolve_function("model.io:write_csv") is __import__("model.io", fromlist=["x"]).write_csv
    assert records._qualified(records.canonical) == "model.records:canonical"
    assert records.RECORD_FILE == "record.json" and records.KEPT_FILES == ("README.md",)
    assert records.NAMED_PARAMETERS == "parameters named in code" and records.PACKAGE == "model"


def test_a_module_outside_the_package_under_the_root(world, monkeypatch):
    # the module of a recorded function defined outside model/ (a test's), found on sys.path under the root
    (world / "extmod_for_records.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(world))
    assert records._module_file("extmod_for_records") == world / "extmod_for_records.py"


def test_the_module_itself_is_not_among_its_imports(world):
    assert records._imports("model.p", ast.parse("import model.p\nfrom model.n import Y\n")) == {"model.n"}


def test_a_name_imported_from_a_plain_module_is_not_followed_further(world):
    (world / "model" / "plainmod.py").write_text("from model.p import Z\n")
    (world / "model" / "outer3").mkdir()
    (world / "model" / "outer3" / "__init__.py").write_text("from model.plainmod import Z\n")
    assert records._reexport_source("model.outer3", "Z") == "model.plainmod"


def test_re_exports_are_followed_ten_packages_deep(world):
    # model.c0 re-exports g from model.c1, ... model.c11 from model.c12, which takes it from its module leaf:
    # the search stops once past depth 10, at model.c11
    for i in range(13):
        (world / "model" / f"c{i}").mkdir()
        src = f"from model.c{i + 1} import g\n" if i < 12 else "from model.c12.leaf import g\n"
        (world / "model" / f"c{i}" / "__init__.py").write_text(src)
    (world / "model" / "c12" / "leaf.py").write_text("def g():\n    return 1\n")
    assert records._reexport_source("model.c0", "g") == "model.c11"
    assert records._reexport_source("model.c3", "g") == "model.c12.leaf"      # 3 + 9 = 12 → leaf at depth 9


def test_a_module_imported_twice_is_visited_once_and_the_rest_still_are(world):
    # q imports b1, c1 and d1; d1 imports c1 too, so c1 is waiting twice when popped
    (world / "model" / "q.py").write_text("import model.b1\nimport model.c1\nimport model.d1\n")
    (world / "model" / "b1.py").write_text("B = 1\n")
    (world / "model" / "c1.py").write_text("C = 1\n")
    (world / "model" / "d1.py").write_text("import model.c1\n")
    assert list(records.module_closure("model.q")) == ["model.b1", "model.c1", "model.d1", "model.q"]


def test_a_changed_file_is_read_again(world):
    before = records.module_closure("model.p")["model.p"]
    assert records.named_parameters("model.p") == []
    path = world / "model" / "p.py"
    path.write_text("Z = 'gamma_knob'\n")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))   # a later modification time
    assert records.module_closure("model.p")["model.p"] == _digest("Z = 'gamma_knob'\n") != before
    assert records.named_parameters("model.p") == [("gamma_knob", "3.0", "GB")]


def test_make_record_details(world, monkeypatch):
    import types

    deep = world / "data" / "deep" / "records"                       # folders made as needed
    monkeypatch.setattr(records, "RECORDS_DIR", deep)
    made = []
    real = records.tempfile.mkdtemp

    def mkdtemp(dir=None, prefix=None):
        made.append((dir, prefix))
        return real(dir=dir, prefix=prefix)

    monkeypatch.setattr(records, "tempfile", types.SimpleNamespace(mkdtemp=mkdtemp))
    clock = iter([10.0, 12.345])
    monkeypatch.setattr(records, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    monkeypatch.setattr(os, "linesep", "\r\n")                    # lines end with "\n" whatever the platform
    monkeypatch.setattr(records, "resolve_function", lambda dotted: tables)
    rec = records.make_record("r", "model.m:alias", {"n": 1, "scale": 1.0}, ["a.csv"], note="café")
    assert made == [(deep, ".staging-r-")]
    meta_text = (deep / "r" / "record.json").read_text(encoding="utf-8")
    meta = json.loads(meta_text)
    assert meta["function"] == "model.m:alias" and rec.function == "model.m:alias"   # the name it was given
    assert meta["wall_s"] == 2.3                                     # 12.345 − 10 s, to a tenth
    assert '"note": "café"' in meta_text                             # written as text, not \u escapes
    assert (deep / "r" / "u.csv").read_bytes() == b"y\n0.30000000000000004\n1e-300\n"
    clock = iter([0.0, 1.0])
    monkeypatch.setattr(records, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    records.make_record("r", "model.m:alias", {"n": 1, "scale": 1.0}, ["a.csv"])
    assert made[1:] == [(deep, ".staging-r-"), (deep, ".old-r-")]
    assert os.listdir(deep) == ["r"]


def test_read_tables_uses_the_recorded_types(world):
    records.make_record("r", tables, {"n": 1, "scale": 1.0}, ["a.csv"])
    folder = world / "data" / "records" / "r"
    meta = json.loads((folder / "record.json").read_text())
    keep = dict(meta["tables"])
    meta["tables"] = {"t": {"even": "bool"}}                           # a boolean column without rows
    (folder / "record.json").write_text(json.dumps(meta))
    (folder / "t.csv").write_text("even\n")
    empty = records.load_record("r").read_tables()["t"]
    assert empty["even"].dtype == bool and len(empty) == 0
    meta["tables"] = keep
    (folder / "record.json").write_text(json.dumps(meta))
    (folder / "t.csv").write_text("i,x,label,even\n1,2,3,True\n")
    t = records.load_record("r").read_tables()["t"]
    assert t["x"].dtype == np.float64 and t["label"].tolist() == ["3"] and t["even"].tolist() == [True]


def test_recorded_names_only_the_arguments_that_differ(world, monkeypatch):
    records.make_record("r", tables, {"n": 2, "scale": 1.0}, ["a.csv"])
    assert records.recorded("r", tables, {"n": 3, "scale": 1.0}).reason == \
        "the parameters differ from the record's (n)"

    def loose(**kw):
        return {"kw": kw}

    loose.__module__, loose.__qualname__ = "model.m", "tables"
    got = records.recorded("r", loose, {"n": 2, "scale": 1.0, "extra": 5})
    assert got.reason == "the parameters differ from the record's (extra)"
    got = records.recorded("r", tables, {"n": 2, "scale": 1.0})
    pd.testing.assert_frame_equal(got.tables["t"], tables(n=2, scale=1.0)["t"], check_exact=True)
    (world / "data" / "a.csv").write_bytes(b"x\n8\n")                 # now stale
    got = records.recorded("r", tables, {"n": 2, "scale": 1.0}, allow_stale=True)
    assert got.record is not None and got.record.name == "r"
    seen = []

    def spy(**kw):
        seen.append(kw)
        return {}

    monkeypatch.setattr(records, "resolve_function", lambda dotted: spy)
    spy.__module__, spy.__qualname__ = "model.m", "tables"
    records.record_tables("r", run_kwargs={"workers": 2})
    assert seen == [{"n": 2, "scale": 1.0, "workers": 2}]
