"""Columns named like the canonical schema, in whatever types and spellings a columnar
export uses -> :data:`BASE_SCHEMA` (plus the derived columns it already carries).

The ClickHouse exporter's ``otel_traces`` table exported with ``SELECT ... FORMAT
Parquet`` differs from what ``spanscope convert`` writes in ways that are all handled
here, vectorized:

* ``Timestamp`` (``DateTime64(9)``) arrives as a timestamp of any unit and zone, or as
  integer nanoseconds; ``Duration`` as ``UInt64`` or ``Int64`` nanoseconds;
* ``SpanKind`` is ``SPAN_KIND_SERVER`` (older exporters) or ``Server``, ``StatusCode``
  ``STATUS_CODE_ERROR`` or ``Error`` -- any spelling :mod:`.values` knows;
* strings may be binary or dictionary-encoded (``LowCardinality``), maps may have such
  keys; ids may be upper-case, 64-bit trace ids 16 characters;
* other columns (``Events.*``, ``Links.*``, ``TraceState``, ...) are ignored.

Rows without a usable id or time are skipped and reported (one line per kind, with the
first row number and a count); the rest of the table is kept.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import empty_maps
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.string_buffers import LOWER_HEX, chars_ok
from spanscope.analyzer.schema import BASE_SCHEMA, DERIVED_SCHEMA

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

#: Without these a row is not a span; every other column has a neutral default.
REQUIRED_COLUMNS: Final = ("Timestamp", "TraceId", "SpanId", "Duration")
_STRING_DEFAULTS: Final = {
    "ParentSpanId": "",
    "SpanName": "",
    "SpanKind": "Unspecified",
    "ServiceName": "",
    "ScopeName": "",
    "StatusCode": "Unset",
    "StatusMessage": "",
}
_MAP_COLUMNS: Final = ("SpanAttributes", "ResourceAttributes")
_STR_MAP: Final = pa.map_(pa.string(), pa.string())
_ID_HINT: Final = "TraceId must be 32 hex characters and SpanId 16 (ParentSpanId empty for a root)"
_TIME_HINT: Final = "Timestamp must be the span start (UTC) and Duration non-negative nanoseconds"


def wanted_columns(present: list[str]) -> list[str]:
    """The columns of a file worth reading (known ones only)."""
    known = set(BASE_SCHEMA.names) | set(DERIVED_SCHEMA.names)
    return [name for name in present if name in known]


def missing_required(present: list[str]) -> list[str]:
    return [name for name in REQUIRED_COLUMNS if name not in present]


def to_canonical(
    table: pa.Table,
    path: str,
    first_row: int,
    diagnostics: Diagnostics,
    *,
    maps: bool = True,
    derived_types: pa.Schema = DERIVED_SCHEMA,
) -> pa.Table:
    """``table`` -> BASE_SCHEMA columns (+ the derived columns it has, typed); bad rows
    reported with their 1-based row number (``first_row`` is the number of row 0).

    Without ``maps``, attribute maps absent from ``table`` are left out rather than
    filled with empty maps (a read for analysis that did not need them);
    ``derived_types`` gives the types derived columns are cast to (a read for analysis
    keeps dictionary-encoded ones as they are).
    """
    rows = table.num_rows
    start, start_ok = _timestamps(_column(table, "Timestamp", path), path)
    duration, duration_ok = _durations(_column(table, "Duration", path), path)
    trace_id, trace_problem = _ids(_text(table, "TraceId", path), 32, allow_root=False)
    span_id, span_problem = _ids(_text(table, "SpanId", path), 16, allow_root=False)
    parent = (
        _text(table, "ParentSpanId", path)
        if "ParentSpanId" in table.column_names
        else pa.array([""] * rows)
    )
    parent_id, parent_problem = _ids(parent, 16, allow_root=True)

    problems = {
        "missing-id": (trace_problem == 1) | (span_problem == 1),
        "bad-id": (trace_problem == 2) | (span_problem == 2) | (parent_problem == 2),
        "bad-time": ~(start_ok & duration_ok),
    }
    keep = np.ones(rows, dtype=np.bool_)
    for kind, mask in problems.items():
        mask &= keep  # each row is reported once, under its first problem
        if mask.any():
            first = int(np.flatnonzero(mask)[0])
            count = int(mask.sum())
            diagnostics.skip(
                path,
                first_row + first,
                kind,
                f"{count:,} row(s) with {_DESCRIPTIONS[kind]} (first at row {first_row + first})",
                _TIME_HINT if kind == "bad-time" else _ID_HINT,
                records=count,
            )
            keep &= ~mask

    columns: dict[str, pa.Array[Any]] = {
        "Timestamp": start,
        "TraceId": trace_id,
        "SpanId": span_id,
        "ParentSpanId": parent_id,
        "Duration": duration,
    }
    for name, default in _STRING_DEFAULTS.items():
        if name in columns:
            continue
        if name not in table.column_names:
            columns[name] = pa.array([default] * rows, pa.string())
        else:
            columns[name] = pc.fill_null(_text(table, name, path), default)
    columns["SpanKind"] = _enum(columns["SpanKind"], v.span_kind)
    columns["StatusCode"] = _enum(columns["StatusCode"], v.status_code)
    for name in _MAP_COLUMNS:
        if maps or name in table.column_names:
            columns[name] = _string_map(table, name, path)

    fields = [field for field in BASE_SCHEMA if field.name in columns]
    for field in derived_types:
        if field.name not in DERIVED_SCHEMA.names:
            continue
        if field.name in table.column_names:
            try:
                columns[field.name] = _column(table, field.name, path).cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue  # not ours after all: the loader derives it again
            fields.append(field)
    result = pa.Table.from_arrays([columns[f.name] for f in fields], schema=pa.schema(fields))
    return result if keep.all() else result.filter(pa.array(keep))


_DESCRIPTIONS: Final = {
    "missing-id": "an empty TraceId or SpanId",
    "bad-id": "an id that is not hex of the right length",
    "bad-time": "a missing or invalid Timestamp or Duration",
}


def _column(table: pa.Table, name: str, path: str) -> pa.Array[Any]:
    column = table.column(name)
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _unusable(path: str, name: str, kind: pa.DataType, expected: str) -> UnreadableInputError:
    return UnreadableInputError(
        f"{path}: column {name} has type {kind}, expected {expected}",
        "export the ClickHouse otel_traces columns unchanged, or write the file "
        "with `spanscope convert`",
    )


def _text(table: pa.Table, name: str, path: str) -> pa.Array[Any]:
    column = _column(table, name, path)
    try:
        result: pa.Array[Any] = column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _unusable(path, name, column.type, "a UTF-8 string") from None
    return result


def _timestamps(column: pa.Array[Any], path: str) -> tuple[pa.Array[Any], np.ndarray[Any, Any]]:
    kind = column.type
    try:
        if pa.types.is_timestamp(kind):
            # Naive timestamps are UTC (what ClickHouse writes for DateTime64 in UTC).
            nanos = column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
        elif pa.types.is_integer(kind):
            nanos = _int64(column)
        else:
            raise _unusable(path, "Timestamp", kind, "a timestamp or integer nanoseconds")
    except pa.ArrowInvalid:
        raise _unusable(path, "Timestamp", kind, "times between 1677 and 2262") from None
    ok = pc.fill_null(pc.greater(nanos, 0), False).to_numpy(zero_copy_only=False)
    clean = pc.if_else(ok, nanos, 1)
    return clean.cast(pa.timestamp("ns", tz="UTC")), ok


def _durations(column: pa.Array[Any], path: str) -> tuple[pa.Array[Any], np.ndarray[Any, Any]]:
    kind = column.type
    if pa.types.is_duration(kind):
        column = column.cast(pa.duration("ns")).cast(pa.int64())
    elif not pa.types.is_integer(kind):
        raise _unusable(path, "Duration", kind, "integer nanoseconds")
    nanos = _int64(column)
    ok = pc.fill_null(pc.greater_equal(nanos, 0), False).to_numpy(zero_copy_only=False)
    return pc.if_else(ok, nanos, 0), ok


def _int64(column: pa.Array[Any]) -> pa.Array[Any]:
    """Integers as int64; unsigned values beyond int64 become null (then reported)."""
    if column.type == pa.uint64():
        fits = pc.less_equal(column, pa.scalar(2**63 - 1, pa.uint64()))
        # Replaced before the cast: a checked cast also looks under null slots.
        in_range = pc.if_else(fits, column, pa.scalar(0, pa.uint64())).cast(pa.int64())
        result: pa.Array[Any] = pc.if_else(fits, in_range, pa.scalar(None, pa.int64()))
        return result
    return column.cast(pa.int64())


def _ids(
    text: pa.Array[Any], length: int, *, allow_root: bool
) -> tuple[pa.Array[Any], np.ndarray[Any, Any]]:
    """Lower-case, zero-padded hex ids and a problem code per row: 0 ok, 1 missing, 2 bad.

    With ``allow_root`` (parent ids) empty and all-zero ids are the root marker ``""``.
    """
    lengths = chars_ok(text, LOWER_HEX)
    if lengths is not None:  # already canonical hex: only all-zero ids need a look
        right = (lengths == length) | (lengths == 0) if allow_root else lengths == length
        if right.all():
            zero = pc.equal(text, "0" * length)
            problem = np.zeros(len(text), dtype=np.int8)
            if allow_root:
                ids = pc.if_else(zero, "", text) if pc.any(zero).as_py() else text
                return ids, problem
            problem[zero.to_numpy(zero_copy_only=False)] = 1
            return text, problem
    ids = pc.ascii_lower(pc.fill_null(text, ""))
    hex_ok = pc.match_substring_regex(ids, f"^[0-9a-f]{{1,{length}}}$")
    padded = pc.if_else(hex_ok, pc.utf8_lpad(ids, length, "0"), ids)
    zero = pc.equal(padded, "0" * length)
    empty = pc.or_(pc.equal(ids, ""), zero)
    problem = np.where(hex_ok.to_numpy(zero_copy_only=False), 0, 2).astype(np.int8)
    empty_np = empty.to_numpy(zero_copy_only=False)
    if allow_root:
        problem[empty_np] = 0
        return pc.if_else(empty, "", padded), problem
    problem[empty_np] = 1
    return padded, problem


def _enum(text: pa.Array[Any], spelling: Any) -> pa.Array[Any]:
    """Each distinct spelling mapped once through the reference rule (``values``)."""
    distinct = pc.unique(text)
    canonical = pa.array([spelling(value) for value in distinct.to_pylist()], pa.string())
    result: pa.Array[Any] = pc.take(canonical, pc.index_in(text, value_set=distinct))
    return result


def _string_map(table: pa.Table, name: str, path: str) -> pa.Array[Any]:
    if name not in table.column_names:
        return empty_maps(table.num_rows)
    column = _column(table, name, path)
    try:
        mapped = column.cast(_STR_MAP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _unusable(path, name, column.type, "map<string, string>") from None
    if mapped.null_count:
        mapped = pc.fill_null(mapped, pa.scalar([], _STR_MAP))
    result: pa.Array[Any] = mapped
    return result
