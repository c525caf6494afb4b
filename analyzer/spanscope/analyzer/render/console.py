"""The one rich Console setup every terminal renderer shares."""

from __future__ import annotations

from typing import Final, TextIO

from rich.console import Console

#: Width used when the output is not a terminal (files, pipes, CI logs).
PLAIN_WIDTH: Final = 100


def make_console(out: TextIO, *, color: bool) -> Console:
    """A console on ``out``: the terminal's own width with colour, else plain 100 columns.

    Highlighting and emoji codes are off because span text (SQL, URLs) must print verbatim.
    """
    return Console(
        file=out,
        width=None if color else PLAIN_WIDTH,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
    )
