"""Fuzzing the readers of framed OTLP, Jaeger, Zipkin and columnar input, and the parent
checks: no input produces anything but spans, reported problems or a SpanscopeError."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
from otlp_records import START, TRACE, line, span, span_id
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.load import LoadResult, read
from spanscope.analyzer.readers.span_columns import to_canonical
from spanscope.analyzer.schema import SPAN_SCHEMA

_FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FORMATS = Path(__file__).resolve().parents[1] / "data" / "formats"
_PROTO = TracesData()
_PROTO.resource_spans.add().scope_spans.add().spans.add(
    trace_id=bytes.fromhex(TRACE),
    span_id=bytes.fromhex(span_id(1)),
    name="SELECT",
    start_time_unix_nano=START,
    end_time_unix_nano=START + 5,
)
_PROTO_MESSAGE = _PROTO.SerializeToString()
_JSON_MESSAGE = line(span(span_id(2))).strip()


def _frame(message: bytes) -> bytes:
    return len(message).to_bytes(4, "big") + message


def _read_bytes(data: bytes, name: str) -> LoadResult | None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            result = read(path)
        except SpanscopeError:
            return None
        assert result.table.schema == SPAN_SCHEMA
        return result


@_FUZZ
@given(st.lists(st.binary(max_size=64), max_size=5), st.binary(max_size=8))
def test_random_messages_behind_valid_size_prefixes_never_raise(
    messages: list[bytes], tail: bytes
) -> None:
    _read_bytes(_frame(_PROTO_MESSAGE) + b"".join(map(_frame, messages)) + tail, "a.protoframes")


_COMPRESS = zstandard.ZstdCompressor().compress
_VALID_FRAMES = b"".join(
    _frame(message)
    for message in (_PROTO_MESSAGE, _COMPRESS(_PROTO_MESSAGE), _COMPRESS(_JSON_MESSAGE))
)


@_FUZZ
@given(
    st.lists(
        st.tuples(st.integers(0, len(_VALID_FRAMES) - 1), st.binary(min_size=1, max_size=4)),
        max_size=6,
    )
)
def test_mutated_framed_files_never_raise(edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(_VALID_FRAMES)
    for position, replacement in edits:
        data[position : position + len(replacement)] = replacement
    _read_bytes(bytes(data), "collector.zstprotoframes")


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
_JAEGER = json.loads((FORMATS / "jaeger_ui_books.json").read_text(encoding="utf-8"))
_ZIPKIN = json.loads((FORMATS / "zipkin_v2_books.json").read_text(encoding="utf-8"))
_KEYS = st.sampled_from(
    [
        "data",
        "spans",
        "processes",
        "traceID",
        "spanID",
        "references",
        "startTime",
        "duration",
        "tags",
        "value",
        "processID",
        "traceId",
        "id",
        "parentId",
        "timestamp",
        "kind",
        "localEndpoint",
    ]
)


def _replace(node: Any, key: str, replacement: Any) -> Any:
    if isinstance(node, dict):
        return {
            name: replacement if name == key else _replace(value, key, replacement)
            for name, value in node.items()
        }
    if isinstance(node, list):
        return [_replace(item, key, replacement) for item in node]
    return node


@_FUZZ
@given(_KEYS, _JSON)
def test_wrong_types_in_jaeger_and_zipkin_fields_never_raise(key: str, replacement: Any) -> None:
    for document, name in ((_JAEGER, "jaeger.json"), (_ZIPKIN, "zipkin.json")):
        # The standard library writes what orjson refuses (integers beyond 64 bits, NaN).
        _read_bytes(json.dumps(_replace(document, key, replacement)).encode(), name)


_CELL = st.one_of(st.none(), st.text(max_size=34), st.sampled_from(["", "0" * 16, span_id(3)]))


@_FUZZ
@given(
    st.lists(
        st.tuples(
            _CELL, _CELL, _CELL, st.integers(-(2**63), 2**63 - 1), st.integers(-5, 2**63 - 1)
        ),
        min_size=1,
        max_size=6,
    ),
    st.lists(st.sampled_from(["Server", "SPAN_KIND_CLIENT", "x", None]), min_size=6, max_size=6),
)
def test_columnar_input_of_any_values_is_skipped_or_kept_never_raises(
    rows: list[tuple[Any, ...]], kinds: list[Any]
) -> None:
    trace, span_ids, parents, starts, durations = map(list, zip(*rows, strict=True))
    table = pa.table(
        {
            "Timestamp": pa.array(starts, pa.int64()),
            "TraceId": pa.array(trace, pa.string()),
            "SpanId": pa.array(span_ids, pa.string()),
            "ParentSpanId": pa.array(parents, pa.string()),
            "Duration": pa.array(durations, pa.int64()),
            "SpanKind": pa.array(kinds[: len(rows)], pa.string()),
        }
    )
    diagnostics = Diagnostics()
    result = to_canonical(table, "t.parquet", 1, diagnostics)
    assert result.num_rows + diagnostics.skipped_records == len(rows)


@_FUZZ
@given(st.lists(st.integers(0, 7), min_size=1, max_size=8))
def test_any_parent_links_load_every_span_and_leave_no_loop(parents: list[int]) -> None:
    # Span n names span parents[n-1] as its parent (0: none): loops of every shape.
    spans = [
        span(span_id(n), parent=span_id(p) if p else "", start=START + n)
        for n, p in enumerate(parents, start=1)
    ]
    result = _read_bytes(
        orjson.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}), "a.json"
    )
    assert result is not None and result.table.num_rows == len(parents)
    parent_of = dict(
        zip(
            result.table["SpanId"].to_pylist(),
            result.table["ParentSpanId"].to_pylist(),
            strict=True,
        )
    )
    for start in parent_of:
        seen, node = set(), start
        while node in parent_of and node not in seen:
            seen.add(node)
            node = parent_of[node]
        assert node not in seen, f"loop through {node}"
