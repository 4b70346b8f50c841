"""model.tiering.reuse: ideal hit ratios against the plain-Python reference; turns past the window by hand."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from model.tiering import ideal_reuse_measures, turns_past_window_share, workload_summary
from model.checks import ParameterError
from model.workload import CharacterChatParams, character_chat_trace
from tiering_refs import random_trace, reference_ideal


def test_summary_and_measures_equal_reference():
    t = random_trace(8)
    assert_allclose(workload_summary(t)["ideal_hit_ratio"], reference_ideal(t), rtol=0, atol=1e-12)
    m = ideal_reuse_measures(t).set_index("measure")["ideal_hit_ratio"]
    assert_allclose(m.iloc[0], reference_ideal(t), rtol=0, atol=1e-12)
    assert len(m) == 5 and ((m >= 0) & (m <= 1)).all()


def test_turns_past_window_share_by_hand():
    p = CharacterChatParams(n_characters=500, popular_characters=50, concurrent_sessions=20, mean_turns=10,
                            session_minutes=2, duration_s=200)
    t = character_chat_trace(p, seed=3)
    turn = pd.Series(t.session).groupby(t.session).cumcount().to_numpy()
    for w in (0, 3, 10):
        assert turns_past_window_share(t, w) == np.mean(turn > w)
    assert turns_past_window_share(t, 0) == 1 - len(np.unique(t.session)) / t.n_requests
    with pytest.raises(ParameterError, match="trace"):
        turns_past_window_share(random_trace(1), 3)


def test_session_node_reuse_is_the_replay_of_one_session_routed_node():
    from model.tiering import default_config
    from model.tiering.reuse import session_node_reuse
    from model.tiering.streamed_fleet import simulate_chat_fleet

    got = session_node_reuse(50, model="llama-2-70b", gpu="a100-80gb", duration_s=300)
    node = default_config(model="llama-2-70b", gpu="a100-80gb", n_instances=1)
    want = simulate_chat_fleet(CharacterChatParams(concurrent_sessions=50, duration_s=300), node, 1, "session").summary()
    for key in ("requests", "hit_ratio", "prefill_tokens_saved_share", "hit_ratio_dram"):
        assert got[key] == want[key]
    assert 0 < got["prefill_tokens_saved_share"] < 1


def test_session_node_reuse_refuses_a_node_whose_sessions_send_nothing():
    from model.tiering.reuse import session_node_reuse

    # one session starting within 300 s sends no request there (it divided by zero in the fleet chapter)
    with pytest.raises(ParameterError, match="sessions_per_node") as e:
        session_node_reuse(1, model="llama-2-70b", gpu="a100-80gb", duration_s=300)
    assert e.value.name == "sessions_per_node" and "\n" not in str(e.value)
