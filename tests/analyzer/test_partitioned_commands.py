"""``compare``, ``check``, ``correlate``, ``explain`` and ``report`` read a dump of more
than ``memory_spans`` spans a partition of whole traces at a time, as ``analyze``
does -- and get exactly what the whole dump gives in memory: the same request table,
row for row, the same N+1 findings and correlations, the same trace explained, the
same HTML report."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from compare_workloads import add_books_n_plus_one, add_books_select_related
from report_traffic import shop_spans
from spanbuilder import SpanBuilder
from spanscope.analyzer.analyses.compare import Measurement, compare, measure
from spanscope.analyzer.analyses.correlate import correlate
from spanscope.analyzer.analyses.explain import explain
from spanscope.analyzer.analyses.series import read_requests
from spanscope.analyzer.cli import cli
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.load import PartitionedRead
from spanscope.analyzer.render.html import html_report
from test_analyze_partitioned import SMALL, assert_same_report, partition_sizes, random_dump
from test_check_cli import BUDGETS, make_repo
from test_parquet_prepared import _mixed_dump
from test_parquet_rollups import RANDOM_OPTIONS
from timeseries_fixtures import Scenario, shop_traffic, write_dump

__all__ = ["partition_sizes", "random_dump"]  # fixtures, used by name


def assert_same_requests(found: pa.Table, expected: pa.Table) -> None:
    """Same columns, same rows in the same order; sums of floats to 1e-9."""
    assert found.column_names == expected.column_names
    assert found.num_rows == expected.num_rows
    for name in expected.column_names:
        left, right = found.column(name).to_pylist(), expected.column(name).to_pylist()
        if pa.types.is_floating(expected.schema.field(name).type):
            assert all(
                (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
                for a, b in zip(left, right, strict=True)
            ), name
        else:
            assert left == right, name


def assert_same_measurement(found: Measurement, expected: Measurement) -> None:
    assert_same_requests(found.requests, expected.requests)
    assert_same_report(
        [finding.to_dict() for finding in found.findings],
        [finding.to_dict() for finding in expected.findings],
        "findings",
    )
    assert found.files == expected.files
    assert found.diagnostics.problems == expected.diagnostics.problems


@pytest.mark.parametrize(("min_repeats", "group_by"), RANDOM_OPTIONS, ids=lambda value: str(value))
def test_a_spilled_dump_measures_the_requests_and_findings_of_the_whole(
    random_dump: Path, partition_sizes: list[int], min_repeats: int, group_by: str
) -> None:
    options: dict[str, Any] = {"min_repeats": min_repeats, "group_by": group_by}
    whole = measure(random_dump, memory_spans=None, **options)
    assert not partition_sizes
    found = measure(random_dump, memory_spans=SMALL, **options)
    assert len(partition_sizes) > 10
    assert max(partition_sizes) <= SMALL
    assert whole.requests.num_rows == 200 and whole.findings
    assert_same_measurement(found, whole)


def test_requests_come_back_ordered_by_start_then_trace_id(
    tmp_path: Path, partition_sizes: list[int]
) -> None:
    # Trace ids are made in order; start times run the other way, in pairs that start
    # together: both keys of the order decide somewhere.
    builder = SpanBuilder()
    for number in range(120):
        request = builder.request("GET", "books/", start_ms=1e6 - (number // 2) * 10, duration_ms=5)
        builder.query(request, "SELECT 1", start_ms=1e6 - (number // 2) * 10 + 1, duration_ms=1)
    pq.write_table(builder.table(), tmp_path / "ordered.parquet")
    whole = measure(tmp_path / "ordered.parquet", memory_spans=None)
    found = measure(tmp_path / "ordered.parquet", memory_spans=100)
    assert len(partition_sizes) > 2
    starts = whole.requests.column("start").to_pylist()
    assert starts == sorted(starts) and len(set(starts)) == 60
    assert_same_requests(found.requests, whole.requests)


def test_correlate_reads_the_requests_of_a_spilled_dump_as_of_the_whole(
    tmp_path: Path, partition_sizes: list[int]
) -> None:
    dump = write_dump(shop_traffic(Scenario(seed=3, minutes=20)), tmp_path / "shop.parquet")
    whole = read_requests(dump, memory_spans=None)
    assert not partition_sizes
    found = read_requests(dump, memory_spans=1_000)
    assert len(partition_sizes) > 2
    assert_same_requests(found.table, whole.table)
    assert found.files == whole.files
    in_memory = correlate(dump, interval="1min", memory_spans=None).to_dict()
    spilled = correlate(dump, interval="1min", memory_spans=1_000).to_dict()
    assert in_memory["results"] and in_memory["results"][0]["p_value"] < 0.05
    assert_same_report(spilled, in_memory)


@pytest.fixture
def partitions_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The span count of every partition read back, in order."""
    sizes: list[int] = []
    checked = PartitionedRead.checked

    def counting(self: PartitionedRead, buckets: tuple[int, int], *rest: Any) -> Any:
        result = checked(self, buckets, *rest)
        sizes.append(result.table.num_rows)
        return result

    monkeypatch.setattr(PartitionedRead, "checked", counting)
    return sizes


def _trace_ids(dump: Path) -> list[str]:
    ids = pq.read_table(dump, columns=["TraceId"]).column("TraceId")
    return sorted({str(value) for value in ids.to_pylist()})


@pytest.mark.parametrize("which", ["slowest", "full id", "unique prefix"])
def test_explain_finds_the_trace_of_a_spilled_dump_the_whole_gives(
    random_dump: Path, partitions_read: list[int], which: str
) -> None:
    trace_id = _trace_ids(random_dump)[77]
    trace = {"slowest": "slowest", "full id": trace_id, "unique prefix": trace_id[:-1]}[which]
    whole = explain(random_dump, trace, memory_spans=None)
    assert not partitions_read
    found = explain(random_dump, trace, memory_spans=SMALL)
    assert len(partitions_read) > 10 and max(partitions_read) <= SMALL
    assert found.spans > 1 and (which == "slowest" or found.trace_id == trace_id)
    assert found.to_dict() == whole.to_dict()


@pytest.mark.parametrize("memory_spans", [None, SMALL], ids=["in memory", "spilled"])
def test_explain_names_how_many_traces_a_short_prefix_matches(
    random_dump: Path, memory_spans: int | None
) -> None:
    ids = _trace_ids(random_dump)
    prefix = ids[0][:-2]
    matching = sum(1 for trace_id in ids if trace_id.startswith(prefix))
    assert matching > 1
    with pytest.raises(UsageError, match=f"{matching} trace ids start with"):
        explain(random_dump, prefix, memory_spans=memory_spans)
    with pytest.raises(UsageError, match="no trace id starts with 'zz'"):
        explain(random_dump, "zz", memory_spans=memory_spans)


def test_the_slowest_of_equally_slow_requests_is_the_smallest_trace_id(
    tmp_path: Path, partitions_read: list[int]
) -> None:
    builder = SpanBuilder()
    for number in range(60):
        request = builder.request("GET", "books/", start_ms=number * 10.0, duration_ms=5)
        builder.query(request, "SELECT 1", start_ms=number * 10.0 + 1, duration_ms=1)
    spans = builder.table()
    durations = pa.compute.if_else(
        pa.compute.equal(spans.column("SpanKind"), "Server"), 9_000_000, spans.column("Duration")
    )
    spans = spans.set_column(spans.schema.get_field_index("Duration"), "Duration", durations)
    # Read in reverse: the first of the equally slow requests read is the last by id.
    pq.write_table(spans.take(pa.array(range(spans.num_rows - 1, -1, -1))), tmp_path / "t.parquet")
    smallest = min(str(value) for value in spans.column("TraceId").to_pylist())
    for memory_spans in (None, 100):
        found = explain(tmp_path / "t.parquet", "slowest", memory_spans=memory_spans)
        assert found.trace_id == smallest
    assert len(partitions_read) > 1


def test_explain_command_reports_the_notes_of_a_spilled_dump(tmp_path: Path) -> None:
    dump = _mixed_dump(tmp_path / "mixed.jsonl", http=True)
    runner = CliRunner()
    results = [
        runner.invoke(cli, ["explain", "slowest", str(dump), "--format", "json", *extra])
        for extra in ([], ["--memory-spans", "100"])
    ]
    assert [result.exit_code for result in results] == [0, 0]
    assert results[0].stdout == results[1].stdout
    assert "whose parent is not in the input" in results[0].stderr
    assert results[0].stderr == results[1].stderr


def _page(dump: Path, **options: Any) -> dict[str, Any]:
    data = dict(html_report(dump, **options).data)
    assert data.pop("generated_ms") > 0
    return data


@pytest.mark.parametrize("group_by", ["route", "url"])
def test_the_report_of_a_spilled_dump_is_the_report_of_the_whole(
    tmp_path: Path, partitions_read: list[int], group_by: str
) -> None:
    dump = tmp_path / "shop.parquet"
    pq.write_table(shop_spans(requests=400, minutes=20, seed=5), dump)
    whole = _page(dump, memory_spans=None, group_by=group_by)
    assert not partitions_read
    found = _page(dump, memory_spans=1_000, group_by=group_by)
    first_pass = whole["input"]["spans"] // 500
    assert len(partitions_read) > first_pass  # then the partitions with a waterfall again
    assert whole["waterfalls"] and whole["statements"] and whole["latency"]
    assert whole["correlation"] and whole["n_plus_one"]["findings"]
    assert_same_report(found, whole)


def _measured(dump: Path, memory_spans: int | None) -> tuple[Any, Diagnostics]:
    found = measure(dump, memory_spans=memory_spans)
    assert found.requests.num_rows and pa.compute.any(found.requests.column("error")).as_py()
    requests = found.requests.to_pylist()
    return {"requests": requests, "findings": [f.to_dict() for f in found.findings]}, (
        found.diagnostics
    )


def _reported(dump: Path, memory_spans: int | None) -> tuple[Any, Diagnostics]:
    found = html_report(dump, memory_spans=memory_spans)
    assert found.data["n_plus_one_http"]["findings"] and found.data["waterfalls"]
    return {**found.data, "generated_ms": 0}, found.diagnostics


def _explained(dump: Path, memory_spans: int | None) -> tuple[Any, Diagnostics]:
    found = explain(dump, "slowest", memory_spans=memory_spans)
    return found.to_dict(), found.diagnostics


@pytest.mark.parametrize("command", [_measured, _reported, _explained], ids=lambda f: f.__name__)
def test_a_spilled_dump_keeps_orphans_404s_errors_http_calls_and_their_notes(
    tmp_path: Path,
    partitions_read: list[int],
    command: Callable[[Path, int | None], tuple[Any, Diagnostics]],
) -> None:
    dump = _mixed_dump(tmp_path / "mixed.jsonl", http=True)
    whole, whole_notes = command(dump, None)
    assert not partitions_read
    found, found_notes = command(dump, 100)
    assert len(partitions_read) > 1
    assert whole_notes.problems and found_notes.problems == whole_notes.problems
    assert_same_report(found, whole)


def _books(path: Path, *, fixed: bool, seed: int) -> Path:
    """The books demo's list view, N+1 or fixed, 12 requests of 40 books."""
    builder = SpanBuilder()
    rng = np.random.default_rng(seed)
    if fixed:
        add_books_select_related(builder, count=12, rng=rng)
    else:
        add_books_n_plus_one(builder, count=12, books=40, query_ms=2, rng=rng)
    pq.write_table(builder.table(), path)
    return path


def test_compare_of_spilled_dumps_gives_the_verdicts_of_the_whole(
    tmp_path: Path, partition_sizes: list[int]
) -> None:
    before = _books(tmp_path / "before.parquet", fixed=False, seed=1)
    after = _books(tmp_path / "after.parquet", fixed=True, seed=2)
    whole = compare(before, after, memory_spans=None).to_dict()
    found = compare(before, after, memory_spans=200).to_dict()
    assert len(partition_sizes) > 2  # the N+1 side (~1,000 spans) was spilled
    assert [finding["status"] for finding in whole["n_plus_one"]] == ["resolved", "resolved"]
    assert_same_report(found, whole)


def test_check_and_compare_commands_take_memory_spans(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partition_sizes: list[int]
) -> None:
    monkeypatch.chdir(make_repo(tmp_path))
    assert "max_n_plus_one = 0" in BUDGETS
    slow = _books(tmp_path / "slow.parquet", fixed=False, seed=3)
    fast = _books(tmp_path / "fast.parquet", fixed=True, seed=4)
    runner = CliRunner()
    checked = [
        runner.invoke(cli, ["check", str(slow), "--format", "json", *extra])
        for extra in ([], ["--memory-spans", "200"])
    ]
    assert partition_sizes  # the second run was spilled
    assert [result.exit_code for result in checked] == [1, 1]  # N+1 over its budget
    assert_same_report(
        *(_without_version(result.stdout) for result in reversed(checked)), where="check"
    )
    compared = runner.invoke(
        cli, ["compare", str(slow), str(fast), "--format", "json", "--memory-spans", "200"]
    )
    assert compared.exit_code == 0, compared.stderr
    assert '"resolved"' in compared.stdout


@pytest.mark.parametrize("command", ["check", "compare", "correlate", "explain", "report"])
def test_memory_spans_below_the_minimum_is_a_usage_error(random_dump: Path, command: str) -> None:
    paths = [str(random_dump)] * (2 if command == "compare" else 1)
    arguments = {"explain": ["slowest", *paths], "report": [*paths, "-o", "r.html"]}.get(
        command, paths
    )
    result = CliRunner().invoke(cli, [command, *arguments, "--memory-spans", "10"])
    assert result.exit_code == 2
    assert "--memory-spans" in result.stderr and "Traceback" not in result.stderr


def _without_version(text: str) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(text)
    data.pop("spanscope_version", None)
    return data
