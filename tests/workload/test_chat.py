"""Tests of model.workload.chat: the streamed character-chat generator (determinism, prompt structure,
Little's law)."""

import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from model.checks import ParameterError
from model.workload import CHAT_GROUPS, CharacterChatParams, character_chat_trace, concat_traces, iter_character_chat


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




def test_memory_tokens_are_new_at_every_turn():
    """With m memory tokens the prompt is persona + history + m + user message; the blocks that end within
    the history are those of the prompt without memory, and every block reaching into the memory is seen
    once in the whole trace."""
    base = CharacterChatParams(**SMALL)
    mem = CharacterChatParams(**SMALL, memory_tokens=700)
    a, b = character_chat_trace(base, seed=2), character_chat_trace(mem, seed=2)
    assert_array_equal(a.arrival_s, b.arrival_s)
    assert_array_equal(b.input_tokens, a.input_tokens + 700)
    hist_end = a.input_tokens - base.user_tokens            # persona + history tokens
    ids_a, ids_b = a.block_ids, b.block_ids
    for i in range(0, a.n_requests, 7):
        n_hist = hist_end[i] // 512                          # blocks ending at or before the history's end
        assert_array_equal(b.blocks_of(i)[:n_hist], a.blocks_of(i)[:n_hist])
    pos = b.position_of_block()
    reaching = (pos + 1) * 512 > hist_end[b.request_of_block()]
    assert reaching.sum() > 0
    assert len(np.unique(ids_b[reaching])) == reaching.sum()
    assert not np.isin(ids_b[reaching], ids_b[~reaching]).any()
    # memory 0 is the default layout, draw for draw
    assert_array_equal(character_chat_trace(CharacterChatParams(**SMALL, memory_tokens=0), seed=2).block_ids, ids_a)


def test_no_session_started_is_refused_under_the_caller_s_name():
    # 2 concurrent sessions start at 2 per mean session length (minutes): in a 1 ms window none starts (seed 0)
    p = CharacterChatParams(**{**SMALL, "concurrent_sessions": 2, "duration_s": 0.001})
    with pytest.raises(ParameterError) as err:
        character_chat_trace(p, seed=0)
    assert err.value.name == "duration_s"
    with pytest.raises(ParameterError) as err:
        character_chat_trace(p, seed=0, names={"duration_s": "chat_duration_s"})
    assert err.value.name == "chat_duration_s"
    assert "at least one session to start" in str(err.value)
