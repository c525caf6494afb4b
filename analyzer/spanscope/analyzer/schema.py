"""The canonical span table: one row per span, one schema, every reader produces it.

Column names follow the OpenTelemetry Collector ClickHouse exporter's ``otel_traces``
table, so a ``SELECT ... FORMAT Parquet`` export from an existing trace store loads
as is.  Derived, typed columns (lower_snake_case, so they never collide with the
ClickHouse names) are computed once by :mod:`spanscope.analyzer.enrich` from the
attribute maps; analyses read only typed columns on their hot paths.

Conventions
-----------
* ids are lower-case hex strings (``TraceId`` 32 chars, ``SpanId`` 16 chars);
  a root span has ``ParentSpanId == ""``.
* ``SpanKind`` is one of :data:`SPAN_KINDS` (ClickHouse exporter spelling);
  ``StatusCode`` is one of :data:`STATUS_CODES`.
* ``Timestamp`` is the span start, UTC, nanoseconds; ``Duration`` is in ns.
* attribute values are stringified (maps are ``map<string, string>``), exactly as
  the ClickHouse exporter stores them; typed columns carry the numbers.
"""

from __future__ import annotations

from typing import Any, Final

import pyarrow as pa

SCHEMA_VERSION: Final = "1"

SPAN_KINDS: Final = ("Unspecified", "Internal", "Server", "Client", "Producer", "Consumer")
STATUS_CODES: Final = ("Unset", "Ok", "Error")

_STR_MAP = pa.map_(pa.string(), pa.string())

#: What every reader must emit (in this order).
_BASE_FIELDS: list[pa.Field[Any]] = [
    pa.field("Timestamp", pa.timestamp("ns", tz="UTC"), nullable=False),
    pa.field("TraceId", pa.string(), nullable=False),
    pa.field("SpanId", pa.string(), nullable=False),
    pa.field("ParentSpanId", pa.string(), nullable=False),
    pa.field("SpanName", pa.string(), nullable=False),
    pa.field("SpanKind", pa.string(), nullable=False),
    pa.field("ServiceName", pa.string(), nullable=False),
    pa.field("ScopeName", pa.string(), nullable=False),
    pa.field("Duration", pa.int64(), nullable=False),
    pa.field("StatusCode", pa.string(), nullable=False),
    pa.field("StatusMessage", pa.string(), nullable=False),
    pa.field("SpanAttributes", _STR_MAP, nullable=False),
    pa.field("ResourceAttributes", _STR_MAP, nullable=False),
]
BASE_SCHEMA: Final = pa.schema(_BASE_FIELDS)

#: Typed columns derived from the attribute maps (see enrich.py for the rules).
_DERIVED_FIELDS: list[pa.Field[Any]] = [
    # "db" | "cache" | "template" | "http" | "server" | "other"
    pa.field("layer", pa.string()),
    pa.field("http_route", pa.string()),
    pa.field("http_method", pa.string()),
    pa.field("http_status_code", pa.int32()),
    pa.field("http_target", pa.string()),
    pa.field("db_system", pa.string()),
    pa.field("db_statement", pa.string()),
    pa.field("code_filepath", pa.string()),
    pa.field("code_lineno", pa.int32()),
    pa.field("code_function", pa.string()),
    # "inventory.Book.author" -- the ORM relation whose lazy load ran this query
    pa.field("orm_relation", pa.string()),
    # "forward_fk" | "one_to_one" | "reverse_one_to_one" | "reverse_fk" | "many_to_many" | "generic"
    pa.field("orm_relation_kind", pa.string()),
    # the related-lookup path to pass to select_related()/prefetch_related()
    pa.field("orm_lookup", pa.string()),
    # keyed hash of the query parameters, when the instrumentation recorded one
    pa.field("db_params_hash", pa.string()),
]
DERIVED_SCHEMA: Final = pa.schema(_DERIVED_FIELDS)

SPAN_SCHEMA: Final = pa.schema(_BASE_FIELDS + _DERIVED_FIELDS)


def empty_base_table() -> pa.Table:
    """A zero-row table in :data:`BASE_SCHEMA` (what a reader returns for an empty file)."""
    return BASE_SCHEMA.empty_table()
