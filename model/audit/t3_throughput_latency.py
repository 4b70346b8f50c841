"""Audit of T3's throughput and latency rows (HF Transformers vs vLLM), at the case study's stated setting.

Setting (the source's): Llama 2 70B in FP16 (T2, §3: 2 bytes per parameter) on A100 80GB (T3), a turn of
a 2K-token prompt (§8: 送信トークン 2K) and a 100-token reply (§8: 200 turns × 100 tokens), read with
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
from model.audit.verdicts import Computed, audit
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


def turn_tokens() -> tuple[int, int]:
    """(prompt, reply) tokens of one turn as the source states them (§8)."""
    return int(stated_value("l8.effect.tokens_after")), int(stated_value("l8.naive.tokens_per_turn"))


def vllm_configuration() -> dict:
    """T3's vLLM column as configured: sessions per A100 80GB and MB of KV per session (stated)."""
    return {"sessions_per_gpu": stated_value("t3.vllm.sessions_per_gpu"),
            "mb_per_session": stated_value("t3.vllm.mem_per_session")}


def copy_sizes() -> tuple[int, int]:
    """GPUs per model copy spanned by the audit (``data/parameters/batching.csv``)."""
    return int(default("batching_audit_copy_gpus_low")), int(default("batching_audit_copy_gpus_high"))


def loads() -> tuple[float, float, float]:
    """Offered loads spanned (share of the HF-style replica's saturation throughput): low, middle, high."""
    lo, hi = default("batching_audit_load_low"), default("batching_audit_load_high")
    return lo, (lo + hi) / 2, hi


@lru_cache(maxsize=1)
def runs() -> pd.DataFrame:
    """The simulated T3 runs: one row per copy size, load and engine (``hf``: static batches, layers split
    over the GPUs; ``vllm``: continuous batching on paged KV, tensor parallel), with per-session tokens/s
    (1 / mean time per output token) and the P95 end-to-end latency."""
    prompt, reply = turn_tokens()
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
                             "e2e_latency_s_p95": s["e2e_latency_s_p95"]})
    return pd.DataFrame(rows)


def _range(engine: str, column: str) -> tuple[float, float, float]:
    v = runs().loc[lambda r: r["engine"] == engine, column]
    return float(v.min()), float(np.median(v)), float(v.max())


def _setting() -> str:
    lo, _, hi = loads()
    a, b = copy_sizes()
    batch = int(default("batching_audit_hf_static_batch"))
    return (f"{a} or {b} A100-80GB per copy, loads {lo:.0%}-{hi:.0%} of the capacity of the HF-style replica "
            f"(static batches of {batch})")


def computed() -> list[Computed]:
    """T3 throughput and P95 latency, stated vs computed (each claim once; ``how`` gives the arithmetic)."""
    out: list[Computed] = []
    gpu = deployment(MODEL, GPU, copy_sizes()[0]).gpu
    prompt, reply = turn_tokens()
    weights_gb = deployment(MODEL, GPU, copy_sizes()[0], weight_dtype=DTYPE).weight_bytes / 1e9
    # per-session decode bound of the table's own configuration: its sessions' KV read once per step
    hf_bound = session_rate_bound(stated_value("t3.hf.mem_per_session") * 1e9, stated_value("t3.hf.sessions_per_gpu"),
                                  gpu)
    vllm_bound = session_rate_bound(stated_value("t3.vllm.mem_per_session") * 1e6,
                                    stated_value("t3.vllm.sessions_per_gpu"), gpu)
    kv_gb = stated_value("t3.vllm.sessions_per_gpu") * stated_value("t3.vllm.mem_per_session") / 1e3
    lo, mid, hi = _range("hf", "tokens_per_s_per_session")
    out.append(Computed(
        "t3.hf.throughput", mid, "tokens/s",
        f"simulated HF-style serving (static batches, layers split over the copy's GPUs), {prompt}-token prompts, "
        f"{reply}-token replies, {_setting()}: 1/TPOT per session {lo:.1f}-{hi:.1f} tok/s. The table's own "
        f"configuration (57 sessions x 1.4 GB on one GPU) caps it at {hf_bound:.1f} tok/s from the KV read "
        f"alone, and the {weights_gb:.0f} GB of weights do not fit beside it",
        kind="range", low=lo, high=hi, reads=TURN_CLAIMS))
    out.append(Computed(
        "t3.vllm.throughput", vllm_bound, "tokens/s",
        f"228 sessions x 350 MB on one GPU = {kv_gb:.1f} GB of KV read per decode step at "
        f"{gpu.bandwidth_bytes_per_s / 1e9:.0f} GB/s: at most {vllm_bound:.1f} tok/s per session, weights not "
        f"even counted", kind="upper_bound"))
    lo, mid, hi = _range("hf", "e2e_latency_s_p95")
    out.append(Computed(
        "t3.hf.p95_latency", mid, "s",
        f"simulated P95 end-to-end latency of the HF-style replica, {_setting()}: {lo:.1f}-{hi:.1f} s (each "
        f"padded batch prefills on one GPU at a time and returns when its longest request ends)",
        kind="range", low=lo, high=hi, reads=TURN_CLAIMS))
    lo, mid, hi = _range("vllm", "e2e_latency_s_p95")
    tok_lo, _, tok_hi = _range("vllm", "tokens_per_s_per_session")
    out.append(Computed(
        "t3.vllm.p95_latency", mid, "s",
        f"simulated P95 of continuous batching on paged KV (tensor parallel) at the same loads, {_setting()}: "
        f"{lo:.2f}-{hi:.2f} s ({tok_lo:.0f}-{tok_hi:.0f} tok/s per session; the longer end with the smaller copy)",
        kind="range", low=lo, high=hi, reads=TURN_CLAIMS))
    return out


def table() -> pd.DataFrame:
    """The audit table of T3's throughput and latency rows (:func:`model.audit.verdicts.audit`)."""
    return audit(computed())
