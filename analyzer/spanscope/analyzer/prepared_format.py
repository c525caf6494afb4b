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

*Rollups* (:mod:`spanscope.analyzer.analyses.rollups`): tables of one row per
request, N+1 or duplicate group, statement template..., stored column by column as
``spanscope_r_<table>_<column>``, row ``i`` of each table on row ``i`` of the file
(nulls below its last row).  The file's first row group holds exactly as many rows as
the longest of them, so ``analyze`` reads those columns of that row group alone.  The
marker lists each table's columns and row count.  They are not tied to the spans on
the same rows: tools that read the file as a span table ignore them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from spanscope.analyzer.diagnostics import Diagnostics

#: Parquet key-value metadata key of the marker.
MARKER_KEY: Final = b"spanscope.prepared"
#: Bumped whenever what the columns hold or how they are computed changes: a file of
#: another version is analysed the general way.
PREPARED_VERSION: Final = 2

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

#: Every rollup column's name starts with this, then ``<table>_``.
ROLLUP_PREFIX: Final = "spanscope_r_"
#: The rollup tables (:meth:`spanscope.analyzer.analyses.rollups.Rollups.tables`);
#: no name holds an underscore, so a column's name splits back into table and column.
ROLLUP_TABLES: Final = (
    "requests",
    "templates",
    "sites",
    "stats",
    "spent",
    "groups",
    "groupsites",
    "slices",
    "slicenames",
    "slicesites",
    "duplicates",
    "duplicatesites",
)


@dataclass(frozen=True)
class RollupLayout:
    """Where a rollup table sits in the file: its row count and column names."""

    rows: int
    columns: tuple[str, ...]

    def stored(self, table: str) -> list[str]:
        return [rollup_column(table, column) for column in self.columns]


def rollup_column(table: str, column: str) -> str:
    """The file's column holding ``column`` of rollup ``table``."""
    return f"{ROLLUP_PREFIX}{table}_{column}"


@dataclass(frozen=True)
class Marker:
    """What the key-value metadata of a prepared file says about it."""

    version: int
    rows: int  # the span count the columns were computed for
    traces: int  # distinct trace ids
    http_spans: int  # HTTP client spans below a request (the HTTP N+1 analysis reads URLs)
    notes: tuple[dict[str, str], ...]  # span-tree notes: kind, message, hint
    rollups: dict[str, RollupLayout] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(
            {
                "version": self.version,
                "rows": self.rows,
                "traces": self.traces,
                "http_spans": self.http_spans,
                "notes": list(self.notes),
                "rollups": {
                    name: {"rows": layout.rows, "columns": list(layout.columns)}
                    for name, layout in self.rollups.items()
                },
            }
        ).encode()

    @property
    def leading_rows(self) -> int:
        """How many rows the rollups take (the file's first row group holds them)."""
        return max((layout.rows for layout in self.rollups.values()), default=0)

    def diagnostics(self, path: str, *, strict: bool = False) -> Diagnostics:
        """What reading the file reports: the span-tree notes taken when it was written."""
        diagnostics = Diagnostics(strict=strict)
        for note in self.notes:
            diagnostics.note(path, 0, note["kind"], note["message"], note["hint"])
        return diagnostics


def spread_rollups(tables: Mapping[str, pa.Table], rows: int) -> dict[str, pa.ChunkedArray[Any]]:
    """Each column of each rollup table as a file column of ``rows`` rows (nulls below
    the table's own rows); dictionaries are stored as their plain values.

    The null tails are views of one shared zeroed buffer: padding sixty columns to a
    million rows each would otherwise take a gigabyte while converting.
    """
    zeroed: Any = np.zeros(8 * (rows + 1), dtype=np.uint8)  # calloc: pages zeroed lazily
    zeros = pa.py_buffer(zeroed)
    columns: dict[str, pa.ChunkedArray[Any]] = {}
    for table_name, table in tables.items():
        for column_name, column in zip(table.column_names, table.columns, strict=True):
            values: Any = column.combine_chunks()
            if pa.types.is_dictionary(values.type):
                values = values.cast(values.type.value_type)
            tail = _null_tail(values.type, rows - len(values), zeros)
            columns[rollup_column(table_name, column_name)] = pa.chunked_array(
                [values, tail], values.type
            )
    return columns


def _null_tail(kind: Any, length: int, zeros: pa.Buffer) -> Any:
    """``length`` nulls of type ``kind`` over the zeroed buffer ``zeros``."""
    buffers: list[pa.Buffer | None]
    if pa.types.is_string(kind) or pa.types.is_binary(kind):
        buffers = [zeros, zeros, pa.py_buffer(b"")]  # validity, offsets (all 0), data
    elif pa.types.is_boolean(kind) or (pa.types.is_primitive(kind) and kind.bit_width <= 64):
        buffers = [zeros, zeros]  # validity, values
    else:
        return pa.nulls(length, kind)
    return pa.Array.from_buffers(kind, length, buffers, null_count=length)


def rollup_layouts(tables: Mapping[str, pa.Table]) -> dict[str, RollupLayout]:
    return {
        name: RollupLayout(table.num_rows, tuple(table.column_names))
        for name, table in tables.items()
    }


def read_rollup_tables(
    path: str, marker: Marker, only: Mapping[str, Sequence[str]] | None = None
) -> dict[str, pa.Table]:
    """The rollup tables of the prepared file at ``path``; ``only`` names the columns to
    read of some tables (all of the others).

    Each table is read on its own, batch by batch from the first row, so a table of
    fifty rows decodes fifty, not the whole first row group; texts stay dictionaries.
    """
    layouts = {
        table: RollupLayout(layout.rows, tuple((only or {}).get(table, layout.columns)))
        for table, layout in marker.rollups.items()
    }
    texts = [
        name
        for table, layout in layouts.items()
        for name in layout.stored(table)
        if name not in _PLAIN_TEXTS
    ]
    parquet = pq.ParquetFile(path, read_dictionary=texts)
    # ParquetFile.schema_arrow converts the whole schema again at every access.
    schema = parquet.schema_arrow
    return {
        table: _rollup_table(parquet, schema, table, layout) for table, layout in layouts.items()
    }


#: Rollup texts that are (nearly) all distinct: decoded as plain strings.
_PLAIN_TEXTS: Final = frozenset({rollup_column("requests", "TraceId")})


def _rollup_table(
    parquet: pq.ParquetFile, file_schema: pa.Schema, table: str, layout: RollupLayout
) -> pa.Table:
    stored = layout.stored(table)
    batches = []
    remaining = layout.rows
    if remaining:
        # Columns decoded side by side: the request table alone is ~18 columns.
        reader = parquet.iter_batches(batch_size=remaining, columns=stored, use_threads=True)
        for batch in reader:
            batches.append(batch.slice(0, remaining))
            remaining -= batches[-1].num_rows
            if remaining <= 0:
                break
    schema = pa.schema([file_schema.field(name) for name in stored])
    read = pa.Table.from_batches(batches, schema=_as_read(schema, batches))
    return read.rename_columns(list(layout.columns))


def _as_read(schema: pa.Schema, batches: list[pa.RecordBatch]) -> pa.Schema:
    """The schema the batches came back with (texts as dictionaries), or ``schema``."""
    return batches[0].schema if batches else _dictionary_texts(schema)


def _dictionary_texts(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type))
            if pa.types.is_string(field.type) and field.name not in _PLAIN_TEXTS
            else field
            for field in schema
        ]
    )


def _named(marker: Marker) -> list[list[str]]:
    return [layout.stored(table) for table, layout in marker.rollups.items()]


def read_marker(path: str) -> Marker | None:
    """The current-version marker of the Parquet file at ``path``, or None (not a
    Parquet file, no marker, another version, or a marker that does not fit the file)."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError):
        return None
    marker = marker_of(parquet.schema_arrow)
    if marker is None:
        return None
    names = set(parquet.schema_arrow.names)
    wanted = set(SPAN_FIELDS.names) | set(REQUEST_FIELDS.names)
    wanted.update(name for columns in _named(marker) for name in columns)
    if marker.rows != parquet.metadata.num_rows or not wanted <= names:
        return None  # rows were dropped or columns left out since it was written
    return marker


def marker_of(schema: pa.Schema) -> Marker | None:
    """The current-version marker in ``schema``'s metadata, or None."""
    raw = (schema.metadata or {}).get(MARKER_KEY)
    marker = None if raw is None else _decode(raw)
    if marker is None or marker.version != PREPARED_VERSION:
        return None
    if set(marker.rollups) != set(ROLLUP_TABLES) or marker.leading_rows > marker.rows:
        return None
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
            rollups={
                str(name): RollupLayout(int(layout["rows"]), tuple(map(str, layout["columns"])))
                for name, layout in fields["rollups"].items()
            },
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # a marker this version cannot read is a foreign one
