"""Mutation testing of the model's core with mutmut, one module at a time against that module's own tests.

For each module in :data:`MODULES` the script copies ``model/``, ``tests/`` and ``data/`` into a scratch
directory (``.build/mutation/<module>/``, ignored by git), writes there a ``setup.cfg`` whose ``[mutmut]``
section is this repository's (``setup.cfg``) plus the module to mutate and its test files, runs
``mutmut run`` and reads the verdict of every mutant (``mutmut results --all true``). ``mutmut run`` is started
through ``tests/mutation/mutmut_collected.py``, which runs each mutant's tests as items of a pytest session
collected once, rather than a new ``pytest.main`` per mutant (same verdicts, measured mutant by mutant on whole
modules; ``--pytest-per-mutant`` runs plain mutmut).

Score of a module = killed ÷ (mutants − equivalent ones), where killed counts the mutants a test failed on
or that timed out, and the equivalent ones are listed in ``tests/mutation/equivalent.md`` (mutant name and
its mutated line; an entry whose line no longer matches the mutant is stale and not excluded). The survivors
are printed with their diff. The exit status is 1 if a module scores below ``--threshold`` (percent).

Compiled code: ``model/tiering/kernel.py`` and ``model/tiering/stream.py`` are numba-compiled (``njit``) and
are never mutated (mutmut's trampolines, which pick the mutant at run time, cannot run under ``njit``; only
the ``only_mutate`` file of a run is mutated, the others are copied as they are). The kernel compiles one
function of a mutated module, :func:`model.ttl.reused_within_ttl`; so ``model/ttl.py`` is mutated against
``tests/test_ttl*.py`` only, which never call the kernel (a tiering test there would fail to compile the
trampoline and count every mutant of ``model/ttl.py`` as killed). The tiering modules mutated here
(engine, replay, stack_distance, timing, cost) are plain Python (``replay`` hands arrays to the kernel);
none is called from compiled code. ``model/serving/kernel.py`` (the paged schedulers' per-step
bookkeeping) is compiled too and never mutated; ``model/serving/simulation.py``, mutated, hands it arrays and
is not called from it. The tiering tests are the fast files of ``tests/tiering/`` that exercise each (the CLI
and scale tests, which spawn processes and replay whole traces, are left out: minutes per mutant).

``model/parallel.py`` (the local-process / Dask runner) is not mutated: a mutant that breaks a pool leaves its
workers waiting until mutmut's timeout (64 of its 216 mutants, 1,953 s for the module, more than the rest of a run
takes per CPU), and one left orphaned pool workers holding the runner's output pipe, so that the run never ended.
Its hand-worked cases (``tests/test_parallel_mutants.py``: worker counts, start methods, order of results, Dask on
a thread cluster) run in ``make test``; measured once by hand, they killed 97.7% of its mutants.

The book's helpers (``model/book/``) are mutated against fast files of hand-worked cases on small frames and
notebooks written by the tests: no notebook runs and no book build. ``model/book/build.py`` (the notebooks' runs,
their staging, ``make chapter`` and ``make sweep``) is mutated against ``tests/book/test_book_build_mutants.py``
alone, where papermill's run, the runs of the notebooks and the HTML build are stand-ins; its other tests
(``tests/book/test_bookbuild.py``, ``test_bookbuild_chapter.py``) start Jupyter kernels and ``make``, seconds
per test. ``model.book.sliders.rendered_texts`` is not mutated (``# pragma: no mutate block``), and the tests
that run vl-convert's engine (``tests/book/test_book_sliders_vega.py``) are left out of sliders' run: that engine,
started in mutmut's parent process, hangs in a forked child, so the mutants that reached it waited for the
wall-clock net (22 s each, 2026-12-07) and counted as timeouts, not as a test's verdict. Each module's score and
seconds in the last whole run: ``tests/mutation/last_run.json``.

Usage::

    python tests/mutation/run_mutation.py [--threshold 85] [--only model/kv/size.py ...] [--jobs J] [--max-children N]
    python tests/mutation/run_mutation.py --rescore      # score the last run again (after editing equivalent.md)
"""

from __future__ import annotations

import argparse
import configparser
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT_MD = Path(__file__).resolve().parent / "equivalent.md"
SCRATCH = ROOT / ".build" / "mutation"
#: The last whole run (every module): per module its score, mutants, wall and CPU seconds, with the run's date, wall
#: and CPU time. Written at the end of a run of every module; its seconds order the next run (longest first, so that
#: the last module to start is a short one and the CPUs finish together).
LAST_RUN = Path(__file__).resolve().parent / "last_run.json"

#: Module mutated -> the test files that are its own (the unit tests mirroring it, its property tests).
MODULES: dict[str, list[str]] = {
    "model/kv/size.py": ["tests/kv/test_kv.py", "tests/kv/test_kv_mutants.py", "tests/test_properties_scaling.py",
                         "tests/kv/test_kv_layers.py", "tests/kv/test_kv_shared_layers.py",
                         "tests/kv/test_kv_size_mutants.py"],
    "model/kv/budget.py": ["tests/kv/test_kv.py", "tests/kv/test_kv_mutants.py", "tests/test_properties_scaling.py",
                           "tests/kv/test_kv_layers.py", "tests/kv/test_kv_size_mutants.py"],
    "model/kv/paging.py": ["tests/kv/test_kv.py", "tests/kv/test_kv_mutants.py"],
    "model/formats.py": ["tests/test_formats.py", "tests/test_properties_scaling.py"],
    "model/quantization/weights.py": ["tests/quantization/test_quantization.py", "tests/quantization/test_quantization_mutants.py"],
    "model/hardware.py": ["tests/test_hardware.py", "tests/test_hardware_mutants.py"],
    "model/search/pareto.py": ["tests/search/test_pareto.py", "tests/search/test_pareto_properties.py", "tests/search/test_pareto_mutants.py"],
    "model/economics/availability.py": ["tests/economics/test_availability.py", "tests/economics/test_availability_mutants.py"],
    "model/economics/regions.py": ["tests/economics/test_regions.py"],
    "model/economics/prices.py": ["tests/economics/test_prices.py", "tests/test_properties_scaling.py"],
    "model/economics/token_volume.py": ["tests/economics/test_token_volume.py", "tests/economics/test_economics_mutants.py"],
    "model/economics/token_cost.py": ["tests/economics/test_token_cost.py", "tests/economics/test_economics_mutants.py",
                            "tests/test_properties_scaling.py"],
    "model/economics/unit_economics.py": ["tests/economics/test_unit_economics.py", "tests/economics/test_economics_mutants.py"],
    "model/economics/fleet_sizing.py": ["tests/economics/test_fleet_sizing.py", "tests/economics/test_economics_mutants.py",
                              "tests/economics/test_fleet_sizing_mutants.py"],
    "model/economics/autoscaling.py": ["tests/economics/test_autoscaling.py", "tests/economics/test_economics_mutants.py"],
    "model/calendar.py": ["tests/economics/test_economics_mutants.py"],
    "model/serving/step_time.py": ["tests/serving/test_step_time.py", "tests/serving/test_step_time_points.py",
                           "tests/serving/test_step_time_validation.py", "tests/serving/test_step_time_mutants.py",
                           "tests/serving/test_step_time_families.py",
                           "tests/serving/test_step_time_terms_mutants.py"],
    "model/serving/saturation.py": ["tests/serving/test_saturation.py", "tests/serving/test_batching.py", "tests/serving/test_saturation_mutants.py"],
    "model/ttl.py": ["tests/test_ttl.py", "tests/test_ttl_mutants.py"],
    "model/serving/simulation.py": ["tests/serving/test_serving.py", "tests/serving/test_serving_mutants.py"],
    "model/tiering/engine.py": ["tests/tiering/test_tiering_timing.py", "tests/tiering/test_tiering_slo.py",
                                "tests/tiering/test_tiering_kernel.py", "tests/tiering/test_tiering_mutants.py"],
    "model/tiering/replay.py": ["tests/tiering/test_tiering_replay.py", "tests/tiering/test_tiering_kernel.py",
                                "tests/tiering/test_tiering_properties.py", "tests/tiering/test_tiering_stream.py",
                                "tests/tiering/test_tiering_stack_distance.py", "tests/tiering/test_tiering_mutants.py"],
    "model/tiering/stack_distance.py": ["tests/tiering/test_tiering_stack_distance.py",
                                        "tests/tiering/test_tiering_replay.py",
                                        "tests/tiering/test_tiering_properties.py",
                                        "tests/tiering/test_tiering_reuse.py", "tests/tiering/test_tiering_mutants.py"],
    "model/tiering/timing.py": ["tests/tiering/test_tiering_timing.py", "tests/tiering/test_tiering_slo.py",
                                "tests/tiering/test_tiering_fleet.py", "tests/tiering/test_tiering_mutants.py"],
    "model/tiering/cost.py": ["tests/tiering/test_tiering_cost.py", "tests/tiering/test_tiering_timing.py",
                              "tests/tiering/test_tiering_slo.py", "tests/tiering/test_tiering_mutants.py"],
    "model/rate_search.py": ["tests/test_rate_search.py", "tests/economics/test_economics_mutants.py"],
    "model/serving/capacity.py": ["tests/serving/test_capacity.py"],
    # the audit of the source's tables: each against a fast file of hand-worked rows (their own test files call
    # table(), which judges the whole audit: 10-20 s a run)
    "model/audit/t5_quantization.py": ["tests/audit/test_t5_quantization_mutants.py"],
    "model/audit/memory_arithmetic.py": ["tests/audit/test_memory_arithmetic_mutants.py"],
    "model/audit/t6_regions.py": ["tests/audit/test_t6_regions_mutants.py"],
    "model/audit/t9_costs.py": ["tests/audit/test_t9_costs_mutants.py"],
    "model/audit/t2_api_costs.py": ["tests/audit/test_t2_api_costs_mutants.py"],
    "model/audit/t12_summary.py": ["tests/audit/test_t12_summary_mutants.py"],
    # model/audit/t4_continuous_batching.py: its cached rates() (never mutated: mutmut leaves decorated functions
    # alone) replaced by a hand-made table
    "model/audit/t4_continuous_batching.py": ["tests/audit/test_t4_continuous_batching_mutants.py"],
    # model/audit/t3_throughput_latency.py: its cached runs() (the simulations, 12 s; never mutated) replaced by a
    # hand-made table
    "model/audit/t3_throughput_latency.py": ["tests/audit/test_t3_throughput_latency_mutants.py"],
    "model/tiering/fleet.py": ["tests/tiering/test_tiering_fleet.py", "tests/tiering/test_tiering_cli_fleet.py",
                               "tests/tiering/test_tiering_fleet_mutants.py"],
    "model/tiering/slo.py": ["tests/tiering/test_tiering_slo.py", "tests/tiering/test_tiering_slo_mutants.py"],
    "model/workload/chat.py": ["tests/workload/test_chat.py", "tests/workload/test_chat_mutants.py"],
    "model/serving/step_time_fit.py": ["tests/serving/test_step_time_fit.py",
                                       "tests/serving/test_step_time_fit_mutants.py"],
    "model/tiering/streamed_fleet.py": ["tests/tiering/test_streamed_fleet_mutants.py"],
    "model/audit/verdicts.py": ["tests/audit/test_verdicts.py", "tests/audit/test_audit_rules.py",
                                "tests/audit/test_verdicts_mutants.py"],
    "model/architectures.py": ["tests/test_architectures.py", "tests/test_architecture_configs.py",
                               "tests/kv/test_kv_layers.py", "tests/test_architectures_mutants.py"],
    "model/serving/step_time_accuracy.py": ["tests/serving/test_step_time_validation.py",
                                            "tests/serving/test_step_time_accuracy_mutants.py"],
    "model/serving/kv_transfer.py": ["tests/serving/test_kv_transfer_mutants.py"],
    "model/serving/goodput.py": ["tests/serving/test_goodput.py", "tests/serving/test_goodput_mutants.py"],
    "model/serving/disaggregated.py": ["tests/serving/test_disaggregated_mutants.py"],
    "model/plan/cost.py": ["tests/plan/test_cost_mutants.py"],
    "model/plan/energy.py": ["tests/plan/test_energy_mutants.py"],
    "model/plan/cache.py": ["tests/plan/test_cache_mutants.py"],
    "model/plan/fleet.py": ["tests/plan/test_fleet_mutants.py"],
    "model/plan/what_if.py": ["tests/plan/test_what_if.py", "tests/plan/test_what_if_mutants.py"],
    "model/serving/calibration.py": ["tests/serving/test_calibration.py",
                                     "tests/serving/test_calibration_mutants.py"],
    "model/plan/compose.py": ["tests/plan/test_compose_mutants.py"],
    "model/plan/simulate.py": ["tests/plan/test_simulate_mutants.py"],
    "model/plan/inputs.py": ["tests/plan/test_inputs_mutants.py"],
    "model/plan/services.py": ["tests/plan/test_services_mutants.py"],
    "model/checks.py": ["tests/test_validation.py", "tests/test_checks_mutants.py"],
    "model/metrics.py": ["tests/test_metrics.py", "tests/test_metrics_mutants.py"],
    "model/workload/trace.py": ["tests/workload/test_trace_mutants.py"],
    "model/tiering/config.py": ["tests/tiering/test_tiering_config_mutants.py"],
    "model/serving/distserve_comparison.py": ["tests/serving/test_distserve_comparison_mutants.py"],
    "model/workload/persona.py": ["tests/workload/test_persona_mutants.py"],
    "model/tiering/sweeps.py": ["tests/tiering/test_tiering_sweeps.py", "tests/tiering/test_tiering_sweeps_mutants.py"],
    "model/search/tier_search.py": ["tests/search/test_tier_search_mutants.py"],
    # model/plan/serving.py: its hand-worked cases and the fast tests of its TTFT tail (the simulator's check is slow)
    "model/plan/serving.py": ["tests/plan/test_plan_serving_mutants.py", "tests/plan/test_serving_tail.py",
                              "tests/plan/test_decode_tail.py", "tests/plan/test_residual_wait.py"],
    "model/kv/sizing.py": ["tests/kv/test_kv_sizing.py", "tests/kv/test_kv_sizing_mutants.py"],
    "model/workload/popularity.py": ["tests/workload/test_popularity_mutants.py"],
    "model/workload/grouping.py": ["tests/workload/test_grouping.py", "tests/workload/test_grouping_mutants.py"],
    "model/tiering/reuse.py": ["tests/tiering/test_tiering_reuse.py", "tests/tiering/test_reuse_mutants.py"],
    "model/serving/rate_bounds.py": ["tests/serving/test_rate_bounds.py", "tests/serving/test_rate_bounds_mutants.py"],
    "model/serving/load_sweep.py": ["tests/serving/test_serving_readings.py",
                                    "tests/serving/test_load_sweep_mutants.py"],
    "model/workload/requests.py": ["tests/workload/test_requests_mutants.py"],
    "model/search/evaluations.py": ["tests/search/test_evaluations_mutants.py"],
    "model/tiering/simulate.py": ["tests/tiering/test_tiering_simulate_mutants.py"],
    "model/workload/public_traces.py": ["tests/workload/test_public_traces_mutants.py"],
    "model/search/chapter_runs.py": ["tests/search/test_chapter_runs_mutants.py"],
    "model/scenarios.py": ["tests/test_scenarios.py", "tests/test_scenarios_mutants.py"],
    "model/tiering/chat_fleet.py": ["tests/tiering/test_chat_fleet_mutants.py"],
    # model/tiering/setup.py: tests/tiering/test_tiering_setup.py is left out, its check that every public name of
    # the module is re-exported fails on mutmut's trampolines (x_renamed__mutmut_1, ...) before any mutant runs
    "model/tiering/setup.py": ["tests/tiering/test_setup_mutants.py"],
    "model/serving/accuracy_readings.py": ["tests/serving/test_serving_accuracy_readings.py",
                                           "tests/serving/test_accuracy_readings_mutants.py"],
    "model/economics/readings.py": ["tests/economics/test_economics_readings.py",
                                    "tests/economics/test_economics_readings_mutants.py"],
    "model/economics/fleet_readings.py": ["tests/economics/test_economics_fleet_readings.py",
                                          "tests/economics/test_fleet_readings_mutants.py"],
    "model/economics/persona_readings.py": ["tests/economics/test_persona_readings.py",
                                            "tests/economics/test_persona_readings_mutants.py"],
    "model/quantization/readings.py": ["tests/quantization/test_quantization_readings.py",
                                       "tests/quantization/test_quantization_readings_mutants.py"],
    "model/serving/readings.py": ["tests/serving/test_serving_readings.py",
                                  "tests/serving/test_serving_readings_mutants.py"],
    "model/io.py": ["tests/test_io.py", "tests/test_io_mutants.py"],
    "model/parameters.py": ["tests/test_parameters_mutants.py"],
    "model/result_cache.py": ["tests/test_result_cache.py", "tests/test_result_cache_mutants.py"],
    # model/records.py: not tests/test_records.py, whose fleet record takes 14 s; a tiny package and data/ instead
    "model/records.py": ["tests/test_records_mutants.py"],
    # the audit's section modules: each against a fast file of hand-worked rows (claims looked up in a dict, slow
    # model calls replaced by recorders); their own files regenerate the whole audit, seconds per mutant
    "model/audit/l7_persona.py": ["tests/audit/test_l7_persona_mutants.py"],
    "model/audit/l8_memory.py": ["tests/audit/test_l8_memory_mutants.py"],
    "model/audit/l10_availability.py": ["tests/audit/test_l10_availability_mutants.py"],
    "model/audit/l11_fleet.py": ["tests/audit/test_l11_fleet_mutants.py"],
    "model/audit/kareto_paper.py": ["tests/audit/test_kareto_paper_mutants.py"],
    "model/audit/r12_roadmap.py": ["tests/audit/test_r12_roadmap_mutants.py"],
    "model/audit/session_shape.py": ["tests/audit/test_session_shape_mutants.py"],
    "model/audit/rules.py": ["tests/audit/test_rules_mutants.py"],
    "model/audit/claims.py": ["tests/audit/test_claims_mutants.py"],
    "model/audit/readings.py": ["tests/audit/test_readings_mutants.py"],
    "model/audit/collect.py": ["tests/audit/test_collect_mutants.py"],
    # the command lines: each main(argv) called in-process, its heavy computation replaced by a stand-in
    "model/listing.py": ["tests/test_listing_mutants.py"],
    "model/plan/report.py": ["tests/plan/test_report_mutants.py"],
    "model/cli.py": ["tests/test_cli_mutants.py"],
    "model/kv/cli.py": ["tests/kv/test_kv_cli_mutants.py"],
    "model/serving/cli.py": ["tests/serving/test_serving_cli_mutants.py"],
    "model/plan/cli.py": ["tests/plan/test_plan_cli_mutants.py"],
    "model/tiering/cli.py": ["tests/tiering/test_tiering_cli_mutants.py"],
    # the book's helpers, on small hand-made frames (no notebook run, no book build)
    "model/book/tables.py": ["tests/book/test_book_tables.py", "tests/book/test_book_tables_mutants.py"],
    "model/book/glue.py": ["tests/book/test_book_glue_mutants.py"],
    "model/book/service_2026.py": ["tests/book/test_book_service_2026.py", "tests/book/test_book_service_2026_mutants.py"],
    # model/book/plan_view.py: tests/book/test_plan_service_chapter.py runs the chapter (about 8 s), left out
    "model/book/plan_view.py": ["tests/book/test_book_plan_view_mutants.py"],
    "model/book/assets.py": ["tests/book/test_book_assets.py", "tests/book/test_book_assets_mutants.py"],
    "model/book/audit_view.py": ["tests/book/test_book_audit_view_mutants.py"],
    # model/book/sliders.py: not test_book_sliders_vega.py (vl-convert's engine hangs in a forked child)
    "model/book/sliders.py": ["tests/book/test_book_sliders.py", "tests/book/test_book_sliders_mutants.py"],
    "model/book/appendix.py": ["tests/book/test_book_appendix.py", "tests/book/test_book_appendix_source_tables.py",
                               "tests/book/test_book_appendix_mutants.py"],
    "model/book/charts.py": ["tests/book/test_book_charts.py", "tests/book/test_book_charts_economics.py",
                             "tests/book/test_book_charts_kareto.py", "tests/book/test_book_charts_kv_sizing.py",
                             "tests/book/test_book_charts_persona_memory.py", "tests/book/test_book_charts_mutants.py"],
    "model/book/phrases.py": ["tests/book/test_book_phrases.py", "tests/book/test_book_phrases_architectures.py",
                              "tests/book/test_book_phrases_distserve.py",
                              "tests/book/test_book_phrases_economics_persona_memory_kv_sizing.py",
                              "tests/book/test_book_phrases_fleet.py", "tests/book/test_book_phrases_fleet_fleet_cache.py",
                              "tests/book/test_book_phrases_kareto.py",
                              "tests/book/test_book_phrases_kareto_quantization_validation.py",
                              "tests/book/test_book_phrases_persona_memory.py", "tests/book/test_book_phrases_mutants.py"],
    # model/book/build.py: tests/book/test_bookbuild.py and test_bookbuild_chapter.py start kernels and make, left
    # out; papermill's run, execute_all and the HTML build are stand-ins in its own file
    "model/book/build.py": ["tests/book/test_book_build_mutants.py"],
}

#: pytest's own plugins that no test here uses, left out of the pytest that starts once per mutant: the
#: unraisable-exception plugin (its forced garbage collections), and those of unittest classes, ``tmpdir``/``testdir``,
#: pastebin, JUnit XML, doctests, ``--setup-only/--setup-plan``, ``--stepwise``, thread exceptions, ``caplog``,
#: faulthandler, subtests and ``--pdb`` (none is used under tests/; checked with grep). Measured in a fork of a warmed
#: pytest as mutmut runs it: a start takes 39.0 ms of CPU instead of 43.7 ms (median of 40, one test of kv/paging).
UNUSED_PLUGINS = ("unraisableexception", "unittest", "legacypath", "pastebin", "junitxml", "doctest", "setuponly",
                  "setupplan", "stepwise", "threadexception", "logging", "faulthandler", "subtests", "debugging")

#: Verdicts that count as killed: a test failed, the tests ran past the time limit, or their process crashed
#: (``segfault``: a mutant that hands the compiled kernels arrays of the wrong type can crash the interpreter).
KILLED = {"killed", "timeout", "caught by type check", "segfault"}

#: Run inside a scratch directory after ``mutmut run``: every mutant's verdict, and the diff of those not
#: killed, as JSON (one process, rather than one ``mutmut show`` per mutant).
_READ_RESULTS = f"""
import json
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.diff_apply import get_diff_for_mutant
from mutmut.stats import status_by_exit_code
from mutmut.utils.file_utils import walk_mutatable_files
out = {{}}
for path in walk_mutatable_files():
    m = SourceFileMutationData(path=path)
    m.load()
    for k, v in m.exit_code_by_key.items():
        status = status_by_exit_code[v]
        out[k] = [status, "" if status in {sorted(KILLED)!r} else get_diff_for_mutant(k, path=m.path)]
print(json.dumps(out))
"""


@dataclass
class Equivalent:
    name: str
    line: str
    reason: str


@dataclass
class Result:
    module: str
    status: dict[str, str] = field(default_factory=dict)
    equivalent: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    survivors: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def considered(self) -> int:
        return len(self.status) - len(self.equivalent)

    @property
    def killed(self) -> int:
        return sum(1 for k, v in self.status.items() if v in KILLED and k not in self.equivalent)

    @property
    def score(self) -> float:
        return 100.0 * self.killed / self.considered if self.considered else 100.0


def load_equivalents(path: Path = EQUIVALENT_MD) -> dict[str, Equivalent]:
    """Rows ``| mutant name | `mutated line` | reason |`` of the table in ``equivalent.md``."""
    out = {}
    if not path.exists():
        return out
    for row in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`?(model\.[\w.]+__mutmut_\d+)`?\s*\|\s*`(.*)`\s*\|\s*(.*?)\s*\|\s*$", row)
        if m:
            out[m.group(1)] = Equivalent(m.group(1), m.group(2).strip(), m.group(3))
    return out


def mutated_line(diff: str) -> str:
    """The first added line of a mutant's diff, stripped: the stable description of the mutant."""
    for line in diff.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            return line[1:].strip()
    return ""


def _write_config(work: Path, module: str, tests: list[str], max_children: int | None) -> None:
    base = configparser.ConfigParser()
    base.read(ROOT / "setup.cfg")
    section = dict(base["mutmut"]) if base.has_section("mutmut") else {}
    section["only_mutate"] = module
    section["pytest_add_cli_args"] = section.get("pytest_add_cli_args", "") + "".join(
        f"\n-p\nno:{name}" for name in UNUSED_PLUGINS)
    section["pytest_add_cli_args_test_selection"] = "\n" + "\n".join(t for t in tests if (ROOT / t).exists())
    cfg = configparser.ConfigParser()
    cfg["mutmut"] = section
    with open(work / "setup.cfg", "w", encoding="utf-8") as fh:
        cfg.write(fh)


def run_module(module: str, tests: list[str], equivalents: dict[str, Equivalent], *,
               max_children: int | None, python: str, rescore: bool = False,
               pytest_per_mutant: bool = False) -> Result:
    slug = module.replace("/", "_").removesuffix(".py")
    work = SCRATCH / slug
    if rescore:
        return _read_results(module, work, equivalents, python, None, 0.0)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    for d in ("model", "tests", "data"):
        shutil.copytree(ROOT / d, work / d, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _write_config(work, module, tests, max_children)
    # no PYTHONPATH: mutmut puts mutants/ first on sys.path itself; a PYTHONPATH naming a checkout (or
    # mutants/ before it exists) would let the tests import the unmutated package
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # pytest starts once per mutant (in a fork of a warmed-up server): without the scan of installed plugins'
    # entry points (none is needed here: the tests use Hypothesis as a library) and without the unraisable-
    # exception plugin's forced garbage collections, a start takes about 0.06 s instead of 0.3 s
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    # mutmut run, its mutants' tests run as items of one pytest session collected once (mutmut_collected.py);
    # --pytest-per-mutant: plain mutmut, a pytest.main per mutant
    launcher = ["-m", "mutmut"] if pytest_per_mutant else [str(Path(__file__).resolve().parent / "mutmut_collected.py")]
    cmd = [python, *launcher, "run"] + (["--max-children", str(max_children)] if max_children else [])
    t0 = time.perf_counter()
    log = work / "mutmut-run.log"
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=fh, stderr=subprocess.STDOUT)
        # wait4: the CPU time of mutmut and of every process it waited for (its forked mutants), this module's
        # alone even when other modules run beside it
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    res = _read_results(module, work, equivalents, python, log.read_text(encoding="utf-8", errors="replace"),
                        time.perf_counter() - t0)
    res.cpu_seconds = usage.ru_utime + usage.ru_stime
    return res


def _read_results(module: str, work: Path, equivalents: dict[str, Equivalent], python: str,
                  log_text: str | None, seconds: float) -> Result:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    res = Result(module, seconds=seconds)
    if not (work / "mutants").is_dir():
        sys.stderr.write(f"{module}: no results in {work} (run without --rescore first)\n")
        res.status["<not run>"] = "survived"
        return res
    out = subprocess.run([python, "-c", _READ_RESULTS], cwd=work, env=env, capture_output=True, text=True)
    verdicts = json.loads(out.stdout or "{}")
    if not verdicts:
        log = log_text[-6000:] if log_text is not None else ""
        sys.stderr.write(f"{module}: mutmut produced no results\n{log}\n{out.stderr[-3000:]}\n")
        res.status["<run failed>"] = "survived"
        return res
    for name, (status, diff) in sorted(verdicts.items()):
        res.status[name] = status
        if status in KILLED:
            continue
        eq = equivalents.get(name)
        if eq is not None and eq.line == mutated_line(diff):
            res.equivalent.append(name)
        else:
            if eq is not None:
                res.stale.append(name)
            res.survivors[name] = f"[{status}]\n" + "\n".join(diff.splitlines()[2:])
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threshold", type=float, default=85.0, help="minimum score per module, percent (85)")
    p.add_argument("--only", nargs="+", metavar="MODULE", help=f"modules to run, among: {', '.join(MODULES)}")
    p.add_argument("--jobs", type=int, default=1,
                   help="modules mutated at a time (default 1; make mutation uses the CPUs)")
    p.add_argument("--max-children", type=int, default=None,
                   help="mutmut workers per module (default: CPUs, or CPUs / --jobs)")
    p.add_argument("--quiet", action="store_true", help="do not print the survivors' diffs")
    p.add_argument("--pytest-per-mutant", action="store_true",
                   help="plain `mutmut run` (a new pytest per mutant) instead of tests/mutation/mutmut_collected.py "
                        "(every mutant's tests run in one pytest session collected once)")
    p.add_argument("--rescore", action="store_true",
                   help="do not run mutmut: score the results the last run left in .build/mutation/ again "
                        "(after editing equivalent.md)")
    args = p.parse_args(argv)
    modules = args.only or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        p.error(f"--only {' '.join(unknown)}: unknown module; allowed: {', '.join(MODULES)}")
    jobs = max(1, args.jobs or 1)
    max_children = args.max_children or (max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None)
    equivalents = load_equivalents()
    previous = json.loads(LAST_RUN.read_text(encoding="utf-8"))["modules"] if LAST_RUN.exists() else {}
    # longest first by the last whole run's CPU seconds (its wall seconds if it has none); modules it does not hold
    # (new ones, or every one when there is no last run) first of all, the largest source file first (more lines,
    # more mutants); the report keeps MODULES' order
    def last_seconds(m: str) -> float:
        return previous.get(m, {}).get("cpu_s", previous.get(m, {}).get("seconds", 0))

    order = sorted(modules, key=lambda m: (m in previous, -last_seconds(m), -(ROOT / m).stat().st_size))
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def one(module: str) -> Result:
        return run_module(module, MODULES[module], equivalents, max_children=max_children, python=sys.executable,
                          rescore=args.rescore, pytest_per_mutant=args.pytest_per_mutant)

    # modules run `jobs` at a time (each mutmut run has serial phases: the copy, the clean run, the coverage
    # of each test; two runs of one worker each keep two cores busy through them), reported as they finish
    results_by_module: dict[str, Result] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(one, m): m for m in order}
        for fut in as_completed(futures):
            r = fut.result()
            results_by_module[r.module] = r
            print(f"{r.module}: {r.score:5.1f}% killed ({r.killed} / {r.considered} non-equivalent; "
                  f"{len(r.equivalent)} equivalent) in {r.seconds:.0f} s ({r.cpu_seconds:.0f} s CPU)", flush=True)
            if not args.quiet:
                for name, diff in r.survivors.items():
                    print(f"  survived: {name} {diff}\n")
            for name in r.stale:
                print(f"  stale entry in equivalent.md (mutated line changed): {name}")
    results = [results_by_module[m] for m in modules]
    print(f"\n{'module':<28} {'score':>7} {'killed':>7} {'non-eq':>7} {'equiv':>6} {'s':>5} {'CPU s':>6}")
    for r in results:
        print(f"{r.module:<28} {r.score:6.1f}% {r.killed:7d} {r.considered:7d} {len(r.equivalent):6d} "
              f"{r.seconds:5.0f} {r.cpu_seconds:6.0f}")
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    wall = time.perf_counter() - t0
    print(f"total time {wall:.0f} s wall, {cpu:.0f} s CPU ({jobs} module(s) at a time, "
          f"{max_children or 'CPUs'} worker(s) each); threshold {args.threshold:g}%")
    if not args.only and not args.rescore:
        record = {"date": time.strftime("%Y-%m-%d"), "wall_s": round(wall), "cpu_s": round(cpu), "jobs": jobs,
                  "workers_per_module": max_children or os.cpu_count(), "cpus": os.cpu_count(),
                  "modules": {r.module: {"score": round(r.score, 1), "killed": r.killed,
                                         "non_equivalent": r.considered, "equivalent": len(r.equivalent),
                                         "seconds": round(r.seconds), "cpu_s": round(r.cpu_seconds)}
                              for r in results}}
        tmp = LAST_RUN.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, LAST_RUN)
    low = [r.module for r in results if r.score < args.threshold]
    if low:
        print("below threshold: " + ", ".join(low))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
