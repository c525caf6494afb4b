"""``spanscope correlate PATH...``: which layer, endpoint time or throughput moves with
the app's response time, over time (first differences, Pearson r, BH q-values)."""

from __future__ import annotations

import sys
from typing import Final

import click
from spanscope.analyzer.analyses.correlate import DEFAULT_MIN_POINTS, SMALLEST_MIN_POINTS, correlate
from spanscope.analyzer.analyses.series import DEFAULT_INTERVAL, parse_interval
from spanscope.analyzer.cli.app import cli, print_diagnostics, write_output
from spanscope.analyzer.cli.options import (
    format_option,
    input_options,
    memory_spans_option,
    output_option,
)
from spanscope.analyzer.render.correlate_formats import CORRELATE_FORMATS

#: Rows the terminal shows when --top is not given (JSON gets every row).
TERMINAL_TOP: Final = 25


@cli.command("correlate")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--interval",
    default=DEFAULT_INTERVAL,
    show_default=True,
    help="Bucket width: 30s, 1min, 5m, 1h, ...",
)
@click.option(
    "--no-diff",
    "no_diff",
    is_flag=True,
    help="Correlate the raw levels instead of first differences (shared trends then "
    "pass for correlations; use it to compare).",
)
@format_option(CORRELATE_FORMATS.names())
@output_option("Write to FILE (.json selects the json format).")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=None,
    help=f"Show the N best-ranked series; 0 shows all [default: {TERMINAL_TOP} in the "
    "terminal, all in json].",
)
@click.option(
    "--min-points",
    type=click.IntRange(min=SMALLEST_MIN_POINTS),
    default=DEFAULT_MIN_POINTS,
    show_default=True,
    help="Fewest (differenced) points a correlation needs.",
)
@input_options()
@memory_spans_option()
def correlate_command(
    paths: tuple[str, ...],
    interval: str,
    no_diff: bool,
    output_format: str | None,
    output: str | None,
    top: int | None,
    min_points: int,
    input_format: str | None,
    strict: bool,
    memory_spans: int,
) -> None:
    """Rank each layer's time, each endpoint's time and each endpoint's throughput by
    how closely it moves with the mean response time (trace dumps: files, folders, globs).

    Requests are bucketed by start time; every series is first-differenced so that a
    trend shared with the response time is not mistaken for a cause; rows are sorted
    by Pearson p-value, with Benjamini-Hochberg q-values for the many series tested.
    """
    parse_interval(interval)  # a typo fails before any file is read
    renderer = CORRELATE_FORMATS.for_output(output_format, output)
    result = correlate(
        list(paths),
        interval=interval,
        difference=not no_diff,
        min_points=min_points,
        input_format=input_format,
        strict=strict,
        memory_spans=memory_spans,
    )
    print_diagnostics(result.diagnostics)
    if top is None and renderer.name == "terminal":
        top = TERMINAL_TOP
    if top:
        result = result.head(top)
    write_output(renderer, result, output, sys.stdout)
