"""The ``spanscope`` click group and the error handling every command shares.

Errors never reach the user as tracebacks: a :class:`SpanscopeError` becomes one
line ``spanscope: error: <message> (hint: ...)`` on stderr and exit code 2; any
other exception becomes one line asking for a bug report and exit code 3.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Final, Protocol, TextIO

import click
from spanscope.analyzer.analyses.analyze import spanscope_version
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError

EXIT_INTERNAL_ERROR: Final = 3


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _error(message: str) -> None:
    click.echo(f"spanscope: error: {_one_line(message)}", err=True)


class _Cli(click.Group):
    """Turns library exceptions into one-line messages and exit codes."""

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


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(spanscope_version(), "--version", prog_name="spanscope")
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
