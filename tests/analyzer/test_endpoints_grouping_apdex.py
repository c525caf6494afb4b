"""Endpoint keys (route, URL path, span name), error rate and Apdex scores."""

from __future__ import annotations

import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer import analyze, endpoints
from spanscope.analyzer.errors import UsageError


def _catch_all_site() -> SpanBuilder:
    """A CMS: one catch-all route serves every page, with its own query count."""
    b = SpanBuilder()
    for i, (path, ms) in enumerate([("/blog/", 30), ("/blog/", 50), ("/about/?ref=x", 10)]):
        page = b.request("GET", "<path:path>", start_ms=i * 1000, duration_ms=ms, target=path)
        b.queries(
            page, "SELECT {i}", count=2 if path == "/blog/" else 1, start_ms=i * 1000 + 1, each_ms=1
        )
    return b


def test_by_default_one_catch_all_route_is_one_endpoint() -> None:
    assert [row.endpoint for row in endpoints(_catch_all_site().table())] == ["GET <path:path>"]


def test_group_by_url_splits_a_catch_all_route_by_path_without_the_query_string() -> None:
    rows = {row.endpoint: row for row in endpoints(_catch_all_site().table(), group_by="url")}
    assert set(rows) == {"GET /blog/", "GET /about/"}
    assert rows["GET /blog/"].requests == 2
    assert rows["GET /blog/"].queries_per_request == pytest.approx(2.0)
    assert rows["GET /about/"].mean_ms == pytest.approx(10.0)


def test_group_by_url_names_requests_that_recorded_no_path() -> None:
    b = SpanBuilder()
    b.request("GET", "books/", target=None)
    assert [row.endpoint for row in endpoints(b.table(), group_by="url")] == ["GET (no url)"]


def test_group_by_name_uses_the_server_span_name() -> None:
    b = SpanBuilder()
    b.request("POST", "api/", name="graphql.query")
    b.request("POST", "api/", name="graphql.mutation", start_ms=500)
    keys = {row.endpoint for row in endpoints(b.table(), group_by="name")}
    assert keys == {"graphql.query", "graphql.mutation"}


def test_findings_and_breakdown_follow_the_grouping() -> None:
    b = SpanBuilder()
    page = b.request("GET", "<path:path>", duration_ms=200, target="/authors/")
    b.queries(page, "SELECT * FROM author WHERE id = {i}", count=6, start_ms=1, each_ms=2)
    report = analyze(b.table(), group_by="url")
    assert [f.endpoint for f in report.n_plus_one] == ["GET /authors/"]
    assert [row.endpoint for row in report.breakdown.endpoints] == ["GET /authors/"]
    assert report.to_dict()["options"]["group_by"] == "url"


def test_an_unknown_grouping_is_a_usage_error_naming_the_choices() -> None:
    with pytest.raises(UsageError, match="route, url, name"):
        endpoints(SpanBuilder().table(), group_by="host")


def test_apdex_counts_satisfied_tolerating_and_frustrated_against_t() -> None:
    b = SpanBuilder()
    # T = 100 ms: <= 100 satisfied, <= 400 tolerating, beyond (or an error) frustrated.
    for i, ms in enumerate([50, 100, 101, 400, 401, 20]):
        b.request(start_ms=i * 1000, duration_ms=ms, status_code=500 if i == 5 else 200)
    (row,) = endpoints(b.table(), apdex_ms=100).rows
    assert (row.satisfied, row.tolerating, row.frustrated) == (2, 2, 2)
    assert row.apdex == pytest.approx((2 + 2 / 2) / 6)
    assert row.error_rate == pytest.approx(1 / 6)


def test_a_fast_failure_is_frustrated_not_satisfied() -> None:
    b = SpanBuilder()
    b.request(duration_ms=1, status_code=503)
    (row,) = endpoints(b.table()).rows
    assert (row.satisfied, row.frustrated, row.apdex) == (0, 1, 0.0)


@pytest.mark.parametrize("target", [0.0, -5.0, float("nan")])
def test_apdex_target_must_be_a_positive_number(target: float) -> None:
    b = SpanBuilder()
    b.request()
    with pytest.raises(UsageError, match="apdex target"):
        endpoints(b.table(), apdex_ms=target)


def test_group_by_url_reads_the_path_of_the_full_url_older_instrumentation_records() -> None:
    b = SpanBuilder()
    b.request("GET", "<path:path>", target=None)
    b.rows[-1]["SpanAttributes"] = [("http.url", "http://shop.local:8000/blog/first/?page=2")]
    assert [row.endpoint for row in endpoints(b.table(), group_by="url")] == ["GET /blog/first/"]
