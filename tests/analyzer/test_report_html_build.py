"""``html_report`` reads its input once and resolves one span tree for every section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import spanscope.analyzer.requests as requests_module
from spanscope.analyzer.convert import convert
from spanscope.analyzer.engine import parent_rows
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.load import load
from spanscope.analyzer.render.html import html_report

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
BOOKS_SAMPLE = SAMPLES / "django_books_nplus1.jsonl"


class _Calls:
    """Wraps a function and counts the calls that go through it."""

    def __init__(self, function: Any) -> None:
        self.function = function
        self.count = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.function(*args, **kwargs)


def _page_data(source: Any, **options: Any) -> dict[str, Any]:
    data = html_report(source, **options).data
    # When it was generated and how many files it came from say nothing of the spans.
    data.pop("generated_ms")
    data["input"].pop("files")
    return data


def test_report_resolves_the_span_tree_once_for_findings_and_sections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trees = _Calls(requests_module.SpanTree)
    monkeypatch.setattr(requests_module, "SpanTree", trees)
    data = html_report([BOOKS_SAMPLE]).data
    assert trees.count == 1
    # Both consumers of that one tree saw it: the N+1 findings and the waterfall.
    assert [finding["repeats"] for finding in data["n_plus_one"]["findings"]] == [200, 200]
    assert "GET books/" in data["waterfalls"]


def test_report_reuses_the_parents_that_reading_the_files_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookups = _Calls(parent_rows)
    monkeypatch.setattr(requests_module, "parent_rows", lookups)
    html_report([BOOKS_SAMPLE])
    assert lookups.count == 0


@pytest.mark.parametrize("group_by", ["route", "url", "name"])
def test_report_of_the_files_equals_the_report_of_their_full_span_table(group_by: str) -> None:
    from_files = _page_data([BOOKS_SAMPLE], group_by=group_by, min_repeats=3)
    from_table = _page_data(load([BOOKS_SAMPLE]), group_by=group_by, min_repeats=3)
    assert from_files == from_table
    assert from_files["endpoints"]["rows"]


@pytest.mark.parametrize("group_by", ["route", "url"])
def test_report_of_a_converted_parquet_file_equals_the_report_of_its_source(
    tmp_path: Path, group_by: str
) -> None:
    parquet = tmp_path / "books.parquet"
    convert([BOOKS_SAMPLE], parquet)
    from_parquet = _page_data([parquet], group_by=group_by)
    assert from_parquet == _page_data([BOOKS_SAMPLE], group_by=group_by)
    # The sample's server spans record only url.full: keyed by URL, that is where paths come from.
    endpoints = [row[0] for row in from_parquet["endpoints"]["rows"]]
    assert ("GET /books/" in endpoints) == (group_by == "url")


def test_report_rejects_bad_options_before_reading_anything(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="min_repeats"):
        html_report([tmp_path / "not-written-yet.jsonl"], min_repeats=1)
