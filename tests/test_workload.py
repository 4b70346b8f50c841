import json
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.audit.verdicts import audit
from model.validation import ParameterError
from model.workload import (CHAT_GROUPS, CharacterChatParams, PersonaInputs, TraceFormatError, ZipfSampler,
                            audit_persona_memory, character_chat_trace, che_lru_hit_ratio, concat_traces,
                            group_blocks, iter_character_chat, load_azure_trace, load_mooncake_trace,
                            load_mooncake_trace as load, memory_tiers_table, parse_mooncake_lines,
                            write_jsonl, zipf_exponent_for_top_share, zipf_pmf,
                            zipf_top_share)


def _line(**kw):
    rec = {"timestamp": 0, "input_length": 1000, "output_length": 10, "hash_ids": [1, 2]}
    rec.update(kw)
    return json.dumps({k: v for k, v in rec.items() if v is not None})


# --- real traces --------------------------------------------------------------------------------------------
def test_mooncake_trace_matches_published_table2():
    t = load_mooncake_trace()
    assert t.n_requests == 12_031 and t.n_blocks == 288_500
    # Mooncake FAST'25 Table 2, conversation trace: average input 12,035 tokens, average output 343 tokens.
    assert_allclose(t.input_tokens.mean(), 12_035, rtol=1e-3)
    assert_allclose(t.output_tokens.mean(), 343, rtol=1e-2)
    assert_array_equal(t.blocks_per_request(), -(-t.input_tokens // 512))
    assert np.all(np.diff(t.arrival_s) >= 0)
    # every request starts with the shared block 0 (data/traces/README.md)
    assert np.all(t.block_ids[t.block_offsets[:-1]] == 0)


def test_block_token_counts_sum_to_input():
    t = load_mooncake_trace()
    tok = t.block_token_counts()
    assert_array_equal(np.add.reduceat(tok, t.block_offsets[:-1]), t.input_tokens)
    assert tok.min() >= 1 and tok.max() == 512


def test_azure_trace_has_no_shared_blocks():
    t = load_azure_trace()
    assert t.n_requests == 19_366
    assert len(np.unique(t.block_ids)) == t.n_blocks
    assert t.arrival_s[0] == 0 and np.all(np.diff(t.arrival_s) >= 0)


@pytest.mark.parametrize("line, match", [
    (_line(input_length=None), r"<t>:2: missing field\(s\) input_length"),
    (_line(input_length=-5), r"<t>:2: field 'input_length' is -5"),
    (_line(output_length=-1), r"<t>:2: field 'output_length'"),
    (_line(hash_ids=[1, 2, 3]), r"<t>:2: len\(hash_ids\)=3 but ceil\(input_length/512\)=ceil\(1000/512\)=2"),
    (_line(hash_ids=[1, "a"]), r"<t>:2: field 'hash_ids' must be a list of integers"),
    ("{not json", r"<t>:2: not valid JSON"),
    (_line(timestamp=-1), r"<t>:2: field 'timestamp'"),
])
def test_malformed_records_name_the_line(line, match):
    with pytest.raises(TraceFormatError, match=match):
        parse_mooncake_lines([_line(), line], source="<t>")


def test_timestamps_must_not_go_back():
    with pytest.raises(TraceFormatError, match=r"<t>:2: timestamp 5 is earlier"):
        parse_mooncake_lines([_line(timestamp=10), _line(timestamp=5)], source="<t>")


def test_jsonl_round_trip(tmp_path):
    t = load_mooncake_trace().head(50)
    path = write_jsonl(t, tmp_path / "x.jsonl")
    back = load(path)
    assert_array_equal(back.block_ids, t.block_ids)
    assert_array_equal(back.input_tokens, t.input_tokens)
    assert_allclose(back.arrival_s, t.arrival_s)


# --- groups -------------------------------------------------------------------------------------------------
def test_groupings():
    t = parse_mooncake_lines([
        _line(timestamp=0, input_length=100, hash_ids=[0]),
        _line(timestamp=1, input_length=1000, hash_ids=[0, 7]),
        _line(timestamp=2, input_length=1500, hash_ids=[0, 7, 8]),
        _line(timestamp=3, input_length=20000, hash_ids=[0] + list(range(100, 139))),
    ])
    fam = group_blocks(t, "prefix_family", n_families=1)
    assert fam.group_names == ("family:7", "family:other")
    assert fam.block_group.tolist() == [1, 0, 0, 0, 0, 0] + [1] * 40
    pop = group_blocks(t, "prefix_popularity", popularity_edges=[1, 2])
    # block 0 looked up 3 times, block 7 twice, the rest once
    assert pop.block_group[:6].tolist() == [2, 2, 1, 2, 1, 0]
    length = group_blocks(t, "length_class", length_edges_tokens=[1000, 10000])
    assert length.block_group[[0, 1, 3, 6]].tolist() == [0, 0, 1, 2]
    with pytest.raises(ParameterError, match="length_edges_tokens"):
        group_blocks(t, "length_class", length_edges_tokens=[5, 5])


# --- synthetic character chat -------------------------------------------------------------------------------
SMALL = dict(n_characters=1000, popular_characters=10, concurrent_sessions=30, mean_turns=12, session_minutes=2,
             duration_s=300, history_window_tokens=400, tokens_per_turn=50)


def test_generator_is_deterministic_and_ordered():
    p = CharacterChatParams(**SMALL)
    a, b = character_chat_trace(p, seed=3), character_chat_trace(p, seed=3)
    assert_array_equal(a.block_ids, b.block_ids)
    assert_array_equal(a.arrival_s, b.arrival_s)
    assert not np.array_equal(character_chat_trace(p, seed=4).arrival_s[:50], a.arrival_s[:50])
    assert np.all(np.diff(a.arrival_s) >= 0)
    chunks = list(iter_character_chat(p, seed=3, chunk_sessions=7))
    assert len(chunks) > 1
    joined = concat_traces(chunks)
    assert np.all(np.diff(joined.arrival_s) >= 0)
    assert joined.n_requests > 0


def test_generator_prompt_structure():
    p = CharacterChatParams(**SMALL)
    t = character_chat_trace(p, seed=1)
    # input = persona + history (window of whole turns) + user message, independently recomputed per session
    for s in np.unique(t.session)[:5]:
        idx = np.flatnonzero(t.session == s)
        turns = np.arange(len(idx))
        hist = np.minimum(turns, p.history_window_tokens // p.tokens_per_turn)
        assert_array_equal(t.input_tokens[idx], 2000 + hist * 50 + p.user_tokens)
        # the full blocks of turn k are a prefix of turn k+1 while the window has not slid
        for k in range(min(len(idx) - 1, p.window_turns)):
            cur, nxt = t.blocks_of(idx[k]), t.blocks_of(idx[k + 1])
            full = t.input_tokens[idx[k]] // 512
            assert_array_equal(cur[:full], nxt[:full])
    # sessions of the same character share their persona blocks; groups follow popularity
    g = np.asarray(t.group_names)[t.block_group]
    pos = t.position_of_block()
    assert set(g[pos == 0]) == {"shared_persona"}
    first_char_block = t.block_ids[pos == 2]
    chars = t.character[t.request_of_block()[pos == 2]]
    for c in np.unique(chars)[:5]:
        assert len(np.unique(first_char_block[chars == c])) == 1
    persona = np.isin(g, ["persona_popular", "persona_tail"])
    popular = t.character[t.request_of_block()] < p.popular_characters
    assert np.all(g[persona & popular] == "persona_popular")
    assert t.group_names == CHAT_GROUPS


def test_session_arrivals_follow_littles_law():
    p = CharacterChatParams(**{**SMALL, "concurrent_sessions": 200, "duration_s": 3000})
    t = character_chat_trace(p, seed=7)
    sessions = len(np.unique(t.session))
    expected = p.session_rate_per_s * p.duration_s   # Poisson: sd = sqrt(expected)
    assert abs(sessions - expected) < 4 * math.sqrt(expected)
    turns = np.bincount(t.session - t.session.min())
    assert abs(turns.mean() - p.mean_turns) < 4 * p.mean_turns / math.sqrt(sessions)


def test_zipf_sampler_matches_pmf():
    rng = np.random.default_rng(0)
    z = ZipfSampler(50, 1.1)
    counts = np.bincount(z.sample(rng, 200_000), minlength=50)
    assert_allclose(counts / 200_000, zipf_pmf(50, 1.1), atol=0.004)


# --- Zipf arithmetic ----------------------------------------------------------------------------------------
def test_zipf_top_share_closed_forms():
    assert_allclose(zipf_top_share(10, 3, 0.0), 0.3)
    h = lambda n: sum(1 / k for k in range(1, n + 1))  # noqa: E731 - harmonic numbers by hand
    assert_allclose(zipf_top_share(100, 10, 1.0), h(10) / h(100))
    s = zipf_exponent_for_top_share(5_000_000, 100_000, 0.85)
    assert_allclose(zipf_top_share(5_000_000, 100_000, s), 0.85, atol=1e-6)
    assert 1.0 < s < 1.2
    with pytest.raises(ParameterError, match="share"):
        zipf_exponent_for_top_share(100, 10, 0.05)


def test_che_approximation_against_lru_simulation():
    # Independent requests over 300 items, LRU of 40 items simulated by hand; Che's formula within 0.02.
    from collections import OrderedDict
    rng = np.random.default_rng(1)
    pmf = zipf_pmf(300, 0.9)
    req = rng.choice(300, size=60_000, p=pmf)
    cache, hits = OrderedDict(), 0
    for r in req.tolist():
        if r in cache:
            hits += 1
            cache.move_to_end(r)
        else:
            cache[r] = None
            if len(cache) > 40:
                cache.popitem(last=False)
    assert_allclose(che_lru_hit_ratio(pmf, 40), hits / len(req), atol=0.02)
    assert che_lru_hit_ratio(pmf, 300) == 1.0 and che_lru_hit_ratio(pmf, 0) == 0.0


# --- audit of §7/§8 -----------------------------------------------------------------------------------------
def test_memory_tiers_under_three_readings():
    x = PersonaInputs.from_claims()
    table = memory_tiers_table(x).set_index("tokens_per_turn")
    assert table.loc[100, "full_history_tokens"] == 20_000 and table.loc[100, "tokens_sent"] == 2_000
    assert table.loc[50, "full_history_tokens"] == 10_000
    assert table.loc[500, "full_history_tokens"] == 100_000


def test_persona_audit_by_hand():
    x = PersonaInputs.from_claims()
    a = audit(audit_persona_memory(x, fleet_personas=11_000, fleet_how="by hand")).set_index("claim_id")
    # stated $4.8M = 1M x 30 x 200 turns x 10K tokens x $0.08/1M, written out
    assert_allclose(1e6 * 30 * 200 * 10_000 * 0.08 / 1e6, 4.8e6)
    # Little's-law volume: 1M slots x (730 h x 2 sessions/h) x 200 turns x 10K x $0.08/1M
    assert_allclose(a.loc["l7.effect.cost_before", "computed_value"], 1e6 * 730 * 2 * 200 * 10_000 * 0.08 / 1e6)
    assert a.loc["l7.effect.cost_before", "verdict"] == "inconsistent"
    assert a.loc["l7.effect.cost_change", "verdict"] == "consistent"
    assert a.loc["l7.effect.cached_top_characters", "verdict"] == "impossible"
    assert_allclose(a.loc["s.success_tiered_memory.cost_change", "computed_value"], 100 * (4 / 22 - 1))
    assert a.loc["l8.naive.tokens_per_turn", "computed_value"] == 50
    assert set(a["verdict"]) <= {"consistent", "inconsistent", "impossible", "not reproducible"}


def test_binned_zipf_preserves_mass_and_che():
    from model.workload import binned_zipf
    p, c = binned_zipf(200_000, 1.0, exact_head=100, bins=500)
    assert_allclose((p * c).sum(), 1.0, rtol=1e-12)
    assert c.sum() == 200_000
    exact = che_lru_hit_ratio(zipf_pmf(200_000, 1.0), 5_000)
    assert_allclose(che_lru_hit_ratio(p, 5_000, c), exact, atol=1e-5)
