"""A Collector that is down must not hurt the app: ``OTEL_TRACES_EXPORTER=spanscope_file,otlp``.

The demo server exports to its trace files and, over OTLP/HTTP, to an endpoint
that is either a closed loopback port (connection refused) or a "blackhole"
(a loopback listener that accepts and never answers). Compared with a
file-only twin serving the same traffic in lockstep: latency stays within
noise; and every request is served, every span still reaches the file, memory
stays bounded and SIGTERM still stops the process promptly.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from demo_harness.ports import LOOPBACK, free_port
from e2e_export_runs import (
    ExportRun,
    check_every_span_on_file,
    check_latency_within_noise,
    serve,
)

pytestmark = pytest.mark.e2e

LATENCY_REQUESTS = 30  # books/fixed/: one query each, the latency that is compared
VOLUME_REQUESTS = 5  # books/: 2,001 queries each, more spans than one export queue holds
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
def endpoint(kind: str) -> Iterator[int]:
    if kind == "blackhole":
        with blackhole() as port:
            yield port
    else:
        assert kind == "closed-port", kind
        yield free_port()  # nothing listens there: every connection is refused


def serve_and_measure(
    name: str, base_env: dict[str, str], workdir: Path, protocol: str = "http/protobuf"
) -> ExportRun:
    with endpoint(name) as port:
        return serve(
            f"{name} ({protocol})",
            base_env,
            workdir,
            port=port,
            protocol=protocol,
            latency_requests=LATENCY_REQUESTS,
            volume_requests=VOLUME_REQUESTS,
        )


@pytest.fixture(scope="module", params=OUTAGES, ids=lambda o: f"{o[0]}-{o[1].split('/')[0]}")
def outage(
    request: pytest.FixtureRequest,
    sqlite_demo_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> ExportRun:
    name, protocol = request.param
    return serve_and_measure(name, sqlite_demo_env, tmp_path_factory.mktemp(name), protocol)


def test_app_keeps_serving_every_request(outage: ExportRun) -> None:
    assert {r.status for r in outage.responses} == {200}


def test_request_latency_stays_within_noise_of_the_file_only_run(outage: ExportRun) -> None:
    check_latency_within_noise(outage)


def test_file_exporter_still_writes_every_span(outage: ExportRun) -> None:
    check_every_span_on_file(outage)


def test_memory_stays_bounded(outage: ExportRun) -> None:
    assert outage.rss_growth < RSS_GROWTH_BOUND_BYTES, f"RSS grew {outage.rss_growth:,} bytes"


def test_sigterm_stops_the_server_promptly(outage: ExportRun) -> None:
    assert not outage.server_exit.killed, outage.server_exit.log[-3000:]
    assert outage.stop_s < STOP_BOUND_S
