import importlib.util
from pathlib import Path

import pandas as pd
from numpy.testing import assert_allclose

from model.io import DATA

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("compare_genz", ROOT / "benchmarks" / "compare_genz.py")
compare_genz = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compare_genz)


def test_the_studys_column_is_todays_model():
    # data/genz/comparison.csv is a frozen copy of GenZ's figures beside ours: ours must be today's roofline
    df = pd.read_csv(DATA / "genz" / "comparison.csv")
    now = [compare_genz.ours_ms(r.phase, r.model, r.gpu, r.dtype, r.tp, r.batch, r.tokens) for r in df.itertuples()]
    assert_allclose(df["ours_ms"], now, rtol=1e-5)
    assert_allclose(df["relative_difference"], df["ours_ms"] / df["genz_ms"] - 1, rtol=1e-4, atol=1e-5)
    assert df["genz_version"].nunique() == 1

