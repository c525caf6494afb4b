"""N+1 detection: the same statement template repeated under one parent span."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from spanbuilder import Code, Relation, SpanBuilder, SpanRef
from spanscope.analyzer import n_plus_one
from spanscope.analyzer.analyses.nplusone import suggestion
from spanscope.analyzer.errors import UsageError

AUTHOR_SQL = (
    'SELECT "author"."id", "author"."name" FROM "author" WHERE "author"."id" = {i} LIMIT 21'
)
AUTHOR_TEMPLATE = (
    'SELECT "author"."id", "author"."name" FROM "author" WHERE "author"."id" = ? LIMIT ?'
)
AUTHOR = Relation("inventory.Book.author", "forward_fk", "author")
LOOP = Code("/srv/app/inventory/views.py", 14, "book_list")
BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)


def books_request(b: SpanBuilder, *, books: int, start_ms: float = 0, **kwargs: object) -> SpanRef:
    req = b.request("GET", "books/", start_ms=start_ms, duration_ms=books * 2 + 10)
    b.query(req, 'SELECT * FROM "book"', start_ms=start_ms + 1, duration_ms=1)
    b.queries(req, AUTHOR_SQL, count=books, start_ms=start_ms + 3, each_ms=1, gap_ms=1, **kwargs)
    return req


def test_five_repeats_under_one_parent_are_an_n_plus_one_however_fast() -> None:
    b = SpanBuilder()
    req = b.request()
    b.queries(req, AUTHOR_SQL, count=5, start_ms=1, each_ms=0.01)
    (finding,) = n_plus_one(b.table())
    assert (finding.endpoint, finding.statement, finding.repeats) == (
        "GET books/",
        AUTHOR_TEMPLATE,
        5,
    )


def test_four_repeats_are_not() -> None:
    b = SpanBuilder()
    books_request(b, books=4)
    assert n_plus_one(b.table()) == []


def test_threshold_is_configurable() -> None:
    b = SpanBuilder()
    books_request(b, books=4)
    assert [f.repeats for f in n_plus_one(b.table(), min_repeats=3)] == [4]


def test_a_threshold_below_two_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="hint:"):
        n_plus_one(SpanBuilder().table(), min_repeats=1)


def test_interleaved_spans_do_not_break_the_pattern() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(6):
        b.query(req, AUTHOR_SQL.replace("{i}", str(i)), start_ms=1 + i * 10, duration_ms=2)
        b.span(req, "cache get", layer="cache", start_ms=4 + i * 10, duration_ms=2)
        b.query(req, "SELECT 1 FROM other", start_ms=7 + i * 10, duration_ms=1)
    findings = n_plus_one(b.table())
    assert {f.statement: f.repeats for f in findings} == {
        AUTHOR_TEMPLATE: 6,
        "SELECT ? FROM other": 6,
    }


def test_repeats_spread_over_sibling_spans_are_one_request_level_finding() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(3):  # one {% include %} render per row, each running the query
        render = b.span(req, "render row.html", layer="template", start_ms=i * 30, duration_ms=25)
        b.queries(render, AUTHOR_SQL, count=2, start_ms=i * 30 + 1, each_ms=1)
    (finding,) = n_plus_one(b.table())
    assert (finding.level, finding.repeats, finding.parent) == ("request", 6, "render row.html")


def test_too_few_repeats_spread_over_siblings_are_not_an_n_plus_one() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(2):
        render = b.span(req, "render row.html", layer="template", start_ms=i * 30, duration_ms=25)
        b.queries(render, AUTHOR_SQL, count=2, start_ms=i * 30 + 1, each_ms=1)
    assert n_plus_one(b.table()) == []


def test_spans_of_a_parent_level_group_are_not_reported_again_at_request_level() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=200)
    loop = b.span(req, "render list.html", layer="template", start_ms=0, duration_ms=100)
    b.queries(loop, AUTHOR_SQL, count=6, start_ms=1, each_ms=1)
    b.queries(req, AUTHOR_SQL, count=3, start_ms=120, each_ms=1)  # 9 in the request
    (finding,) = n_plus_one(b.table())
    assert (finding.level, finding.repeats, finding.parent) == ("parent", 6, "render list.html")


def test_overlapping_async_repeats_are_found_and_waste_only_their_union() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(6):  # six 10 ms queries started 1 ms apart: covering 15 ms together
        b.query(req, AUTHOR_SQL, start_ms=10 + i, duration_ms=10)
    (finding,) = n_plus_one(b.table())
    assert finding.repeats == 6
    assert finding.wasted_ms == pytest.approx(15 - 10)


def test_nested_n_plus_one_is_reported_at_each_level() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    for author in range(5):  # outer loop: one books query per author ...
        start = author * 100
        b.query(
            req,
            'SELECT * FROM "book" WHERE author_id = {i}'.replace("{i}", str(author)),
            start_ms=start,
            duration_ms=1,
        )
        row = b.span(
            req, "render author.html", layer="template", start_ms=start + 2, duration_ms=90
        )
        # ... and inside each author's render, one publisher query per book
        b.queries(
            row, 'SELECT * FROM "publisher" WHERE id = {i}', count=7, start_ms=start + 3, each_ms=1
        )
    found = {(f.statement, f.level, f.parent, f.repeats) for f in n_plus_one(b.table())}
    assert found == {
        ('SELECT * FROM "book" WHERE author_id = ?', "parent", "GET books/", 5),
        ('SELECT * FROM "publisher" WHERE id = ?', "parent", "render author.html", 7),
    }


def test_different_statements_under_one_parent_are_not_an_n_plus_one() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    for i in range(8):
        b.query(req, f'SELECT * FROM "table_{i}" WHERE id = 1', start_ms=i * 2, duration_ms=1)
    assert n_plus_one(b.table()) == []


def test_repeats_under_an_intermediate_span_name_that_span_as_parent() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    render = b.span(req, "render books.html", layer="template", start_ms=1, duration_ms=90)
    b.queries(render, AUTHOR_SQL, count=8, start_ms=2, each_ms=1)
    (finding,) = n_plus_one(b.table())
    assert (finding.endpoint, finding.parent) == ("GET books/", "render books.html")


def test_wasted_time_is_the_union_of_the_repeats_minus_one_query() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=100)
    # five 4 ms queries, two pairs overlapping by 2 ms: union = 20 - 2 - 2 = 16 ms
    for start in (0, 2, 10, 12, 20):
        b.query(req, AUTHOR_SQL, start_ms=start, duration_ms=4)
    (finding,) = n_plus_one(b.table())
    assert finding.wasted_ms == pytest.approx(16 - 4)


def test_findings_aggregate_requests_and_report_the_worst_one() -> None:
    b = SpanBuilder()
    books_request(b, books=10, start_ms=0)
    worst = books_request(b, books=30, start_ms=1000)
    books_request(b, books=20, start_ms=2000)
    books_request(b, books=3, start_ms=3000)  # below the threshold: not affected
    (finding,) = n_plus_one(b.table())
    assert finding.repeats == 30
    assert finding.requests == 3
    assert finding.example_trace_id == worst.trace_id
    assert finding.wasted_ms == pytest.approx((10 - 1) + (30 - 1) + (20 - 1))


def test_sorted_by_wasted_time() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    b.queries(req, 'SELECT * FROM "cheap" WHERE id = {i}', count=50, start_ms=0, each_ms=0.1)
    b.queries(req, 'SELECT * FROM "costly" WHERE id = {i}', count=6, start_ms=10, each_ms=20)
    assert [f.statement for f in n_plus_one(b.table())] == [
        'SELECT * FROM "costly" WHERE id = ?',
        'SELECT * FROM "cheap" WHERE id = ?',
    ]


def test_code_location_is_the_most_common_among_the_repeats() -> None:
    b = SpanBuilder()
    req = b.request()
    b.queries(req, AUTHOR_SQL, count=4, start_ms=0, each_ms=1, code=LOOP)
    b.queries(req, AUTHOR_SQL, count=2, start_ms=10, each_ms=1, code=Code("/x.py", 1, "other"))
    b.queries(req, AUTHOR_SQL, count=2, start_ms=20, each_ms=1)  # no code recorded
    (finding,) = n_plus_one(b.table())
    assert str(finding.code) == "/srv/app/inventory/views.py:14 in book_list"


def test_relation_and_select_related_fix_for_a_forward_foreign_key() -> None:
    b = SpanBuilder()
    books_request(b, books=6, relation=AUTHOR, code=LOOP)
    (finding,) = n_plus_one(b.table())
    assert finding.relation == "inventory.Book.author"
    assert finding.suggestion == 'select_related("author")'


def test_without_relation_info_there_is_no_relation_and_no_suggestion() -> None:
    b = SpanBuilder()
    books_request(b, books=6)
    (finding,) = n_plus_one(b.table())
    assert (finding.code, finding.relation, finding.suggestion) == (None, None, None)


@pytest.mark.parametrize(
    ("kind", "lookup", "expected"),
    [
        ("forward_fk", "author", 'select_related("author")'),
        ("one_to_one", "profile", 'select_related("profile")'),
        ("reverse_one_to_one", "restaurant", 'prefetch_related("restaurant")'),
        ("reverse_fk", "book_set", 'prefetch_related("book_set")'),
        ("many_to_many", "tags", 'prefetch_related("tags")'),
        ("generic", "comments", 'prefetch_related("comments")'),
        (None, "author", None),
        ("forward_fk", None, None),
    ],
)
def test_suggestion_by_relation_kind(
    kind: str | None, lookup: str | None, expected: str | None
) -> None:
    assert suggestion(kind, lookup) == expected


def test_db_spans_outside_any_request_are_ignored() -> None:
    b = SpanBuilder()
    startup = b.span(None, "manage.py check", start_ms=0, duration_ms=50)
    b.queries(startup, AUTHOR_SQL, count=10, start_ms=1, each_ms=1)
    assert n_plus_one(b.table()) == []


def test_books_sample_has_the_author_and_publisher_n_plus_one_with_200_repeats() -> None:
    findings = n_plus_one(BOOKS_SAMPLE)
    assert sorted((f.endpoint, f.repeats, f.requests) for f in findings) == [
        ("GET books/", 200, 1),
        ("GET books/", 200, 1),
    ]
    statements = sorted(f.statement for f in findings)
    assert '"books_author"' in statements[0]
    assert '"books_publisher"' in statements[1]


def test_a_table_in_several_chunks_groups_like_one() -> None:
    b = SpanBuilder()
    books_request(b, books=6)
    whole = b.table()
    # e.g. two dump files: the request's queries are split between them
    table = pa.concat_tables([whole.slice(0, 4), whole.slice(4)])
    assert table.column("db_statement").num_chunks == 2
    (finding,) = n_plus_one(table)
    assert (finding.statement, finding.repeats) == (AUTHOR_TEMPLATE, 6)
