"""``--group-by`` and ``--apdex-ms`` on the command line, and their ``[tool.spanscope]`` defaults."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from spanscope.analyzer.cli import cli

BOOKS_SAMPLE = str(
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)


def run(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args])
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def endpoint_names(report: dict[str, Any]) -> list[str]:
    return [row["endpoint"] for row in report["endpoints"]]


def test_group_by_url_keys_the_books_sample_by_requested_path(tmp_path: Path) -> None:
    report = run("analyze", BOOKS_SAMPLE, "--format", "json", "--group-by", "url")
    assert endpoint_names(report) == ["GET /books/", "GET /nonexistent-warmup/"]
    assert {f["endpoint"] for f in report["n_plus_one"]} == {"GET /books/"}


def test_apdex_target_from_the_command_line_scores_the_slow_books_request(
    tmp_path: Path,
) -> None:
    # The books request took 104 ms: satisfied at T = 500 ms, tolerating at T = 50 ms.
    lenient = run("analyze", BOOKS_SAMPLE, "--format", "json")
    strict = run("analyze", BOOKS_SAMPLE, "--format", "json", "--apdex-ms", "50")
    assert lenient["endpoints"][0]["apdex"] == 1.0
    assert strict["endpoints"][0]["apdex"] == 0.5
    assert strict["options"]["apdex_ms"] == 50.0


def test_both_defaults_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "spanscope.toml"
    config.write_text('[tool.spanscope]\ngroup_by = "url"\napdex_ms = 50\n')
    report = run("analyze", BOOKS_SAMPLE, "--format", "json", "--config", str(config))
    assert report["options"] == {"min_repeats": 5, "group_by": "url", "apdex_ms": 50.0}
    assert endpoint_names(report)[0] == "GET /books/"


def test_compare_groups_both_sides_the_same_way(tmp_path: Path) -> None:
    report = run("compare", BOOKS_SAMPLE, BOOKS_SAMPLE, "--format", "json", "--group-by", "url")
    assert {row["endpoint"] for row in report["endpoints"]} == {
        "GET /books/",
        "GET /nonexistent-warmup/",
    }


def test_group_by_url_on_a_partitioned_parquet_reads_the_url_the_attribute_map_holds(
    tmp_path: Path,
) -> None:
    # The sample's server spans carry only `http.url` (no `http.target`): a Parquet read
    # for analysis, which skips the attribute maps where it can, must still fetch it.
    dataset = tmp_path / "dataset"
    converted = CliRunner().invoke(
        cli, ["convert", BOOKS_SAMPLE, "-o", str(dataset), "--partition-by", "date"]
    )
    assert converted.exit_code == 0, converted.stderr
    from_parquet = run("analyze", str(dataset), "--format", "json", "--group-by", "url")
    from_json = run("analyze", BOOKS_SAMPLE, "--format", "json", "--group-by", "url")
    assert endpoint_names(from_parquet) == ["GET /books/", "GET /nonexistent-warmup/"]
    assert from_parquet["endpoints"] == from_json["endpoints"]
