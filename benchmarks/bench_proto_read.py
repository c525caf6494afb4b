"""How fast is the Collector ``format: proto`` reader against the JSON-lines reader?

Takes the first ``--lines`` lines of a JSON-lines dump (``gen_dump.py``'s, by default
the 200 MB one ``bench_analyze.py`` leaves in ``$TMPDIR/spanscope-bench/``), writes the
same spans the way the Collector's ``file`` exporter does with ``format: proto``: each
line one protobuf ``TracesData`` message behind a 4-byte big-endian size (and, with
``--zstd``, compressed as one zstd frame per message), then reads both files in one
process, alternating readers round by round so that load drifting on a shared machine
hits all of them alike:

jsonl / jsonl analysis
    the JSON-lines reader's ``read`` / ``read_analysis`` (no enrichment, no dedup);
framed / framed analysis
    the framed reader's ``read`` / ``read_analysis`` on the protobuf frames;
load jsonl / load framed
    ``load.read(..., columns="analysis")`` of each file: what ``analyze`` reads, with
    deduplication and the span-tree checks (the same work for both files);
framed reference
    the per-span Python conversion of every message (``otlp_proto.add_traces_data``,
    the framed reader's fallback and its only path before the vectorized one).

Reported: the median over rounds of wall time and process CPU time (all threads),
and spans per second of each; the load average before and after.  The framed tables
are checked equal to the JSON-lines ones first.

    .venv/bin/python benchmarks/bench_proto_read.py --lines 200 --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import zstandard
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import (
    ResourceSpans,
    ScopeSpans,
    Span,
    Status,
    TracesData,
)
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import get_reader, otlp_proto
from spanscope.analyzer.readers.rows import SpanRows

DEFAULT_DUMP = Path(tempfile.gettempdir()) / "spanscope-bench" / "dump-200mb.jsonl"
STAGES = (
    "jsonl",
    "jsonl analysis",
    "framed",
    "framed analysis",
    "load jsonl",
    "load framed",
    "framed reference",
)


def _any_value(value: dict[str, Any]) -> AnyValue:
    if "stringValue" in value:
        return AnyValue(string_value=value["stringValue"])
    if "intValue" in value:
        return AnyValue(int_value=int(value["intValue"]))
    if "doubleValue" in value:
        return AnyValue(double_value=float(value["doubleValue"]))
    if "boolValue" in value:
        return AnyValue(bool_value=value["boolValue"])
    raise KeyError("value kind")


def _attributes(items: list[dict[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=item["key"], value=_any_value(item["value"])) for item in items]


def _span(span: dict[str, Any]) -> Span:
    status = span.get("status") or {}
    return Span(
        trace_id=bytes.fromhex(span["traceId"]),
        span_id=bytes.fromhex(span["spanId"]),
        parent_span_id=bytes.fromhex(span.get("parentSpanId", "")),
        flags=span.get("flags", 0),
        name=span["name"],
        kind=span["kind"],
        start_time_unix_nano=int(span["startTimeUnixNano"]),
        end_time_unix_nano=int(span["endTimeUnixNano"]),
        attributes=_attributes(span.get("attributes", [])),
        status=Status(code=status.get("code", 0), message=status.get("message", "")),
    )


def to_protobuf(line: bytes) -> bytes:
    """One OTLP/JSON line as the protobuf message the Collector writes for it.

    Built with the message classes directly (what gen_dump writes); anything else goes
    through protobuf's JSON mapping, which wants base64 ids and is several times slower.
    """
    document = orjson.loads(line)
    try:
        message = TracesData(
            resource_spans=[
                ResourceSpans(
                    resource=Resource(attributes=_attributes(rs["resource"]["attributes"])),
                    scope_spans=[
                        ScopeSpans(
                            scope=InstrumentationScope(
                                name=ss["scope"]["name"], version=ss["scope"].get("version", "")
                            ),
                            spans=[_span(span) for span in ss["spans"]],
                        )
                        for ss in rs["scopeSpans"]
                    ],
                )
                for rs in document["resourceSpans"]
            ]
        )
    except KeyError:
        message = _via_json_mapping(document)
    return bytes(message.SerializeToString())


def _via_json_mapping(document: dict[str, Any]) -> Any:
    import base64

    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.ParseDict(document, TracesData())


def make_inputs(dump: Path, lines: int, workdir: Path, zstd: bool) -> tuple[Path, Path]:
    """(the first ``lines`` lines as JSON lines, the same as protobuf frames)."""
    jsonl = workdir / f"{dump.stem}-{lines}.jsonl"
    framed = workdir / f"{dump.stem}-{lines}.{'zstprotoframes' if zstd else 'protoframes'}"
    if jsonl.exists() and framed.exists():
        return jsonl, framed
    compress = zstandard.ZstdCompressor().compress if zstd else None
    with dump.open("rb") as source, jsonl.open("wb") as text, framed.open("wb") as frames:
        for number, line in enumerate(source):
            if number >= lines:
                break
            text.write(line)
            message = to_protobuf(line)
            if compress is not None:
                message = compress(message)
            frames.write(len(message).to_bytes(4, "big") + message)
    return jsonl, framed


def _tables(reader: str, method: str, path: Path) -> Iterator[pa.Table]:
    return getattr(get_reader(reader), method)(str(path), Diagnostics())  # type: ignore[no-any-return]


def _load(path: Path) -> Iterator[pa.Table]:
    yield read(path, columns="analysis").table


def _reference(path: Path) -> Iterator[pa.Table]:
    """Every message through the per-span Python conversion (the reference reader)."""
    data = path.read_bytes()
    rows, position, record = SpanRows(), 0, 0
    decompressor = zstandard.ZstdDecompressor()
    while position < len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        message = data[position + 4 : position + 4 + size]
        position += 4 + size
        record += 1
        if message.startswith(b"\x28\xb5\x2f\xfd"):
            message = decompressor.decompress(message)
        otlp_proto.add_traces_data(message, rows, Diagnostics(), str(path), record)
    yield rows.to_table()


def stage_functions(jsonl: Path, framed: Path) -> dict[str, Callable[[], Iterator[pa.Table]]]:
    return {
        "jsonl": lambda: _tables("otlp-jsonl", "read", jsonl),
        "jsonl analysis": lambda: _tables("otlp-jsonl", "read_analysis", jsonl),
        "framed": lambda: _tables("otlp-framed", "read", framed),
        "framed analysis": lambda: _tables("otlp-framed", "read_analysis", framed),
        "load jsonl": lambda: _load(jsonl),
        "load framed": lambda: _load(framed),
        "framed reference": lambda: _reference(framed),
    }


def _sorted(tables: Iterator[pa.Table]) -> pa.Table:
    return pa.concat_tables(list(tables)).sort_by([("SpanId", "ascending")])


def check_equal(stages: dict[str, Callable[[], Iterator[pa.Table]]]) -> None:
    for json_stage, framed_stage in (("jsonl", "framed"), ("jsonl analysis", "framed analysis")):
        expected, got = _sorted(stages[json_stage]()), _sorted(stages[framed_stage]())
        if not got.equals(expected):
            sys.exit(f"{framed_stage} does not read the same table as {json_stage}")


def time_stage(run: Callable[[], Iterator[pa.Table]]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    spans = sum(table.num_rows for table in run())
    return time.perf_counter() - wall, time.process_time() - cpu, spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", type=Path, default=DEFAULT_DUMP, help="a JSON-lines dump")
    parser.add_argument("--lines", type=int, default=200, help="lines of it (~512 spans each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--zstd", action="store_true", help="zstd-compress each message")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset")
    args = parser.parse_args()
    if not args.dump.exists():
        sys.exit(f"{args.dump}: no such dump; make one with benchmarks/gen_dump.py")
    workdir = Path(tempfile.gettempdir()) / "spanscope-bench"
    workdir.mkdir(exist_ok=True)
    jsonl, framed = make_inputs(args.dump, args.lines, workdir, args.zstd)
    stages = stage_functions(jsonl, framed)
    chosen = [name for name in args.stages.split(",") if name]
    check_equal(stages)
    load_before = os.getloadavg()
    timings: dict[str, list[tuple[float, float, int]]] = {name: [] for name in chosen}
    for _ in range(args.rounds):
        for name in chosen:
            timings[name].append(time_stage(stages[name]))
    load_after = os.getloadavg()
    mb = {path.name: path.stat().st_size / 1e6 for path in (jsonl, framed)}
    print(f"{jsonl.name}: {mb[jsonl.name]:,.1f} MB; {framed.name}: {mb[framed.name]:,.1f} MB")
    print(f"load average (1/5/15 min): before {load_before}, after {load_after}")
    print(
        f"{'stage':<18}{'spans':>9}{'wall s':>9}{'cpu s':>8}{'spans/s wall':>14}{'spans/s cpu':>13}"
    )
    for name in chosen:
        wall = statistics.median(run[0] for run in timings[name])
        cpu = statistics.median(run[1] for run in timings[name])
        spans = timings[name][0][2]
        print(
            f"{name:<18}{spans:>9,}{wall:>9.2f}{cpu:>8.2f}{spans / wall:>14,.0f}{spans / cpu:>13,.0f}"
        )


if __name__ == "__main__":
    main()
