"""The computing core the analyses share: integer span keys, interval unions, DuckDB.

Why this split: the span tree (which span is whose parent, which request owns it)
and the interval unions are resolved with vectorized NumPy over integer row
numbers, once per analysis run; relational summaries (percentiles, group-bys over
findings) run in DuckDB over the resulting Arrow tables, which it scans in place.
Joining 1 M spans on their hex id *strings* (a recursive CTE, a hash join) costs
seconds; decoding the ids to 64-bit integers and looking them up once costs a
fraction of that.

Timestamps are int64 nanoseconds throughout: DuckDB maps ``timestamp[ns, tz]`` to
microsecond ``TIMESTAMPTZ``, and interval arithmetic must stay exact.
"""

from __future__ import annotations

import binascii
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.schema import SPAN_SCHEMA

if TYPE_CHECKING:
    import duckdb

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: The SPAN_SCHEMA columns the analyses read.
ANALYSIS_COLUMNS: Final = (
    "Timestamp",
    "TraceId",
    "SpanId",
    "ParentSpanId",
    "SpanName",
    "SpanKind",
    "Duration",
    "StatusCode",
    "layer",
    "http_route",
    "http_method",
    "http_status_code",
    "db_system",
    "db_statement",
    "code_filepath",
    "code_lineno",
    "code_function",
    "orm_relation",
    "orm_relation_kind",
    "orm_lookup",
)

#: Read when present, null otherwise (tables written before these columns existed;
#: ``SpanAttributes`` only for the URL of HTTP client spans).
OPTIONAL_COLUMNS: Final = ("db_params_hash", "http_target", "SpanAttributes")

#: Interval ends are measured from their group's first start and clipped here
#: (2**52 ns is 52 days), so summed group extents stay far inside int64.
_MAX_EXTENT: Final = 2**52
#: Groups are processed in chunks whose summed extents stay below this.
_CHUNK_EXTENT: Final = 2**61


def check_span_table(spans: pa.Table) -> None:
    """Raise :class:`UsageError` unless ``spans`` has the SPAN_SCHEMA columns analyses need."""
    missing = [name for name in ANALYSIS_COLUMNS if name not in spans.schema.names]
    if missing:
        raise UsageError(
            f"the span table lacks the column(s) {', '.join(missing)}",
            "pass the table returned by spanscope.analyzer.load() (it has SPAN_SCHEMA)",
        )


def span_view(spans: pa.Table) -> pa.Table:
    """The analysed columns of ``spans``, ``Timestamp`` replaced by ``start_ns`` (int64).

    Zero-copy: selecting columns and reinterpreting a timestamp as int64 reuse the
    existing Arrow buffers.  Missing optional columns are added as nulls.
    """
    check_span_table(spans)
    view = spans.select(list(ANALYSIS_COLUMNS))
    for name in OPTIONAL_COLUMNS:
        if name in spans.schema.names:
            column = spans.column(name)
        else:
            column = pa.nulls(spans.num_rows, SPAN_SCHEMA.field(name).type)
        view = view.append_column(name, column)
    start_ns = pc.cast(view.column("Timestamp"), pa.int64())
    index = view.schema.get_field_index("Timestamp")
    return view.set_column(index, "start_ns", start_ns)


_LOCAL: Final = threading.local()


@contextmanager
def connect(tables: Mapping[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection with each Arrow table registered as a view.

    One connection per thread is kept and reused: opening one costs more (tenths of
    a second) than most queries the analyses run on it.  The views are dropped
    again on exit, so callers never see each other's tables.
    """
    con: duckdb.DuckDBPyConnection | None = getattr(_LOCAL, "connection", None)
    if con is None:
        con = _cursor()
        _LOCAL.connection = con
    if getattr(_LOCAL, "busy", False):  # nested use: a connection of its own
        with _fresh_connection(tables) as nested:
            yield nested
        return
    _LOCAL.busy = True
    try:
        for name, table in tables.items():
            con.register(name, table)
        yield con
    finally:
        for name in tables:
            con.unregister(name)
        _LOCAL.busy = False


_DATABASE_LOCK: Final = threading.Lock()
_DATABASE: list[duckdb.DuckDBPyConnection] = []


def _database() -> duckdb.DuckDBPyConnection:
    """The process's one in-memory database, opened on first use.

    DuckDB is imported here, not with this module: importing it and opening the
    database (~0.1 s together) is work no analysis needs before its input is read, so
    :func:`open_database_early` can do it on another thread meanwhile."""
    with _DATABASE_LOCK:
        if not _DATABASE:
            import duckdb  # deferred on purpose, see above

            _DATABASE.append(duckdb.connect(":memory:"))
        return _DATABASE[0]


def open_database_early() -> threading.Thread:
    """Import DuckDB and open the database on a background thread, while the caller
    reads its input (reading Arrow and Parquet releases the GIL); the first query then
    finds both ready.  The thread is returned for callers that want to wait for it."""
    thread = threading.Thread(target=_database, name="spanscope-duckdb-open")
    thread.start()
    return thread


def _cursor() -> duckdb.DuckDBPyConnection:
    """A new connection to the process's one in-memory database.

    Opening a database costs ~40 ms; a cursor on an open one ~1 ms.  Each cursor has
    its own registered views, so threads and nested users never see each other's."""
    con = _database().cursor()
    # A progress bar would be drawn on the terminal over the CLI's own output.
    con.execute("SET enable_progress_bar = false")
    return con


@contextmanager
def _fresh_connection(tables: Mapping[str, pa.Table]) -> Iterator[duckdb.DuckDBPyConnection]:
    con = _cursor()
    try:
        for name, table in tables.items():
            con.register(name, table)
        yield con
    finally:
        con.close()


def covered_per_group(
    group: Int64s, start: Int64s, end: Int64s, groups: int, base: Int64s | None = None
) -> Int64s:
    """Per group id in ``range(groups)``, the length of the union of ``[start, end)``.

    Vectorized gaps-and-islands: intervals sorted by (group, start); each adds
    ``max(0, end - max(start, reach))`` where ``reach`` is the furthest end of the
    earlier intervals of its group.  The running maximum is a single
    ``np.maximum.accumulate`` over all groups at once: each group's times are shifted
    past every earlier group's, so a maximum never leaks from one group into the next.

    ``base``, when given, is per group a time no interval of it starts before (the
    parent's start when children are clipped into their parent); it saves a pass.
    """
    covered = np.zeros(groups, dtype=np.int64)
    if not len(group):
        return covered
    keep = end > start
    if not keep.all():  # (each gather below is a pass over every interval: skip if no-op)
        if not keep.any():
            return covered
        group, start, end = group[keep], start[keep], end[keep]
    if base is None:
        base = np.full(groups, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(base, group, start)
    group_base = base[group]
    rel_start = np.subtract(start, group_base)
    np.minimum(rel_start, _MAX_EXTENT, out=rel_start)
    rel_end = np.subtract(end, group_base, out=group_base)
    np.minimum(rel_end, _MAX_EXTENT, out=rel_end)
    del group_base
    order = _group_order(group, rel_start, groups)
    if order is not None:
        group, rel_start, rel_end = group[order], rel_start[order], rel_end[order]
        del order
    first = np.empty(len(group), dtype=bool)
    first[0] = True
    np.not_equal(group[1:], group[:-1], out=first[1:])
    heads = np.flatnonzero(first)
    segment = np.cumsum(first)
    segment -= 1
    extent = np.maximum.reduceat(rel_end, heads) + 1
    # Chunk boundaries on a float running total: exact enough to keep every chunk's
    # int64 total far below overflow, and a single chunk on any real dump.
    chunk_of_segment = (np.cumsum(extent.astype(np.float64)) // _CHUNK_EXTENT).astype(np.int64)
    bounds = np.flatnonzero(np.diff(chunk_of_segment)) + 1
    del first
    # The times are shifted in place and each step reuses the last one's array: with
    # millions of intervals every temporary is tens of MB, and this runs at the peak of
    # an analysis's memory.
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(heads)], strict=True):
        offsets = np.cumsum(extent[lo:hi]) - extent[lo:hi]
        rows = slice(heads[lo], heads[hi] if hi < len(heads) else len(group))
        shift = offsets[segment[rows] - lo if lo else segment[rows]]
        shifted_start = rel_start[rows]
        shifted_start += shift
        shifted_end = rel_end[rows]
        shifted_end += shift
        reach = shift  # no longer needed: its memory holds the reach
        reach[0] = shifted_start[0]
        np.maximum.accumulate(shifted_end[:-1], out=reach[1:])
        gained = np.maximum(shifted_start, reach, out=reach)
        np.subtract(shifted_end, gained, out=gained)
        np.maximum(gained, 0, out=gained)
        covered[group[heads[lo:hi]]] = np.add.reduceat(gained, heads[lo:hi] - heads[lo])
    return covered


def _group_order(group: Int64s, rel_start: Int64s, groups: int) -> Int64s | None:
    """The permutation sorting by (group, rel_start), None when already so ordered: one
    argsort of both packed into one int64 when they fit (always, unless a group spans
    weeks), else a lexsort."""
    start_bits = int(rel_start.max()).bit_length()
    if start_bits + max(groups - 1, 1).bit_length() <= 62:
        packed = (group << start_bits) | rel_start
        if bool((packed[1:] >= packed[:-1]).all()):
            return None  # spans written child after child: no permutation to apply
        # Stable (timsort/radix): spans arrive roughly in order, which it exploits.
        order: Int64s = np.argsort(packed, kind="stable")
        return order
    return np.lexsort((rel_start, group))


@dataclass(frozen=True)
class GroupSummary:
    """Per group of repeated spans (ids 0..n-1): its size, the time it wastes, and the
    index of its first member (which stands for the keys the group shares)."""

    size: Int64s
    wasted_ns: npt.NDArray[np.float64]  # union of the members' intervals minus their mean
    first: Int64s


def group_summary(group: Int64s, start: Int64s, end: Int64s) -> GroupSummary:
    """Sizes and wasted time of the groups of spans ``group`` (dense ids) assigns."""
    count = int(group.max()) + 1 if group.size else 0
    size = np.bincount(group, minlength=count).astype(np.int64)
    mean = np.bincount(
        group, weights=(end - start).astype(np.float64), minlength=count
    ) / np.maximum(size, 1)
    covered = covered_per_group(group, start, end, count)
    return GroupSummary(size, np.maximum(covered - mean, 0.0), first_of_each(group, count))


def parent_rows(trace_ids: Any, span_ids: Any, parent_ids: Any) -> Int64s:
    """Per span, the row of its parent span (same trace), or -1 for a root or an orphan.

    Fast path: lower-case hex ids (what every reader emits) become 64-bit integer
    keys -- the span id itself mixed with the trace id -- looked up in one hash
    pass; every match is then verified on the full ids, so a key collision can only
    send the input down the exact (slower) path on the id strings, never mis-join.
    """
    keys = hex_keys(trace_ids, span_ids, parent_ids)
    if keys is not None:
        found = verified_lookup(keys)
        if found is not None:
            return found
    return _string_lookup(trace_ids, span_ids, parent_ids)


@dataclass(frozen=True)
class HexKeys:
    """The ids of some spans as 64-bit words, and the integer join keys made of them."""

    trace_words: npt.NDArray[np.uint64]  # (n, 2): the trace id, big-endian words
    span_words: npt.NDArray[np.uint64]
    parent_words: npt.NDArray[np.uint64]  # of the spans that have a parent id
    has_parent: Bools
    child_rows: Int64s  # the rows that have a parent id, in order
    span_key: npt.NDArray[np.uint64]  # the span id mixed with its trace id
    parent_key: npt.NDArray[np.uint64]  # the parent id mixed with the child's trace id


def verified_lookup(keys: HexKeys) -> Int64s | None:
    """Per span, its parent's row by integer key, or None when a key collision makes a
    match wrong (the caller then joins on the id strings)."""
    index = pc.index_in(pa.array(keys.parent_key), value_set=pa.array(keys.span_key))
    found = pc.fill_null(index, -1).to_numpy().astype(np.int64)
    hit = found >= 0
    candidates, children = found[hit], keys.child_rows[hit]
    trace_words = keys.trace_words
    same = (
        (keys.span_words[candidates] == keys.parent_words[hit])
        & (trace_words[candidates, 0] == trace_words[children, 0])
        & (trace_words[candidates, 1] == trace_words[children, 1])
    )
    if not same.all():
        return None
    parents = np.full(len(keys.span_words), -1, dtype=np.int64)
    parents[keys.child_rows] = found
    return parents


def hex_keys(trace_ids: Any, span_ids: Any, parent_ids: Any) -> HexKeys | None:
    """The :class:`HexKeys` of spans whose ids are all lower-case hex of the OTLP widths
    (parent ids may be empty), else None."""
    traces = _hex_words(trace_ids, 32)
    spans = _hex_words(span_ids, 16)
    parents = _hex_words(parent_ids, 16)
    if traces is None or spans is None or parents is None:
        return None
    trace_present, trace_words = traces
    span_present, span_words = spans
    has_parent, parent_words = parents
    if not (trace_present.all() and span_present.all()):
        return None
    child_rows = np.flatnonzero(has_parent)
    with np.errstate(over="ignore"):
        trace_mix = trace_words[:, 0] * np.uint64(0x9E3779B97F4A7C15) ^ trace_words[
            :, 1
        ] * np.uint64(0xC2B2AE3D27D4EB4F)
    span_key = span_words[:, 0] ^ trace_mix
    parent_key = parent_words[:, 0] ^ trace_mix[child_rows]
    return HexKeys(
        trace_words,
        span_words[:, 0],
        parent_words[:, 0],
        has_parent,
        child_rows,
        span_key,
        parent_key,
    )


def _hex_words(ids: Any, width: int) -> tuple[Bools, npt.NDArray[np.uint64]] | None:
    """(non-empty mask, the non-empty ids as big-endian 64-bit words), or None when an id
    is not exactly ``width`` hex digits (or is null)."""
    array = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if array.null_count:
        return None
    if pa.types.is_string(array.type):
        offset_type: Any = np.int32
    elif pa.types.is_large_string(array.type):
        offset_type = np.int64
    else:
        return None
    buffers: list[Any] = array.buffers()  # validity, offsets, data
    _, offsets_buffer, data_buffer = buffers
    offsets = np.frombuffer(
        offsets_buffer,
        offset_type,
        len(array) + 1,
        array.offset * np.dtype(offset_type).itemsize,
    )
    lengths = np.diff(offsets)
    present = lengths != 0
    if not np.all(lengths[present] == width):
        return None
    if data_buffer is None or not present.any():
        return present, np.zeros((0, width // 16), dtype=np.uint64)
    text = memoryview(data_buffer)[int(offsets[0]) : int(offsets[-1])]
    try:
        raw = binascii.unhexlify(text)  # C speed, straight from the Arrow buffer
    except binascii.Error:
        return None
    words = np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, width // 16)
    return present, words


def _string_lookup(trace_ids: Any, span_ids: Any, parent_ids: Any) -> Int64s:
    """The exact path for ids that are not hex: a hash lookup on "trace/span" strings."""
    own = pc.binary_join_element_wise(trace_ids, span_ids, "/")
    wanted = pc.binary_join_element_wise(trace_ids, parent_ids, "/")
    if isinstance(own, pa.ChunkedArray):
        own = own.combine_chunks()
    index = pc.index_in(wanted, value_set=own, skip_nulls=True)
    found: Int64s = pc.fill_null(index, -1).to_numpy().astype(np.int64)
    root = pc.fill_null(pc.equal(parent_ids, ""), True)  # a null parent is no parent
    found[to_numpy(root, np.bool_)] = -1
    return found


def dense_key(*keys: Int64s) -> Int64s:
    """One dense id (0, 1, ... in order of first appearance) per distinct tuple of the
    int64 ``keys`` (all but the first non-negative).

    The tuple is packed into one int64 (made dense first only when it would not fit),
    then numbered with one pass: a table lookup when the packed values are few
    (:func:`renumber`), else Arrow's hash-based dictionary encoding -- never a sort.
    """
    combined = keys[0]
    for key in keys[1:]:
        width = int(key.max()) + 1 if key.size else 1
        high = int(combined.max()) + 1 if combined.size else 1
        if combined.size and (int(combined.min()) < 0 or high * width >= 2**62):
            combined = _dense(combined)
        combined = combined * width  # a new array: the caller's keys stay as they are
        combined += key  # in place: one row-sized temporary fewer
    return _dense(combined)


def _dense(values: Int64s) -> Int64s:
    if values.size and int(values.min()) >= 0 and int(values.max()) < 4 * len(values):
        return renumber(values, int(values.max()) + 1)
    encoded = pc.dictionary_encode(pa.array(values, pa.int64()))
    result: Int64s = encoded.indices.to_numpy().astype(np.int64)
    return result


def renumber(key: Int64s, count: int) -> Int64s:
    """Dense ids in order of first appearance for keys in ``range(count)``: what
    :func:`dense_key` returns, by table lookups (O(n + count), no hashing)."""
    first = np.full(count, len(key), dtype=np.int64)
    np.minimum.at(first, key, np.arange(len(key), dtype=np.int64))
    present = np.flatnonzero(first < len(key))
    new_id = np.full(count, -1, dtype=np.int64)
    new_id[present[np.argsort(first[present], kind="stable")]] = np.arange(len(present))
    result: Int64s = new_id[key]
    return result


def first_of_each(group: Int64s, count: int) -> Int64s:
    """Per dense group id, the index of its first row."""
    first = np.full(count, len(group), dtype=np.int64)
    np.minimum.at(first, group, np.arange(len(group), dtype=np.int64))
    return first


def one_chunk(tables: Sequence[pa.Table]) -> pa.Table:
    """``tables`` (one schema) as one table of one chunk per column, dictionaries
    unified: every per-chunk step downstream then runs once, not once per table."""
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks()


def table_of(columns: Mapping[str, Any]) -> pa.Table:
    """``pa.table`` over NumPy and Arrow columns alike (the stubs accept only the latter)."""
    return pa.table(dict(columns))


def value_codes(column: Any, values: tuple[str, ...]) -> npt.NDArray[np.int8]:
    """Per row of a string column, the index of its value in ``values``, or
    ``len(values)`` for any other value and for null.

    A dictionary-encoded chunk is looked up once per dictionary entry, then its indices
    are mapped in NumPy: no string is compared per row.
    """
    other = len(values)
    wanted = pa.array(values, pa.string())
    pieces: list[npt.NDArray[np.int8]] = []
    for chunk in pa.chunked_array(column).chunks:
        if pa.types.is_dictionary(chunk.type) and not chunk.null_count:
            encoded: Any = chunk
            found = pc.fill_null(pc.index_in(encoded.dictionary, value_set=wanted), other)
            of_entry = np.asarray(found.to_numpy(), dtype=np.int8)
            indices = np.asarray(encoded.indices.to_numpy(), dtype=np.intp)
            pieces.append(
                of_entry[indices] if len(of_entry) else np.full(len(chunk), other, np.int8)
            )
        else:
            found = pc.fill_null(pc.index_in(chunk, value_set=wanted), other)
            pieces.append(np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int8))
    if not pieces:
        return np.zeros(0, dtype=np.int8)
    return np.concatenate(pieces)


def to_numpy(column: Any, dtype: Any) -> Any:
    """A (chunked) Arrow column as a NumPy array of ``dtype`` (nulls must be absent)."""
    return np.asarray(pa.chunked_array(column).to_numpy(), dtype=dtype)


def empty_span_table() -> pa.Table:
    """A zero-row SPAN_SCHEMA table."""
    return SPAN_SCHEMA.empty_table()
