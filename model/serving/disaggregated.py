"""Discrete-event simulation of disaggregated serving: a pool of prefill replicas and a pool of decode replicas
joined by a KV transfer (DistServe, Splitwise, Mooncake), step by step with the study's step time
(:meth:`model.serving.step_time.Deployment.step_time`), on the aggregated simulator's request type
(:class:`model.workload.requests.Workload`).

A request's path
----------------
1. **Dispatch** (``dispatch``). ``least_loaded``: on arrival it joins the prefill replica with the fewest prompt
   tokens queued or running (ties: the lowest index), which pools the replicas' queues (join the shortest queue).
   ``random``: its prefill replica and its decode replica are drawn uniformly and independently of the load
   (``seed``), so each replica sees its own Poisson share of Poisson arrivals and queues it alone, as behind a
   router that hashes many sessions. ``sticky``: both are fixed by the request's session id (``sessions``): prefill
   replica = session mod the prefill replicas, decode replica = session mod the decode replicas, as a
   session-affine router keeps a session's turns on its replica. Requests arriving at the same instant are all
   queued before an idle replica starts.
2. **Prefill.** An idle prefill replica takes waiting prompts first come, first served into one step, as the
   aggregated simulator's ``continuous`` policy does: the first always, the next ones while their tokens fit the
   step's token budget (``Scheduler.token_budget``) and the batch its ``max_batch``. A prompt of ``cached_tokens``
   prefix tokens computes only the rest (at least one token).
3. **Transfer.** At the end of the step each prompt's KV (:func:`model.serving.kv_transfer.kv_transfer_bytes_per_gpu`)
   is sent to its decode replica (``least_loaded``: the one holding the fewest sequences, running, waiting or in
   transit, ties: the lowest index; ``random`` and ``sticky``: the one drawn or fixed at dispatch) over the
   prefill replica's link, one transfer after another (FIFO): latency + bytes ÷ bandwidth. The first token
   reaches the user with the KV, at the end of the transfer: TTFT includes the transfer.
4. **Decode.** At each step boundary a decode replica admits arrived requests first come, first served while a
   batch slot (``max_batch``) and KV blocks for the whole sequence (prompt + reply, so nothing is ever preempted)
   are free; each step every running sequence computes one token (attending to its context plus itself, as in
   the aggregated simulator's decode step) and leaves after its last. A reply of o tokens takes o − 1 decode steps
   (the first token came from the prefill).

What it leaves out: the prefill replicas' KV memory (a prompt's KV stays there until its transfer ends; the
prefill batch is bounded by the token budget, not by memory), contention between transfers of different prefill
replicas on a shared fabric, and layer-kind attention terms (every layer attends to the whole context, as the
aggregated simulator's paged schedulers assume).

The loop is a heap of timed events (arrival, prefill step end, transfer end, decode step end), in the spirit of
Vidur's simulator core; same workload, pools, dispatch and seed, same result (the ``random`` dispatch's draws are
the only randomness inside).
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.checks import ParameterError, check_choice, check_int
from model.serving.goodput import goodput_requests_per_s, latencies, slo_attainment
from model.serving.kv_transfer import Link, kv_transfer_bytes_per_gpu
from model.serving.simulation import Scheduler
from model.serving.step_time import Deployment
from model.workload.requests import Workload

_ARRIVE, _PREFILL_DONE, _TRANSFER_DONE, _DECODE_DONE = 0, 1, 2, 3

#: Dispatch policies of :func:`simulate_disaggregated` (module docstring).
DISPATCH = ("least_loaded", "random", "sticky")


@dataclass(frozen=True)
class Pools:
    """A disaggregated deployment.

    Attributes
    ----------
    prefill, decode : Deployment
        One replica of each pool (model, GPU, tensor-parallel GPUs, number formats); same model and KV format.
    prefill_replicas, decode_replicas : int
        Replicas of each pool (≥ 1).
    link : Link
        What a KV transfer crosses (:func:`model.serving.kv_transfer.load_link`).
    prefill_scheduler, decode_scheduler : Scheduler
        Token budget and batch limit of a prefill step; batch limit and KV block size of the decode replicas.
    """

    prefill: Deployment
    decode: Deployment
    prefill_replicas: int
    decode_replicas: int
    link: Link
    prefill_scheduler: Scheduler = Scheduler("continuous")
    decode_scheduler: Scheduler = Scheduler("continuous")

    def __post_init__(self):
        check_int("prefill_replicas", self.prefill_replicas, low=1)
        check_int("decode_replicas", self.decode_replicas, low=1)
        if self.prefill.arch.name != self.decode.arch.name:
            raise ParameterError("decode", self.decode.arch.name,
                                 f"the prefill pool's model ({self.prefill.arch.name})")
        if self.prefill.kv_dtype != self.decode.kv_dtype:
            raise ParameterError("kv_dtype", self.decode.kv_dtype, f"the prefill pool's ({self.prefill.kv_dtype})")

    @property
    def gpus(self) -> int:
        """GPUs of both pools."""
        return self.prefill_replicas * self.prefill.n_gpus + self.decode_replicas * self.decode.n_gpus


@dataclass(frozen=True)
class DisaggregatedResult:
    """Per-request times and the pools' busy time.

    ``requests`` columns: arrival_s, prompt_tokens, output_tokens, prefill_replica, prefill_end_s, transfer_s
    (the link's time for this request's KV, waiting for the link excluded), first_token_s (end of the transfer),
    decode_replica, decode_start_s (admitted to the decode batch; NaN for a one-token reply), finish_s.
    """

    requests: pd.DataFrame
    prefill_busy_s: np.ndarray     # per prefill replica, s
    decode_busy_s: np.ndarray      # per decode replica, s
    link_busy_s: np.ndarray        # per prefill replica's link, s
    end_s: float
    prefill_steps: int
    decode_steps: int

    @property
    def span_s(self) -> float:
        """First arrival to the last finish, s."""
        return self.end_s - float(self.requests["arrival_s"].min())

    def utilisation(self, pool: str) -> float:
        """Share of the span the ``pool``'s replicas (``prefill``, ``decode`` or ``link``) are busy, on average."""
        busy = {"prefill": self.prefill_busy_s, "decode": self.decode_busy_s, "link": self.link_busy_s}
        if pool not in busy:
            raise ParameterError("pool", pool, "prefill, decode or link")
        b = busy[pool]
        return float(b.sum() / (self.span_s * len(b))) if self.span_s > 0 else 0.0

    def summary(self, ttft_slo_s: float, tpot_slo_s: float) -> dict:
        """Latency percentiles, goodput and utilisations (names from :mod:`model.metrics`)."""
        lat = latencies(self.requests)
        out = {"requests": len(lat),
               "slo_attainment": slo_attainment(self.requests, ttft_slo_s, tpot_slo_s),
               "goodput_requests_per_s": goodput_requests_per_s(self.requests, ttft_slo_s, tpot_slo_s),
               "kv_transfer_s_mean": float(self.requests["transfer_s"].mean()),
               "prefill_gpu_busy_fraction": self.utilisation("prefill"),
               "decode_gpu_busy_fraction": self.utilisation("decode")}
        for name in ("ttft_s", "tpot_s", "e2e_latency_s"):
            for q in (50, 90, 95, 99):
                out[f"{name}_p{q}"] = float(np.percentile(lat[name], q))
        return out


def dispatch_replicas(dispatch: str, n_requests: int, prefill_replicas: int, decode_replicas: int, *,
                      sessions=None, seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """Each request's (prefill, decode) replica fixed at dispatch (module docstring), or None for
    ``least_loaded``, which chooses on the load as requests arrive.

    Parameters
    ----------
    dispatch : str
        ``least_loaded``, ``random`` or ``sticky``.
    n_requests, prefill_replicas, decode_replicas : int
        Requests and replicas of each pool.
    sessions : array of int, optional
        Session id (≥ 0) of each request; required by ``sticky``.
    seed : int
        Seed of the ``random`` draws.

    Raises
    ------
    ParameterError
        for an unknown ``dispatch``, or ``sticky`` without one session id ≥ 0 per request.
    """
    check_choice("dispatch", dispatch, DISPATCH)
    if dispatch == "least_loaded":
        return None
    if dispatch == "random":
        rng = np.random.default_rng(seed)
        return (rng.integers(0, prefill_replicas, size=n_requests),
                rng.integers(0, decode_replicas, size=n_requests))
    if sessions is None:
        raise ParameterError("sessions", None, f"one session id >= 0 per request ({n_requests}) for dispatch=sticky")
    s = np.asarray(sessions)
    if s.shape != (n_requests,) or not np.issubdtype(s.dtype, np.integer) or (s.size and int(s.min()) < 0):
        raise ParameterError("sessions", f"shape {s.shape}, dtype {s.dtype}",
                             f"one integer session id >= 0 per request ({n_requests}) for dispatch=sticky")
    return s % prefill_replicas, s % decode_replicas


def simulate_disaggregated(pools: Pools, workload: Workload, *, dispatch: str = "least_loaded", sessions=None,
                           seed: int = 0) -> DisaggregatedResult:
    """Run ``workload`` through ``pools`` (module docstring); same inputs, same result.

    Parameters
    ----------
    pools : Pools
        The two pools and the link between them.
    workload : Workload
        Arrivals (s), prompt and reply lengths (tokens), cached prefix tokens.
    dispatch : str
        ``least_loaded`` (default), ``random`` or ``sticky`` (:func:`dispatch_replicas`).
    sessions : array of int, optional
        Session id of each request, for ``sticky``.
    seed : int
        Seed of the ``random`` dispatch.

    Raises
    ------
    ParameterError
        if a request's prompt and reply cannot fit a decode replica's KV budget, or a prompt a prefill
        replica's; for a bad ``dispatch`` or ``sessions``.
    """
    n = len(workload)
    fixed = dispatch_replicas(dispatch, n, pools.prefill_replicas, pools.decode_replicas, sessions=sessions,
                              seed=seed)
    arrival = np.asarray(workload.arrival_s, float)
    prompt = np.asarray(workload.prompt_tokens, np.int64)
    output = np.asarray(workload.output_tokens, np.int64)
    hit = np.minimum(workload.cached, prompt - 1)
    pd_, dd = pools.prefill, pools.decode
    bs = pools.decode_scheduler.block
    need_blocks = -(-(prompt + output) // bs)
    total_blocks = dd.kv_capacity_tokens // bs
    if int(need_blocks.max()) > total_blocks:
        raise ParameterError("workload", f"a request of {int((prompt + output).max())} tokens",
                             f"requests of at most {total_blocks * bs} tokens (KV capacity of a decode replica)")
    if int(prompt.max()) > pd_.kv_capacity_tokens:
        raise ParameterError("workload", f"a prompt of {int(prompt.max())} tokens",
                             f"prompts of at most {pd_.kv_capacity_tokens} tokens (KV capacity of a prefill replica)")
    sizes = {int(p): pools.link.transfer_s(kv_transfer_bytes_per_gpu(pd_.arch, int(p), pd_.kv_dtype, pd_.n_gpus,
                                                                      dd.n_gpus)) for p in np.unique(prompt)}
    xfer = np.array([sizes[int(p)] for p in prompt])
    work = (prompt - hit).astype(np.int64)
    budget = pools.prefill_scheduler.token_budget
    p_batch, d_batch = pools.prefill_scheduler.max_batch, pools.decode_scheduler.max_batch

    P, D = pools.prefill_replicas, pools.decode_replicas
    p_queue = [deque() for _ in range(P)]
    p_load = np.zeros(P, np.int64)          # prompt tokens queued or running
    p_busy = np.zeros(P, bool)
    p_time = np.zeros(P)
    link_free = np.zeros(P)
    link_time = np.zeros(P)
    d_wait = [deque() for _ in range(D)]
    d_count = np.zeros(D, np.int64)         # sequences running
    d_ctx = np.zeros(D, np.int64)           # tokens they hold in KV, summed
    d_step = np.zeros(D, np.int64)          # decode steps run so far
    d_ends: list[dict[int, list[int]]] = [{} for _ in range(D)]  # step count at which each running request ends
    d_load = np.zeros(D, np.int64)          # sequences running, waiting or in transit
    d_blocks = np.zeros(D, np.int64)
    d_busy = np.zeros(D, bool)
    d_time = np.zeros(D)
    p_rep = np.zeros(n, np.int64)
    d_rep = np.full(n, -1, np.int64)
    p_end = np.full(n, np.nan)
    first = np.full(n, np.nan)
    d_start = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    steps = [0, 0]
    heap = [(float(arrival[r]), r, _ARRIVE, r, None) for r in range(n)]
    heapq.heapify(heap)
    seq = n

    def push(t, kind, who, payload=None):
        nonlocal seq
        heapq.heappush(heap, (t, seq, kind, who, payload))
        seq += 1

    def start_prefill(i, now):
        q = p_queue[i]
        batch = [q.popleft()]
        tokens = int(work[batch[0]])
        while q and len(batch) < p_batch and tokens + int(work[q[0]]) <= budget:
            r = q.popleft()
            batch.append(r)
            tokens += int(work[r])
        w = work[batch].astype(float)
        c = hit[batch].astype(float)
        pairs = float((w * c + w * (w + 1) / 2).sum())
        dt = float(pd_.step_time(float(tokens), pairs, float(len(batch)), float(c.sum()), float(tokens)))
        p_busy[i] = True
        p_time[i] += dt
        steps[0] += 1
        push(now + dt, _PREFILL_DONE, i, batch)

    coeffs: dict[int, tuple[float, float, float, float]] = {}

    def start_decode(j, now):
        # every running sequence advances one token per step, so the batch is its count and summed context,
        # and a request admitted after step k with o - 1 tokens to go ends at step k + o - 1
        wait = d_wait[j]
        while wait and d_count[j] < d_batch and d_blocks[j] + need_blocks[wait[0]] <= total_blocks:
            r = wait.popleft()
            d_start[r] = now
            d_blocks[j] += need_blocks[r]
            d_count[j] += 1
            d_ctx[j] += prompt[r]
            d_ends[j].setdefault(int(d_step[j] + output[r] - 1), []).append(r)
        b = int(d_count[j])
        if b == 0:
            d_busy[j] = False
            return
        kv = float(d_ctx[j] + b)            # each sequence attends to its context plus its new token
        if b not in coeffs:                 # Deployment.step_time of a decode step, exactly, as two lines in kv
            coeffs[b] = dd.decode_coefficients(b)
        c0, c1, m0, m1 = coeffs[b]
        dt = max(c0 + c1 * kv, m0 + m1 * kv)
        d_busy[j] = True
        d_time[j] += dt
        steps[1] += 1
        push(now + dt, _DECODE_DONE, j)

    now = 0.0
    while heap:
        now, _, kind, who, payload = heapq.heappop(heap)
        if kind == _ARRIVE:
            r = who
            i = int(np.argmin(p_load)) if fixed is None else int(fixed[0][r])
            p_rep[r] = i
            p_queue[i].append(r)
            p_load[i] += work[r]
            if not (heap and heap[0][0] == now and heap[0][2] == _ARRIVE):
                # the last arrival of this instant: idle replicas start on everything that arrived in it
                for k in range(P):
                    if not p_busy[k] and p_queue[k]:
                        start_prefill(k, now)
        elif kind == _PREFILL_DONE:
            i = who
            for r in payload:
                p_load[i] -= work[r]
                p_end[r] = now
                j = int(np.argmin(d_load)) if fixed is None else int(fixed[1][r])
                d_rep[r] = j
                d_load[j] += 1
                start = max(now, link_free[i])
                link_free[i] = start + xfer[r]
                link_time[i] += xfer[r]
                push(link_free[i], _TRANSFER_DONE, r, j)
            if p_queue[i]:
                start_prefill(i, now)
            else:
                p_busy[i] = False
        elif kind == _TRANSFER_DONE:
            r, j = who, payload
            first[r] = now
            if output[r] == 1:
                finish[r] = now
                d_load[j] -= 1
                continue
            d_wait[j].append(r)
            if not d_busy[j]:
                start_decode(j, now)
        else:
            j = who
            d_step[j] += 1
            d_ctx[j] += d_count[j]
            for r in d_ends[j].pop(int(d_step[j]), ()):
                finish[r] = now
                d_blocks[j] -= need_blocks[r]
                d_count[j] -= 1
                d_ctx[j] -= prompt[r] + output[r] - 1
                d_load[j] -= 1
            start_decode(j, now)
    requests = pd.DataFrame({"arrival_s": arrival, "prompt_tokens": prompt, "output_tokens": output,
                             "prefill_replica": p_rep, "prefill_end_s": p_end, "transfer_s": xfer,
                             "first_token_s": first, "decode_replica": d_rep, "decode_start_s": d_start,
                             "finish_s": finish})
    return DisaggregatedResult(requests, p_time, d_time, link_time, float(now), steps[0], steps[1])


def transfer_seconds(pools: Pools, prompt_tokens: int) -> float:
    """Seconds of one prompt's KV transfer between the pools (link idle)."""
    pf, d = pools.prefill, pools.decode
    return pools.link.transfer_s(kv_transfer_bytes_per_gpu(pf.arch, prompt_tokens, pf.kv_dtype, pf.n_gpus, d.n_gpus))

