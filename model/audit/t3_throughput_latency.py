"""Audit of T3's throughput and latency rows (HF Transformers vs vLLM), at the case study's stated setting.

Setting (the source's): Llama 2 70B in FP16 (T2, §3: 2 bytes per parameter) on A100 80GB (T3), a turn of
a 2K-token prompt (§8: 送信トークン 2K) and a reply of one turn's tokens under the audit's reading of
``tokens_per_turn`` (§8: 200 turns × 100 tokens; the other readings are simulated too), read with
:func:`~model.audit.claims.stated_value`. What the source leaves open is spanned as a range: the size of a
model copy (``batching_audit_copy_gpus_low``–``_high`` GPUs) and the offered load (``batching_audit_load_low``–``_high`` of the
HF-style replica's saturation throughput; both engines serve the same traffic, as T3 compares two stacks
for one service). Every run is seeded and of a fixed size (``batching_audit_sim_requests``), so the table is the same
whatever a chapter's parameters or profile. T3's memory rows and sessions per GPU are audited with the KV
sizing (another module).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from model.audit.claims import stated_value
from model.audit import readings as R
from model.audit.readings import Alt
from model.audit.verdicts import Computed
from model.parameters import default
from model.serving.rate_bounds import session_rate_bound
from model.workload.requests import poisson_workload
from model.serving.saturation import static_saturation
from model.serving import Scheduler, simulate
from model.serving.step_time import deployment

#: The case study's model and GPU (T2: Llama 2 70B; T3: A100 80GB), as named in ``data/``.
MODEL = "llama-2-70b"
GPU = "a100-80gb"
#: FP16 weights and KV (§3: "70B params × 2 bytes").
DTYPE = "fp16"
#: Seed of every draw of the audit.
SEED = 0
#: Stated figures every simulated row reads (the turn's prompt and reply lengths).
TURN_CLAIMS = ("l8.effect.tokens_after", "l8.naive.tokens_per_turn")


def turn_tokens(tokens_per_turn: str | None = None) -> tuple[int, int]:
    """(prompt, reply) tokens of one turn: §8's 2K tokens sent, and a reply of one turn's tokens under the
    reading ``tokens_per_turn`` (default: the audit's, §8's 100; :mod:`model.audit.readings`)."""
    return int(stated_value("l8.effect.tokens_after")), int(R.tokens_per_turn(tokens_per_turn))


def vllm_configuration() -> dict:
    """T3's vLLM column as configured: sessions per A100 80GB and MB of KV per session (stated)."""
    return {"sessions_per_gpu": stated_value("t3.vllm.sessions_per_gpu"),
            "mb_per_session": stated_value("t3.vllm.mem_per_session")}


def configured_cap() -> float:
    """Tokens/s per session if all of T3's vLLM sessions on one A100 (228 × 350 MB) decoded at every step,
    reading all their KV (weights not counted): not a bound, since idle sessions and offloaded pages are not
    read."""
    gpu = deployment(MODEL, GPU, copy_sizes()[0]).gpu
    return session_rate_bound(stated_value("t3.vllm.mem_per_session") * 1e6, stated_value("t3.vllm.sessions_per_gpu"),
                              gpu)


def copy_sizes() -> tuple[int, int]:
    """GPUs per model copy spanned by the audit (``data/parameters/batching.csv``)."""
    return int(default("batching_audit_copy_gpus_low")), int(default("batching_audit_copy_gpus_high"))


def loads() -> tuple[float, float, float]:
    """Offered loads spanned (share of the HF-style replica's saturation throughput): low, middle, high."""
    lo, hi = default("batching_audit_load_low"), default("batching_audit_load_high")
    return lo, (lo + hi) / 2, hi


@lru_cache(maxsize=None)
def runs(tokens_per_turn: str | None = None) -> pd.DataFrame:
    """The simulated T3 runs under the reading ``tokens_per_turn`` of a turn's reply (default: the audit's):
    one row per copy size, load and engine (``hf``: static batches, layers split over the GPUs; ``vllm``:
    continuous batching on paged KV, tensor parallel), with per-session tokens/s (1 / mean time per output
    token) and the P95 end-to-end latency and time to first token."""
    prompt, reply = turn_tokens(tokens_per_turn)
    n = int(default("batching_audit_sim_requests"))
    batch = int(default("batching_audit_hf_static_batch"))
    rows = []
    for n_gpus in copy_sizes():
        hf = deployment(MODEL, GPU, n_gpus, weight_dtype=DTYPE, kv_dtype=DTYPE, sharding="pipeline")
        vllm = deployment(MODEL, GPU, n_gpus, weight_dtype=DTYPE, kv_dtype=DTYPE)
        capacity = static_saturation(hf, [prompt], [reply], batch=batch, n_batches=4).requests_per_s
        schedulers = {"hf": (hf, Scheduler("static", max_batch=batch, reserved_tokens=hf.arch.max_context_tokens)),
                      "vllm": (vllm, Scheduler("continuous", max_batch=int(default("batching_max_num_seqs"))))}
        for load in loads():
            work = poisson_workload(n, load * capacity, prompt_tokens=prompt, output_tokens=reply, seed=SEED)
            for engine, (dep, sch) in schedulers.items():
                s = simulate(dep, work, sch).summary()
                rows.append({"engine": engine, "n_gpus": n_gpus, "load": load, "rate_per_s": load * capacity,
                             "tokens_per_s_per_session": 1 / s["tpot_s_mean"],
                             **{m: s[m] for m in R.LATENCY_METRICS.values()}})
    return pd.DataFrame(rows)


def _range(engine: str, column: str, tokens_per_turn: str | None = None) -> Alt:
    v = runs(tokens_per_turn).loc[lambda r: r["engine"] == engine, column]
    return Alt(float(np.median(v)), float(v.min()), float(v.max()))


def _setting() -> str:
    lo, _, hi = loads()
    a, b = copy_sizes()
    batch = int(default("batching_audit_hf_static_batch"))
    return (f"{a} or {b} A100-80GB per copy, loads {lo:.0%}-{hi:.0%} of the capacity of the HF-style replica "
            f"(static batches of {batch})")


#: The open choices the simulated ranges span.
SIM_CHOICE = "the GPUs per model copy and the offered load"


def _simulated(engine: str, column: str, latency: bool) -> tuple:
    """The row's range under the audit's readings, and under every other reading of a turn's tokens (and of
    latency, for a latency row)."""
    main, under = R.across("tokens_per_turn", lambda a: _range(engine, column, a))
    if latency:
        for a in R.other_readings("latency"):
            under[("latency", a)] = _range(engine, R.latency_metric(a))
    return main, under


def computed() -> list[Computed]:
    """T3 throughput and P95 latency, stated vs computed (each claim once; ``how`` gives the arithmetic)."""
    out: list[Computed] = []
    gpu = deployment(MODEL, GPU, copy_sizes()[0]).gpu
    prompt, reply = turn_tokens()
    weights_gb = deployment(MODEL, GPU, copy_sizes()[0], weight_dtype=DTYPE).weight_bytes / 1e9
    # per-session decode bound of the table's own configuration: its sessions' KV read once per step
    hf_bound = session_rate_bound(stated_value("t3.hf.mem_per_session") * 1e9, stated_value("t3.hf.sessions_per_gpu"),
                                  gpu)
    vllm_bound = configured_cap()
    kv_gb = stated_value("t3.vllm.sessions_per_gpu") * stated_value("t3.vllm.mem_per_session") / 1e3
    e2e = R.latency_metric()
    main, under = _simulated("hf", "tokens_per_s_per_session", latency=False)
    out.append(Computed(
        "t3.hf.throughput", main.value, "tokens/s",
        f"simulated HF-style serving (static batches, layers split over the copy's GPUs), {prompt}-token prompts, "
        f"{reply}-token replies, {_setting()}: 1/TPOT per session {main.low:.1f}-{main.high:.1f} tok/s. The "
        f"table's own configuration (57 sessions x 1.4 GB on one GPU) caps it at {hf_bound:.1f} tok/s from the KV "
        f"read alone, and the {weights_gb:.0f} GB of weights do not fit beside it",
        kind="range", low=main.low, high=main.high, reads=TURN_CLAIMS, under=under, depends_on=SIM_CHOICE))
    main, under = _simulated("vllm", "tokens_per_s_per_session", latency=False)
    out.append(Computed(
        "t3.vllm.throughput", main.value, "tokens/s",
        f"simulated continuous batching on paged KV (tensor parallel), {prompt}-token prompts, {reply}-token "
        f"replies, {_setting()}: 1/TPOT per session {main.low:.1f}-{main.high:.1f} tok/s. Were all 228 sessions x "
        f"350 MB on one GPU decoding at every step, reading their {kv_gb:.1f} GB of KV at "
        f"{gpu.bandwidth_bytes_per_s / 1e9:.0f} GB/s would cap each at {vllm_bound:.1f} tok/s; not a bound, "
        "since idle sessions (and pages offloaded to CPU) are not read",
        kind="range", low=main.low, high=main.high, reads=TURN_CLAIMS, under=under, depends_on=SIM_CHOICE))
    main, under = _simulated("hf", e2e, latency=True)
    out.append(Computed(
        "t3.hf.p95_latency", main.value, "s",
        f"simulated P95 end-to-end latency of the HF-style replica, {_setting()}: {main.low:.1f}-{main.high:.1f} s "
        f"(each padded batch prefills on one GPU at a time and returns when its longest request ends)",
        kind="range", low=main.low, high=main.high, reads=TURN_CLAIMS, under=under, depends_on=SIM_CHOICE))
    main, under = _simulated("vllm", e2e, latency=True)
    tok = _range("vllm", "tokens_per_s_per_session")
    out.append(Computed(
        "t3.vllm.p95_latency", main.value, "s",
        f"simulated P95 of continuous batching on paged KV (tensor parallel) at the same loads, {_setting()}: "
        f"{main.low:.2f}-{main.high:.2f} s ({tok.low:.0f}-{tok.high:.0f} tok/s per session; the longer end with "
        "the smaller copy)", kind="range", low=main.low, high=main.high, reads=TURN_CLAIMS, under=under,
        depends_on=SIM_CHOICE))
    return out


def table() -> pd.DataFrame:
    """The audit table of T3's throughput and latency rows, judged with the rest of the case study
    (:func:`model.audit.whole.section`)."""
    from model.audit.whole import section

    return section(__name__)
