"""``spanscope``: a thin command line over :mod:`spanscope.analyzer`.

Errors never reach the user as tracebacks: a :class:`SpanscopeError` becomes one
line ``spanscope: error: <message> (hint: ...)`` on stderr and exit code 2; any
other exception becomes one line asking for a bug report and exit code 3.
"""

from __future__ import annotations

import sys
from typing import Any, Final, TextIO

import click
from spanscope.analyzer.analyses.analyze import analyze, spanscope_version
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS
from spanscope.analyzer.diagnostics import Diagnostics
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.render import RENDERERS, get_renderer, renderer_name_for_path

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
        except Exception as err:  # the last line of defence: never show a traceback
            _error(
                f"internal error: {type(err).__name__}: {err} "
                "(hint: this is a bug in spanscope; please report it with the command you ran)"
            )
            ctx.exit(EXIT_INTERNAL_ERROR)


def print_diagnostics(diagnostics: Diagnostics, err: TextIO | None = None) -> None:
    """One stderr line per problem kind, then the total number of skipped records."""
    if not diagnostics.skipped_records:
        return
    for line in diagnostics.summary_lines():
        click.echo(_one_line(line), err=True, file=err)
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


@cli.command("analyze")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(sorted(RENDERERS)),
    default=None,
    help="Output format [default: from the -o suffix, else terminal].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the report to FILE (.json selects the json format).",
)
@click.option(
    "--min-repeats",
    type=click.IntRange(min=2),
    default=DEFAULT_MIN_REPEATS,
    show_default=True,
    help="Same-template queries under one parent that make an N+1.",
)
@click.option("--input-format", default=None, help="Force the input format instead of sniffing it.")
@click.option("--strict", is_flag=True, help="Fail on the first unreadable record.")
def analyze_command(
    paths: tuple[str, ...],
    output_format: str | None,
    output: str | None,
    min_repeats: int,
    input_format: str | None,
    strict: bool,
) -> None:
    """Rank endpoints and find N+1 queries in trace dumps (files, folders, globs)."""
    renderer = get_renderer(output_format or renderer_name_for_path(output))
    report = analyze(list(paths), min_repeats=min_repeats, input_format=input_format, strict=strict)
    print_diagnostics(report.diagnostics)
    if output is None:
        renderer.render(report, sys.stdout, color=sys.stdout.isatty())
        return
    try:
        with open(output, "w", encoding="utf-8") as handle:
            renderer.render(report, handle, color=False)
    except OSError as err:
        raise SpanscopeError(
            f"cannot write {output}: {err.strerror}", "choose a writable output path"
        ) from None


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="spanscope")


if __name__ == "__main__":  # pragma: no cover
    main()
