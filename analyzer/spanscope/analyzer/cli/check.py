"""``spanscope check PATH...``: a CI gate on the budgets of ``[tool.spanscope.check]``.

Exit code 0 when every check is within budget, 1 when one is not (each breach
is summarized), 2 on usage or input errors (no budget configured, unreadable
input, a bad configuration key).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from spanscope.analyzer.analyses.check import check
from spanscope.analyzer.cli.app import cli, print_diagnostics, write_output
from spanscope.analyzer.cli.options import (
    config_option,
    format_option,
    input_options,
    memory_spans_option,
    output_option,
)
from spanscope.analyzer.config import load_config
from spanscope.analyzer.render.check_formats import CHECK_FORMATS
from spanscope.analyzer.render.check_sarif import CheckSarifRenderer


@cli.command("check")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "--baseline",
    multiple=True,
    help="A dump of the reference version, for max_regression_pct (repeatable).",
)
@config_option()
@format_option(
    CHECK_FORMATS.names(),
    help="Output format [default: from the -o suffix (.json, .xml, .sarif), else text].",
)
@output_option()
@click.option(
    "--source-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Make SARIF paths relative to DIR [default: the configuration file's folder].",
)
@input_options()
@memory_spans_option()
@click.pass_context
def check_command(
    ctx: click.Context,
    paths: tuple[str, ...],
    baseline: tuple[str, ...],
    config_path: str | None,
    output_format: str | None,
    output: str | None,
    source_root: str | None,
    input_format: str | None,
    strict: bool,
    memory_spans: int,
) -> None:
    """Fail a CI build when trace dumps break the budgets in [tool.spanscope.check].

    Exit 0 within budget, 1 over budget, 2 on usage or input errors.
    """
    renderer = CHECK_FORMATS.for_output(output_format, output)
    if isinstance(renderer, CheckSarifRenderer) and source_root is not None:
        renderer.root = Path(source_root)
    config = load_config(config_path)
    result = check(
        list(paths),
        config,
        baseline=list(baseline) or None,
        input_format=input_format,
        strict=strict,
        memory_spans=memory_spans,
    )
    for diagnostics in result.diagnostics:
        print_diagnostics(diagnostics)
    write_output(renderer, result, output, sys.stdout)
    if output is not None and not result.passed:
        # The report went to a file; CI logs still need to say why the step failed.
        for outcome in result.failures:
            click.echo(f"spanscope check: {outcome.scope}: {outcome.message}", err=True)
    ctx.exit(result.exit_code)
