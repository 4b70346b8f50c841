"""Paths of the study's data, checksum verification and atomic writes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

#: Root of the repository (the folder holding ``data/`` and ``model/``).
ROOT = Path(__file__).resolve().parent.parent
#: The data of record.
DATA = ROOT / "data"


class ChecksumError(RuntimeError):
    """A data file does not have the sha256 its README records."""


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> Path:
    """Return ``path`` if its sha256 equals ``expected``; raise :class:`ChecksumError` otherwise."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} is missing")
    actual = sha256_of(path)
    if actual != expected:
        raise ChecksumError(f"{path}: sha256 is {actual}, expected {expected}; the file was altered")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; when the block succeeds, the file written there replaces
    ``path`` in one rename (mode 0644); when it fails, the temporary file is removed. Readers never see a
    half-written ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix or ".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half-written."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return Path(path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike, *, float_format: str = "%.6g") -> Path:
    """Write a table to CSV atomically with a fixed float format (same data, same bytes)."""
    return atomic_write_text(path, df.to_csv(index=False, float_format=float_format, lineterminator="\n"))
