"""Column accumulator shared by the Python (per-record) readers.

The per-record readers are the general, forgiving path: they handle every spelling
variant but run a Python loop per span, so they serve small files and the odd lines the
vectorized OTLP path hands back.  They all append validated spans here and turn the
lists into one :data:`BASE_SCHEMA` table at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from spanscope.analyzer.schema import BASE_SCHEMA

Attributes = list[tuple[str, str]]


@dataclass
class SpanRows:
    timestamp: list[int] = field(default_factory=list)
    trace_id: list[str] = field(default_factory=list)
    span_id: list[str] = field(default_factory=list)
    parent_span_id: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    service_name: list[str] = field(default_factory=list)
    scope_name: list[str] = field(default_factory=list)
    duration: list[int] = field(default_factory=list)
    status_code: list[str] = field(default_factory=list)
    status_message: list[str] = field(default_factory=list)
    span_attributes: list[Attributes] = field(default_factory=list)
    resource_attributes: list[Attributes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.span_id)

    def append(
        self,
        *,
        start: int,
        end: int,
        trace_id: str,
        span_id: str,
        parent_span_id: str,
        name: str,
        kind: str,
        service_name: str,
        scope_name: str,
        status_code: str,
        status_message: str,
        span_attributes: Attributes,
        resource_attributes: Attributes,
    ) -> None:
        self.timestamp.append(start)
        self.trace_id.append(trace_id)
        self.span_id.append(span_id)
        self.parent_span_id.append(parent_span_id)
        self.name.append(name)
        self.kind.append(kind)
        self.service_name.append(service_name)
        self.scope_name.append(scope_name)
        self.duration.append(end - start)
        self.status_code.append(status_code)
        self.status_message.append(status_message)
        self.span_attributes.append(span_attributes)
        self.resource_attributes.append(resource_attributes)

    def to_table(self) -> pa.Table:
        columns: list[list[Any]] = [
            self.timestamp,
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            self.name,
            self.kind,
            self.service_name,
            self.scope_name,
            self.duration,
            self.status_code,
            self.status_message,
            self.span_attributes,
            self.resource_attributes,
        ]
        arrays = [
            pa.array(values, type=f.type) for values, f in zip(columns, BASE_SCHEMA, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=BASE_SCHEMA)
