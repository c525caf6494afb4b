"""``spanscope analyze``: reports on stdout or a file, diagnostics on stderr, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from spanscope.analyzer.cli import analyze as cli_module
from spanscope.analyzer.cli import cli

BOOKS_SAMPLE = (
    Path(__file__).resolve().parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_terminal_report_names_the_n_plus_one_queries() -> None:
    code, out, err = run("analyze", str(BOOKS_SAMPLE))
    assert code == 0, err
    assert "GET books/" in out
    assert out.count("200 queries under one parent") == 2
    assert err == ""


def test_json_format_prints_one_parsable_object() -> None:
    code, out, _ = run("analyze", str(BOOKS_SAMPLE), "--format", "json")
    assert code == 0
    document = json.loads(out)
    assert document["input"]["files"] == 1
    assert [f["repeats"] for f in document["n_plus_one"]] == [200, 200]


def test_output_file_with_json_suffix_gets_json(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    code, out, _ = run("analyze", str(BOOKS_SAMPLE), "-o", str(target))
    assert code == 0
    assert out == ""
    assert json.loads(target.read_text())["schema_version"] == "1"


def test_min_repeats_above_the_pattern_hides_it() -> None:
    code, out, _ = run("analyze", str(BOOKS_SAMPLE), "--format", "json", "--min-repeats", "201")
    assert code == 0
    assert json.loads(out)["n_plus_one"] == []


def test_malformed_line_is_reported_on_stderr_and_counted(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text(BOOKS_SAMPLE.read_text() + "{not json\n")
    code, out, err = run("analyze", str(dump), "--format", "json")
    assert code == 0
    assert json.loads(out)["input"]["skipped_records"] == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{dump}:3: skipped: ")
    assert lines[-1] == "spanscope: skipped 1 unreadable record(s); the rest was analysed"


def test_strict_mode_fails_on_the_first_bad_record(tmp_path: Path) -> None:
    dump = tmp_path / "dump.jsonl"
    dump.write_text(BOOKS_SAMPLE.read_text() + "{not json\n")
    code, out, err = run("analyze", str(dump), "--strict")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"spanscope: error: {dump}:3:")


def test_missing_input_is_one_line_with_a_hint_and_exit_2(tmp_path: Path) -> None:
    code, _, err = run("analyze", str(tmp_path / "nowhere.jsonl"))
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("spanscope: error: ") and "(hint: " in err


def test_unexpected_exception_is_one_line_asking_for_a_report_and_exit_3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli_module, "analyze", broken)
    code, _, err = run("analyze", str(tmp_path))
    assert code == 3
    assert err == (
        "spanscope: error: internal error: RuntimeError: boom second line (hint: this is a bug "
        "in spanscope; please report it with the command you ran)\n"
    )


def test_format_choices_come_from_the_renderer_registry() -> None:
    code, _, err = run("analyze", "x.jsonl", "--format", "yaml")
    assert code == 2
    assert "'json'" in err and "'terminal'" in err


def test_version_option_prints_the_package_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.startswith("spanscope, version ")


def test_installed_console_script_runs_as_a_real_process() -> None:
    script = shutil.which("spanscope", path=str(Path(sys.executable).parent))
    assert script is not None, "the spanscope console script is not installed"
    proc = subprocess.run(
        [script, "analyze", str(BOOKS_SAMPLE), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["n_plus_one"]) == 2


def test_installed_console_script_error_has_no_traceback(tmp_path: Path) -> None:
    script = shutil.which("spanscope", path=str(Path(sys.executable).parent))
    assert script is not None
    proc = subprocess.run(
        [script, "analyze", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1
