"""``spanscope report``: one self-contained HTML file to read or share offline."""

from __future__ import annotations

from pathlib import Path

import click
from spanscope.analyzer.cli.app import cli, print_diagnostics
from spanscope.analyzer.cli.options import (
    apdex_option,
    config_option,
    group_by_option,
    input_options,
    memory_spans_option,
    min_repeats_option,
)
from spanscope.analyzer.config import load_config
from spanscope.analyzer.errors import SpanscopeError
from spanscope.analyzer.render.html import DEFAULT_TITLE, html_report


@cli.command("report")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    required=True,
    help="The HTML file to write (e.g. report.html).",
)
@click.option("--title", default=DEFAULT_TITLE, show_default=True, help="The page title.")
@click.option(
    "--interval",
    "interval_s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Width of the latency chart buckets in seconds [default: from the time range].",
)
@min_repeats_option(
    "Same-template queries under one parent that make an N+1 "
    "[default: min_repeats from [tool.spanscope], else 5]."
)
@group_by_option()
@apdex_option()
@config_option()
@input_options()
@memory_spans_option()
def report_command(
    paths: tuple[str, ...],
    output: str,
    title: str,
    interval_s: float | None,
    min_repeats: int | None,
    group_by: str | None,
    apdex_ms: float | None,
    config_path: str | None,
    input_format: str | None,
    strict: bool,
    memory_spans: int,
) -> None:
    """Write an HTML report of trace dumps: endpoints, latency over time, time per layer,
    N+1 and slow queries, a waterfall per endpoint. Works offline; share the one file."""
    config = load_config(config_path)
    report = html_report(
        list(paths),
        title=title,
        interval_s=interval_s,
        input_format=input_format,
        strict=strict,
        memory_spans=memory_spans,
        **config.analysis_options(min_repeats, group_by, apdex_ms),
    )
    print_diagnostics(report.diagnostics)
    data = report.html.encode("utf-8")
    try:
        Path(output).write_bytes(data)
    except OSError as err:
        raise SpanscopeError(
            f"cannot write {output}: {err.strerror}", "choose a writable output path"
        ) from None
    click.echo(f"spanscope: wrote {output} ({len(data) / 1024:,.0f} KiB)", err=True)
