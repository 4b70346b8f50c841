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


# --- by hand, against realistic bugs -----------------------------------------------------------------------

def test_gpu_price_rows_by_hand():
    # data/prices/gpu_prices.csv: AWS H100 on-demand 12.29 (2025-05) then 6.88 (2026-11-09): the latest wins
    p = gpu_price("h100-80gb", "aws")
    assert (p.usd_per_gpu_hour, p.date, p.pricing) == (6.88, "2026-11-09", "on-demand")
    assert p.label == "aws on-demand h100-80gb, 2026-11-09" and "p5.48xlarge" in p.source
    assert gpu_price("h100-80gb", "aws", "on-demand", date="2025-05").usd_per_gpu_hour == 12.29
    # RunPod A100 on 2026-09-25: community 1.39 and secure 1.59 -> the highest of the date
    assert gpu_price("a100-80gb", "runpod", date="2026-09-25").usd_per_gpu_hour == 1.59
    assert gpu_price("h200-141gb", "aws", "spot").usd_per_gpu_hour == 3.3214
    with pytest.raises(ParameterError, match=r"^date="):
        gpu_price("h100-80gb", "aws", date="1999-01")
    with pytest.raises(ParameterError, match=r"provider/pricing='aws/spot'.*one of aws/on-demand, gcp/on-demand"):
        gpu_price("h100-80gb", "aws", "spot")
    with pytest.raises(ParameterError, match=r"^gpu="):
        gpu_price("b200", "aws")
    assert gpu_prices()["usd_per_gpu_hour"].dtype == float


def test_chosen_price_set_by_the_user():
    mine = chosen_gpu_price("h100-80gb", None, None, 2.5)
    assert (mine.gpu, mine.provider, mine.pricing, mine.usd_per_gpu_hour) == ("h100-80gb", "user", "set", 2.5)
    assert mine.source == "set by the user"
    named = chosen_gpu_price("h100-80gb", "lambda", "neocloud", 3, names=("g", "p", "q", "u"))
    assert (named.provider, named.pricing) == ("lambda", "neocloud") and named.usd_per_gpu_hour == 3.0
    with pytest.raises(ParameterError, match="^u="):
        chosen_gpu_price("h100-80gb", None, None, 0, names=("g", "p", "q", "u"))
    with pytest.raises(ParameterError, match="^g="):
        chosen_gpu_price("b200", "aws", None, names=("g", "p", "q", "u"))
    with pytest.raises(ParameterError, match="^p="):
        chosen_gpu_price("h100-80gb", "nobody", None, names=("g", "p", "q", "u"))
    with pytest.raises(ParameterError, match="^q="):
        chosen_gpu_price("h100-80gb", "aws", "reserved", names=("g", "p", "q", "u"))
    # no pricing given: any pricing of the provider (GCP H100: on-demand 10.9791 and spot 6.571 of one date)
    assert chosen_gpu_price("h100-80gb", "gcp", None).usd_per_gpu_hour == 10.9791


def test_api_price_by_hand():
    p = api_price("llama-2-70b-chat", "replicate")
    assert (p.model, p.provider, p.usd_per_1m_input, p.usd_per_1m_output) == ("llama-2-70b-chat", "replicate", 0.65,
                                                                              2.75)
    q = api_price("gpt-3.5-turbo-1106")
    assert (q.usd_per_1m_input, q.usd_per_1m_output, q.date) == (1.0, 2.0, "2023-11-06")
    with pytest.raises(ParameterError, match=r"^model/provider='gpt-9/openai'.*one of gpt-3.5-turbo-0301/openai, "
                                             r"gpt-3.5-turbo-0613/openai, "):
        api_price("gpt-9")
    with pytest.raises(ParameterError, match=r"^api_model='gpt-9'"):
        api_price("gpt-9", name="api_model")


def test_price_table_requires_its_columns(tmp_path, monkeypatch):
    import model.prices as prices

    (tmp_path / "x.csv").write_text("gpu,usd_per_gpu_hour,date,notes\na,1,2024,\n")
    monkeypatch.setattr(prices, "PRICES_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"data/prices/x.csv: missing columns \['pricing', 'provider'\]"):
        prices._price_table("x.csv", ["gpu", "provider", "pricing"], ())
    t = prices._price_table("x.csv", ["gpu"], ("usd_per_gpu_hour",))
    assert t["usd_per_gpu_hour"].dtype == float and t["date"].tolist() == ["2024"]
    assert t["notes"].tolist() == [""]                 # an empty cell is an empty text, not a missing value


def test_chosen_price_keeps_the_pricing():
    # GCP H100 of 2026-09-26: spot 6.571 beside on-demand 10.9791; AWS H200: spot 3.3214 beside on-demand 7.912
    assert chosen_gpu_price("h100-80gb", "gcp", "spot").usd_per_gpu_hour == 6.571
    assert chosen_gpu_price("h200-141gb", "aws", "spot").usd_per_gpu_hour == 3.3214
