"""Popularity of a catalogue under Zipf's law and the hit ratio of caches of its items: the share of the top
k items (a static cache), the exponent that gives a top share, a sampler of ranks, and the LRU hit ratio by
Che's approximation (on a binned catalogue for millions of items)."""

from __future__ import annotations

import numpy as np

from model.checks import check_choice, check_int, check_nonnegative, check_number

class ZipfSampler:
    """Draws 0-based ranks r in [0, n) with P(r) ∝ (r + 1) ** -s by inverse CDF (exact, vectorised)."""

    def __init__(self, n: int, s: float):
        self.n = check_int("n", n, low=1)
        self.s = check_nonnegative("s", s)
        w = np.arange(1, n + 1, dtype=np.float64) ** -s
        self.cdf = np.cumsum(w)
        self.cdf /= self.cdf[-1]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` ranks (int64)."""
        return np.minimum(np.searchsorted(self.cdf, rng.random(size), side="right"), self.n - 1).astype(np.int64)


def zipf_pmf(n: int, s: float) -> np.ndarray:
    """Probabilities of ranks 1..n under Zipf's law with exponent ``s``: p(r) = r^-s / Σ k^-s."""
    check_int("n", n, low=1)
    check_nonnegative("s", s)
    w = np.arange(1, n + 1, dtype=np.float64) ** -s
    return w / w.sum()


def zipf_top_share(n: int, k: int, s: float) -> float:
    """Share of requests drawn by the ``k`` most popular of ``n`` items under Zipf(``s``): H(k, s) / H(n, s)
    (generalised harmonic numbers). This is the hit ratio of a static cache holding exactly the top k."""
    check_int("k", k, low=0, high=n)
    if k == 0:
        return 0.0
    return float(zipf_pmf(n, s)[:k].sum())


def zipf_exponent_for_top_share(n: int, k: int, share: float, *, tol: float = 1e-9) -> float:
    """The Zipf exponent s at which the top ``k`` of ``n`` items draw ``share`` of requests (the top share
    increases with s from k/n at s = 0 towards 1); bisection.

    Raises
    ------
    ParameterError
        if ``share`` is not in (k/n, 1).
    """
    check_int("n", n, low=2)
    check_int("k", k, low=1, high=n - 1)
    check_number("share", share, low=k / n, high=1.0, low_inclusive=False, high_inclusive=False)
    ranks = np.arange(1, n + 1, dtype=np.float64)
    log_r = np.log(ranks)

    def top(s: float) -> float:
        w = np.exp(-s * log_r)
        return float(w[:k].sum() / w.sum())

    lo, hi = 0.0, 1.0
    while top(hi) < share:
        hi *= 2.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if top(mid) < share else (lo, mid)
    return 0.5 * (lo + hi)


def che_lru_hit_ratio(pmf: np.ndarray, capacity: float, counts: np.ndarray | None = None) -> float:
    """Hit ratio of an LRU cache of ``capacity`` equal-size items under independent requests with
    probabilities ``pmf`` (Che, Tung & Wang, IEEE JSAC 20(7), 2002): the characteristic time T solves
    Σ (1 − e^(−p_i T)) = capacity, and the hit ratio is Σ p_i (1 − e^(−p_i T)).

    ``counts`` (optional) gives how many items share each probability (see :func:`binned_zipf`), so that a
    5M-item catalogue costs a few thousand terms. T is found by Newton's method from T = capacity: the left
    side is concave and increasing in T, so the iterates rise monotonically to the root.

    Returns 1 if the cache holds every item."""
    p = np.asarray(pmf, dtype=np.float64)
    m = np.ones_like(p) if counts is None else np.asarray(counts, dtype=np.float64)
    check_nonnegative("capacity", capacity)
    n_items = float(m[p > 0].sum())
    if capacity >= n_items:
        return 1.0
    if capacity == 0:
        return 0.0
    t = float(capacity)
    for _ in range(200):
        e = np.exp(-p * t)
        f = float(np.sum(m * -np.expm1(-p * t))) - capacity
        slope = float(np.sum(m * p * e))
        step = -f / slope if slope > 0 else 0.0
        t += step
        if abs(step) <= 1e-12 * t:
            break
    return float(np.sum(m * p * -np.expm1(-p * t)))


def binned_zipf(n: int, s: float, *, exact_head: int = 1000, bins: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Zipf(``s``) over ``n`` ranks compressed for :func:`che_lru_hit_ratio`: the first ``exact_head`` ranks
    one by one, the rest in ``bins`` geometric rank bins, each with its mean probability and its count.
    Returns (probabilities, counts); Σ counts × probabilities = 1."""
    check_int("n", n, low=1)
    pmf = zipf_pmf(n, s)
    head = min(exact_head, n)
    if n <= head + bins:
        return pmf, np.ones(n)
    edges = np.unique(np.geomspace(head, n, bins + 1).astype(np.int64))
    edges[0], edges[-1] = head, n
    cum = np.concatenate([[0.0], np.cumsum(pmf)])
    mass = cum[edges[1:]] - cum[edges[:-1]]
    width = np.diff(edges).astype(np.float64)
    return np.concatenate([pmf[:head], mass / width]), np.concatenate([np.ones(head), width])


#: Cache policies of :func:`cache_hit_ratio`.
CACHE_POLICIES = ("static", "lru")


def cache_hit_ratio(n: int, capacity: int, s: float, policy: str = "static") -> float:
    """Hit ratio of a cache of ``capacity`` of ``n`` equal-size items under independent Zipf(``s``) requests:
    ``"static"`` pins the top ``capacity`` (:func:`zipf_top_share`), ``"lru"`` evicts the least recently used
    (:func:`che_lru_hit_ratio` on :func:`binned_zipf`)."""
    check_choice("policy", policy, CACHE_POLICIES)
    c = check_int("capacity", capacity, low=0, high=n)
    if policy == "static":
        return zipf_top_share(n, c, s)
    probs, counts = binned_zipf(n, s)
    return che_lru_hit_ratio(probs, c, counts)
