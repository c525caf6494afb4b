"""Breakdown: mean self time and calls per request by layer, per endpoint and overall."""

from __future__ import annotations

import io

import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.analyses.breakdown import breakdown
from spanscope.analyzer.render import get_renderer
from spanscope.analyzer.report import ALL_ENDPOINTS


def two_endpoints() -> SpanBuilder:
    b = SpanBuilder()
    for start in (0, 1000):  # two "GET books/" requests: 60 ms DB + 20 ms template each
        req = b.request("GET", "books/", start_ms=start, duration_ms=100)
        render = b.span(req, "render", layer="template", start_ms=start + 50, duration_ms=40)
        b.queries(render, "SELECT {i}", count=2, start_ms=start + 60, each_ms=10)
        b.queries(req, "SELECT {i}", count=4, start_ms=start + 1, each_ms=10)
    api = b.request("GET", "api/", start_ms=5000, duration_ms=50)
    b.span(api, "GET upstream", kind="Client", layer="http", start_ms=5010, duration_ms=30)
    return b


def test_per_endpoint_rows_are_means_per_request() -> None:
    result = breakdown(two_endpoints().table())
    books = next(row for row in result.endpoints if row.endpoint == "GET books/")
    assert books.requests == 2
    assert (books.db_ms, books.template_ms, books.app_ms) == pytest.approx((60, 20, 20))
    assert (books.db_calls, books.template_calls, books.http_calls) == (6, 1, 0)


def test_layers_add_up_to_the_mean_duration() -> None:
    for row in breakdown(two_endpoints().table()).endpoints:
        layers = (
            row.app_ms + row.db_ms + row.cache_ms + row.template_ms + row.http_ms + row.other_ms
        )
        assert layers == pytest.approx(row.duration_ms)


def test_overall_row_averages_over_every_request() -> None:
    overall = breakdown(two_endpoints().table()).overall
    assert overall is not None
    assert overall.endpoint == ALL_ENDPOINTS
    assert overall.requests == 3
    assert overall.http_ms == pytest.approx(30 / 3)
    assert overall.db_calls == pytest.approx(12 / 3)


def test_endpoints_are_sorted_by_total_time() -> None:
    result = breakdown(two_endpoints().table())
    assert [row.endpoint for row in result.endpoints] == ["GET books/", "GET api/"]


def test_concurrent_calls_are_not_subtracted_twice_from_app_time() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.span(req, "GET a", kind="Client", layer="http", start_ms=0, duration_ms=60)
    b.span(req, "GET b", kind="Client", layer="http", start_ms=10, duration_ms=60)
    (row,) = breakdown(b.table()).endpoints
    assert row.app_ms == pytest.approx(30.0)


def test_no_requests_gives_no_rows() -> None:
    result = breakdown(SpanBuilder().table())
    assert (result.overall, result.endpoints) == (None, ())


def test_converts_to_arrow_with_the_overall_row_first() -> None:
    table = breakdown(two_endpoints().table()).to_arrow()
    assert table.column("endpoint").to_pylist() == [ALL_ENDPOINTS, "GET books/", "GET api/"]
    assert table.schema.field("db_ms").type == "double"


def test_analyze_reports_the_breakdown_in_its_json_data() -> None:
    data = analyze(two_endpoints().table()).to_dict()
    assert data["breakdown"]["overall"]["requests"] == 3
    assert [row["endpoint"] for row in data["breakdown"]["endpoints"]] == [
        "GET books/",
        "GET api/",
    ]
    assert {"n_plus_one_http", "duplicates", "slow_queries"} <= set(data)


def test_terminal_report_shows_the_breakdown_table_within_100_columns() -> None:
    out = io.StringIO()
    get_renderer("terminal").render(analyze(two_endpoints().table()), out, color=False)
    text = out.getvalue()
    assert "Time by layer" in text
    table = text[text.index("Time by layer") :]
    assert table.index("(all)") < table.index("GET books/") < table.index("GET api/")
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
