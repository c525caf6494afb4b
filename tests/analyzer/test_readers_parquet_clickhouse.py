"""A ClickHouse ``otel_traces`` table exported with ``SELECT * ... FORMAT Parquet`` loads
as is: both SpanKind/StatusCode spellings, DateTime64 or integer times, unsigned
durations, LowCardinality (dictionary) and binary strings, Events/Links ignored."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.load import load, read

TRACE = "4BF92F3577B34DA6A3CE929D0E0E4736"  # ClickHouse keeps what the exporter got
START_NS = 1_763_780_000_000_000_000
STR_MAP = pa.map_(pa.string(), pa.string())
LOW_CARDINALITY = pa.dictionary(pa.int32(), pa.string())

# One request and two of its queries, as the exporter stores them (older spelling).
ROWS: dict[str, list[Any]] = {
    "Timestamp": [START_NS, START_NS + 1_000_000, START_NS + 3_000_000],
    "TraceId": [TRACE] * 3,
    "SpanId": ["00f067aa0ba902b7", "a1b2c3d4e5f60001", "a1b2c3d4e5f60002"],
    "ParentSpanId": ["", "00f067aa0ba902b7", "00f067aa0ba902b7"],
    "TraceState": ["", "", ""],
    "SpanName": ["GET books/", "SELECT", "SELECT"],
    "SpanKind": ["SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_CLIENT"],
    "ServiceName": ["books-demo"] * 3,
    "ResourceAttributes": [[("service.name", "books-demo")]] * 3,
    "ScopeName": ["opentelemetry.instrumentation.django"]
    + ["opentelemetry.instrumentation.sqlite3"] * 2,
    "ScopeVersion": ["0.66b1"] * 3,
    "SpanAttributes": [
        [("http.method", "GET"), ("http.route", "books/"), ("http.status_code", "500")],
        [("db.system", "sqlite"), ("db.statement", "SELECT 1")],
        [("db.system", "sqlite"), ("db.statement", "SELECT 2")],
    ],
    "Duration": [10_000_000, 1_000_000, 2_000_000],
    "StatusCode": ["STATUS_CODE_ERROR", "STATUS_CODE_UNSET", "STATUS_CODE_OK"],
    "StatusMessage": ["boom", "", ""],
    "Events.Timestamp": [[], [], []],
    "Events.Name": [[], [], []],
    "Events.Attributes": [[], [], []],
    "Links.TraceId": [[], [], []],
    "Links.SpanId": [[], [], []],
}


def _clickhouse_table(**types: pa.DataType) -> pa.Table:
    """The ROWS with ClickHouse's Parquet types (overridable per column)."""
    default: dict[str, pa.DataType] = {
        "Timestamp": pa.timestamp("ns"),  # DateTime64(9), UTC, no zone in the file
        "Duration": pa.uint64(),
        "SpanKind": LOW_CARDINALITY,
        "ServiceName": LOW_CARDINALITY,
        "ScopeName": pa.string(),
        "ResourceAttributes": pa.map_(LOW_CARDINALITY, pa.string()),
        "SpanAttributes": pa.map_(LOW_CARDINALITY, pa.string()),
        "Events.Timestamp": pa.list_(pa.timestamp("ns")),
        "Events.Name": pa.list_(pa.string()),
        "Events.Attributes": pa.list_(STR_MAP),
        "Links.TraceId": pa.list_(pa.string()),
        "Links.SpanId": pa.list_(pa.string()),
    }
    default.update(types)
    arrays = {}
    for name, values in ROWS.items():
        kind = default.get(name, pa.string())
        if pa.types.is_dictionary(kind):
            arrays[name] = pa.array(values, pa.string()).dictionary_encode()
        elif pa.types.is_map(kind) and pa.types.is_dictionary(kind.key_type):
            arrays[name] = pa.array(values, STR_MAP).cast(kind)
        else:
            arrays[name] = pa.array(values, kind)
    return pa.table(arrays)


def _write(tmp_path: Path, table: pa.Table, name: str = "otel_traces.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(table, path)
    return path


def test_a_clickhouse_export_loads_with_canonical_values(tmp_path: Path) -> None:
    result = read(_write(tmp_path, _clickhouse_table()))
    assert result.diagnostics.problems == []
    rows = result.table.to_pylist()
    server = rows[0]
    assert server["Timestamp"] == datetime.fromtimestamp(1_763_780_000, tz=timezone.utc)
    assert server["TraceId"] == TRACE.lower()
    assert [row["SpanKind"] for row in rows] == ["Server", "Client", "Client"]
    assert [row["StatusCode"] for row in rows] == ["Error", "Unset", "Ok"]
    assert (server["layer"], server["http_route"], server["http_status_code"]) == (
        "server",
        "books/",
        500,
    )
    assert [row["layer"] for row in rows[1:]] == ["db", "db"]
    assert "Events.Name" not in result.table.column_names


def test_both_spellings_of_kind_and_status_read_alike(tmp_path: Path) -> None:
    old = load(_write(tmp_path, _clickhouse_table(), "old.parquet"))
    newer = _clickhouse_table()
    newer = newer.set_column(
        newer.schema.get_field_index("SpanKind"),
        "SpanKind",
        pa.array(["Server", "Client", "Client"]),
    )
    newer = newer.set_column(
        newer.schema.get_field_index("StatusCode"), "StatusCode", pa.array(["Error", "Unset", "Ok"])
    )
    assert load(_write(tmp_path, newer, "new.parquet")).equals(old)


@pytest.mark.parametrize(
    "types",
    [
        {"Timestamp": pa.int64()},  # plain nanoseconds
        {"Timestamp": pa.timestamp("ns", tz="UTC")},
        {"Duration": pa.int64()},
        {"TraceId": pa.binary(), "SpanName": pa.binary()},  # older ClickHouse: String as binary
        {"ResourceAttributes": STR_MAP, "SpanAttributes": pa.map_(pa.binary(), pa.binary())},
    ],
    ids=["int-timestamp", "utc-timestamp", "signed-duration", "binary-strings", "plain-maps"],
)
def test_column_type_variants_read_like_the_default_export(
    tmp_path: Path, types: dict[str, pa.DataType]
) -> None:
    expected = load(_write(tmp_path, _clickhouse_table(), "default.parquet"))
    assert load(_write(tmp_path, _clickhouse_table(**types), "variant.parquet")).equals(expected)


def test_microsecond_timestamps_are_widened_to_nanoseconds(tmp_path: Path) -> None:
    table = _clickhouse_table(Timestamp=pa.timestamp("ns"))
    micros = table.column("Timestamp").cast(pa.timestamp("us"))
    table = table.set_column(0, "Timestamp", micros)
    row = load(_write(tmp_path, table)).to_pylist()[0]
    assert row["Timestamp"] == datetime.fromtimestamp(1_763_780_000, tz=timezone.utc)


def test_rows_with_bad_ids_or_times_are_skipped_with_row_numbers_and_counts(tmp_path: Path) -> None:
    table = _clickhouse_table()
    table = table.set_column(
        table.schema.get_field_index("SpanId"), "SpanId", pa.array(["00f067aa0ba902b7", "", "xyz"])
    )
    result = read(_write(tmp_path, table))
    assert result.table.column("SpanId").to_pylist() == ["00f067aa0ba902b7"]
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [
        ("missing-id", 2),
        ("bad-id", 3),
    ]
    assert result.diagnostics.skipped_records == 2


def test_a_duration_beyond_int64_is_a_bad_time(tmp_path: Path) -> None:
    table = _clickhouse_table()
    durations = pa.array([10_000_000, 2**64 - 1, 2_000_000], pa.uint64())
    table = table.set_column(table.schema.get_field_index("Duration"), "Duration", durations)
    result = read(_write(tmp_path, table))
    assert result.table.num_rows == 2
    assert [(p.kind, p.line) for p in result.diagnostics.problems] == [("bad-time", 2)]


def test_a_minimal_select_of_the_required_columns_loads(tmp_path: Path) -> None:
    table = _clickhouse_table().select(["Timestamp", "TraceId", "SpanId", "Duration"])
    rows = load(_write(tmp_path, table)).to_pylist()
    assert [(row["ParentSpanId"], row["SpanKind"], row["SpanAttributes"]) for row in rows] == [
        ("", "Unspecified", [])
    ] * 3


def test_a_map_column_of_another_type_is_unreadable_with_a_hint(tmp_path: Path) -> None:
    table = _clickhouse_table()
    index = table.schema.get_field_index("SpanAttributes")
    table = table.set_column(index, "SpanAttributes", pa.array(["{}", "{}", "{}"]))
    with pytest.raises(UnreadableInputError, match=r"SpanAttributes has type string.*\(hint: "):
        load(_write(tmp_path, table))


def test_overlapping_exports_count_each_span_once(tmp_path: Path) -> None:
    table = _clickhouse_table()
    _write(tmp_path, table.slice(0, 2), "a.parquet")
    _write(tmp_path, table.slice(1, 2), "b.parquet")
    assert read(tmp_path).table.num_rows == 3
