"""Every public sample dump loads into the canonical span table."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest
from spanscope.analyzer.load import load, read
from spanscope.analyzer.schema import SPAN_SCHEMA

# Public real-world dumps, committed as test data (origins in the folder's README.md).
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

# (spans, traces, skipped records) -- counted by hand from the files themselves.
EXPECTED = {
    # 2 start-up queries (own traces), a 404 warm-up request, the books request + 401 queries
    "django_books_nplus1.jsonl": (405, 4, 0),
    # one request span and its one query
    "django_console_exporter_output.txt": (2, 1, 0),
    "jaeger_integration_fixtures_example_trace.otlp.json": (5, 1, 0),
    "otel-proto_examples_trace.json": (1, 1, 0),
    "otel-rust_integration_expected_serialized_traces.json": (2, 1, 0),
    "otel-rust_integration_expected_traces.json": (2, 1, 0),
    # the specification's example uses empty ids: 4 lines x 2 spans, none identifiable
    "otel-spec_file-exporter_example_traces.jsonl": (0, 0, 8),
}


def test_every_sample_file_is_covered() -> None:
    assert sorted(EXPECTED) == sorted(
        path.name for path in SAMPLES.iterdir() if path.suffix != ".md"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_loads_with_its_span_and_trace_counts(name: str) -> None:
    result = read(SAMPLES / name)
    spans, traces, skipped = EXPECTED[name]
    assert result.table.schema == SPAN_SCHEMA
    assert result.table.num_rows == spans
    assert len(pc.unique(result.table["TraceId"])) == traces
    assert result.diagnostics.skipped_records == skipped
    assert result.files == [str(SAMPLES / name)]


def test_books_sample_has_one_books_request_with_401_db_children() -> None:
    table = load(SAMPLES / "django_books_nplus1.jsonl").to_pylist()
    requests = [
        row for row in table if row["SpanKind"] == "Server" and row["http_route"] == "books/"
    ]
    assert len(requests) == 1
    request = requests[0]
    assert request["SpanName"] == "GET books/"
    assert request["http_method"] == "GET"
    assert request["http_status_code"] == 200
    assert request["layer"] == "server"
    children = [row for row in table if row["ParentSpanId"] == request["SpanId"]]
    assert len(children) == 401
    assert {row["layer"] for row in children} == {"db"}
    assert {row["db_system"] for row in children} == {"sqlite"}
    assert all(row["TraceId"] == request["TraceId"] for row in children)
    authors = [row for row in children if '"books_author"' in row["db_statement"]]
    publishers = [row for row in children if '"books_publisher"' in row["db_statement"]]
    assert (len(authors), len(publishers)) == (200, 200)


def test_books_sample_warmup_request_is_a_404_without_route() -> None:
    table = load(SAMPLES / "django_books_nplus1.jsonl").to_pylist()
    warmup = [row for row in table if row["SpanKind"] == "Server" and row["http_route"] is None]
    assert [(row["http_status_code"], row["http_target"]) for row in warmup] == [(404, None)]


def test_console_output_keeps_ids_times_kinds_and_attributes() -> None:
    result = read(SAMPLES / "django_console_exporter_output.txt")
    rows = {row["SpanName"]: row for row in result.table.to_pylist()}
    server, query = rows["GET books/fixed/"], rows["SELECT"]
    assert server["SpanId"] == "74d509862d28c130"
    assert server["ParentSpanId"] == ""
    assert query["ParentSpanId"] == server["SpanId"]
    assert (server["SpanKind"], query["SpanKind"]) == ("Server", "Client")
    assert server["Duration"] == 5_936_000  # 46.847740 -> 46.853676 s
    assert server["http_status_code"] == 200
    assert query["layer"] == "db"
    assert server["ServiceName"] == "unknown_service:python"
    assert server["ScopeName"] == ""


def test_console_output_log_noise_is_noted_but_not_counted_as_a_skipped_span() -> None:
    result = read(SAMPLES / "django_console_exporter_output.txt")
    assert result.diagnostics.skipped_records == 0
    assert [problem.kind for problem in result.diagnostics.problems] == ["non-span-text"]
    assert result.diagnostics.problems[0].line == 1


def test_upper_case_hex_ids_are_lower_cased() -> None:
    row = load(SAMPLES / "otel-proto_examples_trace.json").to_pylist()[0]
    assert row["TraceId"] == "5b8efff798038103d269b633813fc60c"
    assert row["ParentSpanId"] == "eee19b7ec3c1b173"
    assert row["SpanKind"] == "Server"
    assert row["ScopeName"] == "my.library"
    assert row["ServiceName"] == "my.service"


def test_spec_example_reports_each_span_without_ids_with_its_line() -> None:
    result = read(SAMPLES / "otel-spec_file-exporter_example_traces.jsonl")
    assert [problem.line for problem in result.diagnostics.problems] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert {problem.kind for problem in result.diagnostics.problems} == {"missing-id"}
