"""Which trace ``explain`` shows: a trace id, a unique prefix of one, or the slowest.

Picked from a table in memory, or from an input spilled by trace (see
:mod:`.partitioned`) a partition at a time -- two side by side, as the analyses take
them -- so that explaining one trace of a dump larger than memory never holds more
than those partitions.  A partition holds whole traces, so the trace picked and its
spans are the ones the whole input gives.

The slowest trace is that of the longest Server span (of the longest span when there
is no Server span at all); of equally long ones, the smallest trace id -- a rule that
does not depend on the order files or partitions were read in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.partitioned import each_partition
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.load import PartitionedRead
from spanscope.analyzer.readers.span_tree import TreeNotes

SLOWEST: Final = "slowest"


def resolve_trace_id(table: pa.Table, trace: str) -> str:
    """The full id of the trace ``trace`` names in ``table``."""
    if table.num_rows == 0:
        raise _no_spans()
    wanted = _wanted(trace)
    if wanted == SLOWEST:
        longest = _longest(table)
        assert longest is not None  # the table has rows
        return longest.trace_id
    return _only(_matching(table, wanted), trace)


def spilled_trace(read: PartitionedRead, trace: str, memory_spans: int) -> pa.Table:
    """The spans of the trace ``trace`` names in a spilled input, searched a partition
    at a time as the analyses take them (:func:`.partitioned.each_partition`); the
    span-tree notes of every partition go to ``read.diagnostics``, as a whole read
    would report them."""
    wanted = _wanted(trace)
    notes = TreeNotes()
    spans = 0
    best: _Longest | None = None
    matches: set[str] = set()
    rows: pa.Table | None = None

    def work(buckets: tuple[int, int]) -> _Searched:
        own = TreeNotes()
        table = read.checked(buckets, own).table
        if wanted == SLOWEST:
            longest = _longest(table)
            found = [] if longest is None else [longest.trace_id]
        else:
            longest, found = None, _matching(table, wanted)
        # A trace lies in one partition: its spans are all here, or none are.
        kept = _spans_of(table, found[0]) if len(found) == 1 else None
        return _Searched(table.num_rows, own, longest, found, kept)

    def merge(part: _Searched) -> None:
        nonlocal spans, best, rows
        spans += part.spans
        notes.extend(part.notes)
        if wanted == SLOWEST:
            if part.longest is not None and part.longest.beats(best):
                best, rows = part.longest, part.rows
        else:
            matches.update(part.matches)
            if part.rows is not None:
                rows = part.rows  # the one kept if, in the end, only one trace matched

    each_partition(read, memory_spans, work, merge)
    notes.note(read.diagnostics)
    if spans == 0:
        raise _no_spans()
    if wanted != SLOWEST:
        _only(sorted(matches), trace)  # raises unless exactly one trace matched
    assert rows is not None
    return rows


@dataclass(frozen=True)
class _Searched:
    """What one partition holds of the trace searched for."""

    spans: int
    notes: TreeNotes
    longest: _Longest | None  # when searching for the slowest
    matches: list[str]  # trace ids that match (the slowest's alone when searching for it)
    rows: pa.Table | None  # the spans of the one trace that matched here, if one did


@dataclass(frozen=True)
class _Longest:
    server: bool  # a Server span: always beats a span of another kind
    duration: int
    trace_id: str

    def beats(self, other: _Longest | None) -> bool:
        if other is None:
            return True
        mine, theirs = (self.server, self.duration), (other.server, other.duration)
        return mine > theirs or (mine == theirs and self.trace_id < other.trace_id)


def _longest(table: pa.Table) -> _Longest | None:
    servers = table.filter(pc.field("SpanKind") == "Server")
    server = servers.num_rows > 0
    source = servers if server else table
    if source.num_rows == 0:
        return None
    duration = pc.max(source.column("Duration"))
    tied = source.filter(pc.equal(source.column("Duration"), duration)).column("TraceId")
    return _Longest(server, int(duration.as_py()), str(pc.min(tied).as_py()))


def _wanted(trace: str) -> str:
    return trace.strip().lower().removeprefix("0x")


def _matching(table: pa.Table, wanted: str) -> list[str]:
    if not wanted:
        return []
    ids = pc.unique(table.column("TraceId"))
    return [str(value) for value in ids.filter(pc.starts_with(ids, wanted)).to_pylist()]


def _spans_of(table: pa.Table, trace_id: str) -> pa.Table:
    return table.filter(pc.field("TraceId") == trace_id)


def _only(matches: list[str], trace: str) -> str:
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(
            f"no trace id starts with {trace!r}",
            "copy an id from `spanscope analyze` (example trace) or use `slowest`",
        )
    raise UsageError(
        f"{len(matches)} trace ids start with {trace!r}", "give more characters of the id"
    )


def _no_spans() -> UsageError:
    return UsageError("the input holds no spans", "check the paths you passed")
