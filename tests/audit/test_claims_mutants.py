"""model.audit.claims by hand: tracked floats (every operator, both sides, the ids they carry, pickling), the tags of
readings, and the stated figures read from data/claims (counted here with the csv module, independently of pandas),
each error message in full."""

import csv
import math
import operator
import pickle

import pytest

from model.audit import claims as C
from model.audit.claims import (CLAIM_COLUMNS, READING_TAG, Derived, Stated, claim, claim_ids_of, is_read_back,
                                load_claims, reading_tag, readings_of, stated_value, with_reading)
from model.checks import ParameterError


def _csv_rows():
    rows = []
    for name in ("case_study.csv", "kareto.csv"):
        with open(C.CLAIMS_DIR / name, encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _message(call):
    with pytest.raises(ParameterError) as e:
        call()
    return str(e.value)


def test_constants():
    assert C.CLAIM_FILES == ("case_study.csv", "kareto.csv")
    assert READING_TAG == "reading:"
    assert CLAIM_COLUMNS == ["claim_id", "source", "table", "row", "column", "stated_value", "unit", "quote"]
    assert C.CLAIMS_DIR.name == "claims" and C.CLAIMS_DIR.parent.name == "data"


def test_derived_and_stated_values():
    d = Derived(2.5, ["a", "b"])
    assert float(d) == 2.5 and type(d) is Derived and d.claim_ids == frozenset({"a", "b"})
    assert type(d.claim_ids) is frozenset
    assert Derived(1.0).claim_ids == frozenset() and type(Derived(1.0).claim_ids) is frozenset
    s = Stated(4.0, "x.y")
    assert float(s) == 4.0 and s.claim_id == "x.y" and s.claim_ids == frozenset({"x.y"}) and type(s) is Stated
    for v in (d, s, Derived(math.inf, {"z"})):
        back = pickle.loads(pickle.dumps(v))
        assert type(back) is type(v) and float(back) == float(v) and back.claim_ids == v.claim_ids
    assert pickle.loads(pickle.dumps(s)).claim_id == "x.y"
    assert C._ids(d) == frozenset({"a", "b"}) and C._ids(3.0) == frozenset() and C._ids(None) == frozenset()


@pytest.mark.parametrize("op, a, b, want", [
    (operator.add, 6.0, 4.0, 10.0), (operator.sub, 6.0, 4.0, 2.0), (operator.mul, 6.0, 4.0, 24.0),
    (operator.truediv, 6.0, 4.0, 1.5), (operator.floordiv, 7.0, 2.0, 3.0), (operator.mod, 7.0, 4.0, 3.0),
    (operator.pow, 2.0, 3.0, 8.0)])
def test_every_operator_on_either_side(op, a, b, want):
    x, y = Derived(a, {"x"}), Stated(b, "y")
    for got, ids in ((op(x, y), {"x", "y"}), (op(x, b), {"x"}), (op(a, y), {"y"})):
        assert type(got) is Derived and float(got) == want and got.claim_ids == frozenset(ids)
    same = op(x, x)
    assert type(same) is Derived and float(same) == op(a, a) and same.claim_ids == frozenset({"x"})
    # the reflected operator: a plain number on the left
    r = op(a, Derived(b, {"r"}))
    assert float(r) == want and r.claim_ids == frozenset({"r"})


def test_unary_operators_and_what_is_not_a_float():
    x = Derived(-3.0, {"x"})
    for got, want in ((-x, 3.0), (+x, -3.0), (abs(x), 3.0)):
        assert type(got) is Derived and float(got) == want and got.claim_ids == frozenset({"x"})
    # a negative base to a fractional power is complex: passed through untracked
    z = Derived(-8.0, {"x"}) ** 0.5
    assert type(z) is complex
    with pytest.raises(TypeError):
        Derived(1.0, {"x"}) + "a"
    # comparisons are the float's
    assert (Derived(1.0) < 2) is True and Derived(2.0, {"x"}) == 2.0


def test_lifting_an_operator():
    """The operators are lifted once, at import: _lift and _lift_unary themselves, on operators built here."""
    add = C._lift(float.__add__)
    got = add(Derived(1.5, {"a"}), Stated(2.0, "b"))
    assert type(got) is Derived and float(got) == 3.5 and got.claim_ids == frozenset({"a", "b"})
    got = add(Derived(1.5, {"a"}), 2)
    assert type(got) is Derived and float(got) == 3.5 and got.claim_ids == frozenset({"a"})
    sub = C._lift(float.__rsub__)                      # other − self
    got = sub(Derived(1.5, {"a"}), Derived(4.0, {"c"}))
    assert float(got) == 2.5 and got.claim_ids == frozenset({"a", "c"})
    # what is not a number passes through untracked: NotImplemented, a complex power, a bool
    assert add(Derived(1.0, {"a"}), "x") is NotImplemented
    assert type(C._lift(float.__pow__)(Derived(-8.0, {"a"}), 0.5)) is complex
    lt = C._lift(float.__lt__)
    assert lt(Derived(1.0, {"a"}), 2.0) is True and lt(Derived(3.0, {"a"}), Derived(2.0, {"b"})) is False
    neg = C._lift_unary(float.__neg__)
    got = neg(Derived(2.0, {"a"}))
    assert type(got) is Derived and float(got) == -2.0 and got.claim_ids == frozenset({"a"})
    got = C._lift_unary(float.__abs__)(Stated(-3.0, "s"))
    assert type(got) is Derived and float(got) == 3.0 and got.claim_ids == frozenset({"s"})


def test_read_back_and_ids_of():
    s = stated_value("l7.layering.general_persona_tokens")
    assert is_read_back(s) and not is_read_back(s + 0) and not is_read_back(Derived(1.0)) and not is_read_back(1.0)
    tagged = with_reading(s * 2, "tokens_per_turn", "s1_50")
    assert type(tagged) is Derived and float(tagged) == 2000.0
    assert tagged.claim_ids == {"l7.layering.general_persona_tokens", "reading:tokens_per_turn=s1_50"}
    assert claim_ids_of(tagged) == {"l7.layering.general_persona_tokens"}
    assert readings_of(tagged) == {("tokens_per_turn", "s1_50")}
    assert claim_ids_of(3.0) == frozenset() and readings_of(3.0) == frozenset()
    assert type(claim_ids_of(tagged)) is frozenset and type(readings_of(tagged)) is frozenset
    assert reading_tag("q", "a") == "reading:q=a"
    # an alternative holding '=' is split at the first one only; a plain number gets only the tag
    assert readings_of(with_reading(1.0, "q", "a=b")) == {("q", "a=b")}
    assert with_reading(5, "q", "a").claim_ids == {"reading:q=a"} and float(with_reading(5, "q", "a")) == 5.0


def test_stated_figures_from_the_files():
    rows = _csv_rows()
    every = load_claims()
    assert list(every.columns) == CLAIM_COLUMNS and list(every["claim_id"]) == [r["claim_id"] for r in rows]
    assert list(every.index) == list(range(len(rows)))
    kareto = load_claims(source="kareto")
    assert list(kareto["claim_id"]) == [r["claim_id"] for r in rows if r["source"] == "kareto"]
    assert list(kareto.index) == list(range(len(kareto)))
    l7 = load_claims(tables="L7")
    assert list(l7["claim_id"]) == [r["claim_id"] for r in rows if r["table"] == "L7"]
    assert list(l7.index) == list(range(len(l7)))
    both = load_claims(tables=["L7", "L8"])
    assert list(both["claim_id"]) == [r["claim_id"] for r in rows if r["table"] in ("L7", "L8")]
    k = load_claims(source="kareto", tables=["K"])
    assert list(k["claim_id"]) == [r["claim_id"] for r in rows if r["source"] == "kareto" and r["table"] == "K"]
    assert len(k) and len(both) > len(l7) > 0
    assert _message(lambda: load_claims(source="paper")) == \
        "source='paper' is not allowed: source must be one of 'case_study', 'kareto'"
    tables = sorted({r["table"] for r in rows})
    assert _message(lambda: load_claims(tables=["L7", "Z9"])) == \
        "tables='Z9' is not allowed: tables must be one of " + ", ".join(repr(t) for t in tables)
    # a table of the other source is still a table: the filters combine to nothing
    assert len(load_claims(source="kareto", tables="L7")) == 0


def test_one_claim_and_its_value():
    row = claim("l7.effect.cost_before")
    assert row["claim_id"] == "l7.effect.cost_before" and row["stated_value"] == 4.8e6 and row["unit"] == "USD/month"
    assert _message(lambda: claim("l7.nope")) == \
        "l7.nope".join(["claim_id='", "' is not allowed: claim_id must be an id present in data/claims/*.csv"])
    v = stated_value("l7.effect.cost_after")
    assert type(v) is Stated and float(v) == 960_000 and v.claim_id == "l7.effect.cost_after"
    q = stated_value("t2.openai.model")                   # a qualitative claim: no number
    assert type(q) is Stated and math.isnan(q) and q.claim_id == "t2.openai.model"
