"""Analytic saturation throughput of one replica (no simulation): static batching (padded batches that run
until their longest request ends) and continuous batching (iteration-level scheduling on paged KV), and
the batch sizes the KV budget allows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.serving.step_time import Deployment
from model.checks import ParameterError, check_int


@dataclass(frozen=True)
class Saturation:
    """Throughput of a replica that always has work waiting (no simulation)."""

    policy: str
    batch: float
    requests_per_s: float
    output_tokens_per_s: float
    prefill_share: float

    @property
    def requests_per_min(self) -> float:
        return 60 * self.requests_per_s


def continuous_batch_limit(dep: Deployment, prompt_tokens, output_tokens, max_batch: int) -> float:
    """Running batch a paged, iteration-level scheduler holds under overload: ``max_batch`` or, if smaller,
    the KV capacity divided by the time-averaged KV footprint of a running sequence
    (prompt + half its output, weighted by output length)."""
    p = np.asarray(prompt_tokens, float)
    o = np.asarray(output_tokens, float)
    footprint = float(((p + o / 2) * o).sum() / o.sum())
    return float(min(max_batch, dep.kv_capacity_tokens / footprint))


def continuous_saturation(dep: Deployment, prompt_tokens, output_tokens, *, max_batch: int,
                          cached_tokens=0) -> Saturation:
    """Saturation throughput of continuous (iteration-level) batching on paged KV memory.

    Under overload every decode step runs a full batch B (the smaller of ``max_batch`` and what the KV
    capacity holds) and every request costs one prefill step of its own (vLLM schedules new prompts in a
    separate step) plus its share 1/B of each of its o − 1 decode steps. A decode step is affine in the sum
    of contexts S, per regime: t = max(c0 + c1·S, m0 + m1·S); with B sequences whose mean context is
    c̄ (residence-weighted: prompt + half the output), time per request =
    E[prefill(p)] + E[o − 1] · t(B, B·c̄) / B.

    With ``cached_tokens`` c (tokens, broadcast with the prompts, 0 ≤ c ≤ p) of each prompt already in KV
    (a prefix cache hit), the prefill computes p − c tokens attending over the c cached ones
    (``Deployment.prefill_time(p − c, past=c)``, at least one token computed) while the KV footprint, hence
    the batch, is unchanged; the default 0 is the whole prompt prefilled. A short prefill leaves room in the
    token budget of a step for other prompts, which the simulation (:mod:`model.serving`) packs into one
    step and this one-prefill-per-request figure does not: with a cache it is conservative.
    """
    p = np.asarray(prompt_tokens, float)
    o = np.asarray(output_tokens, float)
    c = np.broadcast_to(np.asarray(cached_tokens, float), p.shape) if p.ndim else np.asarray(cached_tokens, float)
    if c.size and (not np.all(np.isfinite(c)) or c.min() < 0):
        raise ParameterError("cached_tokens", cached_tokens, "tokens >= 0")
    if c.size and np.any(c > p):
        raise ParameterError("cached_tokens", cached_tokens, f"<= prompt_tokens (shortest {p.min():g})")
    hit = np.minimum(c, p - 1.0)   # at least the last position is computed
    b = continuous_batch_limit(dep, p, o, max_batch)
    b_eff = max(1, int(math.floor(b)))
    steps = o - 1
    # mean over decode steps of (context + 1) read by a sequence: its k-th decode step reads p + k tokens
    ctx_plus = float((p * steps + steps * o / 2).sum() / steps.sum()) if steps.sum() > 0 else 0.0
    c0, c1, m0, m1 = dep.decode_coefficients(b_eff)
    s = b_eff * ctx_plus
    t_dec = max(c0 + c1 * s, m0 + m1 * s)
    prefill = float(np.mean(dep.prefill_time(p - hit, hit)))
    per_request = prefill + float(steps.mean()) * t_dec / b_eff
    x = 1.0 / per_request
    return Saturation("continuous", b_eff, x, x * float(o.mean()), prefill / per_request)


def static_saturation(dep: Deployment, prompt_tokens, output_tokens, *, batch: int, n_batches: int = 2000,
                      seed: int = 0) -> Saturation:
    """Saturation throughput of static batching: batches of ``batch`` requests, prompts padded to the
    longest, decoded until the longest output ends; the expectation over random batches is taken by drawing
    ``n_batches`` batches from the given lengths (seeded)."""
    b = check_int("batch", batch, low=1)
    p = np.asarray(prompt_tokens, np.int64)
    o = np.asarray(output_tokens, np.int64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(p), size=(n_batches, b)) if len(p) > 1 else np.zeros((n_batches, b), np.int64)
    pmax = p[idx].max(axis=1)
    omax = o[idx].max(axis=1)
    pf = dep.step_time(b * pmax, b * pmax * (pmax + 1) / 2, b, 0, b * pmax)
    c0, c1, m0, m1 = dep.decode_coefficients(b)
    # decode steps j = 1..omax-1 with context pmax + j - 1 (+1 read): S = b (pmax + j); sum of a max of affine
    # functions of j evaluated exactly by summing over j (vectorised per batch)
    dec = np.empty(n_batches)
    for i, (pm, om) in enumerate(zip(pmax, omax)):
        s = b * (pm + np.arange(1, om, dtype=float))
        dec[i] = np.maximum(c0 + c1 * s, m0 + m1 * s).sum()
    per_batch = pf + dec
    x = b * n_batches / per_batch.sum()
    return Saturation("static", b, x, x * float(o.mean()), float(pf.sum() / per_batch.sum()))


def static_batch_limit(dep: Deployment, reserved_tokens: int, max_batch: int) -> int:
    """Largest static batch whose contiguous reservation of ``reserved_tokens`` per sequence fits the KV
    budget (at least 1; raises if not even one sequence fits)."""
    r = check_int("reserved_tokens", reserved_tokens, low=1)
    fit = dep.kv_capacity_tokens // r
    if fit < 1:
        raise ParameterError("reserved_tokens", r, f"<= {dep.kv_capacity_tokens} (KV capacity of the replica)")
    return int(min(check_int("max_batch", max_batch, low=1), fit))
