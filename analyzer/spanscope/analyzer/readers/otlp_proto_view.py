"""Serialized OTLP ``TracesData`` messages -> nested Arrow columns, decoded in Rust.

``ptars`` parses protobuf wire bytes straight into Arrow builders, with no Python object
per span or attribute (building those is what makes a per-span loop slow: a ``KeyValue``
and its ``AnyValue`` cost over 1 us each to wrap).  It decodes whatever message type it
is given, so it is given a *view* of ``TracesData``: the same messages and field numbers
as ``opentelemetry-proto`` publishes, copied from its descriptors, keeping only the
fields spanscope reads.  The parser skips every other field (events, links, trace state,
schema URLs) without building a column for it, which halves the decoding time.

Two substitutions keep the view decodable into flat Arrow types, both wire-compatible:

* enums (``kind``, ``status.code``) are read as ``int32``;
* ``AnyValue.array_value`` and ``kvlist_value`` (recursive, which Arrow cannot express)
  are read as ``bytes``: a span carrying one is converted by the reference reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import pyarrow as pa
from google.protobuf import descriptor_pb2, descriptor_pool  # type: ignore[import-untyped]
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from ptars import HandlerPool

_VIEW_FILE: Final = "spanscope/otlp_traces_view.proto"
_VIEW_PACKAGE: Final = "spanscope.otlpview"

# Full message name -> the fields read from it (every mode).
_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "opentelemetry.proto.trace.v1.TracesData": ("resource_spans",),
    "opentelemetry.proto.trace.v1.ResourceSpans": ("resource", "scope_spans"),
    "opentelemetry.proto.resource.v1.Resource": ("attributes",),
    "opentelemetry.proto.trace.v1.ScopeSpans": ("scope", "spans"),
    "opentelemetry.proto.common.v1.InstrumentationScope": ("name",),
    "opentelemetry.proto.trace.v1.Span": (
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "start_time_unix_nano",
        "end_time_unix_nano",
        "attributes",
        "status",
    ),
    "opentelemetry.proto.trace.v1.Status": ("message", "code"),
    "opentelemetry.proto.common.v1.KeyValue": ("key", "value"),
    "opentelemetry.proto.common.v1.AnyValue": (
        "string_value",
        "bool_value",
        "int_value",
        "double_value",
        "array_value",
        "kvlist_value",
        "bytes_value",
    ),
}
# What no analysis reads (see enrich.ANALYSIS_SCHEMA): left out of the analysis view.
_NOT_ANALYSED: Final = frozenset(
    {
        ("opentelemetry.proto.trace.v1.ResourceSpans", "resource"),
        ("opentelemetry.proto.trace.v1.ScopeSpans", "scope"),
        ("opentelemetry.proto.trace.v1.Status", "message"),
    }
)

_F = descriptor_pb2.FieldDescriptorProto


def decode(payloads: Sequence[bytes], *, analysis: bool) -> pa.Array[Any]:
    """The ``resource_spans`` list of each message, one row per message, as Arrow.

    Raises ``ValueError`` if any message is not valid protobuf (ptars decodes the list
    as a whole): the caller narrows it down.
    """
    batch = _handler(analysis).list_to_record_batch(list(payloads))
    resource_spans: pa.Array[Any] = batch.column(0)
    return resource_spans


@cache
def _handler(analysis: bool) -> Any:
    view = _view_descriptor(analysis)
    return HandlerPool([view.file]).get_for_message(view)


def _view_descriptor(analysis: bool) -> Any:
    """The view of ``TracesData`` as a message descriptor in a private pool."""
    suffix = "_analysis" if analysis else ""
    view = descriptor_pb2.FileDescriptorProto(
        name=_VIEW_FILE.replace(".proto", f"{suffix}.proto"),
        package=_VIEW_PACKAGE + suffix,
        syntax="proto3",
    )
    package = f".{view.package}."
    for source in _messages(TracesData.DESCRIPTOR):
        kept = [
            name
            for name in _FIELDS[source.full_name]
            if not (analysis and (source.full_name, name) in _NOT_ANALYSED)
        ]
        view.message_type.append(_message_view(source, kept, package))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(view)
    return pool.FindMessageTypeByName(package[1:] + TracesData.DESCRIPTOR.name)


def _messages(root: Any) -> list[Any]:
    """``root`` and every message type its kept fields reach (descriptors)."""
    found: dict[str, Any] = {}
    pending = [root]
    while pending:
        message = pending.pop()
        if message.full_name in found:
            continue
        found[message.full_name] = message
        for name in _FIELDS[message.full_name]:
            target = message.fields_by_name[name].message_type
            if target is not None and target.full_name in _FIELDS:
                pending.append(target)
    return list(found.values())


def _message_view(source: Any, kept: list[str], package: str) -> Any:
    """``source`` with only the ``kept`` fields, its types resolved inside the view."""
    full = descriptor_pb2.DescriptorProto()
    source.CopyToProto(full)
    view = descriptor_pb2.DescriptorProto(name=source.name)
    oneofs: dict[int, int] = {}
    for field in full.field:
        if field.name not in kept:
            continue
        copy = view.field.add()
        copy.CopyFrom(field)
        if field.type == _F.TYPE_ENUM:
            copy.type = _F.TYPE_INT32
            copy.ClearField("type_name")
        elif field.type == _F.TYPE_MESSAGE:
            target = source.fields_by_name[field.name].message_type
            if target.full_name in _FIELDS:
                copy.type_name = package + target.name
            else:  # recursive AnyValue containers: kept as their encoded bytes
                copy.type = _F.TYPE_BYTES
                copy.ClearField("type_name")
        if field.HasField("oneof_index"):
            # Presence matters (an unset AnyValue member is null, not ""): keep the oneof.
            if field.oneof_index not in oneofs:
                oneofs[field.oneof_index] = len(view.oneof_decl)
                view.oneof_decl.add().CopyFrom(full.oneof_decl[field.oneof_index])
            copy.oneof_index = oneofs[field.oneof_index]
    return view
