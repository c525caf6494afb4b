"""Write spans as OTLP JSON lines, one file per process, in the Collector ``file`` exporter format.

- Folder: ``$SPANSCOPE_TRACES_DIR``, else ``./spanscope-traces`` resolved against
  the working directory when the exporter is created (before a server such as
  gunicorn may ``chdir``).  Created with mode 0700 if missing.
- File: ``spans-<UTC start time, ms>-<pid>.jsonl`` (names sort by time), mode
  0600, opened on the first export, so a process that never traces leaves no
  file.  A forked child (pre-fork servers) opens its own file on its first export.
- Rotation by size, optional gzip of rotated files and a cap on the files kept
  in the folder: :mod:`spanscope.instrument.rotation` (``SPANSCOPE_MAX_FILE_MB``,
  ``SPANSCOPE_COMPRESS``, ``SPANSCOPE_MAX_FILES``).
- Each export batch is one ``TracesData`` line written with a single ``write``
  on an ``O_APPEND`` descriptor: lines never interleave and nothing is buffered
  in user space, so a ``kill -9`` loses at most the spans not yet exported.
- A disk error never reaches the application: the first one is logged as a
  warning, the spans are counted in :attr:`OTLPJsonFileSpanExporter.dropped_spans`
  and the export returns ``FAILURE``; later exports try again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from spanscope.instrument.otlp_json import encode_line
from spanscope.instrument.rotation import RotationPolicy, compress, lock_shared, prune
from spanscope.instrument.settings import DEFAULT_TRACES_DIR, SPANSCOPE_TRACES_DIR

_logger = logging.getLogger(__name__)

_FILE_MODE = 0o600
_DIR_MODE = 0o700


def traces_dir_from_env() -> Path:
    return Path(os.environ.get(SPANSCOPE_TRACES_DIR) or DEFAULT_TRACES_DIR).absolute()


def trace_file_name(pid: int, now: float) -> str:
    milliseconds = int(now * 1000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(milliseconds // 1000))
    return f"spans-{stamp}.{milliseconds % 1000:03d}Z-{pid}.jsonl"


class OTLPJsonFileSpanExporter(SpanExporter):
    """A :class:`SpanExporter` appending OTLP JSON lines to this process's own file."""

    def __init__(
        self,
        directory: str | os.PathLike[str] | None = None,
        rotation: RotationPolicy | None = None,
    ) -> None:
        self.directory = (
            Path(directory).absolute() if directory is not None else traces_dir_from_env()
        )
        self.rotation = rotation if rotation is not None else RotationPolicy.from_env()
        self.dropped_spans = 0
        self._written = 0  # bytes in the current file
        self._last_opened = 0.0  # time in the newest file name this exporter created
        self._housekeeping: threading.Thread | None = None
        self._path: Path | None = None
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._warned = False
        self._shutdown = False
        # The child of a fork must not append to its parent's file: forget the
        # inherited descriptor so the first export in the child opens a new one.
        # A weak reference keeps short-lived exporters (tests) collectable.
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_file(ref))

    @property
    def path(self) -> Path | None:
        """The file this process writes to, once the first batch has been exported."""
        return self._path

    def _reset_after_fork(self) -> None:
        # The lock may have been held by another thread at fork time.
        self._lock = threading.Lock()
        fd, self._fd, self._path = self._fd, None, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def _open(self) -> int:
        # A file of that name raises FileExistsError here; os.open reports it better.
        with contextlib.suppress(FileExistsError):
            self.directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        # Names must sort in creation order even for two files opened within one
        # millisecond (tiny rotation sizes), so a name is never older than the last.
        now = max(time.time(), self._last_opened + 0.001)
        for attempt in range(1000):
            stamp = now + attempt / 1000
            path = self.directory / trace_file_name(os.getpid(), stamp)
            try:
                fd = os.open(path, flags, _FILE_MODE)
                break
            except FileExistsError:
                continue
        else:
            raise FileExistsError(f"no free trace file name in {self.directory}")
        self._last_opened = stamp
        lock_shared(fd)
        self._path = path
        self._written = 0
        return fd

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = self._open()
        view = memoryview(data)
        while view:  # a regular file takes it all at once unless the disk fills up
            written = os.write(self._fd, view)
            view = view[written:]
        self._written += len(data)
        if self._written >= self.rotation.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        """Close the full file; the next export opens a new one.  Called with the lock held."""
        fd, path, self._fd, self._path = self._fd, self._path, None, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if path is None:
            return
        if self.rotation.compress != "none":
            # Compressing 100 MB takes seconds: not on the exporter thread.
            self._housekeeping = threading.Thread(
                target=self._tidy, args=(path,), name="spanscope-rotate", daemon=True
            )
            self._housekeeping.start()
        else:
            self._tidy(None)

    def _tidy(self, rotated: Path | None) -> None:
        try:
            if rotated is not None:
                compress(rotated, self.rotation.compress)
            prune(self.directory, self.rotation.max_files, active=self._path)
        except Exception as error:  # the spans are written; only tidying failed
            _logger.warning(
                "spanscope could not compress or prune trace files in %s: %s "
                "(hint: check the folder's permissions and free space)",
                self.directory,
                error,
            )

    def wait_for_housekeeping(self, timeout_s: float | None = None) -> None:
        """Wait until the compression of the last rotated file is done (tests, shutdown)."""
        thread = self._housekeeping
        if thread is not None:
            thread.join(timeout_s)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        if self._shutdown:
            self.dropped_spans += len(spans)
            return SpanExportResult.FAILURE
        try:
            data = encode_line(spans)
            with self._lock:
                self._write(data)
        except Exception as error:
            self._dropped(len(spans), error)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _dropped(self, count: int, error: Exception) -> None:
        self.dropped_spans += count
        if self._warned:
            _logger.debug("spanscope dropped %d spans: %s", count, error)
            return
        self._warned = True
        _logger.warning(
            "spanscope cannot write trace files to %s (%s); spans are dropped and counted "
            "(hint: make the folder writable or point %s at another one)",
            self.directory,
            error,
            SPANSCOPE_TRACES_DIR,
        )

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        # Every export is written straight to the descriptor; there is nothing to flush.
        return True

    def shutdown(self) -> None:
        with self._lock:
            self._shutdown = True
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        # Let a running compression finish, within reason, so no .partial is left.
        self.wait_for_housekeeping(timeout_s=10)
        if self.dropped_spans:
            _logger.warning("spanscope dropped %d spans in total", self.dropped_spans)


def _forget_file(ref: weakref.ref[OTLPJsonFileSpanExporter]) -> None:
    exporter = ref()
    if exporter is not None:
        exporter._reset_after_fork()
