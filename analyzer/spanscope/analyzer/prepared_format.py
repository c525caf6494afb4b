"""A *prepared* span table: the canonical columns plus what ``analyze`` would compute.

``spanscope convert`` resolves the span tree, the request table and the statement
templates once, while writing, and stores them next to the canonical columns as
integer-keyed ``spanscope_*`` columns (the names no reader or ClickHouse export uses).
``analyze`` on such a file reads those and a few canonical columns -- no id strings,
no parent join, no interval unions, no SQL normalization -- and gets the very numbers
the general path computes from the canonical columns alone.

The file says it is prepared in its Parquet key-value metadata (:data:`MARKER_KEY`):
a JSON object with the format version, the row count it was computed for, the trace
count, the number of HTTP client spans and the span-tree notes a read would report.
A marker of another version, for another row count, or without the columns is
ignored and the file analysed like any other Parquet file.

Columns (row-aligned with the span table; nulls where a column does not apply):

=================================  ===================================================
``spanscope_parent``               int32: row of the parent span, -1 for none
``spanscope_request``              int32: owning request (index in the request
                                   table), -1 for none
``spanscope_layer``                int8: layer code (:data:`~.requests.LAYER_CODE`)
``spanscope_start``/``_end``       int64 ns: the span clipped into its parent
``spanscope_self_ns``              int64: the clipped span's self time
``spanscope_template``             int32: statement template id (templated DB spans)
``spanscope_template_text``        the template, on the first span of each id
``spanscope_statement``            int32: id of the exact statement text
``spanscope_parameterized``        bool: that text has placeholders
``spanscope_parent_template_key``  int32: the statement spans' group keys
``_request_template_key``,         (:mod:`~spanscope.analyzer.analyses.statement_keys`;
``_duplicate_key``                 -1: parameters unknown)
``spanscope_site``                 int32: id of the statement span's code location
                                   and ORM relation (its *site*)
``spanscope_site_<column>``        that site's ``code_*``/``orm_*`` values, on the
                                   first span of each site id
``spanscope_req_trace_id``,        on each Server span: its request's ids, endpoint
``_span_id``, ``_endpoint``,       key (``METHOD route``) and the union of its DB
``_db_ns``                         spans' intervals (int64 ns); the rest of the
                                   request table is sums over the columns above
=================================  ===================================================
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

#: Parquet key-value metadata key of the marker.
MARKER_KEY: Final = b"spanscope.prepared"
#: Bumped whenever what the columns hold or how they are computed changes: a file of
#: another version is analysed the general way.
PREPARED_VERSION: Final = 1

#: Every prepared column's name starts with this.
PREPARED_PREFIX: Final = "spanscope_"

#: Span-level columns and their types.
_SPAN_FIELDS: list[pa.Field[Any]] = [
    pa.field("spanscope_parent", pa.int32()),
    pa.field("spanscope_request", pa.int32()),
    pa.field("spanscope_layer", pa.int8()),
    pa.field("spanscope_start", pa.int64()),
    pa.field("spanscope_end", pa.int64()),
    pa.field("spanscope_self_ns", pa.int64()),
    pa.field("spanscope_template", pa.int32()),
    pa.field("spanscope_template_text", pa.string()),
    pa.field("spanscope_statement", pa.int32()),
    pa.field("spanscope_parameterized", pa.bool_()),
    pa.field("spanscope_parent_template_key", pa.int32()),
    pa.field("spanscope_request_template_key", pa.int32()),
    pa.field("spanscope_duplicate_key", pa.int32()),
    pa.field("spanscope_site", pa.int32()),
    pa.field("spanscope_site_code_filepath", pa.string()),
    pa.field("spanscope_site_code_lineno", pa.int32()),
    pa.field("spanscope_site_code_function", pa.string()),
    pa.field("spanscope_site_orm_relation", pa.string()),
    pa.field("spanscope_site_orm_relation_kind", pa.string()),
    pa.field("spanscope_site_orm_lookup", pa.string()),
]
#: ``spanscope_site_<column>`` holds the site's value of each of these columns.
SITE_PREFIX: Final = "spanscope_site_"
SPAN_FIELDS: Final = pa.schema(_SPAN_FIELDS)
#: Request-level columns, set on Server spans only.
_REQUEST_FIELDS: list[pa.Field[Any]] = [
    pa.field("spanscope_req_trace_id", pa.string()),
    pa.field("spanscope_req_span_id", pa.string()),
    pa.field("spanscope_req_endpoint", pa.string()),
    pa.field("spanscope_req_db_ns", pa.int64()),
]
REQUEST_FIELDS: Final = pa.schema(_REQUEST_FIELDS)


@dataclass(frozen=True)
class Marker:
    """What the key-value metadata of a prepared file says about it."""

    version: int
    rows: int  # the span count the columns were computed for
    traces: int  # distinct trace ids
    http_spans: int  # HTTP client spans below a request (the HTTP N+1 analysis reads URLs)
    notes: tuple[dict[str, str], ...]  # span-tree notes: kind, message, hint

    def encode(self) -> bytes:
        return json.dumps(
            {
                "version": self.version,
                "rows": self.rows,
                "traces": self.traces,
                "http_spans": self.http_spans,
                "notes": list(self.notes),
            }
        ).encode()


def read_marker(path: str) -> Marker | None:
    """The current-version marker of the Parquet file at ``path``, or None (not a
    Parquet file, no marker, another version, or a marker that does not fit the file)."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        return None
    metadata = parquet.schema_arrow.metadata or {}
    raw = metadata.get(MARKER_KEY)
    if raw is None:
        return None
    marker = _decode(raw)
    if marker is None or marker.version != PREPARED_VERSION:
        return None
    names = set(parquet.schema_arrow.names)
    wanted = set(SPAN_FIELDS.names) | set(REQUEST_FIELDS.names)
    if marker.rows != parquet.metadata.num_rows or not wanted <= names:
        return None  # rows were dropped or columns left out since it was written
    return marker


def _decode(raw: bytes) -> Marker | None:
    try:
        fields: Any = json.loads(raw)
        return Marker(
            version=int(fields["version"]),
            rows=int(fields["rows"]),
            traces=int(fields["traces"]),
            http_spans=int(fields["http_spans"]),
            notes=tuple(
                {key: str(note[key]) for key in ("kind", "message", "hint")}
                for note in fields["notes"]
            ),
        )
    except (ValueError, TypeError, KeyError):
        return None  # a marker this version cannot read is a foreign one
