import pytest
from numpy.testing import assert_allclose

from model.prices import api_price, chosen_gpu_price, gpu_price, gpu_prices
from model.validation import ParameterError


def test_prices_are_dated_and_cited():
    g = gpu_prices()
    assert (g["usd_per_gpu_hour"] > 0).all() and (g["source"].str.len() > 10).all()
    p = gpu_price("a100-80gb", "aws", "on-demand")
    assert p.usd_per_gpu_hour > 0 and p.date
    assert api_price("gpt-3.5-turbo-0125").usd_per_1m_input == 0.5


def test_gpu_month_is_730_hours():
    p = gpu_price("a100-80gb", "aws", "on-demand")
    assert_allclose(p.usd_per_gpu_month(), p.usd_per_gpu_hour * 365 * 24 / 12)


def test_latest_row_and_highest_of_a_date():
    # RunPod A100 80GB: three rows; the latest date wins
    p = gpu_price("a100-80gb", "runpod", "neocloud")
    rows = gpu_prices()
    rows = rows[(rows.gpu == "a100-80gb") & (rows.provider == "runpod")]
    assert p.date == rows["date"].max()
    assert p.usd_per_gpu_hour == rows[rows.date == p.date]["usd_per_gpu_hour"].max()


def test_chosen_price_follows_the_gpu_unless_set():
    a100 = chosen_gpu_price("a100-80gb", "aws", "on-demand")
    h100 = chosen_gpu_price("h100-80gb", "aws", "on-demand")
    assert a100.usd_per_gpu_hour == gpu_price("a100-80gb", "aws", "on-demand").usd_per_gpu_hour
    assert h100.usd_per_gpu_hour == gpu_price("h100-80gb", "aws", "on-demand").usd_per_gpu_hour
    assert h100.usd_per_gpu_hour != a100.usd_per_gpu_hour
    mine = chosen_gpu_price("h100-80gb", "aws", "on-demand", 2.0)
    assert mine.usd_per_gpu_hour == 2.0 and mine.date == "set by the user"


@pytest.mark.parametrize("args, name", [
    (("b200", "aws", "on-demand", None), "gpu"),
    (("a100-80gb", "nobody", "on-demand", None), "gpu_provider"),
    (("a100-80gb", "aws", "spot", None), "gpu_pricing"),
    (("a100-80gb", "aws", "on-demand", -1.0), "usd_per_gpu_hour"),
])
def test_chosen_price_errors_name_the_chapter_parameter(args, name):
    with pytest.raises(ParameterError, match=f"^{name}="):
        chosen_gpu_price(*args)


def test_api_price_errors():
    with pytest.raises(ParameterError, match="api_model"):
        api_price("gpt-9", name="api_model")
    with pytest.raises(ParameterError, match="provider"):
        gpu_price("a100-80gb", "nobody", "on-demand")
