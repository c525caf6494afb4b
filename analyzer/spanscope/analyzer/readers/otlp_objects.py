"""OTLP ``TracesData`` objects (already parsed JSON) -> span rows, one Python loop per span.

This is the reference implementation of the OTLP/JSON rules: lowerCamel and snake_case
keys, the legacy ``instrumentationLibrarySpans``, hex ids in any case or base64, int64 as
strings or numbers, enums as numbers or names.  Every span that breaks a rule is reported
through :class:`Diagnostics` (with the line it came from) and the rest of the object kept.
"""

from __future__ import annotations

from typing import Any, Final

from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.rows import SpanRows

_NOT_TRACES_HINT: Final = "each record must be an OTLP TracesData object with a resourceSpans list"

_SCOPE_LISTS: Final = (
    "scopeSpans",
    "scope_spans",
    "instrumentationLibrarySpans",
    "instrumentation_library_spans",
)
_SCOPE_KEYS: Final = ("scope", "instrumentationLibrary", "instrumentation_library")


def _first(mapping: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        value = mapping.get(key)
        if value is not None:
            return value
    return None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def add_traces_data(
    document: Any, rows: SpanRows, diagnostics: Diagnostics, path: str, line: int
) -> None:
    """Append every valid span of one ``TracesData`` object to ``rows``."""
    if not isinstance(document, dict):
        diagnostics.skip(
            path,
            line,
            "not-an-object",
            f"record is a JSON {_json_type(document)}",
            _NOT_TRACES_HINT,
        )
        return
    resource_spans = _first(document, "resourceSpans", "resource_spans")
    if resource_spans is None:
        if document:
            diagnostics.skip(
                path, line, "not-traces", "record has no resourceSpans", _NOT_TRACES_HINT
            )
        return
    if not isinstance(resource_spans, list):
        diagnostics.skip(path, line, "not-traces", "resourceSpans is not a list", _NOT_TRACES_HINT)
        return
    for resource_span in _dicts(resource_spans):
        resource = resource_span.get("resource")
        resource_attributes = (
            v.attributes_text(resource.get("attributes")) if isinstance(resource, dict) else []
        )
        service_name = next(
            (value for key, value in resource_attributes if key == "service.name"), ""
        )
        for scope_span in _dicts(_first(resource_span, *_SCOPE_LISTS)):
            scope = _first(scope_span, *_SCOPE_KEYS)
            scope_name = v.text(scope.get("name")) if isinstance(scope, dict) else ""
            for span in _dicts(scope_span.get("spans")):
                try:
                    _add_span(span, rows, service_name, scope_name, resource_attributes)
                except v.BadRecord as bad:
                    diagnostics.skip(path, line, bad.kind, bad.message, bad.hint)


def _add_span(
    span: dict[str, Any],
    rows: SpanRows,
    service_name: str,
    scope_name: str,
    resource_attributes: list[tuple[str, str]],
) -> None:
    trace_id = v.normalize_id(_first(span, "traceId", "trace_id"), 32, "traceId")
    span_id = v.normalize_id(_first(span, "spanId", "span_id"), 16, "spanId")
    parent_id = v.normalize_parent_id(_first(span, "parentSpanId", "parent_span_id"))
    start = v.unix_nanos(
        _first(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"
    )
    end = v.unix_nanos(_first(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")
    v.check_interval(start, end)
    status = span.get("status")
    status = status if isinstance(status, dict) else {}
    rows.append(
        start=start,
        end=end,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_id,
        name=v.text(span.get("name")),
        kind=v.span_kind(span.get("kind")),
        service_name=service_name,
        scope_name=scope_name,
        status_code=v.status_code(status.get("code")),
        status_message=v.text(status.get("message")),
        span_attributes=v.attributes_text(span.get("attributes")),
        resource_attributes=resource_attributes,
    )


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), "null")
