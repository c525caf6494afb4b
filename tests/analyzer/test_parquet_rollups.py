"""A prepared Parquet file without HTTP client spans is analysed from its rollups alone
(one row per request, group or template), and every option gives exactly the report
the spans give."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from spanbuilder import Code, Relation, SpanBuilder
from spanscope.analyzer.analyses import analysis_input as analysis_input_module
from spanscope.analyzer.analyses import prepared_read
from spanscope.analyzer.analyses.analysis_input import RollupInput, analysis_input
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.cli import cli
from spanscope.analyzer.convert import convert, write_prepared
from spanscope.analyzer.prepared_format import read_marker
from test_parquet_prepared import _mixed_dump

TEMPLATES = (
    "SELECT * FROM author WHERE id = %s",
    "SELECT * FROM book WHERE id = %s",
    "SELECT * FROM shelf WHERE id = 1",
    "SELECT * FROM shelf WHERE id = 2",
)
CODES = (Code("/app/books/views.py", 12, "book_list"), Code("/app/books/tags.py", 40, "authors"))
RELATION = Relation("books.Book.author", "forward_fk", "author")


def _never_from_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the analysis reads the span table or the span-level columns."""

    def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the span-level read was used")

    monkeypatch.setattr(analysis_input_module, "spans_or_spill", refused)
    monkeypatch.setattr(prepared_read, "read_prepared", refused)


def _report(source: Path, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", "--format", "json", *options, str(source)])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _random_spans(seed: int, requests: int = 12) -> pa.Table:
    """Requests whose queries run under the request span and under nested sections, in
    loops of random sizes, some overlapping, some with inline (duplicate) parameters."""
    chance = random.Random(seed)
    b = SpanBuilder()
    for number in range(requests):
        route = chance.choice(["books/", "authors/", None])
        begin = number * 1_000.0
        request = b.request(
            "GET",
            route,
            start_ms=begin,
            duration_ms=400,
            status_code=chance.choice([200, 200, 404, 500]),
            target=f"/{route or 'missing'}{number % 3}/",
        )
        parents = [request]
        for section in range(chance.randint(0, 4)):
            parents.append(
                b.span(
                    request,
                    f"render row {section % 2}",
                    start_ms=begin + 10 + section * 60,
                    duration_ms=55,
                    layer="template",
                )
            )
        for _ in range(chance.randint(0, 40)):
            parent = chance.choice(parents)
            b.query(
                parent,
                chance.choice(TEMPLATES),
                start_ms=parent.start_ms + chance.uniform(0, 50),
                duration_ms=chance.choice([0.25, 0.5, 1.0, 3.0]),
                code=chance.choice([*CODES, None]),
                relation=chance.choice([RELATION, None]),
            )
    return b.table()


@pytest.fixture
def mixed_without_http(tmp_path: Path) -> Path:
    return _mixed_dump(tmp_path / "mixed.jsonl", http=False)


def test_a_file_without_http_client_spans_is_analysed_from_its_rollups(
    tmp_path: Path, mixed_without_http: Path
) -> None:
    prepared = tmp_path / "prepared.parquet"
    convert(mixed_without_http, prepared)
    assert isinstance(analysis_input(prepared), RollupInput)


def test_a_file_with_http_client_spans_is_analysed_from_its_span_columns(tmp_path: Path) -> None:
    prepared = tmp_path / "prepared.parquet"
    convert(_mixed_dump(tmp_path / "mixed.jsonl", http=True), prepared)
    assert not isinstance(analysis_input(prepared), RollupInput)


@pytest.mark.parametrize(
    "options",
    [
        (),
        ("--min-repeats", "2"),
        ("--min-repeats", "3"),
        ("--min-repeats", "4"),
        ("--min-repeats", "6"),
        ("--min-repeats", "7"),
        ("--min-repeats", "100"),
        ("--group-by", "url"),
        ("--group-by", "name"),
        ("--group-by", "url", "--min-repeats", "3"),
        ("--apdex-ms", "5"),
    ],
    ids=lambda options: " ".join(options) or "defaults",
)
def test_rollups_give_the_report_of_the_spans_for_every_option(
    tmp_path: Path,
    mixed_without_http: Path,
    monkeypatch: pytest.MonkeyPatch,
    options: tuple[str, ...],
) -> None:
    prepared = tmp_path / "prepared.parquet"
    convert(mixed_without_http, prepared)
    expected = _report(mixed_without_http, *options)
    _never_from_spans(monkeypatch)
    assert _report(prepared, *options) == expected


def test_the_rollup_dump_has_request_level_findings_that_depend_on_the_threshold(
    mixed_without_http: Path,
) -> None:
    def request_level(*options: str) -> list[str]:
        findings = _report(mixed_without_http, *options)["n_plus_one"]
        return sorted(f["statement"] for f in findings if f["level"] == "request")

    assert "SELECT * FROM shelf" in request_level("--min-repeats", "3")
    assert "SELECT * FROM shelf" not in request_level("--min-repeats", "2")
    assert "SELECT * FROM shelf" not in request_level("--min-repeats", "7")


def test_acknowledged_findings_are_left_out_of_a_rollup_report(
    tmp_path: Path, mixed_without_http: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(
        "[tool.spanscope]\n[[tool.spanscope.acknowledged]]\n"
        'endpoint = "GET books/"\nstatement = "SELECT * FROM author WHERE id = ?"\n'
        'reason = "cached upstream"\n'
    )
    prepared = tmp_path / "prepared.parquet"
    convert(mixed_without_http, prepared)
    options = ("--config", str(config))
    expected = _report(mixed_without_http, *options)
    assert len(expected["n_plus_one"]) < len(_report(mixed_without_http)["n_plus_one"])
    _never_from_spans(monkeypatch)
    assert _report(prepared, *options) == expected


#: (min_repeats, group_by) pairs compared on random loops: each threshold moves
#: statements between parent-level, request-level and no group.
RANDOM_OPTIONS = [(repeats, "route") for repeats in (2, 3, 4, 6, 8)] + [(3, "url"), (3, "name")]


@pytest.mark.parametrize("seed", range(2))
def test_rollups_of_random_loops_give_the_findings_of_the_spans(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    spans = _random_spans(seed)
    prepared = tmp_path / "random.parquet"
    write_prepared(spans, prepared)
    expected = {
        (repeats, group_by): analyze(spans, min_repeats=repeats, group_by=group_by).to_dict()
        for repeats, group_by in RANDOM_OPTIONS
    }
    _never_from_spans(monkeypatch)
    for (repeats, group_by), report in expected.items():
        found = analyze(prepared, min_repeats=repeats, group_by=group_by).to_dict()
        # A table read in memory is no file: only the input statistics differ.
        assert found.pop("input")["spans"] == report.pop("input")["spans"]
        assert found == report, (repeats, group_by)


def test_the_rollups_sit_in_a_first_row_group_of_their_own(
    tmp_path: Path, mixed_without_http: Path
) -> None:
    prepared = tmp_path / "prepared.parquet"
    convert(mixed_without_http, prepared)
    marker = read_marker(str(prepared))
    assert marker is not None
    first = pq.ParquetFile(prepared).metadata.row_group(0).num_rows
    assert first == marker.leading_rows == max(layout.rows for layout in marker.rollups.values())
