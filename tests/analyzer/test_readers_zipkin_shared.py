"""Zipkin shared spans: a client span and the server span that joined it under the same
id are two spans, the server half a request under the client half."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from spanscope.analyzer import analyze
from spanscope.analyzer.load import load, read
from spanscope.analyzer.requests import prepare

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "formats" / "zipkin_v2_shared_spans.json"
BOOKS_REQUEST = "e457b5a2e4d86bd1"
FIRST_CALL = "c9a1f3007d5e40b0"  # books-demo's client span and authors-api's server half
FIRST_AUTHOR_QUERY = "a7d2e9000f3b6c10"
TRACE = "7180c278b62e8f6a216a2aea45d08fc9"


def _rows(path: Path) -> list[dict[str, Any]]:
    return load(path).select(["SpanId", "ParentSpanId", "SpanKind", "ServiceName"]).to_pylist()


def _write(tmp_path: Path, spans: list[dict[str, Any]]) -> Path:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(spans), encoding="utf-8")
    return path


def _span(span_id: str, service: str, **fields: Any) -> dict[str, Any]:
    return {
        "traceId": TRACE,
        "id": span_id,
        "name": "get",
        "timestamp": 1_763_780_000_000_000,
        "duration": 1_000,
        "localEndpoint": {"serviceName": service},
        **fields,
    }


def _zipkin_test_trace() -> list[dict[str, Any]]:
    """The shape of Zipkin's own reference trace (``zipkin2.TestObjects.TRACE``): the
    backend's server half shares id 2 with the frontend's client span and copies its
    parent; the backend's database call is a child of id 2."""
    return [
        _span("1", "frontend", kind="SERVER"),
        _span("2", "frontend", kind="CLIENT", parentId="1"),
        _span("2", "backend", kind="SERVER", parentId="1", shared=True),
        _span("3", "backend", kind="CLIENT", parentId="2", name="query"),
    ]


def _by_service_and_kind(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {(row["ServiceName"], row["SpanKind"]): row for row in _rows(path)}


def test_both_halves_of_every_shared_span_are_kept_with_distinct_ids() -> None:
    result = read(SAMPLE)
    assert result.diagnostics.problems == []
    assert result.table.num_rows == 17  # every span of the file
    ids = result.table.column("SpanId").to_pylist()
    assert len(set(ids)) == len(ids)


def test_client_half_keeps_the_id_and_the_server_half_is_its_child() -> None:
    rows = [row for row in _rows(SAMPLE) if FIRST_CALL in (row["SpanId"], row["ParentSpanId"])]
    client = next(row for row in rows if row["SpanId"] == FIRST_CALL)
    server = next(row for row in rows if row["SpanKind"] == "Server")
    assert (client["SpanKind"], client["ServiceName"], client["ParentSpanId"]) == (
        "Client",
        "books-demo",
        BOOKS_REQUEST,
    )
    assert (server["ServiceName"], server["ParentSpanId"]) == ("authors-api", FIRST_CALL)


def test_the_servers_own_spans_hang_under_the_server_half() -> None:
    rows = {row["SpanId"]: row for row in _rows(SAMPLE)}
    query = rows[FIRST_AUTHOR_QUERY]
    parent = rows[query["ParentSpanId"]]
    assert (parent["SpanKind"], parent["ServiceName"]) == ("Server", "authors-api")


def test_every_span_reaches_its_request_without_a_cycle() -> None:
    tree = prepare(load(SAMPLE)).tree
    assert (tree.request >= 0).all()
    # each authors-api request owns itself and its query; books-demo's owns the rest
    assert sorted(np.bincount(tree.request).tolist()) == [2, 2, 2, 2, 2, 7]


def test_each_server_half_is_a_request_of_its_endpoint_with_its_own_queries() -> None:
    report = analyze(SAMPLE)
    stats = {row.endpoint: (row.requests, row.queries_per_request) for row in report.endpoints}
    assert stats == {"GET books/": (1, 1.0), "GET authors/<int:pk>/": (5, 1.0)}


def test_the_calls_to_the_other_service_are_an_http_n_plus_one() -> None:
    (finding,) = analyze(SAMPLE).n_plus_one_http
    assert (finding.endpoint, finding.method, finding.url, finding.repeats) == (
        "GET books/",
        "GET",
        "http://authors-api:8001/authors/{id}/",
        5,
    )


def test_the_same_file_read_twice_counts_each_half_once(tmp_path: Path) -> None:
    for name in ("first.json", "second.json"):
        (tmp_path / name).write_bytes(SAMPLE.read_bytes())
    assert read(tmp_path).table.num_rows == 17


def test_zipkin_reference_trace_server_half_is_under_the_client(tmp_path: Path) -> None:
    spans = _by_service_and_kind(_write(tmp_path, _zipkin_test_trace()))
    client = spans[("frontend", "Client")]
    server = spans[("backend", "Server")]
    query = spans[("backend", "Client")]
    assert client["SpanId"] == "0000000000000002"
    assert client["ParentSpanId"] == "0000000000000001"
    assert server["SpanId"] not in ("0000000000000001", "0000000000000002", "0000000000000003")
    assert server["ParentSpanId"] == "0000000000000002"
    assert query["ParentSpanId"] == server["SpanId"]


def test_a_child_of_the_shared_id_from_the_clients_service_stays_under_the_client(
    tmp_path: Path,
) -> None:
    spans = [
        *_zipkin_test_trace(),
        _span("4", "frontend", parentId="2", name="encode request"),
    ]
    rows = {row["SpanId"]: row for row in _rows(_write(tmp_path, spans))}
    assert rows["0000000000000004"]["ParentSpanId"] == "0000000000000002"


def test_a_child_without_a_service_goes_under_the_server_half(tmp_path: Path) -> None:
    anonymous = _span("4", "", parentId="2", name="late data")
    del anonymous["localEndpoint"]
    rows = {
        row["SpanId"]: row for row in _rows(_write(tmp_path, [*_zipkin_test_trace(), anonymous]))
    }
    server = next(
        row
        for row in rows.values()
        if row["ServiceName"] == "backend" and row["SpanKind"] == "Server"
    )
    assert rows["0000000000000004"]["ParentSpanId"] == server["SpanId"]


def test_a_server_span_reusing_a_client_id_without_the_flag_is_shared_too(tmp_path: Path) -> None:
    spans = _zipkin_test_trace()
    del spans[2]["shared"]  # older tracers do not set it
    server = _by_service_and_kind(_write(tmp_path, spans))[("backend", "Server")]
    assert server["ParentSpanId"] == "0000000000000002"
    assert server["SpanId"] != "0000000000000002"


def test_a_shared_server_half_whose_client_is_missing_still_points_to_its_caller(
    tmp_path: Path,
) -> None:
    spans = [span for span in _zipkin_test_trace() if span.get("kind") != "CLIENT"]
    server = _by_service_and_kind(_write(tmp_path, spans))[("backend", "Server")]
    assert server["ParentSpanId"] == "0000000000000002"
    assert server["SpanId"] != "0000000000000002"


def test_two_servers_answering_one_shared_id_are_two_requests_with_their_own_children(
    tmp_path: Path,
) -> None:
    spans = [
        *_zipkin_test_trace(),
        _span("2", "backend-replica", kind="SERVER", parentId="1", shared=True),
        _span("5", "backend-replica", kind="CLIENT", parentId="2", name="query"),
    ]
    rows = _rows(_write(tmp_path, spans))
    servers = {row["ServiceName"]: row["SpanId"] for row in rows if row["SpanKind"] == "Server"}
    queries = {
        row["ServiceName"]: row["ParentSpanId"] for row in rows if row["SpanKind"] == "Client"
    }
    assert len(set(servers.values())) == 3
    assert queries["backend"] == servers["backend"]
    assert queries["backend-replica"] == servers["backend-replica"]


def test_a_server_half_reported_twice_in_one_file_is_one_span(tmp_path: Path) -> None:
    spans = _zipkin_test_trace()
    rows = _rows(_write(tmp_path, [*spans, spans[2]]))
    assert sum(row["SpanKind"] == "Server" and row["ServiceName"] == "backend" for row in rows) == 1
