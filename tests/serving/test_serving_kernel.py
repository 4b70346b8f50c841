"""model.serving.kernel (compiled per-step bookkeeping of the paged schedulers) against the same step written
with NumPy array operations on random batch states, and against steps worked out by hand. Exact equality:
every quantity is an integer (or a time copied, not computed)."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from model.serving.kernel import advance, plan_decode, plan_prefill


def _random_state(rng, slots, chunked):
    """A batch of ``slots`` slots, some free, some decoding, (chunked) some prefilling, over 3 × slots requests."""
    n_req = 3 * slots
    rid = np.full(slots, -1, np.int64)
    live = rng.random(slots) < 0.8
    rid[live] = rng.choice(n_req, size=int(live.sum()), replace=False)
    ctx = np.where(live, rng.integers(0, 200, slots), 0).astype(np.int64)
    ctx[live & (rng.random(slots) < 0.2)] = 16 * rng.integers(0, 5)       # block boundaries
    todo = np.zeros(slots, np.int64)
    if chunked:
        pre = live & (rng.random(slots) < 0.4)
        todo[pre] = rng.integers(1, 300, int(pre.sum()))
    rem = np.where(live, rng.integers(1, 4, slots), 0).astype(np.int64)
    generated = rng.integers(0, 50, n_req).astype(np.int64)
    first = np.where(rng.random(n_req) < 0.5, rng.random(n_req), np.nan)
    finish = np.full(n_req, np.nan)
    return rid, ctx, rem, todo, generated, first, finish


def _numpy_plan_decode(rid, ctx, todo, chunked, budget, bs):
    active = np.flatnonzero(rid >= 0)
    dec = active[todo[active] == 0]
    need = int(np.count_nonzero(ctx[dec] % bs == 0))
    chunk_slots = active[todo[active] > 0] if chunked else np.empty(0, np.int64)
    chunk_slots = chunk_slots[np.argsort(rid[chunk_slots], kind="stable")]     # first come, first served
    room = max(budget - dec.size, 0)
    chunk = np.minimum(todo[chunk_slots], np.maximum(room - np.concatenate(
        ([0], np.cumsum(todo[chunk_slots])[:-1])), 0)).astype(np.int64)
    past = ctx[chunk_slots].astype(float)
    s_ctx = float(ctx[dec].sum()) + dec.size
    tokens = dec.size + float(chunk.sum())
    pairs = s_ctx + float((chunk * past + chunk * (chunk + 1) / 2).sum())
    seqs = dec.size + int(np.count_nonzero((chunk > 0) & (chunk == todo[chunk_slots])))
    kv_read = s_ctx + float(past[chunk > 0].sum())                            # no chunk, no read
    return np.concatenate([dec, chunk_slots]), np.concatenate([np.ones(dec.size, np.int64), chunk]), \
        dec.size, need, tokens, pairs, seqs, kv_read


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_plan_decode_is_the_numpy_step(seed, chunked):
    rng = np.random.default_rng(seed)
    slots = int(rng.integers(1, 70))
    rid, ctx, rem, todo, *_ = _random_state(rng, slots, chunked)
    budget, bs = int(rng.integers(0, 700)), int(rng.choice([1, 16, 32]))
    order, work = np.zeros(slots, np.int64), np.zeros(slots, np.int64)
    k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, chunked, budget, bs, order, work)
    want = _numpy_plan_decode(rid, ctx, todo, chunked, budget, bs)
    assert_array_equal(order[:k], want[0])
    assert_array_equal(work[:k], want[1])
    assert (n_dec, need, seqs) == want[2:4] + (want[6],)
    assert (float(tokens), float(pairs), float(kv_read)) == (want[4], want[5], want[7])


@pytest.mark.parametrize("seed", range(20))
def test_plan_prefill_is_the_numpy_step(seed):
    rng = np.random.default_rng(seed)
    slots = int(rng.integers(1, 70))
    ctx = rng.integers(0, 3000, slots).astype(np.int64)
    todo = rng.integers(1, 3000, slots).astype(np.int64)
    k = int(rng.integers(1, slots + 1))
    order = rng.permutation(slots).astype(np.int64)
    work = np.zeros(slots, np.int64)
    tokens, pairs, seqs, kv_read = plan_prefill(ctx, todo, order, work, k)
    idx = order[:k]
    lens, past = todo[idx].astype(float), ctx[idx].astype(float)
    assert_array_equal(work[:k], todo[idx])
    assert float(tokens) == lens.sum() and seqs == k and float(kv_read) == float(past.sum())
    assert float(pairs) == float((lens * past + lens * (lens + 1) / 2).sum())


def _numpy_advance(rid, ctx, rem, todo, generated, first, finish, slots, work, now, bs):
    """The step's updates as array operations (decoding slots first, then prompt chunks; in place)."""
    is_dec = todo[slots] == 0
    dec, chunk_slots, chunk = slots[is_dec], slots[~is_dec], work[~is_dec]
    ctx[dec] += 1
    rem[dec] -= 1
    generated[rid[dec]] += 1
    finished = [dec[rem[dec] == 0]]
    ctx[chunk_slots] += chunk
    todo[chunk_slots] -= chunk
    completed = chunk_slots[(todo[chunk_slots] == 0) & (chunk > 0)]
    rc = rid[completed]
    first[rc[np.isnan(first[rc])]] = now
    generated[rc] += 1
    rem[completed] -= 1
    finished.append(completed[rem[completed] == 0])
    done = np.concatenate(finished)
    finish[rid[done]] = now
    freed = int((-(-ctx[done] // bs)).sum())
    rid[done] = -1
    ctx[done] = 0
    return done, freed, int(ctx[rid >= 0].sum())


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("seed", range(40))
def test_advance_is_the_numpy_step(seed, chunked):
    rng = np.random.default_rng(100 + seed)
    slots = int(rng.integers(1, 70))
    state = _random_state(rng, slots, chunked)
    budget, bs = int(rng.integers(0, 700)), int(rng.choice([1, 16, 32]))
    order, work = np.zeros(slots, np.int64), np.zeros(slots, np.int64)
    k = plan_decode(state[0], state[1], state[3], chunked, budget, bs, order, work)[0]
    now = float(rng.random() * 100)
    mine = [a.copy() for a in state]
    theirs = [a.copy() for a in state]
    done = np.zeros(slots, np.int64)
    n, freed, kv_used = advance(*mine, order, work, k, now, bs, done)
    want_done, want_freed, want_kv = _numpy_advance(*theirs, order[:k].copy(), work[:k].copy(), now, bs)
    assert_array_equal(done[:n], want_done)
    assert (freed, kv_used) == (want_freed, want_kv)
    for a, b in zip(mine, theirs):
        assert_array_equal(a, b)


def test_a_step_by_hand():
    # slots: 0 free; 1 decoding (request 4, ctx 32, last output token); 2 prefilling request 7 (ctx 10 cached,
    # 50 prompt tokens to go); 3 decoding (request 2, ctx 5, 3 tokens to go); blocks of 16, budget 42 tokens
    rid = np.array([-1, 4, 7, 2], np.int64)
    ctx = np.array([0, 32, 10, 5], np.int64)
    rem = np.array([0, 1, 4, 3], np.int64)
    todo = np.array([0, 0, 50, 0], np.int64)
    order, work = np.zeros(4, np.int64), np.zeros(4, np.int64)
    k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, True, 42, 16, order, work)
    # decodes of slots 1 and 3 (slot 1 at ctx 32 starts a block), then a chunk of 42 - 2 = 40 tokens of slot 2
    assert (k, n_dec, need) == (3, 2, 1)
    assert order[:3].tolist() == [1, 3, 2] and work[:3].tolist() == [1, 1, 40]
    assert tokens == 42 and seqs == 2                      # the chunk does not end the prompt
    assert pairs == 33 + 6 + 40 * 10 + 40 * 41 // 2       # (ctx + 1) per decode, 40·10 + 40·41/2 for the chunk
    assert kv_read == 33 + 6 + 10
    generated = np.zeros(8, np.int64)
    first, finish = np.full(8, np.nan), np.full(8, np.nan)
    done = np.zeros(4, np.int64)
    assert advance(rid, ctx, rem, todo, generated, first, finish, order, work, k, 2.5, 16, done) == (1, 3, 56)
    # request 4 finished at 33 tokens (3 blocks freed); 6 + 50 tokens stay stored; request 7 emitted nothing
    assert done[0] == 1 and finish[4] == 2.5 and np.isnan(finish).sum() == 7 and np.isnan(first).all()
    assert rid.tolist() == [-1, -1, 7, 2] and ctx.tolist() == [0, 0, 50, 6] and todo.tolist() == [0, 0, 10, 0]
    assert rem.tolist() == [0, 0, 4, 2] and generated[[4, 2, 7]].tolist() == [1, 1, 0]
    # next step: the last 10 prompt tokens of request 7 end its prompt: it emits its first token
    k = plan_decode(rid, ctx, todo, True, 42, 16, order, work)[0]
    assert order[:k].tolist() == [3, 2] and work[:k].tolist() == [1, 10]
    assert advance(rid, ctx, rem, todo, generated, first, finish, order, work, k, 3.0, 16, done) == (0, 0, 67)
    assert first[7] == 3.0 and rem[2] == 3 and generated[7] == 1


def test_the_earlier_request_gets_the_chunk_whatever_its_slot():
    # slot 0 prefills request 9 (ctx 0, 300 prompt tokens), slot 1 decodes request 3 (ctx 20), slot 2 prefills
    # request 5 (ctx 0, 300 prompt tokens): request 5 arrived before request 9 but sits in a higher slot.
    # Budget 301: one decode token and room for 300 prompt tokens, request 5's whole prompt and nothing of 9's.
    rid = np.array([9, 3, 5], np.int64)
    ctx = np.array([0, 20, 0], np.int64)
    todo = np.array([300, 0, 300], np.int64)
    order, work = np.zeros(3, np.int64), np.zeros(3, np.int64)
    k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, True, 301, 16, order, work)
    assert (k, n_dec, need) == (3, 1, 0)
    assert order[:3].tolist() == [1, 2, 0] and work[:3].tolist() == [1, 300, 0]
    assert tokens == 1 + 300 and seqs == 2                 # request 5's prompt ends: it emits its first token
    assert pairs == 21 + 300 * 301 // 2
    assert kv_read == 21


def test_a_prefilling_slot_without_a_chunk_reads_no_kv():
    # slot 0 prefills request 1 (64 tokens stored, 100 to go), slot 1 prefills request 2 (200 stored, 50 to go),
    # slot 2 decodes request 0 (ctx 31). Budget 41: one decode token, a 40-token chunk of request 1, none of 2.
    rid = np.array([1, 2, 0], np.int64)
    ctx = np.array([64, 200, 31], np.int64)
    todo = np.array([100, 50, 0], np.int64)
    order, work = np.zeros(3, np.int64), np.zeros(3, np.int64)
    k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, True, 41, 16, order, work)
    assert order[:3].tolist() == [2, 0, 1] and work[:3].tolist() == [1, 40, 0]
    assert (k, n_dec, need) == (3, 1, 0)                   # ctx 31 is not a block boundary
    assert tokens == 41 and seqs == 1
    assert pairs == 32 + 40 * 64 + 40 * 41 // 2            # 32 + 2,560 + 820 = 3,412
    assert kv_read == 32 + 64                              # request 2's 200 stored tokens are not read
    # the same step with request 2 alone prefilling and no room: it computes nothing and reads nothing
    todo = np.array([0, 50, 0], np.int64)
    rid = np.array([-1, 2, 0], np.int64)
    k, n_dec, need, tokens, pairs, seqs, kv_read = plan_decode(rid, ctx, todo, True, 1, 16, order, work)
    assert order[:2].tolist() == [2, 1] and work[:2].tolist() == [1, 0]
    assert (tokens, pairs, seqs, kv_read) == (1, 32, 1, 32)
