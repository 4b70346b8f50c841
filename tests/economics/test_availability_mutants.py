"""Tests of model.economics.availability written against realistic bugs (seconds divided by 60, a week without its
24 hours, a rounding tolerance of a full unit, boundaries): expectations worked out by hand."""
import pytest
from numpy.testing import assert_allclose

from model.economics.availability import (OutageClass, availability_from_downtime, capacity_to_survive_region_loss,
                                downtime_from_availability, downtime_table, events_implied,
                                failover_downtime_hours, hours_per_event_implied, k_of_n_availability,
                                percent_rounding_tolerance, regions_survivable, spare_share_to_survive_region_loss)
from model.checks import ParameterError


def test_failover_seconds_become_hours():
    # 12 incidents a year absorbed by a 30 s failover: 360 s = 0.1 h
    assert_allclose(failover_downtime_hours(12, 30), 0.1, rtol=1e-15)
    assert failover_downtime_hours(0, 30) == 0.0
    with pytest.raises(ParameterError, match=r"^incidents_per_year="):
        failover_downtime_hours(-1, 30)
    with pytest.raises(ParameterError, match=r"^failover_seconds="):
        failover_downtime_hours(1, -30)


def test_downtime_table_week_and_month_by_hand():
    # 99% of 8,760 h: 87.6 h a year; a month 87.6 x 60 / 12 = 438 min; a week 87.6 x 60 x 168 / 8,760 = 100.8 min
    t = downtime_table([99.0, 100.0])
    assert list(t.columns) == ["availability_percent", "downtime_h_per_year", "downtime_min_per_month",
                               "downtime_min_per_week"]
    assert_allclose(t["downtime_h_per_year"].iloc[0], 87.6, rtol=1e-12)
    assert_allclose(t["downtime_min_per_month"].iloc[0], 438.0, rtol=1e-12)
    assert_allclose(t["downtime_min_per_week"].iloc[0], 100.8, rtol=1e-12)
    assert t["availability_percent"].tolist() == [99.0, 100.0]
    assert t["downtime_h_per_year"].iloc[1] == 0.0
    assert_allclose(downtime_table([0.0])["downtime_h_per_year"].iloc[0], 8760.0)
    with pytest.raises(ParameterError, match=r"^availability_percent="):
        downtime_table([-0.1])


def test_rounding_tolerance_is_half_a_unit_of_the_last_decimal():
    # 99.86 stated with two decimals covers [99.855, 99.865]: ±0.005 points
    assert_allclose(percent_rounding_tolerance(99.86), 0.005 / 99.86, rtol=1e-12)
    assert_allclose(percent_rounding_tolerance(99.9, decimals=1), 0.05 / 99.9, rtol=1e-12)
    assert_allclose(percent_rounding_tolerance(50, decimals=0), 0.5 / 50, rtol=1e-12)
    # 99.867 rounds to 99.87, not 99.86: outside the tolerance
    assert abs(99.867 - 99.86) / 99.86 > percent_rounding_tolerance(99.86)
    with pytest.raises(ParameterError, match=r"^stated_percent="):
        percent_rounding_tolerance(0)
    with pytest.raises(ParameterError, match=r"^decimals="):
        percent_rounding_tolerance(99.9, decimals=-1)


def test_period_and_bounds():
    assert_allclose(availability_from_downtime(1, period_hours=100), 0.99, rtol=1e-15)
    assert availability_from_downtime(100, period_hours=100) == 0.0      # the whole period down is allowed
    assert availability_from_downtime(0) == 1.0
    assert_allclose(downtime_from_availability(0.99, period_hours=730), 7.3, rtol=1e-12)
    assert downtime_from_availability(1.0) == 0.0
    with pytest.raises(ParameterError, match=r"^period_hours="):
        availability_from_downtime(1, period_hours=0)
    with pytest.raises(ParameterError, match=r"^period_hours="):
        downtime_from_availability(0.9, period_hours=-1)
    with pytest.raises(ParameterError, match=r"at most the period \(100 h\)"):
        availability_from_downtime(101, period_hours=100)


def test_outage_class_and_implied_figures():
    o = OutageClass("incidents", 4, 1.5)
    assert o.hours_per_year == 6.0
    with pytest.raises(ParameterError, match=r"^incidents\.events_per_year="):
        OutageClass("incidents", -1, 1.0)
    with pytest.raises(ParameterError, match=r"^incidents\.hours_per_event="):
        OutageClass("incidents", 1, -1.0)
    # 99.9% allows 8.76 h a year: 4 events of 2.19 h
    assert_allclose(hours_per_event_implied(0.999, 4), 2.19, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^events_per_year="):
        hours_per_event_implied(0.999, 0)
    with pytest.raises(ParameterError, match=r"^hours_per_event="):
        events_implied(0.999, 0)


def test_region_loss_with_two_lost_and_bounds():
    # four equal regions, two lost: the two survivors carry all -> 4 / 2 = 2x
    assert_allclose(capacity_to_survive_region_loss([0.25] * 4, regions_lost=2), 2.0)
    # five regions, two lost, a dominant pair: 1 + 0.5 + 0.3 = 1.8 > 5 / 3
    assert_allclose(capacity_to_survive_region_loss([0.1, 0.5, 0.05, 0.3, 0.05], regions_lost=2), 1.8)
    assert_allclose(capacity_to_survive_region_loss([0.2] * 5, regions_lost=2), 5 / 3)
    with pytest.raises(ParameterError, match=r"^regions_lost="):
        capacity_to_survive_region_loss([0.5, 0.5], regions_lost=2)
    # spare for two lost of [0.4, 0.3, 0.2, 0.1]: survivors 0.3 -> x = 1 / 0.3 - 1
    assert_allclose(spare_share_to_survive_region_loss([0.1, 0.4, 0.2, 0.3], regions_lost=2), 1 / 0.3 - 1)
    assert spare_share_to_survive_region_loss([0.5, 0.5], regions_lost=0) == 0.0
    with pytest.raises(ParameterError, match=r"^regions_lost="):
        spare_share_to_survive_region_loss([0.5, 0.5], regions_lost=2)


def test_regions_survivable_boundaries():
    # four equal regions with 100% spare survive two losses (2 x 0.5 = 1 exactly), not three
    assert regions_survivable([0.25] * 4, 1.0) == 2
    assert regions_survivable([0.25] * 4, 3.0) == 3
    assert regions_survivable([0.25] * 4, 0.0) == 0
    # the largest region fails first: [0.1, 0.6, 0.3] with 50% spare: 1.5 x 0.4 < 1 -> none
    assert regions_survivable([0.1, 0.6, 0.3], 0.5) == 0
    assert regions_survivable([0.1, 0.6, 0.3], 1.5) == 1          # 2.5 x 0.4 = 1 exactly
    with pytest.raises(ParameterError, match=r"^spare_share="):
        regions_survivable([0.5, 0.5], -0.1)


def test_k_of_n_edges_and_a_larger_case():
    assert k_of_n_availability(0, 3, 0.5) == 1.0
    assert k_of_n_availability(2, 3, 1.0) == 1.0
    assert k_of_n_availability(2, 3, 0.0) == 0.0
    # 3 of 5 at p = 0.9: sum_{k=3..5} C(5,k) 0.9^k 0.1^(5-k) = 0.0729 + 0.32805 + 0.59049
    assert_allclose(k_of_n_availability(3, 5, 0.9), 0.0729 + 0.32805 + 0.59049, rtol=1e-12)
    assert_allclose(k_of_n_availability(5, 5, 0.9), 0.59049, rtol=1e-12)
    with pytest.raises(ParameterError, match=r"^n_total="):
        k_of_n_availability(3, 2, 0.9)
    with pytest.raises(ParameterError, match=r"^n_needed="):
        k_of_n_availability(-1, 2, 0.9)
    with pytest.raises(ParameterError, match=r"^unit_availability="):
        k_of_n_availability(1, 2, 1.1)


def test_errors_name_the_parameter_and_value():
    with pytest.raises(ParameterError, match=r"^downtime_hours=-1 "):
        availability_from_downtime(-1)
    with pytest.raises(ParameterError, match=r"^downtime_hours=101 is not allowed: downtime_hours must be at most "
                                             r"the period \(100 h\)$"):
        availability_from_downtime(101, period_hours=100)
    with pytest.raises(ParameterError, match=r"^availability=1\.2 "):
        downtime_from_availability(1.2)
    for f in (capacity_to_survive_region_loss, regions_survivable, spare_share_to_survive_region_loss):
        args = ([0.5, 0.4], 0.1) if f is regions_survivable else ([0.5, 0.4],)
        with pytest.raises(ParameterError, match=r"^shares=\[0\.5, 0\.4\] "):
            f(*args)


def test_losing_all_but_one_region():
    # three regions, two lost: the last one (the smallest, 0.2) must carry all -> 3x; spare 1 / 0.2 - 1 = 4
    assert_allclose(capacity_to_survive_region_loss([0.5, 0.3, 0.2], regions_lost=2), 3.0)
    assert_allclose(spare_share_to_survive_region_loss([0.5, 0.3, 0.2], regions_lost=2), 4.0)
    for f in (capacity_to_survive_region_loss, spare_share_to_survive_region_loss):
        with pytest.raises(ParameterError, match=r"^regions_lost=-1 "):
            f([0.5, 0.5], regions_lost=-1)


def test_k_of_n_stays_a_probability_without_warnings():
    import warnings

    # the binomial sum rounds above 1 here (1 + 4e-15): it is a probability, at most 1
    assert k_of_n_availability(10, 30, 0.99) <= 1.0
    assert_allclose(k_of_n_availability(10, 30, 0.99), 1.0, atol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no log(0) warnings reach a page
        assert k_of_n_availability(2, 3, 1.0) == 1.0
        assert k_of_n_availability(0, 3, 0.0) == 1.0   # needing none: always up, even with dead units
        assert k_of_n_availability(1, 3, 0.0) == 0.0
