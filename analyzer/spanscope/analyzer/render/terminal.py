"""``--format terminal``: the endpoints ranking and the N+1 findings as rich tables.

Laid out for a 100-column terminal (files and pipes get exactly 100 columns and
no colour).  Skipped-record diagnostics are not part of the report body: the CLI
prints them on stderr.
"""

from __future__ import annotations

import os
from typing import ClassVar, Final, TextIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from spanscope.analyzer.render.registry import register
from spanscope.analyzer.report import AnalysisReport, CodeLocation, EndpointsResult, NPlusOneFinding

#: Width used when the output is not a terminal (files, pipes, CI logs).
PLAIN_WIDTH: Final = 100
#: A normalized statement longer than this is shortened in the middle.
MAX_STATEMENT_CHARS: Final = 320


def format_ms(value: float) -> str:
    """Milliseconds in at most 6 characters: 0.42, 12.3, 1,234, 12,345; from 100 s on
    whole seconds with an ``s`` (``1,235s``), so 14 columns fit in 100."""
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    if value < 100_000:
        return f"{value:,.0f}"
    return f"{value / 1000:,.0f}s"


def shorten(text: str, limit: int = MAX_STATEMENT_CHARS) -> str:
    if len(text) <= limit:
        return text
    keep = (limit - 5) // 2
    return f"{text[:keep]} ... {text[-keep:]}"


def display_path(path: str) -> str:
    """A path below the current directory is shown relative to it (shorter, clickable)."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative


def format_code(code: CodeLocation | None) -> str:
    if code is None:
        return "(not recorded)"
    return str(CodeLocation(display_path(code.file), code.line, code.function))


def endpoints_table(result: EndpointsResult) -> Table:
    # A light box without outer edges: 14 columns must fit in 100 characters.
    table = Table(
        title="Endpoints by total time (ms)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("endpoint", overflow="fold", min_width=12, max_width=26)
    for header in ("req", "err", "mean", "p50", "p90", "p95", "p99", "max", "total", "db", "app"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("q/req", justify="right", no_wrap=True)
    for rank, row in enumerate(result.rows, start=1):
        table.add_row(
            str(rank),
            row.endpoint,
            f"{row.requests:,}",
            Text(f"{row.errors:,}", style="red" if row.errors else ""),
            *(
                format_ms(value)
                for value in (
                    row.mean_ms,
                    row.p50_ms,
                    row.p90_ms,
                    row.p95_ms,
                    row.p99_ms,
                    row.max_ms,
                    row.total_ms,
                    row.db_ms,
                    row.app_ms,
                )
            ),
            f"{row.queries_per_request:.1f}",
        )
    return table


def finding_table(rank: int, finding: NPlusOneFinding) -> Table:
    title = Text.assemble(
        (f"N+1 #{rank} ", "bold red"),
        (finding.endpoint, "bold"),
        f"  {finding.repeats:,} queries under one parent, in {finding.requests:,} "
        f"request{'s' if finding.requests != 1 else ''}, "
        f"{format_ms(finding.wasted_ms)} ms wasted",
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("statement", shorten(finding.statement))
    grid.add_row("code", format_code(finding.code))
    relation = finding.relation or "(not recorded)"
    if finding.relation and finding.relation_kind:
        relation = f"{finding.relation} ({finding.relation_kind})"
    grid.add_row("relation", relation)
    grid.add_row(
        "fix", Text(finding.suggestion or "(no suggestion without relation info)", "green")
    )
    if finding.parent:
        grid.add_row("parent", finding.parent)
    grid.add_row("example", f"trace {finding.example_trace_id}")
    wrapper = Table.grid()
    wrapper.add_row(title)
    wrapper.add_row(grid)
    return wrapper


def findings_group(findings: list[NPlusOneFinding], min_repeats: int) -> Group:
    if not findings:
        return Group(
            Text(f"No N+1 queries found (>= {min_repeats} same-template queries under one parent).")
        )
    parts: list[Table | Text] = [Text(f"N+1 queries ({len(findings)})", style="bold")]
    for rank, finding in enumerate(findings, start=1):
        parts.append(finding_table(rank, finding))
        parts.append(Text(""))
    return Group(*parts)


@register
class TerminalRenderer:
    name: ClassVar[str] = "terminal"
    suffixes: ClassVar[tuple[str, ...]] = (".txt", ".log")

    def render(self, report: AnalysisReport, out: TextIO, *, color: bool) -> None:
        console = Console(
            file=out,
            width=None if color else PLAIN_WIDTH,
            force_terminal=color,
            no_color=not color,
            highlight=False,
            emoji=False,
        )
        stats = report.input
        console.print(
            f"spanscope {report.spanscope_version}: {stats.files:,} files, {stats.spans:,} spans, "
            f"{stats.traces:,} traces, {sum(row.requests for row in report.endpoints):,} requests"
        )
        console.print()
        if report.endpoints.rows:
            console.print(endpoints_table(report.endpoints))
        else:
            console.print("No requests found: the input has no SpanKind Server spans.")
        console.print()
        console.print(findings_group(report.n_plus_one, report.min_repeats))
