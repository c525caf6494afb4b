"""Parents are resolved once: the span-tree check while reading finds each span's parent
row, and the analyses reuse it instead of joining the ids again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from otlp_records import START, line, span, span_id, write
from spanscope.analyzer import engine
from spanscope.analyzer import requests as requests_module
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.load import read
from spanscope.analyzer.readers import span_tree

SERVER = 2


def _dump(path: Path) -> Path:
    return write(
        path,
        line(
            span(span_id(1), kind=SERVER),
            span(span_id(2), parent=span_id(1), start=START + 10),
            span(span_id(3), parent=span_id(2), start=START + 20),
            span(span_id(4), parent=span_id(99)),  # an orphan
            span(span_id(5), parent=span_id(6), start=START + 5),  # a loop of two
            span(span_id(6), parent=span_id(5), start=START + 6),
        ),
    )


def test_read_hands_on_the_parent_row_of_every_span(tmp_path: Path) -> None:
    result = read(_dump(tmp_path / "a.jsonl"))
    table = result.table
    assert result.parent is not None
    expected = engine.parent_rows(
        table.column("TraceId"), table.column("SpanId"), table.column("ParentSpanId")
    )
    # the loop was broken first: the rows match the ids the table now holds
    assert result.parent.tolist() == expected.tolist()
    assert int(np.count_nonzero(result.parent >= 0)) == 3


@pytest.fixture
def parent_joins(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Every id join the span-tree check or the analyses run, recorded as it runs."""
    calls: list[tuple[Any, ...]] = []

    def counted(*args: Any) -> Any:
        calls.append(args)
        return engine.parent_rows(*args)

    monkeypatch.setattr(span_tree, "parent_rows", counted)
    monkeypatch.setattr(requests_module, "parent_rows", counted)
    return calls


def test_analyzing_a_dump_resolves_parents_once(
    tmp_path: Path, parent_joins: list[tuple[Any, ...]]
) -> None:
    report = analyze(_dump(tmp_path / "a.jsonl"))
    assert report.input.spans == 6
    # Canonical hex ids: each table's parents were found as it was read (span_keys),
    # and neither the check nor the analyses joined the ids again.
    assert parent_joins == []


def test_overlapping_files_have_their_parents_resolved_once_after_deduplication(
    tmp_path: Path, parent_joins: list[tuple[Any, ...]]
) -> None:
    first = _dump(tmp_path / "a.jsonl")
    second = _dump(tmp_path / "b.jsonl")  # the same spans again: a rotated copy
    report = analyze([str(first), str(second)])
    assert report.input.spans == 6
    assert len(parent_joins) == 1


def test_a_table_passed_in_memory_has_its_parents_resolved_alike(tmp_path: Path) -> None:
    loaded = read(_dump(tmp_path / "a.jsonl"))
    assert loaded.parent is not None
    resolved = requests_module.prepare(loaded.table).tree.parent
    assert resolved.tolist() == loaded.parent.tolist()
