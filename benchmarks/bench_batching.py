"""Simulated requests per wall-clock second of the serving simulator (model.serving) on a 10,000-request
overload workload (Azure conversation lengths, Llama 2 70B on 4x A100): continuous batching at batch 64 and
256, chunked prefill at 64, static batching at 64, each the best of three runs after a warm-up (which also
compiles or loads the compiled per-step kernel, model.serving.kernel).
Goal: >= 10,000 simulated requests per second on one core at continuous batch 64. Prints the figures; not a
test."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.workload.requests import azure_workload  # noqa: E402
from model.serving import Scheduler, simulate  # noqa: E402
from model.serving.step_time import deployment  # noqa: E402

N_REQUESTS = 10_000
GOAL = 10_000


def main() -> int:
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    work = azure_workload(N_REQUESTS, math.inf, seed=0, max_total_tokens=dep.arch.max_context_tokens)
    simulate(dep, azure_workload(200, math.inf, seed=1), Scheduler("continuous", max_batch=64))  # warm-up
    for policy, batch in (("continuous", 64), ("continuous", 256), ("chunked_prefill", 64), ("static", 64)):
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            res = simulate(dep, work, Scheduler(policy, max_batch=batch))
            best = min(best, time.perf_counter() - t0)
        rate = N_REQUESTS / best
        goal = (policy, batch) == ("continuous", 64)
        flag = f" (goal >= {GOAL:,}: {'met' if rate >= GOAL else 'NOT met'})" if goal else ""
        print(f"{policy:>16} batch {batch:>3}: {N_REQUESTS:,} requests, {res.steps:,} GPU steps in {best:.3f} s "
              f"-> {rate:,.0f} simulated requests/s{flag}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
