"""``spanscope report PATH... -o report.html``: one file, a size line, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from spanscope.analyzer.cli import cli

BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _embedded(page: str) -> dict[str, Any]:
    match = re.search(
        r'<script type="application/json" id="spanscope-data">(.*?)</script>', page, re.S
    )
    assert match is not None
    data: dict[str, Any] = json.loads(match[1])
    return data


def test_report_writes_one_html_file_with_the_books_demo_findings(tmp_path: Path) -> None:
    output = tmp_path / "report.html"
    code, out, err = run("report", str(BOOKS_SAMPLE), "-o", str(output), "--title", "Books demo")
    assert code == 0, err
    assert out == ""
    assert f"wrote {output}" in err
    data = _embedded(output.read_text("utf-8"))
    assert data["title"] == "Books demo"
    assert data["input"]["files"] == 1
    assert [f["repeats"] for f in data["n_plus_one"]["findings"]] == [200, 200]
    assert "GET books/" in data["waterfalls"]


def test_output_file_is_required(tmp_path: Path) -> None:
    code, _, err = run("report", str(BOOKS_SAMPLE))
    assert code == 2
    assert "-o" in err


def test_unwritable_output_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, err = run("report", str(BOOKS_SAMPLE), "-o", str(tmp_path / "missing" / "r.html"))
    assert code == 2
    assert err.startswith("spanscope: error: cannot write") and "(hint:" in err
    assert len(err.strip().splitlines()) == 1


def test_an_interval_giving_too_many_buckets_is_refused_with_a_hint(tmp_path: Path) -> None:
    code, _, err = run(
        "report", str(BOOKS_SAMPLE), "-o", str(tmp_path / "r.html"), "--interval", "0.00001"
    )
    assert code == 2
    assert "buckets" in err and "(hint:" in err
