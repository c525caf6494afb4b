"""Exact duplicate queries: same statement and same parameters within one request."""

from __future__ import annotations

import pytest
from spanbuilder import SpanBuilder, SpanRef
from spanscope.analyzer.analyses.duplicates import duplicates
from spanscope.analyzer.analyses.nplusone import n_plus_one

USER_SQL = 'SELECT * FROM "user" WHERE "id" = %s'


def hashed_query(b: SpanBuilder, parent: SpanRef, params: str, *, start_ms: float) -> None:
    b.span(
        parent,
        "SELECT",
        kind="Client",
        layer="db",
        start_ms=start_ms,
        duration_ms=2,
        db_system="postgresql",
        db_statement=USER_SQL,
        db_params_hash=params,
    )


def test_same_statement_and_same_parameter_hash_is_a_duplicate() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(3):
        hashed_query(b, req, "h-42", start_ms=i * 10)
    (finding,) = duplicates(b.table())
    assert (finding.statement, finding.copies, finding.requests) == (
        'SELECT * FROM "user" WHERE "id" = ?',
        3,
        1,
    )
    assert finding.wasted_ms == pytest.approx(6 - 2)


def test_same_statement_with_different_parameters_is_not_a_duplicate() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(6):
        hashed_query(b, req, f"h-{i}", start_ms=i * 10)
    assert duplicates(b.table()) == []
    assert len(n_plus_one(b.table())) == 1  # it is an N+1 instead


def test_parameterized_statements_without_a_hash_are_never_duplicates() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.queries(req, USER_SQL, count=3, start_ms=0, each_ms=1)
    assert duplicates(b.table()) == []


def test_identical_statements_with_inline_values_are_duplicates() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    b.queries(req, 'SELECT * FROM "user" WHERE "id" = 42', count=2, start_ms=0, each_ms=1)
    b.query(req, 'SELECT * FROM "user" WHERE "id" = 43', start_ms=10, duration_ms=1)
    (finding,) = duplicates(b.table())
    assert finding.copies == 2


def test_the_same_query_in_two_requests_is_not_a_duplicate() -> None:
    b = SpanBuilder()
    for start in (0, 500):
        req = b.request(start_ms=start, duration_ms=100)
        hashed_query(b, req, "h-42", start_ms=start + 1)
    assert duplicates(b.table()) == []


def test_duplicates_under_different_parents_of_one_request_are_found() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    header = b.span(req, "render header.html", layer="template", start_ms=0, duration_ms=10)
    footer = b.span(req, "render footer.html", layer="template", start_ms=50, duration_ms=10)
    hashed_query(b, header, "h-me", start_ms=1)
    hashed_query(b, footer, "h-me", start_ms=51)
    (finding,) = duplicates(b.table())
    assert finding.copies == 2
