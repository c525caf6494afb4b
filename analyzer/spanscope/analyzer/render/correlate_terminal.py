"""``spanscope correlate`` in the terminal: the ranking as a rich table.

Significant rows (q < 0.05) are bold, the rest dim, so the few series worth a look
stand out at the top.  Laid out for a 100-column terminal; files and pipes get
exactly 100 columns and no colour.
"""

from __future__ import annotations

from typing import Final, TextIO

from rich.table import Table
from rich.text import Text
from spanscope.analyzer.analyses.correlate import SIGNIFICANCE, Correlation, CorrelationResult
from spanscope.analyzer.render.console import (
    TerminalFormat,
    compact_table,
    make_console,
    print_lead,
)

#: Short labels of the series kinds, so the name column keeps its width.
KIND_LABELS: Final = {
    "layer": "layer",
    "endpoint_time": "time",
    "endpoint_throughput": "throughput",
}


def format_p(value: float) -> str:
    """Two significant digits: ``1.1e-54``, ``0.004``, ``0.22``."""
    return f"{value:.2g}"


def format_r(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def headline(result: CorrelationResult) -> str:
    empty = f", {result.empty_buckets:,} empty" if result.empty_buckets else ""
    method = "first differences" if result.differenced else "raw levels (--no-diff)"
    return (
        f"Correlation with the mean response time: {result.buckets:,} buckets of "
        f"{result.interval}{empty}; {method}, {result.points:,} points"
    )


def ranking_table(result: CorrelationResult) -> Table:
    table = compact_table()
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("series", overflow="fold", min_width=12, max_width=32)
    table.add_column("r", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("q", justify="right", no_wrap=True)
    table.add_column("r raw", justify="right", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("note", overflow="fold", max_width=30)
    for rank, row in enumerate(result.results, start=1):
        table.add_row(*_cells(rank, row), style="bold" if row.significant else "dim")
    return table


def _cells(rank: int, row: Correlation) -> tuple[str, ...]:
    return (
        str(rank),
        KIND_LABELS[row.kind],
        row.name,
        format_r(row.r),
        format_p(row.p_value),
        format_p(row.q_value),
        format_r(row.r_undifferenced),
        f"{row.n:,}",
        row.note or "",
    )


def footer(result: CorrelationResult) -> list[Text]:
    tested = len(result.results) + result.omitted
    lines = [
        Text(
            f"bold: q < {SIGNIFICANCE} (Benjamini-Hochberg over {tested:,} series); "
            "r raw: Pearson r of the undifferenced levels; n: points paired with the target."
        )
    ]
    if result.omitted:
        lines.append(Text(f"{result.omitted:,} more series not shown (--top 0 shows all)."))
    if result.skipped:
        lines.append(Text(f"Skipped ({len(result.skipped)}):"))
        for item in result.skipped:
            lines.append(Text(f"  {KIND_LABELS[item.kind]} {item.name}: {item.reason}"))
    return lines


class CorrelationTerminalRenderer(TerminalFormat):
    def render(self, result: CorrelationResult, out: TextIO, *, color: bool) -> None:
        console = make_console(out, color=color)
        print_lead(
            console,
            [headline(result)],
            ranking_table(result) if result.results else None,
            "No series could be tested (see the skipped ones below).",
        )
        for line in footer(result):
            console.print(line)
