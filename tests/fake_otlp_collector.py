"""A loopback OTLP/HTTP endpoint that answers as a test tells it: 2xx, 4xx/5xx, late, or
refusing only its first POSTs.  It counts the POSTs and the spans it accepted.

Hand-written on the standard library's HTTP server because the point is to answer
*wrongly*, which no real receiver does on purpose (``spanscope collect`` and the real
Collector are tested elsewhere as the well-behaved ends).
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

LOOPBACK = "127.0.0.1"


def span_count(request: ExportTraceServiceRequest) -> int:
    return sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


class FakeCollector:
    """Answers every POST with ``status`` after ``delay_s``; the first ``refuse_first``
    POSTs get 503 instead (a collector coming back)."""

    def __init__(
        self, status: HTTPStatus = HTTPStatus.OK, delay_s: float = 0.0, refuse_first: int = 0
    ) -> None:
        self.status = status
        self.delay_s = delay_s
        self.refuse_first = refuse_first
        self.posts = 0  # counted on arrival, so a slow answer is already visible
        self.accepted_spans = 0  # spans in the POSTs answered 2xx
        self._lock = threading.Lock()
        self._stop = threading.Event()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with collector._lock:
                    refuse = collector.posts < collector.refuse_first
                    collector.posts += 1
                # Event.wait, not sleep: teardown must not wait for a slow answer.
                collector._stop.wait(collector.delay_s)
                status = HTTPStatus.SERVICE_UNAVAILABLE if refuse else collector.status
                if status < 300:
                    spans = span_count(ExportTraceServiceRequest.FromString(body))
                    with collector._lock:
                        collector.accepted_spans += spans
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")  # an empty message is valid protobuf
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return  # keep the test output quiet

        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1/traces"

    def __enter__(self) -> FakeCollector:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
