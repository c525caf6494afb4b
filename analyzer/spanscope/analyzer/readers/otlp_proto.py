"""OTLP protobuf ``TracesData`` messages -> span rows, one Python loop per span: the
reference conversion of the Collector's ``format: proto`` messages.

Batches of messages are read as columns by :mod:`.otlp_proto_batch`; every message that
path cannot take exactly (one that does not decode, an invalid span, attribute values
that are bytes, arrays or key-value lists) comes here, which converts what it can and
reports the rest.  Decoding uses the generated classes of ``opentelemetry-proto`` (the
message definitions only: it imports neither the SDK nor anything else of
OpenTelemetry's runtime), backed by protobuf's C implementation.  Values are stringified
by the same rules as the JSON readers, so a span reads the same whether the Collector
wrote it as JSON or as protobuf."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any, Final

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.schema import SPAN_KINDS, STATUS_CODES

_HINT: Final = "each frame must hold one OTLP protobuf TracesData message"


def add_traces_data(
    payload: bytes, rows: SpanRows, diagnostics: Diagnostics, path: str, record: int
) -> None:
    """Append every valid span of one serialized ``TracesData`` message to ``rows``."""
    try:
        message = TracesData.FromString(payload)
    except (DecodeError, RecursionError, ValueError) as err:
        diagnostics.skip(path, record, "invalid-protobuf", f"invalid protobuf ({err})", _HINT)
        return
    for resource_spans in message.resource_spans:
        resource_attributes = _attributes(resource_spans.resource.attributes)
        service_name = next(
            (value for key, value in resource_attributes if key == "service.name"), ""
        )
        for scope_spans in resource_spans.scope_spans:
            scope_name = scope_spans.scope.name
            for span in scope_spans.spans:
                try:
                    start, end = _interval(span.start_time_unix_nano, span.end_time_unix_nano)
                    rows.append(
                        start=start,
                        end=end,
                        trace_id=_id(span.trace_id, 16, "traceId"),
                        span_id=_id(span.span_id, 8, "spanId"),
                        parent_span_id=_parent_id(span.parent_span_id),
                        name=span.name,
                        kind=_KINDS.get(span.kind, "Unspecified"),
                        service_name=service_name,
                        scope_name=scope_name,
                        status_code=_STATUSES.get(span.status.code, "Unset"),
                        status_message=span.status.message,
                        span_attributes=_attributes(span.attributes),
                        resource_attributes=resource_attributes,
                    )
                except v.BadRecord as bad:
                    diagnostics.skip(path, record, bad.kind, bad.message, bad.hint)


# Hot path: the checks below are the common case of the rules in `values`, which still
# decide (and word the problem) whenever a value is not plainly valid.
_KINDS: Final = {number: name for number, name in enumerate(SPAN_KINDS)}
_STATUSES: Final = {number: name for number, name in enumerate(STATUS_CODES)}
_MAX_NANOS: Final = 2**63


def _interval(start: int, end: int) -> tuple[int, int]:
    if not (0 < start <= end < _MAX_NANOS):
        v.check_interval(
            v.unix_nanos(start, "startTimeUnixNano"), v.unix_nanos(end, "endTimeUnixNano")
        )
    return start, end


def _id(raw: bytes, size: int, field_name: str) -> str:
    if len(raw) == size and raw.strip(b"\0"):
        return raw.hex()
    return v.normalize_id(raw.hex(), size * 2, field_name)


def _parent_id(raw: bytes) -> str:
    if len(raw) == 8 and raw.strip(b"\0"):
        return raw.hex()
    return v.normalize_parent_id(raw.hex())


def _attributes(items: Iterable[KeyValue]) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        value = item.value
        which = value.WhichOneof("value")
        # Strings and ints are nearly every attribute: printed without the general path.
        if which == "string_value":
            pairs.append((item.key, value.string_value))
        elif which == "int_value":
            pairs.append((item.key, str(value.int_value)))
        else:
            pairs.append((item.key, v.stringify(_python(value))))
    return pairs


def _python(value: AnyValue) -> Any:
    """The plain Python value, exactly as :func:`values.any_value_to_python` gives it for
    the JSON spelling of the same ``AnyValue`` (bytes as base64 text)."""
    which = value.WhichOneof("value")
    if which is None:
        return None
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if which == "array_value":
        return [_python(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return dict(_pairs(value.kvlist_value.values))
    return getattr(value, which)


def _pairs(items: Iterable[KeyValue]) -> list[tuple[str, Any]]:
    return [(item.key, _python(item.value)) for item in items]
