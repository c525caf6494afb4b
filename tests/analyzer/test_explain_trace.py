"""``spanscope explain``: one trace as a tree with self times, N+1 loops folded and named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from spanbuilder import SpanBuilder
from spanscope.analyzer.analyses.explain import explain
from spanscope.analyzer.cli import cli
from spanscope.analyzer.errors import UsageError

BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)
BOOKS_TRACE = "2a53eae4e9da5e425b04e252c67f00e8"


def test_slowest_picks_the_books_request_and_folds_its_two_loops() -> None:
    result = explain(str(BOOKS_SAMPLE), "slowest")
    assert result.trace_id == BOOKS_TRACE
    assert result.spans == 402
    [root] = result.roots
    assert root.name == "GET books/"
    assert [child.count for child in root.children] == [1, 200, 200]
    folded = root.children[1:]
    assert all(child.finding is not None for child in folded)
    assert {child.finding.repeats for child in folded if child.finding} == {200}


def test_a_unique_prefix_selects_the_trace() -> None:
    assert explain(str(BOOKS_SAMPLE), BOOKS_TRACE[:6]).trace_id == BOOKS_TRACE


def test_an_unknown_prefix_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="no trace id starts with") as caught:
        explain(str(BOOKS_SAMPLE), "ffffffff")
    assert "slowest" in caught.value.hint


def test_self_time_subtracts_concurrent_children_once() -> None:
    builder = SpanBuilder()
    request = builder.request("GET", "report/", start_ms=0, duration_ms=100)
    # two overlapping 40 ms calls covering 10..60: 50 ms covered, not 80
    builder.span(request, "fetch a", start_ms=10, duration_ms=40, kind="Client", layer="http")
    builder.span(request, "fetch b", start_ms=20, duration_ms=40, kind="Client", layer="http")
    [root] = explain(builder.table(), "slowest").roots
    assert root.self_ms == pytest.approx(50.0)
    assert [child.self_ms for child in root.children] == pytest.approx([40.0, 40.0])


def test_repeats_below_the_threshold_stay_separate_lines() -> None:
    builder = SpanBuilder()
    request = builder.request("GET", "books/", start_ms=0, duration_ms=50)
    builder.queries(
        request, 'SELECT * FROM "author" WHERE "id" = %s', count=4, start_ms=1, each_ms=1
    )
    [root] = explain(builder.table(), "slowest", min_repeats=5).roots
    assert [child.count for child in root.children] == [1, 1, 1, 1]
    assert all(child.finding is None for child in root.children)


def test_cli_json_points_each_folded_node_at_its_finding() -> None:
    result = CliRunner().invoke(cli, ["explain", "slowest", str(BOOKS_SAMPLE), "--format", "json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert len(document["findings"]) == 2
    children = document["roots"][0]["children"]
    assert sorted(child["finding"] for child in children if child["finding"] is not None) == [0, 1]


def test_cli_terminal_tree_shows_the_fold_and_the_n_plus_one() -> None:
    result = CliRunner().invoke(cli, ["explain", BOOKS_TRACE, str(BOOKS_SAMPLE)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("200x SELECT") == 2
    assert result.stdout.count("N+1:") == 2
