"""The ``spanscope`` console script does without pandas (``cli/without_pandas.py``), so
no command may lean on pandas to turn nanosecond timestamps into Python objects:
every analysing command runs, through the real entry point, on spans whose start
times are not whole microseconds (the OpenTelemetry SDK records nanoseconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from spanbuilder import SpanBuilder
from test_parquet_command_imports import _run_main


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    builder = SpanBuilder()
    for number in range(40):
        start = number * 1_000.0 + 0.000_123  # 123 ns past the millisecond
        request = builder.request("GET", "books/", start_ms=start, duration_ms=20 + number % 7 * 3)
        for query in range(6):
            builder.query(
                request,
                "SELECT * FROM author WHERE id = ?",
                start_ms=start + query + 1.000_007,
                duration_ms=0.5,
            )
    table = builder.table()
    assert any(value.value % 1_000 for value in table.column("Timestamp"))
    path = tmp_path_factory.mktemp("ns") / "ns.parquet"
    pq.write_table(table, path)
    return path


def test_explain_prints_the_tree_of_a_trace_with_nanosecond_starts(dump: Path) -> None:
    done, imported = _run_main("explain", "slowest", str(dump), "--format", "json")
    assert "pandas" not in imported
    tree = json.loads("\n".join(done.stdout.splitlines()[:-1]))
    assert tree["spans"] == 7 and tree["findings"]
    [root] = tree["roots"]
    assert root["children"][0]["count"] == 6 and root["children"][0]["start_ms"] == 1.0


@pytest.mark.parametrize(
    "command",
    [
        ["analyze", "--format", "json"],
        ["correlate", "--format", "json", "--interval", "1s"],
        ["compare", "--format", "json", "DUMP"],
    ],
    ids=lambda command: command[0],
)
def test_every_analysing_command_runs_on_nanosecond_starts(dump: Path, command: list[str]) -> None:
    name, *options = command
    arguments = [str(dump) if option == "DUMP" else option for option in options]
    done, imported = _run_main(name, str(dump), *arguments)
    assert "pandas" not in imported
    assert json.loads("\n".join(done.stdout.splitlines()[:-1]))


def test_report_writes_its_page_for_nanosecond_starts(dump: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    _, imported = _run_main("report", str(dump), "-o", str(page))
    assert "pandas" not in imported
    assert "GET books/" in page.read_text()
