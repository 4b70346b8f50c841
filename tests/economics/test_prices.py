"""model.economics.prices: the one GPU-price lookup (:func:`gpu_price`) checked against ``data/prices/gpu_prices.csv``
read here with the csv module (not through the code under test), its rule for a missing row, a price set by
the user, the parameter names of its errors; and the API prices."""
import csv
import dataclasses
import math

import pytest
from numpy.testing import assert_allclose

from model.io import DATA
from model.economics.prices import GpuPrice, api_price, gpu_price, gpu_prices
from model.checks import ParameterError

CSV = DATA / "prices" / "gpu_prices.csv"
#: The names a fixed-row caller passes (a chapter or command line whose user cannot choose the row).
FIXED = {"usd_per_gpu_hour": "gpu_usd_per_hour", "provider": None, "pricing": None}


def _rows():
    with open(CSV, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _expected(gpu, provider, pricing=None):
    """The row the rule picks, found by hand: that GPU, provider (and pricing), the latest date, of several
    rows of that date the highest price."""
    rows = [r for r in _rows() if r["gpu"] == gpu and r["provider"] == provider
            and (pricing is None or r["pricing"] == pricing)]
    best = rows[0]
    for r in rows[1:]:
        if (r["date"], float(r["usd_per_gpu_hour"])) > (best["date"], float(best["usd_per_gpu_hour"])):
            best = r
    return best


@pytest.mark.parametrize("gpu, provider, pricing", sorted({(r["gpu"], r["provider"], r["pricing"]) for r in _rows()}))
def test_every_row_lookup_matches_the_file(gpu, provider, pricing):
    e = _expected(gpu, provider, pricing)
    p = gpu_price(gpu, provider, pricing)
    assert (p.gpu, p.provider, p.pricing, p.date, p.source) == (gpu, provider, pricing, e["date"], e["source"])
    assert p.usd_per_gpu_hour == float(e["usd_per_gpu_hour"]) and type(p.usd_per_gpu_hour) is float
    assert p.label == f"{provider} {pricing} {gpu}, {e['date']}" and not p.set_by_user
    assert_allclose(p.usd_per_gpu_month(), float(e["usd_per_gpu_hour"]) * 730, rtol=1e-12)


@pytest.mark.parametrize("gpu, provider", sorted({(r["gpu"], r["provider"]) for r in _rows()}))
def test_any_pricing_of_a_provider_matches_the_file(gpu, provider):
    e = _expected(gpu, provider)
    p = gpu_price(gpu, provider, None)
    assert (p.pricing, p.date, p.usd_per_gpu_hour) == (e["pricing"], e["date"], float(e["usd_per_gpu_hour"]))


def test_rows_by_hand():
    # the default row is AWS on-demand: p4de.24xlarge $27.44705/h for 8 A100 = $3.4309, dated 2026-11-09
    a100 = gpu_price("a100-80gb")
    assert (a100.provider, a100.pricing, a100.usd_per_gpu_hour, a100.date) == ("aws", "on-demand", 3.4309,
                                                                                 "2026-11-09")
    assert a100.label == "aws on-demand a100-80gb, 2026-11-09" and "p4de.24xlarge" in a100.source
    # AWS H100: 12.29 (2025-05), then 6.88 (2026-11-09): the latest wins, even though it is lower
    assert gpu_price("h100-80gb").usd_per_gpu_hour == 6.88
    # RunPod A100: 1.39 and 1.59 on 2026-09-25, 1.79 on 2026-11-09
    assert gpu_price("a100-80gb", "runpod", "neocloud").usd_per_gpu_hour == 1.79
    # Lambda H100, two rows of one date (3.99, 4.29): the highest
    assert gpu_price("h100-80gb", "lambda", "neocloud").usd_per_gpu_hour == 4.29
    # GCP H100 of 2026-09-26, on-demand 10.9791 listed before spot 6.571: any pricing -> the highest
    assert gpu_price("h100-80gb", "gcp", None).usd_per_gpu_hour == 10.9791
    assert gpu_price("h100-80gb", "gcp", "spot").usd_per_gpu_hour == 6.571
    assert gpu_price("h200-141gb", "aws", "spot").usd_per_gpu_hour == 3.3214
    assert gpu_prices()["usd_per_gpu_hour"].dtype == float


def test_a_price_set_by_the_user_wins():
    mine = gpu_price("h100-80gb", "aws", "on-demand", 2.5)
    assert mine == GpuPrice("h100-80gb", "user", "set", 2.5, "set by the user", "set by the user")
    assert mine.set_by_user and mine.label == "a price set by the user"
    assert_allclose(mine.usd_per_gpu_month(), 2.5 * 730, rtol=1e-12)
    # provider, pricing and the file are not read: no row of them, or of the GPU, is needed
    assert gpu_price("h100-80gb", "nobody", "never", 3).usd_per_gpu_hour == 3.0
    assert type(gpu_price("b200", usd_per_gpu_hour=3).usd_per_gpu_hour) is float
    assert gpu_price("b200", usd_per_gpu_hour=1e-9).usd_per_gpu_hour == 1e-9
    assert not GpuPrice("g", "p", "q", 1.0, "d", "the user's notes").set_by_user


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "2", True])
def test_a_price_set_by_the_user_must_be_positive(bad):
    with pytest.raises(ParameterError, match=r"^gpu_usd_per_hour="):
        gpu_price("a100-80gb", usd_per_gpu_hour=bad, names=FIXED)
    with pytest.raises(ParameterError, match=r"^usd_per_gpu_hour="):
        gpu_price("a100-80gb", usd_per_gpu_hour=bad)


def test_a_missing_row_raises_naming_the_users_parameter():
    names = {"gpu": "g", "provider": "p", "pricing": "q", "usd_per_gpu_hour": "u"}
    pairs = "aws/on-demand, lambda/neocloud, runpod/neocloud, vast/neocloud"   # the A100 80GB rows, file order
    with pytest.raises(ParameterError) as e:
        gpu_price("a100-80gb", "nobody", "on-demand", names=names)
    assert str(e.value) == (f"p='nobody' is not allowed: p must be one of {pairs} (a100-80gb's rows in "
                            "data/prices/gpu_prices.csv), or u set")
    assert (e.value.name, e.value.value) == ("p", "nobody")
    # the provider has rows, not under that pricing: the pricing is at fault
    with pytest.raises(ParameterError) as e:
        gpu_price("a100-80gb", "aws", "spot", names=names)
    assert str(e.value) == (f"q='spot' is not allowed: q must be one of {pairs} (a100-80gb's rows in "
                            "data/prices/gpu_prices.csv), or u set")
    # no row of the GPU at all
    with pytest.raises(ParameterError) as e:
        gpu_price("b200", names=names)
    assert str(e.value) == ("g='b200' is not allowed: g must be one of a100-40gb, a100-80gb, a100-80gb-pcie, "
                            "b200-180gb, h100-80gb, h200-141gb, mi300x-192gb, mi325x-256gb (priced in data/prices/gpu_prices.csv), or u set")
    # unmapped parameters keep their own names
    with pytest.raises(ParameterError, match=r"^provider='nobody' .* or usd_per_gpu_hour set$"):
        gpu_price("a100-80gb", "nobody")
    with pytest.raises(ParameterError, match=r"^gpu_pricing='spot' .* or usd_per_gpu_hour set$"):
        gpu_price("a100-80gb", "aws", "spot", names={"pricing": "gpu_pricing"})


def test_a_missing_row_the_user_cannot_choose_asks_for_a_price():
    with pytest.raises(ParameterError) as e:
        gpu_price("a100-80gb", "aws", "spot", names=FIXED)
    assert str(e.value) == ("gpu_usd_per_hour=None is not allowed: gpu_usd_per_hour must be set: "
                            "data/prices/gpu_prices.csv has no aws/spot row of a100-80gb")
    # only the parameter at fault decides: a fixed pricing of a provider the user chose
    with pytest.raises(ParameterError, match=r"^u=None .* no lambda/spot row of a100-80gb$"):
        gpu_price("a100-80gb", "lambda", "spot", names={"pricing": None, "usd_per_gpu_hour": "u"})
    with pytest.raises(ParameterError, match=r"^gpu_provider='nobody' "):
        gpu_price("a100-80gb", "nobody", "spot", names={"provider": "gpu_provider", "pricing": None})
    # a GPU without any row is the user's GPU, named as such
    with pytest.raises(ParameterError, match=r"^--gpu='b200' .* or --gpu-usd-per-hour set$"):
        gpu_price("b200", names={"gpu": "--gpu", "usd_per_gpu_hour": "--gpu-usd-per-hour", "provider": None})


def test_error_messages_stay_short():
    """Beyond the list of what is allowed (the GPU's provider/pricing pairs, the priced GPUs), one line."""
    pairs = ", ".join(dict.fromkeys(f"{r['provider']}/{r['pricing']}" for r in _rows() if r["gpu"] == "h100-80gb"))
    gpus = ", ".join(sorted({r["gpu"] for r in _rows()}))
    for kwargs, listed in (({"provider": "nobody"}, pairs), ({"pricing": "spot"}, pairs), ({"gpu": "b200"}, gpus),
                           ({"usd_per_gpu_hour": -1}, ""), ({"pricing": "spot", "names": FIXED}, "")):
        with pytest.raises(ParameterError) as e:
            gpu_price(**{"gpu": "h100-80gb", **kwargs})
        assert listed in str(e.value) and len(str(e.value)) - len(listed) < 150, str(e.value)


def test_a_price_is_a_frozen_value():
    p = gpu_price("a100-80gb")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.usd_per_gpu_hour = 1.0
    assert p == gpu_price("a100-80gb") and hash(p) == hash(gpu_price("a100-80gb"))


def test_prices_are_dated_and_cited():
    g = gpu_prices()
    assert (g["usd_per_gpu_hour"] > 0).all() and (g["source"].str.len() > 10).all()
    assert g["date"].str.match(r"^\d{4}-\d{2}(-\d{2})?$").all()


def test_api_price_by_hand():
    assert api_price("gpt-3.5-turbo-0125").usd_per_1m_input == 0.5
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
    import model.economics.prices as prices

    (tmp_path / "x.csv").write_text("gpu,usd_per_gpu_hour,date,notes\na,1,2024,\n")
    monkeypatch.setattr(prices, "PRICES_DIR", tmp_path)
    with pytest.raises(ValueError, match=r"data/prices/x.csv: missing columns \['pricing', 'provider'\]"):
        prices._price_table("x.csv", ["gpu", "provider", "pricing"], ())
    t = prices._price_table("x.csv", ["gpu"], ("usd_per_gpu_hour",))
    assert t["usd_per_gpu_hour"].dtype == float and t["date"].tolist() == ["2024"]
    assert t["notes"].tolist() == [""]                 # an empty cell is an empty text, not a missing value
