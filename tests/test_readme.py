"""The README stays true: its two first commands exist, every command and setting is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
from spanscope.analyzer.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def first_screen() -> str:
    """Everything before the first horizontal rule: what a newcomer sees first."""
    return README.split("\n---\n", 1)[0]


def test_first_screen_gives_exactly_two_commands_and_both_exist() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", first_screen(), flags=re.S)
    commands = [line.split("#")[0].strip() for block in blocks for line in block.splitlines()]
    commands = [command for command in commands if command]
    assert commands == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    for command in commands:
        assert (ROOT / command.split()[1]).is_file()


def test_ci_runs_the_readme_test_command() -> None:
    assert "scripts/test.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_cli_command_is_documented() -> None:
    assert isinstance(cli, click.Group)
    undocumented = [name for name in cli.commands if f"spanscope {name}" not in README]
    assert undocumented == []


def test_every_command_the_readme_names_exists() -> None:
    assert isinstance(cli, click.Group)
    named = set(re.findall(r"`spanscope ([a-z]+)", README))
    assert named, "the README names no command? the scan is broken"
    assert sorted(named - set(cli.commands)) == []


def test_every_instrumentation_environment_variable_is_documented() -> None:
    sources = (ROOT / "instrument").rglob("*.py")
    names = {
        name
        for path in sources
        for name in re.findall(r'"(SPANSCOPE_[A-Z_]+)"', path.read_text(encoding="utf-8"))
    }
    assert names, "the instrumentation reads no SPANSCOPE_* variable? the scan is broken"
    undocumented = sorted(name for name in names if f"`{name}`" not in README)
    assert undocumented == []


def test_every_relative_link_points_at_a_file() -> None:
    targets = re.findall(r"\]\(((?!https?:|#)[^)#]+)", README)
    assert targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert missing == []
