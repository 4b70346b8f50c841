"""Audit of T4 (one request at a time vs continuous batching) and of the GPU-utilisation rows that repeat
it in T1, T12 and the summary, at the case study's stated setting.

Setting (the source's): Llama 2 70B in FP16 on A100 80GB, turns of a 2K-token prompt and a reply of one
turn's tokens (§8, under the audit's reading of ``tokens_per_turn``), GPUs priced at the audit's reading of
``gpu_price`` (T9's own; :mod:`model.audit.readings`; the other readings are computed too). Throughputs
are analytic saturation rates (:mod:`model.serving.saturation`) and physical bounds (:mod:`model.serving.rate_bounds`); the
model-copy size the source leaves open is spanned (``batching_audit_copy_gpus_low``–``_high``). No simulation, no
chapter parameter.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from model.audit.claims import stated_value
from model.audit.t3_throughput_latency import DTYPE, GPU, MODEL, TURN_CLAIMS, copy_sizes, turn_tokens
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.calendar import hours_per_month
from model.parameters import default
from model.economics.prices import gpu_price
from model.serving.rate_bounds import compute_rate_bound_per_gpu, sequential_rate_bound_per_gpu
from model.serving.saturation import continuous_saturation
from model.serving.step_time import deployment

#: Where the source hosts (T2: "AWS + NVIDIA A100"): the price row of ``data/prices/gpu_prices.csv``.
PROVIDER, PRICING = "aws", "on-demand"
#: The weights of §5, for the one-at-a-time bound with INT8 weights (reported beside the FP16 bound).
INT8 = "int8"

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


def session_demand_per_min(concurrent_sessions: str | None = None) -> float:
    """Requests per minute of 1M concurrent sessions that each send 200 turns in 30 minutes (§1, Little's
    law: sessions open × turns per session ÷ session minutes), under the reading ``concurrent_sessions`` of
    how many of the 1M are open at once (default: the audit's, all of them)."""
    st = stated_value
    return (st("t1.sessions.optimized") * R.open_share(concurrent_sessions) * st("t1.s1_service.turns_per_session")
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


@lru_cache(maxsize=None)
def rates(tokens_per_turn: str | None = None) -> pd.DataFrame:
    """Per copy size, for a turn's reply under the reading ``tokens_per_turn`` (default: the audit's):
    saturation requests/min per GPU of one-at-a-time (batch 1) and continuous batching (vLLM's 256
    sequences), and the physical bounds (one at a time: all weights read per token at full bandwidth,
    prompts free, FP16 and INT8 weights; any batching: 2 × parameters FLOPs per reply token at the dense
    FP16 peak)."""
    prompt, reply = turn_tokens(tokens_per_turn)
    rows = []
    for n in copy_sizes():
        dep = deployment(MODEL, GPU, n, weight_dtype=DTYPE, kv_dtype=DTYPE)
        int8 = deployment(MODEL, GPU, n, weight_dtype=INT8, kv_dtype=DTYPE)
        seq = continuous_saturation(dep, [prompt], [reply], max_batch=1)
        cb = continuous_saturation(dep, [prompt], [reply], max_batch=int(default("batching_max_num_seqs")))
        rows.append({"n_gpus": n, "sequential_rpm_per_gpu": seq.requests_per_min / n,
                     "continuous_rpm_per_gpu": cb.requests_per_min / n,
                     "sequential_bound_rpm_per_gpu": 60 * sequential_rate_bound_per_gpu(dep, reply),
                     "sequential_bound_int8_rpm_per_gpu": 60 * sequential_rate_bound_per_gpu(int8, reply),
                     "compute_bound_rpm_per_gpu": 60 * compute_rate_bound_per_gpu(dep, reply),
                     "compute_bound_with_prompt_rpm_per_gpu": 60 * compute_rate_bound_per_gpu(dep, prompt + reply)})
    return pd.DataFrame(rows)


def _span(values) -> Alt:
    v = pd.Series(values, dtype=float)
    return Alt(float(v.median()), float(v.min()), float(v.max()))


def _gpus(policy: str, tokens_per_turn: str | None = None, concurrent_sessions: str | None = None) -> pd.Series:
    """GPUs per copy size that carry the demand at the saturation throughput of ``policy``."""
    r = rates(tokens_per_turn)
    col = "sequential_rpm_per_gpu" if policy == "sequential" else "continuous_rpm_per_gpu"
    return session_demand_per_min(concurrent_sessions) / r[col]


def _both(figure) -> tuple:
    """``figure(tokens_per_turn, concurrent_sessions) -> Alt`` at the audit's readings, and ``under`` every
    other reading of either."""
    main = figure(None, None)
    _, under = R.across("tokens_per_turn", lambda a: figure(a, None))
    _, under_c = R.across("concurrent_sessions", lambda a: figure(None, a))
    return main, {**under, **under_c}


#: The open choice the fleet ranges span.
COPY_CHOICE = "the GPUs per model copy"
#: Why T4's throughput bounds hold under every mechanism the source describes for T4.
T4_STAGE = ("T4's stage, before §5's INT8 (its 1,630 GPUs are those §5 then cuts with INT8): FP16 weights, any "
            "split of the model over GPUs (a GPU's share of the work does not depend on it), prompts free and the "
            "whole bandwidth or dense peak")


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
        "serving is busy exactly the share of its capacity it is offered", role="measurement"))
    for cid in _BEFORE_60:
        out.append(Computed(cid, st(cid), "%", "restates t4.baseline.gpu_util (60%)", role="restatement",
                            restates="t4.baseline.gpu_util"))
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
        out.append(Computed(cid, st(cid), "%", "restates t4.cb.gpu_util (92%)", role="restatement",
                            restates="t4.cb.gpu_util"))
    out.append(Computed("t1.gpu_util.scale_factor", float("nan"), "text",
                        "qualitative ('Batch処理最適化', 'batch-processing optimisation'); see t4.cb.gpu_util",
                        role="qualitative"))
    out.append(Computed(
        "t12.gpu_util.improvement", 100 * (st("t12.gpu_util.optimized") / st("t12.gpu_util.initial") - 1), "%",
        "the stated pair's arithmetic: 92 / 60 - 1"))
    # --- throughput: physical bounds per GPU (the audit's reading), the service's demand (the other) ---------
    demand = session_demand_per_min()
    fleet_basis = Alt(demand, kind="estimate", how="T4's rate read as the whole service's, against its demand")

    def bound(column):
        main, under = R.across("tokens_per_turn", lambda t: Alt(float(rates(t)[column].min())))
        return main, {**under, ("t4_throughput_basis", "fleet"): fleet_basis}

    main, under = bound("sequential_bound_rpm_per_gpu")
    out.append(Computed(
        "t4.baseline.throughput", main.value, "requests/min",
        f"one request at a time reads all weights for every generated token: at most {main.value:.1f} req/min per "
        f"GPU for {reply}-token replies even with free prompts and full bandwidth (with INT8 weights "
        f"{r['sequential_bound_int8_rpm_per_gpu'].min():.1f}; model at saturation: "
        f"{r['sequential_rpm_per_gpu'].min():.2f}-{r['sequential_rpm_per_gpu'].max():.2f}, {copies}); read as the "
        f"whole service's rate, 1,200 is far below the {demand / 1e6:.2f}M req/min of 1M sessions",
        kind="upper_bound", reads=TURN_CLAIMS, under=under, holds_under=T4_STAGE))
    main, under = bound("compute_bound_rpm_per_gpu")
    out.append(Computed(
        "t4.cb.throughput", main.value, "requests/min",
        f"any batching needs >= 2 x parameters FLOPs per processed token: at most {main.value:.0f} req/min per GPU "
        f"at the dense FP16 peak counting only the {reply} reply tokens "
        f"({r['compute_bound_with_prompt_rpm_per_gpu'].min():.0f} with the {prompt}-token prompts; model at "
        f"saturation: {r['continuous_rpm_per_gpu'].min():.1f}-{r['continuous_rpm_per_gpu'].max():.1f}, {copies})",
        kind="upper_bound", reads=TURN_CLAIMS, under=under, holds_under=T4_STAGE))
    # --- GPUs, cost change and saving for the demand the source implies --------------------------------------
    t4_demand, _ = implied_demand_per_min()
    reads = TURN_CLAIMS + DEMAND_CLAIMS
    main, under = _both(lambda t, c: _span(_gpus("sequential", t, c)))
    out.append(Computed(
        "t4.baseline.gpus_for_1m", main.value, "count",
        f"1M sessions x 200 turns / 30 min = {demand / 1e6:.2f}M req/min (§1; T4's own 2,500 x 1,200 implies "
        f"{t4_demand / 1e6:.2f}M) / one-at-a-time saturation throughput per GPU ({copies}): {main.low:,.0f}-"
        f"{main.high:,.0f} GPUs", kind="range", low=main.low, high=main.high, reads=reads, under=under,
        depends_on=COPY_CHOICE))
    main, under = _both(lambda t, c: _span(_gpus("continuous", t, c)))
    out.append(Computed(
        "t4.cb.gpus_for_1m", main.value, "count",
        f"the same {demand / 1e6:.2f}M req/min / continuous-batching saturation throughput per GPU ({copies}): "
        f"{main.low:,.0f}-{main.high:,.0f} GPUs", kind="range", low=main.low, high=main.high, reads=reads,
        under=under, depends_on=COPY_CHOICE))
    main, under = R.across("tokens_per_turn", lambda t: _span(100 * (_gpus("continuous", t) / _gpus("sequential", t) - 1)))
    out.append(Computed(
        "t4.cb.cost_change", main.value, "%",
        f"GPU cost follows the GPU count: continuous / one-at-a-time GPUs - 1 = {main.low:+.1f}% to {main.high:+.1f}% "
        f"({copies}, whatever the demand); the stated 1,630 / 2,500 - 1 = -34.8% is 60% / 92% - 1: the source "
        f"scales cost by the utilisation ratio", kind="range", low=main.low, high=main.high, reads=TURN_CLAIMS,
        under=under, depends_on=COPY_CHOICE))
    out.append(Computed("s.lesson_cb.cost_change", st("s.lesson_cb.cost_change"), "%",
                        "restates t4.cb.cost_change (-35%)", role="restatement", restates="t4.cb.cost_change"))
    hours = hours_per_month()

    def saving(t, c, price):
        return _span((_gpus("sequential", t, c) - _gpus("continuous", t, c)) * R.gpu_usd_per_hour(price) * hours)

    main, under = _both(lambda t, c: saving(t, c, None))
    _, under_p = R.across("gpu_price", lambda p: saving(None, None, p))
    implied = implied_gpu_usd_per_month()
    out.append(Computed(
        "t4.cb.monthly_saving", main.value, "USD/month",
        f"(one-at-a-time - continuous GPUs) x ${R.gpu_usd_per_hour():.2f}/GPU-h ({R.gpu_price_label()}) x "
        f"{hours:g} h: ${main.low / 1e6:,.0f}M-${main.high / 1e6:,.0f}M ({copies}); the source's $875K for 870 "
        f"GPUs implies ${implied:.0f}/GPU-month = ${implied / hours:.2f}/GPU-h",
        kind="range", low=main.low, high=main.high, reads=reads, under={**under, **under_p},
        depends_on=COPY_CHOICE))
    return out


def table() -> pd.DataFrame:
    """The audit table of T4 and the utilisation rows, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
