"""Small builders of OTLP/JSON records for the reader tests (canonical spelling)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

TRACE = "5b8efff798038103d269b633813fc60c"
START = 1_700_000_000_000_000_000


def span(
    span_id: str,
    *,
    trace_id: str = TRACE,
    parent: str = "",
    name: str = "SELECT",
    kind: Any = 3,
    start: Any = None,
    duration: int = 1_000,
    attributes: list[dict[str, Any]] | None = None,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    begin = START if start is None else start
    record: dict[str, Any] = {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(begin),
        "endTimeUnixNano": str(int(begin) + duration),
        "attributes": attributes if attributes is not None else [],
        "status": status if status is not None else {},
    }
    return record


def attr(key: str, value: Any) -> dict[str, Any]:
    """A key/value with an explicit AnyValue (pass the AnyValue dict) or a string."""
    return {"key": key, "value": value if isinstance(value, dict) else {"stringValue": value}}


def traces_data(
    *spans: dict[str, Any], service: str = "books", scope: str = "tests"
) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", service)]},
                "scopeSpans": [{"scope": {"name": scope}, "spans": list(spans)}],
            }
        ]
    }


def line(*spans: dict[str, Any], **kwargs: Any) -> bytes:
    return orjson.dumps(traces_data(*spans, **kwargs)) + b"\n"


def span_id(number: int) -> str:
    return f"{number:016x}"


def write(path: Path, *lines: bytes) -> Path:
    path.write_bytes(b"".join(lines))
    return path
