"""model.tiering.setup and the package: setup checks name the caller's parameters and return the setup's
GPU price; every public name is re-exported from model.tiering; prices follow the GPU unless given."""
import importlib

import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.tiering as tiering
from model.io import DATA
from model.tiering import check_capacity_grid, check_setup, default_config, describe_setup
from model.checks import ParameterError


def test_check_setup_names_the_callers_parameters():
    names = {"n_instances": "mooncake_instances", "gpus_per_instance": "gpus_per_instance"}
    with pytest.raises(ParameterError, match="^mooncake_instances="):
        check_setup("llama-2-70b", "a100-80gb", 4, 0, names=names)
    with pytest.raises(ParameterError, match="^gpus_per_instance=1 .*>= 2"):
        check_setup("llama-2-70b", "a100-80gb", 1, 8, names=names)
    with pytest.raises(ParameterError, match="^gpu="):
        check_setup("llama-2-70b", "v100", 4, 8)
    with pytest.raises(ParameterError, match="^price=0 "):
        check_setup("llama-2-70b", "a100-80gb", 4, 8, 0, names={"gpu_usd_per_hour": "price"})
    check_setup("llama-2-70b", "h100-80gb", 4, 8)


def test_check_setup_requires_the_gpus_price_row_unless_given(monkeypatch):
    import model.economics.prices as prices

    table = prices.gpu_prices()
    without = table[(table.gpu != "h100-80gb") | (table.pricing != "on-demand")]
    monkeypatch.setattr(prices, "gpu_prices", lambda: without)
    with pytest.raises(ParameterError, match=r"^price=None .* has no aws/on-demand row of h100-80gb$"):
        check_setup("llama-2-70b", "h100-80gb", 4, 8, names={"gpu_usd_per_hour": "price"})
    assert check_setup("llama-2-70b", "h100-80gb", 4, 8, 2.0).usd_per_gpu_hour == 2.0


def test_capacity_grid():
    assert check_capacity_grid("g", [0, 1]) == [0.0, 1.0]
    for bad in ([1], [0, -1], 5):
        with pytest.raises(ParameterError, match="^g"):
            check_capacity_grid("g", bad)


def test_price_follows_the_gpu_unless_given():
    p = pd.read_csv(DATA / "prices" / "gpu_prices.csv", dtype={"date": str})
    for gpu in ("a100-80gb", "h100-80gb"):
        rows = p[(p.gpu == gpu) & (p.provider == "aws") & (p.pricing == "on-demand")]
        date = rows.date.max()
        latest = rows[rows.date == date]["usd_per_gpu_hour"].max()
        cfg = default_config(gpu=gpu, n_instances=2)
        assert_allclose(cfg.engine.gpu_usd_per_hour, latest)
        price = check_setup("llama-2-70b", gpu, 4, 2)
        assert price.usd_per_gpu_hour == latest and not price.set_by_user
        s = describe_setup(cfg, model="llama-2-70b", gpu=gpu, price=price)
        assert s["gpus"] == 8 and s["gpu_usd_per_hour"] == latest
        assert s["gpu_price_source"] == f"data/prices/gpu_prices.csv: aws on-demand {gpu}, {date}"
    cfg = default_config(gpu_usd_per_hour=1.25)
    assert cfg.engine.gpu_usd_per_hour == 1.25
    given = check_setup("llama-2-70b", "a100-80gb", 4, 1, 1.25)
    assert describe_setup(cfg, model="llama-2-70b", gpu="a100-80gb", price=given)["gpu_price_source"] == "given"


def test_every_public_name_is_reexported():
    for name in tiering.__all__:
        assert hasattr(tiering, name), name
    for mod in ("config", "engine", "replay", "stack_distance", "timing", "cost", "simulate", "slo", "sweeps",
                "reuse", "setup", "cli"):
        m = importlib.import_module(f"model.tiering.{mod}")
        public = [n for n, v in vars(m).items() if not n.startswith("_") and getattr(v, "__module__", None) == m.__name__
                  and callable(v)]
        missing = [n for n in public if n not in tiering.__all__]
        assert not missing, (mod, missing)


def test_check_setup_names_gpus_that_cannot_split_the_kv_heads():
    """Qwen3-Next's linear-attention layers have 32 value heads: 40 GPUs per instance cannot split them, and the
    error names the caller's parameter, not the KV computation's 'tp'."""
    with pytest.raises(ParameterError) as e:
        check_setup("qwen3-next-80b-a3b", "a100-80gb", 40, 1, names={"gpus_per_instance": "--n-gpus"})
    assert e.value.name == "--n-gpus" and "32 linear-attention value heads" in str(e.value)
