import math

import pytest

from model.checks import (ParameterError, check_choice, check_fraction, check_int, check_number,
                              check_positive, check_shares)


def test_messages_name_parameter_and_range():
    with pytest.raises(ParameterError) as err:
        check_positive("arrival_rate", -1.0)
    assert "arrival_rate" in str(err.value) and "(0, inf]" in str(err.value)
    with pytest.raises(ParameterError, match=r"share.*\[0, 1\]"):
        check_fraction("share", 1.5)


@pytest.mark.parametrize("bad", [math.nan, math.inf, "3", None, True])
def test_rejects_non_numbers(bad):
    with pytest.raises(ParameterError):
        check_number("x", bad)


def test_int_and_choice():
    assert check_int("n_gpus", 4.0, low=1) == 4
    with pytest.raises(ParameterError, match="n_gpus"):
        check_int("n_gpus", 0, low=1)
    with pytest.raises(ParameterError, match="n_gpus"):
        check_int("n_gpus", 2.5, low=1)
    with pytest.raises(ParameterError, match="'static', 'continuous'"):
        check_choice("policy", "magic", ["static", "continuous"])


def test_shares_must_sum_to_one():
    assert check_shares("user_share", [0.4, 0.25, 0.3, 0.05]) == [0.4, 0.25, 0.3, 0.05]
    with pytest.raises(ParameterError, match="sum to 0.9"):
        check_shares("user_share", [0.4, 0.25, 0.25])
