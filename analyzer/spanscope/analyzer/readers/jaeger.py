"""Jaeger UI JSON: what "Download JSON" on a trace (and the ``/api/traces`` query API)
returns -- ``{"data": [trace, ...]}``, each trace ``{"traceID", "spans", "processes"}``.

Mapped the way Jaeger's own OTLP translator maps it: the first ``CHILD_OF`` reference in
the same trace (else the first reference) is the parent; ``startTime`` and ``duration``
are microseconds; the ``span.kind``, ``otel.status_code``/``otel.status_description``,
``error`` and ``otel.scope.name``/``otel.library.name`` tags become the span's kind,
status and scope; the process (``processID`` into ``processes``, or an inline
``process``) becomes the resource, its ``serviceName`` the ``service.name``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.rows import SpanRows

_HINT: Final = 'a Jaeger UI JSON file is {"data": [{"traceID", "spans", "processes"}]}'
# Tags that become span fields, not attributes (as Jaeger's OTLP translator does).
_KIND_TAG: Final = "span.kind"
_STATUS_TAGS: Final = ("otel.status_code", "otel.status_description", "error")
_SCOPE_TAGS: Final = ("otel.scope.name", "otel.library.name")
_FIELD_TAGS: Final = frozenset(
    (_KIND_TAG, *_STATUS_TAGS, *_SCOPE_TAGS, "otel.scope.version", "otel.library.version")
)


class JaegerReader:
    name = "jaeger-json"

    def sniff(self, head: bytes) -> bool:
        start = registry.text_start(head)
        return (
            start[:1] in (b"{", b"[")
            and b'"traceID"' in head
            and b'"spanID"' in head
            and not any(marker in head for marker in registry.OTLP_MARKERS)
        )

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        document = source.read_json_document(path, diagnostics, _HINT)
        if document is source.NOT_JSON:
            return
        rows = SpanRows()
        for number, trace in enumerate(_traces(document), start=1):
            _add_trace(trace, rows, diagnostics, path, number)
        if len(rows):
            yield rows.to_table()


def _traces(document: Any) -> list[Any]:
    """The traces of a download (``data``), a bare trace, or a list of traces."""
    if isinstance(document, dict):
        data = document.get("data")
        if isinstance(data, list):
            return data
        return [document]
    return document if isinstance(document, list) else [document]


def _add_trace(
    trace: Any, rows: SpanRows, diagnostics: Diagnostics, path: str, number: int
) -> None:
    # orjson keeps no positions: problems are located at line 1, numbered by trace.
    if not isinstance(trace, dict) or not isinstance(trace.get("spans"), list):
        diagnostics.skip(path, 1, "not-traces", f"trace {number} has no list of spans", _HINT)
        return
    processes = trace.get("processes")
    processes = processes if isinstance(processes, dict) else {}
    for span in trace["spans"]:
        try:
            _add_span(span, processes, rows)
        except v.BadRecord as bad:
            diagnostics.skip(path, 1, bad.kind, f"trace {number}: {bad.message}", bad.hint)


def _add_span(span: Any, processes: dict[str, Any], rows: SpanRows) -> None:
    if not isinstance(span, dict):
        raise v.BadRecord("not-an-object", "a span is not a JSON object", _HINT)
    trace_id = v.padded_id(span.get("traceID"), 32, "traceID")
    start = v.micros_to_nanos(span.get("startTime"), "startTime", positive=True)
    duration = v.micros_to_nanos(span.get("duration", 0), "duration")
    tags = _tags(span.get("tags"))
    process = span.get("process")
    if not isinstance(process, dict):
        process = processes.get(str(span.get("processID")))
    process = process if isinstance(process, dict) else {}
    service = v.text(process.get("serviceName"))
    resource = [("service.name", service), *_tags(process.get("tags"))] if service else []
    status, message = _status(dict(tags))
    rows.append(
        start=start,
        end=start + duration,
        trace_id=trace_id,
        span_id=v.padded_id(span.get("spanID"), 16, "spanID"),
        parent_span_id=_parent(span, trace_id),
        name=v.text(span.get("operationName")),
        kind=v.span_kind(dict(tags).get(_KIND_TAG)),
        service_name=service,
        scope_name=next((value for key, value in tags if key in _SCOPE_TAGS), ""),
        status_code=status,
        status_message=message,
        span_attributes=[(key, value) for key, value in tags if key not in _FIELD_TAGS],
        resource_attributes=resource,
    )


def _parent(span: dict[str, Any], trace_id: str) -> str:
    references = span.get("references")
    candidates = (
        [r for r in references if isinstance(r, dict)] if isinstance(references, list) else []
    )

    def same_trace(reference: dict[str, Any]) -> bool:
        try:
            return v.padded_id(reference.get("traceID"), 32, "traceID") == trace_id
        except v.BadRecord:
            return False

    in_trace = [r for r in candidates if same_trace(r)]
    child_of = [r for r in in_trace if r.get("refType") == "CHILD_OF"]
    chosen = (child_of or in_trace or [{}])[0]
    parent = chosen.get("spanID")
    if parent is None:
        parent = span.get("parentSpanID")  # the model's deprecated field
    if parent is None or parent == "":
        return ""
    if isinstance(parent, str) and parent.strip("0") == "":
        return ""
    return v.padded_id(parent, 16, "parent spanID")


def _tags(items: Any) -> list[tuple[str, str]]:
    """``[{"key", "type", "value"}]`` as (key, string) pairs; ints, floats and booleans
    printed as the OTLP readers print them."""
    if not isinstance(items, list):
        return []
    return [
        (item["key"], v.stringify(item.get("value")))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("key"), str)
    ]


def _status(tags: dict[str, str]) -> tuple[str, str]:
    code = tags.get("otel.status_code")
    message = tags.get("otel.status_description", "")
    if code is not None:
        return v.status_code(code), message
    if tags.get("error", "").lower() == "true":
        return "Error", message
    return "Unset", message
