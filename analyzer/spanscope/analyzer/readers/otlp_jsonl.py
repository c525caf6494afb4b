"""OTLP JSON lines (the Collector ``file`` exporter, spanscope's exporter): the hot path.

Design, for gigabyte dumps without a per-span Python loop:

1. the file is read in chunks of complete lines (bounded memory, streaming);
2. runs of lines go through ``pyarrow.json`` with an explicit schema for the canonical
   spelling (multi-threaded C++ parsing, the parse floor of this machine), then are
   flattened resource -> scope -> span with Arrow list kernels and validated with Arrow
   compute;
3. any line that this fast path cannot take exactly -- invalid JSON, other spellings
   (snake_case, legacy keys, enum names, numbers for int64, base64 ids), array or kvlist
   attribute values (declared in the schema only so that their presence is seen), invalid spans -- is handed to the per-record reference reader
   (:mod:`.otlp_objects`), which handles every variant and reports problems with their
   line numbers.  A run that fails to parse is bisected so one bad line costs a couple
   of re-parses of its neighbourhood, not the whole chunk at Python speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as _compute
import pyarrow.json as pj
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers.otlp_objects import add_traces_data
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.schema import BASE_SCHEMA, SPAN_KINDS, STATUS_CODES

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

CHUNK_BYTES: Final = 32 * 1024 * 1024
_READ_BYTES: Final = 4 * 1024 * 1024
#: A longer line is skipped unread: real export batches are a few MB at most.
MAX_RECORD_BYTES = 256 * 1024 * 1024
# After this many failed parse attempts in one chunk, the rest of it goes to the
# reference reader directly: a chunk that is wrong everywhere is not worth bisecting.
_MAX_FAILED_PARSES: Final = 24

# Fields the fast path does not convert are still declared, so that their presence is
# seen (and the line handed to the reference reader) instead of silently ignored.
_PRESENCE: Final = pa.struct([])
_SLOW_VALUES: Final = (
    "arrayValue",
    "kvlistValue",
    "string_value",
    "int_value",
    "double_value",
    "bool_value",
    "bytes_value",
    "array_value",
    "kvlist_value",
)
_ANY_VALUE: Final = pa.struct(
    [
        pa.field("stringValue", pa.string()),
        pa.field("intValue", pa.string()),
        pa.field("doubleValue", pa.float64()),
        pa.field("boolValue", pa.bool_()),
        pa.field("bytesValue", pa.string()),
        pa.field("arrayValue", _PRESENCE),
        pa.field("kvlistValue", _PRESENCE),
        pa.field("string_value", pa.string()),
        pa.field("int_value", pa.string()),
        pa.field("double_value", pa.float64()),
        pa.field("bool_value", pa.bool_()),
        pa.field("bytes_value", pa.string()),
        pa.field("array_value", _PRESENCE),
        pa.field("kvlist_value", _PRESENCE),
    ]
)
_KEY_VALUES: Final = pa.list_(
    pa.struct([pa.field("key", pa.string()), pa.field("value", _ANY_VALUE)])
)
_SPAN: Final = pa.struct(
    [
        pa.field("traceId", pa.string()),
        pa.field("spanId", pa.string()),
        pa.field("parentSpanId", pa.string()),
        pa.field("parent_span_id", pa.string()),
        pa.field("name", pa.string()),
        pa.field("kind", pa.int64()),
        pa.field("startTimeUnixNano", pa.string()),
        pa.field("endTimeUnixNano", pa.string()),
        pa.field("attributes", _KEY_VALUES),
        pa.field(
            "status", pa.struct([pa.field("code", pa.int64()), pa.field("message", pa.string())])
        ),
    ]
)
_CANONICAL: Final = pa.schema(
    [
        pa.field(
            "resourceSpans",
            pa.list_(
                pa.struct(
                    [
                        pa.field("resource", pa.struct([pa.field("attributes", _KEY_VALUES)])),
                        pa.field(
                            "scopeSpans",
                            pa.list_(
                                pa.struct(
                                    [
                                        pa.field(
                                            "scope", pa.struct([pa.field("name", pa.string())])
                                        ),
                                        pa.field("spans", pa.list_(_SPAN)),
                                    ]
                                )
                            ),
                        ),
                    ]
                )
            ),
        )
    ]
)
_PARSE_OPTIONS: Final = pj.ParseOptions(
    explicit_schema=_CANONICAL, unexpected_field_behavior="ignore"
)

_INVALID_JSON_HINT: Final = "each line must be one complete OTLP TracesData JSON object"
_TORN_HINT: Final = (
    "the file ends mid-record: the writer was probably killed while writing; the rest was read"
)


class OtlpJsonLinesReader:
    name = "otlp-jsonl"

    def sniff(self, head: bytes) -> bool:
        line = registry.first_line(head)
        # A JSON-lines record starts with `{"` on its first line; a pretty-printed
        # document has `{` alone there.
        return line.startswith(b'{"') and any(marker in head for marker in registry.OTLP_MARKERS)

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        first_line = 1
        for block in _line_blocks(path, diagnostics):
            if block.oversized:
                diagnostics.skip(
                    path,
                    first_line,
                    "oversized-record",
                    f"line longer than {MAX_RECORD_BYTES:,} bytes; not read into memory",
                    "a trace exporter never writes lines this long: the file is damaged "
                    "or is not JSON lines",
                )
                first_line += 1
                continue
            lines = _Lines.split(block.data, first_line, block.complete)
            table = _read_lines(lines, path, diagnostics)
            first_line += lines.count
            if table.num_rows:
                yield table


def read_json_records(
    data: bytes, first_record: int, path: str, diagnostics: Diagnostics
) -> pa.Table:
    """Newline-terminated OTLP JSON records (line ``i`` is record ``first_record + i``) as
    one BASE_SCHEMA table, through the same fast path and fallbacks as a JSON-lines file."""
    return _read_lines(_Lines.split(data, first_record, True), path, diagnostics)


@dataclass(frozen=True)
class _Block:
    data: bytes
    complete: bool  # ends at a line end (False: the unterminated tail of a torn file)
    oversized: bool = False  # one line longer than MAX_RECORD_BYTES, skipped unread


def _line_blocks(path: str, diagnostics: Diagnostics) -> Iterator[_Block]:
    """Blocks of whole lines of ~CHUNK_BYTES; an unterminated tail last.

    A line longer than :data:`MAX_RECORD_BYTES` is dropped as soon as it grows past the
    limit (its remaining bytes are read and discarded up to the next newline), so a
    damaged file without newlines never has to fit in memory.
    """
    pending: list[bytes] = []
    size = 0
    line_start = 0  # offset in the pending bytes where the unterminated line starts
    skipping = False
    for data in source.read_chunks(path, _READ_BYTES, diagnostics):
        if skipping:
            newline = data.find(b"\n")
            if newline < 0:
                continue
            skipping = False
            yield _Block(b"", True, oversized=True)
            data = data[newline + 1 :]
        last_newline = data.rfind(b"\n")
        if last_newline >= 0:
            line_start = size + last_newline + 1
        pending.append(data)
        size += len(data)
        if size - line_start > MAX_RECORD_BYTES:
            if line_start:
                yield _Block(b"".join(pending)[:line_start], True)
            pending, size, line_start, skipping = [], 0, 0, True
        elif size >= CHUNK_BYTES and line_start:
            joined = b"".join(pending)
            yield _Block(joined[:line_start], True)
            pending, size, line_start = [joined[line_start:]], size - line_start, 0
    if skipping:
        yield _Block(b"", False, oversized=True)
        return
    tail = b"".join(pending)
    if line_start:
        yield _Block(tail[:line_start], True)
    if tail[line_start:].strip():
        yield _Block(tail[line_start:], False)


@dataclass
class _Lines:
    """A block of lines: ``data[starts[i]:ends[i]]`` is line ``first_line + i`` (no newline)."""

    data: bytes
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    first_line: int
    complete: bool  # False: the last line has no newline (a torn write)

    @classmethod
    def split(cls, data: bytes, first_line: int, complete: bool) -> _Lines:
        newlines = _newlines(data)
        ends = newlines if complete else np.append(newlines, len(data))
        starts = np.concatenate(([0], newlines + 1))[: len(ends)].astype(np.int64)
        return cls(data, starts, ends, first_line, complete)

    @property
    def count(self) -> int:
        return len(self.ends)

    def line(self, index: int) -> bytes:
        return self.data[self.starts[index] : self.ends[index]]

    def span_bytes(self, lo: int, hi: int) -> memoryview:
        """Lines lo..hi-1 with their newlines, without copying."""
        end = self.ends[hi - 1] + 1 if (hi < self.count or self.complete) else self.ends[hi - 1]
        return memoryview(self.data)[self.starts[lo] : end]


def _newlines(data: bytes) -> npt.NDArray[np.int64]:
    """Offsets of every newline in ``data``."""
    count = data.count(b"\n")  # a fast C scan, cheaper than building a boolean mask
    if count * 4096 < len(data):
        # Long lines (export batches of hundreds of spans): a find per line beats a
        # pass of numpy over every byte.
        offsets = np.empty(count, dtype=np.int64)
        position = -1
        for index in range(count):
            position = data.find(b"\n", position + 1)
            offsets[index] = position
        return offsets
    return np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")).astype(np.int64)


@dataclass
class _Outcome:
    fast: list[pa.Table] = field(default_factory=list)
    slow_lines: list[int] = field(default_factory=list)
    failed_parses: int = 0


def _read_lines(lines: _Lines, path: str, diagnostics: Diagnostics) -> pa.Table:
    lengths = lines.ends - lines.starts
    blank = lengths == 0
    suspect = np.zeros(lines.count, dtype=np.bool_)
    if not lines.complete:
        suspect[-1] = True  # a torn last line: report it, do not let it fail a whole run
    outcome = _Outcome()
    # Runs of consecutive non-blank, non-suspect lines go to the fast path.
    fast = ~(blank | suspect)
    index = 0
    while index < lines.count:
        if not fast[index]:
            if not blank[index]:
                outcome.slow_lines.append(index)
            index += 1
            continue
        run_end = index
        while run_end < lines.count and fast[run_end]:
            run_end += 1
        _fast_run(lines, index, run_end, outcome)
        index = run_end
    tables = outcome.fast
    if outcome.slow_lines:
        tables.append(_slow_lines(lines, sorted(outcome.slow_lines), path, diagnostics))
    if not tables:
        return BASE_SCHEMA.empty_table()
    return pa.concat_tables(tables)


def _fast_run(lines: _Lines, lo: int, hi: int, outcome: _Outcome) -> None:
    """Parse lines lo..hi-1 with pyarrow; bisect on failure; invalid spans go to the slow path."""
    if outcome.failed_parses >= _MAX_FAILED_PARSES:
        outcome.slow_lines.extend(range(lo, hi))
        return
    payload = lines.span_bytes(lo, hi)
    longest = int((lines.ends[lo:hi] - lines.starts[lo:hi]).max())
    try:
        parsed = pj.read_json(
            pa.BufferReader(pa.py_buffer(payload)),  # type: ignore[arg-type]  # any NativeFile works
            read_options=pj.ReadOptions(block_size=max(1 << 23, longest + 2)),
            parse_options=_PARSE_OPTIONS,
        )
    except (pa.ArrowException, ValueError):
        outcome.failed_parses += 1
        if hi - lo == 1:
            outcome.slow_lines.append(lo)
            return
        middle = (lo + hi) // 2
        _fast_run(lines, lo, middle, outcome)
        _fast_run(lines, middle, hi, outcome)
        return
    if parsed.num_rows != hi - lo:
        # pyarrow skips whitespace-only lines; row i would no longer be line lo + i.
        outcome.slow_lines.extend(range(lo, hi))
        return
    table, row_lines, fallback_lines = flatten(parsed)
    if len(fallback_lines):
        keep = ~np.isin(row_lines, fallback_lines)
        table = table.filter(pa.array(keep))
        outcome.slow_lines.extend(int(line) + lo for line in fallback_lines)
    if table.num_rows:
        outcome.fast.append(table)


def _slow_lines(lines: _Lines, indices: list[int], path: str, diagnostics: Diagnostics) -> pa.Table:
    rows = SpanRows()
    for index in indices:
        text = lines.line(index)
        line_number = lines.first_line + index
        if not text.strip():
            continue
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError as err:
            torn = not lines.complete and index == lines.count - 1
            diagnostics.skip(
                path,
                line_number,
                "truncated-record" if torn else "invalid-json",
                f"invalid JSON ({err})",
                _TORN_HINT if torn else _INVALID_JSON_HINT,
            )
            continue
        add_traces_data(document, rows, diagnostics, path, line_number)
    return rows.to_table()


# -- vectorized flattening ---------------------------------------------------------------

_ZERO_SPAN_ID: Final = "0" * 16
_ZERO_TRACE_ID: Final = "0" * 32


def flatten(parsed: pa.Table) -> tuple[pa.Table, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Rows of ``_CANONICAL`` -> (valid spans in BASE_SCHEMA, their row index, rows to redo slowly).

    A row (line) is redone by the reference reader when anything in it is not certainly
    right here: a missing resourceSpans/scopeSpans list (other spelling, or not traces at
    all), an attribute without a key, or a span that fails validation (the reference
    reader then either converts it -- base64 ids, say -- or reports it).
    """
    resource_spans = parsed.column("resourceSpans").combine_chunks()
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

    resource_attributes, bad_resource = _attribute_map(
        pc.struct_field(resources, ["resource", "attributes"])
    )
    redo.append(resource_row[bad_resource])
    span_attributes, bad_span = _attribute_map(pc.struct_field(spans, "attributes"))
    redo.append(span_row[bad_span])

    trace_id = pc.struct_field(spans, "traceId")
    span_id = pc.struct_field(spans, "spanId")
    parent_id = pc.fill_null(pc.struct_field(spans, "parentSpanId"), "")
    start, start_ok = _nanos(pc.struct_field(spans, "startTimeUnixNano"))
    end, end_ok = _nanos(pc.struct_field(spans, "endTimeUnixNano"))
    root = pc.or_(pc.equal(parent_id, ""), pc.equal(parent_id, _ZERO_SPAN_ID))
    valid = pc.and_(
        pc.and_(
            pc.and_(_is_hex(trace_id, 32), pc.not_equal(trace_id, _ZERO_TRACE_ID)),
            pc.and_(_is_hex(span_id, 16), pc.not_equal(span_id, _ZERO_SPAN_ID)),
        ),
        pc.and_(
            pc.or_(root, _is_hex(parent_id, 16)),
            pc.and_(pc.and_(start_ok, end_ok), pc.greater_equal(end, start)),
        ),
    )
    valid = pc.and_(valid, pc.struct_field(spans, "parent_span_id").is_null())
    valid_np = pc.fill_null(valid, False).to_numpy(zero_copy_only=False)
    redo.append(span_row[~valid_np])

    service = pc.fill_null(
        pc.map_lookup(resource_attributes, pa.scalar("service.name"), "first"), ""
    )
    scope_name = pc.fill_null(pc.struct_field(scopes, ["scope", "name"]), "")
    status = pc.struct_field(spans, "status")
    table = pa.Table.from_arrays(
        [
            pc.cast(start, pa.timestamp("ns", tz="UTC")),
            pc.ascii_lower(trace_id),
            pc.ascii_lower(span_id),
            pc.if_else(root, "", pc.ascii_lower(parent_id)),
            pc.fill_null(pc.struct_field(spans, "name"), ""),
            _enum_names(pc.struct_field(spans, "kind"), SPAN_KINDS),
            pc.take(service, span_resource),
            pc.take(scope_name, span_scope),
            pc.subtract(end, start),
            _enum_names(pc.struct_field(status, "code"), STATUS_CODES),
            pc.fill_null(pc.struct_field(status, "message"), ""),
            span_attributes,
            pc.take(resource_attributes, span_resource),
        ],
        schema=BASE_SCHEMA.remove_metadata(),
    )
    table = table.filter(pa.array(valid_np))
    rows = np.unique(np.concatenate(redo)).astype(np.int64)
    return table, span_row[valid_np].astype(np.int64), rows


def _is_hex(ids: pa.Array[Any], length: int) -> pa.Array[Any]:
    result: pa.Array[Any] = pc.fill_null(
        pc.match_substring_regex(ids, f"^[0-9a-fA-F]{{{length}}}$"), False
    )
    return result


def _nanos(text: pa.Array[Any]) -> tuple[pa.Array[Any], pa.Array[Any]]:
    """int64 nanoseconds and a validity mask (decimal, 1..2**63-1)."""
    ok = pc.fill_null(pc.match_substring_regex(text, "^[0-9]{1,19}$"), False)
    as_unsigned = pc.cast(pc.if_else(ok, text, "0"), pa.uint64())
    ok = pc.and_(ok, pc.and_(pc.greater(as_unsigned, 0), pc.less_equal(as_unsigned, 2**63 - 1)))
    nanos = pc.cast(pc.if_else(ok, as_unsigned, pa.scalar(0, pa.uint64())), pa.int64())
    return nanos, ok


def _enum_names(numbers: pa.Array[Any], names: tuple[str, ...]) -> pa.Array[Any]:
    """Enum numbers -> names; missing and unknown numbers are the zero value (protobuf rule)."""
    known = pc.and_(pc.greater_equal(numbers, 0), pc.less(numbers, len(names)))
    index = pc.if_else(pc.fill_null(known, False), numbers, 0)
    result: pa.Array[Any] = pc.take(pa.array(names), index)
    return result


def _attribute_map(key_values: pa.Array[Any]) -> tuple[pa.Array[Any], npt.NDArray[np.int64]]:
    """list<{key, AnyValue}> -> map<string, string>; also the entries with a null key."""
    lengths = pc.fill_null(pc.list_value_length(key_values), 0).to_numpy().astype(np.int32)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    entries = pc.list_flatten(key_values)
    keys = pc.struct_field(entries, "key")
    value = pc.struct_field(entries, "value")
    text = pc.coalesce(
        pc.struct_field(value, "stringValue"),
        pc.struct_field(value, "intValue"),
        pc.cast(pc.struct_field(value, "doubleValue"), pa.string()),
        pc.cast(pc.struct_field(value, "boolValue"), pa.string()),
        pc.struct_field(value, "bytesValue"),
        pa.scalar(""),
    )
    # Entries the reference reader must convert: no key, or a value kind not handled here.
    redo = keys.is_null().to_numpy(zero_copy_only=False)
    for name in _SLOW_VALUES:
        present = pc.struct_field(value, name).is_valid()
        if present.true_count:
            redo |= present.to_numpy(zero_copy_only=False)
    bad_rows = np.empty(0, dtype=np.int64)
    if redo.any():
        parents = pc.list_parent_indices(key_values).to_numpy()
        bad_rows = np.unique(parents[redo]).astype(np.int64)
        keys = pc.fill_null(keys, "")
    mapped = pa.MapArray.from_arrays(pa.array(offsets, pa.int32()), keys, text)  # type: ignore[call-overload]  # int32 offsets are valid for map
    return mapped, bad_rows
