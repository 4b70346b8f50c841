"""Configuration search on the Mooncake conversation trace: evaluations per second, wall time of the
exhaustive grid (540 configurations) on a local process pool vs the diminishing-returns search, and the
hypervolume of the exhaustive frontier the pruned search recovers.

Goals (issue "Kareto reproduced"): exhaustive grid < 2 min on 2 cores; pruned search >= 5x fewer
evaluations with >= 95% of the hypervolume.

usage: python benchmarks/bench_search.py [--workers N] [--slo SECONDS]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model import workload
from model.search import tier_search as kareto
from model.search import pareto  # noqa: E402
from model.search.evaluations import Sweep  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="processes of the local pool (default 2)")
    parser.add_argument("--slo", type=float, default=None,
                        help="P95 TTFT target, s (default kareto_slo_ttft_p95_s); a tight one makes configurations "
                             "infeasible")
    args = parser.parse_args(argv)

    setup = kareto.ServingSetup() if args.slo is None else kareto.ServingSetup(slo_ttft_p95_s=args.slo)
    start = time.perf_counter()
    trace = workload.load_mooncake_trace()
    evaluator = kareto.build_evaluator(trace, setup)
    setup_s = time.perf_counter() - start
    space = kareto.search_space(setup)

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with Sweep(evaluator, executor="process", workers=args.workers, progress=False,
                   results=Path(tmp) / "grid.jsonl") as sweep:
            exhaustive = sweep.run(space.grid())
        grid_s = time.perf_counter() - start

    start = time.perf_counter()
    with Sweep(evaluator, executor="serial", progress=False) as serial:
        found = pareto.diminishing_returns_search(space, serial.run, kareto.OBJECTIVES)
    pruned_s = time.perf_counter() - start
    ratio = pareto.hypervolume_ratio(found.results, exhaustive, kareto.OBJECTIVES)
    reduction = len(exhaustive) / found.evaluations

    print(f"trace: {trace.name}, {trace.n_requests} requests, {trace.n_blocks} block lookups")
    print(f"evaluator set-up (LRU stack distances, one pass): {setup_s:.2f} s")
    print(f"P95 TTFT target {setup.slo_ttft_p95_s:g} s: {int(exhaustive['feasible'].sum())} of {len(exhaustive)} "
          f"configurations feasible")
    print(f"exhaustive grid: {len(exhaustive)} configurations in {grid_s:.1f} s on {args.workers} processes "
          f"= {len(exhaustive) / grid_s:.0f} configurations/s (goal: < 120 s)")
    print(f"pruned search: {found.evaluations} configurations in {pruned_s:.1f} s (serial) = "
          f"{reduction:.1f}x fewer evaluations (goal: >= 5x)")
    print(f"hypervolume recovered by the pruned search: {100 * ratio:.1f}% (goal: >= 95%; NaN: nothing feasible)")
    ok = grid_s < 120 and reduction >= 5 and ratio >= 0.95
    print("goals met" if ok else "goals NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
