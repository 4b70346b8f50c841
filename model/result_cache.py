"""Results kept on disk between processes, keyed by the code and data that made them.

The book's chapters run in separate kernels and each judges the same audit of the sources; the first keeps
it in a folder for the others. The folder is named by the environment variable :data:`CACHE_ENV` (the book's
build points it at ``.build/audit-cache``); unset, :func:`cached` computes every time and writes nothing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

#: Environment variable naming the folder of kept results.
CACHE_ENV = "STUDY_AUDIT_CACHE"
_ROOT = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def code_and_data_fingerprint() -> str:
    """SHA-256 of every Python file of ``model/`` and every file of ``data/`` (paths and bytes): what a kept
    result may depend on, so that it is used only by the code and data that made it."""
    h = hashlib.sha256()
    files = sorted(p for d, pattern in (("model", "*.py"), ("data", "*")) for p in (_ROOT / d).rglob(pattern)
                   if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        h.update(str(path.relative_to(_ROOT)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def cached(name: str, compute: Callable[[], T]) -> T:
    """``compute()``, kept as ``$STUDY_AUDIT_CACHE/<name>-<fingerprint>.pkl`` when that variable names a folder
    (written whole or not at all; the files of an older fingerprint are removed)."""
    folder = os.environ.get(CACHE_ENV)
    if not folder:
        return compute()
    path = Path(folder) / f"{name}-{code_and_data_fingerprint()[:20]}.pkl"
    if path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(result, fh)
        os.replace(tmp, path)          # a kernel running beside this one reads a finished file
    except BaseException:
        os.unlink(tmp)                 # a result that cannot be pickled leaves no partial file behind
        raise
    for old in path.parent.glob(f"{name}-*.pkl"):
        # only this name's files (``<name>-`` and 20 characters): not those of a name that begins like it
        if old != path and len(old.stem) == len(path.stem):
            old.unlink(missing_ok=True)          # made by code or data that have since changed
    return result
