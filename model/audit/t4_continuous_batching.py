"""Audit of T4 (one request at a time vs continuous batching) and of the GPU-utilisation rows that repeat
it in T1, T12 and the summary, at the case study's stated setting.

Setting (the source's): Llama 2 70B in FP16 on A100 80GB, turns of a 2K-token prompt and a 100-token
reply (§8), AWS on-demand A100 80GB pricing (T2: hosted on AWS + NVIDIA A100; ``data/prices``). Throughputs
are analytic saturation rates (:mod:`model.serving.saturation`) and physical bounds (:mod:`model.serving.rate_bounds`); the
model-copy size the source leaves open is spanned (``batching_audit_copy_gpus_low``–``_high``). No simulation, no
chapter parameter.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.audit.claims import stated_value
from model.audit.t3_throughput_latency import DTYPE, GPU, MODEL, TURN_CLAIMS, copy_sizes, turn_tokens
from model.audit.verdicts import Computed, audit
from model.parameters import default
from model.economics.prices import gpu_price
from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu
from model.serving.saturation import continuous_saturation
from model.serving.step_time import deployment

#: Where the source hosts (T2: "AWS + NVIDIA A100"): the price row of ``data/prices/gpu_prices.csv``.
PROVIDER, PRICING = "aws", "on-demand"

_BEFORE_60 = ("t4.heading.gpu_util_before", "t4.problem.gpu_util", "t1.gpu_util.initial", "t12.gpu_util.initial",
              "s.success_cb.gpu_util_before")
_AFTER_92 = ("t4.heading.gpu_util_after", "t12.gpu_util.optimized", "s.success_cb.gpu_util_after",
             "s.strength_gpu.gpu_util")


def implied_demand_per_min() -> tuple[float, float]:
    """Fleet demand implied by T4's own figures: GPUs × requests/min per GPU, before and after."""
    return (stated_value("t4.baseline.gpus_for_1m") * stated_value("t4.baseline.throughput"),
            stated_value("t4.cb.gpus_for_1m") * stated_value("t4.cb.throughput"))


#: Claims the demand of §1 reads: 1M concurrent sessions, 200 turns per 30-minute session.
DEMAND_CLAIMS = ("t1.sessions.optimized", "t1.s1_service.turns_per_session", "t1.s1_service.avg_session_length")


def session_demand_per_min() -> float:
    """Requests per minute of 1M concurrent sessions that each send 200 turns in 30 minutes (§1, Little's
    law: concurrent sessions × turns per session ÷ session minutes)."""
    st = stated_value
    return (st("t1.sessions.optimized") * st("t1.s1_service.turns_per_session")
            / st("t1.s1_service.avg_session_length"))


def implied_gpu_usd_per_month() -> float:
    """Price per GPU-month implied by the source: $875K/month saved by 2,500 − 1,630 fewer GPUs."""
    fewer = stated_value("t4.baseline.gpus_for_1m") - stated_value("t4.cb.gpus_for_1m")
    return stated_value("t4.cb.monthly_saving") / fewer


def implied_ratios() -> dict:
    """The ratios the source's figures share (T4): throughput after/before, GPUs before/after and
    utilisation after/before; all about 1.53 if capacity per busy second is taken as fixed."""
    st = stated_value
    return {"throughput": st("t4.cb.throughput") / st("t4.baseline.throughput"),
            "gpus": st("t4.baseline.gpus_for_1m") / st("t4.cb.gpus_for_1m"),
            "utilisation": st("t4.cb.gpu_util") / st("t4.baseline.gpu_util")}


def gpu_usd_per_hour() -> float:
    """The source's GPU rented where it says it hosts: the latest AWS on-demand A100 80GB row, USD/GPU-h."""
    return gpu_price(GPU, PROVIDER, PRICING).usd_per_gpu_hour


@lru_cache(maxsize=1)
def rates() -> pd.DataFrame:
    """Per copy size: saturation requests/min per GPU of one-at-a-time (batch 1) and continuous batching
    (vLLM's 256 sequences), and the two physical bounds (one at a time: all weights read per token at full
    bandwidth, prompts free; any batching: 2 × parameters FLOPs per reply token at dense peak)."""
    prompt, reply = turn_tokens()
    rows = []
    for n in copy_sizes():
        dep = deployment(MODEL, GPU, n, weight_dtype=DTYPE, kv_dtype=DTYPE)
        seq = continuous_saturation(dep, [prompt], [reply], max_batch=1)
        cb = continuous_saturation(dep, [prompt], [reply], max_batch=int(default("batching_max_num_seqs")))
        rows.append({"n_gpus": n, "sequential_rpm_per_gpu": seq.requests_per_min / n,
                     "continuous_rpm_per_gpu": cb.requests_per_min / n,
                     "sequential_bound_rpm_per_gpu": 60 * sequential_rate_bound_per_gpu(dep, reply),
                     "compute_bound_rpm_per_gpu": 60 * compute_rate_bound_per_gpu(dep, reply),
                     "compute_bound_with_prompt_rpm_per_gpu": 60 * compute_rate_bound_per_gpu(dep, prompt + reply)})
    return pd.DataFrame(rows)


def _span(values) -> tuple[float, float, float]:
    v = pd.Series(values, dtype=float)
    return float(v.min()), float(v.median()), float(v.max())


def computed() -> list[Computed]:
    """T4 and the utilisation rows, stated vs computed (each claim once; ``how`` gives the arithmetic)."""
    out: list[Computed] = []
    st = stated_value
    r = rates()
    prompt, reply = turn_tokens()
    a, b = copy_sizes()
    copies = f"{a} or {b} GPUs per copy"
    # --- GPU utilisation -----------------------------------------------------------------------------------
    out.append(Computed(
        "t4.baseline.gpu_util", float("nan"), "%",
        "a busy fraction is set by the offered load, which the source does not state: one-request-at-a-time "
        "serving is busy exactly the share of its capacity it is offered", verdict="not reproducible"))
    for cid in _BEFORE_60:
        out.append(Computed(cid, st(cid), "%", "restates t4.baseline.gpu_util (60%)", verdict="given"))
    out.append(Computed(
        "t4.problem.wasted_share", 100 - st("t4.problem.gpu_util"), "%",
        "100% - 60% busy = 40% idle (the arithmetic holds); idle time under a partial load is spare capacity, "
        "not waste caused by one-at-a-time processing"))
    out.append(Computed(
        "t4.cb.gpu_util", st("t4.baseline.gpu_util") * st("t4.baseline.gpus_for_1m") / st("t4.cb.gpus_for_1m"), "%",
        "the source's own arithmetic: 60% x 2,500 / 1,630 GPUs: the same demand on fewer GPUs of a fixed capacity "
        "per busy second. Continuous batching instead multiplies the work done per busy second (see "
        "t4.cb.throughput), so the busy share it reaches follows the load, not the policy"))
    out.append(Computed(
        "t1.gpu_util.optimized", st("t1.gpu_util.initial") * st("t4.cb.throughput") / st("t4.baseline.throughput"),
        "%", "the source's own arithmetic along the throughput row: 60% x 1,840 / 1,200 requests/min (T4)"))
    for cid in _AFTER_92:
        out.append(Computed(cid, st(cid), "%", "restates t4.cb.gpu_util (92%)", verdict="given"))
    out.append(Computed("t1.gpu_util.scale_factor", float("nan"), "text",
                        "qualitative ('Batch処理最適化', 'batch-processing optimisation'); see t4.cb.gpu_util", verdict="not reproducible"))
    out.append(Computed(
        "t12.gpu_util.improvement", 100 * (st("t12.gpu_util.optimized") / st("t12.gpu_util.initial") - 1), "%",
        "the stated pair's arithmetic: 92 / 60 - 1"))
    # --- throughput: physical bounds ------------------------------------------------------------------------
    seq_bound = float(r["sequential_bound_rpm_per_gpu"].min())
    out.append(Computed(
        "t4.baseline.throughput", seq_bound, "requests/min",
        f"one request at a time reads all weights for every generated token: at most {seq_bound:.1f} req/min per "
        f"GPU for {reply}-token replies even with free prompts and full bandwidth (model at saturation: "
        f"{r['sequential_rpm_per_gpu'].min():.2f}-{r['sequential_rpm_per_gpu'].max():.2f}, {copies})",
        kind="upper_bound", reads=TURN_CLAIMS))
    cb_bound = float(r["compute_bound_rpm_per_gpu"].min())
    out.append(Computed(
        "t4.cb.throughput", cb_bound, "requests/min",
        f"any batching needs >= 2 x parameters FLOPs per processed token: at most {cb_bound:.0f} req/min per GPU at "
        f"the dense peak counting only the {reply} reply tokens ({r['compute_bound_with_prompt_rpm_per_gpu'].min():.0f}"
        f" with the {prompt}-token prompts; model at saturation: {r['continuous_rpm_per_gpu'].min():.1f}-"
        f"{r['continuous_rpm_per_gpu'].max():.1f}, {copies})", kind="upper_bound", reads=TURN_CLAIMS))
    # --- GPUs, cost change and saving for the demand the source implies --------------------------------------
    demand = session_demand_per_min()
    t4_demand, _ = implied_demand_per_min()
    reads = TURN_CLAIMS + DEMAND_CLAIMS
    before = demand / r["sequential_rpm_per_gpu"]
    after = demand / r["continuous_rpm_per_gpu"]
    lo, mid, hi = _span(before)
    out.append(Computed(
        "t4.baseline.gpus_for_1m", mid, "count",
        f"1M sessions x 200 turns / 30 min = {demand / 1e6:.2f}M req/min (§1; T4's own 2,500 x 1,200 implies "
        f"{t4_demand / 1e6:.2f}M) / one-at-a-time saturation throughput per GPU ({copies}): {lo:,.0f}-{hi:,.0f} GPUs",
        kind="range", low=lo, high=hi, reads=reads))
    lo, mid, hi = _span(after)
    out.append(Computed(
        "t4.cb.gpus_for_1m", mid, "count",
        f"the same {demand / 1e6:.2f}M req/min / continuous-batching saturation throughput per GPU ({copies}): "
        f"{lo:,.0f}-{hi:,.0f} GPUs", kind="range", low=lo, high=hi, reads=reads))
    lo, mid, hi = _span(100 * (after / before - 1))
    out.append(Computed(
        "t4.cb.cost_change", mid, "%",
        f"GPU cost follows the GPU count: continuous / one-at-a-time GPUs - 1 = {lo:+.1f}% to {hi:+.1f}% ({copies}, "
        f"whatever the demand); the stated 1,630 / 2,500 - 1 = -34.8% is 60% / 92% - 1: the source scales cost by "
        f"the utilisation ratio", kind="range", low=lo, high=hi, reads=TURN_CLAIMS))
    out.append(Computed("s.lesson_cb.cost_change", st("s.lesson_cb.cost_change"), "%",
                        "restates t4.cb.cost_change (-35%)", verdict="given"))
    hours = default("hours_per_month")
    price = gpu_usd_per_hour()
    lo, mid, hi = _span((before - after) * price * hours)
    implied = implied_gpu_usd_per_month()
    out.append(Computed(
        "t4.cb.monthly_saving", mid, "USD/month",
        f"(one-at-a-time - continuous GPUs) x ${price:.2f}/GPU-h ({PROVIDER} {PRICING} {GPU}) x {hours:g} h: "
        f"${lo / 1e6:,.0f}M-${hi / 1e6:,.0f}M ({copies}); the source's $875K for 870 GPUs implies "
        f"${implied:.0f}/GPU-month = ${implied / hours:.2f}/GPU-h", kind="range", low=lo, high=hi, reads=reads))
    return out


def table() -> pd.DataFrame:
    """The audit table of T4 and the utilisation rows (:func:`model.audit.verdicts.audit`)."""
    return audit(computed())
