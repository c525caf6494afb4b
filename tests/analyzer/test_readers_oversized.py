"""Absurd sizes are skipped with a message, never read into memory whole."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from otlp_records import line, span, span_id, traces_data, write
from spanscope.analyzer.errors import MalformedRecordError, UnreadableInputError
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_jsonl, source

LIMIT = 4096


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(otlp_jsonl, "MAX_RECORD_BYTES", LIMIT)
    monkeypatch.setattr(otlp_jsonl, "_READ_BYTES", 1000)  # the line arrives in many pieces
    monkeypatch.setattr(source, "MAX_DOCUMENT_BYTES", LIMIT)


@pytest.mark.usefixtures("small_limits")
def test_a_json_line_longer_than_the_limit_is_skipped_and_the_next_lines_read(
    tmp_path: Path,
) -> None:
    giant = b'{"resourceSpans": "' + b"x" * (3 * LIMIT) + b'"}\n'
    path = write(tmp_path / "a.jsonl", line(span(span_id(1))), giant, line(span(span_id(3))))
    result = read(path)
    assert result.table.column("SpanId").to_pylist() == [span_id(1), span_id(3)]
    (problem,) = result.diagnostics.problems
    assert (problem.kind, problem.line, result.diagnostics.skipped_records) == (
        "oversized-record",
        2,
        1,
    )
    assert "line longer than 4,096 bytes" in problem.message


@pytest.mark.usefixtures("small_limits")
def test_line_numbers_after_a_skipped_giant_line_stay_right(tmp_path: Path) -> None:
    giant = b"{" + b" " * (2 * LIMIT) + b"\n"
    path = write(tmp_path / "a.jsonl", line(span(span_id(1))), giant, b"{broken\n")
    assert [(p.kind, p.line) for p in read(path).diagnostics.problems] == [
        ("oversized-record", 2),
        ("invalid-json", 3),
    ]


@pytest.mark.usefixtures("small_limits")
def test_a_giant_unterminated_tail_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1))), b'{"' + b"y" * (2 * LIMIT))
    result = read(path)
    assert result.table.num_rows == 1
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("oversized-record", 2)]


@pytest.mark.usefixtures("small_limits")
def test_strict_mode_fails_on_a_giant_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1))), b"{" + b" " * (2 * LIMIT) + b"\n")
    with pytest.raises(MalformedRecordError, match=r"a\.jsonl:2: line longer than"):
        read(path, strict=True)


@pytest.mark.usefixtures("small_limits")
def test_a_whole_document_beyond_the_limit_is_refused_with_a_hint(tmp_path: Path) -> None:
    many = traces_data(*(span(span_id(n)) for n in range(1, 60)))
    path = tmp_path / "pretty.json"
    path.write_bytes(orjson.dumps(many, option=orjson.OPT_INDENT_2))
    with pytest.raises(UnreadableInputError, match=r"larger than 4,096 bytes.*JSON lines"):
        read(path)


@pytest.mark.usefixtures("small_limits")
def test_a_too_large_document_inside_a_folder_is_noted_and_the_rest_read(tmp_path: Path) -> None:
    many = traces_data(*(span(span_id(n)) for n in range(1, 60)))
    (tmp_path / "pretty.json").write_bytes(orjson.dumps(many, option=orjson.OPT_INDENT_2))
    write(tmp_path / "small.jsonl", line(span(span_id(99))))
    result = read(tmp_path)
    assert result.table.column("SpanId").to_pylist() == [span_id(99)]
    assert [p.kind for p in result.diagnostics.problems] == ["unreadable-file"]
