"""The ``spanscope`` click group and the error handling every command shares.

Errors never reach the user as tracebacks: a :class:`SpanscopeError` becomes one
line ``spanscope: error: <message> (hint: ...)`` on stderr and exit code 2; any
other exception becomes one line asking for a bug report and exit code 3.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from typing import Any, Final, Protocol, TextIO

import click
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.version import spanscope_version

EXIT_INTERNAL_ERROR: Final = 3

#: Command name -> the module that defines it (and registers it on :data:`cli` when
#: imported).  A command's module is imported only when the command is looked up, so
#: ``spanscope analyze`` never imports what ``compare`` or ``collect`` need; ``--help``
#: looks every command up and lists them all.
COMMAND_MODULES: Final = {
    name: f"spanscope.analyzer.cli.{name}"
    for name in (
        "analyze",
        "check",
        "collect",
        "compare",
        "convert",
        "correlate",
        "explain",
        "report",
    )
}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error(message: str) -> None:
    click.echo(f"spanscope: error: {_one_line(message)}", err=True)


class _LazyCommands(dict[str, click.Command]):
    """The group's commands, each module imported when its command is looked up
    (click's "lazily loading subcommands"), every one when they are listed -- so
    ``group.commands`` reads as a complete mapping wherever it is read."""

    def _load(self, name: object) -> None:
        if isinstance(name, str) and name in COMMAND_MODULES and not dict.__contains__(self, name):
            importlib.import_module(COMMAND_MODULES[name])  # registers the command

    def _load_all(self) -> None:
        for name in COMMAND_MODULES:
            self._load(name)

    def __getitem__(self, name: str) -> click.Command:
        self._load(name)
        return dict.__getitem__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        self._load(name)
        return dict.get(self, name, default)

    def __contains__(self, name: object) -> bool:
        self._load(name)
        return dict.__contains__(self, name)

    def __iter__(self) -> Iterator[str]:
        self._load_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._load_all()
        return dict.__len__(self)

    def keys(self) -> Any:
        self._load_all()
        return dict.keys(self)

    def values(self) -> Any:
        self._load_all()
        return dict.values(self)

    def items(self) -> Any:
        self._load_all()
        return dict.items(self)


class _Cli(click.Group):
    """Turns library exceptions into one-line messages and exit codes; each command's
    module is imported on first use (:class:`_LazyCommands`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _LazyCommands(self.commands)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except SpanscopeError as err:
            _error(str(err))
            ctx.exit(err.exit_code)
        except KeyboardInterrupt:
            raise click.exceptions.Abort() from None
        except BrokenPipeError:
            # `spanscope analyze ... | head`: the reader left; that is not an error.
            # Point stdout at /dev/null so the interpreter's final flush stays quiet.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except Exception as err:  # the last line of defence: never show a traceback
            _error(
                f"internal error: {type(err).__name__}: {err} "
                "(hint: this is a bug in spanscope; please report it with the command you ran)"
            )
            ctx.exit(EXIT_INTERNAL_ERROR)


def print_diagnostics(diagnostics: Diagnostics, err: TextIO | None = None) -> None:
    """One stderr line per problem kind, then the total number of skipped records."""
    if not diagnostics.problems:
        return
    for line in diagnostics.summary_lines():
        click.echo(_one_line(line), err=True, file=err)
    if not diagnostics.skipped_records:
        return
    click.echo(
        f"spanscope: skipped {diagnostics.skipped_records:,} unreadable record(s); "
        "the rest was analysed",
        err=True,
        file=err,
    )


def _print_version(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    """``--version``, as click's ``version_option`` prints it; the version is looked up
    only when asked for (reading the package metadata costs an import of its own)."""
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"spanscope, version {spanscope_version()}", color=ctx.color)
    ctx.exit()


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """Where does the time of a slow Django request go? Analyse OpenTelemetry trace dumps."""


class _Renders(Protocol):
    def render(self, result: Any, out: TextIO, *, color: bool) -> None: ...


def write_output(renderer: _Renders, result: Any, output: str | None, stdout: TextIO) -> None:
    """Render to ``output`` (no colour), or to ``stdout`` (colour when it is a terminal)."""
    if output is None:
        renderer.render(result, stdout, color=stdout.isatty())
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            renderer.render(result, handle, color=False)
    except OSError as err:
        raise SpanscopeError(
            f"cannot write {output}: {err.strerror}", "choose a writable output path"
        ) from None
