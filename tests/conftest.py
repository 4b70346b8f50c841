import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _tqdm_without_shared_locks():
    """Progress bars drawn by tests take a lock of this process and start no monitor thread: a worker that
    mutmut forks from a pytest process holding tqdm's default (multiprocessing) lock or its monitor could
    inherit them held and hang, and a hang counts as a killed mutant."""
    try:
        import threading

        import tqdm
    except ImportError:
        return
    tqdm.tqdm.monitor_interval = 0
    tqdm.tqdm.set_lock(threading.RLock())


_tqdm_without_shared_locks()


def _no_shrinking_under_mutation():
    """Under ``make mutation`` (mutmut sets ``MUTANT_UNDER_TEST`` in every process it runs tests in), a property
    test stops at its first failing example instead of shrinking it: the verdict (the test fails) is the same, and
    shrinking a mutant's failure can take tens of seconds. ``make test`` keeps Hypothesis's full phases."""
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    from hypothesis import Phase, settings

    settings.register_profile("mutation", phases=(Phase.explicit, Phase.reuse, Phase.generate))
    settings.load_profile("mutation")


_no_shrinking_under_mutation()
