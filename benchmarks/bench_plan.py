"""Wall-clock time of ``python -m model.plan --sessions 1000000 --json`` (the case study's 1M-session plan): the
whole command in a fresh interpreter (imports included), best of three, and the plan's own parts in this process
(the trace's stack-distance analysis, the serving pools, the step-time model's validated error), the
command with ``--simulate`` once, and an MoE plan whose replicas may span nodes (DeepSeek-V3 in FP8 on H800s,
expert-parallel replicas of 1 to ``plan_max_nodes_per_replica`` nodes searched) once.
Goal: under 10 s on 2 cores (issue 20). Prints the figures; not a test."""
from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOAL_S = 10.0
COMMAND = [sys.executable, "-m", "model.plan", "--sessions", "1000000", "--json"]


def main() -> int:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        done = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True)
        best = min(best, time.perf_counter() - t0)
        if done.returncode != 0:
            print(done.stderr.strip())
            return done.returncode
    print(f"python -m model.plan --sessions 1000000 --json: {best:.2f} s, best of 3 "
          f"(goal < {GOAL_S:g} s: {'met' if best < GOAL_S else 'NOT met'})")
    t0 = time.perf_counter()
    subprocess.run(COMMAND + ["--simulate"], cwd=ROOT, env=env, capture_output=True, check=True)
    print(f"  with --simulate (the aggregated replica and the disaggregated pools simulated): "
          f"{time.perf_counter() - t0:.2f} s, one run")
    moe = [sys.executable, "-m", "model.plan", "--sessions", "1000000", "--model", "deepseek-v3", "--gpu", "h800-80gb",
           "--weight-dtype", "fp8", "--kv-dtype", "bf16", "--gpu-usd-per-hour", "2", "--json"]
    t0 = time.perf_counter()
    subprocess.run(moe, cwd=ROOT, env=env, capture_output=True, check=True)
    print(f"  DeepSeek-V3 FP8 on H800 (replicas spanning nodes searched): {time.perf_counter() - t0:.2f} s, one run")

    from model.hardware import load_gpu
    from model.plan.cache import cache_profile
    from model.plan.compose import validated_errors
    from model.plan.inputs import PlanInputs
    from model.plan.serving import deployments, size_serving

    i = PlanInputs()
    parts = {}
    t0 = time.perf_counter()
    profile = cache_profile(i.turns_per_session, i.session_minutes, i.cache_hit_share, i.shared_prefix)
    parts["cache: generated trace + stack distances + TTL curves"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    deps = deployments(i.architecture(), load_gpu(i.gpu), i.node_gpus, i.weight_dtype, i.kv_dtype)
    size_serving(deps, i.demand_requests_per_s, prompt_tokens=i.prompt_tokens,
                 cached_tokens=round(profile.token_hit_ratio * i.prompt_tokens), reply_tokens=i.reply_tokens,
                 ttft_s=i.ttft_p95_s, tpot_s=i.tpot_p95_s, chunk_tokens=i.chunk_tokens, max_batch=i.max_batch,
                 q=i.latency_quantile, cv2=i.chunked_service_cv2, prefill_cv2=i.prefill_service_cv2)
    parts["serving: aggregated and disaggregated pools, every TP"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    validated_errors()
    parts["validated error of the step-time model"] = time.perf_counter() - t0
    for name, seconds in parts.items():
        print(f"  {name}: {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
