"""Outgoing HTTP spans of the upstream instrumentations are marked spanscope.layer=http."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
import requests
import urllib3
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from spanscope.instrument.processor import SpanscopeSpanProcessor


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/books/1"
    server.shutdown()
    server.server_close()


CLIENTS: dict[str, tuple[type, Callable[[str], object]]] = {
    "requests": (RequestsInstrumentor, lambda u: requests.get(u, timeout=10)),
    "urllib3": (URLLib3Instrumentor, lambda u: urllib3.PoolManager().request("GET", u)),
    "httpx": (HTTPXClientInstrumentor, lambda u: httpx.get(u, timeout=10)),
}


@pytest.mark.parametrize("client", sorted(CLIENTS))
def test_outgoing_request_span_is_layer_http_with_calling_line(client: str, url: str) -> None:
    instrumentor_cls, call = CLIENTS[client]
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SpanscopeSpanProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = instrumentor_cls()
    instrumentor.instrument(tracer_provider=provider)
    try:
        call(url)
    finally:
        instrumentor.uninstrument()

    spans = [s for s in exporter.get_finished_spans() if s.attributes]
    assert len(spans) == 1, [s.name for s in spans]
    attributes = spans[0].attributes or {}
    assert attributes["spanscope.layer"] == "http"
    assert attributes["code.file.path"] == __file__
    assert "spanscope.db.params_hash" not in attributes
