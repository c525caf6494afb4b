"""``spanscope analyze``: endpoints ranked, N+1 findings with their line and fix."""

from __future__ import annotations

import sys

import click
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.analyses.nplusone import DEFAULT_MIN_REPEATS
from spanscope.analyzer.cli.app import cli, print_diagnostics
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.render import RENDERERS, get_renderer, renderer_name_for_path


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
