"""``spanscope compare BEFORE AFTER``: the books demo's before/after table, in ms, and JSON.

The terminal table follows the results table of AppSignal's N+1 write-up
(version, query strategy, response time), in milliseconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from compare_workloads import Endpoint, add_books_n_plus_one, add_books_select_related, add_requests
from spanbuilder import SpanBuilder
from spanscope.analyzer.cli import cli

BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def dumps(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Parquet span dumps of the books demo before and after ``select_related``."""
    folder = tmp_path_factory.mktemp("compare")
    rng = np.random.default_rng(21)
    before, after = SpanBuilder(), SpanBuilder()
    add_books_n_plus_one(before, count=6, books=200, query_ms=10, rng=rng)
    add_books_select_related(after, count=6, rng=rng)
    for builder in (before, after):
        add_requests(builder, Endpoint("authors/", 30), count=60, rng=rng, start_ms=1e7)
    pq.write_table(before.table(), folder / "before.parquet")
    pq.write_table(after.table(), folder / "after.parquet")
    return folder / "before.parquet", folder / "after.parquet"


@pytest.fixture(scope="module")
def terminal(dumps: tuple[Path, Path]) -> str:
    """The terminal report of the books fix, rendered once for the tests that read it."""
    code, out, err = run("compare", str(dumps[0]), str(dumps[1]))
    assert code == 0, err
    return out


def row(out: str, version: str) -> list[str]:
    """The cells of the first table row of ``version`` (before/after/change)."""
    for line in out.splitlines():
        cells = line.split()
        if version in cells[:3]:
            return cells
    raise AssertionError(f"no {version} row in:\n{out}")


def test_terminal_table_reads_like_a_before_after_write_up(terminal: str) -> None:
    out = terminal
    header = next(line for line in out.splitlines() if "query strategy" in line)
    assert re.findall(r"version|query strategy|mean|p50|p95", header) == [
        "version",
        "query strategy",
        "mean",
        "p50",
        "p95",
    ]
    assert "(ms)" in out
    before, after = row(out, "before"), row(out, "after")
    assert "N+1" in before and "queries" in before
    assert "no" in after and "N+1" in after
    # response times in milliseconds: seconds before ("4,123"), tens of ms after ("61.3")
    assert 3_000 < float(before[-3].replace(",", "")) < 6_000
    assert 40 < float(after[-3]) < 80


def test_terminal_verdict_and_resolved_n_plus_one(terminal: str) -> None:
    out = terminal
    change = " ".join(row(out, "change"))
    match = re.search(r"faster \(p=0\.00\d, ([\d.]+)x\)", change)
    assert match, change  # six fully separated requests a side: p = 2 / C(12, 6) = 0.002
    assert float(match.group(1)) > 50
    assert "N+1 queries: 2 resolved, 0 remaining, 0 new" in out
    assert "inventory.Book.author" in out and "inventory.Book.publisher" in out


def test_json_format_documents_verdicts_and_findings(dumps: tuple[Path, Path]) -> None:
    code, out, _ = run("compare", str(dumps[0]), str(dumps[1]), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert (document["schema_version"], document["kind"]) == ("1", "compare")
    books = next(e for e in document["endpoints"] if e["endpoint"] == "GET books/")
    assert books["verdict"] == "faster"
    assert books["before"]["n_plus_one"] == 2 and books["after"]["n_plus_one"] == 0
    assert books["change"]["queries_per_request"] == -400
    assert 0 < books["p_value"] < 0.01  # kept in significant digits, never rounded to 0
    assert [f["status"] for f in document["n_plus_one"]] == ["resolved", "resolved"]


def test_before_and_after_options_take_several_inputs(
    dumps: tuple[Path, Path], tmp_path: Path
) -> None:
    # The after dump split in two files, as a rotating exporter would write it.
    spans = pq.read_table(dumps[1])
    half = spans.num_rows // 2
    parts = [tmp_path / "after-1.parquet", tmp_path / "after-2.parquet"]
    pq.write_table(spans.slice(0, half), parts[0])
    pq.write_table(spans.slice(half), parts[1])
    code, out, _ = run(
        "compare", "--before", str(dumps[0]), "--after", str(parts[0]), "--after", str(parts[1])
    )
    assert code == 0
    assert "after 66 requests (2 files)" in out


def test_output_file_suffix_picks_json(dumps: tuple[Path, Path], tmp_path: Path) -> None:
    target = tmp_path / "compare.json"
    code, out, _ = run("compare", str(dumps[0]), str(dumps[1]), "-o", str(target))
    assert (code, out) == (0, "")
    assert json.loads(target.read_text())["kind"] == "compare"


def test_thresholds_come_from_pyproject(
    dumps: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.spanscope.compare]\nalpha = 0.01\nmin_change_pct = 20\nmetric = "p95"\n'
    )
    monkeypatch.chdir(tmp_path)
    _, out, _ = run("compare", str(dumps[0]), str(dumps[1]), "--format", "json")
    options = json.loads(out)["options"]
    assert (options["alpha"], options["min_change_pct"], options["metric"]) == (0.01, 20, "p95")


def test_command_line_overrides_pyproject(
    dumps: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.spanscope.compare]\nmin_change_pct = 20\n")
    monkeypatch.chdir(tmp_path)
    _, out, _ = run(
        "compare", str(dumps[0]), str(dumps[1]), "--format", "json", "--min-change-pct", "2"
    )
    assert json.loads(out)["options"]["min_change_pct"] == 2


def test_single_request_dumps_are_too_few_to_judge() -> None:
    code, out, _ = run("compare", str(BOOKS_SAMPLE), str(BOOKS_SAMPLE), "--format", "json")
    assert code == 0
    books = next(e for e in json.loads(out)["endpoints"] if e["endpoint"] == "GET books/")
    assert books["verdict"] == "too few requests"
    assert [f["status"] for f in json.loads(out)["n_plus_one"]] == ["remaining", "remaining"]


def test_three_positional_paths_are_a_usage_error_with_a_hint() -> None:
    code, _, err = run("compare", "a", "b", "c")
    assert code == 2
    assert "expected BEFORE and AFTER, got 3" in err and "hint:" in err


def test_positional_paths_and_side_options_do_not_mix(dumps: tuple[Path, Path]) -> None:
    code, _, err = run("compare", str(dumps[0]), "--after", str(dumps[1]))
    assert code == 2
    assert "not both" in err


def test_a_side_without_requests_is_an_input_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, err = run("compare", str(empty), str(BOOKS_SAMPLE))
    assert code == 2
    assert "BEFORE" in err and "no requests" in err


def test_missing_input_is_an_input_error(tmp_path: Path) -> None:
    code, _, err = run("compare", str(tmp_path / "nope.jsonl"), str(BOOKS_SAMPLE))
    assert code == 2
    assert "hint:" in err


def test_compare_is_documented_in_help() -> None:
    code, out, _ = run("--help")
    assert code == 0
    assert "compare" in out
