"""The fleet at the case study's scale, end to end: the character-chat workload of 1M concurrent sessions
(case study T1's last step) streamed through a fleet of one node per ``fleet_sessions_per_node`` sessions,
under every routing policy, with k of N nodes simulated (``fleet_sample_nodes``; under ``global``, k pools of
``fleet_pool_nodes`` nodes). Prints the wall time (goal: < 30 minutes on 2 cores), the peak resident memory
of this process and of its workers, and the hit ratios with their 95% intervals.

With ``--check 100000`` it also simulates that scale in full and sampled, per policy, and prints the
comparison and the time it took (the fleet-cache chapter shows this comparison at 100K sessions from the
record ``data/records/fleet_scale_check``, which ``make record NAME=fleet_scale_check`` recomputes).

Usage::

    python benchmarks/bench_fleet_scale.py [--sessions 1000000] [--workers 2] [--check 100000]
"""
import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.parameters import default  # noqa: E402
from model.tiering import ROUTES, default_config  # noqa: E402
from model.book.records import SPECS  # noqa: E402
from model.tiering.chat_fleet import fleet_nodes, scale_check_table  # noqa: E402
from model.tiering.streamed_fleet import simulate_chat_fleets  # noqa: E402
from model.workload import CharacterChatParams  # noqa: E402


def cpu_s() -> float:
    """CPU seconds of this process and its finished workers so far."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_gb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
    return own, kids


def run(sessions: float, workers: int, sample: int | None, routes=ROUTES, pool_nodes=None):
    n, pool = fleet_nodes(int(sessions), int(default("fleet_sessions_per_node")),
                          pool_nodes or int(default("fleet_pool_nodes")))
    t0 = time.perf_counter()
    res = simulate_chat_fleets(CharacterChatParams(concurrent_sessions=sessions), default_config(n_instances=1), n,
                               routes, sample_nodes=sample, workers=workers, pool_nodes=pool if pool_nodes else None,
                               prefix_blocks=int(default("fleet_prefix_route_blocks")))
    return n, time.perf_counter() - t0, {r: x.summary() for r, x in res.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=float, default=1_000_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--check", type=float, default=None, help="also compare full and sampled at this scale")
    a = p.parse_args()
    k = int(default("fleet_sample_nodes"))
    pool = int(default("fleet_pool_nodes"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    c0 = cpu_s()
    n, wall, res = run(a.sessions, a.workers, k, pool_nodes=pool)
    cpu = cpu_s() - c0
    own, kids = peak_rss_gb()
    print(f"{a.sessions:,.0f} concurrent sessions on {n:,} nodes, {k} nodes (global: {k} pools of {pool} nodes) "
          f"simulated per policy, one pass per worker ({a.workers} workers): {wall / 60:.1f} min wall "
          f"(goal < 30 min), {cpu / 60:.1f} min of CPU in all ({cpu / a.workers / 60:.1f} min per core, the wall "
          f"time on {a.workers} idle cores); peak RSS {own:.2f} GB here, {kids:.2f} GB in the largest worker", flush=True)
    for r, s in res.items():
        print(f"  {r:12s} hit ratio {s['hit_ratio']:.4f} [{s['hit_ratio_low']:.4f}, {s['hit_ratio_high']:.4f}]  "
              f"prefill tokens saved {s['prefill_tokens_saved_share']:.4f}  requests {s['requests']:,}", flush=True)
    if a.check:
        t0 = time.perf_counter()
        kwargs = SPECS["fleet_scale_check"].kwargs() | {"sessions": int(a.check), "workers": a.workers}
        check = scale_check_table(**kwargs)["check"]         # the record's computation, at --check sessions
        for row in check.itertuples():
            print(f"  check {row.route:12s} full {row.full_hit_ratio:.4f}  sampled {row.sampled_hit_ratio:.4f} "
                  f"[{row.sampled_low:.4f}, {row.sampled_high:.4f}]  covered: {row.covered}", flush=True)
        print(f"  check: {time.perf_counter() - t0:.0f} s for {len(ROUTES)} policies, full and sampled", flush=True)
