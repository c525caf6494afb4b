"""Parsed OTLP JSON (rows of ``TracesData`` in Arrow) -> flat span tables, vectorized.

Resource -> scope -> span lists are flattened with Arrow list kernels, spans validated
with Arrow compute (ids and times a whole column buffer at a time), and the attribute
lists turned either into ``map<string, string>`` columns (the full table) or straight
into the derived columns (a table for analysis, without building any map).  Whatever
is not certainly right here is returned as rows for the reference reader to redo.
"""

from __future__ import annotations

from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.enrich import (
    ANALYSIS_ATTRIBUTES,
    ANALYSIS_SCHEMA,
    derive_from_entries,
    wanted_names,
)
from spanscope.analyzer.readers.string_buffers import DIGITS, LOWER_HEX, chars_ok
from spanscope.analyzer.schema import BASE_SCHEMA, SPAN_KINDS, STATUS_CODES

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute


def _as_text(values: pa.Array[Any]) -> pa.Array[Any]:
    # Arrow's cast is what values.format_double uses: both OTLP paths print alike.
    result: pa.Array[Any] = pc.cast(values, pa.string())
    return result


def _unchanged(values: pa.Array[Any]) -> pa.Array[Any]:
    return values


#: The value kinds converted here, and how each becomes text (the ClickHouse exporter's
#: spelling, see ``values.any_value_text``); an entry whose value has none of the kinds
#: the parser was asked for goes to the reference reader.
VALUE_TEXT: Final = {
    "stringValue": _unchanged,
    "intValue": _unchanged,  # an int64 is a decimal string in OTLP/JSON: kept as written
    "doubleValue": _as_text,
    "boolValue": _as_text,
    "bytesValue": _unchanged,  # base64, as written
}

_ZERO_SPAN_ID: Final = "0" * 16
_ZERO_TRACE_ID: Final = "0" * 32


def flatten(
    parsed: pa.Table, *, analysis: bool = False
) -> tuple[pa.Table, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Parsed rows -> (valid spans, their row index, rows to redo slowly).

    The spans are a BASE_SCHEMA table, or with ``analysis`` an ANALYSIS_SCHEMA one whose
    derived columns come straight from the attribute entries.  A row (line) is redone by
    the reference reader when anything in it is not certainly right here: a missing
    resourceSpans/scopeSpans list (other spelling, or not traces at all), an attribute
    without a key or with a value kind not converted here, or a span that fails
    validation (the reference reader then either converts it -- base64 ids, say -- or
    reports it).
    """
    column = parsed.column("resourceSpans")
    # A lone chunk is used as it is: combine_chunks would still copy the whole of it.
    resource_spans = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
    redo = [np.flatnonzero(resource_spans.is_null().to_numpy(zero_copy_only=False))]

    resources = pc.list_flatten(resource_spans)
    resource_row = pc.list_parent_indices(resource_spans).to_numpy()
    scope_lists = pc.struct_field(resources, "scopeSpans")
    redo.append(resource_row[scope_lists.is_null().to_numpy(zero_copy_only=False)])

    scopes = pc.list_flatten(scope_lists)
    scope_resource = pc.list_parent_indices(scope_lists).to_numpy()
    span_lists = pc.struct_field(scopes, "spans")
    spans = pc.list_flatten(span_lists)
    span_scope = pc.list_parent_indices(span_lists).to_numpy()
    span_resource = scope_resource[span_scope]
    span_row = resource_row[span_resource]

    # For analysis only the entries that a derived column reads must be converted exactly.
    span_attributes = _Entries(
        pc.struct_field(spans, "attributes"), wanted=wanted_names() if analysis else None
    )
    redo.append(span_row[span_attributes.bad_rows])

    trace_id, trace_ok = _ids(pc.struct_field(spans, "traceId"), 32, _ZERO_TRACE_ID)
    span_id, span_ok = _ids(pc.struct_field(spans, "spanId"), 16, _ZERO_SPAN_ID)
    parent_id, parent_ok = _parent_ids(pc.struct_field(spans, "parentSpanId"))
    start, start_ok = _nanos(pc.struct_field(spans, "startTimeUnixNano"))
    end, end_ok = _nanos(pc.struct_field(spans, "endTimeUnixNano"))
    valid_np = trace_ok & span_ok & parent_ok & start_ok & end_ok
    valid_np &= end >= start
    valid_np &= ~pc.struct_field(spans, "parent_span_id").is_valid().to_numpy(zero_copy_only=False)
    redo.append(span_row[~valid_np])

    # For analysis the enum columns are dictionaries anyway: built as such, never
    # spelled out string by string and hashed back.
    kinds = _enum_names(pc.struct_field(spans, "kind"), SPAN_KINDS, encoded=analysis)
    status = pc.struct_field(spans, "status")
    common = {
        "Timestamp": pa.array(start, pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
        "TraceId": trace_id,
        "SpanId": span_id,
        "ParentSpanId": parent_id,
        "SpanName": pc.fill_null(pc.struct_field(spans, "name"), ""),
        "SpanKind": kinds,
        "Duration": pa.array(end - start, pa.int64()),
        "StatusCode": _enum_names(pc.struct_field(status, "code"), STATUS_CODES, encoded=analysis),
    }
    if analysis:
        columns = common | span_attributes.derived(kinds)
        columns["SpanAttributes"] = span_attributes.map_of(ANALYSIS_ATTRIBUTES)
        schema = ANALYSIS_SCHEMA
    else:
        resource_attributes = _Entries(pc.struct_field(resources, ["resource", "attributes"]))
        redo.append(resource_row[resource_attributes.bad_rows])
        resource_map = resource_attributes.map_of(None)
        service = pc.fill_null(pc.map_lookup(resource_map, pa.scalar("service.name"), "first"), "")
        columns = common | {
            "ServiceName": pc.take(service, span_resource),
            "ScopeName": pc.take(
                pc.fill_null(pc.struct_field(scopes, ["scope", "name"]), ""), span_scope
            ),
            "StatusMessage": pc.fill_null(pc.struct_field(status, "message"), ""),
            "SpanAttributes": span_attributes.map_of(None),
            "ResourceAttributes": pc.take(resource_map, span_resource),
        }
        schema = BASE_SCHEMA
    table = pa.Table.from_arrays([columns[name] for name in schema.names], names=schema.names)
    if not valid_np.all():
        table = table.filter(pa.array(valid_np))
    # Invalid rows (null ids) are gone; in the analysis schema repeated strings become
    # dictionaries here, while the chunk is small.
    table = table.cast(schema.remove_metadata())
    rows = np.unique(np.concatenate(redo)).astype(np.int64)
    return table, span_row[valid_np].astype(np.int64), rows


def _ids(
    text: pa.Array[Any], length: int, zero: str
) -> tuple[pa.Array[Any], npt.NDArray[np.bool_]]:
    """Lower-case hex ids and whether each is valid (hex of ``length``, not all zeros)."""
    lengths = chars_ok(text, LOWER_HEX)
    if lengths is not None and (lengths == length).all():
        valid = pc.not_equal(text, zero).to_numpy(zero_copy_only=False)
        return text, valid
    valid = pc.and_(_is_hex(text, length), pc.not_equal(text, zero))
    return pc.ascii_lower(text), pc.fill_null(valid, False).to_numpy(zero_copy_only=False)


def _parent_ids(text: pa.Array[Any]) -> tuple[pa.Array[Any], npt.NDArray[np.bool_]]:
    """Parent ids with the root marker ``""`` (for missing, empty and all-zero ids)."""
    text = pc.fill_null(text, "")
    root = pc.or_(pc.equal(text, ""), pc.equal(text, _ZERO_SPAN_ID))
    lengths = chars_ok(text, LOWER_HEX)
    if lengths is not None and ((lengths == 16) | (lengths == 0)).all():
        ids = pc.if_else(root, "", text) if pc.any(pc.equal(text, _ZERO_SPAN_ID)).as_py() else text
        return ids, np.ones(len(text), dtype=np.bool_)
    valid = pc.or_(root, _is_hex(text, 16))
    ids = pc.if_else(root, "", pc.ascii_lower(text))
    return ids, valid.to_numpy(zero_copy_only=False)


def _is_hex(ids: pa.Array[Any], length: int) -> pa.Array[Any]:
    result: pa.Array[Any] = pc.fill_null(
        pc.match_substring_regex(ids, f"^[0-9a-fA-F]{{{length}}}$"), False
    )
    return result


_MAX_NANOS: Final = 2**63 - 1


def _nanos(text: pa.Array[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """int64 nanoseconds and whether each is valid (decimal, 1..2**63-1)."""
    lengths = chars_ok(text, DIGITS)
    if lengths is not None and ((lengths >= 1) & (lengths <= 19)).all():
        ok_text = np.ones(len(text), dtype=np.bool_)
        as_unsigned = pc.cast(text, pa.uint64()).to_numpy()
    else:
        ok_text = pc.fill_null(pc.match_substring_regex(text, "^[0-9]{1,19}$"), False)
        as_unsigned = pc.cast(pc.if_else(ok_text, text, "0"), pa.uint64()).to_numpy()
        ok_text = ok_text.to_numpy(zero_copy_only=False)
    ok = ok_text & (as_unsigned > 0) & (as_unsigned <= _MAX_NANOS)
    return np.where(ok, as_unsigned, 0).astype(np.int64), ok


def _enum_names(
    numbers: pa.Array[Any], names: tuple[str, ...], *, encoded: bool = False
) -> pa.Array[Any]:
    """Enum numbers -> names (``encoded``: as a dictionary array over ``names``); missing
    and unknown numbers are the zero value (protobuf rule)."""
    known = pc.and_(pc.greater_equal(numbers, 0), pc.less(numbers, len(names)))
    index = pc.if_else(pc.fill_null(known, False), numbers, 0)
    if encoded:
        indices = pc.cast(index, pa.int32())
        return pa.DictionaryArray.from_arrays(indices, pa.array(names, pa.string()))
    result: pa.Array[Any] = pc.take(pa.array(names), index)
    return result


class _Entries:
    """The flattened ``list<{key, AnyValue}>`` attributes of some spans (or resources).

    ``bad_rows`` are the rows with an entry the reference reader must convert: no key,
    or a value of none of the kinds parsed (the fields of the value struct).  With
    ``wanted``, only entries keyed by one of those names count (the others are never
    read); ``codes`` then holds each entry's index in ``wanted`` (-1: not wanted).
    """

    def __init__(self, key_values: pa.Array[Any], *, wanted: tuple[str, ...] | None = None) -> None:
        self.rows = len(key_values)
        if key_values.null_count:
            lengths = pc.fill_null(pc.list_value_length(key_values), 0).to_numpy()
        else:  # the offsets say it all (and list_value_length is oddly slow on these)
            lists = cast("pa.ListArray[Any]", key_values)
            lengths = np.diff(lists.offsets.to_numpy())
        self.offsets = np.zeros(self.rows + 1, dtype=np.int32)
        np.cumsum(lengths, out=self.offsets[1:])
        self.parents = np.repeat(np.arange(self.rows, dtype=np.int64), lengths)
        entries = pc.list_flatten(key_values)
        keys = pc.struct_field(entries, "key")
        self.values = pc.struct_field(entries, "value")
        self.kinds = tuple(field.name for field in self.values.type)
        unknown = _all_null([pc.struct_field(self.values, kind) for kind in self.kinds], len(keys))
        self.codes: npt.NDArray[np.int64] | None = None
        self.wanted = wanted or ()
        if wanted is not None:
            codes = pc.index_in(keys, value_set=pa.array(wanted))
            self.codes = pc.fill_null(codes, -1).to_numpy().astype(np.int64)
            unknown &= self.codes >= 0
        if keys.null_count:
            unknown |= keys.is_null().to_numpy(zero_copy_only=False)
            keys = pc.fill_null(keys, "")
        self.bad_rows = np.unique(self.parents[unknown])
        self.keys = keys

    def text(self, values: pa.Array[Any]) -> pa.Array[Any]:
        """Each value as the ClickHouse exporter stores it (see ``values.any_value_text``)."""
        kinds = [VALUE_TEXT[kind](pc.struct_field(values, kind)) for kind in self.kinds]
        present = [kind for kind in kinds if kind.null_count < len(kind)]
        if not present:  # no entries (or none with a value kind: their rows are redone)
            nothing: pa.Array[Any] = pa.repeat(pa.scalar(""), len(values))
            return nothing
        if len(present) == 1 and not present[0].null_count:
            only: pa.Array[Any] = present[0]  # one kind of value throughout: no copy
            return only
        result: pa.Array[Any] = pc.coalesce(*present, pa.scalar(""))
        return result

    def map_of(self, names: tuple[str, ...] | None) -> pa.Array[Any]:
        """A ``map<string, string>`` per row: every entry, or those keyed by ``names``."""
        if names is None:
            return pa.MapArray.from_arrays(  # type: ignore[call-overload, no-any-return]  # int32 offsets are valid for map
                pa.array(self.offsets), self.keys, self.text(self.values)
            )
        if self.codes is not None and set(names) <= set(self.wanted):
            # The keys were matched against the wanted names already: compare codes.
            codes = [self.wanted.index(name) for name in names]
            chosen = np.flatnonzero(np.isin(self.codes, codes))
        else:
            kept = pc.fill_null(pc.is_in(self.keys, value_set=pa.array(names)), False)
            chosen = np.flatnonzero(kept.to_numpy(zero_copy_only=False))
        offsets = np.zeros(self.rows + 1, dtype=np.int32)
        np.cumsum(np.bincount(self.parents[chosen], minlength=self.rows), out=offsets[1:])
        indices = pa.array(chosen)
        return pa.MapArray.from_arrays(  # type: ignore[call-overload, no-any-return]  # int32 offsets are valid for map
            pa.array(offsets), self.keys.take(indices), self.text(self.values.take(indices))
        )

    def derived(self, kinds: pa.Array[Any]) -> dict[str, pa.Array[Any]]:
        """The derived columns, from the entries of the keys they read (needs
        ``wanted=wanted_names()``: ``codes`` marks those entries).

        Each value kind's column is handed on as parsed: a derived column takes its
        spans' texts straight from them, so the entries' texts are never gathered or
        joined into one column first (a copy of every wanted string).
        """
        codes_np = self.codes
        assert codes_np is not None, "entries read without the wanted names"
        texts = [VALUE_TEXT[kind](pc.struct_field(self.values, kind)) for kind in self.kinds]
        return derive_from_entries(codes_np, self.parents, texts, kinds)


def _all_null(columns: list[pa.Array[Any]], length: int) -> npt.NDArray[np.bool_]:
    """Per row, whether every one of ``columns`` (each ``length`` long) is null there."""
    result = np.ones(length, dtype=np.bool_)
    for column in columns:
        if column.null_count:
            result &= column.is_null().to_numpy(zero_copy_only=False)
        else:
            result[:] = False
    return result
