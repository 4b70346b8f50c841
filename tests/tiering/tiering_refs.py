"""Independent references and small traces shared by the tests of model.tiering (plain Python, no model code
besides the trace parser and the classes under test)."""
import json
from collections import OrderedDict

import numpy as np

from model.tiering import INFINITE_DISTANCE, Tier, TierConfig
from model.workload import Trace, parse_mooncake_lines


def one_tier(engine, capacity, **kw):
    return TierConfig(tiers=(Tier("hbm", capacity, 2e12, 2e12, 0.0),), engine=engine, **kw)


def random_trace(seed: int, n_requests: int = 300, n_ids: int = 60) -> Trace:
    """Requests whose prompts share prefixes: each picks a random family and extends it by a few blocks."""
    rng = np.random.default_rng(seed)
    lines, t = [], 0
    for _ in range(n_requests):
        t += int(rng.integers(0, 3000))
        fam = int(rng.integers(0, 8))
        n = int(rng.integers(1, 7))
        ids = [fam * 1000 + int(x) for x in np.sort(rng.choice(n_ids, size=n, replace=False))]
        ids[0] = fam * 1000  # family root first
        ids = list(dict.fromkeys(ids))
        lines.append(json.dumps({"timestamp": t, "input_length": 512 * len(ids) - int(rng.integers(0, 500)),
                                 "output_length": 10, "hash_ids": ids}))
    return parse_mooncake_lines(lines, source="random")


def reference_lru(trace: Trace, capacity: int) -> tuple[int, int]:
    """Plain LRU over blocks with prefix semantics: look the blocks up in order (stop at the first miss), then
    make all of them most recently used in order. Returns (hit blocks, looked-up blocks)."""
    cache, hits = OrderedDict(), 0
    for i in range(trace.n_requests):
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in cache:
                break
            hits += 1
        for b in blocks:
            cache.pop(b, None)
            cache[b] = True
            while len(cache) > capacity:
                cache.popitem(last=False)
    return hits, trace.n_blocks


def reference_ideal(trace: Trace) -> float:
    seen, hits = set(), 0
    for i in range(trace.n_requests):
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in seen:
                break
            hits += 1
        seen.update(blocks)
    return hits / trace.n_blocks


def reference_ttl(trace: Trace, ttl: float) -> float:
    """Infinite cache with a TTL: a block is alive at time t iff it was accessed within (t - ttl, t]."""
    last, hits = {}, 0
    for i in range(trace.n_requests):
        t = trace.arrival_s[i]
        blocks = trace.blocks_of(i).tolist()
        for b in blocks:
            if b not in last or t - last[b] >= ttl:
                break
            hits += 1
        for b in blocks:
            last[b] = t
    return hits / trace.n_blocks


def brute_stack_distances(seq):
    out = []
    for t, b in enumerate(seq):
        prev = max((q for q in range(t) if seq[q] == b), default=None)
        out.append(INFINITE_DISTANCE if prev is None else len(set(seq[prev + 1:t])))
    return np.array(out)


def write_jsonl(trace: Trace, path) -> None:
    """Write ``trace`` as a Mooncake-format JSONL file (timestamps in ms)."""
    path.write_text("".join(json.dumps({"timestamp": int(round(trace.arrival_s[i] * 1000)),
                                        "input_length": int(trace.input_tokens[i]), "output_length": 10,
                                        "hash_ids": trace.blocks_of(i).tolist()}) + "\n"
                            for i in range(trace.n_requests)))
