"""A Collector that refuses, answers slowly, or comes up late must not hurt the app.

The books demo runs under ``opentelemetry-instrument`` with
``OTEL_TRACES_EXPORTER=spanscope_file,otlp`` over OTLP/HTTP (protobuf), against
a loopback endpoint that answers every export with 503 (retryable) or 400 (not
retryable), or answers 200 only after 3 s. Compared with a file-only twin
serving the same traffic in lockstep: every request is served, latency stays within the bound of
``test_otlp_outage_latency``, and the trace files still hold every span.

A collector that is down when the app starts and comes up later
(``spanscope collect`` on the port the app was told about) receives the spans
of the requests sent after it came up: the exporter recovers by itself.

What the server log shows (spanscope.instrument.otlp_drops):

- one spanscope warning per outage, on the first dropped span, naming the
  endpoint, the reason and a hint -- instead of the SDK's one line per batch
  (``Failed to export spans batch ...``) and per retry (``Transient error ...``),
  which spanscope withholds; a ``works again`` line once export succeeds again;
- at exit one summary line whose counts (export failed, queue full, not sent
  before the exit deadline) add up to exactly the spans the endpoint did not
  take -- give or take the one batch in flight when the SIGTERM deadline ends
  the process -- while the trace files hold them all;
- 503: each batch is retried (backoff 1, 2, 4 s within the 10 s export timeout)
  while spanscope's queue of 8,192 spans overflows; the SDK's own ``Queue full,
  dropping Span.`` warning (not withheld: it is not about an export) goes
  through the SDK's duplicate filter and is printed at most once per 20 s window.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

import pytest
from demo_harness import InstrumentedServer, Response, ServerExit
from demo_harness.ports import LOOPBACK, free_port, wait_until
from demo_harness.trace_files import TraceFiles, read_trace_files
from demo_harness.traffic import get
from e2e_export_runs import (
    ExportRun,
    check_every_span_on_file,
    check_latency_within_noise,
    exporting_env,
    serve,
)
from fake_otlp_collector import FakeCollector
from spanscope.analyzer.load import load
from test_servers_collect_otlp import spanscope_collect

pytestmark = pytest.mark.e2e

LATENCY_REQUESTS = 20  # books/fixed/: one query each, the latency that is compared
VOLUME_REQUESTS = 2  # books/: 2,001 queries each, keeps both exporters busy
SLOW_ANSWER_S = 3.0  # below the exporter's 10 s timeout: the export succeeds, late
MAX_EXPORT_BATCH = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE default
# After the measured traffic of the 503 run: more books/ requests, so that with
# the two above ~14,000 spans pile up behind the retrying exporter, more than
# spanscope's OTLP queue (8,192 spans) holds even after the exporter has tried
# (and failed) a batch of 512 every ~7 s for a minute: drops must happen.
FLOOD_REQUESTS = 5
# name: (how the endpoint answers a POST /v1/traces, after how long, flood requests)
FAULTS = {
    "refusing-503": (HTTPStatus.SERVICE_UNAVAILABLE, 0.0, FLOOD_REQUESTS),
    "refusing-400": (HTTPStatus.BAD_REQUEST, 0.0, 0),
    "slow": (HTTPStatus.OK, SLOW_ANSWER_S, 0),
}
SDK_FAILED_EXPORT = "Failed to export spans batch"
SDK_RETRYING = "Transient error"
QUEUE_FULL = "Queue full, dropping Span"
DROP_WARNING = "failed: "  # spanscope: OTLP export to <endpoint> failed: <reason>; ...
RECOVERED = "works again"
SUMMARY = re.compile(
    r"spanscope: OTLP export to (?P<endpoint>\S+) dropped (?P<total>\d+) spans in total: "
    r"(?P<failed>\d+) because the export failed, (?P<queue_full>\d+) because the export "
    r"queue was full(?:, (?P<unsent>\d+) not sent before the process exited)?"
)
RECOVERY_REQUESTS = 5
ARRIVAL_TIMEOUT_S = 20.0  # longest backoff wait (4 s) plus a batch, generously


@dataclass(frozen=True)
class DropSummary:
    failed: int
    queue_full: int
    unsent: int

    @property
    def total(self) -> int:
        return self.failed + self.queue_full + self.unsent


def drop_summaries(log: str) -> list[DropSummary]:
    summaries = []
    for match in SUMMARY.finditer(log):
        summary = DropSummary(
            int(match["failed"]), int(match["queue_full"]), int(match["unsent"] or 0)
        )
        assert summary.total == int(match["total"]), match[0]
        summaries.append(summary)
    return summaries


def spanscope_lines(log: str, needle: str) -> list[str]:
    return [line for line in log.splitlines() if "spanscope: " in line and needle in line]


@dataclass
class FaultRun(ExportRun):
    posts: int = 0  # POSTs the endpoint received: one per export attempt
    accepted_spans: int = 0  # spans in the POSTs it answered 2xx

    def log_count(self, needle: str) -> int:
        return self.server_exit.log.count(needle)


def serve_faulty(
    name: str, base_env: dict[str, str], workdir: Path, port: int, flood: int = 0
) -> ExportRun:
    return serve(
        name,
        base_env,
        workdir,
        port=port,
        latency_requests=LATENCY_REQUESTS,
        volume_requests=VOLUME_REQUESTS,
        flood=flood,
    )


@pytest.fixture(scope="module")
def fault_runs(
    sqlite_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], FaultRun]:
    """Run each fault once per module, however many tests look at it."""
    runs: dict[str, FaultRun] = {}

    def run(name: str) -> FaultRun:
        if name not in runs:
            status, delay_s, flood = FAULTS[name]
            with FakeCollector(status, delay_s) as collector:
                workdir = tmp_path_factory.mktemp(name)
                run = serve_faulty(name, sqlite_demo_env, workdir, collector.port, flood)
                runs[name] = FaultRun(
                    **vars(run), posts=collector.posts, accepted_spans=collector.accepted_spans
                )
        return runs[name]

    return run


@pytest.fixture(params=list(FAULTS))
def fault(request: pytest.FixtureRequest, fault_runs: Callable[[str], FaultRun]) -> FaultRun:
    return fault_runs(str(request.param))


def test_app_keeps_serving_every_request(fault: FaultRun) -> None:
    assert {r.status for r in fault.responses} == {200}
    assert not fault.server_exit.killed, fault.server_exit.log[-3000:]


def test_the_endpoint_was_really_exported_to(fault: FaultRun) -> None:
    assert fault.posts > 0, fault.server_exit.log[-3000:]


def test_request_latency_stays_within_noise_of_the_file_only_run(fault: FaultRun) -> None:
    check_latency_within_noise(fault)


def test_file_exporter_still_writes_every_span(fault: FaultRun) -> None:
    check_every_span_on_file(fault)


REFUSING = ["refusing-400", "refusing-503"]


@pytest.mark.parametrize("name", REFUSING)
def test_a_refusing_collector_is_warned_about_once_however_many_batches_it_refuses(
    name: str, fault_runs: Callable[[str], FaultRun]
) -> None:
    fault = fault_runs(name)
    log = fault.server_exit.log
    assert fault.posts > 1, log[-3000:]  # several batches were refused...
    (warning,) = spanscope_lines(log, DROP_WARNING)  # ...and said once
    assert warning.startswith(f"spanscope: OTLP export to http://{LOOPBACK}:"), warning
    assert "the app is not affected. Hint: " in warning
    # The SDK's line per refused batch and per retry is withheld (spanscope's
    # warning quotes the first one as its reason).
    sdk_lines = [line for line in log.splitlines() if "spanscope: " not in line]
    assert [line for line in sdk_lines if SDK_FAILED_EXPORT in line] == [], log[-3000:]
    assert [line for line in sdk_lines if SDK_RETRYING in line] == [], log[-3000:]


@pytest.mark.parametrize("name", REFUSING)
def test_the_exit_summary_counts_exactly_the_spans_the_collector_did_not_take(
    name: str, fault_runs: Callable[[str], FaultRun]
) -> None:
    fault = fault_runs(name)
    (summary,) = drop_summaries(fault.server_exit.log)
    assert fault.accepted_spans == 0
    assert summary.total == len(fault.files.spans) - fault.accepted_spans
    # The exporter is not retried at exit once it is known to fail: nothing is left unsent.
    assert summary.unsent == 0


def test_a_collector_that_refuses_while_spans_pile_up_drops_them_from_the_queue(
    fault_runs: Callable[[str], FaultRun],
) -> None:
    fault = fault_runs("refusing-503")
    log = fault.server_exit.log
    (summary,) = drop_summaries(log)
    assert summary.queue_full > 0 and summary.failed > 0, summary
    # The SDK's duplicate filter prints its own queue warning once per 20 s window at most.
    assert 1 <= fault.log_count(QUEUE_FULL) <= 2, log[-3000:]


def test_a_slow_collector_drops_nothing_while_the_app_runs(
    fault_runs: Callable[[str], FaultRun],
) -> None:
    fault = fault_runs("slow")
    log = fault.server_exit.log
    assert spanscope_lines(log, DROP_WARNING) == [], log[-3000:]
    summaries = drop_summaries(log)
    # At exit, 3 s per batch cannot drain the backlog within spanscope's 5 s SIGTERM
    # deadline: what is left is summed up as not sent. A batch in flight at the
    # deadline may have reached the endpoint all the same: at most one batch over.
    unsent = sum(s.unsent for s in summaries)
    assert sum(s.failed + s.queue_full for s in summaries) == 0
    missing = len(fault.files.spans) - fault.accepted_spans
    assert 0 <= unsent - missing <= MAX_EXPORT_BATCH, (unsent, missing, log[-3000:])


def test_memory_stays_bounded(fault: FaultRun) -> None:
    # Generous: this guards against buffering everything the endpoint refused.
    assert fault.rss_growth < fault.file_only.rss_growth + 40 * 1024 * 1024


# --- recovery: the collector comes up after the app ---------------------------------


@dataclass
class Recovery:
    log_before_collector: str
    up_since_ns: int
    before: list[Response]
    after: list[Response]
    arrived: bool
    server_exit: ServerExit
    collected_dir: Path
    files: TraceFiles


def server_trace_ids_since(out: Path, since_ns: int) -> list[str]:
    """Trace ids of the ``books/fixed/`` requests in ``out`` that started at ``since_ns`` or later."""
    if not any(out.glob("*.jsonl")):
        return []
    rows = load(out).select(["TraceId", "SpanKind", "http_route", "Timestamp"]).to_pylist()
    since = datetime.fromtimestamp(since_ns / 1e9, UTC)
    return [
        str(row["TraceId"])
        for row in rows
        if row["SpanKind"] == "Server"
        and row["http_route"] == "books/fixed/"
        and row["Timestamp"] >= since
    ]


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    return wait_until(check, lambda: True, timeout_s)


@pytest.fixture(scope="module")
def recovery(sqlite_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Recovery:
    workdir = tmp_path_factory.mktemp("recovers")
    port, out = free_port(), workdir / "collected"
    env = exporting_env(sqlite_demo_env, workdir / "traces", port)
    server = InstrumentedServer(env, workdir / "server.log")
    with server:
        before = [get(server.base_url, "books/fixed/") for _ in range(RECOVERY_REQUESTS)]
        # Wait until the exporter has really failed against the closed port.
        wait_for(lambda: bool(spanscope_lines(server.read_log(), DROP_WARNING)), ARRIVAL_TIMEOUT_S)
        log_before = server.read_log()
        with spanscope_collect(out, port) as receiver:
            up_since_ns = time.time_ns()
            after = [get(server.base_url, "books/fixed/") for _ in range(RECOVERY_REQUESTS)]
            # Arrival is checked before SIGTERM: recovery must not depend on the
            # shutdown flush.
            arrived = wait_for(
                lambda: len(server_trace_ids_since(out, up_since_ns)) >= RECOVERY_REQUESTS,
                ARRIVAL_TIMEOUT_S,
            )
            server_exit = server.stop()
            receiver.send_signal(signal.SIGTERM)
            receiver.communicate(timeout=15)
    return Recovery(
        log_before,
        up_since_ns,
        before,
        after,
        arrived,
        server_exit,
        out,
        read_trace_files(workdir / "traces"),
    )


def test_app_serves_every_request_before_and_after_the_collector_comes_up(
    recovery: Recovery,
) -> None:
    assert {r.status for r in recovery.before + recovery.after} == {200}


def test_the_collector_being_down_is_warned_about_once(recovery: Recovery) -> None:
    before = recovery.log_before_collector
    (warning,) = spanscope_lines(before, DROP_WARNING)
    assert "Connection refused" in warning or "NewConnectionError" in warning, warning
    assert spanscope_lines(recovery.server_exit.log, DROP_WARNING) == [warning]


def test_the_recovery_is_logged_once_after_the_collector_came_up(recovery: Recovery) -> None:
    assert spanscope_lines(recovery.log_before_collector, RECOVERED) == []
    assert len(spanscope_lines(recovery.server_exit.log, RECOVERED)) == 1


def test_the_exit_summary_counts_exactly_the_spans_the_collector_missed(
    recovery: Recovery,
) -> None:
    (summary,) = drop_summaries(recovery.server_exit.log)
    collected = load(recovery.collected_dir).num_rows
    assert summary.failed > 0
    assert summary.total == len(recovery.files.spans) - collected


def test_requests_after_the_collector_came_up_reach_it(recovery: Recovery) -> None:
    assert recovery.arrived, recovery.server_exit.log[-3000:]
    received = server_trace_ids_since(recovery.collected_dir, recovery.up_since_ns)
    assert len(received) == len(set(received)) == len(recovery.after)


def test_file_exporter_has_every_request_of_both_phases(recovery: Recovery) -> None:
    assert recovery.files.bad_lines == []
    assert len(recovery.files.server_spans("books/fixed/")) == 2 * RECOVERY_REQUESTS
    assert not recovery.server_exit.killed, recovery.server_exit.log[-3000:]
