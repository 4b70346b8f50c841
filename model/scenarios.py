"""One chat service re-planned on current models and GPUs, side by side, and two published production fleets fed
to the same planner.

For each (model, GPU, number formats) case: the KV cache of one session, the sessions one GPU holds beside the
weights, the GPUs that hold the sessions, and the plan of :func:`model.plan.compose.make_plan` (GPUs that serve
them at the latency targets, the prefix cache per node, $/month, $/M tokens) at a published GPU-hour price.

Units: bytes and GB (1e9 bytes), tokens, requests/s, seconds, USD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from model.architectures import load_architecture
from model.checks import ParameterError, check_choice, check_int, check_positive
from model.hardware import load_gpu
from model.kv.budget import memory_budget
from model.parameters import default
from model.plan.compose import make_plan
from model.plan.inputs import PlanInputs

#: Price rows a published rate is taken from: list prices anyone can rent at without commitment.
RATE_PRICINGS = ("on-demand", "neocloud")
#: Weight formats a case may ask for; ``"auto"``: FP4 where the GPU has FP4 tensor cores, FP8 elsewhere.
WEIGHT_CHOICES = ("auto", "fp8", "fp4", "int8", "fp16", "bf16")
#: Tensor-parallel group sizes tried for holding the weights (one 8-GPU node at most, as the planner).
GROUP_SIZES = (1, 2, 4, 8)


@dataclass(frozen=True)
class GpuRate:
    """A GPU-hour price and where it comes from.

    Attributes
    ----------
    gpu : str
        GPU name of ``data/hardware.csv``.
    usd_per_gpu_hour : float or None
        Median of the GPU's published rows (None: no published price).
    rows : int
        Price rows the median is taken over.
    label : str
        Providers and dates, for a table.
    """

    gpu: str
    usd_per_gpu_hour: float | None
    rows: int
    label: str


def published_rate(gpu: str) -> GpuRate:
    """The median of ``gpu``'s on-demand and neocloud rows of ``data/prices/gpu_prices.csv`` (USD per GPU-hour);
    ``usd_per_gpu_hour`` None when the file prices no such row."""
    from model.economics.prices import gpu_prices

    t = gpu_prices()
    rows = t[(t["gpu"] == gpu) & t["pricing"].isin(RATE_PRICINGS)]
    if rows.empty:
        return GpuRate(gpu, None, 0, "no published price")
    values = sorted(float(v) for v in rows["usd_per_gpu_hour"])
    mid = len(values) // 2
    median = values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2
    providers = ", ".join(sorted(set(rows["provider"])))
    dates = sorted(str(d) for d in rows["date"])
    return GpuRate(gpu, median, len(values), f"median of {len(values)} ({providers}; {dates[0]} to {dates[-1]})")


def weight_format(gpu: str, choice: str, *, name: str = "weight_dtype") -> str:
    """The weight format of a case on ``gpu``: ``choice``, or for ``"auto"`` FP4 where the GPU has FP4 tensor
    cores and FP8 elsewhere.

    Raises
    ------
    ParameterError
        naming ``name`` if ``choice`` is not one of :data:`WEIGHT_CHOICES`, or asks for FP4 on a GPU without it.
    """
    check_choice(name, choice, WEIGHT_CHOICES)
    accel = load_gpu(gpu)
    if choice == "auto":
        return "fp4" if accel.supports("fp4") else "fp8"
    if choice == "fp4" and not accel.supports("fp4"):
        raise ParameterError(name, choice, f"one {gpu} has tensor cores for: auto, fp8, int8, fp16, bf16")
    return choice


@dataclass(frozen=True)
class Holding:
    """What holding ``sessions`` sessions of ``context_tokens`` tokens takes, memory only.

    Attributes
    ----------
    kv_bytes_per_session : float
        KV cache of one session on one copy of the model (windows, shared layers and fixed states counted), bytes.
    group_gpus : int
        Smallest group of :data:`GROUP_SIZES` GPUs that holds the weights and at least one session.
    sessions_per_gpu : float
        Sessions such a group holds beside the weights, per GPU.
    gpus_to_hold : int
        GPUs of whole groups holding every session.
    """

    kv_bytes_per_session: float
    group_gpus: int
    sessions_per_gpu: float
    gpus_to_hold: int


def holding(model: str, gpu: str, *, weight_dtype: str, kv_dtype: str, sessions: float,
            context_tokens: float) -> Holding:
    """Memory needed to hold ``sessions`` concurrent sessions of ``context_tokens`` tokens of ``model`` on ``gpu``
    (:func:`model.kv.budget.memory_budget`, in the group of :data:`GROUP_SIZES` that holds them on the fewest
    GPUs; the smaller group on a tie). The smallest group that holds the weights may leave room for only a few
    sessions beside them (DeepSeek-V3 in FP8 on 4 x MI300X), where a larger one holds many more per GPU.

    Raises
    ------
    ParameterError
        naming ``gpu`` if no group of at most 8 GPUs holds the weights and one session.
    """
    check_positive("sessions", sessions)
    arch, accel = load_architecture(model), load_gpu(gpu)
    one = memory_budget(arch, accel, context_tokens=context_tokens, n_gpus=1, weight_dtype=weight_dtype,
                        kv_dtype=kv_dtype).kv_bytes_per_session
    best = None
    for n in GROUP_SIZES:
        b = memory_budget(arch, accel, context_tokens=context_tokens, n_gpus=n, weight_dtype=weight_dtype,
                          kv_dtype=kv_dtype)
        if b.sessions >= 1:
            candidate = Holding(one, n, b.sessions / n, math.ceil(sessions / b.sessions) * n)
            if best is None or candidate.gpus_to_hold < best.gpus_to_hold:
                best = candidate
    if best is not None:
        return best
    raise ParameterError("gpu", gpu, f"a GPU on which {model} in {weight_dtype} and one {context_tokens:,.0f}-token "
                                     f"session fit on at most {GROUP_SIZES[-1]} GPUs")


@dataclass(frozen=True)
class Case:
    """One model on one GPU in given number formats."""

    model: str
    gpu: str
    weight_dtype: str
    kv_dtype: str


def case_row(case: Case, service: PlanInputs, *, context_tokens: float, rate: GpuRate | None = None) -> dict:
    """One row of the side-by-side table: the holding figures at ``context_tokens`` and the plan of ``service``
    with ``case``'s model, GPU and formats, priced at ``rate`` (default :func:`published_rate`; a GPU without a
    published price is sized at a nominal 1 USD/GPU-hour and its cost columns are NaN).

    Columns: model, model_name, attention, gpu, weight_dtype, kv_dtype, kv_gb_per_session, group_gpus,
    sessions_per_gpu, hold_gpus, serve_gpus, prefill_gpus, decode_gpus, disaggregated, tp_prefill, tp_decode,
    hbm_gb_per_node, dram_gb_per_node, ssd_gb_per_node, ideal_hit_ratio, usd_per_gpu_hour, price_source,
    usd_per_month, usd_per_million_tokens.
    """
    rate = rate or published_rate(case.gpu)
    arch = load_architecture(case.model)
    sessions = service.sessions_in_progress
    h = holding(case.model, case.gpu, weight_dtype=case.weight_dtype, kv_dtype=case.kv_dtype, sessions=sessions,
                context_tokens=context_tokens)
    usd = rate.usd_per_gpu_hour
    plan = make_plan(replace(service, model=case.model, gpu=case.gpu, weight_dtype=case.weight_dtype,
                             kv_dtype=case.kv_dtype, gpu_usd_per_hour=usd if usd is not None else 1.0))
    cache = plan.get("cache") or {}
    nan = float("nan")
    return {"model": case.model, "model_name": arch.display_name, "attention": arch.attention, "gpu": case.gpu,
            "weight_dtype": case.weight_dtype, "kv_dtype": case.kv_dtype,
            "kv_gb_per_session": h.kv_bytes_per_session / 1e9, "group_gpus": h.group_gpus,
            "sessions_per_gpu": h.sessions_per_gpu, "hold_gpus": h.gpus_to_hold, "serve_gpus": plan["gpus"],
            "prefill_gpus": plan["prefill_gpus"], "decode_gpus": plan["decode_gpus"],
            "disaggregated": plan["disaggregated"], "tp_prefill": plan["tp"].get("prefill", plan["tp"].get(
                "aggregated")), "tp_decode": plan["tp"].get("decode", plan["tp"].get("aggregated")),
            "hbm_gb_per_node": plan["hbm_gb_per_node"], "dram_gb_per_node": plan["dram_gb_per_node"],
            "ssd_gb_per_node": plan["ssd_gb_per_node"], "ideal_hit_ratio": cache.get("ideal_hit_ratio", nan),
            "usd_per_gpu_hour": usd if usd is not None else nan, "price_source": rate.label,
            "usd_per_month": plan["usd_per_month"] if usd is not None else nan,
            "usd_per_million_tokens": plan["usd_per_million_tokens"] if usd is not None else nan}


def cases_for(models: list[str], gpus: list[str], *, weight_choice: str, kv_dtype: str) -> list[Case]:
    """Every model on every GPU, weights in :func:`weight_format` of ``weight_choice`` on that GPU."""
    from model.architectures import available_models
    from model.hardware import available_gpus

    for name, values, allowed in (("models", models, available_models()), ("gpus", gpus, available_gpus())):
        if isinstance(values, str) or not isinstance(values, (list, tuple)) or not values:
            raise ParameterError(name, values, "a non-empty list of " + ", ".join(allowed))
        for v in values:
            check_choice(name, v, allowed)
    return [Case(m, g, weight_format(g, weight_choice), kv_dtype) for m in models for g in gpus]


def service_table(cases: list[Case], service: PlanInputs, *, context_tokens: float) -> "pd.DataFrame":
    """:func:`case_row` for every case, in order."""
    import pandas as pd

    rows = []
    for c in cases:
        try:
            rows.append(case_row(c, service, context_tokens=context_tokens))
        except ParameterError as exc:
            if exc.name != "gpu":
                raise
            raise ParameterError("weight_dtype", c.weight_dtype,
                                 f"a format in which {c.model} fits on one {GROUP_SIZES[-1]}-GPU node of {c.gpu} "
                                 f"(or leave {c.model} or {c.gpu} out of models/gpus)") from None
    return pd.DataFrame(rows)


# --- a published fleet: DeepSeek-V3/R1 on H800, 2025-02-27/28 -------------------------------------------------

@dataclass(frozen=True)
class PublishedDay:
    """A day of a published fleet's traffic and its nodes (``data/parameters/service_2026.csv``, DeepSeek).

    Attributes
    ----------
    input_tokens_per_s, output_tokens_per_s : float
        Mean prompt and reply tokens per second over the day.
    cache_hit_share : float
        Share of prompt tokens served from the KV cache.
    kv_tokens_per_output_token : float
        Mean context a decode step attends to, tokens.
    tpot_s : float
        Time per output token each request keeps, s (1 / the stated output speed).
    prefill_tokens_per_s_per_node, decode_tokens_per_s_per_node : float
        The fleet's stated per-node throughputs.
    mean_nodes, node_gpus, usd_per_gpu_hour, usd_per_day : float
        The fleet's mean nodes, GPUs per node, assumed GPU-hour price and stated daily cost.
    peak_nodes : float
        The fleet's peak nodes over the day.
    """

    input_tokens_per_s: float
    output_tokens_per_s: float
    cache_hit_share: float
    kv_tokens_per_output_token: float
    tpot_s: float
    prefill_tokens_per_s_per_node: float
    decode_tokens_per_s_per_node: float
    mean_nodes: float
    node_gpus: int
    usd_per_gpu_hour: float
    usd_per_day: float
    peak_nodes: float = float("nan")

    @property
    def peak_to_mean(self) -> float:
        """Peak nodes over mean nodes: the demand a fleet sized for the peak carries, × the mean."""
        return self.peak_nodes / self.mean_nodes

    @property
    def computed_prefill_tokens_per_s_per_node(self) -> float:
        """Prompt tokens a prefill node computes per second: the stated rate less its cache hits."""
        return self.prefill_tokens_per_s_per_node * (1.0 - self.cache_hit_share)

    @property
    def prompt_to_reply(self) -> float:
        """Prompt tokens per reply token."""
        return self.input_tokens_per_s / self.output_tokens_per_s

    @property
    def reply_tokens(self) -> int:
        """Reply tokens per request that make the mean context of a decode step the stated one: with a prompt of
        r·R tokens (r = :attr:`prompt_to_reply`) and a reply of R, the mean context over the reply is
        r·R + (R + 1)/2, so R = (K − 1/2) / (r + 1/2) for the stated K."""
        return max(1, round((self.kv_tokens_per_output_token - 0.5) / (self.prompt_to_reply + 0.5)))

    @property
    def prompt_tokens(self) -> int:
        """Prompt tokens per request: :attr:`prompt_to_reply` × :attr:`reply_tokens`."""
        return round(self.prompt_to_reply * self.reply_tokens)

    @property
    def requests_per_s(self) -> float:
        """Requests per second: output tokens per second over reply tokens per request."""
        return self.output_tokens_per_s / self.reply_tokens

    @property
    def prefill_nodes(self) -> float:
        """Nodes busy prefilling at the stated per-node rate (cache hits included, as stated)."""
        return self.input_tokens_per_s / self.prefill_tokens_per_s_per_node

    @property
    def decode_nodes(self) -> float:
        """Nodes busy decoding at the stated per-node rate."""
        return self.output_tokens_per_s / self.decode_tokens_per_s_per_node


SECONDS_PER_DAY = 24 * 3600


def deepseek_day() -> PublishedDay:
    """DeepSeek's day of 2025-02-27/28 (V3 and R1), from ``data/parameters/service_2026.csv``."""
    d = default
    return PublishedDay(
        input_tokens_per_s=d("deepseek_input_tokens_per_day") / SECONDS_PER_DAY,
        output_tokens_per_s=d("deepseek_output_tokens_per_day") / SECONDS_PER_DAY,
        cache_hit_share=d("deepseek_cache_hit_tokens_per_day") / d("deepseek_input_tokens_per_day"),
        kv_tokens_per_output_token=d("deepseek_kv_tokens_per_output_token"),
        tpot_s=1.0 / d("deepseek_output_tokens_per_s_per_request"),
        prefill_tokens_per_s_per_node=d("deepseek_prefill_tokens_per_s_per_node"),
        decode_tokens_per_s_per_node=d("deepseek_decode_tokens_per_s_per_node"),
        mean_nodes=d("deepseek_mean_nodes"), node_gpus=int(d("deepseek_node_gpus")),
        usd_per_gpu_hour=d("deepseek_usd_per_gpu_hour"), usd_per_day=d("deepseek_usd_per_day"),
        peak_nodes=d("deepseek_peak_nodes"))


def published_day_inputs(day: PublishedDay, *, model: str, gpu: str, weight_dtype: str, kv_dtype: str,
                         ttft_s: float) -> PlanInputs:
    """The planner's inputs for ``day``'s traffic: its request rate, prompt and reply lengths
    (:attr:`PublishedDay.reply_tokens`), its TPOT, a TTFT target of ``ttft_s`` (the fleet states none), its GPU-hour
    price, and a shared prefix of the cached share of each prompt (the planner's cache then serves about that
    share; its own chat trace decides the rest)."""
    check_positive("ttft_s", ttft_s)
    shared = int(round(day.cache_hit_share * day.prompt_tokens))
    return PlanInputs(requests_per_s=day.requests_per_s, prompt_tokens=day.prompt_tokens,
                      reply_tokens=day.reply_tokens, model=model, gpu=gpu, weight_dtype=weight_dtype,
                      kv_dtype=kv_dtype, ttft_p95_s=ttft_s, tpot_p95_s=day.tpot_s,
                      gpu_usd_per_hour=day.usd_per_gpu_hour, node_gpus=check_int("node_gpus", day.node_gpus, low=1),
                      shared_persona_tokens=shared, character_persona_tokens=0, characters=1)


def plan_published_day(inputs: PlanInputs, *, names: dict[str, tuple[str, object]] | None = None,
                       **changes) -> dict:
    """The planner's disaggregated plan of a published day (:func:`published_day_inputs`), with ``changes``
    (``peak_to_mean=...``). ``names`` maps a planner parameter to the caller's ``(name, value)``: a refusal of
    ``ttft_p95_s`` or ``gpu`` is raised under the chapter's name, with the planner's allowed range."""
    try:
        return make_plan(replace(inputs, disaggregation="disaggregated", **changes))
    except ParameterError as e:
        if names and e.name in names:
            name, value = names[e.name]
            raise ParameterError(name, value, e.allowed) from None
        raise


def fleet_comparison(day: PublishedDay, plan: dict, peak_plan: dict | None = None) -> "pd.DataFrame":
    """The published fleet beside the plan: prefill, decode and total nodes, GPU cost per day, the share of prompt
    tokens served from cache, and (with ``peak_plan``, the plan sized for the day's peak) the peak nodes; and the
    plan over the published (×).

    Columns: item, published, plan, plan_over_published_x.
    """
    import pandas as pd

    n = day.node_gpus
    plan_prefill = math.ceil(plan["prefill_gpus"] / n) if plan["disaggregated"] else float("nan")
    plan_decode = math.ceil(plan["decode_gpus"] / n) if plan["disaggregated"] else float("nan")
    gpu_usd_day = plan["gpus"] * day.usd_per_gpu_hour * 24
    rows = [("prefill nodes", day.prefill_nodes, plan_prefill),
            ("decode nodes", day.decode_nodes, plan_decode),
            ("nodes", day.mean_nodes, plan["nodes"]),
            ("GPU cost, USD/day", day.usd_per_day, gpu_usd_day),
            ("prompt tokens from cache, share", day.cache_hit_share,
             plan["serving"]["cached_prompt_tokens"] / day.prompt_tokens if "serving" in plan else float("nan"))]
    if peak_plan is not None:
        rows.insert(3, ("nodes at the peak", day.peak_nodes, peak_plan["nodes"]))
    return pd.DataFrame([{"item": a, "published": p, "plan": q, "plan_over_published_x": q / p}
                         for a, p, q in rows])


def deepseek_gaps(day: PublishedDay, plan: dict) -> dict:
    """What stands between a disaggregated plan's nodes and the published fleet's, figure by figure.

    Returns
    -------
    dict
        ``spares_x``: the plan's GPUs over its serving GPUs (hot spares; the published nodes are the ones in use);
        ``prefill_busy``: share of time a prefill replica computes at the plan's rate (the queue's ρ at the TTFT
        target); ``prefill_node_tokens_per_s``: prompt tokens a plan's prefill node
        computes per second while busy (cache hits excluded) and ``published_prefill_node_tokens_per_s`` the
        published one (:attr:`PublishedDay.computed_prefill_tokens_per_s_per_node`); ``work_x``: prompt tokens
        the plan computes per request over the published fleet's (their caches); ``decode_node_tokens_per_s``:
        reply tokens a plan's decode node emits per second at the replica's rate and
        ``published_decode_node_tokens_per_s`` the stated one; ``decode_batch_per_gpu`` and
        ``published_batch_per_gpu``: sequences each GPU decodes (the published one = stated node rate × the
        stated TPOT ÷ GPUs per node); ``decode_mean_step_s``: the plan's mean decode step, s (batch ÷ (replica
        rate × (reply − 1)), Little's law) beside its P95 TPOT ``decode_tpot_p95_s``;
        ``decode_communication_share``: share of the plan's decode step its collectives take (the expert-parallel
        all-to-all and any all-reduce, :meth:`model.serving.step_time.Deployment.allreduce_time`), which the
        step-time model adds to the computation, and ``decode_node_tokens_per_s_hidden`` a decode node's rate at
        the same batch were they hidden behind it.
    """
    from model.architectures import load_architecture
    from model.hardware import load_gpu
    from model.plan.serving import decode_context
    from model.serving.step_time import Deployment

    s = plan["serving"]
    pre, dec = s["prefill"], s["decode"]
    n = day.node_gpus
    serving = plan["fleet"]["serving_gpus"]
    computed = day.prompt_tokens - s["cached_prompt_tokens"]
    rho = pre["utilisation"] / pre["load_share"]            # the prefill queue's ρ at the replica's rate
    i = plan["inputs"]
    ep = dec.get("ep", 1)
    d = Deployment(arch=load_architecture(i["model"]), gpu=load_gpu(i["gpu"]), n_gpus=dec["tp"],
                   weight_dtype=i["weight_dtype"], kv_dtype=i["kv_dtype"], expert_parallel=ep,
                   attention_data_parallel=ep > 1, node_gpus=i["node_gpus"] if ep > 1 else 0)
    step = float(d.decode_time(dec["batch"], decode_context(i["prompt_tokens"], i["reply_tokens"])))
    comm = float(d.allreduce_time(dec["batch"])) / step
    decode_rate = dec["replica_requests_per_s"] * day.reply_tokens / (dec["tp"] / n)
    return {
        "spares_x": plan["gpus"] / serving,
        "prefill_busy": rho,
        "prefill_node_tokens_per_s": pre["replica_requests_per_s"] * computed / rho / (pre["tp"] / n),
        "published_prefill_node_tokens_per_s": day.computed_prefill_tokens_per_s_per_node,
        "work_x": computed / (day.prompt_tokens * (1.0 - day.cache_hit_share)),
        "decode_node_tokens_per_s": decode_rate,
        "decode_mean_step_s": dec["batch"] / (dec["replica_requests_per_s"] * (day.reply_tokens - 1)),
        "decode_tpot_p95_s": dec["tpot_p95_s"],
        "decode_communication_share": comm,
        "decode_node_tokens_per_s_hidden": decode_rate / (1.0 - comm),
        "published_decode_node_tokens_per_s": day.decode_tokens_per_s_per_node,
        "decode_batch_per_gpu": dec["batch"] / dec["tp"],
        "published_batch_per_gpu": day.decode_tokens_per_s_per_node * day.tpot_s / n,
    }


def check_service_2026(*, models, gpus, weight_dtype, kv_dtype, sessions, context_tokens, ttft_p95_s, tpot_p95_s,
                       baseline_model, baseline_gpu, characterai_model, characterai_gpu, characterai_dtype,
                       deepseek_gpu, deepseek_ttft_p95_s, quick_models, quick_gpus, **_ignored) -> None:
    """Every parameter of the chapter "The same service in 2026", each refused under its own name.

    Raises
    ------
    ParameterError
        naming the first parameter at fault and what it allows.
    """
    from model.architectures import available_models
    from model.formats import DTYPES
    from model.hardware import available_gpus

    cases_for(models, gpus, weight_choice=weight_dtype, kv_dtype=kv_dtype)
    check_choice("kv_dtype", kv_dtype, DTYPES)
    check_int("sessions", sessions, low=1)
    check_int("context_tokens", context_tokens, low=1)
    for name, value in (("ttft_p95_s", ttft_p95_s), ("tpot_p95_s", tpot_p95_s),
                        ("deepseek_ttft_p95_s", deepseek_ttft_p95_s)):
        check_positive(name, value)
    for name, value in (("baseline_model", baseline_model), ("characterai_model", characterai_model)):
        check_choice(name, value, available_models())
    for name, value in (("baseline_gpu", baseline_gpu), ("characterai_gpu", characterai_gpu),
                        ("deepseek_gpu", deepseek_gpu)):
        check_choice(name, value, available_gpus())
    check_choice("characterai_dtype", characterai_dtype, DTYPES)
    check_int("quick_models", quick_models, low=1)
    check_int("quick_gpus", quick_gpus, low=1)
