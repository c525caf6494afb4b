"""Write a synthetic OTLP JSON-lines dump shaped like a busy Django app's trace files.

Every line is one ``TracesData`` export batch of ~512 spans, exactly as the Collector's
``file`` exporter (and spanscope's own exporter) writes them: ids in hex, int64 as
strings, children exported before their parent, a trace's spans spread over two lines
when a batch boundary falls inside it.  Requests hit 50 endpoints; a fifth of them run
an N+1 loop (one lazy foreign-key query per row) so the detectors have work to do.

    python benchmarks/gen_dump.py dump.jsonl --size-mb 200
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

SPANS_PER_LINE = 512
ENDPOINTS = 50
_RESOURCE = {
    "attributes": [
        {"key": "service.name", "value": {"stringValue": "shop"}},
        {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}},
        {"key": "telemetry.sdk.name", "value": {"stringValue": "opentelemetry"}},
        {"key": "telemetry.sdk.version", "value": {"stringValue": "1.45.1"}},
        {
            "key": "service.instance.id",
            "value": {"stringValue": "6c1f0e8a-4b7e-4f8e-9d0a-1b2c3d4e5f60"},
        },
    ]
}
_DB_SCOPE = {"name": "opentelemetry.instrumentation.sqlite3", "version": "0.66b1"}
_SERVER_SCOPE = {"name": "opentelemetry.instrumentation.django", "version": "0.66b1"}


def _str(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _int(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}


def _db_span(
    rng: random.Random, trace: str, parent: str, start: int, statement: str, line: int
) -> dict[str, Any]:
    duration = rng.randint(40_000, 900_000)
    return {
        "traceId": trace,
        "spanId": rng.randbytes(8).hex(),
        "parentSpanId": parent,
        "flags": 256,
        "name": statement.split(" ", 1)[0],
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + duration),
        "attributes": [
            _str("db.system", "sqlite"),
            _str("db.statement", statement),
            _str("code.file.path", f"/srv/shop/app{line % 7}/views.py"),
            _int("code.line.number", line),
            _str("code.function.name", f"view_{line}"),
        ],
        "status": {},
    }


def _request(rng: random.Random, start: int) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """One request: its DB spans (in end order) and its server span, plus its end time."""
    endpoint = rng.randrange(ENDPOINTS)
    route = f"app{endpoint % 7}/items{endpoint}/"
    trace, server_id = rng.randbytes(16).hex(), rng.randbytes(8).hex()
    table = f'"app{endpoint % 7}_item{endpoint}"'
    clock = start + rng.randint(100_000, 400_000)
    children = []
    list_query = f'SELECT {table}."id", {table}."name", {table}."owner_id" FROM {table} LIMIT 50'
    children.append(_db_span(rng, trace, server_id, clock, list_query, 10 + endpoint))
    clock = int(children[-1]["endTimeUnixNano"]) + 20_000
    repeats = rng.randint(20, 60) if endpoint % 5 == 0 else rng.randint(1, 4)
    for _ in range(repeats):
        lookup = 'SELECT "auth_user"."id", "auth_user"."username" FROM "auth_user" WHERE "auth_user"."id" = %s LIMIT 21'
        children.append(_db_span(rng, trace, server_id, clock, lookup, 40 + endpoint))
        clock = int(children[-1]["endTimeUnixNano"]) + rng.randint(5_000, 60_000)
    end = clock + rng.randint(200_000, 3_000_000)
    status = 200 if rng.random() > 0.02 else 500
    server = {
        "traceId": trace,
        "spanId": server_id,
        "flags": 256,
        "name": f"GET {route}",
        "kind": 2,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(end),
        "attributes": [
            _str("http.method", "GET"),
            _str("http.scheme", "http"),
            _str("http.url", f"http://shop.example/{route}"),
            _str("http.route", route),
            _str("net.peer.ip", "10.0.0.7"),
            _int("net.host.port", 8000),
            _int("http.status_code", status),
        ],
        "status": {"code": 2} if status >= 500 else {},
    }
    return children, server, end


def _spans(rng: random.Random) -> Iterator[dict[str, Any]]:
    clock = 1_795_310_871_000_000_000
    while True:
        children, server, end = _request(rng, clock)
        yield from children
        yield server
        clock = end + rng.randint(10_000, 2_000_000)


def _line(batch: list[dict[str, Any]]) -> bytes:
    db = [span for span in batch if span["kind"] == 3]
    server = [span for span in batch if span["kind"] == 2]
    scopes = [
        {"scope": scope, "spans": spans}
        for scope, spans in ((_DB_SCOPE, db), (_SERVER_SCOPE, server))
        if spans
    ]
    return orjson.dumps({"resourceSpans": [{"resource": _RESOURCE, "scopeSpans": scopes}]}) + b"\n"


def generate(path: Path, size_bytes: int, seed: int = 1) -> tuple[int, int]:
    """Write at least ``size_bytes`` to ``path``; return (lines, spans)."""
    rng = random.Random(seed)
    written = lines = spans = 0
    stream = _spans(rng)
    with path.open("wb") as out:
        while written < size_bytes:
            batch = [next(stream) for _ in range(SPANS_PER_LINE)]
            data = _line(batch)
            out.write(data)
            written += len(data)
            lines += 1
            spans += len(batch)
    return lines, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--size-mb", type=float, default=200.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    lines, spans = generate(args.output, int(args.size_mb * 1024 * 1024), args.seed)
    print(f"{args.output}: {lines} lines, {spans} spans")


if __name__ == "__main__":
    main()
