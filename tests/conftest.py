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
