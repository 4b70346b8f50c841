"""model.search.chapter_runs by hand: every refusal of the tier-configuration chapter's checks, one line naming the
parameter as the chapter spells it and what it allows, in the chapter's order; the GPU price they select
(data/prices/gpu_prices.csv: H100 on AWS on demand, $55.04 / 8 = $6.88 per GPU-hour); the two grids checked; the
character-chat trace and its refusal; one trace's grid, search and baseline on an evaluator of closed form."""
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import model.search.chapter_runs as cr
from model.architectures import available_models
from model.checks import ParameterError
from model.search import pareto
from model.search.pareto import Axis, Objective, SearchSpace
from model.search.tier_search import QUICK_HBM_SHARES, ServingSetup
from model.workload import CharacterChatParams, character_chat_trace

GOOD = dict(model_name="llama-3.1-70b", gpu="h100-80gb", n_gpus=8, slo_ttft_p95_s=5.0, gpu_usd_per_hour=None,
            chat_concurrent_sessions=100, chat_seed=0, threshold=None, beam=None, executor="serial", workers=2)


def refusal(**kw):
    with pytest.raises(ParameterError) as err:
        cr.check_kareto(**dict(GOOD, **kw))
    return err.value


def test_price_selected():
    price = cr.check_kareto(**GOOD)
    assert (price.gpu, price.provider, price.pricing) == ("h100-80gb", "aws", "on-demand")
    assert_allclose(price.usd_per_gpu_hour, 55.04 / 8, rtol=1e-12)
    own = cr.check_kareto(**dict(GOOD, gpu_usd_per_hour=3.5, threshold=0.0, beam=1, workers=1, chat_seed=0,
                                 chat_concurrent_sessions=1, slo_ttft_p95_s=1e-9))
    assert own.usd_per_gpu_hour == 3.5 and own.gpu == "h100-80gb"
    cr.check_kareto(**dict(GOOD, executor="process"))
    cr.check_kareto(**dict(GOOD, executor="dask"))
    cr.check_kareto(**dict(GOOD, threshold=2.5, beam=7))


@pytest.mark.parametrize("name, bad, allowed", [
    ("n_gpus", 0, "an integer in [1, inf]"),
    ("n_gpus", 1.5, "an integer in [1, inf]"),
    ("slo_ttft_p95_s", 0.0, "a finite number in (0, inf]"),
    ("gpu_usd_per_hour", -1.0, "a finite number in (0, inf]"),
    ("chat_concurrent_sessions", 0, "an integer in [1, inf]"),
    ("chat_seed", -1, "an integer in [0, inf]"),
    ("threshold", -0.1, "a finite number in [0, inf]"),
    ("beam", 0, "an integer in [1, inf]"),
    ("executor", "threads", "one of 'process', 'serial', 'dask'"),
    ("workers", 0, "an integer in [1, inf]"),
])
def test_each_refusal_names_the_parameter_and_what_it_allows(name, bad, allowed):
    err = refusal(**{name: bad})
    assert err.name == name
    assert str(err) == f"{name}={bad!r} is not allowed: {name} must be {allowed}"


def test_names_refused():
    err = refusal(model_name="no-such-model")
    assert str(err) == ("model_name='no-such-model' is not allowed: model_name must be one of "
                        + ", ".join(repr(m) for m in available_models()))
    assert "'llama-3.1-70b'" in str(err)
    err = refusal(gpu="no-such-gpu")
    assert err.name == "gpu" and "'h100-80gb'" in str(err) and "'mi300x-192gb'" in str(err)


def test_unpriced_gpu_names_the_chapters_price_parameter():
    """The MI300X has no AWS row: the chapter's user sets gpu_usd_per_hour (it cannot choose a provider)."""
    err = refusal(gpu="mi300x-192gb", model_name="llama-3.1-8b", n_gpus=1)
    assert str(err) == ("gpu_usd_per_hour=None is not allowed: gpu_usd_per_hour must be set: "
                        "data/prices/gpu_prices.csv has no aws/on-demand row of mi300x-192gb")
    cr.check_kareto(**dict(GOOD, gpu="mi300x-192gb", model_name="llama-3.1-8b", n_gpus=1, gpu_usd_per_hour=2.0))


def test_no_on_demand_row_names_the_chapters_price_parameter(monkeypatch):
    """H100 rows on AWS, none on demand: the chapter's user cannot pick a pricing, so gpu_usd_per_hour is named."""
    import model.economics.prices as prices
    table = prices.gpu_prices().copy()
    table.loc[(table["gpu"] == "h100-80gb") & (table["provider"] == "aws"), "pricing"] = "spot"
    monkeypatch.setattr(prices, "gpu_prices", lambda: table)
    err = refusal()
    assert str(err) == ("gpu_usd_per_hour=None is not allowed: gpu_usd_per_hour must be set: "
                        "data/prices/gpu_prices.csv has no aws/on-demand row of h100-80gb")


def test_setup_of_the_grids_is_the_chapters(monkeypatch):
    """Llama 3.1 8B on 2 × A100 80GB at a 3 s target: not ServingSetup's defaults."""
    seen = []
    monkeypatch.setattr(cr, "search_space", lambda setup, **kw: seen.append(setup))
    cr.check_kareto(**dict(GOOD, model_name="llama-3.1-8b", gpu="a100-80gb", n_gpus=2, slo_ttft_p95_s=3.0))
    setup = seen[0]
    assert (setup.model, setup.gpu, setup.n_gpus, setup.slo_ttft_p95_s) == ("llama-3.1-8b", "a100-80gb", 2, 3.0)
    assert setup.price.gpu == "a100-80gb" and setup.price.provider == "aws"


def test_first_bad_parameter_in_the_chapters_order():
    order = [("model_name", "x"), ("gpu", "x"), ("n_gpus", 0), ("slo_ttft_p95_s", 0.0), ("gpu_usd_per_hour", -1.0),
             ("chat_concurrent_sessions", 0), ("chat_seed", -1), ("threshold", -1.0), ("beam", 0),
             ("executor", "x"), ("workers", 0)]
    for i, (name, _) in enumerate(order):
        assert refusal(**dict(order[i:])).name == name


def test_weights_that_do_not_fit_are_refused_as_n_gpus():
    err = refusal(n_gpus=1)
    assert err.name == "n_gpus" and "141.1 GB" in str(err)       # 70.6B parameters × 2 bytes


def test_both_grids_checked_and_an_empty_hbm_grid_named_n_gpus(monkeypatch):
    seen = []
    real = cr.search_space
    monkeypatch.setattr(cr, "search_space", lambda setup, **kw: (seen.append((setup, kw)), real(setup, **kw))[1])
    cr.check_kareto(**dict(GOOD, gpu_usd_per_hour=2.0))
    assert [kw for _, kw in seen] == [{}, {"hbm_shares": QUICK_HBM_SHARES}]
    setup = seen[0][0]
    assert (setup.model, setup.gpu, setup.n_gpus, setup.slo_ttft_p95_s) == ("llama-3.1-70b", "h100-80gb", 8, 5.0)
    assert setup.price.usd_per_gpu_hour == 2.0
    # 0.4 GB of free HBM: every share of it rounds to 0 GB, so the HBM axis repeats a value
    monkeypatch.setattr(ServingSetup, "free_hbm_gb", lambda self: 0.4)
    err = refusal()
    assert str(err) == ("n_gpus=8 is not allowed: n_gpus must be enough h100-80gb GPUs for llama-3.1-70b's weights "
                        "to leave HBM for a grid of KV caches (they leave 0.4 GB)")
    assert err.__cause__ is None and err.__suppress_context__

    def other(setup, **kw):
        raise ParameterError("axis dram_gb", (), "at least one value")

    monkeypatch.setattr(cr, "search_space", other)
    assert refusal().name == "axis dram_gb"


def test_quick_grid_checked_too(monkeypatch):
    real = cr.search_space

    def quick_fails(setup, **kw):
        if kw:
            raise ParameterError("axis hbm_gb", (), "distinct values")
        return real(setup, **kw)

    monkeypatch.setattr(cr, "search_space", quick_fails)
    assert refusal().name == "n_gpus"


def test_chat_trace():
    t = cr.chat_trace(3, 2, max_sessions=2)
    want = character_chat_trace(CharacterChatParams(concurrent_sessions=3), seed=2, max_sessions=2)
    assert t.n_requests == want.n_requests and np.array_equal(t.block_ids, want.block_ids)
    assert np.array_equal(t.arrival_s, want.arrival_s)
    assert len(set(t.session.tolist())) <= 2
    full = cr.chat_trace(3, 2)
    assert full.n_requests >= t.n_requests
    assert full.n_requests == character_chat_trace(CharacterChatParams(concurrent_sessions=3), seed=2).n_requests


def test_chat_trace_refusal(monkeypatch):
    """With seed 1 the one session starts after the generator's window of 1,800 s (data/parameters)."""
    assert CharacterChatParams(concurrent_sessions=1).duration_s == 1800
    with pytest.raises(ParameterError) as err:
        cr.chat_trace(1, 1)
    assert str(err.value) == ("chat_concurrent_sessions=1 is not allowed: chat_concurrent_sessions must be enough "
                              "sessions for one to start within 1800 s (none did with chat_seed=1)")
    assert err.value.__cause__ is None and err.value.__suppress_context__

    def other(params, **kw):
        raise ParameterError("seed", -1, "an integer in [0, inf]")

    monkeypatch.setattr(cr, "character_chat_trace", other)
    with pytest.raises(ParameterError) as err:
        cr.chat_trace(1, 1)
    assert err.value.name == "seed"


class Linear:
    """cost = 1 + d + s, rps = 10 + 2d + s (GB of DRAM and SSD)."""

    fingerprint = "linear-v1"

    def __init__(self):
        self.calls = []

    def __call__(self, config):
        self.calls.append(dict(config))
        d, s = config["d"], config["s"]
        return {"cost": 1.0 + d + s, "rps": 10.0 + 2 * d + s}


OBJ = (Objective("cost", "min"), Objective("rps", "max"))


def test_run_trace(tmp_path, monkeypatch):
    space = SearchSpace((Axis("d", (0, 1, 2)), Axis("s", (0, 10))))
    sweeps, runs, searches = [], [], []
    real_sweep, real_search = cr.Sweep, pareto.diminishing_returns_search

    class SpySweep(real_sweep):
        def __init__(self, evaluate, **kw):
            sweeps.append(kw)
            super().__init__(evaluate, **kw)

        def run(self, configs, **kw):
            runs.append((len(configs), kw))
            return super().run(configs, **kw)

    def spy_search(sp, evaluate_many, objectives, **kw):
        searches.append((sp, objectives, kw))
        return real_search(sp, evaluate_many, objectives, **kw)

    monkeypatch.setattr(cr, "Sweep", SpySweep)
    monkeypatch.setattr(pareto, "diminishing_returns_search", spy_search)
    f = Linear()
    out_dir = tmp_path / "a" / "b"
    out = cr.run_trace(f, space, {"d": 1, "s": 0}, name="toy", output_dir=out_dir, executor="serial", workers=3,
                       threshold=0.5, beam=2, objectives=OBJ)
    assert sweeps[0] == dict(executor="serial", workers=3, address=None, results=out_dir / "kareto_sweep_linear-v1.jsonl")
    assert runs[0] == (6, {"desc": "toy: grid"})
    assert sweeps[1] == dict(executor="serial", progress=False)
    assert searches[0][0] is space and searches[0][1] == OBJ and searches[0][2] == {"threshold": 0.5, "beam": 2}
    assert set(out) == {"evaluator", "exhaustive", "pruned", "baseline"}
    assert out["evaluator"] is f
    assert out["baseline"] == {"cost": 2.0, "rps": 12.0}
    assert f.calls[-1] == {"d": 1, "s": 0}
    ex = out["exhaustive"]
    assert ex[["d", "s", "cost", "rps"]].values.tolist() == [
        [0, 0, 1, 10], [0, 10, 11, 20], [1, 0, 2, 12], [1, 10, 12, 22], [2, 0, 3, 14], [2, 10, 13, 24]]
    assert isinstance(out["pruned"], pd.DataFrame) and 0 < len(out["pruned"]) <= 6
    lines = (out_dir / "kareto_sweep_linear-v1.jsonl").read_text().splitlines()
    assert len(lines) == 6
    # a second run on the same folder reads the grid back (the folder exists already)
    g = Linear()
    again = cr.run_trace(g, space, {"d": 0, "s": 0}, name="toy", output_dir=str(out_dir), objectives=OBJ,
                         address="tcp://127.0.0.1:1")           # kept for a Dask grid; unused by a serial one
    assert again["exhaustive"].equals(ex)
    assert sweeps[2] == dict(executor="serial", workers=1, address="tcp://127.0.0.1:1",
                             results=out_dir / "kareto_sweep_linear-v1.jsonl")
    assert searches[1][2] == {"threshold": None, "beam": None}
    assert again["baseline"] == {"cost": 1.0, "rps": 10.0}
    assert all(c in ({"d": 0, "s": 0},) or c in [dict(zip(("d", "s"), r)) for r in ex[["d", "s"]].values.tolist()]
               for c in g.calls)


def test_run_trace_default_objectives(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(pareto, "diminishing_returns_search",
                        lambda sp, ev, objectives, **kw: seen.append(objectives) or type("R", (), {"results": None}))
    space = SearchSpace((Axis("d", (0, 1)), Axis("s", (0,))))
    cr.run_trace(Linear(), space, {"d": 0, "s": 0}, name="t", output_dir=tmp_path)
    assert seen == [cr.OBJECTIVES]
