"""The ``spanscope`` command never imports pandas (pyarrow would, for nothing), while
the library API keeps it for ``to_pandas()``."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parents[1] / "data" / "samples" / "django_books_nplus1.jsonl"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pandas") is None,
    reason="pandas is not installed: nothing could import it anyway",
)


def _run_main(*args: str) -> subprocess.CompletedProcess[str]:
    """``spanscope ARGS`` through the console-script entry point, then whether pandas
    was imported, as the last line of stdout."""
    probe = (
        "import sys\n"
        "from spanscope.analyzer.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as stop:\n"
        "    code = stop.code\n"
        "print('pandas imported:', 'pandas' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )


def test_analyzing_a_dump_from_the_command_line_never_imports_pandas(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = _run_main("analyze", str(SAMPLE), "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "pandas imported: False"
    assert json.loads(out.read_text())["n_plus_one"]


def test_analyzing_a_prepared_parquet_file_never_imports_pandas(tmp_path: Path) -> None:
    prepared = tmp_path / "books.parquet"
    converted = _run_main("convert", str(SAMPLE), "-o", str(prepared))
    assert converted.returncode == 0, converted.stderr
    out = tmp_path / "report.json"
    done = _run_main("analyze", str(prepared), "--format", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "pandas imported: False"
    from_json = _run_main("analyze", str(SAMPLE), "--format", "json", "-o", str(tmp_path / "j"))
    assert from_json.returncode == 0
    assert (
        json.loads(out.read_text())["endpoints"]
        == json.loads((tmp_path / "j").read_text())["endpoints"]
    )


def test_the_library_still_converts_results_to_pandas_after_the_cli_is_imported() -> None:
    probe = (
        "import spanscope.analyzer.cli\n"
        "from spanscope.analyzer import endpoints\n"
        f"frame = endpoints({str(SAMPLE)!r}).to_pandas()\n"
        "print(type(frame).__module__.split('.')[0], 'GET books/' in set(frame['endpoint']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == ["pandas", "True"]


def test_a_process_that_already_holds_pandas_keeps_it() -> None:
    probe = (
        "import pandas\n"
        "from spanscope.analyzer.cli.without_pandas import keep_pandas_out\n"
        "keep_pandas_out()\n"
        "import pandas.api.types\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "ok"
