"""``spanscope explain TRACE_ID PATH…``: one trace as an indented tree with self times."""

from __future__ import annotations

import sys

import click
from spanscope.analyzer.analyses.explain import explain
from spanscope.analyzer.cli.app import cli, print_diagnostics, write_output
from spanscope.analyzer.cli.options import (
    format_option,
    input_format_option,
    memory_spans_option,
    min_repeats_option,
    output_option,
)
from spanscope.analyzer.config import load_config
from spanscope.analyzer.render.explain_formats import EXPLAIN_FORMATS


@cli.command("explain")
@click.argument("trace")
@click.argument("paths", nargs=-1, required=True)
@format_option(EXPLAIN_FORMATS.names())
@output_option()
@min_repeats_option(
    "Sibling spans folded into one line, and the N+1 threshold "
    "[default: min_repeats from [tool.spanscope], else 5]."
)
@input_format_option()
@memory_spans_option()
def explain_command(
    trace: str,
    paths: tuple[str, ...],
    output_format: str | None,
    output: str | None,
    min_repeats: int | None,
    input_format: str | None,
    memory_spans: int,
) -> None:
    """Print one trace as a tree: start, duration and self time of every span.

    TRACE is a trace id, any unique prefix of one (as `spanscope analyze` prints
    them), or `slowest` for the slowest request in the dumps.
    """
    renderer = EXPLAIN_FORMATS.for_output(output_format, output)
    repeats = min_repeats if min_repeats is not None else load_config().min_repeats
    result = explain(
        list(paths),
        trace,
        min_repeats=repeats,
        input_format=input_format,
        memory_spans=memory_spans,
    )
    print_diagnostics(result.diagnostics)
    write_output(renderer, result, output, sys.stdout)
