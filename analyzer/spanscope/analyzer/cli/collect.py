"""``spanscope collect``: receive OTLP/HTTP trace exports on loopback into analyzable files."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import click
from spanscope.analyzer.cli.app import cli
from spanscope.analyzer.collect import (
    DEFAULT_HOST,
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_PORT,
    TRACES_PATH,
    check_host,
    open_server,
    serve,
)


@cli.command("collect")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="0 picks a free port."
)
@click.option(
    "--out",
    "out_dir",
    default="spanscope-traces",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the trace files (what `spanscope analyze` reads).",
)
@click.option(
    "--max-file-mb",
    default=DEFAULT_MAX_FILE_BYTES / 1024 / 1024,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Start a new file once the current one would grow past this size.",
)
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
def collect_command(
    host: str, port: int, out_dir: Path, max_file_mb: float, allow_remote: bool
) -> None:
    """Receive OTLP/HTTP trace exports (protobuf or JSON, gzip or not) and write OTLP JSON lines.

    Point an application at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318;
    stop it with Ctrl-C or SIGTERM.
    """
    check_host(host, allow_remote)
    server = open_server(host, port, out_dir, max(1, int(max_file_mb * 1024 * 1024)))
    # SIGTERM behaves as Ctrl-C: KeyboardInterrupt unwinds serve_forever, and
    # serve() joins the requests in flight and closes the file before we exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    click.echo(
        f"spanscope: collecting on http://{host}:{server.port}{TRACES_PATH} into {out_dir}/ "
        "(Ctrl-C to stop)",
        err=True,
    )
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is the normal way to stop
        serve(server)
    click.echo(
        f"spanscope: stopped; wrote {server.writer.lines:,} batch(es) "
        f"to {len(server.writer.files)} file(s) in {out_dir}/",
        err=True,
    )
