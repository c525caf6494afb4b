"""``spanscope convert``: dumps -> canonical Parquet that analyses exactly like its source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from otlp_records import line, span, span_id, write
from spanscope.analyzer.cli import cli
from spanscope.analyzer.convert import convert
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.load import load
from spanscope.analyzer.schema import SPAN_SCHEMA

DATA = Path(__file__).resolve().parents[1] / "data"
BOOKS = DATA / "samples" / "django_books_nplus1.jsonl"
SOURCES = [
    BOOKS,
    DATA / "formats" / "jaeger_ui_books.json",
    DATA / "formats" / "zipkin_v2_books.json",
]


def _analyze_json(path: Path) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by([("TraceId", "ascending"), ("SpanId", "ascending")])


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_analysing_the_parquet_gives_the_same_report_as_the_source(
    tmp_path: Path, source: Path
) -> None:
    output = tmp_path / "spans.parquet"
    result = CliRunner().invoke(cli, ["convert", str(source), "-o", str(output)])
    assert result.exit_code == 0, result.output
    assert _analyze_json(output) == _analyze_json(source)


def test_the_parquet_holds_the_canonical_schema_compressed_with_zstd(tmp_path: Path) -> None:
    output = tmp_path / "spans.parquet"
    convert(BOOKS, output)
    parquet = pq.ParquetFile(output)
    canonical = parquet.schema_arrow.names[: len(SPAN_SCHEMA.names)]
    assert canonical == SPAN_SCHEMA.names
    # then the prepared columns analyze reads instead of recomputing them
    prepared = parquet.schema_arrow.names[len(SPAN_SCHEMA.names) :]
    assert prepared and all(name.startswith("spanscope_") for name in prepared)
    assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    assert load(output).equals(load(BOOKS))


def test_the_command_reports_what_it_wrote_on_stderr(tmp_path: Path) -> None:
    output = tmp_path / "spans.parquet"
    result = CliRunner().invoke(cli, ["convert", str(BOOKS), "-o", str(output)])
    assert result.stderr == f"spanscope: wrote 405 span(s) from 1 file(s) to {output}\n"


def test_partitioning_by_service_writes_one_folder_per_service(tmp_path: Path) -> None:
    folder = tmp_path / "by-service"
    (tmp_path / "in").mkdir()
    write(tmp_path / "in" / "a.jsonl", line(span(span_id(1)), service="books"))
    write(tmp_path / "in" / "b.jsonl", line(span(span_id(2)), service="shop/eu"))
    result = convert(tmp_path / "in", folder, partition_by="ServiceName")
    assert sorted(Path(p).relative_to(folder).as_posix() for p in result.written) == [
        "ServiceName=books/part-0.parquet",
        "ServiceName=shop%2Feu/part-0.parquet",
    ]
    assert _sorted(load(folder)).equals(_sorted(load(tmp_path / "in")))


def test_partitioning_by_date_uses_the_utc_day_each_span_started(tmp_path: Path) -> None:
    folder = tmp_path / "by-day"
    day = 86_400 * 10**9
    source = write(
        tmp_path / "a.jsonl",
        line(
            span(span_id(1), start=1_700_000_000 * 10**9),
            span(span_id(2), start=1_700_000_000 * 10**9 + day),
        ),
    )
    result = convert(source, folder, partition_by="date")
    assert [Path(p).parent.name for p in result.written] == ["date=2023-11-14", "date=2023-11-15"]
    assert _sorted(load(folder)).equals(_sorted(load(source)))


def test_a_partitioned_output_must_be_a_new_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(UsageError, match=r"already exists \(hint: "):
        convert(BOOKS, tmp_path / "out", partition_by="ServiceName")


def test_an_unknown_partition_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ServiceName, date"):
        convert(BOOKS, "never-written.parquet", partition_by="route")


def test_bad_records_are_reported_and_the_rest_converted(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", line(span(span_id(1))), b"{oops\n")
    output = tmp_path / "spans.parquet"
    result = CliRunner().invoke(cli, ["convert", str(source), "-o", str(output)])
    assert result.exit_code == 0
    assert f"{source}:2: skipped: invalid JSON" in result.stderr
    assert load(output).num_rows == 1


def test_strict_conversion_fails_on_the_first_bad_record_with_exit_2(tmp_path: Path) -> None:
    source = write(tmp_path / "a.jsonl", line(span(span_id(1))), b"{oops\n")
    output = tmp_path / "spans.parquet"
    result = CliRunner().invoke(cli, ["convert", "--strict", str(source), "-o", str(output)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"spanscope: error: {source}:2: invalid JSON")
    assert not output.exists()
