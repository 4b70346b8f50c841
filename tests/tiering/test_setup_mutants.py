"""model.tiering.setup by hand: a refusal renamed as the user typed it, every refusal of a setup under the caller's
names (and the internal ones without), the price of the setup, a stand-in setup described with every figure's
scope, and the grid of capacities."""
import math
from types import SimpleNamespace

import pytest

import model.tiering.fleet as fleet
from model.checks import ParameterError
from model.economics.prices import GpuPrice
from model.tiering.setup import SETUP_FIELDS, check_capacity_grid, check_setup, describe_setup, renamed

NAMES = {"model": "--model", "gpu": "--gpu", "gpus_per_instance": "--n-gpus", "n_instances": "--instances",
         "gpu_usd_per_hour": "--gpu-usd-per-hour"}


def test_the_setup_s_fields():
    assert SETUP_FIELDS == ("model", "gpu", "gpus_per_instance", "n_instances", "gpu_usd_per_hour")


def test_a_refusal_renamed():
    e = renamed(ParameterError("tp", 3, "a divisor of 8 (tp must divide the heads)"), {"tp": "--n-gpus", "x": "y"})
    assert (e.name, e.value) == ("--n-gpus", 3)
    assert str(e) == "--n-gpus=3 is not allowed: --n-gpus must be a divisor of 8 (--n-gpus must divide the heads)"
    same = renamed(ParameterError("gpu", "v", "one of a, b"), {"tp": "--n-gpus"})
    assert str(same) == "gpu='v' is not allowed: gpu must be one of a, b"


@pytest.mark.parametrize("args, name, value, allowed", [
    (("llama", "a100-80gb", 1, 1), "model", "llama", "one of 'characterai-like', "),
    (("llama-3.1-8b", "v100", 1, 1), "gpu", "v100", "one of 'a100-40gb', "),
    (("llama-3.1-8b", "a100-80gb", 0, 1), "gpus_per_instance", 0, "an integer in [1, inf]"),
    (("llama-3.1-8b", "a100-80gb", 1.5, 1), "gpus_per_instance", 1.5, "an integer in [1, inf]"),
    (("llama-3.1-8b", "a100-80gb", 1, 0), "n_instances", 0, "an integer in [1, inf]"),
    # the weights: 138.0 GB of Llama 2 70B in FP16 on one A100 (77.3 GB usable)
    (("llama-2-70b", "a100-80gb", 1, 1), "gpus_per_instance", 1,
     ">= 2: llama-2-70b weights in fp16 take 138.0 GB but 1 x a100-80gb offer 77.3 GB usable"),
    # the KV heads: 3 GPUs cannot split Llama 3.1 8B's 8
    (("llama-3.1-8b", "a100-80gb", 3, 1), "gpus_per_instance", 3,
     "a divisor or a multiple of the 8 KV heads of llama-3.1-8b"),
    # no price row of GB200 at all
    (("llama-3.1-8b", "gb200-186gb", 1, 1), "gpu", "gb200-186gb",
     "one of a100-40gb, a100-80gb, a100-80gb-pcie, b200-180gb, h100-80gb, h200-141gb, mi300x-192gb, mi325x-256gb "
     "(priced in data/prices/gpu_prices.csv), or gpu_usd_per_hour set"),
    # MI300X has no AWS row: the provider is not the user's to choose, so a price of one's own is asked for
    (("llama-3.1-8b", "mi300x-192gb", 1, 1), "gpu_usd_per_hour", None,
     "set: data/prices/gpu_prices.csv has no aws/on-demand row of mi300x-192gb"),
    (("llama-3.1-8b", "a100-80gb", 1, 1, 0), "gpu_usd_per_hour", 0, "a finite number in (0, inf]"),
], ids=["model", "gpu", "gpus0", "gpus-float", "instances", "weights", "kv-heads", "unpriced-gpu", "no-aws-row",
        "price0"])
def test_each_refusal_under_the_caller_s_name(args, name, value, allowed):
    for names, shown in ((None, name), (NAMES, NAMES[name])):
        with pytest.raises(ParameterError) as e:
            check_setup(*args, names=names)
        text = allowed.replace("gpu_usd_per_hour", NAMES["gpu_usd_per_hour"]) if names else allowed
        assert (e.value.name, e.value.value) == (shown, value)
        assert str(e.value).startswith(f"{shown}={value!r} is not allowed: {shown} must be {text}")
        assert "\n" not in str(e.value)
        if allowed.startswith((">= 2", "a divisor")):      # the step-time model's refusal, renamed: its own hidden
            assert e.value.__cause__ is None and e.value.__suppress_context__


def test_the_setup_s_price():
    """H100: the AWS on-demand row ($55.04 / 8 GPUs, 2026-11-09); a price given wins."""
    p = check_setup("llama-3.1-8b", "h100-80gb", 1, 1)
    assert (p.gpu, p.provider, p.pricing, p.usd_per_gpu_hour, p.date) == ("h100-80gb", "aws", "on-demand", 6.88,
                                                                        "2026-11-09")
    given = check_setup("llama-3.1-8b", "h100-80gb", 2, 3, 1.25, names=NAMES)
    assert given.usd_per_gpu_hour == 1.25 and given.set_by_user
    # a partial mapping keeps the other names
    with pytest.raises(ParameterError, match=r"^n_instances=0 is not allowed"):
        check_setup("llama-3.1-8b", "h100-80gb", 1, 0, names={"gpu": "--gpu"})


# --- describe_setup on a stand-in setup ----------------------------------------------------------------------

def _config():
    tiers = [SimpleNamespace(name="hbm", capacity_blocks=1000.0, read_bytes_per_s=2.0e12, usd_per_gb_month=0.0),
             SimpleNamespace(name="dram", capacity_blocks=5000, read_bytes_per_s=5.0e10, usd_per_gb_month=0.5),
             SimpleNamespace(name="ssd", capacity_blocks=math.inf, read_bytes_per_s=4.0e9, usd_per_gb_month=0.08)]
    engine = SimpleNamespace(gpus_per_instance=4, n_instances=2, n_gpus=8, gpu_usd_per_hour=3.5,
                             kv_bytes_per_token=327_680.0)
    return SimpleNamespace(engine=engine, tiers=tiers, block_tokens=16,
                           capacity_gb=lambda: [5.24288, 26.2144, math.inf])


def test_a_setup_described(monkeypatch):
    """1,000 / 5,000 / unbounded blocks of 16 x 327,680 bytes = 5.24 MB: 5.24 / 26.2 GB / none; bandwidths in GB/s;
    3 nodes of 8 GPUs (the fleet's count asked of model.tiering.fleet)."""
    asked = []
    monkeypatch.setattr(fleet, "fleet_gpus", lambda nodes, config: asked.append((nodes, config)) or 24)
    cfg = _config()
    row = GpuPrice("h100-80gb", "aws", "on-demand", 3.5, "2026-11-09", "a source")
    s = describe_setup(cfg, model="llama-2-70b", gpu="h100-80gb", price=row, nodes=3)
    assert asked == [(3, cfg)]
    assert s == {"model": "llama-2-70b", "gpu": "h100-80gb", "gpus_per_instance": 4, "instances_per_node": 2,
                 "gpus_per_node": 8, "nodes": 3, "gpus": 24, "gpu_usd_per_hour": 3.5,
                 "gpu_price_source": "data/prices/gpu_prices.csv: aws on-demand h100-80gb, 2026-11-09",
                 "block_tokens": 16, "kv_bytes_per_token": 327_680.0,
                 "tiers": {"hbm": {"capacity_blocks_per_node": 1000, "capacity_gb_per_node": 5.24288,
                                   "read_gb_per_s_per_instance": 2000.0, "usd_per_gb_month": 0.0},
                           "dram": {"capacity_blocks_per_node": 5000, "capacity_gb_per_node": 26.2144,
                                    "read_gb_per_s_per_instance": 50.0, "usd_per_gb_month": 0.5},
                           "ssd": {"capacity_blocks_per_node": None, "capacity_gb_per_node": None,
                                   "read_gb_per_s_per_instance": 4.0, "usd_per_gb_month": 0.08}}}
    assert type(s["tiers"]["hbm"]["capacity_blocks_per_node"]) is int
    # one node unless told; a price of one's own is "given"
    s = describe_setup(cfg, model="m", gpu="g", price=check_setup("llama-3.1-8b", "h100-80gb", 1, 1, 2.0))
    assert s["gpu_price_source"] == "given" and s["nodes"] == 1 and asked[-1] == (1, cfg)


def test_an_infinite_capacity_in_gb_alone_is_none(monkeypatch):
    """A finite block count beside an unbounded size in GB (and a NaN one) each give None for the unbounded figure
    only."""
    monkeypatch.setattr(fleet, "fleet_gpus", lambda nodes, config: 8)
    cfg = _config()
    cfg.capacity_gb = lambda: [math.nan, math.inf, 1.5]
    price = GpuPrice("h100-80gb", "aws", "on-demand", 3.5, "2026-11-09", "a source")
    t = describe_setup(cfg, model="m", gpu="g", price=price)["tiers"]
    assert [t[k]["capacity_gb_per_node"] for k in ("hbm", "dram", "ssd")] == [None, None, 1.5]
    assert [t[k]["capacity_blocks_per_node"] for k in ("hbm", "dram", "ssd")] == [1000, 5000, None]


# --- the capacity grid ---------------------------------------------------------------------------------------

def test_a_capacity_grid():
    assert check_capacity_grid("g", (0, 2)) == [0.0, 2.0]
    assert check_capacity_grid("g", [1, 2, 3.5]) == [1.0, 2.0, 3.5]
    for bad in ([1], [], 5, "12", None):
        with pytest.raises(ParameterError) as e:
            check_capacity_grid("dram_gb", bad)
        assert str(e.value) == (f"dram_gb={bad!r} is not allowed: dram_gb must be a list of at least two "
                                "capacities >= 0 (GB)")
    with pytest.raises(ParameterError) as e:
        check_capacity_grid("dram_gb", [0, 1, -1])
    assert str(e.value) == "dram_gb[2]=-1 is not allowed: dram_gb[2] must be a finite number in [0, inf]"


def test_an_aws_row_of_another_pricing_asks_for_a_price(monkeypatch):
    """H100 priced by AWS only as spot: the pricing is not the user's to choose either, so the refusal asks for a
    price of one's own under the caller's name."""
    import pandas as pd

    import model.economics.prices as prices

    monkeypatch.setattr(prices, "gpu_prices", lambda: pd.DataFrame(
        [("h100-80gb", "aws", "spot", 2.0, "2026-01-01", "s")],
        columns=["gpu", "provider", "pricing", "usd_per_gpu_hour", "date", "source"]))
    with pytest.raises(ParameterError) as e:
        check_setup("llama-3.1-8b", "h100-80gb", 1, 1, names=NAMES)
    assert str(e.value) == ("--gpu-usd-per-hour=None is not allowed: --gpu-usd-per-hour must be set: "
                            "data/prices/gpu_prices.csv has no aws/on-demand row of h100-80gb")
