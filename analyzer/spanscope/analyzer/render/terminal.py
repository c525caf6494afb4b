"""``--format terminal``: the endpoints ranking and the N+1 findings as rich tables.

Laid out for a 100-column terminal (files and pipes get exactly 100 columns and
no colour).  Skipped-record diagnostics are not part of the report body: the CLI
prints them on stderr.
"""

from __future__ import annotations

import os
from typing import Final, TextIO

from rich.console import Group
from rich.table import Table
from rich.text import Text
from spanscope.analyzer.render.console import (
    TerminalFormat,
    compact_table,
    make_console,
    print_lead,
)
from spanscope.analyzer.report import (
    AnalysisReport,
    Breakdown,
    CodeLocation,
    DuplicateFinding,
    EndpointsResult,
    HttpNPlusOneFinding,
    NPlusOneFinding,
    SlowStatement,
)

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
    # A light box without outer edges: 14 columns must fit in 100 characters, so the
    # maximum is left to the JSON and HTML reports (p99 is the tail that matters here).
    table = compact_table("Endpoints by total time (ms)")
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column("endpoint", overflow="fold", min_width=12, max_width=26)
    for header in ("req", "err", "mean", "p50", "p90", "p95", "p99", "total", "db", "app"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("q/req", justify="right", no_wrap=True)
    table.add_column("apdex", justify="right", no_wrap=True)
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
                    row.total_ms,
                    row.db_ms,
                    row.app_ms,
                )
            ),
            f"{row.queries_per_request:.1f}",
            Text(f"{row.apdex:.2f}", style=_apdex_style(row.apdex)),
        )
    return table


def _apdex_style(score: float) -> str:
    # The Apdex bands: 0.94+ excellent, 0.85+ good, 0.70+ fair, 0.50+ poor, below unacceptable.
    if score >= 0.85:
        return ""
    return "yellow" if score >= 0.7 else "red"


_BREAKDOWN_LAYERS: Final = ("app", "db", "cache", "template", "http", "other")
#: Endpoints in the terminal's breakdown table, by total time (the JSON report has all).
TERMINAL_BREAKDOWN_ENDPOINTS: Final = 10
#: Slow statements listed in the terminal (the JSON report has all 20).
TERMINAL_SLOW_STATEMENTS: Final = 5


def breakdown_table(result: Breakdown) -> Table:
    """Mean self ms per request by layer, with each layer's share of the summed time."""
    table = compact_table("Time by layer: mean self ms per request (share)")
    table.add_column("endpoint", overflow="fold", min_width=12, max_width=26)
    table.add_column("req", justify="right", no_wrap=True)
    for layer in _BREAKDOWN_LAYERS:
        table.add_column(layer, justify="right", no_wrap=True)
    shown = list(result.endpoints[:TERMINAL_BREAKDOWN_ENDPOINTS])
    rows = ([result.overall] if result.overall else []) + shown
    if len(result.endpoints) > len(shown):
        more = len(result.endpoints) - len(shown)
        table.caption = f"{more:,} more endpoint{'s' if more != 1 else ''} in --format json"
        table.caption_justify = "left"
    for row in rows:
        values = [getattr(row, f"{layer}_ms") for layer in _BREAKDOWN_LAYERS]
        total = sum(values) or 1.0
        cells = [f"{format_ms(value)} {value / total:>3.0%}" if value else "-" for value in values]
        table.add_row(row.endpoint, f"{row.requests:,}", *cells)
    return table


def http_findings_table(findings: list[HttpNPlusOneFinding]) -> Table:
    table = compact_table(f"N+1 backend calls ({len(findings)})")
    table.add_column("endpoint", overflow="fold", max_width=24)
    table.add_column("call", overflow="fold")
    table.add_column("under", overflow="fold", max_width=24)
    for header in ("repeats", "req", "wasted"):
        table.add_column(header, justify="right", no_wrap=True)
    for finding in findings:
        table.add_row(
            finding.endpoint,
            f"{finding.method} {finding.url}",
            _http_parent(finding),
            f"{finding.repeats:,}",
            f"{finding.requests:,}",
            format_ms(finding.wasted_ms),
        )
    return table


def _http_parent(finding: HttpNPlusOneFinding) -> Text:
    """The parent span; for calls spread over several parents, the most common one
    and a dim mark saying so."""
    parent = Text(finding.parent or "(no name)")
    if finding.level == "request":
        parent.append(" & siblings", style="dim")
    return parent


def duplicates_table(findings: list[DuplicateFinding]) -> Table:
    table = compact_table(f"Duplicate queries: same statement, same parameters ({len(findings)})")
    table.add_column("endpoint", overflow="fold", max_width=24)
    table.add_column("statement", overflow="fold")
    for header in ("copies", "req", "wasted"):
        table.add_column(header, justify="right", no_wrap=True)
    for finding in findings:
        table.add_row(
            finding.endpoint,
            shorten(finding.statement, 160),
            f"{finding.copies:,}",
            f"{finding.requests:,}",
            format_ms(finding.wasted_ms),
        )
    return table


def slow_table(statements: list[SlowStatement]) -> Table:
    shown = statements[:TERMINAL_SLOW_STATEMENTS]
    table = compact_table(f"Slowest statements by total time (top {len(shown)}, ms)")
    table.add_column("statement", overflow="fold")
    for header in ("count", "total", "mean", "p95", "max"):
        table.add_column(header, justify="right", no_wrap=True)
    for statement in shown:
        table.add_row(
            shorten(statement.statement, 160),
            f"{statement.count:,}",
            *(
                format_ms(value)
                for value in (
                    statement.total_ms,
                    statement.mean_ms,
                    statement.p95_ms,
                    statement.max_ms,
                )
            ),
        )
    return table


def finding_table(rank: int, finding: NPlusOneFinding) -> Table:
    title = Text.assemble(
        (f"N+1 #{rank} ", "bold red"),
        (finding.endpoint, "bold"),
        f"  {finding.repeats:,} queries under "
        f"{'one parent' if finding.level == 'parent' else 'sibling spans'}, "
        f"in {finding.requests:,} "
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


class TerminalRenderer(TerminalFormat):
    """The report as rich tables; registered as ``terminal`` by :mod:`.terminal_format`,
    which imports this module only when a report is drawn."""

    def render(self, report: AnalysisReport, out: TextIO, *, color: bool) -> None:
        console = make_console(out, color=color)
        stats = report.input
        print_lead(
            console,
            [
                f"spanscope {report.spanscope_version}: {stats.files:,} files, "
                f"{stats.spans:,} spans, {stats.traces:,} traces, "
                f"{sum(row.requests for row in report.endpoints):,} requests"
            ],
            endpoints_table(report.endpoints) if report.endpoints.rows else None,
            "No requests found: the input has no SpanKind Server spans.",
        )
        if report.breakdown.overall is not None:
            console.print(breakdown_table(report.breakdown))
            console.print()
        console.print(findings_group(report.n_plus_one, report.min_repeats))
        sections = [
            http_findings_table(report.n_plus_one_http) if report.n_plus_one_http else None,
            duplicates_table(report.duplicates) if report.duplicates else None,
            slow_table(report.slow_queries) if report.slow_queries else None,
        ]
        for section in sections:
            if section is not None:
                console.print(section)
                console.print()
