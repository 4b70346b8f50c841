"""Records of heavy runs (model.records, model.book.records): what the fingerprint covers, the round trip of
the tables, when a record is used, and that every committed record is current."""
import json

import pandas as pd
import pytest

import model.records as records
from model.book import records as book_records
from model.records import (RecordError, _code_digest, _reexport_source, canonical, data_files, fingerprint, load_record, make_record,
                           module_closure, recorded)
from model.tiering.chat_fleet import chat_fleet_tables

TINY = dict(sessions_scales=[40, 80], full_scales=[40], sessions_per_node=20, sample_nodes=2, pool_nodes=2,
            prefix_blocks=3, hit_share_target=0.9, routes=["round-robin", "session", "global"],
            model="llama-2-70b", gpu="a100-80gb", seed=3, l8_history_tokens=1000, l8_memory_tokens=1000)
DATA = ["parameters/*.csv", "hardware.csv"]


def cheap_tables(*, n: int, scale: float) -> dict:
    """A recorded function that costs nothing: a table of floats, ints, text and booleans."""
    if n < 0:
        raise ValueError("n must be >= 0")
    x = [scale / (i + 3) for i in range(n)]
    return {"t": pd.DataFrame({"i": range(n), "x": x, "label": [f"row {i}" for i in range(n)],
                               "even": [i % 2 == 0 for i in range(n)]}),
            "u": pd.DataFrame({"y": [0.1 + 0.2, 1e-300, 123456789.123456789]})}


@pytest.fixture()
def record_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "RECORDS_DIR", tmp_path / "records")
    return tmp_path / "records"


def test_closure_follows_model_imports_and_re_exports_to_their_modules():
    closure = module_closure("model.tiering.chat_fleet")
    for needed in ("model.tiering.chat_fleet", "model.tiering.streamed_fleet", "model.tiering.stream", "model.tiering.kernel",
                   "model.io", "model.workload.chat", "model.tiering.config"):
        assert needed in closure
    assert not any(m.startswith("model.audit") or m.startswith("model.book") for m in closure)
    assert "model.tiering.cli" not in closure       # in the package, but not used by the fleet
    assert all(len(d) == 64 for d in closure.values())
    # a name a package re-exports counts as the module that defines it
    assert _reexport_source("model.tiering", "default_config") == "model.tiering.config"
    assert _reexport_source("model.workload", "CharacterChatParams") == "model.workload.chat"


def test_code_digest_ignores_docstrings_and_comments_not_code():
    import ast

    a = ast.parse('"""Doc."""\ndef f(x):\n    """One."""\n    return x + 1  # comment\n')
    b = ast.parse('"""Other doc."""\n\ndef f(x):\n    """Two."""\n\n    return x + 1\n')
    c = ast.parse('def f(x):\n    return x + 2\n')
    assert _code_digest(a) == _code_digest(b)
    assert _code_digest(a) != _code_digest(c)


def test_fingerprint_moves_with_arguments_data_and_code(tmp_path, monkeypatch):
    base = fingerprint("model.tiering.chat_fleet:chat_fleet_tables", TINY, DATA)
    assert base == fingerprint("model.tiering.chat_fleet:chat_fleet_tables", dict(reversed(TINY.items())), DATA)
    assert base != fingerprint("model.tiering.chat_fleet:chat_fleet_tables", {**TINY, "seed": 4}, DATA)
    assert base != fingerprint("model.tiering.chat_fleet:chat_fleet_tables", TINY, DATA + ["models/*.json"])
    # a data file's bytes
    fake = tmp_path / "data"
    (fake / "parameters").mkdir(parents=True)
    (fake / "parameters" / "x.csv").write_text("name,value\na,1\n")
    (fake / "hardware.csv").write_text("gpu\n")
    monkeypatch.setattr(records, "DATA", fake)
    one = fingerprint("model.io:write_csv", {}, DATA)
    (fake / "parameters" / "x.csv").write_text("name,value\na,2\n")
    assert fingerprint("model.io:write_csv", {}, DATA) != one
    with pytest.raises(RecordError, match="matches no file"):
        data_files(["nowhere/*.csv"])


def test_a_fleet_record_reads_back_bit_identical(record_dir):
    live = chat_fleet_tables(**TINY)
    rec = make_record("tiny", chat_fleet_tables, TINY, DATA)
    assert rec.is_current() and set(rec.tables) == set(live)
    got = recorded("tiny", chat_fleet_tables, TINY)
    assert got.from_record and got.reason.startswith("recorded on")
    for name, df in live.items():
        pd.testing.assert_frame_equal(got.tables[name], df, check_exact=True, obj=name)


def test_a_record_is_used_only_for_its_own_call_and_while_current(record_dir):
    live = cheap_tables(n=5, scale=1.0)
    make_record("cheap", cheap_tables, {"n": 5, "scale": 1.0}, DATA)
    got = recorded("cheap", cheap_tables, {"scale": 1.0, "n": 5})
    assert got.from_record
    for name, df in live.items():
        pd.testing.assert_frame_equal(got.tables[name], df, check_exact=True, obj=name)
    # other arguments: computed, and the reason names what differs
    other = recorded("cheap", cheap_tables, {"n": 4, "scale": 1.0})
    assert not other.from_record and "(n)" in other.reason and len(other.tables["t"]) == 4
    # a stale fingerprint: computed, and the reason says how to remake it
    meta = json.loads((record_dir / "cheap" / "record.json").read_text())
    meta["fingerprint"] = "0" * 64
    (record_dir / "cheap" / "record.json").write_text(json.dumps(meta))
    assert not load_record("cheap").is_current()
    stale = recorded("cheap", cheap_tables, {"n": 5, "scale": 1.0})
    assert not stale.from_record and "make record NAME=cheap" in stale.reason
    # no record at all
    assert recorded("none", cheap_tables, {"n": 1, "scale": 1.0}).reason == "no record"


def test_the_code_of_a_recorded_function_is_part_of_its_fingerprint(tmp_path, monkeypatch):
    closure = module_closure(cheap_tables.__module__)
    assert cheap_tables.__module__ in closure and "model.records" in closure


def test_remaking_a_record_keeps_its_readme_and_leaves_no_staging(record_dir):
    make_record("cheap", cheap_tables, {"n": 3, "scale": 2.0}, DATA)
    (record_dir / "cheap" / "README.md").write_text("# cheap\n")
    make_record("cheap", cheap_tables, {"n": 3, "scale": 2.0}, DATA)
    assert (record_dir / "cheap" / "README.md").read_text() == "# cheap\n"
    assert sorted(p.name for p in record_dir.iterdir()) == ["cheap"]


def test_a_failing_run_leaves_the_record_untouched(record_dir):
    make_record("cheap", cheap_tables, {"n": 3, "scale": 2.0}, DATA)
    before = {p.name: p.read_bytes() for p in (record_dir / "cheap").iterdir()}
    with pytest.raises(ValueError, match="n must be"):
        make_record("cheap", cheap_tables, {"n": -1, "scale": 2.0}, DATA)
    assert {p.name: p.read_bytes() for p in (record_dir / "cheap").iterdir()} == before
    assert sorted(p.name for p in record_dir.iterdir()) == ["cheap"]


def test_unknown_record_names_the_known_ones(record_dir):
    with pytest.raises(RecordError, match="no record 'nope'"):
        load_record("nope")


def test_every_committed_record_is_current_and_made_with_its_chapters_defaults():
    """Fails when code or data a record depends on changed: run ``make record NAME=<name>``."""
    missing = [n for n in book_records.SPECS if n not in records.available_records()]
    assert not missing, f"records missing: {missing}; run make record"
    stale = records.stale_records()
    assert not stale, f"stale records (code or data changed): {stale}; run " + \
        "; ".join(f"make record NAME={n}" for n in stale)
    assert book_records.mismatched() == [], "a chapter's defaults changed: remake its record"
    for name in book_records.SPECS:
        rec = load_record(name)
        assert canonical(rec.kwargs) == canonical(book_records.SPECS[name].kwargs())
        assert (rec.folder / "README.md").exists(), f"data/records/{name} has no README"


def test_a_stale_record_is_read_only_when_allowed(record_dir):
    make_record("cheap", cheap_tables, {"n": 3, "scale": 2.0}, DATA)
    meta = json.loads((record_dir / "cheap" / "record.json").read_text())
    meta["fingerprint"] = "f" * 64
    meta["tables"]["t"]["x"] = "float64"
    (record_dir / "cheap" / "record.json").write_text(json.dumps(meta))
    (record_dir / "cheap" / "t.csv").write_text("i,x,label,even\n0,99.5,row 0,True\n")   # what a stale run held
    got = recorded("cheap", cheap_tables, {"n": 3, "scale": 2.0}, allow_stale=True)
    assert got.from_record and "stale" in got.reason and got.tables["t"]["x"].tolist() == [99.5]
    fresh = recorded("cheap", cheap_tables, {"n": 3, "scale": 2.0})
    assert not fresh.from_record and len(fresh.tables["t"]) == 3


def test_the_page_says_where_the_tables_came_from(record_dir):
    from model.book.glue import record_provenance

    make_record("cheap", cheap_tables, {"n": 2, "scale": 1.0}, DATA)
    read = record_provenance(recorded("cheap", cheap_tables, {"n": 2, "scale": 1.0}))
    assert read.startswith("read from the record data/records/cheap, made on ") and "make record NAME=cheap" in read
    computed = record_provenance(recorded("cheap", cheap_tables, {"n": 3, "scale": 1.0}))
    assert computed == "computed in this run (the parameters differ from the record's (n))"


def test_named_parameters_are_the_cited_defaults_the_code_names(monkeypatch):
    """A fleet record depends on the defaults its code reads (by name, value and unit), not on other rows."""
    from model.parameters import defaults_table

    named = {n: (v, u) for n, v, u in records.named_parameters("model.tiering.chat_fleet")}
    # read by the fleet's code (a literal in tiering.config and tiering.chat_fleet's closure)
    assert "mooncake_block_tokens" in named and "tiering_dram_gb_per_instance" in named
    # a chapter's constant the fleet never reads
    assert "fleet_scale_check_sessions" not in named and "mooncake_stated_global_hit_gain" not in named
    assert named["mooncake_block_tokens"] == (repr(512.0), "tokens")
    before = fingerprint("model.tiering.chat_fleet:chat_fleet_tables", {}, [records.NAMED_PARAMETERS])
    table = defaults_table()
    extra = pd.concat([table, pd.DataFrame([{"name": "some_other_chapter_knob", "value": 1.0, "unit": "count",
                                             "source": "x", "notes": "", "file": "x.csv"}])], ignore_index=True)
    monkeypatch.setattr("model.parameters.defaults_table", lambda: extra)
    assert fingerprint("model.tiering.chat_fleet:chat_fleet_tables", {}, [records.NAMED_PARAMETERS]) == before
    moved = table.copy()
    moved.loc[moved["name"] == "mooncake_block_tokens", "value"] = 256.0
    monkeypatch.setattr("model.parameters.defaults_table", lambda: moved)
    assert fingerprint("model.tiering.chat_fleet:chat_fleet_tables", {}, [records.NAMED_PARAMETERS]) != before
