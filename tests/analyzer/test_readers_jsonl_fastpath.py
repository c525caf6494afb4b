"""The JSON-lines fast path: value kinds parsed for analysis, chunks converted side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from otlp_records import attr, line, span, span_id, write
from spanscope.analyzer.enrich import for_analysis
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_jsonl


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: row["SpanId"])


@pytest.fixture
def slow_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The line indices handed to the per-record reference reader, call by call."""
    calls: list[list[int]] = []
    reference = otlp_jsonl._slow_lines

    def recording(lines: Any, indices: list[int], *args: Any) -> pa.Table:
        calls.append(indices)
        return reference(lines, indices, *args)

    monkeypatch.setattr(otlp_jsonl, "_slow_lines", recording)
    return calls


def test_analysis_read_ignores_the_value_kind_of_attributes_no_analysis_reads(
    tmp_path: Path, slow_calls: list[list[int]]
) -> None:
    unread = [
        attr("db.system", "postgresql"),
        attr("ratio", {"doubleValue": 0.5}),
        attr("cached", {"boolValue": True}),
        attr("tags", {"arrayValue": {"values": [{"stringValue": "a"}]}}),
        attr("blob", {"bytesValue": "AAEC"}),
    ]
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), attributes=unread)))
    light = read(path, columns="analysis").table
    assert slow_calls == []
    assert _rows(light) == _rows(for_analysis(read(path).table))


@pytest.mark.parametrize(
    "value",
    [{"doubleValue": 200.0}, {"boolValue": True}, {"arrayValue": {"values": []}}],
    ids=["double", "bool", "array"],
)
def test_analysis_read_hands_a_read_attribute_of_another_value_kind_to_the_reference_reader(
    tmp_path: Path, slow_calls: list[list[int]], value: dict[str, Any]
) -> None:
    server = span(
        span_id(1),
        name="GET books/",
        kind=2,
        attributes=[attr("http.route", "books/"), attr("http.response.status_code", value)],
    )
    plain = span(span_id(2), parent=span_id(1), attributes=[attr("db.system", "sqlite")])
    path = write(tmp_path / "a.jsonl", line(plain), line(server), line(plain))
    light = read(path, columns="analysis")
    assert slow_calls == [[1]]  # only the line holding that attribute
    assert _rows(light.table) == _rows(for_analysis(read(path).table))
    assert light.diagnostics.skipped_records == 0


def test_chunks_converted_side_by_side_keep_file_order_and_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_jsonl, "_READ_BYTES", 900)
    monkeypatch.setattr(otlp_jsonl, "CHUNK_BYTES", 1800)  # a few lines per chunk
    lines = [line(span(span_id(n), attributes=[attr("db.system", "sqlite")])) for n in range(1, 61)]
    lines[33] = b'{"resourceSpans": [ not json\n'
    for columns in ("all", "analysis"):
        result = read(write(tmp_path / "a.jsonl", *lines), columns=columns)  # type: ignore[arg-type]
        expected = [span_id(n) for n in range(1, 61) if n != 34]
        assert result.table["SpanId"].to_pylist() == expected
        assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("invalid-json", 34)]


def test_a_chunk_the_worker_cannot_parse_is_read_carefully_around_its_bad_line(
    tmp_path: Path, slow_calls: list[list[int]]
) -> None:
    good = [line(span(span_id(n))) for n in range(1, 9)]
    bad = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}\n'
    result = read(write(tmp_path / "a.jsonl", *good[:4], bad, *good[4:]), columns="analysis")
    assert result.table.num_rows == 8
    assert slow_calls == [[4]]  # the careful path bisected down to the one line
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("bad-id", 5)]
