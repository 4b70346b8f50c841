"""The per-step bookkeeping of the paged schedulers (``continuous`` and ``chunked_prefill`` of
:mod:`model.serving.simulation`), compiled (numba).

A step of those schedulers touches every running sequence: which ones decode, how many new KV blocks they
need, how the prompt chunks fill the token budget, the work of the step, and once it has run every
sequence's counters, the first-token and finish times and the slots freed. On the few dozen slots of a batch
each of these is a NumPy operation of about a microsecond, some twenty-five of them per step, which was most
of the simulator's time; here a step is two calls: :func:`plan_decode` (or :func:`plan_prefill`) before it,
:func:`advance` after it. The scheduling decisions between steps (admission, preemption) and the step's
duration (:class:`model.serving.step_time.Deployment`'s terms) stay in :func:`model.serving.simulation.simulate`.

State of the batch: arrays of ``max_batch`` slots (int64), ``rid`` (request id, -1 for a free slot),
``ctx`` (tokens whose KV is stored), ``rem`` (output tokens still to generate), ``todo`` (prompt tokens still
to compute); per request (arrays of the workload's length) ``generated`` (output tokens so far, int64) and
``first``, ``finish`` (first-token and finish times, s, NaN until set).

A step's participants are listed in ``order`` (slots, in the order they are processed) with ``work`` (tokens
each computes in the step, in the same positions). A decoding slot (``todo`` 0) computes one token; a
prefilling one computes ``work`` tokens of its prompt and emits its first output token when that ends the
prompt (``work`` > 0 and equal to ``todo``).

Work of a step, in integers (exact, as the float sums of integer values they replace):

* tokens: the sum of ``work``;
* attention pairs: w new tokens after ``ctx`` stored attend w·ctx + w(w + 1)/2 positions (causal); a
  decode token ctx + 1;
* sequences that emit a token: the decoding ones and those whose prompt ends in the step;
* KV tokens read: ctx + 1 per decoding slot, ctx per prefilling slot that computes a chunk in the step (a
  prefilling slot left without one reads nothing; the tokens written are added by the step time).

Compiled like :mod:`model.tiering.kernel`'s steps (``_nrt=False``: numba's reference counting off; the
functions take arrays and never allocate one) and cached on disk (``cache=True``); all of them live in this
file, so an edit here recompiles every one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: How the step functions are compiled (see the module's docstring).
_step = njit(cache=True, _nrt=False)


@_step
def _tally(ctx, todo, order, work, k):
    """Work of a step over ``order[:k]``: (tokens, attention pairs, sequences emitting a token, KV tokens
    read), integers."""
    tokens = 0
    pairs = 0
    seqs = 0
    kv_read = 0
    for i in range(k):
        s = order[i]
        w = work[i]
        c = ctx[s]
        if todo[s] == 0:                   # decoding: one token over c stored ones plus itself
            tokens += 1
            pairs += c + 1
            seqs += 1
            kv_read += c + 1
        else:                              # a chunk of w prompt tokens after c stored ones
            tokens += w
            pairs += w * c + w * (w + 1) // 2
            if w > 0:                      # a slot without a chunk in the step reads nothing
                kv_read += c
                if w == todo[s]:
                    seqs += 1
    return tokens, pairs, seqs, kv_read


@_step
def plan_prefill(ctx, todo, order, work, k):
    """Plan a prefill step of the ``k`` slots ``order[:k]`` (just admitted): each computes its whole prompt.

    Parameters
    ----------
    ctx, todo : numpy.ndarray of int64
        Tokens stored (the cached prefix) and prompt tokens to compute, per slot.
    order : numpy.ndarray of int64
        Slots of the step in ``order[:k]``.
    work : numpy.ndarray of int64
        On return ``work[:k]``: tokens each slot computes (its ``todo``).
    k : int
        Slots in the step.

    Returns
    -------
    (tokens, attention pairs, sequences emitting a token, KV tokens read) : tuple of int
    """
    for i in range(k):
        work[i] = todo[order[i]]
    return _tally(ctx, todo, order, work, k)


@_step
def plan_decode(rid, ctx, todo, chunked, budget, bs, order, work):
    """Plan a decode step: every running slot whose prompt is done decodes one token; with ``chunked``, the
    slots still prefilling get prompt chunks from the token budget left by the decodes, first come, first
    served: by ascending request id (``rid`` is the request's index in the arrival-sorted workload, and a
    preempted request is readmitted under its own id), as vLLM's scheduler serves its running prefills in the
    order it scheduled them. A freed slot taken by a later prompt does not put it ahead of an earlier one.

    The chunk of the i-th prefilling slot in that order is min(todo_i, max(room − Σ_{j<i} todo_j, 0)) with
    room = max(budget − decoding slots, 0): the earliest prompts are served, the last one of them partly.

    Parameters
    ----------
    rid, ctx, todo : numpy.ndarray of int64
        Request id (-1 free), tokens stored, prompt tokens to compute, per slot.
    chunked : bool
        Whether prefilling slots get chunks (``chunked_prefill``).
    budget : int
        Tokens of a step (decode and prefill tokens together).
    bs : int
        Tokens per KV block.
    order, work : numpy.ndarray of int64, length max_batch
        On return: the step's slots in ``order[:k]`` (decoding ones in slot order, then prefilling ones by
        ascending ``rid``, those without a chunk included with ``work`` 0) and the tokens each computes in
        ``work[:k]``.

    Returns
    -------
    (k, decoding slots, new KV blocks needed, tokens, attention pairs, sequences emitting a token, KV tokens
    read) : tuple of int
        A decoding slot appending token ctx + 1 needs a new block when ctx is a multiple of ``bs``.
    """
    nb = rid.size
    k = 0
    need = 0
    for s in range(nb):
        if rid[s] >= 0 and todo[s] == 0:
            order[k] = s
            work[k] = 1
            k += 1
            if ctx[s] % bs == 0:
                need += 1
    n_dec = k
    if chunked:
        for s in range(nb):                # prefilling slots after the decoding ones, insertion-sorted by rid
            if rid[s] >= 0 and todo[s] > 0:
                i = k
                while i > n_dec and rid[order[i - 1]] > rid[s]:
                    order[i] = order[i - 1]
                    i -= 1
                order[i] = s
                k += 1
        room = max(budget - n_dec, 0)
        before = 0                         # prompt tokens of the earlier prefilling requests
        for i in range(n_dec, k):
            s = order[i]
            work[i] = min(todo[s], max(room - before, 0))
            before += todo[s]
    tokens, pairs, seqs, kv_read = _tally(ctx, todo, order, work, k)
    return k, n_dec, need, tokens, pairs, seqs, kv_read


@_step
def advance(rid, ctx, rem, todo, generated, first, finish, order, work, k, now, bs, done):
    """Apply a step that ended at ``now`` to its slots ``order[:k]`` (tokens computed in ``work[:k]``), then
    free the slots of the sequences it finished.

    A decoding slot stores one more token and emits it; a prefilling one stores its ``work`` tokens and, if
    that ends its prompt (``work`` > 0), emits its first token (``first`` set if not set yet: a preempted
    request keeps its first one). A sequence with no output left is finished: ``finish`` set, its blocks
    (ceil(ctx / bs)) freed, its slot cleared (``rid`` -1, ``ctx`` 0).

    Parameters
    ----------
    rid, ctx, rem, todo : numpy.ndarray of int64
        Per-slot state (updated in place).
    generated : numpy.ndarray of int64
        Output tokens so far per request (updated).
    first, finish : numpy.ndarray of float
        First-token and finish time per request, s (updated).
    order, work : numpy.ndarray of int64
        The step's slots and their tokens, as :func:`plan_decode` or :func:`plan_prefill` left them.
    k : int
        Slots in the step.
    now : float
        End of the step, s.
    bs : int
        Tokens per KV block.
    done : numpy.ndarray of int64, length max_batch
        On return ``done[:n]`` holds the finished slots, in processing order.

    Returns
    -------
    (n finished, KV blocks freed, tokens stored by the running sequences after the step) : tuple of int
    """
    n = 0
    for i in range(k):
        s = order[i]
        r = rid[s]
        if todo[s] == 0:
            ctx[s] += 1
            emits = True
        else:
            w = work[i]
            ctx[s] += w
            todo[s] -= w
            emits = todo[s] == 0 and w > 0
            if emits and np.isnan(first[r]):
                first[r] = now
        if emits:
            generated[r] += 1
            rem[s] -= 1
            if rem[s] == 0:
                done[n] = s
                n += 1
    freed = 0
    for i in range(n):
        s = done[i]
        finish[rid[s]] = now
        freed += -(-ctx[s] // bs)
        rid[s] = -1
        ctx[s] = 0
    kv_used = 0
    for s in range(rid.size):
        if rid[s] >= 0:
            kv_used += ctx[s]
    return n, freed, kv_used
