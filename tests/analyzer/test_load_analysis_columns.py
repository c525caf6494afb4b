"""``read(..., columns="analysis")``: the analyses' lighter read agrees with the full one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from otlp_records import attr, line, span, span_id, write
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.enrich import ANALYSIS_ATTRIBUTES, ANALYSIS_SCHEMA, for_analysis
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import otlp_jsonl, parquet

_MIXED_SPANS = (
    span(
        span_id(1),
        name="GET books/",
        kind=2,
        attributes=[
            attr("http.request.method", "GET"),
            attr("http.route", "books/"),
            attr("http.response.status_code", {"intValue": "200"}),
            attr("url.full", "http://shop/books/"),
        ],
    ),
    span(
        span_id(2),
        parent=span_id(1),
        attributes=[
            attr("db.system", "postgresql"),
            attr("db.statement", "SELECT 1"),
            attr("code.line.number", {"intValue": "42"}),
            attr("code.filepath", "/app/views.py"),
            attr("spanscope.orm.relation", "inventory.Book.author"),
            attr("unrelated", "x"),
        ],
    ),
    span(
        span_id(3),
        parent=span_id(1),
        name="GET",
        kind=3,
        attributes=[attr("http.method", "GET"), attr("http.url", "http://api/users/7")],
    ),
    span(span_id(4), parent=span_id(1), attributes=[attr("db.system", "redis")]),
)


def _dump(tmp_path: Path) -> Path:
    return write(tmp_path / "a.jsonl", line(*_MIXED_SPANS[:2]), line(*_MIXED_SPANS[2:]))


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda row: row["SpanId"])


def test_analysis_read_has_the_analysis_schema(tmp_path: Path) -> None:
    assert read(_dump(tmp_path), columns="analysis").table.schema == ANALYSIS_SCHEMA


def test_analysis_read_equals_the_full_read_cut_down(tmp_path: Path) -> None:
    path = _dump(tmp_path)
    full = read(path).table
    light = read(path, columns="analysis").table
    assert _rows(light) == _rows(for_analysis(full))
    assert light.num_rows == 4


def test_analysis_read_keeps_only_the_url_attributes(tmp_path: Path) -> None:
    light = read(_dump(tmp_path), columns="analysis").table
    kept = {key for row in light["SpanAttributes"].to_pylist() for key, _ in row}
    assert kept == set(ANALYSIS_ATTRIBUTES)


def test_analysis_read_never_builds_attribute_maps_on_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_calls: list[list[int]] = []
    reference = otlp_jsonl._slow_lines

    def recording(lines: Any, indices: list[int], *args: Any) -> pa.Table:
        slow_calls.append(indices)
        return reference(lines, indices, *args)

    monkeypatch.setattr(otlp_jsonl, "_slow_lines", recording)
    light = read(_dump(tmp_path), columns="analysis").table
    assert slow_calls == []
    assert light["code_lineno"].to_pylist()[1] == 42


def test_a_value_kind_the_fast_path_does_not_convert_goes_to_the_reference_reader(
    tmp_path: Path,
) -> None:
    listed = span(
        span_id(9),
        attributes=[
            attr("db.system", "sqlite"),
            attr("tags", {"arrayValue": {"values": [{"stringValue": "a"}]}}),
        ],
    )
    path = write(tmp_path / "a.jsonl", line(listed))
    for columns in ("all", "analysis"):
        result = read(path, columns=columns)  # type: ignore[arg-type]
        assert result.table["db_system"].to_pylist() == ["sqlite"]
        assert result.diagnostics.skipped_records == 0


def test_parquet_analysis_read_skips_the_maps_and_agrees(tmp_path: Path) -> None:
    full = read(_dump(tmp_path)).table
    pq.write_table(full, tmp_path / "spans.parquet")
    tables = list(
        parquet.ParquetReader().read_analysis(str(tmp_path / "spans.parquet"), Diagnostics())
    )
    from_parquet = pa.concat_tables([for_analysis(table) for table in tables])
    assert _rows(from_parquet) == _rows(read(tmp_path / "a.jsonl", columns="analysis").table)


def test_parquet_without_derived_columns_is_derived_for_analysis(tmp_path: Path) -> None:
    full = read(_dump(tmp_path)).table
    pq.write_table(full.select(range(13)), tmp_path / "base.parquet")
    light = read(tmp_path / "base.parquet", columns="analysis").table
    assert _rows(light) == _rows(read(tmp_path / "a.jsonl", columns="analysis").table)


def test_unknown_column_set_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="column set"):
        read(_dump(tmp_path), columns="some")  # type: ignore[arg-type]


def test_lines_straddling_reads_keep_their_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(otlp_jsonl, "_READ_BYTES", 700)  # every line crosses a read
    monkeypatch.setattr(otlp_jsonl, "CHUNK_BYTES", 2000)
    lines = [line(span(span_id(n))) for n in range(1, 30)]
    lines[16] = b'{"resourceSpans": [ not json\n'
    result = read(write(tmp_path / "a.jsonl", *lines))
    assert result.table.num_rows == 28
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("invalid-json", 17)]


def test_parquet_derived_column_that_fails_its_cast_is_derived_again(tmp_path: Path) -> None:
    # No HTTP client span: the maps are not read up front, only for the failed batch.
    write(tmp_path / "a.jsonl", line(*_MIXED_SPANS[:2]), line(_MIXED_SPANS[3]))
    full = read(tmp_path / "a.jsonl").table
    index = full.schema.get_field_index("code_lineno")
    unusable = pa.array(["forty-two"] * full.num_rows)  # a string column that is no int
    pq.write_table(full.set_column(index, "code_lineno", unusable), tmp_path / "odd.parquet")
    light = read(tmp_path / "odd.parquet", columns="analysis").table
    assert _rows(light) == _rows(read(tmp_path / "a.jsonl", columns="analysis").table)
