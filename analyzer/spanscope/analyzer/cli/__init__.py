"""``spanscope``: a thin command line over :mod:`spanscope.analyzer`.

Each command lives in its own module and registers itself on the group in
:mod:`spanscope.analyzer.cli.app` when imported; the group imports a command's
module only when that command is run or listed (:data:`~.app.COMMAND_MODULES`), so
``spanscope analyze`` loads only what analysing needs.  Errors never reach the user as tracebacks: a :class:`SpanscopeError`
becomes one line ``spanscope: error: <message> (hint: ...)`` on stderr and exit
code 2; any other exception becomes one line asking for a bug report, exit code 3.
"""

from __future__ import annotations

from spanscope.analyzer.cli.app import cli, print_diagnostics
from spanscope.analyzer.cli.without_pandas import keep_pandas_out

__all__ = ["cli", "main", "print_diagnostics"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    keep_pandas_out()  # no command needs it; pyarrow would import it (see the module)
    cli.main(args=argv, prog_name="spanscope")
