"""Slow statements: count, total, mean, p95 and max per normalized statement."""

from __future__ import annotations

import numpy as np
import pytest
from spanbuilder import SpanBuilder
from spanscope.analyzer.analyses.slow_queries import TOP_STATEMENTS, slow_queries, statement_times


def test_statistics_are_per_template_and_exact() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    durations = [1.0, 2.0, 3.0, 4.0, 50.0]
    for i, ms in enumerate(durations):
        b.query(req, f"SELECT * FROM t WHERE id = {i}", start_ms=i * 60, duration_ms=ms)
    (slow,) = slow_queries(b.table())
    assert slow.statement == "SELECT * FROM t WHERE id = ?"
    assert (slow.count, slow.total_ms, slow.max_ms) == (5, pytest.approx(60.0), 50.0)
    assert slow.mean_ms == pytest.approx(12.0)
    assert slow.p95_ms == pytest.approx(float(np.percentile(durations, 95)))


def test_sorted_by_total_time_with_the_endpoints_that_spent_most_first() -> None:
    b = SpanBuilder()
    books = b.request("GET", "books/", duration_ms=500)
    authors = b.request("GET", "authors/", start_ms=1000, duration_ms=500)
    b.queries(books, "SELECT * FROM big", count=2, start_ms=0, each_ms=100)
    b.queries(authors, "SELECT * FROM big", count=1, start_ms=1000, each_ms=300)
    b.queries(books, "SELECT * FROM small", count=3, start_ms=300, each_ms=1)
    found = slow_queries(b.table())
    assert [s.statement for s in found] == ["SELECT * FROM big", "SELECT * FROM small"]
    assert found[0].endpoints == ("GET authors/", "GET books/")


def test_only_the_top_statements_are_listed() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=10_000)
    for i in range(TOP_STATEMENTS + 5):
        b.query(req, f"SELECT * FROM table_{i}", start_ms=i * 10, duration_ms=i + 1)
    found = slow_queries(b.table())
    assert len(found) == TOP_STATEMENTS
    assert found[0].statement == f"SELECT * FROM table_{TOP_STATEMENTS + 4}"


def test_no_queries_no_rows() -> None:
    b = SpanBuilder()
    b.request()
    assert slow_queries(b.table()) == []


@pytest.mark.parametrize("longest_ns", [50_000_000, 2**61], ids=["ordinary", "absurd"])
def test_statement_times_are_exact_integer_totals_and_linear_p95(longest_ns: int) -> None:
    template = np.array([1, 0, 1, 1, 0, 1], dtype=np.int64)
    request = np.array([0, 0, 1, 1, 1, 0], dtype=np.int64)
    duration = np.array([3, 7, longest_ns, 5, 2, 11], dtype=np.int64)
    stats = statement_times(template, request, duration).stats.to_pylist()
    ones = duration[template == 1]
    assert [row["total_ns"] for row in stats] == [9, int(ones.sum())]
    assert [row["max_ns"] for row in stats] == [7, longest_ns]
    assert stats[1]["p95_ns"] == pytest.approx(float(np.percentile(ones, 95)))


def test_statement_times_sum_the_time_of_each_template_in_each_request() -> None:
    template = np.array([0, 0, 1, 0], dtype=np.int64)
    request = np.array([0, 1, 0, 0], dtype=np.int64)
    duration = np.array([1, 2, 4, 8], dtype=np.int64)
    spent = statement_times(template, request, duration).spent.to_pylist()
    assert sorted((r["template_id"], r["request_id"], r["spent_ns"]) for r in spent) == [
        (0, 0, 9),
        (0, 1, 2),
        (1, 0, 4),
    ]
