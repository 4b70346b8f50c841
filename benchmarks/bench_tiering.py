"""Speed of the KV tiering simulator (the package model/tiering/) on the whole Mooncake conversation trace (12,031 requests, 288,500 block
lookups). Goals: one 3-tier replay in under 1 s (block lookups per second printed); a sweep of 100 LRU
capacities in under 10 s (one stack-distance pass gives every capacity)."""
import time

import numpy as np

from model.tiering import default_config, lru_hit_ratio_curve, replay, simulate, stack_distances
from model.workload import load_mooncake_trace


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    trace = load_mooncake_trace()
    cfg = default_config(n_instances=8)
    print(f"trace: {trace.n_requests} requests, {trace.n_blocks} block lookups; tiers {dict(zip(cfg.tier_names, cfg.capacities))}")
    t_replay = best_of(lambda: replay(trace, cfg))
    print(f"3-tier replay (LRU, no TTL): {t_replay:.3f} s = {trace.n_blocks / t_replay:,.0f} block lookups/s (goal < 1 s)")
    ttl_cfg = cfg.with_ttl(600.0)
    t_ttl = best_of(lambda: replay(trace, ttl_cfg))
    print(f"3-tier replay (LRU, TTL 600 s): {t_ttl:.3f} s = {trace.n_blocks / t_ttl:,.0f} block lookups/s")
    t_sim = best_of(lambda: simulate(trace, cfg))
    print(f"3-tier simulate (replay + timing + cost): {t_sim:.3f} s")
    capacities = np.unique(np.geomspace(1, 250_000, 100).astype(int))
    capacities = np.concatenate([capacities, np.arange(100 - len(capacities)) * 997 + 3])[:100]

    def sweep():
        d = stack_distances(trace)
        return lru_hit_ratio_curve(trace, capacities, distances=d)

    t_sweep = best_of(sweep)
    print(f"sweep of {len(capacities)} LRU capacities (one stack-distance pass): {t_sweep:.3f} s (goal < 10 s)")


if __name__ == "__main__":
    main()
