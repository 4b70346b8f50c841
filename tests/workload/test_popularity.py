"""Tests of model.workload.popularity: Zipf shares against harmonic numbers summed by hand, the exponent
behind the case study's 85%, the sampler, Che's LRU approximation against a simulated LRU."""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import ParameterError
from model.workload import (ZipfSampler, binned_zipf, cache_hit_ratio, che_lru_hit_ratio,
                            zipf_exponent_for_top_share, zipf_pmf, zipf_top_share)


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


def test_binned_zipf_preserves_mass_and_che():
    p, c = binned_zipf(200_000, 1.0, exact_head=100, bins=500)
    assert_allclose((p * c).sum(), 1.0, rtol=1e-12)
    assert c.sum() == 200_000
    exact = che_lru_hit_ratio(zipf_pmf(200_000, 1.0), 5_000)
    assert_allclose(che_lru_hit_ratio(p, 5_000, c), exact, atol=1e-5)


def _harmonic(n: int, s: float) -> float:
    """Generalised harmonic number H(n, s) = Σ_{k=1..n} k^-s, summed term by term in Python (math.fsum)."""
    return math.fsum(k ** -s for k in range(1, n + 1))


@pytest.mark.parametrize("n, k", [(1000, 10), (20_000, 300)])
def test_top_share_for_s1_is_ratio_of_harmonic_numbers(n, k):
    assert_allclose(zipf_top_share(n, k, 1.0), _harmonic(k, 1.0) / _harmonic(n, 1.0), rtol=1e-12)
    # H(n) ≈ ln n + γ + 1/(2n) − 1/(12n²) (Euler–Maclaurin): the closed form of the same share
    gamma = 0.5772156649015329
    h = lambda m: math.log(m) + gamma + 1 / (2 * m) - 1 / (12 * m * m)  # noqa: E731
    assert_allclose(zipf_top_share(n, k, 1.0), h(k) / h(n), rtol=1e-5)


def test_exponent_behind_85_percent_of_sessions_in_top_100k():
    # L7: the top 100K of 5M characters draw 85% of the sessions only if Zipf s ≈ 1.072
    n, k = 5_000_000, 100_000
    s = zipf_exponent_for_top_share(n, k, 0.85)
    assert_allclose(s, 1.072, atol=5e-4)
    brute = _harmonic(k, s) / _harmonic(n, s)
    assert_allclose(brute, 0.85, atol=1e-6)
    # classic Zipf (s = 1) gives the top 100K about 76%, not 85%
    assert_allclose(_harmonic(k, 1.0) / _harmonic(n, 1.0), zipf_top_share(n, k, 1.0), rtol=1e-10)
    assert 0.75 < zipf_top_share(n, k, 1.0) < 0.77


def test_exponent_is_monotone_and_inverts_the_share():
    for share in (0.3, 0.6, 0.9):
        s = zipf_exponent_for_top_share(10_000, 100, share)
        assert_allclose(_harmonic(100, s) / _harmonic(10_000, s), share, atol=1e-7)
    assert zipf_exponent_for_top_share(10_000, 100, 0.3) < zipf_exponent_for_top_share(10_000, 100, 0.6)


def test_cache_hit_ratio_policies():
    n, c = 50_000, 500
    for s in (0.6, 1.0, 1.2):
        static = cache_hit_ratio(n, c, s, "static")
        lru = cache_hit_ratio(n, c, s, "lru")
        assert_allclose(static, _harmonic(c, s) / _harmonic(n, s), rtol=1e-10)
        assert 0 < lru < static          # LRU never beats pinning the top c (independent requests)
    assert_allclose(cache_hit_ratio(n, c, 1.0, "lru"), che_lru_hit_ratio(zipf_pmf(n, 1.0), c), atol=1e-5)
    with pytest.raises(ParameterError, match="policy"):
        cache_hit_ratio(n, c, 1.0, "fifo")
