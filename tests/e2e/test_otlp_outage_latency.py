"""A Collector that is down must not hurt the app: ``OTEL_TRACES_EXPORTER=spanscope_file,otlp``.

The demo server exports to its trace files and, over OTLP/HTTP, to an endpoint
that is either a closed loopback port (connection refused) or a "blackhole"
(a loopback listener that accepts and never answers). Compared with a
file-only run of the same traffic: latency stays within noise, every request
is served, every span still reaches the file, memory stays bounded and SIGTERM
still stops the process promptly.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from demo_harness import InstrumentedServer, Response, ServerExit
from demo_harness.ports import LOOPBACK, free_port
from demo_harness.trace_files import TraceFiles, read_trace_files
from demo_harness.traffic import get

pytestmark = pytest.mark.e2e

LATENCY_REQUESTS = 30  # books/fixed/: one query each, the latency that is compared
VOLUME_REQUESTS = 5  # books/: 2,001 queries each, more spans than one export queue holds
BOOKS = 1000
QUERIES = {"books/fixed/": 1, "books/": 1 + 2 * BOOKS}
# Generous on purpose: this guards against blocking on the network (seconds), not
# against a few percent; a shared 2-core machine is noisy.
LATENCY_FACTOR, LATENCY_SLACK_S = 1.5, 0.020
# The OTLP batch queue is bounded (8,192 spans); unbounded buffering of the
# ~10,000 spans sent here would show as tens of MB more.
RSS_GROWTH_BOUND_BYTES = 60 * 1024 * 1024
# spanscope's SIGTERM flush gives up after 5 s (spanscope.instrument.shutdown).
STOP_BOUND_S = 10.0
# (endpoint kind, OTLP protocol)
OUTAGES = [
    ("closed-port", "http/protobuf"),
    ("blackhole", "http/protobuf"),
    ("blackhole", "grpc"),
]


@contextmanager
def blackhole() -> Iterator[int]:
    """A loopback port that accepts connections and never sends a byte back."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(64)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for connection in held:
            connection.close()
        listener.close()


@contextmanager
def endpoint(kind: str) -> Iterator[int | None]:
    if kind == "blackhole":
        with blackhole() as port:
            yield port
    elif kind == "closed-port":
        yield free_port()  # nothing listens there: every connection is refused
    else:
        yield None


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


@dataclass
class OutageRun:
    name: str
    latencies_s: list[float]
    responses: list[Response]
    rss_growth: int
    stop_s: float
    server_exit: ServerExit
    files: TraceFiles

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s)


def serve_and_measure(
    name: str, base_env: dict[str, str], workdir: Path, protocol: str = "http/protobuf"
) -> OutageRun:
    traces = workdir / "traces"
    with endpoint(name) as port:
        env = {
            **base_env,
            "SPANSCOPE_TRACES_DIR": str(traces),
            # Export several times during the traffic, so the OTLP exporter is
            # busy failing while requests are measured.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        if port is not None:
            env["OTEL_TRACES_EXPORTER"] = "spanscope_file,otlp"
            env["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{LOOPBACK}:{port}"
        server = InstrumentedServer(env, workdir / "server.log")
        with server:
            responses = [get(server.base_url, "books/fixed/") for _ in range(3)]  # warm-up
            rss_before = rss_bytes(server.pid)
            latencies = []
            for number in range(LATENCY_REQUESTS):
                response = get(server.base_url, "books/fixed/")
                latencies.append(response.seconds)
                responses.append(response)
                if number % (LATENCY_REQUESTS // VOLUME_REQUESTS) == 0:
                    responses.append(get(server.base_url, "books/"))
            rss_growth = rss_bytes(server.pid) - rss_before
            started = time.monotonic()
            server_exit = server.stop()
            stop_s = time.monotonic() - started
    return OutageRun(
        f"{name} ({protocol})" if port is not None else name,
        latencies,
        responses,
        rss_growth,
        stop_s,
        server_exit,
        read_trace_files(traces),
    )


@pytest.fixture(scope="module")
def baseline(
    sqlite_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> OutageRun:
    return serve_and_measure("file-only", sqlite_demo_env, tmp_path_factory.mktemp("file-only"))


@pytest.fixture(scope="module", params=OUTAGES, ids=lambda o: f"{o[0]}-{o[1].split('/')[0]}")
def outage(
    request: pytest.FixtureRequest,
    sqlite_demo_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> OutageRun:
    name, protocol = request.param
    return serve_and_measure(name, sqlite_demo_env, tmp_path_factory.mktemp(name), protocol)


def test_app_keeps_serving_every_request(outage: OutageRun) -> None:
    assert {r.status for r in outage.responses} == {200}


def test_request_latency_stays_within_noise_of_the_file_only_run(
    outage: OutageRun, baseline: OutageRun
) -> None:
    bound = baseline.median_s * LATENCY_FACTOR + LATENCY_SLACK_S
    assert outage.median_s < bound, (
        f"median {outage.median_s * 1000:.1f} ms with the collector {outage.name}, "
        f"{baseline.median_s * 1000:.1f} ms file-only"
    )


def test_file_exporter_still_writes_every_span(outage: OutageRun) -> None:
    files = outage.files
    assert files.bad_lines == []
    for route, queries in QUERIES.items():
        requests = files.server_spans(route)
        assert len(requests) == sum(1 for r in outage.responses if r.path == route)
        for request in requests:
            assert sum(1 for s in files.in_trace(request.trace_id) if s.is_db) == queries


def test_memory_stays_bounded(outage: OutageRun) -> None:
    assert outage.rss_growth < RSS_GROWTH_BOUND_BYTES, f"RSS grew {outage.rss_growth:,} bytes"


def test_sigterm_stops_the_server_promptly(outage: OutageRun) -> None:
    assert not outage.server_exit.killed, outage.server_exit.log[-3000:]
    assert outage.stop_s < STOP_BOUND_S
