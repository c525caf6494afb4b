"""The data behind the HTML report: what each section holds and how it is bounded."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from report_traffic import shop_spans
from spanbuilder import Code, SpanBuilder
from spanscope.analyzer.render.html import Limits, html_report
from spanscope.analyzer.render.html.buckets import ALL_REQUESTS, auto_interval_s
from spanscope.analyzer.render.html.document import fit
from spanscope.analyzer.render.html.embed import script_json
from spanscope.analyzer.render.html.slow import SLOW_QUERY_MS

SELECT_BOOK = 'SELECT * FROM "book" WHERE "id" = %s'


def _report(builder: SpanBuilder, **kwargs: Any) -> dict[str, Any]:
    return html_report(builder.table(), **kwargs).data


def test_waterfall_shows_the_request_closest_to_the_endpoint_p95() -> None:
    builder = SpanBuilder()
    durations = list(range(10, 210, 10))  # 20 requests; p95 = 190 + 0.05 * 10 = 190.5 ms
    refs = [builder.request(start_ms=i * 1000, duration_ms=d) for i, d in enumerate(durations)]
    waterfall = _report(builder)["waterfalls"]["GET books/"]
    assert waterfall["trace_id"] == refs[durations.index(190)].trace_id
    assert waterfall["duration_ms"] == 190
    assert waterfall["p95_ms"] == pytest.approx(np.percentile(durations, 95))


def test_waterfall_lists_spans_depth_first_with_depth_offset_and_duration() -> None:
    builder = SpanBuilder()
    request = builder.request(start_ms=0, duration_ms=50)
    render = builder.span(
        request, "render books.html", start_ms=20, duration_ms=20, layer="template"
    )
    builder.query(render, SELECT_BOOK, start_ms=25, duration_ms=3)
    builder.query(request, SELECT_BOOK, start_ms=5, duration_ms=4)
    waterfall = _report(builder)["waterfalls"]["GET books/"]
    strings = waterfall["strings"]
    rows = [
        (depth, offset, duration, layer, strings[name])
        for depth, offset, duration, layer, name, *_ in waterfall["spans"]
    ]
    assert rows == [
        (0, 0.0, 50.0, "server", "GET books/"),
        (1, 5.0, 4.0, "db", "SELECT"),
        (1, 20.0, 20.0, "template", "render books.html"),
        (2, 25.0, 3.0, "db", "SELECT"),
    ]


def test_waterfall_keeps_the_first_spans_and_counts_the_rest() -> None:
    builder = SpanBuilder()
    request = builder.request(start_ms=0, duration_ms=500)
    builder.queries(request, SELECT_BOOK, count=40, start_ms=1, each_ms=1)
    data = _report(builder, limits=Limits(waterfall_spans=10))
    waterfall = data["waterfalls"]["GET books/"]
    assert len(waterfall["spans"]) == 10
    assert waterfall["more"] == 31
    # the query text is stored once, however many spans run it
    assert sum(SELECT_BOOK in text for text in waterfall["strings"]) == 1


def test_latency_percentiles_are_computed_per_time_bucket() -> None:
    builder = SpanBuilder()
    first = [10.0, 20.0, 30.0, 40.0]
    second = [100.0, 300.0]
    for i, duration in enumerate(first):
        builder.request(start_ms=i * 1000, duration_ms=duration)
    for i, duration in enumerate(second):
        builder.request(start_ms=120_000 + i * 1000, duration_ms=duration)
    latency = _report(builder, interval_s=60)["latency"]
    series = latency["series"]["GET books/"]
    assert latency["interval_s"] == 60
    assert series["count"] == [4, 2]
    assert series["bucket"][1] - series["bucket"][0] == 2  # the empty minute is a gap
    assert series["p50"] == [pytest.approx(np.percentile(first, 50)), pytest.approx(200.0)]
    assert series["p95"][0] == pytest.approx(np.percentile(first, 95))
    assert latency["series"][ALL_REQUESTS]["count"] == [4, 2]


def test_automatic_bucket_width_keeps_charts_under_120_points() -> None:
    assert auto_interval_s(30) == 1
    assert auto_interval_s(1800) == 30
    assert auto_interval_s(3600) == 60  # 30 s would make 121 buckets
    assert auto_interval_s(7 * 86400) == 7200
    for span_s in (1, 59, 600, 10_000, 10**6, 10**8):
        assert span_s / auto_interval_s(span_s) < 120


def test_breakdown_bars_add_up_to_the_mean_request_duration() -> None:
    builder = SpanBuilder()
    request = builder.request(start_ms=0, duration_ms=100)
    builder.query(request, SELECT_BOOK, start_ms=10, duration_ms=30)
    builder.span(request, "render", start_ms=50, duration_ms=20, layer="template")
    breakdown = _report(builder)["breakdown"]
    (row,) = breakdown["rows"]
    values = dict(zip(breakdown["layers"], row["values"], strict=True))
    assert values["db"] == pytest.approx(30.0)
    assert values["app"] == pytest.approx(50.0)
    assert sum(row["values"]) == pytest.approx(row["mean_ms"]) == pytest.approx(100.0)


def test_statement_over_the_slow_threshold_is_flagged_with_its_code_location() -> None:
    builder = SpanBuilder()
    code = Code("/srv/shop/reports.py", 88, "daily")
    request = builder.request("GET", "reports/", start_ms=0, duration_ms=900)
    builder.query(
        request, "SELECT sum(x) FROM big", start_ms=1, duration_ms=SLOW_QUERY_MS + 100, code=code
    )
    builder.query(request, SELECT_BOOK, start_ms=700, duration_ms=2)
    statements = {row["statement"]: row for row in _report(builder)["statements"]}
    slow = statements["SELECT SUM(x) FROM big"]
    assert slow["slow"] is True and slow["fix"]
    assert slow["code"] == {"file": code.file, "line": code.line, "function": code.function}
    assert slow["endpoints"] == ["GET reports/"]
    assert statements['SELECT * FROM "book" WHERE "id" = ?']["slow"] is False


def test_correlation_ranks_the_planted_database_spells_first() -> None:
    correlation = html_report(shop_spans(3_000, 40, seed=2)).data["correlation"]
    assert correlation is not None
    best = correlation["results"][0]
    assert (best["kind"], best["name"]) == ("layer", "db")
    assert best["significant"] is True
    assert len(best["series"]) == len(correlation["target"]) == correlation["buckets"]


def test_correlation_section_is_left_out_when_there_are_too_few_buckets() -> None:
    builder = SpanBuilder()
    for i in range(5):
        builder.request(start_ms=i * 1000, duration_ms=10 + i)
    assert _report(builder)["correlation"] is None


def test_fit_drops_the_least_busy_waterfalls_first_and_says_so() -> None:
    data = html_report(shop_spans(2_000, 30, seed=4)).data
    busiest = next(iter(data["waterfalls"]))
    budget = len(script_json(data).encode()) - 5_000
    trimmed = fit(json.loads(json.dumps(data)), budget)
    assert len(script_json(trimmed).encode()) <= budget
    assert busiest in trimmed["waterfalls"]
    assert trimmed["trimmed"][0] == {
        "section": "waterfall",
        "endpoint": list(data["waterfalls"])[-1],
    }


def test_spans_without_any_request_give_a_report_with_empty_sections() -> None:
    builder = SpanBuilder()
    builder.span(None, "nightly job", start_ms=0, duration_ms=5)
    data = _report(builder)
    assert data["input"]["spans"] == 1 and data["input"]["requests"] == 0
    assert data["endpoints"]["rows"] == []
    assert data["latency"] is None and data["waterfalls"] == {} and data["correlation"] is None
