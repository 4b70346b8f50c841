"""model.workload.chat against hand-worked prompts and bounds: the block ids of a few requests written out from the
documented layout, every parameter check at its bound (one-line messages naming the parameter), and the
generators' laws (fixed turns, session caps, windows, Poisson starts, exponential think times) on seeded draws."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from model.checks import ParameterError
from model.workload import CHAT_GROUPS, CharacterChatParams, character_chat_trace, concat_traces, iter_character_chat
from model.workload.chat import _CHAR_BASE, _HIST_BASE, _PART_BASE, _chat_requests, iter_character_chat_windows

SMALL = dict(n_characters=1000, popular_characters=10, concurrent_sessions=30, mean_turns=12, session_minutes=2,
             duration_s=300, history_window_tokens=400, tokens_per_turn=50)


def _message(**kwargs):
    with pytest.raises(ParameterError) as err:
        CharacterChatParams(**kwargs)
    return str(err.value)


# --- parameters ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, message", [
    ({"n_characters": 0}, "n_characters=0 is not allowed: n_characters must be an integer in [1, 68719476736]"),
    ({"n_characters": (1 << 36) + 1},
     "n_characters=68719476737 is not allowed: n_characters must be an integer in [1, 68719476736]"),
    ({"zipf_exponent": -0.5}, "zipf_exponent=-0.5 is not allowed: zipf_exponent must be a finite number in [0, inf]"),
    ({"n_characters": 1000, "popular_characters": 1001},
     "popular_characters=1001 is not allowed: popular_characters must be an integer in [0, 1000]"),
    ({"popular_characters": -1},
     "popular_characters=-1 is not allowed: popular_characters must be an integer in [0, 5000000]"),
    ({"shared_persona_tokens": -1},
     "shared_persona_tokens=-1 is not allowed: shared_persona_tokens must be an integer in [0, inf]"),
    ({"character_persona_tokens": -1},
     "character_persona_tokens=-1 is not allowed: character_persona_tokens must be an integer in [0, inf]"),
    ({"concurrent_sessions": 0.0},
     "concurrent_sessions=0.0 is not allowed: concurrent_sessions must be a finite number in (0, inf]"),
    ({"mean_turns": 0.5}, "mean_turns=0.5 is not allowed: mean_turns must be a finite number in [1, inf]"),
    ({"turns_distribution": "poisson"},
     "turns_distribution='poisson' is not allowed: turns_distribution must be one of 'geometric', 'fixed'"),
    ({"session_minutes": 0.0},
     "session_minutes=0.0 is not allowed: session_minutes must be a finite number in (0, inf]"),
    ({"tokens_per_turn": 1}, "tokens_per_turn=1 is not allowed: tokens_per_turn must be an integer in [2, inf]"),
    ({"reply_share": 0.0}, "reply_share=0.0 is not allowed: reply_share must be a finite number in (0, 1)"),
    ({"reply_share": 1.0}, "reply_share=1.0 is not allowed: reply_share must be a finite number in (0, 1)"),
    ({"tokens_per_turn": 50, "history_window_tokens": 49},
     "history_window_tokens=49 is not allowed: history_window_tokens must be an integer in [50, inf]"),
    ({"memory_tokens": -1}, "memory_tokens=-1 is not allowed: memory_tokens must be an integer in [0, inf]"),
    ({"duration_s": 0.0}, "duration_s=0.0 is not allowed: duration_s must be a finite number in (0, inf]"),
    ({"block_tokens": -1}, "block_tokens=-1 is not allowed: block_tokens must be an integer in [1, inf]"),
])
def test_each_parameter_is_checked_with_its_bound(kwargs, message):
    assert _message(**kwargs) == message


def test_every_bound_itself_is_allowed():
    p = CharacterChatParams(n_characters=1 << 36, zipf_exponent=0.0, popular_characters=1 << 36,
                            shared_persona_tokens=0, character_persona_tokens=0, mean_turns=1.0,
                            tokens_per_turn=2, history_window_tokens=2, memory_tokens=0, block_tokens=1)
    assert p.n_characters == 1 << 36 and p.window_turns == 1
    assert CharacterChatParams(popular_characters=0).popular_characters == 0


# Prompt bound: persona 3 + 5, window 16000, memory m, turn 2 tokens, blocks of 4: ceil((16010 + m) / 4) blocks,
# fewer than 4096 allowed. m = 370: 16380 tokens, 4095 blocks exactly; m = 371: 16381 tokens, 4096 blocks
# (4095.25 rounded up).
_PROMPT = dict(shared_persona_tokens=3, character_persona_tokens=5, history_window_tokens=16000, tokens_per_turn=2,
               block_tokens=4)


def test_a_prompt_of_4095_blocks_is_allowed():
    assert CharacterChatParams(**_PROMPT, memory_tokens=370).memory_tokens == 370


@pytest.mark.parametrize("memory", [371, 374, 375, 1000])
def test_a_prompt_of_4096_blocks_or_more_is_refused(memory):
    assert _message(**_PROMPT, memory_tokens=memory) == (
        "history_window_tokens=16000 is not allowed: history_window_tokens must be small enough for a prompt "
        "of fewer than 4096 blocks of 4 tokens")


def test_zero_block_tokens_is_named():
    # block_tokens is checked before the prompt-size check divides by it (it raised ZeroDivisionError)
    assert _message(block_tokens=0) == "block_tokens=0 is not allowed: block_tokens must be an integer in [1, inf]"


def test_derived_quantities_by_hand():
    p = CharacterChatParams(**{**SMALL, "reply_share": 0.3, "history_window_tokens": 420,
                               "shared_persona_tokens": 700, "character_persona_tokens": 300})
    assert p.persona_tokens == 1000
    assert_allclose(p.session_rate_per_s, 30 / 120, rtol=1e-15)          # Little: 30 sessions / 120 s
    assert_allclose(p.think_time_s, 120 / 12, rtol=1e-15)                # 2 min over 12 turns
    assert p.reply_tokens == 15 and p.user_tokens == 35                   # 0.3 × 50 rounded, the rest
    assert p.window_turns == 8                                            # 420 // 50
    tiny = CharacterChatParams(**{**SMALL, "tokens_per_turn": 3, "reply_share": 0.1})
    assert tiny.reply_tokens == 1 and tiny.user_tokens == 2               # 0.3 rounds to 0: at least 1
    odd = CharacterChatParams(**{**SMALL, "tokens_per_turn": 7, "reply_share": 0.5})
    assert odd.reply_tokens == 4 and odd.user_tokens == 3                 # round(3.5) = 4 (half to even)


# --- prompts by hand ----------------------------------------------------------------------------------------
# Blocks of 4 tokens; shared persona 5 tokens (1 full block), character persona 10 (persona 15 tokens: 3 full
# blocks, 2 of them the character's); a turn 6 tokens (3 user + 3 reply); window 12 tokens = 2 turns;
# 10 characters, the top 3 popular.
HAND = dict(n_characters=10, popular_characters=3, shared_persona_tokens=5, character_persona_tokens=10,
            tokens_per_turn=6, reply_share=0.5, history_window_tokens=12, block_tokens=4)
SHARED, POPULAR, TAIL, HISTORY = (CHAT_GROUPS.index(g) for g in
                                  ("shared_persona", "persona_popular", "persona_tail", "history"))


def _hand_requests(memory=0):
    p = CharacterChatParams(**HAND, memory_tokens=memory)
    # A: session 5, turn 0, character 4; B: session 5, turn 3, character 1; C: session 2, turn 1, character 3
    return _chat_requests(p, np.array([5, 5, 2]), np.array([0, 3, 1]), np.array([0.5, 1.5, 2.5]),
                          np.array([4, 1, 3]))


def test_prompt_blocks_by_hand():
    t = _hand_requests()
    H = lambda s, epoch, j: _HIST_BASE + (s << 32) + (epoch << 12) + j          # noqa: E731
    # A: no history; 15 + 3 = 18 tokens, 5 blocks; the last (tokens 16..18) partial
    # B: turn 3, window of 2 turns from turn 1 (epoch 1): 15 + 12 + 3 = 30 tokens, 8 blocks
    # C: turn 1, 1 turn of history: 15 + 6 + 3 = 24 tokens, 6 full blocks (no partial one)
    assert_array_equal(t.input_tokens, [18, 30, 24])
    assert_array_equal(t.output_tokens, [3, 3, 3])
    assert_array_equal(t.block_offsets, [0, 5, 13, 19])
    expected = [0, _CHAR_BASE + 8, _CHAR_BASE + 9, H(5, 0, 3), _PART_BASE + (5 << 20) + 0,
                0, _CHAR_BASE + 2, _CHAR_BASE + 3, H(5, 1, 3), H(5, 1, 4), H(5, 1, 5), H(5, 1, 6),
                _PART_BASE + (5 << 20) + 3,
                0, _CHAR_BASE + 6, _CHAR_BASE + 7, H(2, 0, 3), H(2, 0, 4), H(2, 0, 5)]
    assert_array_equal(t.block_ids, expected)
    assert_array_equal(t.block_group, [SHARED, TAIL, TAIL, HISTORY, HISTORY,
                                       SHARED, POPULAR, POPULAR, HISTORY, HISTORY, HISTORY, HISTORY, HISTORY,
                                       SHARED, TAIL, TAIL, HISTORY, HISTORY, HISTORY])
    assert t.group_names == CHAT_GROUPS and t.block_tokens == 4 and t.name == "character-chat"
    assert_array_equal(t.session, [5, 5, 2])
    assert_array_equal(t.character, [4, 1, 3])
    assert_array_equal(t.arrival_s, [0.5, 1.5, 2.5])
    assert t.block_ids.dtype == np.int64 and t.input_tokens.dtype == np.int64


def test_prompt_blocks_with_memory_by_hand():
    """5 memory tokens after the history: every block ending past the history is new at each turn."""
    t = _hand_requests(memory=5)
    H = lambda s, epoch, j: _HIST_BASE + (s << 32) + (epoch << 12) + j          # noqa: E731
    P = lambda s, turn, j: _PART_BASE + (s << 32) + (turn << 12) + j            # noqa: E731
    # A: history ends at 15, 23 tokens, 6 blocks; B: history ends at 27, 35 tokens, 9 blocks;
    # C: history ends at 21, 29 tokens, 8 blocks
    assert_array_equal(t.input_tokens, [23, 35, 29])
    assert_array_equal(t.block_offsets, [0, 6, 15, 23])
    expected = [0, _CHAR_BASE + 8, _CHAR_BASE + 9, P(5, 0, 3), P(5, 0, 4), P(5, 0, 5),
                0, _CHAR_BASE + 2, _CHAR_BASE + 3, H(5, 1, 3), H(5, 1, 4), H(5, 1, 5), P(5, 3, 6), P(5, 3, 7),
                P(5, 3, 8),
                0, _CHAR_BASE + 6, _CHAR_BASE + 7, H(2, 0, 3), H(2, 0, 4), P(2, 1, 5), P(2, 1, 6), P(2, 1, 7)]
    assert_array_equal(t.block_ids, expected)


def test_one_block_persona_and_no_shared_block():
    """No shared persona, character persona of one block (4 tokens): the character's block is 0-th."""
    p = CharacterChatParams(**{**HAND, "shared_persona_tokens": 0, "character_persona_tokens": 4})
    t = _chat_requests(p, np.array([1]), np.array([0]), np.array([0.0]), np.array([7]))
    # 4 + 3 = 7 tokens: the persona block, then a partial one
    assert_array_equal(t.block_ids, [_CHAR_BASE + 7, _PART_BASE + (1 << 20)])
    assert_array_equal(t.block_group, [TAIL, HISTORY])


# --- the streamed generator ---------------------------------------------------------------------------------
def _per_session(t):
    """Arrival times of each session's turns, in session order."""
    return [t.arrival_s[t.session == s] for s in np.unique(t.session)]


def _turn_of(t, p):
    """Turn index of every request from its prompt length (valid while the window has not slid)."""
    return (t.input_tokens - p.persona_tokens - p.memory_tokens - p.user_tokens) // p.tokens_per_turn


@pytest.mark.parametrize("mean_turns, turns", [(1.0, 1), (3.4, 3), (2.6, 3)])
def test_fixed_turns_give_every_session_the_rounded_mean(mean_turns, turns):
    p = CharacterChatParams(**{**SMALL, "mean_turns": mean_turns, "turns_distribution": "fixed"})
    for t in (character_chat_trace(p, seed=11),
              concat_traces(list(iter_character_chat_windows(p, seed=11)))):
        counts = np.bincount(t.session)
        assert counts.min() == turns and counts.max() == turns
        assert_array_equal(np.unique(t.session), np.arange(len(counts)))


def test_stream_is_complete_and_ordered_across_small_chunks():
    """Chunks of 3 sessions: no request lost or repeated (fixed 4 turns each), turns in order within a session,
    chunks in arrival order, every session starting before duration_s and turns separated by think times."""
    p = CharacterChatParams(**{**SMALL, "mean_turns": 4, "turns_distribution": "fixed", "duration_s": 200})
    chunks = list(iter_character_chat(p, seed=5, chunk_sessions=3))
    assert len(chunks) > 5
    assert all(np.all(np.diff(c.arrival_s) >= 0) for c in chunks)
    assert all(a.arrival_s[-1] <= b.arrival_s[0] for a, b in zip(chunks, chunks[1:]))
    t = concat_traces(chunks)
    n = len(np.unique(t.session))
    assert t.n_requests == 4 * n and np.bincount(t.session).min() == 4
    assert_array_equal(np.unique(t.session), np.arange(n))
    firsts = np.array([a[0] for a in _per_session(t)])
    assert np.all(np.diff(firsts) > 0) and firsts[0] > 0 and firsts[-1] < 200      # Poisson starts, in order
    for s in range(n):
        idx = np.flatnonzero(t.session == s)
        assert_array_equal(_turn_of(t, p)[idx], [0, 1, 2, 3])
        assert np.all(np.diff(t.arrival_s[idx]) > 0)


def test_session_starts_and_think_times_follow_their_laws():
    """Starts: Poisson of rate 30 / 120 s, so gaps of mean 4 s; think times exponential of mean 120 / 12 = 10 s.
    Both means within 4 standard errors (an exponential's sd equals its mean)."""
    p = CharacterChatParams(**{**SMALL, "duration_s": 4000})
    for t in (character_chat_trace(p, seed=21),
              concat_traces(list(iter_character_chat_windows(p, seed=21)))):
        sessions = _per_session(t)
        starts = np.array([a[0] for a in sessions])
        gaps = np.diff(starts)
        assert abs(gaps.mean() - 4.0) < 4 * 4.0 / math.sqrt(len(gaps))
        assert abs(len(starts) - 1000) < 4 * math.sqrt(1000)                   # 4000 s × 0.25 /s
        think = np.concatenate([np.diff(a) for a in sessions])
        assert abs(think.mean() - 10.0) < 4 * 10.0 / math.sqrt(len(think))
        counts = np.array([len(a) for a in sessions])                          # geometric, mean 12
        assert abs(counts.mean() - 12.0) < 4 * math.sqrt(12 * 11) / math.sqrt(len(counts))
        assert starts.max() < 4000 and t.arrival_s.max() > 4000                # later turns run past the end


@pytest.mark.parametrize("cap", [1, 7, 20])
def test_max_sessions_caps_the_stream(cap):
    p = CharacterChatParams(**SMALL)                           # about 75 sessions would start in 300 s
    t = concat_traces(list(iter_character_chat(p, seed=2, chunk_sessions=6, max_sessions=cap)))
    assert_array_equal(np.unique(t.session), np.arange(cap))
    w = concat_traces(list(iter_character_chat_windows(p, seed=2, max_sessions=cap)))
    assert_array_equal(np.unique(w.session), np.arange(cap))


def test_the_default_window_is_an_eighth_of_the_think_time():
    """Think time 120 s / 12 = 10 s: windows of 1.25 s; every yielded chunk lies within one window."""
    p = CharacterChatParams(**SMALL)
    chunks = list(iter_character_chat_windows(p, seed=4))
    assert len(chunks) > 100
    for c in chunks:
        k = np.floor(c.arrival_s / 1.25)
        assert k.min() == k.max()
        assert np.all(np.diff(c.arrival_s) >= 0)
    ks = [int(np.floor(c.arrival_s[0] / 1.25)) for c in chunks]
    assert ks == sorted(set(ks))                               # one chunk per non-empty window, in order
    wide = list(iter_character_chat_windows(p, seed=4, window_s=10.0))
    for c in wide:
        k = np.floor(c.arrival_s / 10.0)
        assert k.min() == k.max()
    assert len(wide) < len(chunks)


def test_windowed_stream_lays_out_prompts_like_the_other():
    """Same prompts for the same (session, turn, character): the first turns of every session carry the persona
    blocks of its character and the shared block 0."""
    p = CharacterChatParams(**SMALL)
    t = concat_traces(list(iter_character_chat_windows(p, seed=8)))
    assert t.n_requests > 100 and t.group_names == CHAT_GROUPS
    for s in np.unique(t.session)[:10]:
        idx = np.flatnonzero(t.session == s)
        assert_array_equal(_turn_of(t, p)[idx][:p.window_turns + 1], np.arange(min(len(idx), p.window_turns + 1)))
        assert len(set(t.character[idx])) == 1
        ref = _chat_requests(p, t.session[idx], np.arange(len(idx)), t.arrival_s[idx], t.character[idx])
        assert_array_equal(np.concatenate([t.blocks_of(i) for i in idx]), ref.block_ids)


@pytest.mark.parametrize("call, message", [
    (lambda: list(iter_character_chat(chunk_sessions=0)),
     "chunk_sessions=0 is not allowed: chunk_sessions must be an integer in [1, inf]"),
    (lambda: list(iter_character_chat(max_sessions=0)),
     "max_sessions=0 is not allowed: max_sessions must be an integer in [1, inf]"),
    # a chunk far past 2**29 sessions (an array of its size could not even be described: nothing is allocated)
    (lambda: list(iter_character_chat(CharacterChatParams(**SMALL), chunk_sessions=1 << 62)),
     "max_sessions=4611686018427387904 is not allowed: max_sessions must be fewer than 2**29 sessions per "
     "stream"),
    (lambda: list(iter_character_chat_windows(window_s=0.0)),
     "window_s=0.0 is not allowed: window_s must be a finite number in (0, inf]"),
    (lambda: list(iter_character_chat_windows(max_sessions=0)),
     "max_sessions=0 is not allowed: max_sessions must be an integer in [1, inf]"),
    (lambda: character_chat_trace(CharacterChatParams(**{**SMALL, "duration_s": 1e-9})),
     "duration_s=1e-09 is not allowed: duration_s must be long enough for at least one session to start"),
])
def test_generator_arguments_are_named(call, message):
    with pytest.raises(ParameterError) as err:
        call()
    assert str(err.value) == message


def test_trace_is_named():
    p = CharacterChatParams(**SMALL)
    assert character_chat_trace(p, seed=1, max_sessions=2).name == "character-chat"
    assert character_chat_trace(p, seed=1, max_sessions=2, name="chat-2").name == "chat-2"


def test_block_ending_exactly_at_the_history_is_history():
    """Shared persona 9 tokens (2 full blocks: ids 0 and 1), character 6 (persona 15, one character block), turns
    of 5 tokens (2 reply, 3 user), 5 memory tokens. Turn 1: history ends at 15 + 5 = 20, exactly the end of
    block 4, which is therefore a history block; blocks 5 and 6 reach into the memory."""
    p = CharacterChatParams(**{**HAND, "shared_persona_tokens": 9, "character_persona_tokens": 6,
                               "tokens_per_turn": 5, "memory_tokens": 5})
    assert p.reply_tokens == 2 and p.user_tokens == 3
    t = _chat_requests(p, np.array([1]), np.array([1]), np.array([0.0]), np.array([2]))
    assert_array_equal(t.input_tokens, [28])
    H = lambda j: _HIST_BASE + (1 << 32) + j                                  # noqa: E731
    P = lambda j: _PART_BASE + (1 << 32) + (1 << 12) + j                      # noqa: E731
    assert_array_equal(t.block_ids, [0, 1, _CHAR_BASE + 2, H(3), H(4), P(5), P(6)])
    assert_array_equal(t.block_group, [SHARED, SHARED, POPULAR, HISTORY, HISTORY, HISTORY, HISTORY])
    assert t.block_group.dtype == np.int32


def test_defaults_of_the_generators():
    """The default seed is 0, and max_sessions reaches the stream."""
    p = CharacterChatParams(**SMALL)
    assert_array_equal(character_chat_trace(p).block_ids, character_chat_trace(p, seed=0).block_ids)
    assert_array_equal(concat_traces(list(iter_character_chat(p))).arrival_s,
                       concat_traces(list(iter_character_chat(p, seed=0))).arrival_s)
    a = concat_traces(list(iter_character_chat_windows(p)))
    b = concat_traces(list(iter_character_chat_windows(p, seed=0)))
    assert_array_equal(a.arrival_s, b.arrival_s)
    assert_array_equal(a.block_ids, b.block_ids)
    assert len(np.unique(character_chat_trace(p, seed=1, max_sessions=2).session)) == 2


def test_windowed_draws_by_type_and_independence():
    """Characters and sessions are integers (int64) as in the other stream; think times of sessions due in the
    same window are separate draws (no two of the ~900 gaps coincide)."""
    p = CharacterChatParams(**SMALL)
    t = concat_traces(list(iter_character_chat_windows(p, seed=6)))
    assert t.character.dtype == np.int64 and t.session.dtype == np.int64 and t.block_group.dtype == np.int32
    gaps = np.sort(np.concatenate([np.diff(a) for a in _per_session(t)]))
    assert len(gaps) > 500 and np.diff(gaps).min() > 1e-9


def test_sessions_start_from_time_zero_and_uniformly_within_windows():
    """At 25 sessions/s (3000 concurrent over 2 minutes) the first starts within a fraction of a second in either
    stream; in the windowed one, starts are uniform within their 1.25 s window (mean position 1/2, sd of the
    mean (1/12 / n)^½)."""
    fast = CharacterChatParams(**{**SMALL, "concurrent_sessions": 3000, "duration_s": 20})
    a = concat_traces(list(iter_character_chat(fast, seed=3)))
    assert a.arrival_s.min() < 0.5
    w = concat_traces(list(iter_character_chat_windows(fast, seed=3)))
    assert w.arrival_s.min() < 0.5
    p = CharacterChatParams(**{**SMALL, "duration_s": 1000})
    t = concat_traces(list(iter_character_chat_windows(p, seed=3)))
    starts = np.array([a[0] for a in _per_session(t)])
    pos = (starts % 1.25) / 1.25
    assert abs(pos.mean() - 0.5) < 4 * math.sqrt(1 / 12 / len(pos))
