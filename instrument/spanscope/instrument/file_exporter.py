"""Write spans as OTLP JSON lines, one file per process, in the Collector ``file`` exporter format.

- Folder: ``$SPANSCOPE_TRACES_DIR``, else ``./spanscope-traces`` resolved against
  the working directory when the exporter is created (before a server such as
  gunicorn may ``chdir``).  Created with mode 0700 if missing.
- File: ``spans-<UTC start time>-<pid>.jsonl`` (names sort by time), mode 0600,
  opened on the first export, so a process that never traces leaves no file.
  A forked child (pre-fork servers) opens its own file on its first export.
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
from spanscope.instrument.settings import DEFAULT_TRACES_DIR, SPANSCOPE_TRACES_DIR

_logger = logging.getLogger(__name__)

_FILE_MODE = 0o600
_DIR_MODE = 0o700


def traces_dir_from_env() -> Path:
    return Path(os.environ.get(SPANSCOPE_TRACES_DIR) or DEFAULT_TRACES_DIR).absolute()


def trace_file_name(pid: int, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"spans-{stamp}-{pid}.jsonl"


class OTLPJsonFileSpanExporter(SpanExporter):
    """A :class:`SpanExporter` appending OTLP JSON lines to this process's own file."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = (
            Path(directory).absolute() if directory is not None else traces_dir_from_env()
        )
        self.dropped_spans = 0
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
        path = self.directory / trace_file_name(os.getpid(), time.time())
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), _FILE_MODE
        )
        self._path = path
        return fd

    def _write(self, data: bytes) -> None:
        if self._fd is None:
            self._fd = self._open()
        view = memoryview(data)
        while view:  # a regular file takes it all at once unless the disk fills up
            written = os.write(self._fd, view)
            view = view[written:]

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
        if self.dropped_spans:
            _logger.warning("spanscope dropped %d spans in total", self.dropped_spans)


def _forget_file(ref: weakref.ref[OTLPJsonFileSpanExporter]) -> None:
    exporter = ref()
    if exporter is not None:
        exporter._reset_after_fork()
