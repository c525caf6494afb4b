"""``spanscope analyze`` honours ``[tool.spanscope]``: its N+1 threshold and acknowledged findings."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from spanscope.analyzer.cli import cli

BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)
AUTHOR_LOOKUP = (
    'SELECT "books_author"."id", "books_author"."name" FROM "books_author" '
    'WHERE "books_author"."id" = %s LIMIT 21'
)


def analyze_json(config: Path, *extra: str) -> tuple[dict[str, object], str]:
    result = CliRunner().invoke(
        cli, ["analyze", str(BOOKS_SAMPLE), "--format", "json", "--config", str(config), *extra]
    )
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout), result.stderr


def write_config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "spanscope.toml"
    path.write_text("[tool.spanscope]\n" + body)
    return path


def test_min_repeats_from_the_config_file_applies(tmp_path: Path) -> None:
    report, _ = analyze_json(write_config(tmp_path, "min_repeats = 201\n"))
    assert report["n_plus_one"] == []
    assert report["options"]["min_repeats"] == 201


def test_command_line_threshold_wins_over_the_config_file(tmp_path: Path) -> None:
    report, _ = analyze_json(write_config(tmp_path, "min_repeats = 201\n"), "--min-repeats", "5")
    assert isinstance(report["n_plus_one"], list)
    assert len(report["n_plus_one"]) == 2


def test_acknowledged_finding_is_left_out_and_said_on_stderr(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        "\n[[tool.spanscope.acknowledged]]\n"
        'endpoint = "GET books/"\n'
        f"statement = '{AUTHOR_LOOKUP}'\n"
        'reason = "authors are cached upstream"\n',
    )
    report, err = analyze_json(config)
    findings = report["n_plus_one"]
    assert isinstance(findings, list)
    assert ["books_publisher" in finding["statement"] for finding in findings] == [True]
    assert "1 acknowledged N+1 finding(s) left out" in err
    assert str(config) in err


def test_unknown_key_in_the_config_is_a_one_line_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, "min_repeat = 3\n")
    result = CliRunner().invoke(cli, ["analyze", str(BOOKS_SAMPLE), "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "min_repeat" in result.stderr
    assert "hint:" in result.stderr


def test_help_mentions_the_config_file() -> None:
    result = CliRunner().invoke(cli, ["analyze", "--help"])
    assert "[tool.spanscope]" in result.stdout
