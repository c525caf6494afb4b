"""Parent links checked after loading: loops broken, orphans and escaping children noted."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from otlp_records import START, attr, line, span, span_id, write
from spanscope.analyzer.cli import cli
from spanscope.analyzer.errors import UnreadableInputError
from spanscope.analyzer.load import LoadResult, read
from spanscope.analyzer.requests import request_table

SERVER = 2


def _kinds(result: LoadResult) -> dict[str, str]:
    return {problem.kind: problem.message for problem in result.diagnostics.problems}


def _parents(result: LoadResult) -> dict[str, str]:
    return {row["SpanId"]: row["ParentSpanId"] for row in result.table.to_pylist()}


def test_a_span_that_is_its_own_parent_becomes_a_root_and_is_noted(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), parent=span_id(1), kind=SERVER)))
    result = read(path)
    assert _parents(result) == {span_id(1): ""}
    assert "1 span(s) name themselves as their parent" in _kinds(result)["self-parent"]
    assert result.diagnostics.skipped_records == 0


def test_a_loop_of_three_spans_is_broken_at_its_earliest_span(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        line(
            span(span_id(1), parent=span_id(3), start=START + 30),
            span(span_id(2), parent=span_id(1), start=START + 10),  # the earliest
            span(span_id(3), parent=span_id(2), start=START + 20),
            span(span_id(4), parent=span_id(3), start=START + 40),  # hangs below the loop
        ),
    )
    result = read(path)
    assert _parents(result) == {
        span_id(1): span_id(3),
        span_id(2): "",
        span_id(3): span_id(2),
        span_id(4): span_id(3),
    }
    assert f"e.g. span {span_id(2)}" in _kinds(result)["parent-cycle"]


def test_analysis_of_a_looping_dump_terminates_with_the_request_owning_its_spans(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path / "a.jsonl",
        line(
            span(span_id(1), parent=span_id(2), kind=SERVER, start=START, duration=10_000),
            span(span_id(2), parent=span_id(1), start=START + 100, duration=1_000),
            span(span_id(3), parent=span_id(3), start=START + 200, duration=1_000),
        ),
    )
    requests = request_table(read(path).table).to_pylist()
    assert [(r["SpanId"], r["app_ms"]) for r in requests] == [(span_id(1), 0.009)]


def test_strict_mode_fails_on_a_loop_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), parent=span_id(1))))
    with pytest.raises(UnreadableInputError, match=r"a\.jsonl: 1 span\(s\) name themselves"):
        read(path, strict=True)


def test_orphans_are_kept_and_counted_in_one_note(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        line(span(span_id(1), parent=span_id(9)), span(span_id(2), parent=span_id(9))),
    )
    result = read(path)
    assert result.table.num_rows == 2
    assert _kinds(result)["orphan-span"].startswith("2 span(s) whose parent is not in the input")
    assert [p.path for p in result.diagnostics.problems] == [str(path)]


def test_a_request_whose_parent_is_in_the_calling_process_is_not_an_orphan(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), parent=span_id(9), kind=SERVER)))
    assert read(path).diagnostics.problems == []


def test_orphans_do_not_fail_strict_mode(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), parent=span_id(9))))
    assert read(path, strict=True).table.num_rows == 1


def test_a_child_outliving_its_parent_is_kept_and_noted(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        line(
            span(span_id(1), kind=SERVER, start=START, duration=1_000),
            span(span_id(2), parent=span_id(1), start=START + 500, duration=2_000),
            span(span_id(3), parent=span_id(1), start=START + 100, duration=100),
        ),
    )
    result = read(path)
    assert result.table.num_rows == 3
    message = _kinds(result)["child-outside-parent"]
    assert message.startswith(
        f"1 span(s) start before or end after their parent, e.g. span {span_id(2)}"
    )


def test_the_note_names_the_file_the_span_came_from(tmp_path: Path) -> None:
    write(tmp_path / "a.jsonl", line(span(span_id(1))))
    second = write(tmp_path / "b.jsonl", line(span(span_id(2), parent=span_id(7))))
    problems = read(tmp_path).diagnostics.problems
    assert [(p.kind, p.path) for p in problems] == [("orphan-span", str(second))]


def test_spans_of_different_traces_never_parent_each_other(tmp_path: Path) -> None:
    other = "0af7651916cd43dd8448eb211c80319c"
    path = write(
        tmp_path / "a.jsonl",
        line(span(span_id(1), kind=SERVER), span(span_id(2), parent=span_id(1), trace_id=other)),
    )
    assert "orphan-span" in _kinds(read(path))


def test_well_formed_trees_raise_no_note(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl",
        line(
            span(span_id(1), kind=SERVER, duration=10_000, attributes=[attr("http.route", "x/")]),
            span(span_id(2), parent=span_id(1), start=START + 10, duration=100),
        ),
    )
    assert read(path).diagnostics.problems == []


def test_strict_analysis_of_a_loop_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", line(span(span_id(1), parent=span_id(1))))
    result = CliRunner().invoke(cli, ["analyze", "--strict", str(path)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"spanscope: error: {path}: 1 span(s) name themselves")
