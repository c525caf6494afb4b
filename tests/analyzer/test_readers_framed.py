"""Length-prefixed OTLP messages (Collector ``format: proto`` / ``compression: zstd``):
damaged framing is reported per message, never allocated, never a traceback."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
import zstandard
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, TracesData
from otlp_records import START, TRACE, attr, span, span_id, traces_data
from spanscope.analyzer.errors import MalformedRecordError
from spanscope.analyzer.load import load, read
from spanscope.analyzer.readers import otlp_framed, sniff


def _frame(message: bytes) -> bytes:
    return len(message).to_bytes(4, "big") + message


def _proto(*numbers: int, attributes: list[KeyValue] | None = None) -> bytes:
    spans = [
        Span(
            trace_id=bytes.fromhex(TRACE),
            span_id=bytes.fromhex(span_id(n)),
            name="SELECT",
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=START,
            end_time_unix_nano=START + 1_000,
            attributes=attributes or [],
        )
        for n in numbers
    ]
    service = KeyValue(key="service.name", value=AnyValue(string_value="books"))
    message = TracesData(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[service]), scope_spans=[ScopeSpans(spans=spans)]
            )
        ]
    )
    return message.SerializeToString()


def _json(*numbers: int) -> bytes:
    return orjson.dumps(traces_data(*(span(span_id(n)) for n in numbers)))


def _write(path: Path, *frames: bytes) -> Path:
    path.write_bytes(b"".join(frames))
    return path


@pytest.mark.parametrize(
    "message",
    [
        _proto(1),
        zstandard.ZstdCompressor().compress(_proto(1)),
        zstandard.ZstdCompressor().compress(_json(1)),
    ],
    ids=["proto", "zstd-proto", "zstd-json"],
)
def test_each_framing_is_sniffed_as_otlp_framed(message: bytes) -> None:
    reader = sniff(_frame(message) + _frame(message))
    assert reader is not None and reader.name == "otlp-framed"


def test_protobuf_values_read_like_their_otlp_json_spelling(tmp_path: Path) -> None:
    values = [
        KeyValue(key="s", value=AnyValue(string_value="x")),
        KeyValue(key="i", value=AnyValue(int_value=7)),
        KeyValue(key="d", value=AnyValue(double_value=0.5)),
        KeyValue(key="b", value=AnyValue(bool_value=True)),
        KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
        KeyValue(
            key="a",
            value=AnyValue(
                array_value=ArrayValue(values=[AnyValue(int_value=1), AnyValue(string_value="y")])
            ),
        ),
    ]
    framed = load(_write(tmp_path / "a.protoframes", _frame(_proto(1, attributes=values))))
    as_json = [
        attr("s", "x"),
        attr("i", {"intValue": "7"}),
        attr("d", {"doubleValue": 0.5}),
        attr("b", {"boolValue": True}),
        attr("raw", {"bytesValue": "AAE="}),
        attr("a", {"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "y"}]}}),
    ]
    (tmp_path / "a.json").write_bytes(
        orjson.dumps(traces_data(span(span_id(1), attributes=as_json), service="books", scope=""))
    )
    expected = load(tmp_path / "a.json")
    assert (
        framed.column("SpanAttributes").to_pylist() == expected.column("SpanAttributes").to_pylist()
    )
    assert framed.drop_columns(["SpanAttributes"]).equals(expected.drop_columns(["SpanAttributes"]))


def test_a_size_prefix_beyond_the_end_of_the_file_skips_the_rest_without_allocating(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "a.protoframes", _frame(_proto(1)), (2**31).to_bytes(4, "big"), b"x")
    result = read(path)
    assert result.table.num_rows == 1
    (problem,) = result.diagnostics.problems
    assert (problem.kind, problem.line) == ("oversized-record", 2)
    assert "2,147,483,648 bytes with only 1 bytes left" in problem.message


def test_a_message_cut_short_by_a_killed_writer_is_reported_as_truncated(tmp_path: Path) -> None:
    whole = _frame(_proto(2))
    path = _write(tmp_path / "a.protoframes", _frame(_proto(1)), whole[:-3])
    result = read(path)
    assert result.table.num_rows == 1
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("truncated-record", 2)]


def test_a_damaged_message_is_skipped_and_the_next_ones_are_read(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "a.protoframes",
        _frame(_proto(1)),
        _frame(b"\x0a\x05\xff\xff"),  # claims 5 bytes, holds 2
        _frame(_proto(3)),
    )
    result = read(path)
    assert sorted(result.table.column("SpanId").to_pylist()) == [span_id(1), span_id(3)]
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("invalid-protobuf", 2)]


def test_problems_in_json_messages_carry_their_message_number(tmp_path: Path) -> None:
    compress = zstandard.ZstdCompressor().compress
    path = _write(
        tmp_path / "a.zstframes",
        _frame(compress(_json(1))),
        _frame(compress(b'{"resourceSpans": [')),
        _frame(compress(_json(3))),
        _frame(b"\x28\xb5\x2f\xfd broken"),
        _frame(compress(orjson.dumps(traces_data(span("")), option=orjson.OPT_INDENT_2))),
    )
    result = read(path)
    assert sorted(result.table.column("SpanId").to_pylist()) == [span_id(1), span_id(3)]
    # JSON messages are parsed in batches, so their problems may be reported later.
    assert sorted((p.line, p.kind) for p in result.diagnostics.problems) == [
        (2, "invalid-json"),
        (4, "invalid-compression"),
        (5, "missing-id"),
    ]


def test_a_frame_inflating_past_the_limit_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_framed, "MAX_MESSAGE_BYTES", 10_000)
    bomb = zstandard.ZstdCompressor().compress(b" " * 50_000 + _json(1))
    path = _write(tmp_path / "a.zstframes", _frame(bomb), _frame(_proto(2)))
    result = read(path)
    assert result.table.column("SpanId").to_pylist() == [span_id(2)]
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("oversized-record", 1)]


def test_strict_mode_fails_on_the_first_damaged_message(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.protoframes", _frame(_proto(1)), _frame(b"\x0a\x05\xff"))
    with pytest.raises(MalformedRecordError, match=r"a\.protoframes:2: invalid protobuf"):
        read(path, strict=True)


def test_gzip_wrapped_frames_are_read_too(tmp_path: Path) -> None:
    path = tmp_path / "a.protoframes.gz"
    path.write_bytes(gzip.compress(_frame(_proto(1)) + _frame(_proto(2))))
    assert load(path).num_rows == 2
