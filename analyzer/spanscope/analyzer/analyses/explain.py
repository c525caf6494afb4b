"""One trace as a tree: each span's self time, repeated siblings folded, N+1 findings inline.

``explain(spans, "2a53eae4")`` picks a trace by id (any unique prefix) and
``explain(spans, "slowest")`` the slowest request's trace.  Self time is the
span's duration minus the *union* of its children's intervals (clipped to the
span), so concurrent children are never subtracted twice.  Siblings that run the
same normalized statement (or have the same name) ``min_repeats`` times or more are
folded into one node with a count -- a 2,001-span N+1 request reads as four lines
-- and a folded DB group carries the N+1 finding it belongs to (code line, fix).

A single trace is small, so the tree is built in plain Python; the whole-table
work (selecting the trace, the N+1 findings) stays columnar.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc
from spanscope.analyzer.analyses.inputs import LoadedSpans, SpansOrPaths, spans_or_spill
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS, n_plus_one
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS, check_memory_spans
from spanscope.analyzer.analyses.trace_pick import SLOWEST, resolve_trace_id, spilled_trace
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.report import NPlusOneFinding
from spanscope.analyzer.sqlnorm import normalize

__all__ = ["SLOWEST", "ExplainedTrace", "TraceNode", "explain"]

_NS_PER_MS: Final = 1_000_000


@dataclass(frozen=True)
class TraceNode:
    """One span, or ``count`` sibling spans folded together (times are then sums)."""

    name: str
    layer: str
    start_ms: float  # offset from the trace's first span
    duration_ms: float
    self_ms: float
    count: int = 1
    statement: str | None = None  # the normalized SQL of a DB span or group
    finding: NPlusOneFinding | None = None
    children: list[TraceNode] = field(default_factory=list)

    def to_dict(self, findings: list[NPlusOneFinding]) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "count": self.count,
            "start_ms": round(self.start_ms, 3),
            "duration_ms": round(self.duration_ms, 3),
            "self_ms": round(self.self_ms, 3),
            "statement": self.statement,
            # index into the trace's ``findings`` list, so each finding is written once
            "finding": None if self.finding is None else findings.index(self.finding),
            "children": [child.to_dict(findings) for child in self.children],
        }


@dataclass(frozen=True)
class ExplainedTrace:
    trace_id: str
    spans: int
    duration_ms: float
    roots: list[TraceNode]
    findings: list[NPlusOneFinding]
    # What reading the input noted (skipped records, span-tree problems): not the trace's.
    diagnostics: Diagnostics = field(default_factory=Diagnostics, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": "1",
            "trace_id": self.trace_id,
            "spans": self.spans,
            "duration_ms": round(self.duration_ms, 3),
            "findings": [finding.to_dict() for finding in self.findings],
            "roots": [root.to_dict(self.findings) for root in self.roots],
        }


def explain(
    spans: SpansOrPaths,
    trace: str,
    *,
    min_repeats: int = DEFAULT_MIN_REPEATS,
    input_format: str | None = None,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> ExplainedTrace:
    """The tree of ``trace`` (a trace id, a unique prefix of one, or ``"slowest"``).

    Dumps of more than ``memory_spans`` spans are spilled by trace and searched a
    partition at a time (:mod:`.trace_pick`; None: read whole, in memory).
    """
    if memory_spans is not None:
        check_memory_spans(memory_spans)
    rows, diagnostics = _trace_spans(spans, trace, input_format, memory_spans)
    trace_id = str(rows.column("TraceId")[0].as_py())
    findings = [f for f in n_plus_one(rows, min_repeats) if f.example_trace_id == trace_id]
    explained = _build(trace_id, _python_rows(rows), findings, min_repeats)
    return dataclasses.replace(explained, diagnostics=diagnostics)


def _python_rows(spans: pa.Table) -> list[dict[str, Any]]:
    """The trace's spans as dicts, ``Timestamp`` as integer ns since the epoch: Python's
    datetime stops at microseconds, and only pandas (which the ``spanscope`` command
    keeps out of its process) converts nanoseconds to a Python object."""
    index = spans.schema.get_field_index("Timestamp")
    ns = pc.cast(spans.column(index), pa.int64())
    rows: list[dict[str, Any]] = spans.set_column(index, "Timestamp", ns).to_pylist()
    return rows


def _trace_spans(
    source: SpansOrPaths, trace: str, input_format: str | None, memory_spans: int | None
) -> tuple[pa.Table, Diagnostics]:
    """The spans of the trace ``trace`` names, and what reading the input noted."""
    loaded = spans_or_spill(source, input_format=input_format, memory_spans=memory_spans)
    if isinstance(loaded, LoadedSpans):
        trace_id = resolve_trace_id(loaded.table, trace)
        return loaded.table.filter(pc.field("TraceId") == trace_id), loaded.diagnostics
    assert memory_spans is not None  # only a limited read spills
    try:
        return spilled_trace(loaded, trace, memory_spans), loaded.diagnostics
    finally:
        loaded.close()


def _build(
    trace_id: str, rows: list[dict[str, Any]], findings: list[NPlusOneFinding], min_repeats: int
) -> ExplainedTrace:
    by_id = {row["SpanId"]: row for row in rows}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        parent = row["ParentSpanId"]
        # A missing parent (orphan) or a self-parent makes the span a root of its own.
        key = parent if parent in by_id and parent != row["SpanId"] else None
        children[key].append(row)
    origin = min(row["Timestamp"] for row in rows)
    by_statement = {f.statement: f for f in findings}

    def node(row: dict[str, Any], seen: frozenset[str]) -> TraceNode:
        start, end = _interval(row)
        kids = [kid for kid in children.get(row["SpanId"], []) if kid["SpanId"] not in seen]
        covered = _union(
            [(max(s, start), min(e, end)) for s, e in map(_interval, kids) if e > start and s < end]
        )
        inner = seen | {row["SpanId"]}
        return TraceNode(
            name=row["SpanName"],
            layer=row["layer"] or "other",
            start_ms=(start - origin) / _NS_PER_MS,
            duration_ms=(end - start) / _NS_PER_MS,
            self_ms=(end - start - covered) / _NS_PER_MS,
            statement=_statement(row),
            children=_fold(
                [node(kid, inner) for kid in sorted(kids, key=_start)], min_repeats, by_statement
            ),
        )

    roots = [node(row, frozenset()) for row in sorted(children[None], key=_start)]
    end = max(_interval(row)[1] for row in rows)
    return ExplainedTrace(trace_id, len(rows), (end - origin) / _NS_PER_MS, roots, findings)


def _fold(
    nodes: list[TraceNode], min_repeats: int, by_statement: dict[str, NPlusOneFinding]
) -> list[TraceNode]:
    """Siblings with the same statement (or name) ``min_repeats``+ times become one node."""
    groups: dict[str, list[TraceNode]] = defaultdict(list)
    for item in nodes:
        groups[item.statement or item.name].append(item)
    folded: list[TraceNode] = []
    emitted: set[str] = set()
    for item in nodes:
        key = item.statement or item.name
        group = groups[key]
        if len(group) < min_repeats:
            folded.append(item)
        elif key not in emitted:
            emitted.add(key)
            folded.append(
                TraceNode(
                    name=item.name,
                    layer=item.layer,
                    start_ms=item.start_ms,
                    duration_ms=sum(g.duration_ms for g in group),
                    self_ms=sum(g.self_ms for g in group),
                    count=len(group),
                    statement=item.statement,
                    finding=by_statement.get(key),
                    children=[],
                )
            )
    return folded


def _statement(row: dict[str, Any]) -> str | None:
    statement = row.get("db_statement")
    return normalize(statement, row.get("db_system")) if statement else None


def _interval(row: dict[str, Any]) -> tuple[int, int]:
    start = int(row["Timestamp"])
    return start, start + max(int(row["Duration"] or 0), 0)


def _start(row: dict[str, Any]) -> int:
    return int(row["Timestamp"])


def _union(intervals: list[tuple[int, int]]) -> int:
    total = 0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None and current_start is not None:
                total += current_end - current_start
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None and current_start is not None:
        total += current_end - current_start
    return total
