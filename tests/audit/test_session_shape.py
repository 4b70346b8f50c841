"""model.audit.session_shape: the lower bound on the session length is 200 turns × 2.2 s (read here from the
claims file, independently of the audit machinery), the workload's inputs are 'given', and the table does
not change from call to call."""
import pandas as pd
from numpy.testing import assert_allclose

from model.audit import session_shape
from model.io import DATA


def _stated(claim_id):
    claims = pd.read_csv(DATA / "claims" / "case_study.csv")
    return float(claims.set_index("claim_id").loc[claim_id, "stated_value"])


def test_session_length_lower_bound():
    t = session_shape.table().set_index("claim_id")
    row = t.loc["t1.s1_service.avg_session_length"]
    bound = _stated("t1.s1_service.turns_per_session") * _stated("t2.self_hosted.latency") / 60
    assert_allclose(row["computed_value"], bound, rtol=1e-12)
    assert_allclose(bound, 200 * 2.2 / 60, rtol=1e-12)
    assert row["kind"] == "lower_bound" and row["verdict"] == "consistent"   # 30 min >= 7.3 min
    assert set(row["reads"].split()) == {"t1.s1_service.turns_per_session", "t2.self_hosted.latency"}
    assert row["readings"] == "latency=e2e" and "ttft: consistent" in row["verdict_by_reading"]


def test_inputs_are_given_and_claims_unchanged():
    t = session_shape.table()
    assert list(t["claim_id"]) == ["t1.s1_service.avg_session_length", "t1.s1_service.turns_per_session",
                                   "t1.s1_service.characters", "t3.problem.session_turns"]
    assert (t.set_index("claim_id").drop("t1.s1_service.avg_session_length")["verdict"] == "given").all()


def test_table_is_deterministic():
    pd.testing.assert_frame_equal(session_shape.table(), session_shape.table())
