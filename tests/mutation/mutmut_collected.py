"""``mutmut`` whose mutants' tests run in a pytest session collected once, instead of a new pytest per mutant.

mutmut 3.8.1 (its default ``process_isolation = fork``) forks one child per mutant from its warmed-up process, and
the child calls ``pytest.main`` on the mutant's tests: a new configuration, plugins registered again, the test files
collected again, about 35 ms of CPU before the first test runs (measured in a fork of a warmed pytest, one test of
``tests/kv/test_kv_mutants.py``), on each of some 35,000 mutants. Here, once the clean run and the forced failure are
done (mutmut's own, unchanged), the parent configures pytest and collects every test of the module's selection a
single time, runs none of them; each forked child then runs its mutant's tests (mutmut's list, fastest first) as
items of that session: the same pytest hooks (setup, call, teardown of each item, fixtures made in the child, ``-x``
stopping at the first failure), about 8 ms of CPU for the same test. Everything else is mutmut's: the stats, the
clean and forced-fail runs, the verdicts (exit code 1 when a test failed or errored, 0 when all passed), and the
timeout rule, (estimated time + 1 s) × 4, here applied to the mutant's CPU time rather than to wall-clock time, so
that other work on the cores cannot turn a slow survivor into a timeout (:func:`_submit`).

Two differences from ``pytest.main``, neither of which decides a verdict: output is not captured by pytest (``-s``;
the child's stdout and stderr are /dev/null; ``capsys`` works as before), and a test whose node id the session does
not hold (none is expected) falls back to ``pytest.main`` for that mutant.

Usage (from the directory ``mutmut run`` would run in)::

    python tests/mutation/mutmut_collected.py run [--max-children N]
"""

from __future__ import annotations

import math
import os
import sys

import mutmut.__main__ as mutmut_main
from mutmut.runners.harness import PytestRunner
from mutmut.utils.file_utils import change_cwd
from mutmut.workers import isolation

#: pytest's exit code for an internal error, which mutmut counts as killed (``mutmut.stats.status_by_exit_code``).
INTERNAL_ERROR = 3
#: Exit code of a run whose tests all passed, and of one where a test failed (pytest's ExitCode.OK and TESTS_FAILED).
ALL_PASSED, TESTS_FAILED = 0, 1


class CollectedPytestRunner(PytestRunner):
    """mutmut's pytest runner, plus :meth:`collect_once` (in the parent) and mutant runs on its items."""

    session = None
    items: dict = {}

    def collect_once(self) -> None:
        """Configure pytest and collect the selection's tests, in the parent, without running any."""
        from _pytest.config import _prepareconfig
        from _pytest.main import Session

        args = (["--rootdir=.", "--tb=native"] + self._pytest_args_regular_run([]) + self._pytest_add_cli_args
                + ["-s"])
        stdout = sys.stdout
        # the terminal reporter writes to the sys.stdout of its making, here and in every child: /dev/null
        sys.stdout = open(os.devnull, "w")
        try:
            with change_cwd("mutants"):
                config = _prepareconfig(args, None)
                config._do_configure()
                session = Session.from_config(config)
                config.hook.pytest_sessionstart(session=session)
                session.perform_collect()
        finally:
            sys.stdout = stdout
        if session.testsfailed:
            return                      # a collection error: every mutant keeps pytest.main
        self.session, self.items = session, {item.nodeid: item for item in session.items}

    def run_tests(self, *, mutant_name: str | None, tests) -> int:
        tests = list(tests)
        if mutant_name is None or self.session is None or not tests or any(t not in self.items for t in tests):
            return super().run_tests(mutant_name=mutant_name, tests=tests)
        session = self.session
        session.items = [self.items[t] for t in tests]
        session.testscollected = len(session.items)
        try:
            with change_cwd("mutants"):
                session.config.hook.pytest_runtestloop(session=session)
        except (session.Failed, session.Interrupted):
            pass                        # -x: the first failure stopped the run
        except BaseException:           # noqa: BLE001 - the child must exit with a code, whatever a test raised
            return INTERNAL_ERROR
        return TESTS_FAILED if session.testsfailed else ALL_PASSED


#: The wall-clock limit mutmut also sets, as a multiple of the rule below: only a net for a mutant that waits without
#: computing (none is known); a mutant that computes is stopped by the CPU limit first. Implementation choice.
WALL_NET_FACTOR = 4


def _submit(self, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float) -> None:
    """mutmut stops a mutant at (estimated time of its tests + ``timeout_constant``) × ``timeout_multiplier``
    seconds of wall-clock time (setup.cfg), its CPU limit twice that. Wall-clock time grows with whatever else runs
    on the cores: at a load average of 7 on the 2 cores, 20 survivors of plan/compose (2-4 s each on a calm
    machine, est. 1.7 s) were stopped at 10.7 s and counted killed. Here the same rule bounds the mutant's CPU time
    (RLIMIT_CPU, whole seconds, rounded up; SIGXCPU is mutmut's timeout verdict): the same limit on quiet cores,
    none of the load's."""
    cfg = mutmut_main.config()
    rule_s = (estimated_time + cfg.timeout_constant) * cfg.timeout_multiplier
    _fork_submit(self, mutant_name, tests, math.ceil(rule_s), estimated_time)


def _wall_net(pid: int, timeout_s: float) -> None:
    _register_timeout(pid=pid, timeout_s=timeout_s * WALL_NET_FACTOR)


_fork_startup = isolation.ForkRunner.startup
_fork_submit = isolation.ForkRunner.submit
_register_timeout = isolation.register_timeout


def _startup(self) -> None:
    if isinstance(self.test_runner, CollectedPytestRunner):
        self.test_runner.collect_once()
    _fork_startup(self)


isolation.PytestRunner = CollectedPytestRunner
isolation.ForkRunner.startup = _startup
isolation.ForkRunner.submit = _submit
isolation.register_timeout = _wall_net

if __name__ == "__main__":
    sys.exit(mutmut_main.cli())
