"""What every terminal renderer shares: the rich Console setup, the table style, the opening."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TextIO

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from spanscope.analyzer.render.terminal_format import TerminalFormat

__all__ = ["PLAIN_WIDTH", "TerminalFormat", "compact_table", "make_console", "print_lead"]

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


def compact_table(title: str | None = None, *, collapse_padding: bool = True) -> Table:
    """The terminal's table style: a rule under the header and no outer edges, so wide
    tables fit in 100 columns; the title, if any, on the left."""
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=collapse_padding,
    )


def print_lead(
    console: Console, headline: Sequence[RenderableType], table: Table | None, empty: str
) -> None:
    """The headline lines and a blank line, then the result's main table -- or, when
    there is nothing to tabulate, ``empty`` saying why -- and a blank line."""
    for line in headline:
        console.print(line)
    console.print()
    console.print(empty if table is None else table)
    console.print()
