"""Rotation of spanscope's trace files: by size, compressed optionally, with a cap on kept files.

- A file is closed once it holds ``SPANSCOPE_MAX_FILE_MB`` (default 100) MB; the
  next export opens a new one (names carry the UTC time in milliseconds, so
  they sort by time across processes).  One export batch is never split.
- ``SPANSCOPE_COMPRESS=gzip`` compresses each closed file to ``<name>.gz`` on a
  background thread (the exporter thread keeps draining the queue meanwhile).
  The analyzer recognises gzip by its magic bytes.  The work file is hidden
  (``.<name>.gz.partial``, which readers skip) until it is complete.
- ``SPANSCOPE_MAX_FILES`` (default 50) caps the trace files in the folder: the
  oldest are deleted -- never a file another process is still writing.  Each
  exporter holds a shared ``flock`` on its open file, and a file whose lock
  cannot be taken exclusively is skipped.  (Without ``fcntl``, on Windows, only
  files no process has open can be deleted, which the OS enforces itself.)
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

from spanscope.instrument.settings import (
    DEFAULT_COMPRESS,
    DEFAULT_MAX_FILE_MB,
    DEFAULT_MAX_FILES,
    SPANSCOPE_COMPRESS,
    SPANSCOPE_MAX_FILE_MB,
    SPANSCOPE_MAX_FILES,
    env_choice,
    env_number,
)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

_logger = logging.getLogger(__name__)

TRACE_FILE_PREFIX = "spans-"
TRACE_FILE_SUFFIXES = (".jsonl", ".jsonl.gz")


def _gzip(source: Path, target: Path) -> None:
    # Level 6 (gzip's default): about 8x smaller on OTLP JSON; zlib releases the GIL
    # while it compresses, so request threads keep running.
    with source.open("rb") as raw, gzip.open(target, "wb", compresslevel=6) as packed:
        shutil.copyfileobj(raw, packed, 1 << 20)


# Registry: SPANSCOPE_COMPRESS value -> (suffix, compressor); "none" compresses nothing.
COMPRESSORS: dict[str, tuple[str, Callable[[Path, Path], None]]] = {"gzip": (".gz", _gzip)}


class RotationPolicy(NamedTuple):
    max_bytes: int
    max_files: int
    compress: str  # "none" or a key of COMPRESSORS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RotationPolicy:
        megabytes = env_number(SPANSCOPE_MAX_FILE_MB, DEFAULT_MAX_FILE_MB, 0.001, environ)
        files = env_number(SPANSCOPE_MAX_FILES, DEFAULT_MAX_FILES, 1, environ)
        compress = env_choice(
            SPANSCOPE_COMPRESS, DEFAULT_COMPRESS, frozenset({"none", *COMPRESSORS}), environ
        )
        return cls(int(megabytes * 1024 * 1024), int(files), compress)


def lock_shared(fd: int) -> None:
    """Mark ``fd``'s file as being written (released when the descriptor is closed)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)


def in_use(path: Path) -> bool:
    """Whether some process still writes ``path`` (holds a lock on it)."""
    if fcntl is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # vanished or unreadable: leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also releases the probe's lock
    return False


def compress(path: Path, method: str) -> Path:
    """``path`` compressed next to itself, the original removed; returns the new path."""
    suffix, compressor = COMPRESSORS[method]
    target = path.with_name(path.name + suffix)
    partial = path.with_name(f".{target.name}.partial")
    try:
        compressor(path, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    path.unlink()
    return target


def trace_files(directory: Path) -> list[Path]:
    """spanscope's trace files in ``directory``, oldest first (names sort by time)."""
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.name.startswith(TRACE_FILE_PREFIX) and entry.name.endswith(TRACE_FILE_SUFFIXES)
    )


def prune(directory: Path, keep: int, active: Path | None = None) -> list[Path]:
    """Delete the oldest trace files beyond ``keep``, sparing files being written; returns them."""
    files = trace_files(directory)
    excess = len(files) - keep
    deleted: list[Path] = []
    for path in files:
        if excess <= 0:
            break
        if path == active or in_use(path):
            continue
        with contextlib.suppress(FileNotFoundError):  # another process pruned it first
            path.unlink()
            deleted.append(path)
        excess -= 1
    return deleted
