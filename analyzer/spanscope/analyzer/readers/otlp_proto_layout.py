"""Decoded protobuf columns -> the layout the OTLP JSON fast path parses into.

:mod:`.otlp_flatten` flattens, validates and derives the span columns of parsed OTLP
JSON.  Protobuf decoded by :mod:`.otlp_proto_view` holds the same tree with other names
and wire types, so it is relabelled here into that layout (lowerCamel names, hex ids,
decimal times and ints) and handed to the same code: one set of rules for both
encodings.  Relabelling reuses the decoded buffers; only ids, times and int values are
rewritten, each a whole column at a time.

An ``AnyValue`` holding bytes, an array or a key-value list is given none of the value
kinds here, which makes the flattener hand its message to the reference reader (as the
JSON path does for the same values).
"""

from __future__ import annotations

import binascii
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_NO_STRINGS: Final = pa.string()
# Nested (list and struct) arrays: the stubs do not know their `.field`, `.values`,
# `.offsets`, nor the mask argument of `ListArray.from_arrays`.
Nested = Any


def as_parsed(resource_spans: Nested, *, analysis: bool) -> pa.Table:
    """One row per message, in the JSON-lines reader's parse layout (``analysis``: the
    layout it parses for analysis, without resources, scopes and status messages)."""
    resources = _struct_values(resource_spans)
    scope_lists = resources.field("scope_spans")
    scopes = _struct_values(scope_lists)
    span_lists = scopes.field("spans")
    spans = _list_of(span_lists, _spans(_struct_values(span_lists), analysis))
    scope_fields: dict[str, Nested] = {"spans": spans}
    resource_fields: dict[str, Nested] = {}
    if not analysis:
        scope = scopes.field("scope")
        scope_fields = {"scope": _struct({"name": scope.field("name")}, scope), **scope_fields}
        resource = resources.field("resource")
        attributes = _attributes(resource.field("attributes"))
        resource_fields["resource"] = _struct({"attributes": attributes}, resource)
    resource_fields["scopeSpans"] = _list_of(scope_lists, _struct(scope_fields, scopes))
    column = _list_of(resource_spans, _struct(resource_fields, resources))
    return pa.table({"resourceSpans": column})


def _spans(spans: Nested, analysis: bool) -> Nested:
    status = spans.field("status")
    status_fields = {"code": pc.cast(status.field("code"), pa.int64())}
    if not analysis:
        status_fields["message"] = status.field("message")
    fields = {
        "traceId": hex_ids(spans.field("trace_id")),
        "spanId": hex_ids(spans.field("span_id")),
        "parentSpanId": hex_ids(spans.field("parent_span_id")),
        # The JSON path declares the snake_case spelling to catch writers that mix
        # spellings; protobuf has one spelling, so it is never present.
        "parent_span_id": pa.nulls(len(spans), _NO_STRINGS),
        "name": spans.field("name"),
        "kind": pc.cast(spans.field("kind"), pa.int64()),
        "startTimeUnixNano": pc.cast(spans.field("start_time_unix_nano"), pa.string()),
        "endTimeUnixNano": pc.cast(spans.field("end_time_unix_nano"), pa.string()),
        "attributes": _attributes(spans.field("attributes")),
        "status": _struct(status_fields, status),
    }
    return _struct(fields, spans)


def _attributes(key_values: Nested) -> Nested:
    entries = _struct_values(key_values)
    value = entries.field("value")
    any_value = {
        "stringValue": value.field("string_value"),
        # OTLP/JSON spells int64 as a decimal string; Arrow's cast prints it as str() does.
        "intValue": pc.cast(value.field("int_value"), pa.string()),
        "doubleValue": value.field("double_value"),
        "boolValue": value.field("bool_value"),
        # Left to the reference reader, which spells bytes in base64 (rare in traces).
        "bytesValue": pa.nulls(len(value), _NO_STRINGS),
    }
    fields = {"key": entries.field("key"), "value": _struct(any_value, value)}
    return _list_of(key_values, _struct(fields, entries))


def hex_ids(ids: pa.Array[Any]) -> pa.Array[Any]:
    """Binary ids -> lower-case hex strings of any length, in one pass over the buffer.

    The hex of the concatenated bytes is the concatenation of the hex strings, so the
    offsets just double; the flattener then checks each id's length and value.
    """
    if ids.null_count:
        ids = pc.fill_null(ids, pa.scalar(b"", ids.type))
    buffers: list[Any] = ids.buffers()  # validity, offsets, data
    offsets: npt.NDArray[np.int32] = np.frombuffer(
        buffers[1], dtype=np.int32, count=len(ids) + 1, offset=ids.offset * 4
    )
    start, end = int(offsets[0]), int(offsets[-1])
    data = binascii.hexlify(memoryview(buffers[2])[start:end]) if end > start else b""
    doubled = (offsets - offsets[0]) * 2
    return pa.StringArray.from_buffers(len(ids), pa.py_buffer(doubled), pa.py_buffer(data))


def _struct_values(lists: Nested) -> Nested:
    """The struct items of a list array, all of them (paired with ``lists.offsets``)."""
    return lists.values


def _list_of(lists: Nested, values: Nested) -> Nested:
    """``values`` in the lists of ``lists`` (same offsets, same nulls)."""
    mask = lists.is_null() if lists.null_count else None
    list_array: Nested = pa.ListArray
    return list_array.from_arrays(lists.offsets, values, mask=mask)


def _struct(fields: dict[str, Nested], like: Nested | None) -> Nested:
    """A struct of ``fields``, null where ``like`` is null."""
    mask = like.is_null() if like is not None and like.null_count else None
    return pa.StructArray.from_arrays(list(fields.values()), names=list(fields), mask=mask)
