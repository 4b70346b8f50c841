"""model.book.phrases: the words follow the numbers."""
from model.book.phrases import as_many, capacity_text, join_and, points, ratio_verb


def test_ratio_verb():
    assert ratio_verb(0.36 / 0.18) == "doubles" and ratio_verb(3.1) == "triples"
    assert ratio_verb(1.01) == "barely changes" and ratio_verb(1.3) == "rises by 30%"
    assert ratio_verb(2.6) == "rises by 160%" and ratio_verb(0.8) == "falls by 20%"


def test_join_and():
    assert join_and(["a"]) == "a" and join_and(["a", "b"]) == "a and b" and join_and("abc") == "a, b and c"


def test_as_many():
    assert as_many(4 / 3) == "about a third more requests" and as_many(1.5) == "1.5 times as many requests"
    assert as_many(1.02) == "about as many requests" and as_many(1.12) == "12% more requests"
    assert as_many(0.7) == "30% fewer requests"


def test_capacity_and_points():
    assert capacity_text(256) == "256 GB" and capacity_text(1000) == "1 TB" and capacity_text(7680) == "7.68 TB"
    assert capacity_text(3.3e6) == "3.3 PB"
    assert points(0.004) == "under one point" and points(0.015) == "1.5 points"
