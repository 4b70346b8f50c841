"""model.audit.kareto_paper by hand: its fixed setting (the Kareto chapter's defaults: Llama 3.1 70B on 8x H100 80GB
at AWS's $55.04/h ÷ 8 = $6.88 a GPU-hour, a 5-s P95 TTFT SLO), the sentences naming it and what the paper leaves
unstated, the grid's plumbing and every row of table K.

Fast: the search (540 configurations on the whole Mooncake trace) is replaced by stand-ins that record their calls,
and computed() reads a hand-made search result; the search itself is left to tests/audit/test_kareto_paper.py and
model/search's own tests."""

from types import SimpleNamespace

import pandas as pd
import pytest

from model.audit import kareto_paper as K
from model.audit.claims import is_read_back
from model.search import pareto
from model.search import tier_search as kareto


def _setup(**kw):
    base = dict(model="m-7b", gpu="g-40gb", n_gpus=4, gpu_usd_per_hour=2.5, slo_ttft_p95_s=2.5,
                price=SimpleNamespace(provider="cloudy", pricing="spot"), free_hbm_gb=lambda: 250.0)
    base.update(kw)
    return SimpleNamespace(**base)


SENTENCE = "Mooncake conversation trace, m-7b on 4x g-40gb at 2.50 USD/GPU-h (cloudy spot), P95 TTFT SLO 2.5 s"
UNKNOWN = ("traces, model, GPUs, tier prices, tier bandwidths, latency metric and SLO, search grid, pruning threshold, "
           "baseline HBM SSD TTL, simulator are not stated in the abstract (the only public text found)")


def test_audit_setting_and_setup():
    assert K.AUDIT_SETTING == {"trace": "mooncake", "model": "llama-3.1-70b", "gpu": "h100-80gb",
                               "price_provider": "aws", "price_pricing": "on-demand"}
    assert K.AXES == ("hbm_gb", "dram_gb", "ssd_gb")
    s = K.audit_setup()
    assert (s.model, s.gpu, s.n_gpus, s.slo_ttft_p95_s) == ("llama-3.1-70b", "h100-80gb", 8, 5.0)
    assert type(s.n_gpus) is int
    # $55.04 an hour for the 8 GPUs of a p5.48xlarge
    assert (s.price.gpu, s.price.provider, s.price.pricing, s.price.usd_per_gpu_hour) == \
        ("h100-80gb", "aws", "on-demand", 55.04 / 8)
    assert K.grid_kwargs() == {"model": "llama-3.1-70b", "gpu": "h100-80gb", "n_gpus": 8, "slo_ttft_p95_s": 5.0,
                               "price_provider": "aws", "price_pricing": "on-demand"}
    assert type(K.grid_kwargs()["n_gpus"]) is int


def test_setup_follows_the_setting(monkeypatch):
    """Another setting than ServingSetup's own defaults (so that an argument left out shows): Llama 3.1 8B on 2x
    H200 at AWS's spot $3.3214 a GPU-hour (its on-demand row is $7.912), a 1.5-s SLO."""
    monkeypatch.setattr(K, "AUDIT_SETTING", {"trace": "mooncake", "model": "llama-3.1-8b", "gpu": "h200-141gb",
                                             "price_provider": "aws", "price_pricing": "spot"})
    monkeypatch.setattr(K, "default", {"kareto_prefill_gpus": 2.0, "kareto_slo_ttft_p95_s": 1.5}.__getitem__)
    s = K.audit_setup()
    assert (s.model, s.gpu, s.n_gpus, s.slo_ttft_p95_s) == ("llama-3.1-8b", "h200-141gb", 2, 1.5)
    assert (s.price.gpu, s.price.provider, s.price.pricing, s.price.usd_per_gpu_hour) == \
        ("h200-141gb", "aws", "spot", 3.3214)
    assert K.grid_kwargs() == {"model": "llama-3.1-8b", "gpu": "h200-141gb", "n_gpus": 2, "slo_ttft_p95_s": 1.5,
                               "price_provider": "aws", "price_pricing": "spot"}


def test_sentences():
    assert K.setting_sentence(_setup()) == SENTENCE
    assert K.setting_sentence() == ("Mooncake conversation trace, llama-3.1-70b on 8x h100-80gb at 6.88 USD/GPU-h "
                                    "(aws on-demand), P95 TTFT SLO 5 s")
    assert K.unknown_setting() == UNKNOWN
    counts = pd.Series({"consistent": 0, "given": 6, "not reproducible": 4})
    assert K.verdicts_sentence(counts) == "Of the 10 figures of the Kareto summary, 6 given, 4 not reproducible."
    assert K.verdicts_sentence(pd.Series({"given": 1.0})) == "Of the 1 figures of the Kareto summary, 1 given."


def test_grid_tables_plumbing(monkeypatch):
    calls = []

    class Sweep:
        def __init__(self, evaluator, **kw):
            calls.append(("sweep", evaluator, kw))

        def __enter__(self):
            calls.append("enter")
            return self

        def __exit__(self, *exc):
            calls.append("exit")
            return False

        def run(self, configs):
            calls.append(("run", configs))
            return pd.DataFrame({"x": [1, 2]})

    evaluator = lambda config: {"evaluated": config}  # noqa: E731
    space = SimpleNamespace(grid=lambda: ["grid"])
    monkeypatch.setattr(K, "Sweep", Sweep)
    monkeypatch.setattr(K.workload, "load_mooncake_trace", lambda: "trace")
    monkeypatch.setattr(kareto, "build_evaluator", lambda trace, setup: calls.append(("build", trace, setup))
                        or evaluator)
    monkeypatch.setattr(kareto, "search_space", lambda setup: calls.append(("space", setup)) or space)
    monkeypatch.setattr(kareto, "baseline_config", lambda setup: ("baseline", setup.n_gpus))

    def search(sp, run, objectives):
        calls.append(("search", sp, objectives))
        assert run.__self__.__class__ is Sweep
        return SimpleNamespace(results="pruned rows")

    def heads(table, baseline, objectives, *, axes):
        calls.append(("heads", list(table["x"]), baseline, objectives, axes))
        return "headline rows"

    monkeypatch.setattr(pareto, "diminishing_returns_search", search)
    monkeypatch.setattr(pareto, "headline_comparisons", heads)
    # not ServingSetup's defaults (Llama 3.1 70B, H100, AWS on-demand), so that an argument left out shows
    got = K.grid_tables(model="llama-3.1-8b", gpu="h200-141gb", n_gpus=3, slo_ttft_p95_s=1.5, price_provider="aws",
                        price_pricing="spot")
    build = calls[0]
    assert build[0] == "build" and build[1] == "trace"
    s = build[2]
    assert (s.model, s.gpu, s.n_gpus, s.slo_ttft_p95_s, s.price.usd_per_gpu_hour, s.price.pricing) == \
        ("llama-3.1-8b", "h200-141gb", 3, 1.5, 3.3214, "spot")
    assert calls[1] == ("space", s)
    assert calls[2] == ("sweep", evaluator, {"executor": "serial", "progress": False})
    assert calls[3:] == ["enter", ("run", ["grid"]), ("search", space, kareto.OBJECTIVES), "exit",
                         ("heads", [1, 2], {"evaluated": ("baseline", 3)}, kareto.OBJECTIVES,
                          ["hbm_gb", "dram_gb", "ssd_gb"])]
    assert set(got) == {"exhaustive", "pruned", "baseline", "headlines"}
    assert list(got["exhaustive"]["x"]) == [1, 2] and got["pruned"] == "pruned rows"
    assert got["headlines"] == "headline rows"
    assert got["baseline"].to_dict("records") == [{"evaluated": ("baseline", 3)}]


def test_rows_by_hand(monkeypatch):
    """Every row of computed() on a hand-made search: 540 configurations, 7 searched, three headline rows."""
    heads = pd.DataFrame({"objective": ["usd_per_million_tokens", "throughput_at_slo_rps", "ttft_p95_s"],
                          "improvement_percent": [12.5, 37.5, 62.5], "hbm_gb": [59.0, 118.5, 237.0],
                          "dram_gb": [0.0, 512.0, 1536.0], "ssd_gb": [12000.0, 16000.0, 24000.0]})
    run = {"setup": _setup(), "space": SimpleNamespace(size=540), "pruned": pd.DataFrame({"a": range(7)}),
           "headlines": heads}
    monkeypatch.setattr(K, "search_at_audit_setting", lambda: run)
    r = {c.claim_id: c for c in K.computed()}
    assert list(r) == ["k.simulator.configurations_tried", "k.example1.gpu_memory", "k.example1.storage",
                       "k.example2.gpu_memory", "k.example2.storage", "k.baseline.uniform_ttl",
                       "k.baseline.uniform_ttl_problem", "k.throughput_gain_max", "k.latency_reduction_max",
                       "k.cost_reduction_max"]
    ours = f"at the audit's setting ({SENTENCE})"
    c = r["k.simulator.configurations_tried"]
    assert (c.value, c.unit, c.role, c.verdict) == (540.0, "text", "qualitative", "not reproducible")
    assert type(c.value) is float
    assert c.how == ("qualitative ('thousands' of simulations; the paper's count is not stated); " + ours +
                     " the exhaustive grid is 540 configurations and the diminishing-returns search evaluates 7")
    replica = "one replica of the audit's setting (m-7b on 4x g-40gb)"
    inputs = {
        "k.example1.gpu_memory": (500, "GB", f"an input of the summary's first what-if question, not a result "
                                             f"({replica} leaves 250 GB of HBM free for KV)"),
        "k.example1.storage": (1000, "GB", "an input of the summary's first what-if question (1 TB of storage), not "
                                           "a result"),
        # 2,000 GB ÷ 250 GB free = 8.0x
        "k.example2.gpu_memory": (2000, "GB", f"an input of the summary's second what-if question, not a result (2 TB "
                                              f"of GPU memory is 8.0x the HBM {replica} leaves free for KV)"),
        "k.example2.storage": (500, "GB", "an input of the summary's second what-if question (500 GB of storage), "
                                          "not a result"),
        "k.baseline.uniform_ttl": (1, "h", "an input of the summary's illustration of 'conventional systems' (one TTL "
                                           "of 1 h for every block), not a measured setting"),
    }
    for cid, (value, unit, how) in inputs.items():
        c = r[cid]
        assert c.value == value and is_read_back(c.value) and c.value.claim_id == cid
        assert (c.unit, c.role, c.verdict, c.how, c.restates) == (unit, "input", "given", how, None), cid
    c = r["k.baseline.uniform_ttl_problem"]
    assert c.value == 1 and is_read_back(c.value) and c.value.claim_id == "k.baseline.uniform_ttl_problem"
    assert (c.unit, c.role, c.verdict, c.restates) == ("h", "restatement", "given", "k.baseline.uniform_ttl")
    assert c.how == ("restates k.baseline.uniform_ttl (the same 1 h TTL); that a uniform TTL drops blocks still needed "
                     "after it is its definition, not a measured figure")
    unknown = f"not comparable: the paper's {UNKNOWN}"
    for cid, value, what, config in (
            ("k.throughput_gain_max", 37.5, "best throughput at the P95-TTFT SLO",
             "hbm_gb 118.5, dram_gb 512, ssd_gb 16000"),
            ("k.latency_reduction_max", 62.5, "best P95 TTFT reduction at a fixed request rate",
             "hbm_gb 237, dram_gb 1536, ssd_gb 24000"),
            ("k.cost_reduction_max", 12.5, "best cost per 1M prompt tokens at the SLO",
             "hbm_gb 59, dram_gb 0, ssd_gb 12000")):
        c = r[cid]
        assert c.value == value and type(c.value) is float
        assert (c.unit, c.role, c.verdict) == ("%", "unpublished", "not reproducible"), cid
        assert c.how == f"{ours}: {what} vs HBM + 1024 GB DRAM, best configuration {config}; {unknown}", cid


def test_table_is_the_whole_audits_section(monkeypatch):
    import model.audit.whole as W

    monkeypatch.setattr(W, "section", lambda name: ("section", name))
    assert K.table() == ("section", "model.audit.kareto_paper")
