"""The terminal report: ranked endpoints and N+1 findings readable in 100 columns."""

from __future__ import annotations

import io

from spanbuilder import Code, Relation, SpanBuilder
from spanscope.analyzer import analyze
from spanscope.analyzer.render import get_renderer
from spanscope.analyzer.render.terminal import format_ms
from spanscope.analyzer.report import AnalysisReport


def books_report() -> AnalysisReport:
    b = SpanBuilder()
    for i in range(3):
        req = b.request("GET", "books/", start_ms=i * 1000, duration_ms=250_000.5)
        b.queries(
            req,
            'SELECT "author"."id" FROM "author" WHERE "author"."id" = {i}',
            count=200,
            start_ms=i * 1000 + 1,
            each_ms=0.2,
            code=Code("/srv/app/inventory/views.py", 14, "book_list"),
            relation=Relation("inventory.Book.author", "forward_fk", "author"),
        )
    b.request("GET", "books/fixed/", start_ms=9000, duration_ms=3)
    b.request("GET", None, status_code=404, start_ms=9500, duration_ms=1)
    return analyze(b.table())


def render(report: AnalysisReport) -> str:
    out = io.StringIO()
    get_renderer("terminal").render(report, out, color=False)
    return out.getvalue()


def test_fits_a_100_column_terminal() -> None:
    text = render(books_report())
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100


def test_endpoints_are_listed_by_total_time() -> None:
    text = render(books_report())
    assert text.index("GET books/") < text.index("GET books/fixed/") < text.index("GET (no route)")


def test_finding_shows_code_location_relation_and_fix() -> None:
    text = render(books_report())
    assert "inventory/views.py:14 in book_list" in text
    assert "inventory.Book.author (forward_fk)" in text
    assert 'select_related("author")' in text
    assert "200 queries under one parent, in 3 requests" in text


def test_no_colour_codes_when_writing_to_a_file() -> None:
    assert "\x1b[" not in render(books_report())


def test_empty_input_says_so_instead_of_printing_empty_tables() -> None:
    text = render(analyze(SpanBuilder().table()))
    assert "No requests found" in text
    assert "No N+1 queries found" in text


def test_milliseconds_keep_at_most_six_characters() -> None:
    assert [format_ms(v) for v in (0.4242, 12.34, 1234.4, 12345.6, 123456.7)] == [
        "0.42",
        "12.3",
        "1,234",
        "12,346",
        "123s",
    ]


def test_every_endpoint_column_survives_the_widest_figures_in_100_columns() -> None:
    # Seconds-long requests print as "1,950" (wider than "250s") and a loop of 2,000
    # queries as "2000.0": the widest cells the table gets; nothing may be cropped.
    b = SpanBuilder()
    for i in range(6):
        req = b.request("GET", "books/fixed/", start_ms=i * 10_000, duration_ms=1_950 + i)
        b.queries(req, "SELECT {i}", count=2_000, start_ms=i * 10_000 + 1, each_ms=0.1)
    text = render(analyze(b.table()))
    header = next(line for line in text.splitlines() if line.lstrip().startswith("#  endpoint"))
    assert header.split()[-2:] == ["q/req", "apdex"]
    row = next(line for line in text.splitlines() if line.startswith("1  GET"))
    assert row.split()[-2:] == ["2000.0", "0.50"]  # 1.95 s against T = 0.5 s: tolerating
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
