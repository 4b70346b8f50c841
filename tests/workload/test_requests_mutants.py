"""model.workload.requests by hand: a workload's checks, each refusal with its name, value and what is allowed; the
fixed, drawn and cached lengths of Poisson workloads and their mean gap; the Azure conversation trace's first
rows read from its CSV (data/traces/azure/AzureLLMInferenceTrace_conv.csv); chat sessions' prompts as the history
grows and their arrival gaps. Every draw seeded."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.workload.requests import Workload, azure_conversation_lengths, azure_workload, poisson_workload, session_workload

# The first seven rows of the Azure conversation trace's CSV (TIMESTAMP, ContextTokens, GeneratedTokens):
# 18:15:46.6805900, :50.9951690, :51.2224670, :51.3910170, :52.5732450, :52.9921190, :54.4260870
AZURE_S = [0.0, 4.314579, 4.541877, 4.710427, 5.892655, 6.311529, 7.745497]
AZURE_PROMPT = [374, 396, 879, 91, 91, 381, 1313]
AZURE_OUTPUT = [44, 109, 55, 16, 16, 84, 142]       # prompt + output: 418, 505, 934, 107, 107, 465, 1455


def refused(call):
    with pytest.raises(ParameterError) as err:
        call()
    return err.value.name, err.value.value, err.value.allowed


def w(arrival, prompt, output, cached=None):
    return Workload(np.asarray(arrival, float), np.asarray(prompt), np.asarray(output), cached_tokens=cached)


# --- Workload ---------------------------------------------------------------------------------------------------
def test_workload_edges_accepted():
    one = w([0.0], [1], [1])
    assert len(one) == 1 and one.name == "workload"
    same_time = w([2.0, 2.0], [3, 5], [1, 4], cached=np.array([3, 0]))     # cached = the whole prompt is allowed
    assert (same_time.mean_prompt, same_time.mean_output) == (4.0, 2.5)
    assert same_time.cached.tolist() == [3, 0] and same_time.cached.dtype == np.int64
    z = w([0.0, 1.0], [3, 5], [1, 4]).cached
    assert z.tolist() == [0, 0] and z.dtype == np.int64


@pytest.mark.parametrize("args, want", [
    (([], [], []), ("workload", 0, "non-empty arrays of equal length")),
    (([0.0, 1.0], [1], [1, 1]), ("workload", 2, "non-empty arrays of equal length")),
    (([0.0, 1.0], [1, 1], [1]), ("workload", 2, "non-empty arrays of equal length")),
    (([1.0, 0.5], [1, 1], [1, 1]), ("arrival_s", "unsorted or negative", "non-decreasing times >= 0")),
    (([-0.1, 0.5], [1, 1], [1, 1]), ("arrival_s", "unsorted or negative", "non-decreasing times >= 0")),
    (([0.0, 1.0], [1, 0], [1, 1]), ("lengths", "value < 1", "prompt and output lengths >= 1 token")),
    (([0.0, 1.0], [1, 1], [0, 1]), ("lengths", "value < 1", "prompt and output lengths >= 1 token")),
])
def test_workload_refusals(args, want):
    assert refused(lambda: w(*args)) == want


def test_cached_token_refusals():
    assert refused(lambda: w([0.0, 1.0], [5, 6], [1, 1], cached=np.array([1]))) == (
        "cached_tokens", "shape (1,)", "one count per request (2)")
    assert refused(lambda: w([0.0, 1.0], [5, 6], [1, 1], cached=np.array([0, -1]))) == (
        "cached_tokens", -1, "a count of tokens >= 0")
    # requests 1 and 2 hold more cached tokens than their prompts: the first is named
    assert refused(lambda: w([0.0, 1.0, 2.0], [5, 6, 7], [1, 1, 1], cached=np.array([5, 7, 9]))) == (
        "cached_tokens", 7, "<= the request's prompt_tokens (6, request 1)")


# --- Poisson --------------------------------------------------------------------------------------------------------
def test_poisson_fixed_lengths_and_mean_gap():
    p = poisson_workload(20_000, 4.0, prompt_tokens=100, output_tokens=7, seed=3)
    assert p.name == "poisson" and p.cached_tokens is None
    assert set(p.prompt_tokens.tolist()) == {100} and set(p.output_tokens.tolist()) == {7}
    assert p.prompt_tokens.dtype == np.int64
    # exponential gaps of mean 1/4 s: 20,000 of them sum to 5,000 s within a few standard errors
    # (one gap's standard deviation is its mean: 0.25 / √20,000 = 0.0018 s on the mean gap)
    assert_allclose(p.arrival_s[-1] / 20_000, 0.25, rtol=0.03)
    assert np.all(np.diff(p.arrival_s) >= 0) and p.arrival_s[0] > 0


def test_poisson_overload_all_at_once_and_default_seed():
    p = poisson_workload(5, math.inf, prompt_tokens=10, output_tokens=2)
    assert p.arrival_s.tolist() == [0.0] * 5
    a = poisson_workload(50, 2.0, prompt_tokens=[3, 5], output_tokens=1)
    assert np.array_equal(a.arrival_s, poisson_workload(50, 2.0, prompt_tokens=[3, 5], output_tokens=1, seed=0).arrival_s)
    assert not np.array_equal(a.arrival_s, poisson_workload(50, 2.0, prompt_tokens=[3, 5], output_tokens=1,
                                                            seed=1).arrival_s)


def test_poisson_lengths_drawn_from_every_entry_of_a_pool():
    p = poisson_workload(400, 1.0, prompt_tokens=[3, 5], output_tokens=np.array([9]), seed=0, name="drawn")
    assert p.name == "drawn"
    # two lengths drawn 400 times: each appears (a miss has probability 2 × 2^-400)
    assert set(p.prompt_tokens.tolist()) == {3, 5} and set(p.output_tokens.tolist()) == {9}
    assert_allclose(np.mean(p.prompt_tokens == 3), 0.5, atol=0.1)


def test_poisson_cached_tokens():
    p = poisson_workload(3, 1.0, prompt_tokens=[40, 50], output_tokens=2, cached_tokens=40)
    assert p.cached_tokens.tolist() == [40, 40, 40] and p.cached_tokens.dtype == np.int64
    assert refused(lambda: poisson_workload(3, 1.0, prompt_tokens=[40, 50], output_tokens=2, seed=1,
                                            cached_tokens=41)) == (
        "cached_tokens", 41, "<= prompt_tokens (40, the shortest prompt)")


@pytest.mark.parametrize("kw, name", [
    (dict(n_requests=0), "n_requests"), (dict(rate_per_s=0.0), "rate_per_s"), (dict(rate_per_s=-1.0), "rate_per_s"),
    (dict(prompt_tokens=0), "prompt_tokens"), (dict(output_tokens=0), "output_tokens"),
    (dict(cached_tokens=-1), "cached_tokens"),
])
def test_poisson_refusals(kw, name):
    args = dict(n_requests=3, rate_per_s=1.0, prompt_tokens=5, output_tokens=5) | kw
    assert refused(lambda: poisson_workload(**args))[0] == name


# --- Azure ------------------------------------------------------------------------------------------------------------
def test_azure_lengths_are_the_trace_s():
    arrival, prompt, output = azure_conversation_lengths()
    assert_allclose(arrival[:7], AZURE_S, atol=1e-6)
    assert prompt[:7].tolist() == AZURE_PROMPT and output[:7].tolist() == AZURE_OUTPUT


def test_azure_replay_of_the_first_requests():
    a = azure_workload(3)
    assert a.name == "azure-conv trace"
    assert_allclose(a.arrival_s, AZURE_S[:3], atol=1e-6)
    assert (a.prompt_tokens.tolist(), a.output_tokens.tolist()) == (AZURE_PROMPT[:3], AZURE_OUTPUT[:3])


def test_azure_replay_leaves_out_long_pairs():
    # at most 200 tokens: rows 3 and 4 (107 each) are the first kept; their times from the first of them
    a = azure_workload(2, max_total_tokens=200)
    assert_allclose(a.arrival_s, [0.0, 5.892655 - 4.710427], atol=1e-6)
    assert (a.prompt_tokens.tolist(), a.output_tokens.tolist()) == ([91, 91], [16, 16])
    # at most 418 tokens: row 0 (exactly 418) is kept, then row 3
    assert azure_workload(2, max_total_tokens=418).prompt_tokens.tolist() == [374, 91]


def test_azure_drawn_lengths_at_a_rate():
    a = azure_workload(20_000, 4.0, seed=5)
    assert a.name == "azure-conv lengths"
    assert_allclose(a.arrival_s[-1] / 20_000, 0.25, rtol=0.03)      # mean gap 1/4 s, as for Poisson above
    short = azure_workload(300, 1.0, max_total_tokens=200)
    assert np.all(short.prompt_tokens + short.output_tokens <= 200)
    assert np.array_equal(short.prompt_tokens, azure_workload(300, 1.0, seed=0, max_total_tokens=200).prompt_tokens)
    assert azure_workload(4, math.inf).arrival_s.tolist() == [0.0] * 4


@pytest.mark.parametrize("n, rate, name", [(0, None, "n_requests"), (3, 0.0, "rate_per_s"), (3, -2.0, "rate_per_s")])
def test_azure_refusals(n, rate, name):
    assert refused(lambda: azure_workload(n, rate))[0] == name


# --- sessions ---------------------------------------------------------------------------------------------------------
def test_session_prompts_grow_with_the_history():
    # one session, 3 turns, no think time, 2 s assumed per reply: turns at start, start + 2, start + 4;
    # prompt of turn k = 10 system + k × 5 user + (k − 1) × 7 reply tokens = 15, 27, 39
    s = session_workload(1, 3, session_rate_per_s=1e9, think_time_s=0.0, user_tokens=5, reply_tokens=7,
                         system_tokens=10, assumed_turn_s=2.0)
    assert s.name == "sessions"
    assert s.prompt_tokens.tolist() == [15, 27, 39] and s.output_tokens.tolist() == [7, 7, 7]
    assert s.prompt_tokens.dtype == np.int64 and s.output_tokens.dtype == np.int64
    # a session rate of 1e9/s starts the session within a few ns of 0
    assert_allclose(s.arrival_s, [0.0, 2.0, 4.0], atol=1e-6)


def test_sessions_interleave_by_arrival():
    # two sessions starting within ns of each other, turns 100 s apart: both first turns, then both second turns
    s = session_workload(2, 2, session_rate_per_s=1e9, think_time_s=0.0, user_tokens=5, reply_tokens=7,
                         assumed_turn_s=100.0)
    assert s.prompt_tokens.tolist() == [5, 5, 17, 17]
    assert_allclose(s.arrival_s, [0.0, 0.0, 100.0, 100.0], atol=1e-6)
    # no system prompt and no assumed reply time by default: every turn of a session at its start
    s = session_workload(1, 3, session_rate_per_s=1e9, think_time_s=0.0, user_tokens=5, reply_tokens=7)
    assert_allclose(s.arrival_s, [0.0, 0.0, 0.0], atol=1e-6)
    assert s.prompt_tokens.tolist() == [5, 17, 29]


def test_session_think_time_is_the_mean_gap():
    # 2,001 turns of one session: 2,000 exponential gaps of mean 3 s (standard error 3/√2000 = 0.067 s)
    s = session_workload(1, 2001, session_rate_per_s=1e9, think_time_s=3.0, user_tokens=1, reply_tokens=1, seed=4)
    assert_allclose(s.arrival_s[0], 0.0, atol=1e-6)        # the first turn waits for no think time
    assert_allclose((s.arrival_s[-1] - s.arrival_s[0]) / 2000, 3.0, rtol=0.1)
    # sessions start as a Poisson process of 2 a second: 2,000 starts over about 1,000 s
    s = session_workload(2000, 1, session_rate_per_s=2.0, think_time_s=0.0, user_tokens=1, reply_tokens=1)
    assert_allclose(s.arrival_s[-1] / 2000, 0.5, rtol=0.1)


@pytest.mark.parametrize("kw, name", [
    (dict(n_sessions=0), "n_sessions"), (dict(turns=0), "turns"), (dict(session_rate_per_s=0.0), "session_rate_per_s"),
    (dict(think_time_s=-1.0), "think_time_s"), (dict(reply_tokens=0), "reply_tokens"),
])
def test_session_refusals(kw, name):
    args = dict(n_sessions=2, turns=2, session_rate_per_s=1.0, think_time_s=1.0, user_tokens=5, reply_tokens=5) | kw
    assert refused(lambda: session_workload(**args))[0] == name


def test_one_request_is_enough():
    assert len(poisson_workload(1, 1.0, prompt_tokens=5, output_tokens=5)) == 1
    assert azure_workload(1).prompt_tokens.tolist() == [374]
    assert len(azure_workload(1, 2.0)) == 1


def test_a_negative_cache_is_refused_first_as_an_integer_of_at_least_0():
    assert refused(lambda: poisson_workload(0, 1.0, prompt_tokens=5, output_tokens=5, cached_tokens=-1)) == (
        "cached_tokens", -1, "an integer in [0, inf]")


def test_lengths_drawn_from_floats_are_whole_tokens():
    p = poisson_workload(50, 1.0, prompt_tokens=np.array([3.0, 5.0]), output_tokens=[2.0])
    assert p.prompt_tokens.dtype == np.int64 and p.output_tokens.dtype == np.int64
    assert set(p.prompt_tokens.tolist()) == {3, 5} and set(p.output_tokens.tolist()) == {2}


def test_session_default_seed_is_0():
    kw = dict(session_rate_per_s=1.0, think_time_s=2.0, user_tokens=5, reply_tokens=5)
    assert np.array_equal(session_workload(3, 4, **kw).arrival_s, session_workload(3, 4, seed=0, **kw).arrival_s)
    assert not np.array_equal(session_workload(3, 4, **kw).arrival_s, session_workload(3, 4, seed=1, **kw).arrival_s)


def test_a_think_time_below_one_second_is_drawn_too():
    # 2,000 exponential gaps of mean 0.5 s (standard error 0.5/√2000 = 0.011 s)
    s = session_workload(1, 2001, session_rate_per_s=1e9, think_time_s=0.5, user_tokens=1, reply_tokens=1, seed=6)
    assert_allclose((s.arrival_s[-1] - s.arrival_s[0]) / 2000, 0.5, rtol=0.1)
