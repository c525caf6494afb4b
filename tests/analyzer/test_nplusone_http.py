"""N+1 backend calls: the same method and parameterized URL repeated in one request,
under one parent span or spread over several."""

from __future__ import annotations

import pyarrow as pa
import pytest
from spanbuilder import SpanBuilder, SpanRef
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http, parameterize_urls


def call(
    b: SpanBuilder,
    parent: SpanRef,
    target: str,
    *,
    start_ms: float,
    method: str = "GET",
    duration_ms: float = 5,
) -> SpanRef:
    return b.span(
        parent,
        method,
        kind="Client",
        layer="http",
        start_ms=start_ms,
        duration_ms=duration_ms,
        http_method=method,
        http_target=target,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/users/42", "/users/{id}"),
        ("/users/42/orders/7/", "/users/{id}/orders/{id}/"),
        ("http://api/v2/items/0f8fab62-1e8f-4a4a-9a9a-1234567890ab", "http://api/v2/items/{id}"),
        ("/blobs/deadbeefcafe1234?x=1", "/blobs/{id}?x={id}"),
        ("/search?q=books&page=3&id=9", "/search?q=books&page={id}&id={id}"),
        ("/users/me", "/users/me"),
    ],
)
def test_urls_are_parameterized(url: str, expected: str) -> None:
    assert parameterize_urls(pa.array([url])).to_pylist() == [expected]


def test_repeated_calls_to_one_parameterized_url_are_an_n_plus_one() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(6):
        call(b, req, f"/users/{i}", start_ms=i * 10)
        b.query(req, "SELECT 1", start_ms=i * 10 + 6, duration_ms=1)  # interleaved
    (finding,) = n_plus_one_http(b.table())
    assert (finding.method, finding.url, finding.repeats) == ("GET", "/users/{id}", 6)
    assert finding.wasted_ms == pytest.approx(6 * 5 - 5)


def test_overlapping_calls_waste_only_their_union() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(5):
        call(b, req, f"/users/{i}", start_ms=10 + i)  # 10..19, 5 ms each: union 9 ms
    (finding,) = n_plus_one_http(b.table())
    assert finding.wasted_ms == pytest.approx(9 - 5)


def test_different_methods_or_paths_are_not_grouped() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(3):
        call(b, req, f"/users/{i}", start_ms=i * 10)
        call(b, req, f"/users/{i}", start_ms=i * 10 + 5, method="DELETE")
        call(b, req, f"/orders/{i}", start_ms=i * 10 + 7)
    assert n_plus_one_http(b.table()) == []


def test_calls_under_one_parent_are_a_parent_level_finding_naming_that_parent() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    render = b.span(req, "render users.html", layer="template", start_ms=1, duration_ms=150)
    for i in range(5):
        call(b, render, f"/users/{i}", start_ms=2 + i * 10)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("parent", "render users.html", 5)


def test_calls_each_under_its_own_intermediate_span_are_a_request_level_finding() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(5):  # one task span per row, each making the row's call
        task = b.span(req, "enrich row", start_ms=i * 20, duration_ms=15)
        call(b, task, f"/users/{i}", start_ms=i * 20 + 1)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("request", "enrich row", 5)
    assert (finding.method, finding.url) == ("GET", "/users/{id}")
    assert finding.wasted_ms == pytest.approx(5 * 5 - 5)


def test_request_level_finding_names_the_most_common_parent() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=300)
    names = ["render row.html"] * 4 + ["render footer.html"] * 2
    for i, name in enumerate(names):
        render = b.span(req, name, layer="template", start_ms=i * 20, duration_ms=15)
        call(b, render, f"/users/{i}", start_ms=i * 20 + 1)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("request", "render row.html", 6)


def test_too_few_calls_spread_over_sibling_spans_are_not_an_n_plus_one() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(4):
        task = b.span(req, "enrich row", start_ms=i * 20, duration_ms=15)
        call(b, task, f"/users/{i}", start_ms=i * 20 + 1)
    assert n_plus_one_http(b.table()) == []


def test_one_call_in_each_of_many_requests_is_not_an_n_plus_one() -> None:
    b = SpanBuilder()
    for i in range(6):
        req = b.request(start_ms=i * 100, duration_ms=50)
        call(b, req, f"/users/{i}", start_ms=i * 100 + 1)
    assert n_plus_one_http(b.table()) == []


def test_spread_calls_interleaved_with_other_work_and_overlapping_still_group() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(5):  # async workers started 1 ms apart, each with a query between
        worker = b.span(req, "worker", start_ms=10 + i, duration_ms=30)
        b.query(worker, "SELECT 1", start_ms=10 + i, duration_ms=1)
        call(b, worker, f"/users/{i}", start_ms=12 + i, duration_ms=10)
        call(b, worker, "/audit", start_ms=25 + i, method="POST", duration_ms=1)
    found = {(f.method, f.url, f.level, f.repeats) for f in n_plus_one_http(b.table())}
    assert found == {
        ("GET", "/users/{id}", "request", 5),
        ("POST", "/audit", "request", 5),
    }
    users = next(f for f in n_plus_one_http(b.table()) if f.url == "/users/{id}")
    assert users.wasted_ms == pytest.approx((16 + 10 - 12) - 10)  # union 12..26 minus one call


def test_calls_of_a_parent_level_group_are_not_reported_again_at_request_level() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=300)
    render = b.span(req, "render list.html", layer="template", start_ms=0, duration_ms=100)
    for i in range(6):
        call(b, render, f"/users/{i}", start_ms=1 + i * 10)
    for i in range(3):  # 9 calls in the request, 6 of them already a parent-level group
        task = b.span(req, "enrich row", start_ms=120 + i * 20, duration_ms=15)
        call(b, task, f"/users/{i}", start_ms=121 + i * 20)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("parent", "render list.html", 6)


def test_nested_n_plus_one_calls_are_reported_at_each_level() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    for author in range(5):  # outer loop: one author call per row ...
        start = author * 100
        call(b, req, f"/authors/{author}", start_ms=start)
        row = b.span(
            req, "render author.html", layer="template", start_ms=start + 6, duration_ms=90
        )
        for book in range(7):  # ... and inside each row's render, one call per book
            call(b, row, f"/books/{author}{book}", start_ms=start + 7 + book * 6)
    found = {(f.url, f.level, f.parent, f.repeats) for f in n_plus_one_http(b.table())}
    assert found == {
        ("/authors/{id}", "parent", "GET books/", 5),
        ("/books/{id}", "parent", "render author.html", 7),
    }


def test_inner_loop_below_threshold_per_render_is_found_at_request_level() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    for row in range(3):  # two calls per {% include %} render, three renders
        render = b.span(req, "render row.html", layer="template", start_ms=row * 50, duration_ms=40)
        call(b, render, f"/books/{row}1", start_ms=row * 50 + 1)
        call(b, render, f"/books/{row}2", start_ms=row * 50 + 10)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("request", "render row.html", 6)


def test_a_call_wrapped_by_a_lower_client_library_counts_once() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(5):  # ``requests`` span, with the ``urllib3`` span of the same call inside
        outer = call(b, req, f"/users/{i}", start_ms=i * 20, duration_ms=10)
        call(b, outer, f"/users/{i}", start_ms=i * 20 + 1, duration_ms=8)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.level, finding.parent, finding.repeats) == ("parent", "GET books/", 5)


def test_findings_aggregate_requests_and_report_the_worst_one() -> None:
    b = SpanBuilder()
    requests = []
    for r, calls in enumerate((5, 8, 6, 3)):  # the last request is below the threshold
        req = b.request(start_ms=r * 1000, duration_ms=500)
        requests.append(req)
        for i in range(calls):
            task = b.span(req, "enrich row", start_ms=r * 1000 + i * 20, duration_ms=15)
            call(b, task, f"/users/{i}", start_ms=r * 1000 + i * 20 + 1)
    (finding,) = n_plus_one_http(b.table())
    assert (finding.repeats, finding.requests) == (8, 3)
    assert finding.example_trace_id == requests[1].trace_id
    assert finding.wasted_ms == pytest.approx(((5 - 1) + (8 - 1) + (6 - 1)) * 5)


def test_calls_outside_any_request_are_ignored() -> None:
    b = SpanBuilder()
    job = b.span(None, "nightly sync", start_ms=0, duration_ms=200)
    for i in range(6):
        task = b.span(job, "sync user", start_ms=i * 20, duration_ms=15)
        call(b, task, f"/users/{i}", start_ms=i * 20 + 1)
    assert n_plus_one_http(b.table()) == []
