"""OTLP JSON lines (the Collector ``file`` exporter, spanscope's exporter): the hot path.

Design, for gigabyte dumps without a per-span Python loop:

1. the file is read in chunks of complete lines (bounded memory, streaming); each chunk
   is parsed and flattened by one of a few worker threads, several chunks at a time, and
   the results are handed on in file order;
2. runs of lines go through ``pyarrow.json`` with an explicit schema for the canonical
   spelling (C++ parsing that releases the GIL), then are flattened resource -> scope ->
   span with Arrow list kernels and validated with Arrow compute (ids and times checked
   a whole column buffer at a time);
3. any line that this fast path cannot take exactly -- invalid JSON, other spellings
   (snake_case, legacy keys, enum names, numbers for int64, base64 ids), array or kvlist
   attribute values (seen as a value with none of the declared kinds), invalid spans --
   is handed to the per-record reference reader (:mod:`.otlp_objects`), which handles
   every variant and reports problems with their line numbers.  A run that fails to
   parse is bisected so one bad line costs a couple of re-parses of its neighbourhood,
   not the whole chunk at Python speed.

:meth:`OtlpJsonLinesReader.read_analysis` is the same path for ``analyze``: the parser
skips what no analysis reads (even the value kinds no derived column needs), and the
derived columns come straight from the parsed attribute entries, so the attribute maps
are never built.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.json as pj
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import ANALYSIS_SCHEMA, for_analysis
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers.otlp_flatten import flatten
from spanscope.analyzer.readers.otlp_objects import add_traces_data
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.schema import BASE_SCHEMA

CHUNK_BYTES: Final = 32 * 1024 * 1024
# Uncompressed files are read a whole chunk at a time: one copy per chunk, not two.
_READ_BYTES: Final = CHUNK_BYTES
#: A longer line is skipped unread: real export batches are a few MB at most.
MAX_RECORD_BYTES = 256 * 1024 * 1024
# After this many failed parse attempts in one chunk, the rest of it goes to the
# reference reader directly: a chunk that is wrong everywhere is not worth bisecting.
_MAX_FAILED_PARSES: Final = 24
# pyarrow's block size is a 32-bit int; a block of whole lines larger than this (a few
# lines near MAX_RECORD_BYTES) is simply parsed as several blocks.
_MAX_BLOCK: Final = 1 << 30


def _usable_cores() -> int:
    # The cores this process may run on (a container or taskset may allow fewer than
    # the machine has).
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 2


#: Chunks parsed and flattened at once: one per usable core (each parse is
#: single-threaded), at least two so that reading and converting overlap, at most four
#: (each holds a chunk and its nested parse in memory).
PARSE_WORKERS: Final = max(2, min(_usable_cores(), 4))
#: Blocks read ahead of the oldest one still being converted.  Blocks take their
#: workers unequal times, and the results are handed on in file order: with one block
#: queued, a worker that finished two blocks while the other still converts the oldest
#: sat idle.  A queued block holds its 32 MB of input (and a finished one its small
#: flat table), which costs the peak RSS nothing: that comes after the read.
READ_AHEAD: Final = PARSE_WORKERS + 3

# Only the value kinds converted here are declared: every extra field costs the parser a
# column (for every entry, present or not: a null is appended to each absent one).  An
# entry whose value has none of them (arrayValue, kvlistValue, the snake_case spellings,
# or no value at all) is seen by all of them being null, and its line handed to the
# reference reader.
_ANY_VALUE: Final = pa.struct(
    [
        pa.field("stringValue", pa.string()),
        pa.field("intValue", pa.string()),
        pa.field("doubleValue", pa.float64()),
        pa.field("boolValue", pa.bool_()),
        pa.field("bytesValue", pa.string()),
    ]
)
# The kinds that the attributes analyses read are written as (SQL, paths, routes, line
# numbers, status codes): the parser then costs about a tenth less.  An entry of a wanted
# key with another kind still goes to the reference reader; for any other key the value
# is never read.
_ANALYSED_VALUE: Final = pa.struct(
    [pa.field("stringValue", pa.string()), pa.field("intValue", pa.string())]
)


def _key_values(value: pa.DataType) -> pa.DataType:
    return pa.list_(pa.struct([pa.field("key", pa.string()), pa.field("value", value)]))


def _parse_schema(analysis: bool) -> pa.Schema:
    """The spelling the fast path parses; ``analysis`` leaves out what no analysis reads
    (resource attributes, scope names, status messages, rarer value kinds), which the
    parser then skips."""
    status: list[pa.Field[Any]] = [pa.field("code", pa.int64())]
    if not analysis:
        status.append(pa.field("message", pa.string()))
    span = pa.struct(
        [
            pa.field("traceId", pa.string()),
            pa.field("spanId", pa.string()),
            pa.field("parentSpanId", pa.string()),
            # Declared so that a writer mixing spellings is seen, not silently misread.
            pa.field("parent_span_id", pa.string()),
            pa.field("name", pa.string()),
            pa.field("kind", pa.int64()),
            pa.field("startTimeUnixNano", pa.string()),
            pa.field("endTimeUnixNano", pa.string()),
            pa.field("attributes", _key_values(_ANALYSED_VALUE if analysis else _ANY_VALUE)),
            pa.field("status", pa.struct(status)),
        ]
    )
    resource = (
        []
        if analysis
        else [pa.field("resource", pa.struct([pa.field("attributes", _key_values(_ANY_VALUE))]))]
    )
    scope = [] if analysis else [pa.field("scope", pa.struct([pa.field("name", pa.string())]))]
    scope_spans = pa.struct([*scope, pa.field("spans", pa.list_(span))])
    resource_spans = pa.struct([*resource, pa.field("scopeSpans", pa.list_(scope_spans))])
    return pa.schema([pa.field("resourceSpans", pa.list_(resource_spans))])


_PARSE_OPTIONS: Final = {
    analysis: pj.ParseOptions(
        explicit_schema=_parse_schema(analysis), unexpected_field_behavior="ignore"
    )
    for analysis in (False, True)
}

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
        return _read_file(path, diagnostics, analysis=False)

    def read_analysis(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        """Like :meth:`read`, but ANALYSIS_SCHEMA tables: the derived columns computed
        from the parsed attributes directly, the attribute maps never built."""
        return _read_file(path, diagnostics, analysis=True)


def _read_file(path: str, diagnostics: Diagnostics, *, analysis: bool) -> Iterator[pa.Table]:
    """Blocks of lines read here, parsed and flattened by :data:`PARSE_WORKERS` threads
    (pyarrow's JSON reader and Arrow compute release the GIL, so each keeps a core busy),
    and finished here in file order: whatever needs the reference reader, and every
    diagnostic, comes from this thread, line by line."""
    first_line = 1
    pending: deque[tuple[_Lines, Future[_Outcome | None]]] = deque()
    with ThreadPoolExecutor(max_workers=PARSE_WORKERS) as workers:
        for block in _line_blocks(path, diagnostics):
            if block.oversized:
                while pending:
                    yield from _finish(*pending.popleft(), path, diagnostics, analysis)
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
            lines = _Lines.split(block.data, first_line, block.complete, block.start, block.end)
            first_line += lines.count
            pending.append((lines, workers.submit(_convert_block, lines, analysis)))
            # Blocks are read ahead (see READ_AHEAD), so that a worker that finishes
            # starts on the next block at once.
            if len(pending) >= READ_AHEAD:
                yield from _finish(*pending.popleft(), path, diagnostics, analysis)
        while pending:
            yield from _finish(*pending.popleft(), path, diagnostics, analysis)


def _convert_block(lines: _Lines, analysis: bool) -> _Outcome | None:
    """The whole block parsed at once (in one thread) and flattened, or None when it needs
    the careful path (blank or torn lines, anything pyarrow rejects), which then runs on
    the reading thread."""
    if not lines.complete or not lines.count or ((lines.ends - lines.starts) == 0).any():
        return None
    try:
        parsed = _parse(lines, 0, lines.count, analysis, whole=True)
    except (pa.ArrowException, ValueError):
        return None
    outcome = _Outcome()
    _flatten_run(parsed, 0, lines.count, outcome, analysis)
    return outcome


def _finish(
    lines: _Lines,
    converted: Future[_Outcome | None],
    path: str,
    diagnostics: Diagnostics,
    analysis: bool,
) -> Iterator[pa.Table]:
    outcome = converted.result()
    if outcome is None:
        table = _read_lines(lines, path, diagnostics, analysis=analysis)
    else:
        table = _combine(outcome, lines, path, diagnostics, analysis)
    if table.num_rows:
        yield table


def read_json_records(
    data: bytes, first_record: int, path: str, diagnostics: Diagnostics
) -> pa.Table:
    """Newline-terminated OTLP JSON records (line ``i`` is record ``first_record + i``) as
    one BASE_SCHEMA table, through the same fast path and fallbacks as a JSON-lines file."""
    return _read_lines(_Lines.split(data, first_record, True), path, diagnostics, analysis=False)


@dataclass(frozen=True)
class _Block:
    # The block is data[start:end]: a large read is used in place, not copied.
    data: source.Piece
    start: int
    end: int
    complete: bool  # ends at a line end (False: the unterminated tail of a torn file)
    oversized: bool = False  # one line longer than MAX_RECORD_BYTES, skipped unread


_OVERSIZED: Final = _Block(b"", 0, 0, True, oversized=True)


def _line_blocks(path: str, diagnostics: Diagnostics) -> Iterator[_Block]:
    """Blocks of whole lines of ~CHUNK_BYTES, in file order; an unterminated tail last.

    A chunk-sized read is handed on in place (the lines between its first and last
    newline); only the line that straddles two reads is copied.  Small reads
    (decompressed input) are gathered up to CHUNK_BYTES first.

    A line longer than :data:`MAX_RECORD_BYTES` is dropped as soon as it grows past the
    limit (its remaining bytes are read and discarded up to the next newline), so a
    damaged file without newlines never has to fit in memory.
    """
    gathered: list[memoryview] = []  # whole lines not yet handed on
    gathered_size = 0
    # Bytes of the file not read yet (None: compressed, its size unknown), so that the
    # last few chunks can be handed on in smaller pieces (see _tail_pieces).
    unread = source.plain_size(path)
    partial: list[bytes | bytearray] = []  # the start of a line that the next read continues
    partial_size = 0
    skipping = False
    # One buffer per block being parsed and one being read (a buffer still in use is
    # never refilled: too few would only mean fresh buffers).
    for data in source.read_mapped(path, _READ_BYTES, READ_AHEAD + 1, diagnostics):
        start = 0
        if unread is not None:
            unread -= len(data)
        if skipping:
            newline = data.find(b"\n")
            if newline < 0:
                continue
            skipping = False
            yield from _flush(gathered)  # the lines before the long one come first
            gathered, gathered_size = [], 0
            yield _OVERSIZED
            start = newline + 1
        first_newline = data.find(b"\n", start)
        if first_newline < 0:
            partial.append(data[start:])
            partial_size += len(data) - start
            if partial_size > MAX_RECORD_BYTES:
                partial, partial_size, skipping = [], 0, True
            continue
        if partial:
            partial.append(data[start : first_newline + 1])
            line = b"".join(partial)
            partial, partial_size = [], 0
            start = first_newline + 1
            if len(line) - 1 > MAX_RECORD_BYTES:
                yield from _flush(gathered)
                gathered, gathered_size = [], 0
                yield _OVERSIZED
            else:
                gathered.append(memoryview(line))
                gathered_size += len(line)
        end = data.rfind(b"\n") + 1
        if end - start >= CHUNK_BYTES // 2:
            yield from _flush(gathered)
            gathered, gathered_size = [], 0
            if unread is not None and unread < PARSE_WORKERS * CHUNK_BYTES:
                yield from _tail_pieces(data, start, end)
            else:
                yield _Block(data, start, end, True)
        elif end > start:
            gathered.append(memoryview(data)[start:end])
            gathered_size += end - start
        if gathered_size >= CHUNK_BYTES:
            yield from _flush(gathered)
            gathered, gathered_size = [], 0
        if end < len(data):
            partial, partial_size = [data[end:]], len(data) - end
            if partial_size > MAX_RECORD_BYTES:
                partial, partial_size, skipping = [], 0, True
    yield from _flush(gathered)
    if skipping:
        yield _Block(b"", 0, 0, False, oversized=True)
        return
    tail = b"".join(partial)
    if tail.strip():
        yield _Block(tail, 0, len(tail), False)


#: Near the end of a file its chunks are handed on in pieces this many times smaller.
_TAIL_SPLIT: Final = 4


def _tail_pieces(data: source.Piece, start: int, end: int) -> Iterator[_Block]:
    """``data[start:end]`` (whole lines) as a few blocks of whole lines, in place.

    The workers finish their last chunks at different times, and once one is done it has
    nothing left to do while the others finish theirs: with the last chunks in quarters,
    that idle end of the read is a quarter as long.
    """
    piece = max(CHUNK_BYTES // _TAIL_SPLIT, 1)
    while start < end:
        cut = data.rfind(b"\n", start, min(start + piece, end)) + 1
        if cut <= start:  # a line longer than a piece: it goes whole
            cut = data.find(b"\n", start + piece - 1, end) + 1 or end
        yield _Block(data, start, cut, True)
        start = cut


def _flush(gathered: list[memoryview]) -> Iterator[_Block]:
    if gathered:
        joined = b"".join(gathered)
        yield _Block(joined, 0, len(joined), True)


@dataclass
class _Lines:
    """A block of lines: ``data[starts[i]:ends[i]]`` is line ``first_line + i`` (no newline)."""

    data: source.Piece
    starts: npt.NDArray[np.int64]
    ends: npt.NDArray[np.int64]
    first_line: int
    complete: bool  # False: the last line has no newline (a torn write)

    @classmethod
    def split(
        cls,
        data: source.Piece,
        first_line: int,
        complete: bool,
        start: int = 0,
        end: int | None = None,
    ) -> _Lines:
        """The lines of ``data[start:end]`` (all of ``data`` by default)."""
        end = len(data) if end is None else end
        newlines = _newlines(data, start, end)
        ends = newlines if complete else np.append(newlines, end)
        starts = np.concatenate(([start], newlines + 1))[: len(ends)].astype(np.int64)
        return cls(data, starts, ends, first_line, complete)

    @property
    def count(self) -> int:
        return len(self.ends)

    def line(self, index: int) -> bytes | bytearray:
        return self.data[self.starts[index] : self.ends[index]]

    def span_bytes(self, lo: int, hi: int) -> memoryview:
        """Lines lo..hi-1 with their newlines, without copying."""
        end = self.ends[hi - 1] + 1 if (hi < self.count or self.complete) else self.ends[hi - 1]
        return memoryview(self.data)[self.starts[lo] : end]


def _newlines(data: source.Piece, start: int, end: int) -> npt.NDArray[np.int64]:
    """Offsets of every newline in ``data[start:end]``.

    Export batches are long lines (hundreds of spans): a ``find`` per line (memchr)
    beats any pass over every byte.  When lines turn out short, numpy takes the rest.
    """
    offsets: list[int] = []
    budget = max(64, (end - start) >> 12)  # more lines than this: under 4 KB each on average
    position = data.find(b"\n", start, end)
    while position >= 0:
        offsets.append(position)
        if len(offsets) > budget:
            rest = np.frombuffer(
                data, dtype=np.uint8, count=end - position - 1, offset=position + 1
            )
            tail = np.flatnonzero(rest == ord("\n")) + (position + 1)
            return np.concatenate((np.array(offsets, dtype=np.int64), tail.astype(np.int64)))
        position = data.find(b"\n", position + 1, end)
    return np.array(offsets, dtype=np.int64)


@dataclass
class _Outcome:
    fast: list[pa.Table] = field(default_factory=list)
    slow_lines: list[int] = field(default_factory=list)
    failed_parses: int = 0


def _read_lines(
    lines: _Lines,
    path: str,
    diagnostics: Diagnostics,
    *,
    analysis: bool,
) -> pa.Table:
    """Every span of ``lines``, parsed run by run around the lines that cannot be."""
    outcome = _Outcome()
    lengths = lines.ends - lines.starts
    blank = lengths == 0
    suspect = np.zeros(lines.count, dtype=np.bool_)
    if not lines.complete:
        suspect[-1] = True  # a torn last line: report it, do not let it fail a whole run
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
        _fast_run(lines, index, run_end, outcome, analysis)
        index = run_end
    return _combine(outcome, lines, path, diagnostics, analysis)


def _combine(
    outcome: _Outcome, lines: _Lines, path: str, diagnostics: Diagnostics, analysis: bool
) -> pa.Table:
    tables = outcome.fast
    if outcome.slow_lines:
        slow = _slow_lines(lines, sorted(outcome.slow_lines), path, diagnostics)
        tables.append(for_analysis(slow) if analysis else slow)
    if not tables:
        return (ANALYSIS_SCHEMA if analysis else BASE_SCHEMA).empty_table()
    return pa.concat_tables(tables)


def _fast_run(lines: _Lines, lo: int, hi: int, outcome: _Outcome, analysis: bool) -> None:
    """Parse lines lo..hi-1 with pyarrow; bisect on failure; invalid spans go to the slow path."""
    if outcome.failed_parses >= _MAX_FAILED_PARSES:
        outcome.slow_lines.extend(range(lo, hi))
        return
    try:
        parsed = _parse(lines, lo, hi, analysis)
    except (pa.ArrowException, ValueError):
        outcome.failed_parses += 1
        if hi - lo == 1:
            outcome.slow_lines.append(lo)
            return
        middle = (lo + hi) // 2
        _fast_run(lines, lo, middle, outcome, analysis)
        _fast_run(lines, middle, hi, outcome, analysis)
        return
    _flatten_run(parsed, lo, hi, outcome, analysis)


def _parse(lines: _Lines, lo: int, hi: int, analysis: bool, *, whole: bool = False) -> pa.Table:
    """Lines lo..hi-1 as one nested table.  ``whole``: in this thread, as one block (the
    workers parse blocks side by side; one block also means one chunk per column, which
    flattening then need not join, and costs the parser less than many small ones)."""
    data = lines.span_bytes(lo, hi)
    if whole:
        options = pj.ReadOptions(block_size=min(len(data) + 1, _MAX_BLOCK), use_threads=False)
    else:
        # Blocks of ~1 MB (the reader's default) keep both cores busy on one run;
        # a block must hold the longest line.
        longest = int((lines.ends[lo:hi] - lines.starts[lo:hi]).max())
        options = pj.ReadOptions(block_size=max(1 << 20, longest + 2))
    return pj.read_json(
        pa.BufferReader(pa.py_buffer(data)),  # type: ignore[arg-type]  # any NativeFile works
        read_options=options,
        parse_options=_PARSE_OPTIONS[analysis],
    )


def _flatten_run(parsed: pa.Table, lo: int, hi: int, outcome: _Outcome, analysis: bool) -> None:
    """Lines lo..hi-1 parsed: their valid spans kept, the rest left to the slow path."""
    if parsed.num_rows != hi - lo:
        # pyarrow skips whitespace-only lines; row i would no longer be line lo + i.
        outcome.slow_lines.extend(range(lo, hi))
        return
    table, row_lines, fallback_lines = flatten(parsed, analysis=analysis)
    del parsed  # the nested table is several times the flat one: release it first
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
