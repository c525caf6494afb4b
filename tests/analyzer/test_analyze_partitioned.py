"""A dump of more than ``memory_spans`` spans is spilled to disk by trace and analysed a
partition of whole traces at a time -- and the report is the one the whole dump gives
in memory, up to the order floating-point sums were added in."""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from spanbuilder import SpanBuilder
from spanscope.analyzer.analyses import partitioned
from spanscope.analyzer.analyses.analysis_input import AnalysisInput, analysis_input
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.cli import cli
from spanscope.analyzer.errors import SpillError, UnreadableInputError, UsageError
from spanscope.analyzer.spill import TraceSpill, bucket_of
from test_parquet_prepared import _mixed_dump
from test_parquet_rollups import RANDOM_OPTIONS, _random_spans

#: Every partition of the dumps below holds a few whole traces.
SMALL = 300


def assert_same_report(found: Any, expected: Any, where: str = "report") -> None:
    """Equal, floats to 1e-9 relative: partitions add request rows in another order."""
    if isinstance(expected, dict):
        assert found.keys() == expected.keys(), where
        for key in expected:
            assert_same_report(found[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(found) == len(expected), where
        for number, (left, right) in enumerate(zip(found, expected, strict=True)):
            assert_same_report(left, right, f"{where}[{number}]")
    elif isinstance(expected, float):
        assert math.isclose(found, expected, rel_tol=1e-9, abs_tol=1e-9), (where, found)
    else:
        assert found == expected, where


@pytest.fixture
def partition_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The span count of every partition prepared, in order."""
    sizes: list[int] = []
    prepare = partitioned.prepare

    def counting(table: pa.Table, parent: Any = None) -> Any:
        sizes.append(table.num_rows)
        return prepare(table, parent)

    monkeypatch.setattr(partitioned, "prepare", counting)
    return sizes


@pytest.fixture
def random_dump(tmp_path: Path) -> Path:
    """~4,800 spans in 200 traces: loops, nested sections, overlaps, duplicates."""
    path = tmp_path / "random.parquet"
    pq.write_table(_random_spans(7, requests=200), path)
    return path


@pytest.mark.parametrize(("min_repeats", "group_by"), RANDOM_OPTIONS, ids=lambda value: str(value))
def test_partitions_of_random_loops_give_the_report_of_the_whole_dump(
    random_dump: Path, partition_sizes: list[int], min_repeats: int, group_by: str
) -> None:
    options: dict[str, Any] = {"min_repeats": min_repeats, "group_by": group_by}
    whole = analyze(random_dump, memory_spans=None, **options).to_dict()
    assert not partition_sizes
    found = analyze(random_dump, memory_spans=SMALL, **options).to_dict()
    assert len(partition_sizes) > 10
    assert max(partition_sizes) <= SMALL
    assert sum(partition_sizes) == whole["input"]["spans"]
    assert whole["n_plus_one"] and whole["duplicates"] and whole["slow_queries"]
    assert_same_report(found, whole)


def test_partitions_keep_http_n_plus_one_errors_404s_and_orphans(
    tmp_path: Path, partition_sizes: list[int]
) -> None:
    dump = _mixed_dump(tmp_path / "mixed.jsonl", http=True)
    whole = analyze(dump, memory_spans=None)
    found = analyze(dump, memory_spans=100)
    assert len(partition_sizes) > 1
    assert whole.n_plus_one_http and whole.diagnostics.problems
    assert found.diagnostics.problems == whole.diagnostics.problems
    assert_same_report(found.to_dict(), whole.to_dict())


def test_spans_repeated_in_overlapping_files_are_counted_once(
    tmp_path: Path, random_dump: Path, partition_sizes: list[int]
) -> None:
    rotated = tmp_path / "rotated.parquet"
    rotated.write_bytes(random_dump.read_bytes())
    whole = analyze(random_dump, memory_spans=None).to_dict()
    found = analyze([random_dump, rotated], memory_spans=SMALL).to_dict()
    assert partition_sizes and sum(partition_sizes) == whole["input"]["spans"]
    assert found.pop("input") == {**whole.pop("input"), "files": 2}
    assert_same_report(found, whole)


def _orphans(traces: int) -> pa.Table:
    """One request per trace whose query names a parent that is not in the dump."""
    builder = SpanBuilder()
    for number in range(traces):
        request = builder.request("GET", "books/", start_ms=number * 10.0, duration_ms=5)
        for _ in range(20):
            builder.query(request, "SELECT 1", start_ms=number * 10.0 + 1, duration_ms=1)
        builder.span(
            None,
            "lost child",
            start_ms=number * 10.0,
            duration_ms=1,
            trace_id=request.trace_id,
            parent_span_id=f"{number + 1:014x}ff",
        )
    return builder.table()


def test_tree_notes_of_all_partitions_make_one_note_per_kind(
    tmp_path: Path, partition_sizes: list[int]
) -> None:
    dump = tmp_path / "orphans.parquet"
    pq.write_table(_orphans(40), dump)
    whole = analyze(dump, memory_spans=None)
    found = analyze(dump, memory_spans=100)
    assert len(partition_sizes) > 1
    notes = [p for p in found.diagnostics.problems if p.kind == "orphan-span"]
    assert len(notes) == 1
    assert notes[0].message.startswith("40 span(s) whose parent is not in the input")
    assert found.diagnostics.problems == whole.diagnostics.problems


def test_strict_mode_still_fails_on_a_parent_cycle_in_a_partition(tmp_path: Path) -> None:
    table = _orphans(10)
    looped = SpanBuilder(_ids=itertools.count(10**6))  # ids apart from the table's
    request = looped.request("GET", "books/", start_ms=0, duration_ms=5)
    looped.span(
        None,
        "self",
        start_ms=1,
        duration_ms=1,
        trace_id=request.trace_id,
        span_id="00000000000000aa",
        parent_span_id="00000000000000aa",
    )
    dump = tmp_path / "cycle.parquet"
    pq.write_table(pa.concat_tables([table, looped.table()]), dump)
    with pytest.raises(UnreadableInputError, match="name themselves as their parent"):
        analyze(dump, memory_spans=100, strict=True)


def test_an_input_within_memory_spans_is_read_whole(random_dump: Path) -> None:
    assert isinstance(analysis_input(random_dump, memory_spans=10**6), AnalysisInput)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder spills go to."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_the_spilled_files_are_removed_after_the_analysis_and_after_a_failure(
    scratch: Path, random_dump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    analyze(random_dump, memory_spans=SMALL)
    assert not list(scratch.iterdir())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("analysis failed")

    monkeypatch.setattr(partitioned, "prepare", broken)
    with pytest.raises(RuntimeError):
        analyze(random_dump, memory_spans=SMALL)
    assert not list(scratch.iterdir())


def _analyze_command(dump: Path) -> Any:
    options = ["analyze", "--memory-spans", str(SMALL), "--format", "json", str(dump)]
    return CliRunner().invoke(cli, options)


def _one_clear_error(result: Any) -> None:
    assert result.exit_code == SpillError.exit_code
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot write spans to the temporary folder" in result.stderr
    assert "(hint: free space there, point TMPDIR at a larger folder" in result.stderr


def test_a_temporary_folder_that_cannot_be_made_is_one_clear_error(
    tmp_path: Path, random_dump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    monkeypatch.setattr(tempfile, "tempdir", str(not_a_folder))
    _one_clear_error(_analyze_command(random_dump))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_is_one_clear_error_and_leaves_nothing_behind(
    scratch: Path, random_dump: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every spill file is written to /dev/full: the kernel's own "no space left".
    monkeypatch.setattr(TraceSpill, "_next_path", lambda self: "/dev/full")
    _one_clear_error(_analyze_command(random_dump))
    assert not list(scratch.iterdir())


def test_memory_spans_below_the_minimum_is_a_usage_error(random_dump: Path) -> None:
    result = CliRunner().invoke(cli, ["analyze", "--memory-spans", "10", str(random_dump)])
    assert result.exit_code == 2
    assert "--memory-spans" in result.stderr and "x>=100" in result.stderr
    with pytest.raises(UsageError, match="at least 100"):
        analyze(random_dump, memory_spans=10)


def test_the_same_trace_lands_in_the_same_bucket_in_every_table() -> None:
    first = pa.chunked_array([["a" * 32, "b" * 32, "a" * 32, None]])
    second = pa.array(["b" * 32, "a" * 32])
    buckets = bucket_of(first, 128)
    assert buckets[0] == buckets[2] == bucket_of(second, 128)[1]
    assert buckets[1] == bucket_of(second, 128)[0]
    assert buckets[3] == 0  # a null id


def test_a_partition_holds_whole_traces_each_in_the_order_it_was_read(tmp_path: Path) -> None:
    table = _random_spans(3, requests=60)
    halves = [table.slice(0, table.num_rows // 2), table.slice(table.num_rows // 2)]
    with TraceSpill(table.schema, buckets=16) as spill:
        for origin, half in enumerate(halves):
            spill.add(half, origin)
        parts = [spill.read(*buckets) for buckets in spill.partitions(max_rows=400)]
    assert len(parts) > 1
    seen: set[str] = set()
    for part, origin in parts:
        traces = set(part.column("TraceId").to_pylist())
        assert not traces & seen  # no trace is split between partitions
        seen |= traces
        # A trace's rows keep the order they were read in, and their file.
        read_order = table.column("SpanId").to_pylist()
        for trace in traces:
            rows = pc.equal(part.column("TraceId"), trace)
            ids = part.column("SpanId").filter(rows).to_pylist()
            positions = [read_order.index(span) for span in ids]
            assert positions == sorted(positions)
            files = origin[np.asarray(rows)]
            assert list(files) == [int(p >= halves[0].num_rows) for p in positions]
    assert sum(part.num_rows for part, _ in parts) == table.num_rows
