"""model.tiering.setup and the package: setup checks name the caller's parameters; every public name is
re-exported from model.tiering; prices follow the GPU unless given."""
import importlib

import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.tiering as tiering
from model.io import DATA
from model.tiering import check_capacity_grid, check_setup, default_config, describe_setup
from model.validation import ParameterError


def test_check_setup_names_the_callers_parameters():
    names = {"n_instances": "mooncake_instances", "gpus_per_instance": "gpus_per_instance"}
    with pytest.raises(ParameterError, match="^mooncake_instances="):
        check_setup("llama-2-70b", "a100-80gb", 4, 0, names=names)
    with pytest.raises(ParameterError, match="^gpus_per_instance=1 .*>= 2"):
        check_setup("llama-2-70b", "a100-80gb", 1, 8, names=names)
    with pytest.raises(ParameterError, match="^gpu="):
        check_setup("llama-2-70b", "v100", 4, 8)
    check_setup("llama-2-70b", "h100-80gb", 4, 8)


def test_capacity_grid():
    assert check_capacity_grid("g", [0, 1]) == [0.0, 1.0]
    for bad in ([1], [0, -1], 5):
        with pytest.raises(ParameterError, match="^g"):
            check_capacity_grid("g", bad)


def test_price_follows_the_gpu_unless_given():
    p = pd.read_csv(DATA / "prices" / "gpu_prices.csv")
    for gpu in ("a100-80gb", "h100-80gb"):
        rows = p[(p.gpu == gpu) & (p.provider == "aws") & (p.pricing == "on-demand")]
        latest = rows[rows.date == rows.date.max()]["usd_per_gpu_hour"].max()
        cfg = default_config(gpu=gpu, n_instances=2)
        assert_allclose(cfg.engine.gpu_usd_per_hour, latest)
        assert describe_setup(cfg, model="llama-2-70b", gpu=gpu)["gpus"] == 8
    assert default_config(gpu_usd_per_hour=1.25).engine.gpu_usd_per_hour == 1.25


def test_every_public_name_is_reexported():
    for name in tiering.__all__:
        assert hasattr(tiering, name), name
    for mod in ("config", "engine", "replay", "stack_distance", "timing", "cost", "simulate", "slo", "sweeps",
                "reuse", "setup", "cli", "phrases"):
        m = importlib.import_module(f"model.tiering.{mod}")
        public = [n for n, v in vars(m).items() if not n.startswith("_") and getattr(v, "__module__", None) == m.__name__
                  and callable(v)]
        missing = [n for n in public if n not in tiering.__all__]
        assert not missing, (mod, missing)
