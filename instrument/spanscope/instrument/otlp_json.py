"""Encode SDK spans as one OTLP/JSON ``TracesData`` line, as the Collector's ``file`` exporter writes.

Shape (the protobuf JSON mapping the Collector uses): lowerCamel keys in proto
field order, hex trace/span ids, 64-bit integers as decimal strings, enums as
integers, attributes as ``AnyValue`` objects, fields holding their default value
left out except ``parentSpanId`` (``""`` for a root) and ``status`` (``{}`` when
unset), which Collector-written files carry (see the Collector-written samples
in the tests).  ``flags`` is 256 (or 768 for a remote parent), as the SDK's OTLP
exporters send it.

Why hand-written, and why straight to text: ``opentelemetry-exporter-otlp-json-common``
builds message objects, converts them with ``to_dict()`` and then ``json.dumps``
them.  Measured on the 2-core development machine, one batch of 1,001 spans
(a server span and 1,000 DB spans with five attributes), ``json`` included, best
of 5: upstream encoder 43-98 µs per span, a plain dict builder + ``json`` 28-52
µs, this module's direct string building 18-26 µs (every string still escaped by
the stdlib's C ``encode_basestring``).  Absolute numbers swing by ±40 % between
runs on that machine; the 2-2.4x ratio to upstream does not.  The export thread
holds the GIL while encoding, so this is time taken from request threads.
Values that are not plain scalars (arrays, mappings, subclasses) take the
slower dict route through :func:`any_value`; a test checks both routes agree.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping, Sequence
from json.encoder import encode_basestring as _quote  # C-accelerated, keeps UTF-8 as is
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext

JSONObject = dict[str, Any]

# Span.flags bits from opentelemetry-proto (SpanFlags).
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _double(value: float) -> float | str:
    # proto3 JSON spells non-finite doubles as strings; json would write NaN.
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _bytes_value(value: bytes | bytearray) -> JSONObject:
    return {"bytesValue": base64.b64encode(value).decode("ascii")}


def any_value(value: object) -> JSONObject:
    """One attribute value as an OTLP ``AnyValue`` object (the general, slower route)."""
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": _double(float(value))}
    if isinstance(value, str):
        return {"stringValue": str(value)}
    if isinstance(value, (bytes, bytearray)):
        return _bytes_value(value)
    if isinstance(value, Mapping):
        return {
            "kvlistValue": {
                "values": [{"key": str(k), "value": any_value(v)} for k, v in value.items()]
            }
        }
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    if value is None:
        return {}
    return {"stringValue": str(value)}


def _float_json(value: float) -> str:
    return (
        '{"doubleValue":'
        + (repr(value) if math.isfinite(value) else _quote(str(_double(value))))
        + "}"
    )


# Exact-type registry of the scalar types attributes almost always hold.
_SCALAR_JSON: dict[type, Callable[[Any], str]] = {
    str: lambda v: '{"stringValue":' + _quote(v) + "}",
    int: lambda v: '{"intValue":"' + str(v) + '"}',
    bool: lambda v: '{"boolValue":true}' if v else '{"boolValue":false}',
    float: _float_json,
}


def value_json(value: object) -> str:
    """One attribute value as ``AnyValue`` JSON text."""
    scalar = _SCALAR_JSON.get(type(value))
    return scalar(value) if scalar is not None else _dumps(any_value(value))


# ``{"key":<key>,"value":`` by key: keys repeat even where values do not.
_KEY_PREFIX: dict[str, str] = {}
_KEY_PREFIX_LIMIT = 1024


def _key_value_json(key: str, value: object) -> str:
    prefix = _KEY_PREFIX.get(key)
    if prefix is None:
        prefix = '{"key":' + _quote(key) + ',"value":'
        if len(_KEY_PREFIX) < _KEY_PREFIX_LIMIT:
            _KEY_PREFIX[key] = prefix
    return prefix + value_json(value) + "}"


# Encoded ``{"key":...,"value":...}`` text by (key, exact type, value).  Most
# attributes repeat from span to span -- the statement of an N+1 loop, its code
# location and relation, db.system, the route -- and a dict hit is ~4x cheaper
# than encoding again (measured on 1,000 DB spans with 13 attributes: 32 -> 15 µs
# per span for the whole span).  The type is part of the key because 1, 1.0 and
# True are equal dict keys.  Cleared when full: unique values (hashes, ids)
# only cost the occasional refill.
_PAIR_CACHE: dict[tuple[str, type, object], str] = {}
_PAIR_CACHE_LIMIT = 8192
_CACHED_TYPES = frozenset({str, int, bool})
_MAX_CACHED_STRING = 1024
# Values unique to each span: caching them would only churn the cache.
_UNCACHED_KEYS = frozenset({"spanscope.db.params_hash"})


def _encode_pair(key: str, value: object) -> str:
    """``_key_value_json``, remembered in the pair cache when the value is worth caching."""
    text = _key_value_json(key, value)
    kind = type(value)
    if (
        kind in _CACHED_TYPES
        and key not in _UNCACHED_KEYS
        and not (kind is str and len(value) > _MAX_CACHED_STRING)  # type: ignore[arg-type]
    ):
        if len(_PAIR_CACHE) >= _PAIR_CACHE_LIMIT:
            _PAIR_CACHE.clear()
        _PAIR_CACHE[(key, kind, value)] = text
    return text


def _joined_pairs(attributes: Mapping[str, object]) -> str:
    """The ``KeyValue`` texts of ``attributes``, comma-separated, without the brackets."""
    get = _PAIR_CACHE.get
    try:
        # The hit path is one tuple and one dict lookup per attribute; every
        # other check waits for a miss (measured with callgrind: ~40 % less
        # per cached attribute than checking first).  A miss is never an empty
        # string, so ``or`` tells a hit from a miss.
        return ",".join([get((k, type(v), v)) or _encode_pair(k, v) for k, v in attributes.items()])
    except TypeError:  # an unhashable value (a subclass with __eq__ and no __hash__)
        return ",".join([_key_value_json(k, v) for k, v in attributes.items()])


def key_values_json(attributes: Mapping[str, object]) -> str:
    """``attributes`` as an OTLP/JSON ``KeyValue`` array."""
    return "[" + _joined_pairs(attributes) + "]"


# A group of attributes stored whole on a span by spanscope's enrichment
# (spanscope.instrument.deferred): one dict shared by every span of one code
# location, relation and layer -- an N+1 loop's hundreds of spans -- whose items
# are all among the span's attributes, the very objects.  It is named on the
# span's attribute store under this name, and its text is encoded once per group
# instead of pair by pair for each span (~5,000 instructions per DB span with
# spanscope's seven shared attributes, counted with callgrind).
GROUP_ATTRIBUTE = "_spanscope_group"
# Encoded group text by id(group); each entry keeps its group alive, so an id is
# never reused while its entry stands.  Cleared when full.
_GROUP_TEXT: dict[int, tuple[Mapping[str, object], str]] = {}
_GROUP_TEXT_LIMIT = 4096
_MISSING = object()


def _group_text(group: Mapping[str, object]) -> str:
    cached = _GROUP_TEXT.get(id(group))
    if cached is not None:
        return cached[1]
    text = _joined_pairs(group)
    if len(_GROUP_TEXT) >= _GROUP_TEXT_LIMIT:
        _GROUP_TEXT.clear()
    _GROUP_TEXT[id(group)] = (group, text)
    return text


def _joined_pairs_with_group(attributes: Mapping[str, object], group: Mapping[str, object]) -> str:
    """``_joined_pairs(attributes)``, with ``group``'s text put in where its first item is."""
    text = _group_text(group)
    in_group = group.get
    get = _PAIR_CACHE.get
    parts = []
    try:
        for key, value in attributes.items():
            if in_group(key, _MISSING) is value:
                if text:
                    parts.append(text)
                    text = ""
                continue
            parts.append(get((key, type(value), value)) or _encode_pair(key, value))
    except TypeError:  # an unhashable value: pair by pair, as _joined_pairs does
        return _joined_pairs(attributes)
    return ",".join(parts)


def _attributes_text(span: ReadableSpan) -> str:
    """The span's attributes as comma-separated ``KeyValue`` texts ("" without any).

    Read from the plain dict behind them when there is one: ``ReadableSpan.attributes``
    is a ``MappingProxyType`` over the SDK's ``BoundedAttributes``, a
    ``MutableMapping`` written in Python, whose item iteration costs a generator
    step and a Python ``__getitem__`` call per attribute (~1/3 of encoding a DB
    span, measured with callgrind).  An ended span's store is immutable, so its
    dict can be read directly.
    """
    store = getattr(span, "_attributes", None)
    items = getattr(store, "_dict", None)
    if type(items) is not dict:
        return _joined_pairs(span.attributes or {})
    if not items:
        return ""
    group = getattr(store, "__dict__", _NO_STATE).get(GROUP_ATTRIBUTE)
    if group is not None:
        return _joined_pairs_with_group(items, group)
    return _joined_pairs(items)


_NO_STATE: dict[str, object] = {}


def _flags(context: SpanContext | None) -> int:
    if context is not None and context.is_remote:
        return _HAS_IS_REMOTE | _IS_REMOTE
    return _HAS_IS_REMOTE


def _trace_state_json(context: SpanContext) -> str:
    state = context.trace_state
    return ',"traceState":' + _quote(state.to_header()) if state else ""


def _event_json(event: Event) -> str:
    out = '{"timeUnixNano":"' + str(event.timestamp) + '","name":' + _quote(event.name)
    if event.attributes:
        out += ',"attributes":' + key_values_json(event.attributes)
    if event.dropped_attributes:
        out += ',"droppedAttributesCount":' + str(event.dropped_attributes)
    return out + "}"


def _link_json(link: Link) -> str:
    context = link.context
    out = f'{{"traceId":"{context.trace_id:032x}","spanId":"{context.span_id:016x}"'
    out += _trace_state_json(context)
    if link.attributes:
        out += ',"attributes":' + key_values_json(link.attributes)
    if link.dropped_attributes:
        out += ',"droppedAttributesCount":' + str(link.dropped_attributes)
    return out + ',"flags":' + str(_flags(context)) + "}"


def _status_json(span: ReadableSpan) -> str:
    status = span.status
    parts = []
    if status.description:
        parts.append('"message":' + _quote(status.description))
    if status.status_code.value:  # the SDK's StatusCode values equal the OTLP enum
        parts.append('"code":' + str(status.status_code.value))
    return "{" + ",".join(parts) + "}"


def _append_span(span: ReadableSpan, out: list[str]) -> None:
    """Append one span's OTLP/JSON ``Span`` text to ``out``, in pieces.

    Pieces, joined once per batch by :func:`encode_line`: chaining ``+`` copies
    the text built so far at every step, and a batch's text was copied again at
    each level of nesting around it (scope, resource, line) -- with spanscope's
    attributes on every DB span, copying was ~7,600 of the ~47,000 instructions
    per span that enriching and encoding added (callgrind, N+1 books view).
    """
    context = span.context
    parent = span.parent
    parent_id = f"{parent.span_id:016x}" if parent is not None else ""
    # The SDK's SpanKind counts from INTERNAL=0; OTLP reserves 0 for UNSPECIFIED.
    out.append(
        f'{{"traceId":"{context.trace_id:032x}","spanId":"{context.span_id:016x}"'
        f'{_trace_state_json(context)},"parentSpanId":"{parent_id}"'
        f',"flags":{_flags(parent)},"name":{_quote(span.name)},"kind":{span.kind.value + 1}'
        f',"startTimeUnixNano":"{span.start_time or 0}","endTimeUnixNano":"{span.end_time or 0}"'
    )
    attributes = _attributes_text(span)
    if attributes:
        out.append(',"attributes":[')
        out.append(attributes)
        out.append("]")
    if span.dropped_attributes:
        out.append(',"droppedAttributesCount":' + str(span.dropped_attributes))
    events = span.events
    if events:
        out.append(',"events":[' + ",".join(_event_json(event) for event in events) + "]")
    if span.dropped_events:
        out.append(',"droppedEventsCount":' + str(span.dropped_events))
    links = span.links
    if links:
        out.append(',"links":[' + ",".join(_link_json(link) for link in links) + "]")
    if span.dropped_links:
        out.append(',"droppedLinksCount":' + str(span.dropped_links))
    out.append(',"status":')
    out.append(_status_json(span))
    out.append("}")


def span_json(span: ReadableSpan) -> str:
    """One span as OTLP/JSON ``Span`` text."""
    out: list[str] = []
    _append_span(span, out)
    return "".join(out)


def _resource_json(resource: Resource) -> str:
    if not resource.attributes:
        return "{}"
    return '{"attributes":' + key_values_json(resource.attributes) + "}"


def _scope_json(scope: InstrumentationScope | None) -> str:
    if scope is None:
        return "{}"
    parts = []
    if scope.name:
        parts.append('"name":' + _quote(scope.name))
    if scope.version:
        parts.append('"version":' + _quote(scope.version))
    if scope.attributes:
        parts.append('"attributes":' + key_values_json(scope.attributes))
    return "{" + ",".join(parts) + "}"


def _schema_url_json(schema_url: str | None) -> str:
    return ',"schemaUrl":' + _quote(schema_url) if schema_url else ""


def encode_line(spans: Sequence[ReadableSpan]) -> bytes:
    """One export batch as one newline-terminated UTF-8 ``TracesData`` line.

    Spans are grouped by resource, then by instrumentation scope, keeping the
    order in which each group first appears.  The line is built as one list of
    pieces and joined once (see :func:`_append_span`).
    """
    # Keyed by identity: all spans of one TracerProvider share its Resource
    # object and each tracer's scope object, while Resource.__hash__ serialises
    # every attribute on each call.
    groups: dict[
        int,
        tuple[Resource, dict[int, tuple[InstrumentationScope | None, list[ReadableSpan]]]],
    ] = {}
    for span in spans:
        resource = span.resource
        group = groups.get(id(resource))
        if group is None:
            group = groups[id(resource)] = (resource, {})
        scope = span.instrumentation_scope
        bucket = group[1].get(id(scope))
        if bucket is None:
            bucket = group[1][id(scope)] = (scope, [])
        bucket[1].append(span)
    out = ['{"resourceSpans":[']
    for resource_index, (resource, scopes) in enumerate(groups.values()):
        if resource_index:
            out.append(",")
        out.append('{"resource":' + _resource_json(resource) + ',"scopeSpans":[')
        for scope_index, (scope, scope_spans) in enumerate(scopes.values()):
            if scope_index:
                out.append(",")
            out.append('{"scope":' + _scope_json(scope) + ',"spans":[')
            for span_index, span in enumerate(scope_spans):
                if span_index:
                    out.append(",")
                _append_span(span, out)
            out.append(
                "]" + _schema_url_json(scope.schema_url if scope is not None else None) + "}"
            )
        out.append("]" + _schema_url_json(resource.schema_url) + "}")
    out.append("]}\n")
    # A lone surrogate in some attribute must not lose the whole batch.
    return "".join(out).encode("utf-8", "replace")
