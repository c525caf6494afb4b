"""``compare``: a change is called faster or slower only when it is both significant and large."""

from __future__ import annotations

import numpy as np
import pytest
from compare_workloads import (
    AUTHOR,
    AUTHOR_LINE,
    AUTHOR_SQL,
    Endpoint,
    add_books_n_plus_one,
    add_books_select_related,
    add_requests,
    latencies,
    measured,
)
from spanbuilder import SpanBuilder
from spanscope.analyzer import n_plus_one
from spanscope.analyzer.analyses.compare import CompareResult, compare, compare_findings, measure
from spanscope.analyzer.analyses.compare_stats import smallest_p_value
from spanscope.analyzer.config import CompareOptions
from spanscope.analyzer.report import NPlusOneFinding

ENDPOINTS = (
    Endpoint("books/", 40),
    Endpoint("authors/", 25, sigma=0.5),
    Endpoint("search/", 120, method="POST", sigma=0.6),
    Endpoint("books/<int:pk>/", 15, sigma=0.25),
)


def key(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.route}"


def draws(seed: int, count: int, slower: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    factor = slower or {}
    return {key(e): latencies(e, count, rng) * factor.get(key(e), 1.0) for e in ENDPOINTS}


def test_same_distribution_different_draws_is_no_significant_change() -> None:
    result = compare(measured(draws(seed=1, count=500)), measured(draws(seed=2, count=500)))
    assert {row.endpoint: row.verdict for row in result.endpoints} == {
        key(e): "no significant change" for e in ENDPOINTS
    }


def test_noise_is_called_a_change_in_at_most_alpha_of_repeated_experiments() -> None:
    # 200 before/after pairs drawn from one distribution: a calibrated test calls at
    # most ~alpha of them a change (the minimum relative change only lowers that).
    endpoint = Endpoint("books/", 40, sigma=0.6)
    called = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        before = {"GET books/": latencies(endpoint, 100, rng)}
        after = {"GET books/": latencies(endpoint, 100, rng)}
        verdict = compare(measured(before), measured(after)).endpoints[0].verdict
        called += verdict != "no significant change"
    assert called / 200 <= 0.06


def test_a_thirty_percent_regression_is_reported_slower() -> None:
    result = compare(
        measured(draws(seed=3, count=400)),
        measured(draws(seed=4, count=400, slower={"GET authors/": 1.3})),
    )
    regression = result.endpoint("GET authors/")
    assert regression.verdict == "slower"
    assert regression.p_value is not None and regression.p_value < 0.05
    assert regression.change is not None and regression.change.p50_pct is not None
    assert 15 < regression.change.p50_pct < 45
    others = {row.verdict for row in result.endpoints if row.endpoint != "GET authors/"}
    assert others == {"no significant change"}


def test_regressions_are_listed_first() -> None:
    result = compare(
        measured(draws(seed=5, count=300)),
        measured(draws(seed=6, count=300, slower={"GET books/<int:pk>/": 1.5})),
    )
    assert result.endpoints[0].endpoint == "GET books/<int:pk>/"


def test_a_significant_change_below_the_minimum_is_not_called_one() -> None:
    # 30 000 requests make a 3 % shift highly significant; it still does not matter.
    rng = np.random.default_rng(7)
    endpoint = Endpoint("books/", 40, sigma=0.3)
    before = {"GET books/": latencies(endpoint, 30_000, rng)}
    after = {"GET books/": latencies(endpoint, 30_000, rng) * 1.03}
    row = compare(measured(before), measured(after)).endpoints[0]
    assert row.p_value is not None and row.p_value < 1e-6
    assert row.verdict == "no significant change"
    strict = CompareOptions(min_change_pct=1.0)
    assert compare(measured(before), measured(after), options=strict).endpoints[0].verdict == (
        "slower"
    )


def test_one_slow_outlier_does_not_make_an_endpoint_slower() -> None:
    rng = np.random.default_rng(8)
    endpoint = Endpoint("books/", 40)
    before = latencies(endpoint, 200, rng)
    after = latencies(endpoint, 200, rng)
    after[0] = 60_000.0  # one request stuck for a minute moves the mean, not the ranks
    row = compare(measured({"GET books/": before}), measured({"GET books/": after})).endpoints[0]
    assert row.change is not None and row.change.mean_pct is not None
    assert row.change.mean_pct > 100
    assert row.verdict == "no significant change"


def test_one_request_per_side_is_too_few_to_call_even_a_huge_change() -> None:
    row = compare(
        measured({"GET books/": np.array([4_000.0])}),
        measured({"GET books/": np.array([60.0])}),
    ).endpoints[0]
    assert row.verdict == "too few requests"
    assert row.p_value is None
    assert row.speedup == pytest.approx(4_000 / 60)


def test_smallest_possible_p_value_decides_when_samples_are_too_small() -> None:
    assert smallest_p_value(3, 3) == pytest.approx(0.1)  # 2 / C(6, 3)
    assert smallest_p_value(4, 4) < 0.05  # 2 / C(8, 4) = 0.029: four a side can be enough


def test_endpoints_on_one_side_only_are_new_or_gone() -> None:
    rng = np.random.default_rng(9)
    old = measured({"GET books/": latencies(ENDPOINTS[0], 50, rng)})
    new = measured({"GET authors/": latencies(ENDPOINTS[1], 50, rng)})
    verdicts = {row.endpoint: row.verdict for row in compare(old, new).endpoints}
    assert verdicts == {"GET books/": "gone", "GET authors/": "new"}


def test_queries_per_request_before_and_after_are_reported() -> None:
    rng = np.random.default_rng(10)
    old = measured({"GET books/": latencies(ENDPOINTS[0], 20, rng)}, queries={"GET books/": 401})
    new = measured({"GET books/": latencies(ENDPOINTS[0], 20, rng)}, queries={"GET books/": 1})
    row = compare(old, new).endpoints[0]
    assert row.before is not None and row.after is not None and row.change is not None
    assert (row.before.queries_per_request, row.after.queries_per_request) == (401, 1)
    assert row.change.queries_per_request == -400


@pytest.fixture(scope="module")
def books_fix() -> CompareResult:
    """The AppSignal books demo fix: 200 books, N+1 on author and publisher, then select_related."""
    rng = np.random.default_rng(11)
    before, after = SpanBuilder(), SpanBuilder()
    add_books_n_plus_one(before, count=8, books=200, query_ms=10, rng=rng)
    add_books_select_related(after, count=8, rng=rng)
    other = Endpoint("authors/", 30)
    add_requests(before, other, count=100, rng=rng, start_ms=1e7)
    add_requests(after, other, count=100, rng=rng, start_ms=1e7)
    return compare(before.table(), after.table())


def test_books_fix_reads_as_fifty_times_faster(books_fix: CompareResult) -> None:
    books = books_fix.endpoint("GET books/")
    assert books.verdict == "faster"
    assert books.before is not None and books.after is not None
    assert 3_000 < books.before.mean_ms < 6_000  # AppSignal's "3-6 seconds"
    assert 40 < books.after.mean_ms < 80  # and "~60 ms"
    assert books.speedup is not None and books.speedup > 50
    assert (books.n_plus_one_before, books.n_plus_one_after) == (2, 0)


def test_books_fix_lists_both_n_plus_one_as_resolved(books_fix: CompareResult) -> None:
    resolved = books_fix.n_plus_one_with("resolved")
    assert {change.finding.relation for change in resolved} == {
        "inventory.Book.author",
        "inventory.Book.publisher",
    }
    assert books_fix.n_plus_one_with("new") == []
    assert books_fix.n_plus_one_with("remaining") == []


def test_books_fix_leaves_the_untouched_endpoint_unchanged(books_fix: CompareResult) -> None:
    assert books_fix.endpoint("GET authors/").verdict == "no significant change"


def test_endpoint_table_converts_to_flat_columns(books_fix: CompareResult) -> None:
    table = books_fix.endpoints_to_arrow()
    assert table.num_rows == 2
    assert {"before_p95_ms", "after_p95_ms", "change_mean_pct", "p_value"} <= set(
        table.column_names
    )


def test_endpoint_table_keeps_its_columns_when_the_first_row_is_new() -> None:
    rng = np.random.default_rng(12)
    result = compare(
        measured({"GET a/": latencies(ENDPOINTS[0], 30, rng)}),
        measured({"GET b/": latencies(ENDPOINTS[0], 30, rng)}),
    )
    table = result.endpoints_to_arrow()
    assert table.column("before_mean_ms").null_count == 1
    assert table.column("after_mean_ms").null_count == 1


def finding(endpoint: str, statement: str, repeats: int = 10) -> NPlusOneFinding:
    return NPlusOneFinding(
        endpoint=endpoint,
        statement=statement,
        parent=None,
        repeats=repeats,
        requests=1,
        wasted_ms=repeats * 1.0,
        example_trace_id="1" * 32,
        code=AUTHOR_LINE,
        relation=AUTHOR.relation,
        relation_kind=AUTHOR.kind,
        lookup=AUTHOR.lookup,
        suggestion='select_related("author")',
    )


def test_findings_match_on_endpoint_and_statement() -> None:
    old = [finding("GET books/", "A"), finding("GET books/", "B"), finding("GET authors/", "A")]
    new = [finding("GET books/", "B", repeats=20), finding("GET shelves/", "A")]
    status = {(c.endpoint, c.statement): c.status for c in compare_findings(old, new)}
    assert status == {
        ("GET books/", "A"): "resolved",
        ("GET books/", "B"): "remaining",
        ("GET authors/", "A"): "resolved",
        ("GET shelves/", "A"): "new",
    }


def test_remaining_finding_keeps_both_sides() -> None:
    (change,) = compare_findings(
        [finding("GET books/", AUTHOR_SQL, 5)], [finding("GET books/", AUTHOR_SQL, 9)]
    )
    assert change.before is not None and change.after is not None
    assert (change.before.repeats, change.after.repeats) == (5, 9)


def test_one_statement_repeated_under_two_parents_counts_as_one_finding() -> None:
    b = SpanBuilder()
    request = b.request(duration_ms=100)
    for index, name in enumerate(("render books", "render shelves")):
        parent = b.span(request, name, start_ms=10 + 40 * index, duration_ms=30)
        b.queries(parent, AUTHOR_SQL, count=5, start_ms=11 + 40 * index, each_ms=1)
    assert len(n_plus_one(b.table())) == 2  # one per parent span
    assert len(measure(b.table()).findings) == 1  # one per (endpoint, statement)
