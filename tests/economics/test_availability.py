import math

import pytest
from numpy.testing import assert_allclose

from model.economics.availability import (OutageClass, achieved_availability, availability_from_downtime,
                                capacity_to_survive_region_loss, downtime_from_availability, downtime_table,
                                events_implied, k_of_n_availability, percent_rounding_tolerance,
                                regions_survivable, spare_share_to_survive_region_loss)
from model.checks import ParameterError


def test_sla_downtime_round_trip():
    # 99.95% of 8,760 h leaves 4.38 h (the case study's own pair)
    assert_allclose(downtime_from_availability(0.9995), 4.38, rtol=1e-12)
    assert_allclose(availability_from_downtime(4.38), 0.9995, rtol=1e-12)
    for a in (0.9, 0.99, 0.999, 0.99999):
        assert_allclose(availability_from_downtime(downtime_from_availability(a)), a, rtol=1e-12)


def test_outages_add_up_to_the_stated_record():
    planned = OutageClass("planned", 12, 1.0)
    unplanned = OutageClass("unplanned", 3, 2.0)
    assert_allclose(planned.availability(), 1 - 12 / 8760)            # 99.863%
    assert_allclose(unplanned.availability(), 1 - 6 / 8760)           # 99.932%
    assert_allclose(achieved_availability([planned, unplanned]), 1 - 18 / 8760)  # 99.795%
    # 99.97% allows 2.628 h: 1.31 two-hour incidents
    assert_allclose(events_implied(0.9997, 2.0), 0.0003 * 8760 / 2)


def test_rounding_tolerance_separates_second_decimals():
    tol = percent_rounding_tolerance(99.86)
    assert abs(99.863 - 99.86) / 99.86 <= tol
    assert abs(99.932 - 99.97) / 99.97 > percent_rounding_tolerance(99.97)


def test_region_loss_capacity_closed_form():
    # three equal regions: survivors (2 of 3) must carry all -> 1.5x
    assert_allclose(capacity_to_survive_region_loss([1 / 3] * 3), 1.5)
    # a dominant region forces 1 + its share
    assert_allclose(capacity_to_survive_region_loss([0.7, 0.2, 0.1]), 1.7)
    # brute force on the case study's shares: minimise total s.t. c_i >= s_i, total - c_k >= 1
    shares = [0.45, 0.25, 0.30]
    best = math.inf
    grid = [i / 40 for i in range(0, 49)]
    for c0 in grid:
        for c1 in grid:
            for c2 in grid:
                c = (c0, c1, c2)
                if all(ci >= si - 1e-12 for ci, si in zip(c, shares)) and all(sum(c) - ck >= 1 - 1e-12 for ck in c):
                    best = min(best, sum(c))
    assert_allclose(capacity_to_survive_region_loss(shares), best, atol=1e-9)
    assert capacity_to_survive_region_loss(shares, regions_lost=0) == 1.0


def test_spares_and_survivable_regions():
    shares = [0.45, 0.25, 0.30]
    assert regions_survivable(shares, 0.10) == 0
    x = spare_share_to_survive_region_loss(shares)
    assert_allclose(x, 1 / 0.55 - 1)
    assert regions_survivable(shares, x) == 1
    assert regions_survivable(shares, x - 1e-3) == 0


def test_k_of_n_matches_binomial_sum():
    p = 0.99
    assert_allclose(k_of_n_availability(1, 1, p), p)
    assert_allclose(k_of_n_availability(1, 2, p), 1 - (1 - p) ** 2)
    assert_allclose(k_of_n_availability(2, 3, p), p ** 3 + 3 * p ** 2 * (1 - p))
    # more spares never lower availability
    vals = [k_of_n_availability(10, 10 + k, 0.95) for k in range(5)]
    assert all(b >= a for a, b in zip(vals, vals[1:]))


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="downtime_hours"):
        availability_from_downtime(-1)
    with pytest.raises(ParameterError, match="downtime_hours"):
        availability_from_downtime(9000)
    with pytest.raises(ParameterError, match="availability"):
        downtime_from_availability(1.2)
    with pytest.raises(ParameterError, match="sum to"):
        capacity_to_survive_region_loss([0.5, 0.4])
    with pytest.raises(ParameterError, match="availability_percent"):
        downtime_table([101])


def test_downtime_table_units():
    t = downtime_table([99.9])
    assert_allclose(t["downtime_h_per_year"].iloc[0], 8.76)
    assert_allclose(t["downtime_min_per_month"].iloc[0], 8.76 * 60 / 12)
