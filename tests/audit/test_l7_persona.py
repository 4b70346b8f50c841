"""Tests of model.audit.l7_persona: the §7 audit at the source's setting, against arithmetic written out."""
import functools
import inspect
import math

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.architectures import load_architecture
from model.audit import l7_persona
from model.audit.claims import load_claims


@functools.lru_cache(maxsize=1)
def _table() -> pd.DataFrame:
    return l7_persona.table()
from model.hardware import load_gpu


@pytest.mark.slow
def test_takes_no_parameters_and_is_deterministic():
    assert not inspect.signature(l7_persona.computed).parameters
    assert not inspect.signature(l7_persona.table).parameters
    pd.testing.assert_frame_equal(l7_persona.table(), l7_persona.table())


def test_covers_every_l7_claim_and_the_s1_persona_figures():
    ids = set(_table()["claim_id"])
    l7 = set(load_claims(tables="L7")["claim_id"])
    assert ids == l7 | {"t1.s1_challenge.characters", "t1.s1_challenge.persona_prompt_tokens"}


def test_read_backs_are_given():
    t = _table()
    assert (t.loc[t["read_back"], "verdict"] == "given").all()
    assert set(t.loc[t["verdict"] == "given", "role"]) <= {"input", "restatement", "design input", "definition"}


def test_cost_under_the_audits_reading_of_concurrent_by_hand():
    a = _table().set_index("claim_id")
    # 1M sessions open at once: 730 h × 60 / 30 min = 1,460 sessions a month each × 200 turns × 10K × $0.08/1M
    assert_allclose(a.loc["l7.effect.cost_before", "computed_value"], 1e6 * 1460 * 200 * 1e4 * 0.08 / 1e6)
    assert_allclose(a.loc["l7.effect.cost_after", "computed_value"], 1e6 * 1460 * 200 * 2e3 * 0.08 / 1e6)
    assert a.loc["l7.effect.cost_before", "kind"] == "estimate"
    assert a.loc["l7.effect.cost_before", "verdict"] == "inconsistent"
    # $4.8M only at one session a day (730 / 24 = 30.4 a month): the row says so
    assert "one_per_day: consistent arithmetic, inconsistent inputs, 4,866,667" in \
        a.loc["l7.effect.cost_before", "verdict_by_reading"]
    assert bool(a.loc["l7.effect.cost_before", "verdict_depends_on_reading"])
    assert a.loc["l7.effect.cost_change", "verdict"] == "consistent"
    assert_allclose(a.loc["l7.effect.token_change", "computed_value"], -80)


def test_cache_bounds_by_hand():
    a = _table().set_index("claim_id")
    # HBM of §11's 1,200 A100 80GB at the peak with Llama 2 70B INT8 weights: 0.9 × 80 GiB − parameters × 1 byte,
    # ÷ each character's own 1K tokens of traits (the 1K general persona shared) × 320 KiB per token
    arch, gpu = load_architecture("llama-2-70b"), load_gpu("a100-80gb")
    budget = 0.9 * gpu.memory_bytes - arch.parameters() * 1.0
    bound = math.floor(1200 * budget / (1_000 * 2 * 80 * 8 * 128 * 2))
    assert_allclose(a.loc["l7.effect.cached_top_characters", "computed_value"], bound, atol=1)
    assert a.loc["l7.effect.cached_top_characters", "kind"] == "upper_bound"
    assert a.loc["l7.effect.cached_top_characters", "verdict"] == "impossible"
    # hit rate: a range over Zipf s in [0.6, 1.2] and LRU/static; 85% lies inside
    hit = a.loc["l7.effect.cache_hit_rate"]
    h = lambda n, s: math.fsum(k ** -s for k in range(1, n + 1))  # noqa: E731
    assert_allclose(hit["high"], 100 * h(100_000, 1.2) / h(5_000_000, 1.2), rtol=1e-9)
    # 85% lies inside, but a range 10x wide decides nothing: not reproducible, depending on the popularity law
    assert hit["low"] < 85 < hit["high"] and hit["verdict"] == "not reproducible"
    assert hit["range_ratio"] > 1.5 and "popularity" in hit["depends_on"]
