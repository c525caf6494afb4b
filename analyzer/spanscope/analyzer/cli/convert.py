"""``spanscope convert``: trace dumps -> Parquet in the canonical span schema."""

from __future__ import annotations

import click
from spanscope.analyzer.cli.app import cli, print_diagnostics
from spanscope.analyzer.cli.options import input_options
from spanscope.analyzer.convert import PARTITIONERS, convert


@cli.command("convert")
@click.argument("paths", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(writable=True),
    help="The Parquet file to write (with --partition-by: a new folder).",
)
@click.option(
    "--partition-by",
    type=click.Choice(sorted(PARTITIONERS)),
    default=None,
    help="Write a Hive-partitioned folder: one sub-folder per service or per UTC day.",
)
@input_options()
def convert_command(
    paths: tuple[str, ...],
    output: str,
    partition_by: str | None,
    input_format: str | None,
    strict: bool,
) -> None:
    """Convert trace dumps (files, folders, globs) to Parquet that `analyze` reads fast."""
    result = convert(
        list(paths), output, partition_by=partition_by, input_format=input_format, strict=strict
    )
    print_diagnostics(result.diagnostics)
    click.echo(
        f"spanscope: wrote {result.spans:,} span(s) from {len(result.inputs)} file(s) "
        f"to {output}" + (f" ({len(result.written)} partition files)" if partition_by else ""),
        err=True,
    )
