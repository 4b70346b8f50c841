"""Audit of the Kareto summary (table K, ``data/claims/kareto.csv``): the paper's example questions, its
illustration of a uniform TTL, the size of its search and its three headline improvements.

The paper's own setting (traces, model, GPUs, prices, SLO, grid) is not public (``data/kareto/README.md``),
so its headline figures cannot be recomputed: they are "not reproducible", and what the study computes for
them is computed at the FIXED setting :data:`AUDIT_SETTING` declared here — the Kareto chapter's defaults
frozen as the audit's setting — never at the chapter's parameters. The figures that are inputs of the
summary's examples or restatements of another figure are ``given``.

The search at that setting (540 configurations, serial) takes tens of seconds, so its tables are a record
(``data/records/kareto_audit``, :mod:`model.records`): read while its fingerprint is current, computed
otherwise.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model import workload
from model.search import tier_search as kareto
from model.search import pareto
from model.audit.claims import stated_value
from model.audit.verdicts import Computed
from model.io import DATA
from model.parameters import default
from model.economics.prices import gpu_price
from model.records import recorded
from model.search.evaluations import Sweep

#: The audit's setting: the Kareto chapter's defaults (notebooks/kareto.ipynb, parameters cell), frozen.
#: Trace: the Mooncake conversation trace, whole (``model.workload.load_mooncake_trace``). Replica:
#: Llama 3.1 70B on ``kareto_prefill_gpus`` × H100 80GB (AWS p5.48xlarge), FP16 KV cache, priced at the
#: H100's AWS on-demand row of ``data/prices/gpu_prices.csv``. SLO: ``kareto_slo_ttft_p95_s``. Grid: the
#: chapter's full grid (``model.search.tier_search.GRID_*``); search threshold and beam: their defaults
#: (``kareto_min_elasticity``, ``kareto_search_beam``). Baseline: ``model.search.tier_search.baseline_config`` (HBM +
#: 1024 GB of DRAM, the paper's fixed setup).
AUDIT_SETTING = {"trace": "mooncake", "model": "llama-3.1-70b", "gpu": "h100-80gb",
                 "price_provider": "aws", "price_pricing": "on-demand"}

AXES = ("hbm_gb", "dram_gb", "ssd_gb")


def audit_setup() -> kareto.ServingSetup:
    """The prefill replica and prices of :data:`AUDIT_SETTING` (GPU count and SLO: their cited defaults)."""
    return kareto.ServingSetup(model=AUDIT_SETTING["model"], gpu=AUDIT_SETTING["gpu"],
                               n_gpus=int(default("kareto_prefill_gpus")),
                               slo_ttft_p95_s=default("kareto_slo_ttft_p95_s"),
                               price=gpu_price(AUDIT_SETTING["gpu"], AUDIT_SETTING["price_provider"],
                                               AUDIT_SETTING["price_pricing"]))


def setting_sentence(setup: kareto.ServingSetup | None = None) -> str:
    """One line naming the audit's setting."""
    s = setup or audit_setup()
    return (f"Mooncake conversation trace, {s.model} on {s.n_gpus}x {s.gpu} at {s.gpu_usd_per_hour:.2f} USD/GPU-h "
            f"({s.price.provider} {s.price.pricing}), P95 TTFT SLO {s.slo_ttft_p95_s:g} s")


def unknown_setting() -> str:
    """What the paper's abstract does not state (``data/kareto/paper_figures.csv``, rows ``known=unknown``)."""
    table = pd.read_csv(DATA / "kareto" / "paper_figures.csv")
    names = [" ".join(w.upper() if w in {"gpus", "slo", "hbm", "ssd", "ttl"} else w for w in f.split("_"))
             for f in table.loc[table["known"] == "unknown", "figure"]]
    return ", ".join(names).replace("GPUS", "GPUs") + " are not stated in the abstract (the only public text found)"


def grid_kwargs() -> dict:
    """The arguments of :func:`grid_tables` at :data:`AUDIT_SETTING`."""
    s = audit_setup()
    return {"model": s.model, "gpu": s.gpu, "n_gpus": s.n_gpus, "slo_ttft_p95_s": s.slo_ttft_p95_s,
            "price_provider": AUDIT_SETTING["price_provider"], "price_pricing": AUDIT_SETTING["price_pricing"]}


def grid_tables(*, model: str, gpu: str, n_gpus: int, slo_ttft_p95_s: float, price_provider: str,
                price_pricing: str) -> dict:
    """The exhaustive grid, the diminishing-returns search, the baseline and the headline comparisons on the
    whole Mooncake conversation trace for one prefill replica, as tables (``exhaustive``, ``pruned``,
    ``baseline``: one row, ``headlines``)."""
    setup = kareto.ServingSetup(model=model, gpu=gpu, n_gpus=n_gpus, slo_ttft_p95_s=slo_ttft_p95_s,
                                price=gpu_price(gpu, price_provider, price_pricing))
    evaluator = kareto.build_evaluator(workload.load_mooncake_trace(), setup)
    space = kareto.search_space(setup)
    with Sweep(evaluator, executor="serial", progress=False) as sweep:
        exhaustive = sweep.run(space.grid())
        searched = pareto.diminishing_returns_search(space, sweep.run, kareto.OBJECTIVES)
    baseline = evaluator(kareto.baseline_config(setup))
    headlines = pareto.headline_comparisons(exhaustive, baseline, kareto.OBJECTIVES, axes=list(AXES))
    return {"exhaustive": exhaustive, "pruned": searched.results, "baseline": pd.DataFrame([baseline]),
            "headlines": headlines}


@lru_cache(maxsize=1)
def search_at_audit_setting() -> dict:
    """:func:`grid_tables` at :data:`AUDIT_SETTING` (from the record ``kareto_audit`` while it is current;
    once per process), with the setup and the search space."""
    setup = audit_setup()
    got = recorded("kareto_audit", grid_tables, grid_kwargs())
    t = got.tables
    return {"setup": setup, "space": kareto.search_space(setup), "exhaustive": t["exhaustive"],
            "pruned": t["pruned"], "baseline": t["baseline"].iloc[0].to_dict(), "headlines": t["headlines"],
            "source": got}


def computed() -> list[Computed]:
    """One :class:`Computed` per claim of table K (and its examples), at :data:`AUDIT_SETTING`."""
    run = search_at_audit_setting()
    setup, space = run["setup"], run["space"]
    free = setup.free_hbm_gb()
    n_pruned = len(run["pruned"])
    h = run["headlines"].set_index("objective")
    ours = f"at the audit's setting ({setting_sentence(setup)})"
    replica = f"one replica of the audit's setting ({setup.model} on {setup.n_gpus}x {setup.gpu})"
    unknown = f"not comparable: the paper's {unknown_setting()}"

    def headline(claim_id: str, objective: str, what: str) -> Computed:
        row = h.loc[objective]
        config = ", ".join(f"{a} {row[a]:g}" for a in AXES)
        return Computed(claim_id, float(row["improvement_percent"]), "%",
                        f"{ours}: {what} vs HBM + 1024 GB DRAM, best configuration {config}; {unknown}",
                        role="unpublished")

    return [
        Computed("k.simulator.configurations_tried", float(space.size), "text",
                 f"qualitative ('thousands' of simulations; the paper's count is not stated); {ours} the exhaustive "
                 f"grid is {space.size} configurations and the diminishing-returns search evaluates {n_pruned}",
                 role="qualitative"),
        Computed("k.example1.gpu_memory", stated_value("k.example1.gpu_memory"), "GB",
                 f"an input of the summary's first what-if question, not a result ({replica} leaves "
                 f"{free:.0f} GB of HBM free for KV)", role="input"),
        Computed("k.example1.storage", stated_value("k.example1.storage"), "GB",
                 "an input of the summary's first what-if question (1 TB of storage), not a result",
                 role="input"),
        Computed("k.example2.gpu_memory", stated_value("k.example2.gpu_memory"), "GB",
                 f"an input of the summary's second what-if question, not a result (2 TB of GPU memory is "
                 f"{stated_value('k.example2.gpu_memory') / free:.1f}x the HBM {replica} leaves free for KV)", role="input"),
        Computed("k.example2.storage", stated_value("k.example2.storage"), "GB",
                 "an input of the summary's second what-if question (500 GB of storage), not a result",
                 role="input"),
        Computed("k.baseline.uniform_ttl", stated_value("k.baseline.uniform_ttl"), "h",
                 "an input of the summary's illustration of 'conventional systems' (one TTL of 1 h for every "
                 "block), not a measured setting", role="input"),
        Computed("k.baseline.uniform_ttl_problem", stated_value("k.baseline.uniform_ttl_problem"), "h",
                 "restates k.baseline.uniform_ttl (the same 1 h TTL); that a uniform TTL drops blocks still "
                 "needed after it is its definition, not a measured figure", role="restatement",
                 restates="k.baseline.uniform_ttl"),
        headline("k.throughput_gain_max", "throughput_at_slo_rps", "best throughput at the P95-TTFT SLO"),
        headline("k.latency_reduction_max", "ttft_p95_s", "best P95 TTFT reduction at a fixed request rate"),
        headline("k.cost_reduction_max", "usd_per_million_tokens", "best cost per 1M prompt tokens at the SLO"),
    ]


def verdicts_sentence(counts: pd.Series) -> str:
    """The audit's verdict counts in one sentence (``counts``: :func:`model.audit.verdicts.verdict_counts`)."""
    parts = [f"{int(n)} {v}" for v, n in counts.items() if n]
    return f"Of the {int(counts.sum())} figures of the Kareto summary, " + ", ".join(parts) + "."


def table() -> pd.DataFrame:
    """The audit table of the Kareto summary (:func:`model.audit.whole.section`: :func:`computed`, judged)."""
    from model.audit.whole import section

    return section(__name__)
