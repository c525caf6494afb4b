"""gunicorn's workers export over OTLP/HTTP to ``spanscope collect``, and ``analyze`` reads the result.

The multi-process setup without a Collector binary: four pre-fork workers,
each with its own OTLP exporter (``OTEL_TRACES_EXPORTER=otlp``), one receiver
writing the files. Every request arrives exactly once.
"""

from __future__ import annotations

import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from demo_harness import InstrumentedServer, Response, ServerExit
from demo_harness.launchers import LAUNCHERS
from demo_harness.ports import LOOPBACK, free_port, is_listening, wait_until
from demo_harness.tools import console_script
from demo_harness.trace_files import TraceFiles, read_trace_files
from demo_harness.traffic import send_concurrently
from e2e_demo import analyze_json

pytestmark = pytest.mark.e2e

REQUESTS = 24
CONCURRENCY = 8
ROUTE = "books/async/"
QUERIES_PER_REQUEST = 7  # acount() + 5 books + one author per book


@dataclass(frozen=True)
class Collected:
    responses: list[Response]
    server_exit: ServerExit
    collect_returncode: int
    collect_log: str
    files: TraceFiles
    report: dict[str, Any]


@contextmanager
def spanscope_collect(out: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [console_script("spanscope"), "collect", "--port", str(port), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        if not wait_until(lambda: is_listening(port), lambda: process.poll() is None, 30):
            pytest.fail(f"spanscope collect did not start: {process.communicate()[1][-2000:]}")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def collected(
    sqlite_demo_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Collected:
    workdir = tmp_path_factory.mktemp("collect-otlp")
    out, port = workdir / "collected", free_port()
    env = {
        **sqlite_demo_env,
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{LOOPBACK}:{port}",
    }
    with spanscope_collect(out, port) as receiver:
        server = InstrumentedServer(
            env, workdir / "server.log", launcher=LAUNCHERS["gunicorn-sync"]
        )
        with server:
            responses = send_concurrently(server.base_url, [ROUTE] * REQUESTS, CONCURRENCY)
            server_exit = server.stop()  # workers flush to the receiver as they exit
        receiver.send_signal(signal.SIGTERM)
        _, collect_log = receiver.communicate(timeout=15)
    return Collected(
        responses,
        server_exit,
        receiver.returncode,
        collect_log,
        read_trace_files(out),
        analyze_json(out),
    )


def test_every_request_is_served(collected: Collected) -> None:
    assert Counter(r.status for r in collected.responses) == {200: REQUESTS}
    assert not collected.server_exit.killed, collected.server_exit.log[-3000:]


def test_receiver_stops_cleanly_on_sigterm(collected: Collected) -> None:
    assert collected.collect_returncode == 0, collected.collect_log
    assert "spanscope: stopped; wrote" in collected.collect_log


def test_every_request_arrives_once_with_all_its_queries(collected: Collected) -> None:
    files = collected.files
    assert files.bad_lines == []
    requests = files.server_spans(ROUTE)
    assert len(requests) == REQUESTS
    ids = [(s.trace_id, s.span_id) for s in files.spans]
    assert len(ids) == len(set(ids))
    for request in requests:
        db_spans = [s for s in files.in_trace(request.trace_id) if s.is_db]
        assert len(db_spans) == QUERIES_PER_REQUEST
        assert {s.parent_span_id for s in db_spans} == {request.span_id}


def test_analyzer_reads_the_collected_files(collected: Collected) -> None:
    report = collected.report
    assert report["input"]["skipped_records"] == 0
    assert report["input"]["spans"] == len(collected.files.spans)
    assert {row["endpoint"]: row["requests"] for row in report["endpoints"]} == {
        f"GET {ROUTE}": REQUESTS
    }
