"""Endpoints ranked by total time, with exact percentiles and the DB/app split."""

from __future__ import annotations

import numpy as np
import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer import endpoints


def test_percentiles_are_exact_and_match_numpy() -> None:
    durations = [3.0, 7.5, 1.0, 12.0, 40.0, 5.5, 9.0, 100.0, 2.25, 8.0, 6.0]
    b = SpanBuilder()
    for i, duration in enumerate(durations):
        b.request(start_ms=i * 1000, duration_ms=duration)
    (row,) = endpoints(b.table()).rows
    for name, q in (("p50_ms", 50), ("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99)):
        assert getattr(row, name) == pytest.approx(float(np.percentile(durations, q)))
    assert row.mean_ms == pytest.approx(float(np.mean(durations)))
    assert row.max_ms == max(durations)
    assert row.total_ms == pytest.approx(sum(durations))
    assert row.requests == len(durations)


def test_sorted_by_total_time_not_by_mean() -> None:
    b = SpanBuilder()
    b.request("GET", "slow/", duration_ms=500)  # one slow request: 500 ms in total
    for i in range(10):  # ten quick ones: 600 ms in total
        b.request("GET", "busy/", start_ms=1000 + i * 100, duration_ms=60)
    assert [row.endpoint for row in endpoints(b.table())] == ["GET busy/", "GET slow/"]


def test_errors_are_counted_per_endpoint() -> None:
    b = SpanBuilder()
    b.request(status_code=500)
    b.request(status_code=200, start_ms=200)
    b.request(status_code=200, status="Error", start_ms=400)
    (row,) = endpoints(b.table()).rows
    assert (row.requests, row.errors) == (3, 2)


def test_db_app_and_queries_are_means_per_request() -> None:
    b = SpanBuilder()
    first = b.request(duration_ms=100)
    b.queries(first, "SELECT {i}", count=4, start_ms=10, each_ms=5)  # 20 ms DB
    b.request(start_ms=1000, duration_ms=50)  # no queries
    (row,) = endpoints(b.table()).rows
    assert row.db_ms == pytest.approx(10.0)
    assert row.app_ms == pytest.approx(((100 - 20) + 50) / 2)
    assert row.queries_per_request == pytest.approx(2.0)


def test_result_converts_to_arrow_and_pandas() -> None:
    b = SpanBuilder()
    b.request("GET", "a/", duration_ms=10)
    b.request("GET", "b/", duration_ms=20, start_ms=100)
    result = endpoints(b.table())
    table = result.to_arrow()
    assert table.column("endpoint").to_pylist() == ["GET b/", "GET a/"]
    frame = result.to_pandas()
    assert list(frame["total_ms"]) == [20.0, 10.0]
    assert list(frame.columns) == table.column_names


def test_no_server_spans_gives_no_endpoints() -> None:
    b = SpanBuilder()
    b.span(None, "startup check", start_ms=0, duration_ms=1, layer="db", db_statement="SELECT 1")
    assert len(endpoints(b.table())) == 0
