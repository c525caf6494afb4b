"""``spanscope``: a thin command line over :mod:`spanscope.analyzer`.

Each command lives in its own module and registers itself on the group in
:mod:`spanscope.analyzer.cli.app` when imported; importing this package imports
them all.  Errors never reach the user as tracebacks: a :class:`SpanscopeError`
becomes one line ``spanscope: error: <message> (hint: ...)`` on stderr and exit
code 2; any other exception becomes one line asking for a bug report, exit code 3.
"""

from __future__ import annotations

from spanscope.analyzer.cli import analyze as _analyze  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import check as _check  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import collect as _collect  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import compare as _compare  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import convert as _convert  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import correlate as _correlate  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import explain as _explain  # noqa: F401  (registers the command)
from spanscope.analyzer.cli import report as _report  # noqa: F401  (registers the command)
from spanscope.analyzer.cli.app import cli, print_diagnostics

__all__ = ["cli", "main", "print_diagnostics"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="spanscope")
