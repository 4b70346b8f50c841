"""model.workload.popularity by hand: Zipf over two and three items in closed form (harmonic sums of 1, 1/2, 1/3),
the sampler's inverse CDF at its steps, the exponent for a top share of two items (s = log2(share / (1 − share))),
Che's LRU approximation where its characteristic time solves a quadratic or a cubic, the binned catalogue's edges
counted by hand, and every refusal named as typed."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.workload.popularity import (CACHE_POLICIES, ZipfSampler, binned_zipf, cache_hit_ratio, che_lru_hit_ratio,
                                       zipf_exponent_for_top_share, zipf_pmf, zipf_top_share)

GOLDEN = (math.sqrt(5) - 1) / 2     # the root in (0, 1) of x² + x − 1 = 0


def _cubic_root():
    """The real root of x³ + x − 1 = 0 by Cardano's formula: x = ∛(1/2 + √(1/4 + 1/27)) + ∛(1/2 − √(1/4 + 1/27))."""
    d = math.sqrt(0.25 + 1 / 27)
    return math.cbrt(0.5 + d) + math.cbrt(0.5 - d)


class FixedDraws:
    """A stand-in generator whose uniform draws are given."""

    def __init__(self, u):
        self.u = np.asarray(u, dtype=np.float64)

    def random(self, size):
        assert size == len(self.u)
        return self.u


def test_sampler_inverse_cdf_at_its_steps():
    # s = 0 over 3 items: CDF 1/3, 2/3, 1; a draw equal to a step goes to the next rank (side="right"),
    # a draw of 1 would fall past the last rank and is kept at rank 2
    z = ZipfSampler(3, 0.0)
    assert (z.n, z.s) == (3, 0.0)
    assert_allclose(z.cdf, [1 / 3, 2 / 3, 1.0], rtol=1e-15)
    r = z.sample(FixedDraws([0.0, 0.2, 1 / 3, 0.5, 2 / 3, 0.99, 1.0]), 7)
    assert r.tolist() == [0, 0, 1, 1, 2, 2, 2]
    assert r.dtype == np.int64


def test_sampler_cdf_for_s1():
    # weights 1, 1/2, 1/3 sum to 11/6: CDF 6/11, 9/11, 1
    assert_allclose(ZipfSampler(3, 1.0).cdf, [6 / 11, 9 / 11, 1.0], rtol=1e-14)
    assert ZipfSampler(1, 2.0).sample(FixedDraws([0.5]), 1).tolist() == [0]


@pytest.mark.parametrize("n, s, name", [(0, 1.0, "n"), (2, -0.5, "s")])
def test_sampler_refusals(n, s, name):
    with pytest.raises(ParameterError) as err:
        ZipfSampler(n, s)
    assert err.value.name == name


def test_pmf_and_top_share_of_three_items():
    assert_allclose(zipf_pmf(3, 1.0), [6 / 11, 3 / 11, 2 / 11], rtol=1e-14)
    assert_allclose(zipf_pmf(1, 3.0), [1.0], rtol=0)
    assert zipf_top_share(3, 0, 1.0) == 0.0
    assert_allclose(zipf_top_share(3, 1, 1.0), 6 / 11, rtol=1e-14)
    assert_allclose(zipf_top_share(3, 2, 1.0), 9 / 11, rtol=1e-14)
    assert_allclose(zipf_top_share(3, 3, 1.0), 1.0, rtol=1e-14)
    # s = 2: weights 1, 1/4, 1/9 sum to 49/36
    assert_allclose(zipf_top_share(3, 1, 2.0), 36 / 49, rtol=1e-14)


@pytest.mark.parametrize("call, name", [(lambda: zipf_pmf(0, 1.0), "n"), (lambda: zipf_pmf(3, -1.0), "s"),
                                        (lambda: zipf_top_share(3, 4, 1.0), "k"),
                                        (lambda: zipf_top_share(3, -1, 1.0), "k")])
def test_pmf_and_top_share_refusals(call, name):
    with pytest.raises(ParameterError) as err:
        call()
    assert err.value.name == name


@pytest.mark.parametrize("share", [0.6, 0.8, 0.9, 0.99])
def test_exponent_for_the_top_one_of_two(share):
    # top 1 of 2 items draws 1 / (1 + 2^-s): s = log2(share / (1 − share)); 0.6 → 0.585 (below the first
    # bracket [0, 1]), 0.8 → exactly 2 (the doubled bracket's edge), 0.99 → 6.63 (three doublings)
    s = zipf_exponent_for_top_share(2, 1, share)
    assert_allclose(s, math.log2(share / (1 - share)), atol=1e-8)


def test_exponent_tolerance():
    # with tol = 0.01 the bracket stops at width ≤ 0.01 and its midpoint is within 0.005 of log2(9) = 3.17
    s = zipf_exponent_for_top_share(2, 1, 0.9, tol=0.01)
    assert abs(s - math.log2(9)) <= 0.005
    assert abs(s - math.log2(9)) > 1e-6       # a coarse answer, not the default's 1e-9


@pytest.mark.parametrize("n, k, share, name", [
    (1, 1, 0.9, "n"),               # one item has no top share below 1
    (3, 0, 0.9, "k"), (3, 3, 0.9, "k"),
    (4, 1, 0.25, "share"),          # k/n = 1/4 is what s = 0 gives: not above it
    (4, 1, 1.0, "share"),
])
def test_exponent_refusals(n, k, share, name):
    with pytest.raises(ParameterError) as err:
        zipf_exponent_for_top_share(n, k, share)
    assert err.value.name == name


def test_exponent_edges_of_its_domain_are_accepted():
    # n = 2, k = 1 (its smallest n and largest k) and a share just above k/n: s = log2(0.51 / 0.49) = 0.0577
    assert_allclose(zipf_exponent_for_top_share(2, 1, 0.51), math.log2(0.51 / 0.49), atol=1e-8)
    # k = n − 1 of three items: the top two of (1, 2^-s, 3^-s) draw 0.95; bisection's answer checked by its share
    s = zipf_exponent_for_top_share(3, 2, 0.95)
    w = [1, 2 ** -s, 3 ** -s]
    assert_allclose((w[0] + w[1]) / sum(w), 0.95, atol=1e-8)


def test_che_two_equal_items():
    # 2 (1 − e^(−T/2)) = 1 gives e^(−T/2) = 1/2: each item is in the cache half the time, hit ratio 1/2
    assert_allclose(che_lru_hit_ratio(np.array([0.5, 0.5]), 1), 0.5, rtol=1e-9)
    # the same catalogue as one probability held by 2 items
    assert_allclose(che_lru_hit_ratio(np.array([0.5]), 1, np.array([2])), 0.5, rtol=1e-9)


def test_che_two_items_of_zipf_1():
    # p = (2/3, 1/3), x = e^(−T/3): (1 − x²) + (1 − x) = 1, so x² + x − 1 = 0, x = (√5 − 1)/2;
    # hit ratio = 2/3 (1 − x²) + 1/3 (1 − x) = 2/3 x + 1/3 (1 − x) = (1 + x) / 3
    assert_allclose(che_lru_hit_ratio(np.array([2 / 3, 1 / 3]), 1), (1 + GOLDEN) / 3, rtol=1e-9)
    assert_allclose(cache_hit_ratio(2, 1, 1.0, "lru"), (1 + GOLDEN) / 3, rtol=1e-9)


def test_che_cubic():
    # p = (3/4, 1/4), x = e^(−T/4): (1 − x³) + (1 − x) = 1, so x³ + x − 1 = 0;
    # hit ratio = 3/4 (1 − x³) + 1/4 (1 − x) = 3/4 x + 1/4 − 1/4 x = 1/4 + x/2
    x = _cubic_root()
    assert_allclose(che_lru_hit_ratio(np.array([0.75, 0.25]), 1), 0.25 + x / 2, rtol=1e-9)
    # four items of 1/4 as counts, cache of 2: e^(−T/4) = 1/2, hit ratio 4 × 1/4 × 1/2
    assert_allclose(che_lru_hit_ratio(np.array([0.25]), 2, np.array([4])), 0.5, rtol=1e-9)


def test_che_edges():
    p = np.array([0.5, 0.5, 0.0])
    # items of probability 0 are never requested and not counted: 2 items, a cache of 2 holds them all
    assert che_lru_hit_ratio(p, 2) == 1.0
    assert che_lru_hit_ratio(np.array([0.5, 0.5]), 3) == 1.0
    assert che_lru_hit_ratio(np.array([0.5, 0.5]), 0) == 0.0
    assert_allclose(che_lru_hit_ratio(p, 1), 0.5, rtol=1e-9)
    with pytest.raises(ParameterError) as err:
        che_lru_hit_ratio(p, -1)
    assert err.value.name == "capacity"


def test_che_fractional_capacity():
    # two equal items, a cache of 1.5 items: 2 (1 − e^(−T/2)) = 1.5, e^(−T/2) = 1/4, hit ratio 3/4
    assert_allclose(che_lru_hit_ratio(np.array([0.5, 0.5]), 1.5), 0.75, rtol=1e-9)


def test_binned_catalogue_edges_by_hand():
    # 10 ranks, 2 exact, 2 geometric bins: geomspace(2, 10, 3) = 2, √20 = 4.47, 10 → edges 2, 4, 10:
    # ranks 3–4 (2 items) and 5–10 (6 items), each bin at its mean probability
    h = sum(1 / r for r in range(1, 11))
    p, c = binned_zipf(10, 1.0, exact_head=2, bins=2)
    assert_allclose(p, [1 / h, 1 / (2 * h), (1 / 3 + 1 / 4) / (2 * h), sum(1 / r for r in range(5, 11)) / (6 * h)],
                    rtol=1e-12)
    assert c.tolist() == [1, 1, 2, 6]
    # 5 ranks, 2 exact, 2 bins: geomspace(2, 5, 3) = 2, 3.16, 5 → edges 2, 3, 5: rank 3 alone, ranks 4–5
    p, c = binned_zipf(5, 0.0, exact_head=2, bins=2)
    assert_allclose(p, [0.2, 0.2, 0.2, 0.2], rtol=1e-12)
    assert c.tolist() == [1, 1, 1, 2]


def test_binned_catalogue_small_enough_is_exact():
    # n = exact_head + bins: every rank kept as it is
    p, c = binned_zipf(4, 1.0, exact_head=2, bins=2)
    assert_allclose(p, np.array([12, 6, 4, 3]) / 25, rtol=1e-14)      # 1, 1/2, 1/3, 1/4 over 25/12
    assert c.tolist() == [1, 1, 1, 1]
    # a head larger than the catalogue: all of it exact
    p, c = binned_zipf(3, 1.0, exact_head=10, bins=0)
    assert_allclose(p, [6 / 11, 3 / 11, 2 / 11], rtol=1e-14)
    assert c.tolist() == [1, 1, 1]


def test_binned_catalogue_defaults():
    # 1,000 exact ranks and 4,000 bins: 5,000 ranks are kept whole, 5,001 are binned (fewer terms)
    assert len(binned_zipf(5000, 1.0)[0]) == 5000
    p, c = binned_zipf(5001, 1.0)
    assert len(p) < 5001 and c.sum() == 5001
    assert c[:1000].tolist() == [1] * 1000
    assert_allclose((p * c).sum(), 1.0, rtol=1e-12)
    with pytest.raises(ParameterError) as err:
        binned_zipf(0, 1.0)
    assert err.value.name == "n"


def test_cache_hit_ratio_static_by_hand():
    assert CACHE_POLICIES == ("static", "lru")
    # static is the default: the top 1 of 2 under Zipf(1) draws 1 / (1 + 1/2)
    assert_allclose(cache_hit_ratio(2, 1, 1.0), 2 / 3, rtol=1e-14)
    assert_allclose(cache_hit_ratio(3, 2, 1.0, "static"), 9 / 11, rtol=1e-14)
    assert cache_hit_ratio(3, 0, 1.0, "lru") == 0.0
    assert cache_hit_ratio(3, 3, 1.0, "lru") == 1.0


@pytest.mark.parametrize("capacity, policy, name", [(-1, "static", "capacity"), (4, "lru", "capacity"),
                                                    (1, "fifo", "policy")])
def test_cache_hit_ratio_refusals(capacity, policy, name):
    with pytest.raises(ParameterError) as err:
        cache_hit_ratio(3, capacity, 1.0, policy)
    assert err.value.name == name


def test_integer_exponents():
    # an exponent given as an int: ranks are raised to −s as floats (integers to a negative power would fail)
    assert_allclose(zipf_pmf(3, 2), np.array([36, 9, 4]) / 49, rtol=1e-14)     # 1, 1/4, 1/9 over 49/36
    assert_allclose(ZipfSampler(3, 2).cdf, [36 / 49, 45 / 49, 1.0], rtol=1e-14)
    p, c = binned_zipf(1, 2)
    assert p.tolist() == [1.0] and c.tolist() == [1]


@pytest.mark.parametrize("share, tol, want", [
    # the first bracket is [0, 1]: for a root below 1 (0.6 → 0.585) a tolerance of 1 or more returns its midpoint
    (0.6, 1.0, 0.5), (0.6, 2.0, 0.5),
    # top 1 of 2 at s = 1 draws 1/(1 + 1/2) = 2/3 exactly: not below the share, so the bracket stays [0, 1]
    (2 / 3, 2.0, 0.5),
    # 0.75 → s = log2 3 = 1.58: top(1) = 2/3 < 0.75 doubles the bracket to [0, 2], top(2) = 0.8 stops it
    (0.75, 2.0, 1.0),
])
def test_exponent_brackets_by_hand(share, tol, want):
    assert zipf_exponent_for_top_share(2, 1, share, tol=tol) == want


def test_che_nearly_full_cache():
    # two equal items, a cache of 1.99: e^(−T/2) = 1 − 1.99/2 = 0.005, hit ratio 1 − 0.005 (Newton needs the
    # true slope here: the root sits where the left side is nearly flat)
    assert_allclose(che_lru_hit_ratio(np.array([0.5, 0.5]), 1.99), 0.995, rtol=1e-9)


def test_lru_on_a_binned_catalogue():
    # 10,000 equal items (s = 0) are binned (more than 1,000 + 4,000 ranks); every item has the same
    # probability, so n (1 − e^(−T/n)) = C gives each item C/n of the time in cache: hit ratio 2,500/10,000
    assert_allclose(cache_hit_ratio(10_000, 2_500, 0.0, "lru"), 0.25, rtol=1e-9)


def test_che_computes_in_double_precision():
    # single-precision probabilities (0.5 is exact in float32) give the double-precision answer 1 − 0.005
    assert_allclose(che_lru_hit_ratio(np.array([0.5, 0.5], dtype=np.float32), 1.99), 0.995, rtol=1e-12)


def test_lru_on_a_binned_catalogue_counts_each_bin_s_items():
    # 10,000 equal items are binned into at most 1,000 + 4,000 terms: a cache of 7,500 holds more items than
    # there are terms, but only 3/4 of the items
    assert_allclose(cache_hit_ratio(10_000, 7_500, 0.0, "lru"), 0.75, rtol=1e-9)
