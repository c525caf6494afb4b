"""The report's tables for an input spilled by trace, analysed a partition at a time.

The page reads three tables (:mod:`.tables`): the requests, the spans of the
waterfalls and the DB spans of the statement section.  Holding every span is what
the spill avoids, so here:

* each partition keeps, beside the rollups ``analyze`` merges, its rows of the
  prepared request table and the statement columns of its DB spans (a few dozen
  bytes each, nothing else of the span);
* the requests of all partitions are put in the order a whole read gives them and
  renumbered, so every request id (and each DB span's) is the one a whole read gives;
* the representative request of each charted endpoint is picked from that table,
  exactly as the page picks it; the partitions holding those traces are read again,
  and only those traces' spans checked and prepared (a trace's tree is its own).

So the page is the one the whole input gives in memory (tested), with the span tree
of one partition at a time plus the requests and DB-span columns held.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as _compute
from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.analyses.grouping import regroup
from spanscope.analyzer.analyses.partitioned import Keep, in_request_order, partitioned_results
from spanscope.analyzer.engine import connect, one_chunk, to_numpy
from spanscope.analyzer.load import PartitionedRead
from spanscope.analyzer.readers.span_tree import TreeNotes
from spanscope.analyzer.render.html.findings import PageFindings
from spanscope.analyzer.render.html.tables import (
    ReportTables,
    clipped_endpoints,
    endpoint_label,
    report_tables_of,
)
from spanscope.analyzer.render.html.waterfall import representatives
from spanscope.analyzer.report import InputStats
from spanscope.analyzer.requests import Prepared, prepare

# The stubs' overloads reject valid broadcasting calls such as `equal(array, "x")`.
pc: Any = _compute

#: The span columns the statement section reads (plus ``request_id``).
STATEMENT_COLUMNS: Final = (
    "layer",
    "db_system",
    "db_statement",
    "Duration",
    "code_filepath",
    "code_lineno",
    "code_function",
)


@dataclass(frozen=True)
class _Kept:
    """What the page needs of one partition besides its rollups."""

    buckets: tuple[int, int]
    requests: pa.Table  # the prepared request table: request_id is the partition's own
    statements: pa.Table  # STATEMENT_COLUMNS of its DB spans, request_id its own


def _keep(group_by: str) -> Keep:
    def keep(prepared: Prepared, buckets: tuple[int, int]) -> _Kept:
        prepared = regroup(prepared, group_by)
        view = prepared.tree.view
        is_db = pc.fill_null(pc.equal(view.column("layer"), "db"), False)
        rows = np.flatnonzero(to_numpy(is_db, np.bool_))
        statements = view.select(list(STATEMENT_COLUMNS)).take(rows)
        owner = np.asarray(prepared.tree.request, dtype=np.int64)[rows]
        statements = statements.append_column("request_id", pa.array(owner))
        return _Kept(buckets, prepared.requests, statements)

    return keep


@dataclass(frozen=True)
class SpilledPage:
    """The page's findings and tables, the latter to be opened with :meth:`tables`."""

    findings: PageFindings
    requests: pa.Table
    statements: pa.Table
    read: PartitionedRead
    kept: tuple[_Kept, ...]
    waterfalls: int  # endpoints with a waterfall (Limits.waterfalls)

    @contextmanager
    def tables(self) -> Iterator[ReportTables]:
        spans = self._waterfall_spans()
        with report_tables_of(self.requests, spans, self.statements) as tables:
            yield tables

    def _waterfall_spans(self) -> pa.Table:
        """Every span of the representative requests, read again from the partitions
        that hold them (the span trees are not kept)."""
        ranked = [endpoint_label(row.endpoint) for row in self.findings.endpoints.rows]
        with connect({"requests": clipped_endpoints(self.requests)}) as con:
            picks = representatives(con, ranked[: self.waterfalls])
        if not picks:
            return pa.table({"request_id": pa.array([], pa.int64())})
        trace_ids = pa.array([pick["TraceId"] for pick in picks], pa.string())
        buckets = self.read.buckets_of(trace_ids)
        pieces = []
        for part in self.kept:
            first, end = part.buckets
            inside = [
                pick for pick, bucket in zip(picks, buckets, strict=True) if first <= bucket < end
            ]
            if inside:
                pieces.append(self._spans_of(part, inside))
        return one_chunk(pieces)

    def _spans_of(self, part: _Kept, picks: Sequence[dict[str, object]]) -> pa.Table:
        # Only the picked traces: their spans and span trees are the same as in the
        # whole partition (noted in the first pass already), at a fraction of the work.
        traces = pa.array([pick["TraceId"] for pick in picks], pa.string())
        loaded = self.read.checked(part.buckets, TreeNotes(), traces)
        tree = prepare(loaded.table, loaded.parent).tree
        servers = pa.table(
            {
                "TraceId": traces,
                "SpanId": pa.array([pick["SpanId"] for pick in picks], pa.string()),
                "global_id": pa.array([pick["request_id"] for pick in picks], pa.int64()),
            }
        )
        # The picked server spans' rows in this partition, then their requests' own ids.
        ids = tree.view.select(["TraceId", "SpanId"]).append_column(
            "row", pa.array(np.arange(tree.view.num_rows, dtype=np.int64))
        )
        found = servers.join(ids, ["TraceId", "SpanId"])
        request = np.asarray(tree.request, dtype=np.int64)
        local = request[to_numpy(found.column("row"), np.int64)]
        global_of = np.full(int(request.max(initial=-1)) + 1, -1, dtype=np.int64)
        global_of[local] = to_numpy(found.column("global_id"), np.int64)
        owner = np.where(request >= 0, global_of[np.maximum(request, 0)], -1)
        rows = np.flatnonzero(owner >= 0)
        return tree.view.take(rows).append_column("request_id", pa.array(owner[rows]))


def spilled_page(
    read: PartitionedRead,
    *,
    memory_spans: int,
    min_repeats: int,
    group_by: str,
    apdex_ms: float,
    waterfalls: int,
) -> SpilledPage:
    """The findings of a spilled input and what its page's tables are made of."""
    spilled = partitioned_results(
        read,
        memory_spans=memory_spans,
        min_repeats=min_repeats,
        group_by=group_by,
        apdex_ms=apdex_ms,
        keep=_keep(group_by),
    )
    kept: tuple[_Kept, ...] = spilled.kept
    requests, global_ids = _renumbered([part.requests for part in kept])
    statements = [
        part.statements.set_column(
            part.statements.schema.get_field_index("request_id"),
            "request_id",
            pa.array(_global(ids, part.statements.column("request_id"))),
        )
        for part, ids in zip(kept, global_ids, strict=True)
    ]
    results = spilled.results
    findings = PageFindings(
        spanscope_version=spanscope_version(),
        input=InputStats(
            files=len(read.files),
            spans=spilled.spans,
            traces=spilled.traces,
            skipped_records=read.diagnostics.skipped_records,
        ),
        endpoints=results.endpoints,
        n_plus_one=results.n_plus_one,
        n_plus_one_http=results.n_plus_one_http,
        min_repeats=min_repeats,
        apdex_ms=apdex_ms,
    )
    statement_table = one_chunk(statements)
    return SpilledPage(findings, requests, statement_table, read, kept, waterfalls)


def _renumbered(tables: list[pa.Table]) -> tuple[pa.Table, list[npt.NDArray[np.int64]]]:
    """The partitions' request tables as one in the whole input's order (start, then
    ids) with ids 0..n-1, and per partition the new id of each of its own ids."""
    tagged = [
        table.append_column("partition", pa.array(np.full(table.num_rows, number, np.int64)))
        for number, table in enumerate(tables)
    ]
    merged = in_request_order(tagged)
    partition = to_numpy(merged.column("partition"), np.int64)
    own = to_numpy(merged.column("request_id"), np.int64)
    new = np.arange(merged.num_rows, dtype=np.int64)
    global_ids = []
    for number, table in enumerate(tables):
        mapping = np.full(table.num_rows, -1, dtype=np.int64)
        mine = partition == number
        mapping[own[mine]] = new[mine]
        global_ids.append(mapping)
    index = merged.schema.get_field_index("request_id")
    merged = merged.set_column(index, "request_id", pa.array(new)).drop_columns(["partition"])
    return merged, global_ids


def _global(mapping: npt.NDArray[np.int64], own: pa.ChunkedArray[Any]) -> npt.NDArray[np.int64]:
    ids = to_numpy(own, np.int64)
    return np.where(ids >= 0, mapping[np.maximum(ids, 0)] if len(mapping) else -1, -1)
