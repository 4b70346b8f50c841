"""model.book.plan_view by hand: the sentences, the table and the what-if chart of the chapter "Plan your own
service" on hand-made plans (dicts shaped like :func:`model.plan.compose.make_plan`'s; no planner runs); every
expected sentence is written out here, its figures worked from the inputs in the comments."""
import math

import pandas as pd
import pytest

from model.book import plan_view as pv
from model.book.sliders import default_rows, evaluate
from model.book.tables import table_frame
from model.checks import ParameterError


def _refused(fn, *args, **kw) -> ParameterError:
    with pytest.raises(ParameterError) as err:
        fn(*args, **kw)
    return err.value


def test_a_step_too_large_to_reach_one_is_refused_not_an_empty_grid():
    # 1 / 1e9 = 1e-9, within 1e-9 of the whole number 0: the grid had no position, not even the service's own
    e = _refused(pv.factor_grid, 1e9, 2.0)
    assert (e.name, e.value) == ("ttft_factor_step", 1e9)
    assert _refused(pv.factor_grid, 2e9, 2.0).name == "ttft_factor_step"
