"""Count the spans an OTLP (or any other non-file) exporter loses, say so once, and say when it recovers.

The SDK alone reports a collector that is down, slow or refusing as one log
line per export batch (plus retry warnings), and the spans a full batch queue
discards only as a ``Queue full`` warning its duplicate filter prints at most
once per 20 s; nobody counts them.  spanscope's configurator fronts every
exporter but its own file exporter with this module's two wrappers:

- :class:`DropCountingSpanExporter` (on the export thread) counts the spans of
  every export that returns ``FAILURE`` or raises; it never raises itself;
- :class:`DropCountingSpanProcessor` (around the BatchSpanProcessor) counts the
  spans it hands to the batch queue.

**Queue-full drops.**  In SDK 1.45 ``BatchProcessor.emit`` appends to a
``deque(maxlen=max_queue_size)``, so a full queue silently discards its oldest
span; the drop is visible only as that rate-limited log record and, when
``OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`` is set, as an internal metric,
both private to the processor.  Counting through the log record would undercount
(duplicates are filtered before any handler sees them); swapping the
processor's private metrics object would depend on internals.  Instead the
drops are derived from two public interfaces, the span processor's ``on_end``
and the exporter's ``export``: every sampled span handed to the queue either
reaches ``export`` or was discarded, so *queue-full drops = handed over -
exported*, exact once the queue has drained at shutdown.  While running, more
than ``max_queue_size + max_export_batch_size`` spans handed over but not yet
exported proves that some were discarded; that lower bound triggers the warning.

**Reporting.**  The first drop of an outage logs ONE warning naming the
endpoint, the reason and a hint; the first healthy export after it logs one
recovery line; a new outage starting less than :data:`QUIET_AFTER_RECOVERY_S`
after a recovery is counted but not announced, so a flapping collector cannot
flood the log.  At shutdown one summary line gives the totals, as the file
exporter does for its own drops.  All of it is logged on the export thread or
at shutdown, never on a request thread, whose only extra work is one counter
increment per span.

**The SDK's own per-batch complaints.**  While a wrapped export runs, records of
WARNING and above that the wrapped exporter's own loggers (those of the modules
of its class hierarchy) emit *on the exporting thread* are withheld: they are
about that very export, whose outcome this module reports, and the first of
them becomes the reason in the warning.  They stay available at DEBUG on this
module's logger.  Other threads, other loggers (urllib3, grpc, the batch
processor's ``Queue full``) and the exporter's records outside an export are
untouched, so no unrelated error is hidden.

**Shutdown.**  A failing collector would make the final flush retry every
remaining batch for up to the exporter's timeout (10 s each), far beyond the
5 s SIGTERM deadline.  When the collector is failing at shutdown, the wrapped
exporter is shut down first (which aborts its retry wait) and the remaining
batches are counted as dropped at once; a healthy collector gets the normal
final flush.  If the process must exit before the queue drained (SIGTERM
deadline), :mod:`spanscope.instrument.shutdown` asks for the summary anyway,
with the spans not sent yet counted apart.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

_logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# A collector that fails again this soon after a recovery was announced is
# flapping: its new outage is counted and summed up at shutdown, not announced.
QUIET_AFTER_RECOVERY_S = 60.0
# A failed export that took this long says so in the warning.
SLOW_EXPORT_S = 1.0
# The longest reason quoted from an exporter's own log record.
MAX_REASON_CHARS = 300
# Modules whose loggers are never an exporter's own.
_NOT_EXPORTER_MODULES = frozenset({"builtins", "abc", "typing"})
_RETRYING_SUFFIX = re.compile(r",?\s*retrying in [0-9.]+\s*s\.?\s*$")

# Why spans are dropped -> what the user can do about it.
HINTS: dict[str, str] = {
    "export_failed": (
        "check that the collector at {endpoint} is running and accepts this protocol; "
        "add spanscope_file to OTEL_TRACES_EXPORTER to keep a local copy meanwhile"
    ),
    "queue_full": (
        "the collector at {endpoint} takes spans more slowly than the app ends them; "
        "check its health, or raise OTEL_BSP_MAX_QUEUE_SIZE (memory grows with it)"
    ),
}


@dataclass(frozen=True)
class QueueLimits:
    """The batch processor's queue size and batch size (it does not expose them)."""

    max_queue_size: int
    max_export_batch_size: int

    @property
    def overflow_margin(self) -> int:
        # Spans handed over but not yet exported are in the queue (at most
        # max_queue_size) or in the batch just taken from it (at most one batch).
        return self.max_queue_size + self.max_export_batch_size


@dataclass(frozen=True)
class DropTotals:
    export_failed: int
    queue_full: int
    # Handed over but neither exported nor known to be dropped when the process
    # had to exit: still queued, being exported, or discarded from a full queue.
    unsent_at_exit: int = 0

    @property
    def total(self) -> int:
        return self.export_failed + self.queue_full + self.unsent_at_exit


def drop_warning(label: str, endpoint: str, cause: str, reason: str) -> str:
    return (
        f"spanscope: {label} to {endpoint} failed: {reason}; spans are being dropped and "
        f"counted, the app is not affected. Hint: {HINTS[cause].format(endpoint=endpoint)}"
    )


def recovery_line(label: str, endpoint: str, dropped: int) -> str:
    return (
        f"spanscope: {label} to {endpoint} works again; at least {dropped} spans were dropped "
        "meanwhile (the totals are logged at exit)"
    )


def summary_line(label: str, endpoint: str, totals: DropTotals) -> str:
    line = (
        f"spanscope: {label} to {endpoint} dropped {totals.total} spans in total: "
        f"{totals.export_failed} because the export failed, "
        f"{totals.queue_full} because the export queue was full"
    )
    if totals.unsent_at_exit:
        line += f", {totals.unsent_at_exit} not sent before the process exited"
    return line


def reason_from(complaints: Sequence[str], error: BaseException | None, elapsed_s: float) -> str:
    """The most telling reason: the exception, else the exporter's first complaint.

    A slow failure says how long it took: "timeout" alone does not tell a
    collector that never answers from one that answered an error at once.
    """
    if error is not None:
        text = f"{type(error).__name__}: {error}"
    elif complaints:
        # The first complaint names the cause (status, connection error); later
        # ones only say the retries ran out.  "retrying in 1.0s" would mislead here.
        text = _RETRYING_SUFFIX.sub("", complaints[0])
    else:
        text = "the exporter reported FAILURE"
    text = text.rstrip(". ")
    if elapsed_s >= SLOW_EXPORT_S:
        text += f" (after {elapsed_s:.1f} s)"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 1] + "…"


def describe_exporter(exporter: SpanExporter) -> tuple[str, str]:
    """("OTLP export" or "<Class> export", the endpoint or the class name)."""
    cls = type(exporter)
    is_otlp = cls.__module__.startswith("opentelemetry.exporter.otlp")
    label = "OTLP export" if is_otlp else f"{cls.__name__} export"
    # OTLP's HTTP and gRPC exporters keep the resolved endpoint in ``_endpoint``
    # (no public accessor); other exporters are named by their class.
    endpoint = getattr(exporter, "_endpoint", None)
    return label, str(endpoint) if endpoint else cls.__name__


def exporter_loggers(exporter: SpanExporter) -> list[logging.Logger]:
    """The loggers of the modules of ``exporter``'s class hierarchy (where it logs its failures)."""
    modules = dict.fromkeys(cls.__module__ for cls in type(exporter).__mro__)
    return [logging.getLogger(name) for name in modules if name not in _NOT_EXPORTER_MODULES]


class _ExportComplaints(logging.Filter):
    """Withholds an exporter's WARNING+ records emitted on the thread running a wrapped export."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        # Read from the shutdown thread: has the export running now complained?
        self.complained = False

    def begin(self) -> None:
        self.complained = False
        self._local.complaints = []

    def end(self) -> list[str]:
        complaints: list[str] = getattr(self._local, "complaints", None) or []
        self._local.complaints = None
        return complaints

    def filter(self, record: logging.LogRecord) -> bool:
        complaints: list[str] | None = getattr(self._local, "complaints", None)
        if complaints is None or record.levelno < logging.WARNING:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        complaints.append(message)
        self.complained = True
        _logger.debug("spanscope: withheld from %s: %s", record.name, message)
        return False


class DropCountingSpanExporter(SpanExporter):
    """Counts the spans of failed exports and reports outages; never raises.

    ``accepted`` returns how many spans the processor has handed to the batch
    queue so far (see :class:`DropCountingSpanProcessor`).
    """

    def __init__(
        self, exporter: SpanExporter, limits: QueueLimits, accepted: Callable[[], int]
    ) -> None:
        self.exporter = exporter
        self.limits = limits
        self.label, self.endpoint = describe_exporter(exporter)
        self._accepted = accepted
        self._complaints = _ExportComplaints()
        self._loggers = exporter_loggers(exporter)
        for logger in self._loggers:
            logger.addFilter(self._complaints)
        weakref.finalize(self, _remove_filter, self._loggers, self._complaints)
        self._reset()
        ref = weakref.ref(self)
        # A forked child starts with an empty queue (the SDK clears it) and its own log.
        _at_fork_in_child(lambda: _call(ref, DropCountingSpanExporter._reset))

    def _reset(self) -> None:
        self._report_lock = threading.Lock()
        self.submitted = 0  # spans that reached export()
        self.exported = 0  # spans the exporter took (SUCCESS)
        self.export_failed = 0  # spans of exports that failed or raised
        self._failing = False  # the last export failed
        self._exporting = 0  # spans of the export running now
        self._queue_dropped_seen = 0  # lower bound of queue-full drops at the last export
        self._outage = False
        self._outage_start_dropped = 0
        self._announced = False
        self._recovered_at = -QUIET_AFTER_RECOVERY_S
        self._shutting_down = False
        self._exporter_shut_down = False
        self._reported = False

    # --- export thread -------------------------------------------------------------

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        count = len(spans)
        try:
            return self._export(spans, count)
        except Exception:  # bookkeeping must never break the export thread
            _logger.debug("spanscope: drop accounting failed", exc_info=True)
            return SpanExportResult.FAILURE

    def _export(self, spans: Sequence[ReadableSpan], count: int) -> SpanExportResult:
        queue_dropped = self._queue_dropped_lower_bound()
        self.submitted += count
        if queue_dropped > self._queue_dropped_seen:
            newly = queue_dropped - self._queue_dropped_seen
            self._queue_dropped_seen = queue_dropped
            self._dropped("queue_full", self._queue_full_reason(), newly)
            overflowing = True
        else:
            overflowing = False
        if self._shutting_down and self.failing:
            # Do not spend the exit retrying a collector that is failing.
            self.export_failed += count
            return SpanExportResult.FAILURE
        self._exporting = count
        try:
            return self._export_counted(spans, count, overflowing)
        finally:
            self._exporting = 0

    def _export_counted(
        self, spans: Sequence[ReadableSpan], count: int, overflowing: bool
    ) -> SpanExportResult:
        error: BaseException | None = None
        started = time.monotonic()
        self._complaints.begin()
        try:
            result = self.exporter.export(spans)
        except Exception as raised:
            result, error = SpanExportResult.FAILURE, raised
        finally:
            complaints = self._complaints.end()
        # ``_failing`` is set while ``_exporting`` is still non-zero, so that
        # ``failing`` never reads False in between for a failed export.
        if result is SpanExportResult.SUCCESS:
            self.exported += count
            self._failing = False
            if not overflowing:
                self._healthy()
        else:
            self.export_failed += count
            self._failing = True
            reason = reason_from(complaints, error, time.monotonic() - started)
            self._dropped("export_failed", reason, count)
        return result

    def _queue_dropped_lower_bound(self) -> int:
        in_flight = self._accepted() - self.submitted
        return max(0, in_flight - self.limits.overflow_margin)

    def _queue_full_reason(self) -> str:
        return f"its queue of {self.limits.max_queue_size} spans is full"

    def _dropped_so_far(self) -> int:
        return self.export_failed + self._queue_dropped_seen

    def _dropped(self, cause: str, reason: str, count: int) -> None:
        """``count`` spans were just dropped (already added to the totals)."""
        if self._outage:
            return
        self._outage = True
        self._outage_start_dropped = self._dropped_so_far() - count
        if time.monotonic() - self._recovered_at < QUIET_AFTER_RECOVERY_S:
            self._announced = False  # flapping: counted, summed up at shutdown
            return
        self._announced = True
        _logger.warning(drop_warning(self.label, self.endpoint, cause, reason))

    def _healthy(self) -> None:
        if not self._outage:
            return
        self._outage = False
        if self._announced:
            self._announced = False
            self._recovered_at = time.monotonic()
            dropped = self._dropped_so_far() - self._outage_start_dropped
            # WARNING, not INFO: it closes the warning above, wherever that was shown.
            _logger.warning(recovery_line(self.label, self.endpoint, dropped))

    @property
    def failing(self) -> bool:
        """The last export failed, or the one running now has complained."""
        return self._failing or (self._exporting > 0 and self._complaints.complained)

    # --- shutdown ------------------------------------------------------------------

    def begin_shutdown(self) -> None:
        """Called before the batch processor's final flush."""
        self._shutting_down = True
        if self.failing:
            # Aborts the retry wait of an export in progress (OTLP exporters wait
            # on an event their shutdown sets); later batches are not retried.
            self._shut_down_exporter()

    def _shut_down_exporter(self) -> None:
        if self._exporter_shut_down:
            return
        self._exporter_shut_down = True
        try:
            self.exporter.shutdown()
        except Exception:
            _logger.debug("spanscope: exporter shutdown failed", exc_info=True)

    def shutdown(self) -> None:
        self._shutting_down = True
        self._shut_down_exporter()
        _remove_filter(self._loggers, self._complaints)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return bool(self.exporter.force_flush(timeout_millis))
        except Exception:
            _logger.debug("spanscope: exporter force_flush failed", exc_info=True)
            return False

    def totals(self) -> DropTotals:
        """The drops so far; exact once the batch queue has drained."""
        not_exported = self._accepted() - self.submitted
        if self._exporting:
            # An export is still running: the queue may not have drained either.
            unsent = not_exported + self._exporting
            return DropTotals(self.export_failed, 0, unsent)
        return DropTotals(self.export_failed, not_exported)

    def report_totals(self) -> DropTotals:
        """Log the summary line, once per process (shutdown, or the exit deadline)."""
        with self._report_lock:
            totals = self.totals()
            if self._reported:
                return totals
            self._reported = True
        if totals.total:
            _logger.warning(summary_line(self.label, self.endpoint, totals))
        return totals


class DropCountingSpanProcessor(SpanProcessor):
    """Counts the sampled spans handed to ``processor`` (a BatchSpanProcessor); reports at shutdown."""

    def __init__(
        self,
        exporter: SpanExporter,
        make_processor: Callable[[SpanExporter], SpanProcessor],
        limits: QueueLimits,
    ) -> None:
        self._ended = itertools.count()
        self._reads = 0
        self._read_lock = threading.Lock()
        self.exporter = DropCountingSpanExporter(exporter, limits, self.accepted)
        self.processor = make_processor(self.exporter)
        self._shut_down = False
        ref = weakref.ref(self)
        _at_fork_in_child(lambda: _call(ref, DropCountingSpanProcessor._reset_counter))
        _register_exit_report(self.exporter)

    def _reset_counter(self) -> None:
        self._ended = itertools.count()
        self._reads = 0
        self._read_lock = threading.Lock()

    def accepted(self) -> int:
        """Sampled spans handed to the batch queue so far."""
        # ``next`` on an itertools.count is one atomic step under the GIL, the
        # cheapest thread-safe increment on the request thread; reading it also
        # increments, so the readers' own steps are subtracted (under a lock:
        # readers are the export and shutdown threads, never a request).
        with self._read_lock:
            value = next(self._ended) - self._reads
            self._reads += 1
        return value

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.processor.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        context = span.context
        # The batch processor queues sampled spans only.
        if context is not None and context.trace_flags.sampled and not self._shut_down:
            next(self._ended)
        self.processor.on_end(span)

    def shutdown(self) -> None:
        self._shut_down = True
        self.exporter.begin_shutdown()
        try:
            self.processor.shutdown()
        finally:
            self.exporter.report_totals()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.processor.force_flush(timeout_millis))


# --- process-wide hooks ------------------------------------------------------------

_exit_reports: weakref.WeakSet[DropCountingSpanExporter] = weakref.WeakSet()


def _register_exit_report(exporter: DropCountingSpanExporter) -> None:
    _exit_reports.add(exporter)


def report_before_exit() -> None:
    """Log every summary not logged yet: the process must exit before its queues drained."""
    for exporter in list(_exit_reports):
        try:
            exporter.report_totals()
        except Exception:
            _logger.debug("spanscope: could not report dropped spans", exc_info=True)


def _remove_filter(loggers: Sequence[logging.Logger], log_filter: logging.Filter) -> None:
    for logger in loggers:
        logger.removeFilter(log_filter)


def _call(ref: weakref.ref[_T], method: Callable[[_T], None]) -> None:
    target = ref()
    if target is not None:
        method(target)


def _at_fork_in_child(action: Callable[[], None]) -> None:
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=action)
