"""``analyze`` on an input larger than memory: a partition of whole traces at a time.

When the analysis columns of an input pass ``memory_spans`` spans, reading spills
them to disk by trace (:func:`spanscope.analyzer.load.read_partitioned`).  Each
partition of ~``memory_spans`` spans is then deduplicated, checked and prepared as a
whole input would be, and reduced to its rollups -- the very tables ``spanscope
convert`` stores (:func:`~.rollups.build_rollups`), a row per request, per statement
template and per group -- plus its HTTP N+1 groups.  The partition's spans are then
dropped.  The rollups of all partitions are merged (:mod:`.rollup_merge`) and the
report computed from them as from a prepared file's (:mod:`.rollup_report`).

So the memory held is one partition's analysis plus the rollups, which take ~1/10
of what the spans do: the peak grows far slower than the input.  Every result is the
one the whole input gives in memory (tested): all the analyses are per trace, and
findings are ordered by content, not by the order requests were read in.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.nplusone_http import HttpGroups, http_findings, http_groups
from spanscope.analyzer.analyses.partitioned_limits import (  # re-exported
    DEFAULT_MEMORY_SPANS,
    MIN_MEMORY_SPANS,
    check_memory_spans,
)
from spanscope.analyzer.analyses.rollup_merge import NO_TIMES, RollupMerger
from spanscope.analyzer.analyses.rollup_report import Results, rollup_results
from spanscope.analyzer.analyses.rollups import Rollups, build_rollups, statement_spans
from spanscope.analyzer.analyses.statement_keys import statement_keys, statement_sites
from spanscope.analyzer.analyses.statements import db_spans
from spanscope.analyzer.analyses.threads import ANALYSIS_THREADS, analysis_pool
from spanscope.analyzer.engine import Int64s, one_chunk
from spanscope.analyzer.load import PartitionedRead
from spanscope.analyzer.readers.span_tree import TreeNotes
from spanscope.analyzer.requests import Prepared, prepare, public_request_table

__all__ = [
    "DEFAULT_MEMORY_SPANS",
    "MIN_MEMORY_SPANS",
    "PartitionedResults",
    "check_memory_spans",
    "each_partition",
    "in_request_order",
    "partitioned_requests",
    "partitioned_results",
]

_Done = TypeVar("_Done")


#: What a caller keeps of each partition besides its rollups, from its span tree and
#: its bucket range: ``keep(prepared, buckets)``, called on an analysis thread.
Keep = Callable[[Prepared, tuple[int, int]], Any]


@dataclass(frozen=True)
class PartitionedResults:
    results: Results
    spans: int
    traces: int
    kept: tuple[Any, ...] = ()  # what ``keep`` returned, in partition order


@dataclass(frozen=True)
class _Partition:
    """What one partition leaves behind once its spans are dropped."""

    rollups: Rollups
    durations: tuple[Int64s, Int64s, Int64s]  # per statement span: template, request, ns
    http: HttpGroups | None
    spans: int
    traces: int
    notes: TreeNotes
    kept: Any


def partitioned_results(
    read: PartitionedRead,
    *,
    memory_spans: int,
    min_repeats: int,
    group_by: str,
    apdex_ms: float,
    keep: Keep | None = None,
) -> PartitionedResults:
    """The analyses of a spilled input (see the module docstring), and what ``keep``
    returns for each partition."""
    merger = RollupMerger()
    notes = TreeNotes()
    spans = traces = 0
    kept: list[Any] = []

    def merge(part: _Partition) -> None:
        nonlocal spans, traces
        merger.add(part.rollups, part.durations, part.http)
        notes.extend(part.notes)
        spans += part.spans
        traces += part.traces
        kept.append(part.kept)

    def work(buckets: tuple[int, int]) -> _Partition:
        return _partition(read, buckets, min_repeats, group_by, keep)

    each_partition(read, memory_spans, work, merge)
    notes.note(read.diagnostics)
    rollups, http = merger.merged()
    results = rollup_results(rollups, min_repeats=min_repeats, group_by=group_by, apdex_ms=apdex_ms)
    if http is not None:
        found = http_findings(http, rollups.requests_by(group_by))
        results = dataclasses.replace(results, n_plus_one_http=found)
    return PartitionedResults(results, spans, traces, tuple(kept))


def partitioned_requests(read: PartitionedRead, *, memory_spans: int) -> pa.Table:
    """The public request table of a spilled input (endpoints keyed by route), in the
    order a whole read gives it: what ``correlate`` needs, without the analyses."""
    notes = TreeNotes()
    tables: list[pa.Table] = []

    def work(buckets: tuple[int, int]) -> tuple[pa.Table, TreeNotes]:
        own = TreeNotes()
        part = read.checked(buckets, own)
        return public_request_table(prepare(part.table, part.parent)), own

    def merge(done: tuple[pa.Table, TreeNotes]) -> None:
        tables.append(done[0])
        notes.extend(done[1])

    each_partition(read, memory_spans, work, merge)
    notes.note(read.diagnostics)
    return in_request_order(tables)


def each_partition(
    read: PartitionedRead,
    memory_spans: int,
    work: Callable[[tuple[int, int]], _Done],
    merge: Callable[[_Done], None],
) -> None:
    """``merge(work(buckets))`` for every partition of ``read``, in partition order."""
    # Partitions are analysed side by side, one per core, each of memory_spans / cores
    # spans: the same memory at once as one partition of memory_spans, both cores busy.
    # They are merged in order, so ids do not depend on which thread finished first.
    size = max(memory_spans // ANALYSIS_THREADS, 1)
    with analysis_pool() as pool:
        pending: deque[Future[_Done]] = deque()
        for buckets in read.spilled(size):
            pending.append(pool.submit(work, buckets))
            if len(pending) >= ANALYSIS_THREADS:
                merge(pending.popleft().result())
        while pending:
            merge(pending.popleft().result())


def in_request_order(tables: Sequence[pa.Table]) -> pa.Table:
    """The partitions' request tables as one, in the order ``prepare`` gives a whole
    input's requests (by start, then ids: unique, so the order is too)."""
    return one_chunk(tables).sort_by([(c, "ascending") for c in ("start", "TraceId", "SpanId")])


def _partition(
    read: PartitionedRead,
    buckets: tuple[int, int],
    min_repeats: int,
    group_by: str,
    keep: Keep | None,
) -> _Partition:
    notes = TreeNotes()
    part = read.checked(buckets, notes)
    prepared = prepare(part.table, part.parent)
    statements = db_spans(prepared)
    keys = statement_keys(prepared, statements)
    sites = statement_sites(prepared, statements)
    rollups = build_rollups(
        prepared, statements, keys, sites, times=NO_TIMES, groupings=(group_by,)
    )
    request, duration = statement_spans(prepared, statements)
    return _Partition(
        rollups=rollups,
        durations=(statements.template, request, duration),
        http=http_groups(prepared, min_repeats),
        spans=part.table.num_rows,
        traces=_distinct_traces(part.table),
        notes=notes,
        kept=keep(prepared, buckets) if keep is not None else None,
    )


def _distinct_traces(table: pa.Table) -> int:
    return int(pc.count_distinct(table.column("TraceId")).as_py()) if table.num_rows else 0
