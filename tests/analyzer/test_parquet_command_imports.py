"""``spanscope analyze --format json`` on a prepared Parquet file imports only what a
JSON report needs: no pandas and no rich (the terminal tables load only when drawn)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"


def _run_main(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``spanscope ARGS`` through the console-script entry point in a fresh interpreter,
    and which of pandas and rich it had imported when it finished."""
    probe = (
        "import json, sys\n"
        "from spanscope.analyzer.cli import main\n"
        "code = 0\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "print(json.dumps([m for m in ('pandas', 'rich') if m in sys.modules]))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done, set(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prepared") / "books.parquet"
    _run_main("convert", str(SAMPLE), "-o", str(path))
    return path


def test_a_json_report_of_a_prepared_file_imports_neither_pandas_nor_rich(
    prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    _, imported = _run_main("analyze", str(prepared), "--format", "json", "-o", str(out))
    assert imported == set()
    assert "GET books/" in {row["endpoint"] for row in json.loads(out.read_text())["endpoints"]}


def test_a_json_file_named_by_its_suffix_alone_does_not_import_rich(
    prepared: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    _, imported = _run_main("analyze", str(prepared), "-o", str(out))
    assert "rich" not in imported
    assert json.loads(out.read_text())["n_plus_one"]


def test_the_terminal_report_still_draws_its_tables_with_rich(prepared: Path) -> None:
    done, imported = _run_main("analyze", str(prepared), "--format", "terminal")
    assert "rich" in imported
    assert "N+1 queries (" in done.stdout
    assert "GET books/" in done.stdout
