"""model.audit.session_shape row by row: 200 turns (§1) × the 2.2-s response (T2) = 7.33 min at least, against the
stated 30 minutes (9 s a turn, 6.8 s of it the user's); the workload's inputs given, §3's 200 turns a restatement.

Fast: the claims are looked up in a dict (the same rows as data/claims) and the audit table's section is replaced
by a recorder; the whole audit is left to tests/audit/test_session_shape.py."""

import pytest
from numpy.testing import assert_allclose

from model.audit import claims as C
from model.audit import readings as R
from model.audit import session_shape as S
from model.audit.claims import claim_ids_of, is_read_back
from model.audit.readings import Alt
from claim_rows import ROWS as _ROWS, claim as _claim


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(C, "claim", _claim)


def test_user_seconds_per_turn():
    # 30 min × 60 ÷ 200 turns = 9 s a turn, − 2.2 s of response = 6.8 s
    u = S.user_seconds_per_turn()
    assert_allclose(u, 6.8, rtol=1e-12) and type(u) is float


def test_rows_by_hand():
    r = {c.claim_id: c for c in S.computed()}
    assert list(r) == ["t1.s1_service.avg_session_length", "t1.s1_service.turns_per_session",
                       "t1.s1_service.characters", "t3.problem.session_turns"]
    b = r["t1.s1_service.avg_session_length"]
    # 200 × 2.2 s ÷ 60 = 7.333 min
    assert_allclose(b.value, 200 * 2.2 / 60, rtol=1e-12)
    assert claim_ids_of(b.value) == {"t1.s1_service.turns_per_session", "t2.self_hosted.latency"}
    assert (b.unit, b.kind, b.role, b.verdict) == ("min", "lower_bound", "computed", None)
    assert b.how == ("lower bound: 200 turns (§1) × the 2.2 s response (T2) = 7.3 min with no time to read or type; "
                     "the stated length leaves 6.8 s per turn for the user (9 s per turn − 2.2 s response)")
    assert b.holds_under == ("any reading of the stated latency (to the first token or to the last: a turn lasts at "
                             "least until it) and no time at all for the user to read or type")
    assert set(b.under_map) == {("latency", a) for a in R.other_readings("latency")} == {("latency", "ttft")}
    alt = b.under_map[("latency", "ttft")]
    assert isinstance(alt, Alt) and alt.low is None and alt.kind is None
    assert_allclose(alt.value, 200 * 2.2 / 60, rtol=1e-12)
    for cid, value, unit, how in (
            ("t1.s1_service.turns_per_session", 200, "turns",
             "input: the mean turns per session of the character-chat workload (chat_turns_per_session); a trace "
             "generated with it cannot check it"),
            ("t1.s1_service.characters", 5e6, "count",
             "input: the character catalogue the workload draws personas from (§1, and §7's 5M)")):
        c = r[cid]
        assert c.value == value and is_read_back(c.value) and c.value.claim_id == cid
        assert (c.unit, c.how, c.role, c.verdict, c.kind) == (unit, how, "input", "given", "estimate"), cid
    t = r["t3.problem.session_turns"]
    assert t.value == 200 and is_read_back(t.value) and t.value.claim_id == "t1.s1_service.turns_per_session"
    assert (t.unit, t.role, t.verdict, t.restates) == ("turns", "restatement", "given",
                                                       "t1.s1_service.turns_per_session")
    assert t.how == "restatement of §1's 200 turns per session (t1.s1_service.turns_per_session)"


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert S.table() == ("section", "model.audit.session_shape")
