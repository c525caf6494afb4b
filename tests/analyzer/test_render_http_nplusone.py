"""N+1 backend calls in every report format: JSON, terminal and the HTML page data,
at both levels (under one parent, spread over sibling spans)."""

from __future__ import annotations

import io
import json
from typing import Any

from spanbuilder import SpanBuilder
from spanscope.analyzer import analyze
from spanscope.analyzer.render import get_renderer
from spanscope.analyzer.render import json as json_renderer
from spanscope.analyzer.render.html import Limits, html_report
from spanscope.analyzer.report import AnalysisReport
from test_nplusone_http import call


def two_level_spans() -> SpanBuilder:
    """``/users/{id}`` 6 times under one render; ``/orders/{id}`` once per task span, 5 tasks."""
    b = SpanBuilder()
    req = b.request(duration_ms=500)
    render = b.span(req, "render users.html", layer="template", start_ms=0, duration_ms=100)
    for i in range(6):
        call(b, render, f"/users/{i}", start_ms=1 + i * 10)
    for i in range(5):
        task = b.span(req, "load order", start_ms=200 + i * 20, duration_ms=15)
        call(b, task, f"/orders/{i}", start_ms=201 + i * 20)
    return b


def rendered(report: AnalysisReport, name: str) -> str:
    out = io.StringIO()
    get_renderer(name).render(report, out, color=False)
    return out.getvalue()


def test_json_lists_each_call_with_its_level_and_parent() -> None:
    document = json.loads(rendered(analyze(two_level_spans().table()), "json"))
    found = {
        (f["method"], f["url"], f["level"], f["parent"], f["repeats"])
        for f in document["n_plus_one_http"]
    }
    assert found == {
        ("GET", "/users/{id}", "parent", "render users.html", 6),
        ("GET", "/orders/{id}", "request", "load order", 5),
    }


def test_every_http_finding_key_is_documented_in_the_json_contract() -> None:
    document = json.loads(rendered(analyze(two_level_spans().table()), "json"))
    doc = json_renderer.__doc__ or ""
    keys = {key for finding in document["n_plus_one_http"] for key in finding}
    assert sorted(key for key in keys if f"``{key}``" not in doc) == []


def test_terminal_names_the_parent_and_marks_calls_spread_over_siblings() -> None:
    lines = rendered(analyze(two_level_spans().table()), "terminal").splitlines()
    users = next(line for line in lines if "/users/{id}" in line)
    orders = next(line for line in lines if "/orders/{id}" in line)
    assert "render users.html" in users and "siblings" not in users
    assert "load order & siblings" in orders
    assert max(len(line.rstrip()) for line in lines) <= 100


def test_html_report_embeds_the_http_findings_with_their_level() -> None:
    data: dict[str, Any] = html_report(two_level_spans().table()).data
    section = data["n_plus_one_http"]
    assert section["omitted"] == 0
    assert {(f["url"], f["level"], f["parent"]) for f in section["findings"]} == {
        ("/users/{id}", "parent", "render users.html"),
        ("/orders/{id}", "request", "load order"),
    }


def test_html_report_caps_http_findings_and_counts_the_rest() -> None:
    b = SpanBuilder()
    req = b.request(duration_ms=1000)
    for service in range(3):  # three different backends, each called per row
        for i in range(5):
            call(b, req, f"/service{chr(97 + service)}/items/{i}", start_ms=service * 100 + i * 10)
    section = html_report(b.table(), limits=Limits(n_plus_one=2)).data["n_plus_one_http"]
    assert (len(section["findings"]), section["omitted"]) == (2, 1)


def test_html_report_has_an_empty_http_section_without_backend_calls() -> None:
    b = SpanBuilder()
    b.request()
    assert html_report(b.table()).data["n_plus_one_http"] == {"findings": [], "omitted": 0}
