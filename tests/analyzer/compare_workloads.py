"""Realistic request workloads for the compare and check tests.

Request durations are log-normal (a long right tail, as web latencies have), drawn
from a seeded generator so each test is reproducible while "before" and "after"
still get different draws.  An N+1 request runs one list query and then one
lookup per book under the request span, as Django's lazy ``book.author`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from spanbuilder import EPOCH_NS, Code, Relation, SpanBuilder
from spanscope.analyzer.analyses.compare import Measurement

AUTHOR_SQL = 'SELECT "inventory_author"."id", "inventory_author"."name" FROM "inventory_author" WHERE "inventory_author"."id" = {i} LIMIT 21'
PUBLISHER_SQL = 'SELECT "inventory_publisher"."id", "inventory_publisher"."name" FROM "inventory_publisher" WHERE "inventory_publisher"."id" = {i} LIMIT 21'
BOOKS_SQL = 'SELECT "inventory_book"."id", "inventory_book"."title" FROM "inventory_book"'
JOINED_BOOKS_SQL = (
    'SELECT "inventory_book"."id", "inventory_author"."name" FROM "inventory_book" '
    'INNER JOIN "inventory_author" ON ("inventory_book"."author_id" = "inventory_author"."id")'
)
AUTHOR = Relation("inventory.Book.author", "forward_fk", "author")
PUBLISHER = Relation("inventory.Book.publisher", "forward_fk", "publisher")
VIEWS = "/srv/app/inventory/views.py"
AUTHOR_LINE = Code(VIEWS, 14, "books")
PUBLISHER_LINE = Code(VIEWS, 15, "books")


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's latency distribution: median ms and log-normal sigma."""

    route: str
    median_ms: float
    sigma: float = 0.35
    method: str = "GET"
    queries: int = 1


def add_requests(
    b: SpanBuilder,
    endpoint: Endpoint,
    *,
    count: int,
    rng: np.random.Generator,
    start_ms: float = 0.0,
) -> None:
    """``count`` requests whose durations are drawn from ``endpoint``'s distribution."""
    durations = endpoint.median_ms * rng.lognormal(0.0, endpoint.sigma, size=count)
    for index, duration in enumerate(durations):
        start = start_ms + index * 1_000.0
        request = b.request(endpoint.method, endpoint.route, start_ms=start, duration_ms=duration)
        each = duration / (2 * endpoint.queries + 2)
        b.queries(request, BOOKS_SQL, count=endpoint.queries, start_ms=start + each, each_ms=each)


def add_books_n_plus_one(
    b: SpanBuilder,
    *,
    count: int,
    books: int,
    rng: np.random.Generator,
    query_ms: float = 7.0,
    start_ms: float = 0.0,
) -> None:
    """The AppSignal books demo's slow ``GET books/``: one list query, then two lookups per book."""
    for index in range(count):
        start = start_ms + index * 10_000.0
        each = query_ms * float(rng.lognormal(0.0, 0.1))
        duration = 2 + (2 * books + 1) * (each + 0.1)
        request = b.request("GET", "books/", start_ms=start, duration_ms=duration)
        b.query(request, BOOKS_SQL, start_ms=start + 1, duration_ms=each)
        for book in range(books):
            at = start + 1 + (1 + 2 * book) * (each + 0.1)
            b.query(
                request,
                AUTHOR_SQL.replace("{i}", str(book + 1)),
                start_ms=at,
                duration_ms=each,
                code=AUTHOR_LINE,
                relation=AUTHOR,
            )
            b.query(
                request,
                PUBLISHER_SQL.replace("{i}", str(book + 1)),
                start_ms=at + each + 0.1,
                duration_ms=each,
                code=PUBLISHER_LINE,
                relation=PUBLISHER,
            )


def add_books_select_related(
    b: SpanBuilder, *, count: int, rng: np.random.Generator, start_ms: float = 0.0
) -> None:
    """The fixed ``GET books/``: one joined query, about 60 ms in all."""
    for index in range(count):
        start = start_ms + index * 1_000.0
        duration = 60.0 * float(rng.lognormal(0.0, 0.1))
        request = b.request("GET", "books/", start_ms=start, duration_ms=duration)
        b.query(request, JOINED_BOOKS_SQL, start_ms=start + 2, duration_ms=duration / 3)


def latencies(endpoint: Endpoint, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` request durations (ms) drawn from ``endpoint``'s distribution."""
    return endpoint.median_ms * rng.lognormal(0.0, endpoint.sigma, size=count)


def request_rows(
    draws: dict[str, np.ndarray], *, queries: dict[str, int] | None = None
) -> pa.Table:
    """A request table (the columns of ``request_table``) from durations per endpoint.

    The DB time is a third of each request, as in a typical ORM-bound view.
    """
    endpoints, durations, counts = [], [], []
    for name, values in draws.items():
        endpoints.extend([name] * len(values))
        durations.extend(float(v) for v in values)
        counts.extend([(queries or {}).get(name, 1)] * len(values))
    n = len(durations)
    duration = np.asarray(durations)
    return pa.table(
        {
            "TraceId": [f"{i + 1:032x}" for i in range(n)],
            "SpanId": [f"{i + 1:016x}" for i in range(n)],
            "endpoint": endpoints,
            "start": pa.array(EPOCH_NS + np.arange(n) * 1_000_000_000).cast(
                pa.timestamp("ns", tz="UTC")
            ),
            "duration_ms": duration,
            "http_status_code": pa.array([200] * n, pa.int32()),
            "error": [False] * n,
            "db_ms": duration / 3,
            "app_ms": duration * 2 / 3,
            "queries": pa.array(counts, pa.int64()),
        }
    )


def measured(draws: dict[str, np.ndarray], **kwargs: dict[str, int]) -> Measurement:
    """A :class:`Measurement` without N+1 findings from durations per endpoint."""
    return Measurement(request_rows(draws, **kwargs))
