"""model.audit.rules: the two rules of data/claims/rules.csv (a 5% default tolerance, ranges deciding up to high ÷ low
= 1.2 ÷ 0.8 = 1.5), and the message naming the rules when an unknown one is asked for."""

import pytest

from model.audit import rules as RU
from model.checks import ParameterError


def test_rules_read_from_data():
    assert RU.RULE_COLUMNS == ["name", "value", "unit", "source", "notes"]
    assert RU.RULES_FILE.name == "rules.csv" and RU.RULES_FILE.parent.name == "claims"
    assert RU.rule("default_tolerance") == 0.05
    assert RU.rule("range_decisive_ratio") == 1.5      # 1.2 ÷ 0.8
    assert type(RU.rule("range_decisive_ratio")) is float


def test_unknown_rule_is_named_with_the_allowed_ones():
    with pytest.raises(ParameterError) as e:
        RU.rule("tolerance")
    assert str(e.value) == ("rule='tolerance' is not allowed: rule must be one of 'default_tolerance', "
                            "'range_decisive_ratio'")
