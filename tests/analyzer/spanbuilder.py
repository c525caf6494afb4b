"""Build SPAN_SCHEMA tables from compact Python descriptions.

    b = SpanBuilder()
    req = b.request("GET", "books/", start_ms=0, duration_ms=100)
    b.queries(req, 'SELECT ... WHERE "id" = %s', count=10, start_ms=5, each_ms=2)
    table = b.table()

Times are milliseconds from a fixed epoch; ids are generated.  Both the attribute
maps and the derived typed columns are filled, as ``load()`` would leave them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from spanscope.analyzer.schema import SPAN_SCHEMA

EPOCH_NS = 1_795_310_871_000_000_000


@dataclass(frozen=True)
class SpanRef:
    trace_id: str
    span_id: str
    start_ms: float
    duration_ms: float


@dataclass(frozen=True)
class Code:
    file: str
    line: int
    function: str


@dataclass(frozen=True)
class Relation:
    relation: str
    kind: str
    lookup: str


@dataclass
class SpanBuilder:
    rows: list[dict[str, Any]] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _next_id(self, width: int) -> str:
        return f"{next(self._ids):0{width}x}"

    def span(
        self,
        parent: SpanRef | None,
        name: str,
        *,
        start_ms: float,
        duration_ms: float,
        kind: str = "Internal",
        layer: str = "other",
        status: str = "Unset",
        trace_id: str | None = None,
        span_id: str | None = None,
        parent_span_id: str | None = None,
        **derived: Any,
    ) -> SpanRef:
        """Any span; ``derived`` sets DERIVED_SCHEMA columns (``db_statement=...``)."""
        trace = trace_id or (parent.trace_id if parent else self._next_id(32))
        sid = span_id or self._next_id(16)
        parent_id = (
            parent_span_id if parent_span_id is not None else (parent.span_id if parent else "")
        )
        attributes = {
            key.replace("_", "."): str(value) for key, value in derived.items() if value is not None
        }
        row: dict[str, Any] = {
            "Timestamp": EPOCH_NS + round(start_ms * 1_000_000),
            "TraceId": trace,
            "SpanId": sid,
            "ParentSpanId": parent_id,
            "SpanName": name,
            "SpanKind": kind,
            "ServiceName": "books-demo",
            "ScopeName": "tests",
            "Duration": round(duration_ms * 1_000_000),
            "StatusCode": status,
            "StatusMessage": "",
            "SpanAttributes": list(attributes.items()),
            "ResourceAttributes": [("service.name", "books-demo")],
            "layer": layer,
        }
        unknown = set(derived) - set(SPAN_SCHEMA.names)
        if unknown:
            raise TypeError(f"not SPAN_SCHEMA columns: {sorted(unknown)}")
        row.update(derived)
        self.rows.append(row)
        return SpanRef(trace, sid, start_ms, duration_ms)

    def request(
        self,
        method: str = "GET",
        route: str | None = "books/",
        *,
        start_ms: float = 0.0,
        duration_ms: float = 100.0,
        status_code: int | None = 200,
        status: str = "Unset",
        name: str | None = None,
        parent: SpanRef | None = None,
        target: str | None = None,
    ) -> SpanRef:
        """A Django-style SpanKind Server span named like the instrumentation names it;
        ``target`` is the requested URL path (and query)."""
        span_name = name or (f"{method} {route}" if route else method)
        return self.span(
            parent,
            span_name,
            start_ms=start_ms,
            duration_ms=duration_ms,
            kind="Server",
            layer="server",
            status=status,
            http_method=method,
            http_route=route,
            http_status_code=status_code,
            http_target=target,
        )

    def query(
        self,
        parent: SpanRef,
        statement: str,
        *,
        start_ms: float,
        duration_ms: float,
        system: str = "sqlite",
        code: Code | None = None,
        relation: Relation | None = None,
    ) -> SpanRef:
        """One DB client span (layer ``db``)."""
        return self.span(
            parent,
            statement.split(None, 1)[0] if statement.strip() else "DB",
            start_ms=start_ms,
            duration_ms=duration_ms,
            kind="Client",
            layer="db",
            db_system=system,
            db_statement=statement,
            code_filepath=code.file if code else None,
            code_lineno=code.line if code else None,
            code_function=code.function if code else None,
            orm_relation=relation.relation if relation else None,
            orm_relation_kind=relation.kind if relation else None,
            orm_lookup=relation.lookup if relation else None,
        )

    def queries(
        self,
        parent: SpanRef,
        statement: str,
        *,
        count: int,
        start_ms: float,
        each_ms: float,
        gap_ms: float = 0.0,
        **kwargs: Any,
    ) -> list[SpanRef]:
        """``count`` sequential queries, ``each_ms`` long, ``gap_ms`` apart.

        ``{i}`` in ``statement`` is replaced by the loop index, as a literal would vary.
        """
        spans = []
        for i in range(count):
            spans.append(
                self.query(
                    parent,
                    statement.replace("{i}", str(i + 1)),
                    start_ms=start_ms + i * (each_ms + gap_ms),
                    duration_ms=each_ms,
                    **kwargs,
                )
            )
        return spans

    def table(self) -> pa.Table:
        columns = {name: [row.get(name) for row in self.rows] for name in SPAN_SCHEMA.names}
        arrays = []
        for spec in SPAN_SCHEMA:
            if spec.name == "Timestamp":
                ints = pa.array(columns["Timestamp"], pa.int64())
                arrays.append(ints.cast(spec.type))
            else:
                arrays.append(pa.array(columns[spec.name], spec.type))
        return pa.Table.from_arrays(arrays, schema=SPAN_SCHEMA)
