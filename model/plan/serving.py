"""Serving pools of a plan in closed form: an aggregated replica (chunked prefill, prefill and decode in the same
steps) against disaggregated prefill and decode pools joined by a KV transfer (as in DistServe, Splitwise and
Mooncake), each sized at the latency targets with the fitted step time (:class:`model.serving.step_time.Deployment`).

Closed forms (per replica; p prompt tokens, c of them cached, o reply tokens, λ requests/s to the replica):

- **Queueing.** A prefill replica's prompt server is a single FIFO queue of utilisation ρ and service s; its
  waiting time at quantile q is taken from the exponential tail of the M/G/1 wait, P(W > t) = ρ·exp(−t / m) with
  m = s (1 + cv²) / (2 (1 − ρ)) (:func:`wait_quantile`; cv² = ``plan_prefill_service_cv2`` = 0, the prompts being
  alike). A chunked-prefill replica serves its prefilling prompts first come, first served (a FIFO queue): a
  prompt waits for the work ahead of it, the exact M/D/1 waiting time at cv² = 0 (Erlang's distribution, evaluated
  as a sum of positive terms: :func:`md1_wait_cdf`, :func:`md1_wait_quantile`), then takes its own chunk steps.
- **Prefill pool.** One prompt at a time per attention group (a tensor-parallel replica has one; an expert-parallel
  replica with attention data parallelism one per GPU, r = ``Deployment.attention_ranks``): a step of r prompts
  lasts s = prefill of r × (p − c after c cached) tokens, and the replica carries λ = ρ·r / s. The KV transfer
  (:mod:`model.serving.kv_transfer`, one formula with the simulator): each GPU pair moves its share of the p
  tokens' KV (the per-GPU bytes of a tensor-parallel group of min(TP_p, TP_d), TP = 1 under attention data
  parallelism) over its NICs, t_x = latency + bytes per GPU / (NICs per GPU × NIC bandwidth). P95 TTFT =
  s + t_x + W_q(s, ρ) (the wait of one server whose service is the whole step: conservative for r > 1, where a
  prompt waits at most for the step in progress and the full ones queued before it); the pool runs at the
  highest ρ that meets the target. The transfer is not charged to the prefill GPUs' busy time (it streams while
  the next prompt is computed).
- **Decode pool.** A step of n sequences at the mean context p + o/2 lasts t(n) (``Deployment.decode_time``), at
  most L sequences running (``max_batch`` per attention group and the KV capacity,
  :func:`model.serving.saturation.continuous_batch_limit`). The sequences in a replica form a birth-death chain
  (departures at min(n, L) / ((o − 1) · t(min(n, L)))): below L the batch is about Poisson around its mean and a
  sequence's TPOT is t of the batch it joins; a sequence arriving at a full replica waits for a slot, and that wait
  spread over its o − 1 steps adds to its TPOT (:func:`decode_tail`). The replica runs at the highest rate whose
  P95 TPOT meets the target; the first token comes from the prefill pool.
- **Aggregated replica (chunked prefill).** Each step carries the B decoding sequences and prompt chunks, at
  most ``chunk_tokens`` tokens in all; steps with chunks and without alternate, B = λ (o − 1) t̄ (a fixed point;
  :func:`aggregated_state` gives the forms). A prompt costs its own chunk steps, the last one partial unless the next
  prompt fills it (:func:`shared_service_s`). While prompts queue, every step is a chunk step and the batch grows
  to B_w = λ (o − 1) t_c(B_w): P95 TTFT = the prompt's own chunk steps at B_w + the P95 of the wait of an M/D/1
  FIFO queue of service S_w (a prompt's packed steps at B_w) plus the rest of a decode step in progress
  (:func:`residual_wait_cdf`); P95 TPOT = the mean step + a term for the requests that decode through a prefill
  busy period (``plan_chunk_tpot_factor``, fitted against the simulator). The replica runs at the highest λ that
  meets both targets (:func:`model.rate_search.bisect_boundary`).

The tails were checked against the discrete-event simulators (``python -m model.plan --simulate`` does it for a
plan, the disaggregated pools together with their KV transfer): the decode replica's P95 TPOT within about 1% on
the services of data/services/plan_services.csv (with the admission wait; without it +31% on a replica planned
near its full batch), the aggregated replica's P95 TTFT within the validated TTFT error on 37 of the 44 settings
and loads of ``data/plan/aggregated_ttft_check.csv`` (``benchmarks/check_aggregated_ttft.py``; the others 11-20%
off: single-chunk prompts, and prompts that take one chunk step or two as the batch moves)
and its P95 TPOT within about 20%, the prefill replicas' P95
TTFT equal at a light load and conservative above it (each replica is queued apart, where the simulator sends a
prompt to the least-loaded replica and packs waiting prompts into one step).

GPUs of a pool = replicas × GPUs per replica, replicas = ⌈λ_total / λ_replica⌉; busy GPUs (utilisation) from
:func:`model.serving.capacity.busy_gpus`. Every TP in 1, 2, 4 … up to the node's GPUs that holds the weights is
tried and the one needing the fewest GPUs kept. For an MoE model the prefill and decode pools also try replicas of
1, 2, … ``max_nodes_per_replica`` whole nodes with expert parallelism over all their GPUs and attention data
parallelism (:func:`expert_parallel_deployments`; DeepSeek-V3/R1's prefill units are 4 nodes with EP32, its decode
units 18 nodes with EP144), whose all-to-all crosses the NICs once the replica spans nodes
(:meth:`model.serving.step_time.Deployment.all_to_all_time`): they are kept where they need fewer GPUs, and they are
the only options when the weights do not fit one node. Aggregated replicas stay tensor-parallel inside a node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.checks import ParameterError
from model.kv.size import kv_footprint
from model.parameters import default
from model.rate_search import bisect_boundary
from model.serving.capacity import busy_gpus
from model.serving.kv_transfer import kv_transfer_bytes_per_gpu, load_link
from model.serving.saturation import continuous_batch_limit
from model.serving.step_time import Deployment

#: The link of :mod:`model.serving.kv_transfer` the KV transfer between pools crosses (the NICs).
KV_LINK = "nic"
#: Relative precision of the rate searches (the tiering chapter's bisection tolerance, data/parameters).
_REL_TOL_PARAMETER = "tiering_slo_rel_tol"
#: Quantile at which ``plan_chunk_tpot_factor`` was fitted.
_FITTED_QUANTILE = 0.95
#: Fixed-point iterations of the aggregated step time (it converges geometrically well before this).
_FIXED_POINT_STEPS = 60
#: Relative precision of :func:`md1_wait_quantile`'s bisection (implementation choice: a twentieth of the rate
#: searches' precision, ``tiering_slo_rel_tol`` ÷ 10 = 0.002, which it must not blur).
QUANTILE_REL_TOL = 1e-4
#: Midpoints of the rule that integrates the wait's law over the rest of a running step
#: (:func:`residual_wait_cdf`; implementation choice: the law is piecewise smooth, and 32 points put the P95 within
#: 0.001% of 256 points for the aggregated replicas of data/services/plan_services.csv at their planned rates and
#: at half and a tenth of them).
RESIDUAL_NODES = 32


def wait_quantile(service_s: float, rho: float, q: float, cv2: float) -> float:
    """Waiting time at quantile ``q`` of a FIFO queue of utilisation ``rho``, mean service ``service_s`` and
    squared coefficient of variation of service ``cv2``, from the exponential tail of the M/G/1 wait
    P(W > t) = ρ·exp(−t / m) with m = s·(1 + cv2) / (2 (1 − ρ)) (Kingman's heavy-traffic mean over ρ; exact for
    M/M/1, cv2 = 1): m·ln(ρ / (1 − q)) when ρ > 1 − q, else 0; inf when ρ ≥ 1."""
    if rho >= 1.0:
        return math.inf
    if rho <= 1.0 - q:
        return 0.0
    return service_s * (1.0 + cv2) / (2.0 * (1.0 - rho)) * math.log(rho / (1.0 - q))


def _md1_queue_cdf(rho: float, n: int) -> np.ndarray:
    """P(N ≤ m + 1) for m = 0 … n − 1, N the number in an M/D/1 system of utilisation ``rho`` (0 < ρ < 1) at a
    random time (the queue behind the prompt in service at most m).

    N is the stationary law of the chain N' = max(N − 1, 0) + A sampled one service apart, A Poisson of mean ρ
    (a_j = e^{−ρ} ρ^j / j!, tails ā_j = Σ_{i≥j} a_i), from p_0 = 1 − ρ by the level-crossing balance across
    the cut between j − 1 and j (one step down needs A = 0)::

        p_j·a_0 = p_0·ā_j + Σ_{i=1}^{j−1} p_i·ā_{j−i+1}

    a sum of positive terms (no cancellation, unlike the usual recursion on p_{j+1})."""
    top = n + 2 + 60                       # a_j beyond j = n + 60 is below 1/60! ≈ 1e-82 of a_0: left out
    j = np.arange(top, dtype=float)
    a = np.exp(-rho + j * math.log(rho) - np.array([math.lgamma(x + 1.0) for x in j]))
    tail = np.cumsum(a[::-1])[::-1]        # ā_j, summed from the smallest terms up
    p = np.zeros(n + 2)
    p[0] = 1.0 - rho
    for m in range(1, n + 2):
        # Σ_{i=1}^{m−1} p_i·ā_{m−i+1}: ā indices m … 2 against p_1 … p_{m−1}
        p[m] = (p[0] * tail[m] + float(np.dot(p[1:m], tail[m:1:-1]))) / a[0]
    return np.minimum(np.cumsum(p)[1:], 1.0)


def _poisson_pmf(mean: float, n: int) -> np.ndarray:
    """e^{−x} x^j / j! for j = 0 … n − 1 (x = ``mean`` ≥ 0), in log space."""
    if mean <= 0.0:
        out = np.zeros(n)
        out[0] = 1.0
        return out
    j = np.arange(n, dtype=float)
    return np.exp(-mean + j * math.log(mean) - np.array([math.lgamma(x + 1.0) for x in j]))


def md1_wait_cdf(t_s: float, *, service_s: float, rho: float, _queue=None) -> float:
    """P(W ≤ ``t_s``): the waiting time W of a FIFO M/D/1 queue of utilisation ``rho`` and service ``service_s``
    (Erlang's distribution, P(W ≤ t) = (1 − ρ) Σ_{k=0}^{⌊t/S⌋} (λ(kS − t))^k / k! · e^{λ(t − kS)}, whose terms
    alternate in sign and cancel for t of many services), evaluated as a sum of positive terms (Crommelin's
    argument, Franx 2001): with t = kS + u, 0 ≤ u < S, a prompt arriving at τ waits at most t exactly when the
    prompts queued behind the one in service at τ − (S − u), plus those arriving in (τ − (S − u), τ), number at
    most k, so::

        P(W ≤ kS + u) = Σ_{j=0}^{k} P(N ≤ k − j + 1) · e^{−λ(S − u)} (λ(S − u))^j / j!

    with N the number in the system at a random time (:func:`_md1_queue_cdf`). 0 for t < 0, 1 when ρ = 0, 0 when
    ρ ≥ 1."""
    if t_s < 0.0:
        return 0.0
    if rho <= 0.0:
        return 1.0
    if rho >= 1.0:
        return 0.0
    k = int(math.floor(t_s / service_s))
    u = min(max(t_s - k * service_s, 0.0), service_s)
    queue = _md1_queue_cdf(rho, k + 1) if _queue is None or len(_queue) < k + 1 else _queue
    arrivals = _poisson_pmf(rho * (1.0 - u / service_s), k + 1)
    return float(min(np.dot(queue[k::-1], arrivals), 1.0))


def md1_wait_quantile(service_s: float, rho: float, q: float) -> float:
    """Waiting time at quantile ``q`` of the FIFO M/D/1 queue of :func:`md1_wait_cdf`, s: 0 when 1 − ρ ≥ q (the
    prompts that find the queue empty), inf when ρ ≥ 1, else the t with P(W ≤ t) = q: the service interval
    (kS, (k + 1)S] that holds it from P(W ≤ kS) (a convolution, over k doubled until it passes q), then
    bisection inside it to :data:`QUANTILE_REL_TOL` of t, from above."""
    if rho >= 1.0:
        return math.inf
    if 1.0 - rho >= q:
        return 0.0
    n = 16
    while True:
        queue = _md1_queue_cdf(rho, n)
        at_k = np.convolve(queue, _poisson_pmf(rho, n))[:n]     # P(W ≤ kS), k = 0 … n − 1
        over = np.flatnonzero(at_k >= q)
        if over.size:
            break
        n *= 2
    k = int(over[0])                                             # P(W ≤ (k − 1)S) < q ≤ P(W ≤ kS), k ≥ 1
    lo, hi = (k - 1) * service_s, k * service_s
    while hi - lo > QUANTILE_REL_TOL * hi:
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if md1_wait_cdf(mid, service_s=service_s, rho=rho, _queue=queue) < q else (lo, mid)
    return hi


def aggregated_wait_quantile(service_s: float, rho: float, q: float, cv2: float) -> float:
    """A prompt's wait at quantile ``q`` in a chunked-prefill replica's FIFO prompt queue: the exact M/D/1 wait
    (:func:`md1_wait_quantile`) at ``cv2`` = 0, the plan's identical prompts; for prompts of varying work
    (``cv2`` > 0) the exponential tail of the M/G/1 wait (:func:`wait_quantile`)."""
    return md1_wait_quantile(service_s, rho, q) if cv2 == 0.0 else wait_quantile(service_s, rho, q, cv2)


def _wait_cdf(service_s: float, rho: float, cv2: float, t_max: float):
    """F_W of :func:`aggregated_wait_quantile`'s wait as a function of t ≤ ``t_max`` (s): Erlang's M/D/1 law at
    ``cv2`` = 0 (its queue law computed once), else the M/G/1 exponential tail 1 − ρ·exp(−t / m)."""
    if cv2 != 0.0:
        m = service_s * (1.0 + cv2) / (2.0 * (1.0 - rho))
        return lambda t: 0.0 if t < 0.0 else 1.0 - rho * math.exp(-t / m)
    if rho <= 0.0:
        return lambda t: 0.0 if t < 0.0 else 1.0
    queue = _md1_queue_cdf(rho, int(math.floor(max(t_max, 0.0) / service_s)) + 1)
    return lambda t: md1_wait_cdf(t, service_s=service_s, rho=rho, _queue=queue)


def residual_wait_cdf(t_s: float, *, service_s: float, rho: float, cv2: float, step_s: float,
                      running: float) -> float:
    """P(W + R ≤ ``t_s``): a prompt's wait W in the FIFO queue (:func:`aggregated_wait_quantile`'s law) plus R, the
    rest of a decode-only step the replica is running when the prompt arrives to an empty queue: with probability
    ``running`` a step of ``step_s`` is in progress and R is uniform on (0, ``step_s``), else R = 0. W and R are
    independent: the stochastic decomposition of an M/G/1 queue whose server, when it finds the queue empty, takes
    vacations (here decode steps) until a prompt is there (Fuhrmann & Cooper, Operations Research 33(5), 1985).
    So P = (1 − running)·F_W(t) + running·(1/step)·∫₀^step F_W(t − u) du, the integral by the midpoint rule on
    :data:`RESIDUAL_NODES` points."""
    if rho >= 1.0:
        return 0.0
    return _with_rest(_wait_cdf(service_s, rho, cv2, t_s), t_s, step_s, running)


def _with_rest(f, t_s: float, step_s: float, running: float) -> float:
    """:func:`residual_wait_cdf` at ``t_s`` from the wait's law ``f`` (:func:`_wait_cdf`, valid up to ``t_s``)."""
    if running <= 0.0 or step_s <= 0.0:
        return float(f(t_s))
    u = (np.arange(RESIDUAL_NODES) + 0.5) / RESIDUAL_NODES * step_s
    spread = float(np.mean([f(t_s - x) for x in u]))
    return float((1.0 - running) * f(t_s) + running * spread)


def residual_wait_quantile(q: float, *, service_s: float, rho: float, cv2: float, step_s: float,
                           running: float) -> float:
    """The t with P(W + R ≤ t) = ``q`` (:func:`residual_wait_cdf`), s: between the wait's own quantile and that
    plus a whole step, by bisection to :data:`QUANTILE_REL_TOL` of t, from above; inf when ρ ≥ 1."""
    if rho >= 1.0:
        return math.inf
    lo = aggregated_wait_quantile(service_s, rho, q, cv2)
    if running <= 0.0 or step_s <= 0.0:
        return lo
    hi = lo + step_s
    f = _wait_cdf(service_s, rho, cv2, hi)              # the wait's law once, for every t the bisection tries
    while hi - lo > QUANTILE_REL_TOL * hi:
        mid = (lo + hi) / 2.0
        lo, hi = (mid, hi) if _with_rest(f, mid, step_s, running) < q else (lo, mid)
    return hi


def normal_quantile(q: float) -> float:
    """z with Φ(z) = q (standard normal)."""
    from statistics import NormalDist

    return NormalDist().inv_cdf(q)


def tp_options(max_tp: int) -> list[int]:
    """Tensor-parallel degrees tried: powers of two up to ``max_tp``."""
    out, n = [], 1
    while n <= max_tp:
        out.append(n)
        n *= 2
    return out


def deployments(arch, gpu, max_tp: int, weight_dtype: str, kv_dtype: str) -> list[Deployment]:
    """A :class:`Deployment` for every TP of :func:`tp_options` whose GPUs hold the weights (empty if none)."""
    out = []
    for n in tp_options(max_tp):
        try:
            out.append(Deployment(arch=arch, gpu=gpu, n_gpus=n, weight_dtype=weight_dtype, kv_dtype=kv_dtype))
        except ParameterError:
            continue
    return out


def expert_parallel_deployments(arch, gpu, node_gpus: int, max_nodes: int, weight_dtype: str,
                                kv_dtype: str) -> list[Deployment]:
    """For an MoE model, a :class:`Deployment` of n whole nodes (n = 1 … ``max_nodes``, ``node_gpus`` GPUs each)
    with expert parallelism over all n × ``node_gpus`` GPUs and attention data parallelism, for every n whose GPUs
    hold the weights; empty for a dense model."""
    if not arch.is_moe:
        return []
    out = []
    for n in range(1, max_nodes + 1):
        g = n * node_gpus
        try:
            out.append(Deployment(arch=arch, gpu=gpu, n_gpus=g, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                                  expert_parallel=g, attention_data_parallel=True, node_gpus=node_gpus))
        except ParameterError:
            continue
    return out


def pool_deployment(pool, deps: list[Deployment]) -> Deployment:
    """The deployment of ``deps`` a pool was sized on (its GPUs per replica and expert-parallel degree)."""
    return next(d for d in deps if d.n_gpus == pool.tp and d.expert_parallel == pool.ep)


@dataclass(frozen=True)
class Pool:
    """One pool of identical replicas sized for a demand at the latency targets."""

    role: str                      # "aggregated", "prefill" or "decode"
    tp: int                        # GPUs per replica (the tensor-parallel degree unless ep > 1)
    replica_requests_per_s: float  # highest rate one replica carries within the targets
    replicas: int
    gpus: int
    busy_gpus: float               # GPUs' worth of work (fractional): demand ÷ replica rate × TP
    ttft_p95_s: float              # at the replica's rate (NaN for the decode pool)
    tpot_p95_s: float              # at the replica's rate (NaN for the prefill pool)
    batch: float                   # running decode batch at that rate (0 for the prefill pool)
    busy_at_rate: float = 1.0      # share of time a replica computes at its rate (prefill: the queue's ρ)
    ep: int = 1                    # expert-parallel degree (GPUs the routed experts are spread over)
    nodes: int = 1                 # nodes one replica spans

    @property
    def load_share(self) -> float:
        """Share of the pool's capacity at the targets the demand uses (below 1 by the rounding to replicas)."""
        return self.busy_gpus / self.gpus if self.gpus else 0.0

    @property
    def utilisation(self) -> float:
        """Share of time the pool's GPUs compute: :attr:`load_share` × the replica's busy share at its rate
        (a decode or aggregated replica steps without pause; a prefill replica idles 1 − ρ of the time)."""
        return self.load_share * self.busy_at_rate

    def as_dict(self) -> dict:
        return {"role": self.role, "tp": self.tp, "replica_requests_per_s": self.replica_requests_per_s,
                "replicas": self.replicas, "gpus": self.gpus, "busy_gpus": self.busy_gpus,
                "load_share": self.load_share, "utilisation": self.utilisation, "ttft_p95_s": self.ttft_p95_s,
                "tpot_p95_s": self.tpot_p95_s,
                "batch": self.batch, "ep": self.ep, "nodes": self.nodes}


def _pool(role, dep, demand, rate, ttft, tpot, batch, busy_at_rate=1.0) -> Pool:
    rate = float(rate)
    replicas = math.ceil(demand / rate - 1e-9) if demand > 0 else 0
    busy = busy_gpus(demand, replica_rate_per_s=rate, gpus_per_replica=dep.n_gpus)
    return Pool(role, dep.n_gpus, rate, replicas, replicas * dep.n_gpus, busy, float(ttft), float(tpot),
                float(batch), float(busy_at_rate), dep.expert_parallel, dep.nodes)


def kv_transfer_bytes(arch, prompt_tokens: int, kv_dtype: str) -> float:
    """KV bytes of one request's prompt handed from the prefill to the decode pool (windows, latents and
    states as :func:`model.kv.size.kv_footprint` counts them)."""
    return kv_footprint(arch, prompt_tokens, kv_dtype).kv_bytes_per_sequence


def kv_transfer_s(arch, prompt_tokens: int, kv_dtype: str, prefill: Deployment, decode: Deployment) -> float:
    """Seconds of one prompt's KV transfer from a ``prefill`` replica to a ``decode`` replica over the NICs: the
    simulator's formula (:func:`model.serving.kv_transfer.load_link` ``nic`` and
    :func:`~model.serving.kv_transfer.kv_transfer_bytes_per_gpu` for the two replicas' KV tensor-parallel groups,
    ``Deployment.kv_tensor_parallel``)."""
    nbytes = kv_transfer_bytes_per_gpu(arch, prompt_tokens, kv_dtype, prefill.kv_tensor_parallel,
                                       decode.kv_tensor_parallel)
    return load_link(KV_LINK, prefill.gpu).transfer_s(nbytes)


# --- prefill pool -------------------------------------------------------------------------------------------------
def prefill_service_s(dep: Deployment, prompt_tokens: int, cached_tokens: int, prompts: int | None = None) -> float:
    """Seconds of a prefill step of ``prompts`` prompts (default one per attention group,
    ``dep.attention_ranks``) of which ``cached_tokens`` each are a prefix-cache hit (at least one computed)."""
    hit = min(cached_tokens, prompt_tokens - 1)
    r = dep.attention_ranks if prompts is None else prompts
    if r == 1:
        return float(dep.prefill_time(prompt_tokens - hit, hit))
    new = prompt_tokens - hit
    if not dep._kv_grows:
        from model.kv.size import prefill_pairs_per_layer

        pairs = float(prefill_pairs_per_layer(dep.arch, new, hit)) * r
        read = float(dep.kv_tokens_held(hit)) * r if hit > 0 else 0.0
    else:
        pairs, read = r * (new * hit + new * (new + 1) / 2.0), float(r * hit)
    return float(dep.step_time(float(r * new), pairs, float(r), read, float(r * new)))


def prefill_pool(dep: Deployment, demand: float, *, prompt_tokens, cached_tokens, transfer_s, ttft_s, q,
                 cv2: float) -> Pool | None:
    """The prefill pool of TP ``dep.n_gpus`` at the TTFT target, or None when even an idle replica misses it."""
    s = prefill_service_s(dep, prompt_tokens, cached_tokens)
    if s + transfer_s > ttft_s:
        return None
    ttft = lambda rho: s + transfer_s + wait_quantile(s, rho, q, cv2)  # noqa: E731
    hi = 1.0 - 1e-9
    rho = hi if ttft(hi) <= ttft_s else bisect_boundary(lambda r: ttft(r) <= ttft_s, 1.0 - q, hi,
                                                        rel_tol=default(_REL_TOL_PARAMETER) / 10, spacing="linear")
    return _pool("prefill", dep, demand, rho * dep.attention_ranks / s, ttft(rho), math.nan, 0.0, rho)


# --- decode pool --------------------------------------------------------------------------------------------------
def decode_context(prompt_tokens: int, reply_tokens: int) -> float:
    """Mean context of a decoding sequence over its reply: p + o/2 tokens."""
    return prompt_tokens + reply_tokens / 2.0


def decode_batch_limit(dep: Deployment, prompt_tokens, reply_tokens, max_batch) -> int:
    """Largest running batch the replica's KV holds (and ``max_batch`` per attention group)."""
    return int(math.floor(continuous_batch_limit(dep, [prompt_tokens], [reply_tokens],
                                                 max_batch * dep.attention_ranks)))


def _decode_steps(dep: Deployment, prompt_tokens, reply_tokens, max_batch) -> tuple[int, np.ndarray]:
    """(steps per sequence o − 1, step times t(1) … t(L) s at the mean context) of a decode replica whose KV and
    ``max_batch`` hold at most L sequences (an empty array when it holds none)."""
    limit = decode_batch_limit(dep, prompt_tokens, reply_tokens, max_batch)
    b = np.arange(1, max(limit, 0) + 1, dtype=float)
    ctx = decode_context(prompt_tokens, reply_tokens)
    return reply_tokens - 1, np.asarray(dep.decode_time(b, ctx), float) if len(b) else np.zeros(0)


def decode_tail(step_s: np.ndarray, steps: int, rate: float, q: float) -> tuple[float, float, float]:
    """(mean running batch, TPOT at quantile ``q`` (s), probability that a sequence waits for admission) of a
    decode replica offered ``rate`` sequences/s, each staying ``steps`` steps, a step of n sequences lasting
    ``step_s[n − 1]`` (n = 1 … L, L = len(step_s), non-decreasing in n).

    The sequences in the replica (running and waiting for a slot) form a birth-death chain: arrivals at λ, departures
    at μ_n = min(n, L) / (steps · t(min(n, L))). For n < L, π_n ∝ ∏_{k≤n} λ / μ_k (about Poisson around the mean
    batch, as for the infinite-server queue); at and above L the replica is full and the chain is geometric with
    ratio r = λ / μ_L (inf when r ≥ 1: the replica cannot keep up even at its largest batch). A sequence that
    arrives to n < L others runs in a batch of n + 1: TPOT = t(n + 1). One that arrives to a full replica waits
    for a slot — with a geometric number ahead of it, an exponential wait W of rate μ_L (1 − r) — and its reply's
    tokens spread that wait: TPOT = t(L) + W / steps. So

        P(TPOT > τ) = Σ_{n<L, t(n+1)>τ} π_n + P_wait · exp(−μ_L (1 − r) · steps · max(τ − t(L), 0)),

    with P_wait = π_L / (1 − r) (Erlang's C for this chain), and TPOT at q is the smallest τ with P(TPOT > τ) ≤
    1 − q. Departures are taken as exponential (the exact residence is a fixed number of steps): conservative for
    the wait, which the simulator shows is what sets the P95 of a replica run near its full batch."""
    n_max = len(step_s)
    if n_max == 0 or not rate > 0.0:
        return 0.0, (float(step_s[0]) if n_max else math.inf), 0.0
    if steps <= 0:
        return 0.0, float(step_s[0]), 0.0
    n = np.arange(1, n_max + 1, dtype=float)
    mu = n / (steps * step_s)
    r = rate / mu[-1]
    if r >= 1.0:
        return math.inf, math.inf, 1.0
    log_w = np.concatenate([[0.0], np.cumsum(np.log(rate / mu))])     # π_0 … π_L up to a factor
    w = np.exp(log_w - log_w.max())
    total = float(w[:-1].sum() + w[-1] / (1.0 - r))
    pi = w[:-1] / total                                               # π_0 … π_{L−1}
    p_wait = float(w[-1] / (1.0 - r) / total)
    batch = float(np.dot(np.arange(n_max), pi) + n_max * p_wait)
    miss = 1.0 - q
    if p_wait >= miss:
        return batch, float(step_s[-1]) + math.log(p_wait / miss) / (mu[-1] * (1.0 - r) * steps), p_wait
    above = np.append(np.cumsum(pi[::-1])[::-1], 0.0)                # Σ_{n≥k} π_n for k = 0 … L
    k = int(np.flatnonzero(above + p_wait <= miss)[0])                # the smallest batch k with P(TPOT > t(k)) ≤ 1 − q
    return batch, float(step_s[max(k, 1) - 1]), p_wait


def decode_pool(dep: Deployment, demand: float, *, prompt_tokens, reply_tokens, tpot_s, max_batch, q) -> Pool | None:
    """The decode pool of TP ``dep.n_gpus`` at the TPOT target, or None when one sequence alone misses it or the
    KV holds none: the highest rate whose TPOT at quantile q (:func:`decode_tail`, the admission wait of a full
    replica included) is within the target."""
    steps, step_s = _decode_steps(dep, prompt_tokens, reply_tokens, max_batch)
    if len(step_s) == 0 or step_s[0] > tpot_s:
        return None
    if steps == 0:
        return Pool("decode", dep.n_gpus, math.inf, 0, 0, 0.0, math.nan, float(step_s[0]), 0.0, 1.0,
                    dep.expert_parallel, dep.nodes)
    full = len(step_s) / (steps * float(step_s[-1]))                  # μ_L: the rate a full replica completes

    def meets(rate):
        return decode_tail(step_s, steps, rate, q)[1] <= tpot_s

    low = full * 1e-9
    if not meets(low):
        return None
    rate = bisect_boundary(meets, low, full, rel_tol=default(_REL_TOL_PARAMETER) / 10, spacing="log")
    batch, tpot, _ = decode_tail(step_s, steps, rate, q)
    return _pool("decode", dep, demand, rate, math.nan, tpot, batch)


def decode_tpot_at(dep: Deployment, rate: float, *, prompt_tokens, reply_tokens, max_batch, q) -> tuple[float, float]:
    """(mean running batch, TPOT at quantile q) of a decode replica offered ``rate`` requests/s
    (:func:`decode_tail`); (inf, inf) when a full replica cannot keep up with it."""
    steps, step_s = _decode_steps(dep, prompt_tokens, reply_tokens, max_batch)
    batch, tpot, _ = decode_tail(step_s, steps, rate, q)
    return batch, tpot


def prefill_ttft_at(dep: Deployment, rate: float, *, prompt_tokens, cached_tokens, transfer_s, q, cv2) -> float:
    """P95 TTFT of a prefill replica offered ``rate`` requests/s, as :func:`prefill_pool` has it: s + t_x +
    W_q(s, ρ) with ρ = rate × s ÷ the prompts a step carries (inf when ρ ≥ 1)."""
    s = prefill_service_s(dep, prompt_tokens, cached_tokens)
    rho = rate * s / dep.attention_ranks
    return s + transfer_s + wait_quantile(s, rho, q, cv2)


# --- aggregated replica ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AggregatedState:
    """Steady state of a chunked-prefill replica at one request rate (times in s)."""

    feasible: bool
    step_s: float                  # mean step
    batch: float                   # mean decoding sequences
    prefill_tokens_per_step: float
    ttft_p95_s: float              # at the quantile asked (the name keeps the plan's 0.95)
    tpot_p95_s: float
    busy: float = math.nan         # ρ: share of time the steps carry prompt chunks
    service_s: float = math.nan    # S: mean chunk-step time a prompt costs the queue
    own_s: float = math.nan        # a prompt's own chunk steps when it is served alone
    wait_batch: float = math.nan   # B_w: decoding sequences while prompts queue (every step a chunk step)
    wait_service_s: float = math.nan   # S_w: a queued prompt's packed chunk steps at B_w
    wait_busy: float = math.nan    # ρ_w = λ·S_w: the utilisation the queue's tail sees
    wait_own_s: float = math.nan   # the prompt's own chunk steps at B_w
    decode_step_s: float = math.nan    # t_d: a decode-only step at B
    running: float = math.nan      # 1 − e^(−B): P(a decode step is running when a prompt finds the queue empty)


def prompt_chunks(new_tokens: float, room: float) -> tuple[int, float]:
    """(full chunk steps, tokens of the last, partial one) of a prompt of ``new_tokens`` computed tokens in steps
    of ``room`` prompt tokens: ⌊new / room⌋ and new − ⌊new / room⌋·room (0 when room divides it)."""
    full = int(math.floor(new_tokens / room))
    return full, float(new_tokens - full * room)


def shared_service_s(own_s: float, packed_s: float, rate: float) -> float:
    """Mean chunk-step time S a prompt costs the queue at ``rate`` prompts/s: its own steps ``own_s`` when the
    queue is empty behind it, ``packed_s`` (its last, partial step's tokens at a full step's rate) when the next
    prompt fills that step. A prompt leaves a prompt behind with probability ρ = rate·S (M/G/1: departures see
    the arrivals' view, which is the time average), so S = (1 − ρ)·own + ρ·packed, solved for S:
    own / (1 + rate·(own − packed))."""
    return own_s / (1.0 + rate * (own_s - packed_s))


def _chunk_costs(dep: Deployment, b: float, *, new: float, past: float, ctx: float, chunk_tokens: int):
    """A prompt's chunk steps beside b decoding sequences (at the mean context ``ctx``): (own, packed, full chunk
    step t_c, decode-only step t_d, room) in s, or None when the chunk leaves no room. The j-th chunk's attention
    runs over the ``past`` cached tokens and the j − 1 chunks before it; ``own`` is the prompt's steps served alone
    (the last partial), ``packed`` its tokens at the full steps' rate (the next prompt fills its last step)."""
    room = chunk_tokens - b
    if room < 1:
        return None

    def step(k, before):
        """A step of b decodes at the mean context and k prompt tokens after ``before`` of the prompt's."""
        k = np.asarray(k, float)
        before = np.asarray(before, float)
        pairs = b * (ctx + 1) + k * (before + k / 2.0 + 0.5)
        read = b * (ctx + 1) + np.where(k > 0, before, 0.0)
        return np.asarray(dep.step_time(b + k, pairs, b, read, b + k), float)

    full, rest = prompt_chunks(new, room)
    t_full = step(room, past + room * np.arange(full))
    t_last = float(step(rest, past + full * room)) if rest > 0 else 0.0
    t_room = float(step(room, past + full * room)) if rest > 0 else 0.0
    own = float(t_full.sum()) + t_last
    packed = float(t_full.sum()) + rest / room * t_room
    return own, packed, packed / (new / room), float(step(0.0, 0.0)), room


def _aggregated_core(dep: Deployment, rate: float, *, prompt_tokens, cached_tokens, reply_tokens, chunk_tokens,
                     max_batch):
    """The fixed points of :func:`aggregated_state` (its docstring): (batch, ρ, S, own, full chunk step, mean step,
    computed tokens, decode-only step, and the wait's batch B_w, own steps, service S_w and ρ_w) or None when
    infeasible (a batch outgrows the KV or the chunk, or ρ_w ≥ 1)."""
    new = prompt_tokens - min(cached_tokens, prompt_tokens - 1)
    past = prompt_tokens - new
    ctx = decode_context(prompt_tokens, reply_tokens)
    limit = min(max_batch, decode_batch_limit(dep, prompt_tokens, reply_tokens, max_batch))
    steps = reply_tokens - 1
    costs = lambda b: None if b > limit else _chunk_costs(dep, b, new=new, past=past, ctx=ctx,  # noqa: E731
                                                          chunk_tokens=chunk_tokens)

    def at(b):
        c = costs(b)
        if c is None:
            return None
        own, packed, t_c, t_d, room = c
        s = shared_service_s(own, packed, rate)
        rho = rate * s
        if rho >= 1.0:
            return None
        full, rest = prompt_chunks(new, room)
        chunk_steps = (1.0 - rho) * (full + (rest > 0)) + rho * new / room   # steps a prompt's chunks take
        t_mean = 1.0 / (rate * chunk_steps + (1.0 - rho) / t_d)
        return rho, s, own, t_c, t_mean, t_d

    def fixed_point(state_at, first, update):
        """Iterate b ← update(state_at(b)) from b = ``first`` to its fixed point: (b, state), or None where a
        state does not exist."""
        b, state = first, state_at(first)
        for _ in range(_FIXED_POINT_STEPS):
            if state is None:
                return None
            b_next = update(state)
            state = state_at(b_next)
            done = abs(b_next - b) <= 1e-9 * max(b, 1.0)
            b = b_next
            if done:
                break
        return None if state is None else (b, state)

    mean = fixed_point(at, 0.0, lambda st: rate * steps * st[4])        # B = λ (o − 1) t̄
    if mean is None:
        return None
    b, (rho, s, own, t_c, t_mean, t_d) = mean
    busy = fixed_point(costs, b, lambda c: rate * steps * c[2])       # B_w = λ (o − 1) t_c(B_w)
    if busy is None:
        return None
    b_w, (own_w, packed_w, _, _, _) = busy
    rho_w = rate * packed_w
    if rho_w >= 1.0:
        return None
    return b, rho, s, own, t_c, t_mean, new, t_d, b_w, own_w, packed_w, rho_w


def aggregated_state(dep: Deployment, rate: float, *, prompt_tokens, cached_tokens, reply_tokens, chunk_tokens,
                     max_batch, q, cv2: float) -> AggregatedState:
    """The replica's steps, batch, TTFT and TPOT at ``rate`` requests/s (module docstring).

    Steps carry the B decoding sequences and, while prompts wait, up to room = chunk − B prompt tokens. A prompt
    of ``new`` computed tokens takes ⌊new/room⌋ full chunk steps and a partial one (:func:`prompt_chunks`):
    ``own`` seconds of steps when served alone (the floor), or its tokens at the full steps' rate when the next
    prompt fills its last step; the queue's mean service S is the mix of the two
    (:func:`shared_service_s`), and the steps carry chunks ρ = λ·S of the time. A prompt's chunk steps number
    (1 − ρ)·⌈new/room⌉ + ρ·new/room, the decode-only ones (of ``t_d``) fill the rest: the mean step is
    t̄ = 1 / (λ·chunk steps + (1 − ρ)/t_d) and B = λ (o − 1) t̄ (a fixed point, iterated). The j-th chunk's
    attention runs over the cached tokens and the j − 1 chunks before it.

    TTFT at quantile q. The replica serves its prefilling prompts first come, first served. While prompts queue,
    every step is a chunk step, so the batch then is B_w = λ (o − 1) t_c(B_w) (a fixed point from B; t_c a full
    chunk step), above the mean B, and a queued prompt costs its packed steps S_w at B_w: the tail of the wait
    is that of an M/D/1 FIFO queue of service S_w at ρ_w = λ·S_w (:func:`aggregated_wait_quantile`; ``cv2`` > 0
    takes the M/G/1 exponential tail instead). A prompt that finds the queue empty waits for the rest of the
    decode-only step in progress (of t_d, uniform; a step runs when a sequence decodes, with probability
    1 − e^(−B), the batch being Poisson: M/G/∞), independent of the queue's wait (:func:`residual_wait_cdf`).
    TTFT_q = own steps at B_w + the q-quantile of the wait plus that rest. Nothing in it is fitted; against the
    simulator see ``data/plan/aggregated_ttft_check.csv``.

    TPOT of a request is the mean of its o − 1 steps; requests decoding through a prefill busy period see more
    chunk steps than the mean, so at quantile q it is t̄ + c·ρ/(1 − ρ)·(t_c − t̄), at most t_c, with
    c = ``plan_chunk_tpot_factor`` (fitted against the simulator at q = 0.95, scaled by z_q / z_0.95).
    """
    core = _aggregated_core(dep, rate, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                            reply_tokens=reply_tokens, chunk_tokens=chunk_tokens, max_batch=max_batch)
    if core is None:
        return AggregatedState(False, math.nan, math.nan, math.nan, math.inf, math.inf)
    b, rho, s, own, t_c, t_mean, new, t_d, b_w, own_w, s_w, rho_w = core
    running = _running(b)
    ttft = own_w + residual_wait_quantile(q, service_s=s_w, rho=rho_w, cv2=cv2, step_s=t_d, running=running)
    return AggregatedState(True, t_mean, b, rate * new * t_mean, ttft, _aggregated_tpot(t_mean, t_c, rho, q),
                           rho, s, own, b_w, s_w, rho_w, own_w, t_d, running)


def _running(batch: float) -> float:
    """P(at least one sequence decodes) when the decoding sequences are Poisson of mean ``batch``: 1 − e^(−B)."""
    return -math.expm1(-batch)


def _aggregated_tpot(t_mean: float, t_c: float, rho: float, q: float) -> float:
    """P95 TPOT of :func:`aggregated_state` from its mean step, full chunk step and ρ."""
    factor = default("plan_chunk_tpot_factor") * normal_quantile(q) / normal_quantile(_FITTED_QUANTILE)
    return min(t_c, t_mean + factor * rho / (1.0 - rho) * (t_c - t_mean))


def aggregated_capacity(dep: Deployment, *, prompt_tokens, cached_tokens, reply_tokens, chunk_tokens,
                        max_batch) -> float:
    """Highest request rate (per s) at which a chunked-prefill replica's steady state exists: its prompt queue
    saturates (ρ → 1) or its batch outgrows the KV or the chunk just above it (:func:`aggregated_state`; to the rate
    searches' precision, ``tiering_slo_rel_tol`` ÷ 10); 0 when no rate has one (the idle replica's batch does not fit)."""
    kw = dict(prompt_tokens=prompt_tokens, cached_tokens=cached_tokens, reply_tokens=reply_tokens,
              chunk_tokens=chunk_tokens, max_batch=max_batch)
    ok = lambda r: _aggregated_core(dep, r, **kw) is not None  # noqa: E731
    low = 1e-6
    if not ok(low):
        return 0.0
    high = low
    while ok(high):
        high *= 2.0
    return bisect_boundary(ok, high / 2.0, high, rel_tol=default(_REL_TOL_PARAMETER) / 10, spacing="log")


def aggregated_floor(dep: Deployment, *, prompt_tokens, cached_tokens, reply_tokens, chunk_tokens, max_batch, q):
    """(P95 TTFT, P95 TPOT) of an idle replica (no request but the one measured): the zero-load floor."""
    s = aggregated_state(dep, 0.0, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                         reply_tokens=reply_tokens, chunk_tokens=chunk_tokens, max_batch=max_batch, q=q, cv2=0.0)
    return s.ttft_p95_s, s.tpot_p95_s


def aggregated_pool(dep: Deployment, demand: float, *, prompt_tokens, cached_tokens, reply_tokens, ttft_s, tpot_s,
                    chunk_tokens, max_batch, q, cv2: float) -> Pool | None:
    """The aggregated pool of TP ``dep.n_gpus`` at both targets, or None when an idle replica misses one. A rate
    meets the TTFT target when the prompt's own steps plus its wait at quantile q are within it
    (P(W + R ≤ target − own) ≥ q, :func:`residual_wait_cdf`: one evaluation, where the quantile takes a
    bisection; :func:`aggregated_state`)."""
    kw = dict(prompt_tokens=prompt_tokens, cached_tokens=cached_tokens, reply_tokens=reply_tokens,
              chunk_tokens=chunk_tokens, max_batch=max_batch)

    def meets(r):
        core = _aggregated_core(dep, r, **kw)
        if core is None:
            return False
        b, rho, s, own, t_c, t_mean, new, t_d, b_w, own_w, s_w, rho_w = core
        if own_w > ttft_s or _aggregated_tpot(t_mean, t_c, rho, q) > tpot_s:
            return False
        return residual_wait_cdf(ttft_s - own_w, service_s=s_w, rho=rho_w, cv2=cv2, step_s=t_d,
                                 running=_running(b)) >= q

    low = 1e-6
    if not meets(low):
        return None
    high = low
    while meets(high):
        high *= 2.0
    rate = bisect_boundary(meets, high / 2.0, high, rel_tol=default(_REL_TOL_PARAMETER) / 10, spacing="log")
    s = aggregated_state(dep, rate, **kw, q=q, cv2=cv2)
    return _pool("aggregated", dep, demand, rate, s.ttft_p95_s, s.tpot_p95_s, s.batch)


# --- the comparison ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Serving:
    """Both ways of serving the demand and the one chosen."""

    aggregated: Pool | None
    prefill: Pool | None
    decode: Pool | None
    transfer_bytes: float
    transfer_s: float
    disaggregated: bool
    floors: dict

    @property
    def pools(self) -> list[Pool]:
        return [self.prefill, self.decode] if self.disaggregated else [self.aggregated]

    @property
    def gpus(self) -> int:
        return sum(p.gpus for p in self.pools)

    @property
    def disaggregated_gpus(self) -> float:
        return self.prefill.gpus + self.decode.gpus if self.prefill and self.decode else math.inf

    @property
    def aggregated_gpus(self) -> float:
        return self.aggregated.gpus if self.aggregated else math.inf


def best_pool(pools):
    """The pool of fewest GPUs among ``pools`` (None skipped; ties: fewer busy GPUs, then the smaller TP), or None."""
    pools = [p for p in pools if p is not None]
    return min(pools, key=lambda p: (p.gpus, p.busy_gpus, p.tp)) if pools else None


def size_serving(deps: list[Deployment], demand: float, *, prompt_tokens: int, cached_tokens: int,
                 reply_tokens: int, ttft_s: float, tpot_s: float, chunk_tokens: int, max_batch: int, q: float,
                 cv2: float, prefill_cv2: float, mode: str = "auto") -> Serving:
    """Size both ways of serving ``demand`` requests/s on the TP options ``deps`` and choose one.

    ``cv2`` and ``prefill_cv2``: squared coefficients of variation of a prompt's work on an aggregated replica
    (:func:`aggregated_wait_quantile`) and on a prefill one (:func:`wait_quantile`). Aggregated replicas are sized on the options without attention data
    parallelism; the prefill and decode pools on all of them. ``mode``: ``"auto"`` (the one with fewer GPUs; ties: aggregated),
    ``"aggregated"`` or ``"disaggregated"``.

    Raises
    ------
    ParameterError
        naming ``ttft_p95_s`` or ``tpot_p95_s`` when the target is below the zero-load floor of every option
        (the message gives the floor).
    """
    arch = deps[0].arch
    kv_dtype = deps[0].kv_dtype
    nbytes = kv_transfer_bytes(arch, prompt_tokens, kv_dtype)
    agg = best_pool(aggregated_pool(d, demand, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                                reply_tokens=reply_tokens, ttft_s=ttft_s, tpot_s=tpot_s, chunk_tokens=chunk_tokens,
                                max_batch=max_batch, q=q, cv2=cv2) for d in deps if d.attention_ranks == 1)
    dec = best_pool(decode_pool(d, demand, prompt_tokens=prompt_tokens, reply_tokens=reply_tokens, tpot_s=tpot_s,
                            max_batch=max_batch, q=q) for d in deps)
    dec_dep = pool_deployment(dec, deps) if dec else None
    xfer = lambda d: kv_transfer_s(arch, prompt_tokens, kv_dtype, d, dec_dep or d)  # noqa: E731
    pre = best_pool(prefill_pool(d, demand, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                             transfer_s=xfer(d), ttft_s=ttft_s, q=q, cv2=prefill_cv2)
               for d in deps)
    floors = zero_load_floors(deps, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                              reply_tokens=reply_tokens, chunk_tokens=chunk_tokens, max_batch=max_batch, q=q,
                              kv_dtype=kv_dtype)
    disagg_ok = pre is not None and dec is not None
    if agg is None and not disagg_ok:
        if floors["ttft_p95_s"] > ttft_s:
            raise ParameterError("ttft_p95_s", ttft_s, f">= {floors['ttft_p95_s']:.3g} s, the zero-load floor "
                                                       f"(an idle replica's prefill of the prompt)")
        if floors["tpot_p95_s"] > tpot_s:
            raise ParameterError("tpot_p95_s", tpot_s, f">= {floors['tpot_p95_s']:.3g} s, the zero-load floor "
                                                       f"(one sequence decoding alone)")
        raise ParameterError("ttft_p95_s", ttft_s, "a target some replica meets together with tpot_p95_s "
                                                   f"(floors: TTFT {floors['ttft_p95_s']:.3g} s, TPOT "
                                                   f"{floors['tpot_p95_s']:.3g} s)")
    if mode == "aggregated" and agg is None:
        raise ParameterError("disaggregation", mode, "auto or disaggregated: no aggregated replica meets the targets")
    if mode == "disaggregated" and not disagg_ok:
        raise ParameterError("disaggregation", mode, "auto or aggregated: no prefill/decode pools meet the targets")
    if mode == "auto":
        dis = disagg_ok and (agg is None or pre.gpus + dec.gpus < agg.gpus)
    else:
        dis = mode == "disaggregated"
    t_x = xfer(pool_deployment(pre, deps)) if disagg_ok else math.nan
    return Serving(agg, pre, dec, nbytes, t_x, dis, floors)


def zero_load_floors(deps, *, prompt_tokens, cached_tokens, reply_tokens, chunk_tokens, max_batch, q,
                     kv_dtype) -> dict:
    """Lowest P95 TTFT and TPOT any option reaches with no load: the idle replica's prefill (the aggregated
    one's chunks, or the prefill pool's whole prompt plus the KV transfer to a replica like it) and one sequence's
    decode step."""
    ttft, tpot = math.inf, math.inf
    ctx = decode_context(prompt_tokens, reply_tokens)
    for d in deps:
        a_ttft = aggregated_floor(d, prompt_tokens=prompt_tokens, cached_tokens=cached_tokens,
                                  reply_tokens=reply_tokens, chunk_tokens=chunk_tokens, max_batch=max_batch,
                                  q=q)[0] if d.attention_ranks == 1 else math.inf
        p_ttft = prefill_service_s(d, prompt_tokens, cached_tokens, prompts=1) \
            + kv_transfer_s(d.arch, prompt_tokens, kv_dtype, d, d)
        ttft = min(ttft, a_ttft, p_ttft)
        if decode_batch_limit(d, prompt_tokens, reply_tokens, max_batch) >= 1:
            tpot = min(tpot, float(d.decode_time(1, ctx)))
    return {"ttft_p95_s": ttft, "tpot_p95_s": tpot}


def e2e_splits(e2e_s: float, *, ttft_floor_s: float, tpot_floor_s: float, reply_tokens: int, points: int
               ) -> list[tuple[float, float]]:
    """(TTFT, TPOT) targets that together make an end-to-end target: TTFT + (o − 1) × TPOT = ``e2e_s``, the slack
    above the zero-load floor (TTFT floor + (o − 1) × TPOT floor) shared between the two at ``points`` evenly spaced
    splits (the ends, where one target sits on its floor, left out). A one-token reply has no TPOT: one split,
    the whole target for the first token.

    The reply's P95 is taken as the sum of the two P95s: exact when a busy replica delays both alike, above it
    when they vary apart.

    Raises
    ------
    ParameterError
        naming ``e2e_p95_s`` when the target is not above the floor (the message gives it).
    """
    steps = reply_tokens - 1
    floor = ttft_floor_s + steps * tpot_floor_s
    if not e2e_s > floor:
        raise ParameterError("e2e_p95_s", e2e_s, f"> {floor:.3g} s, the zero-load floor (an idle replica's first "
                                                 f"token {ttft_floor_s:.3g} s + {steps:,} × one sequence's decode "
                                                 f"step {tpot_floor_s:.3g} s)")
    if steps == 0:
        return [(e2e_s, e2e_s)]
    slack = e2e_s - floor
    out = []
    for k in range(1, points + 1):
        share = k / (points + 1)
        out.append((ttft_floor_s + share * slack, tpot_floor_s + (1.0 - share) * slack / steps))
    return out
