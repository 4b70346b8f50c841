import pytest

from model.tiering import PrefillEngine
from model.workload import load_mooncake_trace


@pytest.fixture(scope="module")
def mooncake():
    return load_mooncake_trace()


@pytest.fixture(scope="module")
def engine():
    return PrefillEngine.from_names()
