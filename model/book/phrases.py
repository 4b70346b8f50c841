"""Words for the tiering chapter's computed sentences: ratios, capacities and hit-ratio differences as a
reader says them (every word computed from the numbers, so the prose follows the parameters)."""

from __future__ import annotations

import math


def ratio_verb(ratio: float) -> str:
    """What a quantity multiplied by ``ratio`` does, as an intransitive verb: ``"doubles"``, ``"triples"``,
    ``"quadruples"`` (within 10%), ``"barely changes"`` (within 2%), else ``"rises by 80%"`` or
    ``"falls by 20%"``."""
    if not math.isfinite(ratio):
        return "grows without bound"
    for target, word in ((2.0, "doubles"), (3.0, "triples"), (4.0, "quadruples")):
        if abs(ratio - target) <= 0.1 * target:
            return word
    if abs(ratio - 1) <= 0.02:
        return "barely changes"
    if ratio > 1:
        return f"rises by {100 * (ratio - 1):,.0f}%"
    return f"falls by {100 * (1 - ratio):.0f}%"


def join_and(items) -> str:
    """``["a"]`` → ``"a"``, ``["a", "b"]`` → ``"a and b"``, ``["a", "b", "c"]`` → ``"a, b and c"``."""
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def as_many(ratio: float, noun: str = "requests") -> str:
    """``ratio`` of a quantity as "N times as many requests", "about a third more requests", "30% more
    requests", "about as many requests" (within 5%), "20% fewer requests"."""
    if not math.isfinite(ratio):
        return f"unboundedly more {noun}"
    if ratio >= 1.5:
        return f"{ratio:.2g} times as many {noun}"
    if abs(ratio - 1) <= 0.05:
        return f"about as many {noun}"
    for share, words in ((1 / 3, "a third"), (0.5 - 1e-9, "half"), (0.25, "a quarter")):
        if abs((ratio - 1) - share) <= 0.03:
            return f"about {words} more {noun}"
    if ratio > 1:
        return f"{100 * (ratio - 1):.0f}% more {noun}"
    return f"{100 * (1 - ratio):.0f}% fewer {noun}"


def capacity_text(gb: float) -> str:
    """A capacity in GB (1e9 bytes) as "256 GB", "1 TB", "7.7 TB", "3.3 PB" (3 significant digits)."""
    if not math.isfinite(gb):
        return "unbounded"
    for unit, scale in (("PB", 1e6), ("TB", 1e3)):
        if gb >= scale * 0.995:
            return f"{gb / scale:,.3g} {unit}"
    return f"{gb:,.3g} GB"


def points(difference: float) -> str:
    """A hit-ratio difference (fraction) in percentage points: "under one point", "1.5 points"."""
    p = 100 * abs(difference)
    if p < 1:
        return "under one point"
    return f"{p:.2g} points"
