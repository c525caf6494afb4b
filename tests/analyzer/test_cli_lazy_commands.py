"""Each ``spanscope`` command's module is imported when that command runs, not before;
``--help`` and ``cli.commands`` still list every command."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from spanscope.analyzer.cli import cli
from spanscope.analyzer.cli.app import COMMAND_MODULES

SAMPLE = "tests/data/samples/django_books_nplus1.jsonl"


def _modules_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return set(proc.stdout.split())


def test_running_analyze_imports_no_other_command() -> None:
    loaded = _modules_after(
        "from spanscope.analyzer.cli import main\n"
        "try:\n"
        f"    main(['analyze', '--format', 'json', '-o', '/dev/null', {SAMPLE!r}])\n"
        "except SystemExit:\n"
        "    pass"
    )
    assert "spanscope.analyzer.cli.analyze" in loaded
    others = {module for name, module in COMMAND_MODULES.items() if name != "analyze"}
    assert sorted(others & loaded) == []


def test_importing_the_package_imports_no_analysis() -> None:
    loaded = _modules_after("import spanscope.analyzer")
    assert sorted(m for m in loaded if m.startswith("spanscope.analyzer.")) == []
    assert "pyarrow" not in loaded


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    listed = [line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line]
    assert listed == sorted(COMMAND_MODULES)


def test_the_commands_mapping_is_complete() -> None:
    assert sorted(cli.commands) == sorted(COMMAND_MODULES)
    assert all(cli.commands[name].name == name for name in COMMAND_MODULES)


def test_the_package_exports_load_the_function_even_once_its_module_is_imported() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import spanscope.analyzer.load\n"
            "from spanscope.analyzer import load, read\n"
            "print(callable(load) and load.__module__, read.__name__)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert loaded.stdout.split() == ["spanscope.analyzer.load", "read"]
