"""Zipkin v2 JSON: an array of spans (``POST /api/v2/spans``, a trace downloaded from the
Zipkin UI), or an array of such arrays (``GET /api/v2/traces``).

``timestamp`` and ``duration`` are microseconds; ``kind`` is ``CLIENT``/``SERVER``/
``PRODUCER``/``CONSUMER`` (absent: internal); ``localEndpoint.serviceName`` is the
service; ``tags`` are string attributes.  OpenTelemetry's Zipkin exporter stores the
status in ``otel.status_code``/``error`` tags and the scope in ``otel.scope.name``
(``otel.library.name`` before); those become the span's fields again.

Client and server halves of one RPC that share a span id (``"shared": true``) are
kept as two spans, the server half a request under the client half: see
:mod:`spanscope.analyzer.readers.zipkin_shared`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.readers.zipkin_shared import ZipkinSpan, endpoint_key, resolve_shared

_HINT: Final = "a Zipkin v2 file is a JSON array of spans with traceId, id and timestamp"
_SCOPE_TAGS: Final = ("otel.scope.name", "otel.library.name")
_FIELD_TAGS: Final = frozenset(
    (
        "otel.status_code",
        "otel.status_description",
        "error",
        *_SCOPE_TAGS,
        "otel.scope.version",
        "otel.library.version",
    )
)
# Zipkin has no INTERNAL kind: a span without one is local work.
_KINDS: Final = {
    "SERVER": "Server",
    "CLIENT": "Client",
    "PRODUCER": "Producer",
    "CONSUMER": "Consumer",
}


class ZipkinReader:
    name = "zipkin-json"

    def sniff(self, head: bytes) -> bool:
        start = registry.text_start(head)
        return (
            start[:1] == b"["
            and b'"traceId"' in head
            and b'"id"' in head
            and not any(marker in head for marker in registry.OTLP_MARKERS)
        )

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        document = source.read_json_document(path, diagnostics, _HINT)
        if document is source.NOT_JSON:
            return
        if not isinstance(document, list):
            diagnostics.skip(path, 1, "not-traces", "the file is not a JSON array", _HINT)
            return
        # A list of traces (each a list of spans) is flattened; orjson keeps no
        # positions, so problems are located at line 1 and numbered by span.
        spans = [s for item in document for s in (item if isinstance(item, list) else [item])]
        parsed = []
        for number, span in enumerate(spans, start=1):
            try:
                parsed.append(_parse_span(span))
            except v.BadRecord as bad:
                diagnostics.skip(path, 1, bad.kind, f"span {number}: {bad.message}", bad.hint)
        rows = SpanRows()
        for fields in resolve_shared(parsed):
            rows.append(**fields)
        if len(rows):
            yield rows.to_table()


def _parse_span(span: Any) -> ZipkinSpan:
    if not isinstance(span, dict):
        raise v.BadRecord("not-an-object", "a span is not a JSON object", _HINT)
    start = v.micros_to_nanos(span.get("timestamp"), "timestamp", positive=True)
    duration = v.micros_to_nanos(span.get("duration", 0), "duration")
    raw_tags = span.get("tags")
    tags = (
        {str(key): v.stringify(value) for key, value in raw_tags.items()}
        if isinstance(raw_tags, dict)
        else {}
    )
    endpoint = span.get("localEndpoint")
    service = v.text(endpoint.get("serviceName")) if isinstance(endpoint, dict) else ""
    status, message = _status(tags)
    parent = span.get("parentId")
    trace_id = v.padded_id(span.get("traceId"), 32, "traceId")
    span_id = v.padded_id(span.get("id"), 16, "id")
    parent_span_id = (
        v.normalize_parent_id(v.padded_id(parent, 16, "parentId"))
        if parent not in (None, "") and not (isinstance(parent, str) and parent.strip("0") == "")
        else ""
    )
    kind = _KINDS.get(str(span.get("kind")).upper(), "Internal")
    fields = {
        "start": start,
        "end": start + duration,
        "trace_id": trace_id,
        "span_id": span_id,
        "parent_span_id": parent_span_id,
        "name": v.text(span.get("name")),
        "kind": kind,
        "service_name": service,
        "scope_name": next((tags[key] for key in _SCOPE_TAGS if key in tags), ""),
        "status_code": status,
        "status_message": message,
        "span_attributes": [(key, value) for key, value in tags.items() if key not in _FIELD_TAGS],
        "resource_attributes": [("service.name", service)] if service else [],
    }
    return ZipkinSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        kind=kind,
        shared=span.get("shared") is True,
        service=service,
        endpoint=endpoint_key(endpoint),
        fields=fields,
    )


def _status(tags: dict[str, str]) -> tuple[str, str]:
    code = tags.get("otel.status_code")
    if code is not None:
        return v.status_code(code), tags.get("error", tags.get("otel.status_description", ""))
    if "error" in tags:
        # Zipkin's convention: an `error` tag marks a failed span; its value is the message.
        message = tags["error"]
        return "Error", "" if message.lower() == "true" else message
    return "Unset", ""
