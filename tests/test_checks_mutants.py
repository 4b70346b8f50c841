"""model.checks by hand: each check's accepted and refused values at the ends of its range, and the one-line
message (the parameter's name, the value received and the allowed values, each written out here)."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from model.checks import (ParameterError, check_choice, check_fraction, check_int, check_nonnegative, check_number,
                          check_positive, check_shares)


def refused(fn, *args, **kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        fn(*args, **kw)
    return err.value


def test_the_error_names_the_parameter_the_value_and_what_is_allowed():
    e = ParameterError("n_gpus", 3, "one of 2, 4")
    assert (e.name, e.value, e.allowed) == ("n_gpus", 3, "one of 2, 4")
    assert str(e) == "n_gpus=3 is not allowed: n_gpus must be one of 2, 4"
    assert str(ParameterError("gpu", "h100", "x")) == "gpu='h100' is not allowed: gpu must be x"
    assert isinstance(e, ValueError)


def test_check_number_messages_write_the_range_out():
    assert str(refused(check_number, "x", None)) == "x=None is not allowed: x must be a finite number in [-inf, inf]"
    e = refused(check_number, "rate", 5.0, low=1.5, high=2.5, low_inclusive=False, high_inclusive=False)
    assert (e.name, e.value, e.allowed) == ("rate", 5.0, "a finite number in (1.5, 2.5)")
    e = refused(check_number, "rate", 0.5, low=1.5, high=2.5)
    assert e.allowed == "a finite number in [1.5, 2.5]"
    # one end given: the other is written as an infinity; :g writes 1e+06 and 0.25
    assert refused(check_number, "t", -1.0, low=0.25).allowed == "a finite number in [0.25, inf]"
    assert refused(check_number, "t", 2e6, high=1e6).allowed == "a finite number in [-inf, 1e+06]"


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "3", None, True, False, [1.0], np.float64("nan")])
def test_check_number_refuses_what_is_not_a_finite_number(bad):
    assert refused(check_number, "x", bad).name == "x"


def test_the_refusal_carries_the_value_received():
    assert refused(check_number, "x", "3").value == "3"
    assert refused(check_number, "x", -2.0, low=0.0).value == -2.0
    assert refused(check_number, "x", 7, high=5).value == 7
    assert refused(check_int, "n", 2.5).value == 2.5
    assert refused(check_int, "n", "4").value == "4"


def test_check_number_accepts_numbers_and_returns_floats():
    for value in (3, 2.5, np.int64(7), np.float32(0.5), -4):
        out = check_number("x", value)
        assert type(out) is float
        assert_allclose(out, float(value), rtol=0)


def test_check_number_ends_inclusive_and_exclusive():
    # inclusive ends are accepted, exclusive ones refused; just inside is accepted either way
    assert check_number("x", 1.0, low=1.0, high=2.0) == 1.0
    assert check_number("x", 2.0, low=1.0, high=2.0) == 2.0
    refused(check_number, "x", 1.0, low=1.0, low_inclusive=False)
    refused(check_number, "x", 2.0, high=2.0, high_inclusive=False)
    assert check_number("x", 1.0 + 1e-9, low=1.0, low_inclusive=False) == 1.0 + 1e-9
    assert check_number("x", 2.0 - 1e-9, high=2.0, high_inclusive=False) == 2.0 - 1e-9
    refused(check_number, "x", 1.0 - 1e-9, low=1.0)
    refused(check_number, "x", 2.0 + 1e-9, high=2.0)
    # an exclusive end refuses only its own value: the other end stays inclusive
    assert check_number("x", 2.0, low=1.0, high=2.0, low_inclusive=False) == 2.0
    assert check_number("x", 1.0, low=1.0, high=2.0, high_inclusive=False) == 1.0
    # no bound: anything finite
    assert check_number("x", -1e300) == -1e300 and check_number("x", 1e300) == 1e300


def test_check_positive_and_nonnegative():
    assert check_positive("rate", 1e-12) == 1e-12
    e = refused(check_positive, "rate", 0.0)
    assert (e.name, e.allowed) == ("rate", "a finite number in (0, inf]")
    refused(check_positive, "rate", -1)
    assert check_positive("rate", 0.5) == 0.5       # between 0 and 1: the lower end is 0, not 1
    assert check_nonnegative("bytes", 0) == 0.0 and check_nonnegative("bytes", 0.5) == 0.5
    e = refused(check_nonnegative, "bytes", -1e-12)
    assert (e.name, e.allowed) == ("bytes", "a finite number in [0, inf]")


def test_check_fraction_ends():
    assert check_fraction("share", 0) == 0.0 and check_fraction("share", 1) == 1.0
    assert check_fraction("share", 0.5) == 0.5
    e = refused(check_fraction, "share", 1.5)
    assert (e.name, e.allowed) == ("share", "a finite number in [0, 1]")
    refused(check_fraction, "share", -0.01)
    e = refused(check_fraction, "share", 0.0, allow_zero=False)
    assert e.allowed == "a finite number in (0, 1]"
    assert check_fraction("share", 1.0, allow_zero=False) == 1.0
    e = refused(check_fraction, "share", 1.0, allow_one=False)
    assert e.allowed == "a finite number in [0, 1)"
    assert check_fraction("share", 0.0, allow_one=False) == 0.0


def test_check_int_accepts_integers_and_whole_floats():
    assert check_int("n", 4.0, low=1) == 4 and type(check_int("n", 4.0)) is int
    out = check_int("n", np.int64(3), low=3, high=3)
    assert out == 3 and type(out) is int
    assert check_int("n", np.float64(6.0)) == 6     # a float subclass holding a whole number
    assert check_int("n", -5) == -5
    assert check_int("n", 1, low=1, high=8) == 1 and check_int("n", 8, low=1, high=8) == 8


def test_check_int_refusals_and_messages():
    e = refused(check_int, "n_gpus", 0, low=1)
    assert (e.name, e.value, e.allowed) == ("n_gpus", 0, "an integer in [1, inf]")
    e = refused(check_int, "n_gpus", 9, low=1, high=8)
    assert (e.value, e.allowed) == (9, "an integer in [1, 8]")
    assert refused(check_int, "n", 9, high=8).allowed == "an integer in [-inf, 8]"
    assert refused(check_int, "n", 2.5).allowed == "an integer in [-inf, inf]"
    for bad in (True, False, "3", None, 2.5, np.float64(2.5), math.inf):
        assert refused(check_int, "n", bad).name == "n"
    # the whole float is reported as the int it was read as
    assert refused(check_int, "n", 0.0, low=1).value == 0 and type(refused(check_int, "n", 0.0, low=1).value) is int


def test_check_choice():
    assert check_choice("policy", "lru", ("lru", "fifo")) == "lru"
    assert check_choice("n", 2, iter([1, 2])) == 2      # any iterable, read once
    e = refused(check_choice, "policy", "magic", iter(["static", "continuous"]))
    assert (e.name, e.value, e.allowed) == ("policy", "magic", "one of 'static', 'continuous'")


def test_check_shares():
    assert check_shares("user_share", [0.4, 0.6]) == [0.4, 0.6]
    e = refused(check_shares, "user_share", [0.4, 0.25, 0.25])
    # 0.4 + 0.25 + 0.25 = 0.9, written with 6 significant digits
    assert (e.name, e.value, e.allowed) == ("user_share", [0.4, 0.25, 0.25], "shares summing to 1 (they sum to 0.9)")
    assert refused(check_shares, "s", [0.123456789]).allowed == "shares summing to 1 (they sum to 0.123457)"
    # each share is checked as a fraction under its own indexed name
    e = refused(check_shares, "region_share", [0.5, 1.5, -1.0])
    assert (e.name, e.value) == ("region_share[1]", 1.5)
    # the default tolerance is 1e-6: 1 + 5e-7 passes, 1 + 2e-6 does not
    assert_allclose(sum(check_shares("s", [0.5, 0.5 + 5e-7])), 1 + 5e-7, rtol=1e-15)
    refused(check_shares, "s", [0.5, 0.5 + 2e-6])
    refused(check_shares, "s", [0.5, 0.5 - 2e-6])
    # a sum exactly `tolerance` away is accepted (the test is "more than tolerance")
    assert check_shares("s", [0.25, 0.25], tolerance=0.5) == [0.25, 0.25]
    refused(check_shares, "s", [0.25, 0.25], tolerance=0.49)
