"""``spanscope collect``: a small OTLP/HTTP trace receiver that writes files ``analyze`` reads.

For local multi-process runs and CI without a Collector binary: applications
export with the standard OTLP/HTTP exporter (``OTEL_TRACES_EXPORTER=otlp``,
``OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`` or ``http/json``) to
``POST /v1/traces``; each request body becomes one line of Collector-format
OTLP JSON (one ``TracesData`` per line, hex ids, 64-bit integers as strings),
the framing of the Collector's ``file`` exporter, in
``spans-<UTC time>Z-<pid>.jsonl`` files rotated by size. Production keeps the
real Collector (collector-config/).

The HTTP server is the standard library's ``ThreadingHTTPServer``: a dev tool
on loopback needs no web framework, and no new dependency is worth adding for
one endpoint. Protobuf bodies are decoded with ``opentelemetry-proto`` (message
classes only, no SDK).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import ipaddress
import json
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from spanscope.analyzer.errors import SpanscopeError, UsageError

TRACES_PATH = "/v1/traces"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # the OTLP/HTTP port every exporter defaults to
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
# A bound on one (decompressed) request: the SDK exporter sends batches of at
# most 512 spans, far below this; anything larger is a mistake or an attack.
MAX_BODY_BYTES = 64 * 1024 * 1024
_FILE_MODE = 0o600
_DIR_MODE = 0o700


class PayloadError(SpanscopeError):
    """A request body that is not an OTLP trace export (answered with 400)."""


class UnsupportedContentError(SpanscopeError):
    """A Content-Type or Content-Encoding the receiver does not speak (answered with 415)."""


# --- request bodies -> TracesData as Collector-format JSON ------------------------------

# OTLP/JSON writes trace and span ids as hex, but protobuf's canonical JSON
# mapping writes every `bytes` field as base64: these fields are converted back.
_SPAN_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_id(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        raise PayloadError(
            f"span id {value!r} is not valid base64", "send OTLP protobuf from an OTLP exporter"
        ) from None


def _ids_to_hex(document: dict[str, Any]) -> dict[str, Any]:
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for record in (span, *span.get("links", [])):
                    for key in _SPAN_ID_FIELDS:
                        if key in record:
                            record[key] = _hex_id(record[key])
    return document


def _from_protobuf(body: bytes) -> tuple[dict[str, Any], bytes, str]:
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as err:
        raise PayloadError(
            f"the body is not an OTLP ExportTraceServiceRequest ({err})",
            "send application/x-protobuf from an OTLP/HTTP exporter",
        ) from None
    # int64 fields (timestamps) come out as strings, enums (kind) as numbers:
    # exactly what the Collector's file exporter writes.
    document = MessageToDict(request, use_integers_for_enums=True)
    document = {"resourceSpans": document.get("resourceSpans", [])}  # {} for an empty export
    return _ids_to_hex(document), ExportTraceServiceResponse().SerializeToString(), _PROTOBUF


def _from_json(body: bytes) -> tuple[dict[str, Any], bytes, str]:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(
            f"the body is not JSON ({err})", "send OTLP/JSON (ExportTraceServiceRequest)"
        ) from None
    spans = document.get("resourceSpans") if isinstance(document, dict) else None
    if not isinstance(spans, list):
        raise PayloadError(
            "the JSON body has no resourceSpans list",
            "send an OTLP/JSON ExportTraceServiceRequest ({'resourceSpans': [...]})",
        )
    return {"resourceSpans": spans}, b"{}", _JSON


_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"

# Content-Type (without parameters) -> decoder returning (TracesData document,
# response body, response Content-Type).
DECODERS: dict[str, Callable[[bytes], tuple[dict[str, Any], bytes, str]]] = {
    _PROTOBUF: _from_protobuf,
    _JSON: _from_json,
}


def _gunzip(body: bytes) -> bytes:
    # Bounded: a small gzip body can expand to gigabytes.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as err:
        raise PayloadError(f"the gzip body is corrupt ({err})", "check the exporter") from None
    if len(data) > MAX_BODY_BYTES:
        raise PayloadError(
            f"the decompressed body is larger than {MAX_BODY_BYTES} bytes",
            "export smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE)",
        )
    return data


ENCODINGS: dict[str, Callable[[bytes], bytes]] = {
    "": lambda body: body,
    "identity": lambda body: body,
    "gzip": _gunzip,
}


def decode_export(
    body: bytes, content_type: str, content_encoding: str = ""
) -> tuple[dict[str, Any], bytes, str]:
    """One OTLP/HTTP trace export -> (TracesData as OTLP JSON, response body, its type)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    decoder = DECODERS.get(media_type)
    inflate = ENCODINGS.get(content_encoding.strip().lower())
    if decoder is None or inflate is None:
        raise UnsupportedContentError(
            f"unsupported Content-Type {content_type!r} / Content-Encoding {content_encoding!r}",
            f"send one of {', '.join(sorted(DECODERS))}, optionally gzip-encoded",
        )
    return decoder(inflate(body))


# --- files -----------------------------------------------------------------------------


def trace_file_name(pid: int, now: float) -> str:
    """The name the instrumentation's file exporter uses too: names sort by time."""
    milliseconds = int(now * 1000)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(milliseconds // 1000))
    return f"spans-{stamp}.{milliseconds % 1000:03d}Z-{pid}.jsonl"


class TraceFileWriter:
    """Appends whole lines to the current file; a new file once it would pass ``max_bytes``.

    One lock around each line: request threads never interleave their lines.
    """

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.files: list[Path] = []
        self.lines = 0
        self._fd: int | None = None
        self._written = 0
        self._last_stamp = 0.0
        self._lock = threading.Lock()

    def _open(self) -> int:
        self.directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        # Strictly increasing stamps: two files opened within a millisecond still sort.
        stamp = max(time.time(), self._last_stamp + 0.001)
        while True:
            path = self.directory / trace_file_name(os.getpid(), stamp)
            try:
                fd = os.open(path, flags, _FILE_MODE)
                break
            except FileExistsError:
                stamp += 0.001
        self._last_stamp = stamp
        self.files.append(path)
        self._written = 0
        return fd

    def write_line(self, document: dict[str, Any]) -> None:
        line = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        with self._lock:
            if self._fd is not None and self._written + len(line) > self.max_bytes:
                os.close(self._fd)
                self._fd = None
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view) :]
            self._written += len(line)
            self.lines += 1

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


# --- the HTTP server -------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: CollectServer
    protocol_version = "HTTP/1.1"  # keep-alive: the SDK exporter reuses its connection

    def setup(self) -> None:
        super().setup()
        self.server.connections.opened(self.connection)

    def parse_request(self) -> bool:
        # The request line has arrived: from here until the reply this
        # connection is busy, and a stop waits for it.
        self.server.connections.busy(self.connection)
        return super().parse_request()

    def finish(self) -> None:
        self.server.connections.closed(self.connection)
        super().finish()

    def do_POST(self) -> None:
        if self.path.split("?", 1)[0] != TRACES_PATH:
            self._reply(HTTPStatus.NOT_FOUND, f"only POST {TRACES_PATH} is served\n".encode())
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body too large\n")
            return
        body = self.rfile.read(length)
        try:
            document, response, response_type = decode_export(
                body,
                self.headers.get("Content-Type", ""),
                self.headers.get("Content-Encoding", ""),
            )
        except UnsupportedContentError as err:
            self._reply(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"{err}\n".encode())
            return
        except PayloadError as err:
            self._reply(HTTPStatus.BAD_REQUEST, f"{err}\n".encode())
            return
        if document["resourceSpans"]:
            self.server.writer.write_line(document)
        self._reply(HTTPStatus.OK, response, response_type)

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if not self.server.connections.idle(self.connection):
            self.close_connection = True  # stopping: this was the last request

    def log_message(self, format: str, *args: Any) -> None:
        # One line per export would drown the terminal; errors are in the replies.
        return


class _Connections:
    """Which keep-alive connections are idle (waiting for a next request) and which are busy.

    A stop closes the idle ones at once -- exporters keep their connection open
    between exports, and waiting on it would never end -- and lets the busy ones
    finish the request they are in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: set[socket.socket] = set()
        self.stopping = False

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            if self.stopping:
                _hang_up(connection)
            self._idle.add(connection)

    def busy(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.discard(connection)

    def idle(self, connection: socket.socket) -> bool:
        """Back to idle after a reply; False when stopping (then the connection must close)."""
        with self._lock:
            if self.stopping:
                return False
            self._idle.add(connection)
            return True

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.discard(connection)

    def stop(self) -> None:
        with self._lock:
            self.stopping = True
            for connection in self._idle:
                _hang_up(connection)


def _hang_up(connection: socket.socket) -> None:
    # shutdown, not close: the handler thread blocked reading it sees EOF and ends.
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class CollectServer(ThreadingHTTPServer):
    # Non-daemon request threads, joined by server_close(): a stop never cuts a
    # line in half or drops a batch that was already received.
    daemon_threads = False
    block_on_close = True

    def __init__(self, address: tuple[str, int], writer: TraceFileWriter) -> None:
        self.writer = writer
        self.connections = _Connections()
        super().__init__(address, _Handler)

    def server_close(self) -> None:
        self.connections.stop()
        super().server_close()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse to listen beyond loopback unless asked to: traces hold SQL and URLs."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise UsageError(
            f"--host {host} is not a loopback address: anyone who reaches it could send spans",
            "use 127.0.0.1 (the default), or pass --allow-remote if you mean it",
        )


def open_server(
    host: str, port: int, out_dir: Path, max_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> CollectServer:
    try:
        return CollectServer((host, port), TraceFileWriter(out_dir, max_bytes))
    except OSError as err:
        raise UsageError(
            f"cannot listen on {host}:{port}: {err.strerror}",
            "pick another --port (is a Collector already running there?)",
        ) from None


def serve(server: CollectServer) -> None:
    """Serve until interrupted (KeyboardInterrupt/SystemExit from a signal), then close cleanly."""
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        server.writer.close()
