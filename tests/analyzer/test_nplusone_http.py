"""N+1 backend calls: the same method and parameterized URL under one parent."""

from __future__ import annotations

import pyarrow as pa
import pytest
from spanbuilder import SpanBuilder, SpanRef
from spanscope.analyzer.analyses.nplusone_http import n_plus_one_http, parameterize_urls


def call(
    b: SpanBuilder, parent: SpanRef, target: str, *, start_ms: float, method: str = "GET"
) -> None:
    b.span(
        parent,
        method,
        kind="Client",
        layer="http",
        start_ms=start_ms,
        duration_ms=5,
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


def test_calls_under_different_parents_are_not_grouped() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    for i in range(5):
        task = b.span(req, f"task {i}", start_ms=i * 20, duration_ms=15)
        call(b, task, f"/users/{i}", start_ms=i * 20 + 1)
    assert n_plus_one_http(b.table()) == []
