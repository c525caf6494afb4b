"""Read the trace files a server wrote, line by line and without the analyzer.

The analyzer forgives (it skips bad records, deduplicates spans); tests that
check what the instrumentation *wrote* need the raw truth: every line, every
span, duplicates included, and any line that does not parse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SERVER_KINDS = ("2", "SPAN_KIND_SERVER")


@dataclass(frozen=True)
class RawSpan:
    file: Path
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str
    name: str
    scope: str  # the instrumentation scope, e.g. opentelemetry.instrumentation.psycopg2
    attributes: dict[str, Any]

    @property
    def is_server(self) -> bool:
        return self.kind in SERVER_KINDS

    @property
    def is_db(self) -> bool:
        return "db.system" in self.attributes or "db.system.name" in self.attributes

    @property
    def db_system(self) -> str | None:
        value = self.attributes.get("db.system.name", self.attributes.get("db.system"))
        return None if value is None else str(value)

    @property
    def statement(self) -> str | None:
        value = self.attributes.get("db.query.text", self.attributes.get("db.statement"))
        return None if value is None else str(value)

    @property
    def route(self) -> str | None:
        value = self.attributes.get("http.route")
        return None if value is None else str(value)


@dataclass
class TraceFiles:
    """Every span of every file of a folder, and every line that failed to parse."""

    files: list[Path] = field(default_factory=list)
    spans: list[RawSpan] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)  # "file:line: error"

    def server_spans(self, route: str | None = None) -> list[RawSpan]:
        return [s for s in self.spans if s.is_server and (route is None or s.route == route)]

    def in_trace(self, trace_id: str) -> list[RawSpan]:
        return [s for s in self.spans if s.trace_id == trace_id]


def _attribute_value(value: dict[str, Any]) -> Any:
    # OTLP/JSON AnyValue: exactly one of stringValue, intValue, boolValue, ...
    return next(iter(value.values()), None)


def _spans_of_line(path: Path, document: dict[str, Any]) -> Iterator[RawSpan]:
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = str(scope_spans.get("scope", {}).get("name", ""))
            for span in scope_spans.get("spans", []):
                yield RawSpan(
                    file=path,
                    trace_id=span["traceId"].lower(),
                    span_id=span["spanId"].lower(),
                    parent_span_id=span.get("parentSpanId", "").lower(),
                    kind=str(span.get("kind", "")),
                    name=str(span.get("name", "")),
                    scope=scope,
                    attributes={
                        a["key"]: _attribute_value(a.get("value", {}))
                        for a in span.get("attributes", [])
                    },
                )


def read_trace_files(traces_dir: Path) -> TraceFiles:
    found = TraceFiles()
    for path in sorted(p for p in traces_dir.rglob("*") if p.is_file()):
        found.files.append(path)
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                found.spans.extend(_spans_of_line(path, json.loads(line)))
            except (ValueError, KeyError, AttributeError, TypeError) as error:
                found.bad_lines.append(f"{path.name}:{number}: {error}")
    return found
