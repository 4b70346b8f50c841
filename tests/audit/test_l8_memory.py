"""Tests of model.audit.l8_memory: the §8 audit at the source's setting, against arithmetic written out."""

import functools
import inspect

import pandas as pd
from numpy.testing import assert_allclose

from model.audit import l7_persona, l8_memory
from model.audit.claims import load_claims


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    return l8_memory.table()


def test_takes_no_parameters_and_is_deterministic():
    assert not inspect.signature(l8_memory.computed).parameters
    pd.testing.assert_frame_equal(l8_memory.table(), l8_memory.table())


def test_covers_every_l8_claim_once_and_nothing_of_l7():
    ids = list(_table()["claim_id"])
    assert len(ids) == len(set(ids))
    l8 = set(load_claims(tables="L8")["claim_id"])
    assert set(ids) == l8 | {"t1.s1_challenge.history_turns", "t1.s1_challenge.history_tokens",
                             "s.success_tiered_memory.cost_change"}
    assert not set(ids) & set(l7_persona.table()["claim_id"])


def test_tiers_and_saving_by_hand():
    a = _table().set_index("claim_id")
    assert a.loc["l8.effect.tokens_before", "computed_value"] == 200 * 100
    assert a.loc["l8.effect.tokens_after", "computed_value"] == 10 * 100 + 500 + 500
    assert_allclose(a.loc["l8.effect.token_change", "computed_value"], -90)
    # §8's 100 tokens a turn is the audit's reading (given); §1's 50 and §2's 500 are judged against it
    assert a.loc["l8.naive.tokens_per_turn", "verdict"] == "given"
    assert a.loc["l8.naive.tokens_per_turn", "role"] == "reading"
    assert "s1_50: inconsistent, 50; s2_500: inconsistent, 500" in a.loc["l8.naive.tokens_per_turn", "verdict_by_reading"]
    assert a.loc["t1.s1_challenge.history_tokens", "verdict"] == "inconsistent"   # 10K vs 200 × 100
    # 18K tokens saved × 1M × 1,460 sessions a month × 200 turns × $0.08/1M; even one session a day ($8.76M) > $1.8M
    assert_allclose(a.loc["l8.effect.monthly_saving", "computed_value"], 18_000 * 1e6 * 1460 * 200 * 0.08 / 1e6)
    assert "one_per_day: inconsistent, 8,760,000" in a.loc["l8.effect.monthly_saving", "verdict_by_reading"]
    assert a.loc["l8.effect.monthly_saving", "verdict"] == "inconsistent"
    s = a.loc["s.success_tiered_memory.cost_change"]
    assert_allclose([s["low"], s["high"]], [-90, 100 * (4_000 / 22_000 - 1)])
    assert s["verdict"] == "consistent"
    assert a.loc["l8.effect.quality_change", "verdict"] == "not reproducible"
