"""``load(paths)``: any supported dumps -> one canonical span table.

Paths are expanded (files, folders, globs), each file's format sniffed from its first
decompressed bytes (or forced with ``input_format``), read by its registered reader,
enriched with the derived columns, and the spans deduplicated on (TraceId, SpanId):
rotated files of one run may overlap, and a span is counted once.

``read(..., columns="analysis")`` is the analyses' lighter read: only the columns they
use (:data:`~spanscope.analyzer.enrich.ANALYSIS_SCHEMA`), built without the attribute
maps by readers that can (JSON lines, Parquet), so that a gigabyte dump fits in far less
memory than its full span table.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer import paths as input_paths
from spanscope.analyzer import readers, span_keys
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.engine import to_numpy
from spanscope.analyzer.enrich import ANALYSIS_SCHEMA, enrich, for_analysis
from spanscope.analyzer.errors import UnreadableInputError, UsageError
from spanscope.analyzer.readers import source
from spanscope.analyzer.readers.span_tree import TreeNotes, check_span_tree
from spanscope.analyzer.schema import SPAN_SCHEMA
from spanscope.analyzer.span_keys import TableKeys
from spanscope.analyzer.spill import TraceSpill, bucket_of

PathsArg = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]
#: "all": SPAN_SCHEMA; "analysis": ANALYSIS_SCHEMA (what ``analyze`` reads).
Columns = Literal["all", "analysis"]
COLUMN_SETS: Final = ("all", "analysis")


@dataclass(frozen=True)
class LoadResult:
    table: pa.Table  # SPAN_SCHEMA (or ANALYSIS_SCHEMA), deduplicated on (TraceId, SpanId)
    files: list[str]  # files actually read, in order
    diagnostics: Diagnostics  # skipped records with file:line
    # Per row of ``table``, the row of its parent span (-1: none), found by the span-tree
    # check; handed to the analyses so that they need not resolve parents again.
    parent: npt.NDArray[np.int64] | None = None


def read(
    paths: PathsArg,
    *,
    input_format: str | None = None,
    strict: bool = False,
    columns: Columns = "all",
) -> LoadResult:
    """Read every span in ``paths``; bad records are skipped and reported (raised if ``strict``).

    After reading, duplicates are dropped and the parent links checked
    (:mod:`.readers.span_tree`): loops are broken, orphans and children outside their
    parent noted.  ``columns="analysis"`` returns only what the analyses read (see the
    module docstring).
    """
    if columns not in COLUMN_SETS:
        raise UsageError(f"unknown column set {columns!r}", "pass columns='all' or 'analysis'")
    read_in = _read(paths, input_format, strict, columns == "analysis", memory_spans=None)
    assert read_in.whole is not None  # nothing spills without memory_spans
    return read_in.whole


@dataclass
class PartitionedRead:
    """The analysis columns of an input, either whole (it fitted in ``memory_spans``) or
    spilled to disk by trace (:mod:`.spill`), to be taken a partition at a time."""

    files: list[str]
    diagnostics: Diagnostics
    whole: LoadResult | None
    spill: TraceSpill | None = None

    def spilled(self, max_rows: int) -> Iterator[tuple[int, int]]:
        """The partitions of whole traces (about ``max_rows`` spans each) as ranges of
        spilled buckets, to be :meth:`checked`."""
        if self.spill is not None:
            yield from self.spill.partitions(max_rows)

    def checked(
        self,
        buckets: tuple[int, int],
        notes: TreeNotes,
        traces: pa.Array[Any] | None = None,
    ) -> LoadResult:
        """A spilled partition read back, deduplicated and checked as :func:`read`
        checks a whole input, its span-tree problems counted in ``notes`` (for the
        caller to note once, :meth:`TreeNotes.note`); ``traces``: only the spans of
        these trace ids (whole traces: checked as they are in the partition).  Safe
        to call from several threads."""
        assert self.spill is not None
        table, origin = self.spill.read(*buckets)
        if traces is not None:
            wanted = pc.is_in(table.column("TraceId"), value_set=traces)
            rows = np.flatnonzero(to_numpy(wanted, np.bool_))
            table, origin = table.take(rows), origin[rows]
        keys = span_keys.table_keys(table)
        return _checked(table, origin, [keys], self.files, self.diagnostics, notes)

    def buckets_of(self, trace_ids: pa.Array[Any]) -> npt.NDArray[np.int64]:
        """The spilled bucket of each trace id: a partition ``(first, end)`` of
        :meth:`spilled` holds the traces of buckets ``first <= b < end``."""
        assert self.spill is not None
        return bucket_of(trace_ids, self.spill.bucket_count)

    def close(self) -> None:
        """Delete the spilled files (if any)."""
        if self.spill is not None:
            self.spill.remove()


def read_partitioned(
    paths: PathsArg,
    *,
    input_format: str | None = None,
    strict: bool = False,
    memory_spans: int,
) -> PartitionedRead:
    """The analysis columns of ``paths`` as :func:`read` gives them when they come to
    at most ``memory_spans`` spans, else spilled to disk by trace.

    A file that turns out unreadable after some of its spans were spilled keeps those
    spans (they were read correctly) and is noted as usual.  Close the result.
    """
    return _read(paths, input_format, strict, True, memory_spans=memory_spans)


def _read(
    paths: PathsArg,
    input_format: str | None,
    strict: bool,
    analysis: bool,
    memory_spans: int | None,
) -> PartitionedRead:
    forced = readers.get_reader(input_format) if input_format is not None else None
    diagnostics = Diagnostics(strict=strict)
    files: list[str] = []
    # Each table's span keys and inner parents are worked out on this thread while the
    # reader goes on (span_keys): after the read only their merge is left.
    with ThreadPoolExecutor(max_workers=1) as keying:
        keying.submit(_first_conversion)
        sink = _Sink(keying, memory_spans)
        try:
            for item in input_paths.expand(paths):
                try:
                    head = source.read_head(item.path)
                except UnreadableInputError as err:
                    if item.explicit or strict:
                        raise
                    diagnostics.note(item.path, 0, "unreadable-file", err.message, err.hint)
                    continue
                if not head.strip():
                    files.append(item.path)  # an empty dump (a process that served nothing)
                    continue
                reader = forced or _sniff(item, head, diagnostics)
                if reader is None:
                    continue
                if _read_file(reader, item, diagnostics, analysis, sink, len(files)):
                    files.append(item.path)
            sink.flush()
        except BaseException:
            sink.discard()
            raise
        if sink.spill is not None:
            return PartitionedRead(files, diagnostics, whole=None, spill=sink.spill)
        table_keys_list = [future.result() for future in sink.keys]
        sink.keys.clear()
    if not sink.tables:
        empty = (ANALYSIS_SCHEMA if analysis else SPAN_SCHEMA).empty_table()
        whole = LoadResult(table=empty, files=files, diagnostics=diagnostics)
        return PartitionedRead(files, diagnostics, whole=whole)
    sizes = [table.num_rows for table in sink.tables]
    origin = np.repeat(np.array(sink.origins, dtype=np.int32), sizes)
    table = pa.concat_tables(sink.tables)
    sink.tables.clear()
    whole = _checked(table, origin, table_keys_list, files, diagnostics)
    return PartitionedRead(files, diagnostics, whole=whole)


def _checked(
    table: pa.Table,
    origin: npt.NDArray[np.int32],
    table_keys_list: list[TableKeys | None],
    files: list[str],
    diagnostics: Diagnostics,
    notes: TreeNotes | None = None,
) -> LoadResult:
    """``table`` (the concatenated tables whose keys are ``table_keys_list``, each row
    from file number ``origin``) deduplicated and its span tree checked."""
    merged = None
    if all(found is not None for found in table_keys_list):
        merged = span_keys.merge([found for found in table_keys_list if found], table)
    del table_keys_list
    if merged is not None:  # (TraceId, SpanId) unique, parents known
        checked = check_span_tree(
            table,
            diagnostics,
            files,
            origin,
            merged.parent,
            has_parent=merged.has_parent,
            notes=notes,
        )
    else:
        first = first_rows(table)
        if first is not None:
            table, origin = table.take(first), origin[first]
        checked = check_span_tree(table, diagnostics, files, origin, notes=notes)
    return LoadResult(
        table=checked.table, files=files, diagnostics=diagnostics, parent=checked.parent
    )


class _Sink:
    """Where read tables go: kept in memory with their span keys started on
    ``keying``, or -- once they pass ``memory_spans`` spans -- all spilled by trace."""

    def __init__(self, keying: ThreadPoolExecutor, memory_spans: int | None) -> None:
        self._keying = keying
        self._memory_spans = memory_spans
        self.tables: list[pa.Table] = []
        self.origins: list[int] = []  # per table: the index in `files` of its rows
        self.keys: list[Future[TableKeys | None]] = []
        self.spill: TraceSpill | None = None
        # The last table handed to the spill on the keying thread (idle once spilling).
        self._spilling: Future[None] | None = None
        self._held = 0
        self._file_start = 0
        self._spilled_file = False

    def begin_file(self) -> None:
        self._file_start = len(self.tables)
        self._spilled_file = False

    def add(self, table: pa.Table, origin: int) -> None:
        if self.spill is not None:
            # Spilled on the keying thread, one table at a time and in order: the
            # reader goes on parsing meanwhile, and at most two tables wait.
            self.flush()
            self._spilling = self._keying.submit(self.spill.add, table, origin)
            self._spilled_file = True
            return
        self.tables.append(table)
        self.origins.append(origin)
        self.keys.append(self._keying.submit(span_keys.table_keys, table))
        self._held += table.num_rows
        if self._memory_spans is not None and self._held > self._memory_spans:
            self._start_spilling()

    def _start_spilling(self) -> None:
        self.spill = TraceSpill(ANALYSIS_SCHEMA)
        for future in self.keys:
            future.cancel()
        self.keys.clear()
        for table, origin in zip(self.tables, self.origins, strict=True):
            self.spill.add(table, origin)
        self._spilled_file = len(self.tables) > self._file_start
        self.tables.clear()
        self.origins.clear()

    def flush(self) -> None:
        """Wait for the table being spilled (raising what spilling it raised)."""
        if self._spilling is not None:
            spilling, self._spilling = self._spilling, None
            spilling.result()

    def drop_file(self) -> bool:
        """Forget the current file's tables; False when none of its spans are left
        (spilled spans stay: they were read correctly)."""
        if self.spill is None:
            del self.tables[self._file_start :], self.origins[self._file_start :]
            del self.keys[self._file_start :]
            return False
        return self._spilled_file

    def discard(self) -> None:
        if self._spilling is not None:
            self._spilling.cancel()
            wait([self._spilling])
        if self.spill is not None:
            self.spill.remove()


def _first_conversion() -> None:
    """Convert one Arrow array to NumPy.

    pyarrow's first conversion imports pandas when it is installed (~0.5 s of CPU, under
    the import lock).  Started as soon as reading starts, it runs while the first chunks
    are being parsed, instead of holding up the first chunk worker to flatten (and any
    other that converts meanwhile).
    """
    pa.array([0], pa.int64()).to_numpy()


def _read_file(
    reader: readers.Reader,
    item: input_paths.InputFile,
    diagnostics: Diagnostics,
    analysis: bool,
    sink: _Sink,
    origin: int,
) -> bool:
    """Every table of one file, enriched, into ``sink`` as file number ``origin``;
    False (noted) when a file found in a folder is unreadable and none of it was kept."""
    sink.begin_file()
    try:
        if not analysis:
            tables = (enrich(table) for table in reader.read(item.path, diagnostics))
        else:
            # A reader that has it builds the analysis columns itself.
            read_analysis = getattr(reader, "read_analysis", reader.read)
            tables = (for_analysis(table) for table in read_analysis(item.path, diagnostics))
        for table in tables:
            sink.add(table, origin)
        return True
    except UnreadableInputError as err:
        kept = sink.drop_file()
        if item.explicit or diagnostics.strict:
            raise
        diagnostics.note(item.path, 0, "unreadable-file", err.message, err.hint)
        return kept


def load(
    paths: PathsArg,
    *,
    input_format: str | None = None,
    strict: bool = False,
) -> pa.Table:
    """The span table of ``paths`` (see :func:`read` for the diagnostics)."""
    return read(paths, input_format=input_format, strict=strict).table


def _sniff(
    item: input_paths.InputFile, head: bytes, diagnostics: Diagnostics
) -> readers.Reader | None:
    reader = readers.sniff(head)
    if reader is None:
        message = f"{item.path}: not a span dump this version can read"
        hint = f"force a format with --input-format ({', '.join(readers.reader_names())})"
        if item.explicit:
            raise UnreadableInputError(message, hint)
        if not diagnostics.strict:
            diagnostics.note(
                item.path,
                0,
                "unknown-format",
                "not a span dump this version can read; ignored",
                hint,
            )
    return reader


def deduplicate(table: pa.Table) -> pa.Table:
    """Keep the first row of each (TraceId, SpanId)."""
    first = first_rows(table)
    return table if first is None else table.take(first)


def first_rows(table: pa.Table) -> npt.NDArray[np.int64] | None:
    """Sorted indices of the first row of each (TraceId, SpanId); None if all are unique."""
    if table.num_rows == 0:
        return None
    # Span ids are random 64-bit numbers: when they are all distinct, so are the
    # (TraceId, SpanId) pairs -- one pass over one column instead of a group-by.
    if _all_distinct(table.column("SpanId")):
        return None
    keys = table.select(["TraceId", "SpanId"]).append_column(
        "_row", pa.array(np.arange(table.num_rows))
    )
    first = keys.group_by(["TraceId", "SpanId"], use_threads=False).aggregate([("_row", "min")])
    if first.num_rows == table.num_rows:
        return None
    return np.sort(first.column("_row_min").to_numpy())


def _all_distinct(ids: pa.ChunkedArray[Any]) -> bool:
    """Whether no span id repeats: hex ids decoded to 64-bit words (C speed, straight
    from the Arrow buffers) and sorted; any other spelling is hashed as strings."""
    words = []
    for chunk in ids.chunks:
        decoded = _hex_words(chunk)
        if decoded is None:
            return bool(pc.count_distinct(ids).as_py() == len(ids))
        words.append(decoded)
    ordered = np.sort(np.concatenate(words)) if words else np.empty(0, dtype=np.uint64)
    return not bool((ordered[1:] == ordered[:-1]).any())


def _hex_words(chunk: pa.Array[Any]) -> npt.NDArray[np.uint64] | None:
    """16-hex-digit ids as integers, or None for nulls or any other length or spelling."""
    if chunk.null_count or chunk.type != pa.string():
        return None
    buffers: list[Any] = chunk.buffers()  # validity, offsets, data
    offsets: npt.NDArray[np.int32] = np.frombuffer(
        buffers[1], dtype=np.int32, count=len(chunk) + 1, offset=chunk.offset * 4
    )
    if not (np.diff(offsets) == 16).all():
        return None
    if not len(chunk):
        return np.empty(0, dtype=np.uint64)
    try:
        raw = binascii.unhexlify(memoryview(buffers[2])[offsets[0] : offsets[-1]])
    except binascii.Error:
        return None
    return np.frombuffer(raw, dtype=np.uint64)
