"""A prepared Parquet file (``spanscope convert``'s output) analyses exactly like its
source, through its stored span tree, request table and statement keys; a file whose
marker is stale or foreign is analysed the general way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from otlp_records import START, attr, line, span, span_id, write
from spanscope.analyzer.analyses import analysis_input as analysis_input_module
from spanscope.analyzer.analyses.analysis_input import prepared_file
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.cli import cli
from spanscope.analyzer.convert import convert
from spanscope.analyzer.prepared_format import MARKER_KEY, PREPARED_VERSION

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SAMPLE_FILES = sorted(path for path in SAMPLES.iterdir() if path.name != "README.md")
MS = 1_000_000
SERVER, CLIENT, INTERNAL = 2, 3, 1


def _server(
    number: int, trace: str, start: int, *, route: str | None, status: int, ms: int = 100
) -> dict[str, Any]:
    attributes = [attr("http.method", "GET"), attr("http.status_code", str(status))]
    if route is not None:
        attributes.append(attr("http.route", route))
    name = f"GET {route}" if route else "GET"
    return span(
        span_id(number),
        trace_id=trace,
        name=name,
        kind=SERVER,
        start=start,
        duration=ms * MS,
        attributes=attributes,
    )


def _child(
    number: int, trace: str, parent: int, start: int, ms: float, **fields: Any
) -> dict[str, Any]:
    """Span ``number`` of ``trace`` under span ``parent``, lasting ``ms``; ``fields`` as
    :func:`span` takes them."""
    duration = int(ms * MS)
    return span(
        span_id(number),
        trace_id=trace,
        parent=span_id(parent),
        start=start,
        duration=duration,
        **fields,
    )


def _query(
    number: int, trace: str, parent: int, start: int, statement: str, *, ms: float = 1.0
) -> dict[str, Any]:
    attributes = [
        attr("db.system", "postgresql"),
        attr("db.statement", statement),
        attr("code.filepath", "/app/books/views.py"),
        attr("code.lineno", {"intValue": "12"}),
        attr("code.function", "book_list"),
    ]
    return _child(
        number, trace, parent, start, ms, name="SELECT", kind=CLIENT, attributes=attributes
    )


def _internal(number: int, trace: str, parent: int, start: int, ms: float) -> dict[str, Any]:
    layer = [attr("spanscope.layer", "template")]
    name = "render author.html"
    return _child(number, trace, parent, start, ms, name=name, kind=INTERNAL, attributes=layer)


def _http_call(number: int, trace: str, parent: int, start: int, user: int) -> dict[str, Any]:
    attributes = [
        attr("http.method", "GET"),
        attr("url.full", f"http://users.internal/users/{user}?page={user}"),
    ]
    return _child(number, trace, parent, start, 2, name="GET", kind=CLIENT, attributes=attributes)


def _mixed_dump(path: Path, *, http: bool = True) -> Path:
    """Requests with an N+1, a nested N+1 (a loop of renders, each with its own loop of
    queries), overlapping (async) queries, a query outliving its request, inline
    duplicates, a statement repeated 3, 1 and 2 times under three parents (a parent-
    or request-level group depending on the threshold), HTTP N+1 calls unless ``http``
    is false, an orphan, a 404 and a 500."""
    spans: list[dict[str, Any]] = []
    number = 1
    for request in range(6):
        trace = f"{request + 1:032x}"
        begin = START + request * 1_000 * MS
        server = number
        route, status = [("books/", 200), (None, 404), ("authors/", 500)][request % 3]
        spans.append(_server(server, trace, begin, route=route, status=status))
        number += 1
        for repeat in range(7):  # an N+1 straight under the view
            statement = f"SELECT * FROM author WHERE id = {repeat % 3}"
            spans.append(_query(number, trace, server, begin + repeat * 2 * MS, statement))
            number += 1
        for outer in range(5):  # nested: one render per author, each with its own loop
            render = number
            spans.append(_internal(render, trace, server, begin + (20 + outer * 10) * MS, 9))
            number += 1
            for inner in range(6):
                statement = f"SELECT * FROM book WHERE author_id = %s AND n = {inner}"
                start = begin + (20 + outer * 10 + inner) * MS
                spans.append(_query(number, trace, render, start, statement, ms=0.5))
                number += 1
            # once per render: a request-level N+1 spread over the renders
            start = begin + (27 + outer * 10) * MS
            publisher = "SELECT * FROM publisher WHERE id = %s"
            spans.append(_query(number, trace, render, start, publisher, ms=0.5))
            number += 1
        for overlap in range(5):  # async: every query overlaps the others
            start = begin + (80 + overlap // 2) * MS
            spans.append(_query(number, trace, server, start, "SELECT 1", ms=3))
            number += 1
        spans.append(_query(number, trace, server, begin + 95 * MS, "SELECT 2", ms=30))
        number += 1
        for offset, repeats in ((70, 3), (74, 1), (76, 2)):
            section = number
            spans.append(_internal(section, trace, server, begin + offset * MS, 3))
            number += 1
            for repeat in range(repeats):
                start = begin + offset * MS + repeat * MS // 2
                spans.append(_query(number, trace, section, start, "SELECT * FROM shelf", ms=0.4))
                number += 1
        for call in range(5 if http else 0):
            spans.append(_http_call(number, trace, server, begin + (60 + call) * MS, call))
            number += 1
    orphan_trace = f"{99:032x}"
    spans.append(_query(number, orphan_trace, 10_000, START, "SELECT 3"))
    return write(path, *(line(*spans[i : i + 40]) for i in range(0, len(spans), 40)))


def _report(source: Path, *options: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["analyze", "--format", "json", *options, str(source)])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _converted(source: Path, tmp_path: Path) -> Path:
    output = tmp_path / "prepared.parquet"
    convert(source, output)
    assert prepared_file(output, None) is not None
    return output


def _with_marker(source: Path, target: Path, marker: bytes | None) -> Path:
    """A copy of ``source`` whose marker is ``marker`` (None: no marker at all)."""
    table = pq.read_table(source)
    metadata = dict(table.schema.metadata or {})
    metadata.pop(MARKER_KEY, None)
    if marker is not None:
        metadata[MARKER_KEY] = marker
    pq.write_table(table.replace_schema_metadata(metadata), target)
    return target


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    return _mixed_dump(tmp_path / "mixed.jsonl")


def _kept_records(report: dict[str, Any]) -> dict[str, Any]:
    """``report`` without the count of source records skipped while reading: a converted
    file holds only the records that could be read."""
    report["input"].pop("skipped_records")
    return report


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda path: path.name)
def test_a_prepared_sample_analyses_like_its_source(tmp_path: Path, sample: Path) -> None:
    prepared = _report(_converted(sample, tmp_path))
    assert prepared["input"]["skipped_records"] == 0
    assert _kept_records(prepared) == _kept_records(_report(sample))


def test_the_mixed_dump_has_every_finding_the_prepared_path_must_reproduce(mixed: Path) -> None:
    report = _report(mixed)
    assert {finding["level"] for finding in report["n_plus_one"]} == {"parent", "request"}
    assert report["duplicates"] and report["n_plus_one_http"] and report["slow_queries"]
    assert {row["endpoint"] for row in report["endpoints"]} >= {"GET (no route)", "GET books/"}


@pytest.mark.parametrize(
    "options",
    [
        (),
        ("--min-repeats", "2"),
        ("--min-repeats", "6"),
        ("--group-by", "url"),
        ("--group-by", "name"),
    ],
    ids=lambda options: " ".join(options) or "defaults",
)
def test_a_prepared_mixed_dump_analyses_like_its_source(
    tmp_path: Path, mixed: Path, options: tuple[str, ...]
) -> None:
    assert _report(_converted(mixed, tmp_path), *options) == _report(mixed, *options)


def test_a_prepared_file_notes_what_a_general_read_of_it_notes(tmp_path: Path, mixed: Path) -> None:
    prepared = _converted(mixed, tmp_path)
    plain = _with_marker(prepared, tmp_path / "plain.parquet", None)
    notes = list(analyze(prepared).diagnostics.summary_lines())
    general = list(analyze(plain).diagnostics.summary_lines())
    assert any("orphan-span" in note or "parent is not in the input" in note for note in notes)
    assert [note.replace(str(prepared), "FILE") for note in notes] == [
        note.replace(str(plain), "FILE") for note in general
    ]


def test_analysing_a_prepared_file_never_reads_the_span_table(
    tmp_path: Path, mixed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = _converted(mixed, tmp_path)
    expected = _report(prepared)

    def general_read(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the general read was used")

    monkeypatch.setattr(analysis_input_module, "spans_or_spill", general_read)
    assert _report(prepared) == expected


@pytest.mark.parametrize(
    "marker",
    [
        json.dumps({"version": PREPARED_VERSION + 1}).encode(),
        b"not json",
        b'{"version": 1, "rows": "many"}',
        None,
    ],
    ids=["newer version", "foreign bytes", "foreign fields", "no marker"],
)
def test_a_file_without_a_current_marker_is_analysed_the_general_way(
    tmp_path: Path, mixed: Path, marker: bytes | None
) -> None:
    stale = _with_marker(_converted(mixed, tmp_path), tmp_path / "stale.parquet", marker)
    assert prepared_file(stale, None) is None
    assert _report(stale) == _report(mixed)


def test_a_marker_for_another_row_count_is_ignored(tmp_path: Path, mixed: Path) -> None:
    prepared = _converted(mixed, tmp_path)
    table = pq.read_table(prepared)
    cut = tmp_path / "cut.parquet"
    pq.write_table(table.slice(1), cut)  # the marker is kept, one span is not
    assert prepared_file(cut, None) is None


def test_several_files_take_the_general_path_even_when_prepared(
    tmp_path: Path, mixed: Path
) -> None:
    prepared = _converted(mixed, tmp_path)
    assert prepared_file([prepared, mixed], None) is None
    assert prepared_file(prepared, "otlp-jsonl") is None


def test_partitioned_output_is_not_prepared(tmp_path: Path, mixed: Path) -> None:
    result = convert(mixed, tmp_path / "parts", partition_by="ServiceName")
    assert result.written
    assert all(prepared_file(Path(path), None) is None for path in result.written)
