"""Jaeger UI JSON downloads and Zipkin v2 JSON load into the canonical span table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from spanscope.analyzer import analyze
from spanscope.analyzer.load import load, read
from spanscope.analyzer.readers import sniff

FORMATS = Path(__file__).resolve().parents[1] / "data" / "formats"
JAEGER = FORMATS / "jaeger_ui_books.json"
ZIPKIN = FORMATS / "zipkin_v2_books.json"
BOTH = pytest.mark.parametrize("path", [JAEGER, ZIPKIN], ids=["jaeger", "zipkin"])

SERVER_SPAN = "00f067aa0ba902b7"
LIST_QUERY = "a1b2c3d4e5f60001"


def _row(path: Path, span_id: str) -> dict[str, Any]:
    return next(row for row in load(path).to_pylist() if row["SpanId"] == span_id)


@pytest.mark.parametrize(
    ("path", "name"), [(JAEGER, "jaeger-json"), (ZIPKIN, "zipkin-json")], ids=["jaeger", "zipkin"]
)
def test_format_is_sniffed_from_content(path: Path, name: str) -> None:
    reader = sniff(path.read_bytes()[:65536])
    assert reader is not None and reader.name == name


@BOTH
def test_every_span_loads_without_problems(path: Path) -> None:
    result = read(path)
    assert result.table.num_rows == 11
    assert result.diagnostics.problems == []


@BOTH
def test_request_span_keeps_kind_route_status_service_and_scope(path: Path) -> None:
    row = _row(path, SERVER_SPAN)
    assert (row["SpanKind"], row["ParentSpanId"], row["layer"]) == ("Server", "", "server")
    assert (row["http_method"], row["http_route"], row["http_status_code"]) == (
        "GET",
        "books/",
        200,
    )
    assert row["ServiceName"] == "books-demo"
    assert row["ScopeName"] == "opentelemetry.instrumentation.django"
    assert row["Duration"] == 42_000_000  # 42 000 µs
    assert row["Timestamp"].timestamp() == 1_763_780_000.0


@BOTH
def test_query_span_is_a_db_child_of_the_request(path: Path) -> None:
    row = _row(path, LIST_QUERY)
    assert (row["SpanKind"], row["ParentSpanId"], row["layer"]) == ("Client", SERVER_SPAN, "db")
    assert row["db_system"] == "sqlite"
    assert (row["code_filepath"], row["code_lineno"]) == ("/srv/books/views.py", 14)


@BOTH
def test_tags_that_became_span_fields_are_not_repeated_as_attributes(path: Path) -> None:
    keys = set(dict(_row(path, SERVER_SPAN)["SpanAttributes"]))
    assert not keys & {"span.kind", "otel.scope.name", "otel.scope.version"}
    assert {"http.method", "http.route"} <= keys


@BOTH
def test_analysis_finds_the_endpoints_and_the_author_n_plus_one(path: Path) -> None:
    report = analyze(path)
    assert [e.endpoint for e in report.endpoints] == [
        "GET books/",
        "GET books/<int:pk>/",
        "GET (no route)",
    ]
    (finding,) = report.n_plus_one
    assert (finding.endpoint, finding.repeats, finding.relation, finding.suggestion) == (
        "GET books/",
        6,
        "books.Book.author",
        'select_related("author")',
    )


def test_jaeger_process_becomes_the_resource() -> None:
    resource = dict(_row(JAEGER, SERVER_SPAN)["ResourceAttributes"])
    assert resource["service.name"] == "books-demo"
    assert resource["telemetry.sdk.language"] == "python"


def test_zipkin_64_bit_trace_id_is_zero_padded_to_128_bits() -> None:
    row = _row(ZIPKIN, "b7ad6b7169203331")
    assert row["TraceId"] == "0000000000000000" + "8448eb211c80319c"


def _write_json(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _jaeger_span(span_id: str, **fields: Any) -> dict[str, Any]:
    span = {
        "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spanID": span_id,
        "operationName": "GET books/",
        "references": [],
        "startTime": 1_763_780_000_000_000,
        "duration": 1_000,
        "tags": [],
        "processID": "p1",
    }
    span.update(fields)
    return span


def _jaeger(*spans: dict[str, Any]) -> dict[str, Any]:
    trace = {
        "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
        "spans": list(spans),
        "processes": {"p1": {"serviceName": "books-demo", "tags": []}},
    }
    return {"data": [trace]}


def test_jaeger_error_tag_and_otel_status_become_the_status(tmp_path: Path) -> None:
    path = _write_json(
        tmp_path,
        "t.json",
        _jaeger(
            _jaeger_span(
                "0000000000000001", tags=[{"key": "error", "type": "bool", "value": True}]
            ),
            _jaeger_span(
                "0000000000000002",
                tags=[
                    {"key": "otel.status_code", "type": "string", "value": "ERROR"},
                    {"key": "otel.status_description", "type": "string", "value": "boom"},
                ],
            ),
        ),
    )
    rows = sorted(load(path).to_pylist(), key=lambda row: row["SpanId"])
    assert [(row["StatusCode"], row["StatusMessage"]) for row in rows] == [
        ("Error", ""),
        ("Error", "boom"),
    ]


def test_jaeger_parent_is_the_child_of_reference_in_the_same_trace(tmp_path: Path) -> None:
    other_trace = "0af7651916cd43dd8448eb211c80319c"
    references = [
        {"refType": "FOLLOWS_FROM", "traceID": other_trace, "spanID": "00000000000000aa"},
        {
            "refType": "FOLLOWS_FROM",
            "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanID": "00000000000000bb",
        },
        {
            "refType": "CHILD_OF",
            "traceID": "4bf92f3577b34da6a3ce929d0e0e4736",
            "spanID": "00000000000000cc",
        },
    ]
    path = _write_json(
        tmp_path, "t.json", _jaeger(_jaeger_span("0000000000000001", references=references))
    )
    assert load(path).column("ParentSpanId").to_pylist() == ["00000000000000cc"]


def test_jaeger_spans_without_ids_or_times_are_reported_and_the_rest_kept(tmp_path: Path) -> None:
    path = _write_json(
        tmp_path,
        "t.json",
        _jaeger(
            _jaeger_span("0000000000000001"),
            _jaeger_span(""),
            _jaeger_span("0000000000000003", startTime="yesterday"),
        ),
    )
    result = read(path)
    assert result.table.column("SpanId").to_pylist() == ["0000000000000001"]
    assert sorted(p.kind for p in result.diagnostics.problems) == ["bad-time", "missing-id"]
    assert result.diagnostics.skipped_records == 2


def test_zipkin_error_tag_value_is_the_status_message(tmp_path: Path) -> None:
    span = {
        "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
        "id": "0000000000000001",
        "name": "get books/",
        "timestamp": 1_763_780_000_000_000,
        "duration": 5,
        "localEndpoint": {"serviceName": "books-demo"},
        "tags": {"error": "database is locked"},
    }
    row = load(_write_json(tmp_path, "z.json", [span])).to_pylist()[0]
    assert (row["StatusCode"], row["StatusMessage"], row["SpanKind"]) == (
        "Error",
        "database is locked",
        "Internal",
    )


def test_zipkin_list_of_traces_is_flattened(tmp_path: Path) -> None:
    spans = json.loads(ZIPKIN.read_text(encoding="utf-8"))
    path = _write_json(tmp_path, "traces.json", [spans[:5], spans[5:]])
    assert load(path).num_rows == 11


def test_zipkin_span_without_timestamp_is_reported(tmp_path: Path) -> None:
    spans = json.loads(ZIPKIN.read_text(encoding="utf-8"))
    del spans[3]["timestamp"]
    result = read(_write_json(tmp_path, "z.json", spans))
    assert result.table.num_rows == 10
    (problem,) = result.diagnostics.problems
    assert (problem.kind, problem.message) == ("missing-time", "span 4: timestamp is missing")


@BOTH
def test_overlapping_downloads_count_each_span_once(tmp_path: Path, path: Path) -> None:
    for name in ("first.json", "second.json"):
        (tmp_path / name).write_bytes(path.read_bytes())
    result = read(tmp_path)
    assert (len(result.files), result.table.num_rows) == (2, 11)
