"""model.parameters, hand-worked cases for its mutants: a default and its citation looked up in a small table put
in place of data/parameters, and the message naming an unknown parameter; and values of the real table checked
against their cited sources."""
import pandas as pd
import pytest

from model import parameters
from model.checks import ParameterError


@pytest.fixture
def table(monkeypatch):
    t = pd.DataFrame({"name": ["alpha", "beta"], "value": [0.5, 2], "unit": ["", "s"],
                      "source": ["paper A", "paper B"], "notes": ["", ""], "file": ["x.csv", "y.csv"]})
    monkeypatch.setattr(parameters, "defaults_table", lambda: t)
    return t


def test_default_and_source_of(table):
    assert parameters.default("beta") == 2.0 and isinstance(parameters.default("beta"), float)
    assert parameters.default("alpha") == 0.5
    assert parameters.default("alpha") == 0.5              # read again through the dict kept beside the table
    assert parameters.source_of("beta") == "paper B"
    assert parameters.source_of("alpha") == "paper A"


def test_an_unknown_name_is_refused(table):
    with pytest.raises(ParameterError) as e:
        parameters.default("gamma")
    assert str(e.value) == "name='gamma' is not allowed: name must be one of alpha, beta"
    with pytest.raises(ParameterError) as e:
        parameters.source_of("gamma")
    assert str(e.value) == "name='gamma' is not allowed: name must be one of alpha, beta"


def test_the_real_table():
    t = parameters.defaults_table()
    assert list(t.columns[:5]) == ["name", "value", "unit", "source", "notes"] and "file" in t.columns
    assert not t["name"].duplicated().any()
    # data/parameters: a KV cache block of 16 tokens (vLLM's default block size)
    assert parameters.default("kv_block_tokens") == 16.0
    assert parameters.PARAMETERS_DIR == parameters.DATA / "parameters"


def test_the_lookup_dict_is_kept_beside_the_table_and_read_from_there(table):
    parameters.default("alpha")
    assert table.attrs["values_by_name"] == {"alpha": 0.5, "beta": 2}
    # later calls read the kept dict, not the table (shown by a dict that disagrees with the table)
    table.attrs["values_by_name"] = {"alpha": 7.0}
    assert parameters.default("alpha") == 7.0
