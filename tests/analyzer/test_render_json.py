"""The JSON report: the documented contract, versioned, floats rounded to 3 decimals."""

from __future__ import annotations

import io
import json
from typing import Any

from spanbuilder import Code, Relation, SpanBuilder
from spanscope.analyzer import analyze
from spanscope.analyzer.render import get_renderer, renderer_name_for_path
from spanscope.analyzer.render import json as json_renderer
from spanscope.analyzer.report import AnalysisReport

ENDPOINT_KEYS = {
    "endpoint", "requests", "errors", "mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms",
    "max_ms", "total_ms", "db_ms", "app_ms", "queries_per_request",
}  # fmt: skip
FINDING_KEYS = {
    "endpoint", "statement", "repeats", "requests", "wasted_ms", "example_trace_id", "code",
    "relation", "suggestion",
}  # fmt: skip


def report_with_a_finding() -> AnalysisReport:
    b = SpanBuilder()
    req = b.request(duration_ms=100.123456)
    b.queries(
        req,
        "SELECT * FROM author WHERE id = {i}",
        count=7,
        start_ms=1,
        each_ms=1.0004,
        code=Code("/srv/app/views.py", 14, "book_list"),
        relation=Relation("inventory.Book.author", "forward_fk", "author"),
    )
    return analyze(b.table())


def rendered(report: AnalysisReport) -> dict[str, Any]:
    out = io.StringIO()
    get_renderer("json").render(report, out, color=False)
    document: dict[str, Any] = json.loads(out.getvalue())
    return document


def test_top_level_keys_are_the_contract_plus_schema_version() -> None:
    document = rendered(report_with_a_finding())
    assert {"schema_version", "spanscope_version", "input", "endpoints", "n_plus_one"} <= set(
        document
    )
    assert document["schema_version"] == "1"
    assert document["input"] == {"files": 0, "spans": 8, "traces": 1, "skipped_records": 0}


def test_endpoint_and_finding_objects_have_every_contract_key() -> None:
    document = rendered(report_with_a_finding())
    (endpoint,) = document["endpoints"]
    (finding,) = document["n_plus_one"]
    assert set(endpoint) >= ENDPOINT_KEYS
    assert set(finding) >= FINDING_KEYS
    assert finding["code"] == {"file": "/srv/app/views.py", "line": 14, "function": "book_list"}
    assert finding["suggestion"] == 'select_related("author")'


def test_floats_are_rounded_to_three_decimals() -> None:
    document = rendered(report_with_a_finding())
    (endpoint,) = document["endpoints"]
    (finding,) = document["n_plus_one"]
    assert endpoint["mean_ms"] == 100.123
    assert finding["wasted_ms"] == round(7 * 1.0004 - 1.0004, 3)


def test_every_key_is_documented_in_the_module_docstring() -> None:
    document = rendered(report_with_a_finding())
    doc = json_renderer.__doc__ or ""
    keys = set(document) | set(document["input"])
    keys |= ENDPOINT_KEYS | set(document["n_plus_one"][0])
    undocumented = sorted(key for key in keys if f"``{key}``" not in doc)
    assert undocumented == []


def test_output_file_suffix_selects_the_renderer() -> None:
    assert renderer_name_for_path("report.json") == "json"
    assert renderer_name_for_path("REPORT.JSON") == "json"
    assert renderer_name_for_path("report.txt") == "terminal"
    assert renderer_name_for_path(None) == "terminal"
