"""Protobuf ``TracesData`` messages decoded a batch at a time into columns read exactly
as the per-span reference reader reads them, and damage is still reported per message."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from google.protobuf import json_format
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import (
    ResourceSpans,
    ScopeSpans,
    Span,
    Status,
    TracesData,
)
from otlp_records import START, TRACE, span_id
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import ANALYSIS_SCHEMA, for_analysis
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_proto, otlp_proto_batch
from spanscope.analyzer.readers.otlp_proto_batch import read_messages
from spanscope.analyzer.readers.otlp_proto_layout import hex_ids
from spanscope.analyzer.readers.rows import SpanRows
from spanscope.analyzer.schema import BASE_SCHEMA

BOOKS = Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"


def _kv(key: str, **value: Any) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(**value))


def _span(number: int, **fields: Any) -> Span:
    defaults: dict[str, Any] = {
        "trace_id": bytes.fromhex(TRACE),
        "span_id": bytes.fromhex(span_id(number)),
        "name": "SELECT",
        "kind": Span.SPAN_KIND_CLIENT,
        "start_time_unix_nano": START + number,
        "end_time_unix_nano": START + number + 1_000,
    }
    return Span(**(defaults | fields))


def _message(*spans: Span, service: str | None = "books", scope: str = "tests") -> bytes:
    resource = Resource(attributes=[_kv("service.name", string_value=service)] if service else [])
    return TracesData(
        resource_spans=[
            ResourceSpans(
                resource=resource,
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name=scope), spans=spans)],
            )
        ]
    ).SerializeToString()


def _varied_messages() -> list[bytes]:
    """Every field the reader maps, in the spellings real writers produce."""
    server = _span(
        1,
        name="GET books/",
        kind=Span.SPAN_KIND_SERVER,
        status=Status(code=Status.STATUS_CODE_ERROR, message="boom"),
        attributes=[
            _kv("http.request.method", string_value="GET"),
            _kv("http.route", string_value="books/"),
            _kv("http.response.status_code", int_value=500),
        ],
    )
    query = _span(
        2,
        parent_span_id=bytes.fromhex(span_id(1)),
        attributes=[
            _kv("db.system.name", string_value="postgresql"),
            _kv("db.query.text", string_value="SELECT 1"),
            _kv("code.line.number", int_value=-3),
            _kv("ratio", double_value=0.1),
            _kv("cached", bool_value=False),
            _kv("empty", string_value=""),
        ],
    )
    zero_parent = _span(3, parent_span_id=bytes(8), kind=9, status=Status(code=7))
    both = TracesData()
    both.MergeFromString(_message(server, query, scope="django"))
    both.MergeFromString(_message(zero_parent, service=None, scope=""))
    return [both.SerializeToString(), _message(_span(4), _span(5)), b""]


_REFERENCE_ADD = otlp_proto.add_traces_data  # not the spy of `reference_records`


def _reference(payloads: list[bytes], records: list[int]) -> pa.Table:
    """What the per-span reference reader makes of ``payloads``, message by message."""
    rows = SpanRows()
    for payload, record in zip(payloads, records, strict=True):
        _REFERENCE_ADD(payload, rows, Diagnostics(), "a.protoframes", record)
    return rows.to_table()


@pytest.fixture
def reference_records(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The records the batch hands to the per-span reference reader, in call order."""
    records: list[int] = []
    real_add = otlp_proto.add_traces_data

    def spying_add(
        payload: bytes, rows: SpanRows, diagnostics: Diagnostics, path: str, record: int
    ) -> None:
        records.append(record)
        real_add(payload, rows, diagnostics, path, record)

    monkeypatch.setattr(otlp_proto, "add_traces_data", spying_add)
    return records


def _by_span(table: pa.Table) -> pa.Table:
    return table.sort_by([("SpanId", "ascending")])


def test_a_batch_reads_exactly_as_the_reference_reader(reference_records: list[int]) -> None:
    payloads = _varied_messages()
    records = [1, 2, 3]
    diagnostics = Diagnostics()

    table = read_messages(records, payloads, "a.protoframes", diagnostics)

    expected = _reference(payloads, records)
    assert reference_records == []  # all of it decoded as columns
    assert table.schema == BASE_SCHEMA
    assert table.num_rows == 5
    assert _by_span(table).equals(_by_span(expected))
    assert diagnostics.problems == []


def test_a_batch_read_for_analysis_matches_the_reference_spans_prepared_for_analysis(
    reference_records: list[int],
) -> None:
    payloads = _varied_messages()

    table = read_messages([1, 2, 3], payloads, "a.protoframes", Diagnostics(), analysis=True)

    expected = _reference(payloads, [1, 2, 3])
    assert reference_records == []
    assert table.schema == ANALYSIS_SCHEMA
    assert _by_span(table).to_pylist() == _by_span(for_analysis(expected)).to_pylist()


def test_invalid_spans_are_reported_at_their_message_and_its_valid_spans_kept() -> None:
    payloads = [
        _message(_span(1)),
        _message(
            _span(2, trace_id=bytes(16)),
            _span(3, end_time_unix_nano=START),
            _span(4, span_id=b"\x01" * 7),
            _span(5),
        ),
    ]
    diagnostics = Diagnostics()

    table = read_messages([1, 2], payloads, "a.protoframes", diagnostics)

    assert sorted(table.column("SpanId").to_pylist()) == [span_id(1), span_id(5)]
    assert [(p.kind, p.line) for p in diagnostics.problems] == [
        ("missing-id", 2),
        ("bad-time", 2),
        ("bad-id", 2),
    ]


def test_damaged_messages_in_a_batch_are_each_reported_once_in_file_order() -> None:
    payloads = [_message(_span(n)) for n in range(1, 21)]
    damaged = [3, 4, 11, 19]
    for index in damaged:
        payloads[index] = payloads[index][:-2]  # cut inside the last span
    records = list(range(1, 21))
    diagnostics = Diagnostics()

    table = read_messages(records, payloads, "a.protoframes", diagnostics)

    assert table.num_rows == 20 - len(damaged)
    assert [(p.kind, p.line) for p in diagnostics.problems] == [
        ("invalid-protobuf", records[index]) for index in damaged
    ]


def test_a_batch_damaged_everywhere_stops_bisecting_and_reports_every_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decodes = []
    real_decode = otlp_proto_batch.decode

    def counting_decode(payloads: list[bytes], *, analysis: bool) -> Any:
        decodes.append(len(payloads))
        return real_decode(payloads, analysis=analysis)

    monkeypatch.setattr(otlp_proto_batch, "decode", counting_decode)
    payloads = [b"\x0a\x05\xff"] * 200
    diagnostics = Diagnostics()

    table = read_messages(list(range(1, 201)), payloads, "a.protoframes", diagnostics)

    assert table.num_rows == 0
    assert [p.line for p in diagnostics.problems] == list(range(1, 201))
    assert len(decodes) <= otlp_proto_batch._MAX_FAILED_DECODES


@pytest.mark.parametrize(
    "value",
    [
        AnyValue(bytes_value=b"\x00\x01"),
        AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1)])),
        AnyValue(kvlist_value=KeyValueList(values=[_kv("k", bool_value=True)])),
        AnyValue(),
    ],
    ids=["bytes", "array", "kvlist", "unset"],
)
def test_only_a_message_with_values_not_converted_as_columns_goes_to_the_reference_reader(
    reference_records: list[int], value: AnyValue
) -> None:
    payloads = [
        _message(_span(1)),
        _message(_span(2, attributes=[KeyValue(key="odd", value=value)])),
        _message(_span(3)),
    ]

    table = read_messages([1, 2, 3], payloads, "a.protoframes", Diagnostics())

    assert reference_records == [2]
    expected = _reference(payloads, [1, 2, 3])
    assert _by_span(table).equals(_by_span(expected))


def test_for_analysis_a_derived_attribute_with_an_array_value_is_read_by_the_reference_reader(
    reference_records: list[int],
) -> None:
    array = AnyValue(array_value=ArrayValue(values=[AnyValue(string_value="SELECT 1")]))
    payloads = [
        _message(_span(1, attributes=[_kv("db.system", string_value="sqlite")])),
        _message(_span(2, attributes=[KeyValue(key="db.statement", value=array)])),
    ]

    table = read_messages([1, 2], payloads, "a.protoframes", Diagnostics(), analysis=True)

    assert reference_records == [2]
    expected = _reference(payloads, [1, 2])
    assert table.schema == ANALYSIS_SCHEMA
    assert _by_span(table).to_pylist() == _by_span(for_analysis(expected)).to_pylist()
    assert _by_span(table).column("db_statement").to_pylist() == [None, '["SELECT 1"]']


def test_fields_spanscope_does_not_read_do_not_change_the_spans() -> None:
    plain = _span(1, attributes=[_kv("db.system", string_value="sqlite")])
    busy = Span()
    busy.CopyFrom(plain)
    busy.trace_state = "vendor=1"
    busy.flags = 0x301
    busy.dropped_attributes_count = 4
    busy.events.add(name="exception", time_unix_nano=START, attributes=[_kv("x", int_value=1)])
    busy.links.add(trace_id=bytes.fromhex(TRACE), span_id=bytes.fromhex(span_id(9)))

    read_plain = read_messages([1], [_message(plain)], "a.protoframes", Diagnostics())
    read_busy = read_messages([1], [_message(busy)], "a.protoframes", Diagnostics())

    assert read_busy.equals(read_plain)


def test_binary_ids_become_hex_whatever_their_length() -> None:
    raw = [bytes.fromhex(TRACE), b"\x00\xff" * 4, b"", b"\x0a\x0b\x0c", None]
    ids = pa.array(raw, pa.binary())

    assert hex_ids(ids).to_pylist() == [(value or b"").hex() for value in raw]
    assert hex_ids(ids.slice(1, 2)).to_pylist() == [raw[1].hex(), ""]  # type: ignore[union-attr]


def _books_as_protobuf_frames() -> bytes:
    frames = []
    for line in BOOKS.read_bytes().splitlines():
        if not line.strip():
            continue
        document = json.loads(line)
        for resource in document["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    for key in ("traceId", "spanId", "parentSpanId"):
                        if span.get(key):  # the protobuf JSON mapping spells bytes in base64
                            span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        message = json_format.ParseDict(document, TracesData()).SerializeToString()
        frames.append(len(message).to_bytes(4, "big") + message)
    return b"".join(frames)


def test_a_framed_dump_read_for_analysis_equals_its_json_lines_original(tmp_path: Path) -> None:
    framed = tmp_path / "collector.protoframes"
    framed.write_bytes(_books_as_protobuf_frames())

    got = read(framed, columns="analysis")
    expected = read(BOOKS, columns="analysis")

    assert got.diagnostics.problems == []
    assert got.table.num_rows == expected.table.num_rows > 0
    assert _by_span(got.table).to_pylist() == _by_span(expected.table).to_pylist()
