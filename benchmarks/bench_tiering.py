"""Speed of the KV tiering simulator (the package model/tiering/) on the whole Mooncake conversation trace (12,031 requests, 288,500 block
lookups). Goals: the compiled replay kernel at >= 10M block lookups per second on one core, printed beside
the plain-Python reference loop on the same trace in the same run (their ratio); a sweep of 100 LRU
capacities in under 10 s (one stack-distance pass gives every capacity); peak memory of a streamed replay of
100K concurrent character-chat sessions bounded by the caches (model.tiering.stream), not by the trace.

Rates are printed per second of wall time and per second of this process's CPU time (``time.process_time``):
on a machine shared with other jobs the CPU-time rate is what one core does."""
import os
import resource
import sys
import time

import numpy as np

from model.tiering import default_config, lru_hit_ratio_curve, replay, replay_reference, simulate, stack_distances
from model.workload import load_mooncake_trace


def best_of(fn, repeat: int = 3, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return min(times)


def streamed_chat_rss(sessions: float) -> None:
    """Replay ``sessions`` concurrent chat sessions on one node's caches, streamed; print lookups, rates, hit
    ratio and this process's peak RSS."""
    from model.tiering.stream import StreamReplay
    from model.workload import CharacterChatParams
    from model.workload.chat import iter_character_chat_windows

    cfg = default_config(n_instances=1)
    sr, t_gen, t_rep = None, 0.0, 0.0
    t0 = time.process_time()
    for chunk in iter_character_chat_windows(CharacterChatParams(concurrent_sessions=sessions), seed=0):
        t1 = time.process_time()
        t_gen += t1 - t0
        sr = sr or StreamReplay(cfg, chunk.group_names)
        sr.feed(chunk)
        t0 = time.process_time()
        t_rep += t0 - t1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(f"streamed replay of {sessions:,.0f} concurrent chat sessions on one node's caches "
          f"{dict(zip(cfg.tier_names, cfg.capacities))}: {sr.lookups:,} block lookups, hit ratio "
          f"{sr.hits_by_tier.sum() / sr.lookups:.4f}; generation {t_gen:.0f} s CPU, replay {t_rep:.0f} s CPU = "
          f"{sr.lookups / t_rep / 1e6:.1f}M lookups/s; replay state {sr.state_bytes() / 1e6:.1f} MB; "
          f"peak RSS {peak:.2f} GB (the whole trace would hold {sr.lookups * 12 / 1e9:,.1f} GB of block ids "
          f"and groups alone)")


def main() -> None:
    trace = load_mooncake_trace()
    cfg = default_config(n_instances=8)
    print(f"trace: {trace.n_requests} requests, {trace.n_blocks} block lookups; tiers {dict(zip(cfg.tier_names, cfg.capacities))}")
    replay(trace, cfg)  # compile (cached on disk after the first run)
    ttl_cfg = cfg.with_ttl(600.0)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for label, c in (("LRU, no TTL", cfg), ("LRU, TTL 600 s", ttl_cfg)):
        t_kernel = best_of(lambda: replay(trace, c), repeat=7)
        c_kernel = best_of(lambda: replay(trace, c), repeat=7, clock=time.process_time)
        t_ref = best_of(lambda: replay_reference(trace, c), repeat=2)
        c_ref = best_of(lambda: replay_reference(trace, c), repeat=2, clock=time.process_time)
        n = trace.n_blocks
        print(f"3-tier replay ({label}): replay() on the compiled kernel {t_kernel:.4f} s wall = "
              f"{n / t_kernel / 1e6:,.1f}M block lookups/s, {n / c_kernel / 1e6:,.1f}M/s of CPU time (goal >= 10M on "
              f"one core, with and without a TTL); Python reference "
              f"{t_ref:.3f} s = {n / t_ref / 1e6:,.2f}M/s wall, {n / c_ref / 1e6:,.2f}M/s CPU; "
              f"kernel / reference = {c_ref / c_kernel:,.0f}x")
    t_sim = best_of(lambda: simulate(trace, cfg))
    print(f"3-tier simulate (replay + timing + cost): {t_sim:.3f} s")
    capacities = np.unique(np.geomspace(1, 250_000, 100).astype(int))
    capacities = np.concatenate([capacities, np.arange(100 - len(capacities)) * 997 + 3])[:100]

    def sweep():
        d = stack_distances(trace)
        return lru_hit_ratio_curve(trace, capacities, distances=d)

    t_sweep = best_of(sweep)
    print(f"sweep of {len(capacities)} LRU capacities (one stack-distance pass): {t_sweep:.3f} s (goal < 10 s)")
    streamed_chat_rss(float(sys.argv[1]) if len(sys.argv) > 1 else 100_000)


if __name__ == "__main__":
    main()
