"""``spanscope analyze``: endpoints ranked, N+1 findings with their line and fix."""

from __future__ import annotations

import dataclasses
import sys

import click
from spanscope.analyzer.analyses.analyze import analyze
from spanscope.analyzer.cli.app import cli, print_diagnostics, write_output
from spanscope.analyzer.cli.options import (
    apdex_option,
    config_option,
    format_option,
    group_by_option,
    input_options,
    memory_spans_option,
    min_repeats_option,
    output_option,
)
from spanscope.analyzer.config import load_config
from spanscope.analyzer.render import RENDERERS, get_renderer, renderer_name_for_path


@cli.command("analyze")
@click.argument("paths", nargs=-1, required=True)
@format_option(sorted(RENDERERS))
@output_option("Write the report to FILE (.json selects the json format).", writable=True)
@min_repeats_option(
    "Same-template queries under one parent that make an N+1 "
    "[default: min_repeats from [tool.spanscope], else 5]."
)
@group_by_option()
@apdex_option()
@config_option("TOML file with a [tool.spanscope] table [default: the nearest pyproject.toml].")
@input_options()
@memory_spans_option()
def analyze_command(
    paths: tuple[str, ...],
    output_format: str | None,
    output: str | None,
    min_repeats: int | None,
    group_by: str | None,
    apdex_ms: float | None,
    config_path: str | None,
    input_format: str | None,
    strict: bool,
    memory_spans: int,
) -> None:
    """Rank endpoints and find N+1 queries in trace dumps (files, folders, globs).

    Findings listed under [[tool.spanscope.acknowledged]] are left out of the
    report; stderr says how many were.
    """
    renderer = get_renderer(output_format or renderer_name_for_path(output))
    config = load_config(config_path)
    report = analyze(
        list(paths),
        input_format=input_format,
        strict=strict,
        memory_spans=memory_spans,
        **config.analysis_options(min_repeats, group_by, apdex_ms),
    )
    print_diagnostics(report.diagnostics)
    if config.acknowledged:
        # Imported here: the check module brings the compare statistics with it (~35 ms
        # of every `analyze`), and only acknowledgments need it.
        from spanscope.analyzer.analyses.check import split_acknowledged

        still_open, accepted, _ = split_acknowledged(tuple(report.n_plus_one), config.acknowledged)
        if accepted:
            report = dataclasses.replace(report, n_plus_one=list(still_open))
            click.echo(
                f"spanscope: {len(accepted)} acknowledged N+1 finding(s) left out "
                f"(see [tool.spanscope.acknowledged] in {config.path})",
                err=True,
            )
    write_output(renderer, report, output, sys.stdout)
