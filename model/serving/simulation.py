"""Discrete-event simulation (simpy) of one serving replica: requests arrive, a scheduler forms batches, the
GPU executes steps whose duration comes from :class:`model.serving.step_time.Deployment`.

Policies (:data:`POLICIES`)
---------------------------
``static``
    Hugging Face Transformers style: when the GPU is free it takes up to ``max_batch`` waiting requests
    (no more than the KV budget holds when each reserves ``reserved_tokens`` contiguous slots), pads the
    prompts to the longest, and decodes until the longest output is done; every request of the batch is
    returned when the batch ends.
``continuous``
    Orca / vLLM iteration-level scheduling on paged KV blocks: finished sequences leave after every step;
    waiting requests are admitted (FCFS) while a batch slot and enough free blocks (above a watermark) exist,
    and are prefilled in a step of their own; when a running sequence needs a new block and none is free,
    the most recently admitted sequences are preempted and recomputed later.
``chunked_prefill``
    Sarathi-style: each step carries every running sequence's decode token plus prompt chunks of admitted
    requests up to a token budget, so prompts do not stall decoding; the prompts get their chunks first come,
    first served (the earliest request first, as vLLM serves its running prefills).

Prefix cache
------------
A workload may carry ``cached_tokens`` per request (:class:`model.workload.requests.Workload`): that prefix of
the prompt is already in KV (a cache hit, loaded rather than recomputed), so the prefill computes only the
rest of the prompt, attending over the cached tokens (``Deployment.prefill_time(new, past=cached)``); the
whole prompt still takes KV blocks. At least one token is computed (a fully cached prompt still runs its
last position to emit the first token), and a preempted request finds its prefix cached again when it is
readmitted. Loading the cached KV is not charged. The ``continuous`` and ``chunked_prefill`` policies
serve it; ``static`` batching (no paged KV, no prefix cache) refuses it.

The event loop advances one simpy timeout per GPU step; within a step the whole batch is updated at once
(scalars and numpy arrays; under the paged policies one compiled pass over the batch's slots before the step
and one after it, :mod:`model.serving.kernel`), never one event per token or per request.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
import simpy

from model.workload.requests import Workload
from model.serving.kernel import advance, plan_decode, plan_prefill
from model.serving.step_time import Deployment
from model.parameters import default
from model.checks import ParameterError, check_choice, check_fraction, check_int

POLICIES = ("static", "continuous", "chunked_prefill")


@dataclass(frozen=True)
class Scheduler:
    """Scheduling parameters.

    Attributes
    ----------
    policy : str
        One of :data:`POLICIES`.
    max_batch : int
        Most sequences running at once (vLLM ``--max-num-seqs``; for ``static`` the batch size).
    block_tokens : int
        Tokens per paged KV block (vLLM ``--block-size``).
    reserved_tokens : int or None
        ``static`` only: contiguous KV slots reserved per sequence (default: the longest prompt + output
        of the workload, i.e. the maximum length the server must accept).
    max_batched_tokens : int or None
        Token budget of one step: prefill tokens per step (``continuous``) or decode + prefill tokens
        (``chunked_prefill``). Default: vLLM's (``batching_max_batched_tokens`` / ``batching_chunk_tokens``).
    watermark : float
        Share of KV blocks kept free at admission (vLLM block manager).
    """

    policy: str = "continuous"
    max_batch: int = 256
    block_tokens: int | None = None
    reserved_tokens: int | None = None
    max_batched_tokens: int | None = None
    watermark: float | None = None

    def __post_init__(self):
        check_choice("policy", self.policy, POLICIES)
        check_int("max_batch", self.max_batch, low=1)
        if self.block_tokens is not None:
            check_int("block_tokens", self.block_tokens, low=1)
        if self.reserved_tokens is not None:
            check_int("reserved_tokens", self.reserved_tokens, low=2)
        if self.max_batched_tokens is not None:
            check_int("max_batched_tokens", self.max_batched_tokens, low=1)
        if self.watermark is not None:
            check_fraction("watermark", self.watermark, allow_one=False)

    @property
    def block(self) -> int:
        return int(default("kv_block_tokens")) if self.block_tokens is None else self.block_tokens

    @property
    def wm(self) -> float:
        return default("batching_kv_watermark") if self.watermark is None else self.watermark

    @property
    def token_budget(self) -> int:
        if self.max_batched_tokens is not None:
            return self.max_batched_tokens
        name = "batching_chunk_tokens" if self.policy == "chunked_prefill" else "batching_max_batched_tokens"
        return int(default(name))


@dataclass
class SimResult:
    """Per-request times and the replica's time series.

    ``requests`` columns: arrival_s, prompt_tokens, output_tokens, first_token_s, finish_s, preemptions, and
    cached_tokens when the workload has a prefix cache.
    ``timeline`` columns: time_s (end of step), running, kv_used_tokens (tokens held), kv_reserved_tokens
    (slots reserved: blocks × block size, or contiguous reservations), step_s, kind (prefill/decode/mixed).
    """

    requests: pd.DataFrame
    timeline: pd.DataFrame
    policy: str
    max_batch: int
    kv_capacity_tokens: int
    busy_s: float
    end_s: float
    steps: int

    def summary(self, warmup_fraction: float = 0.0) -> dict:
        """Metrics over all requests (names from :mod:`model.metrics`); with ``warmup_fraction`` > 0 the
        throughputs are measured between the completions at ``warmup_fraction`` and 1 − ``warmup_fraction``
        of the run (steady state of an overloaded replica)."""
        r = self.requests
        done = r.dropna(subset=["finish_s"])
        ttft = done["first_token_s"] - done["arrival_s"]
        e2e = done["finish_s"] - done["arrival_s"]
        tpot = (e2e - ttft) / np.maximum(done["output_tokens"] - 1, 1)
        tl = self.timeline
        dt = tl["step_s"].to_numpy()
        span = self.end_s - float(r["arrival_s"].min())
        if warmup_fraction > 0:
            fin = np.sort(done["finish_s"].to_numpy())
            order = np.argsort(done["finish_s"].to_numpy(), kind="stable")
            lo, hi = int(len(fin) * warmup_fraction), int(len(fin) * (1 - warmup_fraction))
            window = fin[hi - 1] - fin[lo]
            n_req = hi - 1 - lo
            tok = done["output_tokens"].to_numpy()[order][lo + 1:hi].sum()
        else:
            window, n_req, tok = span, len(done), done["output_tokens"].sum()
        busy = dt.sum()
        out = {
            "policy": self.policy,
            "requests": len(done),
            "throughput_requests_per_min": 60 * n_req / window,
            "throughput_tokens_per_s": tok / window,
            "gpu_busy_fraction": busy / span,
            "batch_slot_utilization": float((tl["running"] * dt).sum() / busy / self.max_batch) if busy else 0.0,
            "sessions_held": float((tl["running"] * dt).sum() / busy) if busy else 0.0,
            "kv_occupancy": float((tl["kv_reserved_tokens"] * dt).sum() / busy / self.kv_capacity_tokens),
            "kv_utilization": float((tl["kv_used_tokens"] * dt).sum() / max((tl["kv_reserved_tokens"] * dt).sum(), 1)),
            "preemptions": int(r["preemptions"].sum()),
            "normalized_latency_s_per_token": float((e2e / done["output_tokens"]).mean()),
        }
        for name, s in (("ttft_s", ttft), ("tpot_s", tpot), ("e2e_latency_s", e2e)):
            out[f"{name}_p50"] = float(np.percentile(s, 50))
            out[f"{name}_p95"] = float(np.percentile(s, 95))
            out[f"{name}_p99"] = float(np.percentile(s, 99))
            out[f"{name}_mean"] = float(s.mean())
        return out


class _Recorder:
    """Appends the time series (plain lists; converted once at the end)."""

    __slots__ = ("t", "running", "used", "reserved", "step", "kind")

    def __init__(self):
        self.t, self.running, self.used, self.reserved, self.step, self.kind = [], [], [], [], [], []

    def add(self, t, running, used, reserved, step, kind):
        self.t.append(t)
        self.running.append(running)
        self.used.append(used)
        self.reserved.append(reserved)
        self.step.append(step)
        self.kind.append(kind)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"time_s": self.t, "running": self.running, "kv_used_tokens": self.used,
                             "kv_reserved_tokens": self.reserved, "step_s": self.step, "kind": self.kind})


def simulate(dep: Deployment, workload: Workload, scheduler: Scheduler) -> SimResult:
    """Run ``workload`` through one replica under ``scheduler``; deterministic (no randomness inside).

    Raises
    ------
    ParameterError
        if a request cannot ever fit in the KV budget, or the static batch cannot hold one sequence.
    """
    n = len(workload)
    cached = workload.cached
    arrival = np.asarray(workload.arrival_s, float)
    prompt = np.asarray(workload.prompt_tokens, np.int64)
    output = np.asarray(workload.output_tokens, np.int64)
    capacity = dep.kv_capacity_tokens
    longest = int((prompt + output).max())
    if longest > capacity:
        raise ParameterError("workload", f"a request of {longest} tokens",
                             f"requests of at most {capacity} tokens (KV capacity of the replica)")
    first = np.full(n, np.nan)
    finish = np.full(n, np.nan)
    preempt = np.zeros(n, np.int64)
    rec = _Recorder()
    env = simpy.Environment()
    state = {"busy": 0.0, "steps": 0}
    if scheduler.policy == "static":
        # validated here: an exception raised inside a simpy process is re-created by simpy
        reserved = scheduler.reserved_tokens or longest
        if reserved < longest:
            raise ParameterError("reserved_tokens", reserved, f">= the longest request ({longest} tokens)")
        if capacity // reserved < 1:
            raise ParameterError("max_batch", scheduler.max_batch,
                                 f"a batch that fits: not one sequence of {reserved} reserved tokens fits the KV "
                                 f"budget of {capacity} tokens")
        if workload.cached_tokens is not None and cached.any():
            raise ParameterError("cached_tokens", int(cached.max()),
                                 "0 under the static policy (no paged KV, no prefix cache): use continuous or "
                                 "chunked_prefill")
        proc = _static(env, dep, scheduler, arrival, prompt, output, first, finish, rec, state, longest)
    else:
        proc = _continuous(env, dep, scheduler, arrival, prompt, output, first, finish, preempt, rec, state,
                           chunked=scheduler.policy == "chunked_prefill", cached=cached)
    env.process(proc)
    env.run()
    requests = pd.DataFrame({"arrival_s": arrival, "prompt_tokens": prompt, "output_tokens": output,
                             "first_token_s": first, "finish_s": finish, "preemptions": preempt})
    if workload.cached_tokens is not None:
        requests["cached_tokens"] = cached
    return SimResult(requests, rec.frame(), scheduler.policy, scheduler.max_batch if scheduler.policy != "static"
                     else state["batch"], capacity, state["busy"], env.now, state["steps"])


def _static(env, dep, sch, arrival, prompt, output, first, finish, rec, state, longest):
    n = len(arrival)
    reserved = sch.reserved_tokens or longest
    fit = dep.kv_capacity_tokens // reserved
    batch = min(sch.max_batch, fit)
    state["batch"] = batch
    c0, c1, m0, m1 = dep.decode_coefficients(batch)  # coefficients for a full padded batch
    nxt = 0
    while nxt < n:
        if arrival[nxt] > env.now:
            yield env.timeout(arrival[nxt] - env.now)
        # all arrived so far, the one waited for included (now + (arrival - now) may round a hair short of it)
        k = max(int(np.searchsorted(arrival, env.now, side="right")), nxt + 1)
        take = np.arange(nxt, min(k, nxt + batch))
        nxt = int(take[-1]) + 1
        b = len(take)
        pmax = int(prompt[take].max())
        omax = int(output[take].max())
        # prefill of the padded batch: b × pmax tokens
        t_pf = float(dep.step_time(b * pmax, b * pmax * (pmax + 1) / 2, b, 0, b * pmax))
        yield env.timeout(t_pf)
        first[take] = env.now
        # decode steps j = 1..omax-1, every padded row attends pmax + j positions
        if b == batch:
            s = b * (pmax + np.arange(1, omax, dtype=float))
            steps = np.maximum(c0 + c1 * s, m0 + m1 * s)
        else:
            steps = dep.decode_time(b, pmax + np.arange(0, omax - 1, dtype=float))
        t_dec = float(np.sum(steps))
        if t_dec > 0:
            yield env.timeout(t_dec)
        finish[take] = env.now
        used = int(prompt[take].sum() + output[take].sum())
        # padded rows of finished sequences do no useful work: the decode phase holds on average
        # b × mean(output − 1) / (longest output − 1) live sequences
        live = b * float((output[take] - 1).mean()) / (omax - 1) if omax > 1 else 0.0
        rec.add(env.now - t_dec, b, int(prompt[take].sum()), b * reserved, t_pf, "prefill")
        rec.add(env.now, live, used, b * reserved, t_dec, "decode")
        state["busy"] += t_pf + t_dec
        state["steps"] += omax


def _continuous(env, dep, sch, arrival, prompt, output, first, finish, preempt, rec, state, chunked, cached=None):
    """Iteration-level scheduler on paged blocks. Per running slot: request id, tokens in KV (ctx), tokens
    still to generate (rem); prompt tokens still to compute (todo). A request admitted with ``cached[r]``
    prefix tokens already in KV starts with ctx = that prefix (at most its tokens − 1) and computes the rest;
    the token budget of a step counts computed tokens. Admission and preemption are decided here; the
    per-slot work of a step, before and after it runs, is done by :mod:`model.serving.kernel`."""
    if cached is None:
        cached = np.zeros(len(arrival), np.int64)
    n = len(arrival)
    bs = sch.block
    total_blocks = dep.kv_capacity_tokens // bs
    watermark_blocks = int(math.ceil(sch.wm * total_blocks))
    budget = sch.token_budget
    if not chunked and int(prompt.max() + output.max()) > budget and budget < int(prompt.max()):
        budget = int(prompt.max())  # vLLM rejects longer prompts; we let one such prompt use a step alone
    B = sch.max_batch
    kvb = dep.kv_bytes_per_token
    flops_rate, bytes_rate = dep.flops_per_s, dep.bytes_per_s
    w_time = dep.weight_bytes / bytes_rate
    arch = dep.arch
    w_read = None
    if arch.is_moe:  # a step reads the dense weights and the experts its tokens touch (Deployment.weight_bytes_read)
        top = min(int(max(budget, B, prompt.max())), 1 << 16)  # beyond, every expert is touched: w_time
        w_read = dep.weight_bytes_read(np.arange(top + 1, dtype=float)) / bytes_rate
    lm_head = arch.vocab_size * arch.hidden_size
    routed, per_expert = dep.routed_matmul  # routed experts: their own efficiency, ramp at each expert's rows
    body2 = 2.0 * (arch.matmul_parameters() - lm_head - routed) / flops_rate
    expert2 = 2.0 * routed / (flops_rate * dep.expert_mfu)
    head2 = 2.0 * lm_head / flops_rate
    attn = dep.attention_flops_per_pair(decode=True) / dep.attention_flops_per_s  # decode steps' pairs dominate
    kv_t = kvb / dep.kv_bytes_per_s
    half = dep.mfu_half_tokens
    overlap = dep.overlap
    comm_fixed = float(dep.allreduce_time(0.0))
    comm_per_token = float(dep.allreduce_time(1.0)) - comm_fixed
    fixed = comm_fixed + dep.step_overhead_s + arch.num_layers * dep.layer_overhead_s
    per_seq = dep.sequence_overhead_s

    def step_time(tokens, pairs, seqs, kv_read):
        # Deployment.step_time with scalars (same terms, see model.serving.step_time)
        c = body2 * (tokens + half) + expert2 * (tokens + half * per_expert) + head2 * seqs + attn * pairs
        w = w_time if w_read is None or tokens >= len(w_read) else w_read[int(tokens)]
        m = w + kv_t * (kv_read + tokens)
        return max(c, m) + overlap * min(c, m) + fixed + per_seq * seqs + comm_per_token * tokens

    rid = np.full(B, -1, np.int64)
    ctx = np.zeros(B, np.int64)       # tokens whose KV is stored
    rem = np.zeros(B, np.int64)       # output tokens still to generate
    todo = np.zeros(B, np.int64)      # prompt tokens still to prefill (chunked prefill)
    generated = np.zeros(n, np.int64)
    order = np.zeros(B, np.int64)     # slots of a step, in the order they are processed
    work = np.zeros(B, np.int64)      # tokens each of them computes in the step
    done = np.zeros(B, np.int64)      # slots a step finished
    free_slots = list(range(B - 1, -1, -1))
    admit_order: dict[int, None] = {}  # running slots in admission order (preemption victims from the end)
    waiting: deque[int] = deque()
    blocks_used = 0
    nxt = 0
    busy = 0.0
    steps = 0
    running = 0
    while True:
        now = env.now
        while nxt < n and arrival[nxt] <= now:
            waiting.append(nxt)
            nxt += 1
        if running == 0 and not waiting:
            if nxt >= n:
                break
            yield env.timeout(arrival[nxt] - now)
            continue
        # ---- admission (FCFS; blocks for the whole prompt + generated so far, above the watermark) --------
        admitted = 0                      # slots order[:admitted]
        tokens_in = 0
        while waiting and free_slots:
            r = waiting[0]
            need_tokens = int(prompt[r] + generated[r])
            need_blocks = -(-need_tokens // bs)
            if total_blocks - blocks_used - need_blocks < watermark_blocks and running + admitted > 0:
                break
            hit = min(int(cached[r]), need_tokens - 1)   # at least the last position is computed
            if not chunked and admitted and tokens_in + need_tokens - hit > budget:
                break
            waiting.popleft()
            s = free_slots.pop()
            rid[s] = r
            ctx[s] = hit
            rem[s] = output[r] - generated[r]
            todo[s] = need_tokens - hit
            blocks_used += need_blocks
            admit_order[s] = None
            order[admitted] = s
            admitted += 1
            tokens_in += need_tokens - hit
        running += admitted
        if not chunked and admitted:
            # ---- prefill step of the admitted prompts alone (vLLM default scheduler) ----------------------
            k = admitted
            kind = "prefill"
            tokens, pairs, seqs, kv_read = plan_prefill(ctx, todo, order, work, k)
            need = 0
        else:
            # ---- decode (and, chunked, prefill chunks) step ------------------------------------------------
            k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, chunked, budget, bs,
                                                                        order, work)
            # a decoding sequence appending token ctx+1 needs a new block when ctx % bs == 0: without one,
            # preempt the most recently admitted sequences (recomputed when readmitted)
            while blocks_used + need > total_blocks and admit_order:
                victim, _ = admit_order.popitem()
                r = int(rid[victim])
                blocks_used -= -(-int(ctx[victim] + todo[victim]) // bs)
                preempt[r] += 1
                waiting.appendleft(r)
                rid[victim] = -1
                ctx[victim] = 0
                todo[victim] = 0
                free_slots.append(victim)
                running -= 1
                k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, chunked, budget, bs,
                                                                            order, work)
            if tokens == 0:
                # nothing runnable (cannot happen unless the budget is 0)
                raise ParameterError("max_batched_tokens", budget, ">= 1 token per step")
            kind = "mixed" if tokens > n_dec else "decode"
        dt = step_time(float(tokens), float(pairs), seqs, float(kv_read))
        yield env.timeout(dt)
        busy += dt
        steps += 1
        blocks_used += need
        n_done, freed, kv_used = advance(rid, ctx, rem, todo, generated, first, finish, order, work, k, env.now,
                                         bs, done)
        if n_done:
            blocks_used -= freed
            running -= n_done
            for s in done[:n_done].tolist():
                del admit_order[s]
                free_slots.append(s)
        if rec is not None:
            rec.add(env.now, running, kv_used, blocks_used * bs, dt, kind)
    state["busy"] = busy
    state["steps"] = steps
