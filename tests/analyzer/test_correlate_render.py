"""Correlation renderers: JSON keeps tiny p-values; the terminal makes significant rows bold."""

from __future__ import annotations

import io
import json
import re

from spanscope.analyzer.analyses.correlate import Correlation, CorrelationResult, SkippedSeries
from spanscope.analyzer.render.correlate_formats import CORRELATE_FORMATS

BOLD = "\x1b[1m"


def result() -> CorrelationResult:
    rows = (
        Correlation("layer", "db", 0.93, 1.1e-54, 2.2e-53, 0.61, 120),
        Correlation("endpoint_time", "GET data/", 0.41, 0.004, 0.006, 0.52, 118),
        Correlation(
            "endpoint_throughput",
            "GET sparkline/",
            0.05,
            0.61,
            0.61,
            0.8,
            120,
            "shared trend only (r raw +0.80)",
        ),
    )
    return CorrelationResult(
        interval_s=60.0,
        buckets=121,
        empty_buckets=0,
        points=120,
        differenced=True,
        min_points=10,
        results=rows,
        skipped=(SkippedSeries("layer", "cache", "always 0 ms: no spans of this layer"),),
    )


def plain(line: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", line)


def render(name: str, *, color: bool = False) -> str:
    out = io.StringIO()
    CORRELATE_FORMATS.get(name).render(result(), out, color=color)
    return out.getvalue()


def test_json_keeps_significant_digits_of_tiny_p_values() -> None:
    rows = json.loads(render("json"))["results"]
    assert rows[0]["p_value"] == 1.1e-54 and rows[0]["q_value"] == 2.2e-53
    assert rows[1]["p_value"] == 0.004


def test_json_rows_follow_the_result_order_with_their_notes() -> None:
    rows = json.loads(render("json"))["results"]
    assert [row["name"] for row in rows] == ["db", "GET data/", "GET sparkline/"]
    assert rows[2]["note"] == "shared trend only (r raw +0.80)"


def test_terminal_prints_significant_rows_bold_and_the_rest_not() -> None:
    lines = render("terminal", color=True).splitlines()
    db = next(line for line in lines if " db " in plain(line))
    sparkline = next(line for line in lines if "throughput" in plain(line))
    assert BOLD in db
    assert BOLD not in sparkline


def test_terminal_shows_p_values_in_scientific_notation_when_tiny() -> None:
    text = render("terminal")
    assert "1.1e-54" in text and "0.004" in text


def test_terminal_lists_skipped_series_with_their_reason() -> None:
    assert "layer cache: always 0 ms: no spans of this layer" in render("terminal")


def test_plain_terminal_output_has_no_escape_codes() -> None:
    assert "\x1b[" not in render("terminal")
