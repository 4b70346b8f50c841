"""model.book.phrases: the sentences of the fleet_cache chapter, against hand-written text for each branch."""
import pandas as pd

from model.book.phrases import (beyond_hbm_text, covered_text, first_points_text, net_saving_verb, ordinal_word,
                                percent_range, prefix_route_finding, route_gb_text, route_hit_text, route_hits_text,
                                scales_text, side_of, smaller_change_words, times_range, truncated_nodes_text, usd_text)


def test_ordinal_word():
    assert [ordinal_word(n) for n in (1, 2, 3, 4, 11)] == ["first", "second", "third", "4th", "11th"]


def test_scales_text():
    assert scales_text([10000, 100000, 1000000]) == "10,000, 100,000, 1,000,000"
    assert scales_text([200]) == "200"
    assert scales_text([]) == "none"


def test_prefix_route_finding_each_branch():
    assert prefix_route_finding(2, 2, 3) == "Prefix routing on the shared first blocks sends every request to one node"
    assert prefix_route_finding(3, 2, 3) == (
        "Prefix routing on the persona keeps a session on one node (its prompts share the persona) but piles the "
        "popular characters on their nodes")
    assert prefix_route_finding(4, 2, 3) == (
        "Prefix routing on a block past the persona follows the session's own history until its window slides")


HITS = pd.Series({"round-robin": 0.404, "session": 0.806, "global": 0.9})


def test_route_hits_text_follows_the_routes_given():
    assert route_hits_text(HITS, ["session", "round-robin"]) == "session 81%; round-robin 40%"


def test_route_hit_text_run_and_not_run():
    assert route_hit_text(HITS, "global") == "90%"
    assert route_hit_text(HITS, "prefix") == "n/a"


def test_times_range_many_one_none():
    assert times_range(pd.Series([3.0, 1.5, 2.0])) == "×1.5 to ×3"
    assert times_range(pd.Series([2.5])) == "×2.5"
    assert times_range(pd.Series([], dtype=float)) == "n/a"


def test_truncated_nodes_text_some_and_none():
    analysed = pd.DataFrame({"sessions": [10000, 100000, 100000], "route": ["session", "session", "global"],
                             "truncated": [False, True, True]})
    assert truncated_nodes_text(analysed, 5e6) == (
        "The node analysed for session at 100,000 sessions, global at 100,000 sessions received more requests "
        "than are kept (the first 5M block lookups of its run are analysed).")
    assert truncated_nodes_text(analysed.assign(truncated=False), 5e6) == ""


def test_usd_text_millions_and_below():
    assert usd_text(2_345_678.0) == "$2.35M"
    assert usd_text(-1_500_000.0) == "$-1.50M"
    assert usd_text(999_999.4) == "$999,999"
    assert usd_text(-1234.0) == "$-1,234"


def test_net_saving_verb():
    assert net_saving_verb(10.0) == "saves"
    assert net_saving_verb(0.0) == "costs more than it saves:"
    assert net_saving_verb(-5.0) == "costs more than it saves:"


def test_beyond_hbm_text_within_and_beyond():
    assert beyond_hbm_text(0.2, 0.2, 1234.4) == "all within the 1,234 GB of HBM left for KV"
    assert beyond_hbm_text(512.0, 2048.0, 40.0) == "512 GB of it DRAM and 2,048 GB SSD beyond HBM"


def test_percent_range():
    assert percent_range(pd.Series([0.9, 0.404, 0.85])) == "40% to 90%"
    # a node of one session may look up no block of a kind: its share is NaN, not a "nan%" in the text
    assert percent_range(pd.Series([0.9, float("nan"), 0.5])) == "50% to 90%"
    assert percent_range(pd.Series([float("nan")])) == "no measurable share (none was looked up)"


def test_side_of_leaves_out_shares_of_no_lookup():
    assert side_of(pd.Series([0.9, float("nan")]), 0.85) == "above"
    assert side_of(pd.Series([float("nan")]), 0.85) == "not comparable with"


def test_side_of_each_branch():
    assert side_of(pd.Series([0.9, 0.95]), 0.85) == "above"
    assert side_of(pd.Series([0.5, 0.6]), 0.85) == "below"
    assert side_of(pd.Series([0.5, 0.9]), 0.85) == "on both sides of"
    assert side_of(pd.Series([0.85, 0.9]), 0.85) == "on both sides of"


def test_smaller_change_words():
    assert smaller_change_words(0.9, 0.5) == ("but", "only ")
    assert smaller_change_words(0.5, 0.9) == ("and", "")
    assert smaller_change_words(1.2, 0.8) == ("and", "")


def test_covered_text():
    assert covered_text(pd.Series([True, False, True])) == "2 of 3"
    assert covered_text(pd.Series([], dtype=bool)) == "none"


def test_first_points_text():
    assert first_points_text(pd.Series([0.42, -3.0])) == "+0.4"
    assert first_points_text(pd.Series([-1.25])) == "-1.2"
    assert first_points_text(pd.Series([], dtype=float)) == "n/a"


def test_route_gb_text_run_and_not_run():
    gb = pd.Series({"round-robin": 1234.4, "session": 56.0})
    assert route_gb_text(gb, "round-robin") == "1,234"
    assert route_gb_text(gb, "global") == "n/a"
