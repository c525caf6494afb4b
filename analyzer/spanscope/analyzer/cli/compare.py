"""``spanscope compare BEFORE AFTER``: per endpoint faster, slower or noise; N+1 resolved or new."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import cast

import click
from spanscope.analyzer.analyses.compare import Measurement, compare, measure
from spanscope.analyzer.analyses.grouping import DEFAULT_GROUP_BY
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS
from spanscope.analyzer.cli.app import cli, print_diagnostics, write_output
from spanscope.analyzer.cli.options import (
    config_option,
    format_option,
    group_by_option,
    input_options,
    memory_spans_option,
    min_repeats_option,
    output_option,
)
from spanscope.analyzer.config import CompareMetric, CompareOptions, load_config
from spanscope.analyzer.errors import UsageError
from spanscope.analyzer.render.compare_formats import COMPARE_FORMATS


def split_sides(
    paths: Sequence[str], before: Sequence[str], after: Sequence[str]
) -> tuple[list[str], list[str]]:
    """BEFORE and AFTER as two positional arguments, or as repeated --before/--after."""
    if before or after:
        if paths:
            raise UsageError(
                "give BEFORE AFTER as two arguments or with --before/--after, not both",
                "e.g. spanscope compare --before 'old/*.jsonl' --after 'new/*.jsonl'",
            )
        if not before or not after:
            raise UsageError(
                "--before and --after must both be given",
                "name at least one file, folder or glob for each side",
            )
        return list(before), list(after)
    if len(paths) != 2:
        raise UsageError(
            f"expected BEFORE and AFTER, got {len(paths)} path(s)",
            "quote globs so the shell does not expand them ('before/*.jsonl'), "
            "or repeat --before/--after for several inputs per side",
        )
    return [paths[0]], [paths[1]]


@cli.command("compare")
@click.argument("paths", nargs=-1, metavar="[BEFORE AFTER]")
@click.option("--before", multiple=True, help="A dump of the old version (repeatable).")
@click.option("--after", multiple=True, help="A dump of the new version (repeatable).")
@format_option(COMPARE_FORMATS.names())
@output_option()
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Significance level of the Mann-Whitney U test [default: 0.05].",
)
@click.option(
    "--min-change-pct",
    type=click.FloatRange(min=0),
    default=None,
    help="Smaller relative changes are never called faster or slower [default: 5].",
)
@click.option(
    "--metric",
    type=click.Choice(["mean", "p50", "p95"]),
    default=None,
    help="The statistic whose change must reach --min-change-pct [default: p50].",
)
@min_repeats_option()
@group_by_option()
@config_option()
@input_options()
@memory_spans_option()
def compare_command(
    paths: tuple[str, ...],
    before: tuple[str, ...],
    after: tuple[str, ...],
    output_format: str | None,
    output: str | None,
    alpha: float | None,
    min_change_pct: float | None,
    metric: str | None,
    min_repeats: int | None,
    group_by: str | None,
    config_path: str | None,
    input_format: str | None,
    strict: bool,
    memory_spans: int,
) -> None:
    """Compare two versions of an app: BEFORE and AFTER are dumps (files, folders, globs).

    An endpoint is called faster or slower only when a Mann-Whitney U test on its
    per-request durations is significant and the change is large enough to matter.
    """
    old, new = split_sides(paths, before, after)
    renderer = COMPARE_FORMATS.for_output(output_format, output)
    config = load_config(config_path)
    defaults = config.compare
    options = CompareOptions(
        alpha=alpha if alpha is not None else defaults.alpha,
        min_change_pct=min_change_pct if min_change_pct is not None else defaults.min_change_pct,
        metric=cast(CompareMetric, metric) if metric is not None else defaults.metric,
    )
    repeats = min_repeats if min_repeats is not None else config.min_repeats
    sides = [
        measure_side(
            label,
            side,
            min_repeats=repeats,
            input_format=input_format,
            strict=strict,
            group_by=group_by or config.group_by,
            memory_spans=memory_spans,
        )
        for label, side in (("BEFORE", old), ("AFTER", new))
    ]
    result = compare(*sides, options=options, min_repeats=repeats)
    write_output(renderer, result, output, sys.stdout)


def measure_side(
    label: str,
    paths: list[str],
    *,
    min_repeats: int,
    input_format: str | None,
    strict: bool,
    group_by: str = DEFAULT_GROUP_BY,
    memory_spans: int | None = DEFAULT_MEMORY_SPANS,
) -> Measurement:
    """Read one side, print its diagnostics, and refuse a side without a single request."""
    measurement = measure(
        paths,
        min_repeats=min_repeats,
        input_format=input_format,
        strict=strict,
        group_by=group_by,
        memory_spans=memory_spans,
    )
    print_diagnostics(measurement.diagnostics)
    if measurement.requests.num_rows == 0:
        raise UsageError(
            f"{label} ({', '.join(paths)}) holds no requests (no SpanKind Server spans)",
            "point it at dumps of an instrumented app that served traffic",
        )
    return measurement
