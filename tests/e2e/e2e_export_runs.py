"""The instrumented books demo exporting over OTLP to an endpoint that misbehaves.

A run serves the same traffic whatever the endpoint does -- timed ``books/fixed/``
requests (one query each) with a few heavy ``books/`` requests (2,001 queries each)
in between -- and a file-only server beside it serves the same traffic in lockstep,
request for request, so that a machine slowing down or speeding up (other work on a
shared runner) hits both alike; the checks every such run must pass against its
file-only twin live here too.
"""

from __future__ import annotations

import statistics
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from demo_harness import InstrumentedServer, Response, ServerExit
from demo_harness.ports import LOOPBACK
from demo_harness.trace_files import TraceFiles, read_trace_files
from demo_harness.traffic import get

BOOKS = 1000
QUERIES = {"books/fixed/": 1, "books/": 1 + 2 * BOOKS}
# Generous on purpose: this guards against blocking on the network (seconds), not
# against a few percent; a shared 2-core machine is noisy.
LATENCY_FACTOR, LATENCY_SLACK_S = 1.5, 0.020
# Export several times during the traffic, so the OTLP exporter is busy while
# requests are measured.
SCHEDULE_DELAY_MS = "200"
WARM_UP_REQUESTS = 3


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class FileOnlyTwin:
    """The file-only server that served a run's traffic in lockstep with it."""

    latencies_s: list[float]
    rss_growth: int  # over the measured traffic

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s)


@dataclass
class ExportRun:
    name: str
    latencies_s: list[float]
    responses: list[Response]
    rss_growth: int  # over the measured traffic
    stop_s: float  # from SIGTERM to the process's exit
    server_exit: ServerExit
    files: TraceFiles
    file_only: FileOnlyTwin

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s)


def exporting_env(
    base_env: dict[str, str], traces: Path, port: int | None, protocol: str = "http/protobuf"
) -> dict[str, str]:
    """The demo's environment writing trace files to ``traces`` and, when ``port`` is
    given, exporting over OTLP (``protocol``) to that loopback port as well."""
    env = {
        **base_env,
        "SPANSCOPE_TRACES_DIR": str(traces),
        "OTEL_BSP_SCHEDULE_DELAY": SCHEDULE_DELAY_MS,
    }
    if port is not None:
        env["OTEL_TRACES_EXPORTER"] = "spanscope_file,otlp"
        env["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{LOOPBACK}:{port}"
    return env


def serve(
    name: str,
    base_env: dict[str, str],
    workdir: Path,
    *,
    port: int | None,
    protocol: str = "http/protobuf",
    latency_requests: int,
    volume_requests: int,
    flood: int = 0,
) -> ExportRun:
    """Serve the measured traffic, then ``flood`` more ``books/`` requests, then SIGTERM.

    The server writes its trace files to ``workdir/traces`` and, when ``port`` is
    given, exports over OTLP (``protocol``) to that loopback port too; its log goes to
    ``workdir/server.log``.  A file-only twin (the same without OTLP, files and log
    under ``workdir/file-only/``) serves every measured request next to it,
    alternately before and after it.
    """
    server = InstrumentedServer(
        exporting_env(base_env, workdir / "traces", port, protocol), workdir / "server.log"
    )
    twin = InstrumentedServer(
        exporting_env(base_env, workdir / "file-only" / "traces", None),
        workdir / "file-only" / "server.log",
    )
    with ExitStack() as running:
        running.enter_context(server)
        running.enter_context(twin)
        responses = [get(server.base_url, "books/fixed/") for _ in range(WARM_UP_REQUESTS)]
        for _ in range(WARM_UP_REQUESTS):
            get(twin.base_url, "books/fixed/")
        rss_before, twin_rss_before = rss_bytes(server.pid), rss_bytes(twin.pid)
        latencies, twin_latencies = [], []
        for number in range(latency_requests):
            if number % 2:
                twin_latencies.append(get(twin.base_url, "books/fixed/").seconds)
            response = get(server.base_url, "books/fixed/")
            if not number % 2:
                twin_latencies.append(get(twin.base_url, "books/fixed/").seconds)
            latencies.append(response.seconds)
            responses.append(response)
            if number % (latency_requests // volume_requests) == 0:
                responses.append(get(server.base_url, "books/"))
                get(twin.base_url, "books/")
        rss_growth = rss_bytes(server.pid) - rss_before
        twin_run = FileOnlyTwin(twin_latencies, rss_bytes(twin.pid) - twin_rss_before)
        twin.stop()
        responses += [get(server.base_url, "books/") for _ in range(flood)]
        started = time.monotonic()
        server_exit = server.stop()
        stop_s = time.monotonic() - started
    files = read_trace_files(workdir / "traces")
    return ExportRun(name, latencies, responses, rss_growth, stop_s, server_exit, files, twin_run)


def check_latency_within_noise(run: ExportRun) -> None:
    """The run's median request latency against its file-only twin's, served in lockstep."""
    bound = run.file_only.median_s * LATENCY_FACTOR + LATENCY_SLACK_S
    assert run.median_s < bound, (
        f"median {run.median_s * 1000:.1f} ms with the collector {run.name}, "
        f"{run.file_only.median_s * 1000:.1f} ms file-only"
    )


def check_every_span_on_file(run: ExportRun) -> None:
    """Every request served has its server span and all its queries in the trace files."""
    files = run.files
    assert files.bad_lines == []
    for route, queries in QUERIES.items():
        requests = files.server_spans(route)
        assert len(requests) == sum(1 for r in run.responses if r.path == route)
        for request in requests:
            assert sum(1 for s in files.in_trace(request.trace_id) if s.is_db) == queries
