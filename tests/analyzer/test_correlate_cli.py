"""``spanscope correlate``: the ranking on stdout or in a file, JSON for machines, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from spanscope.analyzer.cli import cli
from timeseries_fixtures import Scenario, shop_traffic, write_dump

RESULT_KEYS = {"kind", "name", "r", "p_value", "q_value", "r_undifferenced", "n", "note"}


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("correlate")
    return write_dump(shop_traffic(Scenario(seed=3)), folder / "traces.parquet")


@pytest.fixture(scope="module")
def short_dump(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("correlate-short")
    return write_dump(shop_traffic(Scenario(seed=3, minutes=8)), folder / "short.parquet")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["correlate", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_document_has_the_documented_shape(dump: Path) -> None:
    code, out, err = run(str(dump), "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert document["schema_version"] == "1"
    assert document["interval_s"] == 60.0
    assert document["buckets"] == 40 and document["empty_buckets"] == 0
    assert document["differenced"] is True
    assert document["results"] and all(set(row) == RESULT_KEYS for row in document["results"])
    kinds = {row["kind"] for row in document["results"]}
    assert kinds == {"layer", "endpoint_time", "endpoint_throughput"}
    assert all(set(item) == {"kind", "name", "reason"} for item in document["skipped"])


def test_json_results_are_sorted_by_p_value_with_the_planted_cause_first(dump: Path) -> None:
    _, out, _ = run(str(dump), "--format", "json")
    results = json.loads(out)["results"]
    assert [row["p_value"] for row in results] == sorted(row["p_value"] for row in results)
    assert (results[0]["kind"], results[0]["name"]) == ("layer", "db")
    assert results[0]["p_value"] > 0  # tiny p-values keep their digits, never round to 0


def test_json_lists_constant_series_as_skipped(dump: Path) -> None:
    _, out, _ = run(str(dump), "--format", "json")
    skipped = {(s["kind"], s["name"]): s["reason"] for s in json.loads(out)["skipped"]}
    assert "constant" in skipped[("endpoint_throughput", "GET reports/")]


def test_no_diff_switches_to_raw_levels_where_the_shared_trend_looks_significant(
    dump: Path,
) -> None:
    _, out, _ = run(str(dump), "--format", "json", "--no-diff")
    document = json.loads(out)
    assert document["differenced"] is False
    reports = next(r for r in document["results"] if r["name"] == "GET reports/")
    assert reports["q_value"] < 0.05


def test_top_limits_the_rows_and_counts_the_rest(dump: Path) -> None:
    _, full, _ = run(str(dump), "--format", "json")
    _, top, _ = run(str(dump), "--format", "json", "--top", "3")
    everything, first = json.loads(full), json.loads(top)
    assert first["results"] == everything["results"][:3]
    assert first["omitted_results"] == len(everything["results"]) - 3


def test_output_file_with_json_suffix_gets_json(dump: Path, tmp_path: Path) -> None:
    target = tmp_path / "ranking.json"
    code, out, _ = run(str(dump), "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text())["results"][0]["name"] == "db"


def test_terminal_table_shows_the_ranking_and_the_skipped_series(dump: Path) -> None:
    code, out, _ = run(str(dump))
    assert code == 0
    assert out.startswith("Correlation with the mean response time: 40 buckets of 1min;")
    first_row = next(line for line in out.splitlines() if line.lstrip().startswith("1 "))
    assert "layer" in first_row and "db" in first_row
    assert "GET reports/: constant (2 requests in every bucket)" in out


def test_too_few_buckets_exit_2_with_one_line_naming_the_interval_option(
    short_dump: Path,
) -> None:
    code, out, err = run(str(short_dump))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("spanscope: error: only 7 differenced points")
    assert "smaller --interval" in err


def test_a_smaller_interval_makes_a_short_dump_usable(short_dump: Path) -> None:
    code, out, _ = run(str(short_dump), "--interval", "20s", "--format", "json")
    assert code == 0
    assert json.loads(out)["interval_s"] == 20.0


def test_unreadable_interval_fails_before_reading_any_file(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "missing.jsonl"), "--interval", "soon")
    assert code == 2
    assert "cannot read the interval 'soon'" in err and "(hint: " in err
