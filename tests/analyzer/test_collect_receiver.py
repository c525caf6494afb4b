"""``spanscope collect``: the real OTLP/HTTP exporter of the SDK sends, the analyzer reads the files.

The receiver runs in-process on a loopback port picked by the OS; the last
tests run the ``spanscope collect`` command itself and stop it with SIGTERM.
"""

from __future__ import annotations

import gzip
import json
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from spanscope.analyzer import read
from spanscope.analyzer.collect import CollectServer, check_host, open_server, serve
from spanscope.analyzer.errors import UsageError

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
BOOKS_SAMPLE = SAMPLES / "django_books_nplus1.jsonl"
SPANSCOPE = str(Path(sys.executable).with_name("spanscope"))


# --- spans made by the real SDK ----------------------------------------------------------


def make_spans(queries: int = 3) -> list[ReadableSpan]:
    """One request span with ``queries`` DB children, as the SDK records them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "collect-test"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("collect-test")
    with tracer.start_as_current_span(
        "GET books/",
        kind=SpanKind.SERVER,
        attributes={"http.request.method": "GET", "http.route": "books/"},
    ):
        for number in range(queries):
            with tracer.start_as_current_span(
                "SELECT",
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system": "postgresql",
                    "db.statement": "SELECT * FROM inventory_author WHERE id = %s",
                    "spanscope.test.number": number,
                },
            ):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def span_ids(spans: list[ReadableSpan]) -> set[tuple[str, str]]:
    return {
        (format(s.context.trace_id, "032x"), format(s.context.span_id, "016x"))
        for s in spans
        if s.context is not None
    }


def table_ids(out_dir: Path) -> set[tuple[str, str]]:
    table = read(out_dir).table
    pairs = zip(table["TraceId"].to_pylist(), table["SpanId"].to_pylist(), strict=True)
    return {(str(trace_id), str(span_id)) for trace_id, span_id in pairs}


def lines_of(out_dir: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(out_dir.glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]


# --- an in-process receiver ---------------------------------------------------------------


class Receiver:
    def __init__(self, out_dir: Path, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.out_dir = out_dir
        self.server: CollectServer = open_server("127.0.0.1", 0, out_dir, max_bytes)
        self.thread = threading.Thread(target=serve, args=(self.server,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/v1/traces"

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)

    def post(
        self, body: bytes, headers: dict[str, str], path: str = "/v1/traces"
    ) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.server.port}{path}"
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path / "traces")
    yield running
    running.stop()


# --- the SDK's exporter as client -------------------------------------------------------


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_sdk_protobuf_export_succeeds_and_every_span_reaches_the_analyzer(
    receiver: Receiver, compression: Compression
) -> None:
    spans = make_spans()
    exporter = OTLPSpanExporter(endpoint=receiver.url, compression=compression, timeout=10)
    assert exporter.export(spans) == SpanExportResult.SUCCESS
    receiver.stop()
    assert table_ids(receiver.out_dir) == span_ids(spans)


def test_ids_are_written_as_lowercase_hex_not_base64(receiver: Receiver) -> None:
    spans = make_spans(queries=1)
    OTLPSpanExporter(endpoint=receiver.url, timeout=10).export(spans)
    receiver.stop()
    written = lines_of(receiver.out_dir)[0]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    ids = {(s["traceId"], s["spanId"]) for s in written}
    assert ids == span_ids(spans)
    parents = {s.get("parentSpanId") for s in written if s["kind"] == 3}
    server = next(s for s in spans if s.kind is SpanKind.SERVER)
    assert parents == {format(server.context.span_id, "016x")}


def test_lines_use_collector_json_conventions(receiver: Receiver) -> None:
    OTLPSpanExporter(endpoint=receiver.url, timeout=10).export(make_spans(queries=1))
    receiver.stop()
    spans = lines_of(receiver.out_dir)[0]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    span = next(s for s in spans if s["name"] == "SELECT")
    assert isinstance(span["startTimeUnixNano"], str)  # int64 as a string
    assert isinstance(span["kind"], int)  # enums as numbers, as the Collector writes them
    number = next(a for a in span["attributes"] if a["key"] == "spanscope.test.number")
    assert number["value"] == {"intValue": "0"}


def test_each_export_is_one_line(receiver: Receiver) -> None:
    exporter = OTLPSpanExporter(endpoint=receiver.url, timeout=10)
    for _ in range(3):
        exporter.export(make_spans(queries=2))
    receiver.stop()
    assert len(lines_of(receiver.out_dir)) == 3


def test_success_reply_is_an_empty_export_response(receiver: Receiver) -> None:
    body = ExportTraceServiceRequest().SerializeToString()
    status, reply = receiver.post(body, {"Content-Type": "application/x-protobuf"})
    assert status == 200
    response = ExportTraceServiceResponse()
    response.ParseFromString(reply)
    assert response == ExportTraceServiceResponse()
    assert not response.HasField("partial_success")


# --- JSON bodies --------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_collector_json_body_is_written_and_read_back(receiver: Receiver, encoding: str) -> None:
    line = BOOKS_SAMPLE.read_text().splitlines()[0].encode()
    body = gzip.compress(line) if encoding else line
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if encoding:
        headers["Content-Encoding"] = encoding
    status, reply = receiver.post(body, headers)
    receiver.stop()
    assert (status, json.loads(reply)) == (200, {})
    expected = read(BOOKS_SAMPLE).table  # the sample's lines hold the same spans
    sample_ids = set(
        zip(expected["TraceId"].to_pylist(), expected["SpanId"].to_pylist(), strict=True)
    )
    assert table_ids(receiver.out_dir) <= sample_ids
    assert table_ids(receiver.out_dir)


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-protobuf", b"\xff\xff\xff garbage"), ("application/json", b"{not json")],
)
def test_garbage_body_is_answered_400_with_a_message(
    receiver: Receiver, content_type: str, body: bytes
) -> None:
    status, reply = receiver.post(body, {"Content-Type": content_type})
    assert status == 400
    assert b"hint:" in reply


def test_json_without_resource_spans_is_answered_400(receiver: Receiver) -> None:
    status, reply = receiver.post(b'{"spans": []}', {"Content-Type": "application/json"})
    assert status == 400
    assert b"resourceSpans" in reply


def test_unknown_content_type_is_answered_415(receiver: Receiver) -> None:
    status, reply = receiver.post(b"hello", {"Content-Type": "text/plain"})
    assert status == 415
    assert b"application/x-protobuf" in reply


def test_unknown_content_encoding_is_answered_415(receiver: Receiver) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "br"}
    status, _ = receiver.post(b"{}", headers)
    assert status == 415


def test_other_paths_are_answered_404(receiver: Receiver) -> None:
    status, _ = receiver.post(b"{}", {"Content-Type": "application/json"}, path="/v1/metrics")
    assert status == 404


def test_refused_requests_write_nothing(receiver: Receiver) -> None:
    receiver.post(b"garbage", {"Content-Type": "application/x-protobuf"})
    receiver.post(b"hello", {"Content-Type": "text/plain"})
    receiver.stop()
    assert not receiver.out_dir.exists() or list(receiver.out_dir.iterdir()) == []


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
def test_non_loopback_host_is_refused_without_allow_remote(host: str) -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        check_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    check_host(host, allow_remote=False)  # raises on refusal


# --- rotation -------------------------------------------------------------------------------


def test_files_rotate_by_size_and_keep_every_span(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path / "traces", max_bytes=4096)
    exporter = OTLPSpanExporter(endpoint=receiver.url, timeout=10)
    sent: set[tuple[str, str]] = set()
    for _ in range(6):
        spans = make_spans(queries=5)
        sent |= span_ids(spans)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    receiver.stop()
    files = sorted(receiver.out_dir.glob("*.jsonl"))
    assert len(files) >= 2
    # Sorted by name is sorted by creation: each file holds whole lines only.
    assert files == sorted(files, key=lambda p: p.stat().st_mtime_ns)
    assert table_ids(receiver.out_dir) == sent


# --- the command ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"spanscope collect did not start: {process.communicate()[1][-2000:]}")


def test_collect_command_writes_files_analyze_reads_and_stops_on_sigterm(tmp_path: Path) -> None:
    out, port = tmp_path / "traces", free_port()
    process = subprocess.Popen(
        [SPANSCOPE, "collect", "--port", str(port), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_listening(port, process)
        spans = make_spans(queries=4)
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=10)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "wrote 1 batch(es)" in stderr
    analysis = subprocess.run(
        [SPANSCOPE, "analyze", str(out), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert analysis.returncode == 0, analysis.stderr
    report = json.loads(analysis.stdout)
    assert report["input"]["spans"] == len(spans)
    assert report["input"]["skipped_records"] == 0
    assert [row["endpoint"] for row in report["endpoints"]] == ["GET books/"]


def test_collect_command_refuses_a_public_host_with_a_hint(tmp_path: Path) -> None:
    done = subprocess.run(
        [SPANSCOPE, "collect", "--host", "0.0.0.0", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("spanscope: error: --host 0.0.0.0 is not a loopback address")
    assert "--allow-remote" in done.stderr
