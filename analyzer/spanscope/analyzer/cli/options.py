"""Options several ``spanscope`` commands share, spelled once.

Each factory returns a click decorator; a command stacks them where it wants the
option to appear in its ``--help`` (click lists options in decorator order).
Where commands word an option differently on purpose (``analyze`` documents
what ``--min-repeats`` means, ``compare`` only names it), the help text is a
parameter: the option itself -- name, type, destination -- stays the same.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

import click
from spanscope.analyzer.analyses.grouping import GROUP_BY_CHOICES
from spanscope.analyzer.analyses.partitioned_limits import DEFAULT_MEMORY_SPANS, MIN_MEMORY_SPANS

_Command = TypeVar("_Command", bound=Callable[..., Any])

FORMAT_HELP: Final = "Output format [default: from the -o suffix, else terminal]."
OUTPUT_HELP: Final = "Write to FILE."
CONFIG_HELP: Final = (
    "A TOML file with a [tool.spanscope] table [default: the nearest pyproject.toml]."
)
NPLUSONE_THRESHOLD_HELP: Final = "N+1 threshold."


def format_option(names: Iterable[str], help: str = FORMAT_HELP) -> Callable[[_Command], _Command]:
    """``--format``: one of a renderer registry's names; ``None`` lets the ``-o`` suffix decide."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(list(names)),
        default=None,
        help=help,
    )


def output_option(
    help: str = OUTPUT_HELP, *, writable: bool = False
) -> Callable[[_Command], _Command]:
    """``-o/--output FILE``; ``None`` means stdout."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, writable=writable),
        default=None,
        help=help,
    )


def config_option(help: str = CONFIG_HELP) -> Callable[[_Command], _Command]:
    """``--config FILE`` -> ``config_path``; ``None`` finds the nearest pyproject.toml."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        default=None,
        help=help,
    )


def min_repeats_option(
    help: str = NPLUSONE_THRESHOLD_HELP, *, default: int | None = None
) -> Callable[[_Command], _Command]:
    """``--min-repeats``: the N+1 threshold; ``None`` defers to ``[tool.spanscope]``.

    A fixed ``default`` is shown in ``--help``; ``None`` is not (the help says where
    the value comes from instead).
    """
    return click.option(
        "--min-repeats",
        type=click.IntRange(min=2),
        default=default,
        show_default=True if default is not None else None,
        help=help,
    )


def input_format_option() -> Callable[[_Command], _Command]:
    """``--input-format``: skip sniffing and read every input as this format."""
    return click.option(
        "--input-format", default=None, help="Force the input format instead of sniffing it."
    )


def strict_option() -> Callable[[_Command], _Command]:
    """``--strict``: the first unreadable record is an error instead of a skipped line."""
    return click.option("--strict", is_flag=True, help="Fail on the first unreadable record.")


def input_options() -> Callable[[_Command], _Command]:
    """``--input-format`` then ``--strict``: how every command that reads dumps reads them."""

    def decorate(command: _Command) -> _Command:
        # Applied bottom-up, as if stacked: --input-format is listed first.
        return input_format_option()(strict_option()(command))

    return decorate


def group_by_option() -> Callable[[_Command], _Command]:
    """``--group-by``: how requests are keyed into endpoints; ``None`` defers to ``[tool.spanscope]``."""
    return click.option(
        "--group-by",
        type=click.Choice(GROUP_BY_CHOICES),
        default=None,
        help="Key endpoints by route (METHOD route), url (METHOD path: one route serving "
        "many pages, as in Wagtail) or name (the server span's name) "
        "[default: group_by from [tool.spanscope], else route].",
    )


def apdex_option() -> Callable[[_Command], _Command]:
    """``--apdex-ms``: the Apdex target T; ``None`` defers to ``[tool.spanscope]``."""
    return click.option(
        "--apdex-ms",
        type=click.FloatRange(min=0, min_open=True),
        default=None,
        help="Apdex target T in ms: satisfied <= T < tolerating <= 4T, errors frustrated "
        "[default: apdex_ms from [tool.spanscope], else 500].",
    )


def memory_spans_option() -> Callable[[_Command], _Command]:
    """``--memory-spans``: beyond this many spans a dump is spilled by trace and taken a
    partition at a time (every command that analyses dumps)."""
    return click.option(
        "--memory-spans",
        type=click.IntRange(min=MIN_MEMORY_SPANS),
        default=DEFAULT_MEMORY_SPANS,
        show_default=True,
        metavar="N",
        help="Dumps of more spans than this are spilled by trace to the temporary folder "
        "($TMPDIR) and analysed N spans at a time: memory stays flat as dumps grow.",
    )
