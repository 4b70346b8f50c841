"""Simulated requests per wall-clock second of the disaggregated prefill/decode simulator
(model/serving/disaggregated.py): 10,000 requests with Azure conversation lengths, Llama 2 70B on A100 80GB,
2 prefill and 2 decode replicas of 4 GPUs each joined by the NIC, at 80% of twice the saturation rate of one
aggregated replica (model.serving.saturation.continuous_saturation); best of three runs after a warm-up,
beside the aggregated simulator on the same arrivals on one replica (overloaded at that rate: its batches are
full, so it runs fewer, larger steps). Prints the figures; not a test."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.serving import Scheduler, simulate  # noqa: E402
from model.serving.disaggregated import Pools, simulate_disaggregated  # noqa: E402
from model.serving.kv_transfer import load_link  # noqa: E402
from model.serving.saturation import continuous_saturation  # noqa: E402
from model.serving.step_time import deployment  # noqa: E402
from model.workload.requests import azure_workload  # noqa: E402

N_REQUESTS = 10_000
REPLICAS = 2
LOAD = 0.8


def best_of_three(run) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(3):
        t0 = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> int:
    dep = deployment("llama-2-70b", "a100-80gb", 4)
    shape = azure_workload(N_REQUESTS, math.inf, seed=0, max_total_tokens=dep.arch.max_context_tokens)
    sat = continuous_saturation(dep, shape.prompt_tokens, shape.output_tokens, max_batch=256)
    rate = LOAD * REPLICAS * sat.requests_per_s
    work = azure_workload(N_REQUESTS, rate, seed=0, max_total_tokens=dep.arch.max_context_tokens)
    pools = Pools(dep, dep, REPLICAS, REPLICAS, load_link("nic", dep.gpu))
    simulate_disaggregated(pools, azure_workload(200, rate, seed=1))  # warm-up
    simulate(dep, azure_workload(200, rate, seed=1), Scheduler("continuous"))  # warm-up (loads the compiled kernel)
    t_dis, res = best_of_three(lambda: simulate_disaggregated(pools, work))
    print(f"disaggregated, {REPLICAS} prefill + {REPLICAS} decode replicas of 4 x A100, {rate:.2f} requests/s: "
          f"{N_REQUESTS:,} requests, {res.prefill_steps:,} prefill + {res.decode_steps:,} decode steps in "
          f"{t_dis:.3f} s -> {N_REQUESTS / t_dis:,.0f} simulated requests/s")
    t_agg, agg = best_of_three(lambda: simulate(dep, work, Scheduler("continuous")))
    print(f"aggregated (continuous, one replica: overloaded at this rate) on the same arrivals: {agg.steps:,} "
          f"steps in {t_agg:.3f} s -> "
          f"{N_REQUESTS / t_agg:,.0f} simulated requests/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
