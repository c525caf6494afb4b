"""The Python SDK's ``ConsoleSpanExporter`` output: indented JSON objects, one per span,
written back to back (``0x`` ids, ISO-8601 times, ``SpanKind.CLIENT``, no scope).

Console output is usually captured from a process's stdout, so text that is not JSON
(Django's start-up messages, say) sits between the objects; it is noted once per file and
never counted as a skipped span.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, Final

import pyarrow as pa
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.readers import registry, source
from spanscope.analyzer.readers import values as v
from spanscope.analyzer.readers.rows import SpanRows

# A span object starts with `{` at the start of a line (the exporter indents its fields).
_OBJECT_START: Final = re.compile(r"^\{", re.MULTILINE)
_HINT: Final = "ConsoleSpanExporter writes one JSON object per span; this one is damaged"


class ConsoleReader:
    name = "otel-console"

    def sniff(self, head: bytes) -> bool:
        return (
            b'"context"' in head
            and b'"span_id"' in head
            and not any(marker in head for marker in registry.OTLP_MARKERS)
        )

    def read(self, path: str, diagnostics: Diagnostics) -> Iterator[pa.Table]:
        text = source.read_all(path, diagnostics).decode("utf-8", errors="replace")
        rows = SpanRows()
        decoder = json.JSONDecoder()  # raw_decode finds where each concatenated object ends
        position, noise_line = 0, 0
        while position < len(text):
            match = _OBJECT_START.search(text, position)
            gap_end = match.start() if match else len(text)
            gap = text[position:gap_end]
            if gap.strip() and not noise_line:
                noise_line = _line_of(text, position + len(gap) - len(gap.lstrip()))
            if match is None:
                break
            line = _line_of(text, match.start())
            try:
                record, position = decoder.raw_decode(text, match.start())
            except (json.JSONDecodeError, RecursionError) as err:
                kind = (
                    "truncated-record"
                    if _OBJECT_START.search(text, match.end()) is None
                    else "invalid-json"
                )
                diagnostics.skip(
                    path, line, kind, f"invalid JSON ({err.__class__.__name__}: {err})", _HINT
                )
                position = match.end()
                continue
            try:
                _add_span(record, rows)
            except v.BadRecord as bad:
                diagnostics.skip(path, line, bad.kind, bad.message, bad.hint)
        if noise_line and not diagnostics.strict:
            diagnostics.note(
                path,
                noise_line,
                "non-span-text",
                "ignored text between the span objects (not a span)",
                "console output often mixes log lines with spans; prefer the OTLP JSON file exporter",
            )
        if len(rows):
            yield rows.to_table()


def _add_span(record: Any, rows: SpanRows) -> None:
    if not isinstance(record, dict):
        raise v.BadRecord("not-an-object", "record is not a JSON object", _HINT)
    context = record.get("context")
    context = context if isinstance(context, dict) else {}
    resource = record.get("resource")
    resource = resource if isinstance(resource, dict) else {}
    resource_attributes = _attributes(resource.get("attributes"))
    status = record.get("status")
    status = status if isinstance(status, dict) else {}
    start = v.iso_nanos(record.get("start_time"), "start_time")
    end = v.iso_nanos(record.get("end_time"), "end_time")
    v.check_interval(start, end)
    rows.append(
        start=start,
        end=end,
        trace_id=v.normalize_id(context.get("trace_id"), 32, "trace_id"),
        span_id=v.normalize_id(context.get("span_id"), 16, "span_id"),
        parent_span_id=v.normalize_parent_id(record.get("parent_id")),
        name=v.text(record.get("name")),
        kind=v.span_kind(record.get("kind")),
        service_name=next(
            (value for key, value in resource_attributes if key == "service.name"), ""
        ),
        scope_name="",
        status_code=v.status_code(status.get("status_code")),
        status_message=v.text(status.get("description")),
        span_attributes=_attributes(record.get("attributes")),
        resource_attributes=resource_attributes,
    )


def _attributes(mapping: Any) -> list[tuple[str, str]]:
    if not isinstance(mapping, dict):
        return []
    return [(str(key), v.stringify(value)) for key, value in mapping.items()]


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1
