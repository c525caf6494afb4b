"""Spans an OTLP exporter loses are counted and reported once; the app never waits or sees an error.

Every test drives the SDK's real OTLP/HTTP exporter, through the export
processor spanscope's configurator builds, against a real loopback HTTP server
that accepts, refuses, answers slowly, or is not there at all.
"""

from __future__ import annotations

import io
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import pytest
from fake_otlp_collector import FakeCollector
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanProcessor,
)
from spanscope.instrument import otlp_drops
from spanscope.instrument.configurator import enrichment_pipeline, queue_limits
from spanscope.instrument.file_exporter import OTLPJsonFileSpanExporter
from spanscope.instrument.otlp_drops import DropCountingSpanProcessor, DropTotals, QueueLimits

LOOPBACK = "127.0.0.1"
EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
SDK_BATCH_FAILURE = "Failed to export spans batch"
# Long enough for the SDK to see its schedule, short enough to keep tests quick.
SCHEDULE_MS = 50
EXPORT_TIMEOUT_S = 1.0


@contextmanager
def blackhole() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    listener = socket.create_server((LOOPBACK, 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{listener.getsockname()[1]}/v1/traces"
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


def closed_port() -> int:
    with socket.create_server((LOOPBACK, 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


def closed_endpoint() -> str:
    return f"http://{LOOPBACK}:{closed_port()}/v1/traces"


def export_processor(exporter: SpanExporter, **batch: int) -> SpanProcessor:
    _, make = enrichment_pipeline()
    return make(exporter, schedule_delay_millis=SCHEDULE_MS, **batch)


class Traced:
    """A TracerProvider whose only processor is the export processor under test."""

    def __init__(self, processor: SpanProcessor) -> None:
        assert isinstance(processor, DropCountingSpanProcessor)
        self.processor = processor
        self.provider = TracerProvider()
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("tests")
        self.ended = 0

    def end_spans(self, count: int) -> None:
        for _ in range(count):
            with self.tracer.start_as_current_span("SELECT"):
                pass
        self.ended += count

    def flush(self) -> None:
        self.processor.force_flush()

    def shutdown(self) -> DropTotals:
        self.provider.shutdown()
        return self.processor.exporter.totals()


def traced(endpoint: str, **batch: int) -> Traced:
    return Traced(export_processor(OTLPSpanExporter(endpoint, timeout=EXPORT_TIMEOUT_S), **batch))


def spanscope_warnings(caplog: pytest.LogCaptureFixture, needle: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == otlp_drops.__name__
        and r.levelno == logging.WARNING
        and needle in r.getMessage()
    ]


@pytest.fixture(autouse=True)
def _warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)


def test_a_refusing_collector_gets_one_warning_for_many_failed_batches(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        for _ in range(4):
            app.end_spans(3)
            app.flush()
        app.shutdown()
        posts = collector.posts

    assert posts >= 4
    assert spanscope_warnings(caplog, "failed:") == [
        f"spanscope: OTLP export to {collector.endpoint} failed: "
        "Failed to export spans batch code: 400, reason: Bad Request; spans are being dropped "
        "and counted, the app is not affected. Hint: check that the collector at "
        f"{collector.endpoint} is running and accepts this protocol; add spanscope_file to "
        "OTEL_TRACES_EXPORTER to keep a local copy meanwhile"
    ]


def test_the_sdk_per_batch_failure_lines_are_withheld(caplog: pytest.LogCaptureFixture) -> None:
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        for _ in range(3):
            app.end_spans(2)
            app.flush()
        app.shutdown()

    assert [r for r in caplog.records if r.name == EXPORTER_LOGGER] == []


def test_the_withheld_lines_stay_available_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=otlp_drops.__name__)
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        app.end_spans(2)
        app.flush()
        app.shutdown()

    withheld = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.DEBUG and SDK_BATCH_FAILURE in r.getMessage()
    ]
    assert len(withheld) == 1
    assert withheld[0].startswith(f"spanscope: withheld from {EXPORTER_LOGGER}:")


def test_the_exporter_logger_is_not_silenced_outside_an_export(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        app.end_spans(2)
        app.flush()
        logging.getLogger(EXPORTER_LOGGER).warning("an unrelated exporter warning")
        app.shutdown()

    assert "an unrelated exporter warning" in caplog.messages


def test_the_exporter_logger_is_not_silenced_on_other_threads_during_an_export(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with blackhole() as endpoint:
        app = traced(endpoint)
        app.end_spans(2)
        time.sleep(SCHEDULE_MS / 1000 * 4)  # the export thread now waits on the black hole
        logging.getLogger(EXPORTER_LOGGER).warning("logged by the app meanwhile")
        app.shutdown()

    assert "logged by the app meanwhile" in caplog.messages


def test_the_summary_counts_every_refused_span_once(caplog: pytest.LogCaptureFixture) -> None:
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        app.end_spans(5)
        app.flush()
        app.end_spans(7)
        totals = app.shutdown()

    assert totals == DropTotals(export_failed=12, queue_full=0)
    assert spanscope_warnings(caplog, "in total") == [
        f"spanscope: OTLP export to {collector.endpoint} dropped 12 spans in total: "
        "12 because the export failed, 0 because the export queue was full"
    ]


def test_a_healthy_collector_leaves_no_warning_and_gets_every_span(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector() as collector:
        app = traced(collector.endpoint)
        app.end_spans(10)
        totals = app.shutdown()

    assert collector.accepted_spans == 10
    assert totals.total == 0
    assert spanscope_warnings(caplog, "spanscope") == []


def test_recovery_is_logged_once_when_the_collector_accepts_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector(HTTPStatus.SERVICE_UNAVAILABLE) as collector:
        app = traced(collector.endpoint)
        app.end_spans(4)
        app.flush()  # 503 is retried until the 1 s timeout, then given up
        collector.status = HTTPStatus.OK
        for _ in range(3):
            app.end_spans(5)
            app.flush()
        totals = app.shutdown()

    assert len(spanscope_warnings(caplog, "failed:")) == 1
    assert spanscope_warnings(caplog, "works again") == [
        f"spanscope: OTLP export to {collector.endpoint} works again; at least 4 spans were "
        "dropped meanwhile (the totals are logged at exit)"
    ]
    assert collector.accepted_spans == 15
    assert totals == DropTotals(export_failed=4, queue_full=0)


def test_an_export_that_succeeds_on_retry_drops_nothing_and_keeps_the_final_flush(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector(refuse_first=1) as collector:
        app = Traced(export_processor(OTLPSpanExporter(collector.endpoint, timeout=5)))
        app.end_spans(3)
        app.flush()  # 503, then 200 on the SDK's retry about 1 s later
        app.end_spans(4)
        totals = app.shutdown()

    assert collector.accepted_spans == 7
    assert totals.total == 0
    assert spanscope_warnings(caplog, "spanscope") == []


def test_a_collector_that_is_not_listening_is_reported_with_the_connection_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 2 s: the SDK logs the connection error, retries once after ~1 s, then gives up.
    down = Traced(export_processor(OTLPSpanExporter(closed_endpoint(), timeout=2)))
    down.end_spans(3)
    down.flush()
    totals = down.shutdown()

    assert totals == DropTotals(export_failed=3, queue_full=0)
    (warning,) = spanscope_warnings(caplog, "failed:")
    assert "Connection refused" in warning or "NewConnectionError" in warning


def test_a_collector_that_never_answers_is_reported_with_how_long_the_export_waited(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with blackhole() as endpoint:
        app = traced(endpoint)
        app.end_spans(2)
        app.flush()  # waits out the exporter's 1 s timeout
        totals = app.shutdown()

    assert totals == DropTotals(export_failed=2, queue_full=0)
    (warning,) = spanscope_warnings(caplog, "failed:")
    assert re.search(r" \(after 1\.\d s\); spans are being dropped", warning), warning


def test_a_second_outage_right_after_a_recovery_is_counted_but_not_announced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with FakeCollector(HTTPStatus.BAD_REQUEST) as collector:
        app = traced(collector.endpoint)
        for status in (HTTPStatus.BAD_REQUEST, HTTPStatus.OK, HTTPStatus.BAD_REQUEST):
            collector.status = status
            app.end_spans(2)
            app.flush()
        totals = app.shutdown()

    assert len(spanscope_warnings(caplog, "failed:")) == 1
    assert len(spanscope_warnings(caplog, "works again")) == 1
    assert totals == DropTotals(export_failed=4, queue_full=0)


def test_spans_discarded_by_a_full_queue_are_counted_exactly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Each export takes 0.3 s; the app ends 200 spans at once into a queue of 8.
    with FakeCollector(HTTPStatus.OK, delay_s=0.3) as collector:
        app = traced(collector.endpoint, max_queue_size=8, max_export_batch_size=4)
        app.end_spans(200)
        time.sleep(0.5)  # the next export sees more spans handed over than can be queued
        totals = app.shutdown()
        received = collector.accepted_spans

    assert totals.export_failed == 0
    assert totals.queue_full > 0
    assert totals.queue_full + received == app.ended
    (warning,) = spanscope_warnings(caplog, "failed:")
    assert "its queue of 8 spans is full" in warning
    assert "raise OTEL_BSP_MAX_QUEUE_SIZE" in warning


def test_ending_spans_never_waits_for_a_collector_that_does_not_answer() -> None:
    with blackhole() as endpoint:
        app = traced(endpoint, max_queue_size=64, max_export_batch_size=8)
        app.end_spans(8)
        time.sleep(SCHEDULE_MS / 1000 * 4)  # an export is now stuck for EXPORT_TIMEOUT_S
        started = time.perf_counter()
        app.end_spans(500)
        elapsed = time.perf_counter() - started
        totals = app.shutdown()

    # Generous for a loaded machine, and still far below the stuck export's timeout.
    assert elapsed < EXPORT_TIMEOUT_S / 2
    assert totals.total == app.ended  # nothing reached the black hole
    assert totals.queue_full > 0  # 500 spans cannot wait in a queue of 64


def test_shutdown_with_a_failing_collector_does_not_retry_every_batch() -> None:
    with FakeCollector(HTTPStatus.SERVICE_UNAVAILABLE) as collector:
        exporter = OTLPSpanExporter(collector.endpoint, timeout=10)
        app = Traced(export_processor(exporter, max_queue_size=512, max_export_batch_size=8))
        app.end_spans(8)
        time.sleep(1.5)  # the first batch is in its retry backoff now
        app.end_spans(100)
        started = time.monotonic()
        totals = app.shutdown()
        took = time.monotonic() - started

    # 14 batches retried for up to 10 s each would take minutes.
    assert took < 3.0
    assert totals == DropTotals(export_failed=108, queue_full=0)


def test_an_exporter_that_raises_is_counted_and_never_raises_into_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed = io.StringIO()
    closed.close()  # ConsoleSpanExporter.export raises ValueError on a closed stream
    app = Traced(export_processor(ConsoleSpanExporter(out=closed)))
    app.end_spans(3)
    app.flush()
    totals = app.shutdown()

    assert totals == DropTotals(export_failed=3, queue_full=0)
    (warning,) = spanscope_warnings(caplog, "failed:")
    assert warning.startswith(
        "spanscope: ConsoleSpanExporter export to ConsoleSpanExporter failed: "
        "ValueError: I/O operation on closed file"
    )


def test_the_file_exporter_is_not_wrapped_it_counts_its_own_drops(tmp_path: object) -> None:
    processor = export_processor(OTLPJsonFileSpanExporter(str(tmp_path)))
    try:
        assert isinstance(processor, BatchSpanProcessor)
    finally:
        processor.shutdown()


def test_queue_limits_follow_explicit_arguments_then_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_BSP_MAX_QUEUE_SIZE", raising=False)
    monkeypatch.delenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", raising=False)
    assert queue_limits() == QueueLimits(8192, 512)
    assert queue_limits(100, max_export_batch_size=10) == QueueLimits(100, 10)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "300")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "30")
    assert queue_limits() == QueueLimits(300, 30)
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "lots")
    assert queue_limits().max_queue_size == 2048  # the SDK's fallback too


def test_the_summary_before_a_forced_exit_counts_unsent_spans_apart(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with blackhole() as endpoint:
        app = traced(endpoint, max_queue_size=64, max_export_batch_size=8)
        app.end_spans(20)
        time.sleep(SCHEDULE_MS / 1000 * 4)  # the first batch is stuck in the black hole
        otlp_drops.report_before_exit()
        otlp_drops.report_before_exit()  # once only
        summaries = spanscope_warnings(caplog, "in total")
        app.shutdown()

    assert summaries == [
        f"spanscope: OTLP export to {endpoint} dropped 20 spans in total: 0 because the "
        "export failed, 0 because the export queue was full, 20 not sent before the "
        "process exited"
    ]
    assert spanscope_warnings(caplog, "in total") == summaries  # shutdown does not repeat it


def test_the_grpc_exporter_is_counted_and_its_failure_lines_withheld_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    exporter = GrpcSpanExporter(f"http://{LOOPBACK}:{port}", insecure=True, timeout=1)
    app = Traced(export_processor(exporter))
    for _ in range(2):
        app.end_spans(3)
        app.flush()
    totals = app.shutdown()

    assert totals == DropTotals(export_failed=6, queue_full=0)
    (warning,) = spanscope_warnings(caplog, "failed:")
    assert warning.startswith(f"spanscope: OTLP export to {LOOPBACK}:{port} failed: ")
    assert "UNAVAILABLE" in warning
    grpc_logger = "opentelemetry.exporter.otlp.proto.grpc.exporter"
    assert [r for r in caplog.records if r.name == grpc_logger] == []
